/* Split virtqueues against fake guest memory, including a hostile driver:
 * every malformed ring must stop the queue with -EINVAL, never crash or
 * reach host memory outside the guest (guard pages around the fake RAM
 * turn such an access into a crash, which fails the test). */
#include <errno.h>
#include <stdlib.h>

#include "unit.h"
#include "vmm_fake.h"

#define QGPA (FAKE_GPA + 0x1000)
#define BUF (FAKE_GPA + 0x10000)
#define END (FAKE_GPA + FAKE_SIZE)

static struct virtqueue q;
static struct fake_vq v;
static struct virtq_chain chain;

static void setup (uint16_t size)
{
  fake_mem_init ();
  memset (&q, 0, sizeof q);
  q.max_size = 256;
  q.kick_fd = -1;
  fake_vq_init (&v, QGPA, size);
  fake_vq_attach (&v, &q);
}

static bool iov_inside_guest (const struct iovec *iov, unsigned n)
{
  for (unsigned i = 0; i < n; i++)
    {
      uint8_t *p = iov[i].iov_base;
      if (p < fake_base || p + iov[i].iov_len > fake_base + FAKE_SIZE || p + iov[i].iov_len < p)
        return false;
    }
  return true;
}

/* One descriptor at index 0 with the given fields, published; pop. */
static int pop_single (uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
  fake_set_desc (&v, 0, addr, len, flags, next);
  fake_publish (&v, 0);
  return virtq_pop (&q, &fake_mem, &chain);
}

TEST (vq_empty_ring)
{
  setup (8);
  CHECK (virtq_pop (&q, &fake_mem, &chain) == 0);
  q.ready = false;
  CHECK (virtq_pop (&q, &fake_mem, &chain) == 0);
}

TEST (vq_out_then_in_chain)
{
  setup (8);
  memcpy (gpa_ptr (BUF), "request", 7);
  uint64_t addr[] = { BUF, BUF + 0x100, BUF + 0x200 };
  uint32_t len[] = { 7, 16, 32 };
  uint16_t head = fake_chain (&v, 3, 1, addr, len);
  fake_publish (&v, head);
  CHECK (virtq_pop (&q, &fake_mem, &chain) == 1);
  CHECK (chain.head == head);
  CHECK (chain.n_out == 1 && chain.n_in == 2);
  CHECK (chain.out_len == 7 && chain.in_len == 48);
  CHECK (chain.out[0].iov_base == gpa_ptr (BUF));
  CHECK (chain.in[1].iov_base == gpa_ptr (BUF + 0x200));
  char req[8] = { 0 };
  CHECK (iov_to_buf (chain.out, chain.n_out, 0, req, sizeof req) == 7);
  CHECK_STR (req, "request");
  CHECK (buf_to_iov (chain.in, chain.n_in, 10, "0123456789abcdef", 16) == 16);
  CHECK (memcmp (gpa_ptr (BUF + 0x100 + 10), "012345", 6) == 0);
  CHECK (memcmp (gpa_ptr (BUF + 0x200), "6789abcdef", 10) == 0);
  CHECK (virtq_push (&q, &fake_mem, head, 26) == 0);
  CHECK (fake_used_idx (&v) == 1);
  uint32_t id, l;
  fake_used_elem (&v, 0, &id, &l);
  CHECK (id == head && l == 26);
  CHECK (virtq_pop (&q, &fake_mem, &chain) == 0);
}

TEST (vq_indices_wrap_around_16_bits)
{
  setup (4);
  q.last_avail = 65534;
  q.used_idx = 65534;
  q.signalled_used = 65534;
  v.avail_idx = 65534;
  for (int i = 0; i < 5; i++)
    {
      uint64_t addr[] = { BUF };
      uint32_t len[] = { 4 };
      uint16_t head = fake_chain (&v, 1, 0, addr, len);
      fake_publish (&v, head);
      CHECK (virtq_pop (&q, &fake_mem, &chain) == 1);
      CHECK (chain.head == head && chain.n_in == 1);
      CHECK (virtq_push (&q, &fake_mem, head, 4) == 0);
    }
  CHECK (q.last_avail == 3 && fake_used_idx (&v) == 3);
}

