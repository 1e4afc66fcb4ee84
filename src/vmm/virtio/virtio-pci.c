/* Modern virtio-pci (virtio 1.x, 4.1), without the legacy interface.
 *
 * One 32-bit memory BAR (BAR 0, 16 KiB) holds the four structures the
 * vendor capabilities point at:
 *   0x0000 common configuration (struct virtio_pci_common_cfg)
 *   0x1000 ISR status (read clears)
 *   0x2000 device-specific configuration
 *   0x3000 notifications: queue Q at 0x3000 + 4*Q (notify_off_multiplier 4)
 * Interrupts are INTx (pin A) on the function's GSI; no MSI-X, so the
 * driver's vector registers read VIRTIO_MSI_NO_VECTOR. */
#include <errno.h>
#include <linux/virtio_pci.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/virtio/pci.h"
#include "vmm/virtio/transport.h"
#include "vmm/virtio/vtransport.h"

#define VPCI_VENDOR 0x1af4
#define VPCI_DEVICE_BASE 0x1040
#define BAR_SIZE 0x4000
#define OFF_COMMON 0x0000
#define OFF_ISR 0x1000
#define OFF_DEVICE 0x2000
#define OFF_NOTIFY 0x3000
#define NOTIFY_MULT 4
#define NO_VECTOR 0xffff

struct vpci {
  struct vt t; /* first */
  struct pci_function *fn;
  uint64_t bar;
};

/* Width of the common configuration field at OFF, 0 if none starts there. */
static unsigned common_width (uint64_t off)
{
  switch (off)
    {
    case VIRTIO_PCI_COMMON_DFSELECT: case VIRTIO_PCI_COMMON_DF: case VIRTIO_PCI_COMMON_GFSELECT:
    case VIRTIO_PCI_COMMON_GF: case VIRTIO_PCI_COMMON_Q_DESCLO: case VIRTIO_PCI_COMMON_Q_DESCHI:
    case VIRTIO_PCI_COMMON_Q_AVAILLO: case VIRTIO_PCI_COMMON_Q_AVAILHI: case VIRTIO_PCI_COMMON_Q_USEDLO:
    case VIRTIO_PCI_COMMON_Q_USEDHI:
      return 4;
    case VIRTIO_PCI_COMMON_MSIX: case VIRTIO_PCI_COMMON_NUMQ: case VIRTIO_PCI_COMMON_Q_SELECT:
    case VIRTIO_PCI_COMMON_Q_SIZE: case VIRTIO_PCI_COMMON_Q_MSIX: case VIRTIO_PCI_COMMON_Q_ENABLE:
    case VIRTIO_PCI_COMMON_Q_NOFF:
      return 2;
    case VIRTIO_PCI_COMMON_STATUS: case VIRTIO_PCI_COMMON_CFGGENERATION:
      return 1;
    default:
      return 0;
    }
}

static uint64_t *queue_addr (struct virtqueue *q, uint64_t off, bool *high)
{
  *high = off & 4;
  switch (off & ~4ULL)
    {
    case VIRTIO_PCI_COMMON_Q_DESCLO: return &q->desc_gpa;
    case VIRTIO_PCI_COMMON_Q_AVAILLO: return &q->avail_gpa;
    case VIRTIO_PCI_COMMON_Q_USEDLO: return &q->used_gpa;
    default: return NULL;
    }
}

