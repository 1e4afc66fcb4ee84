/* libmicrohttpd glue: one thread per connection (blocking file I/O in a
 * handler then only stalls its own client), routing of /v2/ paths,
 * authentication before any handler runs, request bodies streamed to their
 * consumer as they arrive, and the spec's JSON errors. */
#include "registry/http.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* MHD's per-connection buffer: request body chunks arrive in pieces of
 * about this size, so larger means fewer write() and hash calls. */
#define CONNECTION_MEMORY (512 * 1024)
#define CONNECTION_TIMEOUT_S 300

/* ---- errors ---- */

static const struct
{
  const char *code;
  unsigned status;
  const char *message;
} error_table[] = {
  { "BLOB_UNKNOWN", 404, "blob unknown to registry" },
  { "BLOB_UPLOAD_INVALID", 400, "blob upload invalid" },
  { "BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry" },
  { "DIGEST_INVALID", 400, "provided digest did not match uploaded content" },
  { "MANIFEST_BLOB_UNKNOWN", 400, "manifest references a manifest or blob unknown to registry" },
  { "MANIFEST_INVALID", 400, "manifest invalid" },
  { "MANIFEST_UNKNOWN", 404, "manifest unknown to registry" },
  { "NAME_INVALID", 400, "invalid repository name" },
  { "NAME_UNKNOWN", 404, "repository name not known to registry" },
  { "SIZE_INVALID", 400, "provided length did not match content length" },
  { "UNAUTHORIZED", 401, "authentication required" },
  { "DENIED", 403, "requested access to the resource is denied" },
  { "UNSUPPORTED", 405, "the operation is unsupported" },
  { "TOOMANYREQUESTS", 429, "too many requests" },
  { "NOT_FOUND", 404, "not found" },
};

static void set_response (struct reg_req *req, unsigned status, struct MHD_Response *resp)
{
  if (req->resp)
    MHD_destroy_response (req->resp);
  req->resp = resp;
  req->status = status;
}

void reply_header (struct reg_req *req, const char *name, const char *value)
{
  if (req->resp)
    MHD_add_response_header (req->resp, name, value);
}

void reply_headerf (struct reg_req *req, const char *name, const char *fmt, ...)
{
  char *v = NULL;
  va_list ap;
  va_start (ap, fmt);
  int r = vasprintf (&v, fmt, ap);
  va_end (ap);
  if (r >= 0)
    reply_header (req, name, v);
  free (v);
}

void reply_empty (struct reg_req *req, unsigned status)
{
  set_response (req, status, MHD_create_response_from_buffer (0, (void *) "", MHD_RESPMEM_PERSISTENT));
}

void reply_buffer (struct reg_req *req, unsigned status, const char *content_type, const char *body, size_t len)
{
  set_response (req, status, MHD_create_response_from_buffer (len, (void *) body, MHD_RESPMEM_MUST_COPY));
  if (content_type)
    reply_header (req, "Content-Type", content_type);
}

void reply_json (struct reg_req *req, unsigned status, const char *content_type, json_t *body)
{
  cleanup_free char *s = json_dumps (body, JSON_COMPACT);
  json_decref (body);
  if (s == NULL)
    {
      reply_error_status (req, 500, "UNKNOWN", "out of memory");
      return;
    }
  reply_buffer (req, status, content_type ? content_type : "application/json", s, strlen (s));
}

void reply_fd (struct reg_req *req, unsigned status, const char *content_type, int fd, uint64_t offset, uint64_t len)
{
  struct MHD_Response *resp = MHD_create_response_from_fd_at_offset64 (len, fd, offset);
  if (resp == NULL)
    {
      close (fd);
      reply_error_status (req, 500, "UNKNOWN", "cannot create the response");
      return;
    }
  set_response (req, status, resp);
  if (content_type)
    reply_header (req, "Content-Type", content_type);
}

void reply_error_status (struct reg_req *req, unsigned status, const char *code, const char *detail)
{
  const char *message = "internal error";
  for (size_t i = 0; i < sizeof error_table / sizeof error_table[0]; i++)
    if (strcmp (error_table[i].code, code) == 0)
      message = error_table[i].message;
  json_t *e = json_pack ("{s:s,s:s}", "code", code, "message", message);
  if (detail)
    json_object_set_new (e, "detail", json_string (detail));
  reply_json (req, status, NULL, json_pack ("{s:[o]}", "errors", e));
}

void reply_error (struct reg_req *req, const char *code, const char *detail_fmt, ...)
{
  unsigned status = 500;
  for (size_t i = 0; i < sizeof error_table / sizeof error_table[0]; i++)
    if (strcmp (error_table[i].code, code) == 0)
      status = error_table[i].status;
  cleanup_free char *detail = NULL;
  if (detail_fmt)
    {
      va_list ap;
      va_start (ap, detail_fmt);
      if (vasprintf (&detail, detail_fmt, ap) < 0)
        detail = NULL;
      va_end (ap);
    }
  reply_error_status (req, status, code, detail);
}

