/* GET /v2/<name>/referrers/<digest> (distribution-spec 1.1).
 *
 * When a manifest with a subject is pushed, its descriptor is written to
 * _manifests/referrers/sha256/<subject hex>/<manifest hex>, so listing
 * referrers is one folder read rather than a scan of every manifest. */
#include "registry/http.h"
#include "common/cleanup.h"
#include "common/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"

int referrers_add (struct registry *reg, const char *name, const char *subject, const char *digest, json_t *m,
                   const char *media_type, size_t size, berth_err *err)
{
  cleanup_json json_t *d = json_pack ("{s:s,s:s,s:I}", "mediaType", media_type, "digest", digest, "size",
                                      (json_int_t) size);
  /* artifactType, else (image manifests) the config's media type */
  const char *at = berth_json_str (m, "artifactType");
  json_t *config = berth_json_obj (m, "config");
  if (at == NULL && config)
    at = berth_json_str (config, "mediaType");
  if (at)
    json_object_set_new (d, "artifactType", json_string (at));
  json_t *ann = berth_json_obj (m, "annotations");
  if (ann)
    json_object_set (d, "annotations", ann);
  cleanup_free char *s = json_dumps (d, JSON_COMPACT);
  cleanup_free char *path = reg_repo_path (name, "_manifests/referrers/sha256/%s/%s", subject + 7, digest + 7);
  if (s == NULL || path == NULL)
    return berth_fail (err, ENOMEM, "out of memory");
  return reg_link_write (reg, path, s, false, err);
}

void referrers_remove (struct registry *reg, const char *name, const char *digest)
{
  cleanup_free char *path = reg_blob_path (digest);
  cleanup_free char *buf = path ? reg_link_read (reg, path, REG_MANIFEST_MAX) : NULL;
  cleanup_json json_t *m = buf ? json_loads (buf, 0, NULL) : NULL;
  json_t *subject = berth_json_obj (m, "subject");
  const char *sd = subject ? berth_json_str (subject, "digest") : NULL;
  if (!reg_digest_valid (sd))
    return;
  cleanup_free char *link = reg_repo_path (name, "_manifests/referrers/sha256/%s/%s", sd + 7, digest + 7);
  if (link)
    unlinkat (reg->root_fd, link, 0);
}

void referrers_list (struct reg_req *req)
{
  struct registry *reg = req->reg;
  if (!reg_digest_valid (req->ref))
    return reply_error (req, "DIGEST_INVALID", "invalid digest %s", req->ref);
  const char *filter = req_query (req, "artifactType");
  cleanup_free char *dir = reg_repo_path (req->name, "_manifests/referrers/sha256/%s", req->ref + 7);
  char **entries = dir ? reg_list_dir (reg, dir) : NULL;
  json_t *list = json_array ();
  for (char **e = entries; e && *e; e++)
    {
      char digest[REG_DIGEST_LEN + 1];
      snprintf (digest, sizeof digest, "sha256:%s", *e);
      if (!reg_digest_valid (digest) || !reg_repo_has_manifest (reg, req->name, digest, NULL))
        continue; /* deleted since */
      cleanup_free char *path = NULL;
      if (asprintf (&path, "%s/%s", dir, *e) < 0)
        continue;
      cleanup_free char *s = reg_link_read (reg, path, 1 << 20);
      json_t *d = s ? json_loads (s, 0, NULL) : NULL;
      if (d == NULL)
        continue;
      const char *at = berth_json_str (d, "artifactType");
      if (filter && (at == NULL || strcmp (at, filter) != 0))
        {
          json_decref (d);
          continue;
        }
      json_array_append_new (list, d);
    }
  reg_strv_free (entries);
  reply_json (req, 200, MT_OCI_INDEX,
              json_pack ("{s:i,s:s,s:o}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX, "manifests", list));
  if (filter)
    reply_header (req, "OCI-Filters-Applied", "artifactType");
}
