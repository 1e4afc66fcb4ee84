/* virtio 1.x devices, independent of their transport (after kvmtool).
 *
 * A device (blk, net, rng, balloon, vsock, console) fills a
 * struct virtio_dev_ops and embeds a struct virtio_dev.  A transport
 * (virtio-mmio or virtio-pci) owns the register interface the driver sees:
 * feature negotiation, device status, queue set-up, the config window and
 * interrupts.  It calls the device through its ops and never knows which
 * device it is; the device never knows its transport.
 *
 * Threads: transports run register accesses on the vCPU thread that
 * exited, and hand everything else to the device event loop.  A kicked
 * queue arrives at ops->queue_notify on the loop thread (through the
 * queue's ioeventfd, or, without one, the transport signals the same
 * eventfd from the trapped write).  ops->activate and ops->reset are
 * called through evloop_call, so device state is only ever touched on the
 * loop thread.
 *
 * Only modern virtio (VIRTIO_F_VERSION_1) is offered; split virtqueues,
 * with VIRTIO_RING_F_EVENT_IDX and VIRTIO_RING_F_INDIRECT_DESC. */
#ifndef BERTH_VMM_VIRTIO_H
#define BERTH_VMM_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/error.h"
#include "vmm/guest-mem.h"

struct evloop;

/* Device ids (virtio 1.x, 5 "Device Types"). */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_VSOCK 19

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* Transport-independent feature bits. */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

#define VIRTIO_MAX_QUEUES 8
#define VIRTQ_MAX_SIZE 256

/* One split virtqueue (2.7).  The transport fills the addresses, size and
 * ready from the driver's writes; the virtqueue code (virtqueue.c) only
 * ever reads the rings through guest_mem_ptr(). */
struct virtqueue {
  uint16_t size;      /* negotiated, a power of 2, <= max_size */
  uint16_t max_size;  /* what the device offers */
  bool ready;
  uint64_t desc_gpa, avail_gpa, used_gpa;
  uint16_t last_avail; /* next avail ring index the device will take */
  uint16_t used_idx;   /* next used ring index the device will write */
  bool event_idx;      /* VIRTIO_RING_F_EVENT_IDX negotiated */
  bool indirect_desc;  /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
  uint16_t signalled_used; /* used_idx at the last interrupt (event idx) */
  bool broken;        /* the driver gave a malformed chain: queue stopped */
  int kick_fd;        /* eventfd the driver's notifications arrive on, or -1 */
};

/* One descriptor chain taken from the avail ring, as host iovecs.  The
 * device-readable buffers (out) come first in a chain; device-writable
 * ones (in) follow (2.7.4.2).  A device must not read from in[] or write
 * to out[]. */
#define VIRTQ_MAX_CHAIN VIRTQ_MAX_SIZE
struct virtq_chain {
  uint16_t head;
  unsigned n_out, n_in;
  struct iovec out[VIRTQ_MAX_CHAIN];
  struct iovec in[VIRTQ_MAX_CHAIN];
  uint64_t out_len, in_len; /* byte totals */
};

/* Take the next available chain.  Returns 1 with *chain filled, 0 if the
 * ring is empty, or -EINVAL if the driver's ring or chain is malformed
 * (address outside guest memory, a loop, more descriptors than the queue
 * size, a readable descriptor after a writable one, a nested indirect
 * table, an avail index that moved by more than the queue size): the queue
 * is then marked broken and the device should set NEEDS_RESET. */
int virtq_pop (struct virtqueue *q, const struct guest_mem *mem, struct virtq_chain *chain);
/* Put the last popped chain back (a rate limiter said wait, or the host
 * had nothing for an rx buffer); the next pop returns it again. */
void virtq_unpop (struct virtqueue *q);
/* Return chain HEAD to the driver with LEN bytes written into its in[]. */
int virtq_push (struct virtqueue *q, const struct guest_mem *mem, uint16_t head, uint32_t len);
/* Whether the driver wants an interrupt for what was pushed since the last
 * one (VIRTQ_AVAIL_F_NO_INTERRUPT or used_event); updates signalled_used. */
bool virtq_should_notify (struct virtqueue *q, const struct guest_mem *mem);
/* Forget the ring state (device reset). */
void virtq_reset (struct virtqueue *q);

