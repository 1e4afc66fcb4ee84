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
#include <unistd.h>

int build_context_extract (int fd, const char *dir, berth_err *err)
{
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
