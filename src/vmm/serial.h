/* The 8250/16550A UART at 0x3f8 (COM1), IRQ 4: the guest's console.
 *
 * Output never blocks a vCPU: bytes go into a 64 KiB ring that a writer
 * thread drains to the host side; when the host side is slower, the
 * newest bytes are dropped (and counted) rather than stalling the guest.
 * Input arrives on the event loop (stdin, or the socket's client).
 *
 * Host side: stdio (stdin in raw mode while it is a terminal), or a Unix
 * socket PATH the VMM listens on; one client at a time gets the console,
 * and output written before the first client connects waits in the ring.
 *
 * ON_LINE, if set, sees every complete output line (without the newline),
 * on the vCPU thread that wrote it: the VMM watches for the guest's panic
 * message there. */
#ifndef BERTH_VMM_SERIAL_H
#define BERTH_VMM_SERIAL_H

#include "common/error.h"
#include "vmm/bus.h"
#include "vmm/evloop.h"
#include "vmm/kvm.h"

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_GSI 4

struct serial;

typedef void (*serial_line_fn) (void *opaque, const char *line);

/* SOCKET_PATH NULL: stdio.  OUT_FD >= 0 overrides stdout (tests). */
int serial_new (struct kvm_vm *k, struct evloop *loop, struct bus *pio, const char *socket_path,
                serial_line_fn on_line, void *opaque, struct serial **out, berth_err *err);
/* Stop input, write what is buffered, restore the terminal. */
void serial_free (struct serial *s);

#endif
