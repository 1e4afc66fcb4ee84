#include "runtime/hooks.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

bool hooks_present (json_t *config, const char *kind)
{
  json_t *arr = berth_json_arr (berth_json_obj (config, "hooks"), kind);
  return arr && json_array_size (arr) > 0;
}

static void __attribute__ ((noreturn)) exec_hook (const char *path, char **args, char **env, int stdin_fd)
{
  if (dup2 (stdin_fd, 0) < 0)
    _exit (127);
  /* The hook inherits our stdout/stderr but none of our other fds. */
  syscall (SYS_close_range, 3, ~0U, 0);
  char *default_args[] = { (char *) path, NULL };
  execve (path, args[0] ? args : default_args, env);
  _exit (127);
}

/* Wait for PID with a timeout in seconds (0 = none); kill it on timeout. */
static int wait_hook (pid_t pid, int timeout, const char *path, berth_err *err)
{
  int pidfd = (int) syscall (SYS_pidfd_open, pid, 0);
  if (pidfd >= 0 && timeout > 0)
    {
      struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
      int r;
      do
        r = poll (&pfd, 1, timeout * 1000);
      while (r < 0 && errno == EINTR);
      if (r == 0)
        {
          kill (pid, SIGKILL);
          waitpid (pid, NULL, 0);
          close (pidfd);
          return berth_fail (err, ETIMEDOUT, "hook `%s` did not finish within %d s", path, timeout);
        }
    }
  if (pidfd >= 0)
    close (pidfd);
  int status;
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return berth_fail_errno (err, "wait for hook `%s`", path);
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return 0;
  if (WIFSIGNALED (status))
    return berth_fail (err, 0, "hook `%s` killed by signal %d", path, WTERMSIG (status));
  return berth_fail (err, 0, "hook `%s` exited with status %d", path, WEXITSTATUS (status));
}

static int run_one (json_t *hook, const char *state_text, const char *where, berth_err *err)
{
  const char *path = berth_json_str (hook, "path");
  if (path == NULL)
    return berth_fail (err, 0, "%s: hook without a path", where);
  cleanup_strv char **args = NULL;
  cleanup_strv char **env = NULL;
  if (berth_json_strv (json_object_get (hook, "args"), &args, where, err) < 0
      || berth_json_strv (json_object_get (hook, "env"), &env, where, err) < 0)
    return -EINVAL;
  int timeout = (int) berth_json_int (hook, "timeout", 0);
  if (timeout < 0)
    return berth_fail (err, 0, "%s: timeout must be positive", where);

  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return berth_fail_errno (err, "pipe");
  pid_t pid = fork ();
  if (pid < 0)
    {
      close (p[0]);
      close (p[1]);
      return berth_fail_errno (err, "fork hook");
    }
  if (pid == 0)
    exec_hook (path, args, env, p[0]);
  close (p[0]);
  /* A hook that does not read its stdin must not kill us with SIGPIPE.
   * The old disposition comes back: this may run in the container's init,
   * and an ignored SIGPIPE would be inherited by the container process. */
  struct sigaction ign = { .sa_handler = SIG_IGN }, old;
  sigaction (SIGPIPE, &ign, &old);
  (void) berth_write_all (p[1], state_text, strlen (state_text));
  close (p[1]);
  sigaction (SIGPIPE, &old, NULL);
  return wait_hook (pid, timeout, path, err);
}

int hooks_run (json_t *config, const char *kind, json_t *state, berth_err *err)
{
  json_t *arr = berth_json_arr (berth_json_obj (config, "hooks"), kind);
  if (arr == NULL || json_array_size (arr) == 0)
    return 0;
  cleanup_free char *text = json_dumps (state, JSON_COMPACT);
  if (text == NULL)
    return berth_fail (err, ENOMEM, "serialize state");
  size_t i;
  json_t *hook;
  json_array_foreach (arr, i, hook)
    {
      char where[64];
      snprintf (where, sizeof where, "hooks.%s[%zu]", kind, i);
      int r = run_one (hook, text, where, err);
      if (r < 0)
        return berth_error_prefix (err, "%s hook", kind);
    }
  return 0;
}

void hooks_run_warn_only (json_t *config, const char *kind, json_t *state)
{
  json_t *arr = berth_json_arr (berth_json_obj (config, "hooks"), kind);
  if (arr == NULL)
    return;
  cleanup_free char *text = json_dumps (state, JSON_COMPACT);
  size_t i;
  json_t *hook;
  json_array_foreach (arr, i, hook)
    {
      berth_err err = NULL;
      char where[64];
      snprintf (where, sizeof where, "hooks.%s[%zu]", kind, i);
      if (text && run_one (hook, text, where, &err) < 0)
        {
          berth_warn ("%s hook: %s", kind, err->msg);
          berth_error_free (&err);
        }
    }
}
