/* berthd's side of the berth-monitor protocol (see common/monitor-proto.h):
 * spawning a monitor, talking to its attach socket, reading what it left. */
#ifndef BERTH_MONITOR_CLIENT_H
#define BERTH_MONITOR_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "common/monitor-proto.h"

struct monitor_spawn
{
  const char *monitor_path;   /* the berth-monitor binary */
  const char *id;             /* the runtime's container id */
  const char *state_dir;      /* exists; the monitor's files go here */
  const char *runtime_path;   /* berth-runtime, runc, ... */
  const char *runtime_root;   /* the runtime's --root, or NULL */
  const char *bundle;         /* container mode: the bundle folder */
  const char *exec_process;   /* exec mode: the process.json file */
  const char *log_file;       /* json-file log, or NULL for none */
  bool tty;
  bool stdin_open;
  bool stdin_once;
};

/* Spawn a monitor and wait for its sync line.  On success *monitor_pid is
 * the (detached) monitor and *pid the container init (0 in exec mode).  On
 * failure the runtime's message is in *err (errnum 0 for a runtime error,
 * so the API answers it as the runtime's fault, not a crash).  Safe to call
 * from any thread: it uses posix_spawn and reaps the intermediate child. */
int monitor_spawn (const struct monitor_spawn *opts, pid_t *monitor_pid, pid_t *pid, berth_err *err);

/* Connect to STATE_DIR/attach.sock; returns a SOCK_SEQPACKET|SOCK_CLOEXEC
 * fd, or -errno with *err (ECONNREFUSED/ENOENT when the monitor is gone). */
int monitor_connect (const char *state_dir, berth_err *err);

/* Send one message.  Returns 0 or -errno. */
int monitor_send (int fd, enum monitor_msg type, const void *data, size_t len);
/* Receive one message into BUF (at least MONITOR_MSG_MAX bytes); *type gets
 * its type.  Returns the payload length, 0 for an empty payload, -EPIPE on
 * end of connection, or -errno. */
ssize_t monitor_recv (int fd, enum monitor_msg *type, char *buf, size_t size);

/* MON_START on a fresh connection; waits for the answer.  A failure's
 * message (from the runtime) is in *err. */
int monitor_start (const char *state_dir, berth_err *err);

/* Resize the pty. */
int monitor_resize (const char *state_dir, unsigned rows, unsigned cols, berth_err *err);

/* The exit file; -ENOENT when the process has not exited (or the monitor
 * died before writing it).  *finished_at and *error are heap strings (error
 * NULL when none); either pointer may be NULL. */
int monitor_read_exit (const char *state_dir, int *exit_code, char **finished_at, bool *oom_killed, char **error,
                       berth_err *err);

/* A process's start time (field 22 of /proc/PID/stat, clock ticks since
 * boot), to recognise a monitor again after berthd restarts (pids are
 * reused).  0 if the process does not exist. */
uint64_t proc_start_time (pid_t pid);

/* A pidfd for PID if it still exists and started at START_TIME (when not
 * 0); -errno otherwise (-ESRCH: gone). */
int monitor_pidfd (pid_t pid, uint64_t start_time);

#endif
