/* virtio-vsock (virtio 1.x, 5.10) with Firecracker's host side: every
 * vsock stream is a Unix stream socket on the host.
 *
 *  - Host to guest: a host program connects to UDS_PATH (the VMM listens
 *    there) and writes "CONNECT <port>\n"; the VMM sends the guest a
 *    REQUEST from a fresh host port, and on the guest's RESPONSE answers
 *    "OK <hostport>\n" on the Unix socket, which then carries the stream.
 *  - Guest to host: the guest connects to (CID 2, port P); the VMM
 *    connects to "UDS_PATH_P" and answers RESPONSE, or RST if nobody
 *    listens there.
 *
 * Flow control is virtio's credit scheme: each side announces its receive
 * buffer (buf_alloc) and how much it has consumed (fwd_cnt).  The VMM
 * buffers at most VSOCK_BUF_ALLOC bytes per connection that the host
 * socket has not taken yet, and reads from the host socket only as much
 * as the guest has room for.
 *
 * Queues: rx (0, to the guest), tx (1, from the guest), event (2, unused:
 * only a snapshot restore would send TRANSPORT_RESET).  Loop thread only. */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_vsock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "vmm/evloop.h"
#include "vmm/virtio/devices.h"

#define VSOCK_QUEUE_SIZE 256
#define Q_RX 0
#define Q_TX 1
#define Q_EVENT 2
#define HOST_CID 2
#define HDR_LEN ((uint32_t) sizeof (struct virtio_vsock_hdr))
#define VSOCK_BUF_ALLOC (256 * 1024)
#define VSOCK_MAX_CONNS 1024
#define FIRST_HOST_PORT (1u << 30)
#define MAX_PENDING 512
#define CONNECT_LINE_MAX 32

enum conn_state {
  CONN_READ_CONNECT, /* host side: waiting for "CONNECT <port>\n" */
  CONN_CONNECTING,   /* host side: REQUEST sent to the guest */
  CONN_ESTABLISHED,
  CONN_CLOSING,      /* we sent SHUTDOWN, waiting for the guest's RST */
};

struct conn {
  struct vsock *vs;
  int fd;
  enum conn_state state;
  uint32_t local_port, peer_port;
  /* credit: what the guest told us, and what we count */
  uint32_t peer_buf_alloc, peer_fwd_cnt;
  uint32_t rx_cnt;          /* bytes sent to the guest */
  uint32_t fwd_cnt;         /* bytes of the guest's data written to the host socket */
  uint32_t fwd_cnt_told;    /* fwd_cnt last announced */
  uint8_t *buf;             /* guest data the host socket did not take yet */
  size_t buf_len;
  char line[CONNECT_LINE_MAX];
  size_t line_len;
  bool rx_wait;             /* no rx buffers: watch for an rx kick */
  bool shut_wr_pending;     /* guest said it sends no more: shut down after the buffer */
  uint32_t events;          /* current epoll mask */
  bool on_loop;             /* fd registered (off while we want nothing: HUP would spin) */
};

struct pkt {
  struct virtio_vsock_hdr h;
};

struct vsock {
  struct virtio_dev dev; /* first */
  uint64_t guest_cid;
  char *uds_path;
  int listen_fd;
  bool listening; /* on the loop */
  struct conn *conns[VSOCK_MAX_CONNS];
  unsigned nconns;
  uint32_t next_port;
  struct pkt pending[MAX_PENDING]; /* control packets waiting for rx buffers */
  unsigned npending;
  struct virtq_chain chain;    /* tx */
  struct virtq_chain rx_chain; /* rx: separate, packets to the guest are made while a tx chain is in use */
};

static struct vsock *to_vsock (struct virtio_dev *d)
{
  return (struct vsock *) d;
}

static void vsock_config_read (struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
  struct virtio_vsock_config cfg = { .guest_cid = to_vsock (d)->guest_cid };
  memcpy (data, (uint8_t *) &cfg + off, len);
}

/* ---- connections ---- */

static struct conn *find_conn (struct vsock *vs, uint32_t local, uint32_t peer)
{
  for (unsigned i = 0; i < vs->nconns; i++)
    if (vs->conns[i]->local_port == local && vs->conns[i]->peer_port == peer && vs->conns[i]->state != CONN_READ_CONNECT)
      return vs->conns[i];
  return NULL;
}

static bool port_in_use (struct vsock *vs, uint32_t port)
{
  for (unsigned i = 0; i < vs->nconns; i++)
    if (vs->conns[i]->local_port == port)
      return true;
  return false;
}

static void on_conn (void *opaque, uint32_t events);

