/* Identity-mapping page tables and a flat GDT for the 64-bit entry (the
 * state the Linux 64-bit boot protocol requires: long mode, paging on, the
 * kernel, zero page and command line identity-mapped, __BOOT_CS/__BOOT_DS
 * flat segments); the PVH entry uses the same GDT with a 32-bit code
 * segment. */
#include <string.h>

#include "vmm/boot.h"

#define PTE_PRESENT 0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL /* 2 MiB page in a page directory */

uint64_t boot_gdt_entry (uint16_t flags, uint32_t base, uint32_t limit)
{
  return ((uint64_t) (base & 0xff000000u) << 32) | ((uint64_t) (flags & 0xf0ffu) << 40)
         | ((uint64_t) (limit & 0x000f0000u) << 32) | ((uint64_t) (base & 0x00ffffffu) << 16)
         | (uint64_t) (limit & 0x0000ffffu);
}

int boot_write_page_tables (const struct guest_mem *m, berth_err *err)
{
  uint64_t pml4[512] = { BOOT_PDPT | PTE_PRESENT | PTE_RW };
  uint64_t pdpt[512] = { 0 };
  for (unsigned i = 0; i < BOOT_PD_COUNT; i++)
    pdpt[i] = (BOOT_PD + i * 4096ULL) | PTE_PRESENT | PTE_RW;
  int r = guest_mem_write (m, BOOT_PML4, pml4, sizeof pml4);
  if (r == 0)
    r = guest_mem_write (m, BOOT_PDPT, pdpt, sizeof pdpt);
  uint64_t pd[512];
  for (unsigned i = 0; r == 0 && i < BOOT_PD_COUNT; i++)
    {
      for (unsigned j = 0; j < 512; j++)
        pd[j] = (((uint64_t) i << 30) + ((uint64_t) j << 21)) | PTE_PRESENT | PTE_RW | PTE_PS;
      r = guest_mem_write (m, BOOT_PD + i * 4096ULL, pd, sizeof pd);
    }
  if (r < 0)
    return berth_fail (err, 0, "guest memory too small for the boot page tables");
  return boot_write_gdt (m, false, err);
}

int boot_write_gdt (const struct guest_mem *m, bool code32, berth_err *err)
{
  /* null, code (64-bit or 32-bit, DPL 0), data, TSS: as Firecracker; the
   * PVH ABI's TSS has limit 0x67 (byte granular) */
  uint64_t gdt[4] = {
    0,
    boot_gdt_entry (code32 ? BOOT_GDT_CODE32 : BOOT_GDT_CODE64, 0, 0xfffff),
    boot_gdt_entry (BOOT_GDT_DATA, 0, 0xfffff),
    code32 ? boot_gdt_entry (BOOT_GDT_TSS32, 0, BOOT_PVH_TSS_LIMIT) : boot_gdt_entry (BOOT_GDT_TSS, 0, 0xfffff),
  };
  uint64_t idt = 0;
  int r = guest_mem_write (m, BOOT_GDT_ADDR, gdt, sizeof gdt);
  if (r == 0)
    r = guest_mem_write (m, BOOT_IDT_ADDR, &idt, sizeof idt);
  if (r < 0)
    return berth_fail (err, 0, "guest memory too small for the GDT");
  return 0;
}
