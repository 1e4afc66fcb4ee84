/* virtio-balloon (virtio 1.x, 5.5), Firecracker's flavour.
 *
 * Queues: inflate (0), deflate (1) and, with statistics, stats (2).  The
 * guest gives pages to the balloon as 4 KiB page frame numbers on the
 * inflate queue; the VMM discards them (MADV_DONTNEED on the private
 * anonymous guest RAM: the host frees the pages and a later guest access
 * gets a zero page), so the host's RSS drops.  Deflate needs no work: the
 * pages come back on the guest's next touch.
 *
 * Statistics: the driver hands one buffer on the stats queue; the device
 * keeps it and, every stats_polling_interval_s, gives it back (used),
 * which makes the driver refill it with fresh numbers and return it. */
#include <errno.h>
#include <linux/virtio_balloon.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/evloop.h"
#include "vmm/virtio/devices.h"

#define BALLOON_QUEUE_SIZE 256
#define BALLOON_PAGE 4096ULL
#define Q_INFLATE 0
#define Q_DEFLATE 1
#define Q_STATS 2
#define N_STATS 10 /* VIRTIO_BALLOON_S_SWAP_IN .. S_HTLB_PGFAIL */

struct balloon {
  struct virtio_dev dev; /* first */
  uint32_t num_pages;    /* target, config (atomic: vCPUs read it) */
  uint32_t actual;       /* driver's count, config (atomic) */
  uint32_t stats_interval_s;
  int stats_timer;       /* -1: none */
  bool stats_held;       /* a stats buffer is waiting to be given back */
  uint16_t stats_head;
  bool have_stats;
  uint64_t stats[N_STATS];
  bool stats_seen[N_STATS];
  uint64_t inflated, deflated; /* pages, counters */
  struct virtq_chain chain;
};

static struct balloon *to_balloon (struct virtio_dev *d)
{
  return (struct balloon *) d;
}

static void balloon_config_read (struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
  struct balloon *b = to_balloon (d);
  struct virtio_balloon_config cfg = { 0 };
  cfg.num_pages = __atomic_load_n (&b->num_pages, __ATOMIC_ACQUIRE);
  cfg.actual = __atomic_load_n (&b->actual, __ATOMIC_ACQUIRE);
  if (off + len <= sizeof cfg)
    memcpy (data, (uint8_t *) &cfg + off, len);
}

static void balloon_config_write (struct virtio_dev *d, uint32_t off, const void *data, uint32_t len)
{
  struct balloon *b = to_balloon (d);
  /* Only "actual" (offset 4) is the driver's to write. */
  if (off == 4 && len == 4)
    {
      uint32_t v;
      memcpy (&v, data, 4);
      __atomic_store_n (&b->actual, v, __ATOMIC_RELEASE);
    }
}

/* Give one guest page back to the host. */
static void discard_page (struct balloon *b, uint32_t pfn)
{
  void *p = guest_mem_ptr (b->dev.mem, (uint64_t) pfn * BALLOON_PAGE, BALLOON_PAGE);
  long pg = sysconf (_SC_PAGESIZE);
  if (p == NULL || ((uintptr_t) p % (uintptr_t) pg))
    return; /* outside guest RAM: ignored, as the guest only hurts itself */
  (void) madvise (p, BALLOON_PAGE, MADV_DONTNEED);
}

static void page_queue (struct balloon *b, uint16_t q)
{
  struct virtio_dev *d = &b->dev;
  struct virtq_chain *c = &b->chain;
  int r;
  while ((r = virtq_pop (&d->vq[q], d->mem, c)) == 1)
    {
      uint32_t pfns[256];
      size_t off = 0, k;
      while ((k = iov_to_buf (c->out, c->n_out, off, pfns, sizeof pfns)) >= 4)
        {
          for (size_t i = 0; i < k / 4; i++)
            {
              if (q == Q_INFLATE)
                discard_page (b, pfns[i]);
              q == Q_INFLATE ? b->inflated++ : b->deflated++;
            }
          off += k - k % 4;
        }
      virtio_complete (d, q, c->head, 0);
    }
  if (r < 0)
    virtio_dev_fail (d);
}

