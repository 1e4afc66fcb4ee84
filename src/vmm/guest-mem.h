/* Guest physical memory as the VMM sees it: a few host mappings, each
 * covering a range of guest physical addresses.
 *
 * Every access a device makes on behalf of the guest goes through
 * guest_mem_ptr(), which bounds-checks the whole range (overflow-safe) and
 * answers NULL for anything not entirely inside one region.  A descriptor
 * that names an address outside guest RAM (or straddling the PCI hole)
 * therefore never reaches host memory.  Devices must not keep the pointer
 * beyond the request: the balloon may discard the pages behind it. */
#ifndef BERTH_VMM_GUEST_MEM_H
#define BERTH_VMM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define GUEST_MEM_MAX_REGIONS 4

struct guest_region {
  uint64_t gpa;  /* first guest physical address */
  uint64_t size; /* bytes */
  uint8_t *host; /* host mapping of gpa */
};

struct guest_mem {
  struct guest_region regions[GUEST_MEM_MAX_REGIONS];
  unsigned nregions;
  uint64_t total; /* sum of region sizes */
  bool mapped;    /* regions were mmap()ed by guest_mem_alloc */
};

/* Where guest RAM goes on x86-64: [0, min(size, 3 GiB)) and, above 4 GiB,
 * the rest; [3 GiB, 4 GiB) is the hole for MMIO and PCI (MMIO32_START..). */
#define GUEST_MMIO_HOLE_START 0xC0000000ULL
#define GUEST_MMIO_HOLE_END 0x100000000ULL

/* Map SIZE bytes of anonymous guest RAM (MAP_NORESERVE, so overcommit works;
 * MADV_MERGEABLE so KSM can share pages), split around the hole. */
int guest_mem_alloc (struct guest_mem *m, uint64_t size, berth_err *err);
/* Describe an existing buffer as guest memory at GPA (unit tests: fake
 * guest memory from malloc; nothing is unmapped by guest_mem_free). */
void guest_mem_init_fake (struct guest_mem *m, uint64_t gpa, void *buf, uint64_t size);
void guest_mem_free (struct guest_mem *m);

/* Host pointer for [gpa, gpa+len), or NULL unless the whole range lies in
 * one region.  len 0 is valid only for an address inside a region. */
void *guest_mem_ptr (const struct guest_mem *m, uint64_t gpa, uint64_t len);
/* Copies with the same checks; return 0 or -EFAULT. */
int guest_mem_read (const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len);
int guest_mem_write (const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len);

#endif
