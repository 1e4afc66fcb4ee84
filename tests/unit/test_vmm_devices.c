/* virtio-mmio transport and the blk, rng and balloon devices, driven by a
 * fake driver through the transport's registers and rings in fake guest
 * memory; the rate limiter on a real event loop. */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_blk.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "unit.h"
#include "vmm/virtio/rate-limiter.h"
#include "vmm_driver.h"

#define QGPA (FAKE_GPA + 0x10000)
#define BUF (FAKE_GPA + 0x40000)
#define F(bit) (1ULL << (bit))

static struct fake_host host;
static struct fake_vq vq[3];

/* ---- transport: register sequences ---- */

static int probe_count;
static void null_notify (struct virtio_dev *d, uint16_t q)
{
  probe_count++;
}
static uint8_t cfg_bytes[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static void cfg_read (struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
  memcpy (data, cfg_bytes + off, len);
}
static void cfg_write (struct virtio_dev *d, uint32_t off, const void *data, uint32_t len)
{
  memcpy (cfg_bytes + off, data, len);
}
static int resets, activations;
static void count_reset (struct virtio_dev *d)
{
  resets++;
}
static int count_activate (struct virtio_dev *d)
{
  activations++;
  return 0;
}
static const struct virtio_dev_ops test_ops = {
  .name = "test", .device_id = 42, .num_queues = 2, .queue_size = 16,
  .features = F (VIRTIO_F_VERSION_1) | F (VIRTIO_RING_F_EVENT_IDX) | F (3),
  .config_size = 8, .config_read = cfg_read, .config_write = cfg_write,
  .activate = count_activate, .reset = count_reset, .queue_notify = null_notify,
};

static struct virtio_dev tdev;

TEST (mmio_identity_registers)
{
  fake_mem_init ();
  fake_host_init (&host, NULL);
  virtio_dev_init (&tdev, &test_ops, &fake_mem, NULL, "t");
  bus_init (&test_mmio, "mmio");
  berth_err err = NULL;
  char *arg = NULL;
  CHECK (virtio_mmio_attach (&tdev, &host.h, &test_mmio, MMIO_BASE, 7, &arg, &err) == 0);
  CHECK_STR (arg, "virtio_mmio.device=4K@0xd0000000:7");
  free (arg);
  CHECK (mmio_rd (0x0) == 0x74726976);
  CHECK (mmio_rd (0x4) == 2);
  CHECK (mmio_rd (0x8) == 42);
  CHECK (mmio_features () == test_ops.features);
  mmio_wr (0x14, 2);
  CHECK (mmio_rd (0x10) == 0);
  /* Queue registers: max per queue, 0 beyond the device's queues. */
  mmio_wr (0x30, 1);
  CHECK (mmio_rd (0x34) == 16);
  mmio_wr (0x30, 2);
  CHECK (mmio_rd (0x34) == 0);
  mmio_wr (0x30, 0xffffffff);
  CHECK (mmio_rd (0x34) == 0);
  mmio_wr (0x38, 8); /* no queue selected: ignored, no crash */
  mmio_wr (0x44, 1);
  CHECK (mmio_rd (0x44) == 0);
  /* Narrow or misaligned register accesses read 0 and write nothing. */
  uint8_t b[2];
  bus_access (&test_mmio, MMIO_BASE, b, 2, false);
  CHECK (b[0] == 0 && b[1] == 0);
  /* The config window, in and out of range. */
  uint8_t c[4];
  bus_access (&test_mmio, MMIO_BASE + 0x102, c, 4, false);
  CHECK (c[0] == 3 && c[3] == 6);
  bus_access (&test_mmio, MMIO_BASE + 0x106, c, 4, false); /* straddles the end */
  CHECK (c[0] == 0 && c[1] == 0);
  bus_access (&test_mmio, MMIO_BASE + 0xfff, c, 1, false);
  CHECK (c[0] == 0);
  c[0] = 0x55;
  bus_access (&test_mmio, MMIO_BASE + 0x107, c, 2, true); /* out of range: dropped */
  CHECK (cfg_bytes[7] == 8);
  bus_access (&test_mmio, MMIO_BASE + 0x107, c, 1, true);
  CHECK (cfg_bytes[7] == 0x55);
  virtio_transport_detach (&tdev);
  CHECK (tdev.transport == NULL && tdev.vq[0].kick_fd == -1);
}

TEST (mmio_feature_negotiation)
{
  fake_mem_init ();
  fake_host_init (&host, NULL);
  virtio_dev_init (&tdev, &test_ops, &fake_mem, NULL, "t");
  /* A driver without VERSION_1 is refused: FEATURES_OK does not stick. */
  CHECK ((driver_setup (&tdev, &host, F (3), vq, 2, 16, QGPA) & 8) == 0);
  virtio_transport_detach (&tdev);
  /* A feature the device does not offer is refused too. */
  virtio_dev_init (&tdev, &test_ops, &fake_mem, NULL, "t");
  bus_init (&test_mmio, "mmio");
  berth_err err = NULL;
  CHECK (virtio_mmio_attach (&tdev, &host.h, &test_mmio, MMIO_BASE, 5, NULL, &err) == 0);
  mmio_wr (0x70, 3);
  mmio_wr (0x24, 0);
  mmio_wr (0x20, 1u << 5);
  mmio_wr (0x24, 1);
  mmio_wr (0x20, 1);
  mmio_wr (0x70, 3 | 8);
  CHECK ((mmio_rd (0x70) & 8) == 0);
  /* DRIVER_OK without FEATURES_OK: FAILED, never activated. */
  mmio_wr (0x70, 3 | 4);
  CHECK (mmio_rd (0x70) & VIRTIO_STATUS_FAILED);
  CHECK (activations == 0);
  virtio_transport_detach (&tdev);
  /* The good path. */
  virtio_dev_init (&tdev, &test_ops, &fake_mem, NULL, "t");
  CHECK (driver_setup (&tdev, &host, ~0ULL, vq, 2, 16, QGPA) == 15);
  CHECK (activations == 1);
  CHECK (tdev.driver_features == test_ops.features);
  CHECK (tdev.vq[0].event_idx && !tdev.vq[0].indirect_desc);
  /* Features are frozen after FEATURES_OK. */
  mmio_wr (0x24, 0);
  mmio_wr (0x20, 0);
  CHECK (tdev.driver_features == test_ops.features);
  /* Queue set-up is frozen while running. */
  mmio_wr (0x30, 0);
  mmio_wr (0x38, 4);
  mmio_wr (0x80, 0x1234);
  CHECK (tdev.vq[0].size == 16 && tdev.vq[0].desc_gpa == vq[0].desc);
}

TEST (mmio_kick_interrupt_and_reset)
{
  fake_mem_init ();
  fake_host_init (&host, NULL);
  virtio_dev_init (&tdev, &test_ops, &fake_mem, NULL, "t");
  CHECK (driver_setup (&tdev, &host, ~0ULL, vq, 2, 16, QGPA) == 15);
  int before = probe_count, resets0 = resets;
  run_kicks (&tdev); /* DRIVER_OK runs each queue once */
  CHECK (probe_count == before + 2);
  driver_kick (1);
  driver_kick (7); /* no such queue: ignored */
  run_kicks (&tdev);
  CHECK (probe_count == before + 3);
  /* A used buffer raises the line and sets bit 0 of InterruptStatus. */
  uint64_t addr[] = { BUF };
  uint32_t len[] = { 8 };
  fake_publish (&vq[0], fake_chain (&vq[0], 1, 0, addr, len));
  struct virtq_chain c;
  CHECK (virtq_pop (&tdev.vq[0], &fake_mem, &c) == 1);
  virtio_complete (&tdev, 0, c.head, 8);
  CHECK (host.irqs == 1 && host.last_gsi == 5);
  CHECK (mmio_rd (0x60) == 1);
  virtio_config_changed (&tdev);
  CHECK (mmio_rd (0x60) == 3 && mmio_rd (0xfc) == 1);
  mmio_wr (0x64, 1);
  CHECK (mmio_rd (0x60) == 2);
  /* Reset: status 0, queues forgotten, device told. */
  mmio_wr (0x70, 0);
  CHECK (resets == resets0 + 1);
  CHECK (mmio_rd (0x70) == 0 && mmio_rd (0x60) == 0);
  mmio_wr (0x30, 0);
  CHECK (mmio_rd (0x44) == 0 && tdev.vq[0].desc_gpa == 0 && tdev.vq[0].kick_fd >= 0);
  /* Kicks after reset do not reach the device. */
  driver_kick (0);
  before = probe_count;
  run_kicks (&tdev);
  CHECK (probe_count == before);
  /* And it can be brought up again. */
  CHECK (driver_init (vq, 2, 16, QGPA, ~0ULL) == 15);
  CHECK (activations >= 2);
}

/* ---- virtio-blk ---- */

static char disk_path[64];
static struct virtio_dev *blk;

static void make_disk (size_t size, bool read_only, const struct vm_rate_limiter *rl)
{
  fake_mem_init ();
  fake_host_init (&host, NULL);
  strcpy (disk_path, "/tmp/berth-vblk-XXXXXX");
  int fd = mkstemp (disk_path);
  CHECK (fd >= 0);
  uint8_t *pattern = malloc (size);
  for (size_t i = 0; i < size; i++)
    pattern[i] = (uint8_t) (i / 512 + i);
  CHECK (write (fd, pattern, size) == (ssize_t) size);
  free (pattern);
  close (fd);
  struct vm_drive cfg = { .drive_id = "rootfs-drive-id-longer-than-20", .path_on_host = disk_path,
                          .is_read_only = read_only };
  if (rl)
    cfg.rate_limiter = *rl;
  berth_err err = NULL;
  CHECK (virtio_blk_create (&cfg, &fake_mem, NULL, &blk, &err) == 0);
  CHECK (driver_setup (blk, &host, ~0ULL, vq, 1, 16, QGPA) == 15);
  run_kicks (blk);
}

/* Submit one request: header at BUF, data at BUF+0x1000 (LEN bytes, in
 * or out), status at BUF+0x800. */
static uint8_t blk_request (uint32_t type, uint64_t sector, uint32_t len, uint32_t *used_len)
{
  struct virtio_blk_outhdr h = { .type = type, .sector = sector };
  memcpy (gpa_ptr (BUF), &h, sizeof h);
  *(uint8_t *) gpa_ptr (BUF + 0x800) = 0xee;
  bool data_in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
  uint64_t addr[] = { BUF, BUF + 0x1000, BUF + 0x800 };
  uint32_t lens[] = { sizeof h, len, 1 };
  uint16_t head;
  if (len == 0)
    {
      uint64_t a2[] = { BUF, BUF + 0x800 };
      uint32_t l2[] = { sizeof h, 1 };
      head = fake_chain (&vq[0], 2, 1, a2, l2);
    }
  else
    head = fake_chain (&vq[0], 3, data_in ? 1 : 2, addr, lens);
  uint16_t used = fake_used_idx (&vq[0]);
  fake_publish (&vq[0], head);
  driver_kick (0);
  run_kicks (blk);
  CHECK (fake_used_idx (&vq[0]) == (uint16_t) (used + 1));
  uint32_t id;
  fake_used_elem (&vq[0], used, &id, used_len);
  CHECK (id == head);
  return *(uint8_t *) gpa_ptr (BUF + 0x800);
}

TEST (blk_read_write_flush_get_id)
{
  make_disk (64 * 512, false, NULL);
  uint8_t cap[8];
  bus_access (&test_mmio, MMIO_BASE + 0x100, cap, 8, false);
  CHECK (cap[0] == 64 && cap[1] == 0);
  CHECK (!(mmio_features () & F (VIRTIO_BLK_F_RO)));
  uint32_t used;
  /* Read sectors 3..4. */
  CHECK (blk_request (VIRTIO_BLK_T_IN, 3, 1024, &used) == VIRTIO_BLK_S_OK);
  CHECK (used == 1025);
  uint8_t *data = gpa_ptr (BUF + 0x1000);
  CHECK (data[0] == (uint8_t) (3 + 3 * 512) && data[600] == (uint8_t) (4 + 3 * 512 + 600));
  /* Write sector 10, read it back through the file and the device. */
  memset (data, 0xab, 512);
  CHECK (blk_request (VIRTIO_BLK_T_OUT, 10, 512, &used) == VIRTIO_BLK_S_OK);
  CHECK (used == 1);
  int fd = open (disk_path, O_RDONLY);
  uint8_t sec[512];
  CHECK (pread (fd, sec, 512, 10 * 512) == 512);
  close (fd);
  CHECK (sec[0] == 0xab && sec[511] == 0xab);
  memset (data, 0, 512);
  CHECK (blk_request (VIRTIO_BLK_T_IN, 10, 512, &used) == VIRTIO_BLK_S_OK);
  CHECK (data[0] == 0xab && data[511] == 0xab);
  CHECK (blk_request (VIRTIO_BLK_T_FLUSH, 0, 0, &used) == VIRTIO_BLK_S_OK);
  CHECK (blk_request (VIRTIO_BLK_T_GET_ID, 0, 20, &used) == VIRTIO_BLK_S_OK);
  CHECK (used == 21 && memcmp (data, "rootfs-drive-id-long", 20) == 0);
  CHECK (blk_request (99, 0, 0, &used) == VIRTIO_BLK_S_UNSUPP);
  unlink (disk_path);
  virtio_dev_destroy (blk);
}

TEST (blk_sector_bounds)
{
  make_disk (64 * 512, false, NULL);
  uint32_t used;
  CHECK (blk_request (VIRTIO_BLK_T_IN, 63, 512, &used) == VIRTIO_BLK_S_OK);
  CHECK (blk_request (VIRTIO_BLK_T_IN, 63, 1024, &used) == VIRTIO_BLK_S_IOERR);
  CHECK (blk_request (VIRTIO_BLK_T_IN, 64, 512, &used) == VIRTIO_BLK_S_IOERR);
  CHECK (blk_request (VIRTIO_BLK_T_OUT, 0xffffffffffffffffULL, 512, &used) == VIRTIO_BLK_S_IOERR);
  CHECK (blk_request (VIRTIO_BLK_T_IN, 0x7fffffffffffffffULL, 512, &used) == VIRTIO_BLK_S_IOERR);
  CHECK (blk_request (VIRTIO_BLK_T_IN, 0, 100, &used) == VIRTIO_BLK_S_IOERR); /* not whole sectors */
  struct stat st;
  CHECK (stat (disk_path, &st) == 0 && st.st_size == 64 * 512); /* never grew */
  unlink (disk_path);
}

TEST (blk_read_only)
{
  make_disk (8 * 512, true, NULL);
  CHECK (mmio_features () & F (VIRTIO_BLK_F_RO));
  uint32_t used;
  memset (gpa_ptr (BUF + 0x1000), 0x11, 512);
  CHECK (blk_request (VIRTIO_BLK_T_OUT, 1, 512, &used) == VIRTIO_BLK_S_IOERR);
  CHECK (blk_request (VIRTIO_BLK_T_FLUSH, 0, 0, &used) == VIRTIO_BLK_S_OK);
  CHECK (blk_request (VIRTIO_BLK_T_IN, 1, 512, &used) == VIRTIO_BLK_S_OK);
  CHECK (*(uint8_t *) gpa_ptr (BUF + 0x1000) == (uint8_t) (1 + 512));
  unlink (disk_path);
}

TEST (blk_malformed_request_fails_device)
{
  make_disk (8 * 512, false, NULL);
  /* A header shorter than 16 bytes and no status byte. */
  uint64_t addr[] = { BUF };
  uint32_t len[] = { 8 };
  fake_publish (&vq[0], fake_chain (&vq[0], 1, 1, addr, len));
  driver_kick (0);
  run_kicks (blk);
  CHECK (mmio_rd (0x70) & VIRTIO_STATUS_NEEDS_RESET);
  CHECK (mmio_rd (0x60) & 2);
  /* Reset recovers. */
  mmio_wr (0x70, 0);
  CHECK (driver_init (vq, 1, 16, QGPA, ~0ULL) == 15);
  run_kicks (blk);
  uint32_t used;
  CHECK (blk_request (VIRTIO_BLK_T_IN, 1, 512, &used) == VIRTIO_BLK_S_OK);
  unlink (disk_path);
}

TEST (blk_open_errors)
{
  fake_mem_init ();
  berth_err err = NULL;
  struct virtio_dev *d;
  struct vm_drive cfg = { .drive_id = "d", .path_on_host = "/nonexistent/disk.img" };
  CHECK (virtio_blk_create (&cfg, &fake_mem, NULL, &d, &err) < 0);
  CHECK_CONTAINS (err->msg, "/nonexistent/disk.img");
  berth_error_free (&err);
  cfg.path_on_host = "/dev/null"; /* a character device */
  CHECK (virtio_blk_create (&cfg, &fake_mem, NULL, &d, &err) < 0);
  CHECK_CONTAINS (err->msg, "not a regular file");
  berth_error_free (&err);
}

/* ---- rate limiter ---- */

static uint64_t ms_since (const struct timespec *t0)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (uint64_t) ((t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000);
}

static void stop_loop (void *opaque, uint32_t ev)
{
  evloop_stop (opaque);
}

TEST (rate_limiter_throttles)
{
  struct evloop *loop;
  berth_err err = NULL;
  CHECK (evloop_new (&loop, &err) == 0);
  struct vm_rate_limiter cfg = { .bandwidth = { .size = 1000, .refill_time_ms = 200, .one_time_burst = 500 } };
  struct rate_limiter rl;
  rate_limiter_init (&rl, &cfg, loop, stop_loop, loop);
  CHECK (rate_limiter_consume (&rl, 1500, 1)); /* burst + bucket */
  CHECK (!rate_limiter_consume (&rl, 500, 1));
  struct timespec t0;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  CHECK (rate_limiter_block (&rl, 500, 1) == 0);
  CHECK (rate_limiter_blocked (&rl));
  CHECK (!rate_limiter_consume (&rl, 1, 0)); /* blocked: nothing passes */
  evloop_run (loop);
  uint64_t ms = ms_since (&t0);
  CHECK (ms >= 90 && ms < 1000); /* 500 tokens at 1000 per 200 ms */
  CHECK (!rate_limiter_blocked (&rl));
  CHECK (rate_limiter_consume (&rl, 500, 1));
  /* Bigger than the bucket: allowed when full, never starved. */
  struct vm_rate_limiter cfg2 = { .ops = { .size = 2, .refill_time_ms = 50 } };
  rate_limiter_init (&rl, &cfg2, NULL, NULL, NULL);
  CHECK (rate_limiter_consume (&rl, 1 << 30, 5));
  CHECK (!rate_limiter_consume (&rl, 0, 1));
  usleep (60000);
  CHECK (rate_limiter_consume (&rl, 0, 2));
  /* Unlimited. */
  struct vm_rate_limiter none = { 0 };
  rate_limiter_init (&rl, &none, NULL, NULL, NULL);
  for (int i = 0; i < 1000; i++)
    CHECK (rate_limiter_consume (&rl, 1ULL << 40, 1000));
  evloop_free (loop);
}

struct blk_wait {
  unsigned want;
};
static bool used_reached (void *arg)
{
  return fake_used_idx (&vq[0]) >= ((struct blk_wait *) arg)->want;
}

TEST (blk_rate_limited_by_ops)
{
  fake_mem_init ();
  struct evloop *loop;
  berth_err err = NULL;
  CHECK (evloop_new (&loop, &err) == 0);
  fake_host_init (&host, loop);
  strcpy (disk_path, "/tmp/berth-vblk-XXXXXX");
  int fd = mkstemp (disk_path);
  CHECK (fd >= 0 && ftruncate (fd, 64 * 512) == 0);
  close (fd);
  struct vm_drive cfg = { .drive_id = "d", .path_on_host = disk_path,
                          .rate_limiter = { .ops = { .size = 2, .refill_time_ms = 100 } } };
  CHECK (virtio_blk_create (&cfg, &fake_mem, loop, &blk, &err) == 0);
  CHECK (driver_setup (blk, &host, ~0ULL, vq, 1, 32, QGPA) == 15);
  /* Six reads of one sector, each its own chain. */
  for (int i = 0; i < 6; i++)
    {
      struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_IN, .sector = (uint64_t) i };
      memcpy (gpa_ptr (BUF + 0x40 * i), &h, sizeof h);
      uint64_t addr[] = { BUF + 0x40 * i, BUF + 0x1000 + 0x200 * i, BUF + 0x800 + i };
      uint32_t len[] = { 16, 512, 1 };
      fake_publish (&vq[0], fake_chain (&vq[0], 3, 1, addr, len));
    }
  driver_kick (0);
  struct timespec t0;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  struct blk_wait w = { 6 };
  bool ok = run_until (loop, used_reached, &w, 3000);
  if (!ok)
    printf ("  used %u status %x\n", fake_used_idx (&vq[0]), blk->status);
  CHECK (ok);
  /* 2 at once, then 2 per 100 ms: at least ~200 ms for the other four. */
  CHECK (ms_since (&t0) >= 150);
  unlink (disk_path);
}

