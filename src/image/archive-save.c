/* `docker save`: a docker-archive (manifest.json, blobs named by digest)
 * that is at the same time an OCI image layout (oci-layout, index.json),
 * the way Docker >= 25 writes it, so both `docker load` (any version) and
 * OCI tools read it.  Blobs are written as stored, so the manifests and
 * their digests stay the same through save and load. */
#include "image/image-internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct save_image
{
  char id[IMG_DIGEST_SIZE];
  char manifest_digest[IMG_DIGEST_SIZE];
  json_t *manifest;
  char **tags; /* refs.json keys */
};

struct save
{
  struct image_store *s;
  struct save_image *v;
  size_t n;
  struct archive *a;
  char **written; /* blobs already in the archive */
  int fd;
};

static void save_free (struct save *sv)
{
  for (size_t i = 0; i < sv->n; i++)
    {
      json_decref (sv->v[i].manifest);
      cleanup_strvp (&sv->v[i].tags);
    }
  free (sv->v);
  cleanup_strvp (&sv->written);
  if (sv->a)
    archive_write_free (sv->a);
}

static struct save_image *find_or_add (struct save *sv, const char *id, berth_err *err)
{
  for (size_t i = 0; i < sv->n; i++)
    if (strcmp (sv->v[i].id, id) == 0)
      return &sv->v[i];
  struct save_image *v = realloc (sv->v, (sv->n + 1) * sizeof *v);
  if (v == NULL)
    {
      berth_fail (err, ENOMEM, "save");
      return NULL;
    }
  sv->v = v;
  struct save_image *img = &v[sv->n++];
  memset (img, 0, sizeof *img);
  snprintf (img->id, sizeof img->id, "%s", id);
  if (img_manifest_of (sv->s, id, &img->manifest, img->manifest_digest, err) < 0)
    {
      sv->n--;
      return NULL;
    }
  return img;
}

static int add (struct save *sv, const char *id, const char *key, berth_err *err)
{
  struct save_image *img = find_or_add (sv, id, err);
  if (img == NULL)
    return berth_error_ret (*err);
  if (key && !img_key_is_digest (key) && !img_strv_contains (img->tags, key) && img_strv_add (&img->tags, key) < 0)
    return berth_fail (err, ENOMEM, "save");
  return 0;
}

/* A bare repository name saves all its tags, as in Docker. */
static int add_repository (struct save *sv, const char *name, bool *found, berth_err *err)
{
  const char *key;
  json_t *id;
  size_t n = strlen (name);
  json_object_foreach (img_db_refs (sv->s->db), key, id)
    if (strncmp (key, name, n) == 0 && key[n] == ':')
      {
        *found = true;
        int r = add (sv, json_string_value (id), key, err);
        if (r < 0)
          return r;
      }
  return 0;
}

static int add_name (struct save *sv, const char *name, berth_err *err)
{
  cleanup_ref struct image_ref ref = { 0 };
  bool explicit_tag = false, found = false;
  char id[IMG_DIGEST_SIZE];
  bool parsed = img_ref_parse (name, &ref, &explicit_tag, NULL) == 0;
  if (parsed && !explicit_tag)
    {
      int r = add_repository (sv, ref.name, &found, err);
      if (r < 0 || found)
        return r;
    }
  int r = img_resolve (sv->s, name, id, err);
  if (r < 0)
    return r;
  cleanup_free char *key = parsed && explicit_tag ? img_ref_key (&ref) : NULL;
  const char *target = key ? berth_json_str (img_db_refs (sv->s->db), key) : NULL;
  return add (sv, id, target && strcmp (target, id) == 0 ? key : NULL, err);
}

/* ---- writing ---- */

/* send() with MSG_NOSIGNAL when FD is a socket (the API connection): a
 * client that goes away must not kill the daemon with SIGPIPE. */
static la_ssize_t write_cb (struct archive *a, void *opaque, const void *buf, size_t len)
{
  int fd = *(int *) opaque;
  for (;;)
    {
      ssize_t w = send (fd, buf, len, MSG_NOSIGNAL);
      if (w < 0 && errno == ENOTSOCK)
        w = write (fd, buf, len);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        archive_set_error (a, errno, "write: %s", strerror (errno));
      return w;
    }
}

static int open_writer (struct save *sv, berth_err *err)
{
  sv->a = archive_write_new ();
  if (sv->a == NULL)
    return berth_fail (err, ENOMEM, "save");
  archive_write_set_format_pax_restricted (sv->a);
  archive_write_add_filter_none (sv->a);
  archive_write_set_bytes_in_last_block (sv->a, 1);
  if (archive_write_open (sv->a, &sv->fd, NULL, write_cb, NULL) != ARCHIVE_OK)
    return berth_fail (err, 0, "save: %s", img_archive_error (sv->a));
  return 0;
}

