/* The container table: lookups, references, names and persistence. */
#include "daemon/container-internal.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *container_status_name (enum container_status s)
{
  static const char *const names[] = { "created", "running", "paused", "restarting", "removing", "exited", "dead" };
  return (unsigned) s < sizeof names / sizeof names[0] ? names[s] : "dead";
}

static enum container_status status_from_name (const char *s)
{
  for (int i = CT_CREATED; i <= CT_DEAD; i++)
    if (s && strcmp (container_status_name (i), s) == 0)
      return i;
  return CT_DEAD;
}

void containers_lock (struct containers *cs)
{
  pthread_mutex_lock (&cs->lock);
}

void containers_unlock (struct containers *cs)
{
  pthread_mutex_unlock (&cs->lock);
}

void containers_wake_all (struct containers *cs)
{
  pthread_cond_broadcast (&cs->changed);
}

/* ---- the table (caller holds the lock) ---- */

int container_table_insert (struct containers *cs, struct container *c)
{
  if (cs->n == cs->cap)
    {
      size_t cap = cs->cap ? cs->cap * 2 : 64;
      struct container **nl = realloc (cs->list, cap * sizeof *nl);
      if (nl == NULL)
        return -ENOMEM;
      cs->list = nl;
      cs->cap = cap;
    }
  cs->list[cs->n++] = c;
  c->refs++;
  return 0;
}

static void container_free (struct container *c)
{
  free (c->name);
  free (c->image_id);
  json_decref (c->config);
  json_decref (c->host_config);
  json_decref (c->net_settings);
  free (c->created);
  free (c->runtime);
  free (c->dir);
  free (c->state_dir);
  free (c->error);
  free (c->started_at);
  free (c->finished_at);
  if (c->exec_ids)
    for (char **e = c->exec_ids; *e; e++)
      free (*e);
  free (c->exec_ids);
  json_decref (c->health);
  pthread_mutex_destroy (&c->op_lock);
  free (c);
}

void container_table_remove (struct containers *cs, struct container *c)
{
  for (size_t i = 0; i < cs->n; i++)
    if (cs->list[i] == c)
      {
        cs->list[i] = cs->list[--cs->n];
        c->removed = true;
        if (--c->refs == 0)
          container_free (c);
        return;
      }
}

struct container *container_find_locked (struct containers *cs, const char *name_or_id)
{
  if (name_or_id == NULL || *name_or_id == '\0')
    return NULL;
  const char *bare = name_or_id[0] == '/' ? name_or_id + 1 : name_or_id;
  for (size_t i = 0; i < cs->n; i++)
    if (strcmp (cs->list[i]->id, name_or_id) == 0 || strcmp (cs->list[i]->name + 1, bare) == 0)
      return cs->list[i];
  /* A unique id prefix (Docker accepts any length). */
  struct container *found = NULL;
  size_t len = strlen (name_or_id);
  for (size_t i = 0; i < cs->n; i++)
    if (strncmp (cs->list[i]->id, name_or_id, len) == 0)
      {
        if (found)
          return NULL;
        found = cs->list[i];
      }
  return found;
}

int container_get (struct containers *cs, const char *name_or_id, struct container **out, berth_err *err)
{
  containers_lock (cs);
  struct container *c = container_find_locked (cs, name_or_id);
  if (c)
    c->refs++;
  containers_unlock (cs);
  *out = c;
  if (c == NULL)
    return berth_fail_as (err, ENOENT, "No such container: %s", name_or_id ? name_or_id : "");
  return 0;
}

void container_put (struct containers *cs, struct container *c)
{
  if (c == NULL)
    return;
  containers_lock (cs);
  if (--c->refs == 0)
    container_free (c);
  containers_unlock (cs);
}

struct container **containers_all (struct containers *cs, size_t *n)
{
  containers_lock (cs);
  struct container **list = calloc (cs->n + 1, sizeof *list);
  *n = 0;
  if (list)
    for (size_t i = 0; i < cs->n; i++)
      {
        list[(*n)++] = cs->list[i];
        cs->list[i]->refs++;
      }
  containers_unlock (cs);
  return list;
}

void containers_put_all (struct containers *cs, struct container **list, size_t n)
{
  for (size_t i = 0; i < n; i++)
    container_put (cs, list[i]);
  free (list);
}

bool containers_use_image (const char *image_id, void *opaque)
{
  struct containers *cs = opaque;
  bool used = false;
  containers_lock (cs);
  for (size_t i = 0; i < cs->n && !used; i++)
    used = strcmp (cs->list[i]->image_id, image_id) == 0;
  containers_unlock (cs);
  return used;
}

