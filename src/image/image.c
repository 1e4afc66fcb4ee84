/* Looking images up and describing them: lookup, list, tag, layer dirs. */
#include "image/image-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail_enoent (const char *what, berth_err *err)
{
  return img_fail_plain (err, ENOENT, "No such image: %s", what);
}

static bool full_id (const char *s, char id[IMG_DIGEST_SIZE])
{
  const char *hex = strncmp (s, IMG_DIGEST_PREFIX, IMG_DIGEST_PREFIX_LEN) == 0 ? s + IMG_DIGEST_PREFIX_LEN : s;
  if (!img_hex_valid (hex, IMG_HEX_LEN))
    return false;
  snprintf (id, IMG_DIGEST_SIZE, "%s%s", IMG_DIGEST_PREFIX, hex);
  return true;
}

/* A short id: at least 4 lowercase hex digits, "sha256:" allowed. */
static const char *short_id (const char *s)
{
  const char *hex = strncmp (s, IMG_DIGEST_PREFIX, IMG_DIGEST_PREFIX_LEN) == 0 ? s + IMG_DIGEST_PREFIX_LEN : s;
  size_t n = strlen (hex);
  return n >= 4 && n <= IMG_HEX_LEN && img_hex_valid (hex, n) ? hex : NULL;
}

static int find_prefix (struct image_store *s, const char *what, const char *hex, char id[IMG_DIGEST_SIZE],
                        berth_err *err)
{
  const char *key;
  json_t *rec;
  int found = 0;
  json_object_foreach (img_db_images (s->db), key, rec)
    {
      if (img_db_hidden (rec) || strncmp (img_digest_hex (key), hex, strlen (hex)) != 0)
        continue;
      if (found++ == 0)
        snprintf (id, IMG_DIGEST_SIZE, "%s", key);
    }
  if (found > 1)
    return berth_fail (err, 0, "short id %s is ambiguous: it matches %d images", what, found);
  return found == 1 ? 0 : -ENOENT;
}

static int find_ref (struct image_store *s, const struct image_ref *ref, char id[IMG_DIGEST_SIZE])
{
  cleanup_free char *key = img_ref_key (ref);
  const char *v = key ? berth_json_str (img_db_refs (s->db), key) : NULL;
  if (v == NULL || img_db_image (s->db, v, false) == NULL)
    return -ENOENT;
  snprintf (id, IMG_DIGEST_SIZE, "%s", v);
  return 0;
}

/* Docker's order: a full id, a reference, then a short id. */
int img_resolve (struct image_store *s, const char *name_or_id, char id[IMG_DIGEST_SIZE], berth_err *err)
{
  if (name_or_id == NULL || *name_or_id == '\0')
    return fail_enoent ("", err);
  if (full_id (name_or_id, id))
    return img_db_image (s->db, id, false) ? 0 : fail_enoent (name_or_id, err);
  cleanup_ref struct image_ref ref = { 0 };
  berth_err perr = NULL;
  int pr = image_ref_parse (name_or_id, &ref, &perr);
  if (pr == 0 && find_ref (s, &ref, id) == 0)
    return 0;
  const char *hex = short_id (name_or_id);
  int r = hex ? find_prefix (s, name_or_id, hex, id, err) : -ENOENT;
  if (r != -ENOENT)
    {
      berth_error_free (&perr);
      return r;
    }
  if (pr < 0 && err && *err == NULL)
    {
      *err = take_ptr (perr);
      return berth_error_ret (*err);
    }
  berth_error_free (&perr);
  return fail_enoent (name_or_id, err);
}

static int cmp_familiar (const void *a, const void *b)
{
  cleanup_free char *fa = img_key_familiar (*(char *const *) a);
  cleanup_free char *fb = img_key_familiar (*(char *const *) b);
  return strcmp (fa ? fa : "", fb ? fb : "");
}

char **img_refs_of (json_t *db, const char *id)
{
  char **v = calloc (1, sizeof (char *));
  const char *key;
  json_t *val;
  if (v == NULL)
    return NULL;
  json_object_foreach (img_db_refs (db), key, val)
    if (strcmp (json_string_value (val), id) == 0 && img_strv_add (&v, key) < 0)
      {
        cleanup_strvp (&v);
        return NULL;
      }
  if (v)
    qsort (v, img_strv_len (v), sizeof (char *), cmp_familiar);
  return v;
}

int img_config_diff_ids (json_t *config, const char *where, char ***out, berth_err *err)
{
  json_t *ids = berth_json_path (config, "rootfs.diff_ids");
  if (!json_is_object (config) || !json_is_array (ids))
    return berth_fail (err, 0, "%s: rootfs.diff_ids: expected an array of sha256 digests", where);
  size_t i;
  json_t *v;
  json_array_foreach (ids, i, v)
    if (!img_digest_valid (json_string_value (v)))
      return berth_fail (err, 0, "%s: rootfs.diff_ids[%zu]: expected a sha256 digest", where, i);
  return berth_json_strv (ids, out, where, err);
}

int img_manifest_of (struct image_store *s, const char *id, json_t **manifest, char digest[IMG_DIGEST_SIZE],
                     berth_err *err)
{
  const char *d = berth_json_str (img_db_image (s->db, id, true), "manifest");
  if (d == NULL)
    return berth_fail (err, ENOENT, "image %s has no manifest", id);
  snprintf (digest, IMG_DIGEST_SIZE, "%s", d);
  return img_blob_read_json (s, d, manifest, err);
}

void image_info_free (struct image_info *i)
{
  if (i == NULL)
    return;
  free (i->id);
  cleanup_strvp (&i->repo_tags);
  cleanup_strvp (&i->repo_digests);
  cleanup_strvp (&i->diff_ids);
  json_decref (i->config);
  free (i);
}

