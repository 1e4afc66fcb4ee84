/* The PCI bus (configuration mechanism #1, BAR sizing, capabilities) and
 * modern virtio-pci, driven as Linux's virtio_pci_modern does: find the
 * vendor capabilities, size and read BAR 0, negotiate, set up a queue,
 * and run a virtio-rng request through it. */
#include <linux/virtio_pci.h>

#include "unit.h"
#include "vmm/virtio/pci.h"
#include "vmm/virtio/vtransport.h"
#include "vmm_driver.h"

#define QGPA (FAKE_GPA + 0x10000)
#define BUF (FAKE_GPA + 0x40000)

static struct bus pio, mmio;
static struct pci_bus *pci;
static struct fake_host host;

static uint32_t cfg_rd (unsigned dev, unsigned reg, unsigned len)
{
  uint8_t a[4] = { (uint8_t) (reg & 0xfc), (uint8_t) (dev << 3), 0, 0x80 };
  bus_access (&pio, 0xcf8, a, 4, true);
  uint8_t d[4] = { 0 };
  bus_access (&pio, 0xcfc + (reg & 3), d, len, false);
  return vt_le (d, len);
}

static void cfg_wr (unsigned dev, unsigned reg, unsigned len, uint32_t v)
{
  uint8_t a[4] = { (uint8_t) (reg & 0xfc), (uint8_t) (dev << 3), 0, 0x80 };
  bus_access (&pio, 0xcf8, a, 4, true);
  uint8_t d[4];
  vt_put_le (d, len, v);
  bus_access (&pio, 0xcfc + (reg & 3), d, len, true);
}

static uint64_t bar0;

static uint32_t bar_rd (uint64_t off, unsigned len)
{
  uint8_t d[8] = { 0 };
  bus_access (&mmio, bar0 + off, d, len, false);
  return vt_le (d, len);
}

static void bar_wr (uint64_t off, unsigned len, uint32_t v)
{
  uint8_t d[4];
  vt_put_le (d, len, v);
  bus_access (&mmio, bar0 + off, d, len, true);
}

static struct virtio_dev *rng;

static void setup (void)
{
  fake_mem_init ();
  fake_host_init (&host, NULL);
  bus_init (&pio, "pio");
  bus_init (&mmio, "mmio");
  berth_err err = NULL;
  CHECK (pci_bus_new (&pio, &mmio, 0xc0000000ULL, 0x10000000ULL, &pci, &err) == 0);
  CHECK (virtio_rng_create (&fake_mem, NULL, &rng, &err) == 0);
  CHECK (virtio_pci_attach (rng, &host.h, pci, 9, &err) == 0);
}

TEST (pci_conf1_and_host_bridge)
{
  setup ();
  uint8_t a[4] = { 0, 0, 0, 0x80 };
  bus_access (&pio, 0xcf8, a, 4, true);
  uint8_t b[4];
  bus_access (&pio, 0xcf8, b, 4, false);
  CHECK (vt_le (b, 4) == 0x80000000u);
  CHECK (cfg_rd (0, 0, 4) == 0x0d578086u);
  CHECK (cfg_rd (0, 0x0a, 2) == 0x0600); /* host bridge class */
  CHECK (cfg_rd (7, 0, 4) == 0xffffffffu); /* nobody at 00:07.0 */
  /* Another bus, a function beyond 0, or the enable bit off: all ones. */
  uint8_t other[4] = { 0, 0, 1, 0x80 };
  bus_access (&pio, 0xcf8, other, 4, true);
  bus_access (&pio, 0xcfc, b, 4, false);
  CHECK (vt_le (b, 4) == 0xffffffffu);
  uint8_t fn1[4] = { 0, 1, 0, 0x80 };
  bus_access (&pio, 0xcf8, fn1, 4, true);
  bus_access (&pio, 0xcfc, b, 4, false);
  CHECK (vt_le (b, 4) == 0xffffffffu);
  /* Writes to read-only registers change nothing. */
  cfg_wr (1, 0, 4, 0x12345678);
  CHECK (cfg_rd (1, 0, 4) == 0x10441af4u); /* virtio-rng: 0x1040 + 4 */
}

static unsigned irq_dev, irq_pin, irq_gsi, irq_n;
static void collect (void *opaque, unsigned dev, unsigned pin, uint32_t gsi)
{
  irq_dev = dev, irq_pin = pin, irq_gsi = gsi, irq_n++;
}

