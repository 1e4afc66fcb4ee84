#include "vmm/guest-mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

static int map_region (struct guest_mem *m, uint64_t gpa, uint64_t size, berth_err *err)
{
  if (m->nregions == GUEST_MEM_MAX_REGIONS)
    return berth_fail (err, 0, "too many guest memory regions");
  void *p = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return berth_fail_errno (err, "map %llu MiB of guest memory", (unsigned long long) (size >> 20));
  /* Page sharing (KSM) and transparent huge pages are hints: a host without
   * them still runs the guest. */
  (void) madvise (p, size, MADV_MERGEABLE);
  (void) madvise (p, size, MADV_HUGEPAGE);
  m->regions[m->nregions++] = (struct guest_region) { .gpa = gpa, .size = size, .host = p };
  m->total += size;
  return 0;
}

int guest_mem_alloc (struct guest_mem *m, uint64_t size, berth_err *err)
{
  memset (m, 0, sizeof *m);
  m->mapped = true;
  uint64_t low = size < GUEST_MMIO_HOLE_START ? size : GUEST_MMIO_HOLE_START;
  int r = map_region (m, 0, low, err);
  if (r == 0 && size > low)
    r = map_region (m, GUEST_MMIO_HOLE_END, size - low, err);
  if (r < 0)
    guest_mem_free (m);
  return r;
}

void guest_mem_init_fake (struct guest_mem *m, uint64_t gpa, void *buf, uint64_t size)
{
  memset (m, 0, sizeof *m);
  m->regions[0] = (struct guest_region) { .gpa = gpa, .size = size, .host = buf };
  m->nregions = 1;
  m->total = size;
}

void guest_mem_free (struct guest_mem *m)
{
  if (m->mapped)
    for (unsigned i = 0; i < m->nregions; i++)
      munmap (m->regions[i].host, m->regions[i].size);
  memset (m, 0, sizeof *m);
}

void *guest_mem_ptr (const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
  for (unsigned i = 0; i < m->nregions; i++)
    {
      const struct guest_region *r = &m->regions[i];
      if (gpa < r->gpa || gpa - r->gpa >= r->size)
        continue;
      uint64_t off = gpa - r->gpa;
      /* off < size, so size - off cannot underflow; no gpa+len overflow */
      if (len > r->size - off)
        return NULL;
      return r->host + off;
    }
  return NULL;
}

int guest_mem_read (const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len)
{
  void *p = guest_mem_ptr (m, gpa, len);
  if (p == NULL)
    return -EFAULT;
  memcpy (dst, p, len);
  return 0;
}

int guest_mem_write (const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len)
{
  void *p = guest_mem_ptr (m, gpa, len);
  if (p == NULL)
    return -EFAULT;
  memcpy (p, src, len);
  return 0;
}
