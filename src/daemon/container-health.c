/* Health checks (Config.Healthcheck, from the image or `run --health-*`):
 * while a container runs, one thread per container execs the test every
 * Interval and keeps State.Health as Docker does: "starting" until the
 * first success, "healthy", or "unhealthy" after Retries failures in a row
 * (failures during StartPeriod do not count); the last 5 results are kept.
 * A probe runs `RUNTIME exec` with the container's process settings and
 * is killed after Timeout. */
#include "daemon/container-internal.h"
#include "daemon/spec-gen.h"
#include "common/clock.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static int write_probe_process (struct container *c, json_t *cmd, char **path, berth_err *err)
{
  cleanup_free char *spec_path = NULL, *rootfs = container_rootfs_path (c);
  cleanup_json json_t *spec = NULL, *process = NULL, *exec = json_pack ("{s:O}", "Cmd", cmd);
  if (rootfs == NULL || exec == NULL || asprintf (&spec_path, "%s/config.json", c->dir) < 0
      || asprintf (path, "%s/health-process.json", c->state_dir) < 0)
    return berth_fail (err, ENOMEM, "health check");
  if ((spec = berth_json_load_file (spec_path, err)) == NULL
      || exec_process_generate (spec, exec, rootfs, &process, err) < 0)
    return -EINVAL;
  return berth_json_replace_file (*path, process, err);
}

/* One probe: the exit code (-1 for a timeout or a probe that could not
 * run) and its output (heap). */
static int health_probe (struct berthd *d, struct container *c, const struct health_params *p, char **output)
{
  berth_err err = NULL;
  cleanup_free char *process = NULL, *root = container_runtime_root (d, c->runtime);
  const char *runtime = container_runtime_path (d, c->runtime);
  if (root == NULL || runtime == NULL || write_probe_process (c, p->cmd, &process, &err) < 0)
    {
      *output = strdup (err ? err->msg : "cannot run the health check");
      berth_error_free (&err);
      return -1;
    }
  const char *argv[] = { runtime, "--root", root, "exec", "--process", process, c->id, NULL };
  int r = berthd_spawn_capture_timeout (argv, -1, p->timeout_ms, output);
  if (r == -ETIMEDOUT)
    {
      free (*output);
      if (asprintf (output, "Health check exceeded timeout (%llds)", p->timeout_ms / 1000) < 0)
        *output = NULL;
      return -1;
    }
  if (*output && strlen (*output) > HEALTH_OUTPUT_MAX)
    (*output)[HEALTH_OUTPUT_MAX] = '\0';
  return r < 0 ? -1 : r;
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
