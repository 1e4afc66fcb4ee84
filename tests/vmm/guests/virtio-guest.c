/* A minimal virtio-mmio driver run as a guest by tests/integration/
 * vmm-devices.sh: it drives berth-vmm's devices from inside a VM.
 *
 * Ring 0, freestanding, entered by start.S with RSI = the zero page (the
 * same entry and link script as guest.c).  "test=NAME" on the command line
 * picks the job: blk (write a sector, read it back), net (send one frame),
 * balloon / touch (dirty 8 MiB, then give it to the balloon or not, with
 * pauses on the serial line so the host can measure the VMM's RSS).
 *
 * Guest ring-0 code may be emulated (PVM: about 1 us per instruction), so
 * each job is a few thousand instructions plus polling; interrupts stay
 * off (IF=0, no IDT) and the driver polls the used rings. */
#include <stdint.h>

#include "guest-lib.h"

#define MMIO_FIRST 0xd0000000ULL
#define MMIO_COUNT 16

/* Guest memory the driver uses (identity-mapped, below the 16 MiB minimum). */
#define RINGS 0x400000ULL /* one 4 KiB page per queue */
#define BUFS 0x410000ULL
#define TOUCH_BASE 0x1000000ULL /* balloon: 16 MiB .. 24 MiB */
#define TOUCH_PAGES 2048u
#define QSIZE 8

static inline void barrier (void) { __asm__ volatile ("" ::: "memory"); }

/* Wait for one line on the console (the host's go-ahead). */
static void wait_line (void)
{
  for (;;)
    if ((inb (COM1 + 5) & 1) && inb (COM1) == '\n')
      return;
}

static void copy (void *d, const void *s, unsigned n)
{
  uint8_t *a = d;
  const uint8_t *b = s;
  while (n--)
    *a++ = *b++;
}

static void zero (void *d, unsigned n)
{
  uint8_t *a = d;
  while (n--)
    *a++ = 0;
}

static int same (const void *x, const void *y, unsigned n)
{
  const uint8_t *a = x, *b = y;
  while (n--)
    if (*a++ != *b++)
      return 0;
  return 1;
}

/* ---- virtio-mmio ---- */

static volatile uint32_t *reg (uint64_t base, unsigned off)
{
  return (volatile uint32_t *) (base + off);
}

static uint64_t find_device (uint32_t id)
{
  for (unsigned i = 0; i < MMIO_COUNT; i++)
    {
      uint64_t b = MMIO_FIRST + i * 0x1000ULL;
      if (*reg (b, 0) == 0x74726976 && *reg (b, 8) == id)
        return b;
    }
  return 0;
}

struct desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags, next;
};

struct vq {
  uint64_t base;
  unsigned q;
  struct desc *desc;
  volatile uint16_t *avail; /* flags, idx, ring[QSIZE], used_event */
  volatile uint16_t *used;  /* flags, idx, then elements */
  uint16_t avail_idx, used_seen;
};

/* Reset, accept VERSION_1 only, FEATURES_OK; 0 if the device refused. */
static int dev_init (uint64_t b)
{
  *reg (b, 0x70) = 0;
  *reg (b, 0x70) = 1 | 2;
  *reg (b, 0x14) = 1;
  if (!(*reg (b, 0x10) & 1))
    return 0;
  *reg (b, 0x24) = 0;
  *reg (b, 0x20) = 0;
  *reg (b, 0x24) = 1;
  *reg (b, 0x20) = 1;
  *reg (b, 0x70) = 1 | 2 | 8;
  return (*reg (b, 0x70) & 8) != 0;
}

static int vq_init (struct vq *v, uint64_t b, unsigned q)
{
  uint64_t page = RINGS + (b - MMIO_FIRST) * 4 + q * 0x1000ULL; /* 16 KiB per device */
  zero ((void *) page, 0x1000);
  v->base = b;
  v->q = q;
  v->desc = (struct desc *) page;
  v->avail = (volatile uint16_t *) (page + 0x100);
  v->used = (volatile uint16_t *) (page + 0x200);
  v->avail_idx = v->used_seen = 0;
  v->avail[0] = 1; /* VIRTQ_AVAIL_F_NO_INTERRUPT: we poll */
  *reg (b, 0x30) = q;
  if (*reg (b, 0x34) < QSIZE)
    return 0;
  *reg (b, 0x38) = QSIZE;
  *reg (b, 0x80) = (uint32_t) page;
  *reg (b, 0x84) = 0;
  *reg (b, 0x90) = (uint32_t) (page + 0x100);
  *reg (b, 0x94) = 0;
  *reg (b, 0xa0) = (uint32_t) (page + 0x200);
  *reg (b, 0xa4) = 0;
  *reg (b, 0x44) = 1;
  return 1;
}

static void dev_start (uint64_t b)
{
  *reg (b, 0x70) = 1 | 2 | 8 | 4;
}

