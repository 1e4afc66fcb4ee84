/* The file system store.  All paths are relative to the root directory
 * (opened once, used with *at() calls), and are built only from validated
 * names, tags and digests (names.c).
 *
 * Atomicity: blobs and manifests are written to a temp file in the same
 * file system, fsynced, then renamed into place, and the folder is fsynced:
 * a crash leaves either no blob or the whole verified blob.  Link files
 * (tags, repository membership) are small and replaced by rename too; a
 * reader treats an unreadable or malformed link as absent. */
#include "registry/registry.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- sha256 ---- */

int reg_hash_init (struct reg_hash *h)
{
  h->md = EVP_MD_CTX_new ();
  if (h->md == NULL || EVP_DigestInit_ex (h->md, EVP_sha256 (), NULL) != 1)
    {
      EVP_MD_CTX_free (h->md);
      h->md = NULL;
      return -ENOMEM;
    }
  return 0;
}

void reg_hash_update (struct reg_hash *h, const void *buf, size_t len)
{
  if (h->md && len > 0)
    EVP_DigestUpdate (h->md, buf, len);
}

void reg_hash_final (struct reg_hash *h, char *out)
{
  static const char digits[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE] = { 0 };
  unsigned int n = 0;
  if (h->md)
    EVP_DigestFinal_ex (h->md, md, &n);
  memcpy (out, "sha256:", 7);
  for (int i = 0; i < REG_HEX_LEN / 2; i++)
    {
      out[7 + 2 * i] = digits[md[i] >> 4];
      out[7 + 2 * i + 1] = digits[md[i] & 0xf];
    }
  out[REG_DIGEST_LEN] = '\0';
  reg_hash_free (h);
}

void reg_hash_free (struct reg_hash *h)
{
  EVP_MD_CTX_free (h->md);
  h->md = NULL;
}

int reg_hash_copy (struct reg_hash *dst, const struct reg_hash *src)
{
  dst->md = EVP_MD_CTX_new ();
  if (dst->md == NULL || EVP_MD_CTX_copy_ex (dst->md, src->md) != 1)
    {
      reg_hash_free (dst);
      return -ENOMEM;
    }
  return 0;
}

int reg_hash_buffer (const void *buf, size_t len, char *out)
{
  struct reg_hash h;
  if (reg_hash_init (&h) < 0)
    return -ENOMEM;
  reg_hash_update (&h, buf, len);
  reg_hash_final (&h, out);
  return 0;
}

/* ---- paths ---- */

char *reg_blob_path (const char *digest)
{
  char *p = NULL;
  const char *hex = digest + 7;
  if (asprintf (&p, "blobs/sha256/%.2s/%s", hex, hex) < 0)
    return NULL;
  return p;
}

char *reg_repo_path (const char *name, const char *fmt, ...)
{
  cleanup_free char *tail = NULL;
  char *p = NULL;
  va_list ap;
  va_start (ap, fmt);
  int r = vasprintf (&tail, fmt, ap);
  va_end (ap);
  if (r < 0)
    return NULL;
  if (asprintf (&p, "repositories/%s/%s", name, tail) < 0)
    return NULL;
  return p;
}

int reg_mkdir_p (struct registry *reg, const char *path)
{
  cleanup_free char *copy = strdup (path);
  if (copy == NULL)
    return -ENOMEM;
  for (char *s = copy + 1; *s; s++)
    if (*s == '/')
      {
        *s = '\0';
        if (mkdirat (reg->root_fd, copy, 0755) < 0 && errno != EEXIST)
          return -errno;
        *s = '/';
      }
  if (mkdirat (reg->root_fd, copy, 0755) < 0 && errno != EEXIST)
    return -errno;
  return 0;
}

static int mkdir_parent (struct registry *reg, const char *path)
{
  cleanup_free char *dir = strdup (path);
  if (dir == NULL)
    return -ENOMEM;
  char *slash = strrchr (dir, '/');
  if (slash == NULL)
    return 0;
  *slash = '\0';
  return reg_mkdir_p (reg, dir);
}

static void fsync_parent (struct registry *reg, const char *path)
{
  cleanup_free char *dir = strdup (path);
  char *slash = dir ? strrchr (dir, '/') : NULL;
  if (slash == NULL)
    return;
  *slash = '\0';
  cleanup_close int fd = openat (reg->root_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0)
    fsync (fd);
}

