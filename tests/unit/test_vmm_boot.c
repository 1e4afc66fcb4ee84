/* Unit tests of the VMM's boot loaders (ELF, bzImage) with corrupt input,
 * the e820 map and zero page, CPUID templates and the MP table.  Guest
 * memory is a malloc()ed buffer (guest_mem_init_fake): no KVM. */
#include <elf.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "vmm-boot-test.h"
#include "vmm/boot.h"
#include "vmm/cpuid.h"
#include "vmm/mptable.h"


/* ---------------------------------------------------------------- ELF */

struct elf_img {
  Elf64_Ehdr eh;
  Elf64_Phdr ph[2];
  uint8_t code[64];
};

static void make_elf (struct elf_img *e)
{
  memset (e, 0, sizeof *e);
  memcpy (e->eh.e_ident, ELFMAG, SELFMAG);
  e->eh.e_ident[EI_CLASS] = ELFCLASS64;
  e->eh.e_ident[EI_DATA] = ELFDATA2LSB;
  e->eh.e_ident[EI_VERSION] = EV_CURRENT;
  e->eh.e_type = ET_EXEC;
  e->eh.e_machine = EM_X86_64;
  e->eh.e_entry = 0x200000;
  e->eh.e_phoff = offsetof (struct elf_img, ph);
  e->eh.e_phentsize = sizeof (Elf64_Phdr);
  e->eh.e_phnum = 1;
  e->eh.e_ehsize = sizeof (Elf64_Ehdr);
  e->ph[0] = (Elf64_Phdr) { .p_type = PT_LOAD, .p_offset = offsetof (struct elf_img, code), .p_paddr = 0x200000,
                            .p_vaddr = 0x200000, .p_filesz = sizeof e->code, .p_memsz = 4096 };
  memset (e->code, 0x90, sizeof e->code);
}

static int load_elf (struct elf_img *e, size_t len, berth_err *err)
{
  struct boot_image img;
  return boot_load_elf (&mem, (const uint8_t *) e, len, &img, err);
}

TEST (elf_loads_segments_and_entry)
{
  fake_mem ();
  struct elf_img e;
  make_elf (&e);
  memset (ram + 0x200000, 0xaa, 8192); /* bss must be zeroed */
  struct boot_image img;
  berth_err err = NULL;
  CHECK (boot_load_elf (&mem, (const uint8_t *) &e, sizeof e, &img, &err) == 0);
  CHECK (img.entry == 0x200000);
  CHECK (img.kernel_end == 0x201000);
  CHECK (!img.is_bzimage);
  CHECK (ram[0x200000] == 0x90 && ram[0x200000 + 63] == 0x90);
  CHECK (ram[0x200000 + 64] == 0 && ram[0x200fff] == 0);
  CHECK (ram[0x201000] == 0xaa); /* nothing past memsz */
}

