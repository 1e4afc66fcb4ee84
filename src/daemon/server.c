/* The HTTP server: libmicrohttpd with one thread per connection.
 *
 * Each request gets a struct request when its headers arrive; its body is
 * accumulated (JSON) or spooled into an unlinked temp file (uploads), and
 * the handler runs once the body is complete.
 *
 * Streamed bodies: the handler's stream_fn runs in a producer thread and
 * writes into a socketpair; MHD's content reader, in the connection's
 * thread, passes what arrives on as chunks.  The reader also watches the
 * client (a hang-up ends the response) and the server's stop event.  When
 * the response is destroyed its end of the pair is closed, so the
 * producer's next write fails with EPIPE.
 *
 * Hijacked connections: a 101 response whose upgrade callback hands the
 * socket to a new thread running the upgrade_fn; that thread gives the
 * socket back to MHD (MHD_UPGRADE_ACTION_CLOSE) when the function returns.
 *
 * Stopping: the stop event ends every stream's reader, hijacked sockets
 * are shut down (so their functions see EOF and EPIPE), and the server
 * waits for its producer and hijack threads before MHD_stop_daemon, which
 * must not run while a hijack thread still holds MHD's handle. */
#include "daemon/server.h"
#include "daemon/daemon.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* How long http_server_stop waits for stream and hijack functions to
 * notice the end (they get EPIPE/EOF at once; this bounds a function that
 * blocks on something else). */
#define STOP_GRACE_SECONDS 10
/* The most a streamed chunk carries. */
#define STREAM_CHUNK 32768

struct hijack;

struct http_server
{
  struct MHD_Daemon *mhd;
  const struct route *routes;
  struct berthd *daemon;
  int stop_fd;               /* eventfd, readable once the server stops */
  pthread_mutex_t lock;
  pthread_cond_t worker_done;
  unsigned workers;          /* live stream producers and hijack threads */
  unsigned hijacked;         /* hijack threads that still hold MHD's handle */
  struct hijack *hijacks;    /* live hijacked connections */
  bool stopping;
};

struct pending
{
  struct request req;
  const struct route *route;
  struct hijack *hijack;     /* an upgrade reply whose callback has not run yet */
};

struct stream_out
{
  struct http_server *srv;
  int refs;                  /* the response and the producer */
  int rfd;                   /* the response's end of the pair */
  int wfd;                   /* the producer's end */
  int client;                /* the connection's socket, watched for a hang-up */
  bool gone;                 /* the response has ended: writes fail */
  stream_fn fn;
  void *ctx;
  void (*free_ctx) (void *);
};

struct hijack
{
  struct http_server *srv;
  upgrade_fn fn;
  void *ctx;
  void (*free_ctx) (void *);
  int sock;
  char *extra;
  size_t extra_len;
  struct MHD_UpgradeResponseHandle *urh;
  struct hijack *next;
};

/* ---- replies ---- */

void reply_header (struct reply *rep, const char *name, const char *value)
{
  if (rep->headers == NULL)
    rep->headers = json_object ();
  json_object_set_new (rep->headers, name, json_string (value));
}

void reply_json (struct reply *rep, unsigned status, json_t *body)
{
  free (rep->body);
  rep->status = status;
  rep->body = body ? json_dumps (body, JSON_COMPACT) : NULL;
  rep->body_len = rep->body ? strlen (rep->body) : 0;
  rep->content_type = "application/json";
  if (body)
    json_decref (body);
}

void reply_text (struct reply *rep, unsigned status, const char *content_type, const char *text)
{
  free (rep->body);
  rep->status = status;
  rep->body = strdup (text);
  rep->body_len = strlen (text);
  rep->content_type = content_type;
}

void reply_fd (struct reply *rep, unsigned status, const char *content_type, int fd)
{
  rep->status = status;
  rep->content_type = content_type;
  rep->fd = fd;
}

