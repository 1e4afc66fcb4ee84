/* Image endpoints of the Engine API, over libberth-image. */
#include "daemon/daemon.h"
#include "daemon/image-worker.h"
#include "daemon/container.h"
#include "daemon/events.h"
#include "image/image.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static json_t *string_array (char **v)
{
  json_t *a = json_array ();
  for (; v && *v; v++)
    json_array_append_new (a, json_string (*v));
  return a;
}

json_t *api_image_summary (struct image_info *i)
{
  json_t *labels = berth_json_path (i->config, "config.Labels");
  return json_pack ("{s:s, s:s, s:o, s:o, s:I, s:I, s:i, s:O, s:i}", "Id", i->id, "ParentId", "", "RepoTags",
                    string_array (i->repo_tags), "RepoDigests", string_array (i->repo_digests), "Created",
                    (json_int_t) i->created, "Size", (json_int_t) i->size, "SharedSize", -1, "Labels",
                    json_is_object (labels) ? labels : json_object (), "Containers", -1);
}

/* Run an image store call under the store lock. */
#define LOCKED(d, call)                             \
  ({                                                \
    pthread_mutex_lock (&(d)->image_lock);          \
    int r_ = (call);                                \
    pthread_mutex_unlock (&(d)->image_lock);        \
    r_;                                             \
  })

/* ---- events: where and how Docker logs image events ---- */

/* Docker's attributes of an image event: the image's labels, and "name". */
static void image_event (struct berthd *d, const char *action, const char *id, const char *name, json_t *config)
{
  json_t *labels = berth_json_path (config, "config.Labels");
  json_t *attrs = json_is_object (labels) ? json_deep_copy (labels) : json_object ();
  if (attrs)
    json_object_set_new (attrs, "name", json_string (name));
  events_emit (d->events, "image", action, id, attrs);
}

/* The event of the image NAME_OR_ID resolves to now (call under the store
 * lock); NAME (NULL: the image id) is the event's "name". */
static void image_event_of (struct berthd *d, const char *action, const char *name_or_id, const char *name)
{
  struct image_info *img = NULL;
  berth_err err = NULL;
  if (image_lookup (d->images, name_or_id, &img, &err) < 0)
    {
      berth_error_free (&err);
      return;
    }
  image_event (d, action, img->id, name ? name : img->id, img->config);
  image_info_free (img);
}

/* A tag target as Docker names it in events: "busybox:latest". */
static char *familiar_ref (const char *ref)
{
  struct image_ref r = { 0 };
  berth_err err = NULL;
  if (image_ref_parse (ref, &r, &err) < 0)
    {
      berth_error_free (&err);
      return strdup (ref);
    }
  char *out = image_ref_familiar (&r);
  image_ref_free (&r);
  return out;
}

/* ---- filters: {"key": {"value": true}} or the legacy {"key": ["value"]} ---- */

static const char *const list_filters[] = { "dangling", "label", "reference", "before", "since", "until", NULL };
static const char *const prune_filters[] = { "dangling", "label", "until", NULL };

/* TAG is "name:tag" or "name@sha256:..."; PATTERN matches either whole or
 * the name alone. */
static bool tag_matches (const char *tag, const char *pattern)
{
  const char *at = strchr (tag, '@');
  const char *colon = at ? at : strrchr (tag, ':');
  cleanup_free char *name = colon && !strchr (colon, '/') ? strndup (tag, (size_t) (colon - tag)) : strdup (tag);
  return fnmatch (pattern, tag, 0) == 0 || fnmatch (pattern, name, 0) == 0;
}

/* label=KEY or label=KEY=VALUE against the image config's Labels. */
static bool has_label (struct image_info *img, const char *want)
{
  json_t *labels = berth_json_path (img->config, "config.Labels");
  const char *eq = strchr (want, '=');
  cleanup_free char *key = eq ? strndup (want, (size_t) (eq - want)) : strdup (want);
  const char *value = berth_json_str (labels, key);
  return value && (eq == NULL || strcmp (value, eq + 1) == 0);
}

