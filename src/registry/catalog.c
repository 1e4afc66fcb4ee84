/* GET /v2/_catalog[?n=&last=]: every repository, i.e. every folder under
 * repositories/ holding a _manifests folder (names may nest: a, a/b). */
#include "registry/http.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>

struct names
{
  char **v;
  size_t n, cap;
};

static void add (struct names *ns, const char *name)
{
  if (ns->n + 1 >= ns->cap)
    {
      size_t cap = ns->cap ? ns->cap * 2 : 64;
      char **nv = realloc (ns->v, cap * sizeof *nv);
      if (nv == NULL)
        return;
      ns->v = nv;
      ns->cap = cap;
    }
  ns->v[ns->n] = strdup (name);
  if (ns->v[ns->n])
    ns->n++;
  ns->v[ns->n] = NULL;
}

/* Depth-first walk; folders starting with '_' are a repository's own. */
static void walk (struct registry *reg, const char *prefix, struct names *ns, int depth)
{
  if (depth > 64)
    return;
  cleanup_free char *dir = NULL;
  if (asprintf (&dir, "repositories%s%s", prefix[0] ? "/" : "", prefix) < 0)
    return;
  char **entries = reg_list_dir (reg, dir);
  for (char **e = entries; e && *e; e++)
    {
      if ((*e)[0] == '_')
        continue;
      cleanup_free char *name = NULL;
      cleanup_free char *mdir = NULL;
      if (asprintf (&name, "%s%s%s", prefix, prefix[0] ? "/" : "", *e) < 0)
        continue;
      if (asprintf (&mdir, "repositories/%s/_manifests", name) >= 0 && reg_path_exists (reg, mdir))
        add (ns, name);
      walk (reg, name, ns, depth + 1);
    }
  reg_strv_free (entries);
}

static int cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

void catalog_list (struct reg_req *req)
{
  struct names ns = { 0 };
  walk (req->reg, "", &ns, 0);
  if (ns.n > 0)
    qsort (ns.v, ns.n, sizeof *ns.v, cmp_str);
  cleanup_free char *link = NULL;
  json_t *list = paginate (req, ns.v, "/v2/_catalog", &link);
  reg_strv_free (ns.v);
  reply_json (req, 200, NULL, json_pack ("{s:o}", "repositories", list));
  if (link)
    reply_header (req, "Link", link);
}
