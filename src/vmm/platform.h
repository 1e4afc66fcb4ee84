/* The small legacy devices around the guest's CPUs, each a few ports:
 *
 *   i8042 (0x60 data, 0x64 command/status, IRQ 1): enough of the PS/2
 *     keyboard controller for Linux's driver; command 0xFE on 0x64 pulses
 *     the CPU reset line: the guest reboots (Linux: reboot=k).
 *     i8042_ctrl_alt_del() queues the Ctrl-Alt-Del key sequence (as
 *     Firecracker's SendCtrlAltDel) so the guest starts an orderly reboot.
 *   pvpanic (port 0x505): reads 1 (PANICKED supported); a write with bit 0
 *     set says the guest panicked.
 *   shutdown port (0x604, as QEMU's PM1a control block on q35): a 16-bit
 *     write with SLP_EN (bit 13) set powers the guest off.
 *
 * Each device reports guest events through EXIT (VMM_EXIT_REBOOT,
 * VMM_EXIT_PANIC, VMM_EXIT_POWEROFF). */
#ifndef BERTH_VMM_PLATFORM_H
#define BERTH_VMM_PLATFORM_H

#include "common/error.h"
#include "vmm/bus.h"
#include "vmm/kvm.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define I8042_GSI 1
#define PVPANIC_PORT 0x505
#define SHUTDOWN_PORT 0x604
#define SHUTDOWN_SLP_EN 0x2000

typedef void (*platform_exit_fn) (void *opaque, int status);

struct i8042;

int i8042_new (struct kvm_vm *k, struct bus *pio, platform_exit_fn exit_fn, void *opaque, struct i8042 **out,
               berth_err *err);
int i8042_ctrl_alt_del (struct i8042 *d);
void i8042_free (struct i8042 *d);

/* pvpanic and the shutdown port; they keep no state beyond EXIT_FN. */
struct platform_ports {
  platform_exit_fn exit_fn;
  void *opaque;
};
int platform_ports_register (struct platform_ports *p, struct bus *pio, berth_err *err);

#endif
