/* Health checks (Config.Healthcheck, from the image or `run --health-*`):
 * while a container runs, one thread per container execs the test every
 * Interval and keeps State.Health as Docker does: "starting" until the
 * first success, "healthy", or "unhealthy" after Retries failures in a row
 * (failures during StartPeriod do not count); the last 5 results are kept.
 * A probe runs `RUNTIME exec` with the container's process settings and
 * is killed after Timeout. */
#include "daemon/container-internal.h"
#include "daemon/monitor-client.h"
#include "daemon/spec-gen.h"
#include "common/clock.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HEALTH_LOG_KEEP 5
#define HEALTH_OUTPUT_MAX 4096
#define SEC_NS 1000000000LL

struct health_params
{
  json_t *cmd;         /* the exec's Cmd */
  long long interval_ms, timeout_ms, start_period_ms;
  int retries;
};

static long long ns_field_ms (json_t *hc, const char *key, long long fallback_ns)
{
  json_int_t v = json_integer_value (json_object_get (hc, key));
  return (v > 0 ? v : fallback_ns) / 1000000;
}

/* Test: ["CMD", args...], ["CMD-SHELL", "command"], or ["NONE"]. */
static bool health_params (json_t *hc, struct health_params *p)
{
  json_t *test = json_object_get (hc, "Test");
  const char *kind = json_string_value (json_array_get (test, 0));
  if (kind == NULL || json_array_size (test) < 2)
    return false;
  if (strcmp (kind, "CMD-SHELL") == 0)
    p->cmd = json_pack ("[s, s, O]", "/bin/sh", "-c", json_array_get (test, 1));
  else if (strcmp (kind, "CMD") == 0)
    {
      p->cmd = json_deep_copy (test);
      json_array_remove (p->cmd, 0);
    }
  else
    return false;
  p->interval_ms = ns_field_ms (hc, "Interval", 30 * SEC_NS);
  p->timeout_ms = ns_field_ms (hc, "Timeout", 30 * SEC_NS);
  p->start_period_ms = ns_field_ms (hc, "StartPeriod", 0);
  json_int_t retries = json_integer_value (json_object_get (hc, "Retries"));
  p->retries = retries > 0 ? (int) retries : 3;
  return p->cmd != NULL;
}

static int write_probe_process (struct container *c, json_t *cmd, const char *dir, char **path, berth_err *err)
{
  cleanup_free char *spec_path = NULL, *rootfs = container_rootfs_path (c);
  cleanup_json json_t *spec = NULL, *process = NULL, *exec = json_pack ("{s:O}", "Cmd", cmd);
  if (rootfs == NULL || exec == NULL || asprintf (&spec_path, "%s/config.json", c->dir) < 0
      || asprintf (path, "%s/process.json", dir) < 0)
    return berth_fail (err, ENOMEM, "health check");
  if ((spec = berth_json_load_file (spec_path, err)) == NULL
      || exec_process_generate (spec, exec, rootfs, &process, err) < 0)
    return -EINVAL;
  return berth_json_replace_file (*path, process, err);
}

/* The probe outlived its timeout: kill it (its monitor then finishes). */
static void kill_probe (const char *dir)
{
  cleanup_free char *path = NULL, *text = NULL;
  berth_err err = NULL;
  if (asprintf (&path, "%s/pid", dir) < 0 || berth_read_file (path, 64, &text, NULL, &err) < 0)
    {
      berth_error_free (&err);
      return;
    }
  int pid = atoi (text);
  if (pid > 1)
    kill (pid, SIGKILL);
}

static long long monotonic_ms (void)
{
  struct timespec now;
  clock_gettime (CLOCK_MONOTONIC, &now);
  return now.tv_sec * 1000LL + now.tv_nsec / 1000000;
}

/* Collect the probe's output (at most SIZE - 1 bytes kept) until MON_EXIT
 * or DEADLINE (monotonic ms); returns the exit code, or -ETIMEDOUT. */
static int collect_probe (int mon, long long deadline, char *out, size_t size)
{
  cleanup_free char *buf = malloc (MONITOR_MSG_MAX);
  size_t len = 0;
  if (buf == NULL)
    return -ENOMEM;
  for (;;)
    {
      long long left = deadline - monotonic_ms ();
      struct pollfd pf = { .fd = mon, .events = POLLIN };
      if (left <= 0 || poll (&pf, 1, (int) left) == 0)
        return -ETIMEDOUT;
      enum monitor_msg type;
      ssize_t n = monitor_recv (mon, &type, buf, MONITOR_MSG_MAX - 1);
      if (n < 0)
        return -EPIPE;
      if (type == MON_EXIT)
        {
          buf[n] = '\0';
          return atoi (buf);
        }
      size_t take = (size_t) n < size - 1 - len ? (size_t) n : size - 1 - len;
      memcpy (out + len, buf, take);
      len += take;
      out[len] = '\0';
    }
}

/* One probe, run as an exec through its own berth-monitor (dockerd runs
 * health checks as execs too): the monitor reaps whatever the probe
 * leaves behind.  Returns the exit code (-1 for a timeout or a probe that
 * could not run); *output gets what it printed (heap). */
