/* `docker import`: one layer from a root file system tar.  The tar is
 * stored uncompressed (its digest is then both the blob digest and the
 * diff id), unpacked like any layer, and given a fresh config. */
#include "image/image-internal.h"
#include "common/clock.h"
#include "common/fs.h"

#include <archive.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The config fields `docker import --change` can set, and their types. */
static const struct
{
  const char *key;
  json_type type;
} changeable[] = {
  { "Cmd", JSON_ARRAY },          { "Entrypoint", JSON_ARRAY },   { "Env", JSON_ARRAY },
  { "Shell", JSON_ARRAY },        { "OnBuild", JSON_ARRAY },      { "WorkingDir", JSON_STRING },
  { "User", JSON_STRING },        { "StopSignal", JSON_STRING },  { "ExposedPorts", JSON_OBJECT },
  { "Volumes", JSON_OBJECT },     { "Labels", JSON_OBJECT },      { "Healthcheck", JSON_OBJECT },
};

static int check_changes (json_t *changes, berth_err *err)
{
  const char *key;
  json_t *v;
  if (changes == NULL)
    return 0;
  if (!json_is_object (changes))
    return berth_fail (err, 0, "import: changes: expected an object");
  json_object_foreach (changes, key, v)
    {
      size_t i = 0;
      while (i < sizeof changeable / sizeof changeable[0] && strcmp (changeable[i].key, key) != 0)
        i++;
      if (i == sizeof changeable / sizeof changeable[0])
        return berth_fail (err, 0, "import: unsupported change to the image config: %s", key);
      int r = berth_json_check_type (changes, key, changeable[i].type, "import: changes", err);
      if (r < 0)
        return r;
    }
  return 0;
}

static int parse_target (const char *ref, char **key, berth_err *err)
{
  cleanup_ref struct image_ref r = { 0 };
  *key = NULL;
  if (ref == NULL || *ref == '\0')
    return 0;
  int ret = image_ref_parse (ref, &r, err);
  if (ret < 0)
    return ret;
  if (r.digest)
    return berth_fail (err, 0, "import: %s: cannot tag with a digest", ref);
  *key = img_ref_key (&r);
  return *key ? 0 : berth_fail (err, ENOMEM, "import");
}

static int write_sink (void *opaque, const void *buf, size_t len, berth_err *err)
{
  return img_blob_writer_write (opaque, buf, len, err);
}

/* Decompress the input into a temp file: its digest is the diff id. */
static int spool_input (struct image_store *s, int fd, struct img_blob_writer *w, berth_err *err)
{
  cleanup_archive struct archive *a = NULL;
  char digest[IMG_DIGEST_SIZE];
  int r = img_blob_writer_open (s->tmp, w, err);
  if (r == 0)
    r = img_raw_open_fd (fd, &a, err);
  if (r == 0)
    r = img_raw_pump (a, "input", write_sink, w, digest, NULL, err);
  if (r == 0)
    r = img_blob_writer_finish (w, "input", digest, err);
  return r;
}

static json_t *new_config (const char *diff_id, json_t *changes, const char *message)
{
  cleanup_free char *now = berth_rfc3339_now ();
  if (now == NULL)
    return NULL;
  json_t *config = changes ? json_deep_copy (changes) : json_object ();
  json_t *c = json_pack ("{s:s,s:s,s:s,s:o,s:{s:s,s:[s]},s:[{s:s,s:s}]}", "architecture", img_host_arch (), "os",
                         "linux", "created", now, "config", config, "rootfs", "type", "layers", "diff_ids", diff_id,
                         "history", "created", now, "created_by", "berth import");
  if (c && message && *message)
    {
      json_object_set_new (c, "comment", json_string (message));
      json_object_set_new (json_array_get (json_object_get (c, "history"), 0), "comment", json_string (message));
    }
  return c;
}