/* Split the keys of ID into familiar tags and digests. */
static int info_refs (struct image_store *s, struct image_info *info)
{
  cleanup_strv char **keys = img_refs_of (s->db, info->id);
  info->repo_tags = calloc (1, sizeof (char *));
  info->repo_digests = calloc (1, sizeof (char *));
  if (keys == NULL || info->repo_tags == NULL || info->repo_digests == NULL)
    return -ENOMEM;
  for (size_t i = 0; keys[i]; i++)
    {
      cleanup_free char *f = img_key_familiar (keys[i]);
      if (f == NULL || img_strv_add (img_key_is_digest (keys[i]) ? &info->repo_digests : &info->repo_tags, f) < 0)
        return -ENOMEM;
    }
  return 0;
}

int img_info_load (struct image_store *s, const char *id, struct image_info **out, berth_err *err)
{
  cleanup_info struct image_info *info = calloc (1, sizeof *info);
  if (info == NULL || (info->id = strdup (id)) == NULL)
    return berth_fail (err, ENOMEM, "image %s", id);
  int r = img_blob_read_json (s, id, &info->config, err);
  if (r == 0)
    r = img_config_diff_ids (info->config, id, &info->diff_ids, err);
  if (r == 0 && info_refs (s, info) < 0)
    r = berth_fail (err, ENOMEM, "image %s", id);
  if (r < 0)
    return r;
  for (size_t i = 0; info->diff_ids[i]; i++)
    info->size += img_layer_size (s, info->diff_ids[i]);
  info->created = img_parse_time (berth_json_str (info->config, "created"));
  *out = take_ptr (info);
  return 0;
}

int image_lookup (struct image_store *s, const char *name_or_id, struct image_info **out, berth_err *err)
{
  char id[IMG_DIGEST_SIZE];
  int r = img_resolve (s, name_or_id, id, err);
  if (r < 0)
    return r;
  return img_info_load (s, id, out, err);
}

void image_list_free (struct image_info **list, size_t n)
{
  for (size_t i = 0; list && i < n; i++)
    image_info_free (list[i]);
  free (list);
}

int image_list (struct image_store *s, struct image_info ***out, size_t *n, berth_err *err)
{
  json_t *images = img_db_images (s->db);
  struct image_info **list = calloc (json_object_size (images) + 1, sizeof *list);
  size_t count = 0;
  const char *id;
  json_t *rec;
  if (list == NULL)
    return berth_fail (err, ENOMEM, "list images");
  json_object_foreach (images, id, rec)
    {
      if (img_db_hidden (rec))
        continue;
      int r = img_info_load (s, id, &list[count], err);
      if (r < 0)
        {
          image_list_free (list, count);
          return r;
        }
      count++;
    }
  *out = list;
  *n = count;
  return 0;
}

int image_tag (struct image_store *s, const char *source, const char *target, berth_err *err)
{
  char id[IMG_DIGEST_SIZE];
  cleanup_ref struct image_ref ref = { 0 };
  int r = img_resolve (s, source, id, err);
  if (r < 0)
    return r;
  r = image_ref_parse (target, &ref, err);
  if (r < 0)
    return r;
  if (ref.digest)
    return berth_fail (err, 0, "refusing to create a tag with a digest reference: %s", target);
  cleanup_free char *key = img_ref_key (&ref);
  json_t *db = img_db_copy (s, err);
  if (key == NULL || db == NULL)
    {
      json_decref (db);
      return berth_fail (err, ENOMEM, "tag %s", target);
    }
  json_object_set_new (img_db_refs (db), key, json_string (id));
  return img_db_commit (s, db, err);
}

/* Full ids may name an image deleted while a container still used it
 * (see image_remove): its layers are still there for the container. */
static int resolve_for_layers (struct image_store *s, const char *name_or_id, char id[IMG_DIGEST_SIZE], berth_err *err)
{
  if (full_id (name_or_id, id) && img_db_image (s->db, id, true))
    return 0;
  return img_resolve (s, name_or_id, id, err);
}

/* overlayfs refuses a folder twice in lowerdir; a layer repeated higher
 * up already shows everything its lower copy would. */
static int collect_dirs (struct image_store *s, const char *id, char **diff_ids, char ***dirs, berth_err *err)
{
  for (size_t i = img_strv_len (diff_ids); i-- > 0;)
    {
      cleanup_free char *dir = img_layer_diff_dir (s, diff_ids[i]);
      if (dir == NULL)
        return berth_fail (err, ENOMEM, "layer dirs");
      if (img_strv_contains (*dirs, dir))
        continue;
      if (!img_layer_exists (s, diff_ids[i]))
        return berth_fail (err, ENOENT, "layer %s of image %s is missing", diff_ids[i], id);
      if (img_strv_add (dirs, dir) < 0)
        return berth_fail (err, ENOMEM, "layer dirs");
    }
  return 0;
}

int image_layer_dirs (struct image_store *s, const char *name_or_id, char ***dirs, berth_err *err)
{
  char id[IMG_DIGEST_SIZE];
  cleanup_json json_t *config = NULL;
  cleanup_strv char **diff_ids = NULL;
  cleanup_strv char **v = calloc (1, sizeof (char *));
  if (v == NULL)
    return berth_fail (err, ENOMEM, "layer dirs");
  int r = resolve_for_layers (s, name_or_id, id, err);
  if (r == 0)
    r = img_blob_read_json (s, id, &config, err);
  if (r == 0)
    r = img_config_diff_ids (config, id, &diff_ids, err);
  if (r == 0)
    r = collect_dirs (s, id, diff_ids, &v, err);
  if (r < 0)
    return r;
  *dirs = take_ptr (v);
  return 0;
}
