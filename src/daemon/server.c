/* The HTTP server: libmicrohttpd with one thread per connection.
 *
 * Each request gets a struct request when its headers arrive; its body is
 * accumulated (JSON) or spooled into an unlinked temp file (uploads), and
 * the handler runs once the body is complete. */
#include "daemon/server.h"
#include "daemon/daemon.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct http_server
{
  struct MHD_Daemon *mhd;
  const struct route *routes;
  struct berthd *daemon;
};

struct pending
{
  struct request req;
  const struct route *route;
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
  unsigned status = e == ENOENT ? 404 : (e == EEXIST || e == EBUSY) ? 409 : (e == EINVAL || e == 0) ? 400 : 500;
  reply_error (rep, status, "%s", err && *err ? (*err)->msg : "internal error");
  berth_error_free (err);
}

/* ---- request helpers ---- */

const char *request_query (struct request *req, const char *key)
{
  return MHD_lookup_connection_value (req->conn, MHD_GET_ARGUMENT_KIND, key);
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

static enum MHD_Result add_header (void *cls, const char *key, json_t *value)
{
  return MHD_add_response_header (cls, key, json_string_value (value)) ? MHD_YES : MHD_NO;
}

static enum MHD_Result send_reply (struct MHD_Connection *conn, struct reply *rep)
{
  struct MHD_Response *resp;
  if (rep->fd >= 0)
    {
      struct stat st;
      if (fstat (rep->fd, &st) < 0)
        st.st_size = 0;
      resp = MHD_create_response_from_fd ((uint64_t) st.st_size, rep->fd);
      rep->fd = -1; /* owned by the response now */
    }
  else
    resp = MHD_create_response_from_buffer (rep->body_len, rep->body ? rep->body : (char *) "",
                                            MHD_RESPMEM_MUST_COPY);
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
  enum MHD_Result r = send_reply (conn, &rep);
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
  pending_free (*req_cls);
  *req_cls = NULL;
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
  s->mhd = MHD_start_daemon (MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG
                                 | MHD_ALLOW_UPGRADE,
                             0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
                             NULL, MHD_OPTION_END);
  if (s->mhd == NULL)
    {
      free (s);
      berth_fail (err, 0, "cannot start the HTTP server");
      return NULL;
    }
  return s;
}

void http_server_stop (struct http_server *s)
{
  if (s == NULL)
    return;
  MHD_stop_daemon (s->mhd);
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
