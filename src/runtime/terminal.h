/* Pseudo-terminals for containers with process.terminal = true. */
#ifndef BERTH_TERMINAL_H
#define BERTH_TERMINAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"

/* In the container, after pivot_root: open a pty on the container's
 * devpts (/dev/ptmx), bind its slave over /dev/console when BIND_CONSOLE,
 * start a new session with the slave as controlling terminal and stdio.
 * ROWS/COLS of 0 leave the size alone.  Returns the master fd. */
int terminal_setup_in_container (bool bind_console, unsigned short rows, unsigned short cols, berth_err *err);

/* In the foreground (run/exec -t without --console-socket): relay between
 * our stdin/stdout and MASTER until the container side hangs up.  Puts our
 * own terminal in raw mode while relaying and forwards window sizes. */
int terminal_relay (int master, berth_err *err);

#endif
