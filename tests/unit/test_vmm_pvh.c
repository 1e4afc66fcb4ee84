/* Unit tests of the PVH boot (boot-pvh.c, boot-elf.c's note): the choice
 * of entry, the hvm_start_info layout the guest reads at EBX, its memory
 * map against the e820 map, the initrd module and the command line.
 * Guest memory is a malloc()ed buffer (guest_mem_init_fake): no KVM. */
#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "vmm-boot-test.h"
#include "vmm/boot.h"

#define KERNEL_AT 0x200000u

/* An ELF kernel: one PT_LOAD of 64 code bytes at KERNEL_AT (64-bit entry
 * there), one PT_NOTE with the Xen PVH note naming PVH_ENTRY (0: none). */
struct pvh_elf {
  Elf64_Ehdr eh;
  Elf64_Phdr ph[2];
  Elf64_Nhdr n;
  char name[4];
  uint32_t entry;
  uint8_t code[64];
};

static void make_pvh_elf (struct pvh_elf *f, uint32_t pvh_entry)
{
  memset (f, 0, sizeof *f);
  memcpy (f->eh.e_ident, ELFMAG, SELFMAG);
  f->eh.e_ident[EI_CLASS] = ELFCLASS64;
  f->eh.e_ident[EI_DATA] = ELFDATA2LSB;
  f->eh.e_ident[EI_VERSION] = EV_CURRENT;
  f->eh.e_type = ET_EXEC;
  f->eh.e_machine = EM_X86_64;
  f->eh.e_entry = KERNEL_AT;
  f->eh.e_phoff = offsetof (struct pvh_elf, ph);
  f->eh.e_phentsize = sizeof (Elf64_Phdr);
  f->eh.e_phnum = pvh_entry ? 2 : 1;
  f->eh.e_ehsize = sizeof (Elf64_Ehdr);
  f->ph[0] = (Elf64_Phdr) { .p_type = PT_LOAD, .p_offset = offsetof (struct pvh_elf, code), .p_paddr = KERNEL_AT,
                            .p_vaddr = KERNEL_AT, .p_filesz = sizeof f->code, .p_memsz = 4096 };
  f->ph[1] = (Elf64_Phdr) { .p_type = PT_NOTE, .p_offset = offsetof (struct pvh_elf, n), .p_filesz = 20 };
  f->n = (Elf64_Nhdr) { .n_namesz = 4, .n_descsz = 4, .n_type = 18 };
  memcpy (f->name, "Xen", 4);
  f->entry = pvh_entry;
  memset (f->code, 0x90, sizeof f->code);
}

static int load (struct pvh_elf *f, struct boot_image *img, berth_err *err)
{
  return boot_load_elf (&mem, (const uint8_t *) f, sizeof *f, img, err);
}

/* Fresh guest memory with the PVH test kernel at KERNEL_AT loaded. */
static int load_fresh_guest (struct pvh_elf *f, struct boot_image *img, berth_err *err)
{
  fake_mem ();
  make_pvh_elf (f, KERNEL_AT);
  return load (f, img, err);
}

/* ---------------------------------------------------------------- entry */

TEST (pvh_entry_from_the_note)
{
  fake_mem ();
  struct pvh_elf f;
  struct boot_image img;
  struct boot_entry e;
  berth_err err = NULL;
  make_pvh_elf (&f, KERNEL_AT + 0x20);
  CHECK (load (&f, &img, &err) == 0);
  CHECK (img.pvh_entry == KERNEL_AT + 0x20 && img.pvh_entry_loaded);
  CHECK (boot_select_entry (&img, true, &e, &err) == 0);
  CHECK (e.pvh && e.rip == KERNEL_AT + 0x20);
  /* not asked for: the 64-bit entry, note or not */
  CHECK (boot_select_entry (&img, false, &e, &err) == 0);
  CHECK (!e.pvh && e.rip == KERNEL_AT);
}

