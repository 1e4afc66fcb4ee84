/* Where blobs came from, for cross-repository mounts on push: for each
 * blob, the registry repositories it was pulled from or pushed to, in
 * ROOT/distribution/<hex>.json = {"HOST": ["repo", ...]}.  Only a hint: a
 * lost or stale entry costs an upload, never correctness (the registry
 * answers a mount it cannot do with an ordinary upload session). */
#include "image/dist-internal.h"
#include "common/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SOURCES_DIR "distribution"
/* Repositories remembered per host and blob. */
#define SOURCES_MAX 16

static char *source_path (struct image_store *s, const char *digest)
{
  char *p = NULL;
  if (!img_digest_valid (digest) || asprintf (&p, "%s/%s/%s.json", s->root, SOURCES_DIR, img_digest_hex (digest)) < 0)
    return NULL;
  return p;
}

void dist_source_add (struct image_store *s, const char *digest, const char *host, const char *repo)
{
  cleanup_free char *path = source_path (s, digest);
  cleanup_free char *dir = NULL;
  if (path == NULL || asprintf (&dir, "%s/%s", s->root, SOURCES_DIR) < 0 || berth_mkdir_p (dir, 0700, NULL) < 0)
    return;
  cleanup_json json_t *j = access (path, F_OK) == 0 ? berth_json_load_file (path, NULL) : NULL;
  if (!json_is_object (j))
    {
      if (j)
        json_decref (j);
      j = json_object ();
    }
  json_t *list = json_object_get (j, host);
  if (!json_is_array (list))
    json_object_set_new (j, host, list = json_array ());
  size_t i;
  json_t *v;
  json_array_foreach (list, i, v)
    if (json_is_string (v) && strcmp (json_string_value (v), repo) == 0)
      return;
  json_array_insert_new (list, 0, json_string (repo));
  while (json_array_size (list) > SOURCES_MAX)
    json_array_remove (list, SOURCES_MAX);
  (void) berth_json_replace_file (path, j, NULL);
}

char *dist_source_find (struct image_store *s, const char *digest, const char *host, const char *repo)
{
  cleanup_free char *path = source_path (s, digest);
  cleanup_json json_t *j = path && access (path, F_OK) == 0 ? berth_json_load_file (path, NULL) : NULL;
  size_t i;
  json_t *v;
  json_array_foreach (berth_json_arr (j, host), i, v)
    if (json_is_string (v) && strcmp (json_string_value (v), repo) != 0)
      return strdup (json_string_value (v));
  return NULL;
}

char *img_dist_gzip_twin (struct image_store *s, const char *digest)
{
  cleanup_free char *map = NULL;
  char *known = NULL;
  size_t len;
  if (!img_digest_valid (digest) || asprintf (&map, "%s/distribution/gzip/%s", s->root, img_digest_hex (digest)) < 0)
    return NULL;
  if (access (map, F_OK) < 0 || berth_read_file (map, 128, &known, &len, NULL) < 0)
    return NULL;
  if (!img_digest_valid (known))
    {
      free (known);
      return NULL;
    }
  return known;
}
