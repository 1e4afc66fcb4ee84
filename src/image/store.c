/* The store itself: its folders, refs.json (the one mutable file, which
 * names every image and every reference) and the temp area. */
#include "image/image-internal.h"
#include "common/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *join (const char *a, const char *b)
{
  char *p = NULL;
  if (asprintf (&p, "%s/%s", a, b) < 0)
    return NULL;
  return p;
}

char *img_path (const char *dir, const char *digest)
{
  return join (dir, img_digest_hex (digest));
}

char *img_blob_path (struct image_store *s, const char *digest)
{
  return img_path (s->blobs, digest);
}

int img_tmpdir (struct image_store *s, const char *what, char **out, berth_err *err)
{
  char *p = NULL;
  if (asprintf (&p, "%s/%s-XXXXXX", s->tmp, what) < 0)
    return berth_fail (err, ENOMEM, "temp folder");
  if (mkdtemp (p) == NULL)
    {
      int e = errno;
      free (p);
      return berth_fail (err, e, "create a temp folder in `%s`", s->tmp);
    }
  *out = p;
  return 0;
}

/* Whatever is in tmp/ belongs to an operation that a crash interrupted:
 * nothing else points into it, so it can all go. */
static void clean_tmp (const char *tmp)
{
  cleanup_dir DIR *d = opendir (tmp);
  struct dirent *de;
  while (d && (de = readdir (d)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      cleanup_free char *p = join (tmp, de->d_name);
      if (p)
        berth_rm_rf (p);
    }
}

json_t *img_db_images (json_t *db)
{
  return json_object_get (db, "images");
}

json_t *img_db_refs (json_t *db)
{
  return json_object_get (db, "refs");
}

static json_t *db_new (void)
{
  return json_pack ("{s:{},s:{}}", "images", "refs");
}

/* refs.json must have the two objects and only well-formed ids in them;
 * anything else means it was edited or damaged, and we say so. */
static int db_validate (json_t *db, const char *path, berth_err *err)
{
  json_t *images = img_db_images (db), *refs = img_db_refs (db), *v;
  const char *k;
  if (!json_is_object (images) || !json_is_object (refs))
    return berth_fail (err, 0, "%s: expected {\"images\": {...}, \"refs\": {...}}", path);
  json_object_foreach (images, k, v)
    if (!img_digest_valid (k) || !json_is_object (v) || !img_digest_valid (berth_json_str (v, "manifest")))
      return berth_fail (err, 0, "%s: bad image record `%s`", path, k);
  json_object_foreach (refs, k, v)
    if (!json_is_string (v) || json_object_get (images, json_string_value (v)) == NULL)
      return berth_fail (err, 0, "%s: reference `%s` points to no image", path, k);
  return 0;
}

static int db_load (struct image_store *s, berth_err *err)
{
  if (access (s->refs_path, F_OK) < 0 && errno == ENOENT)
    {
      s->db = db_new ();
      return s->db ? 0 : berth_fail (err, ENOMEM, "refs.json");
    }
  json_t *db = berth_json_load_file (s->refs_path, err);
  if (db == NULL)
    return berth_error_ret (*err);
  int r = db_validate (db, s->refs_path, err);
  if (r < 0)
    {
      json_decref (db);
      return r;
    }
  s->db = db;
  return 0;
}

json_t *img_db_copy (struct image_store *s, berth_err *err)
{
  json_t *copy = json_deep_copy (s->db);
  if (copy == NULL)
    berth_fail (err, ENOMEM, "copy refs.json");
  return copy;
}

int img_db_commit (struct image_store *s, json_t *newdb, berth_err *err)
{
  /* A cached rebuild or a repeated tag leaves the db as it was: skip the
   * write and its two fsyncs, which were most of such a build's time. */
  if (json_equal (newdb, s->db))
    {
      json_decref (newdb);
      return 0;
    }
  int r = berth_json_write_file (s->refs_path, newdb, err);
  if (r < 0)
    {
      json_decref (newdb);
      return r;
    }
  json_decref (s->db);
  s->db = newdb;
  return 0;
}

json_t *img_db_image (json_t *db, const char *id, bool include_hidden)
{
  json_t *rec = json_object_get (img_db_images (db), id);
  if (rec == NULL || (!include_hidden && img_db_hidden (rec)))
    return NULL;
  return rec;
}

bool img_db_hidden (json_t *rec)
{
  return berth_json_bool (rec, "hidden", false);
}

void img_db_add_image (json_t *db, const char *id, const char *manifest)
{
  json_object_set_new (img_db_images (db), id, json_pack ("{s:s}", "manifest", manifest));
}

static int make_dirs (struct image_store *s, berth_err *err)
{
  const char *dirs[] = { s->root, s->blobs, s->layers, s->tmp };
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
    {
      int r = berth_mkdir_p (dirs[i], 0711, err);
      if (r < 0)
        return r;
    }
  /* Half-written uploads may be readable by nobody but us. */
  if (chmod (s->tmp, 0700) < 0)
    return berth_fail_errno (err, "chmod `%s`", s->tmp);
  return 0;
}

int image_store_open (const char *root, struct image_store **out, berth_err *err)
{
  cleanup_store struct image_store *s = calloc (1, sizeof *s);
  if (s == NULL)
    return berth_fail (err, ENOMEM, "open image store");
  s->root = strdup (root);
  s->blobs = join (root, "blobs/sha256");
  s->layers = join (root, "layers/sha256");
  s->tmp = join (root, "tmp");
  s->refs_path = join (root, "refs.json");
  if (!s->root || !s->blobs || !s->layers || !s->tmp || !s->refs_path)
    return berth_fail (err, ENOMEM, "open image store");
  int r = make_dirs (s, err);
  if (r == 0)
    r = db_load (s, err);
  if (r < 0)
    return berth_error_prefix (err, "open image store `%s`", root);
  clean_tmp (s->tmp);
  *out = take_ptr (s);
  return 0;
}

int image_store_reload (struct image_store *s, berth_err *err)
{
  json_t *old = s->db;
  s->db = NULL;
  int r = db_load (s, err);
  if (r < 0)
    {
      s->db = old;
      return berth_error_prefix (err, "reload image store `%s`", s->root);
    }
  json_decref (old);
  return 0;
}

void image_store_close (struct image_store *s)
{
  if (s == NULL)
    return;
  free (s->root);
  free (s->blobs);
  free (s->layers);
  free (s->tmp);
  free (s->refs_path);
  json_decref (s->db);
  free (s);
}

/* The blob folder is flat; the unpacked layers know their own size. */
int image_store_usage (struct image_store *s, int64_t *bytes, berth_err *err)
{
  cleanup_dir DIR *d = opendir (s->blobs);
  if (d == NULL)
    return berth_fail_errno (err, "open `%s`", s->blobs);
  int64_t total = 0;
  struct dirent *de;
  struct stat st;
  while ((de = readdir (d)) != NULL)
    if (de->d_name[0] != '.' && fstatat (dirfd (d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
      total += st.st_size;
  cleanup_dir DIR *l = opendir (s->layers);
  while (l && (de = readdir (l)) != NULL)
    if (img_hex_valid (de->d_name, IMG_HEX_LEN))
      total += img_layer_size (s, de->d_name);
  *bytes = total;
  return 0;
}
