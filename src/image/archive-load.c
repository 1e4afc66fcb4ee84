/* `docker load`: spool the archive, find its images (docker-archive or OCI
 * layout), check them, then commit in an order that keeps the store
 * consistent at every step: layers (each verified against its diff id),
 * then blobs, then refs.json, the one write that makes the images visible.
 * A failure before that removes what this load created. */
#include "image/image-internal.h"
#include "common/fs.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void img_load_image_free (struct img_load_image *img)
{
  if (img == NULL)
    return;
  free (img->config_path);
  for (size_t i = 0; i < img->nlayers; i++)
    free (img->layers[i].path);
  free (img->layers);
  cleanup_strvp (&img->tags);
  cleanup_strvp (&img->diff_ids);
  json_decref (img->config_json);
  free (img);
}

int img_load_add_tag (struct img_load_image *img, const char *name, const char *where, berth_err *err)
{
  cleanup_ref struct image_ref ref = { 0 };
  int r = image_ref_parse (name, &ref, err);
  if (r < 0)
    return berth_error_prefix (err, "%s", where);
  if (ref.digest)
    return berth_fail (err, 0, "%s: %s is not a name:tag", where, name);
  cleanup_free char *key = img_ref_key (&ref);
  if (key == NULL || (!img_strv_contains (img->tags, key) && img_strv_add (&img->tags, key) < 0))
    return berth_fail (err, ENOMEM, "%s", where);
  return 0;
}

int img_load_add_layer (struct img_load_image *img, const char *path, struct img_spool_entry *blob, berth_err *err)
{
  struct img_load_layer *v = realloc (img->layers, (img->nlayers + 1) * sizeof *v);
  if (v == NULL)
    return berth_fail (err, ENOMEM, "layers");
  img->layers = v;
  v[img->nlayers].blob = blob;
  v[img->nlayers].path = strdup (path);
  if (v[img->nlayers].path == NULL)
    return berth_fail (err, ENOMEM, "layers");
  img->nlayers++;
  return 0;
}

static struct img_load_image *find_config (struct img_load *l, const char *digest)
{
  for (size_t i = 0; i < l->n; i++)
    if (strcmp (l->images[i]->config->digest, digest) == 0)
      return l->images[i];
  return NULL;
}

int img_load_push (struct img_load *l, struct img_load_image *img, berth_err *err)
{
  struct img_load_image *same = find_config (l, img->config->digest);
  if (same)
    {
      for (size_t i = 0; img->tags && img->tags[i]; i++)
        if (!img_strv_contains (same->tags, img->tags[i]) && img_strv_add (&same->tags, img->tags[i]) < 0)
          {
            img_load_image_free (img);
            return berth_fail (err, ENOMEM, "load");
          }
      img_load_image_free (img);
      return 0;
    }
  struct img_load_image **v = realloc (l->images, (l->n + 1) * sizeof *v);
  if (v == NULL)
    {
      img_load_image_free (img);
      return berth_fail (err, ENOMEM, "load");
    }
  l->images = v;
  v[l->n++] = img;
  return 0;
}

static int find_images (struct img_load *l, berth_err *err)
{
  struct img_spool_entry *manifest = img_spool_get (&l->sp, "manifest.json");
  struct img_spool_entry *index = img_spool_get (&l->sp, "index.json");
  if (manifest)
    {
      int r = img_load_docker (l, manifest, err);
      if (r == 0 && index)
        img_load_attach_oci (l, index);
      return r;
    }
  if (index)
    return img_load_oci (l, index, err);
  return berth_fail (err, 0, "not an image archive: it has neither manifest.json nor index.json");
}

static int check_image (struct img_load_image *img, berth_err *err)
{
  int r = img_spool_json (img->config, &img->config_json, err);
  if (r == 0)
    r = img_config_diff_ids (img->config_json, img->config_path, &img->diff_ids, err);
  if (r < 0)
    return r;
  size_t n = img_strv_len (img->diff_ids);
  if (n != img->nlayers)
    return berth_fail (err, 0, "%s: the config has %zu layers (rootfs.diff_ids) but the manifest lists %zu",
                       img->config_path, n, img->nlayers);
  return 0;
}

