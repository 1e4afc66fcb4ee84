/* A minimal PCI bus (see pci.h): configuration mechanism #1, a host
 * bridge, type-0 functions with fixed memory BARs.
 *
 * There is no firmware: the VMM places every BAR at creation, and the
 * guest only sizes them (writes all ones, reads the mask back) and writes
 * the address back; other addresses are ignored.  Linux without ACPI finds
 * the functions by scanning bus 0 through ports 0xCF8/0xCFC. */
#include "vmm/virtio/pci.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PCI_MAX_DEVICES 32
#define CONF1_ADDR 0xcf8
#define CONF1_ENABLE 0x80000000u

#define REG_VENDOR 0x00
#define REG_COMMAND 0x04
#define REG_STATUS 0x06
#define REG_REVISION 0x08
#define REG_HEADER_TYPE 0x0e
#define REG_BAR0 0x10
#define REG_CAP_PTR 0x34
#define REG_INT_LINE 0x3c
#define REG_INT_PIN 0x3d
#define STATUS_CAP_LIST 0x10
#define FIRST_CAP 0x40

struct pci_function {
  struct pci_bus *bus;
  unsigned devno;
  uint8_t cfg[PCI_CONFIG_SIZE];
  uint64_t bar_size[6], bar_addr[6];
  bool bar64[6], bar_hi[6]; /* bar_hi: the upper half of the previous 64-bit BAR */
  bool sizing[6];
  unsigned cap_next, cap_last;
  bool has_irq;
  uint32_t gsi;
  const struct pci_function_ops *ops;
  void *opaque;
};

struct pci_bus {
  struct bus *mmio;
  uint64_t mmio_base, mmio_size, mmio_used;
  pthread_mutex_t lock; /* the address register and config writes */
  uint32_t addr;
  struct pci_function *fn[PCI_MAX_DEVICES];
  unsigned nfn;
};

static void put16 (uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t) v, p[1] = (uint8_t) (v >> 8);
}

static void put32 (uint8_t *p, uint32_t v)
{
  put16 (p, (uint16_t) v), put16 (p + 2, (uint16_t) (v >> 16));
}

