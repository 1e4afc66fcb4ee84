/* `docker history`: the config's history, newest first, in the Engine
 * API's shape.  Entries that made a layer get that layer's size; only the
 * top entry is the image itself (Id and Tags), the others are "<missing>"
 * as for any image that was not built locally. */
#include "image/image-internal.h"

#include <errno.h>
#include <string.h>

static json_t *history_item (json_t *h, int64_t size)
{
  const char *by = berth_json_str (h, "created_by");
  const char *comment = berth_json_str (h, "comment");
  return json_pack ("{s:s,s:I,s:s,s:n,s:I,s:s}", "Id", "<missing>", "Created",
                    (json_int_t) img_parse_time (berth_json_str (h, "created")), "CreatedBy", by ? by : "", "Tags",
                    "Size", (json_int_t) size, "Comment", comment ? comment : "");
}

/* A config without history (some importers write none): one entry per
 * layer, so that the sizes still add up. */
static json_t *default_history (struct image_info *info)
{
  json_t *h = json_array ();
  const char *created = berth_json_str (info->config, "created");
  for (size_t i = 0; h && info->diff_ids[i]; i++)
    json_array_append_new (h, json_pack ("{s:s}", "created", created ? created : ""));
  return h;
}

static int build (struct image_store *s, struct image_info *info, json_t *history, json_t *out, berth_err *err)
{
  size_t layer = 0, i, nlayers = img_strv_len (info->diff_ids);
  json_t *h;
  json_array_foreach (history, i, h)
    {
      int64_t size = 0;
      if (!berth_json_bool (h, "empty_layer", false))
        {
          if (layer >= nlayers)
            return berth_fail (err, 0, "image %s: too many non-empty layers in the history", info->id);
          size = img_layer_size (s, info->diff_ids[layer++]);
        }
      json_t *item = history_item (h, size);
      if (item == NULL || json_array_insert_new (out, 0, item) < 0)
        return berth_fail (err, ENOMEM, "history");
    }
  return 0;
}

static json_t *tags_json (char **tags)
{
  if (tags == NULL || tags[0] == NULL)
    return json_null ();
  json_t *a = json_array ();
  for (size_t i = 0; a && tags[i]; i++)
    json_array_append_new (a, json_string (tags[i]));
  return a;
}

int image_history (struct image_store *s, const char *name_or_id, json_t **out, berth_err *err)
{
  cleanup_info struct image_info *info = NULL;
  int r = image_lookup (s, name_or_id, &info, err);
  if (r < 0)
    return r;
  json_t *history = berth_json_arr (info->config, "history");
  cleanup_json json_t *fallback = json_array_size (history) ? NULL : default_history (info);
  cleanup_json json_t *items = json_array ();
  if (items == NULL || (history == NULL && fallback == NULL))
    return berth_fail (err, ENOMEM, "history");
  r = build (s, info, fallback ? fallback : history, items, err);
  if (r < 0)
    return r;
  json_t *top = json_array_get (items, 0);
  if (top)
    {
      json_object_set_new (top, "Id", json_string (info->id));
      json_object_set_new (top, "Tags", tags_json (info->repo_tags));
    }
  *out = take_ptr (items);
  return 0;
}
