/* `docker pull`: resolve a reference on its registry (manifest, or index
 * then the platform's manifest), fetch the config, then the layers
 * (pull-layer.c), and store config and manifest last.  refs.json is not
 * written here: the caller records the result (image_record) under its
 * store lock, since a pull runs for long without it. */
#include "image/pull-internal.h"
#include "common/fs.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const manifest_accept[] = {
  "Accept: " IMG_MT_OCI_MANIFEST ", " IMG_MT_OCI_INDEX ", " IMG_MT_DOCKER_MANIFEST ", " IMG_MT_DOCKER_LIST,
  NULL,
};

struct platform
{
  char os[32], arch[32], variant[32];
};

static int parse_platform (const char *s, struct platform *p, berth_err *err)
{
  memset (p, 0, sizeof *p);
  if (s == NULL || *s == '\0')
    {
      snprintf (p->os, sizeof p->os, "linux");
      snprintf (p->arch, sizeof p->arch, "%s", img_host_arch ());
      return 0;
    }
  int n = sscanf (s, "%31[^/]/%31[^/]/%31s", p->os, p->arch, p->variant);
  if (n < 2 || strchr (p->variant, '/'))
    return berth_fail_as (err, EINVAL, "invalid platform `%s`: expected os/arch[/variant]", s);
  return 0;
}

static bool platform_matches (json_t *plat, const struct platform *want)
{
  const char *os = berth_json_str (plat, "os"), *arch = berth_json_str (plat, "architecture");
  const char *variant = berth_json_str (plat, "variant");
  if (os == NULL || arch == NULL || strcmp (os, want->os) != 0 || strcmp (arch, want->arch) != 0)
    return false;
  return want->variant[0] == '\0' || (variant && strcmp (variant, want->variant) == 0);
}

/* ---- private temp folder ---- */

/* Pulls run without berthd's store lock, next to other image workers
 * whose store_open empties tmp/: a pull keeps its partial files in
 * ROOT/tmp-dist/<pid>/ instead, and removes the folders of dead pulls. */
int dist_private_tmp (struct image_store *s, berth_err *err)
{
  cleanup_free char *top = NULL;
  char *mine = NULL;
  if (asprintf (&top, "%s/tmp-dist", s->root) < 0 || asprintf (&mine, "%s/%d", top, (int) getpid ()) < 0)
    return berth_fail (err, ENOMEM, "temp folder");
  int r = berth_mkdir_p (top, 0700, err);
  cleanup_dir DIR *d = r == 0 ? opendir (top) : NULL;
  struct dirent *de;
  while (d && (de = readdir (d)) != NULL)
    {
      int pid = atoi (de->d_name);
      cleanup_free char *p = NULL;
      if (pid > 0 && kill (pid, 0) < 0 && errno == ESRCH && asprintf (&p, "%s/%s", top, de->d_name) >= 0)
        berth_rm_rf (p);
    }
  berth_rm_rf (mine);
  if (r == 0)
    r = berth_mkdir_p (mine, 0700, err);
  if (r < 0)
    {
      free (mine);
      return r;
    }
  free (s->tmp);
  s->tmp = mine;
  return 0;
}

/* ---- manifests ---- */

struct fetched
{
  json_t *json;
  char *raw;
  size_t len;
  char digest[IMG_DIGEST_SIZE];
  const char *media_type;
};

static void fetched_free (struct fetched *f)
{
  if (f->json)
    json_decref (f->json);
  free (f->raw);
  memset (f, 0, sizeof *f);
}

/* GET manifests/REF; a digest REF is checked against the bytes. */
static int get_manifest (struct dist_client *c, const char *familiar, const char *ref, struct fetched *f,
                         berth_err *err)
{
  cleanup_free char *what = NULL;
  cleanup_free char *url = asprintf (&what, "manifests/%s", ref) < 0 ? NULL : dist_url (c, what);
  struct dist_response r;
  if (url == NULL)
    return berth_fail (err, ENOMEM, "manifest");
  int ret = dist_request (c, "GET", url, manifest_accept, NULL, 0, DIST_MANIFEST_MAX, &r, err);
  if (ret == 0 && r.status == 404)
    {
      cleanup_free char *msg = NULL;
      if (asprintf (&msg, "manifest for %s not found", familiar) < 0)
        msg = NULL;
      ret = dist_fail_response (&r, msg ? msg : familiar, err);
    }
  else if (ret == 0 && r.status != 200)
    ret = dist_fail_response (&r, familiar, err);
  if (ret == 0)
    ret = img_hash_buffer (r.body ? r.body : "", r.len, f->digest, err);
  if (ret == 0 && strncmp (ref, IMG_DIGEST_PREFIX, IMG_DIGEST_PREFIX_LEN) == 0)
    ret = img_digest_check (familiar, ref, f->digest, err);
  if (ret == 0)
    {
      f->json = berth_json_load_buffer (r.body ? r.body : "", r.len, "manifest", err);
      if (f->json == NULL)
        ret = -EINVAL;
    }
  if (ret == 0)
    {
      f->raw = take_ptr (r.body);
      f->len = r.len;
      f->media_type = berth_json_str (f->json, "mediaType");
      if (f->media_type == NULL && r.content_type)
        {
          /* No mediaType field: the Content-Type says it. */
          json_object_set_new (f->json, "mediaType", json_stringn (r.content_type, strcspn (r.content_type, "; ")));
          f->media_type = berth_json_str (f->json, "mediaType");
        }
    }
  dist_response_free (&r);
  return ret;
}