void reply_internal (struct reg_req *req, berth_err *err)
{
  berth_log (BERTH_LOG_ERROR, "%s %s: %s", req->method, req->name ? req->name : "", *err ? (*err)->msg : "?");
  reply_error_status (req, 500, "UNKNOWN", *err ? (*err)->msg : "internal error");
  berth_error_free (err);
}

const char *req_header (struct reg_req *req, const char *name)
{
  return MHD_lookup_connection_value (req->conn, MHD_HEADER_KIND, name);
}

const char *req_query (struct reg_req *req, const char *key)
{
  return MHD_lookup_connection_value (req->conn, MHD_GET_ARGUMENT_KIND, key);
}

/* ---- routing ---- */

static bool method_is (struct reg_req *req, const char *m)
{
  return strcmp (req->method, m) == 0;
}

/* Split /v2/<name>/<kind>/<ref>: the resource is told by the last one or
 * two segments, everything before them is the name (which may hold '/'). */
static void route_v2 (struct reg_req *req, const char *path)
{
  size_t len = strlen (path);
  const char *last = memrchr (path, '/', len);
  if (last == NULL)
    return;
  const char *ref = last + 1;
  size_t head = last - path; /* path[0..head) is "<name>/<kind>" */
  static const struct
  {
    const char *suffix;
    enum reg_route_kind kind;
  } kinds[] = {
    { "/blobs/uploads", ROUTE_UPLOAD },
    { "/manifests", ROUTE_MANIFEST },
    { "/blobs", ROUTE_BLOB },
    { "/referrers", ROUTE_REFERRERS },
    { "/tags", ROUTE_TAGS },
  };
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    {
      size_t sl = strlen (kinds[i].suffix);
      if (head <= sl || memcmp (path + head - sl, kinds[i].suffix, sl) != 0)
        continue;
      if (kinds[i].kind == ROUTE_TAGS && strcmp (ref, "list") != 0)
        continue;
      req->kind = kinds[i].kind;
      req->name = strndup (path, head - sl);
      req->ref = strdup (ref);
      break;
    }
  /* POST /v2/<name>/blobs/uploads without the trailing slash */
  if (req->kind == ROUTE_BLOB && strcmp (req->ref, "uploads") == 0 && method_is (req, "POST"))
    {
      req->kind = ROUTE_UPLOAD;
      req->ref[0] = '\0';
    }
}

typedef void (*handler_fn) (struct reg_req *req);

/* The handler for the route and method, and the action it needs. */
static handler_fn pick_handler (struct reg_req *req, const char **action)
{
  bool get = method_is (req, "GET") || method_is (req, "HEAD");
  *action = get ? "pull" : method_is (req, "DELETE") ? "delete" : "push";
  switch (req->kind)
    {
    case ROUTE_CATALOG:
      return get ? catalog_list : NULL;
    case ROUTE_TAGS:
      return get ? tags_list : NULL;
    case ROUTE_REFERRERS:
      return method_is (req, "GET") ? referrers_list : NULL;
    case ROUTE_MANIFEST:
      return get ? manifests_get : method_is (req, "PUT") ? manifests_put
             : method_is (req, "DELETE")                  ? manifests_delete
                                                          : NULL;
    case ROUTE_BLOB:
      return get ? blobs_get : method_is (req, "DELETE") ? blobs_delete : NULL;
    case ROUTE_UPLOAD:
      *action = "push";
      if (req->ref[0] == '\0')
        return method_is (req, "POST") ? uploads_post : NULL;
      return method_is (req, "PATCH") ? uploads_patch
             : method_is (req, "PUT") ? uploads_put
             : get                    ? uploads_status
             : method_is (req, "DELETE") ? uploads_cancel
                                         : NULL;
    default:
      return NULL;
    }
}

/* ---- authentication ---- */

static void challenge (struct reg_req *req, const char *scope)
{
  struct reg_config *cfg = &req->reg->cfg;
  reply_error (req, "UNAUTHORIZED", NULL);
  if (cfg->auth == REG_AUTH_BASIC)
    reply_header (req, "WWW-Authenticate", "Basic realm=\"berth-registry\"");
  else if (scope)
    reply_headerf (req, "WWW-Authenticate", "Bearer realm=\"%s\",service=\"%s\",scope=\"%s\"", cfg->token_realm,
                   cfg->token_service, scope);
  else
    reply_headerf (req, "WWW-Authenticate", "Bearer realm=\"%s\",service=\"%s\"", cfg->token_realm,
                   cfg->token_service);
}

bool req_allowed (struct reg_req *req, const char *name, const char *action)
{
  if (req->reg->cfg.auth != REG_AUTH_TOKEN)
    return true;
  return req->claims && reg_token_allows (req->claims, "repository", name, action);
}

