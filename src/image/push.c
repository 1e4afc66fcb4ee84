/* `docker push`: for each tag of the repository, every layer blob is made
 * available on the registry (already there: HEAD; in another repository of
 * the same registry that it came from or went to: a cross-repository
 * mount; else a monolithic upload), then the config, then the manifest.
 *
 * Layers go out compressed.  A layer stored uncompressed (docker import,
 * docker load of plain tars) is gzip-compressed once into a blob of its own
 * and the pair remembered in ROOT/distribution/gzip/<plain hex>, so that
 * the next push sends the same bytes, the same digest and the same manifest.
 * The manifest of an image whose blobs are all compressed is pushed as
 * stored, byte for byte (a pulled image keeps its digest). */
#include "image/dist-internal.h"
#include "common/fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_MS 100

struct push_ctx
{
  struct image_store *s;
  struct dist_client *c;
  struct dist_progress p;
  const char *familiar; /* the repository as the user named it */
};

/* ---- compression of plain layers ---- */

static char *gzip_map_path (struct image_store *s, const char *plain)
{
  char *p = NULL;
  if (asprintf (&p, "%s/distribution/gzip/%s", s->root, img_digest_hex (plain)) < 0)
    return NULL;
  return p;
}

static la_ssize_t writer_cb (struct archive *a, void *opaque, const void *buf, size_t len)
{
  (void) a;
  return img_blob_writer_write (opaque, buf, len, NULL) < 0 ? -1 : (la_ssize_t) len;
}

/* gzip FILE into a new blob of the store; *digest and *size of it. */
static int compress_blob (struct image_store *s, const char *file, char digest[IMG_DIGEST_SIZE], berth_err *err)
{
  struct img_blob_writer w;
  cleanup_file FILE *in = fopen (file, "re");
  if (in == NULL)
    return berth_fail_errno (err, "open `%s`", file);
  int r = img_blob_writer_open (s->tmp, &w, err);
  if (r < 0)
    return r;
  struct archive *a = archive_write_new ();
  struct archive_entry *e = archive_entry_new ();
  struct stat st;
  fstat (fileno (in), &st);
  archive_write_add_filter_gzip (a);
  archive_write_set_format_raw (a);
  (void) archive_write_set_filter_option (a, "gzip", "timestamp", NULL);
  /* Fewer, larger writes; no time stamp in the gzip header (reproducible). */
  archive_write_set_bytes_per_block (a, 1 << 20);
  archive_write_set_bytes_in_last_block (a, 1);
  if (archive_write_open2 (a, &w, NULL, writer_cb, NULL, NULL) != ARCHIVE_OK)
    r = berth_fail (err, EIO, "compress layer: %s", archive_error_string (a));
  archive_entry_set_filetype (e, AE_IFREG);
  archive_entry_set_pathname (e, "layer");
  archive_entry_set_size (e, st.st_size);
  if (r == 0 && archive_write_header (a, e) != ARCHIVE_OK)
    r = berth_fail (err, EIO, "compress layer: %s", archive_error_string (a));
  char buf[1 << 16];
  size_t n;
  while (r == 0 && (n = fread (buf, 1, sizeof buf, in)) > 0)
    if (archive_write_data (a, buf, n) != (la_ssize_t) n)
      r = berth_fail (err, EIO, "compress layer: %s", archive_error_string (a));
  if (archive_write_close (a) != ARCHIVE_OK && r == 0)
    r = berth_fail (err, EIO, "compress layer: %s", archive_error_string (a));
  archive_entry_free (e);
  archive_write_free (a);
  bool fresh;
  if (r == 0)
    r = img_blob_writer_finish (&w, "compressed layer", NULL, err);
  if (r == 0)
    r = img_blob_commit (s, w.path, w.digest, &fresh, err);
  if (r == 0)
    memcpy (digest, w.digest, IMG_DIGEST_SIZE);
  img_blob_writer_cleanup (&w);
  return r;
}

static bool compressed_type (const char *mt)
{
  return mt && (strstr (mt, "gzip") || strstr (mt, "zstd"));
}

