/* The API's HTTP/1.1 transport: a small server on one listening Unix
 * socket, in its own thread (the VMM's API thread).
 *
 * Why by hand, when the project prefers libraries: berth-vmm is one
 * process per microVM, and its resident memory outside guest RAM is a
 * target (at most 3 MiB; Firecracker's is 5).  libmicrohttpd, as Debian
 * builds it, links GnuTLS and with it p11-kit, nettle, hogweed, gmp,
 * libtasn1, libidn2 and libunistring: about 2.2 MiB resident in every VMM
 * for TLS it never uses on a local socket.  Firecracker wrote its own
 * micro_http for the same reason.  What the API needs is small: requests
 * with a Content-Length body of at most VMM_API_MAX_BODY bytes, keep-alive,
 * pipelining, `Expect: 100-continue` (curl sends it for bodies over 1 KiB),
 * and replies with a Content-Length.  Anything else (chunked bodies, an
 * over-long head, a malformed request line) is answered with 400 and the
 * connection is closed.
 *
 * Requests are handled one at a time, in the API thread, through the
 * handler given to api_http_start; so the handlers need no locking among
 * themselves (Firecracker serves its API the same way). */
#ifndef BERTH_VMM_API_HTTP_H
#define BERTH_VMM_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* The largest request head (request line and headers). */
#define API_HTTP_MAX_HEAD 8192
/* Connections served at once; more are accepted and closed at once. */
#define API_HTTP_MAX_CONNS 32

/* ---- parsing, exposed for the unit tests ---- */

enum api_http_parse_result
{
  API_HTTP_NEED_MORE = 0, /* the head is not complete yet */
  API_HTTP_HEAD_OK = 1,   /* *REQ filled; the body follows HEAD_LEN bytes in */
  API_HTTP_BAD = -1,      /* malformed: answer 400 and close (REQ->error says why) */
};

struct api_http_request
{
  char method[16];
  char path[1024];
  size_t head_len;       /* bytes of request line + headers + blank line */
  size_t content_length; /* 0 when absent */
  bool keep_alive;       /* HTTP/1.1 without "Connection: close", or 1.0 with keep-alive */
  bool expect_continue;  /* "Expect: 100-continue" */
  const char *error;     /* API_HTTP_BAD: a static message */
};

/* Parse the head at the start of BUF (LEN bytes, not NUL-terminated). */
enum api_http_parse_result api_http_parse_head (const char *buf, size_t len, struct api_http_request *req);

/* ---- the server ---- */

/* Handle one request; set *STATUS and *RESPONSE (heap JSON text, freed by
 * the server, or NULL for no body).  Called in the API thread. */
typedef void (*api_http_handler) (void *opaque, const char *method, const char *path, const char *body, size_t len,
                                  unsigned *status, char **response);

struct api_http;

/* Serve LISTEN_FD (a listening stream socket, owned from now on) in a new
 * thread.  A body over VMM_API_MAX_BODY is read and dropped, and answered
 * with 400 and Firecracker's fault message, without calling HANDLER. */
int api_http_start (int listen_fd, api_http_handler handler, void *opaque, struct api_http **out, berth_err *err);

/* Stop accepting, let replies already queued leave (for up to a second:
 * a guest can end before the reply to its own InstanceStart is written),
 * close everything and join the thread. */
void api_http_stop (struct api_http *srv);

#endif