/* Submit descriptors 0..N-1 as one chain (flags per buffer: 2 =
 * device-writable), notify, and poll for it to come back.  Returns the
 * used length. */
static uint32_t vq_run (struct vq *v, unsigned n, const uint64_t *addr, const uint32_t *len, const uint16_t *flags)
{
  for (unsigned i = 0; i < n; i++)
    {
      v->desc[i].addr = addr[i];
      v->desc[i].len = len[i];
      v->desc[i].flags = (uint16_t) (flags[i] | (i + 1 < n ? 1 : 0));
      v->desc[i].next = (uint16_t) (i + 1);
    }
  v->avail[2 + v->avail_idx % QSIZE] = 0;
  barrier ();
  v->avail[1] = ++v->avail_idx;
  barrier ();
  *reg (v->base, 0x50) = v->q;
  while (v->used[1] == v->used_seen)
    __asm__ volatile ("pause");
  barrier ();
  const volatile uint32_t *elem = (const volatile uint32_t *) (v->used + 2) + 2 * (v->used_seen % QSIZE);
  v->used_seen++;
  return elem[1];
}

/* ---- interrupts: one vector through the IOAPIC, for blk-irq ---- */

#define LAPIC 0xfee00000ULL
#define IOAPIC 0xfec00000ULL
#define IRQ_VECTOR 0x30
#define IDT_ADDR 0x420000ULL

volatile uint32_t irq_count;

/* The handler: count, EOI to the local APIC, return. */
__asm__ (".text\n"
         ".globl irq_entry\n"
         "irq_entry:\n"
         "  lock incl irq_count(%rip)\n"
         "  pushq %rax\n"
         "  movabsq $0xfee000b0, %rax\n"
         "  movl $0, (%rax)\n"
         "  popq %rax\n"
         "  iretq\n");
void irq_entry (void);

static void ioapic_write (unsigned reg, uint32_t v)
{
  *(volatile uint32_t *) IOAPIC = reg;
  *(volatile uint32_t *) (IOAPIC + 0x10) = v;
}

/* IDT with one gate, the local APIC on (LINT0 masked, so nothing from the
 * PIC), IOAPIC pin GSI -> IRQ_VECTOR, edge, to APIC 0. */
static void irq_setup (unsigned gsi)
{
  uint64_t *idt = (uint64_t *) IDT_ADDR;
  zero (idt, 256 * 16);
  uint16_t cs;
  __asm__ volatile ("mov %%cs, %0" : "=r"(cs));
  uint64_t h = (uint64_t) irq_entry;
  idt[2 * IRQ_VECTOR] = (h & 0xffff) | (uint64_t) cs << 16 | 0x8eULL << 40 | ((h >> 16) & 0xffff) << 48;
  idt[2 * IRQ_VECTOR + 1] = h >> 32;
  struct __attribute__ ((packed)) { uint16_t limit; uint64_t base; } d = { 256 * 16 - 1, IDT_ADDR };
  __asm__ volatile ("lidt %0" ::"m"(d));
  outb (0x21, 0xff);
  outb (0xa1, 0xff);
  *(volatile uint32_t *) (LAPIC + 0x350) = 0x10000; /* LVT LINT0 masked */
  *(volatile uint32_t *) (LAPIC + 0xf0) = 0x1ff;    /* software enable, spurious 0xff */
  ioapic_write (0x10 + 2 * gsi + 1, 0);
  ioapic_write (0x10 + 2 * gsi, IRQ_VECTOR);
}

/* ---- jobs ---- */

static const char sector_text[] = "berth virtio-blk sector, written by the guest";

static void job_blk (void)
{
  uint64_t b = find_device (2);
  struct vq v;
  if (!b || !dev_init (b) || !vq_init (&v, b, 0))
    {
      puts ("blk: no device\n");
      return;
    }
  dev_start (b);
  struct { uint32_t type, prio; uint64_t sector; } *hdr = (void *) BUFS;
  uint8_t *data = (uint8_t *) (BUFS + 0x1000), *status = (uint8_t *) (BUFS + 0x800);
  zero (data, 512);
  copy (data, sector_text, sizeof sector_text);
  uint64_t addr[] = { BUFS, BUFS + 0x1000, BUFS + 0x800 };
  uint32_t len[] = { 16, 512, 1 };
  uint16_t wr[] = { 0, 0, 2 }, rd[] = { 0, 2, 2 };
  hdr->type = 1; /* OUT */
  hdr->prio = 0;
  hdr->sector = 1;
  *status = 0xff;
  vq_run (&v, 3, addr, len, wr);
  if (*status != 0)
    {
      puts ("blk: write failed\n");
      return;
    }
  zero (data, 512);
  hdr->type = 0; /* IN */
  *status = 0xff;
  uint32_t used = vq_run (&v, 3, addr, len, rd);
  if (*status != 0 || used != 513 || !same (data, sector_text, sizeof sector_text))
    {
      puts ("blk: read back differs\n");
      return;
    }
  puts ("blk: sector 1 reads back: ");
  puts ((const char *) data);
  puts ("\n");
}

