/* A container's life: create, start, stop, kill, pause, remove, wait, and
 * what happens when its process exits (--rm, restart policies). */
#include "daemon/container-internal.h"
#include "daemon/network.h"
#include "daemon/events.h"
#include "daemon/monitor-client.h"
#include "daemon/spec-gen.h"
#include "image/image.h"
#include "common/clock.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long `start` waits for attach sessions (made before it) to connect
 * to the new monitor, so that no early output is lost. */
#define ATTACH_CONNECT_TIMEOUT_MS 5000

static void set_str (char **dst, const char *v)
{
  free (*dst);
  *dst = v ? strdup (v) : NULL;
}

static void deadline_in (struct timespec *ts, long ms)
{
  clock_gettime (CLOCK_REALTIME, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L)
    {
      ts->tv_sec++;
      ts->tv_nsec -= 1000000000L;
    }
}

static bool is_live (struct container *c)
{
  return c->status == CT_RUNNING || c->status == CT_PAUSED;
}

void container_event (struct berthd *d, struct container *c, const char *action, json_t *extra)
{
  json_t *attrs = extra ? extra : json_object ();
  json_t *labels = json_object_get (c->config, "Labels");
  const char *key;
  json_t *v;
  json_object_foreach (labels, key, v)
    if (json_is_string (v) && json_object_get (attrs, key) == NULL)
      json_object_set (attrs, key, v);
  json_object_set_new (attrs, "name", json_string (c->name + 1));
  const char *image = json_string_value (json_object_get (c->config, "Image"));
  json_object_set_new (attrs, "image", json_string (image ? image : c->image_id));
  events_emit (d->events, "container", action, c->id, attrs);
}

/* ---- create ---- */

static int lookup_image (struct berthd *d, const char *name, struct image_info **info, berth_err *err)
{
  if (name == NULL || *name == '\0')
    return berth_fail_as (err, EINVAL, "Config cannot be empty in order to create a container");
  pthread_mutex_lock (&d->image_lock);
  int r = image_lookup (d->images, name, info, err);
  pthread_mutex_unlock (&d->image_lock);
  return r;
}

static int check_runtime (struct berthd *d, json_t *host_config, char **runtime, berth_err *err)
{
  const char *name = json_string_value (json_object_get (host_config, "Runtime"));
  if (name == NULL || *name == '\0')
    name = "berth";
  if (container_runtime_path (d, name) == NULL)
    return berth_fail_as (err, EINVAL, "Unknown runtime specified %s", name);
  *runtime = strdup (name);
  if (*runtime == NULL)
    return berth_fail (err, ENOMEM, "runtime");
  json_object_set_new (host_config, "Runtime", json_string (*runtime));
  return 0;
}

