/* virtio-rng (virtio 1.x, 5.4): fills the guest's buffers from
 * getrandom(), which never blocks once the host's pool is initialised. */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "vmm/virtio/devices.h"

#define RNG_QUEUE_SIZE 64
/* At most this much entropy per request: a guest asking for a huge buffer
 * gets a short answer, as the spec allows. */
#define RNG_MAX_REQUEST (64 * 1024)

struct rng {
  struct virtio_dev dev; /* first */
  struct virtq_chain chain;
};

static uint32_t fill (struct virtq_chain *c)
{
  uint32_t total = 0;
  for (unsigned i = 0; i < c->n_in && total < RNG_MAX_REQUEST; i++)
    {
      size_t want = c->in[i].iov_len;
      if (want > RNG_MAX_REQUEST - total)
        want = RNG_MAX_REQUEST - total;
      ssize_t k = getrandom (c->in[i].iov_base, want, 0);
      if (k <= 0)
        break;
      total += (uint32_t) k;
      if ((size_t) k < want)
        break;
    }
  return total;
}

static void rng_notify (struct virtio_dev *d, uint16_t q)
{
  struct rng *r = (struct rng *) d;
  int k;
  while ((k = virtq_pop (&d->vq[0], d->mem, &r->chain)) == 1)
    virtio_complete (d, 0, r->chain.head, fill (&r->chain));
  if (k < 0)
    virtio_dev_fail (d);
}

static void rng_destroy (struct virtio_dev *d)
{
  free (d);
}

static const struct virtio_dev_ops rng_ops = {
  .name = "virtio-rng",
  .device_id = VIRTIO_ID_RNG,
  .num_queues = 1,
  .queue_size = RNG_QUEUE_SIZE,
  .features = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC),
  .queue_notify = rng_notify,
  .destroy = rng_destroy,
};

int virtio_rng_create (const struct guest_mem *mem, struct evloop *loop, struct virtio_dev **out, berth_err *err)
{
  struct rng *r = calloc (1, sizeof *r);
  if (r == NULL)
    return berth_fail (err, ENOMEM, "virtio-rng");
  virtio_dev_init (&r->dev, &rng_ops, mem, loop, "rng");
  *out = &r->dev;
  return 0;
}