static uint32_t get32 (const uint8_t *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* The BAR register dword I as the guest reads it. */
static uint32_t bar_dword (const struct pci_function *f, unsigned i)
{
  if (f->bar_hi[i])
    {
      unsigned lo = i - 1;
      uint64_t v = f->sizing[i] ? ~(f->bar_size[lo] - 1) : f->bar_addr[lo];
      return (uint32_t) (v >> 32);
    }
  if (f->bar_size[i] == 0)
    return 0;
  uint32_t type = f->bar64[i] ? 0x4 : 0x0; /* memory, 32/64-bit, not prefetchable */
  uint64_t v = f->sizing[i] ? ~(f->bar_size[i] - 1) : f->bar_addr[i];
  return ((uint32_t) v & ~0xfu) | type;
}

static uint32_t config_dword (struct pci_function *f, uint32_t reg)
{
  if (reg >= REG_BAR0 && reg < REG_BAR0 + 24)
    return bar_dword (f, (reg - REG_BAR0) / 4);
  if (reg >= FIRST_CAP && f->ops && f->ops->config_read)
    {
      uint8_t b[4];
      f->ops->config_read (f->opaque, reg, b, 4);
      return get32 (b);
    }
  return get32 (f->cfg + reg);
}

/* A dword write after merging the guest's bytes; only the writable
 * registers change. */
static void config_write_dword (struct pci_function *f, uint32_t reg, uint32_t v, uint32_t byte_mask)
{
  if (reg == REG_COMMAND && (byte_mask & 3))
    {
      /* Command: I/O, memory, bus master, INTx disable are kept. */
      uint16_t cmd = (uint16_t) (v & 0x0407);
      put16 (f->cfg + REG_COMMAND, cmd);
    }
  else if (reg >= REG_BAR0 && reg < REG_BAR0 + 24)
    f->sizing[(reg - REG_BAR0) / 4] = v == 0xffffffffu; /* anything else: fixed BARs, ignored */
  else if (reg == REG_INT_LINE && (byte_mask & 1))
    f->cfg[REG_INT_LINE] = (uint8_t) v;
  else if (reg >= FIRST_CAP && f->ops && f->ops->config_write)
    {
      uint8_t b[4];
      put32 (b, v);
      f->ops->config_write (f->opaque, reg, b, 4);
    }
}

static struct pci_function *selected (struct pci_bus *p, uint32_t addr)
{
  if (!(addr & CONF1_ENABLE) || ((addr >> 16) & 0xff) != 0 || ((addr >> 8) & 7) != 0)
    return NULL;
  unsigned dev = (addr >> 11) & 0x1f;
  for (unsigned i = 0; i < p->nfn; i++)
    if (p->fn[i]->devno == dev)
      return p->fn[i];
  return NULL;
}

static void conf1_read (void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
  struct pci_bus *p = opaque;
  memset (data, 0xff, len);
  pthread_mutex_lock (&p->lock);
  if (off == 0 && len == 4)
    put32 (data, p->addr);
  else if (off >= 4 && off - 4 + len <= 4)
    {
      struct pci_function *f = selected (p, p->addr);
      if (f)
        {
          uint32_t v = config_dword (f, p->addr & 0xfc);
          for (uint32_t i = 0; i < len; i++)
            data[i] = (uint8_t) (v >> (8 * (off - 4 + i)));
        }
    }
  pthread_mutex_unlock (&p->lock);
}

static void conf1_write (void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
  struct pci_bus *p = opaque;
  pthread_mutex_lock (&p->lock);
  if (off == 0 && len == 4)
    p->addr = get32 (data);
  else if (off >= 4 && off - 4 + len <= 4)
    {
      struct pci_function *f = selected (p, p->addr);
      uint32_t reg = p->addr & 0xfc;
      if (f)
        {
          uint32_t v = config_dword (f, reg), mask = 0;
          for (uint32_t i = 0; i < len; i++)
            {
              unsigned b = (unsigned) (off - 4 + i);
              v = (v & ~(0xffu << (8 * b))) | (uint32_t) data[i] << (8 * b);
              mask |= 1u << b;
            }
          config_write_dword (f, reg, v, mask);
        }
    }
  pthread_mutex_unlock (&p->lock);
}

static const struct bus_ops conf1_ops = { .read = conf1_read, .write = conf1_write };

static struct pci_function *new_function (struct pci_bus *p, uint16_t vendor, uint16_t device, uint32_t class_code,
                                          uint8_t revision)
{
  if (p->nfn == PCI_MAX_DEVICES)
    return NULL;
  struct pci_function *f = calloc (1, sizeof *f);
  if (f == NULL)
    return NULL;
  f->bus = p;
  f->devno = p->nfn;
  put16 (f->cfg + REG_VENDOR, vendor);
  put16 (f->cfg + REG_VENDOR + 2, device);
  put32 (f->cfg + REG_REVISION, class_code << 8 | revision);
  f->cfg[REG_HEADER_TYPE] = 0;
  f->cap_next = FIRST_CAP;
  p->fn[p->nfn++] = f;
  return f;
}

int pci_bus_new (struct bus *pio, struct bus *mmio, uint64_t mmio_base, uint64_t mmio_size, struct pci_bus **out,
                 berth_err *err)
{
  struct pci_bus *p = calloc (1, sizeof *p);
  if (p == NULL)
    return berth_fail (err, ENOMEM, "PCI bus");
  p->mmio = mmio;
  p->mmio_base = mmio_base;
  p->mmio_size = mmio_size;
  pthread_mutex_init (&p->lock, NULL);
  /* 00:00.0, the host bridge Linux's conf1 sanity check looks for. */
  if (new_function (p, 0x8086, 0x0d57, 0x060000, 0) == NULL)
    {
      pci_bus_free (p);
      return berth_fail (err, ENOMEM, "PCI host bridge");
    }
  int r = bus_register (pio, CONF1_ADDR, 8, &conf1_ops, p, err);
  if (r < 0)
    {
      pci_bus_free (p);
      return berth_error_prefix (err, "PCI configuration ports");
    }
  *out = p;
  return 0;
}

void pci_bus_free (struct pci_bus *p)
{
  if (p == NULL)
    return;
  for (unsigned i = 0; i < p->nfn; i++)
    free (p->fn[i]);
  pthread_mutex_destroy (&p->lock);
  free (p);
}

void pci_bus_for_each_irq (struct pci_bus *p, void (*fn) (void *opaque, unsigned dev, unsigned pin, uint32_t gsi),
                           void *opaque)
{
  for (unsigned i = 0; i < p->nfn; i++)
    if (p->fn[i]->has_irq)
      fn (opaque, p->fn[i]->devno, 1, p->fn[i]->gsi);
}

int pci_bus_add_function (struct pci_bus *p, uint16_t vendor, uint16_t device, uint32_t class_code,
                          uint8_t revision, const struct pci_function_ops *ops, void *opaque,
                          struct pci_function **out, berth_err *err)
{
  struct pci_function *f = new_function (p, vendor, device, class_code, revision);
  if (f == NULL)
    return berth_fail (err, p->nfn == PCI_MAX_DEVICES ? ENOSPC : ENOMEM, "PCI bus: no room for another device");
  f->ops = ops;
  f->opaque = opaque;
  *out = f;
  return 0;
}

uint8_t *pci_function_config (struct pci_function *f)
{
  return f->cfg;
}

unsigned pci_function_devno (const struct pci_function *f)
{
  return f->devno;
}

int pci_function_add_bar (struct pci_function *f, unsigned n, uint64_t size, bool is64, const struct bus_ops *ops,
                          void *opaque, uint64_t *gpa, berth_err *err)
{
  struct pci_bus *p = f->bus;
  if (n > (is64 ? 4u : 5u) || size < 4096 || (size & (size - 1)) || f->bar_size[n] || f->bar_hi[n])
    return berth_fail (err, 0, "PCI %02x.0: invalid BAR %u", f->devno, n);
  uint64_t addr = (p->mmio_base + p->mmio_used + size - 1) & ~(size - 1);
  if (addr + size > p->mmio_base + p->mmio_size || (!is64 && addr + size > 0x100000000ULL))
    return berth_fail (err, ENOSPC, "PCI %02x.0: no room for a %llu KiB BAR", f->devno,
                       (unsigned long long) (size >> 10));
  int r = bus_register (p->mmio, addr, size, ops, opaque, err);
  if (r < 0)
    return r;
  p->mmio_used = addr + size - p->mmio_base;
  f->bar_size[n] = size;
  f->bar_addr[n] = addr;
  f->bar64[n] = is64;
  if (is64)
    f->bar_hi[n + 1] = true;
  put16 (f->cfg + REG_COMMAND, 0x0002); /* memory decoding on: no firmware to do it */
  *gpa = addr;
  return 0;
}

int pci_function_add_cap (struct pci_function *f, const void *cap, uint8_t len)
{
  if (len < 2 || f->cap_next + len > PCI_CONFIG_SIZE)
    return -ENOSPC;
  unsigned off = f->cap_next;
  memcpy (f->cfg + off, cap, len);
  f->cfg[off + 1] = 0;
  if (f->cap_last)
    f->cfg[f->cap_last + 1] = (uint8_t) off;
  else
    f->cfg[REG_CAP_PTR] = (uint8_t) off;
  f->cfg[REG_STATUS] |= STATUS_CAP_LIST;
  f->cap_last = off;
  f->cap_next = (off + len + 3) & ~3u;
  return (int) off;
}

void pci_function_set_irq (struct pci_function *f, uint32_t gsi)
{
  f->has_irq = true;
  f->gsi = gsi;
  f->cfg[REG_INT_LINE] = (uint8_t) gsi;
  f->cfg[REG_INT_PIN] = 1;
}
