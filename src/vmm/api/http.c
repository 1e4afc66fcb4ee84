/* The API's HTTP/1.1 transport (see http.h for why it is written here).
 *
 * One thread polls the listening socket, a stop eventfd and up to
 * API_HTTP_MAX_CONNS connections.  Each connection reads into its input
 * buffer; once a whole request (head and Content-Length body) is there the
 * handler runs and the reply is appended to the output buffer, which is
 * written as the socket takes it.  Pipelined requests are served in order;
 * a connection does not read its next request while a reply is pending. */
#include "vmm/api/http.h"
#include "vmm/api/api.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- parsing ---- */

static const char *find_head_end (const char *buf, size_t len)
{
  for (size_t i = 0; i + 3 < len; i++)
    if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
      return buf + i + 4;
  return NULL;
}

/* LINE (LEN bytes) is "NAME: value"; is NAME equal to WANT (any case)?
 * VALUE and VLEN get the value without surrounding blanks. */
static bool header_is (const char *line, size_t len, const char *want, const char **value, size_t *vlen)
{
  size_t n = strlen (want);
  if (len <= n || strncasecmp (line, want, n) != 0 || line[n] != ':')
    return false;
  const char *v = line + n + 1, *end = line + len;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  *value = v;
  *vlen = (size_t) (end - v);
  return true;
}

static bool value_is (const char *v, size_t n, const char *want)
{
  return n == strlen (want) && strncasecmp (v, want, n) == 0;
}

/* "METHOD SP PATH SP HTTP/1.x" */
static bool parse_request_line (const char *line, size_t len, struct api_http_request *req, bool *http10)
{
  const char *end = line + len, *sp1 = memchr (line, ' ', len);
  if (sp1 == NULL || sp1 == line || (size_t) (sp1 - line) >= sizeof req->method)
    return false;
  const char *path = sp1 + 1, *sp2 = memchr (path, ' ', (size_t) (end - path));
  if (sp2 == NULL || sp2 == path || (size_t) (sp2 - path) >= sizeof req->path || *path != '/')
    return false;
  const char *version = sp2 + 1;
  size_t vlen = (size_t) (end - version);
  if (vlen != 8 || strncmp (version, "HTTP/1.", 7) != 0 || (version[7] != '0' && version[7] != '1'))
    return false;
  for (const char *c = line; c < sp1; c++)
    if (!isupper ((unsigned char) *c))
      return false;
  for (const char *c = path; c < sp2; c++)
    if ((unsigned char) *c <= ' ' || *c == 0x7f)
      return false;
  memcpy (req->method, line, (size_t) (sp1 - line));
  req->method[sp1 - line] = '\0';
  memcpy (req->path, path, (size_t) (sp2 - path));
  req->path[sp2 - path] = '\0';
  *http10 = version[7] == '0';
  return true;
}

static bool parse_content_length (const char *v, size_t n, size_t *out)
{
  if (n == 0 || n > 12)
    return false;
  size_t x = 0;
  for (size_t i = 0; i < n; i++)
    {
      if (!isdigit ((unsigned char) v[i]))
        return false;
      x = x * 10 + (size_t) (v[i] - '0');
    }
  *out = x;
  return true;
}

static enum api_http_parse_result bad (struct api_http_request *req, const char *why)
{
  req->error = why;
  return API_HTTP_BAD;
}

