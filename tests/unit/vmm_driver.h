/* A fake virtio-mmio driver for unit tests: it sets a device up through
 * the transport's registers as Linux's virtio_mmio does, and runs the
 * event loop until a condition holds. */
#ifndef BERTH_TEST_VMM_DRIVER_H
#define BERTH_TEST_VMM_DRIVER_H

#include "vmm/bus.h"
#include "vmm/evloop.h"
#include "vmm/virtio/devices.h"
#include "vmm/virtio/transport.h"
#include "vmm_fake.h"

#define MMIO_BASE 0xd0000000ULL

static struct bus test_mmio;

static inline uint32_t mmio_rd (uint64_t off)
{
  uint8_t b[4];
  bus_access (&test_mmio, MMIO_BASE + off, b, 4, false);
  return (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16 | (uint32_t) b[3] << 24;
}

static inline void mmio_wr (uint64_t off, uint32_t v)
{
  uint8_t b[4] = { (uint8_t) v, (uint8_t) (v >> 8), (uint8_t) (v >> 16), (uint8_t) (v >> 24) };
  bus_access (&test_mmio, MMIO_BASE + off, b, 4, true);
}

static inline uint64_t mmio_features (void)
{
  mmio_wr (0x14, 0);
  uint64_t lo = mmio_rd (0x10);
  mmio_wr (0x14, 1);
  return lo | (uint64_t) mmio_rd (0x10) << 32;
}

/* The driver's initialisation (3.1.1): reset, negotiate WANT & offered,
 * set up NQ queues of SIZE from fake_vq V[] (laid out from QGPA),
 * DRIVER_OK.  Returns the final status. */
static inline uint32_t driver_init (struct fake_vq *v, unsigned nq, uint16_t size, uint64_t qgpa, uint64_t want)
{
  mmio_wr (0x70, 0);
  mmio_wr (0x70, 1);
  mmio_wr (0x70, 1 | 2);
  uint64_t f = mmio_features () & want;
  mmio_wr (0x24, 0);
  mmio_wr (0x20, (uint32_t) f);
  mmio_wr (0x24, 1);
  mmio_wr (0x20, (uint32_t) (f >> 32));
  mmio_wr (0x70, 1 | 2 | 8);
  if (!(mmio_rd (0x70) & 8))
    return mmio_rd (0x70);
  for (unsigned q = 0; q < nq; q++)
    {
      fake_vq_init (&v[q], qgpa + 0x2000ULL * q, size);
      mmio_wr (0x30, q);
      if (mmio_rd (0x34) < size || mmio_rd (0x44) != 0)
        return 0xbad;
      mmio_wr (0x38, size);
      mmio_wr (0x80, (uint32_t) v[q].desc);
      mmio_wr (0x84, (uint32_t) (v[q].desc >> 32));
      mmio_wr (0x90, (uint32_t) v[q].avail);
      mmio_wr (0x94, (uint32_t) (v[q].avail >> 32));
      mmio_wr (0xa0, (uint32_t) v[q].used);
      mmio_wr (0xa4, (uint32_t) (v[q].used >> 32));
      mmio_wr (0x44, 1);
    }
  mmio_wr (0x70, 1 | 2 | 8 | 4);
  return mmio_rd (0x70);
}

/* Attach D on a fresh mmio bus at MMIO_BASE (GSI 5) and initialise it. */
static inline uint32_t driver_setup (struct virtio_dev *d, struct fake_host *h, uint64_t want, struct fake_vq *v,
                                     unsigned nq, uint16_t size, uint64_t qgpa)
{
  bus_init (&test_mmio, "mmio");
  berth_err err = NULL;
  char *arg = NULL;
  if (virtio_mmio_attach (d, &h->h, &test_mmio, MMIO_BASE, 5, &arg, &err) < 0)
    return 0xdead;
  free (arg);
  return driver_init (v, nq, size, qgpa, want);
}

static inline void driver_kick (uint16_t q)
{
  mmio_wr (0x50, q);
}

/* Emulate the event loop for kicks only: read the kicked eventfds and
 * call the device. */
static inline void run_kicks (struct virtio_dev *d)
{
  for (uint16_t q = 0; q < d->ops->num_queues; q++)
    {
      uint64_t n;
      if (d->vq[q].kick_fd >= 0 && read (d->vq[q].kick_fd, &n, sizeof n) == sizeof n && virtio_dev_running (d))
        d->ops->queue_notify (d, q);
    }
}

struct until {
  struct evloop *loop;
  bool (*pred) (void *);
  void *arg;
  int ticks_left;
};

static inline void until_tick (void *opaque, uint32_t ev)
{
  struct until *u = opaque;
  if (u->pred (u->arg) || --u->ticks_left <= 0)
    evloop_stop (u->loop);
}

/* Run LOOP until PRED(ARG) or TIMEOUT_MS; returns PRED's last answer. */
static inline bool run_until (struct evloop *loop, bool (*pred) (void *), void *arg, int timeout_ms)
{
  struct until u = { loop, pred, arg, timeout_ms / 5 };
  int t = evloop_timer_add (loop, 5, 5, until_tick, &u);
  if (t < 0)
    return false;
  evloop_run (loop);
  evloop_timer_del (loop, t);
  /* evloop_stop is sticky: a new loop run needs a fresh flag. */
  return pred (arg);
}

#endif