TEST (pvh_without_the_note_is_an_error)
{
  fake_mem ();
  struct pvh_elf f;
  struct boot_image img;
  struct boot_entry e;
  berth_err err = NULL;
  make_pvh_elf (&f, 0);
  CHECK (load (&f, &img, &err) == 0);
  CHECK (img.pvh_entry == 0);
  CHECK (expect_fail (boot_select_entry (&img, true, &e, &err), &err, "no PVH entry note"));
  /* a note of another type, or another owner, is not the PVH note */
  make_pvh_elf (&f, KERNEL_AT);
  f.n.n_type = 17;
  CHECK (load (&f, &img, &err) == 0);
  CHECK (expect_fail (boot_select_entry (&img, true, &e, &err), &err, "no PVH entry note"));
  make_pvh_elf (&f, KERNEL_AT);
  memcpy (f.name, "Lnx", 4);
  CHECK (load (&f, &img, &err) == 0);
  CHECK (expect_fail (boot_select_entry (&img, true, &e, &err), &err, "no PVH entry note"));
  /* the 64-bit entry still works for such a kernel */
  CHECK (boot_select_entry (&img, false, &e, &err) == 0 && !e.pvh);
  /* a bzImage has no PVH entry */
  struct boot_image bz = { .is_bzimage = true, .entry = 0x100200 };
  CHECK (expect_fail (boot_select_entry (&bz, true, &e, &err), &err, "not a bzImage"));
}

TEST (pvh_note_outside_the_image_is_an_error)
{
  fake_mem ();
  struct pvh_elf f;
  struct boot_image img;
  struct boot_entry e;
  berth_err err = NULL;
  /* beyond the segment's file bytes (in its zeroed bss), past its end,
   * below it, far outside guest memory */
  const uint32_t outside[] = { KERNEL_AT + 64, KERNEL_AT + 4096, KERNEL_AT - 1, 0x1000, 0xfffffff0u };
  for (unsigned i = 0; i < sizeof outside / sizeof outside[0]; i++)
    {
      make_pvh_elf (&f, outside[i]);
      CHECK (load (&f, &img, &err) == 0); /* the 64-bit entry is fine */
      CHECK (img.pvh_entry == outside[i] && !img.pvh_entry_loaded);
      CHECK (expect_fail (boot_select_entry (&img, true, &e, &err), &err, "not in a loaded segment"));
    }
  /* the last byte of the file bytes is inside */
  make_pvh_elf (&f, KERNEL_AT + 63);
  CHECK (load (&f, &img, &err) == 0 && img.pvh_entry_loaded);
}

/* ---------------------------------------------------------------- start info */

static uint32_t u32_at (const uint8_t *p, size_t off)
{
  uint32_t v;
  memcpy (&v, p + off, sizeof v);
  return v;
}

static uint64_t u64_at (const uint8_t *p, size_t off)
{
  uint64_t v;
  memcpy (&v, p + off, sizeof v);
  return v;
}

static const struct hvm_start_info *start_info (void)
{
  return (const struct hvm_start_info *) (ram + BOOT_PVH_START_INFO);
}

