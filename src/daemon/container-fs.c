/* A container's root file system (overlayfs over the image's layers) and
 * calls to its OCI runtime. */
#include "daemon/container-internal.h"
#include "image/image.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

char *container_rootfs_path (struct container *c)
{
  char *p = NULL;
  return asprintf (&p, "%s/rootfs", c->dir) < 0 ? NULL : p;
}

static bool is_mountpoint (const char *path)
{
  struct stat st, parent;
  cleanup_free char *up = NULL;
  if (asprintf (&up, "%s/..", path) < 0 || stat (path, &st) < 0 || stat (up, &parent) < 0)
    return false;
  return st.st_dev != parent.st_dev;
}

void container_umount_path (const char *path)
{
  /* Lazy: a process holding a cwd in there must not keep the mount busy
   * forever (Docker unmounts the same way). */
  for (int i = 0; i < 8 && is_mountpoint (path); i++)
    if (umount2 (path, MNT_DETACH) < 0 && errno != EINTR)
      break;
}

static char *join_lowerdirs (char **dirs)
{
  size_t len = 1;
  for (char **p = dirs; *p; p++)
    len += strlen (*p) + 1;
  char *s = calloc (1, len);
  if (s == NULL)
    return NULL;
  for (char **p = dirs; *p; p++)
    {
      if (p != dirs)
        strcat (s, ":");
      strcat (s, *p);
    }
  return s;
}

/* The classic mount(2) string holds one page; deeper images go through the
 * new mount API, which takes the lower layers one by one ("lowerdir+",
 * Linux 6.8). */
