/* The Intel MultiProcessor Specification 1.4 tables, so a guest without
 * ACPI finds its CPUs, the IOAPIC and its interrupt routing: the floating
 * pointer at BOOT_MPTABLE (0xf0000, in the BIOS area Linux scans), the
 * configuration table right after it with one processor entry per vCPU
 * (APIC id = vCPU index, vCPU 0 the BSP), an ISA bus, a PCI bus if there
 * are PCI routes, the IOAPIC (id = vCPU count, at 0xfec00000), IOAPIC pins
 * 0-23 routed 1:1 from ISA IRQs, the PCI INTx routes, and LINT0 ExtINT /
 * LINT1 NMI on every local APIC.  Layout after Firecracker's mptable.rs. */
#ifndef BERTH_VMM_MPTABLE_H
#define BERTH_VMM_MPTABLE_H

#include <stdint.h>

#include "common/error.h"
#include "vmm/guest-mem.h"

#define MPTABLE_MAX_CPUS 254
#define MPTABLE_IOAPIC_ADDR 0xfec00000u
#define MPTABLE_LAPIC_ADDR 0xfee00000u
#define MPTABLE_IOAPIC_PINS 24
#define MPTABLE_SIZE_MAX 0x10000 /* the BIOS area 0xf0000-0xfffff */

/* A PCI function's interrupt (from pci_bus_for_each_irq). */
struct mptable_pci_irq {
  unsigned dev, pin; /* pin 1 = INTA */
  uint32_t gsi;
};

int mptable_write (const struct guest_mem *m, unsigned ncpus, const struct mptable_pci_irq *pci, unsigned npci,
                   berth_err *err);

#endif
