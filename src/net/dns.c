/* The embedded DNS server (Docker's 127.0.0.11): one thread with an epoll
 * loop over every sandbox's sockets, the TCP connections of clients and
 * the sockets of queries forwarded to the host's resolvers.
 *
 * Ownership and locking.  A sandbox's two sockets (UDP and listening TCP,
 * both made inside its namespace) are shared with the threads that call
 * add/remove: they are used and closed only under dns->lock, so removal
 * closes them at once and the loop never reads a closed (or reused) fd.
 * Everything else (client connections, forwards) belongs to the loop
 * thread alone.  The loop never holds the lock while calling berthd's
 * callbacks, so they may take berthd's locks while berthd holds its own
 * and calls add/remove.  Objects that die while a batch of epoll events
 * may still point at them are unlinked and freed only after the batch.
 *
 * Forwarding keeps the client's transport: a UDP query goes upstream over
 * UDP and its answer comes back as it is, truncated (TC) ones included, so
 * the client asks again over TCP, and a TCP query goes upstream over TCP.
 * Each try has a fresh random ID on a socket connected to the resolver,
 * so only that resolver's answer to that try is taken. */
#include "net/dns-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"

#define DNS_LISTEN_ADDR "127.0.0.11"
#define DNS_PORT 53
/* Per resolver; the next one is tried after it (glibc's default is 5 s,
 * Docker's forwarder uses 2 s too: clients retry after ~5 s anyway). */
#define FORWARD_TIMEOUT_MS 2000
/* A client connection that sends nothing for this long is closed. */
#define CONN_IDLE_MS 10000
#define MAX_CONNS_PER_SANDBOX 16
/* Queries waiting for an upstream answer; more get SERVFAIL at once
 * rather than growing without bound when the resolvers are slow. */
#define MAX_FORWARDS 512
/* Unsent answers queued on a client connection that does not read. */
#define CONN_OUT_MAX (256 * 1024)
#define TCP_MSG_MAX (2 + DNS_TCP_MAX)

static const char *resolv_conf_path = "/etc/resolv.conf";

void net_dns_set_resolv_conf (const char *path)
{
  resolv_conf_path = path ? path : "/etc/resolv.conf";
}

enum watch_kind
{
  WATCH_WAKE,
  WATCH_UDP,
  WATCH_LISTEN,
  WATCH_CONN,
  WATCH_FORWARD,
};

/* What an epoll event points at. */
struct watch
{
  enum watch_kind kind;
  void *owner;
};

struct sandbox
{
  struct sandbox *next;
  char *key;
  int udp_fd;          /* guarded by dns->lock, -1 once removed */
  int tcp_fd;          /* guarded by dns->lock, -1 once removed */
  bool removed;        /* guarded by dns->lock */
  struct watch udp_watch, tcp_watch;
  /* Its own upstreams (docker run --dns on a user network), else none:
   * the host's. Set before the sandbox is registered, then read only. */
  struct dns_resolver resolvers[DNS_MAX_RESOLVERS];
  int n_resolvers;
};

static const struct dns_resolver *upstreams (struct net_dns *dns, struct sandbox *sb, int *n);

struct forward;

/* A client's TCP connection: 2-byte length, message; answered in order. */
struct conn
{
  struct conn *next;
  struct sandbox *sb;
  int fd;
  struct watch watch;
  bool closed;
  uint8_t *in;                 /* TCP_MSG_MAX bytes */
  size_t in_len;
  uint8_t *out;
  size_t out_len, out_cap;
  uint32_t events;             /* what the epoll set watches for */
  bool processing;             /* in conn_process (no recursion) */
  struct forward *pending;     /* the query being forwarded, one at a time */
  int64_t deadline;
};

/* A query sent to the host's resolvers on behalf of a client. */
struct forward
{
  struct forward *next;
  struct sandbox *sb;
  struct conn *conn;                  /* TCP client, or NULL: UDP client at peer */
  struct sockaddr_storage peer;
  socklen_t peer_len;
  uint8_t *msg;                       /* 2-byte length prefix, then the query */
  size_t msg_len;                     /* including the prefix */
  uint16_t client_id;
  uint16_t upstream_id;               /* random, rewritten into msg for each try */
  int resolver;                       /* index being tried */
  int fd;
  bool tcp, connected, closed;
  size_t sent;                        /* TCP: bytes of msg written */
  uint8_t *reply;                     /* TCP: TCP_MSG_MAX bytes */
  size_t reply_len;
  struct watch watch;
  int64_t deadline;
};

struct net_dns
{
  struct dns_callbacks cb;
  struct dns_resolver resolvers[DNS_MAX_RESOLVERS];
  int n_resolvers;
  int epfd, wakefd;
  struct watch wake_watch;
  pthread_t thread;
  bool thread_started;