TEST (elf_corrupt_inputs_are_errors)
{
  fake_mem ();
  struct elf_img e;
  berth_err err = NULL;
  make_elf (&e);
  CHECK (expect_fail (load_elf (&e, 10, &err), &err, "truncated header"));
  CHECK (expect_fail (load_elf (&e, sizeof e.eh + 8, &err), &err, "truncated"));
  CHECK (expect_fail (load_elf (&e, offsetof (struct elf_img, code) + 10, &err), &err, "past the end"));
  make_elf (&e), e.eh.e_ident[EI_CLASS] = ELFCLASS32;
  CHECK (expect_fail (load_elf (&e, sizeof e, &err), &err, "64-bit"));
  make_elf (&e), e.eh.e_machine = EM_AARCH64;
  CHECK (expect_fail (load_elf (&e, sizeof e, &err), &err, "x86-64"));
  make_elf (&e), e.eh.e_type = ET_DYN;
  CHECK (expect_fail (load_elf (&e, sizeof e, &err), &err, "not an executable"));
  make_elf (&e), e.eh.e_phnum = 0;
  CHECK (expect_fail (load_elf (&e, sizeof e, &err), &err, "program header"));
  make_elf (&e), e.eh.e_phnum = 60000;
  CHECK (expect_fail (load_elf (&e, sizeof e, &err), &err, "program header"));
  make_elf (&e), e.eh.e_phentsize = 12;
  CHECK (expect_fail (load_elf (&e, sizeof e, &err), &err, "program header"));
  make_elf (&e), e.eh.e_phoff = UINT64_MAX - 8;
  CHECK (expect_fail (load_elf (&e, sizeof e, &err), &err, "truncated"));
  make_elf (&e), e.ph[0].p_offset = UINT64_MAX - 16;
  CHECK (expect_fail (load_elf (&e, sizeof e, &err), &err, "past the end"));
  make_elf (&e), e.ph[0].p_filesz = 1u << 20;
  CHECK (expect_fail (load_elf (&e, sizeof e, &err), &err, "past the end"));
  make_elf (&e), e.ph[0].p_memsz = 16;
  CHECK (expect_fail (load_elf (&e, sizeof e, &err), &err, "more file than memory"));
  make_elf (&e), e.ph[0].p_paddr = 0x1000;
  CHECK (expect_fail (load_elf (&e, sizeof e, &err), &err, "below 1 MiB"));
  make_elf (&e), e.ph[0].p_paddr = MEM_SIZE - 100;
  CHECK (expect_fail (load_elf (&e, sizeof e, &err), &err, "does not fit"));
  make_elf (&e), e.ph[0].p_paddr = UINT64_MAX - 100;
  CHECK (expect_fail (load_elf (&e, sizeof e, &err), &err, "does not fit"));
  make_elf (&e), e.ph[0].p_memsz = UINT64_MAX;
  CHECK (expect_fail (load_elf (&e, sizeof e, &err), &err, "does not fit"));
  make_elf (&e), e.eh.e_entry = 0x300000;
  CHECK (expect_fail (load_elf (&e, sizeof e, &err), &err, "entry point"));
  make_elf (&e), e.ph[0].p_type = PT_NOTE;
  CHECK (expect_fail (load_elf (&e, sizeof e, &err), &err, "no loadable segment"));
}

TEST (elf_pvh_note_is_found_and_bad_notes_ignored)
{
  fake_mem ();
  struct {
    struct elf_img e;
    Elf64_Nhdr n;
    char name[4];
    uint32_t entry;
  } f;
  make_elf (&f.e);
  f.e.eh.e_phnum = 2;
  f.e.ph[1] = (Elf64_Phdr) { .p_type = PT_NOTE, .p_offset = offsetof (__typeof__ (f), n), .p_filesz = 20 };
  f.n = (Elf64_Nhdr) { .n_namesz = 4, .n_descsz = 4, .n_type = 18 };
  memcpy (f.name, "Xen", 4);
  f.entry = 0x1234567;
  struct boot_image img;
  berth_err err = NULL;
  CHECK (boot_load_elf (&mem, (const uint8_t *) &f, sizeof f, &img, &err) == 0);
  CHECK (img.pvh_entry == 0x1234567);
  f.n.n_descsz = 0xfffffff0; /* a note longer than its segment */
  CHECK (boot_load_elf (&mem, (const uint8_t *) &f, sizeof f, &img, &err) == 0);
  CHECK (img.pvh_entry == 0);
}

/* ---------------------------------------------------------------- bzImage */

#define BZ_SETUP_SECTS 4
#define BZ_LEN ((BZ_SETUP_SECTS + 1) * 512 + 8192)

static uint8_t *make_bzimage (size_t len)
{
  uint8_t *b = calloc (1, len < BZ_LEN ? BZ_LEN : len);
  CHECK (b != NULL);
  struct setup_header h;
  memset (&h, 0, sizeof h);
  h.setup_sects = BZ_SETUP_SECTS;
  h.syssize = 8192 / 16;
  h.boot_flag = 0xaa55;
  h.jump = 0x6a00 | 0xeb; /* header ends at 0x202 + 0x6a */
  h.header = 0x53726448;
  h.version = 0x020f;
  h.loadflags = LOADED_HIGH;
  h.code32_start = 0x100000;
  h.initrd_addr_max = 0x7fffffff;
  h.kernel_alignment = 0x200000;
  h.relocatable_kernel = 1;
  h.xloadflags = XLF_KERNEL_64;
  h.cmdline_size = 2047;
  h.init_size = 0x400000;
  memcpy (b + 0x1f1, &h, sizeof h);
  memset (b + (BZ_SETUP_SECTS + 1) * 512, 0xcc, 8192);
  return b;
}

static struct setup_header *hdr_of (uint8_t *b)
{
  return (struct setup_header *) (b + 0x1f1);
}

