/* virtio-net (virtio 1.x, 5.1) on a tap device.
 *
 * The tap is opened with IFF_VNET_HDR and a 12-byte vnet header, which is
 * exactly struct virtio_net_hdr_v1: frames move between the tap and the
 * guest's buffers with one readv/writev and no copy or header rewrite
 * (except num_buffers, which the tap leaves alone).  The offloads the
 * driver accepts for its receive side (GUEST_CSUM/TSO4/TSO6/UFO) are handed
 * to the tap with TUNSETOFFLOAD, so the host may give the guest large,
 * unchecksummed frames; transmit offloads (HOST_*) need nothing from us,
 * the tap takes GSO frames as they come.
 *
 * Queues: rx (0) and tx (1).  Receive is driven by the tap fd on the event
 * loop; while the guest has posted no rx buffers, or the rx rate limiter
 * is empty, the tap is not watched (its level-triggered readiness would
 * spin) until an rx kick or the limiter's timer. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "vmm/evloop.h"
#include "vmm/virtio/devices.h"
#include "vmm/virtio/rate-limiter.h"

#define NET_QUEUE_SIZE 256
#define Q_RX 0
#define Q_TX 1
#define VNET_HDR_LEN 12 /* struct virtio_net_hdr_v1 (VERSION_1 always has num_buffers) */

struct net {
  struct virtio_dev dev; /* first */
  int tap;
  char ifname[IFNAMSIZ];
  uint8_t mac[6];
  bool tap_on_loop; /* registered with the loop (after activate) */
  bool rx_watching; /* EPOLLIN asked for */
  struct rate_limiter rx_rl, tx_rl;
  struct virtq_chain chain;
  uint64_t rx_frames, tx_frames, tx_dropped;
};

static struct net *to_net (struct virtio_dev *d)
{
  return (struct net *) d;
}

static void net_config_read (struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
  struct net *n = to_net (d);
  struct virtio_net_config cfg = { 0 };
  memcpy (cfg.mac, n->mac, 6);
  cfg.status = VIRTIO_NET_S_LINK_UP;
  memcpy (data, (uint8_t *) &cfg + off, len);
}

static void watch_rx (struct net *n, bool on)
{
  if (!n->tap_on_loop || n->rx_watching == on)
    return;
  if (evloop_mod (n->dev.loop, n->tap, on ? EPOLLIN : 0) == 0)
    n->rx_watching = on;
}

static void rx_process (struct net *n)
{
  struct virtio_dev *d = &n->dev;
  struct virtq_chain *c = &n->chain;
  for (;;)
    {
      /* The frame's size is known only after reading it: ask for one
       * byte and one frame now, charge the rest afterwards. */
      if (!rate_limiter_consume (&n->rx_rl, 1, 1))
        {
          watch_rx (n, false);
          rate_limiter_block (&n->rx_rl, 1, 1);
          return;
        }
      int r = virtq_pop (&d->vq[Q_RX], d->mem, c);
      if (r <= 0)
        {
          watch_rx (n, false); /* until the guest posts buffers (rx kick) */
          if (r < 0)
            virtio_dev_fail (d);
          return;
        }
      if (c->in_len < VNET_HDR_LEN || c->n_out > 0)
        {
          virtio_dev_fail (d);
          return;
        }
      ssize_t k = readv (n->tap, c->in, (int) c->n_in);
      if (k < 0)
        {
          virtq_unpop (&d->vq[Q_RX]);
          watch_rx (n, true);
          return; /* EAGAIN: the tap is empty; other errors: try later */
        }
      uint16_t one = 1;
      buf_to_iov (c->in, c->n_in, 10, &one, sizeof one); /* num_buffers */
      rate_limiter_charge (&n->rx_rl, k > 1 ? (uint64_t) k - 1 : 0, 0);
      n->rx_frames++;
      virtio_complete (d, Q_RX, c->head, (uint32_t) k);
    }
}

