/* The monitor's poll loop: attach clients, the container's stdio, its
 * exit, and what is left to do after it. */
#include "monitor.h"

#include "common/cleanup.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/json.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* How long the output may still come after the process exited (a child
 * that outlives it may hold the pipes). */
#define DRAIN_MS 1000

int start_error_exit_code (const char *msg)
{
  if (msg && (strcasestr (msg, "not found") || strcasestr (msg, "no such file or directory")))
    return 127;
  return 126;
}

int read_pid_file (struct monitor *m, pid_t *pid, berth_err *err)
{
  cleanup_free char *buf = NULL;
  if (berth_read_file (m->pid_path, 64, &buf, NULL, err) < 0)
    return berth_error_prefix (err, "the runtime's pid file");
  char *end;
  long n = strtol (buf, &end, 10);
  if (end == buf || (*end && *end != '\n') || n <= 0 || n > INT32_MAX)
    return berth_fail (err, EINVAL, "the runtime's pid file `%s` holds no pid", m->pid_path);
  *pid = (pid_t) n;
  return 0;
}

/* ---------------------------------------------------------------- OOM */

/* The "oom_kill N" count of a memory.oom_control (v1) or memory.events
 * (v2) file; -1 if there is none. */
static long long read_oom_kills (const char *path)
{
  cleanup_free char *buf = NULL;
  berth_err err = NULL;
  if (berth_read_file (path, 4096, &buf, NULL, &err) < 0)
    {
      berth_error_free (&err);
      return -1;
    }
  for (char *line = buf; line; line = strchr (line, '\n'), line = line ? line + 1 : NULL)
    if (strncmp (line, "oom_kill ", 9) == 0)
      return strtoll (line + 9, NULL, 10);
  return -1;
}

