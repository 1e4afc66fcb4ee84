/* The build context: the tar the client sends, extracted by the same
 * chrooted child as `docker cp` uploads (container-archive.h): names with
 * ".." that leave the folder, symlinks pointing above it and device nodes
 * are refused, and nothing can be written outside the folder. */
#include "build/builder.h"
#include "daemon/container-archive.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The docker CLI sends a Dockerfile given on stdin as the last entry of a
 * tar it does not finish (no padding after the data, no end blocks);
 * Go's tar reader takes that, libarchive does not.  A plain tar gets the
 * padding and the two zero blocks appended (compressed ones are sent
 * whole). */
static void finish_plain_tar (int fd)
{
  unsigned char magic[6] = { 0 };
  struct stat st;
  if (fstat (fd, &st) < 0 || pread (fd, magic, sizeof magic, 0) < 0)
    return;
  if ((magic[0] == 0x1f && magic[1] == 0x8b) || memcmp (magic, "BZh", 3) == 0 || memcmp (magic, "\xfd" "7zXZ", 5) == 0
      || (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd))
    return;
  off_t end = (st.st_size + 511) / 512 * 512 + 1024;
  if (end > st.st_size && ftruncate (fd, end) < 0)
    return;
}

int build_context_extract (int fd, const char *dir, berth_err *err)
{
  finish_plain_tar (fd);
  if (berth_mkdir_p (dir, 0755, err) < 0)
    return -EIO;
  cleanup_close int root = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return berth_fail_errno (err, "open %s", dir);
  struct archive_job job = { .op = ARCHIVE_OP_PUT, .root_fd = root, .path = "/", .data_fd = fd };
  struct archive_result res;
  memset (&res, 0, sizeof res);
  int r = archive_run (&job, &res, err);
  if (r < 0)
    return r;
  if (!res.ok)
    return berth_fail_as (err, EINVAL, "invalid build context: %s", res.msg[0] ? res.msg : strerror (res.errnum));
  return 0;
}