/* Read the driver's tag/value pairs (struct virtio_balloon_stat, packed). */
static void read_stats (struct balloon *b)
{
  struct virtq_chain *c = &b->chain;
  for (size_t off = 0;; off += 10)
    {
      uint8_t raw[10];
      if (iov_to_buf (c->out, c->n_out, off, raw, sizeof raw) != sizeof raw)
        break;
      uint16_t tag;
      uint64_t val;
      memcpy (&tag, raw, 2);
      memcpy (&val, raw + 2, 8);
      if (tag < N_STATS)
        {
          b->stats[tag] = val;
          b->stats_seen[tag] = true;
        }
    }
  b->have_stats = true;
}

static void stats_queue (struct balloon *b)
{
  struct virtio_dev *d = &b->dev;
  int r;
  while ((r = virtq_pop (&d->vq[Q_STATS], d->mem, &b->chain)) == 1)
    {
      if (b->stats_held) /* a second buffer: give the older one back */
        virtio_complete (d, Q_STATS, b->stats_head, 0);
      read_stats (b);
      b->stats_head = b->chain.head;
      b->stats_held = true;
    }
  if (r < 0)
    virtio_dev_fail (d);
}

static void balloon_notify (struct virtio_dev *d, uint16_t q)
{
  struct balloon *b = to_balloon (d);
  if (q == Q_STATS)
    stats_queue (b);
  else
    page_queue (b, q);
}

/* Timer: ask for fresh statistics by returning the held buffer. */
static void stats_tick (void *opaque, uint32_t events)
{
  struct balloon *b = opaque;
  if (!b->stats_held || !virtio_dev_running (&b->dev))
    return;
  b->stats_held = false;
  virtio_complete (&b->dev, Q_STATS, b->stats_head, 0);
}

static void stop_stats_timer (struct balloon *b)
{
  if (b->stats_timer >= 0)
    evloop_timer_del (b->dev.loop, b->stats_timer);
  b->stats_timer = -1;
}

static int start_stats_timer (struct balloon *b)
{
  stop_stats_timer (b);
  if (b->stats_interval_s == 0 || b->dev.loop == NULL)
    return 0;
  uint64_t ms = (uint64_t) b->stats_interval_s * 1000;
  int fd = evloop_timer_add (b->dev.loop, ms, ms, stats_tick, b);
  if (fd < 0)
    return fd;
  b->stats_timer = fd;
  return 0;
}

static int balloon_activate (struct virtio_dev *d)
{
  return start_stats_timer (to_balloon (d));
}

static void balloon_reset (struct virtio_dev *d)
{
  struct balloon *b = to_balloon (d);
  stop_stats_timer (b);
  b->stats_held = false;
  __atomic_store_n (&b->actual, 0, __ATOMIC_RELEASE);
}

static void balloon_destroy (struct virtio_dev *d)
{
  stop_stats_timer (to_balloon (d));
  free (d);
}

#define BALLOON_BASE_FEATURES ((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX))

/* Four flavours: with/without statistics (a third queue) and
 * deflate-on-oom.  The ops are const, so each is its own table. */
#define BALLOON_OPS(nq, feat)                                                                               \
  {                                                                                                         \
    .name = "virtio-balloon", .device_id = VIRTIO_ID_BALLOON, .num_queues = (nq),                           \
    .queue_size = BALLOON_QUEUE_SIZE, .features = BALLOON_BASE_FEATURES | (feat), .config_size = 8,         \
    .config_read = balloon_config_read, .config_write = balloon_config_write, .activate = balloon_activate, \
    .reset = balloon_reset, .queue_notify = balloon_notify, .destroy = balloon_destroy,                     \
  }

static const struct virtio_dev_ops balloon_ops[4] = {
  BALLOON_OPS (2, 0),
  BALLOON_OPS (3, 1ULL << VIRTIO_BALLOON_F_STATS_VQ),
  BALLOON_OPS (2, 1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM),
  BALLOON_OPS (3, (1ULL << VIRTIO_BALLOON_F_STATS_VQ) | (1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM)),
};

