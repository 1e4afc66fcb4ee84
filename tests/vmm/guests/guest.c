/* A tiny guest for the VMM's integration tests (tests/integration/
 * vmm-boot.sh).  It runs in ring 0 straight from the VMM's 64-bit entry
 * and does one thing chosen by "test=NAME" on its command line, printing
 * on the 8250 at 0x3f8.  Guest ring-0 code is emulated on some hosts
 * (PVM, about 1 us per instruction), so every test stays within a few
 * thousand instructions and avoids INT3, XSAVE, POPCNT and CLAC/STAC. */
#include <stdint.h>

#include "guest-lib.h"

#define ZP_E820_ENTRIES 0x1e8
#define ZP_E820_TABLE 0x2d0

static void puthex (uint64_t v)
{
  char buf[17];
  int i = 16;
  buf[i] = 0;
  do
    {
      buf[--i] = "0123456789abcdef"[v & 15];
      v >>= 4;
    }
  while (v && i > 0);
  puts ("0x");
  puts (buf + i);
}
static int is (const char *word, const char *name)
{
  while (*name && *name != ' ')
    if (*word++ != *name++)
      return 0;
  return *word == 0;
}

/* ---------------------------------------------------------------- tests */

static void test_triple_fault (void)
{
  /* An empty IDT: the page fault below cannot be delivered, nor the
   * double fault that follows; the CPU shuts down. */
  struct __attribute__ ((packed)) { uint16_t limit; uint64_t base; } idt = { 0, 0 };
  __asm__ volatile ("lidt %0" ::"m"(idt));
  volatile uint64_t *unmapped = (volatile uint64_t *) 0x8000000000ULL; /* PML4 slot 1: not present */
  (void) *unmapped;
}

/* Count the processor entries of the MP table (floating pointer in the
 * BIOS area 0xf0000-0xfffff, on a 16-byte boundary). */
static void test_cpus (void)
{
  for (uint64_t a = 0xf0000; a < 0x100000; a += 16)
    {
      const uint8_t *p = (const uint8_t *) a;
      if (p[0] != '_' || p[1] != 'M' || p[2] != 'P' || p[3] != '_')
        continue;
      uint8_t sum = 0;
      for (int i = 0; i < 16; i++)
        sum += p[i];
      const uint8_t *t = (const uint8_t *) (uint64_t) * (const uint32_t *) (p + 4);
      uint16_t len = *(const uint16_t *) (t + 4), count = *(const uint16_t *) (t + 34);
      uint8_t tsum = 0;
      for (unsigned i = 0; i < len; i++)
        tsum += t[i];
      unsigned cpus = 0, ioapics = 0, ints = 0;
      const uint8_t *e = t + 44;
      for (unsigned i = 0; i < count; i++)
        switch (e[0])
          {
          case 0: cpus++; e += 20; break;
          case 2: ioapics++; e += 8; break;
          case 3: ints++; e += 8; break;
          default: e += 8; break;
          }
      puts ("mptable checksum=");
      puts (sum == 0 && tsum == 0 ? "ok" : "bad");
      puts (" cpus=");
      putdec (cpus);
      puts (" ioapics=");
      putdec (ioapics);
      puts (" irqs=");
      putdec (ints);
      puts ("\n");
      return;
    }
  puts ("no MP table\n");
}

struct e820 {
  uint64_t addr, size;
  uint32_t type;
} __attribute__ ((packed));

