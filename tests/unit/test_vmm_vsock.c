/* virtio-vsock with Firecracker's Unix-socket host side: host-initiated
 * (CONNECT/OK) and guest-initiated (UDS_PATH_PORT) connections, data both
 * ways, credit flow control, shutdown and reset.  The device's event loop
 * runs in a thread; the test thread plays the guest driver (rings in fake
 * memory, kicks through the mmio register) and the host program. */
#include <linux/virtio_vsock.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "unit.h"
#include "vmm_driver.h"

#define QGPA (FAKE_GPA + 0x10000)
#define RXBUF (FAKE_GPA + 0x80000)
#define TXBUF (FAKE_GPA + 0xc0000)
#define GUEST_CID 3
#define NRX 16

static struct fake_host host;
static struct fake_vq vq[3];
static struct virtio_dev *vsock;
static struct evloop *loop;
static pthread_t loop_thread;
static char dir[64], uds[128];
static unsigned tx_slot;
static uint16_t rx_seen;

static void *run_loop (void *arg)
{
  evloop_run (loop);
  return NULL;
}

static void post_rx (unsigned i)
{
  uint64_t addr[] = { RXBUF + 0x1000ULL * (i % NRX) };
  uint32_t len[] = { 4096 };
  fake_publish (&vq[0], fake_chain (&vq[0], 1, 0, addr, len));
}

static void setup (bool post_buffers)
{
  fake_mem_init ();
  berth_err err = NULL;
  CHECK (evloop_new (&loop, &err) == 0);
  fake_host_init (&host, loop);
  strcpy (dir, "/tmp/berth-vsock-XXXXXX");
  CHECK (mkdtemp (dir) != NULL);
  snprintf (uds, sizeof uds, "%s/v.sock", dir);
  struct vm_vsock cfg = { .present = true, .vsock_id = "vsock0", .guest_cid = GUEST_CID, .uds_path = uds };
  CHECK (virtio_vsock_create (&cfg, &fake_mem, loop, &vsock, &err) == 0);
  CHECK (driver_setup (vsock, &host, ~0ULL, vq, 3, 32, QGPA) == 15);
  if (post_buffers)
    for (unsigned i = 0; i < NRX; i++)
      post_rx (i);
  tx_slot = 0;
  rx_seen = 0;
  CHECK (pthread_create (&loop_thread, NULL, run_loop, NULL) == 0);
  driver_kick (0);
}

static void teardown (void)
{
  char p[160];
  snprintf (p, sizeof p, "%s_5000", uds);
  unlink (p);
  unlink (uds);
  rmdir (dir);
}

static bool wait_for (bool (*pred) (void *), void *arg)
{
  for (int i = 0; i < 3000; i++)
    {
      if (pred (arg))
        return true;
      usleep (1000);
    }
  return false;
}

static bool rx_more (void *arg)
{
  return fake_used_idx (&vq[0]) != rx_seen;
}

/* The next packet the device put in the rx queue (waits for it). */
static struct virtio_vsock_hdr next_rx (char *payload, size_t max)
{
  CHECK (wait_for (rx_more, NULL));
  uint32_t id, len;
  fake_used_elem (&vq[0], rx_seen, &id, &len);
  rx_seen++;
  struct virtio_vsock_hdr h;
  uint8_t *b = gpa_ptr (RXBUF + 0x1000ULL * (id % NRX));
  memcpy (&h, b, sizeof h);
  CHECK (len == sizeof h + h.len);
  if (payload)
    {
      CHECK (h.len < max);
      memcpy (payload, b + sizeof h, h.len);
      payload[h.len] = '\0';
    }
  post_rx (rx_seen + NRX - 1); /* give the buffer back, as a driver does */
  driver_kick (0);
  return h;
}