TEST (vq_hostile_addresses_outside_guest)
{
  static const struct { uint64_t addr; uint32_t len; } bad[] = {
    { 0, 16 },                       /* below guest RAM */
    { FAKE_GPA - 8, 16 },            /* straddles the start */
    { END - 8, 16 },                 /* straddles the end */
    { END, 1 },                      /* just past the end */
    { 0xfffffffffffff000ULL, 0x2000 }, /* wraps around 2^64 */
    { FAKE_GPA, 0xffffffffu },       /* longer than guest RAM */
  };
  for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
    for (int writable = 0; writable < 2; writable++)
      {
        setup (8);
        CHECK (pop_single (bad[i].addr, bad[i].len, writable ? FD_WRITE : 0, 0) == -EINVAL);
        CHECK (q.broken);
        /* A broken queue stays stopped. */
        CHECK (virtq_pop (&q, &fake_mem, &chain) == -EINVAL);
      }
}

TEST (vq_hostile_descriptor_loops)
{
  setup (8);
  CHECK (pop_single (BUF, 4, FD_NEXT, 0) == -EINVAL); /* to itself */
  setup (8);
  fake_set_desc (&v, 0, BUF, 4, FD_NEXT, 1);
  fake_set_desc (&v, 1, BUF, 4, FD_NEXT, 2);
  fake_set_desc (&v, 2, BUF, 4, FD_NEXT, 0);
  fake_publish (&v, 0);
  CHECK (virtq_pop (&q, &fake_mem, &chain) == -EINVAL);
  /* Zero-length descriptors in a loop cost budget too. */
  setup (8);
  fake_set_desc (&v, 0, BUF, 0, FD_NEXT, 1);
  fake_set_desc (&v, 1, BUF, 0, FD_NEXT, 0);
  fake_publish (&v, 0);
  CHECK (virtq_pop (&q, &fake_mem, &chain) == -EINVAL);
}

TEST (vq_zero_length_descriptors_are_skipped)
{
  setup (8);
  /* A zero-length buffer at an address outside RAM is never touched. */
  fake_set_desc (&v, 0, 0xdead0000ULL, 0, FD_NEXT, 1);
  fake_set_desc (&v, 1, BUF, 8, FD_NEXT | FD_WRITE, 2);
  fake_set_desc (&v, 2, END + 4096, 0, FD_WRITE, 0);
  fake_publish (&v, 0);
  CHECK (virtq_pop (&q, &fake_mem, &chain) == 1);
  CHECK (chain.n_out == 0 && chain.n_in == 1 && chain.in_len == 8);
}

TEST (vq_chain_as_long_as_the_queue)
{
  setup (8);
  uint64_t addr[8];
  uint32_t len[8];
  for (int i = 0; i < 8; i++)
    addr[i] = BUF + 64 * i, len[i] = 64;
  uint16_t head = fake_chain (&v, 8, 4, addr, len);
  fake_publish (&v, head);
  CHECK (virtq_pop (&q, &fake_mem, &chain) == 1);
  CHECK (chain.n_out == 4 && chain.n_in == 4);
}

TEST (vq_hostile_indices)
{
  setup (8);
  fake_set_desc (&v, 0, BUF, 4, 0, 0);
  fake_publish (&v, 8); /* head beyond the table */
  CHECK (virtq_pop (&q, &fake_mem, &chain) == -EINVAL);
  setup (8);
  CHECK (pop_single (BUF, 4, FD_NEXT, 200) == -EINVAL); /* next beyond */
  setup (8);
  /* The avail index jumps by more than the queue size. */
  uint16_t *avail = gpa_ptr (v.avail);
  avail[1] = 9;
  CHECK (virtq_pop (&q, &fake_mem, &chain) == -EINVAL);
  setup (8);
  avail = gpa_ptr (v.avail);
  avail[1] = 0xffff; /* "backwards": 65535 pending */
  CHECK (virtq_pop (&q, &fake_mem, &chain) == -EINVAL);
}

TEST (vq_readable_after_writable_is_refused)
{
  setup (8);
  fake_set_desc (&v, 0, BUF, 4, FD_NEXT | FD_WRITE, 1);
  fake_set_desc (&v, 1, BUF + 64, 4, 0, 0);
  fake_publish (&v, 0);
  CHECK (virtq_pop (&q, &fake_mem, &chain) == -EINVAL);
}