void reply_stream (struct reply *rep, unsigned status, const char *content_type, stream_fn fn, void *ctx,
                   void (*free_ctx) (void *))
{
  rep->status = status;
  rep->content_type = content_type;
  rep->stream = fn;
  rep->upgrade = NULL;
  rep->ctx = ctx;
  rep->free_ctx = free_ctx;
}

void reply_upgrade (struct reply *rep, const char *content_type, upgrade_fn fn, void *ctx, void (*free_ctx) (void *))
{
  rep->status = 101;
  rep->content_type = content_type;
  rep->upgrade = fn;
  rep->stream = NULL;
  rep->ctx = ctx;
  rep->free_ctx = free_ctx;
}

void reply_error (struct reply *rep, unsigned status, const char *fmt, ...)
{
  char *msg = NULL;
  va_list ap;
  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  va_end (ap);
  reply_json (rep, status, json_pack ("{s:s}", "message", msg ? msg : "error"));
  free (msg);
}

void reply_berth_error (struct reply *rep, berth_err *err)
{
  int e = err && *err ? (*err)->errnum : 0;
  unsigned status = e == ENOENT ? 404 : (e == EEXIST || e == EBUSY) ? 409 : (e == EINVAL || e == 0) ? 400 : e == EPERM ? 403 : 500;
  reply_error (rep, status, "%s", err && *err ? (*err)->msg : "internal error");
  berth_error_free (err);
}

/* ---- request helpers ---- */

