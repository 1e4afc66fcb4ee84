/* The build context: the tar the client sends, extracted with every name
 * confined to the context's folder (container-archive.h): names with
 * ".." that leave the folder, symlinks pointing above it and device nodes
 * are refused, and nothing can be written outside the folder.
 *
 * Why a tmpfs: the context is read by COPY and thrown away after the
 * build, yet creating its files on the data root's filesystem was most of
 * the time of a cached build with a large COPY (inode allocation on a
 * busy ext4; measured with perf).  A plain tar up to
 * BUILD_CONTEXT_TMPFS_MAX is extracted into a tmpfs sized for it (the
 * tar's size times four, since tmpfs takes a page per small file where
 * tar takes 1 KiB).  That tmpfs is a detached mount (fsopen/fsmount): it
 * has no path, so no other process sees it, nothing is left mounted if
 * berthd dies, and closing its last descriptor frees it.  Its extraction
 * runs in a chrooted thread rather than a forked child: a fork of berthd
 * cost about 1 ms, a third of a cached five-step build.  Compressed and
 * larger contexts go on disk through the forked child, as before. */
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

/* A detached tmpfs for SIZE bytes of tar, or -errno (no new mount API,
 * or a restricted mount namespace). */
static int context_tmpfs (off_t size)
{
  cleanup_close int fs = fsopen ("tmpfs", FSOPEN_CLOEXEC);
  if (fs < 0)
    return -errno;
  char bytes[32];
  snprintf (bytes, sizeof bytes, "%lld", (long long) size * 4 + (4LL << 20));
  if (fsconfig (fs, FSCONFIG_SET_STRING, "size", bytes, 0) < 0
      || fsconfig (fs, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0
      || fsconfig (fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return -errno;
  int mnt = fsmount (fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
  return mnt < 0 ? -errno : mnt;
}

int build_context_extract (int fd, const char *disk_dir, int *root_out, berth_err *err)
{
  finish_plain_tar (fd);
  struct stat st;
  if (!is_compressed (fd) && fstat (fd, &st) == 0 && st.st_size <= BUILD_CONTEXT_TMPFS_MAX)
    {
      cleanup_close int root = context_tmpfs (st.st_size);
      if (root >= 0)
        {
          int r = archive_put_plain_tar_thread (root, fd, "invalid build context", EINVAL, err);
          if (r == 0)
            *root_out = take_fd (&root);
          return r;
        }
    }
  if (berth_mkdir_p (disk_dir, 0700, err) < 0)
    return -EIO;
  cleanup_close int root = open (disk_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return berth_fail_errno (err, "open %s", disk_dir);
  int r = archive_put_root (root, fd, NULL, "invalid build context", EINVAL, err);
  if (r == 0)
    *root_out = take_fd (&root);
  return r;
}

/* What a build killed with berthd left: mounts (step roots; the context's
 * tmpfs is detached and died with berthd) under <data-root>/build/tmp,
 * then the folders. */
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
