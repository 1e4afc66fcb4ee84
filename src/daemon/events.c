/* berthd's event log: a ring of the last EVENTS_KEEP events, readers that
 * walk it by event number and wait on a condition variable for new ones,
 * and Docker's event filters. */
#include "daemon/events.h"
#include "common/cleanup.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct events
{
  pthread_mutex_t lock;
  pthread_cond_t changed;      /* broadcast on every event and at shutdown */
  uint64_t emitted;            /* events ever emitted: the next one's number */
  bool stopping;
  /* Event number N lives in slot N % EVENTS_KEEP while it is kept. */
  json_t *ring[EVENTS_KEEP];
  int64_t time_ns[EVENTS_KEEP];
};

struct events_filter
{
  json_t *values;              /* {key: ["value", ...]} */
};

static int64_t now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct events *events_new (void)
{
  struct events *ev = calloc (1, sizeof *ev);
  if (ev == NULL)
    return NULL;
  pthread_mutex_init (&ev->lock, NULL);
  pthread_cond_init (&ev->changed, NULL);
  return ev;
}

void events_free (struct events *ev)
{
  if (ev == NULL)
    return;
  for (size_t i = 0; i < EVENTS_KEEP; i++)
    if (ev->ring[i])
      json_decref (ev->ring[i]);
  pthread_cond_destroy (&ev->changed);
  pthread_mutex_destroy (&ev->lock);
  free (ev);
}

static uint64_t oldest_kept (const struct events *ev)
{
  return ev->emitted > EVENTS_KEEP ? ev->emitted - EVENTS_KEEP : 0;
}

/* Docker's message without its time: the legacy status/id/from fields
 * exist for containers and images only. */
static json_t *make_message (const char *type, const char *action, const char *id, json_t *attrs)
{
  json_t *msg = json_object ();
  bool legacy = strcmp (type, "container") == 0 || strcmp (type, "image") == 0;
  if (legacy)
    {
      json_object_set_new (msg, "status", json_string (action));
      json_object_set_new (msg, "id", json_string (id));
    }
  const char *from = strcmp (type, "container") == 0 ? berth_json_str (attrs, "image") : NULL;
  if (from)
    json_object_set_new (msg, "from", json_string (from));
  json_object_set_new (msg, "Type", json_string (type));
  json_object_set_new (msg, "Action", json_string (action));
  json_object_set_new (msg, "Actor", json_pack ("{s:s, s:O}", "ID", id, "Attributes", attrs));
  json_object_set_new (msg, "scope", json_string ("local"));
  return msg;
}

void events_emit (struct events *ev, const char *type, const char *action, const char *id, json_t *attrs)
{
  cleanup_json json_t *owned_attrs = json_is_object (attrs) ? attrs : json_object ();
  if (attrs && owned_attrs != attrs)
    json_decref (attrs);
  if (ev == NULL || type == NULL || action == NULL || owned_attrs == NULL)
    return;
  json_t *msg = make_message (type, action, id ? id : "", owned_attrs);
  if (msg == NULL)
    return;
  pthread_mutex_lock (&ev->lock);
  /* The time is taken under the lock so that the ring stays in time
   * order, which the "since" search relies on. */
  int64_t t = now_ns ();
  json_object_set_new (msg, "time", json_integer (t / 1000000000));
  json_object_set_new (msg, "timeNano", json_integer (t));
  size_t slot = ev->emitted % EVENTS_KEEP;
  if (ev->ring[slot])
    json_decref (ev->ring[slot]);
  ev->ring[slot] = msg;
  ev->time_ns[slot] = t;
  ev->emitted++;
  pthread_cond_broadcast (&ev->changed);
  pthread_mutex_unlock (&ev->lock);
}

void events_shutdown (struct events *ev)
{
  if (ev == NULL)
    return;
  pthread_mutex_lock (&ev->lock);
  ev->stopping = true;
  pthread_cond_broadcast (&ev->changed);
  pthread_mutex_unlock (&ev->lock);
}

/* ---- filters ---- */

static const char *const filter_keys[] = {
  "type", "event", "scope", "label", "image", "container", "daemon", "network",
  "volume", "plugin", "node", "service", "secret", "config", NULL,
};

static bool known_key (const char *key)
{
  for (const char *const *k = filter_keys; *k; k++)
    if (strcmp (*k, key) == 0)
      return true;
  return false;
}

