/* `docker rmi` and `docker image prune`, with Docker's rules.  Every
 * removal edits a copy of refs.json, writes it, and only then deletes the
 * files nothing references any more: a crash in between leaves unused
 * files (which prune sweeps), never a reference to a missing one.
 *
 * An image a container uses can only go with force; it then disappears
 * from every listing but stays "hidden" in refs.json with its layers, which
 * the container's overlay mount may be using, until a prune finds it
 * unused.  (Docker keeps the layers of a force-deleted image alive through
 * the container's read-write layer in the same way.) */
#include "image/image-internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef bool (*in_use_fn) (const char *id, void *opaque);

struct rm
{
  struct image_store *s;
  json_t *db;          /* the edited copy of refs.json */
  json_t *items;       /* report: [{"Untagged": ...}, {"Deleted": ...}] */
  char **maybe_blobs;  /* blobs and layers of deleted images, deleted */
  char **maybe_layers; /* after the commit unless another image uses them */
  int64_t freed;
  in_use_fn in_use;
  void *opaque;
};

static void rm_free (struct rm *rm)
{
  json_decref (rm->db);
  json_decref (rm->items);
  cleanup_strvp (&rm->maybe_blobs);
  cleanup_strvp (&rm->maybe_layers);
}

static int rm_init (struct rm *rm, struct image_store *s, in_use_fn in_use, void *opaque, berth_err *err)
{
  memset (rm, 0, sizeof *rm);
  rm->s = s;
  rm->in_use = in_use;
  rm->opaque = opaque;
  rm->db = img_db_copy (s, err);
  rm->items = json_array ();
  if (rm->db == NULL || rm->items == NULL)
    return berth_fail (err, ENOMEM, "remove image");
  return 0;
}

static bool used (struct rm *rm, const char *id)
{
  return rm->in_use && rm->in_use (id, rm->opaque);
}

static void report (struct rm *rm, const char *what, const char *value)
{
  json_array_append_new (rm->items, json_pack ("{s:s}", what, value));
}

static void untag (struct rm *rm, const char *key)
{
  cleanup_free char *familiar = img_key_familiar (key);
  json_object_del (img_db_refs (rm->db), key);
  report (rm, "Untagged", familiar ? familiar : key);
}

static void untag_all (struct rm *rm, const char *id)
{
  cleanup_strv char **keys = img_refs_of (rm->db, id);
  for (size_t i = 0; keys && keys[i]; i++)
    untag (rm, keys[i]);
}

static int add_unique (char ***v, const char *s)
{
  return img_strv_contains (*v, s) ? 0 : img_strv_add (v, s);
}

/* The blobs (config, manifest, layer blobs) and layers of image ID. */
static int image_parts (struct image_store *s, const char *id, json_t *rec, char ***blobs, char ***layers)
{
  const char *manifest = berth_json_str (rec, "manifest");
  cleanup_json json_t *m = NULL;
  cleanup_json json_t *config = NULL;
  cleanup_strv char **diff_ids = NULL;
  int r = add_unique (blobs, id);
  if (r == 0 && manifest)
    r = add_unique (blobs, manifest);
  if (r < 0 || manifest == NULL || img_blob_read_json (s, manifest, &m, NULL) < 0)
    return -EIO;
  size_t i;
  json_t *d;
  json_array_foreach (berth_json_arr (m, "layers"), i, d)
    {
      const char *digest = berth_json_str (d, "digest");
      if (img_digest_valid (digest) && add_unique (blobs, digest) < 0)
        return -ENOMEM;
      /* (the compressed copy a push made belongs to the image too) */
      cleanup_free char *twin = img_digest_valid (digest) ? img_dist_gzip_twin (s, digest) : NULL;
      if (twin && add_unique (blobs, twin) < 0)
        return -ENOMEM;
    }
  if (img_blob_read_json (s, id, &config, NULL) < 0 || img_config_diff_ids (config, id, &diff_ids, NULL) < 0)
    return -EIO;
  for (i = 0; diff_ids[i]; i++)
    if (add_unique (layers, diff_ids[i]) < 0)
      return -ENOMEM;
  return 0;
}

/* Everything the images of DB use.  Fails if an image cannot be read:
 * then nobody can tell what is unused. */
static int used_parts (struct image_store *s, json_t *db, char ***blobs, char ***layers)
{
  const char *id;
  json_t *rec;
  json_object_foreach (img_db_images (db), id, rec)
    {
      int r = image_parts (s, id, rec, blobs, layers);
      if (r < 0)
        return r;
    }
  return 0;
}

static void delete_image (struct rm *rm, const char *id)
{
  json_t *rec = json_object_get (img_db_images (rm->db), id);
  untag_all (rm, id);
  (void) image_parts (rm->s, id, rec, &rm->maybe_blobs, &rm->maybe_layers);
  json_object_del (img_db_images (rm->db), id);
}

