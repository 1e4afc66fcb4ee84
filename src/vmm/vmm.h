/* One microVM: the VMM core.  One process runs one VM, with threads in
 * fixed roles (after Firecracker): the API server (main thread), the device
 * event loop (evloop.h), and one thread per vCPU running KVM_RUN and
 * dispatching on the exit reason.
 *
 * Exit statuses of berth-vmm (documented in the README):
 *   0  the guest powered off (ACPI-less poweroff: i8042/port or reboot=...)
 *   1  the VMM failed (KVM error, device error, emulation failure)
 *   2  bad usage or configuration (nothing was started)
 *   3  the guest rebooted (i8042 reset, triple fault, reboot request)
 *   4  the guest kernel panicked
 */
#ifndef BERTH_VMM_VMM_H
#define BERTH_VMM_VMM_H

#include <stdint.h>

#include "common/error.h"
#include "common/json.h"
#include "vmm/vm-config.h"

#define VMM_EXIT_POWEROFF 0
#define VMM_EXIT_ERROR 1
#define VMM_EXIT_USAGE 2
#define VMM_EXIT_REBOOT 3
#define VMM_EXIT_PANIC 4

struct vmm;

/* Build the VM from CFG (copied): open /dev/kvm, map memory, load the
 * kernel and initrd, create devices and vCPUs.  Nothing runs yet. */
int vmm_create (const struct vm_config *cfg, struct vmm **out, berth_err *err);
/* Start the event loop and vCPU threads (InstanceStart). */
int vmm_start (struct vmm *vm, berth_err *err);
/* Block until the guest stops; returns one of VMM_EXIT_*. */
int vmm_wait (struct vmm *vm);
/* True once vmm_start succeeded. */
bool vmm_started (const struct vmm *vm);
/* SendCtrlAltDel: the i8042 keyboard controller's reset sequence. */
int vmm_send_ctrl_alt_del (struct vmm *vm, berth_err *err);
/* PATCH /balloon and /balloon/statistics, GET /balloon/statistics. */
int vmm_balloon_set_target (struct vmm *vm, uint32_t amount_mib, berth_err *err);
int vmm_balloon_set_stats_interval (struct vmm *vm, uint32_t seconds, berth_err *err);
int vmm_balloon_stats (struct vmm *vm, json_t **out, berth_err *err);
void vmm_destroy (struct vmm *vm);

#endif
