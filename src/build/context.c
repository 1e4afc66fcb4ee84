/* The build context: the tar the client sends, extracted by the same
 * chrooted child as `docker cp` uploads (container-archive.h): names with
 * ".." that leave the folder, symlinks pointing above it and device nodes
 * are refused, and nothing can be written outside the folder.
 *
 * Why a tmpfs: the context is read by COPY and thrown away after the
 * build, yet creating its files on the data root's filesystem was most of
 * the time of a cached build with a large COPY (inode allocation on a
 * busy ext4; measured with perf).  Contexts up to BUILD_CONTEXT_TMPFS_MAX
 * are extracted into a tmpfs sized for them (the tar's size times four,
 * since tmpfs takes a page per small file where tar takes 1 KiB), larger
 * ones on disk as before. */
#include "build/builder.h"
#include "daemon/container-archive.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* The docker CLI sends a Dockerfile given on stdin as the last entry of a
 * tar it does not finish (no padding after the data, no end blocks);
 * Go's tar reader takes that, libarchive does not.  A plain tar gets the
 * padding and the two zero blocks appended (compressed ones are sent
 * whole). */
static bool is_compressed (int fd)
{
  unsigned char magic[6] = { 0 };
  if (pread (fd, magic, sizeof magic, 0) < 0)
    return false;
  return (magic[0] == 0x1f && magic[1] == 0x8b) || memcmp (magic, "BZh", 3) == 0 || memcmp (magic, "\xfd" "7zXZ", 5) == 0
         || (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd);
}

static void finish_plain_tar (int fd)
{
  struct stat st;
  if (fstat (fd, &st) < 0 || is_compressed (fd))
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
  struct stat st;
  if (!is_compressed (fd) && fstat (fd, &st) == 0 && st.st_size <= BUILD_CONTEXT_TMPFS_MAX)
    {
      char opts[96];
      snprintf (opts, sizeof opts, "size=%lld,mode=0755", (long long) st.st_size * 4 + (4LL << 20));
      /* No tmpfs (a restricted mount namespace): the disk does too. */
      (void) mount ("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts);
    }
  cleanup_close int root = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return berth_fail_errno (err, "open %s", dir);
  return archive_put_root (root, fd, NULL, "invalid build context", EINVAL, err);
}

void build_context_release (const char *dir)
{
  if (dir)
    (void) umount2 (dir, MNT_DETACH);
}

/* What a build killed with berthd left: mounts (context tmpfs, step
 * roots) under <data-root>/build/tmp, then the folders. */
void build_leftovers_remove (const char *data_root)
{
  cleanup_free char *tmp = NULL;
  if (asprintf (&tmp, "%s/build/tmp/", data_root) < 0)
    return;
  size_t len = strlen (tmp);
  for (int pass = 0; pass < 8; pass++) /* nested mounts: deepest go first */
    {
      FILE *f = fopen ("/proc/self/mountinfo", "re");
      char line[4096];
      bool any = false;
      while (f && fgets (line, sizeof line, f))
        {
          char mnt[4096];
          if (sscanf (line, "%*s %*s %*s %*s %4095s", mnt) == 1 && strncmp (mnt, tmp, len) == 0
              && umount2 (mnt, MNT_DETACH) == 0)
            any = true;
        }
      if (f)
        fclose (f);
      if (!any)
        break;
    }
  tmp[len - 1] = '\0';
  berth_rm_rf (tmp);
}