enum api_http_parse_result api_http_parse_head (const char *buf, size_t len, struct api_http_request *req)
{
  memset (req, 0, sizeof *req);
  const char *head_end = find_head_end (buf, len < API_HTTP_MAX_HEAD ? len : API_HTTP_MAX_HEAD);
  if (head_end == NULL)
    return len >= API_HTTP_MAX_HEAD ? bad (req, "The request head is too large.") : API_HTTP_NEED_MORE;
  req->head_len = (size_t) (head_end - buf);
  const char *line = buf, *stop = head_end - 2; /* the blank line's CRLF */
  const char *eol = memchr (line, '\r', (size_t) (stop - line));
  bool http10 = false, have_length = false, conn_close = false, conn_keep = false;
  if (eol == NULL || eol[1] != '\n' || !parse_request_line (line, (size_t) (eol - line), req, &http10))
    return bad (req, "Invalid HTTP request line.");
  for (line = eol + 2; line < stop; line = eol + 2)
    {
      eol = memchr (line, '\r', (size_t) (stop - line));
      if (eol == NULL || eol[1] != '\n')
        return bad (req, "Invalid HTTP header line.");
      size_t n = (size_t) (eol - line), vlen;
      const char *v;
      if (n == 0 || line[0] == ' ' || line[0] == '\t' || memchr (line, ':', n) == NULL || memchr (line, '\n', n))
        return bad (req, "Invalid HTTP header line.");
      if (header_is (line, n, "Content-Length", &v, &vlen))
        {
          size_t cl;
          if (!parse_content_length (v, vlen, &cl) || (have_length && cl != req->content_length))
            return bad (req, "Invalid Content-Length header.");
          req->content_length = cl;
          have_length = true;
        }
      else if (header_is (line, n, "Transfer-Encoding", &v, &vlen))
        return bad (req, "Transfer-Encoding is not supported: send the body with a Content-Length.");
      else if (header_is (line, n, "Connection", &v, &vlen))
        {
          conn_close |= value_is (v, vlen, "close");
          conn_keep |= value_is (v, vlen, "keep-alive");
        }
      else if (header_is (line, n, "Expect", &v, &vlen))
        {
          if (!value_is (v, vlen, "100-continue"))
            return bad (req, "Unsupported Expect header.");
          req->expect_continue = true;
        }
    }
  req->keep_alive = !conn_close && (!http10 || conn_keep);
  return API_HTTP_HEAD_OK;
}

/* ---- connections ---- */

struct conn
{
  int fd;
  char *in;
  size_t in_len, in_cap;
  char *out;
  size_t out_len, out_off;
  bool have_head;           /* REQ is the parsed head of the request being read */
  struct api_http_request req;
  size_t body_seen;         /* body bytes read (kept or dropped) */
  bool close_after;         /* close once OUT is written */
};

struct api_http
{
  int listen_fd;
  int stop_fd;
  api_http_handler handler;
  void *opaque;
  pthread_t thread;
  struct conn *conns[API_HTTP_MAX_CONNS];
};

static void conn_free (struct conn *c)
{
  if (c == NULL)
    return;
  close (c->fd);
  free (c->in);
  free (c->out);
  free (c);
}

static int out_append (struct conn *c, const char *data, size_t len)
{
  char *nb = realloc (c->out, c->out_len + len);
  if (nb == NULL)
    return -ENOMEM;
  memcpy (nb + c->out_len, data, len);
  c->out = nb;
  c->out_len += len;
  return 0;
}

static const char *reason (unsigned status)
{
  switch (status)
    {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    default: return status >= 500 ? "Internal Server Error" : "Unknown";
    }
}

static int queue_reply (struct conn *c, unsigned status, const char *body)
{
  size_t n = body ? strlen (body) : 0;
  char head[256];
  int hn;
  if (status == 204)
    hn = snprintf (head, sizeof head, "HTTP/1.1 204 No Content\r\nServer: berth-vmm\r\n%s\r\n",
                   c->close_after ? "Connection: close\r\n" : "");
  else
    hn = snprintf (head, sizeof head, "HTTP/1.1 %u %s\r\nServer: berth-vmm\r\n%sContent-Length: %zu\r\n%s\r\n", status,
                   reason (status), n ? "Content-Type: application/json\r\n" : "", n,
                   c->close_after ? "Connection: close\r\n" : "");
  if (out_append (c, head, (size_t) hn) < 0 || (n && out_append (c, body, n) < 0))
    return -ENOMEM;
  return 0;
}

/* 400 {"fault_message": MSG}; MSG is ours (no quotes or backslashes). */
static int queue_fault (struct conn *c, const char *msg)
{
  char body[384];
  snprintf (body, sizeof body, "{\"fault_message\":\"%s\"}", msg);
  return queue_reply (c, 400, body);
}

/* Drop the request that has been answered from the input buffer. */
static void consume_request (struct conn *c)
{
  size_t used = c->req.head_len + c->req.content_length;
  memmove (c->in, c->in + used, c->in_len - used);
  c->in_len -= used;
  c->have_head = false;
  c->body_seen = 0;
}

/* Serve what the input buffer holds: at most one request, since its reply
 * must leave before the next is read.  Returns -1 to close now. */
