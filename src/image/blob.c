/* Content-addressed blobs: blobs/sha256/<hex>.  A blob is written to a temp
 * file while its digest is computed over the bytes actually written, then
 * checked, fsynced and linked into place, so a blob that exists is
 * complete and has the digest it is named after. */
#include "image/image-internal.h"
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int img_blob_writer_open (const char *dir, struct img_blob_writer *w, berth_err *err)
{
  memset (w, 0, sizeof *w);
  w->fd = -1;
  if (asprintf (&w->path, "%s/blob-XXXXXX", dir) < 0)
    {
      w->path = NULL;
      return berth_fail (err, ENOMEM, "blob temp file");
    }
  w->fd = mkostemp (w->path, O_CLOEXEC);
  if (w->fd < 0)
    {
      int r = berth_fail_errno (err, "create `%s`", w->path);
      free (w->path);
      w->path = NULL;
      return r;
    }
  return img_hash_init (&w->hash, err);
}

int img_blob_writer_write (struct img_blob_writer *w, const void *buf, size_t len, berth_err *err)
{
  int r = berth_write_all (w->fd, buf, len);
  if (r < 0)
    return berth_fail (err, -r, "write `%s`", w->path);
  img_hash_update (&w->hash, buf, len);
  w->size += (int64_t) len;
  return 0;
}

void img_blob_writer_cleanup (struct img_blob_writer *w)
{
  if (w->fd >= 0)
    close (w->fd);
  w->fd = -1;
  if (w->path)
    unlink (w->path);
  free (w->path);
  w->path = NULL;
  img_hash_free (&w->hash);
}

int img_blob_writer_finish (struct img_blob_writer *w, const char *name, const char *expected, berth_err *err)
{
  img_hash_final (&w->hash, w->digest);
  if (close (w->fd) < 0)
    {
      w->fd = -1;
      return berth_fail_errno (err, "write `%s`", name);
    }
  w->fd = -1;
  if (expected)
    return img_digest_check (name, expected, w->digest, err);
  return 0;
}

static int fsync_file (const char *path, berth_err *err)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fsync (fd) < 0)
    return berth_fail_errno (err, "fsync `%s`", path);
  return 0;
}

static void fsync_dir (const char *path)
{
  cleanup_close int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0)
    (void) fsync (fd);
}

/* link() never replaces: if the blob is already there, it is the same
 * content (same digest) and the existing file stays. */
int img_blob_commit (struct image_store *s, const char *file, const char *digest, bool *created, berth_err *err)
{
  *created = false;
  cleanup_free char *dst = img_blob_path (s, digest);
  if (dst == NULL)
    return berth_fail (err, ENOMEM, "blob path");
  if (access (dst, F_OK) == 0)
    return 0;
  int r = fsync_file (file, err);
  if (r < 0)
    return r;
  if (link (file, dst) < 0)
    {
      if (errno == EEXIST)
        return 0;
      return berth_fail_errno (err, "store blob %s", digest);
    }
  fsync_dir (s->blobs);
  *created = true;
  return 0;
}

int img_blob_put (struct image_store *s, const char *buf, size_t len, char digest[IMG_DIGEST_SIZE], bool *created,
                  berth_err *err)
{
  struct img_blob_writer w;
  int r = img_blob_writer_open (s->tmp, &w, err);
  if (r == 0)
    r = img_blob_writer_write (&w, buf, len, err);
  if (r == 0)
    r = img_blob_writer_finish (&w, "blob", NULL, err);
  if (r == 0)
    r = img_blob_commit (s, w.path, w.digest, created, err);
  if (r == 0)
    memcpy (digest, w.digest, IMG_DIGEST_SIZE);
  img_blob_writer_cleanup (&w);
  return r;
}

bool img_blob_exists (struct image_store *s, const char *digest)
{
  cleanup_free char *p = img_blob_path (s, digest);
  return p && access (p, F_OK) == 0;
}

int64_t img_blob_size (struct image_store *s, const char *digest)
{
  cleanup_free char *p = img_blob_path (s, digest);
  struct stat st;
  if (p == NULL || stat (p, &st) < 0)
    return -1;
  return st.st_size;
}

int img_blob_read_json (struct image_store *s, const char *digest, json_t **out, berth_err *err)
{
  cleanup_free char *p = img_blob_path (s, digest);
  cleanup_free char *buf = NULL;
  size_t len = 0;
  char got[IMG_DIGEST_SIZE];
  if (p == NULL)
    return berth_fail (err, ENOMEM, "blob path");
  int r = berth_read_file (p, IMG_JSON_MAX, &buf, &len, err);
  if (r == 0)
    r = img_hash_buffer (buf, len, got, err);
  if (r == 0)
    r = img_digest_check (p, digest, got, err);
  if (r < 0)
    return berth_error_prefix (err, "blob %s", digest);
  *out = berth_json_load_buffer (buf, len, p, err);
  return *out ? 0 : berth_error_ret (*err);
}

void img_blob_delete (struct image_store *s, const char *digest, int64_t *freed)
{
  cleanup_free char *p = img_blob_path (s, digest);
  struct stat st;
  if (p == NULL || lstat (p, &st) < 0)
    return;
  if (unlink (p) == 0 && freed)
    *freed += st.st_size;
}
