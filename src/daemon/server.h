/* berthd's HTTP layer: the Docker Engine API over a Unix socket, on
 * libmicrohttpd (one thread per connection, so a handler may block).
 *
 * Routing: a table of {method, pattern, handler, body}.  Patterns are
 * path segments; "{name}" captures one segment and "{name*}" one or more
 * (image references contain slashes).  "/v1.NN" in front of a path is
 * stripped and remembered.  Unknown routes get a JSON 404. */
#ifndef BERTH_SERVER_H
#define BERTH_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/json.h"

struct MHD_Connection;
struct berthd;

enum route_body
{
  BODY_NONE = 0,   /* the request body is ignored */
  BODY_JSON,       /* kept in memory (at most BERTH_JSON_MAX_SIZE), parsed on demand */
  BODY_FILE,       /* streamed into an unlinked temp file: uploads of any size */
};

#define ROUTE_MAX_PARAMS 4

struct request
{
  struct MHD_Connection *conn;
  struct berthd *daemon;
  const char *method;
  const char *path;               /* without the /v1.NN prefix */
  char api_version[16];           /* "1.44", or "" when unversioned */
  char *params[ROUTE_MAX_PARAMS]; /* captured {names}, in pattern order */
  char *body;                     /* BODY_JSON */
  size_t body_len;
  int body_fd;                    /* BODY_FILE: read from offset 0; -1 otherwise */
  bool body_too_large;
};

/* A streamed body (chunked): FN runs in its own thread after the headers
 * are sent and writes with stream_out_write() until it returns; the
 * response ends then.  FREE_CTX (may be NULL) runs after FN, always, also
 * when the client went away (stream_out_write then returns -EPIPE, and FN
 * should stop). */
struct stream_out;
typedef void (*stream_fn) (struct stream_out *out, void *ctx);
/* A hijacked connection (attach, exec): the reply is "101 UPGRADED" with
 * Connection/Upgrade headers, then FN runs in its own thread with the raw,
 * bidirectional, blocking socket SOCK, and EXTRA (bytes the client sent
 * after its request, already read by the HTTP layer: they come first).
 * The connection is closed when FN returns; FREE_CTX runs after FN, always
 * (also when the upgrade could not happen). */
typedef void (*upgrade_fn) (int sock, const char *extra, size_t extra_len, void *ctx);

/* What a handler returns: a status and a JSON body, a raw body, or an fd
 * to stream.  Build it with the reply_* helpers. */
struct reply
{
  unsigned status;
  char *body;                     /* heap */
  size_t body_len;
  const char *content_type;
  int fd;                         /* stream this file (from offset 0) instead of body */
  bool head_only;
  json_t *headers;                /* extra headers {name: value} or NULL */
  stream_fn stream;               /* reply_stream */
  upgrade_fn upgrade;             /* reply_upgrade */
  void *ctx;                      /* for STREAM or UPGRADE */
  void (*free_ctx) (void *ctx);
};

typedef void (*route_handler) (struct request *req, struct reply *rep);



struct route
{
  const char *method;
  const char *pattern;
  route_handler handler;
  enum route_body body;
};

/* Helpers for handlers. */
const char *request_query (struct request *req, const char *key);
bool request_query_bool (struct request *req, const char *key, bool fallback);
/* A request header (case-insensitive NAME), NULL if absent. */
const char *request_header (struct request *req, const char *name);
/* Every value of a repeated query key (names=a&names=b), NULL-terminated. */
char **request_query_all (struct request *req, const char *key);
/* Parse the JSON body; on failure replies 400 and returns NULL. */
json_t *request_json (struct request *req, struct reply *rep);

void reply_json (struct reply *rep, unsigned status, json_t *body);   /* steals BODY */
void reply_error (struct reply *rep, unsigned status, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));
/* Map a berth error to a status: ENOENT 404, EEXIST/EBUSY 409, EINVAL 400,
 * else 500; frees *ERR. */
void reply_berth_error (struct reply *rep, berth_err *err);
void reply_text (struct reply *rep, unsigned status, const char *content_type, const char *text);
void reply_fd (struct reply *rep, unsigned status, const char *content_type, int fd);
void reply_header (struct reply *rep, const char *name, const char *value);
/* Stream the body from FN (see stream_fn); takes CTX. */
void reply_stream (struct reply *rep, unsigned status, const char *content_type, stream_fn fn, void *ctx,
                   void (*free_ctx) (void *));
/* Hijack the connection for FN (see upgrade_fn); takes CTX.  CONTENT_TYPE
 * is application/vnd.docker.raw-stream or ...multiplexed-stream.  The
 * client must have asked ("Upgrade: tcp", as docker's client does; HTTP/1.1):
 * libmicrohttpd hands a socket over only with a 101, so a client that did
 * not ask gets 400 "upgrade required" and FN does not run. */
void reply_upgrade (struct reply *rep, const char *content_type, upgrade_fn fn, void *ctx, void (*free_ctx) (void *));
/* Write to a streamed body: 0, or -EPIPE once the client has gone or the
 * server stops.  What is written goes to the client at once (berthd keeps
 * no buffer of its own; a slow client blocks the writer).  A client that
 * hangs up (or half-closes its side) counts as gone.  A zero-length write sends nothing and only tells whether the
 * client is still there: a function that waits long between writes should
 * probe now and then (the HTTP layer notices a hang-up while it waits). */
int stream_out_write (struct stream_out *out, const void *buf, size_t len);

/* Start serving ROUTES on the listening socket FD.  Returns an opaque
 * handle, or NULL with *err. */
struct http_server;
struct http_server *http_server_start (int fd, const struct route *routes, struct berthd *d, berth_err *err);
/* Stop: stop accepting, end streams and hijacked connections (see
 * http_server_shutdown_streams), wait for their functions (at most 10 s,
 * then leave them running and the server's memory in place), stop MHD.
 * The listening socket stays open: the caller closes it. */
void http_server_stop (struct http_server *s);
/* Begin the end, without waiting: every streamed response ends (its
 * stream_out_write fails with -EPIPE from now on) and every hijacked socket
 * is shut down (its function sees EOF and EPIPE).  Functions that wait on
 * something else (an event queue) must be woken by their owner: do that
 * before http_server_stop, or it waits its 10 s. */
void http_server_shutdown_streams (struct http_server *s);

/* Listen on a Unix socket PATH with MODE; replaces a stale socket file. */
int http_listen_unix (const char *path, unsigned mode, berth_err *err);

/* Route matching, exposed for unit tests: returns true and fills PARAMS
 * (heap strings) when PATH matches PATTERN. */
bool route_match (const char *pattern, const char *path, char **params);
/* Split "/v1.44/images/json" into version "1.44" and "/images/json". */
const char *route_strip_version (const char *url, char *version, size_t len);

#endif
