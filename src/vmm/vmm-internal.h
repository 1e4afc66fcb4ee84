/* The state of one VM shared by vmm.c (life cycle) and vmm-devices.c
 * (virtio devices on their transport).  Not a public interface. */
#ifndef BERTH_VMM_VMM_INTERNAL_H
#define BERTH_VMM_VMM_INTERNAL_H

#include <pthread.h>

#include "vmm/bus.h"
#include "vmm/evloop.h"
#include "vmm/guest-mem.h"
#include "vmm/kvm.h"
#include "vmm/mptable.h"
#include "vmm/platform.h"
#include "vmm/serial.h"
#include "vmm/vcpu.h"
#include "vmm/virtio/virtio.h"
#include "vmm/vmm.h"

#define VMM_MAX_DEVICES 16
/* Guest physical addresses in the MMIO hole (guest-mem.h):
 *   0xc0000000  PCI memory BARs (256 MiB)
 *   0xd0000000  virtio-mmio windows, 4 KiB each
 *   0xfec00000  IOAPIC, 0xfee00000 LAPIC (in-kernel) */
#define VMM_PCI_MMIO_BASE 0xc0000000ULL
#define VMM_PCI_MMIO_SIZE 0x10000000ULL
#define VMM_VIRTIO_MMIO_BASE 0xd0000000ULL
/* virtio devices take GSIs from 5 up (0 PIT, 1 i8042, 4 COM1) */
#define VMM_FIRST_DEVICE_GSI 5

struct vmm {
  struct vm_config cfg;
  struct guest_mem mem;
  struct kvm_vm kvm;
  bool kvm_open;
  struct bus pio, mmio;
  struct evloop *loop;
  pthread_t loop_thread;
  bool loop_started;
  struct serial *serial;
  struct i8042 *i8042;
  struct platform_ports ports;
  /* virtio */
  struct virtio_host host;
  struct pci_bus *pci;
  struct virtio_dev *devs[VMM_MAX_DEVICES];
  bool attached[VMM_MAX_DEVICES];
  unsigned ndevs;
  struct virtio_dev *balloon;
  struct mptable_pci_irq pci_irqs[VMM_MAX_DEVICES];
  unsigned npci_irqs;
  char *cmdline;
  /* vCPUs */
  struct kvm_cpuid2 *cpuid;
  struct vcpu_env env;
  struct vcpu vcpus[VM_MAX_VCPUS];
  unsigned nvcpus;
  /* the end */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int exit_status; /* -1 while running */
  bool panic_seen;
  bool started;
};

/* Create the configured virtio devices, attach them (mmio: appends
 * "virtio_mmio.device=..." to VM->cmdline; pci: fills pci_irqs). */
int vmm_devices_create (struct vmm *vm, berth_err *err);
void vmm_devices_free (struct vmm *vm);
/* Append " ARG" to VM->cmdline. */
int vmm_cmdline_append (struct vmm *vm, const char *arg, berth_err *err);

#endif