/* ---- names ---- */

/* Docker's rule for names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
bool container_name_valid (const char *name)
{
  if (name[0] == '/')
    name++;
  if (!isalnum ((unsigned char) name[0]) || strlen (name) < 2 || strlen (name) > 253)
    return false;
  for (const char *p = name; *p; p++)
    if (!isalnum ((unsigned char) *p) && *p != '_' && *p != '.' && *p != '-')
      return false;
  return true;
}

bool container_name_taken_locked (struct containers *cs, const char *name)
{
  const char *bare = name[0] == '/' ? name + 1 : name;
  for (size_t i = 0; i < cs->n; i++)
    if (strcmp (cs->list[i]->name + 1, bare) == 0)
      return true;
  return false;
}

/* Random names in Docker's adjective_noun style; the words are our own:
 * ships and harbours, after the project's name. */
char *container_random_name (struct containers *cs)
{
  static const char *const adjectives[] = {
    "able", "brave", "calm", "deft", "eager", "fair", "gentle", "happy", "keen", "lucid", "merry", "nimble",
    "proud", "quiet", "rapid", "steady", "swift", "tidy", "vivid", "witty", "bold", "bright", "clever", "daring",
  };
  static const char *const nouns[] = {
    "anchor", "barge", "buoy", "cabin", "compass", "dinghy", "dock", "ferry", "galley", "harbor", "hull",
    "jetty", "keel", "lantern", "mast", "pier", "quay", "rudder", "sail", "schooner", "skiff", "tug", "wharf",
    "yacht",
  };
  char *name = NULL;
  for (int attempt = 0; attempt < 100; attempt++)
    {
      unsigned r;
      if (getentropy (&r, sizeof r) < 0)
        r = (unsigned) rand ();
      free (name);
      name = NULL;
      const char *a = adjectives[r % (sizeof adjectives / sizeof *adjectives)];
      const char *n = nouns[(r / 64) % (sizeof nouns / sizeof *nouns)];
      if (asprintf (&name, attempt < 10 ? "/%s_%s" : "/%s_%s%d", a, n, attempt) < 0)
        return NULL;
      if (!container_name_taken_locked (cs, name))
        return name;
    }
  return name;
}

/* ---- persistence ---- */

static json_t *str_or_null (const char *s)
{
  return s ? json_string (s) : json_null ();
}

static json_t *container_to_json (struct container *c)
{
  json_t *state = json_pack ("{s:s, s:i, s:I, s:I, s:i, s:b, s:o, s:o, s:o}", "Status",
                             container_status_name (c->status), "Pid", (int) c->pid, "MonitorPid",
                             (json_int_t) c->monitor_pid, "MonitorStart", (json_int_t) c->monitor_start, "ExitCode",
                             c->exit_code, "OOMKilled", c->oom_killed, "Error", str_or_null (c->error), "StartedAt",
                             str_or_null (c->started_at), "FinishedAt", str_or_null (c->finished_at));
  return json_pack ("{s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:O, s:o, s:i, s:b, s:b}", "ID", c->id, "Name", c->name,
                    "Image", c->image_id, "Created", c->created, "Runtime", c->runtime, "Config", c->config,
                    "HostConfig", c->host_config, "NetworkSettings", c->net_settings, "State", state,
                    "RestartCount", c->restart_count, "HasBeenManuallyStopped", c->manually_stopped,
                    "HasBeenStartedBefore", c->has_been_started);
}

int container_save (struct containers *cs, struct container *c, berth_err *err)
{
  cleanup_json json_t *j = container_to_json (c);
  cleanup_free char *path = NULL;
  if (j == NULL || asprintf (&path, "%s/config.v2.json", c->dir) < 0)
    return berth_fail (err, ENOMEM, "container %s", c->id);
  (void) cs;
  return berth_json_write_file (path, j, err);
}

static char *dup_str (json_t *o, const char *key)
{
  const char *s = json_string_value (json_object_get (o, key));
  return s ? strdup (s) : NULL;
}

struct container *container_alloc (struct containers *cs, const char *id)
{
  struct container *c = calloc (1, sizeof *c);
  if (c == NULL)
    return NULL;
  snprintf (c->id, sizeof c->id, "%s", id);
  c->refs = 1; /* the caller's */
  c->daemon = cs->d;
  pthread_mutex_init (&c->op_lock, NULL);
  if (asprintf (&c->dir, "%s/%s", cs->dir, id) < 0 || asprintf (&c->state_dir, "%s/c/%s", cs->d->cfg.exec_root, id) < 0)
    {
      container_free (c);
      return NULL;
    }
  return c;
}