static int put_json (struct image_store *s, json_t *j, char digest[IMG_DIGEST_SIZE], int64_t *size, char ***created,
                     berth_err *err)
{
  cleanup_free char *text = j ? json_dumps (j, JSON_COMPACT) : NULL;
  bool fresh = false;
  if (text == NULL)
    return berth_fail (err, ENOMEM, "import");
  *size = (int64_t) strlen (text);
  int r = img_blob_put (s, text, strlen (text), digest, &fresh, err);
  if (r == 0 && fresh && img_strv_add (created, digest) < 0)
    return berth_fail (err, ENOMEM, "import");
  return r;
}

/* Config and manifest blobs; ID gets the config digest. */
static int store_metadata (struct image_store *s, const char *diff_id, int64_t layer_size, json_t *changes,
                           const char *message, char id[IMG_DIGEST_SIZE], char manifest[IMG_DIGEST_SIZE], char ***created, berth_err *err)
{
  cleanup_json json_t *config = new_config (diff_id, changes, message);
  int64_t config_size = 0, manifest_size = 0;
  int r = put_json (s, config, id, &config_size, created, err);
  if (r < 0)
    return r;
  json_t *layers = json_pack ("[o]", img_descriptor (IMG_MT_OCI_LAYER, diff_id, layer_size));
  cleanup_json json_t *m = layers ? img_manifest_new (id, config_size, layers) : NULL;
  return put_json (s, m, manifest, &manifest_size, created, err);
}

static int record (struct image_store *s, const char *id, const char *manifest, const char *key, berth_err *err)
{
  json_t *db = img_db_copy (s, err);
  if (db == NULL)
    return berth_error_ret (*err);
  if (img_db_image (db, id, true) == NULL)
    img_db_add_image (db, id, manifest);
  json_object_del (img_db_image (db, id, true), "hidden");
  if (key)
    json_object_set_new (img_db_refs (db), key, json_string (id));
  return img_db_commit (s, db, err);
}

static int import_layer (struct image_store *s, struct img_blob_writer *w, char ***blobs, char ***layers,
                         berth_err *err)
{
  bool fresh = false;
  int r = img_layer_create (s, w->path, "imported layer", w->digest, &fresh, err);
  if (r == 0 && fresh && img_strv_add (layers, w->digest) < 0)
    return berth_fail (err, ENOMEM, "import");
  if (r == 0)
    r = img_blob_commit (s, w->path, w->digest, &fresh, err);
  if (r == 0 && fresh && img_strv_add (blobs, w->digest) < 0)
    return berth_fail (err, ENOMEM, "import");
  return r;
}

static void rollback (struct image_store *s, char **blobs, char **layers)
{
  for (size_t i = 0; blobs && blobs[i]; i++)
    img_blob_delete (s, blobs[i], NULL);
  for (size_t i = 0; layers && layers[i]; i++)
    img_layer_delete (s, layers[i], NULL);
}

int image_import (struct image_store *s, int fd, const char *ref, json_t *changes, const char *message, char **id_out,
                  berth_err *err)
{
  cleanup_free char *key = NULL;
  cleanup_strv char **blobs = NULL;
  cleanup_strv char **layers = NULL;
  struct img_blob_writer w;
  char id[IMG_DIGEST_SIZE], manifest[IMG_DIGEST_SIZE];
  memset (&w, 0, sizeof w);
  w.fd = -1;
  int r = check_changes (changes, err);
  if (r == 0)
    r = parse_target (ref, &key, err);
  if (r == 0)
    r = spool_input (s, fd, &w, err);
  if (r == 0)
    r = import_layer (s, &w, &blobs, &layers, err);
  if (r == 0)
    r = store_metadata (s, w.digest, w.size, changes, message, id, manifest, &blobs, err);
  if (r == 0)
    r = record (s, id, manifest, key, err);
  if (r < 0)
    rollback (s, blobs, layers);
  img_blob_writer_cleanup (&w);
  if (r == 0 && (*id_out = strdup (id)) == NULL)
    return berth_fail (err, ENOMEM, "import");
  return r;
}
