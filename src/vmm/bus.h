/* The I/O buses: guest port I/O (PIO) and MMIO accesses that exit to the
 * VMM are dispatched here by address.  A device registers a range and an
 * ops pair; the vCPU loop calls bus_access() on KVM_EXIT_IO/KVM_EXIT_MMIO.
 *
 * Ranges are registered before the vCPUs start and never change after, so
 * lookups take no lock.  A device's handler runs on the vCPU thread that
 * exited: handlers lock their own state if the event loop touches it too.
 * An access that hits no device reads as all ones and writes are dropped,
 * as on real hardware. */
#ifndef BERTH_VMM_BUS_H
#define BERTH_VMM_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

/* OFFSET is relative to the start of the registered range; LEN is 1, 2, 4
 * or 8.  DATA is little-endian guest data. */
struct bus_ops {
  void (*read) (void *opaque, uint64_t offset, uint8_t *data, uint32_t len);
  void (*write) (void *opaque, uint64_t offset, const uint8_t *data, uint32_t len);
};

#define BUS_MAX_RANGES 64

struct bus_range {
  uint64_t base, len;
  const struct bus_ops *ops;
  void *opaque;
};

struct bus {
  const char *name; /* "pio" or "mmio", for messages */
  struct bus_range ranges[BUS_MAX_RANGES];
  unsigned n;
};

void bus_init (struct bus *b, const char *name);
/* -EEXIST if [base, base+len) overlaps a registered range. */
int bus_register (struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops, void *opaque, berth_err *err);
/* Dispatch one access; returns false if no device claims ADDR (reads then
 * answer all ones). */
bool bus_access (struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

#endif
