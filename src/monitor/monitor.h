/* berth-monitor internals.  The protocol and the command line are in
 * common/monitor-proto.h; this header only splits the program into parts:
 *   main.c     command line, daemonizing, the set-up up to the sync line
 *   runtime.c  running the OCI runtime and reading its errors
 *   output.c   container output: json-file log lines and attach clients
 *   loop.c     the poll loop: clients, stdin, exit and clean-up */
#ifndef BERTH_MONITOR_H
#define BERTH_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "common/monitor-proto.h"

/* Docker's json-file driver splits lines longer than this (without a
 * newline) into several entries. */
#define MONITOR_LINE_MAX (16 * 1024)
/* Attach clients beyond this are refused: each costs a socket buffer. */
#define MONITOR_CLIENTS_MAX 64

struct output
{
  int fd;                     /* pipe read end or pty master dup; -1 at EOF */
  enum monitor_msg type;      /* MON_STDOUT or MON_STDERR */
  const char *stream;         /* "stdout" or "stderr" in the log */
  size_t used;                /* bytes of an unfinished line in LINE */
  char line[MONITOR_LINE_MAX];
};

struct client
{
  int fd;
  uint8_t attach;             /* MON_ATTACH_STDOUT | MON_ATTACH_STDERR */
  bool stdin_wait;            /* its stdin is buffered: not read from */
  /* One output message its socket had no room for.  While a client holds
   * one, the monitor stops reading the container's output (back-pressure
   * up to the container's writes, as with Docker's attach), for at most
   * CLIENT_STALL_MS; then the client is dropped so a stuck reader cannot
   * hold the container for ever.  The log never waits. */
  char *held;
  size_t held_len;
  long long held_since;       /* ms, CLOCK_MONOTONIC */
};

#define CLIENT_STALL_MS 10000

struct monitor
{
  /* command line */
  const char *id;
  const char *state_dir;      /* absolute */
  const char *runtime;
  const char *runtime_root;   /* absolute or NULL */
  const char *bundle;         /* absolute; container mode */
  const char *exec_process;   /* absolute; exec mode */
  const char *log_file;
  bool tty, stdin_open, stdin_once;
  int sync_fd;

  /* files in the state dir (heap strings) */
  char *pid_path, *runtime_log, *console_path, *attach_path, *exit_path;

  /* the process */
  pid_t pid;                  /* 0 until known */
  bool create_tried;           /* container mode: needs a delete at the end */
  bool started, exited, finished;
  int exit_code;
  char *oom_file;             /* memory.oom_control / memory.events, or NULL */
  long long oom_kills_at_start;

  /* stdio */
  int child_stdio[3];         /* ends the runtime hands on; -1: /dev/null */
  int console_listen;         /* --tty: where the runtime sends the pty */
  int pty;                    /* --tty: the pty master, for resizes */
  struct output out[2];       /* [0] stdout (or the pty), [1] stderr */
  int stdin_fd;               /* pipe write end or pty master dup; -1 */
  char *stdin_buf;            /* bytes the container has not taken yet */
  size_t stdin_len, stdin_off;
  bool stdin_close_pending;   /* close stdin once STDIN_BUF is flushed */

  int log_fd;                 /* json-file log or -1 */
  char *enc;                  /* reused buffer for one encoded log line */
  size_t enc_cap;

  int listen_fd;              /* attach.sock */
  int signal_fd;              /* SIGCHLD */
  struct client clients[MONITOR_CLIENTS_MAX];
  size_t nclients;
};

/* main.c */
/* MON_START: `RUNTIME start` (container mode) or `RUNTIME exec --detach`
 * (exec mode, which also learns the pid).  On failure the runtime's message
 * is in *err. */
int monitor_start_process (struct monitor *m, berth_err *err);

/* runtime.c */
/* Run RUNTIME [--root R] --log DIR/runtime.log --log-format json ARGS...
 * with STDIO (-1: /dev/null) and wait for it.  Returns 0 on success; on a
 * non-zero exit, fails with the runtime's own message (from its log, errnum
 * 0), or with the spawn error. */
int runtime_run (struct monitor *m, const char *const *args, const int stdio[3], berth_err *err);
/* `RUNTIME delete --force ID`, errors ignored (the container may be gone). */
void runtime_delete (struct monitor *m);

/* output.c */
/* Read what OUT has, forward it to the attached clients and log complete
 * lines; at EOF log the unfinished line and close.  Never blocks. */
void output_read (struct monitor *m, struct output *out);
/* Log whatever unfinished line OUT still holds (at the end). */
void output_flush (struct monitor *m, struct output *out);
/* Send one message to a client without blocking; a client that would
 * block or is gone is dropped.  Returns false if it was dropped. */
bool client_send (struct monitor *m, size_t idx, enum monitor_msg type, const void *data, size_t len);
/* Output to a client: kept as its held message when its socket is full. */
void client_send_output (struct monitor *m, size_t idx, enum monitor_msg type, const void *data, size_t len);
/* Retry a client's held message; false if the client was dropped. */
bool client_retry_held (struct monitor *m, size_t idx);
/* Is any client holding output back? *oldest gets the earliest hold. */
bool clients_congested (struct monitor *m, long long *oldest);
/* Wait (at most MS) until no client holds output, dropping stalled ones. */
void clients_flush_held (struct monitor *m, long long ms);
long long monitor_now_ms (void);
void client_drop (struct monitor *m, size_t idx);

/* loop.c */
/* Serve clients and the process until it exited and its output was
 * drained, then write the exit file and clean up. */
void monitor_loop (struct monitor *m);
/* Write the exit file, tell the clients, delete the container, remove the
 * attach socket.  ERROR is a start failure's message or NULL. */
void monitor_finish (struct monitor *m, const char *error);
/* 127 for "not found" errors, 126 for others, as docker does. */
int start_error_exit_code (const char *msg);
/* Read DIR/pid, written by the runtime. */
int read_pid_file (struct monitor *m, pid_t *pid, berth_err *err);
/* Remember the container cgroup's OOM counter, to tell at the end whether
 * the kernel OOM-killed something in it (best effort). */
void oom_watch (struct monitor *m);

#endif