static struct archive_entry *new_entry (const char *path, mode_t type, mode_t perm, int64_t size)
{
  struct archive_entry *e = archive_entry_new ();
  if (e == NULL)
    return NULL;
  archive_entry_set_pathname (e, path);
  archive_entry_set_filetype (e, type);
  archive_entry_set_perm (e, perm);
  archive_entry_set_size (e, size);
  archive_entry_set_mtime (e, 0, 0);
  return e;
}

static int write_header (struct save *sv, const char *path, mode_t type, mode_t perm, int64_t size, berth_err *err)
{
  struct archive_entry *e = new_entry (path, type, perm, size);
  if (e == NULL)
    return berth_fail (err, ENOMEM, "save");
  int r = archive_write_header (sv->a, e);
  archive_entry_free (e);
  if (r < ARCHIVE_WARN)
    return berth_fail (err, 0, "save %s: %s", path, img_archive_error (sv->a));
  return 0;
}

static int write_data (struct save *sv, const char *path, const void *buf, size_t len, berth_err *err)
{
  if (len > 0 && archive_write_data (sv->a, buf, len) != (la_ssize_t) len)
    return berth_fail (err, 0, "save %s: %s", path, img_archive_error (sv->a));
  return 0;
}

static int write_json (struct save *sv, const char *path, json_t *j, berth_err *err)
{
  cleanup_free char *text = j ? json_dumps (j, JSON_COMPACT) : NULL;
  if (text == NULL)
    return berth_fail (err, ENOMEM, "save %s", path);
  int r = write_header (sv, path, AE_IFREG, 0644, (int64_t) strlen (text), err);
  return r < 0 ? r : write_data (sv, path, text, strlen (text), err);
}

