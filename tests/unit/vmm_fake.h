/* Fake guest memory and a fake virtio driver for the VMM's unit tests.
 *
 * Guest memory is an mmap()ed region at FAKE_GPA with an inaccessible
 * guard page on each side: a device touching anything outside guest RAM
 * crashes the test (and ASan reports it), so "never touches memory outside
 * the guest" is checked, not assumed.  The driver side lays rings out as
 * Linux does: descriptor table, avail ring, used ring, then buffers. */
#ifndef BERTH_TEST_VMM_FAKE_H
#define BERTH_TEST_VMM_FAKE_H

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/guest-mem.h"
#include "vmm/virtio/virtio.h"

#define FAKE_GPA 0x100000ULL
#define FAKE_SIZE (4ULL << 20)

static struct guest_mem fake_mem;
static uint8_t *fake_base;

static inline void fake_mem_init (void)
{
  long pg = sysconf (_SC_PAGESIZE);
  uint8_t *p = mmap (NULL, FAKE_SIZE + 2 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    abort ();
  fake_base = p + pg;
  if (mprotect (fake_base, FAKE_SIZE, PROT_READ | PROT_WRITE) < 0)
    abort ();
  guest_mem_init_fake (&fake_mem, FAKE_GPA, fake_base, FAKE_SIZE);
}

static inline void *gpa_ptr (uint64_t gpa)
{
  return fake_base + (gpa - FAKE_GPA);
}

/* The driver's view of one split queue. */
struct fake_vq {
  uint16_t size;
  uint64_t desc, avail, used;
  uint16_t avail_idx;  /* next avail index the driver publishes */
  uint16_t used_seen;  /* used entries consumed */
  uint16_t next_desc;  /* next free descriptor (no recycling needed) */
};

struct fake_desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags, next;
};

#define FD_NEXT 1
#define FD_WRITE 2
#define FD_INDIRECT 4

/* Lay out a queue of SIZE at GPA (needs 16*size + 6+2*size + 6+8*size). */
static inline void fake_vq_init (struct fake_vq *v, uint64_t gpa, uint16_t size)
{
  memset (v, 0, sizeof *v);
  v->size = size;
  v->desc = gpa;
  v->avail = gpa + 16ULL * size;
  v->used = (v->avail + 6 + 2ULL * size + 3) & ~3ULL;
  memset (gpa_ptr (gpa), 0, (v->used + 6 + 8ULL * size) - gpa);
}

static inline void fake_vq_attach (const struct fake_vq *v, struct virtqueue *q)
{
  q->size = v->size;
  q->desc_gpa = v->desc;
  q->avail_gpa = v->avail;
  q->used_gpa = v->used;
  q->ready = true;
}

static inline struct fake_desc *fake_desc (struct fake_vq *v, uint16_t i)
{
  return (struct fake_desc *) gpa_ptr (v->desc + 16ULL * i);
}

static inline void fake_set_desc (struct fake_vq *v, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                                  uint16_t next)
{
  *fake_desc (v, i) = (struct fake_desc) { .addr = addr, .len = len, .flags = flags, .next = next };
}

/* Publish HEAD in the avail ring. */
static inline void fake_publish (struct fake_vq *v, uint16_t head)
{
  uint16_t *avail = gpa_ptr (v->avail);
  avail[2 + (v->avail_idx % v->size)] = head;
  v->avail_idx++;
  __atomic_store_n (&avail[1], v->avail_idx, __ATOMIC_RELEASE);
}

/* A chain of NBUF buffers (ADDR[i], LEN[i]); the first NOUT readable.
 * Returns the head. */
static inline uint16_t fake_chain (struct fake_vq *v, unsigned nbuf, unsigned nout, const uint64_t *addr,
                                   const uint32_t *len)
{
  uint16_t head = v->next_desc;
  for (unsigned i = 0; i < nbuf; i++)
    {
      uint16_t idx = (uint16_t) (v->next_desc++ % v->size);
      uint16_t flags = (uint16_t) ((i + 1 < nbuf ? FD_NEXT : 0) | (i >= nout ? FD_WRITE : 0));
      fake_set_desc (v, idx, addr[i], len[i], flags, (uint16_t) ((idx + 1) % v->size));
    }
  return (uint16_t) (head % v->size);
}

static inline uint16_t fake_used_idx (struct fake_vq *v)
{
  uint16_t *used = gpa_ptr (v->used);
  return __atomic_load_n (&used[1], __ATOMIC_ACQUIRE);
}

/* The I-th used element (id, len). */
static inline void fake_used_elem (struct fake_vq *v, uint16_t i, uint32_t *id, uint32_t *len)
{
  uint32_t *e = gpa_ptr (v->used + 4 + 8ULL * (i % v->size));
  *id = e[0];
  *len = e[1];
}

static inline uint16_t *fake_avail_flags (struct fake_vq *v)
{
  return gpa_ptr (v->avail);
}

static inline uint16_t *fake_used_event (struct fake_vq *v)
{
  return gpa_ptr (v->avail + 4 + 2ULL * v->size);
}

static inline uint16_t *fake_avail_event (struct fake_vq *v)
{
  return gpa_ptr (v->used + 4 + 8ULL * v->size);
}

/* A fake VM for transports: counts interrupts, no ioeventfd. */
struct fake_host {
  struct virtio_host h;
  unsigned irqs;
  uint32_t last_gsi;
};

static inline void fake_irq (struct virtio_host *h, uint32_t gsi)
{
  struct fake_host *f = (struct fake_host *) h;
  __atomic_add_fetch (&f->irqs, 1, __ATOMIC_SEQ_CST);
  f->last_gsi = gsi;
}

static inline void fake_host_init (struct fake_host *f, struct evloop *loop)
{
  memset (f, 0, sizeof *f);
  f->h.mem = &fake_mem;
  f->h.loop = loop;
  f->h.irq = fake_irq;
}

#endif
