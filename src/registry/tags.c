/* GET /v2/<name>/tags/list[?n=&last=], and the pagination shared with
 * the catalog: lexically sorted, entries after `last`, at most `n`, and a
 * Link header (RFC 5988) to the next page when there is one. */
#include "registry/http.h"
#include "common/cleanup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

json_t *paginate (struct reg_req *req, char **sorted, const char *base_url, char **link)
{
  *link = NULL;
  const char *ns = req_query (req, "n");
  const char *last = req_query (req, "last");
  long n = -1;
  if (ns && *ns)
    {
      char *e;
      errno = 0;
      n = strtol (ns, &e, 10);
      if (errno || *e || n < 0)
        n = -1;
    }
  if (n < 0 || n > req->reg->cfg.max_page_n)
    n = req->reg->cfg.max_page_n;
  json_t *out = json_array ();
  const char *last_sent = NULL;
  bool more = false;
  for (char **s = sorted; s && *s; s++)
    {
      if (last && strcmp (*s, last) <= 0)
        continue;
      if (n >= 0 && (long) json_array_size (out) >= n)
        {
          more = true;
          break;
        }
      json_array_append_new (out, json_string (*s));
      last_sent = *s;
    }
  if (more && last_sent && asprintf (link, "<%s?n=%ld&last=%s>; rel=\"next\"", base_url, n, last_sent) < 0)
    *link = NULL;
  return out;
}

void tags_list (struct reg_req *req)
{
  struct registry *reg = req->reg;
  cleanup_free char *mdir = reg_repo_path (req->name, "_manifests");
  if (mdir == NULL || !reg_path_exists (reg, mdir))
    return reply_error (req, "NAME_UNKNOWN", "%s", req->name);
  cleanup_free char *dir = reg_repo_path (req->name, "_manifests/tags");
  char **tags = reg_list_dir (reg, dir);
  cleanup_free char *base = NULL;
  if (asprintf (&base, "/v2/%s/tags/list", req->name) < 0)
    base = NULL;
  cleanup_free char *link = NULL;
  json_t *list = paginate (req, tags, base ? base : "", &link);
  reg_strv_free (tags);
  reply_json (req, 200, NULL, json_pack ("{s:s,s:o}", "name", req->name, "tags", list));
  if (link)
    reply_header (req, "Link", link);
}
