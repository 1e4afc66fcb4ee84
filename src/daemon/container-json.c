/* Docker's JSON views of a container: inspect, list, status text. */
#include "daemon/container-internal.h"
#include "daemon/network.h"
#include "common/cleanup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ZERO_TIME "0001-01-01T00:00:00Z"

static time_t parse_time (const char *s)
{
  struct tm tm = { 0 };
  if (s == NULL || strptime (s, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
    return 0;
  return timegm (&tm);
}

/* Go's units.HumanDuration, which `docker ps` prints. */
static char *human_duration (long secs)
{
  char *s = NULL;
  long mins = secs / 60, hours = mins / 60;
  int r;
  if (secs < 1)
    r = asprintf (&s, "Less than a second");
  else if (secs == 1)
    r = asprintf (&s, "1 second");
  else if (secs < 60)
    r = asprintf (&s, "%ld seconds", secs);
  else if (mins == 1)
    r = asprintf (&s, "About a minute");
  else if (mins < 60)
    r = asprintf (&s, "%ld minutes", mins);
  else if ((long) (hours + 0.5) == 1)
    r = asprintf (&s, "About an hour");
  else if (hours < 48)
    r = asprintf (&s, "%ld hours", hours);
  else if (hours < 24 * 7 * 2)
    r = asprintf (&s, "%ld days", hours / 24);
  else
    r = asprintf (&s, "%ld weeks", hours / 24 / 7);
  return r < 0 ? NULL : s;
}

/* `docker ps`: "Up 5 seconds (healthy)", "(health: starting)". */
static const char *health_suffix (struct container *c)
{
  const char *st = json_string_value (json_object_get (c->health, "Status"));
  if (st == NULL)
    return "";
  if (strcmp (st, "starting") == 0)
    return " (health: starting)";
  return strcmp (st, "healthy") == 0 ? " (healthy)" : " (unhealthy)";
}

char *container_status_text (struct container *c)
{
  char *s = NULL;
  time_t now = time (NULL);
  cleanup_free char *dur = NULL;
  int r = 0;
  switch (c->status)
    {
    case CT_RUNNING:
    case CT_PAUSED:
      dur = human_duration (now - parse_time (c->started_at));
      r = asprintf (&s, "Up %s%s%s", dur ? dur : "", health_suffix (c), c->status == CT_PAUSED ? " (Paused)" : "");
      break;
    case CT_RESTARTING:
      dur = human_duration (now - parse_time (c->finished_at));
      r = asprintf (&s, "Restarting (%d) %s ago", c->exit_code, dur ? dur : "");
      break;
    case CT_EXITED:
      dur = human_duration (now - parse_time (c->finished_at));
      r = asprintf (&s, "Exited (%d) %s ago", c->exit_code, dur ? dur : "");
      break;
    case CT_REMOVING:
      return strdup ("Removal In Progress");
    case CT_DEAD:
      return strdup ("Dead");
    case CT_CREATED:
      return strdup ("Created");
    }
  return r < 0 ? NULL : s;
}

static json_t *str_json (const char *s, const char *fallback)
{
  return json_string (s ? s : fallback);
}

static json_t *entrypoint_and_cmd (struct container *c)
{
  json_t *all = json_array ();
  json_t *ep = json_object_get (c->config, "Entrypoint"), *cmd = json_object_get (c->config, "Cmd");
  if (json_is_array (ep))
    json_array_extend (all, ep);
  if (json_is_array (cmd))
    json_array_extend (all, cmd);
  return all;
}

/* `docker ps`'s COMMAND, built as dockerd does: the path, then the
 * arguments, those with a space in single quotes. */
static char *command_line (struct container *c)
{
  json_t *all = entrypoint_and_cmd (c);
  size_t len = 1, i;
  json_t *v;
  json_array_foreach (all, i, v) len += strlen (json_string_value (v) ?: "") + 3;
  char *s = calloc (1, len);
  json_array_foreach (all, i, v)
    {
      const char *word = json_string_value (v) ?: "";
      bool quote = i > 0 && strchr (word, ' ');
      if (s == NULL)
        break;
      if (i > 0)
        strcat (s, " ");
      if (quote)
        strcat (s, "'");
      strcat (s, word);
      if (quote)
        strcat (s, "'");
    }
  json_decref (all);
  return s;
}

/* Path and Args: the first word of Entrypoint+Cmd, and the rest. */
static void path_and_args (struct container *c, json_t **path, json_t **args)
{
  json_t *all = entrypoint_and_cmd (c);
  *path = json_string (json_string_value (json_array_get (all, 0)) ?: "");
  if (json_array_size (all) > 0)
    json_array_remove (all, 0);
  *args = all;
}

/* Binds and Mounts as inspect's Mounts list. */
static json_t *mounts_json (struct container *c)
{
  json_t *out = json_array ();
  json_t *binds = json_object_get (c->host_config, "Binds");
  size_t i;
  json_t *v;
  json_array_foreach (binds, i, v)
    {
      const char *b = json_string_value (v);
      if (b == NULL)
        continue;
      cleanup_free char *copy = strdup (b);
      if (copy == NULL)
        continue;
      char *src = copy, *dst = strchr (copy, ':');
      if (dst == NULL)
        continue;
      *dst++ = '\0';
      char *mode = strchr (dst, ':');
      if (mode)
        *mode++ = '\0';
      bool rw = mode == NULL || strstr (mode, "ro") == NULL;
      json_array_append_new (out, json_pack ("{s:s, s:s, s:s, s:s, s:b, s:s}", "Type", "bind", "Source", src,
                                             "Destination", dst, "Mode", mode ? mode : "", "RW", rw, "Propagation",
                                             "rprivate"));
    }
  return out;
}

static char *dir_file (struct container *c, const char *name)
{
  char *p = NULL;
  return asprintf (&p, "%s/%s", c->dir, name) < 0 ? strdup ("") : p;
}

json_t *container_inspect_json (struct berthd *d, struct container *c)
{
  json_t *path, *args;
  containers_lock (c->daemon->containers);
  path_and_args (c, &path, &args);
  cleanup_free char *hostname = dir_file (c, "hostname"), *hosts = dir_file (c, "hosts");
  cleanup_free char *resolv = dir_file (c, "resolv.conf"), *upper = dir_file (c, "fs/upper");
  cleanup_free char *work = dir_file (c, "fs/work"), *merged = dir_file (c, "rootfs"), *log = NULL;
  if (asprintf (&log, "%s/%s-json.log", c->dir, c->id) < 0)
    log = NULL;
  json_t *state = json_pack (
      "{s:s, s:b, s:b, s:b, s:b, s:b, s:i, s:i, s:s, s:o, s:o}", "Status",
      container_status_name (c->status),
      "Running", c->status == CT_RUNNING || c->status == CT_PAUSED, "Paused", c->status == CT_PAUSED, "Restarting",
      c->status == CT_RESTARTING, "OOMKilled", c->oom_killed, "Dead", c->status == CT_DEAD, "Pid", (int) c->pid,
      "ExitCode", c->exit_code, "Error", c->error ? c->error : "", "StartedAt", str_json (c->started_at, ZERO_TIME),
      "FinishedAt", str_json (c->finished_at, ZERO_TIME));
  if (c->health)
    json_object_set_new (state, "Health", json_deep_copy (c->health));
  json_t *exec_ids = json_null ();
  if (c->exec_ids && c->exec_ids[0])
    {
      exec_ids = json_array ();
      for (char **e = c->exec_ids; *e; e++)
        json_array_append_new (exec_ids, json_string (*e));
    }
  json_t *j = json_pack ("{s:s, s:s, s:o, s:o, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:o,"
                         " s:O, s:{s:s, s:{s:s, s:s, s:s, s:s}}, s:o, s:O, s:o}",
                         "Id", c->id, "Created", c->created, "Path", path, "Args", args, "State", state, "Image",
                         c->image_id, "ResolvConfPath", resolv, "HostnamePath", hostname, "HostsPath", hosts,
                         "LogPath", log ? log : "", "Name", c->name, "RestartCount", c->restart_count, "Driver", "overlay2",
                         "Platform", "linux", "MountLabel", "", "ProcessLabel", "", "AppArmorProfile", "", "ExecIDs",
                         exec_ids, "HostConfig", c->host_config, "GraphDriver", "Name", "overlay2", "Data",
                         "LowerDir", "", "MergedDir", merged, "UpperDir", upper, "WorkDir", work, "Mounts",
                         mounts_json (c), "Config", c->config, "NetworkSettings", network_settings_json (d, c));
  containers_unlock (c->daemon->containers);
  return j;
}

json_t *container_list_json (struct berthd *d, struct container *c)
{
  (void) d;
  containers_lock (c->daemon->containers);
  cleanup_free char *status = container_status_text (c);
  cleanup_free char *command = command_line (c);
  const char *image = json_string_value (json_object_get (c->config, "Image"));
  const char *state = container_status_name (c->status);
  json_t *labels = json_object_get (c->config, "Labels");
  labels = json_is_object (labels) ? json_incref (labels) : json_object ();
  json_t *j = json_pack ("{s:s, s:[s], s:s, s:s, s:s, s:I, s:o, s:o, s:s, s:s, s:{s:s}, s:o, s:o}", "Id",
                         c->id, "Names", c->name, "Image", image ? image : c->image_id, "ImageID", c->image_id,
                         "Command", command ? command : "", "Created", (json_int_t) parse_time (c->created), "Ports",
                         network_ports_list (c), "Labels", labels, "State", state, "Status",
                         status ? status : "", "HostConfig", "NetworkMode",
                         json_string_value (json_object_get (c->host_config, "NetworkMode")) ?: "none",
                         "NetworkSettings", network_settings_summary (c), "Mounts", mounts_json (c));
  containers_unlock (c->daemon->containers);
  return j;
}
