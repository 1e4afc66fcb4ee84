/* GET/HEAD/PUT/DELETE /v2/<name>/manifests/<tag or digest>.
 *
 * A manifest is stored like a blob (content-addressed, fsynced before it
 * is renamed into place), then linked into the repository as a revision
 * (whose file holds the media type it was pushed with), then tagged.  PUT
 * validates before anything is written: the JSON parses, the media type of
 * the body agrees with Content-Type, every config/layer blob is in the
 * repository and every child manifest of an index too. */
#include "registry/http.h"
#include "common/cleanup.h"
#include "common/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

static bool is_index_type (const char *mt)
{
  return strcmp (mt, MT_OCI_INDEX) == 0 || strcmp (mt, MT_DOCKER_LIST) == 0;
}

static bool is_manifest_type (const char *mt)
{
  return strcmp (mt, MT_OCI_MANIFEST) == 0 || strcmp (mt, MT_DOCKER_MANIFEST) == 0;
}

/* Tag or digest → digest (heap); NULL if unknown. */
static char *resolve (struct registry *reg, const char *name, const char *ref, char **media_type)
{
  cleanup_free char *digest = NULL;
  if (reg_digest_valid (ref))
    digest = strdup (ref);
  else if (reg_tag_valid (ref))
    {
      cleanup_free char *link = reg_repo_path (name, "_manifests/tags/%s/current/link", ref);
      digest = link ? reg_link_read (reg, link, REG_DIGEST_LEN + 1) : NULL;
    }
  if (digest == NULL || !reg_digest_valid (digest) || !reg_repo_has_manifest (reg, name, digest, media_type))
    return NULL;
  return take_ptr (digest);
}

void manifests_get (struct reg_req *req)
{
  cleanup_free char *mt = NULL;
  cleanup_free char *digest = resolve (req->reg, req->name, req->ref, &mt);
  if (digest == NULL)
    return reply_error (req, "MANIFEST_UNKNOWN", "%s:%s", req->name, req->ref);
  off_t size = 0;
  int fd = reg_blob_open (req->reg, digest, &size);
  if (fd < 0)
    return reply_error (req, "MANIFEST_UNKNOWN", "%s", digest);
  reply_fd (req, 200, mt[0] ? mt : MT_OCI_MANIFEST, fd, 0, size);
  reply_header (req, "Docker-Content-Digest", digest);
  reply_headerf (req, "ETag", "\"%s\"", digest);
}

/* ---- PUT ---- */

/* A descriptor's digest and size are well formed; *digest set. */
static bool descriptor_ok (json_t *d, const char **digest, json_int_t *size)
{
  if (!json_is_object (d))
    return false;
  *digest = berth_json_str (d, "digest");
  json_t *s = json_object_get (d, "size");
  if (!reg_digest_valid (*digest) || !json_is_integer (s) || json_integer_value (s) < 0)
    return false;
  *size = json_integer_value (s);
  return true;
}

/* Non-distributable ("foreign") layers live elsewhere (their urls). */
static bool is_foreign (json_t *d)
{
  const char *mt = berth_json_str (d, "mediaType");
  return mt && (strstr (mt, "nondistributable") || strstr (mt, "foreign")) && json_is_array (json_object_get (d, "urls"));
}

static bool check_blob (struct reg_req *req, json_t *d, const char *what)
{
  const char *digest;
  json_int_t size;
  if (!descriptor_ok (d, &digest, &size))
    {
      reply_error (req, "MANIFEST_INVALID", "%s: bad descriptor", what);
      return false;
    }
  if (is_foreign (d))
    return true;
  off_t have = 0;
  if (!reg_repo_has_blob (req->reg, req->name, digest) || !reg_blob_exists (req->reg, digest, &have))
    {
      reply_error (req, "MANIFEST_BLOB_UNKNOWN", "%s", digest);
      return false;
    }
  if (have != size)
    {
      reply_error (req, "MANIFEST_INVALID", "%s: size %lld, the blob has %lld", digest, (long long) size,
                   (long long) have);
      return false;
    }
  return true;
}

