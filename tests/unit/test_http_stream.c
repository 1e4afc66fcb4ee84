/* berthd's HTTP layer with streamed and hijacked replies, over a real
 * Unix socket and raw client sockets. */
#include "unit.h"

#include "common/json.h"
#include "daemon/server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

/* ---- what the test routes record ---- */

static volatile int chunk_result = 1;   /* last stream_out_write of /forever */
static volatile int idle_result = 1;    /* what /idle's probe got in the end */
static volatile int freed;              /* free_ctx calls */
static volatile int hijack_started;     /* hold functions that began */
static volatile int hijack_done;        /* hijack functions that returned */
static volatile size_t extra_seen;      /* extra bytes the last hijack got */

static void sleep_ms (int ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep (&ts, NULL);
}

static long long mono_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void count_free (void *ctx)
{
  free (ctx);
  __atomic_add_fetch (&freed, 1, __ATOMIC_SEQ_CST);
}

static bool wait_for (volatile int *v, int want, int ms)
{
  for (int i = 0; i < ms / 10 && *v != want; i++)
    sleep_ms (10);
  return *v == want;
}

/* /stream: three chunks, 200 ms apart. */
static void write_chunks (struct stream_out *out, void *ctx)
{
  (void) ctx;
  for (int i = 0; i < 3; i++)
    {
      char line[32];
      sleep_ms (200);
      snprintf (line, sizeof line, "chunk-%d\n", i);
      if (stream_out_write (out, line, strlen (line)) < 0)
        return;
    }
}

/* /forever: writes until the client has gone. */
static void write_forever (struct stream_out *out, void *ctx)
{
  (void) ctx;
  int r;
  while ((r = stream_out_write (out, "tick\n", 5)) == 0)
    sleep_ms (20);
  chunk_result = r;
}

/* /idle: writes nothing, only probes. */
static void stay_idle (struct stream_out *out, void *ctx)
{
  (void) ctx;
  int r;
  while ((r = stream_out_write (out, NULL, 0)) == 0)
    sleep_ms (20);
  idle_result = r;
}

static void route_stream (struct request *req, struct reply *rep)
{
  (void) req;
  reply_stream (rep, 200, "text/plain", write_chunks, malloc (1), count_free);
}

static void route_forever (struct request *req, struct reply *rep)
{
  (void) req;
  reply_stream (rep, 200, "text/plain", write_forever, malloc (1), count_free);
}

static void route_idle (struct request *req, struct reply *rep)
{
  (void) req;
  reply_stream (rep, 200, "application/json", stay_idle, malloc (1), count_free);
}

/* /echo: "[extra]" then everything it reads back, then "bye" after EOF. */
static void echo (int sock, const char *extra, size_t extra_len, void *ctx)
{
  (void) ctx;
  char buf[4096];
  extra_seen = extra_len;
  if (send (sock, "[", 1, MSG_NOSIGNAL) < 0 || (extra_len && send (sock, extra, extra_len, MSG_NOSIGNAL) < 0)
      || send (sock, "]", 1, MSG_NOSIGNAL) < 0)
    return;
  ssize_t n;
  while ((n = read (sock, buf, sizeof buf)) > 0)
    if (send (sock, buf, (size_t) n, MSG_NOSIGNAL) < 0)
      return;
  if (send (sock, "bye", 3, MSG_NOSIGNAL) < 0)
    return;
  __atomic_add_fetch (&hijack_done, 1, __ATOMIC_SEQ_CST);
}

/* /hold: reads until its socket ends (the client or the server's stop). */
static void hold (int sock, const char *extra, size_t extra_len, void *ctx)
{
  (void) extra;
  (void) extra_len;
  (void) ctx;
  char buf[256];
  __atomic_add_fetch (&hijack_started, 1, __ATOMIC_SEQ_CST);
  while (read (sock, buf, sizeof buf) > 0)
    ;
  __atomic_add_fetch (&hijack_done, 1, __ATOMIC_SEQ_CST);
}

static void route_echo (struct request *req, struct reply *rep)
{
  /* A JSON body comes first (like exec start's), the stream after it. */
  if (req->body_len > 0 && strcmp (req->body, "{\"Detach\":false}") != 0)
    {
      reply_error (rep, 400, "unexpected body");
      return;
    }
  reply_upgrade (rep, "application/vnd.docker.raw-stream", echo, malloc (1), count_free);
}