const char *request_query (struct request *req, const char *key)
{
  return MHD_lookup_connection_value (req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *request_header (struct request *req, const char *name)
{
  return MHD_lookup_connection_value (req->conn, MHD_HEADER_KIND, name);
}

bool request_query_bool (struct request *req, const char *key, bool fallback)
{
  const char *v = request_query (req, key);
  if (v == NULL)
    return fallback;
  return strcmp (v, "1") == 0 || strcasecmp (v, "true") == 0;
}

struct collect
{
  const char *key;
  char **values;
  size_t n;
};

static enum MHD_Result collect_value (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
  struct collect *c = cls;
  (void) kind;
  if (strcmp (key, c->key) != 0 || value == NULL)
    return MHD_YES;
  char **nv = realloc (c->values, (c->n + 2) * sizeof (char *));
  if (nv == NULL)
    return MHD_NO;
  c->values = nv;
  c->values[c->n++] = strdup (value);
  c->values[c->n] = NULL;
  return MHD_YES;
}

char **request_query_all (struct request *req, const char *key)
{
  struct collect c = { .key = key };
  MHD_get_connection_values (req->conn, MHD_GET_ARGUMENT_KIND, collect_value, &c);
  if (c.values == NULL)
    c.values = calloc (1, sizeof (char *));
  return c.values;
}

json_t *request_json (struct request *req, struct reply *rep)
{
  berth_err err = NULL;
  if (req->body_too_large)
    {
      reply_error (rep, 413, "request body too large (limit %d bytes)", BERTH_JSON_MAX_SIZE);
      return NULL;
    }
  if (req->body_len == 0)
    {
      reply_error (rep, 400, "request body is empty, expected JSON");
      return NULL;
    }
  json_t *j = berth_json_load_buffer (req->body, req->body_len, "request body", &err);
  if (j == NULL)
    reply_berth_error (rep, &err);
  else if (!json_is_object (j))
    {
      json_decref (j);
      reply_error (rep, 400, "request body: expected a JSON object");
      return NULL;
    }
  return j;
}

/* ---- the libmicrohttpd callbacks ---- */

static const struct route *find_route (const struct route *routes, const char *method, const char *path,
                                       char **params, bool *path_known)
{
  *path_known = false;
  for (const struct route *r = routes; r->pattern; r++)
    {
      char *tmp[ROUTE_MAX_PARAMS] = { 0 };
      if (!route_match (r->pattern, path, tmp))
        continue;
      *path_known = true;
      bool same = strcmp (r->method, method) == 0 || (strcmp (method, "HEAD") == 0 && strcmp (r->method, "GET") == 0);
      if (same)
        {
          memcpy (params, tmp, sizeof tmp);
          return r;
        }
      for (int i = 0; i < ROUTE_MAX_PARAMS; i++)
        free (tmp[i]);
    }
  return NULL;
}

static struct pending *pending_new (struct http_server *s, struct MHD_Connection *conn, const char *url,
                                    const char *method)
{
  struct pending *p = calloc (1, sizeof *p);
  if (p == NULL)
    return NULL;
  p->req.conn = conn;
  p->req.daemon = s->daemon;
  p->req.method = method;
  p->req.body_fd = -1;
  p->req.path = route_strip_version (url, p->req.api_version, sizeof p->req.api_version);
  bool known;
  p->route = find_route (s->routes, method, p->req.path, p->req.params, &known);
  if (p->route && p->route->body == BODY_FILE)
    p->req.body_fd = berthd_temp_file (s->daemon);
  return p;
}

static void pending_free (struct pending *p)
{
  if (p == NULL)
    return;
  for (int i = 0; i < ROUTE_MAX_PARAMS; i++)
    free (p->req.params[i]);
  free (p->req.body);
  if (p->req.body_fd >= 0)
    close (p->req.body_fd);
  free (p);
}

static void take_upload (struct pending *p, const char *data, size_t len)
{
  if (p->route == NULL || p->route->body == BODY_NONE)
    return;
  if (p->route->body == BODY_FILE)
    {
      if (p->req.body_fd >= 0 && berth_write_all (p->req.body_fd, data, len) < 0)
        p->req.body_too_large = true; /* disk full: report it like an oversized body */
      return;
    }
  if (p->req.body_too_large || p->req.body_len + len > BERTH_JSON_MAX_SIZE)
    {
      p->req.body_too_large = true;
      return;
    }
  char *nb = realloc (p->req.body, p->req.body_len + len + 1);
  if (nb == NULL)
    {
      p->req.body_too_large = true;
      return;
    }
  memcpy (nb + p->req.body_len, data, len);
  p->req.body_len += len;
  nb[p->req.body_len] = '\0';
  p->req.body = nb;
}

/* A body from memory or a file. */
static struct MHD_Response *plain_response (struct reply *rep)
{
  if (rep->fd >= 0)
    {
      struct stat st;
      if (fstat (rep->fd, &st) < 0)
        st.st_size = 0;
      struct MHD_Response *resp = MHD_create_response_from_fd ((uint64_t) st.st_size, rep->fd);
      if (resp)
        rep->fd = -1; /* owned by the response now */
      return resp;
    }
  return MHD_create_response_from_buffer (rep->body_len, rep->body ? rep->body : (char *) "", MHD_RESPMEM_MUST_COPY);
}

/* ---- workers: stream producers and hijack threads ---- */

static void worker_started (struct http_server *s)
{
  pthread_mutex_lock (&s->lock);
  s->workers++;
  pthread_mutex_unlock (&s->lock);
}

static void worker_finished (struct http_server *s)
{
  pthread_mutex_lock (&s->lock);
  s->workers--;
  pthread_cond_broadcast (&s->worker_done);
  pthread_mutex_unlock (&s->lock);
}

static bool server_stopping (struct http_server *s)
{
  pthread_mutex_lock (&s->lock);
  bool stopping = s->stopping;
  pthread_mutex_unlock (&s->lock);
  return stopping;
}

static int start_detached (void *(*fn) (void *), void *arg)
{
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init (&attr);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  int r = pthread_create (&t, &attr, fn, arg);
  pthread_attr_destroy (&attr);
  return -r;
}

/* ---- streamed bodies ---- */

static void stream_out_unref (struct stream_out *out)
{
  if (__atomic_sub_fetch (&out->refs, 1, __ATOMIC_ACQ_REL) > 0)
    return;
  if (out->rfd >= 0)
    close (out->rfd);
  if (out->wfd >= 0)
    close (out->wfd);
  free (out);
}

static bool stream_out_gone (struct stream_out *out)
{
  return __atomic_load_n (&out->gone, __ATOMIC_ACQUIRE) || server_stopping (out->srv);
}

int stream_out_write (struct stream_out *out, const void *buf, size_t len)
{
  const char *p = buf;
  if (stream_out_gone (out))
    return -EPIPE;
  while (len > 0)
    {
      ssize_t w = send (out->wfd, p, len, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        {
          __atomic_store_n (&out->gone, true, __ATOMIC_RELEASE);
          return -EPIPE;
        }
      p += w;
      len -= (size_t) w;
    }
  return 0;
}

/* MHD's content reader, in the connection's thread: the next chunk, the
 * end of the stream (the producer returned), or an error that closes the
 * connection (the client hung up or the server stops). */
static ssize_t stream_read (void *cls, uint64_t pos, char *buf, size_t max)
{
  struct stream_out *out = cls;
  (void) pos;
  for (;;)
    {
      struct pollfd p[3] = {
        { .fd = out->rfd, .events = POLLIN },
        { .fd = out->client, .events = POLLRDHUP },
        { .fd = out->srv->stop_fd, .events = POLLIN },
      };
      if (poll (p, 3, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          return MHD_CONTENT_READER_END_WITH_ERROR;
        }
      if (p[2].revents || (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR)))
        return MHD_CONTENT_READER_END_WITH_ERROR;
      if (p[0].revents == 0)
        continue;
      ssize_t n = read (out->rfd, buf, max);
      if (n > 0)
        return n;
      if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
      if (errno != EINTR && errno != EAGAIN)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
}

/* The response is destroyed: the producer's writes fail from now on. */
static void stream_response_freed (void *cls)
{
  struct stream_out *out = cls;
  __atomic_store_n (&out->gone, true, __ATOMIC_RELEASE);
  close (out->rfd); /* wakes a producer blocked in send() with EPIPE */
  out->rfd = -1;
  stream_out_unref (out);
}

static void *stream_producer (void *arg)
{
  struct stream_out *out = arg;
  struct http_server *srv = out->srv;
  out->fn (out, out->ctx);
  if (out->free_ctx)
    out->free_ctx (out->ctx);
  shutdown (out->wfd, SHUT_WR); /* the reader sees the end of the stream */
  stream_out_unref (out);
  worker_finished (srv);
  return NULL;
}

static int connection_fd (struct MHD_Connection *conn)
{
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info (conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  return ci ? ci->connect_fd : -1;
}

static struct stream_out *stream_out_new (struct http_server *s, struct MHD_Connection *conn, struct reply *rep)
{
  int pair[2];
  struct stream_out *out = calloc (1, sizeof *out);
  if (out == NULL || socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
    {
      free (out);
      return NULL;
    }
  out->srv = s;
  out->refs = 1;
  out->rfd = pair[0];
  out->wfd = pair[1];
  out->client = connection_fd (conn);
  out->fn = rep->stream;
  out->ctx = take_ptr (rep->ctx);
  out->free_ctx = rep->free_ctx;
  rep->stream = NULL;
  return out;
}

/* Start the producer; on failure the stream is simply empty. */
static void stream_start (struct stream_out *out)
{
  __atomic_add_fetch (&out->refs, 1, __ATOMIC_ACQ_REL);
  worker_started (out->srv);
  if (start_detached (stream_producer, out) == 0)
    return;
  berth_warn ("http: cannot start a stream thread");
  if (out->free_ctx)
    out->free_ctx (out->ctx);
  shutdown (out->wfd, SHUT_WR);
  stream_out_unref (out);
  worker_finished (out->srv);
}

static struct MHD_Response *stream_response (struct http_server *s, struct MHD_Connection *conn, struct reply *rep)
{
  struct stream_out *out = stream_out_new (s, conn, rep);
  if (out == NULL)
    {
      int e = errno;
      if (rep->free_ctx)
        rep->free_ctx (take_ptr (rep->ctx));
      rep->stream = NULL;
      reply_error (rep, 500, "cannot start a stream: %s", strerror (e));
      return plain_response (rep);
    }
  struct MHD_Response *resp = MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, STREAM_CHUNK, stream_read, out,
                                                                 stream_response_freed);
  if (resp == NULL)
    {
      if (out->free_ctx)
        out->free_ctx (out->ctx);
      stream_out_unref (out);
      return NULL;
    }
  stream_start (out);
  return resp;
}

/* ---- hijacked connections ---- */

static void hijack_free (struct hijack *h)
{
  if (h == NULL)
    return;
  if (h->free_ctx)
    h->free_ctx (h->ctx);
  free (h->extra);
  free (h);
}

static void hijack_unlink (struct hijack *h)
{
  struct http_server *s = h->srv;
  pthread_mutex_lock (&s->lock);
  for (struct hijack **pp = &s->hijacks; *pp; pp = &(*pp)->next)
    if (*pp == h)
      {
        *pp = h->next;
        break;
      }
  pthread_mutex_unlock (&s->lock);
}

/* Give the socket back to MHD (which closes it) and count the worker out
 * last: http_server_stop may stop MHD only after that. */
static void hijack_finish (struct hijack *h)
{
  struct http_server *s = h->srv;
  hijack_unlink (h);
  struct MHD_UpgradeResponseHandle *urh = h->urh;
  hijack_free (h);
  MHD_upgrade_action (urh, MHD_UPGRADE_ACTION_CLOSE);
  pthread_mutex_lock (&s->lock);
  s->hijacked--;
  pthread_mutex_unlock (&s->lock);
  worker_finished (s);
}

static void *hijack_thread (void *arg)
{
  struct hijack *h = arg;
  h->fn (h->sock, h->extra, h->extra_len, h->ctx);
  hijack_finish (h);
  return NULL;
}

/* Register H as live; false if the server is stopping (then it must not
 * start). */
static bool hijack_register (struct hijack *h)
{
  struct http_server *s = h->srv;
  pthread_mutex_lock (&s->lock);
  bool ok = !s->stopping;
  if (ok)
    {
      h->next = s->hijacks;
      s->hijacks = h;
      s->hijacked++;
      s->workers++;
    }
  pthread_mutex_unlock (&s->lock);
  return ok;
}

/* MHD's upgrade callback, in the connection's thread once the 101 is out. */
static void on_upgrade (void *cls, struct MHD_Connection *conn, void *req_cls, const char *extra_in,
                        size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
  struct hijack *h = cls;
  struct pending *p = req_cls;
  (void) conn;
  if (p && p->hijack == h)
    p->hijack = NULL; /* ours now */
  h->sock = sock;
  h->urh = urh;
  if (extra_in_size > 0 && (h->extra = malloc (extra_in_size)) != NULL)
    {
      memcpy (h->extra, extra_in, extra_in_size);
      h->extra_len = extra_in_size;
    }
  /* MHD's sockets are non-blocking; the function gets a blocking one. */
  int fl = fcntl (sock, F_GETFL);
  if (fl >= 0)
    fcntl (sock, F_SETFL, fl & ~O_NONBLOCK);
  if (!hijack_register (h))
    {
      hijack_free (h);
      MHD_upgrade_action (urh, MHD_UPGRADE_ACTION_CLOSE);
      return;
    }
  if (start_detached (hijack_thread, h) < 0)
    {
      berth_warn ("http: cannot start a thread for a hijacked connection");
      hijack_finish (h);
    }
}

/* Docker's clients ask for the upgrade ("Connection: Upgrade", "Upgrade:
 * tcp"); libmicrohttpd can hand over a socket only with a 101, so a client
 * that did not ask cannot be served. */
static bool client_asked_upgrade (struct MHD_Connection *conn)
{
  return MHD_lookup_connection_value (conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_UPGRADE) != NULL;
}

struct unupgraded
{
  struct hijack *h;
  int sock;
};

static void *unupgraded_thread (void *arg)
{
  struct unupgraded *u = arg;
  u->h->fn (u->sock, NULL, 0, u->h->ctx);
  shutdown (u->sock, SHUT_RDWR);
  return NULL;
}

/* At most this much output is kept for a client that did not upgrade. */
#define UNUPGRADED_MAX (64 << 20)

static void run_unupgraded (struct hijack *h, struct reply *rep)
{
  int sp[2];
  pthread_t t;
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
    return reply_error (rep, 500, "socketpair: %s", strerror (errno));
  shutdown (sp[1], SHUT_WR); /* no input from this client */
  struct unupgraded u = { .h = h, .sock = sp[0] };
  if (pthread_create (&t, NULL, unupgraded_thread, &u) != 0)
    {
      close (sp[0]);
      close (sp[1]);
      return reply_error (rep, 500, "cannot start a thread");
    }
  size_t len = 0, cap = 65536;
  char *body = malloc (cap);
  for (;;)
    {
      if (body && len == cap && cap < UNUPGRADED_MAX)
        {
          char *nb = realloc (body, cap * 2);
          if (nb)
            {
              body = nb;
              cap *= 2;
            }
        }
      char sink[4096];
      bool full = body == NULL || len == cap;
      ssize_t n = read (sp[1], full ? sink : body + len, full ? sizeof sink : cap - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      if (!full)
        len += (size_t) n;
    }
  pthread_join (t, NULL);
  close (sp[0]);
  close (sp[1]);
  free (rep->body);
  rep->status = 200;
  rep->body = body;
  rep->body_len = len;
}

static struct MHD_Response *upgrade_response (struct http_server *s, struct pending *p, struct reply *rep)
{
  struct hijack *h = calloc (1, sizeof *h);
  if (h == NULL)
    {
      if (rep->free_ctx)
        rep->free_ctx (take_ptr (rep->ctx));
      rep->upgrade = NULL;
      return NULL;
    }
  h->srv = s;
  h->fn = rep->upgrade;
  h->ctx = take_ptr (rep->ctx);
  h->free_ctx = rep->free_ctx;
  h->sock = -1;
  rep->upgrade = NULL;
  if (!client_asked_upgrade (p->req.conn))
    {
      /* Docker hijacks such a connection anyway and closes it after the
       * output.  Without a 101 there is no socket to hand over, so FN runs
       * against a socketpair whose input is already at its end, and its
       * output becomes the body: the same bytes, without interaction. */
      run_unupgraded (h, rep);
      hijack_free (h);
      reply_header (rep, "Connection", "close");
      return plain_response (rep);
    }
  struct MHD_Response *resp = MHD_create_response_for_upgrade (on_upgrade, h);
  if (resp == NULL)
    {
      hijack_free (h);
      return NULL;
    }
  p->hijack = h; /* freed with the request if the upgrade never happens */
  MHD_add_response_header (resp, MHD_HTTP_HEADER_CONNECTION, "Upgrade");
  MHD_add_response_header (resp, MHD_HTTP_HEADER_UPGRADE, "tcp");
  return resp;
}

/* ---- sending replies ---- */

static enum MHD_Result add_header (void *cls, const char *key, json_t *value)
{
  return MHD_add_response_header (cls, key, json_string_value (value)) ? MHD_YES : MHD_NO;
}

static enum MHD_Result send_reply (struct http_server *s, struct pending *p, struct reply *rep)
{
  struct MHD_Connection *conn = p->req.conn;
  struct MHD_Response *resp;
  if (rep->upgrade)
    resp = upgrade_response (s, p, rep);
  else if (rep->stream)
    resp = stream_response (s, conn, rep);
  else
    resp = plain_response (rep);
  if (resp == NULL)
    return MHD_NO;
  if (rep->content_type)
    MHD_add_response_header (resp, "Content-Type", rep->content_type);
  MHD_add_response_header (resp, "Api-Version", BERTHD_API_VERSION);
  MHD_add_response_header (resp, "Server", "berthd/" BERTH_VERSION " (linux)");
  MHD_add_response_header (resp, "Docker-Experimental", "false");
  MHD_add_response_header (resp, "Ostype", "linux");
  const char *key;
  json_t *value;
  json_object_foreach (rep->headers, key, value)
    add_header (resp, key, value);
  enum MHD_Result r = MHD_queue_response (conn, rep->status, resp);
  MHD_destroy_response (resp);
  return r;
}

/* "1.44" -> 144; -1 if malformed. */
static int version_number (const char *v)
{
  int major = 0, minor = 0;
  char tail;
  if (sscanf (v, "%d.%d%c", &major, &minor, &tail) != 2 || major < 0 || minor < 0 || minor > 99)
    return -1;
  return major * 100 + minor;
}

/* Docker's rule: a client asking for a version outside what the daemon
 * speaks gets a 400 that tells it which versions are supported. */
static bool version_supported (struct pending *p, struct reply *rep)
{
  const char *v = p->req.api_version;
  if (*v == '\0')
    return true;
  int n = version_number (v);
  if (n < 0)
    reply_error (rep, 400, "invalid API version `%s`", v);
  else if (n < version_number (BERTHD_MIN_API_VERSION))
    reply_error (rep, 400, "client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", v, BERTHD_MIN_API_VERSION);
  else if (n > version_number (BERTHD_API_VERSION))
    reply_error (rep, 400, "client version %s is too new. Maximum supported API version is %s", v, BERTHD_API_VERSION);
  else
    return true;
  return false;
}

static void run_handler (struct pending *p, struct reply *rep)
{
  if (!version_supported (p, rep))
    return;
  if (p->route == NULL)
    {
      reply_error (rep, 404, "page not found: %s %s", p->req.method, p->req.path);
      return;
    }
  if (p->req.body_fd >= 0)
    lseek (p->req.body_fd, 0, SEEK_SET);
  if (p->route->body == BODY_FILE && p->req.body_fd < 0)
    {
      reply_error (rep, 500, "cannot store the request body");
      return;
    }
  p->route->handler (&p->req, rep);
}

static enum MHD_Result on_request (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                   const char *version, const char *upload_data, size_t *upload_size,
                                   void **req_cls)
{
  struct http_server *s = cls;
  (void) version;
  struct pending *p = *req_cls;
  if (p == NULL)
    {
      p = pending_new (s, conn, url, method);
      *req_cls = p;
      return p ? MHD_YES : MHD_NO;
    }
  if (*upload_size > 0)
    {
      take_upload (p, upload_data, *upload_size);
      *upload_size = 0;
      return MHD_YES;
    }
  struct reply rep = { .status = 500, .fd = -1 };
  run_handler (p, &rep);
  if (strcmp (method, "HEAD") == 0)
    rep.body_len = 0;
  berth_debug ("%s %s -> %u", method, url, rep.status);
  enum MHD_Result r = send_reply (s, p, &rep);
  if (rep.ctx && rep.free_ctx) /* a context no stream or upgrade took */
    rep.free_ctx (rep.ctx);
  free (rep.body);
  if (rep.fd >= 0)
    close (rep.fd);
  if (rep.headers)
    json_decref (rep.headers);
  return r;
}

static void on_completed (void *cls, struct MHD_Connection *conn, void **req_cls, enum MHD_RequestTerminationCode toe)
{
  (void) cls;
  (void) conn;
  (void) toe;
  struct pending *p = *req_cls;
  bool upload = p && p->route && p->route->body == BODY_FILE;
  if (p)
    hijack_free (p->hijack); /* the upgrade did not happen */
  pending_free (p);
  *req_cls = NULL;
  /* Uploads (load, import, cp) unpack archives through large buffers in
   * this connection's malloc arena: hand the memory back to the system
   * rather than keep it resident while berthd idles. */
  if (upload)
    malloc_trim (0);
}

static void on_mhd_log (void *cls, const char *fmt, va_list ap)
{
  (void) cls;
  char *msg = NULL;
  if (vasprintf (&msg, fmt, ap) >= 0)
    {
      berth_debug ("http: %s", msg);
      free (msg);
    }
}

struct http_server *http_server_start (int fd, const struct route *routes, struct berthd *d, berth_err *err)
{
  struct http_server *s = calloc (1, sizeof *s);
  if (s == NULL)
    {
      berth_fail (err, ENOMEM, "http server");
      return NULL;
    }
  s->routes = routes;
  s->daemon = d;
  s->stop_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (s->stop_fd < 0)
    {
      berth_fail_errno (err, "eventfd");
      free (s);
      return NULL;
    }
  pthread_mutex_init (&s->lock, NULL);
  pthread_cond_init (&s->worker_done, NULL);
  /* MHD_USE_ITC: MHD_quiesce_daemon needs it. */
  s->mhd = MHD_start_daemon (MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG
                                 | MHD_ALLOW_UPGRADE | MHD_USE_ITC,
                             0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
                             NULL, MHD_OPTION_END);
  if (s->mhd == NULL)
    {
      close (s->stop_fd);
      pthread_mutex_destroy (&s->lock);
      pthread_cond_destroy (&s->worker_done);
      free (s);
      berth_fail (err, 0, "cannot start the HTTP server");
      return NULL;
    }
  return s;
}

void http_server_shutdown_streams (struct http_server *s)
{
  uint64_t one = 1;
  if (s == NULL)
    return;
  pthread_mutex_lock (&s->lock);
  if (!s->stopping && write (s->stop_fd, &one, sizeof one) < 0)
    berth_warn ("http: cannot signal the stop: %s", strerror (errno));
  s->stopping = true;
  for (struct hijack *h = s->hijacks; h; h = h->next)
    shutdown (h->sock, SHUT_RDWR);
  pthread_mutex_unlock (&s->lock);
}

/* Wait until no worker is left or DEADLINE (CLOCK_REALTIME) passes;
 * returns whether all are gone. */
static bool wait_for_workers (struct http_server *s, const struct timespec *deadline)
{
  pthread_mutex_lock (&s->lock);
  while (s->workers > 0 && pthread_cond_timedwait (&s->worker_done, &s->lock, deadline) == 0)
    ;
  bool done = s->workers == 0;
  if (!done)
    berth_warn ("http: %u stream or attach functions did not end within %d s", s->workers, STOP_GRACE_SECONDS);
  pthread_mutex_unlock (&s->lock);
  return done;
}

void http_server_stop (struct http_server *s)
{
  if (s == NULL)
    return;
  /* No new connections; the listening socket stays the caller's. */
  MHD_quiesce_daemon (s->mhd);
  http_server_shutdown_streams (s);
  struct timespec deadline;
  clock_gettime (CLOCK_REALTIME, &deadline);
  deadline.tv_sec += STOP_GRACE_SECONDS;
  if (!wait_for_workers (s, &deadline))
    {
      pthread_mutex_lock (&s->lock);
      bool hijacked = s->hijacked > 0;
      pthread_mutex_unlock (&s->lock);
      /* A hijack thread still holds MHD's handle: stopping MHD now would
       * free it under the thread.  The process is ending; leave both. */
      if (hijacked)
        return;
    }
  MHD_stop_daemon (s->mhd);
  /* Streams that began while MHD stopped: their producers end at once. */
  if (!wait_for_workers (s, &deadline))
    return; /* a producer still points here */
  close (s->stop_fd);
  pthread_mutex_destroy (&s->lock);
  pthread_cond_destroy (&s->worker_done);
  free (s);
}

int http_listen_unix (const char *path, unsigned mode, berth_err *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen (path) >= sizeof addr.sun_path)
    return berth_fail (err, ENAMETOOLONG, "socket path `%s`", path);
  strcpy (addr.sun_path, path);
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return berth_fail_errno (err, "socket");
  unlink (path); /* a stale socket of an earlier run */
  if (bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0 || chmod (path, mode) < 0 || listen (fd, 128) < 0)
    {
      int e = errno;
      close (fd);
      return berth_fail (err, e, "listen on `%s`", path);
    }
  return fd;
}