static uint32_t mib_to_pages (uint32_t mib)
{
  return mib * (uint32_t) ((1 << 20) / BALLOON_PAGE);
}

int virtio_balloon_create (const struct vm_balloon *cfg, const struct guest_mem *mem, struct evloop *loop,
                           struct virtio_dev **out, berth_err *err)
{
  if (cfg->amount_mib > UINT32_MAX / 256)
    return berth_fail (err, 0, "balloon: amount_mib %u is too large", cfg->amount_mib);
  struct balloon *b = calloc (1, sizeof *b);
  if (b == NULL)
    return berth_fail (err, ENOMEM, "balloon");
  unsigned flavour = (cfg->stats_polling_interval_s ? 1 : 0) | (cfg->deflate_on_oom ? 2 : 0);
  virtio_dev_init (&b->dev, &balloon_ops[flavour], mem, loop, "balloon");
  b->num_pages = mib_to_pages (cfg->amount_mib);
  b->stats_interval_s = cfg->stats_polling_interval_s;
  b->stats_timer = -1;
  *out = &b->dev;
  return 0;
}

int virtio_balloon_set_target (struct virtio_dev *d, uint32_t amount_mib, berth_err *err)
{
  struct balloon *b = to_balloon (d);
  uint64_t pages = (uint64_t) amount_mib * ((1 << 20) / BALLOON_PAGE);
  if (amount_mib > UINT32_MAX / 256 || pages * BALLOON_PAGE > d->mem->total)
    return berth_fail (err, 0, "balloon: amount_mib %u is more than the guest's memory", amount_mib);
  __atomic_store_n (&b->num_pages, (uint32_t) pages, __ATOMIC_RELEASE);
  virtio_config_changed (d);
  return 0;
}

int virtio_balloon_set_stats_interval (struct virtio_dev *d, uint32_t seconds, berth_err *err)
{
  struct balloon *b = to_balloon (d);
  /* The stats queue exists only if statistics were on at boot
   * (Firecracker's rule: they can be retuned, not switched on later). */
  if (!(d->ops->features & (1ULL << VIRTIO_BALLOON_F_STATS_VQ)))
    return berth_fail (err, 0, "balloon: statistics were not enabled when the VM was configured");
  if (seconds == 0)
    return berth_fail (err, 0, "balloon: statistics cannot be disabled once enabled");
  b->stats_interval_s = seconds;
  if (!virtio_dev_running (d))
    return 0;
  int r = start_stats_timer (b);
  return r < 0 ? berth_fail (err, -r, "balloon: statistics timer") : 0;
}

int virtio_balloon_stats (struct virtio_dev *d, json_t **out, berth_err *err)
{
  static const char *const names[N_STATS] = {
    "swap_in", "swap_out", "major_faults", "minor_faults", "free_memory",
    "total_memory", "available_memory", "disk_caches", "hugetlb_allocations", "hugetlb_failures",
  };
  struct balloon *b = to_balloon (d);
  if (!(d->ops->features & (1ULL << VIRTIO_BALLOON_F_STATS_VQ)))
    return berth_fail (err, 0, "balloon: statistics are not enabled");
  uint32_t target = __atomic_load_n (&b->num_pages, __ATOMIC_ACQUIRE);
  uint32_t actual = __atomic_load_n (&b->actual, __ATOMIC_ACQUIRE);
  json_t *j = json_pack ("{s:I, s:I, s:I, s:I}", "target_pages", (json_int_t) target, "actual_pages",
                         (json_int_t) actual, "target_mib", (json_int_t) (target / 256), "actual_mib",
                         (json_int_t) (actual / 256));
  if (j == NULL)
    return berth_fail (err, ENOMEM, "balloon statistics");
  for (unsigned i = 0; i < N_STATS; i++)
    if (b->stats_seen[i])
      json_object_set_new (j, names[i], json_integer ((json_int_t) b->stats[i]));
  *out = j;
  return 0;
}