static void route_hold (struct request *req, struct reply *rep)
{
  (void) req;
  reply_upgrade (rep, "application/vnd.docker.multiplexed-stream", hold, malloc (1), count_free);
}

static const struct route test_routes[] = {
  { "GET", "/stream", route_stream, BODY_NONE },
  { "GET", "/forever", route_forever, BODY_NONE },
  { "GET", "/idle", route_idle, BODY_NONE },
  { "POST", "/echo", route_echo, BODY_JSON },
  { "POST", "/hold", route_hold, BODY_NONE },
  { NULL, NULL, NULL, BODY_NONE },
};

/* ---- a server in a temp dir and raw clients ---- */

static char sock_path[108];
static int listen_fd = -1;

static struct http_server *start_server (void)
{
  char dir[] = "/tmp/berth-http-XXXXXX";
  berth_err err = NULL;
  CHECK (mkdtemp (dir) != NULL);
  snprintf (sock_path, sizeof sock_path, "%s/api.sock", dir);
  listen_fd = http_listen_unix (sock_path, 0600, &err);
  CHECK (listen_fd >= 0);
  struct http_server *s = http_server_start (listen_fd, test_routes, NULL, &err);
  CHECK (s != NULL);
  return s;
}

static int dial (void)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  strcpy (addr.sun_path, sock_path);
  int fd = socket (AF_UNIX, SOCK_STREAM, 0);
  CHECK (fd >= 0);
  CHECK (connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0);
  return fd;
}

static void send_text (int fd, const char *text)
{
  size_t n = strlen (text);
  CHECK (send (fd, text, n, MSG_NOSIGNAL) == (ssize_t) n);
}

/* Read until END appears (or EOF / MS pass); NUL-terminated, at most
 * SIZE-1 bytes.  Returns the length. */
static size_t read_until (int fd, char *buf, size_t size, const char *end, int ms)
{
  size_t got = 0;
  long long deadline = mono_ms () + ms;
  buf[0] = '\0';
  while (got + 1 < size && (end == NULL || strstr (buf, end) == NULL))
    {
      long long left = deadline - mono_ms ();
      struct pollfd p = { .fd = fd, .events = POLLIN };
      if (left <= 0 || poll (&p, 1, (int) left) != 1)
        break;
      ssize_t n = read (fd, buf + got, size - 1 - got);
      if (n <= 0)
        break;
      got += (size_t) n;
      buf[got] = '\0';
    }
  return got;
}

static bool has_header (const char *head, const char *line)
{
  for (const char *p = head; (p = strstr (p, "\r\n")) != NULL; p += 2)
    if (strncasecmp (p + 2, line, strlen (line)) == 0)
      return true;
  return false;
}

/* Decode a chunked body; false if malformed or not ended by the 0 chunk. */
static bool dechunk (const char *body, char *out, size_t size)
{
  size_t o = 0;
  for (;;)
    {
      char *end;
      unsigned long n = strtoul (body, &end, 16);
      if (end == body || strncmp (end, "\r\n", 2) != 0)
        return false;
      body = end + 2;
      if (n == 0)
        return strncmp (body, "\r\n", 2) == 0;
      if (strlen (body) < n + 2 || o + n >= size || strncmp (body + n, "\r\n", 2) != 0)
        return false;
      memcpy (out + o, body, n);
      o += n;
      out[o] = '\0';
      body += n + 2;
    }
}

static bool at_eof (int fd, int ms)
{
  char buf[4096];
  struct pollfd p = { .fd = fd, .events = POLLIN };
  long long deadline = mono_ms () + ms;
  while (mono_ms () < deadline)
    {
      if (poll (&p, 1, (int) (deadline - mono_ms ())) != 1)
        return false;
      ssize_t n = read (fd, buf, sizeof buf);
      if (n <= 0)
        return true;
    }
  return false;
}

/* ---- streams ---- */

