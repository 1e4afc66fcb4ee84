/* What virtio-mmio and virtio-pci share: feature negotiation, the device
 * status state machine, queue kicks (eventfds on the event loop), the
 * interrupt status bits and device-config window checks.  Private to the
 * two transports (mmio.c, virtio-pci.c).
 *
 * Register accesses arrive on vCPU threads and take LOCK; activate and
 * reset go to the device on the loop thread (evloop_call).  The interrupt
 * path (loop thread) only touches ISR atomically, never LOCK, so a vCPU
 * waiting in evloop_call while holding LOCK cannot deadlock with it. */
#ifndef BERTH_VMM_VIRTIO_VTRANSPORT_H
#define BERTH_VMM_VIRTIO_VTRANSPORT_H

#include <pthread.h>

#include "vmm/virtio/virtio.h"

struct vt;

struct vt_kick {
  struct vt *t;
  uint16_t q;
  int fd; /* eventfd, also d->vq[q].kick_fd */
};

struct vt {
  struct virtio_dev *d;
  struct virtio_host *h;
  uint32_t gsi;
  pthread_mutex_t lock;
  uint32_t dev_features_sel, drv_features_sel;
  uint16_t queue_sel;
  uint32_t isr; /* atomic: VIRTIO_INT_USED | VIRTIO_INT_CONFIG */
  bool ioeventfds; /* kicks reach the eventfds without us (KVM) */
  struct vt_kick kicks[VIRTIO_MAX_QUEUES];
  struct virtio_transport ops;
  void (*free) (struct vt *t); /* frees the containing transport */
};

/* Set up T for D (d->transport, d->transport_priv = PRIV). */
void vt_init (struct vt *t, struct virtio_dev *d, struct virtio_host *h, uint32_t gsi, void *priv);
/* Create the queues' eventfds; register each with h->ioeventfd at
 * NOTIFY_ADDR(q) (datamatch q, LEN bytes) and on the event loop. */
int vt_setup_kicks (struct vt *t, uint64_t (*notify_addr) (struct vt *t, uint16_t q), uint32_t len, bool pio,
                    berth_err *err);
/* The guest wrote Q to a notify register that trapped (no ioeventfd). */
void vt_kick_trapped (struct vt *t, uint32_t q);
void vt_destroy (struct vt *t);

uint32_t vt_device_features (struct vt *t);   /* word dev_features_sel */
void vt_driver_features (struct vt *t, uint32_t value);
uint32_t vt_driver_features_get (struct vt *t);
uint8_t vt_status (struct vt *t);
void vt_set_status (struct vt *t, uint8_t value);
/* The selected queue, or NULL if queue_sel is beyond the device's. */
struct virtqueue *vt_queue (struct vt *t);
/* Queue fields may change only while the queue is not ready. */
bool vt_queue_writable (struct vt *t);
void vt_queue_set_size (struct vt *t, uint32_t size);
/* Read and clear (PCI) or read (mmio) / acknowledge (mmio) the ISR. */
uint32_t vt_isr_read (struct vt *t, bool clear);
void vt_isr_ack (struct vt *t, uint32_t bits);
/* Device config window: out of range reads give zeros, writes are
 * dropped. */
void vt_config_read (struct vt *t, uint64_t off, uint8_t *data, uint32_t len);
void vt_config_write (struct vt *t, uint64_t off, const uint8_t *data, uint32_t len);

/* Little-endian helpers for register data. */
static inline uint32_t vt_le (const uint8_t *data, uint32_t len)
{
  uint32_t v = 0;
  for (uint32_t i = 0; i < len && i < 4; i++)
    v |= (uint32_t) data[i] << (8 * i);
  return v;
}

static inline void vt_put_le (uint8_t *data, uint32_t len, uint64_t v)
{
  for (uint32_t i = 0; i < len; i++)
    data[i] = (uint8_t) (v >> (8 * i));
}

#endif