static void tx_process (struct net *n)
{
  struct virtio_dev *d = &n->dev;
  struct virtq_chain *c = &n->chain;
  int r;
  while ((r = virtq_pop (&d->vq[Q_TX], d->mem, c)) == 1)
    {
      uint64_t bytes = c->out_len > VNET_HDR_LEN ? c->out_len - VNET_HDR_LEN : 0;
      if (!rate_limiter_consume (&n->tx_rl, bytes, 1))
        {
          virtq_unpop (&d->vq[Q_TX]);
          rate_limiter_block (&n->tx_rl, bytes, 1);
          return;
        }
      /* A frame the tap refuses (malformed header, queue full) is
       * dropped, as a NIC drops it; the guest gets its buffer back. */
      if (c->out_len < VNET_HDR_LEN || c->n_in > 0 || writev (n->tap, c->out, (int) c->n_out) < 0)
        n->tx_dropped++;
      else
        n->tx_frames++;
      virtio_complete (d, Q_TX, c->head, 0);
    }
  if (r < 0)
    virtio_dev_fail (d);
}

static void on_tap (void *opaque, uint32_t events)
{
  rx_process (opaque);
}

static void rx_resume (void *opaque, uint32_t events)
{
  struct net *n = opaque;
  if (virtio_dev_running (&n->dev))
    {
      watch_rx (n, true);
      rx_process (n);
    }
}

static void tx_resume (void *opaque, uint32_t events)
{
  struct net *n = opaque;
  if (virtio_dev_running (&n->dev))
    tx_process (n);
}

static void net_notify (struct virtio_dev *d, uint16_t q)
{
  struct net *n = to_net (d);
  if (q == Q_TX)
    {
      if (!rate_limiter_blocked (&n->tx_rl))
        tx_process (n);
    }
  else if (!rate_limiter_blocked (&n->rx_rl))
    {
      watch_rx (n, true);
      rx_process (n);
    }
}

static unsigned tap_offloads (uint64_t f)
{
  unsigned o = 0;
  if (f & (1ULL << VIRTIO_NET_F_GUEST_CSUM))
    {
      o |= TUN_F_CSUM;
      if (f & (1ULL << VIRTIO_NET_F_GUEST_TSO4))
        o |= TUN_F_TSO4;
      if (f & (1ULL << VIRTIO_NET_F_GUEST_TSO6))
        o |= TUN_F_TSO6;
      if (f & (1ULL << VIRTIO_NET_F_GUEST_ECN))
        o |= TUN_F_TSO_ECN;
      if (f & (1ULL << VIRTIO_NET_F_GUEST_UFO))
        o |= TUN_F_UFO;
    }
  return o;
}

static int net_activate (struct virtio_dev *d)
{
  struct net *n = to_net (d);
  if (ioctl (n->tap, TUNSETOFFLOAD, tap_offloads (d->driver_features)) < 0)
    return -errno;
  if (d->loop && !n->tap_on_loop)
    {
      int r = evloop_add (d->loop, n->tap, EPOLLIN, on_tap, n);
      if (r < 0)
        return r;
      n->tap_on_loop = n->rx_watching = true;
    }
  return 0;
}

static void net_reset (struct virtio_dev *d)
{
  struct net *n = to_net (d);
  if (n->tap_on_loop)
    evloop_del (d->loop, n->tap);
  n->tap_on_loop = n->rx_watching = false;
  rate_limiter_stop (&n->rx_rl);
  rate_limiter_stop (&n->tx_rl);
  (void) ioctl (n->tap, TUNSETOFFLOAD, 0);
}

static void net_destroy (struct virtio_dev *d)
{
  struct net *n = to_net (d);
  net_reset (d);
  close (n->tap);
  free (n);
}