TEST (vq_hostile_ring_addresses)
{
  uint64_t bad[][3] = {
    { END - 16, QGPA + 0x200, QGPA + 0x400 },   /* table past the end */
    { QGPA, 0, QGPA + 0x400 },                  /* avail outside */
    { QGPA, QGPA + 0x200, END - 4 },            /* used straddles the end */
    { QGPA + 8, QGPA + 0x200, QGPA + 0x400 },   /* misaligned table */
    { QGPA, QGPA + 0x201, QGPA + 0x400 },       /* misaligned avail */
    { QGPA, QGPA + 0x200, QGPA + 0x402 },       /* misaligned used */
  };
  for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      setup (8);
      q.desc_gpa = bad[i][0], q.avail_gpa = bad[i][1], q.used_gpa = bad[i][2];
      CHECK (virtq_pop (&q, &fake_mem, &chain) == -EINVAL);
      CHECK (virtq_push (&q, &fake_mem, 0, 0) == -EINVAL || i == 0 || i == 1 || i == 3 || i == 4);
    }
  /* A size that is not a power of two, or zero. */
  setup (8);
  q.size = 6;
  CHECK (virtq_pop (&q, &fake_mem, &chain) == -EINVAL);
  setup (8);
  q.size = 0;
  CHECK (virtq_pop (&q, &fake_mem, &chain) == -EINVAL);
  /* push of a head the device never popped beyond the table */
  setup (8);
  CHECK (virtq_push (&q, &fake_mem, 8, 0) == -EINVAL);
}

#define IND (FAKE_GPA + 0x8000)

static void set_ind (unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
  ((struct fake_desc *) gpa_ptr (IND))[i] = (struct fake_desc) { addr, len, flags, next };
}

TEST (vq_indirect_table)
{
  setup (8);
  q.indirect_desc = true;
  set_ind (0, BUF, 10, FD_NEXT, 1);
  set_ind (1, BUF + 0x100, 20, FD_NEXT | FD_WRITE, 2);
  set_ind (2, BUF + 0x200, 30, FD_WRITE, 0);
  CHECK (pop_single (IND, 3 * 16, FD_INDIRECT, 0) == 1);
  CHECK (chain.head == 0 && chain.n_out == 1 && chain.n_in == 2 && chain.in_len == 50);
  CHECK (iov_inside_guest (chain.in, chain.n_in));
}

/* A table only 8-byte aligned (Linux's kmalloc with SLOB) is valid. */
TEST (vq_indirect_table_8_byte_aligned)
{
  setup (8);
  q.indirect_desc = true;
  struct fake_desc *t = gpa_ptr (IND + 8);
  t[0] = (struct fake_desc) { BUF, 16, FD_NEXT, 1 };
  t[1] = (struct fake_desc) { BUF + 0x100, 1, FD_WRITE, 0 };
  CHECK (pop_single (IND + 8, 32, FD_INDIRECT, 0) == 1);
  CHECK (chain.n_out == 1 && chain.n_in == 1);
}

TEST (vq_hostile_indirect_tables)
{
  struct { uint64_t addr; uint32_t len; uint16_t flags; bool negotiated; } bad[] = {
    { IND, 3 * 16, FD_INDIRECT, false },           /* not negotiated */
    { IND, 3 * 16, FD_INDIRECT | FD_NEXT, true },  /* INDIRECT with NEXT */
    { IND, 0, FD_INDIRECT, true },                 /* empty table */
    { IND, 20, FD_INDIRECT, true },                /* not a multiple of 16 */
    { END - 16, 32, FD_INDIRECT, true },           /* past the end */
    { IND, 16 * (VIRTQ_MAX_CHAIN + 1), FD_INDIRECT, true }, /* too long */
  };
  for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      setup (8);
      q.indirect_desc = bad[i].negotiated;
      set_ind (0, BUF, 10, FD_NEXT, 1);
      set_ind (1, BUF, 10, 0, 0);
      CHECK (pop_single (bad[i].addr, bad[i].len, bad[i].flags, 0) == -EINVAL);
    }
  /* Nested indirect. */
  setup (8);
  q.indirect_desc = true;
  set_ind (0, IND, 32, FD_INDIRECT, 0);
  CHECK (pop_single (IND, 32, FD_INDIRECT, 0) == -EINVAL);
  /* A loop inside the table, and next beyond it. */
  setup (8);
  q.indirect_desc = true;
  set_ind (0, BUF, 10, FD_NEXT, 1);
  set_ind (1, BUF, 10, FD_NEXT, 0);
  CHECK (pop_single (IND, 32, FD_INDIRECT, 0) == -EINVAL);
  setup (8);
  q.indirect_desc = true;
  set_ind (0, BUF, 10, FD_NEXT, 2);
  CHECK (pop_single (IND, 32, FD_INDIRECT, 0) == -EINVAL);
  /* A buffer in the table outside guest RAM. */
  setup (8);
  q.indirect_desc = true;
  set_ind (0, END - 4, 10, FD_WRITE, 0);
  CHECK (pop_single (IND, 16, FD_INDIRECT, 0) == -EINVAL);
}

