#include "common/fs.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int berth_write_all (int fd, const void *buf, size_t len)
{
  const char *p = buf;
  while (len > 0)
    {
      ssize_t w = write (fd, p, len);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        return -errno;
      p += w;
      len -= (size_t) w;
    }
  return 0;
}

ssize_t berth_read_all (int fd, void *buf, size_t len)
{
  char *p = buf;
  size_t got = 0;
  while (got < len)
    {
      ssize_t r = read (fd, p + got, len - got);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return -errno;
      if (r == 0)
        break;
      got += (size_t) r;
    }
  return (ssize_t) got;
}

int berth_read_file_at (int dirfd, const char *path, size_t max, char **out, size_t *len, berth_err *err)
{
  cleanup_close int fd = openat (dirfd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (err, "open `%s`", path);
  size_t cap = 4096, n = 0;
  cleanup_free char *buf = malloc (cap + 1);
  if (buf == NULL)
    return berth_fail (err, ENOMEM, "read `%s`", path);
  for (;;)
    {
      if (n == cap)
        {
          if (cap > max)
            return berth_fail (err, EFBIG, "read `%s`", path);
          cap *= 2;
          char *nb = realloc (buf, cap + 1);
          if (nb == NULL)
            return berth_fail (err, ENOMEM, "read `%s`", path);
          buf = nb;
        }
      ssize_t r = read (fd, buf + n, cap - n);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return berth_fail_errno (err, "read `%s`", path);
      if (r == 0)
        break;
      n += (size_t) r;
      if (n > max)
        return berth_fail (err, EFBIG, "read `%s`", path);
    }
  buf[n] = '\0';
  if (len)
    *len = n;
  *out = take_ptr (buf);
  return 0;
}

int berth_read_file (const char *path, size_t max, char **out, size_t *len, berth_err *err)
{
  return berth_read_file_at (AT_FDCWD, path, max, out, len, err);
}

int berth_write_file_at (int dirfd, const char *name, const char *data, size_t len, berth_err *err)
{
  cleanup_close int fd = openat (dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return berth_fail_errno (err, "open `%s`", name);
  int r = berth_write_all (fd, data, len);
  if (r < 0)
    return berth_fail (err, -r, "write `%s`", name);
  return 0;
}

int berth_write_file (const char *path, const char *data, size_t len, berth_err *err)
{
  return berth_write_file_at (AT_FDCWD, path, data, len, err);
}

static int write_and_rename (const char *path, const char *data, size_t len, mode_t mode, bool durable,
                             berth_err *err)
{
  cleanup_free char *tmp = NULL;
  if (asprintf (&tmp, "%s.tmp.%d", path, (int) getpid ()) < 0)
    return berth_fail (err, ENOMEM, "write `%s`", path);
  cleanup_close int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return berth_fail_errno (err, "create `%s`", tmp);
  int r = berth_write_all (fd, data, len);
  if (r == 0 && durable && fsync (fd) < 0)
    r = -errno;
  if (r < 0)
    {
      unlink (tmp);
      return berth_fail (err, -r, "write `%s`", tmp);
    }
  if (rename (tmp, path) < 0)
    {
      int e = errno;
      unlink (tmp);
      return berth_fail (err, e, "rename `%s`", path);
    }
  if (!durable)
    return 0;
  cleanup_free char *dir = strdup (path);
  cleanup_close int dfd = dir ? open (dirname (dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  if (dfd >= 0)
    (void) fsync (dfd);
  return 0;
}

int berth_write_file_atomic (const char *path, const char *data, size_t len, mode_t mode, berth_err *err)
{
  return write_and_rename (path, data, len, mode, true, err);
}

int berth_write_file_replace (const char *path, const char *data, size_t len, mode_t mode, berth_err *err)
{
  return write_and_rename (path, data, len, mode, false, err);
}

/* Try the whole path first: in the common case its parent exists and one
 * mkdir is all it takes; only on ENOENT walk up. */
static int mkdir_p (char *p, mode_t mode)
{
  if (mkdir (p, mode) == 0 || errno == EEXIST)
    return 0;
  if (errno != ENOENT)
    return -errno;
  char *slash = strrchr (p, '/');
  if (slash == NULL || slash == p)
    return -ENOENT;
  *slash = '\0';
  int r = mkdir_p (p, mode);
  *slash = '/';
  if (r < 0)
    return r;
  return mkdir (p, mode) == 0 || errno == EEXIST ? 0 : -errno;
}

int berth_mkdir_p (const char *path, mode_t mode, berth_err *err)
{
  cleanup_free char *p = strdup (path);
  if (p == NULL)
    return berth_fail (err, ENOMEM, "mkdir `%s`", path);
  size_t n = strlen (p);
  while (n > 1 && p[n - 1] == '/')
    p[--n] = '\0';
  int r = mkdir_p (p, mode);
  if (r < 0)
    return berth_fail (err, -r, "mkdir `%s`", path);
  return 0;
}

static int rm_rf_at (int parentfd, const char *name, dev_t dev)
{
  struct stat st;
  if (fstatat (parentfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : -errno;
  if (!S_ISDIR (st.st_mode))
    return unlinkat (parentfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
  if (st.st_dev != dev)
    return -EXDEV; /* a mount point: never descend into another fs */
  int fd = openat (parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  cleanup_dir DIR *d = fdopendir (fd);
  if (d == NULL)
    {
      close (fd);
      return -errno;
    }
  int ret = 0;
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      int r = rm_rf_at (dirfd (d), de->d_name, dev);
      if (r < 0)
        ret = r;
    }
  if (unlinkat (parentfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    ret = -errno;
  return ret;
}

int berth_rm_rf (const char *path)
{
  struct stat st;
  if (lstat (path, &st) < 0)
    return errno == ENOENT ? 0 : -errno;
  return rm_rf_at (AT_FDCWD, path, st.st_dev);
}

char *berth_clean_relative_path (const char *in, enum berth_dotdot dotdot)
{
  char *out = malloc (strlen (in) + 1);
  if (out == NULL)
    return NULL;
  size_t n = 0;
  for (const char *p = in; *p;)
    {
      while (*p == '/')
        p++;
      size_t len = strcspn (p, "/");
      if (len == 2 && p[0] == '.' && p[1] == '.')
        {
          if (dotdot == BERTH_DOTDOT_REFUSE || (n == 0 && dotdot == BERTH_DOTDOT_RESOLVE))
            {
              free (out);
              return NULL;
            }
          while (n > 0 && out[n - 1] != '/')
            n--;
          if (n > 0)
            n--;
        }
      else if (len > 0 && !(len == 1 && p[0] == '.'))
        {
          if (n > 0)
            out[n++] = '/';
          memcpy (out + n, p, len);
          n += len;
        }
      p += len;
    }
  out[n] = '\0';
  return out;
}