/* Sets a 401/403 reply when the request may not go on. */
static void authenticate (struct reg_req *req, const char *action)
{
  struct registry *reg = req->reg;
  if (reg->cfg.auth == REG_AUTH_NONE || req->kind == ROUTE_TOKEN)
    return;
  const char *h = req_header (req, "Authorization");
  if (reg->cfg.auth == REG_AUTH_BASIC)
    {
      cleanup_free char *user = NULL;
      cleanup_free char *password = NULL;
      if (h && reg_basic_decode (h, &user, &password) && reg_htpasswd_check (reg->users, user, password))
        {
          req->user = take_ptr (user);
          return;
        }
      challenge (req, NULL);
      return;
    }
  cleanup_free char *scope = NULL;
  if (req->kind == ROUTE_CATALOG)
    scope = strdup ("registry:catalog:*");
  else if (req->name)
    {
      const char *actions = strcmp (action, "pull") == 0 ? "pull" : strcmp (action, "delete") == 0 ? "delete" : "pull,push";
      if (asprintf (&scope, "repository:%s:%s", req->name, actions) < 0)
        scope = NULL;
    }
  if (h == NULL || strncasecmp (h, "Bearer ", 7) != 0 || !reg_token_verify (reg, h + 7, &req->claims))
    {
      challenge (req, scope);
      return;
    }
  bool ok = true;
  if (req->kind == ROUTE_CATALOG)
    ok = reg_token_allows (req->claims, "registry", "catalog", "*");
  else if (req->name)
    ok = reg_token_allows (req->claims, "repository", req->name, action);
  if (!ok)
    reply_error (req, "DENIED", "the token does not grant %s", scope ? scope : action);
}

/* ---- the request cycle ---- */

static void route (struct reg_req *req, const char *url)
{
  if (strcmp (url, "/v2") == 0 || strcmp (url, "/v2/") == 0)
    req->kind = ROUTE_BASE;
  else if (strcmp (url, "/v2/_catalog") == 0)
    req->kind = ROUTE_CATALOG;
  else if (strcmp (url, "/token") == 0 && req->reg->cfg.auth == REG_AUTH_TOKEN && req->reg->users)
    req->kind = ROUTE_TOKEN;
  else if (strncmp (url, "/v2/", 4) == 0)
    route_v2 (req, url + 4);
  if (req->kind == ROUTE_NONE)
    {
      reply_error (req, "NOT_FOUND", "no such endpoint: %s", url);
      return;
    }
  if (req->name && !reg_name_valid (req->name))
    {
      reply_error (req, "NAME_INVALID", "invalid repository name");
      return;
    }
  if (req->kind == ROUTE_BASE)
    {
      const char *action;
      (void) action;
      if (!method_is (req, "GET") && !method_is (req, "HEAD"))
        {
          reply_error (req, "UNSUPPORTED", NULL);
          return;
        }
      authenticate (req, "pull");
      if (req->resp == NULL)
        reply_buffer (req, 200, "application/json", "{}", 2);
      return;
    }
  if (req->kind == ROUTE_TOKEN)
    {
      token_serve (req);
      return;
    }
  const char *action = NULL;
  handler_fn fn = pick_handler (req, &action);
  if (fn == NULL)
    {
      reply_error (req, "UNSUPPORTED", "%s is not supported here", req->method);
      return;
    }
  authenticate (req, action);
  if (req->resp == NULL)
    fn (req);
}

static void consume (struct reg_req *req, const char *data, size_t len)
{
  req->body_bytes += len;
  switch (req->body_mode)
    {
    case BODY_DISCARD:
      return;
    case BODY_BUFFER:
      if (req->too_large || req->buf_len + len > req->buf_max)
        {
          req->too_large = true;
          return;
        }
      if (req->buf_len + len > req->buf_cap)
        {
          size_t cap = req->buf_cap ? req->buf_cap : 4096;
          while (cap < req->buf_len + len)
            cap *= 2;
          char *nb = realloc (req->buf, cap);
          if (nb == NULL)
            {
              req->too_large = true;
              return;
            }
          req->buf = nb;
          req->buf_cap = cap;
        }
      memcpy (req->buf + req->buf_len, data, len);
      req->buf_len += len;
      return;
    case BODY_FILE:
      if (req->body_errno)
        return;
      if (req->hash)
        reg_hash_update (req->hash, data, len);
      while (len > 0)
        {
          ssize_t n = write (req->body_fd, data, len);
          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            {
              req->body_errno = n < 0 ? errno : EIO;
              return;
            }
          data += n;
          len -= n;
        }
      return;
    }
}