static char *oom_file_for (const char *controllers, const char *cgpath)
{
  char *path = NULL;
  if (controllers[0] == '\0')
    {
      /* v2: the hybrid layout's unified tree, or a pure v2 host. */
      const char *roots[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
      for (size_t i = 0; i < 2; i++)
        {
          if (asprintf (&path, "%s%s/memory.events", roots[i], cgpath) < 0)
            return NULL;
          if (access (path, R_OK) == 0)
            return path;
          free (path);
        }
      return NULL;
    }
  for (const char *c = controllers; c; c = strchr (c, ','), c = c ? c + 1 : NULL)
    if (strncmp (c, "memory", 6) == 0 && (c[6] == ',' || c[6] == '\0'))
      {
        if (asprintf (&path, "/sys/fs/cgroup/memory%s/memory.oom_control", cgpath) < 0)
          return NULL;
        if (access (path, R_OK) == 0)
          return path;
        free (path);
        return NULL;
      }
  return NULL;
}

void oom_watch (struct monitor *m)
{
  char proc[64];
  snprintf (proc, sizeof proc, "/proc/%d/cgroup", (int) m->pid);
  cleanup_free char *buf = NULL;
  berth_err err = NULL;
  if (berth_read_file (proc, 65536, &buf, NULL, &err) < 0)
    {
      berth_error_free (&err);
      return;
    }
  char *v1 = NULL, *v2 = NULL;
  for (char *line = buf, *next; line && *line; line = next)
    {
      next = strchr (line, '\n');
      if (next)
        *next++ = '\0';
      char *controllers = strchr (line, ':');
      char *cgpath = controllers ? strchr (controllers + 1, ':') : NULL;
      if (cgpath == NULL)
        continue;
      *cgpath++ = '\0';
      char *file = oom_file_for (controllers + 1, cgpath);
      char **slot = controllers[1] ? &v1 : &v2;
      if (file && *slot == NULL)
        *slot = file;
      else
        free (file);
    }
  /* v1's memory controller, where there is one, is the one that limits. */
  m->oom_file = v1 ? v1 : v2;
  free (v1 ? v2 : NULL);
  if (m->oom_file)
    m->oom_kills_at_start = read_oom_kills (m->oom_file);
}

static bool oom_killed (struct monitor *m)
{
  if (m->oom_file == NULL || m->oom_kills_at_start < 0)
    return false;
  return read_oom_kills (m->oom_file) > m->oom_kills_at_start;
}

/* ---------------------------------------------------------------- exit */

static void write_exit_file (struct monitor *m, const char *error)
{
  cleanup_free char *now = berth_rfc3339_now ();
  cleanup_json json_t *j = json_pack ("{s:i, s:s?, s:b}", "exit_code", m->exit_code, "finished_at", now,
                                      "oom_killed", oom_killed (m));
  if (j == NULL)
    return;
  if (error)
    json_object_set_new (j, "error", json_string (error));
  cleanup_free char *text = json_dumps (j, JSON_COMPACT);
  berth_err err = NULL;
  if (text == NULL || berth_write_file_atomic (m->exit_path, text, strlen (text), 0644, &err) < 0)
    berth_error_free (&err);
}

void monitor_finish (struct monitor *m, const char *error)
{
  write_exit_file (m, error);
  char code[16];
  int n = snprintf (code, sizeof code, "%d", m->exit_code);
  while (m->nclients > 0)
    {
      size_t last = m->nclients - 1;
      /* a failed send drops the client itself */
      if (client_send (m, last, MON_EXIT, code, (size_t) n))
        client_drop (m, last);
    }
  if (m->bundle && m->create_tried)
    runtime_delete (m);
  if (m->listen_fd >= 0)
    close (m->listen_fd);
  m->listen_fd = -1;
  unlink (m->attach_path);
  if (m->console_path)
    unlink (m->console_path);
  m->finished = true;
}

static void record_exit (struct monitor *m, int status)
{
  m->exited = true;
  m->exit_code = WIFSIGNALED (status) ? 128 + WTERMSIG (status) : WEXITSTATUS (status);
}

/* Reap every child: the container's process, and whatever was reparented
 * to the subreaper and has exited. */
static void reap (struct monitor *m)
{
  struct signalfd_siginfo si;
  while (read (m->signal_fd, &si, sizeof si) > 0)
    ;
  int status;
  pid_t p;
  while ((p = waitpid (-1, &status, WNOHANG)) > 0)
    if (p == m->pid && !m->exited)
      record_exit (m, status);
}

/* The process's pidfd says it ended (or it could not be opened).  It is
 * normally the monitor's child and reaped here.  If it is still someone
 * else's zombie, it will be reparented to the subreaper and reaped on its
 * SIGCHLD.  If it is gone altogether, someone else reaped it (a runtime
 * that keeps its children): the status is lost. */
static void pid_gone (struct monitor *m, int *pidfd, bool *watch)
{
  reap (m);
  if (*pidfd >= 0)
    close (*pidfd);
  *pidfd = -1;
  *watch = false;
  if (!m->exited && kill (m->pid, 0) < 0 && errno == ESRCH)
    {
      m->exited = true;
      m->exit_code = 255;
    }
}

/* ---------------------------------------------------------------- stdin */

static void unblock_clients (struct monitor *m)
{
  for (size_t i = 0; i < m->nclients; i++)
    m->clients[i].stdin_wait = false;
}

static void stdin_close (struct monitor *m)
{
  if (m->stdin_fd >= 0)
    close (m->stdin_fd);
  m->stdin_fd = -1;
  free (m->stdin_buf);
  m->stdin_buf = NULL;
  m->stdin_len = m->stdin_off = 0;
  m->stdin_close_pending = false;
  unblock_clients (m);
}

/* Write what the container takes now; returns the bytes written, or -1
 * when its stdin is gone (closed). */
static ssize_t stdin_try_write (struct monitor *m, const char *data, size_t len)
{
  ssize_t n = write (m->stdin_fd, data, len);
  if (n >= 0)
    return n;
  if (errno == EAGAIN || errno == EINTR)
    return 0;
  stdin_close (m);
  return -1;
}

/* MON_STDIN.  What the container does not take at once waits in
 * STDIN_BUF, and the sender is not read from until it is flushed: the
 * back-pressure reaches the client through its socket. */
static void stdin_write (struct monitor *m, size_t idx, const char *data, size_t len)
{
  if (m->stdin_fd < 0 || len == 0)
    return;
  if (m->stdin_len == m->stdin_off)
    {
      ssize_t n = stdin_try_write (m, data, len);
      if (n < 0 || (size_t) n == len)
        return;
      data += n;
      len -= (size_t) n;
    }
  char *buf = realloc (m->stdin_buf, m->stdin_len + len);
  if (buf == NULL)
    return;
  memcpy (buf + m->stdin_len, data, len);
  m->stdin_buf = buf;
  m->stdin_len += len;
  m->clients[idx].stdin_wait = true;
}

static void stdin_flush (struct monitor *m)
{
  ssize_t n = stdin_try_write (m, m->stdin_buf + m->stdin_off, m->stdin_len - m->stdin_off);
  if (n <= 0)
    return;
  m->stdin_off += (size_t) n;
  if (m->stdin_off < m->stdin_len)
    return;
  free (m->stdin_buf);
  m->stdin_buf = NULL;
  m->stdin_len = m->stdin_off = 0;
  unblock_clients (m);
  if (m->stdin_close_pending)
    stdin_close (m);
}

static void stdin_eof (struct monitor *m)
{
  if (!m->stdin_once || m->tty)
    return;
  if (m->stdin_len > m->stdin_off)
    m->stdin_close_pending = true;
  else
    stdin_close (m);
}

/* ---------------------------------------------------------------- clients */

static void handle_start (struct monitor *m, size_t idx)
{
  static const char again[] = "the process was already started";
  if (m->started)
    {
      client_send (m, idx, MON_START_FAILED, again, sizeof again - 1);
      return;
    }
  m->started = true;
  berth_err err = NULL;
  if (monitor_start_process (m, &err) == 0)
    {
      client_send (m, idx, MON_STARTED, NULL, 0);
      return;
    }
  const char *msg = err && err->msg ? err->msg : "start failed";
  client_send (m, idx, MON_START_FAILED, msg, strlen (msg));
  m->exit_code = start_error_exit_code (msg);
  monitor_finish (m, msg);
  berth_error_free (&err);
}

static void handle_resize (struct monitor *m, const char *data, size_t len)
{
  struct monitor_winsize ws;
  if (m->pty < 0 || len != sizeof ws)
    return;
  memcpy (&ws, data, sizeof ws);
  struct winsize w = { .ws_row = ws.rows, .ws_col = ws.cols };
  (void) ioctl (m->pty, TIOCSWINSZ, &w);
}

/* One message from client IDX.  The buffer is static: at most 64 KiB,
 * and only the part a message fills is ever touched. */
static void client_input (struct monitor *m, size_t idx)
{
  static char buf[MONITOR_MSG_MAX];
  ssize_t n = recv (m->clients[idx].fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0)
    {
      client_drop (m, idx);
      return;
    }
  const char *data = buf + 1;
  size_t len = (size_t) n - 1;
  switch ((enum monitor_msg) buf[0])
    {
    case MON_ATTACH:
      if (len >= 1)
        m->clients[idx].attach = (uint8_t) data[0] & (MON_ATTACH_STDOUT | MON_ATTACH_STDERR);
      break;
    case MON_STDIN:
      stdin_write (m, idx, data, len);
      break;
    case MON_STDIN_CLOSE:
      stdin_eof (m);
      break;
    case MON_RESIZE:
      handle_resize (m, data, len);
      break;
    case MON_START:
      handle_start (m, idx);
      break;
    default: /* unknown, or meant for clients: ignored */
      break;
    }
}

static void accept_client (struct monitor *m)
{
  int fd = accept4 (m->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0)
    return;
  if (m->nclients == MONITOR_CLIENTS_MAX)
    {
      close (fd);
      return;
    }
  m->clients[m->nclients++] = (struct client){ .fd = fd };
}

/* ---------------------------------------------------------------- loop */

static long long now_ms (void)
{
  return monitor_now_ms ();
}

static int pidfd_open (pid_t pid)
{
  return (int) syscall (SYS_pidfd_open, pid, 0);
}

enum { P_SIGNAL, P_LISTEN, P_PROCESS, P_OUT0, P_OUT1, P_STDIN, P_CLIENTS };

void monitor_loop (struct monitor *m)
{
  struct pollfd pfd[P_CLIENTS + MONITOR_CLIENTS_MAX];
  cleanup_close int pidfd = -1;
  bool watch = true;
  long long deadline = 0;
  while (!m->finished)
    {
      if (watch && pidfd < 0 && m->pid > 0 && !m->exited && (pidfd = pidfd_open (m->pid)) < 0)
        pid_gone (m, &pidfd, &watch);
      long long held_since = 0;
      bool congested = clients_congested (m, &held_since);
      if (m->exited && deadline == 0)
        deadline = now_ms () + DRAIN_MS;
      /* A slow attach client gets its full CLIENT_STALL_MS, also after
       * the exit, before what is left is only logged. */
      if (m->exited && congested && deadline < held_since + CLIENT_STALL_MS)
        deadline = held_since + CLIENT_STALL_MS;
      if (m->exited && ((m->out[0].fd < 0 && m->out[1].fd < 0) || now_ms () >= deadline))
        break;
      pfd[P_SIGNAL] = (struct pollfd){ m->signal_fd, POLLIN, 0 };
      pfd[P_LISTEN] = (struct pollfd){ m->listen_fd, POLLIN, 0 };
      pfd[P_PROCESS] = (struct pollfd){ m->exited ? -1 : pidfd, POLLIN, 0 };
      pfd[P_OUT0] = (struct pollfd){ congested ? -1 : m->out[0].fd, POLLIN, 0 };
      pfd[P_OUT1] = (struct pollfd){ congested ? -1 : m->out[1].fd, POLLIN, 0 };
      pfd[P_STDIN] = (struct pollfd){ m->stdin_len > m->stdin_off ? m->stdin_fd : -1, POLLOUT, 0 };
      size_t nclients = m->nclients;
      for (size_t i = 0; i < nclients; i++)
        {
          short ev = (m->clients[i].stdin_wait ? 0 : POLLIN) | (m->clients[i].held ? POLLOUT : 0);
          pfd[P_CLIENTS + i] = (struct pollfd){ ev ? m->clients[i].fd : -1, ev, 0 };
        }
      int timeout = m->exited ? (int) (deadline - now_ms ()) : -1;
      if (congested)
        {
          long long stall = held_since + CLIENT_STALL_MS - now_ms () + 1;
          if (timeout < 0 || stall < timeout)
            timeout = stall > 0 ? (int) stall : 0;
        }
      int r = poll (pfd, P_CLIENTS + nclients, timeout < 0 && m->exited ? 0 : timeout);
      if (r < 0 && errno != EINTR)
        break;
      if (congested)
        for (size_t i = nclients; i-- > 0;)
          if (i < m->nclients && m->clients[i].held
              && ((pfd[P_CLIENTS + i].revents & POLLOUT) || now_ms () - m->clients[i].held_since > CLIENT_STALL_MS))
            client_retry_held (m, i);
      if (r <= 0)
        continue;
      if (pfd[P_SIGNAL].revents)
        reap (m);
      if (pfd[P_PROCESS].revents && !m->exited)
        pid_gone (m, &pidfd, &watch);
      /* Clients before the output, backwards: a dropped client is replaced
       * by the last one, which was handled already. */
      for (size_t i = nclients; i-- > 0 && !m->finished;)
        if ((pfd[P_CLIENTS + i].revents & ~POLLOUT) && i < m->nclients && !m->clients[i].stdin_wait)
          client_input (m, i);
      if (m->finished)
        return;
      for (int i = 0; i < 2; i++)
        if (pfd[P_OUT0 + i].revents && m->out[i].fd >= 0)
          output_read (m, &m->out[i]);
      if (pfd[P_STDIN].revents && m->stdin_fd >= 0 && m->stdin_len > m->stdin_off)
        stdin_flush (m);
      if (pfd[P_LISTEN].revents)
        accept_client (m);
    }
  if (m->finished)
    return;
  for (int i = 0; i < 2; i++)
    output_flush (m, &m->out[i]);
  clients_flush_held (m, CLIENT_STALL_MS);
  monitor_finish (m, NULL);
}