TEST (bzimage_loads_at_1mib_with_64bit_entry)
{
  fake_mem ();
  uint8_t *b = make_bzimage (BZ_LEN);
  struct boot_image img;
  berth_err err = NULL;
  CHECK (boot_load_bzimage (&mem, b, BZ_LEN, &img, &err) == 0);
  CHECK (img.is_bzimage);
  CHECK (img.entry == 0x100200);
  CHECK (img.kernel_end == 0x100000 + 0x400000);
  CHECK (img.initrd_addr_max == 0x7fffffff);
  CHECK (img.cmdline_max == 2048);
  CHECK (ram[0x100000] == 0xcc && ram[0x100000 + 8191] == 0xcc && ram[0x100000 + 8192] == 0);
  CHECK (img.hdr.version == 0x020f);
}

TEST (bzimage_corrupt_inputs_are_errors)
{
  fake_mem ();
  struct boot_image img;
  berth_err err = NULL;
  uint8_t *b = make_bzimage (BZ_LEN);
  CHECK (expect_fail (boot_load_bzimage (&mem, b, 0x200, &img, &err), &err, "truncated"));
  CHECK (expect_fail (boot_load_bzimage (&mem, b, (BZ_SETUP_SECTS + 1) * 512, &img, &err), &err, "truncated"));
  CHECK (expect_fail (boot_load_bzimage (&mem, b, BZ_LEN - 100, &img, &err), &err, "truncated"));
  b = make_bzimage (BZ_LEN), hdr_of (b)->setup_sects = 200;
  CHECK (expect_fail (boot_load_bzimage (&mem, b, BZ_LEN, &img, &err), &err, "truncated"));
  b = make_bzimage (BZ_LEN), hdr_of (b)->boot_flag = 0;
  CHECK (expect_fail (boot_load_bzimage (&mem, b, BZ_LEN, &img, &err), &err, "not a bzImage"));
  b = make_bzimage (BZ_LEN), hdr_of (b)->header = 0x12345678;
  CHECK (expect_fail (boot_load_bzimage (&mem, b, BZ_LEN, &img, &err), &err, "not a bzImage"));
  b = make_bzimage (BZ_LEN), hdr_of (b)->version = 0x0204;
  CHECK (expect_fail (boot_load_bzimage (&mem, b, BZ_LEN, &img, &err), &err, "too old"));
  b = make_bzimage (BZ_LEN), hdr_of (b)->loadflags = 0;
  CHECK (expect_fail (boot_load_bzimage (&mem, b, BZ_LEN, &img, &err), &err, "zImage"));
  b = make_bzimage (BZ_LEN), hdr_of (b)->xloadflags = 0;
  CHECK (expect_fail (boot_load_bzimage (&mem, b, BZ_LEN, &img, &err), &err, "64-bit entry"));
  b = make_bzimage (BZ_LEN), hdr_of (b)->init_size = 64u << 20;
  CHECK (expect_fail (boot_load_bzimage (&mem, b, BZ_LEN, &img, &err), &err, "more than guest memory"));
  b = make_bzimage (BZ_LEN), hdr_of (b)->code32_start = 0x1000;
  CHECK (expect_fail (boot_load_bzimage (&mem, b, BZ_LEN, &img, &err), &err, "below 1 MiB"));
  b = make_bzimage (BZ_LEN), hdr_of (b)->code32_start = 0xfffff000;
  CHECK (expect_fail (boot_load_bzimage (&mem, b, BZ_LEN, &img, &err), &err, "more than guest memory"));
}

/* Random damage to valid images: errors or success, never a crash or an
 * access outside the buffers (ASan build). */
TEST (loaders_survive_random_corruption)
{
  fake_mem ();
  srand (7);
  for (int round = 0; round < 2000; round++)
    {
      struct boot_image img;
      berth_err err = NULL;
      struct elf_img e;
      make_elf (&e);
      uint8_t *p = (uint8_t *) &e;
      for (int k = 0; k < 4; k++)
        p[rand () % sizeof e] = (uint8_t) rand ();
      size_t len = (size_t) rand () % (sizeof e + 1);
      uint8_t *copy = malloc (len ? len : 1); /* exact-size buffer for ASan */
      memcpy (copy, p, len);
      if (boot_load_elf (&mem, copy, len, &img, &err) < 0)
        berth_error_free (&err);
      free (copy);
      uint8_t *b = make_bzimage (BZ_LEN);
      for (int k = 0; k < 4; k++)
        b[0x1f1 + rand () % 0x80] = (uint8_t) rand ();
      len = (size_t) rand () % (BZ_LEN + 1);
      copy = malloc (len ? len : 1);
      memcpy (copy, b, len);
      if (boot_load_bzimage (&mem, copy, len, &img, &err) < 0)
        berth_error_free (&err);
      free (copy);
      free (b);
    }
}

