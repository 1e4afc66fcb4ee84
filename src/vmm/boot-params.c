/* The zero page (struct boot_params) and the e820 map. */
#include <string.h>

#include "vmm/boot.h"

#define E820_RAM 1
#define E820_RESERVED 2
#define LOADER_TYPE_UNDEFINED 0xff /* "other": the kernel then honours the initrd fields */
#define VID_MODE_NORMAL 0xffff
#define ELF_HDR_VERSION 0x020f /* what a synthesised header claims */
#define KERNEL_ALIGNMENT 0x1000000

static unsigned add (struct boot_e820_entry *tab, unsigned n, unsigned max, uint64_t addr, uint64_t size,
                     uint32_t type)
{
  if (n < max && size > 0)
    tab[n++] = (struct boot_e820_entry) { .addr = addr, .size = size, .type = type };
  return n;
}

unsigned boot_e820 (const struct guest_mem *m, struct boot_e820_entry *tab, unsigned max)
{
  unsigned n = 0;
  for (unsigned i = 0; i < m->nregions; i++)
    {
      const struct guest_region *r = &m->regions[i];
      uint64_t start = r->gpa, end = r->gpa + r->size;
      if (start < BOOT_HIMEM)
        {
          /* Conventional memory up to the EBDA, then the BIOS area (EBDA,
           * VGA hole, MP table) reserved, then RAM from 1 MiB. */
          n = add (tab, n, max, start, (end < BOOT_EBDA_START ? end : BOOT_EBDA_START) - start, E820_RAM);
          if (end > BOOT_EBDA_START)
            n = add (tab, n, max, BOOT_EBDA_START, (end < BOOT_HIMEM ? end : BOOT_HIMEM) - BOOT_EBDA_START,
                     E820_RESERVED);
          start = BOOT_HIMEM;
        }
      if (end > start)
        n = add (tab, n, max, start, end - start, E820_RAM);
    }
  return n;
}

/* The setup header of an ELF kernel, which has none of its own. */
static void synthesise_header (struct setup_header *h)
{
  memset (h, 0, sizeof *h);
  h->boot_flag = 0xaa55;
  h->header = 0x53726448;
  h->version = ELF_HDR_VERSION;
  h->kernel_alignment = KERNEL_ALIGNMENT;
}

int boot_write_cmdline (const struct guest_mem *m, const struct boot_image *img, const char *cmdline,
                        berth_err *err)
{
  size_t cl = strlen (cmdline);
  if (cl + 1 > img->cmdline_max)
    return berth_fail (err, 0, "kernel command line too long (%zu bytes, the kernel takes %u)", cl,
                       img->cmdline_max - 1);
  if (guest_mem_write (m, BOOT_CMDLINE, cmdline, cl + 1) < 0)
    return berth_fail (err, 0, "guest memory too small for the command line");
  return 0;
}

int boot_write_zero_page (const struct guest_mem *m, const struct boot_image *img, const char *cmdline,
                          uint64_t initrd_addr, uint64_t initrd_size, berth_err *err)
{
  int r = boot_write_cmdline (m, img, cmdline, err);
  if (r < 0)
    return r;
  size_t cl = strlen (cmdline);
  struct boot_params bp;
  memset (&bp, 0, sizeof bp);
  if (img->is_bzimage)
    bp.hdr = img->hdr;
  else
    synthesise_header (&bp.hdr);
  bp.hdr.type_of_loader = LOADER_TYPE_UNDEFINED;
  bp.hdr.vid_mode = VID_MODE_NORMAL;
  bp.hdr.cmd_line_ptr = (uint32_t) BOOT_CMDLINE;
  bp.hdr.cmdline_size = (uint32_t) cl;
  bp.hdr.ramdisk_image = (uint32_t) initrd_addr;
  bp.hdr.ramdisk_size = (uint32_t) initrd_size;
  bp.ext_ramdisk_image = (uint32_t) (initrd_addr >> 32);
  bp.ext_ramdisk_size = (uint32_t) (initrd_size >> 32);
  bp.e820_entries = (uint8_t) boot_e820 (m, bp.e820_table, E820_MAX_ENTRIES_ZEROPAGE);
  if (guest_mem_write (m, BOOT_ZERO_PAGE, &bp, sizeof bp) < 0)
    return berth_fail (err, 0, "guest memory too small for the zero page");
  return 0;
}
