/* The /containers API resource: create, list, inspect, and the lifecycle
 * verbs.  Streams (attach, logs) are in api-attach.c, files (archive,
 * export) in api-archive.c, top and stats in api-top.c. */
#include "daemon/daemon.h"
#include "daemon/container.h"
#include "daemon/monitor-client.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Look up {id}; on failure replies 404 and returns NULL. */
struct container *api_container_lookup (struct request *req, struct reply *rep)
{
  struct container *c = NULL;
  berth_err err = NULL;
  if (container_get (req->daemon->containers, req->params[0], &c, &err) < 0)
    {
      reply_berth_error (rep, &err);
      return NULL;
    }
  return c;
}

#define WITH_CONTAINER(req, rep, c)                                        \
  struct container *c = api_container_lookup (req, rep);                  \
  if (c == NULL)                                                           \
    return;

static void done (struct request *req, struct reply *rep, struct container *c, int r, berth_err *err,
                  unsigned ok_status)
{
  if (r == -EALREADY)
    reply_text (rep, 304, NULL, "");
  else if (r < 0)
    reply_berth_error (rep, err);
  else
    reply_text (rep, ok_status, NULL, "");
  container_put (req->daemon->containers, c);
}

/* ---- create ---- */

void api_container_create (struct request *req, struct reply *rep)
{
  cleanup_json json_t *body = request_json (req, rep);
  if (body == NULL)
    return;
  berth_err err = NULL;
  cleanup_free char *id = NULL;
  json_t *warnings = NULL;
  if (container_create (req->daemon, body, request_query (req, "name"), &id, &warnings, &err) < 0)
    {
      reply_berth_error (rep, &err);
      return;
    }
  reply_json (rep, 201, json_pack ("{s:s, s:o}", "Id", id, "Warnings", warnings ? warnings : json_array ()));
}

/* ---- list ---- */

static const char *const list_filters[] = { "id", "name", "label", "status", "exited", "ancestor", "before", "since",
                                            "health", "isolation", "network", "volume", "publish", "expose", NULL };

static bool any_matches (json_t *wanted, bool (*match) (const char *want, void *ctx), void *ctx)
{
  if (json_array_size (wanted) == 0)
    return true;
  size_t i;
  json_t *v;
  json_array_foreach (wanted, i, v)
    if (json_is_string (v) && match (json_string_value (v), ctx))
      return true;
  return false;
}

static bool match_id (const char *want, void *ctx)
{
  json_t *j = ctx;
  return strncmp (json_string_value (json_object_get (j, "Id")), want, strlen (want)) == 0;
}

static bool match_name (const char *want, void *ctx)
{
  json_t *j = ctx;
  const char *name = json_string_value (json_array_get (json_object_get (j, "Names"), 0));
  /* Docker matches names as regular expressions; a substring search covers
   * what people type (a name or part of one). */
  return name && (strstr (name, want) != NULL || fnmatch (want, name + 1, 0) == 0);
}

static bool match_status (const char *want, void *ctx)
{
  json_t *j = ctx;
  return strcmp (json_string_value (json_object_get (j, "State")), want) == 0;
}

static bool match_label (const char *want, void *ctx)
{
  json_t *labels = json_object_get (ctx, "Labels");
  const char *eq = strchr (want, '=');
  cleanup_free char *key = eq ? strndup (want, eq - want) : strdup (want);
  const char *v = json_string_value (json_object_get (labels, key ? key : ""));
  return v && (eq == NULL || strcmp (v, eq + 1) == 0);
}

static bool match_ancestor (const char *want, void *ctx)
{
  json_t *j = ctx;
  const char *image = json_string_value (json_object_get (j, "Image"));
  const char *id = json_string_value (json_object_get (j, "ImageID"));
  size_t n = strlen (want);
  return strcmp (image, want) == 0 || strncmp (id, want, n) == 0 || strncmp (id + 7, want, n) == 0
         || (strchr (want, ':') == NULL && strncmp (image, want, n) == 0 && image[n] == ':');
}

struct exited_ctx
{
  struct container *c;
};

static bool match_exited (const char *want, void *ctx)
{
  struct container *c = ctx;
  return c->status == CT_EXITED && c->has_been_started && atoi (want) == c->exit_code;
}

static bool match_health (const char *want, void *ctx)
{
  struct container *c = ctx;
  containers_lock (c->daemon->containers);
  const char *st = json_string_value (json_object_get (c->health, "Status"));
  bool match = strcmp (want, st ? st : "none") == 0;
  containers_unlock (c->daemon->containers);
  return match;
}