/* Gone for the user, kept for the container that uses it. */
static void hide_image (struct rm *rm, const char *id)
{
  untag_all (rm, id);
  json_object_set_new (json_object_get (img_db_images (rm->db), id), "hidden", json_true ());
}

static void remove_or_hide (struct rm *rm, const char *id)
{
  if (used (rm, id))
    hide_image (rm, id);
  else
    delete_image (rm, id);
  report (rm, "Deleted", id);
}

/* After the commit: delete the parts no remaining image uses. */
static void delete_unused (struct rm *rm)
{
  cleanup_strv char **blobs = NULL;
  cleanup_strv char **layers = NULL;
  if (used_parts (rm->s, rm->s->db, &blobs, &layers) < 0)
    return;
  for (size_t i = 0; rm->maybe_blobs && rm->maybe_blobs[i]; i++)
    if (!img_strv_contains (blobs, rm->maybe_blobs[i]))
      img_blob_delete (rm->s, rm->maybe_blobs[i], &rm->freed);
  for (size_t i = 0; rm->maybe_layers && rm->maybe_layers[i]; i++)
    if (!img_strv_contains (layers, rm->maybe_layers[i]))
      {
        img_layer_delete (rm->s, rm->maybe_layers[i], &rm->freed);
        report (rm, "Deleted", rm->maybe_layers[i]);
      }
}

static int rm_commit (struct rm *rm, berth_err *err)
{
  int r = img_db_commit (rm->s, take_ptr (rm->db), err);
  if (r == 0)
    delete_unused (rm);
  return r;
}

/* ---- image_remove ---- */

static bool is_id_prefix (const char *id, const char *s)
{
  size_t n = strlen (s);
  return strncmp (id, s, n) == 0 || strncmp (img_digest_hex (id), s, n) == 0;
}

static size_t count_keys (char **keys, const char *name, bool digests)
{
  size_t n = 0;
  for (size_t i = 0; keys && keys[i]; i++)
    {
      cleanup_free char *kn = img_key_name (keys[i]);
      if (img_key_is_digest (keys[i]) == digests && (name == NULL || (kn && strcmp (kn, name) == 0)))
        n++;
    }
  return n;
}

/* Docker's isSingleReference: at most one tag, and all the references
 * in one repository. */
static bool single_reference (char **keys)
{
  size_t n = img_strv_len (keys);
  if (n <= 1)
    return n == 1;
  const char *tag = NULL;
  for (size_t i = 0; keys[i]; i++)
    if (!img_key_is_digest (keys[i]))
      {
        if (tag)
          return false;
        tag = keys[i];
      }
  cleanup_free char *name = img_key_name (tag ? tag : keys[0]);
  return name && count_keys (keys, name, true) + (tag ? 1 : 0) == n;
}

static int conflict (const char *id, const char *why, berth_err *err)
{
  char short_id[13];
  img_short_id (id, short_id);
  return img_fail_plain (err, EBUSY, "conflict: unable to delete %s (must be forced) - %s", short_id, why);
}

/* Untagging the last tag of a repository also drops its digest refs. */
static void untag_repo_digests (struct rm *rm, const char *id, const char *key)
{
  cleanup_free char *name = img_key_name (key);
  cleanup_strv char **keys = img_refs_of (rm->db, id);
  if (name == NULL || img_key_is_digest (key) || count_keys (keys, name, false) > 0)
    return;
  for (size_t i = 0; keys && keys[i]; i++)
    {
      cleanup_free char *kn = img_key_name (keys[i]);
      if (img_key_is_digest (keys[i]) && kn && strcmp (kn, name) == 0)
        untag (rm, keys[i]);
    }
}

/* `docker rmi NAME`: untag; the image goes only with its last reference. */
static int remove_by_ref (struct rm *rm, const char *what, const char *id, bool force, bool *done, berth_err *err)
{
  cleanup_ref struct image_ref ref = { 0 };
  cleanup_strv char **keys = img_refs_of (rm->db, id);
  int r = image_ref_parse (what, &ref, err);
  cleanup_free char *key = r == 0 ? img_ref_key (&ref) : NULL;
  if (r < 0 || key == NULL)
    return r < 0 ? r : berth_fail (err, ENOMEM, "remove");
  if (!force && single_reference (keys) && used (rm, id))
    {
      char short_id[13];
      img_short_id (id, short_id);
      return img_fail_plain (err, EBUSY,
                             "conflict: unable to remove repository reference \"%s\" (must force) - a container is "
                             "using its referenced image %s",
                             what, short_id);
    }
  untag (rm, key);
  untag_repo_digests (rm, id, key);
  cleanup_strv char **left = img_refs_of (rm->db, id);
  *done = img_strv_len (left) > 0;
  return 0;
}