static struct container *container_from_json (struct containers *cs, const char *id, json_t *j)
{
  const char *jid = json_string_value (json_object_get (j, "ID"));
  json_t *state = json_object_get (j, "State");
  json_t *config = json_object_get (j, "Config"), *host_config = json_object_get (j, "HostConfig");
  if (jid == NULL || strcmp (jid, id) != 0 || !json_is_object (state) || !json_is_object (config)
      || !json_is_object (host_config) || !json_is_string (json_object_get (j, "Name"))
      || !json_is_string (json_object_get (j, "Image")))
    return NULL;
  struct container *c = container_alloc (cs, id);
  if (c == NULL)
    return NULL;
  c->name = dup_str (j, "Name");
  c->image_id = dup_str (j, "Image");
  c->created = dup_str (j, "Created");
  c->runtime = dup_str (j, "Runtime");
  c->config = json_incref (config);
  c->host_config = json_incref (host_config);
  json_t *net = json_object_get (j, "NetworkSettings");
  c->net_settings = json_is_object (net) && json_is_object (json_object_get (net, "Networks"))
                        ? json_incref (net)
                        : json_pack ("{s:{}, s:{}}", "Networks", "Ports");
  c->status = status_from_name (json_string_value (json_object_get (state, "Status")));
  c->pid = json_integer_value (json_object_get (state, "Pid"));
  c->monitor_pid = json_integer_value (json_object_get (state, "MonitorPid"));
  c->monitor_start = json_integer_value (json_object_get (state, "MonitorStart"));
  c->exit_code = json_integer_value (json_object_get (state, "ExitCode"));
  c->oom_killed = json_is_true (json_object_get (state, "OOMKilled"));
  c->error = dup_str (state, "Error");
  c->started_at = dup_str (state, "StartedAt");
  c->finished_at = dup_str (state, "FinishedAt");
  c->restart_count = json_integer_value (json_object_get (j, "RestartCount"));
  c->manually_stopped = json_is_true (json_object_get (j, "HasBeenManuallyStopped"));
  c->has_been_started = json_is_true (json_object_get (j, "HasBeenStartedBefore"));
  if (c->runtime == NULL)
    c->runtime = strdup ("berth");
  if (c->created == NULL)
    c->created = strdup ("0001-01-01T00:00:00Z");
  return c;
}

static bool is_container_id (const char *s)
{
  if (strlen (s) != 64)
    return false;
  for (const char *p = s; *p; p++)
    if (!isxdigit ((unsigned char) *p) || isupper ((unsigned char) *p))
      return false;
  return true;
}

/* A folder without a readable config.v2.json is a create that never got
 * acknowledged (berthd died half way): remove it. */
static void discard_partial (struct containers *cs, const char *id)
{
  cleanup_free char *dir = NULL, *rootfs = NULL;
  if (asprintf (&dir, "%s/%s", cs->dir, id) < 0 || asprintf (&rootfs, "%s/rootfs", dir) < 0)
    return;
  container_umount_path (rootfs);
  berth_warn ("removing the unfinished container folder %s", dir);
  berth_rm_rf (dir);
}

int containers_load (struct containers *cs, berth_err *err)
{
  cleanup_dir DIR *dir = opendir (cs->dir);
  if (dir == NULL)
    return berth_fail_errno (err, "open %s", cs->dir);
  struct dirent *de;
  while ((de = readdir (dir)) != NULL)
    {
      if (!is_container_id (de->d_name))
        continue;
      cleanup_free char *path = NULL;
      if (asprintf (&path, "%s/%s/config.v2.json", cs->dir, de->d_name) < 0)
        return berth_fail (err, ENOMEM, "load");
      berth_err e = NULL;
      cleanup_json json_t *j = berth_json_load_file (path, &e);
      struct container *c = j ? container_from_json (cs, de->d_name, j) : NULL;
      if (c == NULL)
        {
          berth_error_free (&e);
          discard_partial (cs, de->d_name);
          continue;
        }
      containers_lock (cs);
      int r = container_table_insert (cs, c);
      containers_unlock (cs);
      container_put (cs, c);
      if (r < 0)
        return berth_fail (err, -r, "load");
    }
  return 0;
}
