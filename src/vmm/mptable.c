#include "vmm/mptable.h"

#include <stdlib.h>
#include <string.h>

#include "vmm/boot.h"

#define MP_SPEC_REV 4
#define APIC_VERSION 0x14
#define IOAPIC_VERSION 0x11
#define BUS_ISA 0
#define BUS_PCI 1

struct __attribute__ ((packed)) mpf_intel {
  char signature[4]; /* "_MP_" */
  uint32_t physptr;
  uint8_t length; /* 16-byte units */
  uint8_t specification;
  uint8_t checksum;
  uint8_t feature1, feature2, feature3, feature4, feature5;
};

struct __attribute__ ((packed)) mpc_table {
  char signature[4]; /* "PCMP" */
  uint16_t length;
  uint8_t spec;
  uint8_t checksum;
  char oem[8];
  char productid[12];
  uint32_t oemptr;
  uint16_t oemsize;
  uint16_t oemcount;
  uint32_t lapic;
  uint16_t reserved_ext_len;
  uint8_t reserved_ext_sum, reserved;
};

struct __attribute__ ((packed)) mpc_cpu {
  uint8_t type, apicid, apicver, cpuflag;
  uint32_t cpufeature, featureflag;
  uint32_t reserved[2];
};

struct __attribute__ ((packed)) mpc_bus {
  uint8_t type, busid;
  char bustype[6];
};

struct __attribute__ ((packed)) mpc_ioapic {
  uint8_t type, apicid, apicver, flags;
  uint32_t apicaddr;
};

struct __attribute__ ((packed)) mpc_intsrc {
  uint8_t type, irqtype;
  uint16_t irqflag;
  uint8_t srcbus, srcbusirq, dstapic, dstirq;
};

enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_INTSRC = 3, MP_LINTSRC = 4 };
enum { MP_INT = 0, MP_NMI = 1, MP_EXTINT = 3 };
#define CPU_ENABLED 1
#define CPU_BOOTPROCESSOR 2
#define IRQ_ACTIVE_HIGH 0x1
#define IRQ_EDGE 0x4

static uint8_t checksum (const uint8_t *p, size_t n)
{
  uint8_t s = 0;
  for (size_t i = 0; i < n; i++)
    s += p[i];
  return (uint8_t) -s;
}

/* A cursor over the table being built in a host buffer. */
struct mp_buf {
  uint8_t *p;
  size_t len, cap;
  uint16_t count;
};

static void put (struct mp_buf *b, const void *entry, size_t n)
{
  if (b->len + n <= b->cap)
    memcpy (b->p + b->len, entry, n);
  b->len += n;
  b->count++;
}

static void put_intsrc (struct mp_buf *b, uint8_t type, uint8_t irqtype, uint16_t flags, uint8_t bus, uint8_t busirq,
                        uint8_t dstapic, uint8_t dstirq)
{
  struct mpc_intsrc e = { .type = type, .irqtype = irqtype, .irqflag = flags, .srcbus = bus, .srcbusirq = busirq,
                          .dstapic = dstapic, .dstirq = dstirq };
  put (b, &e, sizeof e);
}

