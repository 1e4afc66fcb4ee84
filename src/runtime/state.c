#include "runtime/state.h"
#include "runtime/cgroup.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void state_free (struct container_state *st)
{
  if (st == NULL)
    return;
  free (st->id);
  free (st->dir);
  free (st->bundle);
  free (st->rootfs);
  free (st->created);
  free (st->cgroup_path);
  if (st->annotations)
    json_decref (st->annotations);
  if (st->config)
    json_decref (st->config);
  free (st);
}

char *state_dir_for (struct berth_global *g, const char *id)
{
  char *dir = NULL;
  if (asprintf (&dir, "%s/%s", g->state_root, id) < 0)
    return NULL;
  return dir;
}


unsigned long long proc_start_time (pid_t pid)
{
  char path[64];
  cleanup_free char *buf = NULL;
  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  if (pid <= 0 || berth_read_file (path, 4096, &buf, NULL, NULL) < 0)
    return 0;
  /* The command name may contain spaces and parentheses: skip to the last ')'. */
  char *p = strrchr (buf, ')');
  if (p == NULL || p[1] == '\0')
    return 0;
  p += 2;
  if (*p == 'Z' || *p == 'X')
    return 0;
  /* p is field 3 (state); start time is field 22. */
  for (int field = 3; field < 22 && p; field++)
    {
      p = strchr (p, ' ');
      if (p)
        p++;
    }
  return p ? strtoull (p, NULL, 10) : 0;
}

static char *dup_or_null (const char *s) { return s ? strdup (s) : NULL; }

int state_load (struct berth_global *g, const char *id, struct container_state **out, berth_err *err)
{
  if (berth_validate_id (id, err) < 0)
    return -EINVAL;
  cleanup_free char *dir = state_dir_for (g, id);
  cleanup_free char *path = NULL;
  if (dir == NULL || asprintf (&path, "%s/state.json", dir) < 0)
    return berth_fail (err, ENOMEM, "state");
  if (access (path, F_OK) < 0)
    return berth_fail (err, ENOENT, "container `%s` does not exist", id);
  cleanup_json json_t *j = berth_json_load_file (path, err);
  if (j == NULL)
    return berth_error_prefix (err, "container `%s`: corrupt state", id);
  struct container_state *st = calloc (1, sizeof *st);
  if (st == NULL)
    return berth_fail (err, ENOMEM, "state");
  st->id = strdup (id);
  st->dir = take_ptr (dir);
  st->pid = (pid_t) berth_json_int (j, "pid", 0);
  st->start_time = (unsigned long long) berth_json_int (j, "start_time", 0);
  st->bundle = dup_or_null (berth_json_str (j, "bundle"));
  st->rootfs = dup_or_null (berth_json_str (j, "rootfs"));
  st->created = dup_or_null (berth_json_str (j, "created"));
  st->cgroup_path = dup_or_null (berth_json_str (j, "cgroup_path"));
  json_t *ann = berth_json_obj (j, "annotations");
  st->annotations = ann ? json_incref (ann) : json_object ();
  *out = st;
  return 0;
}

int state_save (struct container_state *st, berth_err *err)
{
  cleanup_json json_t *j = json_pack ("{s:s, s:i, s:I, s:s?, s:s?, s:s?, s:s?, s:O?}",
                                      "id", st->id, "pid", (int) st->pid,
                                      "start_time", (json_int_t) st->start_time,
                                      "bundle", st->bundle, "rootfs", st->rootfs,
                                      "created", st->created, "cgroup_path", st->cgroup_path,
                                      "annotations", st->annotations);
  cleanup_free char *path = NULL;
  if (j == NULL || asprintf (&path, "%s/state.json", st->dir) < 0)
    return berth_fail (err, ENOMEM, "state");
  return berth_json_replace_file (path, j, err);
}

json_t *state_config (struct container_state *st, berth_err *err)
{
  if (st->config)
    return st->config;
  cleanup_free char *path = NULL;
  if (asprintf (&path, "%s/config.json", st->dir) < 0)
    return NULL;
  st->config = berth_json_load_file (path, err);
  return st->config;
}

bool state_init_alive (struct container_state *st)
{
  return st->pid > 0 && st->start_time != 0 && proc_start_time (st->pid) == st->start_time;
}

static bool cgroup_frozen (struct container_state *st)
{
  cleanup_cgroup struct cgroup_manager *m = NULL;
  bool frozen = false;
  berth_err err = NULL;
  if (st->cgroup_path == NULL || cgroup_manager_new (st->cgroup_path, &m, &err) < 0
      || cgroup_is_frozen (m, &frozen, &err) < 0)
    {
      berth_error_free (&err);
      return false;
    }
  return frozen;
}

enum container_status state_status (struct container_state *st)
{
  if (!state_init_alive (st))
    return STATUS_STOPPED;
  char fifo[4096];
  snprintf (fifo, sizeof fifo, "%s/exec.fifo", st->dir);
  if (access (fifo, F_OK) == 0)
    return STATUS_CREATED;
  if (cgroup_frozen (st))
    return STATUS_PAUSED;
  return STATUS_RUNNING;
}

const char *state_status_name (enum container_status s)
{
  switch (s)
    {
    case STATUS_CREATED: return "created";
    case STATUS_RUNNING: return "running";
    case STATUS_PAUSED: return "paused";
    default: return "stopped";
    }
}

json_t *state_to_json (struct container_state *st, const char *status)
{
  bool stopped = strcmp (status, "stopped") == 0;
  return json_pack ("{s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:O}",
                    "ociVersion", BERTH_OCI_VERSION, "id", st->id, "status", status,
                    "pid", stopped ? 0 : (int) st->pid, "bundle", st->bundle ? st->bundle : "",
                    "rootfs", st->rootfs ? st->rootfs : "", "created", st->created ? st->created : "",
                    "owner", "", "annotations", st->annotations);
}