static int check_manifest (struct fetched *f, const char *familiar, berth_err *err)
{
  if (berth_json_int (f->json, "schemaVersion", 0) == 1
      || (f->media_type && strcmp (f->media_type, DIST_MT_SCHEMA1) == 0))
    return berth_fail_as (err, EINVAL, "%s: schema 1 manifests are not supported", familiar);
  if (berth_json_int (f->json, "schemaVersion", 0) != 2)
    return berth_fail_as (err, EINVAL, "%s: invalid manifest: schemaVersion is not 2", familiar);
  return 0;
}

static bool is_index (struct fetched *f)
{
  return (f->media_type && img_media_type_is_index (f->media_type))
         || (f->media_type == NULL && berth_json_arr (f->json, "manifests") != NULL);
}

/* Resolve REF to an image manifest: an index gives way to the manifest of
 * the wanted platform. */
static int resolve (struct dist_client *c, const char *familiar, const char *ref, const struct platform *plat,
                    struct fetched *m, char requested[IMG_DIGEST_SIZE], berth_err *err)
{
  int r = get_manifest (c, familiar, ref, m, err);
  if (r == 0)
    r = check_manifest (m, familiar, err);
  if (r < 0)
    return r;
  memcpy (requested, m->digest, IMG_DIGEST_SIZE);
  if (!is_index (m))
    return 0;
  size_t i;
  json_t *d, *pick = NULL;
  json_array_foreach (berth_json_arr (m->json, "manifests"), i, d)
    if (pick == NULL && platform_matches (berth_json_obj (d, "platform"), plat))
      pick = d;
  if (pick == NULL)
    return berth_fail_as (err, ENOENT, "no matching manifest for %s%s%s in the manifest list entries", plat->os,
                          "/", plat->arch);
  r = img_descriptor_check (pick, "index entry", err);
  cleanup_free char *digest = r == 0 ? strdup (berth_json_str (pick, "digest")) : NULL;
  if (r < 0)
    return r;
  fetched_free (m);
  r = get_manifest (c, familiar, digest, m, err);
  if (r == 0)
    r = check_manifest (m, familiar, err);
  if (r == 0 && is_index (m))
    r = berth_fail_as (err, EINVAL, "%s: an index inside an index is not supported", familiar);
  return r;
}

/* ---- config ---- */

static int get_config (struct image_store *s, struct dist_client *c, const char *digest, char **raw, size_t *len,
                       json_t **out, berth_err *err)
{
  if (img_blob_exists (s, digest))
    return img_blob_read_json (s, digest, out, err);
  cleanup_free char *what = NULL;
  cleanup_free char *url = asprintf (&what, "blobs/%s", digest) < 0 ? NULL : dist_url (c, what);
  struct dist_response r;
  char got[IMG_DIGEST_SIZE];
  if (url == NULL)
    return berth_fail (err, ENOMEM, "config");
  int ret = dist_request (c, "GET", url, NULL, NULL, 0, IMG_JSON_MAX, &r, err);
  if (ret == 0 && r.status != 200)
    ret = dist_fail_response (&r, "image config", err);
  if (ret == 0)
    ret = img_hash_buffer (r.body ? r.body : "", r.len, got, err);
  if (ret == 0)
    ret = img_digest_check ("image config", digest, got, err);
  if (ret == 0 && (*out = berth_json_load_buffer (r.body ? r.body : "", r.len, "image config", err)) == NULL)
    ret = -EINVAL;
  if (ret == 0)
    {
      *raw = take_ptr (r.body);
      *len = r.len;
    }
  dist_response_free (&r);
  return ret;
}