#define NET_FEATURES                                                                                          \
  ((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC) \
   | (1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_TSO4)     \
   | (1ULL << VIRTIO_NET_F_GUEST_TSO6) | (1ULL << VIRTIO_NET_F_GUEST_ECN) | (1ULL << VIRTIO_NET_F_HOST_TSO4)  \
   | (1ULL << VIRTIO_NET_F_HOST_TSO6) | (1ULL << VIRTIO_NET_F_HOST_ECN) | (1ULL << VIRTIO_NET_F_HOST_UFO)     \
   | (1ULL << VIRTIO_NET_F_STATUS))

#define NET_OPS(feat)                                                                                           \
  {                                                                                                             \
    .name = "virtio-net", .device_id = VIRTIO_ID_NET, .num_queues = 2, .queue_size = NET_QUEUE_SIZE,           \
    .features = (feat), .config_size = 8, .config_read = net_config_read, .activate = net_activate,            \
    .reset = net_reset, .queue_notify = net_notify, .destroy = net_destroy,                                    \
  }

/* With or without a MAC in config, with or without receive UFO (kernels
 * since 4.14 take TUN_F_UFO again; older ones refuse it). */
static const struct virtio_dev_ops net_ops[4] = {
  NET_OPS (NET_FEATURES),
  NET_OPS (NET_FEATURES | (1ULL << VIRTIO_NET_F_MAC)),
  NET_OPS (NET_FEATURES | (1ULL << VIRTIO_NET_F_GUEST_UFO)),
  NET_OPS (NET_FEATURES | (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_GUEST_UFO)),
};

static int open_tap (const char *name, berth_err *err)
{
  if (name == NULL || strlen (name) >= IFNAMSIZ || name[0] == '\0')
    return berth_fail (err, 0, "invalid tap device name '%s'", name ? name : "");
  /* TUNSETIFF would create a missing tap (we may hold CAP_NET_ADMIN), and
   * a tap nobody set up is connected to nothing: refuse instead, as the
   * user meant an existing device. */
  if (if_nametoindex (name) == 0)
    return berth_fail_as (err, ENODEV, "tap device %s does not exist (create it first: ip tuntap add dev %s mode tap)",
                          name, name);
  cleanup_close int fd = open ("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (err, "open /dev/net/tun");
  struct ifreq ifr = { 0 };
  strcpy (ifr.ifr_name, name);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (ioctl (fd, TUNSETIFF, &ifr) < 0)
    return berth_fail_errno (err, "tap %s", name);
  int hdr = VNET_HDR_LEN;
  if (ioctl (fd, TUNSETVNETHDRSZ, &hdr) < 0)
    return berth_fail_errno (err, "tap %s: vnet header size", name);
  return take_fd (&fd);
}

int virtio_net_create (const struct vm_net *cfg, const struct guest_mem *mem, struct evloop *loop,
                       struct virtio_dev **out, berth_err *err)
{
  int tap = open_tap (cfg->host_dev_name, err);
  if (tap < 0)
    return berth_error_prefix (err, "network interface %s", cfg->iface_id);
  bool ufo = ioctl (tap, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_UFO) == 0;
  (void) ioctl (tap, TUNSETOFFLOAD, 0);
  struct net *n = calloc (1, sizeof *n);
  if (n == NULL)
    {
      close (tap);
      return berth_fail (err, ENOMEM, "network interface %s", cfg->iface_id);
    }
  virtio_dev_init (&n->dev, &net_ops[(cfg->has_mac ? 1 : 0) | (ufo ? 2 : 0)], mem, loop, cfg->iface_id);
  n->tap = tap;
  snprintf (n->ifname, sizeof n->ifname, "%s", cfg->host_dev_name);
  memcpy (n->mac, cfg->guest_mac, 6);
  rate_limiter_init (&n->rx_rl, &cfg->rx_rate_limiter, loop, rx_resume, n);
  rate_limiter_init (&n->tx_rl, &cfg->tx_rate_limiter, loop, tx_resume, n);
  *out = &n->dev;
  return 0;
}
