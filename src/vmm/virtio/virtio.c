/* The transport-independent part of every virtio device. */
#include <stdio.h>
#include <string.h>
#include <sys/param.h>

#include "vmm/virtio/devices.h"
#include "vmm/virtio/transport.h"
#include "vmm/virtio/virtio.h"

void virtio_dev_init (struct virtio_dev *d, const struct virtio_dev_ops *ops, const struct guest_mem *mem,
                      struct evloop *loop, const char *id)
{
  memset (d, 0, sizeof *d);
  d->ops = ops;
  d->mem = mem;
  d->loop = loop;
  snprintf (d->id, sizeof d->id, "%s", id ? id : ops->name);
  for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
    {
      d->vq[i].max_size = i < ops->num_queues ? ops->queue_size : 0;
      d->vq[i].kick_fd = -1;
      virtq_reset (&d->vq[i]);
    }
}

static void interrupt (struct virtio_dev *d, uint32_t reason, uint16_t q)
{
  if (d->transport && d->transport->interrupt)
    d->transport->interrupt (d, reason, q);
}

void virtio_complete (struct virtio_dev *d, uint16_t q, uint16_t head, uint32_t len)
{
  struct virtqueue *vq = &d->vq[q];
  if (virtq_push (vq, d->mem, head, len) < 0)
    {
      virtio_dev_fail (d);
      return;
    }
  if (virtq_should_notify (vq, d->mem))
    interrupt (d, VIRTIO_INT_USED, q);
}

void virtio_config_changed (struct virtio_dev *d)
{
  __atomic_add_fetch (&d->config_generation, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n (&d->status, __ATOMIC_ACQUIRE) & VIRTIO_STATUS_DRIVER_OK)
    interrupt (d, VIRTIO_INT_CONFIG, 0);
}

void virtio_dev_fail (struct virtio_dev *d)
{
  uint8_t old = __atomic_fetch_or (&d->status, VIRTIO_STATUS_NEEDS_RESET, __ATOMIC_SEQ_CST);
  if (!(old & VIRTIO_STATUS_NEEDS_RESET))
    /* Once per failure: the guest's driver is broken or hostile, and its
     * kernel may not say so (Linux's drivers ignore NEEDS_RESET). */
    fprintf (stderr, "berth-vmm: %s: the driver gave a malformed virtqueue; the device needs a reset\n", d->id);
  if ((old & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_NEEDS_RESET))
    interrupt (d, VIRTIO_INT_CONFIG, 0);
}

bool virtio_dev_running (const struct virtio_dev *d)
{
  uint8_t s = __atomic_load_n (&d->status, __ATOMIC_ACQUIRE);
  return (s & VIRTIO_STATUS_DRIVER_OK) && !(s & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

void virtio_dev_destroy (struct virtio_dev *d)
{
  if (d == NULL)
    return;
  if (d->transport_priv)
    virtio_transport_detach (d);
  d->ops->destroy (d);
}

size_t iov_to_buf (const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len)
{
  size_t done = 0;
  for (unsigned i = 0; i < n && done < len; i++)
    {
      if (skip >= iov[i].iov_len)
        {
          skip -= iov[i].iov_len;
          continue;
        }
      size_t k = MIN (iov[i].iov_len - skip, len - done);
      memcpy ((uint8_t *) buf + done, (uint8_t *) iov[i].iov_base + skip, k);
      done += k;
      skip = 0;
    }
  return done;
}

size_t buf_to_iov (const struct iovec *iov, unsigned n, size_t skip, const void *buf, size_t len)
{
  size_t done = 0;
  for (unsigned i = 0; i < n && done < len; i++)
    {
      if (skip >= iov[i].iov_len)
        {
          skip -= iov[i].iov_len;
          continue;
        }
      size_t k = MIN (iov[i].iov_len - skip, len - done);
      memcpy ((uint8_t *) iov[i].iov_base + skip, (const uint8_t *) buf + done, k);
      done += k;
      skip = 0;
    }
  return done;
}

unsigned iov_slice (const struct iovec *iov, unsigned n, size_t skip, size_t len, struct iovec *out, unsigned max)
{
  unsigned k = 0;
  for (unsigned i = 0; i < n && len > 0 && k < max; i++)
    {
      if (skip >= iov[i].iov_len)
        {
          skip -= iov[i].iov_len;
          continue;
        }
      size_t take = MIN (iov[i].iov_len - skip, len);
      out[k++] = (struct iovec) { .iov_base = (uint8_t *) iov[i].iov_base + skip, .iov_len = take };
      len -= take;
      skip = 0;
    }
  return k;
}
