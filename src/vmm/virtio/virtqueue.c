/* Split virtqueues (virtio 1.x, 2.7), from the device's side.
 *
 * The rings live in guest memory, which the guest's vCPUs change while we
 * read it: every index and descriptor is read once into a local copy and
 * checked there, never re-read after the check (no TOCTOU).  The guest
 * controls every value, so every address goes through guest_mem_ptr() and
 * every count is bounded by the queue size: a hostile driver can make its
 * own queue stop (broken), never make the VMM read or write host memory
 * outside guest RAM or loop forever. */
#include <errno.h>
#include <string.h>

#include "vmm/virtio/virtio.h"

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct vring_desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};

/* Guest views of the three ring parts, valid for one call. */
struct rings {
  struct vring_desc *desc;
  uint16_t *avail; /* flags, idx, ring[size], used_event */
  uint16_t *used;  /* flags, idx, then {u32 id, u32 len}[size], avail_event */
};

static bool map_rings (const struct virtqueue *q, const struct guest_mem *mem, struct rings *r)
{
  if (!q->ready || q->size == 0 || (q->size & (q->size - 1)) || q->size > VIRTQ_MAX_SIZE)
    return false;
  /* Alignments of 2.7: the device accesses the fields naturally aligned. */
  if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
    return false;
  r->desc = guest_mem_ptr (mem, q->desc_gpa, 16ULL * q->size);
  r->avail = guest_mem_ptr (mem, q->avail_gpa, 6ULL + 2ULL * q->size);
  r->used = guest_mem_ptr (mem, q->used_gpa, 6ULL + 8ULL * q->size);
  return r->desc && r->avail && r->used;
}

static uint16_t load16 (const uint16_t *p)
{
  return __atomic_load_n (p, __ATOMIC_ACQUIRE);
}

static void store16 (uint16_t *p, uint16_t v)
{
  __atomic_store_n (p, v, __ATOMIC_RELEASE);
}

static struct vring_desc read_desc (const struct vring_desc *table, uint32_t i)
{
  struct vring_desc d;
  /* One relaxed copy: the guest may rewrite it, we use only this copy. */
  memcpy (&d, (const void *) &table[i], sizeof d);
  __atomic_signal_fence (__ATOMIC_SEQ_CST);
  return d;
}

static int broken (struct virtqueue *q)
{
  q->broken = true;
  return -EINVAL;
}

/* Add one buffer to the chain, keeping readable ones before writable. */
static int add_buffer (struct virtq_chain *c, const struct guest_mem *mem, const struct vring_desc *d)
{
  bool writable = d->flags & VIRTQ_DESC_F_WRITE;
  if (!writable && c->n_in > 0)
    return -EINVAL; /* readable after writable (2.7.4.2) */
  if (d->len == 0)
    return 0; /* nothing to transfer; never dereferenced */
  if (c->n_out + c->n_in >= VIRTQ_MAX_CHAIN)
    return -EINVAL; /* direct part plus indirect table: more than a chain holds */
  void *p = guest_mem_ptr (mem, d->addr, d->len);
  if (p == NULL)
    return -EINVAL;
  if (writable)
    {
      c->in[c->n_in++] = (struct iovec) { .iov_base = p, .iov_len = d->len };
      c->in_len += d->len;
    }
  else
    {
      c->out[c->n_out++] = (struct iovec) { .iov_base = p, .iov_len = d->len };
      c->out_len += d->len;
    }
  return 0;
}

/* Walk an indirect table (2.7.5.3): its own NEXT links index into it; it
 * may not contain another indirect descriptor. */
static int walk_indirect (const struct guest_mem *mem, const struct vring_desc *ind, struct virtq_chain *c,
                          unsigned *budget)
{
  /* No alignment is required of an indirect table (kmalloc with SLOB
   * gives 8-byte alignment); read_desc copies, so any address is safe. */
  if (ind->len == 0 || ind->len % sizeof (struct vring_desc))
    return -EINVAL;
  uint32_t n = ind->len / sizeof (struct vring_desc);
  if (n > VIRTQ_MAX_CHAIN)
    return -EINVAL;
  const struct vring_desc *table = guest_mem_ptr (mem, ind->addr, ind->len);
  if (table == NULL)
    return -EINVAL;
  uint32_t i = 0;
  for (;;)
    {
      if ((*budget)-- == 0)
        return -EINVAL; /* a loop inside the table, or too long */
      struct vring_desc d = read_desc (table, i);
      if (d.flags & VIRTQ_DESC_F_INDIRECT)
        return -EINVAL; /* nested indirect */
      int r = add_buffer (c, mem, &d);
      if (r < 0)
        return r;
      if (!(d.flags & VIRTQ_DESC_F_NEXT))
        return 0;
      if (d.next >= n)
        return -EINVAL;
      i = d.next;
    }
}