static int check_platform (json_t *config, const char *familiar, const struct platform *want, bool asked,
                           berth_err *err)
{
  json_t *plat = json_pack ("{s:s?,s:s?,s:s?}", "os", berth_json_str (config, "os"), "architecture",
                            berth_json_str (config, "architecture"), "variant", berth_json_str (config, "variant"));
  bool ok = platform_matches (plat, want);
  json_decref (plat);
  if (ok || !asked)
    return 0;
  return berth_fail_as (err, EINVAL,
                        "image with reference %s was found but does not match the specified platform: wanted "
                        "%s/%s, actual: %s/%s",
                        familiar, want->os, want->arch, berth_json_str (config, "os") ? berth_json_str (config, "os") : "?",
                        berth_json_str (config, "architecture") ? berth_json_str (config, "architecture") : "?");
}

/* ---- one reference ---- */

struct pull_ctx
{
  struct image_store *s;
  const struct dist_options *o;
  struct dist_progress p;
  struct platform plat;
};

static int prepare_layers (struct pull_ctx *x, json_t *manifest, char **diff_ids, struct pull_layer **out,
                           size_t *n, berth_err *err)
{
  json_t *layers = berth_json_arr (manifest, "layers");
  size_t count = json_array_size (layers);
  if (layers == NULL || count != img_strv_len (diff_ids))
    return berth_fail_as (err, EINVAL, "invalid manifest: %zu layers but %zu diff ids in the config", count,
                          img_strv_len (diff_ids));
  struct pull_layer *v = calloc (count ? count : 1, sizeof *v);
  if (v == NULL)
    return berth_fail (err, ENOMEM, "pull");
  for (size_t i = 0; i < count; i++)
    {
      json_t *d = json_array_get (layers, i);
      int r = img_descriptor_check (d, "layer", err);
      if (r < 0)
        {
          free (v);
          return r;
        }
      v[i].digest = berth_json_str (d, "digest");
      v[i].size = berth_json_int (d, "size", 0);
      v[i].diff_id = diff_ids[i];
      img_short_id (v[i].digest, v[i].short_id);
      snprintf (v[i].name, sizeof v[i].name, "layer %s", v[i].digest);
      for (size_t j = 0; j < i; j++)
        v[i].skip |= strcmp (v[j].digest, v[i].digest) == 0;
    }
  *out = v;
  *n = count;
  return 0;
}

/* Layers in the store are "Already exists"; when the whole image is
 * there (config and every layer), dockerd says nothing per layer and
 * neither do we. */
static void announce_layers (struct pull_ctx *x, struct pull_layer *v, size_t n, bool config_known)
{
  bool all = config_known;
  for (size_t i = 0; all && i < n; i++)
    all = v[i].skip || (img_blob_exists (x->s, v[i].digest) && img_layer_exists (x->s, v[i].diff_id));
  if (all)
    {
      for (size_t i = 0; i < n; i++)
        v[i].skip = true;
      return;
    }
  for (size_t i = 0; i < n; i++)
    {
      if (v[i].skip)
        continue;
      if (img_blob_exists (x->s, v[i].digest) && img_layer_exists (x->s, v[i].diff_id))
        {
          v[i].skip = true;
          dist_progress_status (&x->p, v[i].short_id, "Already exists");
        }
      else
        dist_progress_status (&x->p, v[i].short_id, "Pulling fs layer");
    }
}

static int put_blob (struct image_store *s, const char *raw, size_t len, const char *digest, berth_err *err)
{
  char got[IMG_DIGEST_SIZE];
  bool fresh;
  if (raw == NULL)
    return img_blob_exists (s, digest) ? 0 : berth_fail (err, ENOENT, "blob %s vanished", digest);
  int r = img_blob_put (s, raw, len, got, &fresh, err);
  return r < 0 ? r : img_digest_check ("blob", digest, got, err);
}

static int add_keys (struct dist_pulled *out, const char *name, const char *tag, const char *digest, berth_err *err)
{
  cleanup_free char *k1 = NULL;
  cleanup_free char *k2 = NULL;
  if ((tag && asprintf (&k1, "%s:%s", name, tag) < 0) || asprintf (&k2, "%s@%s", name, digest) < 0)
    return berth_fail (err, ENOMEM, "pull");
  if ((k1 && img_strv_add (&out->keys, k1) < 0) || img_strv_add (&out->keys, k2) < 0)
    return berth_fail (err, ENOMEM, "pull");
  return 0;
}

