/* A minimal PCI bus: configuration mechanism #1 on ports 0xCF8-0xCFF, a
 * host bridge at 00:00.0, up to 31 functions on bus 0, memory BARs
 * allocated from the MMIO hole (fixed: a guest writing all ones sizes a
 * BAR; other BAR writes are ignored, as no firmware moves them here).
 *
 * The VMM core lists the functions' interrupt routing in the MP table
 * (pci_bus_for_each_irq), so a guest without ACPI finds INTx. */
#ifndef BERTH_VMM_PCI_H
#define BERTH_VMM_PCI_H

#include <stdbool.h>
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

/* One function (device N, function 0) on the bus.  Its configuration
 * space is plain bytes the owner fills (ids, class, capabilities) before
 * the guest runs; the bus handles the command register, BARs (sizing) and
 * the interrupt line, and makes everything else read-only. */
struct pci_function;

#define PCI_CONFIG_SIZE 256

/* Add a type-0 function; OPS may be NULL.  VENDOR/DEVICE/CLASS (24-bit
 * class code, e.g. 0x020000 for Ethernet) and revision are filled in. */
int pci_bus_add_function (struct pci_bus *p, uint16_t vendor, uint16_t device, uint32_t class_code,
                          uint8_t revision, const struct pci_function_ops *ops, void *opaque,
                          struct pci_function **out, berth_err *err);
/* The function's configuration bytes, to fill before the guest runs. */
uint8_t *pci_function_config (struct pci_function *f);
unsigned pci_function_devno (const struct pci_function *f);
/* Allocate memory BAR N (0..5; a 64-bit BAR takes N and N+1) of SIZE (a
 * power of two >= 4 KiB), placed naturally aligned in the bus's window and
 * registered on the MMIO bus with OPS/OPAQUE.  *GPA gets its address. */
int pci_function_add_bar (struct pci_function *f, unsigned n, uint64_t size, bool is64, const struct bus_ops *ops,
                          void *opaque, uint64_t *gpa, berth_err *err);
/* Append a capability of LEN bytes (CAP[0] is its id; CAP[1], the next
 * pointer, is filled in) to the list; returns its offset or -ENOSPC. */
int pci_function_add_cap (struct pci_function *f, const void *cap, uint8_t len);
/* INTx: pin 1 (INTA) routed to GSI; written into the interrupt line and
 * pin registers and reported by pci_bus_for_each_irq. */
void pci_function_set_irq (struct pci_function *f, uint32_t gsi);

#endif