static enum MHD_Result queue (struct reg_req *req)
{
  if (req->resp == NULL)
    reply_error_status (req, 500, "UNKNOWN", "no reply");
  if (req->resp == NULL)
    return MHD_NO;
  /* Release what the handler holds (an upload's lock) before the reply
   * leaves: a client may send its next request on another connection as
   * soon as it has read this one, before MHD reports completion. */
  if (req->cleanup)
    {
      req->cleanup (req);
      req->cleanup = NULL;
    }
  MHD_add_response_header (req->resp, "Docker-Distribution-API-Version", "registry/2.0");
  enum MHD_Result r = MHD_queue_response (req->conn, req->status, req->resp);
  MHD_destroy_response (req->resp);
  req->resp = NULL;
  return r;
}

static bool has_body (struct reg_req *req)
{
  const char *cl = req_header (req, "Content-Length");
  return (cl && strcmp (cl, "0") != 0) || req_header (req, "Transfer-Encoding");
}

static enum MHD_Result on_request (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                   const char *version, const char *data, size_t *data_size, void **con_cls)
{
  struct reg_req *req = *con_cls;
  if (req == NULL)
    {
      req = calloc (1, sizeof *req);
      if (req == NULL)
        return MHD_NO;
      req->reg = cls;
      req->conn = conn;
      req->method = method;
      req->body_fd = -1;
      *con_cls = req;
      route (req, url);
      berth_debug ("%s %s", method, url);
      /* A reply ready before the body arrives is sent at once only when
       * there is a body to refuse (MHD then closes the connection);
       * otherwise it waits for the next call, which keeps the connection
       * alive for the next request. */
      if (req->resp && has_body (req))
        return queue (req);
      return MHD_YES;
    }
  if (*data_size > 0)
    {
      consume (req, data, *data_size);
      *data_size = 0;
      return MHD_YES;
    }
  if (req->finish)
    req->finish (req);
  return queue (req);
}

static void on_completed (void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
  struct reg_req *req = *con_cls;
  if (req == NULL)
    return;
  if (req->cleanup)
    req->cleanup (req);
  if (req->resp)
    MHD_destroy_response (req->resp);
  if (req->body_fd >= 0)
    close (req->body_fd);
  reg_token_claims_free (req->claims);
  free (req->buf);
  free (req->name);
  free (req->ref);
  free (req->user);
  free (req);
  *con_cls = NULL;
}

/* ---- the server ---- */

int reg_listen_socket (const char *addr, berth_err *err)
{
  cleanup_free char *host = NULL;
  const char *colon = strrchr (addr, ':');
  if (colon == NULL || colon[1] == '\0')
    return berth_fail (err, EINVAL, "--listen %s: expected ADDR:PORT", addr);
  if (addr[0] == '[' && colon > addr && colon[-1] == ']')
    host = strndup (addr + 1, colon - addr - 2);
  else
    host = strndup (addr, colon - addr);
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
  struct addrinfo *ai = NULL;
  int r = getaddrinfo (host[0] ? host : NULL, colon + 1, &hints, &ai);
  if (r != 0)
    return berth_fail (err, EINVAL, "--listen %s: %s", addr, gai_strerror (r));
  int fd = socket (ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0)
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind (fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen (fd, 1024) < 0)
    {
      int e = errno;
      if (fd >= 0)
        close (fd);
      freeaddrinfo (ai);
      return berth_fail (err, e, "cannot listen on %s", addr);
    }
  freeaddrinfo (ai);
  return fd;
}

int reg_http_start (struct registry *reg, berth_err *err)
{
  int fd = reg_listen_socket (reg->cfg.listen, err);
  if (fd < 0)
    return fd;
  bool tls = reg->cfg.tls_cert != NULL;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
  if (tls)
    flags |= MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
  /* with TLS, tls.c owns the listen socket (MHD must not be given one) */
  struct MHD_OptionItem listen_opt[] = {
    { tls ? MHD_OPTION_END : MHD_OPTION_LISTEN_SOCKET, fd, NULL },
    { MHD_OPTION_END, 0, NULL },
  };
  reg->mhd = MHD_start_daemon (flags, 0, NULL, NULL, on_request, reg,
                               MHD_OPTION_NOTIFY_COMPLETED, on_completed, reg,
                               MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) CONNECTION_MEMORY,
                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) CONNECTION_TIMEOUT_S,
                               MHD_OPTION_ARRAY, listen_opt,
                               MHD_OPTION_END);
  if (reg->mhd == NULL)
    {
      close (fd);
      return berth_fail (err, EIO, "cannot start the HTTP server on %s", reg->cfg.listen);
    }
  if (tls)
    return reg_tls_start (reg, fd, err);
  return 0;
}

void reg_http_stop (struct registry *reg)
{
  if (reg->tls)
    reg_tls_stop (reg);
  if (reg->mhd)
    MHD_stop_daemon (reg->mhd);
  reg->mhd = NULL;
}