/* ---------------------------------------------------------------- e820, zero page */

TEST (e820_16mib)
{
  fake_mem ();
  struct boot_e820_entry t[8];
  unsigned n = boot_e820 (&mem, t, 8);
  CHECK (n == 3);
  CHECK (t[0].addr == 0 && t[0].size == 0x9fc00 && t[0].type == 1);
  CHECK (t[1].addr == 0x9fc00 && t[1].addr + t[1].size == 0x100000 && t[1].type == 2);
  CHECK (t[2].addr == 0x100000 && t[2].addr + t[2].size == MEM_SIZE && t[2].type == 1);
}

TEST (e820_around_the_pci_hole)
{
  /* 4.5 GiB as guest_mem_alloc splits it; e820 needs no host memory */
  struct guest_mem m = { .nregions = 2 };
  m.regions[0] = (struct guest_region) { .gpa = 0, .size = GUEST_MMIO_HOLE_START };
  m.regions[1] = (struct guest_region) { .gpa = GUEST_MMIO_HOLE_END, .size = 0x60000000 };
  struct boot_e820_entry t[8];
  unsigned n = boot_e820 (&m, t, 8);
  CHECK (n == 4);
  CHECK (t[2].addr == 0x100000 && t[2].addr + t[2].size == 0xc0000000ULL);
  CHECK (t[3].addr == 0x100000000ULL && t[3].size == 0x60000000 && t[3].type == 1);
  CHECK (boot_e820 (&m, t, 2) == 2); /* never more than the table holds */
}

TEST (zero_page_fields)
{
  fake_mem ();
  struct boot_image img;
  berth_err err = NULL;
  uint8_t *b = make_bzimage (BZ_LEN);
  CHECK (boot_load_bzimage (&mem, b, BZ_LEN, &img, &err) == 0);
  CHECK (boot_write_zero_page (&mem, &img, "console=ttyS0 test=1", 0x800000, 12345, &err) == 0);
  const struct boot_params *bp = (const struct boot_params *) (ram + BOOT_ZERO_PAGE);
  CHECK (bp->hdr.type_of_loader == 0xff);
  CHECK (bp->hdr.boot_flag == 0xaa55 && bp->hdr.header == 0x53726448);
  CHECK (bp->hdr.cmd_line_ptr == BOOT_CMDLINE);
  CHECK_STR ((const char *) ram + BOOT_CMDLINE, "console=ttyS0 test=1");
  CHECK (bp->hdr.ramdisk_image == 0x800000 && bp->hdr.ramdisk_size == 12345);
  CHECK (bp->e820_entries == 3);
  CHECK (bp->e820_table[2].addr == 0x100000);
  /* an ELF kernel gets a synthesised header */
  struct elf_img e;
  make_elf (&e);
  CHECK (boot_load_elf (&mem, (const uint8_t *) &e, sizeof e, &img, &err) == 0);
  CHECK (boot_write_zero_page (&mem, &img, "", 0, 0, &err) == 0);
  CHECK (bp->hdr.type_of_loader == 0xff && bp->hdr.header == 0x53726448 && bp->hdr.ramdisk_size == 0);
  /* a command line longer than the kernel takes */
  char *longline = malloc (5000);
  memset (longline, 'x', 4999);
  longline[4999] = 0;
  CHECK (expect_fail (boot_write_zero_page (&mem, &img, longline, 0, 0, &err), &err, "too long"));
}

TEST (page_tables_identity_map_4gib)
{
  fake_mem ();
  berth_err err = NULL;
  CHECK (boot_write_page_tables (&mem, &err) == 0);
  uint64_t *pml4 = (uint64_t *) (ram + BOOT_PML4), *pdpt = (uint64_t *) (ram + BOOT_PDPT);
  CHECK ((pml4[0] & ~0xfffULL) == BOOT_PDPT && (pml4[0] & 3) == 3);
  for (int i = 0; i < 4; i++)
    {
      uint64_t *pd = (uint64_t *) (ram + (pdpt[i] & ~0xfffULL));
      CHECK ((pd[0] & ~0xfffULL) == (uint64_t) i << 30 && (pd[0] & 0x83) == 0x83);
      CHECK ((pd[511] & ~0xfffULL) == ((uint64_t) i << 30) + (511ULL << 21));
    }
  CHECK (pdpt[4] == 0);
  uint64_t *gdt = (uint64_t *) (ram + BOOT_GDT_ADDR);
  CHECK (gdt[0] == 0);
  CHECK (gdt[1] == 0x00af9b000000ffffULL); /* 64-bit code */
  CHECK (gdt[2] == 0x00cf93000000ffffULL); /* flat data */
}