/* Unpack every layer not in the store yet; check the others against
 * their diff id all the same (a shared layer may come with a lying blob).
 * A blob seen with the same diff id earlier in this load is not read twice. */
static int unpack_layers (struct img_load *l, struct img_load_image *img, char ***seen, berth_err *err)
{
  for (size_t i = 0; i < img->nlayers; i++)
    {
      cleanup_free char *pair = NULL;
      bool created = false;
      if (asprintf (&pair, "%s %s", img->layers[i].blob->digest, img->diff_ids[i]) < 0)
        return berth_fail (err, ENOMEM, "load");
      if (img_strv_contains (*seen, pair))
        continue;
      int r = img_layer_create (l->s, img->layers[i].blob->file, img->layers[i].path, img->diff_ids[i], &created,
                                err);
      if (r == 0 && created)
        r = img_strv_add (&l->new_layers, img->diff_ids[i]) < 0 ? berth_fail (err, ENOMEM, "load") : 0;
      if (r == 0 && img_strv_add (seen, pair) < 0)
        r = berth_fail (err, ENOMEM, "load");
      if (r < 0)
        return r;
    }
  return 0;
}

static int keep_blob (struct img_load *l, const char *file, const char *digest, berth_err *err)
{
  bool created = false;
  int r = img_blob_commit (l->s, file, digest, &created, err);
  if (r == 0 && created && img_strv_add (&l->new_blobs, digest) < 0)
    return berth_fail (err, ENOMEM, "load");
  return r;
}

/* docker-archives have no manifest: make the OCI one `docker save`
 * (>= 25) would write for these blobs. */
static int generate_manifest (struct img_load *l, struct img_load_image *img, berth_err *err)
{
  json_t *layers = json_array ();
  for (size_t i = 0; layers && i < img->nlayers; i++)
    {
      struct img_spool_entry *b = img->layers[i].blob;
      json_array_append_new (layers, img_descriptor (img_layer_media_type (b->file), b->digest, b->size));
    }
  cleanup_json json_t *m = layers ? img_manifest_new (img->config->digest, img->config->size, layers) : NULL;
  cleanup_free char *text = m ? json_dumps (m, JSON_COMPACT) : NULL;
  bool created = false;
  if (text == NULL)
    return berth_fail (err, ENOMEM, "manifest");
  int r = img_blob_put (l->s, text, strlen (text), img->manifest_digest, &created, err);
  if (r == 0 && created && img_strv_add (&l->new_blobs, img->manifest_digest) < 0)
    return berth_fail (err, ENOMEM, "load");
  return r;
}

/* An image the store has already keeps its manifest and blobs. */
static bool already_stored (struct img_load *l, struct img_load_image *img)
{
  const char *m = berth_json_str (img_db_image (l->s->db, img->config->digest, true), "manifest");
  if (m == NULL || !img_blob_exists (l->s, m) || !img_blob_exists (l->s, img->config->digest))
    return false;
  snprintf (img->manifest_digest, IMG_DIGEST_SIZE, "%s", m);
  return true;
}

static int store_blobs (struct img_load *l, struct img_load_image *img, berth_err *err)
{
  if (already_stored (l, img))
    return 0;
  int r = keep_blob (l, img->config->file, img->config->digest, err);
  for (size_t i = 0; r == 0 && i < img->nlayers; i++)
    r = keep_blob (l, img->layers[i].blob->file, img->layers[i].blob->digest, err);
  if (r < 0)
    return r;
  if (img->manifest == NULL)
    return generate_manifest (l, img, err);
  snprintf (img->manifest_digest, IMG_DIGEST_SIZE, "%s", img->manifest->digest);
  return keep_blob (l, img->manifest->file, img->manifest->digest, err);
}