static bool keep_container (json_t *filters, json_t *j, struct container *c)
{
  cleanup_json json_t *ids = api_filter_values (filters, "id"), *names = api_filter_values (filters, "name");
  cleanup_json json_t *status = api_filter_values (filters, "status"), *labels = api_filter_values (filters, "label");
  cleanup_json json_t *ancestors = api_filter_values (filters, "ancestor");
  cleanup_json json_t *exited = api_filter_values (filters, "exited");
  cleanup_json json_t *health = api_filter_values (filters, "health");
  bool all_labels = true;
  size_t i;
  json_t *v;
  json_array_foreach (labels, i, v)
    all_labels &= json_is_string (v) && match_label (json_string_value (v), j);
  return any_matches (ids, match_id, j) && any_matches (names, match_name, j) && any_matches (status, match_status, j)
         && all_labels && any_matches (ancestors, match_ancestor, j) && any_matches (exited, match_exited, c)
         && any_matches (health, match_health, c);
}

static int by_created_desc (const void *a, const void *b)
{
  const struct container *x = *(struct container *const *) a, *y = *(struct container *const *) b;
  return strcmp (y->created, x->created);
}

void api_containers_list (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  cleanup_json json_t *filters = api_parse_filters (req, rep, list_filters);
  if (filters == NULL)
    return;
  bool all = request_query_bool (req, "all", false);
  const char *limit_s = request_query (req, "limit");
  long limit = limit_s ? atol (limit_s) : -1;
  if (limit > 0)
    all = true;
  size_t n;
  struct container **list = containers_all (d->containers, &n);
  qsort (list, n, sizeof *list, by_created_desc);
  json_t *out = json_array ();
  for (size_t i = 0; i < n && (limit <= 0 || (long) json_array_size (out) < limit); i++)
    {
      json_t *j = container_list_json (d, list[i]);
      const char *state = json_string_value (json_object_get (j, "State"));
      bool shown = all || strcmp (state, "running") == 0 || strcmp (state, "paused") == 0
                   || strcmp (state, "restarting") == 0 || json_array_size (json_object_get (filters, "status"));
      if (j && shown && keep_container (filters, j, list[i]))
        {
          if (request_query_bool (req, "size", false))
            json_object_set_new (j, "SizeRw", json_integer (container_rw_size (list[i])));
          json_array_append_new (out, j);
        }
      else
        json_decref (j);
    }
  containers_put_all (d->containers, list, n);
  reply_json (rep, 200, out);
}

void api_container_inspect (struct request *req, struct reply *rep)
{
  WITH_CONTAINER (req, rep, c);
  reply_json (rep, 200, container_inspect_json (req->daemon, c));
  container_put (req->daemon->containers, c);
}

/* ---- lifecycle ---- */

static int query_int (struct request *req, const char *key, int fallback)
{
  const char *v = request_query (req, key);
  return v && *v ? atoi (v) : fallback;
}

void api_container_start (struct request *req, struct reply *rep)
{
  WITH_CONTAINER (req, rep, c);
  berth_err err = NULL;
  int r = container_start (req->daemon, c, &err);
  done (req, rep, c, r, &err, 204);
}

void api_container_stop (struct request *req, struct reply *rep)
{
  WITH_CONTAINER (req, rep, c);
  berth_err err = NULL;
  int r = container_stop (req->daemon, c, query_int (req, "t", -1), request_query (req, "signal"), &err);
  done (req, rep, c, r, &err, 204);
}

void api_container_kill (struct request *req, struct reply *rep)
{
  WITH_CONTAINER (req, rep, c);
  berth_err err = NULL;
  int r = container_kill (req->daemon, c, request_query (req, "signal"), &err);
  done (req, rep, c, r, &err, 204);
}

void api_container_restart (struct request *req, struct reply *rep)
{
  WITH_CONTAINER (req, rep, c);
  berth_err err = NULL;
  int r = container_restart (req->daemon, c, query_int (req, "t", -1), &err);
  done (req, rep, c, r, &err, 204);
}

void api_container_delete (struct request *req, struct reply *rep)
{
  WITH_CONTAINER (req, rep, c);
  berth_err err = NULL;
  int r = container_remove (req->daemon, c, request_query_bool (req, "force", false), &err);
  done (req, rep, c, r, &err, 204);
}

void api_container_pause (struct request *req, struct reply *rep)
{
  WITH_CONTAINER (req, rep, c);
  berth_err err = NULL;
  int r = container_pause (req->daemon, c, true, &err);
  done (req, rep, c, r, &err, 204);
}

void api_container_unpause (struct request *req, struct reply *rep)
{
  WITH_CONTAINER (req, rep, c);
  berth_err err = NULL;
  int r = container_pause (req->daemon, c, false, &err);
  done (req, rep, c, r, &err, 204);
}

void api_container_rename (struct request *req, struct reply *rep)
{
  WITH_CONTAINER (req, rep, c);
  berth_err err = NULL;
  int r = container_rename (req->daemon, c, request_query (req, "name"), &err);
  done (req, rep, c, r, &err, 204);
}