/* ---------------------------------------------------------------- CPUID */

static struct kvm_cpuid2 *fake_cpuid (void)
{
  struct kvm_cpuid2 *c = calloc (1, sizeof *c + CPUID_MAX_ENTRIES * sizeof c->entries[0]);
  CHECK (c != NULL);
  const uint32_t leaves[][2] = { { 0, 0 }, { 1, 0 }, { 4, 0 }, { 4, 3 }, { 7, 0 }, { 0xb, 0 }, { 0xb, 1 },
                                 { 0xd, 0 }, { 0xd, 1 }, { 0x80000008, 0 } };
  for (unsigned i = 0; i < sizeof leaves / sizeof leaves[0]; i++)
    c->entries[c->nent++] = (struct kvm_cpuid_entry2) { .function = leaves[i][0], .index = leaves[i][1],
                                                       .eax = 0xffffffff, .ebx = 0xffffffff, .ecx = 0xffffffff,
                                                       .edx = 0xffffffff };
  c->entries[3].eax = 0x63; /* leaf 4.3: a level-3 data cache */
  return c;
}

static struct kvm_cpuid_entry2 *leaf (struct kvm_cpuid2 *c, uint32_t f, uint32_t idx)
{
  for (uint32_t i = 0; i < c->nent; i++)
    if (c->entries[i].function == f && c->entries[i].index == idx)
      return &c->entries[i];
  return NULL;
}

TEST (cpuid_templates)
{
  berth_err err = NULL;
  struct kvm_cpuid2 *c = fake_cpuid ();
  CHECK (cpuid_apply_template (c, "None", &err) == 0);
  CHECK (leaf (c, 7, 0)->ebx == 0xffffffff && leaf (c, 1, 0)->ecx == 0xffffffff);
  CHECK (cpuid_apply_template (c, NULL, &err) == 0);
  CHECK (leaf (c, 1, 0)->ecx == 0xffffffff);
  CHECK (cpuid_apply_template (c, "T2", &err) == 0);
  CHECK (!(leaf (c, 7, 0)->ebx & (1u << 16)));  /* AVX512F */
  CHECK (!(leaf (c, 7, 0)->ecx & (1u << 3)));   /* PKU */
  CHECK (!(leaf (c, 1, 0)->ecx & (1u << 5)));   /* VMX */
  CHECK (!(leaf (c, 1, 0)->ecx & (1u << 3)));   /* MONITOR */
  CHECK (leaf (c, 1, 0)->ecx & (1u << 28));     /* AVX stays */
  CHECK (leaf (c, 7, 0)->ebx & (1u << 5));      /* AVX2 stays */
  CHECK (!(leaf (c, 0xd, 0)->eax & (1u << 5))); /* AVX-512 XSAVE state */
  CHECK (leaf (c, 0xd, 0)->eax & (1u << 2));    /* AVX state stays */
  free (c);
  c = fake_cpuid ();
  CHECK (cpuid_apply_template (c, "c3", &err) == 0);
  CHECK (leaf (c, 7, 0)->ebx & (1u << 16));      /* AVX512F stays */
  CHECK (leaf (c, 7, 0)->ebx & (1u << 31));      /* AVX512VL stays */
  CHECK (!(leaf (c, 7, 0)->ebx & (1u << 4)));    /* HLE */
  CHECK (!(leaf (c, 7, 0)->ecx & (1u << 3)));    /* PKU */
  CHECK (leaf (c, 0xd, 0)->eax & (1u << 5));     /* AVX-512 state stays */
  CHECK (!(leaf (c, 0xd, 0)->eax & (1u << 9)));  /* PKRU state */
  CHECK (!(leaf (c, 1, 0)->ecx & (1u << 5)));    /* VMX */
  CHECK (expect_fail (cpuid_apply_template (c, "Z9", &err), &err, "unknown CPU template"));
  CHECK (cpuid_template_check ("", &err) == 0); /* "" is None */
  CHECK (cpuid_template_check ("t2", &err) == 0);
  free (c);
}