/* The descriptor to push for layer DESC: itself when compressed, else its
 * (remembered or new) gzip twin. */
static int push_descriptor (struct image_store *s, json_t *desc, bool docker, json_t **out, berth_err *err)
{
  const char *digest = berth_json_str (desc, "digest");
  cleanup_free char *file = img_blob_path (s, digest);
  if (file == NULL || !img_blob_exists (s, digest))
    return berth_fail (err, ENOENT, "layer blob %s is missing from the store", digest);
  const char *sniffed = img_layer_media_type (file);
  if (compressed_type (sniffed))
    {
      *out = json_deep_copy (desc);
      return 0;
    }
  cleanup_free char *map = gzip_map_path (s, digest);
  cleanup_free char *known = img_dist_gzip_twin (s, digest);
  char gz[IMG_DIGEST_SIZE] = "";
  if (known && img_blob_exists (s, known))
    snprintf (gz, sizeof gz, "%s", known);
  else
    {
      int r = compress_blob (s, file, gz, err);
      cleanup_free char *dir = NULL;
      if (r < 0)
        return r;
      if (asprintf (&dir, "%s/distribution/gzip", s->root) >= 0 && berth_mkdir_p (dir, 0700, NULL) == 0 && map)
        (void) berth_write_file_atomic (map, gz, strlen (gz), 0600, NULL);
    }
  *out = img_descriptor (docker ? DIST_MT_DOCKER_LAYER_GZIP : DIST_MT_OCI_LAYER_GZIP, gz, img_blob_size (s, gz));
  return 0;
}

/* ---- blobs ---- */

static int blob_exists (struct push_ctx *x, const char *digest, bool *exists, berth_err *err)
{
  cleanup_free char *what = NULL;
  cleanup_free char *url = asprintf (&what, "blobs/%s", digest) < 0 ? NULL : dist_url (x->c, what);
  struct dist_response r;
  if (url == NULL)
    return berth_fail (err, ENOMEM, "push");
  int ret = dist_request (x->c, "HEAD", url, NULL, NULL, 0, DIST_SMALL_MAX, &r, err);
  if (ret == 0 && r.status != 200 && r.status != 404)
    ret = dist_fail_response (&r, digest, err);
  *exists = r.status == 200;
  dist_response_free (&r);
  return ret;
}

/* The absolute upload URL of LOCATION with "digest=" added. */
static char *upload_url (struct dist_client *c, const char *location, const char *digest)
{
  char *u = NULL;
  const char *sep = strchr (location, '?') ? "&" : "?";
  int r;
  if (strncmp (location, "http://", 7) == 0 || strncmp (location, "https://", 8) == 0)
    r = asprintf (&u, "%s%sdigest=%s", location, sep, digest);
  else
    {
      /* base is "scheme://host/v2/": keep "scheme://host". */
      size_t host_end = strlen (c->base) - strlen ("/v2/");
      r = asprintf (&u, "%.*s%s%sdigest=%s", (int) host_end, c->base, location, sep, digest);
    }
  return r < 0 ? NULL : u;
}

struct upload
{
  struct push_ctx *x;
  const char *id;
  int64_t size;
  int64_t last_ms;
};

static int upload_progress (void *opaque, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
  struct upload *u = opaque;
  struct timespec ts;
  (void) dltotal, (void) dlnow, (void) ultotal;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  int64_t t = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  if (u->id && ulnow > 0 && t - u->last_ms >= PROGRESS_MS)
    {
      u->last_ms = t;
      dist_progress_bytes (&u->x->p, u->id, "Pushing", (int64_t) ulnow, u->size);
    }
  return 0;
}

