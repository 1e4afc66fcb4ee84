/* The part of a virtio transport that does not depend on its registers'
 * layout (see vtransport.h). */
#include "vmm/virtio/vtransport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/evloop.h"
#include "vmm/virtio/transport.h"

static void raise_interrupt (struct virtio_dev *d, uint32_t reason, uint16_t q)
{
  struct vt *t = d->transport_priv;
  __atomic_fetch_or (&t->isr, reason, __ATOMIC_SEQ_CST);
  if (t->h->irq)
    t->h->irq (t->h, t->gsi);
}

void vt_init (struct vt *t, struct virtio_dev *d, struct virtio_host *h, uint32_t gsi, void *priv)
{
  t->d = d;
  t->h = h;
  t->gsi = gsi;
  pthread_mutex_init (&t->lock, NULL);
  t->ops.interrupt = raise_interrupt;
  for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
    t->kicks[i] = (struct vt_kick) { .t = t, .q = i, .fd = -1 };
  d->transport = &t->ops;
  d->transport_priv = priv;
}

static void on_kick (void *opaque, uint32_t events)
{
  struct vt_kick *k = opaque;
  uint64_t n;
  if (read (k->fd, &n, sizeof n) != sizeof n)
    return;
  struct virtio_dev *d = k->t->d;
  if (virtio_dev_running (d) && d->vq[k->q].ready)
    d->ops->queue_notify (d, k->q);
}

int vt_setup_kicks (struct vt *t, uint64_t (*notify_addr) (struct vt *t, uint16_t q), uint32_t len, bool pio,
                    berth_err *err)
{
  struct virtio_dev *d = t->d;
  t->ioeventfds = t->h->ioeventfd != NULL;
  for (uint16_t q = 0; q < d->ops->num_queues; q++)
    {
      struct vt_kick *k = &t->kicks[q];
      k->fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (k->fd < 0)
        return berth_fail_errno (err, "%s: queue %u eventfd", d->id, q);
      d->vq[q].kick_fd = k->fd;
      if (t->ioeventfds)
        {
          int r = t->h->ioeventfd (t->h, notify_addr (t, q), len, pio, q, k->fd);
          if (r < 0)
            return berth_fail (err, -r, "%s: ioeventfd for queue %u", d->id, q);
        }
      if (t->h->loop)
        {
          int r = evloop_add (t->h->loop, k->fd, EPOLLIN, on_kick, k);
          if (r < 0)
            return berth_fail (err, -r, "%s: watch queue %u", d->id, q);
        }
    }
  return 0;
}

void vt_kick_trapped (struct vt *t, uint32_t q)
{
  if (q >= t->d->ops->num_queues || t->kicks[q].fd < 0)
    return;
  uint64_t one = 1;
  (void) !write (t->kicks[q].fd, &one, sizeof one);
}

void vt_destroy (struct vt *t)
{
  for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
    if (t->kicks[q].fd >= 0)
      {
        if (t->h->loop)
          evloop_del (t->h->loop, t->kicks[q].fd);
        close (t->kicks[q].fd);
        t->kicks[q].fd = -1;
        t->d->vq[q].kick_fd = -1;
      }
  pthread_mutex_destroy (&t->lock);
  t->d->transport = NULL;
  t->d->transport_priv = NULL;
}

void virtio_transport_detach (struct virtio_dev *d)
{
  struct vt *t = d->transport_priv;
  if (t == NULL)
    return;
  vt_destroy (t);
  t->free (t);
}

uint32_t vt_device_features (struct vt *t)
{
  uint64_t f = t->d->ops->features;
  return t->dev_features_sel == 0 ? (uint32_t) f : t->dev_features_sel == 1 ? (uint32_t) (f >> 32) : 0;
}

void vt_driver_features (struct vt *t, uint32_t value)
{
  struct virtio_dev *d = t->d;
  /* Features are written between DRIVER and FEATURES_OK only (3.1.1). */
  if (!(d->status & VIRTIO_STATUS_DRIVER) || (d->status & VIRTIO_STATUS_FEATURES_OK) || t->drv_features_sel > 1)
    return;
  unsigned shift = 32 * t->drv_features_sel;
  d->driver_features = (d->driver_features & ~(0xffffffffULL << shift)) | ((uint64_t) value << shift);
}

uint32_t vt_driver_features_get (struct vt *t)
{
  return t->drv_features_sel > 1 ? 0 : (uint32_t) (t->d->driver_features >> (32 * t->drv_features_sel));
}

uint8_t vt_status (struct vt *t)
{
  return __atomic_load_n (&t->d->status, __ATOMIC_ACQUIRE);
}

struct call_ctx {
  struct virtio_dev *d;
  int ret;
};

static void call_reset (void *opaque, uint32_t events)
{
  struct call_ctx *c = opaque;
  if (c->d->ops->reset)
    c->d->ops->reset (c->d);
  for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
    virtq_reset (&c->d->vq[q]);
}

static void call_activate (void *opaque, uint32_t events)
{
  struct call_ctx *c = opaque;
  c->ret = c->d->ops->activate ? c->d->ops->activate (c->d) : 0;
}