/* Take NAME (or a random one) for C; the caller holds the lock. */
static int reserve_name (struct containers *cs, struct container *c, const char *name, berth_err *err)
{
  if (name && *name)
    {
      if (!container_name_valid (name))
        return berth_fail_as (err, EINVAL, "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                              name);
      const char *bare = name[0] == '/' ? name + 1 : name;
      struct container *other = container_find_locked (cs, bare);
      if (other && strcmp (other->name + 1, bare) == 0)
        return berth_fail_as (err, EEXIST,
                              "Conflict. The container name \"/%s\" is already in use by container \"%s\". You have "
                              "to remove (or rename) that container to be able to reuse that name.",
                              bare, other->id);
      return asprintf (&c->name, "/%s", bare) < 0 ? berth_fail (err, ENOMEM, "name") : 0;
    }
  c->name = container_random_name (cs);
  return c->name ? 0 : berth_fail (err, ENOMEM, "name");
}

static int create_files (struct container *c, berth_err *err)
{
  if (mkdir (c->dir, 0710) < 0)
    return berth_fail_errno (err, "create %s", c->dir);
  return 0;
}

int container_create (struct berthd *d, json_t *body, const char *name, char **id, json_t **warnings,
                      berth_err *err)
{
  struct containers *cs = d->containers;
  cleanup_json json_t *hc = NULL, *merged = NULL;
  struct image_info *info = NULL;
  const char *image = json_string_value (json_object_get (body, "Image"));
  char cid[65];
  int r = lookup_image (d, image, &info, err);
  if (r < 0)
    return r;
  cleanup_free char *runtime = NULL;
  cleanup_json json_t *net_settings = NULL;
  if (host_config_normalize (json_object_get (body, "HostConfig"), &hc, err) < 0
      || check_runtime (d, hc, &runtime, err) < 0
      || network_container_prepare (d, hc, json_object_get (body, "NetworkingConfig"), &net_settings, err) < 0
      || berthd_new_id (cid) < 0)
    {
      image_info_free (info);
      return -EINVAL;
    }
  char short_id[13];
  snprintf (short_id, sizeof short_id, "%.12s", cid);
  r = container_config_merge (body, json_object_get (info->config, "config"), image, short_id, &merged, err);
  cleanup_free char *image_id = strdup (info->id);
  image_info_free (info);
  if (r < 0)
    return r;
  struct container *c = container_alloc (cs, cid);
  if (c == NULL || image_id == NULL)
    return berth_fail (err, ENOMEM, "create");
  c->image_id = take_ptr (image_id);
  c->config = json_incref (merged);
  c->host_config = json_incref (hc);
  c->net_settings = json_incref (net_settings);
  c->created = berth_rfc3339_now ();
  c->runtime = take_ptr (runtime);
  c->status = CT_CREATED;
  containers_lock (cs);
  r = reserve_name (cs, c, name, err);
  if (r == 0)
    r = container_table_insert (cs, c);
  containers_unlock (cs);
  if (r < 0)
    {
      container_put (cs, c);
      return r;
    }
  /* The name is reserved; the files are written outside the lock.  The
   * container exists (for berthd after a crash too) once config.v2.json is
   * on disk, which is before the client hears of it. */
  if (create_files (c, err) < 0 || container_save (cs, c, err) < 0)
    {
      berth_rm_rf (c->dir);
      containers_lock (cs);
      container_table_remove (cs, c);
      containers_unlock (cs);
      container_put (cs, c);
      return -EIO;
    }
  *id = strdup (c->id);
  if (warnings)
    *warnings = json_array ();
  container_event (d, c, "create", NULL);
  container_put (cs, c);
  return 0;
}

static int remove_locked_op (struct berthd *d, struct container *c, bool force, berth_err *err);

/* ---- start ---- */

/* NetworkMode container:<id>: that container's network namespace. */
static int joined_netns (struct berthd *d, const char *mode, char **netns, berth_err *err)
{
  struct container *other = NULL;
  if (container_get (d->containers, mode + 10, &other, err) < 0)
    return -ENOENT;
  pid_t pid = other->pid;
  bool live = is_live (other);
  container_put (d->containers, other);
  if (!live || pid <= 0)
    return berth_fail_as (err, EINVAL, "cannot join network of a non running container: %s", mode + 10);
  if (asprintf (netns, "/proc/%d/ns/net", (int) pid) < 0)
    return berth_fail (err, ENOMEM, "spec");
  return 0;
}

static int write_spec (struct berthd *d, struct container *c, berth_err *err)
{
  cleanup_free char *rootfs = container_rootfs_path (c), *cgroups = NULL, *path = NULL, *netns = NULL;
  cleanup_free char *hosts = NULL;
  cleanup_json json_t *spec = NULL;
  if (rootfs == NULL || asprintf (&cgroups, "/berth/%s", c->id) < 0 || asprintf (&path, "%s/config.json", c->dir) < 0)
    return berth_fail (err, ENOMEM, "spec");
  const char *mode = json_string_value (json_object_get (c->host_config, "NetworkMode"));
  int r = mode && strncmp (mode, "container:", 10) == 0 ? joined_netns (d, mode, &netns, err)
                                                         : network_container_up (d, c, &netns, err);
  if (r < 0)
    return r;
  hosts = network_hosts_lines (d, c);
  struct spec_input in = {
    .id = c->id,
    .config = c->config,
    .host_config = c->host_config,
    .rootfs = rootfs,
    .container_dir = c->dir,
    .init_path = d->init_path,
    .cgroups_path = cgroups,
    .shared_netns = netns,
    .hosts_extra = hosts,
    .embedded_dns = network_container_uses_dns (d, c),
  };
  if (spec_generate (&in, &spec, err) < 0)
    return -EINVAL;
  return berth_json_replace_file (path, spec, err);
}

static int spawn_monitor (struct berthd *d, struct container *c, berth_err *err)
{
  cleanup_free char *root = container_runtime_root (d, c->runtime), *log = NULL;
  const char *log_type = json_string_value (json_object_get (json_object_get (c->host_config, "LogConfig"), "Type"));
  if (root == NULL || asprintf (&log, "%s/%s-json.log", c->dir, c->id) < 0)
    return berth_fail (err, ENOMEM, "start");
  berth_rm_rf (c->state_dir);
  if (berth_mkdir_p (c->state_dir, 0700, err) < 0 || berth_mkdir_p (root, 0700, err) < 0)
    return -EIO;
  struct monitor_spawn ms = {
    .monitor_path = d->monitor_path,
    .id = c->id,
    .state_dir = c->state_dir,
    .runtime_path = container_runtime_path (d, c->runtime),
    .runtime_root = root,
    .bundle = c->dir,
    .log_file = log_type && strcmp (log_type, "none") == 0 ? NULL : log,
    .tty = json_is_true (json_object_get (c->config, "Tty")),
    .stdin_open = json_is_true (json_object_get (c->config, "OpenStdin")),
    .stdin_once = json_is_true (json_object_get (c->config, "StdinOnce")),
  };
  pid_t mpid = 0, pid = 0;
  if (monitor_spawn (&ms, &mpid, &pid, err) < 0)
    return -EIO;
  containers_lock (d->containers);
  c->monitor_pid = mpid;
  c->monitor_start = proc_start_time (mpid);
  c->pid = pid;
  c->generation++;
  /* Saved before the process starts: after a crash here, recovery finds a
   * created container with a monitor, and cleans both up. */
  container_save (d->containers, c, NULL);
  pthread_cond_broadcast (&d->containers->changed);
  containers_unlock (d->containers);
  return 0;
}

static void wait_for_attachers (struct containers *cs, struct container *c)
{
  struct timespec deadline;
  deadline_in (&deadline, ATTACH_CONNECT_TIMEOUT_MS);
  containers_lock (cs);
  while (c->pending_attach > 0)
    if (pthread_cond_timedwait (&cs->changed, &cs->lock, &deadline) == ETIMEDOUT)
      break;
  containers_unlock (cs);
}

/* The start failed after the monitor came up: it has written the exit
 * file and cleaned up the runtime; record Docker's 126/127 and the error. */
static void record_start_failure (struct berthd *d, struct container *c, const char *msg)
{
  int code = 0;
  char *error = NULL;
  if (monitor_read_exit (c->state_dir, &code, NULL, NULL, &error, NULL) < 0)
    code = strstr (msg, "not found") || strstr (msg, "no such file") ? 127 : 126;
  containers_lock (d->containers);
  c->exit_code = code ? code : 126;
  set_str (&c->error, msg);
  c->monitor_pid = 0;
  c->pid = 0;
  c->generation++; /* attach sessions waiting for this start give up */
  if (c->has_been_started)
    c->status = CT_EXITED;
  container_save (d->containers, c, NULL);
  pthread_cond_broadcast (&d->containers->changed);
  containers_unlock (d->containers);
  free (error);
  container_unmount (d, c);
  network_container_down (d, c);
}

/* The docker CLI picks `run`'s exit status from the words of the error
 * (127 for "no such file or directory" or "executable file not found",
 * 126 for "permission denied" or "is a directory"), as Go spells them:
 * lower case. */
void docker_style_error (berth_err *err, const char *prefix)
{
  static const char *const phrases[] = { "No such file or directory", "Permission denied", "Is a directory", NULL };
  if (err == NULL || *err == NULL || (*err)->msg == NULL)
    return;
  for (const char *const *p = phrases; *p; p++)
    for (char *at = strstr ((*err)->msg, *p); at; at = strstr (at + 1, *p))
      *at = (char) tolower ((unsigned char) *at);
  if (prefix)
    berth_error_prefix (err, "%s", prefix);
}

int container_start_locked_op (struct berthd *d, struct container *c, bool restarting, berth_err *err)
{
  struct containers *cs = d->containers;
  if (container_mount (d, c, err) < 0 || write_spec (d, c, err) < 0)
    {
      container_unmount (d, c);
      network_container_down (d, c);
      record_start_failure (d, c, err && *err ? (*err)->msg : "start failed");
      return -EINVAL;
    }
  if (spawn_monitor (d, c, err) < 0)
    {
      docker_style_error (err, "failed to create task for container: OCI runtime create failed");
      record_start_failure (d, c, err && *err ? (*err)->msg : "start failed");
      return -EIO;
    }
  wait_for_attachers (cs, c);
  if (monitor_start (c->state_dir, err) < 0)
    {
      docker_style_error (err, "failed to create task for container: OCI runtime create failed");
      record_start_failure (d, c, err && *err ? (*err)->msg : "start failed");
      return -EIO;
    }
  containers_lock (cs);
  c->status = CT_RUNNING;
  c->has_been_started = true;
  c->exit_code = 0;
  c->oom_killed = false;
  set_str (&c->error, NULL);
  free (c->started_at);
  c->started_at = berth_rfc3339_now ();
  if (!restarting)
    c->manually_stopped = false;
  container_save (cs, c, NULL);
  pthread_cond_broadcast (&cs->changed);
  containers_unlock (cs);
  container_event (d, c, "start", NULL);
  reaper_watch (cs, c);
  container_health_start (d, c);
  return 0;
}

int container_start (struct berthd *d, struct container *c, berth_err *err)
{
  pthread_mutex_lock (&c->op_lock);
  containers_lock (d->containers);
  enum container_status st = c->status;
  bool removed = c->removed;
  containers_unlock (d->containers);
  int r;
  if (removed || st == CT_REMOVING)
    r = berth_fail_as (err, EBUSY, "container %s is marked for removal and cannot be started", c->id);
  else if (st == CT_RUNNING || st == CT_PAUSED)
    r = -EALREADY;
  else
    {
      r = container_start_locked_op (d, c, false, err);
      /* Docker removes a --rm container whose start failed, too. */
      if (r < 0 && json_is_true (json_object_get (c->host_config, "AutoRemove")))
        remove_locked_op (d, c, true, NULL);
    }
  pthread_mutex_unlock (&c->op_lock);
  return r;
}

/* ---- signals, stop ---- */

static int signal_arg (struct container *c, const char *signal, int fallback)
{
  if (signal && *signal)
    return signal_from_name (signal);
  const char *s = json_string_value (json_object_get (c->config, "StopSignal"));
  int n = s ? signal_from_name (s) : -1;
  return n > 0 ? n : fallback;
}

static int runtime_kill (struct berthd *d, struct container *c, int sig, berth_err *err)
{
  char num[16];
  snprintf (num, sizeof num, "%d", sig);
  const char *args[] = { "kill", c->id, num, NULL };
  cleanup_free char *out = NULL;
  int r = container_runtime_call (d, c, args, &out);
  if (r == 0)
    return 0;
  cleanup_free char *msg = runtime_error_message (out);
  return berth_fail_as (err, r < 0 ? -r : EIO, "cannot kill container %s: %s", c->id, msg ? msg : "runtime failed");
}

/* Wait until the process that runs now has exited (or MS pass). */
static bool wait_exit (struct containers *cs, struct container *c, unsigned exits_before, long ms)
{
  struct timespec deadline;
  deadline_in (&deadline, ms);
  bool done;
  containers_lock (cs);
  while (!(done = c->exits != exits_before || !is_live (c)))
    if (pthread_cond_timedwait (&cs->changed, &cs->lock, &deadline) == ETIMEDOUT)
      break;
  done = c->exits != exits_before || !is_live (c);
  containers_unlock (cs);
  return done;
}

/* A frozen process cannot act on a signal, not even SIGKILL: Docker thaws
 * a paused container once the stop signal is queued.  True if resumed. */
static bool resume_after_signal (struct berthd *d, struct container *c)
{
  const char *args[] = { "resume", c->id, NULL };
  return container_runtime_call (d, c, args, NULL) == 0;
}

static int stop_locked_op (struct berthd *d, struct container *c, int timeout, const char *signal, berth_err *err)
{
  struct containers *cs = d->containers;
  containers_lock (cs);
  bool live = is_live (c);
  bool paused = c->status == CT_PAUSED;
  unsigned exits = c->exits;
  c->manually_stopped = true;
  container_save (cs, c, NULL);
  containers_unlock (cs);
  if (!live)
    return -EALREADY;
  int sig = signal_arg (c, signal, SIGTERM);
  if (timeout < 0)
    {
      json_t *t = json_object_get (c->config, "StopTimeout");
      timeout = json_is_integer (t) ? (int) json_integer_value (t) : 10;
    }
  if (sig > 0 && sig != SIGKILL && runtime_kill (d, c, sig, NULL) == 0)
    {
      container_event (d, c, "kill", json_pack ("{s:i}", "signal", sig));
      paused = paused && !resume_after_signal (d, c);
      if (wait_exit (cs, c, exits, (long) timeout * 1000))
        goto stopped;
    }
  if (runtime_kill (d, c, SIGKILL, NULL) == 0)
    container_event (d, c, "kill", json_pack ("{s:i}", "signal", SIGKILL));
  if (paused)
    resume_after_signal (d, c);
  if (!wait_exit (cs, c, exits, 60000))
    return berth_fail_as (err, EIO, "container %s did not exit after SIGKILL", c->id);
stopped:
  container_event (d, c, "stop", NULL);
  return 0;
}

int container_stop (struct berthd *d, struct container *c, int timeout, const char *signal, berth_err *err)
{
  if (signal && *signal && signal_from_name (signal) <= 0)
    return berth_fail_as (err, EINVAL, "Invalid signal: %s", signal);
  pthread_mutex_lock (&c->op_lock);
  int r = stop_locked_op (d, c, timeout, signal, err);
  pthread_mutex_unlock (&c->op_lock);
  return r;
}

int container_kill (struct berthd *d, struct container *c, const char *signal, berth_err *err)
{
  int sig = signal_arg (c, signal && *signal ? signal : "SIGKILL", SIGKILL);
  if (sig <= 0)
    return berth_fail_as (err, EINVAL, "Invalid signal: %s", signal);
  containers_lock (d->containers);
  bool live = is_live (c);
  if (live)
    {
      c->manually_stopped = true;
      container_save (d->containers, c, NULL);
    }
  containers_unlock (d->containers);
  if (!live)
    return berth_fail_as (err, EBUSY, "Cannot kill container: %s: Container %s is not running", c->name + 1, c->id);
  int r = runtime_kill (d, c, sig, err);
  if (r == 0)
    container_event (d, c, "kill", json_pack ("{s:i}", "signal", sig));
  return r;
}

int container_restart (struct berthd *d, struct container *c, int timeout, berth_err *err)
{
  pthread_mutex_lock (&c->op_lock);
  int r = stop_locked_op (d, c, timeout, NULL, err);
  if (r == 0 || r == -EALREADY)
    {
      containers_lock (d->containers);
      bool removed = c->removed;
      containers_unlock (d->containers);
      r = removed ? berth_fail_as (err, ENOENT, "No such container: %s", c->id)
                  : container_start_locked_op (d, c, false, err);
    }
  pthread_mutex_unlock (&c->op_lock);
  if (r == 0)
    container_event (d, c, "restart", NULL);
  return r;
}

int container_pause (struct berthd *d, struct container *c, bool pause, berth_err *err)
{
  pthread_mutex_lock (&c->op_lock);
  containers_lock (d->containers);
  enum container_status st = c->status;
  containers_unlock (d->containers);
  int r = 0;
  if (!pause && st != CT_PAUSED)
    r = berth_fail_as (err, EBUSY, "Container %s is not paused", c->id);
  else if (st != CT_RUNNING && st != CT_PAUSED)
    r = berth_fail_as (err, EBUSY, "Container %s is not running", c->id);
  else if (pause && st == CT_PAUSED)
    r = berth_fail_as (err, EBUSY, "Container %s is already paused", c->id);
  else
    {
      const char *args[] = { pause ? "pause" : "resume", c->id, NULL };
      cleanup_free char *out = NULL;
      int rc = container_runtime_call (d, c, args, &out);
      if (rc != 0)
        {
          cleanup_free char *msg = runtime_error_message (out);
          r = berth_fail_as (err, EIO, "cannot %s container %s: %s", pause ? "pause" : "unpause", c->id, msg);
        }
      else
        {
          containers_lock (d->containers);
          if (is_live (c))
            c->status = pause ? CT_PAUSED : CT_RUNNING;
          container_save (d->containers, c, NULL);
          pthread_cond_broadcast (&d->containers->changed);
          containers_unlock (d->containers);
          container_event (d, c, pause ? "pause" : "unpause", NULL);
        }
    }
  pthread_mutex_unlock (&c->op_lock);
  return r;
}

/* ---- remove ---- */

static int remove_locked_op (struct berthd *d, struct container *c, bool force, berth_err *err)
{
  struct containers *cs = d->containers;
  containers_lock (cs);
  bool live = is_live (c);
  bool removed = c->removed;
  enum container_status st = c->status;
  containers_unlock (cs);
  if (removed)
    return 0;
  if ((live || st == CT_RESTARTING) && !force)
    return berth_fail_as (err, EBUSY,
                          "You cannot remove a %s container %s. Stop the container before attempting removal or "
                          "force remove",
                          container_status_name (st), c->id);
  if (live)
    {
      int r = stop_locked_op (d, c, 0, "SIGKILL", err);
      if (r < 0 && r != -EALREADY)
        return r;
    }
  containers_lock (cs);
  c->status = CT_REMOVING;
  containers_unlock (cs);
  /* The monitor deletes the runtime's container when the process exits;
   * only a monitor that died some other way leaves it behind. */
  if (live || st != CT_EXITED || c->error)
    {
      const char *args[] = { "delete", "--force", c->id, NULL };
      container_runtime_call (d, c, args, NULL);
    }
  container_unmount (d, c);
  berth_rm_rf (c->state_dir);
  /* config.v2.json goes first: a crash half way through leaves a folder
   * that the next start recognises as garbage, never a half container. */
  cleanup_free char *cfg = NULL;
  if (asprintf (&cfg, "%s/config.v2.json", c->dir) >= 0)
    unlink (cfg);
  berth_rm_rf (c->dir);
  exec_forget_container (d, c->id);
  containers_lock (cs);
  container_table_remove (cs, c);
  pthread_cond_broadcast (&cs->changed);
  containers_unlock (cs);
  container_event (d, c, "destroy", NULL);
  return 0;
}

int container_remove (struct berthd *d, struct container *c, bool force, berth_err *err)
{
  pthread_mutex_lock (&c->op_lock);
  int r = remove_locked_op (d, c, force, err);
  pthread_mutex_unlock (&c->op_lock);
  return r;
}

int container_rename (struct berthd *d, struct container *c, const char *name, berth_err *err)
{
  struct containers *cs = d->containers;
  if (name == NULL || !container_name_valid (name))
    return berth_fail_as (err, EINVAL, "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                          name ? name : "");
  const char *bare = name[0] == '/' ? name + 1 : name;
  cleanup_free char *new_name = strdup (bare);
  if (new_name == NULL)
    return berth_fail (err, ENOMEM, "rename");
  containers_lock (cs);
  int r = 0;
  if (strcmp (c->name + 1, bare) == 0)
    r = berth_fail_as (err, EINVAL, "Renaming a container with the same name as its current name");
  else if (container_name_taken_locked (cs, bare))
    r = berth_fail_as (err, EEXIST, "Conflict. The container name \"/%s\" is already in use", bare);
  else
    {
      char *old = c->name;
      if (asprintf (&c->name, "/%s", bare) < 0)
        c->name = old;
      else
        {
          free (old);
          r = container_save (cs, c, err);
        }
    }
  containers_unlock (cs);
  if (r == 0)
    {
      network_container_renamed (d, c->id, new_name);
      container_event (d, c, "rename", NULL);
    }
  return r;
}

/* ---- wait ---- */

int container_wait (struct berthd *d, struct container *c, const char *condition, int *exit_code, berth_err *err)
{
  struct containers *cs = d->containers;
  enum { NOT_RUNNING, NEXT_EXIT, REMOVED } cond = NOT_RUNNING;
  if (condition && strcmp (condition, "next-exit") == 0)
    cond = NEXT_EXIT;
  else if (condition && strcmp (condition, "removed") == 0)
    cond = REMOVED;
  else if (condition && *condition && strcmp (condition, "not-running") != 0)
    return berth_fail_as (err, EINVAL, "invalid condition: \"%s\"", condition);
  containers_lock (cs);
  unsigned exits = c->exits;
  for (;;)
    {
      bool done = cond == REMOVED       ? c->removed
                  : cond == NEXT_EXIT   ? c->exits != exits || c->removed
                                        : (!is_live (c) && c->status != CT_RESTARTING) || c->removed;
      if (done || d->stopping)
        break;
      struct timespec deadline;
      deadline_in (&deadline, 1000);
      pthread_cond_timedwait (&cs->changed, &cs->lock, &deadline);
    }
  *exit_code = c->exit_code;
  bool stopping = d->stopping;
  containers_unlock (cs);
  return stopping ? berth_fail_as (err, ECANCELED, "the daemon is shutting down") : 0;
}

/* ---- exit, --rm and restart policies ---- */

static bool should_restart (struct container *c)
{
  json_t *policy = json_object_get (c->host_config, "RestartPolicy");
  const char *name = json_string_value (json_object_get (policy, "Name"));
  int max = json_integer_value (json_object_get (policy, "MaximumRetryCount"));
  if (c->manually_stopped || c->removed || name == NULL)
    return false;
  if (strcmp (name, "always") == 0 || strcmp (name, "unless-stopped") == 0)
    return true;
  if (strcmp (name, "on-failure") == 0)
    return c->exit_code != 0 && (max <= 0 || c->restart_count < max);
  return false;
}

void container_cleanup_after_exit (struct berthd *d, struct container *c)
{
  container_unmount (d, c);
  network_container_down (d, c);
}

static void *auto_remove_thread (void *arg)
{
  struct container *c = arg;
  struct berthd *d = c->daemon;
  container_remove (d, c, true, NULL);
  container_put (d->containers, c);
  return NULL;
}

static void *restart_thread (void *arg)
{
  struct container *c = arg;
  struct berthd *d = c->daemon;
  struct containers *cs = d->containers;
  /* Docker's back-off: 100 ms, doubling while the container keeps dying
   * young, capped at about a minute. */
  long delay = 100L << (c->fast_restarts < 10 ? c->fast_restarts : 10);
  struct timespec deadline;
  deadline_in (&deadline, delay);
  containers_lock (cs);
  while (!d->stopping && !c->removed && !c->manually_stopped)
    if (pthread_cond_timedwait (&cs->changed, &cs->lock, &deadline) == ETIMEDOUT)
      break;
  containers_unlock (cs);
  pthread_mutex_lock (&c->op_lock);
  containers_lock (cs);
  bool go = !d->stopping && c->status == CT_RESTARTING && !c->removed && !c->manually_stopped;
  c->restart_scheduled = false;
  if (go)
    c->restart_count++;
  else if (c->status == CT_RESTARTING)
    c->status = CT_EXITED;
  pthread_cond_broadcast (&cs->changed);
  containers_unlock (cs);
  if (go)
    {
      berth_err err = NULL;
      if (container_start_locked_op (d, c, true, &err) < 0)
        {
          berth_warn ("restarting container %.12s: %s", c->id, err ? err->msg : "failed");
          berth_error_free (&err);
        }
    }
  pthread_mutex_unlock (&c->op_lock);
  container_put (cs, c);
  return NULL;
}

static void run_detached (void *(*fn) (void *), struct container *c)
{
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init (&attr);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create (&t, &attr, fn, c) != 0)
    container_put (c->daemon->containers, c);
  pthread_attr_destroy (&attr);
}

void container_schedule_restart (struct berthd *d, struct container *c)
{
  containers_lock (d->containers);
  if (c->restart_scheduled)
    {
      containers_unlock (d->containers);
      return;
    }
  c->restart_scheduled = true;
  c->status = CT_RESTARTING;
  c->refs++;
  containers_unlock (d->containers);
  run_detached (restart_thread, c);
}

static long seconds_since (const char *rfc3339)
{
  struct tm tm = { 0 };
  if (rfc3339 == NULL || strptime (rfc3339, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
    return 0;
  return (long) (time (NULL) - timegm (&tm));
}

void container_exited (struct containers *cs, struct container *c)
{
  struct berthd *d = cs->d;
  int code = 255;
  bool oom = false;
  char *finished = NULL, *error = NULL;
  if (monitor_read_exit (c->state_dir, &code, &finished, &oom, &error, NULL) < 0)
    {
      code = 255;
      error = strdup ("the container's monitor ended without recording an exit status");
    }
  /* Unmounted before anyone hears of the exit: a restart that waits for
   * the exit must not have its fresh mount taken away afterwards. */
  container_cleanup_after_exit (d, c);
  containers_lock (cs);
  c->status = CT_EXITED;
  c->pid = 0;
  c->monitor_pid = 0;
  c->exit_code = code;
  c->oom_killed = oom;
  free (c->finished_at);
  c->finished_at = finished ? finished : berth_rfc3339_now ();
  free (c->error);
  c->error = error;
  c->exits++;
  c->fast_restarts = seconds_since (c->started_at) >= 10 ? 0 : c->fast_restarts + 1;
  bool auto_remove = json_is_true (json_object_get (c->host_config, "AutoRemove"));
  bool restart = !auto_remove && should_restart (c);
  if (restart)
    c->status = CT_RESTARTING;
  container_save (cs, c, NULL);
  pthread_cond_broadcast (&cs->changed);
  containers_unlock (cs);
  char codestr[16];
  snprintf (codestr, sizeof codestr, "%d", code);
  container_event (d, c, "die", json_pack ("{s:s}", "exitCode", codestr));
  if (auto_remove)
    {
      containers_lock (cs);
      c->refs++;
      containers_unlock (cs);
      run_detached (auto_remove_thread, c);
    }
  else if (restart)
    {
      containers_lock (cs);
      c->restart_scheduled = false;
      containers_unlock (cs);
      container_schedule_restart (d, c);
    }
}
