/* virtio-net against a real tap device, made by the device in a private
 * network namespace of the test's own process (so no traffic leaves it):
 * the guest's tx frames appear on the tap, frames sent into the tap land
 * in the guest's rx buffers. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "unit.h"
#include "vmm_driver.h"

#define QGPA (FAKE_GPA + 0x10000)
#define BUF (FAKE_GPA + 0x40000)
#define ETH_TEST 0x88b5 /* IEEE local experimental ethertype */

static struct fake_host host;
static struct fake_vq vq[2];
static struct virtio_dev *net;
static struct evloop *loop;

static struct vm_rate_limiter tx_limit;

/* The tap a user makes before starting the VMM (ip tuntap add): a
 * persistent one, in this test's own network namespace. */
static bool make_tap (const char *name)
{
  int fd = open ("/dev/net/tun", O_RDWR | O_CLOEXEC);
  struct ifreq ifr = { 0 };
  snprintf (ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  bool ok = fd >= 0 && ioctl (fd, TUNSETIFF, &ifr) == 0 && ioctl (fd, TUNSETPERSIST, 1) == 0;
  if (fd >= 0)
    close (fd);
  return ok;
}

/* Returns false (the test then SKIPs) without tap or namespace support. */
static bool net_setup (void)
{
  if (unshare (CLONE_NEWNET) < 0 || access ("/dev/net/tun", R_OK | W_OK) < 0 || !make_tap ("vtap0"))
    return false;
  fake_mem_init ();
  berth_err err = NULL;
  CHECK (evloop_new (&loop, &err) == 0);
  fake_host_init (&host, loop);
  struct vm_net cfg = { .iface_id = "eth0", .host_dev_name = "vtap0", .has_mac = true,
                        .guest_mac = { 0x02, 0, 0, 0, 0, 1 }, .tx_rate_limiter = tx_limit };
  if (virtio_net_create (&cfg, &fake_mem, loop, &net, &err) < 0)
    {
      printf ("  %s\n", err->msg);
      return false;
    }
  int s = socket (AF_INET, SOCK_DGRAM, 0);
  struct ifreq ifr = { 0 };
  strcpy (ifr.ifr_name, "vtap0");
  CHECK (ioctl (s, SIOCGIFFLAGS, &ifr) == 0);
  ifr.ifr_flags |= IFF_UP;
  CHECK (ioctl (s, SIOCSIFFLAGS, &ifr) == 0);
  close (s);
  return true;
}

static int packet_socket (void)
{
  int s = socket (AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons (ETH_TEST));
  CHECK (s >= 0);
  struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons (ETH_TEST),
                             .sll_ifindex = (int) if_nametoindex ("vtap0") };
  CHECK (bind (s, (struct sockaddr *) &sll, sizeof sll) == 0);
  return s;
}

static size_t make_frame (uint8_t *f, const char *payload)
{
  memset (f, 0xff, 6);                         /* broadcast */
  memcpy (f + 6, "\x02\x00\x00\x00\x00\x01", 6); /* the guest's MAC */
  f[12] = ETH_TEST >> 8, f[13] = ETH_TEST & 0xff;
  size_t n = strlen (payload);
  memcpy (f + 14, payload, n);
  memset (f + 14 + n, 0, 46 > n ? 46 - n : 0); /* minimum frame */
  return 14 + (n < 46 ? 46 : n);
}

TEST (net_config_and_features)
{
  if (!net_setup ())
    {
      printf ("SKIP: no /dev/net/tun or network namespaces here\n");
      return;
    }
  CHECK (driver_setup (net, &host, ~0ULL, vq, 2, 16, QGPA) == 15);
  uint64_t f = mmio_features ();
  CHECK (f & (1ULL << VIRTIO_NET_F_MAC));
  CHECK (f & (1ULL << VIRTIO_NET_F_GUEST_TSO4));
  uint8_t mac[6];
  for (int i = 0; i < 6; i++)
    bus_access (&test_mmio, MMIO_BASE + 0x100 + (uint64_t) i, &mac[i], 1, false);
  CHECK (memcmp (mac, "\x02\x00\x00\x00\x00\x01", 6) == 0);
  virtio_dev_destroy (net);
}

TEST (net_tx_frame_reaches_the_tap)
{
  if (!net_setup ())
    {
      printf ("SKIP: no /dev/net/tun or network namespaces here\n");
      return;
    }
  CHECK (driver_setup (net, &host, ~0ULL, vq, 2, 16, QGPA) == 15);
  int ps = packet_socket ();
  /* Header and frame in two descriptors, as Linux sends them. */
  memset (gpa_ptr (BUF), 0, 12);
  size_t len = make_frame (gpa_ptr (BUF + 0x100), "hello from the guest");
  uint64_t addr[] = { BUF, BUF + 0x100 };
  uint32_t lens[] = { 12, (uint32_t) len };
  fake_publish (&vq[1], fake_chain (&vq[1], 2, 2, addr, lens));
  driver_kick (1);
  run_kicks (net);
  CHECK (fake_used_idx (&vq[1]) == 1);
  uint8_t got[2048];
  ssize_t k = -1;
  for (int i = 0; i < 100 && k < 0; i++, usleep (10000))
    k = recv (ps, got, sizeof got, 0);
  CHECK (k == (ssize_t) len);
  CHECK (memcmp (got + 14, "hello from the guest", 20) == 0);
  close (ps);
}

