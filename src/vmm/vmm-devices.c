/* The configured virtio devices on their transport (vmm-internal.h). */
#include <stdlib.h>

#include "vmm/virtio/devices.h"
#include "vmm/virtio/pci.h"
#include "vmm/virtio/transport.h"
#include "vmm/vmm-internal.h"

static int add (struct vmm *vm, struct virtio_dev *d, berth_err *err)
{
  if (vm->ndevs == VMM_MAX_DEVICES)
    {
      virtio_dev_destroy (d);
      return berth_fail (err, 0, "too many virtio devices (at most %u)", VMM_MAX_DEVICES);
    }
  vm->devs[vm->ndevs++] = d;
  return 0;
}

static int create_all (struct vmm *vm, berth_err *err)
{
  const struct vm_config *c = &vm->cfg;
  struct virtio_dev *d;
  int r = 0;
  for (unsigned i = 0; r == 0 && i < c->ndrives; i++)
    if ((r = virtio_blk_create (&c->drives[i], &vm->mem, vm->loop, &d, err)) == 0)
      r = add (vm, d, err);
  for (unsigned i = 0; r == 0 && i < c->nnets; i++)
    if ((r = virtio_net_create (&c->nets[i], &vm->mem, vm->loop, &d, err)) == 0)
      r = add (vm, d, err);
  if (r == 0 && c->vsock.present && (r = virtio_vsock_create (&c->vsock, &vm->mem, vm->loop, &d, err)) == 0)
    r = add (vm, d, err);
  if (r == 0 && c->balloon.present && (r = virtio_balloon_create (&c->balloon, &vm->mem, vm->loop, &d, err)) == 0)
    {
      vm->balloon = d;
      r = add (vm, d, err);
    }
  if (r == 0 && c->rng && (r = virtio_rng_create (&vm->mem, vm->loop, &d, err)) == 0)
    r = add (vm, d, err);
  return r;
}

static void collect_irq (void *opaque, unsigned dev, unsigned pin, uint32_t gsi)
{
  struct vmm *vm = opaque;
  if (vm->npci_irqs < VMM_MAX_DEVICES)
    vm->pci_irqs[vm->npci_irqs++] = (struct mptable_pci_irq) { .dev = dev, .pin = pin, .gsi = gsi };
}

static int attach_all (struct vmm *vm, berth_err *err)
{
  bool pci = vm->cfg.transport == VM_TRANSPORT_PCI;
  int r = 0;
  if (pci)
    r = pci_bus_new (&vm->pio, &vm->mmio, VMM_PCI_MMIO_BASE, VMM_PCI_MMIO_SIZE, &vm->pci, err);
  for (unsigned i = 0; r == 0 && i < vm->ndevs; i++)
    {
      uint32_t gsi = VMM_FIRST_DEVICE_GSI + i;
      if (pci)
        r = virtio_pci_attach (vm->devs[i], &vm->host, vm->pci, gsi, err);
      else
        {
          char *arg = NULL;
          r = virtio_mmio_attach (vm->devs[i], &vm->host, &vm->mmio, VMM_VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_SIZE,
                                  gsi, &arg, err);
          if (r == 0)
            r = vmm_cmdline_append (vm, arg, err);
          free (arg);
        }
      if (r == 0)
        vm->attached[i] = true;
      else
        berth_error_prefix (err, "%s", vm->devs[i]->ops->name);
    }
  if (r == 0 && pci)
    pci_bus_for_each_irq (vm->pci, collect_irq, vm);
  return r;
}

int vmm_devices_create (struct vmm *vm, berth_err *err)
{
  /* GSIs 5..23 are the devices' */
  int r = create_all (vm, err);
  if (r == 0 && vm->ndevs > 24 - VMM_FIRST_DEVICE_GSI)
    return berth_fail (err, 0, "too many virtio devices for the interrupt lines");
  return r < 0 ? r : attach_all (vm, err);
}

void vmm_devices_free (struct vmm *vm)
{
  for (unsigned i = 0; i < vm->ndevs; i++)
    {
      if (vm->attached[i])
        virtio_transport_detach (vm->devs[i]);
      virtio_dev_destroy (vm->devs[i]);
    }
  vm->ndevs = 0;
  if (vm->pci)
    pci_bus_free (vm->pci);
  vm->pci = NULL;
}