static int health_probe (struct berthd *d, struct container *c, const struct health_params *p, char **output)
{
  berth_err err = NULL;
  char text[HEALTH_OUTPUT_MAX + 1] = "";
  cleanup_free char *dir = NULL, *process = NULL, *root = container_runtime_root (d, c->runtime);
  cleanup_close int mon = -1;
  int code = -1;
  if (root == NULL || asprintf (&dir, "%s/h/%.12s", d->cfg.exec_root, c->id) < 0)
    return *output = strdup ("out of memory"), -1;
  berth_rm_rf (dir);
  pid_t mpid = 0, pid = 0;
  struct monitor_spawn ms = {
    .monitor_path = d->monitor_path, .id = c->id, .state_dir = dir,
    .runtime_path = container_runtime_path (d, c->runtime), .runtime_root = root,
  };
  char flags = MON_ATTACH_STDOUT | MON_ATTACH_STDERR;
  if (berth_mkdir_p (dir, 0700, &err) < 0 || write_probe_process (c, p->cmd, dir, &process, &err) < 0)
    goto out;
  ms.exec_process = process;
  if (monitor_spawn (&ms, &mpid, &pid, &err) < 0)
    goto out;
  reaper_watch_exec (d->containers, mpid);
  if ((mon = monitor_connect (dir, &err)) < 0
      || monitor_send (mon, MON_ATTACH, &flags, 1) < 0 || monitor_start (dir, &err) < 0)
    goto out;
  code = collect_probe (mon, monotonic_ms () + p->timeout_ms, text, sizeof text);
  if (code == -ETIMEDOUT)
    {
      kill_probe (dir);
      snprintf (text, sizeof text, "Health check exceeded timeout (%lldms)", p->timeout_ms);
    }
  if (code < 0)
    code = -1;
out:
  if (err)
    snprintf (text, sizeof text, "%s", err->msg);
  berth_error_free (&err);
  *output = strdup (text);
  berth_rm_rf (dir);
  return code;
}

/* Record a result; returns the new status if it changed, else NULL.
 * Caller holds the lock. */
static const char *health_record (struct container *c, const struct health_params *p, long long since_start_ms,
                                  const char *start, int code, const char *output)
{
  json_t *h = c->health;
  json_t *log = json_object_get (h, "Log");
  cleanup_free char *end = berth_rfc3339_now ();
  json_array_append_new (log, json_pack ("{s:s, s:s, s:i, s:s}", "Start", start, "End", end ? end : start,
                                         "ExitCode", code, "Output", output ? output : ""));
  while (json_array_size (log) > HEALTH_LOG_KEEP)
    json_array_remove (log, 0);
  const char *old = json_string_value (json_object_get (h, "Status"));
  json_int_t streak = json_integer_value (json_object_get (h, "FailingStreak"));
  const char *status = old;
  if (code == 0)
    {
      streak = 0;
      status = "healthy";
    }
  else if (since_start_ms >= p->start_period_ms || strcmp (old, "starting") != 0)
    {
      streak++;
      if (streak >= p->retries)
        status = "unhealthy";
    }
  json_object_set_new (h, "FailingStreak", json_integer (streak));
  if (strcmp (status, old) == 0)
    return NULL;
  json_object_set_new (h, "Status", json_string (status));
  return status;
}

struct health_run
{
  struct berthd *d;
  struct container *c;   /* referenced */
  struct health_params p;
  unsigned exits;        /* the run this thread watches */
};

/* Sleep MS unless the container stops first; false when it did. */
static bool health_wait (struct health_run *h, long long ms)
{
  struct containers *cs = h->d->containers;
  struct timespec deadline;
  clock_gettime (CLOCK_REALTIME, &deadline);
  deadline.tv_sec += ms / 1000;
  deadline.tv_nsec += (ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L)
    {
      deadline.tv_sec++;
      deadline.tv_nsec -= 1000000000L;
    }
  containers_lock (cs);
  bool alive;
  while ((alive = h->c->exits == h->exits && !h->c->removed && !h->d->stopping))
    if (pthread_cond_timedwait (&cs->changed, &cs->lock, &deadline) == ETIMEDOUT)
      break;
  alive = h->c->exits == h->exits && !h->c->removed && !h->d->stopping;
  containers_unlock (cs);
  return alive;
}

static void *health_thread (void *arg)
{
  struct health_run *h = arg;
  struct containers *cs = h->d->containers;
  struct timespec t0;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  while (health_wait (h, h->p.interval_ms))
    {
      cleanup_free char *start = berth_rfc3339_now (), *output = NULL;
      int code = health_probe (h->d, h->c, &h->p, &output);
      struct timespec now;
      clock_gettime (CLOCK_MONOTONIC, &now);
      long long since = (now.tv_sec - t0.tv_sec) * 1000LL + (now.tv_nsec - t0.tv_nsec) / 1000000;
      containers_lock (cs);
      const char *changed = NULL;
      if (h->c->exits == h->exits && h->c->health)
        changed = health_record (h->c, &h->p, since, start ? start : "", code, output);
      containers_unlock (cs);
      if (changed)
        {
          char action[64];
          snprintf (action, sizeof action, "health_status: %s", changed);
          container_event (h->d, h->c, action, NULL);
        }
    }
  container_put (cs, h->c);
  json_decref (h->p.cmd);
  free (h);
  return NULL;
}

void container_health_start (struct berthd *d, struct container *c)
{
  struct containers *cs = d->containers;
  struct health_run *h = calloc (1, sizeof *h);
  if (h == NULL)
    return;
  containers_lock (cs);
  json_decref (c->health);
  c->health = NULL;
  if (!health_params (json_object_get (c->config, "Healthcheck"), &h->p))
    {
      containers_unlock (cs);
      free (h);
      return;
    }
  c->health = json_pack ("{s:s, s:i, s:[]}", "Status", "starting", "FailingStreak", 0, "Log");
  c->refs++;
  h->d = d;
  h->c = c;
  h->exits = c->exits;
  containers_unlock (cs);
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init (&attr);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create (&t, &attr, health_thread, h) != 0)
    {
      berth_warn ("container %.12s: cannot start its health checks", c->id);
      container_put (cs, c);
      json_decref (h->p.cmd);
      free (h);
    }
  pthread_attr_destroy (&attr);
}
