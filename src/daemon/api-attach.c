/* Container streams: attach (a hijacked connection relayed to the
 * container's monitor) and logs (the json-file log, optionally followed). */
#include "daemon/container-internal.h"
#include "daemon/monitor-client.h"
#include "daemon/stream.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


static bool container_live (struct container *c)
{
  return c->status == CT_RUNNING || c->status == CT_PAUSED;
}

static const char *stream_content_type (struct request *req, bool tty)
{
  /* API 1.42 named the multiplexed stream; older clients expect raw-stream
   * for both. */
  bool new_api = req->api_version[0] == '\0' || strcmp (req->api_version, "1.42") >= 0;
  return tty || !new_api ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
}

static char *log_path (struct container *c)
{
  char *p = NULL;
  return asprintf (&p, "%s/%s-json.log", c->dir, c->id) < 0 ? NULL : p;
}

/* ---- attach ---- */

struct attach_ctx
{
  struct berthd *d;
  struct container *c;   /* referenced */
  struct relay_opts relay;
  bool logs;
  bool stream;
  bool pending;          /* counted in c->pending_attach */
  char detach_keys[17];
  unsigned generation;   /* the monitor generation seen at attach time */
};

static void attach_ctx_free (void *p)
{
  struct attach_ctx *a = p;
  struct containers *cs = a->d->containers;
  if (a->pending)
    {
      containers_lock (cs);
      a->c->pending_attach--;
      pthread_cond_broadcast (&cs->changed);
      containers_unlock (cs);
    }
  container_put (cs, a->c);
  free (a);
}

/* The client hung up completely (a half-close still lets output flow). */
static bool client_gone (int sock)
{
  struct pollfd p = { .fd = sock, .events = 0 };
  return poll (&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR));
}

/* Wait for a monitor newer than the one seen at attach time, or for the
 * running one; returns false when there will be none. */
static bool wait_for_monitor (struct attach_ctx *a, int sock)
{
  struct containers *cs = a->d->containers;
  struct container *c = a->c;
  bool ok = false;
  containers_lock (cs);
  for (;;)
    {
      if (c->removed || a->d->stopping || cs->closing)
        break;
      if (c->monitor_pid > 0 && (!a->pending || c->generation != a->generation))
        {
          ok = true;
          break;
        }
      if (a->pending && c->generation != a->generation)
        break; /* the start failed */
      containers_unlock (cs);
      bool gone = client_gone (sock);
      containers_lock (cs);
      if (gone)
        break;
      struct timespec deadline;
      clock_gettime (CLOCK_REALTIME, &deadline);
      deadline.tv_sec += 1;
      pthread_cond_timedwait (&cs->changed, &cs->lock, &deadline);
    }
  containers_unlock (cs);
  return ok;
}

static int replay_logs (struct attach_ctx *a, int sock)
{
  cleanup_free char *path = log_path (a->c);
  struct logs_opts o = {
    .stdout = a->relay.stdout, .stderr = a->relay.stderr, .tty = a->relay.tty, .tail = -1,
  };
  return path ? logs_stream (path, &o, stream_sink_fd, &sock, NULL) : -ENOMEM;
}

static void attach_session (int sock, const char *extra, size_t extra_len, void *ctx)
{
  struct attach_ctx *a = ctx;
  if (a->logs && replay_logs (a, sock) < 0)
    return;
  if (!a->stream || !wait_for_monitor (a, sock))
    return;
  berth_err err = NULL;
  cleanup_close int mon = monitor_connect (a->c->state_dir, &err);
  if (mon >= 0)
    {
      char flags = (a->relay.stdout ? MON_ATTACH_STDOUT : 0) | (a->relay.stderr ? MON_ATTACH_STDERR : 0);
      monitor_send (mon, MON_ATTACH, &flags, 1);
    }
  else
    berth_error_free (&err);
  /* Subscribed: a start waiting for this session may go on. */
  if (a->pending)
    {
      containers_lock (a->d->containers);
      a->c->pending_attach--;
      a->pending = false;
      pthread_cond_broadcast (&a->d->containers->changed);
      containers_unlock (a->d->containers);
    }
  if (mon < 0)
    return;
  int code = -1;
  stream_relay (sock, extra, extra_len, mon, &a->relay, &code);
}