static void build_entries (struct mp_buf *b, unsigned ncpus, const struct mptable_pci_irq *pci, unsigned npci)
{
  for (unsigned i = 0; i < ncpus; i++)
    {
      struct mpc_cpu c = {
        .type = MP_PROCESSOR,
        .apicid = (uint8_t) i,
        .apicver = APIC_VERSION,
        .cpuflag = CPU_ENABLED | (i == 0 ? CPU_BOOTPROCESSOR : 0),
        .cpufeature = 0x600, /* family 6 */
        .featureflag = (1u << 9) | (1u << 0), /* APIC, FPU */
      };
      put (b, &c, sizeof c);
    }
  struct mpc_bus isa = { .type = MP_BUS, .busid = BUS_ISA, .bustype = { 'I', 'S', 'A', ' ', ' ', ' ' } };
  put (b, &isa, sizeof isa);
  if (npci > 0)
    {
      struct mpc_bus pcib = { .type = MP_BUS, .busid = BUS_PCI, .bustype = { 'P', 'C', 'I', ' ', ' ', ' ' } };
      put (b, &pcib, sizeof pcib);
    }
  uint8_t ioapic_id = (uint8_t) ncpus;
  struct mpc_ioapic io = { .type = MP_IOAPIC, .apicid = ioapic_id, .apicver = IOAPIC_VERSION, .flags = 1,
                           .apicaddr = MPTABLE_IOAPIC_ADDR };
  put (b, &io, sizeof io);
  /* ISA IRQ i -> pin i; pin 0 is the PIC's ExtINT as on a PC */
  put_intsrc (b, MP_INTSRC, MP_EXTINT, 0, BUS_ISA, 0, ioapic_id, 0);
  for (unsigned i = 1; i < MPTABLE_IOAPIC_PINS; i++)
    put_intsrc (b, MP_INTSRC, MP_INT, 0, BUS_ISA, (uint8_t) i, ioapic_id, (uint8_t) i);
  /* PCI INTx: the source is (device << 2) | (pin - 1); virtio's interrupts
   * are edges (struct virtio_host's irq), so say so. */
  for (unsigned i = 0; i < npci; i++)
    put_intsrc (b, MP_INTSRC, MP_INT, IRQ_ACTIVE_HIGH | IRQ_EDGE, BUS_PCI,
                (uint8_t) ((pci[i].dev << 2) | ((pci[i].pin - 1) & 3)), ioapic_id, (uint8_t) pci[i].gsi);
  put_intsrc (b, MP_LINTSRC, MP_EXTINT, 0, BUS_ISA, 0, 0xff, 0);
  put_intsrc (b, MP_LINTSRC, MP_NMI, 0, BUS_ISA, 0, 0xff, 1);
}

int mptable_write (const struct guest_mem *m, unsigned ncpus, const struct mptable_pci_irq *pci, unsigned npci,
                   berth_err *err)
{
  if (ncpus == 0 || ncpus > MPTABLE_MAX_CPUS)
    return berth_fail (err, 0, "MP table: %u CPUs (1..%u)", ncpus, MPTABLE_MAX_CPUS);
  uint8_t *area = guest_mem_ptr (m, BOOT_MPTABLE, MPTABLE_SIZE_MAX);
  if (area == NULL)
    return berth_fail (err, 0, "MP table: guest memory does not cover 0x%llx", (unsigned long long) BOOT_MPTABLE);
  struct mpf_intel *mpf = (struct mpf_intel *) area;
  struct mpc_table *hdr = (struct mpc_table *) (area + sizeof *mpf);
  struct mp_buf b = { .p = (uint8_t *) (hdr + 1), .cap = MPTABLE_SIZE_MAX - sizeof *mpf - sizeof *hdr };
  build_entries (&b, ncpus, pci, npci);
  if (b.len > b.cap)
    return berth_fail (err, 0, "MP table: %zu bytes do not fit", b.len);
  memset (hdr, 0, sizeof *hdr);
  memcpy (hdr->signature, "PCMP", 4);
  hdr->length = (uint16_t) (sizeof *hdr + b.len);
  hdr->spec = MP_SPEC_REV;
  memcpy (hdr->oem, "BERTH   ", 8);
  memcpy (hdr->productid, "berth-vmm   ", 12);
  hdr->oemcount = b.count;
  hdr->lapic = MPTABLE_LAPIC_ADDR;
  hdr->checksum = checksum ((uint8_t *) hdr, hdr->length);
  memset (mpf, 0, sizeof *mpf);
  memcpy (mpf->signature, "_MP_", 4);
  mpf->physptr = (uint32_t) (BOOT_MPTABLE + sizeof *mpf);
  mpf->length = 1;
  mpf->specification = MP_SPEC_REV;
  mpf->checksum = checksum ((uint8_t *) mpf, sizeof *mpf);
  return 0;
}