TEST (pci_function_bar_caps_irq)
{
  setup ();
  CHECK (cfg_rd (1, 0x08, 1) == 1);              /* revision 1: modern only */
  CHECK (cfg_rd (1, 0x0b, 1) == 0xff);           /* class: other */
  CHECK (cfg_rd (1, 0x2c, 4) == 0x10441af4u);    /* subsystem */
  CHECK (cfg_rd (1, 0x3c, 1) == 9 && cfg_rd (1, 0x3d, 1) == 1);
  irq_n = 0;
  pci_bus_for_each_irq (pci, collect, NULL);
  CHECK (irq_n == 1 && irq_dev == 1 && irq_pin == 1 && irq_gsi == 9);
  /* BAR 0: sizing, then the address back. */
  uint32_t addr = cfg_rd (1, 0x10, 4);
  CHECK (addr == 0xc0000000u);
  cfg_wr (1, 0x10, 4, 0xffffffff);
  CHECK (cfg_rd (1, 0x10, 4) == 0xffffc000u); /* 16 KiB, 32-bit memory */
  cfg_wr (1, 0x10, 4, addr);
  CHECK (cfg_rd (1, 0x10, 4) == addr);
  cfg_wr (1, 0x10, 4, 0x12340000); /* moving it is ignored */
  CHECK (cfg_rd (1, 0x10, 4) == addr);
  CHECK (cfg_rd (1, 0x14, 4) == 0); /* no BAR 1 */
  /* Capabilities: status bit, list of vendor caps, types 1..4 (rng has no
   * device config, so 1..3). */
  CHECK (cfg_rd (1, 0x06, 2) & 0x10);
  unsigned types = 0, off = cfg_rd (1, 0x34, 1), guard = 0;
  while (off && guard++ < 48)
    {
      CHECK (cfg_rd (1, off, 1) == 0x09);
      unsigned type = cfg_rd (1, off + 3, 1);
      types |= 1u << type;
      CHECK (cfg_rd (1, off + 4, 1) == 0); /* BAR 0 */
      if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
        CHECK (cfg_rd (1, off + 16, 4) == 4);
      off = cfg_rd (1, off + 1, 1);
    }
  CHECK (types == ((1u << 1) | (1u << 2) | (1u << 3)));
  /* The command register keeps what the driver sets. */
  cfg_wr (1, 0x04, 2, 0x0006);
  CHECK (cfg_rd (1, 0x04, 2) == 0x0006);
}

TEST (virtio_pci_driver_runs_a_request)
{
  setup ();
  bar0 = cfg_rd (1, 0x10, 4) & ~0xfu;
  bar_wr (VIRTIO_PCI_COMMON_STATUS, 1, 0);
  bar_wr (VIRTIO_PCI_COMMON_STATUS, 1, 3);
  bar_wr (VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
  CHECK (bar_rd (VIRTIO_PCI_COMMON_DF, 4) & 1); /* VERSION_1 */
  bar_wr (VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
  bar_wr (VIRTIO_PCI_COMMON_GF, 4, 1);
  bar_wr (VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
  bar_wr (VIRTIO_PCI_COMMON_GF, 4, 0);
  bar_wr (VIRTIO_PCI_COMMON_STATUS, 1, 3 | 8);
  CHECK (bar_rd (VIRTIO_PCI_COMMON_STATUS, 1) == 11);
  CHECK (bar_rd (VIRTIO_PCI_COMMON_NUMQ, 2) == 1);
  CHECK (bar_rd (VIRTIO_PCI_COMMON_MSIX, 2) == 0xffff);
  /* Wrong-width accesses read 0 and write nothing. */
  CHECK (bar_rd (VIRTIO_PCI_COMMON_NUMQ, 4) == 0);
  bar_wr (VIRTIO_PCI_COMMON_Q_SELECT, 4, 0x10000);
  CHECK (bar_rd (VIRTIO_PCI_COMMON_Q_SELECT, 2) == 0);
  /* Queue 0. */
  struct fake_vq v;
  fake_vq_init (&v, QGPA, 16);
  bar_wr (VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
  CHECK (bar_rd (VIRTIO_PCI_COMMON_Q_SIZE, 2) == 64);
  bar_wr (VIRTIO_PCI_COMMON_Q_SIZE, 2, 16);
  bar_wr (VIRTIO_PCI_COMMON_Q_DESCLO, 4, (uint32_t) v.desc);
  bar_wr (VIRTIO_PCI_COMMON_Q_DESCHI, 4, 0);
  bar_wr (VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (uint32_t) v.avail);
  bar_wr (VIRTIO_PCI_COMMON_Q_USEDLO, 4, (uint32_t) v.used);
  CHECK (bar_rd (VIRTIO_PCI_COMMON_Q_AVAILLO, 4) == (uint32_t) v.avail);
  bar_wr (VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
  CHECK (bar_rd (VIRTIO_PCI_COMMON_Q_NOFF, 2) == 0);
  /* Queue 1 does not exist: reads 0. */
  bar_wr (VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
  CHECK (bar_rd (VIRTIO_PCI_COMMON_Q_SIZE, 2) == 0);
  bar_wr (VIRTIO_PCI_COMMON_STATUS, 1, 15);
  CHECK (bar_rd (VIRTIO_PCI_COMMON_STATUS, 1) == 15);
  run_kicks (rng);
  /* A request: 32 random bytes, kicked through the notify area. */
  uint64_t addr[] = { BUF };
  uint32_t len[] = { 32 };
  fake_publish (&v, fake_chain (&v, 1, 0, addr, len));
  bar_wr (0x3000, 2, 0);
  run_kicks (rng);
  CHECK (fake_used_idx (&v) == 1);
  CHECK (host.irqs == 1 && host.last_gsi == 9);
  CHECK (bar_rd (0x1000, 1) == 1); /* ISR: used buffer; reading clears */
  CHECK (bar_rd (0x1000, 1) == 0);
  /* The device config window of a device without one reads 0. */
  CHECK (bar_rd (0x2000, 4) == 0);
  /* Reset through the status register. */
  bar_wr (VIRTIO_PCI_COMMON_STATUS, 1, 0);
  CHECK (bar_rd (VIRTIO_PCI_COMMON_STATUS, 1) == 0);
  bar_wr (VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
  CHECK (bar_rd (VIRTIO_PCI_COMMON_Q_ENABLE, 2) == 0);
}
