/* GET /containers/{id}/top and GET /containers/{id}/stats.
 *
 * top runs the host's ps (no shell) and keeps the rows of the container's
 * processes: the pids of its cgroup.  stats reads the cgroup counters
 * (container-stats.c) once, twice a second apart (stream=false: the second
 * reading with the first as precpu_stats, so CPU percentages are right),
 * or every second as a stream (one JSON object per line). */
#include "daemon/daemon.h"
#include "daemon/container.h"
#include "daemon/container-stats.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


/* api-containers.c */

/* ps output beyond this is cut (a few thousand processes fit easily). */
/* ps arguments after splitting, with the program and the pid list. */
#define PS_ARGV_MAX 64

/* ---- running ps ---- */

static const char *ps_path (void)
{
  static const char *const paths[] = { "/usr/bin/ps", "/bin/ps", "/usr/local/bin/ps" };
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
    if (access (paths[i], X_OK) == 0)
      return paths[i];
  return NULL;
}

/* The first line of what the failed ps said on stderr (ERR_FD). */
static char *first_line (int err_fd)
{
  char buf[512];
  ssize_t n = pread (err_fd, buf, sizeof buf - 1, 0);
  if (n <= 0)
    return NULL;
  buf[n] = '\0';
  buf[strcspn (buf, "\n")] = '\0';
  return buf[0] ? strdup (buf) : NULL;
}

/* Run ARGV with stdout into *out and stderr into the file ERR_FD; returns
 * the exit status or -errno.  stderr is kept apart so that warnings never
 * land in the table. */
static int run_ps (const char *const *argv, int err_fd, char **out)
{
  if (ftruncate (err_fd, 0) < 0)
    return -errno;
  return berthd_spawn_capture (argv, err_fd, out);
}

/* "-q1,2,3": ps lists only those (Docker's psPidsArg). */
static char *pid_list_arg (const pid_t *pids, size_t n)
{
  size_t cap = 3 + n * 12;
  char *s = malloc (cap);
  if (s == NULL)
    return NULL;
  size_t len = (size_t) snprintf (s, cap, "-q");
  for (size_t i = 0; i < n; i++)
    len += (size_t) snprintf (s + len, cap - len, "%s%d", i ? "," : "", (int) pids[i]);
  return s;
}

/* ps ARGS [-qPIDS]; some options (f) do not mix with -q, so it is
 * retried without, as Docker does. */
static int ps_output (struct berthd *d, const char *ps_args, const pid_t *pids, size_t n, char **out,
                      berth_err *err)
{
  const char *ps = ps_path ();
  if (ps == NULL)
    return berth_fail_as (err, EIO, "ps: exec: \"ps\": executable file not found in $PATH");
  cleanup_free char *args = strdup (ps_args), *q = pid_list_arg (pids, n);
  cleanup_close int err_fd = berthd_temp_file (d);
  if (args == NULL || q == NULL || err_fd < 0)
    return berth_fail (err, ENOMEM, "ps");
  const char *argv[PS_ARGV_MAX] = { ps };
  size_t argc = top_split_args (args, argv, 1, PS_ARGV_MAX - 1);
  argv[argc] = n ? q : NULL;
  argv[argc + 1] = NULL;
  int r = run_ps (argv, err_fd, out);
  if (r != 0)
    {
      free (*out);
      *out = NULL;
      argv[argc] = NULL;
      r = run_ps (argv, err_fd, out);
    }
  if (r == 0 && *out)
    return 0;
  cleanup_free char *why = r < 0 ? strdup (strerror (-r)) : first_line (err_fd);
  free (*out);
  *out = NULL;
  if (why)
    return berth_fail_as (err, EIO, "ps: %s", why);
  return berth_fail_as (err, EIO, "ps: exit status %d", r);
}

/* ---- top ---- */

static int container_pids (struct container *c, pid_t pid, pid_t **pids, size_t *n, berth_err *err)
{
  struct ct_cgroup cg;
  int r = ct_cgroup_locate (pid, c->id, &cg, err);
  if (r < 0)
    return r;
  r = ct_cgroup_pids (&cg, pids, n, err);
  ct_cgroup_free (&cg);
  return r;
}

static void top (struct request *req, struct reply *rep, struct container *c, const char *ps_args)
{
  struct berthd *d = req->daemon;
  containers_lock (d->containers);
  enum container_status st = c->status;
  pid_t pid = c->pid;
  containers_unlock (d->containers);
  if (st == CT_RESTARTING)
    {
      reply_error (rep, 409, "Container %s is restarting, wait until the container is running", c->id);
      return;
    }
  if ((st != CT_RUNNING && st != CT_PAUSED) || pid <= 0)
    {
      reply_error (rep, 409, "Container %s is not running", c->id);
      return;
    }
  berth_err err = NULL;
  cleanup_free pid_t *pids = NULL;
  cleanup_free char *out = NULL;
  size_t n = 0;
  json_t *table = NULL;
  if (container_pids (c, pid, &pids, &n, &err) < 0)
    {
      /* The process went away between the two looks. */
      berth_error_free (&err);
      reply_error (rep, 409, "Container %s is not running", c->id);
      return;
    }
  if (ps_output (d, ps_args, pids, n, &out, &err) < 0 || top_parse_ps (out, pids, n, &table, &err) < 0)
    {
      /* Docker's errors here are the daemon's (500), not the client's. */
      reply_error (rep, 500, "%s", err ? err->msg : "ps failed");
      berth_error_free (&err);
      return;
    }
  reply_json (rep, 200, table);
}

