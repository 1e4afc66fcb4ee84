/* Booting a guest kernel directly in 64-bit long mode (as Firecracker
 * does; never through real mode): the VMM loads the kernel image and the
 * initrd into guest memory, writes the zero page (struct boot_params with
 * the e820 map and the command line), identity-mapping page tables and a
 * GDT, and the vCPU starts at the kernel's 64-bit entry with RSI pointing
 * at the zero page.
 *
 * Guest physical layout below 1 MiB:
 *   0x500    GDT (null, code64 0x08, data 0x10, TSS 0x18)
 *   0x520    IDT (empty: limit 0)
 *   0x7000   zero page (struct boot_params)
 *   0x8ff0   initial stack pointer (grows down)
 *   0x9000   PML4, 0xa000 PDPT, 0xb000-0xefff four page directories that
 *            identity-map the first 4 GiB with 2 MiB pages (RAM, the MMIO
 *            hole with its devices)
 *   0x20000  kernel command line
 *   0x9fc00  start of the reserved EBDA area
 *   0xf0000  MP floating pointer and MP configuration table (mptable.h)
 *   0x100000 the kernel (bzImage: its protected-mode part; ELF: its
 *            segments at their physical addresses, which must be >= 1 MiB)
 * The initrd goes page-aligned at the top of low RAM, below the kernel's
 * initrd_addr_max. */
#ifndef BERTH_VMM_BOOT_H
#define BERTH_VMM_BOOT_H

#include <asm/bootparam.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "vmm/guest-mem.h"

#define BOOT_GDT_ADDR 0x500ULL
#define BOOT_IDT_ADDR 0x520ULL
#define BOOT_ZERO_PAGE 0x7000ULL
#define BOOT_STACK 0x8ff0ULL
#define BOOT_PML4 0x9000ULL
#define BOOT_PDPT 0xa000ULL
#define BOOT_PD 0xb000ULL
#define BOOT_PD_COUNT 4
#define BOOT_CMDLINE 0x20000ULL
#define BOOT_CMDLINE_MAX 2048 /* x86 COMMAND_LINE_SIZE, with the NUL */
#define BOOT_EBDA_START 0x9fc00ULL
#define BOOT_MPTABLE 0xf0000ULL
#define BOOT_HIMEM 0x100000ULL
/* GDT selectors */
#define BOOT_CS 0x08
#define BOOT_DS 0x10
#define BOOT_TSS 0x18

/* What loading a kernel found. */
struct boot_image {
  uint64_t entry;      /* guest physical 64-bit entry point */
  uint64_t kernel_end; /* first byte after the loaded kernel */
  bool is_bzimage;
  /* bzImage: the setup header as in the file (copied into the zero page);
   * ELF: zero, the VMM synthesises one. */
  struct setup_header hdr;
  uint64_t initrd_addr_max; /* highest address the initrd may use */
  uint32_t cmdline_max;     /* bytes including the NUL */
  uint64_t pvh_entry;       /* ELF: XEN_ELFNOTE_PHYS32_ENTRY, or 0 */
};

/* Parse and load an image already in memory (the unit tests' entry
 * points).  Corrupt or truncated input is an error, never an access
 * outside BUF or outside guest memory. */
int boot_load_elf (const struct guest_mem *m, const uint8_t *buf, size_t len, struct boot_image *img, berth_err *err);
int boot_load_bzimage (const struct guest_mem *m, const uint8_t *buf, size_t len, struct boot_image *img,
                       berth_err *err);
/* Whichever of the two PATH is (ELF magic, or "HdrS" at 0x202); anything
 * else is "not a kernel". */
int boot_load_kernel (const struct guest_mem *m, const char *path, struct boot_image *img, berth_err *err);

/* Place the initrd file at the top of low RAM (page-aligned, above the
 * kernel, below initrd_addr_max); *ADDR and *SIZE say where. */
int boot_load_initrd (const struct guest_mem *m, const char *path, const struct boot_image *img, uint64_t *addr,
                      uint64_t *size, berth_err *err);

/* The e820 map of M into TAB (at most MAX entries); returns the count. */
unsigned boot_e820 (const struct guest_mem *m, struct boot_e820_entry *tab, unsigned max);

/* Write the zero page at BOOT_ZERO_PAGE and the command line at
 * BOOT_CMDLINE.  INITRD_SIZE 0: no initrd. */
int boot_write_zero_page (const struct guest_mem *m, const struct boot_image *img, const char *cmdline,
                          uint64_t initrd_addr, uint64_t initrd_size, berth_err *err);

/* Identity-mapping page tables and the GDT/IDT (layout above). */
int boot_write_page_tables (const struct guest_mem *m, berth_err *err);
/* A GDT entry in the CPU's format, and its parts for kvm_segment. */
uint64_t boot_gdt_entry (uint16_t flags, uint32_t base, uint32_t limit);

#endif
