/* virtio transports: the register interfaces a guest driver sees.
 *
 * virtio-mmio (virtio 1.x, 4.2; version 2 registers): one 4 KiB window on
 * the MMIO bus and one interrupt line; the guest learns of it from the
 * kernel command line ("virtio_mmio.device=4K@0xd0000000:5").
 *
 * virtio-pci (modern, 4.1): a PCI function on bus 0 with the virtio vendor
 * capabilities (common, notify, isr, device config) in a memory BAR, and
 * INTx as its interrupt.  The PCI bus itself (configuration mechanism #1 on
 * ports 0xCF8-0xCFF, a host bridge at 00:00.0, BARs placed in the MMIO
 * hole) is in pci.h. */
#ifndef BERTH_VMM_VIRTIO_TRANSPORT_H
#define BERTH_VMM_VIRTIO_TRANSPORT_H

#include "vmm/bus.h"
#include "vmm/virtio/virtio.h"

#define VIRTIO_MMIO_SIZE 0x1000

struct pci_bus;

/* Attach D at BASE on MMIO with interrupt GSI; creates the queues' kick
 * eventfds, registers them with H->ioeventfd (if set) and on H->loop.
 * CMDLINE_ARG gets "virtio_mmio.device=4K@0x...:GSI" (caller frees). */
int virtio_mmio_attach (struct virtio_dev *d, struct virtio_host *h, struct bus *mmio, uint64_t base, uint32_t gsi,
                        char **cmdline_arg, berth_err *err);

/* The register handlers of a virtio-mmio window (opaque: the transport,
 * d->transport_priv); for tests that access registers without a bus. */
const struct bus_ops *virtio_mmio_bus_ops (void);

/* Attach D as the next function on PCI bus P with interrupt GSI. */
int virtio_pci_attach (struct virtio_dev *d, struct virtio_host *h, struct pci_bus *p, uint32_t gsi, berth_err *err);

/* Detach and free the transport state of D (queues' eventfds off the
 * loop).  The device itself is freed with virtio_dev_destroy. */
void virtio_transport_detach (struct virtio_dev *d);

#endif