void api_container_attach (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  struct container *c = api_container_lookup (req, rep);
  if (c == NULL)
    return;
  struct attach_ctx *a = calloc (1, sizeof *a);
  if (a == NULL)
    {
      container_put (d->containers, c);
      reply_error (rep, 500, "out of memory");
      return;
    }
  a->d = d;
  a->c = c;
  a->logs = request_query_bool (req, "logs", false);
  a->stream = request_query_bool (req, "stream", false);
  a->relay.stdin = request_query_bool (req, "stdin", false);
  a->relay.stdout = request_query_bool (req, "stdout", false);
  a->relay.stderr = request_query_bool (req, "stderr", false);
  a->relay.tty = json_is_true (json_object_get (c->config, "Tty"));
  const char *keys = request_query (req, "detachKeys");
  if (keys && *keys)
    {
      if (stream_parse_detach_keys (keys, a->detach_keys, sizeof a->detach_keys) < 0)
        {
          container_put (d->containers, c);
          free (a);
          return reply_error (rep, 400, "Invalid detach keys (%s) provided", keys);
        }
      a->relay.detach_keys = a->detach_keys;
    }
  containers_lock (d->containers);
  if (a->stream && !container_live (c))
    {
      /* Attached before the start (docker run, docker start -a): the start
       * waits until this session has subscribed to the new monitor. */
      a->pending = true;
      a->generation = c->generation;
      c->pending_attach++;
    }
  containers_unlock (d->containers);
  container_event (d, c, "attach", NULL);
  reply_upgrade (rep, stream_content_type (req, a->relay.tty), attach_session, a, attach_ctx_free);
}

/* ---- logs ---- */

struct logs_ctx
{
  struct berthd *d;
  struct container *c;
  char *path;
  struct logs_opts o;
};

static void logs_ctx_free (void *p)
{
  struct logs_ctx *l = p;
  container_put (l->d->containers, l->c);
  free (l->path);
  free (l);
}

static bool logs_still_running (void *cookie)
{
  struct logs_ctx *l = cookie;
  containers_lock (l->d->containers);
  bool live = (container_live (l->c) || l->c->status == CT_RESTARTING) && !l->c->removed && !l->d->stopping;
  containers_unlock (l->d->containers);
  return live;
}

static int out_sink (void *cookie, const void *buf, size_t len)
{
  return stream_out_write (cookie, buf, len);
}

static void logs_run (struct stream_out *out, void *ctx)
{
  struct logs_ctx *l = ctx;
  berth_err err = NULL;
  if (logs_stream (l->path, &l->o, out_sink, out, &err) < 0)
    berth_error_free (&err);
}

static bool parse_time_arg (struct request *req, const char *key, int64_t *out)
{
  const char *v = request_query (req, key);
  *out = 0;
  if (v == NULL || *v == '\0' || strcmp (v, "0") == 0)
    return true;
  struct timespec now;
  clock_gettime (CLOCK_REALTIME, &now);
  *out = stream_parse_time (v, (int64_t) now.tv_sec * 1000000000LL + now.tv_nsec);
  return *out >= 0;
}

void api_container_logs (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  struct container *c = api_container_lookup (req, rep);
  if (c == NULL)
    return;
  struct logs_ctx *l = calloc (1, sizeof *l);
  const char *type = json_string_value (json_object_get (json_object_get (c->host_config, "LogConfig"), "Type"));
  const char *tail = request_query (req, "tail");
  if (l == NULL || (l->path = log_path (c)) == NULL)
    reply_error (rep, 500, "out of memory");
  else if (type && strcmp (type, "json-file") != 0)
    reply_error (rep, 501, "configured logging driver does not support reading");
  else if (!request_query_bool (req, "stdout", false) && !request_query_bool (req, "stderr", false))
    reply_error (rep, 400, "Bad parameters: you must choose at least one stream");
  else if (!parse_time_arg (req, "since", &l->o.since_ns) || !parse_time_arg (req, "until", &l->o.until_ns))
    reply_error (rep, 400, "invalid value for since or until");
  else
    {
      l->d = d;
      l->c = c;
      l->o.stdout = request_query_bool (req, "stdout", false);
      l->o.stderr = request_query_bool (req, "stderr", false);
      l->o.timestamps = request_query_bool (req, "timestamps", false);
      l->o.follow = request_query_bool (req, "follow", false);
      l->o.tty = json_is_true (json_object_get (c->config, "Tty"));
      l->o.tail = tail == NULL || *tail == '\0' || strcmp (tail, "all") == 0 ? -1 : atol (tail);
      l->o.still_running = logs_still_running;
      l->o.running_cookie = l;
      reply_stream (rep, 200, stream_content_type (req, l->o.tty), logs_run, l, logs_ctx_free);
      return;
    }
  if (l)
    free (l->path);
  free (l);
  container_put (d->containers, c);
}
