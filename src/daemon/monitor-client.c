/* berthd's side of the berth-monitor protocol (common/monitor-proto.h). */
#include "daemon/monitor-client.h"

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* The runtime may be slow (a cold start, a loaded host): the sync line
 * comes after `RUNTIME create`. */
#define SYNC_TIMEOUT_MS (60 * 1000)
#define SYNC_LINE_MAX (64 * 1024)
/* The fd number the monitor gets its sync pipe on. */
#define SYNC_FD 3
#define SYNC_FD_ARG "3"

/* ---------------------------------------------------------------- spawn */

static void build_argv (const struct monitor_spawn *o, const char **argv)
{
  size_t n = 0;
  argv[n++] = o->monitor_path;
  argv[n++] = "--id";
  argv[n++] = o->id;
  argv[n++] = "--state-dir";
  argv[n++] = o->state_dir;
  argv[n++] = "--runtime";
  argv[n++] = o->runtime_path;
  argv[n++] = "--sync-fd";
  argv[n++] = SYNC_FD_ARG;
  if (o->runtime_root)
    argv[n++] = "--runtime-root", argv[n++] = o->runtime_root;
  if (o->bundle)
    argv[n++] = "--bundle", argv[n++] = o->bundle;
  if (o->exec_process)
    argv[n++] = "--exec-process", argv[n++] = o->exec_process;
  if (o->log_file)
    argv[n++] = "--log-file", argv[n++] = o->log_file;
  if (o->tty)
    argv[n++] = "--tty";
  if (o->stdin_open)
    argv[n++] = "--stdin";
  if (o->stdin_once)
    argv[n++] = "--stdin-once";
  argv[n] = NULL;
}

/* posix_spawn, not fork: berthd has threads.  The child gets /dev/null on
 * 0-2, the sync pipe on 3 and nothing else (closefrom closes whatever
 * another thread opened without O_CLOEXEC meanwhile). */