static void keep_matching (char **list, json_t *refs)
{
  size_t out = 0, i;
  json_t *v;
  for (char **t = list; t && *t; t++)
    {
      bool keep = false;
      json_array_foreach (refs, i, v)
        keep |= tag_matches (*t, json_string_value (v));
      if (keep)
        list[out++] = *t;
      else
        free (*t);
    }
  if (list)
    list[out] = NULL;
}

/* Docker narrows RepoTags and RepoDigests to the names that match a
 * reference filter, and drops images with no tag left. */
static void narrow_tags (struct image_info *img, json_t *refs)
{
  keep_matching (img->repo_tags, refs);
  keep_matching (img->repo_digests, refs);
}

static bool keep_image (struct image_info *img, json_t *filters)
{
  cleanup_json json_t *dangling = api_filter_values (filters, "dangling");
  cleanup_json json_t *refs = api_filter_values (filters, "reference");
  cleanup_json json_t *labels = api_filter_values (filters, "label");
  size_t i;
  json_t *v;
  bool is_dangling = img->repo_tags == NULL || img->repo_tags[0] == NULL;
  json_array_foreach (dangling, i, v)
    if (is_dangling != (strcmp (json_string_value (v), "true") == 0 || strcmp (json_string_value (v), "1") == 0))
      return false;
  json_array_foreach (labels, i, v)
    if (!has_label (img, json_string_value (v)))
      return false;
  if (json_array_size (refs) == 0)
    return true;
  narrow_tags (img, refs);
  return img->repo_tags && img->repo_tags[0];
}

void api_images_list (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  cleanup_json json_t *filters = api_parse_filters (req, rep, list_filters);
  struct image_info **list = NULL;
  size_t n = 0;
  berth_err err = NULL;
  if (filters == NULL)
    return;
  if (LOCKED (d, image_list (d->images, &list, &n, &err)) < 0)
    {
      reply_berth_error (rep, &err);
      return;
    }
  json_t *out = json_array ();
  for (size_t i = 0; i < n; i++)
    if (keep_image (list[i], filters))
      json_array_append_new (out, api_image_summary (list[i]));
  image_list_free (list, n);
  reply_json (rep, 200, out);
}