static uint32_t common_read (struct vpci *v, uint64_t off)
{
  struct vt *t = &v->t;
  struct virtqueue *q = vt_queue (t);
  bool high;
  switch (off)
    {
    case VIRTIO_PCI_COMMON_DFSELECT: return t->dev_features_sel;
    case VIRTIO_PCI_COMMON_DF: return vt_device_features (t);
    case VIRTIO_PCI_COMMON_GFSELECT: return t->drv_features_sel;
    case VIRTIO_PCI_COMMON_GF: return vt_driver_features_get (t);
    case VIRTIO_PCI_COMMON_MSIX: return NO_VECTOR;
    case VIRTIO_PCI_COMMON_NUMQ: return t->d->ops->num_queues;
    case VIRTIO_PCI_COMMON_STATUS: return vt_status (t);
    case VIRTIO_PCI_COMMON_CFGGENERATION: return __atomic_load_n (&t->d->config_generation, __ATOMIC_ACQUIRE) & 0xff;
    case VIRTIO_PCI_COMMON_Q_SELECT: return t->queue_sel;
    case VIRTIO_PCI_COMMON_Q_SIZE: return q ? q->size : 0;
    case VIRTIO_PCI_COMMON_Q_MSIX: return NO_VECTOR;
    case VIRTIO_PCI_COMMON_Q_ENABLE: return q ? q->ready : 0;
    case VIRTIO_PCI_COMMON_Q_NOFF: return t->queue_sel;
    default:
      {
        uint64_t *a = q ? queue_addr (q, off, &high) : NULL;
        return a ? (uint32_t) (high ? *a >> 32 : *a) : 0;
      }
    }
}

static void common_write (struct vpci *v, uint64_t off, uint32_t val)
{
  struct vt *t = &v->t;
  struct virtqueue *q = vt_queue (t);
  bool high;
  switch (off)
    {
    case VIRTIO_PCI_COMMON_DFSELECT: t->dev_features_sel = val; break;
    case VIRTIO_PCI_COMMON_GFSELECT: t->drv_features_sel = val; break;
    case VIRTIO_PCI_COMMON_GF: vt_driver_features (t, val); break;
    case VIRTIO_PCI_COMMON_STATUS: vt_set_status (t, (uint8_t) val); break;
    case VIRTIO_PCI_COMMON_Q_SELECT: t->queue_sel = (uint16_t) val; break;
    case VIRTIO_PCI_COMMON_Q_SIZE: vt_queue_set_size (t, val); break;
    case VIRTIO_PCI_COMMON_Q_ENABLE:
      if (val == 1 && vt_queue_writable (t))
        q->ready = true; /* the driver may not disable a queue (4.1.4.3.2) */
      break;
    default:
      {
        uint64_t *a = q && vt_queue_writable (t) ? queue_addr (q, off, &high) : NULL;
        if (a)
          *a = high ? (*a & 0xffffffffULL) | (uint64_t) val << 32 : (*a & ~0xffffffffULL) | val;
      }
    }
}

static void bar_read (void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
  struct vpci *v = opaque;
  memset (data, 0, len);
  if (off >= OFF_DEVICE && off < OFF_NOTIFY)
    vt_config_read (&v->t, off - OFF_DEVICE, data, len);
  else if (off == OFF_ISR && len == 1)
    data[0] = (uint8_t) vt_isr_read (&v->t, true); /* reading acknowledges (4.1.4.5) */
  else if (off < OFF_ISR && (common_width (off) == len || (len == 8 && common_width (off) == 4 && off >= 0x20)))
    {
      pthread_mutex_lock (&v->t.lock);
      uint64_t val = common_read (v, off);
      if (len == 8)
        val |= (uint64_t) common_read (v, off + 4) << 32;
      pthread_mutex_unlock (&v->t.lock);
      vt_put_le (data, len, val);
    }
}

static void bar_write (void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
  struct vpci *v = opaque;
  if (off >= OFF_DEVICE && off < OFF_NOTIFY)
    vt_config_write (&v->t, off - OFF_DEVICE, data, len);
  else if (off >= OFF_NOTIFY && off < BAR_SIZE)
    {
      if (!v->t.ioeventfds)
        vt_kick_trapped (&v->t, (uint32_t) ((off - OFF_NOTIFY) / NOTIFY_MULT));
    }
  else if (off < OFF_ISR && (common_width (off) == len || (len == 8 && common_width (off) == 4 && off >= 0x20)))
    {
      pthread_mutex_lock (&v->t.lock);
      common_write (v, off, vt_le (data, len > 4 ? 4 : len));
      if (len == 8)
        common_write (v, off + 4, vt_le (data + 4, 4));
      pthread_mutex_unlock (&v->t.lock);
    }
}