static bool check_image_manifest (struct reg_req *req, json_t *m)
{
  if (!check_blob (req, json_object_get (m, "config"), "config"))
    return false;
  json_t *layers = json_object_get (m, "layers");
  if (!json_is_array (layers))
    {
      reply_error (req, "MANIFEST_INVALID", "layers: expected an array");
      return false;
    }
  size_t i;
  json_t *l;
  json_array_foreach (layers, i, l)
    if (!check_blob (req, l, "layer"))
      return false;
  return true;
}

static bool check_index (struct reg_req *req, json_t *m)
{
  json_t *children = json_object_get (m, "manifests");
  if (!json_is_array (children))
    {
      reply_error (req, "MANIFEST_INVALID", "manifests: expected an array");
      return false;
    }
  size_t i;
  json_t *c;
  json_array_foreach (children, i, c)
    {
      const char *digest;
      json_int_t size;
      if (!descriptor_ok (c, &digest, &size))
        {
          reply_error (req, "MANIFEST_INVALID", "manifests[%zu]: bad descriptor", i);
          return false;
        }
      if (!reg_repo_has_manifest (req->reg, req->name, digest, NULL))
        {
          reply_error (req, "MANIFEST_BLOB_UNKNOWN", "%s", digest);
          return false;
        }
    }
  return true;
}

/* The media type: the body's mediaType, which Content-Type must agree with
 * when both are given; else Content-Type; else told by the fields. */
static const char *media_type_of (struct reg_req *req, json_t *m, char *ct_buf, size_t ct_size)
{
  const char *body_mt = berth_json_str (m, "mediaType");
  const char *ct = req_header (req, "Content-Type");
  if (ct)
    {
      size_t n = strcspn (ct, "; ");
      snprintf (ct_buf, ct_size, "%.*s", (int) n, ct);
      ct = ct_buf;
      if (!is_index_type (ct) && !is_manifest_type (ct))
        ct = NULL; /* generic types (application/json...) say nothing */
    }
  if (json_object_get (m, "mediaType") && body_mt == NULL)
    return NULL;
  if (body_mt)
    return ct == NULL || strcmp (ct, body_mt) == 0 ? body_mt : NULL;
  if (ct)
    return ct;
  if (json_object_get (m, "manifests"))
    return MT_OCI_INDEX;
  return MT_OCI_MANIFEST;
}

static int store_manifest (struct reg_req *req, const char *digest, const char *mt, json_t *m, berth_err *err)
{
  struct registry *reg = req->reg;
  int r = reg_blob_put_buffer (reg, digest, req->buf, req->buf_len, err);
  if (r < 0)
    return r;
  json_t *subject = json_object_get (m, "subject");
  const char *sd = json_is_object (subject) ? berth_json_str (subject, "digest") : NULL;
  if (sd && reg_digest_valid (sd))
    {
      r = referrers_add (reg, req->name, sd, digest, m, mt, req->buf_len, err);
      if (r < 0)
        return r;
    }
  cleanup_free char *rev = reg_repo_path (req->name, "_manifests/revisions/sha256/%s", digest + 7);
  if (rev == NULL)
    return berth_fail (err, ENOMEM, "out of memory");
  r = reg_link_write (reg, rev, mt, false, err);
  if (r < 0 || reg_digest_valid (req->ref))
    return r;
  cleanup_free char *tag = reg_repo_path (req->name, "_manifests/tags/%s/current/link", req->ref);
  if (tag == NULL)
    return berth_fail (err, ENOMEM, "out of memory");
  return reg_link_write (reg, tag, digest, false, err);
}

