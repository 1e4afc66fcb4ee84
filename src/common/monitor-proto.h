/* The protocol between berthd and berth-monitor.
 *
 * berthd starts one berth-monitor per container start and one per exec (in
 * the spirit of podman's conmon).  The monitor owns the process's stdio,
 * writes the json-file log, records the exit status and outlives berthd, so
 * containers keep running across a berthd restart or crash.
 *
 * Command line (berthd builds it in monitor-client.c):
 *   berth-monitor --id ID --state-dir DIR --runtime PATH --sync-fd N
 *                 [--runtime-root DIR]       runtime's --root
 *                 [--bundle DIR]             container mode
 *                 [--exec-process FILE]      exec mode (process.json)
 *                 [--log-file PATH]          json-file log (container mode)
 *                 [--tty] [--stdin] [--stdin-once]
 *
 * Start-up: the monitor calls setsid() and forks once more, so the process
 * berthd spawned exits at once (berthd reaps it) and the monitor is
 * reparented away from berthd.  It becomes a child subreaper, so the
 * container process is reparented to it and it can wait() for it.
 *   Container mode: runs
 *     RUNTIME [--root R] --log DIR/runtime.log --log-format json create
 *             --bundle B --pid-file DIR/pid [--console-socket DIR/console.sock] ID
 *   with the container's stdio: a pty (received over the console socket)
 *   with --tty, else pipes for stdout and stderr and, with --stdin, stdin
 *   (else /dev/null).
 *   Exec mode: prepares stdio the same way but runs nothing yet.
 * Then it listens on DIR/attach.sock and writes ONE line of JSON to the sync
 * fd, then closes it:
 *   {"monitor_pid": N, "pid": P}     ready (P: the container init's pid;
 *                                    0 in exec mode)
 *   {"error": "message"}             failed (the runtime's error message,
 *                                    taken from runtime.log); the monitor
 *                                    has cleaned up (runtime delete) and
 *                                    exits
 *
 * Files in DIR (the state dir, created by berthd before the spawn):
 *   attach.sock   SOCK_SEQPACKET listening socket (mode 0600)
 *   monitor.pid   the monitor's pid (decimal)
 *   pid           the container's (or exec process's) pid, from the runtime
 *   runtime.log   the runtime's JSON log
 *   exit          written atomically (temp, fsync, rename) once the
 *                 process exited and its output was drained:
 *                 {"exit_code": N, "finished_at": "RFC 3339 with ns",
 *                  "oom_killed": bool, "error": "..." (only if start failed)}
 *                 exit_code is the status, or 128+signal.
 *
 * The attach socket: any number of clients; every message is one seqpacket
 * of at most MONITOR_MSG_MAX bytes, the first byte its type.
 *   client -> monitor
 *     MON_ATTACH  payload: flags byte (MON_ATTACH_STDOUT | MON_ATTACH_STDERR):
 *                 from now on, this client gets the output it asked for
 *     MON_STDIN   payload: bytes for the container's stdin (pipe or pty)
 *     MON_STDIN_CLOSE  this client's stdin ended; with --stdin-once the
 *                 monitor closes the container's stdin (no effect with --tty)
 *     MON_RESIZE  payload: struct monitor_winsize (rows, cols), TIOCSWINSZ
 *     MON_START   container mode: runs `RUNTIME start ID`; exec mode: runs
 *                 `RUNTIME exec --detach --process FILE --pid-file DIR/pid
 *                 [--console-socket ...] ID`.  Answered on the same
 *                 connection with MON_STARTED, or MON_START_FAILED whose
 *                 payload is the runtime's error message (then the monitor
 *                 writes the exit file with exit_code 126/127 as docker does:
 *                 127 "not found", 126 otherwise, and "error"; cleans up
 *                 and exits).
 *   monitor -> client
 *     MON_STDOUT / MON_STDERR  payload: output bytes (only to clients that
 *                 attached for that stream; with --tty everything is STDOUT)
 *     MON_STARTED, MON_START_FAILED   see MON_START
 *     MON_EXIT    payload: the exit code in decimal ASCII; sent to every
 *                 client once the exit file is written; the monitor then
 *                 closes all connections
 * Output produced while no client is attached is only logged.  A client
 * that does not read is dropped rather than blocking the container (the
 * monitor never blocks on a client).
 *
 * When the process has exited: drain its output (until EOF on the pipes,
 * or at most 1 s after the exit), write the exit file, send MON_EXIT,
 * in container mode run `RUNTIME [--root R] delete --force ID`, remove
 * attach.sock and exit 0.  SIGTERM/SIGINT/SIGHUP to the monitor are
 * ignored: only the container's exit ends it. */
#ifndef BERTH_MONITOR_PROTO_H
#define BERTH_MONITOR_PROTO_H

#include <stdint.h>

#define MONITOR_MSG_MAX 65536

enum monitor_msg
{
  MON_ATTACH = 'a',
  MON_STDIN = 'i',
  MON_STDIN_CLOSE = 'c',
  MON_RESIZE = 'r',
  MON_START = 's',
  MON_STDOUT = '1',
  MON_STDERR = '2',
  MON_STARTED = 'S',
  MON_START_FAILED = 'F',
  MON_EXIT = 'x',
};

#define MON_ATTACH_STDOUT 0x1
#define MON_ATTACH_STDERR 0x2

struct monitor_winsize
{
  uint16_t rows;
  uint16_t cols;
};

#endif