static const struct bus_ops bar_ops = { .read = bar_read, .write = bar_write };

static uint64_t notify_addr (struct vt *t, uint16_t q)
{
  return ((struct vpci *) (void *) t)->bar + OFF_NOTIFY + (uint64_t) q * NOTIFY_MULT;
}

static void vpci_free (struct vt *t)
{
  free (t);
}

static int add_vendor_cap (struct pci_function *f, uint8_t type, uint32_t off, uint32_t len, bool notify)
{
  struct virtio_pci_notify_cap c = { 0 };
  c.cap.cap_vndr = 0x09; /* PCI_CAP_ID_VNDR */
  c.cap.cap_len = notify ? sizeof c : sizeof c.cap;
  c.cap.cfg_type = type;
  c.cap.bar = 0;
  c.cap.offset = off;
  c.cap.length = len;
  c.notify_off_multiplier = NOTIFY_MULT;
  return pci_function_add_cap (f, &c, c.cap.cap_len);
}

static uint32_t class_of (uint32_t device_id)
{
  switch (device_id)
    {
    case VIRTIO_ID_NET: return 0x020000;   /* Ethernet controller */
    case VIRTIO_ID_BLOCK: return 0x018000; /* other mass storage */
    case VIRTIO_ID_CONSOLE: return 0x078000;
    default: return 0xff0000;
    }
}

int virtio_pci_attach (struct virtio_dev *d, struct virtio_host *h, struct pci_bus *p, uint32_t gsi, berth_err *err)
{
  struct vpci *v = calloc (1, sizeof *v);
  if (v == NULL)
    return berth_fail (err, ENOMEM, "%s: virtio-pci", d->id);
  vt_init (&v->t, d, h, gsi, v);
  v->t.free = vpci_free;
  uint16_t devid = (uint16_t) (VPCI_DEVICE_BASE + d->ops->device_id);
  int r = pci_bus_add_function (p, VPCI_VENDOR, devid, class_of (d->ops->device_id), 1, NULL, NULL, &v->fn, err);
  if (r == 0)
    r = pci_function_add_bar (v->fn, 0, BAR_SIZE, false, &bar_ops, v, &v->bar, err);
  if (r == 0)
    {
      uint8_t *cfg = pci_function_config (v->fn);
      cfg[0x2c] = VPCI_VENDOR & 0xff, cfg[0x2d] = VPCI_VENDOR >> 8; /* subsystem vendor */
      cfg[0x2e] = devid & 0xff, cfg[0x2f] = devid >> 8;             /* subsystem id */
      pci_function_set_irq (v->fn, gsi);
      uint32_t cfg_len = d->ops->config_size ? d->ops->config_size : 0;
      if (add_vendor_cap (v->fn, VIRTIO_PCI_CAP_COMMON_CFG, OFF_COMMON, 0x38, false) < 0
          || add_vendor_cap (v->fn, VIRTIO_PCI_CAP_NOTIFY_CFG, OFF_NOTIFY, NOTIFY_MULT * d->ops->num_queues, true) < 0
          || add_vendor_cap (v->fn, VIRTIO_PCI_CAP_ISR_CFG, OFF_ISR, 1, false) < 0
          || (cfg_len && add_vendor_cap (v->fn, VIRTIO_PCI_CAP_DEVICE_CFG, OFF_DEVICE, cfg_len, false) < 0))
        r = berth_fail (err, ENOSPC, "capabilities");
    }
  if (r == 0)
    r = vt_setup_kicks (&v->t, notify_addr, 2, false, err);
  if (r < 0)
    {
      /* The function stays on the bus (no removal) but reads as a device
       * nobody drives; the VM is not started after this error anyway. */
      virtio_transport_detach (d);
      return berth_error_prefix (err, "%s: virtio-pci", d->id);
    }
  return 0;
}
