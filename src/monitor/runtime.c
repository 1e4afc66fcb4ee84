/* Running the OCI runtime (berth-runtime, runc, ...) from the monitor. */
#include "monitor.h"

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The runtime's log can grow across restarts; only what one command wrote
 * is read, and never more than this. */
#define RUNTIME_LOG_READ_MAX (1024 * 1024)

static off_t file_size (const char *path)
{
  struct stat st;
  return stat (path, &st) == 0 ? st.st_size : 0;
}

/* The message of the last "error" line the runtime logged after OFFSET
 * ({"level":"error","msg":...}, runc's and berth-runtime's format), or
 * NULL.  Heap string. */
static char *runtime_error_since (const char *log, off_t offset)
{
  cleanup_close int fd = open (log, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || lseek (fd, offset, SEEK_SET) < 0)
    return NULL;
  cleanup_free char *buf = malloc (RUNTIME_LOG_READ_MAX + 1);
  if (buf == NULL)
    return NULL;
  ssize_t n = berth_read_all (fd, buf, RUNTIME_LOG_READ_MAX);
  if (n <= 0)
    return NULL;
  buf[n] = '\0';
  char *found = NULL;
  for (char *line = buf, *next; line && *line; line = next)
    {
      next = strchr (line, '\n');
      if (next)
        *next++ = '\0';
      cleanup_json json_t *j = json_loads (line, 0, NULL);
      const char *level = berth_json_str (j, "level");
      const char *msg = berth_json_str (j, "msg");
      if (level && msg && strcmp (level, "error") == 0)
        {
          free (found);
          found = strdup (msg);
        }
    }
  return found;
}

static int spawn_runtime (struct monitor *m, const char *const *args, const int stdio[3], pid_t *pid)
{
  const char *argv[32];
  size_t n = 0;
  argv[n++] = m->runtime;
  if (m->runtime_root)
    {
      argv[n++] = "--root";
      argv[n++] = m->runtime_root;
    }
  argv[n++] = "--log";
  argv[n++] = m->runtime_log;
  argv[n++] = "--log-format";
  argv[n++] = "json";
  for (; *args && n < sizeof argv / sizeof argv[0] - 1; args++)
    argv[n++] = *args;
  argv[n] = NULL;

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init (&fa);
  posix_spawnattr_init (&attr);
  for (int i = 0; i < 3; i++)
    if (stdio[i] >= 0)
      posix_spawn_file_actions_adddup2 (&fa, stdio[i], i);
    else
      posix_spawn_file_actions_addopen (&fa, i, "/dev/null", O_RDWR, 0);
  /* Everything of the monitor's is O_CLOEXEC already; this is the guard
   * that nothing else reaches the container. */
  posix_spawn_file_actions_addclosefrom_np (&fa, 3);
  /* What the monitor ignores and blocks, the container must not. */
  sigset_t none, defaults;
  sigemptyset (&none);
  sigemptyset (&defaults);
  for (int sig = 1; sig < 32; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      sigaddset (&defaults, sig);
  posix_spawnattr_setsigmask (&attr, &none);
  posix_spawnattr_setsigdefault (&attr, &defaults);
  posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  int r = posix_spawnp (pid, m->runtime, &fa, &attr, (char *const *) argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  posix_spawnattr_destroy (&attr);
  return -r;
}

int runtime_run (struct monitor *m, const char *const *args, const int stdio[3], berth_err *err)
{
  off_t log_start = file_size (m->runtime_log);
  pid_t pid;
  int r = spawn_runtime (m, args, stdio, &pid);
  if (r < 0)
    return berth_fail (err, -r, "run the runtime `%s`", m->runtime);
  int status;
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return berth_fail_errno (err, "wait for the runtime");
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return 0;
  cleanup_free char *msg = runtime_error_since (m->runtime_log, log_start);
  if (msg)
    return berth_fail (err, 0, "%s", msg);
  if (WIFSIGNALED (status))
    return berth_fail (err, 0, "%s %s: killed by signal %d", m->runtime, args[0], WTERMSIG (status));
  return berth_fail (err, 0, "%s %s failed with exit status %d", m->runtime, args[0], WEXITSTATUS (status));
}

void runtime_delete (struct monitor *m)
{
  const char *args[] = { "delete", "--force", m->id, NULL };
  const int devnull[3] = { -1, -1, -1 };
  berth_err err = NULL;
  runtime_run (m, args, devnull, &err);
  berth_error_free (&err);
}