/* Pull NAME:TAG or NAME@DIGEST through client C. */
static int pull_ref (struct pull_ctx *x, struct dist_client *c, const char *name, const char *tag,
                     const char *digest, struct dist_pulled *out, berth_err *err)
{
  const char *ref = digest ? digest : tag;
  struct image_ref iref = { .name = (char *) name, .tag = digest ? NULL : (char *) tag, .digest = (char *) digest };
  cleanup_free char *familiar = image_ref_familiar (&iref);
  struct fetched m = { 0 };
  char requested[IMG_DIGEST_SIZE];
  cleanup_free char *config_raw = NULL;
  size_t config_len = 0;
  cleanup_json json_t *config = NULL;
  cleanup_strv char **diff_ids = NULL;
  cleanup_free struct pull_layer *layers = NULL;
  size_t n = 0;
  if (familiar == NULL)
    return berth_fail (err, ENOMEM, "pull");
  int r = resolve (c, familiar, ref, &x->plat, &m, requested, err);
  json_t *cdesc = r == 0 ? berth_json_obj (m.json, "config") : NULL;
  bool config_known = cdesc && img_digest_valid (berth_json_str (cdesc, "digest"))
                      && img_blob_exists (x->s, berth_json_str (cdesc, "digest"));
  if (r == 0 && (r = img_descriptor_check (cdesc, "manifest config", err)) == 0)
    r = get_config (x->s, c, berth_json_str (cdesc, "digest"), &config_raw, &config_len, &config, err);
  if (r == 0)
    r = check_platform (config, familiar, &x->plat, x->o->platform && *x->o->platform, err);
  if (r == 0)
    r = img_config_diff_ids (config, "image config", &diff_ids, err);
  if (r == 0)
    r = prepare_layers (x, m.json, diff_ids, &layers, &n, err);
  if (r == 0)
    {
      cleanup_free char *status = NULL;
      if (asprintf (&status, "Pulling from %s", c->repo) >= 0)
        dist_progress_status (&x->p, ref, status);
      announce_layers (x, layers, n, config_known);
      struct pull_job job = { .s = x->s, .c = c, .p = &x->p, .layers = layers, .n = n };
      r = pull_layers (&job, x->o->max_downloads, err);
    }
  if (r == 0)
    r = put_blob (x->s, config_raw, config_len, berth_json_str (cdesc, "digest"), err);
  if (r == 0)
    r = put_blob (x->s, m.raw, m.len, m.digest, err);
  if (r == 0)
    {
      snprintf (out->id, sizeof out->id, "%s", berth_json_str (cdesc, "digest"));
      snprintf (out->manifest, sizeof out->manifest, "%s", m.digest);
      r = add_keys (out, name, digest ? NULL : tag, requested, err);
    }
  if (r == 0)
    {
      cleanup_free char *status = NULL;
      if (asprintf (&status, "Digest: %s", requested) >= 0)
        dist_progress_status (&x->p, NULL, status);
    }
  fetched_free (&m);
  return r;
}

/* ---- tags ---- */

/* The next page's URL from a Link header (`<URL>; rel="next"`), on this
 * registry only: a relative URL is taken against its origin, an absolute
 * one must start with the client's base (credentials go nowhere else).
 * NULL when there is no next page or the link is unusable. */
static char *next_page_url (struct dist_client *c, const char *link)
{
  if (link == NULL || strstr (link, "rel=\"next\"") == NULL)
    return NULL;
  const char *lt = strchr (link, '<'), *gt = lt ? strchr (lt, '>') : NULL;
  if (gt == NULL || gt == lt + 1)
    return NULL;
  cleanup_free char *target = strndup (lt + 1, (size_t) (gt - lt - 1));
  char *url = NULL;
  if (target == NULL)
    return NULL;
  if (target[0] == '/' && target[1] != '/')
    {
      /* c->base is "scheme://host/v2/": the origin ends before "/v2/". */
      size_t origin = strlen (c->base) - strlen ("/v2/");
      if (asprintf (&url, "%.*s%s", (int) origin, c->base, target) < 0)
        url = NULL;
    }
  else if (strncmp (target, c->base, strlen (c->base)) == 0)
    url = strdup (target);
  return url;
}

/* Every tag, following the registry's pagination (Link headers); at most
 * 1000 pages, so a registry that links in a circle cannot hold us. */
