/* The PVH entry (Xen's direct boot ABI, which Linux, QEMU, Firecracker and
 * Cloud Hypervisor share): the choice of entry and the hvm_start_info the
 * kernel finds at EBX.  The vCPU state (32-bit protected mode, paging off)
 * is vcpu.c's. */
#include <stddef.h>
#include <string.h>

#include "vmm/boot.h"

/* The ABI's layout (start_info.h): a wrong offset would be a silent boot
 * failure in the guest, so the compiler checks it. */
_Static_assert (sizeof (struct hvm_start_info) == 56, "hvm_start_info is 56 bytes");
_Static_assert (offsetof (struct hvm_start_info, modlist_paddr) == 16, "modlist_paddr at 16");
_Static_assert (offsetof (struct hvm_start_info, cmdline_paddr) == 24, "cmdline_paddr at 24");
_Static_assert (offsetof (struct hvm_start_info, rsdp_paddr) == 32, "rsdp_paddr at 32");
_Static_assert (offsetof (struct hvm_start_info, memmap_paddr) == 40, "memmap_paddr at 40");
_Static_assert (offsetof (struct hvm_start_info, memmap_entries) == 48, "memmap_entries at 48");
_Static_assert (sizeof (struct hvm_modlist_entry) == 32, "hvm_modlist_entry is 32 bytes");
_Static_assert (sizeof (struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry is 24 bytes");
_Static_assert (BOOT_PVH_START_INFO + sizeof (struct hvm_start_info) <= BOOT_PVH_MODLIST, "start info fits");
_Static_assert (BOOT_PVH_MODLIST + sizeof (struct hvm_modlist_entry) <= BOOT_PVH_MEMMAP, "module list fits");
_Static_assert (BOOT_PVH_MEMMAP + BOOT_PVH_MEMMAP_MAX * sizeof (struct hvm_memmap_table_entry) <= BOOT_ZERO_PAGE,
                "the memory map ends below the zero page");

#define HVM_START_INFO_VERSION 1 /* the version with memmap_paddr */

int boot_select_entry (const struct boot_image *img, bool pvh, struct boot_entry *out, berth_err *err)
{
  if (!pvh)
    {
      *out = (struct boot_entry) { .rip = img->entry, .pvh = false };
      return 0;
    }
  if (img->is_bzimage)
    return berth_fail (err, 0, "PVH boot needs an ELF vmlinux with a PVH note, not a bzImage");
  if (img->pvh_entry == 0)
    return berth_fail (err, 0, "PVH boot: the kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
  if (!img->pvh_entry_loaded)
    return berth_fail (err, 0, "PVH boot: the PVH entry 0x%llx is not in a loaded segment of the kernel",
                       (unsigned long long) img->pvh_entry);
  *out = (struct boot_entry) { .rip = img->pvh_entry, .pvh = true };
  return 0;
}

static int write_memmap (const struct guest_mem *m, uint32_t *count, berth_err *err)
{
  struct boot_e820_entry e820[BOOT_PVH_MEMMAP_MAX];
  struct hvm_memmap_table_entry map[BOOT_PVH_MEMMAP_MAX];
  unsigned n = boot_e820 (m, e820, BOOT_PVH_MEMMAP_MAX);
  memset (map, 0, sizeof map);
  for (unsigned i = 0; i < n; i++)
    map[i] = (struct hvm_memmap_table_entry) { .addr = e820[i].addr, .size = e820[i].size, .type = e820[i].type };
  if (guest_mem_write (m, BOOT_PVH_MEMMAP, map, n * sizeof map[0]) < 0)
    return berth_fail (err, 0, "guest memory too small for the PVH memory map");
  *count = n;
  return 0;
}

int boot_write_pvh (const struct guest_mem *m, const struct boot_image *img, const char *cmdline,
                    uint64_t initrd_addr, uint64_t initrd_size, berth_err *err)
{
  struct hvm_start_info si = {
    .magic = HVM_START_MAGIC_VALUE,
    .version = HVM_START_INFO_VERSION,
    .cmdline_paddr = BOOT_CMDLINE,
    .memmap_paddr = BOOT_PVH_MEMMAP,
  };
  int r = boot_write_cmdline (m, img, cmdline, err);
  if (r == 0)
    r = write_memmap (m, &si.memmap_entries, err);
  if (r == 0)
    r = boot_write_gdt (m, true, err);
  if (r < 0)
    return r;
  if (initrd_size > 0)
    {
      struct hvm_modlist_entry mod = { .paddr = initrd_addr, .size = initrd_size };
      if (guest_mem_write (m, BOOT_PVH_MODLIST, &mod, sizeof mod) < 0)
        return berth_fail (err, 0, "guest memory too small for the PVH module list");
      si.nr_modules = 1;
      si.modlist_paddr = BOOT_PVH_MODLIST;
    }
  if (guest_mem_write (m, BOOT_PVH_START_INFO, &si, sizeof si) < 0)
    return berth_fail (err, 0, "guest memory too small for the PVH start info");
  return 0;
}