TEST (vq_notify_suppression)
{
  setup (8);
  uint64_t addr[] = { BUF };
  uint32_t len[] = { 4 };
  fake_publish (&v, fake_chain (&v, 1, 0, addr, len));
  CHECK (virtq_pop (&q, &fake_mem, &chain) == 1);
  CHECK (!virtq_should_notify (&q, &fake_mem)); /* nothing pushed */
  CHECK (virtq_push (&q, &fake_mem, chain.head, 4) == 0);
  *fake_avail_flags (&v) = 1; /* VIRTQ_AVAIL_F_NO_INTERRUPT */
  CHECK (!virtq_should_notify (&q, &fake_mem));
  *fake_avail_flags (&v) = 0;
  fake_publish (&v, fake_chain (&v, 1, 0, addr, len));
  CHECK (virtq_pop (&q, &fake_mem, &chain) == 1);
  CHECK (virtq_push (&q, &fake_mem, chain.head, 4) == 0);
  CHECK (virtq_should_notify (&q, &fake_mem));
}

TEST (vq_event_idx)
{
  setup (8);
  q.event_idx = true;
  uint64_t addr[] = { BUF };
  uint32_t len[] = { 4 };
  /* The driver wants an interrupt only after used entry 2 (used_event 2). */
  *fake_used_event (&v) = 2;
  for (int i = 0; i < 3; i++)
    {
      fake_publish (&v, fake_chain (&v, 1, 0, addr, len));
      CHECK (virtq_pop (&q, &fake_mem, &chain) == 1);
      CHECK (*fake_avail_event (&v) == i + 1); /* kick me for the next one */
      CHECK (virtq_push (&q, &fake_mem, chain.head, 4) == 0);
      CHECK (virtq_should_notify (&q, &fake_mem) == (i == 2));
    }
  /* Empty ring: avail_event asks for a kick on the next buffer. */
  CHECK (virtq_pop (&q, &fake_mem, &chain) == 0);
  CHECK (*fake_avail_event (&v) == 3);
}

/* Random rings: whatever the driver writes, pop returns a chain entirely
 * inside guest RAM or stops the queue; never crashes. */
TEST (vq_random_hostile_rings)
{
  srand (1234);
  for (int round = 0; round < 3000; round++)
    {
      if (round % 50 == 0)
        {
          setup (16);
          q.indirect_desc = round % 100 == 0;
        }
      if (q.broken)
        {
          q.broken = false;
          q.last_avail = v.avail_idx;
        }
      for (int i = 0; i < 16; i++)
        {
          uint64_t addr = (rand () % 4 == 0) ? ((uint64_t) rand () << 33 | (uint64_t) rand ())
                                             : FAKE_GPA + (uint64_t) (rand () % (FAKE_SIZE + 0x1000));
          uint32_t len = rand () % 3 == 0 ? (uint32_t) rand () : (uint32_t) (rand () % 0x2000);
          fake_set_desc (&v, (uint16_t) i, addr, len, (uint16_t) (rand () & 7), (uint16_t) (rand () % 20));
        }
      for (int i = 0; i < 16; i++)
        ((struct fake_desc *) gpa_ptr (IND))[i]
            = (struct fake_desc) { FAKE_GPA + (uint64_t) (rand () % FAKE_SIZE), (uint32_t) (rand () % 512),
                                   (uint16_t) (rand () & 7), (uint16_t) (rand () % 18) };
      fake_set_desc (&v, (uint16_t) (rand () % 16), IND, 16 * (1 + rand () % 17), FD_INDIRECT, 0);
      fake_publish (&v, (uint16_t) (rand () % 18));
      int r = virtq_pop (&q, &fake_mem, &chain);
      CHECK (r == 1 || r == -EINVAL);
      if (r == 1)
        {
          CHECK (iov_inside_guest (chain.out, chain.n_out));
          CHECK (iov_inside_guest (chain.in, chain.n_in));
          CHECK (chain.n_out + chain.n_in <= VIRTQ_MAX_CHAIN);
          CHECK (virtq_push (&q, &fake_mem, chain.head, (uint32_t) chain.in_len) == 0);
        }
    }
}