static int walk_chain (const struct virtqueue *q, const struct guest_mem *mem, const struct rings *r, uint16_t head,
                       struct virtq_chain *c)
{
  /* Every descriptor visited costs one unit; a chain can hold at most the
   * queue size (direct) or VIRTQ_MAX_CHAIN (with its indirect table), so
   * a loop is found within that many steps. */
  unsigned budget = q->size;
  unsigned ind_budget = VIRTQ_MAX_CHAIN;
  uint16_t i = head;
  for (;;)
    {
      if (i >= q->size || budget-- == 0)
        return -EINVAL;
      struct vring_desc d = read_desc (r->desc, i);
      if (d.flags & VIRTQ_DESC_F_INDIRECT)
        {
          if (!q->indirect_desc || (d.flags & VIRTQ_DESC_F_NEXT))
            return -EINVAL;
          return walk_indirect (mem, &d, c, &ind_budget);
        }
      int rr = add_buffer (c, mem, &d);
      if (rr < 0)
        return rr;
      if (!(d.flags & VIRTQ_DESC_F_NEXT))
        return 0;
      i = d.next;
    }
}

/* With EVENT_IDX, ask the driver to kick when it publishes avail entry
 * number VALUE (2.7.10). */
static void set_avail_event (struct virtqueue *q, const struct rings *r, uint16_t value)
{
  if (q->event_idx)
    store16 (&r->used[2 + 4 * q->size], value);
}

int virtq_pop (struct virtqueue *q, const struct guest_mem *mem, struct virtq_chain *chain)
{
  if (q->broken)
    return -EINVAL;
  struct rings r;
  if (!q->ready)
    return 0;
  if (!map_rings (q, mem, &r))
    return broken (q);
  uint16_t avail_idx = load16 (&r.avail[1]);
  uint16_t pending = (uint16_t) (avail_idx - q->last_avail);
  if (pending == 0)
    {
      /* Re-check after publishing avail_event, so a buffer added between
       * the two reads is not left waiting for a kick that never comes. */
      set_avail_event (q, &r, q->last_avail);
      __atomic_thread_fence (__ATOMIC_SEQ_CST);
      avail_idx = load16 (&r.avail[1]);
      pending = (uint16_t) (avail_idx - q->last_avail);
      if (pending == 0)
        return 0;
    }
  if (pending > q->size)
    return broken (q); /* the avail index jumped */
  uint16_t head = load16 (&r.avail[2 + (q->last_avail & (q->size - 1))]);
  chain->head = head;
  chain->n_out = chain->n_in = 0;
  chain->out_len = chain->in_len = 0;
  if (walk_chain (q, mem, &r, head, chain) < 0)
    return broken (q);
  q->last_avail++;
  set_avail_event (q, &r, q->last_avail);
  return 1;
}

int virtq_push (struct virtqueue *q, const struct guest_mem *mem, uint16_t head, uint32_t len)
{
  struct rings r;
  if (!map_rings (q, mem, &r) || head >= q->size)
    return -EINVAL;
  uint32_t *elem = (uint32_t *) (void *) &r.used[2 + 4 * (q->used_idx & (q->size - 1))];
  __atomic_store_n (&elem[0], (uint32_t) head, __ATOMIC_RELAXED);
  __atomic_store_n (&elem[1], len, __ATOMIC_RELAXED);
  q->used_idx++;
  store16 (&r.used[1], q->used_idx); /* release: the element is visible first */
  return 0;
}

bool virtq_should_notify (struct virtqueue *q, const struct guest_mem *mem)
{
  struct rings r;
  if (!map_rings (q, mem, &r))
    return false;
  /* The used index store must be visible before we read the driver's
   * suppression fields, or we race with a driver re-enabling them. */
  __atomic_thread_fence (__ATOMIC_SEQ_CST);
  uint16_t old = q->signalled_used, now = q->used_idx;
  if (old == now)
    return false;
  q->signalled_used = now;
  if (q->event_idx)
    {
      uint16_t used_event = load16 (&r.avail[2 + q->size]);
      return (uint16_t) (now - used_event - 1) < (uint16_t) (now - old);
    }
  return !(load16 (&r.avail[0]) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

void virtq_reset (struct virtqueue *q)
{
  uint16_t max = q->max_size;
  int fd = q->kick_fd;
  memset (q, 0, sizeof *q);
  q->max_size = max;
  q->size = max;
  q->kick_fd = fd;
}

void virtq_unpop (struct virtqueue *q)
{
  q->last_avail--;
}