static void put_finish (struct reg_req *req)
{
  if (req->too_large)
    return reply_error_status (req, 413, "MANIFEST_INVALID", "manifest larger than 4 MiB");
  char digest[REG_DIGEST_LEN + 1];
  if (reg_hash_buffer (req->buf ? req->buf : "", req->buf_len, digest) < 0)
    return reply_error_status (req, 500, "UNKNOWN", "out of memory");
  if (reg_digest_valid (req->ref) && strcmp (req->ref, digest) != 0)
    return reply_error (req, "DIGEST_INVALID", "the manifest's digest is %s", digest);
  json_error_t jerr;
  cleanup_json json_t *m = req->buf ? json_loadb (req->buf, req->buf_len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
  if (!json_is_object (m))
    return reply_error (req, "MANIFEST_INVALID", "not a JSON object");
  json_t *sv = json_object_get (m, "schemaVersion");
  if (!json_is_integer (sv) || json_integer_value (sv) != 2)
    return reply_error (req, "MANIFEST_INVALID", "schemaVersion must be 2");
  char ct[256];
  const char *mt = media_type_of (req, m, ct, sizeof ct);
  if (mt == NULL)
    return reply_error (req, "MANIFEST_INVALID", "mediaType does not match Content-Type");
  bool ok;
  if (is_index_type (mt))
    ok = check_index (req, m);
  else if (is_manifest_type (mt))
    ok = check_image_manifest (req, m);
  else
    return reply_error (req, "MANIFEST_INVALID", "unsupported manifest media type %s", mt);
  if (!ok)
    return;
  json_t *subject = json_object_get (m, "subject");
  const char *sd = NULL;
  json_int_t ssize;
  if (subject && !descriptor_ok (subject, &sd, &ssize))
    return reply_error (req, "MANIFEST_INVALID", "subject: bad descriptor");
  berth_err err = NULL;
  cleanup_free char *mt_copy = strdup (mt);
  if (mt_copy == NULL || store_manifest (req, digest, mt_copy, m, &err) < 0)
    return reply_internal (req, &err);
  reply_empty (req, 201);
  reply_headerf (req, "Location", "/v2/%s/manifests/%s", req->name, digest);
  reply_header (req, "Docker-Content-Digest", digest);
  if (sd)
    reply_header (req, "OCI-Subject", sd);
}

void manifests_put (struct reg_req *req)
{
  if (!reg_digest_valid (req->ref) && !reg_tag_valid (req->ref))
    return reply_error (req, "MANIFEST_INVALID", "invalid tag or digest: %s", req->ref);
  req->body_mode = BODY_BUFFER;
  req->buf_max = REG_MANIFEST_MAX;
  req->finish = put_finish;
}

/* ---- DELETE ---- */

/* Untag every tag pointing at DIGEST. */
static void untag_all (struct registry *reg, const char *name, const char *digest)
{
  cleanup_free char *dir = reg_repo_path (name, "_manifests/tags");
  char **tags = dir ? reg_list_dir (reg, dir) : NULL;
  for (char **t = tags; t && *t; t++)
    {
      cleanup_free char *link = reg_repo_path (name, "_manifests/tags/%s/current/link", *t);
      cleanup_free char *d = link ? reg_link_read (reg, link, REG_DIGEST_LEN + 1) : NULL;
      cleanup_free char *tdir = reg_repo_path (name, "_manifests/tags/%s", *t);
      if (d && tdir && strcmp (d, digest) == 0)
        reg_remove_tree (reg, tdir);
    }
  reg_strv_free (tags);
}

void manifests_delete (struct reg_req *req)
{
  struct registry *reg = req->reg;
  if (!reg_digest_valid (req->ref))
    {
      /* deleting a tag (distribution-spec 1.1) */
      cleanup_free char *tdir = reg_tag_valid (req->ref) ? reg_repo_path (req->name, "_manifests/tags/%s", req->ref) : NULL;
      if (tdir == NULL || !reg_path_exists (reg, tdir))
        return reply_error (req, "MANIFEST_UNKNOWN", "%s:%s", req->name, req->ref);
      reg_remove_tree (reg, tdir);
      return reply_empty (req, 202);
    }
  if (!reg_repo_has_manifest (reg, req->name, req->ref, NULL))
    return reply_error (req, "MANIFEST_UNKNOWN", "%s", req->ref);
  referrers_remove (reg, req->name, req->ref);
  untag_all (reg, req->name, req->ref);
  cleanup_free char *rev = reg_repo_path (req->name, "_manifests/revisions/sha256/%s", req->ref + 7);
  if (rev == NULL || unlinkat (reg->root_fd, rev, 0) < 0)
    return reply_error_status (req, 500, "UNKNOWN", "cannot remove the manifest");
  reply_empty (req, 202);
}
