/* virtio-console (virtio 1.x, 5.3) with one port and no multiport: the
 * guest's hvc0.  Bytes from IN_FD go to the receive queue (0), bytes of the
 * transmit queue (1) are written to OUT_FD.  IN_FD is watched on the event
 * loop only while the guest has receive buffers posted, as for the net
 * device's tap.  The fds stay the caller's (not closed here). */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vmm/evloop.h"
#include "vmm/virtio/devices.h"

#define CONSOLE_QUEUE_SIZE 64
#define Q_RX 0
#define Q_TX 1

struct console {
  struct virtio_dev dev; /* first */
  int in_fd, out_fd;
  bool in_on_loop; /* IN_FD registered */
  bool in_eof;
  struct virtq_chain chain;
};

static void on_in (void *opaque, uint32_t events);

static void watch_in (struct console *c, bool on)
{
  if (c->in_fd < 0 || c->dev.loop == NULL || c->in_eof || c->in_on_loop == on)
    return;
  if (on)
    c->in_on_loop = evloop_add (c->dev.loop, c->in_fd, EPOLLIN, on_in, c) == 0;
  else
    {
      evloop_del (c->dev.loop, c->in_fd);
      c->in_on_loop = false;
    }
}

/* IN_FD is readable: one read into one receive buffer.  One read per
 * event, so a blocking IN_FD never blocks the loop (level-triggered epoll
 * calls again while data is left). */
static void on_in (void *opaque, uint32_t events)
{
  struct console *c = opaque;
  struct virtio_dev *d = &c->dev;
  int r = virtq_pop (&d->vq[Q_RX], d->mem, &c->chain);
  if (r <= 0)
    {
      watch_in (c, false); /* until the guest posts buffers */
      if (r < 0)
        virtio_dev_fail (d);
      return;
    }
  ssize_t k = c->chain.n_in ? readv (c->in_fd, c->chain.in, (int) c->chain.n_in) : 0;
  if (k < 0 && (errno == EAGAIN || errno == EINTR))
    {
      virtq_unpop (&d->vq[Q_RX]);
      return;
    }
  if (k <= 0)
    {
      /* EOF or error: the host side is gone; stop reading it. */
      virtq_unpop (&d->vq[Q_RX]);
      watch_in (c, false);
      c->in_eof = true;
      return;
    }
  virtio_complete (d, Q_RX, c->chain.head, (uint32_t) k);
}

static void tx_process (struct console *c)
{
  struct virtio_dev *d = &c->dev;
  int r;
  while ((r = virtq_pop (&d->vq[Q_TX], d->mem, &c->chain)) == 1)
    {
      /* Output is best effort, as on a serial line: a full or closed
       * OUT_FD drops the bytes rather than stalling the guest. */
      if (c->out_fd >= 0 && c->chain.n_out)
        (void) !writev (c->out_fd, c->chain.out, (int) c->chain.n_out);
      virtio_complete (d, Q_TX, c->chain.head, 0);
    }
  if (r < 0)
    virtio_dev_fail (d);
}

static void console_notify (struct virtio_dev *d, uint16_t q)
{
  struct console *c = (struct console *) d;
  if (q == Q_TX)
    tx_process (c);
  else
    watch_in (c, true); /* buffers posted: read when IN_FD has data */
}

static void console_reset (struct virtio_dev *d)
{
  watch_in ((struct console *) d, false);
}

static void console_destroy (struct virtio_dev *d)
{
  console_reset (d);
  free (d);
}

static const struct virtio_dev_ops console_ops = {
  .name = "virtio-console",
  .device_id = VIRTIO_ID_CONSOLE,
  .num_queues = 2,
  .queue_size = CONSOLE_QUEUE_SIZE,
  .features = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC),
  .reset = console_reset,
  .queue_notify = console_notify,
  .destroy = console_destroy,
};

int virtio_console_create (int in_fd, int out_fd, const struct guest_mem *mem, struct evloop *loop,
                           struct virtio_dev **out, berth_err *err)
{
  struct console *c = calloc (1, sizeof *c);
  if (c == NULL)
    return berth_fail (err, ENOMEM, "virtio-console");
  virtio_dev_init (&c->dev, &console_ops, mem, loop, "console");
  c->in_fd = in_fd;
  c->out_fd = out_fd;
  *out = &c->dev;
  return 0;
}
