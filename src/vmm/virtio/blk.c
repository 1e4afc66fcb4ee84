/* virtio-blk (virtio 1.x, 5.2) on a raw image file or block device.
 *
 * One request queue, served on the event loop with preadv/pwritev straight
 * between the file and the guest's buffers (no bounce copy).  Requests are
 * synchronous: the loop thread serves one device at a time, which keeps
 * ordering simple and is fast enough on a page-cached image; liburing
 * would let several requests overlap but is not in the base system. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/param.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "vmm/virtio/devices.h"
#include "vmm/virtio/rate-limiter.h"

#define BLK_QUEUE_SIZE 256
#define BLK_SEG_MAX (BLK_QUEUE_SIZE - 2) /* header and status take two */
#define BLK_CONFIG_SIZE 24               /* capacity .. blk_size */

struct blk {
  struct virtio_dev dev; /* first */
  int fd;
  uint64_t capacity; /* 512-byte sectors */
  bool read_only;
  char serial[VIRTIO_BLK_ID_BYTES];
  struct rate_limiter rl;
  struct virtq_chain chain;
  uint64_t requests, errors; /* counters, for messages and tests */
};

static struct blk *to_blk (struct virtio_dev *d)
{
  return (struct blk *) d;
}

static void blk_config_read (struct virtio_dev *d, uint32_t off, void *data, uint32_t len)
{
  struct blk *b = to_blk (d);
  struct virtio_blk_config cfg = { 0 };
  cfg.capacity = b->capacity;
  cfg.seg_max = BLK_SEG_MAX;
  cfg.blk_size = 512;
  memcpy (data, (uint8_t *) &cfg + off, len);
}

/* Full preadv/pwritev: retry short transfers and EINTR. */
static int rw_all (int fd, struct iovec *iov, unsigned n, off_t off, bool write)
{
  while (n > 0)
    {
      ssize_t k = write ? pwritev (fd, iov, (int) n, off) : preadv (fd, iov, (int) n, off);
      if (k < 0 && errno == EINTR)
        continue;
      if (k <= 0)
        return k < 0 ? -errno : -EIO;
      off += k;
      while (n > 0 && (size_t) k >= iov->iov_len)
        {
          k -= (ssize_t) iov->iov_len;
          iov++, n--;
        }
      if (n > 0)
        {
          iov->iov_base = (uint8_t *) iov->iov_base + k;
          iov->iov_len -= (size_t) k;
        }
    }
  return 0;
}

/* Sector range [sector, sector + len/512) inside the disk. */
static bool in_bounds (const struct blk *b, uint64_t sector, uint64_t len)
{
  if (len % 512)
    return false;
  uint64_t n = len / 512;
  return sector <= b->capacity && n <= b->capacity - sector;
}

/* Serve one request; returns the status byte and sets *written to the
 * bytes placed in the guest's data buffers. */
static uint8_t serve (struct blk *b, const struct virtio_blk_outhdr *h, uint64_t *written)
{
  struct virtq_chain *c = &b->chain;
  struct iovec io[VIRTQ_MAX_CHAIN];
  uint64_t data_in = c->in_len - 1; /* the status byte is the last */
  uint64_t data_out = c->out_len - sizeof *h;
  *written = 0;
  switch (h->type)
    {
    case VIRTIO_BLK_T_IN:
      {
        if (!in_bounds (b, h->sector, data_in))
          return VIRTIO_BLK_S_IOERR;
        unsigned n = iov_slice (c->in, c->n_in, 0, data_in, io, VIRTQ_MAX_CHAIN);
        if (rw_all (b->fd, io, n, (off_t) (h->sector * 512), false) < 0)
          return VIRTIO_BLK_S_IOERR;
        *written = data_in;
        return VIRTIO_BLK_S_OK;
      }
    case VIRTIO_BLK_T_OUT:
      {
        if (b->read_only || !in_bounds (b, h->sector, data_out))
          return VIRTIO_BLK_S_IOERR;
        unsigned n = iov_slice (c->out, c->n_out, sizeof *h, data_out, io, VIRTQ_MAX_CHAIN);
        return rw_all (b->fd, io, n, (off_t) (h->sector * 512), true) < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
      }
    case VIRTIO_BLK_T_FLUSH:
      return b->read_only || fdatasync (b->fd) == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
    case VIRTIO_BLK_T_GET_ID:
      *written = buf_to_iov (c->in, c->n_in, 0, b->serial, MIN (data_in, sizeof b->serial));
      return VIRTIO_BLK_S_OK;
    default:
      return VIRTIO_BLK_S_UNSUPP;
    }
}

