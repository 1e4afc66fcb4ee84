/* ELF vmlinux: load the PT_LOAD segments at their physical addresses and
 * start at e_entry (Linux links vmlinux with its physical startup_64 as the
 * entry).  The Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) is recorded,
 * with whether it points into a loaded segment; whether it is used is
 * boot_select_entry's choice (boot-pvh.c). */
#include <elf.h>
#include <string.h>

#include "vmm/boot.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define ELF_MAX_PHDRS 64
/* Linux's default initrd_addr_max when there is no setup header. */
#define ELF_INITRD_ADDR_MAX 0x37ffffffULL

static int check_ehdr (const uint8_t *buf, size_t len, const Elf64_Ehdr **out, berth_err *err)
{
  if (len < sizeof (Elf64_Ehdr))
    return berth_fail (err, 0, "ELF kernel: truncated header (%zu bytes)", len);
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *) buf;
  if (memcmp (eh->e_ident, ELFMAG, SELFMAG) != 0)
    return berth_fail (err, 0, "not an ELF file");
  if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64)
    return berth_fail (err, 0, "ELF kernel: not a 64-bit little-endian x86-64 image");
  if (eh->e_type != ET_EXEC)
    return berth_fail (err, 0, "ELF kernel: not an executable (e_type %u)", eh->e_type);
  if (eh->e_phentsize != sizeof (Elf64_Phdr) || eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHDRS)
    return berth_fail (err, 0, "ELF kernel: bad program header table (%u entries of %u bytes)", eh->e_phnum,
                       eh->e_phentsize);
  if (eh->e_phoff > len || (uint64_t) eh->e_phnum * sizeof (Elf64_Phdr) > len - eh->e_phoff)
    return berth_fail (err, 0, "ELF kernel: truncated (program headers past the end of the file)");
  *out = eh;
  return 0;
}

/* The PVH entry from a PT_NOTE segment, or 0.  Malformed notes are
 * ignored: the note is optional. */
static uint64_t find_pvh_entry (const uint8_t *buf, size_t len, const Elf64_Phdr *ph)
{
  if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
    return 0;
  const uint8_t *p = buf + ph->p_offset, *end = p + ph->p_filesz;
  while ((size_t) (end - p) >= sizeof (Elf64_Nhdr))
    {
      const Elf64_Nhdr *n = (const Elf64_Nhdr *) p;
      uint64_t name_sz = (n->n_namesz + 3ULL) & ~3ULL, desc_sz = (n->n_descsz + 3ULL) & ~3ULL;
      p += sizeof *n;
      if (name_sz > (size_t) (end - p) || desc_sz > (size_t) (end - p) - name_sz)
        return 0;
      if (n->n_type == XEN_ELFNOTE_PHYS32_ENTRY && n->n_namesz == 4 && memcmp (p, "Xen", 4) == 0
          && n->n_descsz >= 4)
        {
          uint32_t e;
          memcpy (&e, p + name_sz, 4);
          return e;
        }
      p += name_sz + desc_sz;
    }
  return 0;
}

static int load_segment (const struct guest_mem *m, const uint8_t *buf, size_t len, const Elf64_Phdr *ph,
                         unsigned idx, struct boot_image *img, berth_err *err)
{
  if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
    return berth_fail (err, 0, "ELF kernel: truncated (segment %u past the end of the file)", idx);
  if (ph->p_filesz > ph->p_memsz)
    return berth_fail (err, 0, "ELF kernel: segment %u has more file than memory bytes", idx);
  if (ph->p_paddr < BOOT_HIMEM)
    return berth_fail (err, 0, "ELF kernel: segment %u at 0x%llx is below 1 MiB", idx,
                       (unsigned long long) ph->p_paddr);
  uint8_t *dst = guest_mem_ptr (m, ph->p_paddr, ph->p_memsz);
  if (dst == NULL)
    return berth_fail (err, 0, "ELF kernel: segment %u (0x%llx, %llu bytes) does not fit in guest memory", idx,
                       (unsigned long long) ph->p_paddr, (unsigned long long) ph->p_memsz);
  memcpy (dst, buf + ph->p_offset, ph->p_filesz);
  memset (dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
  if (ph->p_paddr + ph->p_memsz > img->kernel_end)
    img->kernel_end = ph->p_paddr + ph->p_memsz;
  return 0;
}

/* ADDR lies in the file bytes of a loaded segment (so the code at an
 * entry point comes from the image, not from zeroed memory). */
static bool in_loaded_segment (const uint8_t *buf, const Elf64_Ehdr *eh, uint64_t addr)
{
  for (unsigned i = 0; i < eh->e_phnum; i++)
    {
      Elf64_Phdr ph;
      memcpy (&ph, buf + eh->e_phoff + i * sizeof ph, sizeof ph);
      if (ph.p_type == PT_LOAD && ph.p_memsz > 0 && addr >= ph.p_paddr && addr - ph.p_paddr < ph.p_filesz)
        return true;
    }
  return false;
}

int boot_load_elf (const struct guest_mem *m, const uint8_t *buf, size_t len, struct boot_image *img, berth_err *err)
{
  const Elf64_Ehdr *eh = NULL;
  int r = check_ehdr (buf, len, &eh, err);
  if (r < 0)
    return r;
  memset (img, 0, sizeof *img);
  unsigned nload = 0;
  for (unsigned i = 0; i < eh->e_phnum; i++)
    {
      Elf64_Phdr ph;
      memcpy (&ph, buf + eh->e_phoff + i * sizeof ph, sizeof ph);
      if (ph.p_type == PT_NOTE && img->pvh_entry == 0)
        img->pvh_entry = find_pvh_entry (buf, len, &ph);
      if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
        continue;
      if ((r = load_segment (m, buf, len, &ph, i, img, err)) < 0)
        return r;
      nload++;
    }
  if (nload == 0)
    return berth_fail (err, 0, "ELF kernel: no loadable segment");
  img->pvh_entry_loaded = img->pvh_entry != 0 && in_loaded_segment (buf, eh, img->pvh_entry);
  if (!in_loaded_segment (buf, eh, eh->e_entry))
    return berth_fail (err, 0, "ELF kernel: entry point 0x%llx is not in a loaded segment",
                       (unsigned long long) eh->e_entry);
  img->entry = eh->e_entry;
  img->initrd_addr_max = ELF_INITRD_ADDR_MAX;
  img->cmdline_max = BOOT_CMDLINE_MAX;
  return 0;
}