TEST (stream_headers_before_the_body_then_chunks)
{
  struct http_server *s = start_server ();
  int fd = dial ();
  long long t0 = mono_ms ();
  send_text (fd, "GET /stream HTTP/1.1\r\nHost: berth\r\n\r\n");
  char head[4096];
  read_until (fd, head, sizeof head, "\r\n\r\n", 2000);
  /* The headers come at once, not with the first chunk 200 ms later. */
  CHECK (mono_ms () - t0 < 150);
  CHECK (strncmp (head, "HTTP/1.1 200", 12) == 0);
  CHECK (has_header (head, "Transfer-Encoding: chunked"));
  CHECK (has_header (head, "Content-Type: text/plain"));
  CHECK (has_header (head, "Api-Version: "));
  char *body_start = strstr (head, "\r\n\r\n") + 4;
  CHECK (strstr (body_start, "chunk-") == NULL);
  char rest[8192];
  size_t pre = strlen (body_start);
  memcpy (rest, body_start, pre + 1);
  read_until (fd, rest + pre, sizeof rest - pre, "0\r\n\r\n", 3000);
  char body[256];
  CHECK (dechunk (rest, body, sizeof body));
  CHECK_STR (body, "chunk-0\nchunk-1\nchunk-2\n");
  CHECK (wait_for (&freed, 1, 1000));
  /* Keep-alive: the connection serves another request. */
  send_text (fd, "GET /nothing HTTP/1.1\r\nHost: berth\r\n\r\n");
  read_until (fd, head, sizeof head, "\r\n\r\n", 2000);
  CHECK (strncmp (head, "HTTP/1.1 404", 12) == 0);
  close (fd);
  http_server_stop (s);
}

TEST (stream_client_going_away_fails_the_writes)
{
  struct http_server *s = start_server ();
  int fd = dial ();
  send_text (fd, "GET /forever HTTP/1.1\r\nHost: berth\r\n\r\n");
  char buf[4096];
  read_until (fd, buf, sizeof buf, "tick", 2000);
  CHECK (strstr (buf, "tick") != NULL);
  close (fd);
  CHECK (wait_for (&chunk_result, -EPIPE, 3000));
  CHECK (wait_for (&freed, 1, 1000));
  http_server_stop (s);
}

TEST (stream_idle_client_going_away_is_noticed)
{
  struct http_server *s = start_server ();
  int fd = dial ();
  send_text (fd, "GET /idle HTTP/1.1\r\nHost: berth\r\n\r\n");
  char buf[4096];
  read_until (fd, buf, sizeof buf, "\r\n\r\n", 2000);
  CHECK (strncmp (buf, "HTTP/1.1 200", 12) == 0);
  sleep_ms (100);
  CHECK (idle_result == 1);
  close (fd);
  CHECK (wait_for (&idle_result, -EPIPE, 3000));
  CHECK (wait_for (&freed, 1, 1000));
  http_server_stop (s);
}

/* ---- hijacked connections ---- */

static const char ECHO_REQUEST[] = "POST /echo HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                                   "Content-Type: application/json\r\nContent-Length: 16\r\n\r\n"
                                   "{\"Detach\":false}";

TEST (upgrade_101_and_bytes_both_ways)
{
  struct http_server *s = start_server ();
  int fd = dial ();
  send_text (fd, ECHO_REQUEST);
  char buf[4096];
  read_until (fd, buf, sizeof buf, "]", 2000);
  CHECK (strncmp (buf, "HTTP/1.1 101", 12) == 0);
  CHECK (has_header (buf, "Connection: Upgrade"));
  CHECK (has_header (buf, "Upgrade: tcp"));
  CHECK (has_header (buf, "Content-Type: application/vnd.docker.raw-stream"));
  CHECK (strstr (buf, "\r\n\r\n[]") != NULL);
  send_text (fd, "ping");
  read_until (fd, buf, sizeof buf, "ping", 2000);
  CHECK_STR (buf, "ping");
  send_text (fd, "pong");
  read_until (fd, buf, sizeof buf, "pong", 2000);
  CHECK_STR (buf, "pong");
  /* Half-close: the function sees EOF and can still answer. */
  CHECK (shutdown (fd, SHUT_WR) == 0);
  read_until (fd, buf, sizeof buf, NULL, 2000);
  CHECK_STR (buf, "bye");
  CHECK (wait_for (&hijack_done, 1, 1000));
  CHECK (wait_for (&freed, 1, 1000));
  close (fd);
  http_server_stop (s);
}