TEST (vq_iov_helpers_stop_at_the_end)
{
  char a[4] = "abcd", b[3] = "efg";
  struct iovec iov[] = { { a, 4 }, { b, 3 } };
  char out[16] = { 0 };
  CHECK (iov_to_buf (iov, 2, 2, out, sizeof out) == 5);
  CHECK (memcmp (out, "cdefg", 5) == 0);
  CHECK (iov_to_buf (iov, 2, 9, out, sizeof out) == 0);
  CHECK (buf_to_iov (iov, 2, 3, "XYZWVUT", 7) == 4);
  CHECK (memcmp (a, "abcX", 4) == 0 && memcmp (b, "YZW", 3) == 0);
  struct iovec s[4];
  CHECK (iov_slice (iov, 2, 3, 2, s, 4) == 2);
  CHECK (s[0].iov_base == a + 3 && s[0].iov_len == 1 && s[1].iov_base == b && s[1].iov_len == 1);
}

/* The common device code: complete interrupts through the transport,
 * fail sets NEEDS_RESET and tells the driver. */
static unsigned irq_count, irq_reason;
static void count_irq (struct virtio_dev *d, uint32_t reason, uint16_t qi)
{
  irq_count++;
  irq_reason |= reason;
}

TEST (vq_complete_and_fail)
{
  setup (8);
  static const struct virtio_dev_ops ops = { .name = "test", .num_queues = 1, .queue_size = 8 };
  static const struct virtio_transport tr = { .interrupt = count_irq };
  struct virtio_dev d;
  virtio_dev_init (&d, &ops, &fake_mem, NULL, "t0");
  CHECK (d.vq[0].kick_fd == -1 && d.vq[0].max_size == 8 && d.vq[1].max_size == 0);
  d.transport = &tr;
  d.status = VIRTIO_STATUS_DRIVER_OK;
  fake_vq_attach (&v, &d.vq[0]);
  uint64_t addr[] = { BUF };
  uint32_t len[] = { 4 };
  fake_publish (&v, fake_chain (&v, 1, 0, addr, len));
  CHECK (virtq_pop (&d.vq[0], &fake_mem, &chain) == 1);
  virtio_complete (&d, 0, chain.head, 4);
  CHECK (irq_count == 1 && irq_reason == VIRTIO_INT_USED);
  CHECK (fake_used_idx (&v) == 1);
  virtio_dev_fail (&d);
  CHECK (d.status & VIRTIO_STATUS_NEEDS_RESET);
  CHECK (irq_count == 2 && (irq_reason & VIRTIO_INT_CONFIG));
  CHECK (!virtio_dev_running (&d));
  uint32_t gen = d.config_generation;
  virtio_config_changed (&d);
  CHECK (d.config_generation == gen + 1 && irq_count == 3);
}

/* A full-size direct chain ending in a full indirect table: more buffers
 * than a chain holds, refused (not written past the iovec arrays). */
TEST (vq_direct_plus_indirect_too_long)
{
  setup (256);
  q.indirect_desc = true;
  for (int i = 0; i < 255; i++)
    fake_set_desc (&v, (uint16_t) i, BUF, 4, FD_NEXT | FD_WRITE, (uint16_t) (i + 1));
  fake_set_desc (&v, 255, IND, 16 * 256, FD_INDIRECT, 0);
  for (int i = 0; i < 256; i++)
    set_ind ((unsigned) i, BUF, 4, (uint16_t) (FD_WRITE | (i < 255 ? FD_NEXT : 0)), (uint16_t) (i + 1));
  fake_publish (&v, 0);
  CHECK (virtq_pop (&q, &fake_mem, &chain) == -EINVAL);
}