  pthread_mutex_t lock;
  struct sandbox *sandboxes;   /* guarded by lock; removed ones until reaped */
  bool stopping;               /* guarded by lock */

  /* The loop thread's own. */
  struct conn *conns, *dead_conns;
  struct forward *forwards, *dead_forwards;
  int n_forwards;
  uint8_t buf[DNS_TCP_MAX + 1];
};

static int64_t now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int watch_fd (struct net_dns *dns, int fd, uint32_t events, struct watch *w)
{
  struct epoll_event ev = { .events = events, .data.ptr = w };
  return epoll_ctl (dns->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void rewatch_fd (struct net_dns *dns, int fd, uint32_t events, struct watch *w)
{
  struct epoll_event ev = { .events = events, .data.ptr = w };
  epoll_ctl (dns->epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* Take FD out of the epoll set before closing it: a copy inherited by a
 * child between fork and exec would otherwise keep it registered, and
 * its events would point at freed memory. */
static void unwatch_close (struct net_dns *dns, int *fd)
{
  if (*fd < 0)
    return;
  epoll_ctl (dns->epfd, EPOLL_CTL_DEL, *fd, NULL);
  close (*fd);
  *fd = -1;
}

static void wake (struct net_dns *dns)
{
  uint64_t one = 1;
  if (write (dns->wakefd, &one, sizeof one) < 0 && errno != EAGAIN)
    berth_warn ("dns: cannot wake the DNS thread: %s", strerror (errno));
}

/* ------------------------------------------------------------ answering */

static void send_udp (struct net_dns *dns, struct sandbox *sb, const struct sockaddr_storage *peer, socklen_t peer_len,
                      const uint8_t *msg, size_t len)
{
  pthread_mutex_lock (&dns->lock);
  if (!sb->removed)
    sendto (sb->udp_fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *) peer, peer_len);
  pthread_mutex_unlock (&dns->lock);
}

static void conn_close (struct net_dns *dns, struct conn *c);
static void conn_send (struct net_dns *dns, struct conn *c, const uint8_t *msg, size_t len);
static void conn_process (struct net_dns *dns, struct conn *c);
static void forward_start (struct net_dns *dns, struct sandbox *sb, struct conn *conn,
                           const struct sockaddr_storage *peer, socklen_t peer_len, const uint8_t *query, size_t len);

static void deliver (struct net_dns *dns, struct sandbox *sb, struct conn *conn, const struct sockaddr_storage *peer,
                     socklen_t peer_len, const uint8_t *msg, size_t len)
{
  if (conn)
    conn_send (dns, conn, msg, len);
  else
    send_udp (dns, sb, peer, peer_len, msg, len);
}

static void answer_servfail (struct net_dns *dns, struct sandbox *sb, struct conn *conn,
                             const struct sockaddr_storage *peer, socklen_t peer_len, const uint8_t *query, size_t len)
{
  cleanup_free uint8_t *reply = NULL;
  size_t reply_len = 0;
  if (dns_servfail (query, len, &reply, &reply_len))
    deliver (dns, sb, conn, peer, peer_len, reply, reply_len);
}

/* A query from a client of SB: over TCP on CONN, else over UDP from PEER. */
static void handle_query (struct net_dns *dns, struct sandbox *sb, struct conn *conn,
                          const struct sockaddr_storage *peer, socklen_t peer_len, const uint8_t *query, size_t len)
{
  cleanup_free uint8_t *reply = NULL;
  size_t reply_len = 0;
  size_t max = conn ? DNS_TCP_MAX : DNS_UDP_MAX;
  switch (dns_handle_query (&dns->cb, sb->key, query, len, max, &reply, &reply_len))
    {
    case DNS_REPLY:
      deliver (dns, sb, conn, peer, peer_len, reply, reply_len);
      break;
    case DNS_FORWARD:
      forward_start (dns, sb, conn, peer, peer_len, query, len);
      break;
    case DNS_DROP:
      break;
    }
}

/* ------------------------------------------------------------ forwarding */

static void forward_free (struct forward *f)
{
  free (f->msg);
  free (f->reply);
  free (f);
}

/* End F (its fd at once, its memory after the batch). */
static void forward_close (struct net_dns *dns, struct forward *f)
{
  if (f->closed)
    return;
  f->closed = true;
  unwatch_close (dns, &f->fd);
  for (struct forward **p = &dns->forwards; *p; p = &(*p)->next)
    if (*p == f)
      {
        *p = f->next;
        break;
      }
  f->next = dns->dead_forwards;
  dns->dead_forwards = f;
  dns->n_forwards--;
  if (f->conn && f->conn->pending == f)
    f->conn->pending = NULL;
}

/* The upstream's answer (REPLY, LEN >= DNS_HEADER_LEN, our ID) to the
 * client with the client's ID; then the client's next TCP query. */
static void forward_done (struct net_dns *dns, struct forward *f, uint8_t *reply, size_t len)
{
  struct conn *conn = f->conn;
  dns_wire_set_id (reply, f->client_id);
  deliver (dns, f->sb, conn, &f->peer, f->peer_len, reply, len);
  forward_close (dns, f);
  if (conn && !conn->closed)
    conn_process (dns, conn);
}

static void forward_fail (struct net_dns *dns, struct forward *f)
{
  struct conn *conn = f->conn;
  dns_wire_set_id (f->msg + 2, f->client_id);
  answer_servfail (dns, f->sb, conn, &f->peer, f->peer_len, f->msg + 2, f->msg_len - 2);
  forward_close (dns, f);
  if (conn && !conn->closed)
    conn_process (dns, conn);
}

/* Send F to resolver f->resolver: 0, or -1 when that one cannot be
 * reached at all (the caller tries the next). */
static int forward_open (struct net_dns *dns, struct forward *f)
{
  int n;
  const struct dns_resolver *r = &upstreams (dns, f->sb, &n)[f->resolver];
  int type = f->tcp ? SOCK_STREAM : SOCK_DGRAM;
  cleanup_close int fd = socket (r->addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  /* A fresh random ID for each try: a late answer from the previous
   * resolver, or a spoofed one, does not match. */
  f->upstream_id = (uint16_t) arc4random ();
  dns_wire_set_id (f->msg + 2, f->upstream_id);
  f->connected = false;
  f->sent = 0;
  f->reply_len = 0;
  /* Connected UDP: the kernel only hands us datagrams from the resolver's
   * address and port. */
  if (connect (fd, (const struct sockaddr *) &r->addr, r->len) < 0 && errno != EINPROGRESS)
    return -1;
  if (!f->tcp && send (fd, f->msg + 2, f->msg_len - 2, MSG_NOSIGNAL) < 0)
    return -1;
  if (watch_fd (dns, fd, f->tcp ? EPOLLOUT : EPOLLIN, &f->watch) < 0)
    return -1;
  f->fd = take_fd (&fd);
  f->deadline = now_ms () + FORWARD_TIMEOUT_MS;
  return 0;
}

/* Try resolvers from f->resolver on; SERVFAIL when none is left. */
static void forward_try (struct net_dns *dns, struct forward *f)
{
  int n;
  upstreams (dns, f->sb, &n);
  for (; f->resolver < n; f->resolver++)
    if (forward_open (dns, f) == 0)
      return;
  forward_fail (dns, f);
}

static void forward_next (struct net_dns *dns, struct forward *f)
{
  unwatch_close (dns, &f->fd);
  f->resolver++;
  forward_try (dns, f);
}

static void forward_start (struct net_dns *dns, struct sandbox *sb, struct conn *conn,
                           const struct sockaddr_storage *peer, socklen_t peer_len, const uint8_t *query, size_t len)
{
  int n_upstreams;
  upstreams (dns, sb, &n_upstreams);
  if (n_upstreams == 0 || dns->n_forwards >= MAX_FORWARDS || len > DNS_TCP_MAX)
    {
      answer_servfail (dns, sb, conn, peer, peer_len, query, len);
      return;
    }
  struct forward *f = calloc (1, sizeof *f);
  uint8_t *msg = malloc (len + 2);
  if (f == NULL || msg == NULL)
    {
      free (f);
      free (msg);
      return;
    }
  msg[0] = (uint8_t) (len >> 8);
  msg[1] = (uint8_t) len;
  memcpy (msg + 2, query, len);
  *f = (struct forward){ .next = dns->forwards, .sb = sb, .conn = conn, .msg = msg, .msg_len = len + 2,
                         .client_id = dns_wire_id (query), .fd = -1, .tcp = conn != NULL,
                         .watch = { WATCH_FORWARD, f } };
  if (peer)
    {
      f->peer = *peer;
      f->peer_len = peer_len;
    }
  dns->forwards = f;
  dns->n_forwards++;
  if (conn)
    conn->pending = f;
  forward_try (dns, f);
}

/* A datagram on F's connected UDP socket. */
static void forward_udp_readable (struct net_dns *dns, struct forward *f)
{
  for (;;)
    {
      ssize_t n = recv (f->fd, dns->buf, sizeof dns->buf, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
      if (n < 0)
        {
          /* ECONNREFUSED: nothing listens there (an ICMP error came back). */
          forward_next (dns, f);
          return;
        }
      if ((size_t) n >= DNS_HEADER_LEN && dns_wire_is_response (dns->buf)
          && dns_wire_id (dns->buf) == f->upstream_id)
        {
          forward_done (dns, f, dns->buf, (size_t) n);
          return;
        }
      /* Anything else is stale or spoofed: keep waiting. */
    }
}

static void forward_tcp_write (struct net_dns *dns, struct forward *f)
{
  if (!f->connected)
    {
      int soerr = 0;
      socklen_t l = sizeof soerr;
      if (getsockopt (f->fd, SOL_SOCKET, SO_ERROR, &soerr, &l) < 0 || soerr != 0)
        {
          forward_next (dns, f);
          return;
        }
      f->connected = true;
    }
  ssize_t n = send (f->fd, f->msg + f->sent, f->msg_len - f->sent, MSG_NOSIGNAL);
  if (n < 0 && errno != EAGAIN && errno != EINTR)
    {
      forward_next (dns, f);
      return;
    }
  if (n > 0)
    f->sent += (size_t) n;
  if (f->sent == f->msg_len)
    rewatch_fd (dns, f->fd, EPOLLIN, &f->watch);
}

static void forward_tcp_read (struct net_dns *dns, struct forward *f)
{
  if (f->reply == NULL && (f->reply = malloc (TCP_MSG_MAX)) == NULL)
    {
      forward_fail (dns, f);
      return;
    }
  ssize_t n = recv (f->fd, f->reply + f->reply_len, TCP_MSG_MAX - f->reply_len, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0)
    {
      forward_next (dns, f);
      return;
    }
  f->reply_len += (size_t) n;
  if (f->reply_len < 2)
    return;
  size_t want = (size_t) (f->reply[0] << 8 | f->reply[1]);
  if (f->reply_len < 2 + want)
    return;
  if (want >= DNS_HEADER_LEN && dns_wire_is_response (f->reply + 2) && dns_wire_id (f->reply + 2) == f->upstream_id)
    forward_done (dns, f, f->reply + 2, want);
  else
    forward_next (dns, f);
}

static void forward_event (struct net_dns *dns, struct forward *f, uint32_t events)
{
  if (!f->tcp)
    forward_udp_readable (dns, f);
  else if (f->sent < f->msg_len)
    forward_tcp_write (dns, f);
  else
    forward_tcp_read (dns, f);
}

/* ------------------------------------------------------ client TCP */

static int conn_count (struct net_dns *dns, struct sandbox *sb)
{
  int n = 0;
  for (struct conn *c = dns->conns; c; c = c->next)
    n += c->sb == sb;
  return n;
}

static void conn_free (struct conn *c)
{
  free (c->in);
  free (c->out);
  free (c);
}

static void conn_close (struct net_dns *dns, struct conn *c)
{
  if (c->closed)
    return;
  c->closed = true;
  if (c->pending)
    forward_close (dns, c->pending);
  unwatch_close (dns, &c->fd);
  for (struct conn **p = &dns->conns; *p; p = &(*p)->next)
    if (*p == c)
      {
        *p = c->next;
        break;
      }
  c->next = dns->dead_conns;
  dns->dead_conns = c;
}

/* Read while there is room (a full buffer waits for the query being
 * forwarded), write while answers are queued. */
static void conn_update_events (struct net_dns *dns, struct conn *c)
{
  uint32_t events = (c->in_len < TCP_MSG_MAX ? EPOLLIN : 0) | (c->out_len > 0 ? EPOLLOUT : 0);
  if (!c->closed && events != c->events)
    {
      c->events = events;
      rewatch_fd (dns, c->fd, events, &c->watch);
    }
}

static void conn_flush (struct net_dns *dns, struct conn *c)
{
  while (c->out_len > 0)
    {
      ssize_t n = send (c->fd, c->out, c->out_len, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        break;
      if (n < 0)
        {
          conn_close (dns, c);
          return;
        }
      memmove (c->out, c->out + n, c->out_len - (size_t) n);
      c->out_len -= (size_t) n;
    }
  conn_update_events (dns, c);
}

static void conn_send (struct net_dns *dns, struct conn *c, const uint8_t *msg, size_t len)
{
  if (c->closed || len > DNS_TCP_MAX)
    return;
  if (c->out_len + len + 2 > CONN_OUT_MAX)
    {
      conn_close (dns, c);
      return;
    }
  if (c->out_len + len + 2 > c->out_cap)
    {
      size_t cap = c->out_len + len + 2;
      uint8_t *out = realloc (c->out, cap);
      if (out == NULL)
        {
          conn_close (dns, c);
          return;
        }
      c->out = out;
      c->out_cap = cap;
    }
  c->out[c->out_len] = (uint8_t) (len >> 8);
  c->out[c->out_len + 1] = (uint8_t) len;
  memcpy (c->out + c->out_len + 2, msg, len);
  c->out_len += len + 2;
  conn_flush (dns, c);
}

/* Answer the complete queries in c->in, one at a time: while one is being
 * forwarded the rest wait (forward_done calls conn_process again). */
static void conn_process_queued (struct net_dns *dns, struct conn *c)
{
  while (!c->closed && c->pending == NULL && c->in_len >= 2)
    {
      size_t len = (size_t) (c->in[0] << 8 | c->in[1]);
      if (len == 0)
        {
          conn_close (dns, c);
          return;
        }
      if (c->in_len < 2 + len)
        return;
      /* Out of c->in first: answering may consume more of it. */
      memcpy (dns->buf, c->in + 2, len);
      memmove (c->in, c->in + 2 + len, c->in_len - 2 - len);
      c->in_len -= 2 + len;
      c->deadline = now_ms () + CONN_IDLE_MS;
      handle_query (dns, c->sb, c, NULL, 0, dns->buf, len);
    }
}

static void conn_process (struct net_dns *dns, struct conn *c)
{
  /* A forward that fails at once ends inside handle_query and calls here
   * again: the loop below goes on with the next query instead, so the
   * stack does not grow with the number of queued queries. */
  if (c->processing)
    return;
  c->processing = true;
  conn_process_queued (dns, c);
  c->processing = false;
  conn_update_events (dns, c);
}

static void conn_readable (struct net_dns *dns, struct conn *c)
{
  if (c->in_len == TCP_MSG_MAX)
    return; /* full: a query is being forwarded, read more after it */
  ssize_t n = recv (c->fd, c->in + c->in_len, TCP_MSG_MAX - c->in_len, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0)
    {
      conn_close (dns, c);
      return;
    }
  c->in_len += (size_t) n;
  c->deadline = now_ms () + CONN_IDLE_MS;
  conn_process (dns, c);
}

static void conn_event (struct net_dns *dns, struct conn *c, uint32_t events)
{
  /* HUP: both directions are shut, no answer can reach the client. */
  if (events & (EPOLLHUP | EPOLLERR))
    conn_close (dns, c);
  if (!c->closed && (events & EPOLLOUT))
    conn_flush (dns, c);
  if (!c->closed && (events & EPOLLIN))
    conn_readable (dns, c);
}

static void conn_new (struct net_dns *dns, struct sandbox *sb, int fd)
{
  struct conn *c = calloc (1, sizeof *c);
  uint8_t *in = malloc (TCP_MSG_MAX);
  if (c == NULL || in == NULL)
    goto fail;
  *c = (struct conn){ .next = dns->conns, .sb = sb, .fd = fd, .in = in, .watch = { WATCH_CONN, c },
                      .events = EPOLLIN, .deadline = now_ms () + CONN_IDLE_MS };
  if (watch_fd (dns, fd, EPOLLIN, &c->watch) < 0)
    goto fail;
  dns->conns = c;
  return;
fail:
  free (c);
  free (in);
  close (fd);
}

/* ----------------------------------------------------- sandbox sockets */

static void sandbox_udp_readable (struct net_dns *dns, struct sandbox *sb)
{
  /* Bounded, so that one busy sandbox does not starve the others. */
  for (int i = 0; i < 64; i++)
    {
      struct sockaddr_storage peer;
      socklen_t peer_len = sizeof peer;
      pthread_mutex_lock (&dns->lock);
      ssize_t n = sb->removed ? -1
                              : recvfrom (sb->udp_fd, dns->buf, sizeof dns->buf, MSG_DONTWAIT,
                                          (struct sockaddr *) &peer, &peer_len);
      pthread_mutex_unlock (&dns->lock);
      if (n < 0)
        return;
      handle_query (dns, sb, NULL, &peer, peer_len, dns->buf, (size_t) n);
    }
}

static void sandbox_acceptable (struct net_dns *dns, struct sandbox *sb)
{
  pthread_mutex_lock (&dns->lock);
  int fd = sb->removed ? -1 : accept4 (sb->tcp_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  pthread_mutex_unlock (&dns->lock);
  if (fd < 0)
    return;
  /* Over the cap the newcomer is closed rather than left in the backlog,
   * where the level-triggered listening socket would wake us forever. */
  if (conn_count (dns, sb) >= MAX_CONNS_PER_SANDBOX)
    {
      close (fd);
      return;
    }
  conn_new (dns, sb, fd);
}

static void sandbox_free (struct sandbox *sb)
{
  free (sb->key);
  free (sb);
}

/* Closes the sockets; dns->lock held. */
static void sandbox_close_locked (struct net_dns *dns, struct sandbox *sb)
{
  sb->removed = true;
  unwatch_close (dns, &sb->udp_fd);
  unwatch_close (dns, &sb->tcp_fd);
}

/* Free the sandboxes removed since the last batch, with their client
 * connections and forwards.  Returns whether the server is stopping. */
static bool reap_removed (struct net_dns *dns)
{
  struct sandbox *gone = NULL;
  pthread_mutex_lock (&dns->lock);
  for (struct sandbox **p = &dns->sandboxes; *p;)
    {
      struct sandbox *sb = *p;
      if (!sb->removed)
        {
          p = &sb->next;
          continue;
        }
      *p = sb->next;
      sb->next = gone;
      gone = sb;
    }
  bool stopping = dns->stopping;
  pthread_mutex_unlock (&dns->lock);

  while (gone)
    {
      struct sandbox *sb = gone;
      gone = sb->next;
      for (struct conn *c = dns->conns, *next; c; c = next)
        {
          next = c->next;
          if (c->sb == sb)
            conn_close (dns, c);
        }
      for (struct forward *f = dns->forwards, *next; f; f = next)
        {
          next = f->next;
          if (f->sb == sb)
            forward_close (dns, f);
        }
      sandbox_free (sb);
    }
  return stopping;
}

/* --------------------------------------------------------------- loop */

static void expire (struct net_dns *dns)
{
  int64_t now = now_ms ();
  for (struct forward *f = dns->forwards, *next; f; f = next)
    {
      next = f->next;
      /* Handling one may close others (a connection's queued queries);
       * closed ones are skipped, even when NEXT led into the dead list. */
      if (!f->closed && f->deadline <= now)
        forward_next (dns, f);
    }
  for (struct conn *c = dns->conns, *next; c; c = next)
    {
      next = c->next;
      if (!c->closed && c->pending == NULL && c->deadline <= now)
        conn_close (dns, c);
    }
}

static int next_timeout_ms (struct net_dns *dns)
{
  int64_t first = INT64_MAX;
  for (struct forward *f = dns->forwards; f; f = f->next)
    first = f->deadline < first ? f->deadline : first;
  for (struct conn *c = dns->conns; c; c = c->next)
    if (c->pending == NULL)
      first = c->deadline < first ? c->deadline : first;
  if (first == INT64_MAX)
    return -1;
  int64_t wait = first - now_ms ();
  return wait < 0 ? 0 : wait > 60000 ? 60000 : (int) wait;
}

static void free_dead (struct net_dns *dns)
{
  while (dns->dead_conns)
    {
      struct conn *c = dns->dead_conns;
      dns->dead_conns = c->next;
      conn_free (c);
    }
  while (dns->dead_forwards)
    {
      struct forward *f = dns->dead_forwards;
      dns->dead_forwards = f->next;
      forward_free (f);
    }
}

static void dispatch (struct net_dns *dns, struct watch *w, uint32_t events)
{
  switch (w->kind)
    {
    case WATCH_WAKE:
      {
        uint64_t v;
        if (read (dns->wakefd, &v, sizeof v) < 0)
          (void) 0; /* EAGAIN: another wake already consumed it */
        break;
      }
    case WATCH_UDP:
      sandbox_udp_readable (dns, w->owner);
      break;
    case WATCH_LISTEN:
      sandbox_acceptable (dns, w->owner);
      break;
    case WATCH_CONN:
      if (!((struct conn *) w->owner)->closed)
        conn_event (dns, w->owner, events);
      break;
    case WATCH_FORWARD:
      if (!((struct forward *) w->owner)->closed)
        forward_event (dns, w->owner, events);
      break;
    }
}

static void *dns_loop (void *arg)
{
  struct net_dns *dns = arg;
  for (;;)
    {
      struct epoll_event events[32];
      int n = epoll_wait (dns->epfd, events, 32, next_timeout_ms (dns));
      if (n < 0 && errno != EINTR)
        {
          berth_warn ("dns: epoll_wait: %s", strerror (errno));
          n = 0;
        }
      for (int i = 0; i < n; i++)
        dispatch (dns, events[i].data.ptr, events[i].events);
      expire (dns);
      bool stopping = reap_removed (dns);
      free_dead (dns);
      if (stopping)
        break;
    }
  while (dns->conns)
    conn_close (dns, dns->conns);
  while (dns->forwards)
    forward_close (dns, dns->forwards);
  free_dead (dns);
  return NULL;
}

/* ------------------------------------------------------------- sockets */

/* A socket of TYPE bound to 127.0.0.11:53 in the calling thread's network
 * namespace; -errno. */
static int bound_socket (int type)
{
  cleanup_close int fd = socket (AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  int one = 1;
  /* A berthd restart rebinds while old connections are in TIME_WAIT. */
  if (type == SOCK_STREAM && setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
    return -errno;
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (DNS_PORT) };
  inet_pton (AF_INET, DNS_LISTEN_ADDR, &sa.sin_addr);
  if (bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    return -errno;
  if (type == SOCK_STREAM && listen (fd, 16) < 0)
    return -errno;
  return take_fd (&fd);
}

struct netns_sockets
{
  int nsfd;
  int udp, tcp;
  int err;             /* errno of the failed step, 0 if none */
  const char *step;
};

/* Runs in a thread of its own: setns changes only the calling thread's
 * namespace, and a socket stays in the namespace it was made in, so the
 * daemon's other threads are never moved. */
static void *make_sockets_in_netns (void *arg)
{
  struct netns_sockets *s = arg;
  if (setns (s->nsfd, CLONE_NEWNET) < 0)
    {
      s->err = errno;
      s->step = "join the network namespace";
      return NULL;
    }
  s->udp = bound_socket (SOCK_DGRAM);
  if (s->udp < 0)
    {
      s->err = -s->udp;
      s->step = "bind UDP " DNS_LISTEN_ADDR ":53";
      return NULL;
    }
  s->tcp = bound_socket (SOCK_STREAM);
  if (s->tcp < 0)
    {
      s->err = -s->tcp;
      s->step = "listen on TCP " DNS_LISTEN_ADDR ":53";
      close (s->udp);
      s->udp = -1;
    }
  return NULL;
}

static int sockets_in_netns (const char *netns_path, int *udp, int *tcp, berth_err *err)
{
  cleanup_close int nsfd = open (netns_path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0)
    return berth_fail_errno (err, "dns: open network namespace %s", netns_path);
  struct netns_sockets s = { .nsfd = nsfd, .udp = -1, .tcp = -1 };
  pthread_t t;
  int r = pthread_create (&t, NULL, make_sockets_in_netns, &s);
  if (r != 0)
    return berth_fail (err, r, "dns: start a thread for %s", netns_path);
  pthread_join (t, NULL);
  if (s.err)
    return berth_fail (err, s.err, "dns: %s in %s", s.step, netns_path);
  *udp = s.udp;
  *tcp = s.tcp;
  return 0;
}

/* ------------------------------------------------------------- public */

static struct sandbox *find_sandbox_locked (struct net_dns *dns, const char *key)
{
  for (struct sandbox *sb = dns->sandboxes; sb; sb = sb->next)
    if (!sb->removed && strcmp (sb->key, key) == 0)
      return sb;
  return NULL;
}

static int register_sandbox_locked (struct net_dns *dns, struct sandbox *sb, berth_err *err)
{
  if (dns->stopping)
    return berth_fail (err, ESHUTDOWN, "dns: the DNS server is stopping");
  if (find_sandbox_locked (dns, sb->key))
    return berth_fail (err, EEXIST, "dns: sandbox %s is already served", sb->key);
  if (watch_fd (dns, sb->udp_fd, EPOLLIN, &sb->udp_watch) < 0)
    return berth_fail_errno (err, "dns: epoll_ctl");
  if (watch_fd (dns, sb->tcp_fd, EPOLLIN, &sb->tcp_watch) < 0)
    {
      int saved = errno;
      epoll_ctl (dns->epfd, EPOLL_CTL_DEL, sb->udp_fd, NULL);
      return berth_fail (err, saved, "dns: epoll_ctl");
    }
  sb->next = dns->sandboxes;
  dns->sandboxes = sb;
  return 0;
}

static const struct dns_resolver *upstreams (struct net_dns *dns, struct sandbox *sb, int *n)
{
  if (sb && sb->n_resolvers > 0)
    {
      *n = sb->n_resolvers;
      return sb->resolvers;
    }
  *n = dns->n_resolvers;
  return dns->resolvers;
}

int net_dns_add_sandbox (struct net_dns *dns, const char *key, const char *netns_path, berth_err *err)
{
  return net_dns_add_sandbox_upstreams (dns, key, netns_path, NULL, err);
}

int net_dns_add_sandbox_upstreams (struct net_dns *dns, const char *key, const char *netns_path,
                                   const char *const *servers, berth_err *err)
{
  /* A key already served is refused before its namespace is touched
   * (the sockets would clash there first, with a less helpful error);
   * register_sandbox_locked checks again for a concurrent add. */
  pthread_mutex_lock (&dns->lock);
  bool taken = find_sandbox_locked (dns, key) != NULL;
  pthread_mutex_unlock (&dns->lock);
  if (taken)
    return berth_fail (err, EEXIST, "dns: sandbox %s is already served", key);
  cleanup_close int udp = -1;
  cleanup_close int tcp = -1;
  int r = sockets_in_netns (netns_path, &udp, &tcp, err);
  if (r < 0)
    return r;
  cleanup_free struct sandbox *sb = calloc (1, sizeof *sb);
  if (sb == NULL || (sb->key = strdup (key)) == NULL)
    return berth_fail (err, ENOMEM, "dns: add sandbox %s", key);
  sb->udp_fd = udp;
  sb->tcp_fd = tcp;
  for (size_t i = 0; servers && servers[i] && sb->n_resolvers < DNS_MAX_RESOLVERS; i++)
    if (!dns_resolver_from_text (servers[i], &sb->resolvers[sb->n_resolvers++]))
      {
        free (sb->key);
        return berth_fail (err, EINVAL, "dns: invalid upstream server \"%s\"", servers[i]);
      }
  sb->udp_watch = (struct watch){ WATCH_UDP, sb };
  sb->tcp_watch = (struct watch){ WATCH_LISTEN, sb };
  pthread_mutex_lock (&dns->lock);
  r = register_sandbox_locked (dns, sb, err);
  pthread_mutex_unlock (&dns->lock);
  if (r < 0)
    {
      free (sb->key);
      return r;
    }
  take_fd (&udp);
  take_fd (&tcp);
  take_ptr (sb);
  return 0;
}

void net_dns_remove_sandbox (struct net_dns *dns, const char *key)
{
  pthread_mutex_lock (&dns->lock);
  struct sandbox *sb = find_sandbox_locked (dns, key);
  if (sb)
    sandbox_close_locked (dns, sb);
  pthread_mutex_unlock (&dns->lock);
  /* The loop frees it, with its connections, after its current batch. */
  if (sb)
    wake (dns);
}

static void dns_free (struct net_dns *dns)
{
  while (dns->sandboxes)
    {
      struct sandbox *sb = dns->sandboxes;
      dns->sandboxes = sb->next;
      sandbox_close_locked (dns, sb);
      sandbox_free (sb);
    }
  if (dns->wakefd >= 0)
    close (dns->wakefd);
  if (dns->epfd >= 0)
    close (dns->epfd);
  pthread_mutex_destroy (&dns->lock);
  free (dns);
}

/* The loop thread runs with every signal blocked, so that berthd's
 * signals (SIGCHLD, SIGTERM...) go to the threads that handle them and
 * never interrupt the loop. */
static int start_loop_thread (struct net_dns *dns)
{
  sigset_t all, saved;
  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &saved);
  int r = pthread_create (&dns->thread, NULL, dns_loop, dns);
  pthread_sigmask (SIG_SETMASK, &saved, NULL);
  return r;
}

int net_dns_start (net_dns_lookup_fn lookup, net_dns_reverse_fn reverse, void *ctx, struct net_dns **out,
                   berth_err *err)
{
  struct net_dns *dns = calloc (1, sizeof *dns);
  if (dns == NULL)
    return berth_fail (err, ENOMEM, "dns: start");
  dns->cb = (struct dns_callbacks){ lookup, reverse, ctx };
  dns->epfd = dns->wakefd = -1;
  pthread_mutex_init (&dns->lock, NULL);
  dns->n_resolvers = dns_read_resolv_conf (resolv_conf_path, dns->resolvers, DNS_MAX_RESOLVERS);
  if (dns->n_resolvers == 0)
    berth_warn ("dns: no nameserver in %s: names of the outside world will not resolve", resolv_conf_path);
  int r = 0;
  dns->epfd = epoll_create1 (EPOLL_CLOEXEC);
  dns->wakefd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  dns->wake_watch = (struct watch){ WATCH_WAKE, NULL };
  if (dns->epfd < 0 || dns->wakefd < 0 || watch_fd (dns, dns->wakefd, EPOLLIN, &dns->wake_watch) < 0)
    r = berth_fail_errno (err, "dns: epoll");
  else if ((r = start_loop_thread (dns)) != 0)
    r = berth_fail (err, r, "dns: start the DNS thread");
  if (r < 0)
    {
      dns_free (dns);
      return r;
    }
  *out = dns;
  return 0;
}

void net_dns_stop (struct net_dns *dns)
{
  if (dns == NULL)
    return;
  pthread_mutex_lock (&dns->lock);
  dns->stopping = true;
  pthread_mutex_unlock (&dns->lock);
  wake (dns);
  pthread_join (dns->thread, NULL);
  dns_free (dns);
}