TEST (cpuid_topology_and_kvm_leaves)
{
  struct kvm_cpuid2 *c = fake_cpuid ();
  cpuid_for_vcpu (c, 2, 4, false);
  CHECK (leaf (c, 1, 0)->ebx >> 24 == 2);               /* initial APIC id */
  CHECK (((leaf (c, 1, 0)->ebx >> 16) & 0xff) == 4);    /* logical processors */
  CHECK (leaf (c, 1, 0)->ecx & (1u << 31));             /* hypervisor */
  CHECK (leaf (c, 0xb, 0)->edx == 2 && leaf (c, 0xb, 1)->edx == 2);
  CHECK (leaf (c, 0xb, 0)->ebx == 1 && leaf (c, 0xb, 1)->ebx == 4);
  CHECK (leaf (c, 0xb, 1)->eax == 2);                   /* 4 CPUs: 2 bits */
  CHECK ((leaf (c, 0x80000008, 0)->ecx & 0xff) == 3);
  CHECK (((leaf (c, 4, 3)->eax >> 14) & 0xfff) == 3);   /* L3 shared by all */
  struct kvm_cpuid_entry2 *sig = leaf (c, 0x40000000, 0);
  CHECK (sig != NULL && sig->eax == 0x40000001);
  CHECK (memcmp (&sig->ebx, "KVMK", 4) == 0 && memcmp (&sig->ecx, "VMKV", 4) == 0);
  struct kvm_cpuid_entry2 *feat = leaf (c, 0x40000001, 0);
  CHECK (feat != NULL && (feat->eax & (1u << 3))); /* kvmclock (CLOCKSOURCE2) */
  uint32_t n = c->nent;
  cpuid_for_vcpu (c, 3, 4, true);
  CHECK (c->nent == n); /* the KVM leaves are not added twice */
  CHECK (leaf (c, 0xb, 0)->ebx == 2);
  free (c);
}

/* ---------------------------------------------------------------- MP table */

static uint8_t sum (const uint8_t *p, size_t n)
{
  uint8_t s = 0;
  while (n--)
    s += *p++;
  return s;
}

TEST (mptable_checksums_and_entries)
{
  fake_mem ();
  berth_err err = NULL;
  struct mptable_pci_irq pci[2] = { { 1, 1, 5 }, { 2, 1, 6 } };
  CHECK (mptable_write (&mem, 4, pci, 2, &err) == 0);
  const uint8_t *fp = ram + BOOT_MPTABLE;
  CHECK (memcmp (fp, "_MP_", 4) == 0);
  CHECK (sum (fp, 16) == 0);
  uint32_t physptr;
  memcpy (&physptr, fp + 4, 4);
  const uint8_t *t = ram + physptr;
  CHECK (memcmp (t, "PCMP", 4) == 0);
  uint16_t len, count;
  memcpy (&len, t + 4, 2);
  memcpy (&count, t + 34, 2);
  CHECK (sum (t, len) == 0);
  unsigned cpus = 0, bsp = 0, buses = 0, ioapic = 0, pci_ints = 0;
  const uint8_t *e = t + 44;
  for (unsigned i = 0; i < count; i++)
    {
      CHECK (e < t + len);
      if (e[0] == 0)
        {
          cpus++;
          bsp += (e[3] & 2) != 0;
          e += 20;
          continue;
        }
      buses += e[0] == 1;
      ioapic += e[0] == 2;
      if (e[0] == 3 && e[4] == 1) /* from the PCI bus */
        {
          pci_ints++;
          CHECK (e[5] == (1 << 2) || e[5] == (2 << 2)); /* dev << 2 | INTA */
          CHECK (e[7] == 5 || e[7] == 6);
        }
      e += 8;
    }
  CHECK (e == t + len);
  CHECK (cpus == 4 && bsp == 1 && buses == 2 && ioapic == 1 && pci_ints == 2);
  CHECK (expect_fail (mptable_write (&mem, 0, NULL, 0, &err), &err, "CPUs"));
  CHECK (expect_fail (mptable_write (&mem, 300, NULL, 0, &err), &err, "CPUs"));
  struct guest_mem tiny;
  uint8_t small[4096];
  guest_mem_init_fake (&tiny, 0, small, sizeof small);
  CHECK (expect_fail (mptable_write (&tiny, 1, NULL, 0, &err), &err, "does not cover"));
}
