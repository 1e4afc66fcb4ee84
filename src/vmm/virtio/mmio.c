/* virtio-mmio, version 2 registers (virtio 1.x, 4.2.2).  One 4 KiB window
 * per device: registers below 0x100, the device config from 0x100. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmm/virtio/transport.h"
#include "vmm/virtio/vtransport.h"

#define MMIO_MAGIC 0x000
#define MMIO_VERSION 0x004
#define MMIO_DEVICE_ID 0x008
#define MMIO_VENDOR_ID 0x00c
#define MMIO_DEVICE_FEATURES 0x010
#define MMIO_DEVICE_FEATURES_SEL 0x014
#define MMIO_DRIVER_FEATURES 0x020
#define MMIO_DRIVER_FEATURES_SEL 0x024
#define MMIO_QUEUE_SEL 0x030
#define MMIO_QUEUE_NUM_MAX 0x034
#define MMIO_QUEUE_NUM 0x038
#define MMIO_QUEUE_READY 0x044
#define MMIO_QUEUE_NOTIFY 0x050
#define MMIO_INTERRUPT_STATUS 0x060
#define MMIO_INTERRUPT_ACK 0x064
#define MMIO_STATUS 0x070
#define MMIO_QUEUE_DESC_LOW 0x080
#define MMIO_QUEUE_DESC_HIGH 0x084
#define MMIO_QUEUE_AVAIL_LOW 0x090
#define MMIO_QUEUE_AVAIL_HIGH 0x094
#define MMIO_QUEUE_USED_LOW 0x0a0
#define MMIO_QUEUE_USED_HIGH 0x0a4
#define MMIO_CONFIG_GENERATION 0x0fc
#define MMIO_CONFIG 0x100

#define MMIO_MAGIC_VALUE 0x74726976 /* "virt" */
#define MMIO_VENDOR_VALUE 0x48545242 /* "BRTH" */

struct mmio {
  struct vt t; /* first: d->transport_priv points at both */
  uint64_t base;
};

static uint32_t read_reg (struct mmio *m, uint64_t off)
{
  struct vt *t = &m->t;
  struct virtio_dev *d = t->d;
  struct virtqueue *q = vt_queue (t);
  switch (off)
    {
    case MMIO_MAGIC: return MMIO_MAGIC_VALUE;
    case MMIO_VERSION: return 2;
    case MMIO_DEVICE_ID: return d->ops->device_id;
    case MMIO_VENDOR_ID: return MMIO_VENDOR_VALUE;
    case MMIO_DEVICE_FEATURES: return vt_device_features (t);
    case MMIO_QUEUE_NUM_MAX: return q ? q->max_size : 0;
    case MMIO_QUEUE_READY: return q ? q->ready : 0;
    case MMIO_INTERRUPT_STATUS: return vt_isr_read (t, false);
    case MMIO_STATUS: return vt_status (t);
    case MMIO_CONFIG_GENERATION: return __atomic_load_n (&d->config_generation, __ATOMIC_ACQUIRE);
    default: return 0; /* write-only or reserved */
    }
}

static void set_half (uint64_t *addr, bool high, uint32_t v)
{
  *addr = high ? (*addr & 0xffffffffULL) | (uint64_t) v << 32 : (*addr & ~0xffffffffULL) | v;
}

static void write_queue_addr (struct vt *t, uint64_t off, uint32_t v)
{
  struct virtqueue *q = vt_queue (t);
  if (!vt_queue_writable (t))
    return;
  switch (off)
    {
    case MMIO_QUEUE_DESC_LOW: set_half (&q->desc_gpa, false, v); break;
    case MMIO_QUEUE_DESC_HIGH: set_half (&q->desc_gpa, true, v); break;
    case MMIO_QUEUE_AVAIL_LOW: set_half (&q->avail_gpa, false, v); break;
    case MMIO_QUEUE_AVAIL_HIGH: set_half (&q->avail_gpa, true, v); break;
    case MMIO_QUEUE_USED_LOW: set_half (&q->used_gpa, false, v); break;
    case MMIO_QUEUE_USED_HIGH: set_half (&q->used_gpa, true, v); break;
    }
}

