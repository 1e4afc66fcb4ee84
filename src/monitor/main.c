/* berth-monitor: one per container (and per exec), in the spirit of
 * podman's conmon.  See common/monitor-proto.h for what it does and how
 * berthd talks to it; this file is the start-up up to the sync line. */
#include "monitor.h"

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* The state is static: only one monitor per process, and its two 16 KiB
 * line buffers cost no memory until the container writes. */
static struct monitor mon = {
  .sync_fd = -1,
  .child_stdio = { -1, -1, -1 },
  .console_listen = -1,
  .pty = -1,
  .out = { { .fd = -1, .type = MON_STDOUT, .stream = "stdout" }, { .fd = -1, .type = MON_STDERR, .stream = "stderr" } },
  .stdin_fd = -1,
  .log_fd = -1,
  .listen_fd = -1,
  .signal_fd = -1,
};

static int usage (const char *fmt, const char *arg)
{
  fprintf (stderr, "berth-monitor: ");
  fprintf (stderr, fmt, arg);
  fprintf (stderr, "\nusage: berth-monitor --id ID --state-dir DIR --runtime PATH --sync-fd N\n"
                   "         [--runtime-root DIR] [--bundle DIR | --exec-process FILE]\n"
                   "         [--log-file PATH] [--tty] [--stdin] [--stdin-once]\n");
  return -1;
}

/* A path made absolute, because the runtime changes folders (runc chdirs
 * into the bundle) before it uses some of them.  Heap string. */
static char *absolute (const char *path)
{
  char *abs = realpath (path, NULL);
  return abs ? abs : strdup (path);
}

static int parse_args (struct monitor *m, int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      if (strcmp (a, "--tty") == 0)
        m->tty = true;
      else if (strcmp (a, "--stdin") == 0)
        m->stdin_open = true;
      else if (strcmp (a, "--stdin-once") == 0)
        m->stdin_once = true;
      else if (i + 1 >= argc)
        return usage ("unknown option or missing value: `%s`", a);
      else
        {
          const char *v = argv[++i];
          if (strcmp (a, "--id") == 0)
            m->id = v;
          else if (strcmp (a, "--state-dir") == 0)
            m->state_dir = absolute (v);
          else if (strcmp (a, "--runtime") == 0)
            m->runtime = v;
          else if (strcmp (a, "--runtime-root") == 0)
            m->runtime_root = absolute (v);
          else if (strcmp (a, "--bundle") == 0)
            m->bundle = absolute (v);
          else if (strcmp (a, "--exec-process") == 0)
            m->exec_process = absolute (v);
          else if (strcmp (a, "--log-file") == 0)
            m->log_file = v;
          else if (strcmp (a, "--sync-fd") == 0)
            {
              char *end;
              long n = strtol (v, &end, 10);
              if (*end || end == v || n < 0 || n > INT_MAX)
                return usage ("--sync-fd: not a file descriptor: `%s`", v);
              m->sync_fd = (int) n;
            }
          else
            return usage ("unknown option `%s`", a);
        }
    }
  if (m->sync_fd < 0 || fcntl (m->sync_fd, F_SETFD, FD_CLOEXEC) < 0)
    return usage ("%s", "--sync-fd: missing or not an open file descriptor");
  if (!m->id || !m->state_dir || !m->runtime)
    return usage ("%s", "--id, --state-dir and --runtime are required");
  if (!m->bundle == !m->exec_process)
    return usage ("%s", "give exactly one of --bundle and --exec-process");
  if (m->exec_process && m->log_file)
    return usage ("%s", "--log-file is for container mode only");
  return 0;
}

static int state_path (struct monitor *m, const char *name, char **out, berth_err *err)
{
  if (asprintf (out, "%s/%s", m->state_dir, name) < 0)
    return berth_fail (err, ENOMEM, "path");
  return 0;
}

/* stdio 0-2 must be open, or the pipes would land there and be taken for
 * the monitor's own stdio by the runtime's dup2s. */