void api_container_top (struct request *req, struct reply *rep)
{
  const char *ps_args = request_query (req, "ps_args");
  if (ps_args == NULL || *ps_args == '\0')
    ps_args = "-ef";
  berth_err err = NULL;
  if (top_check_ps_args (ps_args, &err) < 0)
    {
      reply_berth_error (rep, &err);
      return;
    }
  struct container *c = api_container_lookup (req, rep);
  if (c == NULL)
    return;
  top (req, rep, c, ps_args);
  container_put (req->daemon->containers, c);
}

/* ---- stats ---- */

static uint64_t machine_memory (void)
{
  long pages = sysconf (_SC_PHYS_PAGES), size = sysconf (_SC_PAGESIZE);
  return pages > 0 && size > 0 ? (uint64_t) pages * (uint64_t) size : 0;
}

/* Read C's counters now; false when it does not run (or just stopped).
 * *NAME gets its current name. */
static bool take_sample (struct berthd *d, struct container *c, struct ct_stats_sample *s, char **name)
{
  containers_lock (d->containers);
  bool live = c->status == CT_RUNNING || c->status == CT_PAUSED;
  pid_t pid = c->pid;
  free (*name);
  *name = strdup (c->name);
  containers_unlock (d->containers);
  struct ct_cgroup cg;
  if (!live || pid <= 0 || ct_cgroup_locate (pid, c->id, &cg, NULL) < 0)
    return false;
  ct_stats_read (&cg, pid, machine_memory (), s);
  ct_cgroup_free (&cg);
  return true;
}

static void sleep_one_second (void)
{
  struct timespec ts = { 1, 0 };
  while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
    ;
}

static json_t *stats_once (struct berthd *d, struct container *c, bool one_shot)
{
  struct ct_stats_sample pre = { 0 }, now = { 0 };
  cleanup_free char *name = NULL;
  json_t *j;
  bool ok = take_sample (d, c, &pre, &name);
  if (ok && !one_shot)
    {
      sleep_one_second ();
      ok = take_sample (d, c, &now, &name);
      j = ok ? ct_stats_json (&now, &pre, name, c->id) : NULL;
    }
  else
    j = ok ? ct_stats_json (&pre, NULL, name, c->id) : NULL;
  ct_stats_sample_clear (&pre);
  ct_stats_sample_clear (&now);
  return j ? j : ct_stats_zero_json (name ? name : c->name, c->id);
}

struct stats_stream
{
  struct berthd *d;
  struct container *c;
};

static int write_line (struct stream_out *out, json_t *j)
{
  cleanup_free char *text = j ? json_dumps (j, JSON_COMPACT) : NULL;
  if (j)
    json_decref (j);
  if (text == NULL)
    return -ENOMEM;
  int r = stream_out_write (out, text, strlen (text));
  return r < 0 ? r : stream_out_write (out, "\n", 1);
}

/* One object a second until the client leaves, the container is removed
 * or the daemon stops; a stopped container shows zeros meanwhile (the
 * docker CLI keeps its row). */
static void stats_stream_fn (struct stream_out *out, void *ctx)
{
  struct stats_stream *x = ctx;
  struct ct_stats_sample pre = { 0 }, now = { 0 };
  bool have_pre = false;
  cleanup_free char *name = NULL;
  while (!x->d->stopping)
    {
      json_t *j;
      if (take_sample (x->d, x->c, &now, &name))
        {
          j = ct_stats_json (&now, have_pre ? &pre : NULL, name, x->c->id);
          ct_stats_sample_clear (&pre);
          pre = now;
          memset (&now, 0, sizeof now);
          have_pre = true;
        }
      else
        {
          j = ct_stats_zero_json (name ? name : "", x->c->id);
          ct_stats_sample_clear (&pre);
          have_pre = false;
        }
      if (write_line (out, j) < 0)
        break;
      containers_lock (x->d->containers);
      bool removed = x->c->removed;
      containers_unlock (x->d->containers);
      if (removed)
        break;
      sleep_one_second ();
    }
  ct_stats_sample_clear (&pre);
  ct_stats_sample_clear (&now);
}

static void stats_stream_free (void *ctx)
{
  struct stats_stream *x = ctx;
  container_put (x->d->containers, x->c);
  free (x);
}

void api_container_stats (struct request *req, struct reply *rep)
{
  bool stream = request_query_bool (req, "stream", true);
  bool one_shot = request_query_bool (req, "one-shot", false);
  if (stream && one_shot)
    {
      reply_error (rep, 400, "cannot have stream=true and one-shot=true");
      return;
    }
  struct container *c = api_container_lookup (req, rep);
  if (c == NULL)
    return;
  if (!stream)
    {
      reply_json (rep, 200, stats_once (req->daemon, c, one_shot));
      container_put (req->daemon->containers, c);
      return;
    }
  struct stats_stream *x = calloc (1, sizeof *x);
  if (x == NULL)
    {
      container_put (req->daemon->containers, c);
      {
        reply_error (rep, 500, "out of memory");
        return;
      }
    }
  x->d = req->daemon;
  x->c = c;
  reply_stream (rep, 200, "application/json", stats_stream_fn, x, stats_stream_free);
}
