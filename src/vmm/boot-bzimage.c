/* bzImage (Linux boot protocol 2.x, Documentation/arch/x86/boot.rst): the
 * setup header at 0x1f1 tells where the protected-mode kernel starts in the
 * file (after 1 + setup_sects sectors); the VMM loads that part at
 * code32_start (1 MiB) and enters its 64-bit entry, 0x200 bytes further
 * ("64-bit boot protocol").  The real-mode setup code never runs. */
#include <stddef.h>
#include <string.h>

#include "vmm/boot.h"

#define SETUP_HDR_OFFSET 0x1f1
#define BOOT_FLAG_MAGIC 0xaa55
#define HDRS_MAGIC 0x53726448 /* "HdrS" */
/* 2.10 has init_size and pref_address; earlier kernels predate the 64-bit
 * entry as documented. */
#define MIN_BOOT_PROTOCOL 0x020a
#define STARTUP_64_OFFSET 0x200

static int read_header (const uint8_t *buf, size_t len, struct setup_header *h, berth_err *err)
{
  if (len < SETUP_HDR_OFFSET + sizeof *h)
    return berth_fail (err, 0, "bzImage: truncated (%zu bytes, shorter than its setup header)", len);
  /* Copy only the header's own length (the byte at 0x201 says where it
   * ends); fields past it are zero, as an older kernel expects. */
  size_t hdr_end = 0x202 + (size_t) buf[0x201];
  size_t n = hdr_end - SETUP_HDR_OFFSET;
  if (n > sizeof *h)
    n = sizeof *h;
  memset (h, 0, sizeof *h);
  memcpy (h, buf + SETUP_HDR_OFFSET, n);
  if (h->boot_flag != BOOT_FLAG_MAGIC || h->header != HDRS_MAGIC)
    return berth_fail (err, 0, "not a bzImage (no boot flag 0xAA55 / \"HdrS\" magic)");
  if (h->version < MIN_BOOT_PROTOCOL)
    return berth_fail (err, 0, "bzImage: boot protocol %u.%02u is too old (needs 2.10)", h->version >> 8,
                       h->version & 0xff);
  if (!(h->loadflags & LOADED_HIGH))
    return berth_fail (err, 0, "bzImage: a zImage (not loaded high) is not supported");
  if (h->version >= 0x020c && !(h->xloadflags & XLF_KERNEL_64))
    return berth_fail (err, 0, "bzImage: the kernel has no 64-bit entry point (xloadflags)");
  return 0;
}

int boot_load_bzimage (const struct guest_mem *m, const uint8_t *buf, size_t len, struct boot_image *img,
                       berth_err *err)
{
  memset (img, 0, sizeof *img);
  int r = read_header (buf, len, &img->hdr, err);
  if (r < 0)
    return r;
  struct setup_header *h = &img->hdr;
  size_t setup_size = ((size_t) (h->setup_sects ? h->setup_sects : 4) + 1) * 512;
  if (setup_size >= len)
    return berth_fail (err, 0, "bzImage: truncated (no kernel after %zu bytes of setup code)", setup_size);
  size_t kernel_size = len - setup_size;
  /* syssize is the protected-mode part in 16-byte units, rounded up (the
   * file is not padded to a multiple of 16) */
  if (h->syssize != 0 && (uint64_t) h->syssize * 16 > kernel_size + 15)
    return berth_fail (err, 0, "bzImage: truncated (%zu kernel bytes, the header says %llu)", kernel_size,
                       (unsigned long long) h->syssize * 16);
  uint64_t load = h->code32_start ? h->code32_start : BOOT_HIMEM;
  if (load < BOOT_HIMEM)
    return berth_fail (err, 0, "bzImage: load address 0x%llx is below 1 MiB", (unsigned long long) load);
  /* init_size: what the kernel needs from its load address while it
   * decompresses itself. */
  uint64_t need = h->init_size > kernel_size ? h->init_size : kernel_size;
  uint8_t *dst = guest_mem_ptr (m, load, need);
  if (dst == NULL)
    return berth_fail (err, 0, "bzImage: the kernel needs %llu MiB from 0x%llx, more than guest memory has",
                       (unsigned long long) (need >> 20) + 1, (unsigned long long) load);
  memcpy (dst, buf + setup_size, kernel_size);
  img->is_bzimage = true;
  img->entry = load + STARTUP_64_OFFSET;
  img->kernel_end = load + need;
  img->initrd_addr_max = h->initrd_addr_max ? h->initrd_addr_max : 0x37ffffff;
  img->cmdline_max = h->cmdline_size ? (h->cmdline_size + 1 < BOOT_CMDLINE_MAX ? h->cmdline_size + 1 : BOOT_CMDLINE_MAX)
                                     : BOOT_CMDLINE_MAX;
  return 0;
}