static void blk_process (struct blk *b)
{
  struct virtio_dev *d = &b->dev;
  struct virtq_chain *c = &b->chain;
  for (;;)
    {
      int r = virtq_pop (&d->vq[0], d->mem, c);
      if (r < 0)
        {
          virtio_dev_fail (d);
          return;
        }
      if (r == 0)
        return;
      struct virtio_blk_outhdr h;
      if (c->in_len < 1 || iov_to_buf (c->out, c->n_out, 0, &h, sizeof h) != sizeof h)
        {
          /* No header or no status byte: nothing sane to answer. */
          virtio_dev_fail (d);
          return;
        }
      uint64_t bytes = h.type == VIRTIO_BLK_T_IN ? c->in_len - 1
                       : h.type == VIRTIO_BLK_T_OUT ? c->out_len - sizeof h : 0;
      if (!rate_limiter_consume (&b->rl, bytes, 1))
        {
          virtq_unpop (&d->vq[0]);
          rate_limiter_block (&b->rl, bytes, 1);
          return;
        }
      uint64_t written;
      uint8_t status = serve (b, &h, &written);
      b->requests++;
      b->errors += status != VIRTIO_BLK_S_OK;
      /* The status byte is the chain's last writable byte. */
      buf_to_iov (c->in, c->n_in, c->in_len - 1, &status, 1);
      virtio_complete (d, 0, c->head, (uint32_t) (written + 1));
    }
}

static void blk_notify (struct virtio_dev *d, uint16_t q)
{
  struct blk *b = to_blk (d);
  if (!rate_limiter_blocked (&b->rl))
    blk_process (b);
}

static void blk_resume (void *opaque, uint32_t events)
{
  struct blk *b = opaque;
  if (virtio_dev_running (&b->dev))
    blk_process (b);
}

static int blk_activate (struct virtio_dev *d)
{
  return 0;
}

static void blk_reset (struct virtio_dev *d)
{
  rate_limiter_stop (&to_blk (d)->rl);
}

static void blk_destroy (struct virtio_dev *d)
{
  struct blk *b = to_blk (d);
  rate_limiter_stop (&b->rl);
  close (b->fd);
  free (b);
}

#define BLK_FEATURES                                                                                          \
  ((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC) \
   | (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) | (1ULL << VIRTIO_BLK_F_FLUSH))

static const struct virtio_dev_ops blk_ops = {
  .name = "virtio-blk",
  .device_id = VIRTIO_ID_BLOCK,
  .num_queues = 1,
  .queue_size = BLK_QUEUE_SIZE,
  .features = BLK_FEATURES,
  .config_size = BLK_CONFIG_SIZE,
  .config_read = blk_config_read,
  .activate = blk_activate,
  .reset = blk_reset,
  .queue_notify = blk_notify,
  .destroy = blk_destroy,
};

static const struct virtio_dev_ops blk_ro_ops = {
  .name = "virtio-blk",
  .device_id = VIRTIO_ID_BLOCK,
  .num_queues = 1,
  .queue_size = BLK_QUEUE_SIZE,
  .features = BLK_FEATURES | (1ULL << VIRTIO_BLK_F_RO),
  .config_size = BLK_CONFIG_SIZE,
  .config_read = blk_config_read,
  .activate = blk_activate,
  .reset = blk_reset,
  .queue_notify = blk_notify,
  .destroy = blk_destroy,
};

static int disk_size (int fd, uint64_t *size, berth_err *err, const char *path)
{
  struct stat st;
  if (fstat (fd, &st) < 0)
    return berth_fail_errno (err, "stat %s", path);
  if (S_ISBLK (st.st_mode))
    return ioctl (fd, BLKGETSIZE64, size) < 0 ? berth_fail_errno (err, "size of %s", path) : 0;
  if (!S_ISREG (st.st_mode))
    return berth_fail (err, 0, "%s: not a regular file or block device", path);
  *size = (uint64_t) st.st_size;
  return 0;
}

int virtio_blk_create (const struct vm_drive *cfg, const struct guest_mem *mem, struct evloop *loop,
                       struct virtio_dev **out, berth_err *err)
{
  cleanup_close int fd = open (cfg->path_on_host, (cfg->is_read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (err, "drive %s: open %s", cfg->drive_id, cfg->path_on_host);
  uint64_t size;
  int r = disk_size (fd, &size, err, cfg->path_on_host);
  if (r < 0)
    return berth_error_prefix (err, "drive %s", cfg->drive_id);
  struct blk *b = calloc (1, sizeof *b);
  if (b == NULL)
    return berth_fail (err, ENOMEM, "drive %s", cfg->drive_id);
  virtio_dev_init (&b->dev, cfg->is_read_only ? &blk_ro_ops : &blk_ops, mem, loop, cfg->drive_id);
  b->capacity = size / 512; /* a partial last sector is not visible */
  b->read_only = cfg->is_read_only;
  /* GET_ID answers the drive id, NUL-padded to 20 bytes (no NUL if full). */
  memcpy (b->serial, cfg->drive_id, MIN (strlen (cfg->drive_id), sizeof b->serial));
  rate_limiter_init (&b->rl, &cfg->rate_limiter, loop, blk_resume, b);
  b->fd = take_fd (&fd);
  *out = &b->dev;
  return 0;
}
