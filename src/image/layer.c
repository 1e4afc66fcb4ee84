/* Unpacked layers: layers/sha256/<diff id>/{diff/,layer.json}.  A layer is
 * unpacked once, into a folder under tmp/, verified against its diff id,
 * and renamed into place: a layer folder that exists is complete. */
#include "image/image-internal.h"
#include "common/fs.h"

#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *img_layer_dir (struct image_store *s, const char *diff_id)
{
  return img_path (s->layers, diff_id);
}

char *img_layer_diff_dir (struct image_store *s, const char *diff_id)
{
  char *p = NULL;
  if (asprintf (&p, "%s/%s/diff", s->layers, img_digest_hex (diff_id)) < 0)
    return NULL;
  return p;
}

static char *layer_meta_path (const char *layer_dir)
{
  char *p = NULL;
  if (asprintf (&p, "%s/layer.json", layer_dir) < 0)
    return NULL;
  return p;
}

bool img_layer_exists (struct image_store *s, const char *diff_id)
{
  cleanup_free char *dir = img_layer_dir (s, diff_id);
  cleanup_free char *meta = dir ? layer_meta_path (dir) : NULL;
  return meta && access (meta, F_OK) == 0;
}

int64_t img_layer_size (struct image_store *s, const char *diff_id)
{
  cleanup_free char *dir = img_layer_dir (s, diff_id);
  cleanup_free char *meta = dir ? layer_meta_path (dir) : NULL;
  cleanup_json json_t *j = meta ? berth_json_load_file (meta, NULL) : NULL;
  json_int_t size = berth_json_int (j, "size", 0);
  return size > 0 ? size : 0;
}

int img_layer_verify (const char *blob_file, const char *name, const char *diff_id, berth_err *err)
{
  cleanup_archive struct archive *a = NULL;
  char got[IMG_DIGEST_SIZE];
  int r = img_raw_open_file (blob_file, &a, err);
  if (r == 0)
    r = img_raw_pump (a, name, NULL, NULL, got, NULL, err);
  if (r == 0)
    r = img_digest_check (name, diff_id, got, err);
  return r;
}

static int write_meta (const char *dir, const char *diff_id, int64_t size, berth_err *err)
{
  cleanup_free char *meta = layer_meta_path (dir);
  cleanup_json json_t *j = json_pack ("{s:s,s:I}", "diffID", diff_id, "size", (json_int_t) size);
  cleanup_free char *s = j ? json_dumps (j, JSON_COMPACT) : NULL;
  if (meta == NULL || s == NULL)
    return berth_fail (err, ENOMEM, "layer.json");
  return berth_write_file (meta, s, strlen (s), err);
}

/* One syncfs for the whole tree instead of an fsync per file. */
static int sync_dir (const char *dir, berth_err *err)
{
  cleanup_close int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || syncfs (fd) < 0)
    return berth_fail_errno (err, "sync `%s`", dir);
  return 0;
}

static void fsync_dir (const char *dir)
{
  cleanup_close int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0)
    (void) fsync (fd);
}

/* Unpack SRC into TMP/diff, check the diff id, record the size. */
static int unpack_into (const char *tmp, struct archive *src, const char *name, const char *diff_id,
                        berth_err *err)
{
  cleanup_free char *diff = NULL;
  char got[IMG_DIGEST_SIZE];
  int64_t size = 0;
  if (asprintf (&diff, "%s/diff", tmp) < 0)
    return berth_fail (err, ENOMEM, "layer folder");
  if (mkdir (diff, 0755) < 0)
    return berth_fail_errno (err, "mkdir `%s`", diff);
  int r = img_layer_unpack (src, name, diff, got, &size, err);
  if (r == 0)
    r = img_digest_check (name, diff_id, got, err);
  if (r == 0)
    r = write_meta (tmp, diff_id, size, err);
  if (r == 0)
    r = sync_dir (tmp, err);
  return r;
}

int img_layer_prepare (struct image_store *s, struct archive *src, const char *name, const char *diff_id,
                       char **tmp_out, berth_err *err)
{
  cleanup_free char *tmp = NULL;
  int r = img_tmpdir (s, "layer", &tmp, err);
  if (r < 0)
    return r;
  r = unpack_into (tmp, src, name, diff_id, err);
  if (r < 0)
    {
      berth_rm_rf (tmp);
      return r;
    }
  *tmp_out = take_ptr (tmp);
  return 0;
}

int img_layer_commit (struct image_store *s, const char *tmp, const char *diff_id, bool *created, berth_err *err)
{
  cleanup_free char *dst = img_layer_dir (s, diff_id);
  *created = false;
  if (dst == NULL)
    return berth_fail (err, ENOMEM, "layer folder");
  if (rename (tmp, dst) < 0)
    {
      /* Someone unpacked the same layer meanwhile: theirs is as good. */
      if (errno == EEXIST || errno == ENOTEMPTY)
        {
          berth_rm_rf (tmp);
          return 0;
        }
      int r = berth_fail_errno (err, "rename `%s` to `%s`", tmp, dst);
      berth_rm_rf (tmp);
      return r;
    }
  *created = true;
  fsync_dir (s->layers);
  return 0;
}

int img_layer_create (struct image_store *s, const char *blob_file, const char *name, const char *diff_id,
                      bool *created, berth_err *err)
{
  *created = false;
  if (img_layer_exists (s, diff_id))
    return img_layer_verify (blob_file, name, diff_id, err);
  cleanup_archive struct archive *a = NULL;
  cleanup_free char *tmp = NULL;
  int r = img_raw_open_file (blob_file, &a, err);
  if (r == 0)
    r = img_layer_prepare (s, a, name, diff_id, &tmp, err);
  if (r == 0)
    r = img_layer_commit (s, tmp, diff_id, created, err);
  return r;
}

int img_layer_adopt (struct image_store *s, const char *dir, const char *diff_id, int64_t size, bool *created,
                     berth_err *err)
{
  *created = false;
  if (img_layer_exists (s, diff_id))
    return 0;
  cleanup_free char *tmp = NULL, *diff = NULL;
  int r = img_tmpdir (s, "layer", &tmp, err);
  if (r < 0)
    return r;
  if (asprintf (&diff, "%s/diff", tmp) < 0)
    r = berth_fail (err, ENOMEM, "layer folder");
  else if (rename (dir, diff) < 0)
    r = berth_fail_as (err, errno, "rename `%s` to `%s`: %s", dir, diff, strerror (errno));
  if (r == 0)
    r = write_meta (tmp, diff_id, size, err);
  if (r == 0)
    r = sync_dir (tmp, err);
  if (r < 0)
    {
      berth_rm_rf (tmp);
      return r;
    }
  return img_layer_commit (s, tmp, diff_id, created, err);
}

/* Rename first, then remove: a crash half-way leaves the half-removed
 * folder in tmp/ (cleaned at the next open), never a half layer. */
void img_layer_delete (struct image_store *s, const char *diff_id, int64_t *freed)
{
  cleanup_free char *dir = img_layer_dir (s, diff_id);
  cleanup_free char *tmp = NULL;
  cleanup_free char *victim = NULL;
  if (dir == NULL || access (dir, F_OK) < 0)
    return;
  int64_t size = img_layer_size (s, diff_id);
  bool moved = img_tmpdir (s, "delete", &tmp, NULL) == 0 && (victim = img_path (tmp, "layer")) != NULL
               && rename (dir, victim) == 0;
  berth_rm_rf (moved ? tmp : dir);
  if (tmp && !moved)
    berth_rm_rf (tmp);
  if (freed)
    *freed += size;
}