static int spawn_monitor (const struct monitor_spawn *o, int sync_w, pid_t *pid)
{
  const char *argv[32];
  build_argv (o, argv);
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init (&fa);
  posix_spawnattr_init (&attr);
  for (int i = 0; i < 3; i++)
    posix_spawn_file_actions_addopen (&fa, i, "/dev/null", O_RDWR, 0);
  posix_spawn_file_actions_adddup2 (&fa, sync_w, SYNC_FD);
  posix_spawn_file_actions_addclosefrom_np (&fa, SYNC_FD + 1);
  /* berthd's blocked signals and ignored SIGPIPE are no business of the
   * monitor's (it sets up its own). */
  sigset_t none, defaults;
  sigemptyset (&none);
  sigemptyset (&defaults);
  sigaddset (&defaults, SIGPIPE);
  posix_spawnattr_setsigmask (&attr, &none);
  posix_spawnattr_setsigdefault (&attr, &defaults);
  posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  int r = posix_spawn (pid, o->monitor_path, &fa, &attr, (char *const *) argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  posix_spawnattr_destroy (&attr);
  return -r;
}

static long long now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read up to the first newline (or EOF) within the sync timeout. */
static int read_sync_line (int fd, char **out, berth_err *err)
{
  size_t cap = 256, len = 0;
  cleanup_free char *buf = malloc (cap);
  if (buf == NULL)
    return berth_fail (err, ENOMEM, "monitor sync");
  long long deadline = now_ms () + SYNC_TIMEOUT_MS;
  for (;;)
    {
      long long left = deadline - now_ms ();
      if (left <= 0)
        return berth_fail (err, ETIMEDOUT, "waiting for berth-monitor to report");
      struct pollfd p = { fd, POLLIN, 0 };
      int r = poll (&p, 1, (int) left);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return berth_fail_errno (err, "poll the monitor's sync pipe");
      if (r == 0)
        continue;
      if (len + 1 >= cap)
        {
          if (cap >= SYNC_LINE_MAX)
            return berth_fail (err, EPROTO, "berth-monitor's sync line is too long");
          char *nb = realloc (buf, cap * 2);
          if (nb == NULL)
            return berth_fail (err, ENOMEM, "monitor sync");
          buf = nb;
          cap *= 2;
        }
      ssize_t n = read (fd, buf + len, cap - len - 1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return berth_fail_errno (err, "read the monitor's sync pipe");
      if (n == 0)
        break;
      len += (size_t) n;
      if (memchr (buf + len - (size_t) n, '\n', (size_t) n))
        break;
    }
  buf[len] = '\0';
  char *nl = strchr (buf, '\n');
  if (nl)
    *nl = '\0';
  *out = take_ptr (buf);
  return 0;
}

static int parse_sync (const char *line, pid_t *monitor_pid, pid_t *pid, berth_err *err)
{
  if (*line == '\0')
    return berth_fail (err, EPROTO, "berth-monitor exited without reporting");
  cleanup_json json_t *j = berth_json_load_buffer (line, strlen (line), "berth-monitor's sync line", err);
  if (j == NULL)
    return -EPROTO;
  const char *error = berth_json_str (j, "error");
  if (error)
    return berth_fail_as (err, 0, "%s", error);
  json_int_t mp = berth_json_int (j, "monitor_pid", 0), p = berth_json_int (j, "pid", -1);
  if (mp <= 0 || p < 0 || mp > INT32_MAX || p > INT32_MAX)
    return berth_fail (err, EPROTO, "berth-monitor's sync line is malformed: %s", line);
  *monitor_pid = (pid_t) mp;
  *pid = (pid_t) p;
  return 0;
}

int monitor_spawn (const struct monitor_spawn *opts, pid_t *monitor_pid, pid_t *pid, berth_err *err)
{
  if (!opts->monitor_path || !opts->id || !opts->state_dir || !opts->runtime_path
      || !opts->bundle == !opts->exec_process)
    return berth_fail (err, EINVAL, "monitor_spawn: incomplete options");
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return berth_fail_errno (err, "pipe");
  cleanup_close int sync_r = p[0];
  cleanup_close int sync_w = p[1];
  /* Above the fds the child's file actions write: dup2 onto 0-3 must not
   * clobber it first. */
  int high = fcntl (sync_w, F_DUPFD_CLOEXEC, SYNC_FD + 1);
  if (high < 0)
    return berth_fail_errno (err, "dup");
  close (sync_w);
  sync_w = high;
  pid_t child;
  int r = spawn_monitor (opts, sync_w, &child);
  if (r < 0)
    return berth_fail (err, -r, "run `%s`", opts->monitor_path);
  close (take_fd (&sync_w));
  cleanup_free char *line = NULL;
  r = read_sync_line (sync_r, &line, err);
  /* The spawned process forks the real monitor and exits at once; the
   * monitor itself is not berthd's child. */
  int status;
  while (waitpid (child, &status, 0) < 0 && errno == EINTR)
    ;
  if (r < 0)
    return r;
  return parse_sync (line, monitor_pid, pid, err);
}

/* ---------------------------------------------------------------- socket */

int monitor_connect (const char *state_dir, berth_err *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  cleanup_close int dirfd = -1;
  int n = snprintf (addr.sun_path, sizeof addr.sun_path, "%s/attach.sock", state_dir);
  if (n < 0 || (size_t) n >= sizeof addr.sun_path)
    {
      /* Too long for sun_path: through the folder's /proc link. */
      dirfd = open (state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (dirfd < 0)
        return berth_fail_errno (err, "open `%s`", state_dir);
      snprintf (addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/attach.sock", dirfd);
    }
  cleanup_close int fd = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return berth_fail_errno (err, "socket");
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    return berth_fail_errno (err, "connect to the monitor at `%s/attach.sock`", state_dir);
  return take_fd (&fd);
}

int monitor_send (int fd, enum monitor_msg type, const void *data, size_t len)
{
  if (len > MONITOR_MSG_MAX - 1)
    return -EMSGSIZE;
  unsigned char t = (unsigned char) type;
  struct iovec iov[2] = { { &t, 1 }, { (void *) data, len } };
  struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
  ssize_t n;
  do
    n = sendmsg (fd, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : 0;
}

ssize_t monitor_recv (int fd, enum monitor_msg *type, char *buf, size_t size)
{
  unsigned char t;
  struct iovec iov[2] = { { &t, 1 }, { buf, size } };
  struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
  ssize_t n;
  do
    n = recvmsg (fd, &msg, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return errno == ECONNRESET ? -EPIPE : -errno;
  if (n == 0)
    return -EPIPE;
  if (msg.msg_flags & MSG_TRUNC)
    return -EMSGSIZE;
  *type = (enum monitor_msg) t;
  return n - 1;
}

int monitor_start (const char *state_dir, berth_err *err)
{
  cleanup_close int fd = monitor_connect (state_dir, err);
  if (fd < 0)
    return fd;
  int r = monitor_send (fd, MON_START, NULL, 0);
  if (r < 0)
    return berth_fail (err, -r, "send start to the monitor");
  cleanup_free char *buf = malloc (MONITOR_MSG_MAX);
  if (buf == NULL)
    return berth_fail (err, ENOMEM, "monitor start");
  for (;;)
    {
      enum monitor_msg type;
      ssize_t n = monitor_recv (fd, &type, buf, MONITOR_MSG_MAX - 1);
      if (n == -EPIPE)
        return berth_fail (err, EPIPE, "the monitor closed the connection before answering start");
      if (n < 0)
        return berth_fail (err, (int) -n, "read the monitor's answer to start");
      if (type == MON_STARTED)
        return 0;
      if (type == MON_START_FAILED)
        {
          buf[n] = '\0';
          return berth_fail_as (err, 0, "%s", n > 0 ? buf : "the runtime failed to start the process");
        }
    }
}

int monitor_resize (const char *state_dir, unsigned rows, unsigned cols, berth_err *err)
{
  if (rows > UINT16_MAX || cols > UINT16_MAX)
    return berth_fail (err, EINVAL, "terminal size %ux%u out of range", rows, cols);
  cleanup_close int fd = monitor_connect (state_dir, err);
  if (fd < 0)
    return fd;
  struct monitor_winsize ws = { .rows = (uint16_t) rows, .cols = (uint16_t) cols };
  int r = monitor_send (fd, MON_RESIZE, &ws, sizeof ws);
  if (r < 0)
    return berth_fail (err, -r, "send the terminal size to the monitor");
  return 0;
}

/* ---------------------------------------------------------------- files */

int monitor_read_exit (const char *state_dir, int *exit_code, char **finished_at, bool *oom_killed, char **error,
                       berth_err *err)
{
  cleanup_free char *path = NULL;
  if (asprintf (&path, "%s/exit", state_dir) < 0)
    return berth_fail (err, ENOMEM, "exit file");
  cleanup_free char *text = NULL;
  size_t len;
  if (berth_read_file (path, 65536, &text, &len, err) < 0)
    return berth_error_ret (*err);
  cleanup_json json_t *j = berth_json_load_buffer (text, len, path, err);
  if (j == NULL)
    return -EINVAL;
  json_t *code = json_object_get (j, "exit_code");
  if (!json_is_integer (code))
    return berth_fail (err, EINVAL, "`%s`: no exit_code", path);
  cleanup_free char *fin = NULL, *msg = NULL;
  const char *s = berth_json_str (j, "finished_at");
  if (finished_at && s && (fin = strdup (s)) == NULL)
    return berth_fail (err, ENOMEM, "exit file");
  s = berth_json_str (j, "error");
  if (error && s && (msg = strdup (s)) == NULL)
    return berth_fail (err, ENOMEM, "exit file");
  if (exit_code)
    *exit_code = (int) json_integer_value (code);
  if (oom_killed)
    *oom_killed = berth_json_bool (j, "oom_killed", false);
  if (finished_at)
    *finished_at = take_ptr (fin);
  if (error)
    *error = take_ptr (msg);
  return 0;
}

uint64_t proc_start_time (pid_t pid)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  cleanup_free char *buf = NULL;
  berth_err err = NULL;
  if (pid <= 0 || berth_read_file (path, 4096, &buf, NULL, &err) < 0)
    {
      berth_error_free (&err);
      return 0;
    }
  /* The command name (field 2) may hold spaces and parentheses: count
   * fields after its last ')'.  Field 3 follows it, 22 is starttime. */
  char *p = strrchr (buf, ')');
  if (p == NULL)
    return 0;
  p++;
  for (int field = 3; field < 22 && p; field++)
    p = strchr (p + 1, ' ');
  if (p == NULL)
    return 0;
  return strtoull (p + 1, NULL, 10);
}

int monitor_pidfd (pid_t pid, uint64_t start_time)
{
  if (pid <= 0)
    return -ESRCH;
  int fd = (int) syscall (SYS_pidfd_open, pid, 0);
  if (fd < 0)
    return -errno;
  /* Checked after the pidfd is taken: if the pid was reused before, the
   * times differ; if after, the pidfd still refers to the right one. */
  if (start_time != 0 && proc_start_time (pid) != start_time)
    {
      close (fd);
      return -ESRCH;
    }
  return fd;
}
