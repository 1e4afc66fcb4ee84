/* pvpanic and the shutdown port (platform.h). */
#include <string.h>

#include "vmm/platform.h"
#include "vmm/vmm.h"

#define PVPANIC_PANICKED 0x1

static void pvpanic_read (void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
  memset (data, 0, len);
  data[0] = PVPANIC_PANICKED;
}

static void pvpanic_write (void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
  struct platform_ports *p = opaque;
  if (data[0] & PVPANIC_PANICKED)
    p->exit_fn (p->opaque, VMM_EXIT_PANIC);
}

static void shutdown_write (void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
  struct platform_ports *p = opaque;
  uint32_t v = 0;
  memcpy (&v, data, len < sizeof v ? len : sizeof v);
  if (off == 0 && len >= 2 && (v & SHUTDOWN_SLP_EN))
    p->exit_fn (p->opaque, VMM_EXIT_POWEROFF);
}

static const struct bus_ops pvpanic_ops = { .read = pvpanic_read, .write = pvpanic_write };
static const struct bus_ops shutdown_ops = { .write = shutdown_write };

int platform_ports_register (struct platform_ports *p, struct bus *pio, berth_err *err)
{
  int r = bus_register (pio, PVPANIC_PORT, 1, &pvpanic_ops, p, err);
  if (r == 0)
    r = bus_register (pio, SHUTDOWN_PORT, 2, &shutdown_ops, p, err);
  return r;
}