static char *rfc3339 (int64_t t)
{
  char buf[64];
  struct tm tm;
  time_t tt = (time_t) t;
  gmtime_r (&tt, &tm);
  strftime (buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return strdup (buf);
}

void api_image_inspect (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  struct image_info *img = NULL;
  berth_err err = NULL;
  if (LOCKED (d, image_lookup (d->images, req->params[0], &img, &err)) < 0)
    {
      reply_berth_error (rep, &err);
      return;
    }
  cleanup_free char *created = rfc3339 (img->created);
  const char *arch = berth_json_str (img->config, "architecture");
  const char *os = berth_json_str (img->config, "os");
  json_t *config = berth_json_obj (img->config, "config");
  json_t *out = json_pack ("{s:s, s:o, s:o, s:s, s:s, s:s, s:s, s:s, s:O, s:s, s:s, s:I, s:{s:s, s:{}}, s:{s:s, s:o},"
                           " s:{}}",
                           "Id", img->id, "RepoTags", string_array (img->repo_tags), "RepoDigests",
                           string_array (img->repo_digests), "Parent", "", "Comment",
                           berth_json_str (img->config, "comment") ? berth_json_str (img->config, "comment") : "",
                           "Created", created, "DockerVersion", "", "Author",
                           berth_json_str (img->config, "author") ? berth_json_str (img->config, "author") : "",
                           "Config", config ? config : json_object (), "Architecture", arch ? arch : "amd64", "Os",
                           os ? os : "linux", "Size", (json_int_t) img->size, "GraphDriver", "Name", "overlay2",
                           "Data", "RootFS", "Type", "layers", "Layers", string_array (img->diff_ids), "Metadata");
  image_info_free (img);
  reply_json (rep, 200, out);
}

void api_image_history (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  json_t *out = NULL;
  berth_err err = NULL;
  if (LOCKED (d, image_history (d->images, req->params[0], &out, &err)) < 0)
    reply_berth_error (rep, &err);
  else
    reply_json (rep, 200, out);
}

void api_image_tag (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  const char *repo = request_query (req, "repo");
  const char *tag = request_query (req, "tag");
  berth_err err = NULL;
  if (repo == NULL || *repo == '\0')
    {
      reply_error (rep, 400, "repository name is required (repo=)");
      return;
    }
  cleanup_free char *target = NULL;
  if (asprintf (&target, "%s%s%s", repo, tag && *tag ? ":" : "", tag && *tag ? tag : "") < 0)
    return reply_error (rep, 500, "out of memory");
  pthread_mutex_lock (&d->image_lock);
  int r = image_tag (d->images, req->params[0], target, &err);
  if (r >= 0)
    {
      cleanup_free char *name = familiar_ref (target);
      image_event_of (d, "tag", target, name);
    }
  pthread_mutex_unlock (&d->image_lock);
  if (r < 0)
    reply_berth_error (rep, &err);
  else
    reply_text (rep, 201, "text/plain", "");
}

/* Docker names the image id in untag and delete events, one untag per
 * removed reference; the deleted image's labels are gone with it. */
static void removal_events (struct berthd *d, struct image_info *img, json_t *report)
{
  size_t i;
  json_t *item;
  json_array_foreach (report, i, item)
    {
      const char *deleted = berth_json_str (item, "Deleted");
      if (berth_json_str (item, "Untagged"))
        image_event (d, "untag", img->id, img->id, img->config);
      else if (deleted && strcmp (deleted, img->id) == 0)
        image_event (d, "delete", img->id, img->id, NULL);
    }
}

void api_image_delete (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  json_t *report = NULL;
  berth_err err = NULL;
  bool force = request_query_bool (req, "force", false);
  struct image_info *img = NULL;
  berth_err lookup_err = NULL;
  pthread_mutex_lock (&d->image_lock);
  /* (an unknown name is image_remove's error to report) */
  image_lookup (d->images, req->params[0], &img, &lookup_err);
  berth_error_free (&lookup_err);
  int r = image_remove (d->images, req->params[0], force, containers_use_image, d->containers, &report, &err);
  if (r >= 0 && img)
    removal_events (d, img, report);
  pthread_mutex_unlock (&d->image_lock);
  if (img)
    image_info_free (img);
  if (r < 0)
    reply_berth_error (rep, &err);
  else
    reply_json (rep, 200, report);
}

void api_images_prune (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  cleanup_json json_t *filters = api_parse_filters (req, rep, prune_filters);
  cleanup_json json_t *dangling = filters ? api_filter_values (filters, "dangling") : NULL;
  json_t *report = NULL;
  berth_err err = NULL;
  int64_t until_ns;
  if (filters == NULL || !api_filter_until (filters, rep, &until_ns))
    return;
  const char *first = json_string_value (json_array_get (dangling, 0));
  bool all = first && (strcmp (first, "false") == 0 || strcmp (first, "0") == 0);
  /* image times are whole seconds: an image of the cut-off's second stays */
  int64_t until = until_ns ? until_ns / 1000000000LL : 0;
  if (LOCKED (d, image_prune (d->images, all, until, containers_use_image, d->containers, &report, &err)) < 0)
    reply_berth_error (rep, &err);
  else
    reply_json (rep, 200, report);
}

/* ---- archives ---- */

/* A JSON-lines progress body, as `docker load` and `docker import` read. */
static void reply_stream_lines (struct reply *rep, const char *key, char **lines)
{
  size_t cap = 256, len = 0;
  char *buf = malloc (cap);
  for (; buf && lines && *lines; lines++)
    {
      cleanup_free char *text = NULL;
      if (asprintf (&text, "%s\n", *lines) < 0)
        break;
      cleanup_json json_t *o = json_pack ("{s:s}", key, text);
      cleanup_free char *s = json_dumps (o, JSON_COMPACT);
      size_t n = strlen (s);
      if (len + n + 2 > cap)
        {
          char *nb = realloc (buf, cap = (len + n + 2) * 2);
          if (nb == NULL)
            break;
          buf = nb;
        }
      memcpy (buf + len, s, n);
      len += n;
      buf[len++] = '\n';
    }
  free (rep->body);
  rep->status = 200;
  rep->body = buf;
  rep->body_len = buf ? len : 0;
  rep->content_type = "application/json";
}

/* One "load" event per loaded image (not per tag), named by its id. */
static void load_events (struct berthd *d, char **loaded)
{
  cleanup_json json_t *seen = json_object ();
  for (char **l = loaded; l && *l; l++)
    {
      const char *colon = strstr (*l, ": ");
      struct image_info *img = NULL;
      berth_err err = NULL;
      if (colon == NULL || image_lookup (d->images, colon + 2, &img, &err) < 0)
        {
          berth_error_free (&err);
          continue;
        }
      if (json_object_get (seen, img->id) == NULL)
        {
          json_object_set_new (seen, img->id, json_true ());
          image_event (d, "load", img->id, img->id, img->config);
        }
      image_info_free (img);
    }
}

void api_images_load (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  char **loaded = NULL;
  berth_err err = NULL;
  if (req->body_too_large)
    return reply_error (rep, 500, "cannot store the uploaded archive (disk full?)");
  pthread_mutex_lock (&d->image_lock);
  int r = image_worker_load (d, req->body_fd, &loaded, &err);
  if (r >= 0)
    load_events (d, loaded);
  pthread_mutex_unlock (&d->image_lock);
  if (r < 0)
    return reply_berth_error (rep, &err);
  reply_stream_lines (rep, "stream", loaded);
  cleanup_strvp (&loaded);
}

static void save_names (struct request *req, struct reply *rep, char **names)
{
  struct berthd *d = req->daemon;
  berth_err err = NULL;
  if (names == NULL || names[0] == NULL)
    return reply_error (rep, 400, "no image names given (names=)");
  int fd = berthd_temp_file (d);
  if (fd < 0)
    return reply_error (rep, 500, "cannot create a temp file for the archive");
  if (LOCKED (d, image_worker_save (d, (const char *const *) names, fd, &err)) < 0)
    {
      close (fd);
      return reply_berth_error (rep, &err);
    }
  lseek (fd, 0, SEEK_SET);
  reply_fd (rep, 200, "application/x-tar", fd);
}

void api_images_get (struct request *req, struct reply *rep)
{
  cleanup_strv char **names = request_query_all (req, "names");
  save_names (req, rep, names);
}

void api_image_get (struct request *req, struct reply *rep)
{
  char *names[] = { req->params[0], NULL };
  save_names (req, rep, names);
}

/* ---- import: Dockerfile-style --change instructions ---- */

static json_t *exec_form (const char *arg)
{
  berth_err err = NULL;
  json_t *j = arg[0] == '[' ? berth_json_load_buffer (arg, strlen (arg), "change", &err) : NULL;
  berth_error_free (&err);
  if (json_is_array (j))
    return j;
  if (j)
    json_decref (j);
  return json_pack ("[sss]", "/bin/sh", "-c", arg);
}

static json_t *object_of_words (const char *arg, const char *suffix)
{
  json_t *o = json_object ();
  cleanup_free char *copy = strdup (arg);
  char *save = NULL;
  for (char *w = strtok_r (copy, " ", &save); w; w = strtok_r (NULL, " ", &save))
    {
      cleanup_free char *key = NULL;
      if (asprintf (&key, "%s%s", w, strchr (w, '/') ? "" : suffix) >= 0)
        json_object_set_new (o, key, json_object ());
    }
  return o;
}

static int apply_change (json_t *cfg, const char *change, berth_err *err)
{
  const char *sp = strchr (change, ' ');
  if (sp == NULL)
    return berth_fail (err, 0, "invalid change `%s`", change);
  cleanup_free char *ins = strndup (change, (size_t) (sp - change));
  const char *arg = sp + 1;
  for (char *p = ins; *p; p++)
    *p = (char) (*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
  if (strcmp (ins, "CMD") == 0)
    json_object_set_new (cfg, "Cmd", exec_form (arg));
  else if (strcmp (ins, "ENTRYPOINT") == 0)
    json_object_set_new (cfg, "Entrypoint", exec_form (arg));
  else if (strcmp (ins, "WORKDIR") == 0)
    json_object_set_new (cfg, "WorkingDir", json_string (arg));
  else if (strcmp (ins, "USER") == 0)
    json_object_set_new (cfg, "User", json_string (arg));
  else if (strcmp (ins, "ENV") == 0)
    {
      if (!json_is_array (json_object_get (cfg, "Env")))
        json_object_set_new (cfg, "Env", json_array ());
      cleanup_free char *kv = strdup (arg);
      char *eq = strchr (kv, '='), *space = strchr (kv, ' ');
      if (eq == NULL && space)
        *space = '=';
      json_array_append_new (json_object_get (cfg, "Env"), json_string (kv));
    }
  else if (strcmp (ins, "EXPOSE") == 0)
    json_object_set_new (cfg, "ExposedPorts", object_of_words (arg, "/tcp"));
  else if (strcmp (ins, "VOLUME") == 0)
    json_object_set_new (cfg, "Volumes", object_of_words (arg, ""));
  else if (strcmp (ins, "LABEL") == 0)
    {
      if (!json_is_object (json_object_get (cfg, "Labels")))
        json_object_set_new (cfg, "Labels", json_object ());
      cleanup_free char *kv = strdup (arg);
      char *eq = strchr (kv, '=');
      if (eq == NULL)
        return berth_fail (err, 0, "invalid LABEL `%s`: expected key=value", arg);
      *eq = '\0';
      json_object_set_new (json_object_get (cfg, "Labels"), kv, json_string (eq + 1));
    }
  else
    return berth_fail (err, 0, "%s is not a valid change command", ins);
  return 0;
}

void api_images_create (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  const char *src = request_query (req, "fromSrc");
  const char *repo = request_query (req, "repo");
  const char *tag = request_query (req, "tag");
  berth_err err = NULL;
  if (src == NULL)
    return api_images_pull (req, rep);
  if (strcmp (src, "-") != 0)
    return reply_error (rep, 400, "import from a URL is not supported: pipe the archive instead (fromSrc=-)");
  cleanup_json json_t *changes = json_object ();
  cleanup_strv char **list = request_query_all (req, "changes");
  for (char **c = list; *c; c++)
    if (apply_change (changes, *c, &err) < 0)
      return reply_berth_error (rep, &err);
  cleanup_free char *ref = NULL;
  if (repo && *repo && asprintf (&ref, "%s%s%s", repo, tag && *tag ? ":" : "", tag && *tag ? tag : "") < 0)
    return reply_error (rep, 500, "out of memory");
  cleanup_free char *id = NULL;
  pthread_mutex_lock (&d->image_lock);
  int r = image_worker_import (d, req->body_fd, ref, changes, request_query (req, "message"), &id, &err);
  if (r >= 0 && ref)
    {
      cleanup_free char *name = familiar_ref (ref);
      image_event_of (d, "tag", id, name);
    }
  if (r >= 0)
    image_event_of (d, "import", id, NULL);
  pthread_mutex_unlock (&d->image_lock);
  if (r < 0)
    return reply_berth_error (rep, &err);
  char *lines[] = { id, NULL };
  reply_stream_lines (rep, "status", lines);
}