/* PUT the blob FILE to the upload session at LOCATION. */
static int put_blob (struct push_ctx *x, const char *location, const char *digest, const char *id, berth_err *err)
{
  cleanup_free char *file = img_blob_path (x->s, digest);
  cleanup_free char *url = file ? upload_url (x->c, location, digest) : NULL;
  cleanup_file FILE *in = file ? fopen (file, "re") : NULL;
  if (url == NULL || in == NULL)
    return berth_fail (err, in ? ENOMEM : errno, "upload %s", digest);
  const char *headers[] = { "Content-Type: application/octet-stream", NULL };
  struct curl_slist *list = NULL;
  struct dist_response r = { 0 };
  struct upload u = { .x = x, .id = id, .size = img_blob_size (x->s, digest) };
  CURL *h = dist_easy (x->c, url, headers, &list, err);
  if (h == NULL)
    return -ENOMEM;
  dist_capture_headers (h, &r);
  curl_easy_setopt (h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt (h, CURLOPT_READDATA, in);
  curl_easy_setopt (h, CURLOPT_INFILESIZE_LARGE, (curl_off_t) u.size);
  curl_easy_setopt (h, CURLOPT_XFERINFOFUNCTION, upload_progress);
  curl_easy_setopt (h, CURLOPT_XFERINFODATA, &u);
  curl_easy_setopt (h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt (h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
  FILE *sink = open_memstream (&r.body, &r.len);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, sink);
  CURLcode rc = curl_easy_perform (h);
  curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &r.status);
  curl_easy_cleanup (h);
  curl_slist_free_all (list);
  if (sink)
    fclose (sink);
  int ret = 0;
  if (rc != CURLE_OK)
    ret = berth_fail_as (err, EIO, "upload %s: %s", digest, curl_easy_strerror (rc));
  else if (r.status != 201)
    ret = dist_fail_response (&r, digest, err);
  dist_response_free (&r);
  return ret;
}

/* Make DIGEST available in the repository; ID (may be NULL: the config)
 * gets the progress messages. */
static int push_blob (struct push_ctx *x, const char *digest, const char *id, berth_err *err)
{
  bool exists = false;
  int r = blob_exists (x, digest, &exists, err);
  if (r < 0)
    return r;
  if (exists)
    {
      if (id)
        dist_progress_status (&x->p, id, "Layer already exists");
      dist_source_add (x->s, digest, x->c->host, x->c->repo);
      return 0;
    }
  cleanup_free char *from = dist_source_find (x->s, digest, x->c->host, x->c->repo);
  cleanup_free char *what = NULL;
  if (from)
    {
      cleanup_free char *scope = NULL;
      if (asprintf (&scope, "repository:%s:pull", from) < 0)
        return berth_fail (err, ENOMEM, "push");
      if (!strstr (x->c->scope, scope) && strncmp (x->c->authz ? x->c->authz : "", "Authorization: Bearer", 21) == 0)
        {
          /* The token must cover the source repository too: ask again. */
          free (x->c->authz);
          x->c->authz = NULL;
        }
      if (dist_client_add_scope (x->c, scope, err) < 0)
        return -ENOMEM;
    }
  char *e_digest = curl_easy_escape (NULL, digest, 0), *e_from = from ? curl_easy_escape (NULL, from, 0) : NULL;
  int n = from ? asprintf (&what, "blobs/uploads/?mount=%s&from=%s", e_digest, e_from) : asprintf (&what, "blobs/uploads/");
  curl_free (e_digest);
  curl_free (e_from);
  cleanup_free char *url = n < 0 ? NULL : dist_url (x->c, what);
  struct dist_response resp;
  if (url == NULL)
    return berth_fail (err, ENOMEM, "push");
  r = dist_request (x->c, "POST", url, NULL, NULL, 0, DIST_SMALL_MAX, &resp, err);
  if (r == 0 && resp.status == 201 && from)
    {
      if (id)
        {
          cleanup_free char *status = NULL;
          if (asprintf (&status, "Mounted from %s", from) >= 0)
            dist_progress_status (&x->p, id, status);
        }
    }
  else if (r == 0 && resp.status == 202 && resp.location)
    {
      r = put_blob (x, resp.location, digest, id, err);
      if (r == 0 && id)
        dist_progress_status (&x->p, id, "Pushed");
    }
  else if (r == 0)
    r = dist_fail_response (&resp, "start an upload", err);
  if (r == 0)
    dist_source_add (x->s, digest, x->c->host, x->c->repo);
  dist_response_free (&resp);
  return r;
}

/* ---- one tag ---- */

static int put_manifest (struct push_ctx *x, const char *tag, const char *raw, size_t len, const char *mt,
                         berth_err *err)
{
  cleanup_free char *what = NULL;
  cleanup_free char *ctype = NULL;
  cleanup_free char *url = asprintf (&what, "manifests/%s", tag) < 0 ? NULL : dist_url (x->c, what);
  struct dist_response r;
  if (url == NULL || asprintf (&ctype, "Content-Type: %s", mt) < 0)
    return berth_fail (err, ENOMEM, "push");
  const char *headers[] = { ctype, NULL };
  int ret = dist_request (x->c, "PUT", url, headers, raw, len, DIST_SMALL_MAX, &r, err);
  if (ret == 0 && r.status != 201)
    ret = dist_fail_response (&r, "push the manifest", err);
  dist_response_free (&r);
  return ret;
}

static int push_tag (struct push_ctx *x, const char *name, const char *tag, berth_err *err)
{
  cleanup_free char *key = NULL;
  char id[IMG_DIGEST_SIZE], mdigest[IMG_DIGEST_SIZE];
  cleanup_json json_t *manifest = NULL;
  cleanup_json json_t *config = NULL;
  cleanup_strv char **diff_ids = NULL;
  if (asprintf (&key, "%s:%s", name, tag) < 0)
    return berth_fail (err, ENOMEM, "push");
  int r = img_resolve (x->s, key, id, err);
  if (r == 0)
    r = img_manifest_of (x->s, id, &manifest, mdigest, err);
  if (r == 0)
    r = img_blob_read_json (x->s, id, &config, err);
  if (r == 0)
    r = img_config_diff_ids (config, "image config", &diff_ids, err);
  json_t *layers = berth_json_arr (manifest, "layers");
  if (r == 0 && json_array_size (layers) != img_strv_len (diff_ids))
    r = berth_fail (err, EINVAL, "image %s: its manifest and config disagree on the layers", id);
  if (r < 0)
    return r;
  const char *mt = berth_json_str (manifest, "mediaType");
  bool docker = mt && strcmp (mt, IMG_MT_DOCKER_MANIFEST) == 0;
  size_t n = json_array_size (layers);
  cleanup_json json_t *out_layers = json_array ();
  char short_ids[n ? n : 1][13];
  for (size_t i = 0; i < n; i++)
    {
      img_short_id (diff_ids[i], short_ids[i]);
      dist_progress_status (&x->p, short_ids[i], "Preparing");
    }
  bool changed = false;
  for (size_t i = 0; r == 0 && i < n; i++)
    {
      json_t *desc = NULL;
      r = push_descriptor (x->s, json_array_get (layers, i), docker, &desc, err);
      if (r == 0)
        {
          changed |= strcmp (berth_json_str (desc, "digest"), berth_json_str (json_array_get (layers, i), "digest")) != 0;
          json_array_append_new (out_layers, desc);
          r = push_blob (x, berth_json_str (desc, "digest"), short_ids[i], err);
        }
    }
  if (r == 0)
    r = push_blob (x, id, NULL, err);
  if (r < 0)
    return r;
  cleanup_free char *raw = NULL;
  size_t len = 0;
  char digest[IMG_DIGEST_SIZE];
  if (changed)
    {
      json_object_set (manifest, "layers", out_layers);
      raw = json_dumps (manifest, JSON_COMPACT);
      len = raw ? strlen (raw) : 0;
      if (raw == NULL)
        return berth_fail (err, ENOMEM, "push");
      /* (not stored: the same image gives the same text again) */
      r = img_hash_buffer (raw, len, digest, err);
    }
  else
    {
      cleanup_free char *file = img_blob_path (x->s, mdigest);
      r = file ? berth_read_file (file, DIST_MANIFEST_MAX, &raw, &len, err) : berth_fail (err, ENOMEM, "push");
      memcpy (digest, mdigest, sizeof digest);
    }
  if (r == 0)
    r = put_manifest (x, tag, raw, len, mt ? mt : IMG_MT_OCI_MANIFEST, err);
  if (r < 0)
    return r;
  cleanup_free char *status = NULL;
  if (asprintf (&status, "%s: digest: %s size: %zu", tag, digest, len) >= 0)
    dist_progress_status (&x->p, NULL, status);
  dist_progress_json (&x->p, json_pack ("{s:{},s:{s:s,s:s,s:I}}", "progressDetail", "aux", "Tag", tag, "Digest",
                                        digest, "Size", (json_int_t) len));
  return 0;
}

/* Every tag of NAME in the store, sorted. */
static int tags_of (struct image_store *s, const char *name, char ***tags, berth_err *err)
{
  const char *key;
  json_t *v;
  size_t n = strlen (name);
  json_object_foreach (img_db_refs (s->db), key, v)
    if (strncmp (key, name, n) == 0 && key[n] == ':' && img_strv_add (tags, key + n + 1) < 0)
      return berth_fail (err, ENOMEM, "push");
  if (*tags == NULL)
    return img_fail_plain (err, ENOENT, "An image does not exist locally with the tag: %s", name);
  return 0;
}

int image_push (struct image_store *s, const char *name, const char *tag, const struct dist_options *o,
                berth_err *err)
{
  cleanup_ref struct image_ref ref = { 0 };
  bool explicit_tag = false;
  cleanup_free char *host = NULL;
  cleanup_free char *repo = NULL;
  cleanup_strv char **tags = NULL;
  struct dist_client c;
  struct push_ctx x = { .s = s, .c = &c, .familiar = name };
  signal (SIGPIPE, SIG_IGN);
  int r = img_ref_parse (name, &ref, &explicit_tag, err);
  if (r == 0 && (ref.digest || explicit_tag) && tag && *tag)
    r = berth_fail_as (err, EINVAL, "%s: give the tag either in the name or as tag=, not both", name);
  if (r == 0 && (explicit_tag || (tag && *tag)))
    r = img_strv_add (&tags, explicit_tag ? ref.tag : tag) < 0 ? berth_fail (err, ENOMEM, "push") : 0;
  else if (r == 0 && ref.digest)
    r = berth_fail_as (err, EINVAL, "%s: cannot push a digest reference", name);
  else if (r == 0)
    r = tags_of (s, ref.name, &tags, err);
  if (r == 0)
    r = dist_split_name (ref.name, &host, &repo, err);
  if (r == 0)
    r = dist_private_tmp (s, err);
  if (r < 0)
    return r;
  /* A tag that is not here fails before anything is sent. */
  for (size_t i = 0; tags[i]; i++)
    {
      char id[IMG_DIGEST_SIZE];
      cleanup_free char *key = NULL;
      if (asprintf (&key, "%s:%s", ref.name, tags[i]) < 0)
        return berth_fail (err, ENOMEM, "push");
      if (img_resolve (s, key, id, NULL) < 0)
        {
          struct image_ref t = { .name = ref.name, .tag = tags[i] };
          cleanup_free char *fam = image_ref_familiar (&t);
          return img_fail_plain (err, ENOENT, "An image does not exist locally with the tag: %s", fam ? fam : key);
        }
    }
  dist_progress_init (&x.p, o->progress_fd);
  r = dist_client_open (&c, host, repo, "pull,push", o, err);
  if (r < 0)
    return r;
  cleanup_free char *status = NULL;
  if (asprintf (&status, "The push refers to repository [%s]", ref.name) >= 0)
    dist_progress_status (&x.p, NULL, status);
  for (size_t i = 0; r == 0 && tags[i]; i++)
    r = push_tag (&x, ref.name, tags[i], err);
  dist_client_close (&c);
  pthread_mutex_destroy (&x.p.lock);
  return r;
}
