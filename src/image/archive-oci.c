/* The OCI image layout in an archive: oci-layout, index.json and
 * blobs/sha256/<hex>.  index.json lists manifests (one per tag, the name in
 * the annotations) or indexes, which are followed to the linux/<host arch>
 * manifest. */
#include "image/image-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_MAX_DEPTH 4

/* The archive's blob for DESC, with the size and digest DESC gives. */
static int descriptor_blob (struct img_load *l, json_t *desc, const char *where, struct img_spool_entry **out,
                            berth_err *err)
{
  int r = img_descriptor_check (desc, where, err);
  if (r < 0)
    return r;
  const char *digest = berth_json_str (desc, "digest");
  char path[IMG_DIGEST_SIZE + 16];
  snprintf (path, sizeof path, "blobs/sha256/%s", img_digest_hex (digest));
  struct img_spool_entry *e = img_spool_get (&l->sp, path);
  if (e == NULL)
    return berth_fail (err, 0, "%s: %s is missing from the archive", where, path);
  r = img_digest_check (path, digest, e->digest, err);
  if (r < 0)
    return r;
  if (berth_json_int (desc, "size", -1) != e->size)
    return berth_fail (err, 0, "%s: size mismatch for %s: expected %lld bytes, got %lld", where, path,
                       (long long) berth_json_int (desc, "size", -1), (long long) e->size);
  *out = e;
  return 0;
}

static bool is_index (json_t *desc, json_t *blob)
{
  const char *mt = berth_json_str (desc, "mediaType");
  if (mt == NULL)
    mt = berth_json_str (blob, "mediaType");
  if (mt)
    return img_media_type_is_index (mt);
  return berth_json_arr (blob, "manifests") != NULL;
}

/* Follow DESC through nested indexes down to an image manifest. */
static int resolve_manifest (struct img_load *l, json_t *desc, const char *where, int depth,
                             struct img_spool_entry **me, json_t **mj, berth_err *err)
{
  struct img_spool_entry *e;
  cleanup_json json_t *j = NULL;
  int r = descriptor_blob (l, desc, where, &e, err);
  if (r == 0)
    r = img_spool_json (e, &j, err);
  if (r < 0)
    return r;
  if (is_index (desc, j))
    {
      json_t *pick = img_index_pick (berth_json_arr (j, "manifests"));
      if (depth >= INDEX_MAX_DEPTH)
        return berth_fail (err, 0, "%s: indexes nested too deeply", where);
      if (pick == NULL)
        return berth_fail (err, 0, "%s: index %s has no manifest for linux/%s", where, e->path, img_host_arch ());
      return resolve_manifest (l, pick, where, depth + 1, me, mj, err);
    }
  if (!json_is_object (berth_json_obj (j, "config")) || berth_json_arr (j, "layers") == NULL)
    return berth_fail (err, 0, "%s: %s is not an image manifest", where, e->path);
  *me = e;
  *mj = take_ptr (j);
  return 0;
}

static int manifest_layers (struct img_load *l, struct img_load_image *img, json_t *layers, const char *where,
                            berth_err *err)
{
  size_t i;
  json_t *d;
  json_array_foreach (layers, i, d)
    {
      char w[128];
      struct img_spool_entry *e;
      snprintf (w, sizeof w, "%s: layers[%zu]", where, i);
      int r = descriptor_blob (l, d, w, &e, err);
      if (r == 0)
        r = img_load_add_layer (img, e->path, e, err);
      if (r < 0)
        return r;
    }
  return 0;
}

static int manifest_image (struct img_load *l, struct img_spool_entry *me, json_t *mj, const char *where,
                           struct img_load_image *img, berth_err *err)
{
  char w[128];
  snprintf (w, sizeof w, "%s: config", where);
  img->manifest = me;
  int r = descriptor_blob (l, berth_json_obj (mj, "config"), w, &img->config, err);
  if (r < 0)
    return r;
  img->config_path = strdup (img->config->path);
  if (img->config_path == NULL)
    return berth_fail (err, ENOMEM, "%s", where);
  return manifest_layers (l, img, berth_json_arr (mj, "layers"), where, err);
}