/* One key's values, from ["v", ...] or the legacy {"v": true}. */
static int filter_values (const char *key, json_t *v, json_t **out, berth_err *err)
{
  cleanup_json json_t *list = json_array ();
  const char *name;
  json_t *x;
  size_t i;
  if (json_is_array (v))
    json_array_foreach (v, i, x)
      {
        if (!json_is_string (x))
          return berth_fail (err, EINVAL, "invalid filter '%s': values must be strings", key);
        json_array_append (list, x);
      }
  else if (json_is_object (v))
    json_object_foreach (v, name, x)
      {
        if (!json_is_boolean (x))
          return berth_fail (err, EINVAL, "invalid filter '%s': expected {\"value\": true}", key);
        json_array_append_new (list, json_string (name));
      }
  else
    return berth_fail (err, EINVAL, "invalid filter '%s': expected a list of values", key);
  *out = take_ptr (list);
  return 0;
}

int events_filter_parse (const char *text, struct events_filter **out, berth_err *err)
{
  cleanup_json json_t *values = json_object ();
  if (text && *text)
    {
      cleanup_json json_t *j = berth_json_load_buffer (text, strlen (text), "filters", err);
      if (j == NULL)
        return -EINVAL;
      if (!json_is_object (j))
        return berth_fail (err, EINVAL, "filters: expected a JSON object");
      const char *key;
      json_t *v;
      json_object_foreach (j, key, v)
        {
          json_t *list = NULL;
          if (!known_key (key))
            return berth_fail_as (err, EINVAL, "invalid filter '%s'", key);
          if (filter_values (key, v, &list, err) < 0)
            return -EINVAL;
          json_object_set_new (values, key, list);
        }
    }
  struct events_filter *f = calloc (1, sizeof *f);
  if (f == NULL)
    return berth_fail (err, ENOMEM, "filters");
  f->values = take_ptr (values);
  *out = f;
  return 0;
}

void events_filter_free (struct events_filter *f)
{
  if (f == NULL)
    return;
  json_decref (f->values);
  free (f);
}

/* The values of KEY, or NULL when the key sets no condition. */
static json_t *values_of (const struct events_filter *f, const char *key)
{
  json_t *v = f ? json_object_get (f->values, key) : NULL;
  return json_array_size (v) > 0 ? v : NULL;
}

static bool has_value (const struct events_filter *f, const char *key, const char *value)
{
  json_t *list = values_of (f, key), *x;
  size_t i;
  json_array_foreach (list, i, x)
    if (strcmp (json_string_value (x), value) == 0)
      return true;
  return false;
}

/* Docker's filters.Args.ExactMatch: no values for KEY matches anything. */
static bool exact_match (const struct events_filter *f, const char *key, const char *source)
{
  return values_of (f, key) == NULL || (source && has_value (f, key, source));
}

/* filters.Args.FuzzyMatch: exact, or a value is a prefix of SOURCE. */
static bool fuzzy_match (const struct events_filter *f, const char *key, const char *source)
{
  json_t *list = values_of (f, key), *x;
  size_t i;
  if (list == NULL)
    return true;
  json_array_foreach (list, i, x)
    if (source && strncmp (source, json_string_value (x), strlen (json_string_value (x))) == 0)
      return true;
  return false;
}

static bool match_event (const struct events_filter *f, const char *action)
{
  /* Actions like "health_status: healthy" and "exec_start: sh -c ..."
   * are asked for by their first word. */
  if (has_value (f, "event", "health_status") || has_value (f, "event", "exec_create")
      || has_value (f, "event", "exec_start"))
    return fuzzy_match (f, "event", action);
  return exact_match (f, "event", action);
}

/* "docker.io/library/busybox:1.36@sha256:..." -> "busybox", as Docker's
 * stripTag (reference.FamiliarName) does. */
static char *strip_tag (const char *ref)
{
  char *s = strdup (ref ? ref : "");
  if (s == NULL)
    return NULL;
  char *at = strchr (s, '@');
  if (at)
    *at = '\0';
  char *colon = strrchr (s, ':'), *slash = strrchr (s, '/');
  if (colon && (slash == NULL || colon > slash))
    *colon = '\0';
  static const char *const prefixes[] = { "docker.io/library/", "index.docker.io/library/", "docker.io/",
                                          "index.docker.io/", NULL };
  for (const char *const *p = prefixes; *p; p++)
    if (strncmp (s, *p, strlen (*p)) == 0)
      {
        memmove (s, s + strlen (*p), strlen (s + strlen (*p)) + 1);
        break;
      }
  return s;
}

