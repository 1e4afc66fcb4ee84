#include "vmm/bus.h"

#include <errno.h>
#include <string.h>

void bus_init (struct bus *b, const char *name)
{
  memset (b, 0, sizeof *b);
  b->name = name;
}

int bus_register (struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops, void *opaque, berth_err *err)
{
  if (len == 0 || base + len < base)
    return berth_fail (err, 0, "%s bus: invalid range 0x%llx+0x%llx", b->name, (unsigned long long) base,
                       (unsigned long long) len);
  for (unsigned i = 0; i < b->n; i++)
    {
      const struct bus_range *r = &b->ranges[i];
      if (base < r->base + r->len && r->base < base + len)
        return berth_fail_as (err, EEXIST, "%s bus: 0x%llx+0x%llx overlaps a device at 0x%llx", b->name,
                              (unsigned long long) base, (unsigned long long) len, (unsigned long long) r->base);
    }
  if (b->n == BUS_MAX_RANGES)
    return berth_fail (err, 0, "%s bus: too many devices", b->name);
  b->ranges[b->n++] = (struct bus_range) { .base = base, .len = len, .ops = ops, .opaque = opaque };
  return 0;
}

bool bus_access (struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
  for (unsigned i = 0; i < b->n; i++)
    {
      const struct bus_range *r = &b->ranges[i];
      if (addr < r->base || addr - r->base >= r->len)
        continue;
      uint64_t off = addr - r->base;
      if (is_write)
        {
          if (r->ops->write)
            r->ops->write (r->opaque, off, data, len);
        }
      else if (r->ops->read)
        r->ops->read (r->opaque, off, data, len);
      else
        memset (data, 0xff, len);
      return true;
    }
  if (!is_write)
    memset (data, 0xff, len);
  return false;
}