static int mount_overlay_fsconfig (char **lower, const char *upper, const char *work, const char *target,
                                   berth_err *err)
{
  cleanup_close int fs = fsopen ("overlay", FSOPEN_CLOEXEC);
  if (fs < 0)
    return berth_fail_errno (err, "fsopen overlay");
  for (char **p = lower; *p; p++)
    if (fsconfig (fs, FSCONFIG_SET_STRING, "lowerdir+", *p, 0) < 0)
      return berth_fail_errno (err, "overlay lower layer %s", *p);
  if (fsconfig (fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0
      || fsconfig (fs, FSCONFIG_SET_STRING, "workdir", work, 0) < 0
      || fsconfig (fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return berth_fail_errno (err, "overlay for %s", target);
  cleanup_close int mnt = fsmount (fs, FSMOUNT_CLOEXEC, 0);
  if (mnt < 0 || move_mount (mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return berth_fail_errno (err, "mount overlay on %s", target);
  return 0;
}

int container_mount (struct berthd *d, struct container *c, berth_err *err)
{
  cleanup_free char *rootfs = container_rootfs_path (c);
  cleanup_free char *upper = NULL, *work = NULL, *lower = NULL, *opts = NULL;
  cleanup_strv char **dirs = NULL;
  if (rootfs == NULL || asprintf (&upper, "%s/fs/upper", c->dir) < 0 || asprintf (&work, "%s/fs/work", c->dir) < 0)
    return berth_fail (err, ENOMEM, "mount");
  if (is_mountpoint (rootfs))
    return 0;
  if (berth_mkdir_p (upper, 0755, err) < 0 || berth_mkdir_p (work, 0700, err) < 0
      || berth_mkdir_p (rootfs, 0755, err) < 0)
    return -EIO;
  pthread_mutex_lock (&d->image_lock);
  int r = image_layer_dirs (d->images, c->image_id, &dirs, err);
  pthread_mutex_unlock (&d->image_lock);
  if (r < 0)
    return berth_error_prefix (err, "image of container %.12s", c->id);
  if (dirs[0] == NULL)
    {
      /* An image without layers (FROM scratch, nothing added): overlayfs
       * needs one lower folder, an empty one will do. */
      cleanup_free char *empty = NULL;
      if (asprintf (&empty, "%s/fs/empty", c->dir) < 0 || berth_mkdir_p (empty, 0755, err) < 0)
        return -EIO;
      free (dirs);
      dirs = calloc (2, sizeof *dirs);
      if (dirs == NULL)
        return berth_fail (err, ENOMEM, "mount");
      dirs[0] = take_ptr (empty);
    }
  lower = join_lowerdirs (dirs);
  if (lower == NULL || asprintf (&opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work) < 0)
    return berth_fail (err, ENOMEM, "mount");
  if (strlen (opts) < 4000)
    {
      if (mount ("overlay", rootfs, "overlay", 0, opts) < 0)
        return berth_fail_errno (err, "mount overlay on %s", rootfs);
      return 0;
    }
  return mount_overlay_fsconfig (dirs, upper, work, rootfs, err);
}

void container_unmount (struct berthd *d, struct container *c)
{
  (void) d;
  cleanup_free char *rootfs = container_rootfs_path (c);
  if (rootfs)
    container_umount_path (rootfs);
}

/* ---- runtimes ---- */

const char *container_runtime_path (struct berthd *d, const char *name)
{
  json_t *rt = json_object_get (d->cfg.runtimes, name);
  const char *path = json_string_value (json_object_get (rt, "path"));
  if (path)
    return path;
  if (strcmp (name, "berth") == 0)
    return d->runtime_path;
  if (strcmp (name, "runc") == 0)
    return d->runc_path;
  return NULL;
}

char *container_runtime_root (struct berthd *d, const char *name)
{
  char *p = NULL;
  return asprintf (&p, "%s/runtime/%s", d->cfg.exec_root, name) < 0 ? NULL : p;
}

/* What a spawned program prints, kept up to this size (ps of a busy
 * container is the largest); the rest is read and dropped so the program
 * never blocks on a full pipe. */
#define CAPTURE_MAX (16 << 20)

char *berthd_read_to_end (int fd, size_t max)
{
  size_t len = 0, cap = 4096;
  char *buf = malloc (cap);
  if (buf == NULL)
    return NULL;
  for (;;)
    {
      if (len + 1 >= cap && cap < max)
        {
          char *nb = realloc (buf, cap * 2);
          if (nb == NULL)
            break;
          buf = nb;
          cap *= 2;
        }
      size_t room = cap - len - 1;
      char tmp[4096];
      ssize_t n = read (fd, room ? buf + len : tmp, room ? room : sizeof tmp);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      if (room)
        len += n;
    }
  buf[len] = '\0';
  return buf;
}

int berthd_spawn_capture (const char *const *argv, int stderr_fd, char **output)
{
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return -errno;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2 (&fa, p[1], 1);
  posix_spawn_file_actions_adddup2 (&fa, stderr_fd >= 0 ? stderr_fd : p[1], 2);
  pid_t pid;
  int r = posix_spawn (&pid, argv[0], &fa, NULL, (char *const *) argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  close (p[1]);
  if (r != 0)
    {
      close (p[0]);
      return -r;
    }
  char *out = berthd_read_to_end (p[0], CAPTURE_MAX);
  close (p[0]);
  int status;
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      {
        free (out);
        return -errno;
      }
  if (output)
    *output = out;
  else
    free (out);
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

int container_runtime_call (struct berthd *d, struct container *c, const char *const *args, char **output)
{
  const char *path = container_runtime_path (d, c->runtime);
  cleanup_free char *root = container_runtime_root (d, c->runtime);
  if (path == NULL || root == NULL)
    return -ENOENT;
  const char *argv[32] = { path, "--root", root };
  size_t n = 3;
  for (size_t i = 0; args[i] && n < 31; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  return berthd_spawn_capture (argv, -1, output);
}

/* The runtime's complaint, from its combined output: the last line, with
 * runc's level=error msg="..." unwrapped. */
char *runtime_error_message (const char *output)
{
  if (output == NULL || *output == '\0')
    return strdup ("the runtime failed");
  size_t len = strlen (output);
  while (len > 0 && (output[len - 1] == '\n' || output[len - 1] == '\r'))
    len--;
  size_t start = len;
  while (start > 0 && output[start - 1] != '\n')
    start--;
  char *line = strndup (output + start, len - start);
  const char *msg = line ? strstr (line, "msg=\"") : NULL;
  if (msg)
    {
      char *m = strndup (msg + 5, strlen (msg + 5));
      if (m && strlen (m) > 0 && m[strlen (m) - 1] == '"')
        m[strlen (m) - 1] = '\0';
      free (line);
      return m;
    }
  return line;
}

/* Bytes in a container's writable layer (nftw has no user pointer: the
 * total lives in a thread-local). */
static __thread int64_t du_total;

static int du_add (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void) path;
  (void) ftw;
  if (flag == FTW_F || flag == FTW_SL)
    du_total += st->st_size;
  return 0;
}

int64_t container_rw_size (struct container *c)
{
  cleanup_free char *upper = NULL;
  du_total = 0;
  if (asprintf (&upper, "%s/fs/upper", c->dir) >= 0)
    nftw (upper, du_add, 16, FTW_PHYS | FTW_MOUNT);
  return du_total;
}