static char *temp_name (const char *path)
{
  unsigned char rnd[8];
  char *p = NULL;
  if (getrandom (rnd, sizeof rnd, 0) != sizeof rnd)
    return NULL;
  if (asprintf (&p, "%s.tmp-%02x%02x%02x%02x%02x%02x%02x%02x", path, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
                rnd[5], rnd[6], rnd[7]) < 0)
    return NULL;
  return p;
}

/* ---- opening ---- */

int reg_storage_open (struct registry *reg, berth_err *err)
{
  if (mkdir (reg->cfg.root, 0755) < 0 && errno != EEXIST)
    return berth_fail_errno (err, "cannot create the root %s", reg->cfg.root);
  reg->root_fd = open (reg->cfg.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (reg->root_fd < 0)
    return berth_fail_errno (err, "cannot open the root %s", reg->cfg.root);
  int r = reg_mkdir_p (reg, "blobs/sha256");
  if (r == 0)
    r = reg_mkdir_p (reg, "repositories");
  if (r < 0)
    return berth_fail (err, -r, "cannot create the store under %s", reg->cfg.root);
  return 0;
}

/* ---- blobs ---- */

int reg_blob_open (struct registry *reg, const char *digest, off_t *size)
{
  cleanup_free char *path = reg_blob_path (digest);
  if (path == NULL)
    return -ENOMEM;
  int fd = openat (reg->root_fd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  struct stat st;
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      return -ENOENT;
    }
  if (size)
    *size = st.st_size;
  return fd;
}

bool reg_blob_exists (struct registry *reg, const char *digest, off_t *size)
{
  cleanup_free char *path = reg_blob_path (digest);
  struct stat st;
  if (path == NULL || fstatat (reg->root_fd, path, &st, 0) < 0 || !S_ISREG (st.st_mode))
    return false;
  if (size)
    *size = st.st_size;
  return true;
}

int reg_blob_commit (struct registry *reg, const char *tmp, const char *digest, berth_err *err)
{
  cleanup_free char *path = reg_blob_path (digest);
  if (path == NULL)
    return berth_fail (err, ENOMEM, "out of memory");
  int r = mkdir_parent (reg, path);
  if (r < 0)
    return berth_fail (err, -r, "cannot create the folder of %s", path);
  if (reg_blob_exists (reg, digest, NULL))
    {
      unlinkat (reg->root_fd, tmp, 0);
      return 0;
    }
  if (renameat (reg->root_fd, tmp, reg->root_fd, path) < 0)
    return berth_fail_errno (err, "cannot commit blob %s", digest);
  fsync_parent (reg, path);
  return 0;
}

static int write_temp (struct registry *reg, const char *tmp, const char *buf, size_t len, bool durable)
{
  cleanup_close int fd = openat (reg->root_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return -errno;
  size_t off = 0;
  while (off < len)
    {
      ssize_t n = write (fd, buf + off, len - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return n < 0 ? -errno : -EIO;
      off += n;
    }
  if (durable && fsync (fd) < 0)
    return -errno;
  return 0;
}

/* temp + (fsync) + rename; the temp is removed on failure. */
static int replace_file (struct registry *reg, const char *path, const char *buf, size_t len, bool durable)
{
  int r = mkdir_parent (reg, path);
  if (r < 0)
    return r;
  cleanup_free char *tmp = temp_name (path);
  if (tmp == NULL)
    return -ENOMEM;
  r = write_temp (reg, tmp, buf, len, durable);
  if (r == 0 && renameat (reg->root_fd, tmp, reg->root_fd, path) < 0)
    r = -errno;
  if (r < 0)
    unlinkat (reg->root_fd, tmp, 0);
  else if (durable)
    fsync_parent (reg, path);
  return r;
}

int reg_blob_put_buffer (struct registry *reg, const char *digest, const char *buf, size_t len, berth_err *err)
{
  if (reg_blob_exists (reg, digest, NULL))
    return 0;
  cleanup_free char *path = reg_blob_path (digest);
  if (path == NULL)
    return berth_fail (err, ENOMEM, "out of memory");
  int r = replace_file (reg, path, buf, len, true);
  if (r < 0)
    return berth_fail (err, -r, "cannot store %s", digest);
  return 0;
}

/* ---- links ---- */

int reg_link_write (struct registry *reg, const char *path, const char *content, bool durable, berth_err *err)
{
  int r = replace_file (reg, path, content, strlen (content), durable);
  if (r < 0)
    return berth_fail (err, -r, "cannot write %s", path);
  return 0;
}

char *reg_link_read (struct registry *reg, const char *path, size_t max)
{
  cleanup_close int fd = openat (reg->root_fd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  char *buf = malloc (max + 1);
  if (buf == NULL)
    return NULL;
  size_t len = 0;
  for (;;)
    {
      ssize_t n = read (fd, buf + len, max - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          free (buf);
          return NULL;
        }
      if (n == 0 || len + n == max)
        {
          len += n;
          break;
        }
      len += n;
    }
  buf[len] = '\0';
  return buf;
}

bool reg_path_exists (struct registry *reg, const char *path)
{
  struct stat st;
  return fstatat (reg->root_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int remove_at (int at, const char *name)
{
  if (unlinkat (at, name, 0) == 0 || errno == ENOENT)
    return 0;
  if (errno != EISDIR && errno != EPERM)
    return -errno;
  int fd = openat (at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  DIR *d = fdopendir (fd);
  if (d == NULL)
    {
      close (fd);
      return -errno;
    }
  struct dirent *e;
  while ((e = readdir (d)) != NULL)
    if (strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0)
      remove_at (dirfd (d), e->d_name);
  closedir (d);
  if (unlinkat (at, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return -errno;
  return 0;
}

int reg_remove_tree (struct registry *reg, const char *path)
{
  return remove_at (reg->root_fd, path);
}

static int cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

char **reg_list_dir (struct registry *reg, const char *path)
{
  size_t n = 0, cap = 16;
  char **v = calloc (cap + 1, sizeof *v);
  if (v == NULL)
    return NULL;
  int fd = openat (reg->root_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return v;
  DIR *d = fdopendir (fd);
  if (d == NULL)
    {
      close (fd);
      return v;
    }
  struct dirent *e;
  while ((e = readdir (d)) != NULL)
    {
      if (e->d_name[0] == '.' || strstr (e->d_name, ".tmp-"))
        continue;
      if (n == cap)
        {
          char **nv = realloc (v, (2 * cap + 1) * sizeof *v);
          if (nv == NULL)
            break;
          v = nv;
          cap *= 2;
        }
      v[n] = strdup (e->d_name);
      if (v[n])
        n++;
      v[n] = NULL;
    }
  closedir (d);
  if (n > 0)
    qsort (v, n, sizeof *v, cmp_str);
  return v;
}

void reg_strv_free (char **v)
{
  if (v == NULL)
    return;
  for (char **s = v; *s; s++)
    free (*s);
  free (v);
}

/* ---- repository membership ---- */

bool reg_repo_has_blob (struct registry *reg, const char *name, const char *digest)
{
  cleanup_free char *link = reg_repo_path (name, "_layers/sha256/%s", digest + 7);
  return link && reg_path_exists (reg, link) && reg_blob_exists (reg, digest, NULL);
}

bool reg_repo_has_manifest (struct registry *reg, const char *name, const char *digest, char **media_type)
{
  cleanup_free char *link = reg_repo_path (name, "_manifests/revisions/sha256/%s", digest + 7);
  if (link == NULL)
    return false;
  char *mt = reg_link_read (reg, link, 512);
  if (mt == NULL || !reg_blob_exists (reg, digest, NULL))
    {
      free (mt);
      return false;
    }
  if (media_type)
    *media_type = mt;
  else
    free (mt);
  return true;
}

int reg_repo_link_blob (struct registry *reg, const char *name, const char *digest, berth_err *err)
{
  cleanup_free char *link = reg_repo_path (name, "_layers/sha256/%s", digest + 7);
  if (link == NULL)
    return berth_fail (err, ENOMEM, "out of memory");
  if (reg_path_exists (reg, link))
    return 0;
  return reg_link_write (reg, link, digest, false, err);
}