static int add_line (struct img_load *l, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static int add_line (struct img_load *l, const char *fmt, ...)
{
  cleanup_free char *line = NULL;
  va_list ap;
  va_start (ap, fmt);
  int n = vasprintf (&line, fmt, ap);
  va_end (ap);
  if (n < 0)
    {
      line = NULL;
      return -ENOMEM;
    }
  return img_strv_add (&l->lines, line);
}

/* Point KEY at ID, saying so the way Docker does. */
static int set_tag (struct img_load *l, json_t *db, const char *key, const char *id)
{
  cleanup_free char *familiar = img_key_familiar (key);
  cleanup_free char *name = img_key_name (key);
  cleanup_free char *digest_key = NULL;
  const char *old = berth_json_str (img_db_refs (db), key);
  struct img_load_image *img = find_config (l, id);
  if (familiar == NULL || name == NULL || asprintf (&digest_key, "%s@%s", name, img->manifest_digest) < 0)
    return -ENOMEM;
  if (old && strcmp (old, id) != 0
      && add_line (l, "The image %s already exists, renaming the old one with ID %s to empty string", familiar,
                   old) < 0)
    return -ENOMEM;
  /* name@<manifest digest> too, as Docker's containerd image store does,
   * so a loaded image can be found by its repo digest. */
  json_object_set_new (img_db_refs (db), key, json_string (id));
  json_object_set_new (img_db_refs (db), digest_key, json_string (id));
  return add_line (l, "Loaded image: %s", familiar);
}

static int record_image (struct img_load *l, json_t *db, struct img_load_image *img)
{
  const char *id = img->config->digest;
  json_t *rec = img_db_image (db, id, true);
  if (rec == NULL)
    img_db_add_image (db, id, img->manifest_digest);
  else
    json_object_del (rec, "hidden"); /* loaded again: visible again */
  if (img->tags == NULL)
    return add_line (l, "Loaded image ID: %s", id);
  for (size_t i = 0; img->tags[i]; i++)
    if (set_tag (l, db, img->tags[i], id) < 0)
      return -ENOMEM;
  return 0;
}

static int update_refs (struct img_load *l, berth_err *err)
{
  json_t *db = img_db_copy (l->s, err);
  if (db == NULL)
    return berth_error_ret (*err);
  for (size_t i = 0; i < l->n; i++)
    if (record_image (l, db, l->images[i]) < 0)
      {
        json_decref (db);
        return berth_fail (err, ENOMEM, "load");
      }
  return img_db_commit (l->s, db, err);
}

static int commit (struct img_load *l, berth_err *err)
{
  cleanup_strv char **seen = NULL;
  int r = 0;
  for (size_t i = 0; r == 0 && i < l->n; i++)
    r = check_image (l->images[i], err);
  for (size_t i = 0; r == 0 && i < l->n; i++)
    r = unpack_layers (l, l->images[i], &seen, err);
  for (size_t i = 0; r == 0 && i < l->n; i++)
    r = store_blobs (l, l->images[i], err);
  return r == 0 ? update_refs (l, err) : r;
}

static void rollback (struct img_load *l)
{
  for (size_t i = 0; l->new_blobs && l->new_blobs[i]; i++)
    img_blob_delete (l->s, l->new_blobs[i], NULL);
  for (size_t i = 0; l->new_layers && l->new_layers[i]; i++)
    img_layer_delete (l->s, l->new_layers[i], NULL);
}

static void load_free (struct img_load *l)
{
  for (size_t i = 0; i < l->n; i++)
    img_load_image_free (l->images[i]);
  free (l->images);
  cleanup_strvp (&l->new_blobs);
  cleanup_strvp (&l->new_layers);
  cleanup_strvp (&l->lines);
  img_spool_free (&l->sp);
}

int image_load (struct image_store *s, int fd, char ***loaded, berth_err *err)
{
  struct img_load l = { .s = s };
  int r = img_tmpdir (s, "load", &l.sp.dir, err);
  if (r == 0)
    r = img_spool_archive (fd, &l.sp, err);
  if (r == 0)
    r = find_images (&l, err);
  if (r == 0)
    r = commit (&l, err);
  if (r < 0)
    rollback (&l);
  else
    *loaded = l.lines ? take_ptr (l.lines) : calloc (1, sizeof (char *));
  load_free (&l);
  if (r == 0 && *loaded == NULL)
    return berth_fail (err, ENOMEM, "load");
  return r;
}