/* `docker rmi ID`: the references go too when they are a single one. */
static int remove_by_id (struct rm *rm, const char *id, bool force, berth_err *err)
{
  cleanup_strv char **keys = img_refs_of (rm->db, id);
  if (!single_reference (keys))
    return 0;
  if (!force && used (rm, id))
    return conflict (id, "image is being used by a container", err);
  untag_all (rm, id);
  return 0;
}

static int delete_checked (struct rm *rm, const char *id, bool force, berth_err *err)
{
  cleanup_strv char **keys = img_refs_of (rm->db, id);
  if (!force && img_strv_len (keys) > 0)
    return conflict (id, "image is referenced in multiple repositories", err);
  if (!force && used (rm, id))
    return conflict (id, "image is being used by a container", err);
  remove_or_hide (rm, id);
  return 0;
}

int image_remove (struct image_store *s, const char *name_or_id, bool force, in_use_fn in_use, void *opaque,
                  json_t **out, berth_err *err)
{
  char id[IMG_DIGEST_SIZE];
  struct rm rm;
  bool done = false;
  int r = img_resolve (s, name_or_id, id, err);
  if (r < 0)
    return r;
  r = rm_init (&rm, s, in_use, opaque, err);
  if (r == 0)
    r = is_id_prefix (id, name_or_id) ? remove_by_id (&rm, id, force, err)
                                       : remove_by_ref (&rm, name_or_id, id, force, &done, err);
  if (r == 0 && !done)
    r = delete_checked (&rm, id, force, err);
  if (r == 0)
    r = rm_commit (&rm, err);
  if (r == 0)
    *out = take_ptr (rm.items);
  rm_free (&rm);
  return r;
}

/* ---- image_prune ---- */

static bool has_tag (json_t *db, const char *id)
{
  cleanup_strv char **keys = img_refs_of (db, id);
  return count_keys (keys, NULL, false) > 0;
}

/* An image whose config cannot be read counts as old: prune may take it. */
static bool created_before (struct image_store *s, const char *id, int64_t until)
{
  struct image_info *info = NULL;
  if (img_info_load (s, id, &info, NULL) < 0)
    return true;
  bool before = info->created < until;
  image_info_free (info);
  return before;
}

static void prune_one (struct rm *rm, const char *id, bool all)
{
  json_t *rec = json_object_get (img_db_images (rm->db), id);
  if (used (rm, id))
    return;
  if (img_db_hidden (rec))
    {
      delete_image (rm, id); /* reported when it was removed */
      return;
    }
  if (!all && has_tag (rm->db, id))
    return;
  delete_image (rm, id);
  report (rm, "Deleted", id);
}

static bool digest_of_name (const char *name, char digest[IMG_DIGEST_SIZE])
{
  if (!img_hex_valid (name, IMG_HEX_LEN))
    return false;
  snprintf (digest, IMG_DIGEST_SIZE, "%s%.64s", IMG_DIGEST_PREFIX, name);
  return true;
}

/* Blobs and layers no image uses: what a crash between a commit and the
 * deletions (or in the middle of a load) left behind. */
static void sweep_orphans (struct rm *rm)
{
  cleanup_strv char **blobs = NULL;
  cleanup_strv char **layers = NULL;
  if (used_parts (rm->s, rm->s->db, &blobs, &layers) < 0)
    return;
  cleanup_dir DIR *d = opendir (rm->s->blobs);
  struct dirent *de;
  char digest[IMG_DIGEST_SIZE];
  while (d && (de = readdir (d)) != NULL)
    {
      if (digest_of_name (de->d_name, digest) && !img_strv_contains (blobs, digest))
        img_blob_delete (rm->s, digest, &rm->freed);
    }
  cleanup_dir DIR *l = opendir (rm->s->layers);
  while (l && (de = readdir (l)) != NULL)
    {
      if (digest_of_name (de->d_name, digest) && !img_strv_contains (layers, digest))
        img_layer_delete (rm->s, digest, &rm->freed);
    }
}

int image_prune (struct image_store *s, bool all, int64_t until, in_use_fn in_use, void *opaque, json_t **out,
                 berth_err *err)
{
  struct rm rm;
  cleanup_strv char **ids = NULL;
  const char *id;
  json_t *rec;
  int r = rm_init (&rm, s, in_use, opaque, err);
  json_object_foreach (img_db_images (s->db), id, rec)
    if (r == 0 && img_strv_add (&ids, id) < 0)
      r = berth_fail (err, ENOMEM, "prune");
  for (size_t i = 0; r == 0 && ids && ids[i]; i++)
    if (until == 0 || created_before (s, ids[i], until))
      prune_one (&rm, ids[i], all);
  if (r == 0)
    r = rm_commit (&rm, err);
  if (r == 0)
    sweep_orphans (&rm);
  if (r == 0)
    *out = json_pack ("{s:O,s:I}", "ImagesDeleted", rm.items, "SpaceReclaimed", (json_int_t) rm.freed);
  if (r == 0 && *out == NULL)
    r = berth_fail (err, ENOMEM, "prune");
  rm_free (&rm);
  return r;
}