/* containerd and Docker write the full name in io.containerd.image.name;
 * org.opencontainers.image.ref.name is often just a tag ("latest"), which
 * names no repository, so it only counts when it is a full reference. */
static const char *annotated_name (json_t *desc)
{
  json_t *ann = berth_json_obj (desc, "annotations");
  const char *name = berth_json_str (ann, IMG_ANNOTATION_NAME);
  const char *ref = berth_json_str (ann, IMG_ANNOTATION_REF);
  if (name)
    return name;
  if (ref && strpbrk (ref, "/:@"))
    return ref;
  return NULL;
}

static int oci_image (struct img_load *l, json_t *desc, const char *where, berth_err *err)
{
  struct img_spool_entry *me;
  cleanup_json json_t *mj = NULL;
  struct img_load_image *img = calloc (1, sizeof *img);
  if (img == NULL)
    return berth_fail (err, ENOMEM, "%s", where);
  const char *name = annotated_name (desc);
  int r = resolve_manifest (l, desc, where, 0, &me, &mj, err);
  if (r == 0)
    r = manifest_image (l, me, mj, where, img, err);
  if (r == 0 && name)
    r = img_load_add_tag (img, name, where, err);
  if (r < 0)
    {
      img_load_image_free (img);
      return r;
    }
  return img_load_push (l, img, err);
}

static int read_index (struct img_spool_entry *index, json_t **out, berth_err *err)
{
  int r = img_spool_json (index, out, err);
  if (r < 0)
    return r;
  if (berth_json_arr (*out, "manifests") == NULL)
    return berth_fail (err, 0, "index.json: expected a \"manifests\" array");
  return 0;
}

int img_load_oci (struct img_load *l, struct img_spool_entry *index, berth_err *err)
{
  cleanup_json json_t *j = NULL;
  int r = read_index (index, &j, err);
  if (r < 0)
    return r;
  json_t *manifests = berth_json_arr (j, "manifests");
  if (json_array_size (manifests) == 0)
    return berth_fail (err, 0, "index.json lists no images");
  size_t i;
  json_t *desc;
  json_array_foreach (manifests, i, desc)
    {
      char where[64];
      snprintf (where, sizeof where, "index.json manifests[%zu]", i);
      r = oci_image (l, desc, where, err);
      if (r < 0)
        return r;
    }
  return 0;
}

static bool same_blob (json_t *desc, struct img_spool_entry *e)
{
  const char *d = berth_json_str (desc, "digest");
  return d && strcmp (d, e->digest) == 0 && berth_json_int (desc, "size", -1) == e->size;
}

/* The manifest describes exactly the blobs manifest.json names. */
static bool describes (json_t *mj, struct img_load_image *img)
{
  json_t *layers = berth_json_arr (mj, "layers");
  if (!same_blob (berth_json_obj (mj, "config"), img->config) || json_array_size (layers) != img->nlayers)
    return false;
  for (size_t i = 0; i < img->nlayers; i++)
    if (!same_blob (json_array_get (layers, i), img->layers[i].blob))
      return false;
  return true;
}

static void attach_one (struct img_load *l, struct img_spool_entry *me, json_t *mj)
{
  for (size_t i = 0; i < l->n; i++)
    if (l->images[i]->manifest == NULL && describes (mj, l->images[i]))
      l->images[i]->manifest = me;
}

/* Best effort: manifest.json is authoritative, so an OCI part that does
 * not fit only means the manifest is generated instead. */
void img_load_attach_oci (struct img_load *l, struct img_spool_entry *index)
{
  cleanup_json json_t *j = NULL;
  berth_err ignored = NULL;
  size_t i;
  json_t *desc;
  if (read_index (index, &j, &ignored) < 0)
    {
      berth_error_free (&ignored);
      return;
    }
  json_array_foreach (berth_json_arr (j, "manifests"), i, desc)
    {
      struct img_spool_entry *me;
      cleanup_json json_t *mj = NULL;
      if (resolve_manifest (l, desc, "index.json", 0, &me, &mj, &ignored) == 0)
        attach_one (l, me, mj);
      berth_error_free (&ignored);
    }
}