static struct conn *add_conn (struct vsock *vs, int fd, enum conn_state st)
{
  if (vs->nconns == VSOCK_MAX_CONNS)
    return NULL;
  struct conn *c = calloc (1, sizeof *c);
  if (c == NULL)
    return NULL;
  c->vs = vs;
  c->fd = fd;
  c->state = st;
  c->events = EPOLLIN;
  if (evloop_add (vs->dev.loop, fd, EPOLLIN, on_conn, c) < 0)
    {
      free (c);
      return NULL;
    }
  c->on_loop = true;
  vs->conns[vs->nconns++] = c;
  return c;
}

static void remove_conn (struct vsock *vs, struct conn *c)
{
  if (c->on_loop)
    evloop_del (vs->dev.loop, c->fd);
  close (c->fd);
  for (unsigned i = 0; i < vs->nconns; i++)
    if (vs->conns[i] == c)
      {
        vs->conns[i] = vs->conns[--vs->nconns];
        break;
      }
  free (c->buf);
  free (c);
}

/* Bytes the guest can still take from us. */
static uint32_t peer_credit (const struct conn *c)
{
  uint32_t in_flight = c->rx_cnt - c->peer_fwd_cnt;
  return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* Watch the host socket for what the connection can use now. */
static void update_events (struct conn *c)
{
  uint32_t ev = 0;
  if (c->state == CONN_READ_CONNECT || (c->state == CONN_ESTABLISHED && !c->rx_wait && peer_credit (c) > 0))
    ev |= EPOLLIN;
  if (c->buf_len > 0 && c->state != CONN_CLOSING)
    ev |= EPOLLOUT;
  struct evloop *l = c->vs->dev.loop;
  if (ev == 0)
    {
      /* Off the loop entirely: a hung-up socket reports EPOLLHUP even
       * with an empty mask and would spin the loop. */
      if (c->on_loop)
        evloop_del (l, c->fd);
      c->on_loop = false;
    }
  else if (!c->on_loop)
    c->on_loop = evloop_add (l, c->fd, ev, on_conn, c) == 0;
  else if (ev != c->events)
    evloop_mod (l, c->fd, ev);
  c->events = ev;
}

/* ---- packets to the guest ---- */

static struct virtio_vsock_hdr make_hdr (struct vsock *vs, const struct conn *c, uint32_t local, uint32_t peer,
                                         uint16_t op)
{
  struct virtio_vsock_hdr h = { 0 };
  h.src_cid = HOST_CID;
  h.dst_cid = vs->guest_cid;
  h.src_port = local;
  h.dst_port = peer;
  h.type = VIRTIO_VSOCK_TYPE_STREAM;
  h.op = op;
  h.buf_alloc = VSOCK_BUF_ALLOC;
  h.fwd_cnt = c ? c->fwd_cnt : 0;
  return h;
}

/* Put one header-only packet in the next rx buffer; false if none. */
static bool deliver (struct vsock *vs, const struct virtio_vsock_hdr *h)
{
  struct virtio_dev *d = &vs->dev;
  struct virtq_chain *ch = &vs->rx_chain;
  int r = virtq_pop (&d->vq[Q_RX], d->mem, ch);
  if (r < 0)
    virtio_dev_fail (d);
  if (r <= 0)
    return false;
  if (ch->in_len < HDR_LEN)
    {
      virtio_dev_fail (d);
      return false;
    }
  buf_to_iov (ch->in, ch->n_in, 0, h, HDR_LEN);
  virtio_complete (d, Q_RX, ch->head, HDR_LEN);
  return true;
}

static void send_ctrl (struct vsock *vs, struct conn *c, uint32_t local, uint32_t peer, uint16_t op, uint32_t flags)
{
  struct virtio_vsock_hdr h = make_hdr (vs, c, local, peer, op);
  h.flags = flags;
  if (c)
    c->fwd_cnt_told = c->fwd_cnt;
  if (vs->npending == 0 && deliver (vs, &h))
    return;
  if (vs->npending < MAX_PENDING)
    vs->pending[vs->npending++].h = h;
  /* else: the guest posts no rx buffers at all; control packets are lost
   * and its connections time out, as on a lossy link. */
}

static void flush_pending (struct vsock *vs)
{
  unsigned i = 0;
  while (i < vs->npending && deliver (vs, &vs->pending[i].h))
    i++;
  memmove (vs->pending, vs->pending + i, (vs->npending - i) * sizeof vs->pending[0]);
  vs->npending -= i;
}

/* Host socket to guest: one RW packet of what the socket has, within
 * the guest's credit and the rx buffer. */
static void conn_rx (struct vsock *vs, struct conn *c)
{
  struct virtio_dev *d = &vs->dev;
  uint32_t credit = peer_credit (c);
  if (credit == 0 || vs->npending > 0)
    {
      update_events (c);
      return;
    }
  struct virtq_chain *ch = &vs->rx_chain;
  int r = virtq_pop (&d->vq[Q_RX], d->mem, ch);
  if (r <= 0)
    {
      if (r < 0)
        virtio_dev_fail (d);
      c->rx_wait = true;
      update_events (c);
      return;
    }
  if (ch->in_len < HDR_LEN)
    {
      virtio_dev_fail (d);
      return;
    }
  uint64_t room = ch->in_len - HDR_LEN;
  if (room > credit)
    room = credit;
  struct iovec io[VIRTQ_MAX_CHAIN];
  unsigned n = iov_slice (ch->in, ch->n_in, HDR_LEN, room, io, VIRTQ_MAX_CHAIN);
  ssize_t k = room ? readv (c->fd, io, (int) n) : -1;
  if (k < 0 && (errno == EAGAIN || errno == EINTR))
    {
      virtq_unpop (&d->vq[Q_RX]);
      return;
    }
  struct virtio_vsock_hdr h;
  if (k <= 0)
    {
      /* EOF or error: the host side is done; tell the guest. */
      h = make_hdr (vs, c, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_SHUTDOWN);
      h.flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
      c->state = CONN_CLOSING;
      k = 0;
    }
  else
    {
      h = make_hdr (vs, c, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_RW);
      h.len = (uint32_t) k;
      c->rx_cnt += (uint32_t) k;
    }
  c->fwd_cnt_told = c->fwd_cnt;
  buf_to_iov (ch->in, ch->n_in, 0, &h, HDR_LEN);
  virtio_complete (d, Q_RX, ch->head, HDR_LEN + (uint32_t) k);
  update_events (c);
}

/* ---- guest data to the host socket ---- */

/* Returns -1 if the host socket is gone (EPIPE, ECONNRESET). */
static int flush_buf (struct conn *c)
{
  while (c->buf_len > 0)
    {
      ssize_t k = send (c->fd, c->buf, c->buf_len, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (k < 0 && errno == EINTR)
        continue;
      if (k < 0 && errno != EAGAIN)
        {
          c->buf_len = 0;
          return -1;
        }
      if (k <= 0)
        break;
      memmove (c->buf, c->buf + k, c->buf_len - (size_t) k);
      c->buf_len -= (size_t) k;
      c->fwd_cnt += (uint32_t) k;
    }
  if (c->buf_len == 0 && c->shut_wr_pending)
    shutdown (c->fd, SHUT_WR);
  return 0;
}

/* The host end failed: reset the guest's end and forget the connection. */
static void conn_reset (struct vsock *vs, struct conn *c)
{
  send_ctrl (vs, c, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_RST, 0);
  remove_conn (vs, c);
}

/* Returns false if the guest overran its credit. */
static bool conn_write (struct conn *c, const struct iovec *iov, unsigned n, size_t skip, size_t len)
{
  if (c->buf_len + len > VSOCK_BUF_ALLOC)
    return false;
  if (c->buf == NULL && (c->buf = malloc (VSOCK_BUF_ALLOC)) == NULL)
    return false;
  c->buf_len += iov_to_buf (iov, n, skip, c->buf + c->buf_len, len);
  if (flush_buf (c) < 0)
    return false;
  /* Tell the guest about freed space before it runs dry. */
  if (c->fwd_cnt - c->fwd_cnt_told >= VSOCK_BUF_ALLOC / 4)
    send_ctrl (c->vs, c, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
  update_events (c);
  return true;
}

/* ---- host-initiated connections ---- */

static void host_connect_line (struct vsock *vs, struct conn *c)
{
  ssize_t k = read (c->fd, c->line + c->line_len, sizeof c->line - 1 - c->line_len);
  if (k < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (k <= 0)
    {
      remove_conn (vs, c);
      return;
    }
  c->line_len += (size_t) k;
  c->line[c->line_len] = '\0';
  char *nl = strchr (c->line, '\n');
  if (nl == NULL)
    {
      if (c->line_len == sizeof c->line - 1)
        remove_conn (vs, c); /* no line within 31 bytes: not our protocol */
      return;
    }
  unsigned port;
  char extra;
  *nl = '\0';
  if (sscanf (c->line, "CONNECT %u%c", &port, &extra) != 1 || nl + 1 != c->line + c->line_len)
    {
      remove_conn (vs, c); /* malformed, or data before the OK */
      return;
    }
  do
    vs->next_port = vs->next_port + 1 < FIRST_HOST_PORT ? FIRST_HOST_PORT : vs->next_port + 1;
  while (port_in_use (vs, vs->next_port));
  c->local_port = vs->next_port;
  c->peer_port = port;
  c->state = CONN_CONNECTING;
  update_events (c);
  send_ctrl (vs, c, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_REQUEST, 0);
}

static void on_conn (void *opaque, uint32_t events)
{
  struct conn *c = opaque;
  struct vsock *vs = c->vs;
  if (c->state == CONN_READ_CONNECT)
    {
      host_connect_line (vs, c);
      return;
    }
  if (events & EPOLLOUT)
    {
      if (flush_buf (c) < 0)
        {
          conn_reset (vs, c);
          return;
        }
      update_events (c);
    }
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && c->state == CONN_ESTABLISHED)
    conn_rx (vs, c);
}

static void on_listen (void *opaque, uint32_t events)
{
  struct vsock *vs = opaque;
  int fd = accept4 (vs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0)
    return;
  if (add_conn (vs, fd, CONN_READ_CONNECT) == NULL)
    close (fd);
}

/* ---- guest-initiated connections and the tx queue ---- */

static void guest_request (struct vsock *vs, const struct virtio_vsock_hdr *h)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int n = snprintf (sa.sun_path, sizeof sa.sun_path, "%s_%u", vs->uds_path, h->dst_port);
  int fd = -1;
  if (n > 0 && (size_t) n < sizeof sa.sun_path && !find_conn (vs, h->dst_port, h->src_port))
    {
      fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd >= 0 && connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
        {
          close (fd);
          fd = -1;
        }
    }
  struct conn *c = fd >= 0 ? add_conn (vs, fd, CONN_ESTABLISHED) : NULL;
  if (c == NULL)
    {
      if (fd >= 0)
        close (fd);
      send_ctrl (vs, NULL, h->dst_port, h->src_port, VIRTIO_VSOCK_OP_RST, 0);
      return;
    }
  c->local_port = h->dst_port;
  c->peer_port = h->src_port;
  c->peer_buf_alloc = h->buf_alloc;
  c->peer_fwd_cnt = h->fwd_cnt;
  send_ctrl (vs, c, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_RESPONSE, 0);
  update_events (c);
}

static void guest_packet (struct vsock *vs, const struct virtio_vsock_hdr *h, const struct virtq_chain *ch)
{
  if (h->op == VIRTIO_VSOCK_OP_REQUEST)
    {
      guest_request (vs, h);
      return;
    }
  struct conn *c = find_conn (vs, h->dst_port, h->src_port);
  if (c == NULL)
    {
      if (h->op != VIRTIO_VSOCK_OP_RST)
        send_ctrl (vs, NULL, h->dst_port, h->src_port, VIRTIO_VSOCK_OP_RST, 0);
      return;
    }
  c->peer_buf_alloc = h->buf_alloc;
  c->peer_fwd_cnt = h->fwd_cnt;
  switch (h->op)
    {
    case VIRTIO_VSOCK_OP_RESPONSE:
      if (c->state == CONN_CONNECTING)
        {
          char ok[32];
          int n = snprintf (ok, sizeof ok, "OK %u\n", c->local_port);
          c->state = CONN_ESTABLISHED;
          if (send (c->fd, ok, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT) != n)
            {
              conn_reset (vs, c);
              return;
            }
        }
      break;
    case VIRTIO_VSOCK_OP_RST:
      remove_conn (vs, c);
      return;
    case VIRTIO_VSOCK_OP_SHUTDOWN:
      if ((h->flags & (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND))
          == (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND))
        {
          (void) flush_buf (c); /* best effort: the socket may not take it all */
          conn_reset (vs, c);
          return;
        }
      if (h->flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
        {
          c->shut_wr_pending = true;
          if (flush_buf (c) < 0)
            {
              conn_reset (vs, c);
              return;
            }
        }
      break;
    case VIRTIO_VSOCK_OP_RW:
      if (c->state != CONN_ESTABLISHED || h->len > ch->out_len - HDR_LEN
          || !conn_write (c, ch->out, ch->n_out, HDR_LEN, h->len))
        {
          conn_reset (vs, c);
          return;
        }
      break;
    case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
      send_ctrl (vs, c, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
      break;
    default: /* CREDIT_UPDATE: the credit fields above are all of it */
      break;
    }
  update_events (c);
}

static void tx_process (struct vsock *vs)
{
  struct virtio_dev *d = &vs->dev;
  struct virtq_chain *ch = &vs->chain;
  int r;
  while ((r = virtq_pop (&d->vq[Q_TX], d->mem, ch)) == 1)
    {
      struct virtio_vsock_hdr h;
      uint16_t head = ch->head;
      /* Packets not from this guest to the host, or not streams, are
       * dropped (Linux never sends them). */
      if (iov_to_buf (ch->out, ch->n_out, 0, &h, HDR_LEN) == HDR_LEN && h.src_cid == vs->guest_cid
          && h.dst_cid == HOST_CID && h.type == VIRTIO_VSOCK_TYPE_STREAM)
        guest_packet (vs, &h, ch);
      virtio_complete (d, Q_TX, head, 0);
    }
  if (r < 0)
    virtio_dev_fail (d);
}

static void rx_kicked (struct vsock *vs)
{
  flush_pending (vs);
  for (unsigned i = 0; i < vs->nconns; i++)
    if (vs->conns[i]->rx_wait)
      {
        vs->conns[i]->rx_wait = false;
        update_events (vs->conns[i]);
      }
}

static void vsock_notify (struct virtio_dev *d, uint16_t q)
{
  struct vsock *vs = to_vsock (d);
  if (q == Q_TX)
    tx_process (vs);
  else if (q == Q_RX)
    rx_kicked (vs);
  /* the event queue only holds buffers for events we never send */
}

static int vsock_activate (struct virtio_dev *d)
{
  struct vsock *vs = to_vsock (d);
  if (d->loop == NULL || vs->listening)
    return 0;
  int r = evloop_add (d->loop, vs->listen_fd, EPOLLIN, on_listen, vs);
  if (r == 0)
    vs->listening = true;
  return r;
}

static void vsock_reset (struct virtio_dev *d)
{
  struct vsock *vs = to_vsock (d);
  while (vs->nconns > 0)
    remove_conn (vs, vs->conns[0]);
  vs->npending = 0;
  if (vs->listening)
    evloop_del (d->loop, vs->listen_fd);
  vs->listening = false;
}

static void vsock_destroy (struct virtio_dev *d)
{
  struct vsock *vs = to_vsock (d);
  vsock_reset (d);
  close (vs->listen_fd);
  unlink (vs->uds_path);
  free (vs->uds_path);
  free (vs);
}

static const struct virtio_dev_ops vsock_ops = {
  .name = "virtio-vsock",
  .device_id = VIRTIO_ID_VSOCK,
  .num_queues = 3,
  .queue_size = VSOCK_QUEUE_SIZE,
  .features = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC),
  .config_size = sizeof (struct virtio_vsock_config),
  .config_read = vsock_config_read,
  .activate = vsock_activate,
  .reset = vsock_reset,
  .queue_notify = vsock_notify,
  .destroy = vsock_destroy,
};

static int listen_unix (const char *path, berth_err *err)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  /* Room for "_<port>" (11 bytes) too, or guest connections could not be
   * named. */
  if (strlen (path) + 12 > sizeof sa.sun_path)
    return berth_fail (err, ENAMETOOLONG, "vsock: uds_path %s is too long", path);
  strcpy (sa.sun_path, path);
  cleanup_close int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return berth_fail_errno (err, "vsock: socket");
  unlink (path); /* a stale socket of an earlier VM */
  if (bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen (fd, 64) < 0)
    return berth_fail_errno (err, "vsock: listen on %s", path);
  return take_fd (&fd);
}

int virtio_vsock_create (const struct vm_vsock *cfg, const struct guest_mem *mem, struct evloop *loop,
                         struct virtio_dev **out, berth_err *err)
{
  if (cfg->guest_cid < 3)
    return berth_fail (err, 0, "vsock: guest_cid must be at least 3");
  if (cfg->uds_path == NULL || cfg->uds_path[0] == '\0')
    return berth_fail (err, 0, "vsock: uds_path is required");
  if (loop == NULL)
    return berth_fail (err, 0, "vsock: needs the event loop");
  int fd = listen_unix (cfg->uds_path, err);
  if (fd < 0)
    return fd;
  struct vsock *vs = calloc (1, sizeof *vs);
  char *path = strdup (cfg->uds_path);
  if (vs == NULL || path == NULL)
    {
      free (vs);
      free (path);
      close (fd);
      return berth_fail (err, ENOMEM, "vsock");
    }
  virtio_dev_init (&vs->dev, &vsock_ops, mem, loop, cfg->vsock_id ? cfg->vsock_id : "vsock");
  vs->guest_cid = cfg->guest_cid;
  vs->uds_path = path;
  vs->listen_fd = fd;
  vs->next_port = FIRST_HOST_PORT - 1;
  *out = &vs->dev;
  return 0;
}