static bool rx_has_frame (void *arg)
{
  return fake_used_idx (&vq[0]) >= 1;
}

TEST (net_rx_frame_reaches_the_guest)
{
  if (!net_setup ())
    {
      printf ("SKIP: no /dev/net/tun or network namespaces here\n");
      return;
    }
  CHECK (driver_setup (net, &host, ~0ULL, vq, 2, 16, QGPA) == 15);
  /* Turn off IPv6 on the tap so no autoconfiguration frame comes first. */
  FILE *f = fopen ("/proc/sys/net/ipv6/conf/vtap0/disable_ipv6", "w");
  if (f)
    {
      fputs ("1", f);
      fclose (f);
    }
  /* Eight rx buffers, each one writable descriptor of 2048 bytes. */
  for (int i = 0; i < 8; i++)
    {
      uint64_t addr[] = { BUF + 0x1000 * (uint64_t) i };
      uint32_t lens[] = { 2048 };
      memset (gpa_ptr (addr[0]), 0xcc, 16);
      fake_publish (&vq[0], fake_chain (&vq[0], 1, 0, addr, lens));
    }
  driver_kick (0);
  int ps = packet_socket ();
  uint8_t frame[64];
  size_t len = make_frame (frame, "hello from the host");
  struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = (int) if_nametoindex ("vtap0"), .sll_halen = 6 };
  memset (to.sll_addr, 0xff, 6);
  CHECK (sendto (ps, frame, len, 0, (struct sockaddr *) &to, sizeof to) == (ssize_t) len);
  CHECK (run_until (loop, rx_has_frame, NULL, 3000));
  uint32_t id, used;
  fake_used_elem (&vq[0], 0, &id, &used);
  CHECK (used == 12 + len);
  uint8_t *b = gpa_ptr (BUF + 0x1000 * (uint64_t) id);
  struct virtio_net_hdr_v1 h;
  memcpy (&h, b, sizeof h);
  CHECK (h.num_buffers == 1);
  CHECK (memcmp (b + 12 + 14, "hello from the host", 19) == 0);
  CHECK (host.irqs >= 1);
  close (ps);
}

TEST (net_bad_tap_names)
{
  fake_mem_init ();
  berth_err err = NULL;
  struct virtio_dev *d;
  struct vm_net cfg = { .iface_id = "eth0", .host_dev_name = "a-name-much-longer-than-ifnamsiz" };
  CHECK (virtio_net_create (&cfg, &fake_mem, NULL, &d, &err) < 0);
  CHECK_CONTAINS (err->msg, "invalid tap device name");
  berth_error_free (&err);
  cfg.host_dev_name = NULL;
  CHECK (virtio_net_create (&cfg, &fake_mem, NULL, &d, &err) < 0);
  berth_error_free (&err);
  /* a valid name no device has: refused, not created */
  cfg.host_dev_name = "nosuchtap0";
  CHECK (virtio_net_create (&cfg, &fake_mem, NULL, &d, &err) < 0);
  CHECK_CONTAINS (err->msg, "does not exist");
  berth_error_free (&err);
  CHECK (if_nametoindex ("nosuchtap0") == 0);
}

static bool tx_all_done (void *arg)
{
  return fake_used_idx (&vq[1]) >= 4;
}

TEST (net_tx_rate_limited)
{
  tx_limit = (struct vm_rate_limiter) { .ops = { .size = 1, .refill_time_ms = 100 } };
  if (!net_setup ())
    {
      printf ("SKIP: no /dev/net/tun or network namespaces here\n");
      return;
    }
  CHECK (driver_setup (net, &host, ~0ULL, vq, 2, 16, QGPA) == 15);
  memset (gpa_ptr (BUF), 0, 12);
  size_t len = make_frame (gpa_ptr (BUF + 0x100), "limited");
  for (int i = 0; i < 4; i++)
    {
      uint64_t addr[] = { BUF, BUF + 0x100 };
      uint32_t lens[] = { 12, (uint32_t) len };
      fake_publish (&vq[1], fake_chain (&vq[1], 2, 2, addr, lens));
    }
  struct timespec t0, t1;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  driver_kick (1);
  CHECK (run_until (loop, tx_all_done, NULL, 3000));
  clock_gettime (CLOCK_MONOTONIC, &t1);
  long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  CHECK (ms >= 250); /* one frame per 100 ms after the first */
}