static void test_memory (const uint8_t *zp)
{
  unsigned n = zp[ZP_E820_ENTRIES];
  const struct e820 *e = (const struct e820 *) (zp + ZP_E820_TABLE);
  uint64_t high = 0, high_end = 0;
  for (unsigned i = 0; i < n; i++)
    {
      puts ("e820 ");
      puthex (e[i].addr);
      puts (" ");
      puthex (e[i].addr + e[i].size);
      puts (e[i].type == 1 ? " ram\n" : " reserved\n");
      if (e[i].type == 1 && e[i].addr >= 0x100000000ULL)
        {
          high = e[i].addr;
          high_end = e[i].addr + e[i].size;
        }
    }
  /* The hole below 4 GiB holds no RAM: a read exits to the VMM, and no
   * device there answers all ones. */
  puts ("hole=");
  puthex (*(volatile uint32_t *) 0xc0000000ULL);
  puts ("\n");
  if (high == 0)
    {
      puts ("no memory above 4 GiB\n");
      return;
    }
  /* Map the first GiB above 4 GiB with 2 MiB pages: PDPT slot 4 (the VMM
   * maps 0-4 GiB). */
  static uint64_t pd[512] __attribute__ ((aligned (4096)));
  uint64_t cr3;
  __asm__ volatile ("mov %%cr3, %0" : "=r"(cr3));
  uint64_t *pml4 = (uint64_t *) (cr3 & ~0xfffULL);
  uint64_t *pdpt = (uint64_t *) (pml4[0] & ~0xfffULL);
  for (unsigned i = 0; i < 512; i++)
    pd[i] = (0x100000000ULL + ((uint64_t) i << 21)) | 0x83;
  pdpt[4] = (uint64_t) pd | 0x3;
  __asm__ volatile ("mov %0, %%cr3" ::"r"(cr3) : "memory");
  uint64_t last = (high_end < 0x140000000ULL ? high_end : 0x140000000ULL) - 8;
  volatile uint64_t *a = (volatile uint64_t *) high, *b = (volatile uint64_t *) last;
  *a = 0x1122334455667788ULL;
  *b = 0x8877665544332211ULL;
  puts (*a == 0x1122334455667788ULL && *b == 0x8877665544332211ULL ? "high memory ok at " : "high memory BAD at ");
  puthex (high);
  puts (" and ");
  puthex (last);
  puts ("\n");
}

/* Read one line from the console (polling LSR.DR) and echo it back. */
static void test_echo (void)
{
  char line[64];
  unsigned n = 0, total = 0;
  puts ("ready\n");
  for (;;)
    {
      if (!(inb (COM1 + 5) & 1))
        continue;
      char c = (char) inb (COM1);
      if (c == '\n' || c == '\r')
        break;
      total++;
      if (n < sizeof line - 1)
        line[n++] = c;
    }
  line[n] = 0;
  puts ("got ");
  putdec (total);
  puts (": ");
  puts (line);
  puts ("\n");
}