/* Send a packet from the guest. */
static void guest_send (uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t flags, uint32_t buf_alloc,
                        uint32_t fwd_cnt, const char *data)
{
  struct virtio_vsock_hdr h = { .src_cid = GUEST_CID, .dst_cid = 2, .src_port = src_port, .dst_port = dst_port,
                                .len = data ? (uint32_t) strlen (data) : 0, .type = VIRTIO_VSOCK_TYPE_STREAM,
                                .op = op, .flags = flags, .buf_alloc = buf_alloc, .fwd_cnt = fwd_cnt };
  uint64_t base = TXBUF + 0x1000ULL * (tx_slot++ % 16);
  memcpy (gpa_ptr (base), &h, sizeof h);
  if (data)
    memcpy (gpa_ptr (base + 0x100), data, h.len);
  uint64_t addr[] = { base, base + 0x100 };
  uint32_t len[] = { sizeof h, h.len };
  fake_publish (&vq[1], fake_chain (&vq[1], data ? 2 : 1, 2, addr, len));
  driver_kick (1);
}

static int unix_connect (const char *path)
{
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  strcpy (sa.sun_path, path);
  CHECK (connect (fd, (struct sockaddr *) &sa, sizeof sa) == 0);
  struct timeval tv = { .tv_sec = 3 };
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

static ssize_t read_some (int fd, char *buf, size_t max)
{
  ssize_t k = read (fd, buf, max - 1);
  if (k >= 0)
    buf[k] = '\0';
  return k;
}

TEST (vsock_host_connects_to_guest)
{
  setup (true);
  int fd = unix_connect (uds);
  CHECK (write (fd, "CONNECT 1234\n", 13) == 13);
  struct virtio_vsock_hdr h = next_rx (NULL, 0);
  CHECK (h.op == VIRTIO_VSOCK_OP_REQUEST && h.src_cid == 2 && h.dst_cid == GUEST_CID && h.dst_port == 1234);
  CHECK (h.src_port >= (1u << 30) && h.type == VIRTIO_VSOCK_TYPE_STREAM);
  uint32_t hp = h.src_port;
  guest_send (1234, hp, VIRTIO_VSOCK_OP_RESPONSE, 0, 65536, 0, NULL);
  char line[64];
  CHECK (read_some (fd, line, sizeof line) > 0);
  char want[32];
  snprintf (want, sizeof want, "OK %u\n", hp);
  CHECK_STR (line, want);
  /* host -> guest */
  CHECK (write (fd, "ping", 4) == 4);
  char data[64];
  h = next_rx (data, sizeof data);
  CHECK (h.op == VIRTIO_VSOCK_OP_RW && h.src_port == hp && h.dst_port == 1234);
  CHECK_STR (data, "ping");
  /* guest -> host */
  guest_send (1234, hp, VIRTIO_VSOCK_OP_RW, 0, 65536, 4, "pong");
  CHECK (read_some (fd, line, sizeof line) == 4);
  CHECK_STR (line, "pong");
  /* The host closes: the guest is told, answers RST. */
  close (fd);
  h = next_rx (NULL, 0);
  CHECK (h.op == VIRTIO_VSOCK_OP_SHUTDOWN && h.flags == 3);
  guest_send (1234, hp, VIRTIO_VSOCK_OP_RST, 0, 65536, 4, NULL);
  /* Data for the closed connection is answered with RST. */
  guest_send (1234, hp, VIRTIO_VSOCK_OP_RW, 0, 65536, 4, "late");
  h = next_rx (NULL, 0);
  CHECK (h.op == VIRTIO_VSOCK_OP_RST && h.src_port == hp);
  teardown ();
}

TEST (vsock_guest_connects_to_host)
{
  setup (true);
  char path[160];
  snprintf (path, sizeof path, "%s_5000", uds);
  int l = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  strcpy (sa.sun_path, path);
  CHECK (bind (l, (struct sockaddr *) &sa, sizeof sa) == 0 && listen (l, 4) == 0);
  guest_send (777, 5000, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0, NULL);
  struct virtio_vsock_hdr h = next_rx (NULL, 0);
  CHECK (h.op == VIRTIO_VSOCK_OP_RESPONSE && h.src_port == 5000 && h.dst_port == 777);
  int fd = accept (l, NULL, NULL);
  CHECK (fd >= 0);
  struct timeval tv = { .tv_sec = 3 };
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  guest_send (777, 5000, VIRTIO_VSOCK_OP_RW, 0, 65536, 0, "hello host");
  char buf[64];
  CHECK (read_some (fd, buf, sizeof buf) == 10);
  CHECK_STR (buf, "hello host");
  CHECK (write (fd, "hello guest", 11) == 11);
  h = next_rx (buf, sizeof buf);
  CHECK (h.op == VIRTIO_VSOCK_OP_RW);
  CHECK_STR (buf, "hello guest");
  /* The guest closes both ways: RST back, the host sees EOF. */
  guest_send (777, 5000, VIRTIO_VSOCK_OP_SHUTDOWN, 3, 65536, 0, NULL);
  h = next_rx (NULL, 0);
  CHECK (h.op == VIRTIO_VSOCK_OP_RST);
  CHECK (read_some (fd, buf, sizeof buf) == 0);
  /* Nobody listens on port 6000: RST. */
  guest_send (778, 6000, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0, NULL);
  h = next_rx (NULL, 0);
  CHECK (h.op == VIRTIO_VSOCK_OP_RST && h.src_port == 6000 && h.dst_port == 778);
  teardown ();
}

TEST (vsock_credit_limits_host_to_guest)
{
  setup (true);
  int fd = unix_connect (uds);
  CHECK (write (fd, "CONNECT 9\n", 10) == 10);
  struct virtio_vsock_hdr h = next_rx (NULL, 0);
  uint32_t hp = h.src_port;
  /* The guest has room for 8 bytes only. */
  guest_send (9, hp, VIRTIO_VSOCK_OP_RESPONSE, 0, 8, 0, NULL);
  char line[64];
  CHECK (read_some (fd, line, sizeof line) > 0);
  CHECK (write (fd, "0123456789abcdef", 16) == 16);
  char data[64];
  h = next_rx (data, sizeof data);
  CHECK (h.op == VIRTIO_VSOCK_OP_RW && h.len == 8);
  CHECK_STR (data, "01234567");
  usleep (50000);
  CHECK (fake_used_idx (&vq[0]) == rx_seen); /* nothing more without credit */
  guest_send (9, hp, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 8, 8, NULL);
  h = next_rx (data, sizeof data);
  CHECK (h.len == 8);
  CHECK_STR (data, "89abcdef");
  /* A credit request is answered with our credit. */
  guest_send (9, hp, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, 8, 16, NULL);
  h = next_rx (NULL, 0);
  CHECK (h.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE && h.buf_alloc > 0);
  teardown ();
}

TEST (vsock_control_packets_wait_for_rx_buffers)
{
  setup (false);
  int fd = unix_connect (uds);
  CHECK (write (fd, "CONNECT 42\n", 11) == 11);
  usleep (50000);
  CHECK (fake_used_idx (&vq[0]) == 0);
  for (unsigned i = 0; i < NRX; i++)
    post_rx (i);
  driver_kick (0);
  struct virtio_vsock_hdr h = next_rx (NULL, 0);
  CHECK (h.op == VIRTIO_VSOCK_OP_REQUEST && h.dst_port == 42);
  teardown ();
}

TEST (vsock_bad_host_lines)
{
  setup (true);
  int fd = unix_connect (uds);
  CHECK (write (fd, "HELLO\n", 6) == 6);
  char b[8];
  CHECK (read (fd, b, sizeof b) == 0); /* closed on us */
  fd = unix_connect (uds);
  CHECK (write (fd, "CONNECT 123456789012345678901234567890", 38) == 38);
  CHECK (read (fd, b, sizeof b) <= 0); /* EOF, or a reset for the unread bytes */
  CHECK (fake_used_idx (&vq[0]) == 0); /* the guest never heard of them */
  teardown ();
}

TEST (vsock_bad_config)
{
  fake_mem_init ();
  berth_err err = NULL;
  struct evloop *l;
  CHECK (evloop_new (&l, &err) == 0);
  struct virtio_dev *d;
  struct vm_vsock cfg = { .present = true, .guest_cid = 2, .uds_path = "/tmp/x.sock" };
  CHECK (virtio_vsock_create (&cfg, &fake_mem, l, &d, &err) < 0);
  berth_error_free (&err);
  cfg.guest_cid = 3;
  cfg.uds_path = "/nonexistent-dir/v.sock";
  CHECK (virtio_vsock_create (&cfg, &fake_mem, l, &d, &err) < 0);
  CHECK_CONTAINS (err->msg, "/nonexistent-dir/v.sock");
  berth_error_free (&err);
}