static int serve_input (struct api_http *srv, struct conn *c)
{
  if (!c->have_head)
    {
      enum api_http_parse_result r = api_http_parse_head (c->in, c->in_len, &c->req);
      if (r == API_HTTP_NEED_MORE)
        return 0;
      if (r == API_HTTP_BAD)
        {
          c->close_after = true;
          c->in_len = 0;
          return queue_fault (c, c->req.error) < 0 ? -1 : 0;
        }
      c->have_head = true;
      c->body_seen = c->in_len - c->req.head_len;
      if (c->req.content_length > VMM_API_MAX_BODY)
        c->in_len = c->req.head_len; /* the body is dropped as it comes (conn_read) */
      if (c->req.expect_continue && c->body_seen < c->req.content_length
          && out_append (c, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
        return -1;
    }
  if (c->body_seen < c->req.content_length)
    return 0;
  /* After a dropped body the stream may hold anything: close. */
  c->close_after = !c->req.keep_alive || c->req.content_length > VMM_API_MAX_BODY;
  int r;
  if (c->req.content_length > VMM_API_MAX_BODY)
    {
      char msg[160];
      snprintf (msg, sizeof msg, "Request payload with size %zu is larger than the limit of %d allowed by server.",
                c->req.content_length, VMM_API_MAX_BODY);
      r = queue_fault (c, msg);
      c->in_len = 0;
      c->have_head = false;
      return r < 0 ? -1 : 0;
    }
  else
    {
      unsigned status = 500;
      char *text = NULL;
      srv->handler (srv->opaque, c->req.method, c->req.path, c->req.content_length ? c->in + c->req.head_len : NULL,
                    c->req.content_length, &status, &text);
      r = queue_reply (c, status, text);
      free (text);
    }
  consume_request (c);
  return r < 0 ? -1 : 0;
}

/* The input buffer holds one request head and a body of at most
 * VMM_API_MAX_BODY (plus whatever of a pipelined request came with it). */
#define IN_CAP (API_HTTP_MAX_HEAD + VMM_API_MAX_BODY)

/* Read what the socket has.  Returns -1 to close (EOF, error). */
static int conn_read (struct conn *c)
{
  if (c->in == NULL && (c->in = malloc (IN_CAP)) == NULL)
    return -1;
  size_t room = IN_CAP - c->in_len;
  if (room == 0)
    return 0; /* a full buffer is a complete request: served before reading on */
  ssize_t n = recv (c->fd, c->in + c->in_len, room, 0);
  if (n < 0)
    return errno == EAGAIN || errno == EINTR ? 0 : -1;
  if (n == 0)
    return -1;
  c->in_len += (size_t) n;
  if (c->have_head && c->req.content_length > VMM_API_MAX_BODY)
    {
      c->body_seen += (size_t) n;
      c->in_len = c->req.head_len;
    }
  else if (c->have_head)
    c->body_seen = c->in_len - c->req.head_len;
  return 0;
}

/* Write what is queued.  Returns -1 to close (error, or done with a
 * connection that asked to be closed). */
static int conn_write (struct conn *c)
{
  while (c->out_off < c->out_len)
    {
      ssize_t n = send (c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
      if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
      c->out_off += (size_t) n;
    }
  free (c->out);
  c->out = NULL;
  c->out_len = c->out_off = 0;
  return c->close_after ? -1 : 0;
}

static bool conn_reply_pending (const struct conn *c)
{
  return c->out_off < c->out_len;
}

/* A 100 Continue is not a reply: the request is still being read. */
static bool conn_wants_input (const struct conn *c)
{
  return !c->close_after && (!conn_reply_pending (c) || (c->have_head && c->body_seen < c->req.content_length));
}

static void accept_one (struct api_http *srv)
{
  int fd = accept4 (srv->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0)
    return;
  for (int i = 0; i < API_HTTP_MAX_CONNS; i++)
    if (srv->conns[i] == NULL)
      {
        srv->conns[i] = calloc (1, sizeof (struct conn));
        if (srv->conns[i] == NULL)
          break;
        srv->conns[i]->fd = fd;
        return;
      }
  berth_log (BERTH_LOG_WARNING, "api: too many connections (%d): one refused", API_HTTP_MAX_CONNS);
  close (fd);
}

/* One round of I/O on connection I after poll said REVENTS. */
static void conn_event (struct api_http *srv, int i, short revents)
{
  struct conn *c = srv->conns[i];
  int r = 0;
  if (revents & (POLLIN | POLLHUP | POLLERR))
    {
      if (conn_wants_input (c))
        r = conn_read (c);
      else if (revents & (POLLHUP | POLLERR))
        r = -1;
    }
  /* Write what is queued, then serve the next complete request the buffer
   * holds (pipelined ones too), one reply at a time. */
  while (r == 0)
    {
      if (conn_reply_pending (c) && ((r = conn_write (c)) < 0 || conn_reply_pending (c)))
        break;
      if (c->close_after || c->in_len == 0)
        break;
      size_t before = c->in_len;
      bool had_head = c->have_head;
      r = serve_input (srv, c);
      if (r == 0 && !conn_reply_pending (c) && c->in_len == before && c->have_head == had_head)
        break; /* needs more input */
    }
  if (r < 0)
    {
      conn_free (c);
      srv->conns[i] = NULL;
    }
}

static short conn_poll_events (const struct conn *c)
{
  return (short) ((conn_wants_input (c) ? POLLIN : 0) | (conn_reply_pending (c) ? POLLOUT : 0));
}

static int64_t now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *serve_thread (void *arg)
{
  struct api_http *srv = arg;
  int64_t drain_until = -1; /* after stop: the deadline for pending replies */
  for (;;)
    {
      struct pollfd fds[API_HTTP_MAX_CONNS + 2];
      int idx[API_HTTP_MAX_CONNS + 2];
      nfds_t n = 0;
      /* fds[0] and fds[1] are the stop and listening fds until stop; the
       * roles are fixed here, since a stop seen at k = 0 changes
       * drain_until before fds[1] is looked at. */
      const bool listening = drain_until < 0;
      if (listening)
        {
          fds[n++] = (struct pollfd) { .fd = srv->stop_fd, .events = POLLIN };
          fds[n++] = (struct pollfd) { .fd = srv->listen_fd, .events = POLLIN };
        }
      for (int i = 0; i < API_HTTP_MAX_CONNS; i++)
        if (srv->conns[i] && (drain_until < 0 || conn_reply_pending (srv->conns[i])))
          {
            idx[n] = i;
            fds[n++] = (struct pollfd) { .fd = srv->conns[i]->fd, .events = conn_poll_events (srv->conns[i]) };
          }
      int timeout = -1;
      if (drain_until >= 0)
        {
          int64_t left = drain_until - now_ms ();
          if (n == 0 || left <= 0)
            return NULL;
          timeout = (int) left;
        }
      int pr = poll (fds, n, timeout);
      if (pr < 0 && errno != EINTR)
        return NULL;
      for (nfds_t k = 0; pr > 0 && k < n; k++)
        {
          if (fds[k].revents == 0)
            continue;
          if (listening && k == 0)
            drain_until = now_ms () + 1000;
          else if (listening && k == 1)
            {
              if (drain_until < 0)
                accept_one (srv);
            }
          else if (srv->conns[idx[k]])
            conn_event (srv, idx[k], fds[k].revents);
        }
    }
}

int api_http_start (int listen_fd, api_http_handler handler, void *opaque, struct api_http **out, berth_err *err)
{
  cleanup_close int lfd = listen_fd;
  struct api_http *srv = calloc (1, sizeof *srv);
  if (srv == NULL)
    return berth_fail (err, ENOMEM, "API server");
  srv->handler = handler;
  srv->opaque = opaque;
  srv->stop_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (srv->stop_fd < 0)
    {
      free (srv);
      return berth_fail_errno (err, "eventfd");
    }
  srv->listen_fd = take_fd (&lfd);
  int r = pthread_create (&srv->thread, NULL, serve_thread, srv);
  if (r != 0)
    {
      close (srv->listen_fd);
      close (srv->stop_fd);
      free (srv);
      return berth_fail (err, r, "API thread");
    }
  *out = srv;
  return 0;
}

void api_http_stop (struct api_http *srv)
{
  if (srv == NULL)
    return;
  uint64_t one = 1;
  if (write (srv->stop_fd, &one, sizeof one) < 0)
    berth_log (BERTH_LOG_ERROR, "api: cannot stop the API thread");
  pthread_join (srv->thread, NULL);
  for (int i = 0; i < API_HTTP_MAX_CONNS; i++)
    conn_free (srv->conns[i]);
  close (srv->listen_fd);
  close (srv->stop_fd);
  free (srv);
}