static void ensure_std_fds (void)
{
  int fd;
  while ((fd = open ("/dev/null", O_RDWR)) >= 0 && fd <= 2)
    ;
  if (fd > 2)
    close (fd);
}

/* setsid + fork: the process berthd spawned exits at once, and the monitor
 * is reparented away from berthd (it survives berthd's restarts).  It is a
 * subreaper, so the container's init, orphaned when the runtime exits,
 * becomes its child. */
static int daemonize (berth_err *err)
{
  if (setsid () < 0)
    return berth_fail_errno (err, "setsid");
  pid_t pid = fork ();
  if (pid < 0)
    return berth_fail_errno (err, "fork");
  if (pid > 0)
    _exit (0);
  if (prctl (PR_SET_CHILD_SUBREAPER, 1) < 0)
    return berth_fail_errno (err, "become a subreaper");
  return 0;
}

/* Only the container's exit ends the monitor.  SIGCHLD is read from a
 * signalfd.  The runtime is spawned with default dispositions and an empty
 * mask (see runtime.c), so the container does not inherit these. */
static int setup_signals (struct monitor *m, berth_err *err)
{
  signal (SIGTERM, SIG_IGN);
  signal (SIGINT, SIG_IGN);
  signal (SIGHUP, SIG_IGN);
  signal (SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset (&set);
  sigaddset (&set, SIGCHLD);
  if (sigprocmask (SIG_BLOCK, &set, NULL) < 0)
    return berth_fail_errno (err, "block SIGCHLD");
  m->signal_fd = signalfd (-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (m->signal_fd < 0)
    return berth_fail_errno (err, "signalfd");
  return 0;
}

/* Bind a unix socket at DIR/NAME.  Paths too long for sun_path go through
 * the folder's /proc/self/fd link. */
static int bind_unix (const char *dir, const char *name, int type, mode_t mode, berth_err *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  cleanup_close int dirfd = -1;
  int n = snprintf (addr.sun_path, sizeof addr.sun_path, "%s/%s", dir, name);
  if (n < 0 || (size_t) n >= sizeof addr.sun_path)
    {
      dirfd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (dirfd < 0)
        return berth_fail_errno (err, "open `%s`", dir);
      snprintf (addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", dirfd, name);
    }
  cleanup_close int fd = socket (AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return berth_fail_errno (err, "socket");
  unlink (addr.sun_path);
  mode_t old = umask (0777 & ~mode);
  int r = bind (fd, (struct sockaddr *) &addr, sizeof addr);
  umask (old);
  if (r < 0)
    return berth_fail_errno (err, "bind `%s/%s`", dir, name);
  if (listen (fd, 16) < 0)
    return berth_fail_errno (err, "listen on `%s/%s`", dir, name);
  return take_fd (&fd);
}

static int set_nonblock (int fd)
{
  int fl = fcntl (fd, F_GETFL);
  return fl < 0 || fcntl (fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

/* Pipes for stdout, stderr and (with --stdin) stdin.  The monitor keeps
 * its ends non-blocking; the other ends go to the runtime, which hands
 * them to the process. */
static int make_pipes (struct monitor *m, berth_err *err)
{
  int p[2];
  for (int i = 0; i < 2; i++)
    {
      if (pipe2 (p, O_CLOEXEC) < 0)
        return berth_fail_errno (err, "pipe");
      m->out[i].fd = p[0];
      m->child_stdio[i + 1] = p[1];
      set_nonblock (p[0]);
    }
  if (m->stdin_open)
    {
      if (pipe2 (p, O_CLOEXEC) < 0)
        return berth_fail_errno (err, "pipe");
      m->child_stdio[0] = p[0];
      m->stdin_fd = p[1];
      set_nonblock (p[1]);
    }
  return 0;
}

static int prepare_stdio (struct monitor *m, berth_err *err)
{
  if (!m->tty)
    return make_pipes (m, err);
  if (state_path (m, "console.sock", &m->console_path, err) < 0)
    return -ENOMEM;
  if (strlen (m->console_path) >= sizeof ((struct sockaddr_un *) 0)->sun_path)
    return berth_fail (err, ENAMETOOLONG, "console socket `%s`", m->console_path);
  int fd = bind_unix (m->state_dir, "console.sock", SOCK_STREAM, 0600, err);
  if (fd < 0)
    return fd;
  m->console_listen = fd;
  return 0;
}

static void close_child_stdio (struct monitor *m)
{
  for (int i = 0; i < 3; i++)
    if (m->child_stdio[i] >= 0)
      {
        close (m->child_stdio[i]);
        m->child_stdio[i] = -1;
      }
}

/* The runtime connected to the console socket and sent the pty master
 * (SCM_RIGHTS, like runc's recvtty).  It has exited by now, so everything
 * is already queued: nothing here blocks. */
static int receive_pty (struct monitor *m, berth_err *err)
{
  cleanup_close int conn = accept4 (m->console_listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (conn < 0)
    return berth_fail_errno (err, "the runtime sent no terminal on `%s`", m->console_path);
  char name[256];
  union
  {
    struct cmsghdr h;
    char buf[CMSG_SPACE (sizeof (int))];
  } ctl;
  struct iovec iov = { name, sizeof name };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
  ssize_t n = recvmsg (conn, &msg, MSG_CMSG_CLOEXEC);
  if (n < 0)
    return berth_fail_errno (err, "receive the terminal");
  struct cmsghdr *c = CMSG_FIRSTHDR (&msg);
  if (c == NULL || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN (sizeof (int)))
    return berth_fail (err, EPROTO, "the runtime sent no terminal file descriptor");
  int master;
  memcpy (&master, CMSG_DATA (c), sizeof master);
  m->pty = master;
  set_nonblock (master);
  m->out[0].fd = fcntl (master, F_DUPFD_CLOEXEC, 3);
  if (m->stdin_open)
    m->stdin_fd = fcntl (master, F_DUPFD_CLOEXEC, 3);
  if (m->out[0].fd < 0 || (m->stdin_open && m->stdin_fd < 0))
    return berth_fail_errno (err, "dup the terminal");
  close (m->console_listen);
  m->console_listen = -1;
  unlink (m->console_path);
  return 0;
}

static int open_log (struct monitor *m, berth_err *err)
{
  if (m->log_file == NULL)
    return 0;
  m->log_fd = open (m->log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (m->log_fd < 0)
    return berth_fail_errno (err, "open the log file `%s`", m->log_file);
  return 0;
}

/* --console-socket for the runtime, with --tty. */
static size_t console_args (struct monitor *m, const char **args, size_t n)
{
  if (m->tty)
    {
      args[n++] = "--console-socket";
      args[n++] = m->console_path;
    }
  return n;
}


/* Run the runtime with the process's stdio, then take what it left: the
 * pty (with --tty) and the pid.  The runtime's own complaints go to
 * stderr too, which is the process's stderr pipe; the monitor never reads
 * it after a failure, so they never reach the log. */
static int run_with_stdio (struct monitor *m, const char **args, berth_err *err)
{
  int r = runtime_run (m, args, m->child_stdio, err);
  close_child_stdio (m);
  if (r < 0)
    return r;
  if (m->tty && receive_pty (m, err) < 0)
    return -EPROTO;
  if (read_pid_file (m, &m->pid, err) < 0)
    return -EPROTO;
  return 0;
}

/* Container mode: `RUNTIME create`; the process waits in the runtime until
 * MON_START.  On failure the runtime's message is in *err; monitor_finish
 * deletes what the runtime left. */
static int create_container (struct monitor *m, berth_err *err)
{
  const char *args[12];
  size_t n = 0;
  args[n++] = "create";
  args[n++] = "--bundle";
  args[n++] = m->bundle;
  args[n++] = "--pid-file";
  args[n++] = m->pid_path;
  n = console_args (m, args, n);
  args[n++] = m->id;
  args[n] = NULL;
  m->create_tried = true;
  int r = run_with_stdio (m, args, err);
  if (r < 0)
    return r;
  oom_watch (m);
  return 0;
}

/* Exec mode: the stdio prepared at set-up goes to the new process. */
static int exec_start (struct monitor *m, berth_err *err)
{
  const char *args[12];
  size_t n = 0;
  args[n++] = "exec";
  args[n++] = "--detach";
  args[n++] = "--process";
  args[n++] = m->exec_process;
  args[n++] = "--pid-file";
  args[n++] = m->pid_path;
  n = console_args (m, args, n);
  args[n++] = m->id;
  args[n] = NULL;
  return run_with_stdio (m, args, err);
}

int monitor_start_process (struct monitor *m, berth_err *err)
{
  if (m->exec_process)
    return exec_start (m, err);
  const char *args[] = { "start", m->id, NULL };
  const int devnull[3] = { -1, -1, -1 };
  return runtime_run (m, args, devnull, err);
}

static int write_monitor_pid (struct monitor *m, berth_err *err)
{
  cleanup_free char *path = NULL;
  char buf[32];
  if (state_path (m, "monitor.pid", &path, err) < 0)
    return -ENOMEM;
  int n = snprintf (buf, sizeof buf, "%d", (int) getpid ());
  return berth_write_file_replace (path, buf, (size_t) n, 0644, err);
}

static int state_paths (struct monitor *m, berth_err *err)
{
  if (state_path (m, "pid", &m->pid_path, err) < 0 || state_path (m, "runtime.log", &m->runtime_log, err) < 0
      || state_path (m, "attach.sock", &m->attach_path, err) < 0 || state_path (m, "exit", &m->exit_path, err) < 0)
    return -ENOMEM;
  /* Left from an earlier run in the same folder: stale answers. */
  unlink (m->exit_path);
  unlink (m->pid_path);
  return 0;
}

static int setup (struct monitor *m, berth_err *err)
{
  if (daemonize (err) < 0 || setup_signals (m, err) < 0 || state_paths (m, err) < 0 || write_monitor_pid (m, err) < 0)
    return -1;
  if (open_log (m, err) < 0 || prepare_stdio (m, err) < 0)
    return -1;
  if (m->bundle && create_container (m, err) < 0)
    return -1;
  int fd = bind_unix (m->state_dir, "attach.sock", SOCK_SEQPACKET, 0600, err);
  if (fd < 0)
    return -1;
  m->listen_fd = fd;
  return 0;
}

static void write_sync (struct monitor *m, json_t *msg)
{
  cleanup_free char *line = msg ? json_dumps (msg, JSON_COMPACT) : NULL;
  if (line)
    {
      berth_write_all (m->sync_fd, line, strlen (line));
      berth_write_all (m->sync_fd, "\n", 1);
    }
  json_decref (msg);
  close (m->sync_fd);
  m->sync_fd = -1;
}

int main (int argc, char **argv)
{
  struct monitor *m = &mon;
  berth_err err = NULL;
  berth_log_init ("berth-monitor");
  ensure_std_fds ();
  if (parse_args (m, argc, argv) < 0)
    {
      if (m->sync_fd >= 0)
        write_sync (m, json_pack ("{s:s}", "error", "berth-monitor: invalid command line"));
      return 2;
    }
  if (setup (m, &err) < 0)
    {
      const char *msg = err ? err->msg : "berth-monitor: set-up failed";
      if (m->bundle && m->exit_path)
        {
          /* A failed create is the process's end: record it like a failed
           * start, so berthd finds the same answer either way. */
          m->exit_code = start_error_exit_code (msg);
          monitor_finish (m, msg);
        }
      write_sync (m, json_pack ("{s:s}", "error", msg));
      berth_error_free (&err);
      return 1;
    }
  write_sync (m, json_pack ("{s:i, s:i}", "monitor_pid", (int) getpid (), "pid", (int) m->pid));
  monitor_loop (m);
  return 0;
}