TEST (start_info_layout)
{
  /* the ABI's offsets, read as raw bytes (not through the struct) */
  struct pvh_elf f;
  struct boot_image img;
  berth_err err = NULL;
  CHECK (load_fresh_guest (&f, &img, &err) == 0);
  CHECK (boot_write_pvh (&mem, &img, "console=ttyS0 pvh=1", 0x800000, 12345, &err) == 0);
  const uint8_t *p = ram + BOOT_PVH_START_INFO;
  CHECK (u32_at (p, 0) == 0x336ec578);         /* magic */
  CHECK (u32_at (p, 4) == 1);                  /* version */
  CHECK (u32_at (p, 8) == 0);                  /* flags */
  CHECK (u32_at (p, 12) == 1);                 /* nr_modules */
  CHECK (u64_at (p, 16) == BOOT_PVH_MODLIST);  /* modlist_paddr */
  CHECK (u64_at (p, 24) == BOOT_CMDLINE);      /* cmdline_paddr */
  CHECK (u64_at (p, 32) == 0);                 /* rsdp_paddr */
  CHECK (u64_at (p, 40) == BOOT_PVH_MEMMAP);   /* memmap_paddr */
  CHECK (u32_at (p, 48) == 3);                 /* memmap_entries */
  CHECK_STR ((const char *) ram + BOOT_CMDLINE, "console=ttyS0 pvh=1");
  /* the module: the initrd, no command line of its own */
  const uint8_t *mod = ram + BOOT_PVH_MODLIST;
  CHECK (u64_at (mod, 0) == 0x800000);
  CHECK (u64_at (mod, 8) == 12345);
  CHECK (u64_at (mod, 16) == 0);
  /* the 32-bit GDT: code 0x08 is a flat 32-bit code segment */
  const uint64_t *gdt = (const uint64_t *) (ram + BOOT_GDT_ADDR);
  CHECK (gdt[0] == 0);
  CHECK (gdt[1] == 0x00cf9b000000ffffULL);
  CHECK (gdt[2] == 0x00cf93000000ffffULL);
  CHECK (gdt[3] == 0x00008b0000000067ULL); /* 32-bit TSS at 0, limit 0x67 */
}

TEST (start_info_memmap_is_the_e820_map)
{
  struct pvh_elf f;
  struct boot_image img;
  berth_err err = NULL;
  CHECK (load_fresh_guest (&f, &img, &err) == 0);
  memset (ram + BOOT_PVH_MEMMAP, 0xee, 4 * sizeof (struct hvm_memmap_table_entry));
  CHECK (boot_write_pvh (&mem, &img, "", 0, 0, &err) == 0);
  struct boot_e820_entry e820[8];
  unsigned n = boot_e820 (&mem, e820, 8);
  CHECK (n == 3 && start_info ()->memmap_entries == n);
  const uint8_t *map = ram + start_info ()->memmap_paddr;
  for (unsigned i = 0; i < n; i++)
    {
      uint64_t addr, size;
      uint32_t type, reserved;
      memcpy (&addr, map + i * 24, 8);
      memcpy (&size, map + i * 24 + 8, 8);
      memcpy (&type, map + i * 24 + 16, 4);
      memcpy (&reserved, map + i * 24 + 20, 4);
      CHECK (addr == e820[i].addr && size == e820[i].size && type == e820[i].type && reserved == 0);
    }
  /* what e820 says for 16 MiB: RAM below the EBDA, reserved to 1 MiB, RAM */
  const struct hvm_memmap_table_entry *m = (const void *) map;
  CHECK (m[0].addr == 0 && m[0].size == 0x9fc00 && m[0].type == 1);
  CHECK (m[1].addr == 0x9fc00 && m[1].type == 2);
  CHECK (m[2].addr == 0x100000 && m[2].addr + m[2].size == MEM_SIZE && m[2].type == 1);
  /* no initrd: no modules */
  CHECK (start_info ()->nr_modules == 0 && start_info ()->modlist_paddr == 0);
  CHECK (ram[BOOT_CMDLINE] == 0);
}

TEST (start_info_errors)
{
  struct pvh_elf f;
  struct boot_image img;
  berth_err err = NULL;
  CHECK (load_fresh_guest (&f, &img, &err) == 0);
  char *longline = malloc (5000);
  CHECK (longline != NULL);
  memset (longline, 'x', 4999);
  longline[4999] = 0;
  CHECK (expect_fail (boot_write_pvh (&mem, &img, longline, 0, 0, &err), &err, "too long"));
  free (longline);
  /* guest memory smaller than the low layout */
  struct guest_mem tiny;
  uint8_t small[0x6010];
  guest_mem_init_fake (&tiny, 0, small, sizeof small);
  CHECK (expect_fail (boot_write_pvh (&tiny, &img, "x", 0, 0, &err), &err, "too small"));
}