static inline void outl (uint16_t port, uint32_t v) { __asm__ volatile ("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint32_t inl (uint16_t port)
{
  uint32_t v;
  __asm__ volatile ("inl %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

/* The virtio devices the VMM attached: virtio-mmio windows from
 * 0xd0000000 (magic "virt", device id at 0x8) and PCI functions on bus 0
 * (configuration mechanism #1). */
static void test_devices (const char *cmdline)
{
  for (unsigned i = 0; i < 16; i++)
    {
      volatile uint32_t *w = (volatile uint32_t *) (0xd0000000ULL + i * 0x1000ULL);
      if (w[0] != 0x74726976)
        continue;
      puts ("mmio ");
      puthex (0xd0000000ULL + i * 0x1000ULL);
      puts (" version=");
      putdec (w[1]);
      puts (" device=");
      putdec (w[2]);
      puts ("\n");
    }
  for (unsigned dev = 0; dev < 32; dev++)
    {
      outl (0xcf8, 0x80000000u | (dev << 11));
      uint32_t id = inl (0xcfc);
      if (id == 0xffffffff)
        continue;
      puts ("pci 00:");
      puthex (dev);
      puts (" ");
      puthex (id & 0xffff);
      puts (":");
      puthex (id >> 16);
      puts ("\n");
    }
  puts ("cmdline: ");
  puts (cmdline);
  puts ("\n");
}

static void cpuid (uint32_t leaf, uint32_t sub, uint32_t r[4])
{
  __asm__ volatile ("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* What the CPU template left: leaf 1 ecx, leaf 7 ebx, the KVM leaves. */
static void test_cpuid (void)
{
  uint32_t r[4];
  cpuid (1, 0, r);
  puts ("apic=");
  putdec (r[1] >> 24);
  puts (" logical=");
  putdec ((r[1] >> 16) & 0xff);
  puts (" xsave=");
  putdec ((r[2] >> 26) & 1);
  puts (" popcnt=");
  putdec ((r[2] >> 23) & 1);
  puts (" hypervisor=");
  putdec (r[2] >> 31);
  cpuid (7, 0, r);
  puts (" smep=");
  putdec ((r[1] >> 7) & 1);
  puts (" smap=");
  putdec ((r[1] >> 20) & 1);
  puts (" avx512f=");
  putdec ((r[1] >> 16) & 1);
  cpuid (0x40000000, 0, r);
  char sig[13];
  for (int i = 0; i < 4; i++)
    {
      sig[i] = (char) (r[1] >> (8 * i));
      sig[4 + i] = (char) (r[2] >> (8 * i));
      sig[8 + i] = (char) (r[3] >> (8 * i));
    }
  sig[12] = 0;
  puts (" kvm=");
  puts (sig);
  cpuid (0x40000001, 0, r);
  puts (" kvmclock2=");
  putdec ((r[0] >> 3) & 1);
  puts ("\n");
}

/* Wait for four bytes from the i8042 (SendCtrlAltDel queues Ctrl, Alt,
 * Del) by polling its status port, and print them. */
static void test_keyboard (void)
{
  puts ("waiting for keys\n");
  for (int n = 0; n < 4;)
    {
      if (!(inb (0x64) & 1))
        continue;
      puts (n ? " " : "keys ");
      puthex (inb (0x60));
      n++;
    }
  puts ("\n");
}

/* What the zero page says: loader type, command line, initrd (and the
 * initrd's first bytes, up to a NUL or newline). */
static void test_bootparams (const uint8_t *zp)
{
  puts ("loader=");
  puthex (zp[0x210]);
  uint32_t image = *(const uint32_t *) (zp + 0x218), size = *(const uint32_t *) (zp + 0x21c);
  puts (" initrd_size=");
  putdec (size);
  if (size)
    {
      puts (" initrd_aligned=");
      putdec ((image & 0xfff) == 0);
      puts (" initrd=");
      const char *p = (const char *) (uint64_t) image;
      for (uint32_t i = 0; i < size && i < 32 && p[i] && p[i] != '\n'; i++)
        putc (p[i]);
    }
  puts ("\n");
}

void guest_main (const uint8_t *zp)
{
  const char *cmdline = (const char *) (uint64_t) * (const uint32_t *) (zp + ZP_CMDLINE_PTR);
  const char *t = test_name (cmdline);
  if (is ("hello", t))
    puts ("Hello from the berth test guest\n");
  else if (is ("reboot", t))
    {
      puts ("rebooting\n");
      outb (0x64, 0xfe);
    }
  else if (is ("triplefault", t))
    test_triple_fault ();
  else if (is ("panic", t))
    {
      puts ("Kernel panic - not syncing: the test guest panics\n");
      puts ("---[ end Kernel panic - not syncing: the test guest panics ]---\n");
      for (;;)
        __asm__ volatile ("cli; hlt");
    }
  else if (is ("pvpanic", t))
    {
      puts ("pvpanic supported=");
      putdec (inb (0x505));
      puts ("\n");
      outb (0x505, 1);
    }
  else if (is ("echo", t))
    test_echo ();
  else if (is ("devices", t))
    test_devices (cmdline);
  else if (is ("cpuid", t))
    test_cpuid ();
  else if (is ("keyboard", t))
    test_keyboard ();
  else if (is ("bootparams", t))
    test_bootparams (zp);
  else if (is ("cpus", t))
    test_cpus ();
  else if (is ("memory", t))
    test_memory (zp);
  else
    {
      puts ("unknown test: ");
      puts (t);
      puts ("\n");
    }
  poweroff ();
}