/* ---- virtio-rng ---- */

TEST (rng_fills_buffers)
{
  fake_mem_init ();
  fake_host_init (&host, NULL);
  struct virtio_dev *rng;
  berth_err err = NULL;
  CHECK (virtio_rng_create (&fake_mem, NULL, &rng, &err) == 0);
  CHECK (driver_setup (rng, &host, ~0ULL, vq, 1, 16, QGPA) == 15);
  memset (gpa_ptr (BUF), 0, 256);
  uint64_t addr[] = { BUF, BUF + 128 };
  uint32_t len[] = { 128, 128 };
  fake_publish (&vq[0], fake_chain (&vq[0], 2, 0, addr, len));
  driver_kick (0);
  run_kicks (rng);
  CHECK (fake_used_idx (&vq[0]) == 1);
  uint32_t id, used;
  fake_used_elem (&vq[0], 0, &id, &used);
  CHECK (used == 256);
  int zeros = 0;
  for (int i = 0; i < 256; i++)
    zeros += ((uint8_t *) gpa_ptr (BUF))[i] == 0;
  CHECK (zeros < 16);
  /* A device-readable buffer is never written. */
  memset (gpa_ptr (BUF), 0x5a, 64);
  uint64_t a2[] = { BUF };
  uint32_t l2[] = { 64 };
  fake_publish (&vq[0], fake_chain (&vq[0], 1, 1, a2, l2));
  driver_kick (0);
  run_kicks (rng);
  fake_used_elem (&vq[0], 1, &id, &used);
  CHECK (used == 0 && ((uint8_t *) gpa_ptr (BUF))[10] == 0x5a);
  virtio_dev_destroy (rng);
}