static void write_reg (struct mmio *m, uint64_t off, uint32_t v)
{
  struct vt *t = &m->t;
  struct virtqueue *q = vt_queue (t);
  switch (off)
    {
    case MMIO_DEVICE_FEATURES_SEL: t->dev_features_sel = v; break;
    case MMIO_DRIVER_FEATURES: vt_driver_features (t, v); break;
    case MMIO_DRIVER_FEATURES_SEL: t->drv_features_sel = v; break;
    case MMIO_QUEUE_SEL: t->queue_sel = (uint16_t) (v > 0xffff ? 0xffff : v); break;
    case MMIO_QUEUE_NUM: vt_queue_set_size (t, v); break;
    case MMIO_QUEUE_READY:
      /* Ready goes up before DRIVER_OK; a driver may take it down again. */
      if (q && (v == 0 || vt_queue_writable (t)))
        q->ready = v == 1;
      break;
    case MMIO_QUEUE_NOTIFY:
      if (!t->ioeventfds)
        vt_kick_trapped (t, v);
      break;
    case MMIO_INTERRUPT_ACK: vt_isr_ack (t, v); break;
    case MMIO_STATUS: vt_set_status (t, (uint8_t) v); break;
    default: write_queue_addr (t, off, v); break;
    }
}

static void mmio_read (void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
  struct mmio *m = opaque;
  if (off >= MMIO_CONFIG)
    {
      vt_config_read (&m->t, off - MMIO_CONFIG, data, len);
      return;
    }
  /* Registers are 32-bit wide and aligned (4.2.2.2); anything else reads 0. */
  if (len != 4 || (off & 3))
    {
      vt_put_le (data, len, 0);
      return;
    }
  pthread_mutex_lock (&m->t.lock);
  vt_put_le (data, 4, read_reg (m, off));
  pthread_mutex_unlock (&m->t.lock);
}

static void mmio_write (void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
  struct mmio *m = opaque;
  if (off >= MMIO_CONFIG)
    {
      vt_config_write (&m->t, off - MMIO_CONFIG, data, len);
      return;
    }
  if (len != 4 || (off & 3))
    return;
  pthread_mutex_lock (&m->t.lock);
  write_reg (m, off, vt_le (data, 4));
  pthread_mutex_unlock (&m->t.lock);
}

static const struct bus_ops mmio_ops = { .read = mmio_read, .write = mmio_write };

static uint64_t notify_addr (struct vt *t, uint16_t q)
{
  return ((struct mmio *) (void *) t)->base + MMIO_QUEUE_NOTIFY;
}

static void mmio_free (struct vt *t)
{
  free (t);
}

int virtio_mmio_attach (struct virtio_dev *d, struct virtio_host *h, struct bus *mmio, uint64_t base, uint32_t gsi,
                        char **cmdline_arg, berth_err *err)
{
  struct mmio *m = calloc (1, sizeof *m);
  if (m == NULL)
    return berth_fail (err, ENOMEM, "%s: virtio-mmio", d->id);
  m->base = base;
  vt_init (&m->t, d, h, gsi, m);
  m->t.free = mmio_free;
  int r = vt_setup_kicks (&m->t, notify_addr, 4, false, err);
  if (r == 0 && mmio)
    r = bus_register (mmio, base, VIRTIO_MMIO_SIZE, &mmio_ops, m, err);
  if (r == 0 && cmdline_arg
      && asprintf (cmdline_arg, "virtio_mmio.device=4K@0x%llx:%u", (unsigned long long) base, gsi) < 0)
    r = berth_fail (err, ENOMEM, "%s: command line", d->id);
  if (r < 0)
    {
      virtio_transport_detach (d);
      return berth_error_prefix (err, "%s: virtio-mmio at 0x%llx", d->id, (unsigned long long) base);
    }
  return 0;
}

/* For tests and for a VMM core that dispatches without the bus. */
const struct bus_ops *virtio_mmio_bus_ops (void)
{
  return &mmio_ops;
}