static int list_tags (struct dist_client *c, const char *familiar, char ***tags, berth_err *err)
{
  cleanup_free char *url = dist_url (c, "tags/list");
  cleanup_json json_t *all = json_array ();
  if (url == NULL || all == NULL)
    return berth_fail (err, ENOMEM, "tags");
  int ret = 0;
  for (int page = 0; ret == 0 && url != NULL; page++)
    {
      if (page == 1000)
        return berth_fail_as (err, ELOOP, "%s: the tag list has more than 1000 pages", familiar);
      struct dist_response r;
      ret = dist_request (c, "GET", url, NULL, NULL, 0, IMG_JSON_MAX, &r, err);
      if (ret == 0 && r.status != 200)
        ret = dist_fail_response (&r, familiar, err);
      cleanup_json json_t *j = ret == 0 ? berth_json_load_buffer (r.body ? r.body : "", r.len, "tag list", err) : NULL;
      if (ret == 0 && j == NULL)
        ret = -EINVAL;
      if (ret == 0 && berth_json_arr (j, "tags"))
        json_array_extend (all, berth_json_arr (j, "tags"));
      free (url);
      url = ret == 0 ? next_page_url (c, r.link) : NULL;
      dist_response_free (&r);
    }
  if (ret == 0)
    ret = berth_json_strv (all, tags, "tags", err);
  if (ret == 0 && (*tags == NULL || (*tags)[0] == NULL))
    ret = berth_fail_as (err, ENOENT, "%s: the repository has no tags", familiar);
  return ret;
}

static int cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void on_term (int sig)
{
  (void) sig;
  pull_cancelled = 1;
}

void dist_pulled_free (struct dist_pulled *p, size_t n)
{
  for (size_t i = 0; p && i < n; i++)
    cleanup_strvp (&p[i].keys);
  free (p);
}

int image_pull (struct image_store *s, const char *refstr, bool all_tags, const struct dist_options *o,
                struct dist_pulled **pulled, size_t *npulled, berth_err *err)
{
  cleanup_ref struct image_ref ref = { 0 };
  bool explicit_tag = false;
  struct pull_ctx x = { .s = s, .o = o };
  cleanup_free char *host = NULL;
  cleanup_free char *repo = NULL;
  cleanup_strv char **tags = NULL;
  struct dist_client c;
  *pulled = NULL;
  *npulled = 0;
  /* A pipe reader that went away must give an error, not kill us; a
   * SIGTERM cancels (pull-internal.h). */
  signal (SIGPIPE, SIG_IGN);
  struct sigaction sa = { .sa_handler = on_term };
  sigemptyset (&sa.sa_mask);
  sigaction (SIGTERM, &sa, NULL);
  int r = img_ref_parse (refstr, &ref, &explicit_tag, err);
  if (r == 0 && all_tags && (explicit_tag || ref.digest))
    r = berth_fail_as (err, EINVAL, "tag can't be used with --all-tags/-a");
  if (r == 0)
    r = parse_platform (o->platform, &x.plat, err);
  if (r == 0)
    r = dist_split_name (ref.name, &host, &repo, err);
  if (r < 0)
    return r;
  r = dist_private_tmp (s, err);
  if (r < 0)
    return r;
  dist_progress_init (&x.p, o->progress_fd);
  r = dist_client_open (&c, host, repo, "pull", o, err);
  if (r == 0 && all_tags)
    {
      cleanup_free char *familiar = image_ref_familiar (&(struct image_ref){ .name = ref.name });
      r = list_tags (&c, familiar ? familiar : ref.name, &tags, err);
      if (r == 0)
        qsort (tags, img_strv_len (tags), sizeof *tags, cmp_str);
    }
  else if (r == 0 && img_strv_add (&tags, ref.digest ? ref.digest : ref.tag) < 0)
    r = berth_fail (err, ENOMEM, "pull");
  size_t n = img_strv_len (tags);
  struct dist_pulled *out = r == 0 ? calloc (n ? n : 1, sizeof *out) : NULL;
  if (r == 0 && out == NULL)
    r = berth_fail (err, ENOMEM, "pull");
  for (size_t i = 0; r == 0 && i < n; i++)
    {
      if (pull_cancelled)
        {
          r = berth_fail_as (err, ECANCELED, "pull cancelled");
          break;
        }
      bool by_digest = strncmp (tags[i], IMG_DIGEST_PREFIX, IMG_DIGEST_PREFIX_LEN) == 0;
      r = pull_ref (&x, &c, ref.name, by_digest ? NULL : tags[i], by_digest ? tags[i] : NULL, &out[i], err);
    }
  dist_client_close (&c);
  pthread_mutex_destroy (&x.p.lock);
  if (r < 0)
    {
      dist_pulled_free (out, n);
      return r;
    }
  *pulled = out;
  *npulled = n;
  return 0;
}
