/* Shared between the lifecycle files of the runtime core (container.c,
 * container-ops.c, exec.c); not part of the public API. */
#ifndef BERTH_CONTAINER_INTERNAL_H
#define BERTH_CONTAINER_INTERNAL_H

#include "runtime/runtime.h"
#include "runtime/state.h"

/* clone(2) with namespace flags, behaving like fork otherwise. */
pid_t container_clone (int flags);

/* Turn a waitpid status into a shell-style exit code. */
int container_exit_code (int status);

/* Forward the usual terminating signals to PID while we wait for it, and
 * return its exit code (0-255, 128+signal). */
int container_wait_forwarding (pid_t pid, int master, berth_err *err);

/* Write PID to PATH atomically. */
int container_write_pid_file (const char *path, pid_t pid, berth_err *err);

/* Stop (SIGKILL) every process of the container and wait until the init
 * is gone. */
int container_kill_and_wait (struct container_state *st, berth_err *err);

/* Destroy what a container left: cgroup, then poststop hooks, then the
 * state folder. */
int container_destroy (struct container_state *st, berth_err *err);

/* Open the exec fifo and release the waiting init, then poststart hooks. */
int container_start_state (struct container_state *st, berth_err *err);

#endif