/* A blk read completed by interrupt: the driver lets the device interrupt
 * (no NO_INTERRUPT flag), enables interrupts and waits for the handler. */
static void job_blk_irq (void)
{
  uint64_t b = find_device (2);
  struct vq v;
  if (!b || !dev_init (b) || !vq_init (&v, b, 0))
    {
      puts ("blk-irq: no device\n");
      return;
    }
  v.avail[0] = 0;
  dev_start (b);
  irq_setup (5 + (unsigned) ((b - MMIO_FIRST) >> 12)); /* the VMM's GSIs: 5 up, in device order */
  __asm__ volatile ("sti");
  struct { uint32_t type, prio; uint64_t sector; } *hdr = (void *) BUFS;
  hdr->type = 0;
  hdr->prio = 0;
  hdr->sector = 0;
  uint64_t addr[] = { BUFS, BUFS + 0x1000, BUFS + 0x800 };
  uint32_t len[] = { 16, 512, 1 };
  uint16_t rd[] = { 0, 2, 2 };
  vq_run (&v, 3, addr, len, rd);
  for (unsigned i = 0; i < 200000 && irq_count == 0; i++)
    __asm__ volatile ("pause");
  __asm__ volatile ("cli");
  uint32_t isr = *reg (b, 0x60);
  puts (irq_count ? "blk-irq: interrupt received" : "blk-irq: NO interrupt");
  puts (", interrupt status ");
  putdec (isr);
  puts ("\n");
}

static void job_net (void)
{
  uint64_t b = find_device (1);
  struct vq v;
  if (!b || !dev_init (b) || !vq_init (&v, b, 1))
    {
      puts ("net: no device\n");
      return;
    }
  dev_start (b);
  uint8_t *hdr = (uint8_t *) BUFS, *frame = (uint8_t *) (BUFS + 0x100);
  zero (hdr, 12);
  zero (frame, 64);
  for (int i = 0; i < 6; i++)
    {
      frame[i] = 0xff;
      frame[6 + i] = *((volatile uint8_t *) (b + 0x100 + i)); /* our MAC, from config */
    }
  frame[12] = 0x88, frame[13] = 0xb5; /* local experimental ethertype */
  copy (frame + 14, "berth guest frame", 17);
  uint64_t addr[] = { BUFS, BUFS + 0x100 };
  uint32_t len[] = { 12, 60 };
  uint16_t fl[] = { 0, 0 };
  vq_run (&v, 2, addr, len, fl);
  puts ("net: frame sent\n");
}

static void job_balloon (int inflate)
{
  uint64_t b = find_device (5);
  struct vq v;
  if (!b || !dev_init (b) || !vq_init (&v, b, 0))
    {
      puts ("balloon: no device\n");
      return;
    }
  dev_start (b);
  for (unsigned i = 0; i < TOUCH_PAGES; i++)
    *(volatile uint64_t *) (TOUCH_BASE + i * 4096ULL) = 0x6261646462616c6cULL | i;
  puts ("balloon: touched ");
  putdec (TOUCH_PAGES);
  puts (" pages\n");
  wait_line ();
  if (inflate)
    {
      uint32_t *pfns = (uint32_t *) BUFS;
      for (unsigned i = 0; i < TOUCH_PAGES; i++)
        pfns[i] = (uint32_t) (TOUCH_BASE / 4096) + i;
      uint64_t addr[] = { BUFS };
      uint32_t len[] = { TOUCH_PAGES * 4 };
      uint16_t fl[] = { 0 };
      vq_run (&v, 1, addr, len, fl);
      *reg (b, 0x104) = TOUCH_PAGES; /* config "actual" */
      /* A page given back reads as zero now: the host discarded it. */
      puts (*(volatile uint64_t *) TOUCH_BASE == 0 ? "balloon: inflated, pages read zero\n"
                                                   : "balloon: inflated, pages NOT discarded\n");
    }
  else
    puts ("balloon: not inflated\n");
  wait_line ();
}

void guest_main (const uint8_t *zero_page)
{
  const char *cmdline = (const char *) (uint64_t) * (const uint32_t *) (zero_page + ZP_CMDLINE_PTR);
  const char *t = test_name (cmdline);
  if (starts_with (t, "blk-irq"))
    job_blk_irq ();
  else if (starts_with (t, "blk"))
    job_blk ();
  else if (starts_with (t, "net"))
    job_net ();
  else if (starts_with (t, "balloon"))
    job_balloon (1);
  else if (starts_with (t, "touch"))
    job_balloon (0);
  else
    puts ("unknown test\n");
  poweroff ();
}
