/* Booting a guest kernel directly (as Firecracker does; never through
 * real mode), by one of two protocols:
 *
 * Linux 64-bit: the VMM loads the kernel image and the initrd into guest
 * memory, writes the zero page (struct boot_params with the e820 map and
 * the command line), identity-mapping page tables and a GDT, and the vCPU
 * starts at the kernel's 64-bit entry with RSI pointing at the zero page.
 *
 * PVH (Xen's direct boot ABI, docs/misc/pvh.pandoc; an ELF vmlinux with a
 * XEN_ELFNOTE_PHYS32_ENTRY note): the vCPU starts at the note's entry in
 * 32-bit protected mode, paging off, flat 4 GiB segments, EBX = the
 * struct hvm_start_info below, which points at the command line, the
 * initrd as one module and the memory map (the same e820 entries as the
 * zero page's).
 *
 * Guest physical layout below 1 MiB:
 *   0x500    GDT (null, code 0x08 (64-bit, or 32-bit for PVH), data 0x10,
 *            TSS 0x18)
 *   0x520    IDT (empty: limit 0)
 *   0x6000   PVH: struct hvm_start_info (56 bytes)
 *   0x6040   PVH: the module list (one struct hvm_modlist_entry: initrd)
 *   0x6080   PVH: the memory map (struct hvm_memmap_table_entry, at most
 *            BOOT_PVH_MEMMAP_MAX of them, up to 0x6c80)
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
#define BOOT_PVH_START_INFO 0x6000ULL
#define BOOT_PVH_MODLIST 0x6040ULL
#define BOOT_PVH_MEMMAP 0x6080ULL
#define BOOT_PVH_MEMMAP_MAX E820_MAX_ENTRIES_ZEROPAGE
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
  bool pvh_entry_loaded;    /* pvh_entry is inside a loaded segment */
};

/* The Xen PVH start info (xen/include/public/arch-x86/hvm/start_info.h),
 * version 1: the layout is the ABI, hence the static asserts in
 * boot-pvh.c. */
#define HVM_START_MAGIC_VALUE 0x336ec578u
struct hvm_start_info {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;
  uint64_t rsdp_paddr; /* 0: the guest looks for the RSDP itself */
  uint64_t memmap_paddr;
  uint32_t memmap_entries;
  uint32_t reserved;
};
struct hvm_modlist_entry {
  uint64_t paddr;
  uint64_t size;
  uint64_t cmdline_paddr;
  uint64_t reserved;
};
struct hvm_memmap_table_entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type; /* the e820 types */
  uint32_t reserved;
};

/* How the vCPU enters the kernel (boot_select_entry). */
struct boot_entry {
  uint64_t rip;
  bool pvh; /* 32-bit PVH entry, EBX = BOOT_PVH_START_INFO; else the
             * 64-bit entry, RSI = BOOT_ZERO_PAGE */
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
/* The command line at BOOT_CMDLINE (at most IMG->cmdline_max bytes with
 * the NUL); boot_write_zero_page and boot_write_pvh call it. */
int boot_write_cmdline (const struct guest_mem *m, const struct boot_image *img, const char *cmdline,
                        berth_err *err);

/* The entry for IMG: PVH true needs the image's PVH note (an ELF whose
 * XEN_ELFNOTE_PHYS32_ENTRY points into a loaded segment), else an error
 * that says so; PVH false is the 64-bit entry. */
int boot_select_entry (const struct boot_image *img, bool pvh, struct boot_entry *out, berth_err *err);
/* The PVH boot state: the command line, hvm_start_info, the module list
 * (the initrd; none when INITRD_SIZE is 0), the memory map (boot_e820's)
 * and a GDT with a flat 32-bit code segment (layout above). */
int boot_write_pvh (const struct guest_mem *m, const struct boot_image *img, const char *cmdline,
                    uint64_t initrd_addr, uint64_t initrd_size, berth_err *err);

/* Identity-mapping page tables and the GDT/IDT (layout above). */
int boot_write_page_tables (const struct guest_mem *m, berth_err *err);
/* The GDT (64-bit code segment, or 32-bit when CODE32) and the empty IDT. */
int boot_write_gdt (const struct guest_mem *m, bool code32, berth_err *err);
/* The GDT flags boot_write_gdt uses (kvm_segment's parts: vcpu.c). */
#define BOOT_GDT_CODE64 0xa09b
#define BOOT_GDT_CODE32 0xc09b
#define BOOT_GDT_DATA 0xc093
#define BOOT_GDT_TSS 0x808b
#define BOOT_GDT_TSS32 0x008b /* PVH: byte granular */
#define BOOT_PVH_TSS_LIMIT 0x67
/* A GDT entry in the CPU's format, and its parts for kvm_segment. */
uint64_t boot_gdt_entry (uint16_t flags, uint32_t base, uint32_t limit);

#endif