static void reset (struct vt *t)
{
  struct call_ctx c = { .d = t->d };
  __atomic_store_n (&t->d->status, 0, __ATOMIC_SEQ_CST);
  if (t->h->loop)
    evloop_call (t->h->loop, call_reset, &c);
  else
    call_reset (&c, 0);
  t->d->driver_features = 0;
  __atomic_store_n (&t->isr, 0, __ATOMIC_SEQ_CST);
  t->dev_features_sel = t->drv_features_sel = 0;
  t->queue_sel = 0;
}

static bool features_acceptable (const struct virtio_dev *d)
{
  uint64_t f = d->driver_features;
  return (f & ~d->ops->features) == 0 && (f & (1ULL << VIRTIO_F_VERSION_1));
}

static int activate (struct vt *t)
{
  struct virtio_dev *d = t->d;
  for (unsigned q = 0; q < d->ops->num_queues; q++)
    {
      d->vq[q].event_idx = d->driver_features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
      d->vq[q].indirect_desc = d->driver_features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
    }
  struct call_ctx c = { .d = d };
  if (t->h->loop)
    evloop_call (t->h->loop, call_activate, &c);
  else
    call_activate (&c, 0);
  return c.ret;
}

void vt_set_status (struct vt *t, uint8_t value)
{
  struct virtio_dev *d = t->d;
  if (value == 0)
    {
      reset (t);
      return;
    }
  uint8_t old = d->status;
  /* The driver sets bits one step at a time and never clears them
   * (except by reset); NEEDS_RESET is the device's to set. */
  uint8_t status = (uint8_t) (old | (value & ~VIRTIO_STATUS_NEEDS_RESET));
  if ((status & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) && !features_acceptable (d))
    status &= (uint8_t) ~VIRTIO_STATUS_FEATURES_OK; /* the driver reads it back and gives up */
  bool start = (status & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK);
  if (start && !(status & VIRTIO_STATUS_FEATURES_OK))
    {
      status = (uint8_t) ((status & ~VIRTIO_STATUS_DRIVER_OK) | VIRTIO_STATUS_FAILED);
      start = false;
    }
  if (!start)
    {
      __atomic_store_n (&d->status, status, __ATOMIC_SEQ_CST);
      return;
    }
  /* Activate before DRIVER_OK is visible, so kicks see a ready device. */
  __atomic_store_n (&d->status, (uint8_t) (status & ~VIRTIO_STATUS_DRIVER_OK), __ATOMIC_SEQ_CST);
  int r = activate (t);
  if (r < 0)
    {
      fprintf (stderr, "berth-vmm: %s: activation failed: %s\n", d->id, strerror (-r));
      status |= VIRTIO_STATUS_NEEDS_RESET;
    }
  __atomic_fetch_or (&d->status, status, __ATOMIC_SEQ_CST);
  /* Kicks that arrived before DRIVER_OK were dropped: run the queues once. */
  for (uint16_t q = 0; q < d->ops->num_queues && r == 0; q++)
    vt_kick_trapped (t, q);
}

struct virtqueue *vt_queue (struct vt *t)
{
  return t->queue_sel < t->d->ops->num_queues ? &t->d->vq[t->queue_sel] : NULL;
}

bool vt_queue_writable (struct vt *t)
{
  struct virtqueue *q = vt_queue (t);
  return q && !q->ready && !(t->d->status & VIRTIO_STATUS_DRIVER_OK);
}

void vt_queue_set_size (struct vt *t, uint32_t size)
{
  struct virtqueue *q = vt_queue (t);
  if (!vt_queue_writable (t))
    return;
  /* A size that is not a power of two or too big is kept as written and
   * refused when the queue is used (virtq_pop marks it broken). */
  q->size = (uint16_t) (size > VIRTQ_MAX_SIZE ? 0 : size);
  if (q->size > q->max_size)
    q->size = 0;
}

uint32_t vt_isr_read (struct vt *t, bool clear)
{
  return clear ? __atomic_exchange_n (&t->isr, 0, __ATOMIC_SEQ_CST) : __atomic_load_n (&t->isr, __ATOMIC_SEQ_CST);
}

void vt_isr_ack (struct vt *t, uint32_t bits)
{
  __atomic_fetch_and (&t->isr, ~bits, __ATOMIC_SEQ_CST);
}

void vt_config_read (struct vt *t, uint64_t off, uint8_t *data, uint32_t len)
{
  uint32_t size = t->d->ops->config_size;
  memset (data, 0, len);
  if (off >= size || len > size - off || t->d->ops->config_read == NULL)
    return;
  t->d->ops->config_read (t->d, (uint32_t) off, data, len);
}

void vt_config_write (struct vt *t, uint64_t off, const uint8_t *data, uint32_t len)
{
  uint32_t size = t->d->ops->config_size;
  if (off >= size || len > size - off || t->d->ops->config_write == NULL)
    return;
  t->d->ops->config_write (t->d, (uint32_t) off, data, len);
}