/* Helpers to copy between a chain's iovecs and flat buffers; they return
 * bytes copied (never past the iovecs' ends). */
size_t iov_to_buf (const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len);
size_t buf_to_iov (const struct iovec *iov, unsigned n, size_t skip, const void *buf, size_t len);
/* Describe bytes [SKIP, SKIP+LEN) of IOV in OUT (at most MAX entries, no
 * copy); returns the number of entries used. */
unsigned iov_slice (const struct iovec *iov, unsigned n, size_t skip, size_t len, struct iovec *out, unsigned max);

struct virtio_dev;

struct virtio_dev_ops {
  const char *name;    /* "virtio-blk", ... for messages */
  uint32_t device_id;  /* VIRTIO_ID_* */
  uint16_t num_queues;
  uint16_t queue_size; /* max size offered for every queue */
  uint64_t features;   /* device feature bits offered, VERSION_1 included */
  uint32_t config_size;
  /* Read/write the device-specific config space; OFFSET+LEN is within
   * config_size (the transport checks). */
  void (*config_read) (struct virtio_dev *d, uint32_t offset, void *data, uint32_t len);
  void (*config_write) (struct virtio_dev *d, uint32_t offset, const void *data, uint32_t len);
  /* The driver set DRIVER_OK: queues are set up, features final. */
  int (*activate) (struct virtio_dev *d);
  /* The driver wrote 0 to status: drop in-flight work, forget state. */
  void (*reset) (struct virtio_dev *d);
  /* Queue Q was kicked (loop thread). */
  void (*queue_notify) (struct virtio_dev *d, uint16_t q);
  /* Free the device's own state (after the transport is gone). */
  void (*destroy) (struct virtio_dev *d);
};

/* How a transport raises this device's interrupt; set by the transport
 * when it attaches.  REASON is VIRTIO_INT_USED or VIRTIO_INT_CONFIG. */
#define VIRTIO_INT_USED 1
#define VIRTIO_INT_CONFIG 2
struct virtio_transport {
  void (*interrupt) (struct virtio_dev *d, uint32_t reason, uint16_t q);
};

/* The common state of every device.  Devices embed it first and get their
 * own struct back with container_of-style casts. */
struct virtio_dev {
  const struct virtio_dev_ops *ops;
  const struct guest_mem *mem;
  struct evloop *loop;
  uint64_t driver_features; /* accepted by the driver (FEATURES_OK) */
  uint8_t status;
  uint32_t config_generation;
  struct virtqueue vq[VIRTIO_MAX_QUEUES];
  const struct virtio_transport *transport;
  void *transport_priv;
  char id[64]; /* the user's id of the device (drive_id, iface_id, ...) */
};

/* Fill the common part; queues get max_size from ops and kick_fd -1. */
void virtio_dev_init (struct virtio_dev *d, const struct virtio_dev_ops *ops, const struct guest_mem *mem,
                      struct evloop *loop, const char *id);
/* Push then interrupt if virtq_should_notify() says so. */
void virtio_complete (struct virtio_dev *d, uint16_t q, uint16_t head, uint32_t len);
/* Tell the driver the config changed (balloon target, ...). */
void virtio_config_changed (struct virtio_dev *d);
/* A malformed queue: set NEEDS_RESET and notify the driver. */
void virtio_dev_fail (struct virtio_dev *d);
/* DRIVER_OK is set and neither NEEDS_RESET nor FAILED: queues may run. */
bool virtio_dev_running (const struct virtio_dev *d);

/* What a transport needs from the VM.  The VMM core fills it with KVM
 * calls; unit tests fill it with fakes. */
struct virtio_host {
  const struct guest_mem *mem;
  struct evloop *loop;
  /* Have KVM signal FD when the guest writes VALUE (LEN bytes) at ADDR
   * (PIO or MMIO).  May be NULL: the transport then signals FD itself
   * when it sees the trapped write. */
  int (*ioeventfd) (struct virtio_host *h, uint64_t addr, uint32_t len, bool pio, uint64_t value, int fd);
  /* Raise interrupt line GSI (edge: KVM_IRQFD eventfd or KVM_IRQ_LINE
   * pulse). */
  void (*irq) (struct virtio_host *h, uint32_t gsi);
  void *opaque;
};

#endif
