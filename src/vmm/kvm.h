/* The KVM side of one VM: /dev/kvm, the VM fd, the in-kernel interrupt
 * controllers (PIC, IOAPIC, LAPICs: KVM_CREATE_IRQCHIP) and PIT, memory
 * slots, and the ioeventfd/irqfd helpers behind struct virtio_host.
 *
 * Interrupts: GSIs 0-23 are the IOAPIC pins (0-15 also the PIC's).  Lines
 * raised with kvm_irq_line() keep their level until lowered (the 8250);
 * kvm_irq_pulse() is an edge (virtio: an irqfd per GSI, made on first use,
 * or a KVM_IRQ_LINE 1/0 pair without irqfd). */
#ifndef BERTH_VMM_KVM_H
#define BERTH_VMM_KVM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "vmm/guest-mem.h"
#include "vmm/virtio/virtio.h"

#define KVM_NR_GSIS 24

struct kvm_vm {
  int kvm_fd;         /* /dev/kvm */
  int vm_fd;          /* KVM_CREATE_VM */
  int run_size;       /* KVM_GET_VCPU_MMAP_SIZE */
  bool has_irqfd, has_ioeventfd, has_immediate_exit;
  pthread_mutex_t irq_lock;
  int irqfd[KVM_NR_GSIS]; /* -1 until first used */
};

/* Open DEV (normally "/dev/kvm"), check the API version (12) and the
 * capabilities the VMM needs, create the VM, the irqchip and the PIT. */
int kvm_vm_open (struct kvm_vm *k, const char *dev, berth_err *err);
void kvm_vm_close (struct kvm_vm *k);

/* One memory slot per guest_mem region. */
int kvm_vm_set_memory (struct kvm_vm *k, const struct guest_mem *m, berth_err *err);

/* Set GSI's level (level-triggered sources). */
int kvm_irq_line (struct kvm_vm *k, uint32_t gsi, int level);
/* An edge on GSI. */
int kvm_irq_pulse (struct kvm_vm *k, uint32_t gsi);
/* Signal FD when the guest writes VALUE (LEN bytes) at ADDR. */
int kvm_ioeventfd (struct kvm_vm *k, uint64_t addr, uint32_t len, bool pio, uint64_t value, int fd);

/* Fill H's ioeventfd and irq callbacks with the ones above (opaque = K). */
void kvm_virtio_host (struct kvm_vm *k, struct virtio_host *h, const struct guest_mem *mem, struct evloop *loop);

#endif
