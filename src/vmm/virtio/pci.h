/* A minimal PCI bus: configuration mechanism #1 on ports 0xCF8-0xCFF, a
 * host bridge at 00:00.0, up to 31 functions on bus 0, memory BARs
 * allocated from the MMIO hole (fixed: a guest writing all ones sizes a
 * BAR; other BAR writes are ignored, as no firmware moves them here).
 *
 * The VMM core lists the functions' interrupt routing in the MP table
 * (pci_bus_for_each_irq), so a guest without ACPI finds INTx. */
#ifndef BERTH_VMM_PCI_H
#define BERTH_VMM_PCI_H

#include <stdint.h>

#include "common/error.h"
#include "vmm/bus.h"

struct pci_bus;

struct pci_function_ops {
  /* Read/write the function's 256-byte configuration space beyond what
   * the bus handles itself; NULL means the bus's default handling. */
  void (*config_read) (void *opaque, uint32_t offset, void *data, uint32_t len);
  void (*config_write) (void *opaque, uint32_t offset, const void *data, uint32_t len);
};

/* Register ports 0xCF8-0xCFF on PIO; BARs go on MMIO at MMIO_BASE up. */
int pci_bus_new (struct bus *pio, struct bus *mmio, uint64_t mmio_base, uint64_t mmio_size, struct pci_bus **out,
                 berth_err *err);
void pci_bus_free (struct pci_bus *p);
/* Call FN for each function with an interrupt: its device number, pin
 * (1 = INTA) and GSI. */
void pci_bus_for_each_irq (struct pci_bus *p, void (*fn) (void *opaque, unsigned dev, unsigned pin, uint32_t gsi),
                           void *opaque);

#endif