static int copy_file (struct save *sv, int fd, const char *path, int64_t size, berth_err *err)
{
  char buf[128 * 1024];
  int64_t left = size;
  while (left > 0)
    {
      ssize_t n = read (fd, buf, left < (int64_t) sizeof buf ? (size_t) left : sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return berth_fail (err, n < 0 ? errno : EIO, "save: read %s", path);
      int r = write_data (sv, path, buf, (size_t) n, err);
      if (r < 0)
        return r;
      left -= n;
    }
  return 0;
}

static int write_blob (struct save *sv, const char *digest, berth_err *err)
{
  char path[IMG_DIGEST_SIZE + 16];
  struct stat st;
  if (img_strv_contains (sv->written, digest))
    return 0;
  cleanup_free char *file = img_blob_path (sv->s, digest);
  cleanup_close int fd = file ? open (file, O_RDONLY | O_CLOEXEC) : -1;
  if (fd < 0 || fstat (fd, &st) < 0)
    return berth_fail_errno (err, "save: blob %s", digest);
  snprintf (path, sizeof path, "blobs/sha256/%s", img_digest_hex (digest));
  int r = write_header (sv, path, AE_IFREG, 0644, st.st_size, err);
  if (r == 0)
    r = copy_file (sv, fd, path, st.st_size, err);
  if (r == 0 && img_strv_add (&sv->written, digest) < 0)
    r = berth_fail (err, ENOMEM, "save");
  return r;
}

static int write_image_blobs (struct save *sv, struct save_image *img, berth_err *err)
{
  size_t i;
  json_t *d;
  int r = write_blob (sv, img->id, err);
  json_array_foreach (berth_json_arr (img->manifest, "layers"), i, d)
    if (r == 0)
      r = write_blob (sv, berth_json_str (d, "digest"), err);
  return r == 0 ? write_blob (sv, img->manifest_digest, err) : r;
}

static json_t *blob_paths (json_t *manifest)
{
  json_t *a = json_array ();
  size_t i;
  json_t *d;
  json_array_foreach (berth_json_arr (manifest, "layers"), i, d)
    {
      char path[IMG_DIGEST_SIZE + 16];
      snprintf (path, sizeof path, "blobs/sha256/%s", img_digest_hex (berth_json_str (d, "digest")));
      json_array_append_new (a, json_string (path));
    }
  return a;
}

static json_t *familiar_tags (char **tags)
{
  if (tags == NULL)
    return json_null ();
  json_t *a = json_array ();
  for (size_t i = 0; tags[i]; i++)
    {
      cleanup_free char *f = img_key_familiar (tags[i]);
      json_array_append_new (a, json_string (f ? f : tags[i]));
    }
  return a;
}

static json_t *docker_manifest (struct save *sv)
{
  json_t *m = json_array ();
  for (size_t i = 0; m && i < sv->n; i++)
    {
      char config[IMG_DIGEST_SIZE + 16];
      snprintf (config, sizeof config, "blobs/sha256/%s", img_digest_hex (sv->v[i].id));
      json_array_append_new (m, json_pack ("{s:s,s:o,s:o}", "Config", config, "RepoTags",
                                           familiar_tags (sv->v[i].tags), "Layers", blob_paths (sv->v[i].manifest)));
    }
  return m;
}

static json_t *index_entry (struct save_image *img, const char *key, int64_t size)
{
  const char *mt = berth_json_str (img->manifest, "mediaType");
  json_t *d = img_descriptor (mt ? mt : IMG_MT_OCI_MANIFEST, img->manifest_digest, size);
  if (d == NULL || key == NULL)
    return d;
  cleanup_free char *name = img_key_name (key);
  json_object_set_new (d, "annotations", json_pack ("{s:s,s:s}", IMG_ANNOTATION_NAME, key, IMG_ANNOTATION_REF,
                                                    key + strlen (name ? name : "") + 1));
  return d;
}

/* One entry per tag (the name in the annotations), one for an image saved
 * without a tag. */
static json_t *oci_index (struct save *sv)
{
  json_t *manifests = json_array ();
  for (size_t i = 0; manifests && i < sv->n; i++)
    {
      struct save_image *img = &sv->v[i];
      int64_t size = img_blob_size (sv->s, img->manifest_digest);
      if (img->tags == NULL)
        json_array_append_new (manifests, index_entry (img, NULL, size));
      for (size_t t = 0; img->tags && img->tags[t]; t++)
        json_array_append_new (manifests, index_entry (img, img->tags[t], size));
    }
  return json_pack ("{s:i,s:s,s:o}", "schemaVersion", 2, "mediaType", IMG_MT_OCI_INDEX, "manifests", manifests);
}

/* The legacy "repositories" file: {"busybox": {"latest": <top layer>}}. */
static json_t *repositories (struct save *sv)
{
  json_t *repos = json_object ();
  for (size_t i = 0; repos && i < sv->n; i++)
    {
      json_t *layers = berth_json_arr (sv->v[i].manifest, "layers");
      const char *top = berth_json_str (json_array_get (layers, json_array_size (layers) - 1), "digest");
      for (size_t t = 0; top && sv->v[i].tags && sv->v[i].tags[t]; t++)
        {
          const char *key = sv->v[i].tags[t];
          cleanup_free char *name = img_key_name (key);
          cleanup_free char *familiar = name ? img_key_familiar (name) : NULL;
          if (familiar == NULL)
            continue;
          if (json_object_get (repos, familiar) == NULL)
            json_object_set_new (repos, familiar, json_object ());
          json_object_set_new (json_object_get (repos, familiar), key + strlen (name) + 1,
                               json_string (img_digest_hex (top)));
        }
    }
  return repos;
}

static int write_archive (struct save *sv, berth_err *err)
{
  int r = open_writer (sv, err);
  if (r == 0)
    r = write_header (sv, "blobs/", AE_IFDIR, 0755, 0, err);
  if (r == 0)
    r = write_header (sv, "blobs/sha256/", AE_IFDIR, 0755, 0, err);
  for (size_t i = 0; r == 0 && i < sv->n; i++)
    r = write_image_blobs (sv, &sv->v[i], err);
  cleanup_json json_t *layout = json_pack ("{s:s}", "imageLayoutVersion", "1.0.0");
  cleanup_json json_t *index = oci_index (sv);
  cleanup_json json_t *manifest = docker_manifest (sv);
  cleanup_json json_t *repos = repositories (sv);
  if (r == 0)
    r = write_json (sv, "oci-layout", layout, err);
  if (r == 0)
    r = write_json (sv, "index.json", index, err);
  if (r == 0)
    r = write_json (sv, "manifest.json", manifest, err);
  if (r == 0 && json_object_size (repos) > 0)
    r = write_json (sv, "repositories", repos, err);
  if (r == 0 && archive_write_close (sv->a) != ARCHIVE_OK)
    r = berth_fail (err, 0, "save: %s", img_archive_error (sv->a));
  return r;
}

int image_save (struct image_store *s, const char *const *names, int fd, berth_err *err)
{
  struct save sv = { .s = s, .fd = fd };
  int r = 0;
  if (names == NULL || names[0] == NULL)
    return berth_fail (err, 0, "save: no image named");
  for (size_t i = 0; r == 0 && names[i]; i++)
    r = add_name (&sv, names[i], err);
  if (r == 0)
    r = write_archive (&sv, err);
  save_free (&sv);
  return r;
}