struct wait_ctx
{
  struct berthd *d;
  struct container *c;
  char *condition;
};

static void wait_ctx_free (void *p)
{
  struct wait_ctx *w = p;
  container_put (w->d->containers, w->c);
  free (w->condition);
  free (w);
}

static void wait_run (struct stream_out *out, void *ctx)
{
  struct wait_ctx *w = ctx;
  berth_err err = NULL;
  int code = 0;
  cleanup_json json_t *j = NULL;
  if (container_wait (w->d, w->c, w->condition, &code, &err) < 0)
    {
      j = json_pack ("{s:i, s:{s:s}}", "StatusCode", -1, "Error", "Message", err ? err->msg : "wait failed");
      berth_error_free (&err);
    }
  else
    j = json_pack ("{s:i, s:n}", "StatusCode", code, "Error");
  cleanup_free char *text = json_dumps (j, JSON_COMPACT);
  if (text)
    {
      stream_out_write (out, text, strlen (text));
      stream_out_write (out, "\n", 1);
    }
}

/* The docker CLI waits for the answer's headers before it starts the
 * container (`docker run`), so they go out at once and the status code
 * follows in the body when the condition holds, as dockerd does. */
void api_container_wait (struct request *req, struct reply *rep)
{
  const char *condition = request_query (req, "condition");
  if (condition && *condition && strcmp (condition, "not-running") != 0 && strcmp (condition, "next-exit") != 0
      && strcmp (condition, "removed") != 0)
    return reply_error (rep, 400, "invalid condition: \"%s\"", condition);
  WITH_CONTAINER (req, rep, c);
  struct wait_ctx *w = calloc (1, sizeof *w);
  if (w == NULL)
    {
      container_put (req->daemon->containers, c);
      return reply_error (rep, 500, "out of memory");
    }
  w->d = req->daemon;
  w->c = c;
  w->condition = condition ? strdup (condition) : NULL;
  reply_stream (rep, 200, "application/json", wait_run, w, wait_ctx_free);
}

void api_container_update (struct request *req, struct reply *rep)
{
  cleanup_json json_t *body = request_json (req, rep);
  if (body == NULL)
    return;
  WITH_CONTAINER (req, rep, c);
  berth_err err = NULL;
  json_t *warnings = NULL;
  if (container_update (req->daemon, c, body, &warnings, &err) < 0)
    reply_berth_error (rep, &err);
  else
    reply_json (rep, 200, json_pack ("{s:o}", "Warnings", warnings ? warnings : json_array ()));
  container_put (req->daemon->containers, c);
}

void api_container_resize (struct request *req, struct reply *rep)
{
  WITH_CONTAINER (req, rep, c);
  berth_err err = NULL;
  int h = query_int (req, "h", 0), w = query_int (req, "w", 0);
  containers_lock (req->daemon->containers);
  bool live = c->status == CT_RUNNING || c->status == CT_PAUSED || c->monitor_pid > 0;
  containers_unlock (req->daemon->containers);
  if (!live)
    reply_error (rep, 409, "Container %s is not running", c->id);
  else if (h < 0 || w < 0 || h > 65535 || w > 65535)
    reply_error (rep, 400, "invalid terminal size %dx%d", h, w);
  else if (monitor_resize (c->state_dir, h, w, &err) < 0)
    reply_berth_error (rep, &err);
  else
    reply_text (rep, 200, NULL, "");
  container_put (req->daemon->containers, c);
}

/* ---- prune ---- */

static const char *const prune_filters[] = { "label", "until", NULL };

void api_containers_prune (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  cleanup_json json_t *filters = api_parse_filters (req, rep, prune_filters);
  int64_t until;
  if (filters == NULL || !api_filter_until (filters, rep, &until))
    return;
  cleanup_json json_t *labels = api_filter_values (filters, "label");
  size_t n;
  struct container **list = containers_all (d->containers, &n);
  json_t *deleted = json_array ();
  for (size_t i = 0; i < n; i++)
    {
      struct container *c = list[i];
      containers_lock (d->containers);
      bool stopped = c->status == CT_EXITED || c->status == CT_CREATED || c->status == CT_DEAD;
      bool old = api_created_before (c->created, until);
      containers_unlock (d->containers);
      json_t *j = container_list_json (d, c);
      bool all_labels = true;
      size_t k;
      json_t *v;
      json_array_foreach (labels, k, v)
        all_labels &= json_is_string (v) && match_label (json_string_value (v), j);
      json_decref (j);
      if (stopped && old && all_labels && container_remove (d, c, false, NULL) == 0)
        json_array_append_new (deleted, json_string (c->id));
    }
  containers_put_all (d->containers, list, n);
  reply_json (rep, 200, json_pack ("{s:o, s:i}", "ContainersDeleted", deleted, "SpaceReclaimed", 0));
}