TEST (upgrade_extra_bytes_after_the_request_reach_the_function)
{
  struct http_server *s = start_server ();
  int fd = dial ();
  /* One write: the request, its body and stdin bytes right behind. */
  char req[512];
  snprintf (req, sizeof req, "%sEARLY", ECHO_REQUEST);
  send_text (fd, req);
  char buf[4096];
  read_until (fd, buf, sizeof buf, "]", 2000);
  char *after = strstr (buf, "\r\n\r\n");
  CHECK (after != NULL);
  CHECK_STR (after + 4, "[EARLY]");
  CHECK (extra_seen == 5);
  close (fd);
  CHECK (wait_for (&freed, 1, 2000));
  http_server_stop (s);
}

/* A client that does not ask for the upgrade gets FN's output as a plain
 * 200 body (FN sees its input at its end at once), and the connection is
 * closed after it, as dockerd does. */
TEST (upgrade_without_asking_gives_the_output_as_body)
{
  struct http_server *s = start_server ();
  int fd = dial ();
  send_text (fd, "POST /hold HTTP/1.1\r\nHost: berth\r\nContent-Length: 0\r\n\r\n");
  char buf[4096];
  read_until (fd, buf, sizeof buf, "\r\n\r\n", 2000);
  CHECK (strncmp (buf, "HTTP/1.1 200", 12) == 0);
  CHECK (strstr (buf, "application/vnd.docker.multiplexed-stream") != NULL);
  CHECK (wait_for (&freed, 1, 1000));
  CHECK (hijack_done == 1);
  close (fd);
  http_server_stop (s);
}

TEST (upgrade_not_done_when_the_client_leaves_early_frees_the_context)
{
  struct http_server *s = start_server ();
  int fd = dial ();
  /* HTTP/1.0 cannot be upgraded: MHD refuses the 101, the context is
   * still freed. */
  send_text (fd, "POST /hold HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n");
  char buf[4096];
  read_until (fd, buf, sizeof buf, NULL, 2000);
  CHECK (strstr (buf, "HTTP/1.1 101") == NULL);
  CHECK (wait_for (&freed, 1, 2000));
  CHECK (hijack_done == 0);
  close (fd);
  http_server_stop (s);
}

/* ---- stopping ---- */

TEST (stop_is_prompt_with_streams_and_hijacked_connections_open)
{
  struct http_server *s = start_server ();
  int idle = dial (), held = dial (), forever = dial ();
  send_text (idle, "GET /idle HTTP/1.1\r\nHost: berth\r\n\r\n");
  send_text (forever, "GET /forever HTTP/1.1\r\nHost: berth\r\n\r\n");
  send_text (held, "POST /hold HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
  char buf[4096];
  read_until (idle, buf, sizeof buf, "\r\n\r\n", 2000);
  CHECK (strncmp (buf, "HTTP/1.1 200", 12) == 0);
  read_until (held, buf, sizeof buf, "\r\n\r\n", 2000);
  CHECK (strncmp (buf, "HTTP/1.1 101", 12) == 0);
  read_until (forever, buf, sizeof buf, "tick", 2000);
  /* The client may see the 101 before the function runs. */
  CHECK (wait_for (&hijack_started, 1, 2000));
  long long t0 = mono_ms ();
  http_server_stop (s);
  CHECK (mono_ms () - t0 < 2000);
  CHECK (freed == 3);
  CHECK (hijack_done == 1);
  CHECK (idle_result == -EPIPE && chunk_result == -EPIPE);
  CHECK (at_eof (idle, 1000));
  CHECK (at_eof (held, 1000));
  CHECK (at_eof (forever, 1000));
  /* The listening socket is still the caller's. */
  CHECK (fcntl (listen_fd, F_GETFD) >= 0);
  close (listen_fd);
}

TEST (stop_with_nothing_open)
{
  struct http_server *s = start_server ();
  long long t0 = mono_ms ();
  http_server_stop (s);
  CHECK (mono_ms () - t0 < 1000);
  http_server_stop (NULL);
}