/* ---- virtio-balloon ---- */

static struct virtio_dev *balloon;

static void balloon_setup (uint32_t stats_s, bool doom)
{
  fake_mem_init ();
  fake_host_init (&host, NULL);
  struct vm_balloon cfg = { .present = true, .amount_mib = 1, .deflate_on_oom = doom,
                            .stats_polling_interval_s = stats_s };
  berth_err err = NULL;
  CHECK (virtio_balloon_create (&cfg, &fake_mem, NULL, &balloon, &err) == 0);
  CHECK (driver_setup (balloon, &host, ~0ULL, vq, stats_s ? 3 : 2, 16, QGPA) == 15);
  run_kicks (balloon);
}

TEST (balloon_inflate_discards_pages)
{
  balloon_setup (0, true);
  CHECK (mmio_features () & F (VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
  CHECK (!(mmio_features () & F (VIRTIO_BALLOON_F_STATS_VQ)));
  uint8_t c[4];
  bus_access (&test_mmio, MMIO_BASE + 0x100, c, 4, false);
  CHECK (c[0] == 0 && c[1] == 1); /* num_pages 256 */
  /* Two guest pages full of data given to the balloon, plus hostile PFNs
   * outside guest RAM, which are ignored. */
  uint64_t p1 = FAKE_GPA + 0x200000, p2 = FAKE_GPA + 0x300000;
  memset (gpa_ptr (p1), 0x77, 4096);
  memset (gpa_ptr (p2), 0x77, 4096);
  memset (gpa_ptr (p2 + 4096), 0x66, 4096);
  uint32_t pfns[] = { (uint32_t) (p1 >> 12), (uint32_t) (p2 >> 12), 0, 0xffffffff, (uint32_t) ((FAKE_GPA + FAKE_SIZE) >> 12) };
  memcpy (gpa_ptr (BUF), pfns, sizeof pfns);
  uint64_t addr[] = { BUF };
  uint32_t len[] = { sizeof pfns };
  fake_publish (&vq[0], fake_chain (&vq[0], 1, 1, addr, len));
  driver_kick (0);
  run_kicks (balloon);
  CHECK (fake_used_idx (&vq[0]) == 1);
  uint8_t *a = gpa_ptr (p1), *b = gpa_ptr (p2);
  unsigned char vec;
  CHECK (mincore (a, 4096, &vec) == 0 && (vec & 1) == 0); /* not resident any more */
  CHECK (a[0] == 0 && a[4095] == 0 && b[100] == 0);
  CHECK (b[4096] == 0x66); /* the neighbour page is untouched */
  /* The driver reports the pages in "actual"; deflate gives them back. */
  uint8_t two[4] = { 2, 0, 0, 0 };
  bus_access (&test_mmio, MMIO_BASE + 0x104, two, 4, true);
  bus_access (&test_mmio, MMIO_BASE + 0x104, c, 4, false);
  CHECK (c[0] == 2);
  fake_publish (&vq[1], fake_chain (&vq[1], 1, 1, addr, len));
  driver_kick (1);
  run_kicks (balloon);
  CHECK (fake_used_idx (&vq[1]) == 1);
}

TEST (balloon_target_and_stats)
{
  balloon_setup (1, false);
  berth_err err = NULL;
  unsigned irqs = host.irqs;
  CHECK (virtio_balloon_set_target (balloon, 2, &err) == 0);
  CHECK (host.irqs == irqs + 1 && (mmio_rd (0x60) & 2));
  uint8_t c[4];
  bus_access (&test_mmio, MMIO_BASE + 0x100, c, 4, false);
  CHECK (c[0] == 0 && c[1] == 2);
  CHECK (virtio_balloon_set_target (balloon, 1u << 30, &err) < 0);
  berth_error_free (&err);
  /* The driver's statistics buffer: tag/value pairs. */
  uint8_t raw[30];
  uint16_t tags[] = { 4, 5, 6 };
  uint64_t vals[] = { 1000, 4096, 2000 };
  for (int i = 0; i < 3; i++)
    {
      memcpy (raw + 10 * i, &tags[i], 2);
      memcpy (raw + 10 * i + 2, &vals[i], 8);
    }
  memcpy (gpa_ptr (BUF), raw, sizeof raw);
  uint64_t addr[] = { BUF };
  uint32_t len[] = { sizeof raw };
  fake_publish (&vq[2], fake_chain (&vq[2], 1, 1, addr, len));
  driver_kick (2);
  run_kicks (balloon);
  CHECK (fake_used_idx (&vq[2]) == 0); /* held until the next poll */
  json_t *j;
  CHECK (virtio_balloon_stats (balloon, &j, &err) == 0);
  CHECK (json_integer_value (json_object_get (j, "target_pages")) == 512);
  CHECK (json_integer_value (json_object_get (j, "target_mib")) == 2);
  CHECK (json_integer_value (json_object_get (j, "free_memory")) == 1000);
  CHECK (json_integer_value (json_object_get (j, "total_memory")) == 4096);
  CHECK (json_integer_value (json_object_get (j, "available_memory")) == 2000);
  CHECK (json_object_get (j, "swap_in") == NULL);
  json_decref (j);
  CHECK (virtio_balloon_set_stats_interval (balloon, 0, &err) < 0);
  berth_error_free (&err);
}

TEST (balloon_stats_disabled)
{
  balloon_setup (0, false);
  berth_err err = NULL;
  json_t *j;
  CHECK (virtio_balloon_stats (balloon, &j, &err) < 0);
  CHECK_CONTAINS (err->msg, "not enabled");
  berth_error_free (&err);
  CHECK (virtio_balloon_set_stats_interval (balloon, 5, &err) < 0);
  berth_error_free (&err);
}

static bool stats_returned (void *arg)
{
  return fake_used_idx (&vq[2]) == 1;
}

TEST (balloon_stats_polled_by_timer)
{
  fake_mem_init ();
  struct evloop *loop;
  berth_err err = NULL;
  CHECK (evloop_new (&loop, &err) == 0);
  fake_host_init (&host, loop);
  struct vm_balloon cfg = { .present = true, .stats_polling_interval_s = 1 };
  CHECK (virtio_balloon_create (&cfg, &fake_mem, loop, &balloon, &err) == 0);
  CHECK (driver_setup (balloon, &host, ~0ULL, vq, 3, 16, QGPA) == 15);
  uint64_t addr[] = { BUF };
  uint32_t len[] = { 10 };
  memset (gpa_ptr (BUF), 0, 10);
  fake_publish (&vq[2], fake_chain (&vq[2], 1, 1, addr, len));
  driver_kick (2);
  CHECK (run_until (loop, stats_returned, NULL, 3000));
}

/* ---- virtio-console ---- */

static int pipe_in[2], pipe_out[2];
static bool console_rx_done (void *arg)
{
  return fake_used_idx (&vq[0]) >= 1;
}

TEST (console_both_ways)
{
  fake_mem_init ();
  struct evloop *loop;
  berth_err err = NULL;
  CHECK (evloop_new (&loop, &err) == 0);
  fake_host_init (&host, loop);
  CHECK (pipe (pipe_in) == 0 && pipe (pipe_out) == 0);
  struct virtio_dev *con;
  CHECK (virtio_console_create (pipe_in[0], pipe_out[1], &fake_mem, loop, &con, &err) == 0);
  CHECK (driver_setup (con, &host, ~0ULL, vq, 2, 16, QGPA) == 15);
  /* guest -> host */
  memcpy (gpa_ptr (BUF), "to the host\n", 12);
  uint64_t a1[] = { BUF };
  uint32_t l1[] = { 12 };
  fake_publish (&vq[1], fake_chain (&vq[1], 1, 1, a1, l1));
  /* host -> guest, into a posted receive buffer */
  uint64_t a0[] = { BUF + 0x1000 };
  uint32_t l0[] = { 64 };
  fake_publish (&vq[0], fake_chain (&vq[0], 1, 0, a0, l0));
  CHECK (write (pipe_in[1], "typed", 5) == 5);
  driver_kick (1);
  driver_kick (0);
  CHECK (run_until (loop, console_rx_done, NULL, 3000));
  char got[16] = { 0 };
  CHECK (read (pipe_out[0], got, sizeof got) == 12 && memcmp (got, "to the host\n", 12) == 0);
  uint32_t id, used;
  fake_used_elem (&vq[0], 0, &id, &used);
  CHECK (used == 5 && memcmp (gpa_ptr (BUF + 0x1000), "typed", 5) == 0);
  virtio_dev_destroy (con);
}

/* The request shape of Linux's virtio_blk with INDIRECT_DESC and EVENT_IDX
 * negotiated: one indirect descriptor (header, data, status) per request,
 * used_event written as the driver does, an interrupt for the completion. */
TEST (blk_linux_style_indirect_event_idx)
{
  make_disk (64 * 512, false, NULL);
  CHECK (blk->driver_features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC));
  CHECK (blk->vq[0].event_idx && blk->vq[0].indirect_desc);
  unsigned irqs = host.irqs;
  struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_IN, .sector = 2 };
  memcpy (gpa_ptr (BUF), &h, sizeof h);
  uint64_t table = BUF + 0x3000 + 0x40; /* 64-byte aligned, as kmalloc-64 gives */
  struct fake_desc *t = gpa_ptr (table);
  t[0] = (struct fake_desc) { BUF, 16, FD_NEXT, 1 };
  t[1] = (struct fake_desc) { BUF + 0x1000, 512, FD_NEXT | FD_WRITE, 2 };
  t[2] = (struct fake_desc) { BUF + 0x800, 1, FD_WRITE, 0 };
  fake_set_desc (&vq[0], 0, table, 48, FD_INDIRECT, 0);
  *fake_used_event (&vq[0]) = 0; /* Linux's disable_cb "hack" value */
  fake_publish (&vq[0], 0);
  /* The driver kicks because avail_event allows it. */
  CHECK (*fake_avail_event (&vq[0]) == 0);
  driver_kick (0);
  run_kicks (blk);
  CHECK (fake_used_idx (&vq[0]) == 1);
  CHECK (*(uint8_t *) gpa_ptr (BUF + 0x800) == VIRTIO_BLK_S_OK);
  CHECK (host.irqs == irqs + 1);
  CHECK (mmio_rd (0x60) & 1);
  CHECK (*fake_avail_event (&vq[0]) == 1);
  unlink (disk_path);
}
