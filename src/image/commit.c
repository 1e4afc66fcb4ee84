/* Images made by builds (berthd's POST /build): a layer tar from a build
 * step goes in with image_layer_add, a config that names it with
 * image_commit.  Build steps are committed as hidden images (the layer
 * cache points at them; listings do not show them, as Docker hides
 * intermediate images), the final image as a visible one. */
#include "image/image-internal.h"
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int image_config_read (struct image_store *s, const char *id, json_t **config, berth_err *err)
{
  if (!img_digest_valid (id) || img_db_image (s->db, id, true) == NULL)
    return img_fail_plain (err, ENOENT, "No such image: %s", id ? id : "");
  return img_blob_read_json (s, id, config, err);
}

bool image_exists (struct image_store *s, const char *id)
{
  cleanup_json json_t *config = NULL;
  cleanup_strv char **diff_ids = NULL;
  if (image_config_read (s, id, &config, NULL) < 0 || img_config_diff_ids (config, id, &diff_ids, NULL) < 0)
    return false;
  for (char **d = diff_ids; *d; d++)
    if (!img_layer_exists (s, *d) || !img_blob_exists (s, *d))
      return false;
  return true;
}

static int hash_file (const char *file, char digest[IMG_DIGEST_SIZE], berth_err *err)
{
  struct img_hash h;
  cleanup_close int fd = open (file, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (err, "open %s", file);
  int r = img_hash_init (&h, err);
  if (r < 0)
    return r;
  static char buf[1 << 16];
  for (;;)
    {
      ssize_t n = read (fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          img_hash_free (&h);
          return berth_fail_errno (err, "read %s", file);
        }
      if (n == 0)
        break;
      img_hash_update (&h, buf, (size_t) n);
    }
  img_hash_final (&h, digest);
  return 0;
}

int image_layer_add (struct image_store *s, const char *tar_file, char **diff_id, berth_err *err)
{
  char digest[IMG_DIGEST_SIZE];
  bool created = false;
  int r = hash_file (tar_file, digest, err);
  if (r == 0)
    r = img_layer_create (s, tar_file, "build layer", digest, &created, err);
  if (r == 0)
    r = img_blob_commit (s, tar_file, digest, &created, err);
  if (r < 0)
    return berth_error_prefix (err, "store layer");
  *diff_id = strdup (digest);
  return *diff_id ? 0 : berth_fail (err, ENOMEM, "store layer");
}

int image_layer_add_dir (struct image_store *s, const char *tar_file, const char *diff_id, const char *dir, int64_t size,
                         char **diff_id_out, berth_err *err)
{
  bool created = false;
  if (!img_digest_valid (diff_id))
    return berth_fail (err, EINVAL, "store layer: bad digest %s", diff_id ? diff_id : "");
  int r = img_layer_adopt (s, dir, diff_id, size, &created, err);
  if (r == -EXDEV) /* another filesystem: unpack the tar instead */
    {
      berth_error_free (err);
      return image_layer_add (s, tar_file, diff_id_out, err);
    }
  if (r == 0)
    r = img_blob_commit (s, tar_file, diff_id, &created, err);
  if (r < 0)
    return berth_error_prefix (err, "store layer");
  *diff_id_out = strdup (diff_id);
  return *diff_id_out ? 0 : berth_fail (err, ENOMEM, "store layer");
}

static int put_json (struct image_store *s, json_t *j, char digest[IMG_DIGEST_SIZE], int64_t *size, berth_err *err)
{
  cleanup_free char *text = json_dumps (j, JSON_COMPACT);
  bool fresh = false;
  if (text == NULL)
    return berth_fail (err, ENOMEM, "commit");
  *size = (int64_t) strlen (text);
  return img_blob_put (s, text, strlen (text), digest, &fresh, err);
}

int image_commit (struct image_store *s, json_t *config, bool hidden, char **id_out, berth_err *err)
{
  char id[IMG_DIGEST_SIZE], manifest[IMG_DIGEST_SIZE];
  int64_t config_size = 0, manifest_size = 0;
  cleanup_strv char **diff_ids = NULL;
  int r = img_config_diff_ids (config, "build", &diff_ids, err);
  if (r == 0)
    r = put_json (s, config, id, &config_size, err);
  if (r < 0)
    return berth_error_prefix (err, "commit");
  json_t *rec = img_db_image (s->db, id, true);
  if (rec && (hidden || !img_db_hidden (rec)))
    return (*id_out = strdup (id)) ? 0 : berth_fail (err, ENOMEM, "commit");
  json_t *layers = json_array ();
  for (char **d = diff_ids; *d; d++)
    {
      int64_t size = img_blob_size (s, *d);
      if (size < 0)
        {
          json_decref (layers);
          return berth_fail (err, ENOENT, "commit: layer %s is not in the store", *d);
        }
      json_array_append_new (layers, img_descriptor (IMG_MT_OCI_LAYER, *d, size));
    }
  cleanup_json json_t *m = img_manifest_new (id, config_size, layers);
  if (m == NULL || (r = put_json (s, m, manifest, &manifest_size, err)) < 0)
    return m ? r : berth_fail (err, ENOMEM, "commit");
  json_t *db = img_db_copy (s, err);
  if (db == NULL)
    return berth_error_ret (*err);
  if (img_db_image (db, id, true) == NULL)
    img_db_add_image (db, id, manifest);
  if (hidden)
    json_object_set_new (img_db_image (db, id, true), "hidden", json_true ());
  else
    json_object_del (img_db_image (db, id, true), "hidden");
  r = img_db_commit (s, db, err);
  if (r < 0)
    return r;
  return (*id_out = strdup (id)) ? 0 : berth_fail (err, ENOMEM, "commit");
}