static bool match_image (const struct events_filter *f, const char *type, const char *id, json_t *attrs)
{
  if (values_of (f, "image") == NULL)
    return true;
  const char *name = berth_json_str (attrs, strcmp (type, "image") == 0 ? "name" : "image");
  cleanup_free char *bare_id = strip_tag (id), *bare_name = strip_tag (name);
  return has_value (f, "image", id) || (name && has_value (f, "image", name))
         || (bare_id && has_value (f, "image", bare_id)) || (name && bare_name && has_value (f, "image", bare_name));
}

/* filters.Args.MatchKVList: every label value must be among ATTRS. */
static bool match_labels (const struct events_filter *f, json_t *attrs)
{
  json_t *list = values_of (f, "label"), *x;
  size_t i;
  if (list == NULL)
    return true;
  json_array_foreach (list, i, x)
    {
      const char *want = json_string_value (x), *eq = strchr (want, '=');
      cleanup_free char *key = eq ? strndup (want, (size_t) (eq - want)) : strdup (want);
      const char *have = key ? berth_json_str (attrs, key) : NULL;
      if (have == NULL || (eq && strcmp (have, eq + 1) != 0))
        return false;
    }
  return true;
}

/* Keys that match the actor's id or name by prefix, whatever the type. */
static const char *const name_keys[] = {
  "container", "daemon", "network", "volume", "plugin", "node", "service", "secret", "config", NULL,
};

bool events_filter_match (const struct events_filter *f, json_t *msg)
{
  if (f == NULL)
    return true;
  const char *type = berth_json_str (msg, "Type");
  const char *action = berth_json_str (msg, "Action");
  json_t *actor = berth_json_obj (msg, "Actor");
  json_t *attrs = berth_json_obj (actor, "Attributes");
  const char *id = berth_json_str (actor, "ID");
  const char *name = berth_json_str (attrs, "name");
  if (type == NULL || action == NULL || id == NULL)
    return false;
  if (!match_event (f, action) || !exact_match (f, "type", type) || !exact_match (f, "scope", "local"))
    return false;
  for (const char *const *k = name_keys; *k; k++)
    if (!fuzzy_match (f, *k, id) && !fuzzy_match (f, *k, name))
      return false;
  return match_image (f, type, id, attrs) && match_labels (f, attrs);
}

/* ---- readers ---- */

void events_reader_init (struct events *ev, struct events_reader *r, int64_t since_ns, int64_t until_ns,
                         const struct events_filter *filter)
{
  r->until_ns = until_ns;
  r->filter = filter;
  pthread_mutex_lock (&ev->lock);
  r->next = ev->emitted;
  if (since_ns > 0 || until_ns > 0)
    {
      uint64_t n = oldest_kept (ev);
      while (n < ev->emitted && ev->time_ns[n % EVENTS_KEEP] < since_ns)
        n++;
      r->next = n;
    }
  pthread_mutex_unlock (&ev->lock);
}

/* The next kept event for R, under the lock; NULL when R has read all. */
static json_t *next_kept (struct events *ev, struct events_reader *r)
{
  if (r->next < oldest_kept (ev))
    r->next = oldest_kept (ev);
  while (r->next < ev->emitted)
    {
      size_t slot = r->next++ % EVENTS_KEEP;
      if (r->until_ns > 0 && ev->time_ns[slot] > r->until_ns)
        continue;
      if (events_filter_match (r->filter, ev->ring[slot]))
        return json_incref (ev->ring[slot]);
    }
  return NULL;
}

int events_next (struct events *ev, struct events_reader *r, int64_t deadline_ns, json_t **msg)
{
  int ret = 0;
  pthread_mutex_lock (&ev->lock);
  for (;;)
    {
      if ((*msg = next_kept (ev, r)) != NULL)
        {
          ret = 1;
          break;
        }
      if (ev->stopping)
        {
          ret = -ESHUTDOWN;
          break;
        }
      if (deadline_ns == 0)
        {
          pthread_cond_wait (&ev->changed, &ev->lock);
          continue;
        }
      if (now_ns () >= deadline_ns)
        break;
      struct timespec ts = { .tv_sec = deadline_ns / 1000000000, .tv_nsec = deadline_ns % 1000000000 };
      pthread_cond_timedwait (&ev->changed, &ev->lock, &ts);
    }
  pthread_mutex_unlock (&ev->lock);
  return ret;
}
