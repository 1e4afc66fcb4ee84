/* The docker-archive format of `docker save`:
 *   manifest.json  [{"Config": PATH, "RepoTags": [...], "Layers": [PATH...]}]
 * with Docker < 25 naming the config "<id hex>.json" and layers
 * "<v1 id>/layer.tar" (a symlink to an earlier one for repeated layers), and
 * Docker >= 25 naming both "blobs/sha256/<hex>". */
#include "image/image-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Docker < 25 names the config after its digest: check it. */
static int check_config_name (struct img_load_image *img, berth_err *err)
{
  cleanup_free char *clean = NULL;
  int r = img_archive_path (img->config_path, "Config", &clean, err);
  if (r < 0)
    return r;
  const char *slash = strrchr (clean, '/');
  const char *base = slash ? slash + 1 : clean;
  char expected[IMG_DIGEST_SIZE];
  if (strlen (base) != IMG_HEX_LEN + 5 || strcmp (base + IMG_HEX_LEN, ".json") != 0)
    return 0;
  snprintf (expected, sizeof expected, "%s%.*s", IMG_DIGEST_PREFIX, IMG_HEX_LEN, base);
  if (!img_digest_valid (expected))
    return 0;
  return img_digest_check (img->config_path, expected, img->config->digest, err);
}

static int docker_layers (struct img_load *l, struct img_load_image *img, json_t *layers, const char *where,
                          berth_err *err)
{
  size_t i;
  json_t *v;
  json_array_foreach (layers, i, v)
    {
      char w[128];
      struct img_spool_entry *e;
      snprintf (w, sizeof w, "%s.Layers[%zu]", where, i);
      if (!json_is_string (v))
        return berth_fail (err, 0, "%s: expected a string", w);
      int r = img_spool_find (&l->sp, json_string_value (v), w, &e, err);
      if (r == 0)
        r = img_load_add_layer (img, json_string_value (v), e, err);
      if (r < 0)
        return r;
    }
  return 0;
}

static int docker_tags (struct img_load_image *img, json_t *tags, const char *where, berth_err *err)
{
  size_t i;
  json_t *v;
  if (tags == NULL || json_is_null (tags))
    return 0;
  if (!json_is_array (tags))
    return berth_fail (err, 0, "%s.RepoTags: expected an array of strings", where);
  json_array_foreach (tags, i, v)
    {
      char w[128];
      snprintf (w, sizeof w, "%s.RepoTags[%zu]", where, i);
      if (!json_is_string (v))
        return berth_fail (err, 0, "%s: expected a string", w);
      int r = img_load_add_tag (img, json_string_value (v), w, err);
      if (r < 0)
        return r;
    }
  return 0;
}

static int docker_image (struct img_load *l, json_t *item, const char *where, berth_err *err)
{
  const char *config = berth_json_str (item, "Config");
  json_t *layers = berth_json_arr (item, "Layers");
  if (config == NULL || layers == NULL)
    return berth_fail (err, 0, "%s: expected \"Config\" (a string) and \"Layers\" (an array)", where);
  struct img_load_image *img = calloc (1, sizeof *img);
  if (img == NULL || (img->config_path = strdup (config)) == NULL)
    {
      img_load_image_free (img);
      return berth_fail (err, ENOMEM, "%s", where);
    }
  char w[128];
  snprintf (w, sizeof w, "%s.Config", where);
  int r = img_spool_find (&l->sp, config, w, &img->config, err);
  if (r == 0)
    r = check_config_name (img, err);
  if (r == 0)
    r = docker_layers (l, img, layers, where, err);
  if (r == 0)
    r = docker_tags (img, json_object_get (item, "RepoTags"), where, err);
  if (r < 0)
    {
      img_load_image_free (img);
      return r;
    }
  return img_load_push (l, img, err);
}

int img_load_docker (struct img_load *l, struct img_spool_entry *manifest, berth_err *err)
{
  cleanup_json json_t *j = NULL;
  int r = img_spool_json (manifest, &j, err);
  if (r < 0)
    return r;
  if (!json_is_array (j) || json_array_size (j) == 0)
    return berth_fail (err, 0, "manifest.json: expected a non-empty array of images");
  size_t i;
  json_t *item;
  json_array_foreach (j, i, item)
    {
      char where[64];
      snprintf (where, sizeof where, "manifest.json[%zu]", i);
      if (!json_is_object (item))
        return berth_fail (err, 0, "%s: expected an object", where);
      r = docker_image (l, item, where, err);
      if (r < 0)
        return r;
    }
  return 0;
}
