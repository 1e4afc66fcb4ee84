/* One vCPU: its KVM fd and kvm_run page, its registers for the kernel's
 * entry (boot.h: the 64-bit Linux entry or the 32-bit PVH entry), and the thread that runs KVM_RUN and dispatches exits:
 *
 *   IO, MMIO          the PIO / MMIO bus (bus.h)
 *   HLT               (only without an in-kernel LAPIC) the guest stopped
 *                     for good: poweroff
 *   SHUTDOWN          triple fault: reboot
 *   SYSTEM_EVENT      SHUTDOWN: poweroff, RESET: reboot, CRASH: panic
 *   INTERNAL_ERROR    KVM could not run or emulate the guest: the VMM
 *                     prints the suberror and the guest's RIP; error
 *   FAIL_ENTRY        the hardware refused the guest state: error
 *
 * Every end goes through ENV->exit_fn(opaque, VMM_EXIT_*); the VMM then
 * stops all vCPUs with vcpu_kick (a signal that interrupts KVM_RUN, with
 * kvm_run.immediate_exit set so a signal racing the ioctl is not lost). */
#ifndef BERTH_VMM_VCPU_H
#define BERTH_VMM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "common/error.h"
#include "vmm/boot.h"
#include "vmm/bus.h"
#include "vmm/kvm.h"

struct vcpu_env {
  struct kvm_vm *kvm;
  struct bus *pio, *mmio;
  void (*exit_fn) (void *opaque, int status);
  void *opaque;
  atomic_bool stopping;
};

struct vcpu {
  struct vcpu_env *env;
  unsigned index;
  int fd;
  struct kvm_run *run;
  size_t run_size;
  pthread_t thread;
  bool thread_started;
};

/* Create vCPU INDEX: KVM_CREATE_VCPU, CPUID (CPUID is the VM's template
 * applied set; topology is added here), MSRs, segment and control
 * registers for ENTRY's protocol, RIP = ENTRY->rip, RSI = the zero page
 * (64-bit) or EBX = the PVH start info, the LAPIC's LINT0/LINT1.  (The
 * APs get the same state; the in-kernel LAPIC holds them until the
 * guest's INIT-SIPI, which replaces it.) */
int vcpu_create (struct vcpu *v, struct vcpu_env *env, unsigned index, unsigned count, bool smt,
                 const struct kvm_cpuid2 *cpuid, const struct boot_entry *entry, berth_err *err);
int vcpu_start (struct vcpu *v, berth_err *err);
/* Make the vCPU's thread leave KVM_RUN (ENV->stopping must be set). */
void vcpu_kick (struct vcpu *v);
void vcpu_join (struct vcpu *v);
void vcpu_destroy (struct vcpu *v);

#endif
