/* Why this exists: every write to a cgroup.procs file takes the kernel's
 * global cgroup_threadgroup_rwsem for writing, and the first writer after
 * a quiet period waits for a full RCU grace period (rcu_sync_enter): 10 to
 * 20 ms on our test machines, more than all the rest of `run`.  Writers
 * that come while the grace period is running or soon after it share it.
 * So the runtime starts a no-op migration (a throw-away process moving
 * itself into the cgroup it is already in) before anything else; the grace
 * period then elapses while the config is parsed and the container is set
 * up, and the container's real migration finds the lock ready. */
#include "runtime/cgroup.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The cgroup.procs of our own cgroup in one hierarchy, from
 * /proc/self/cgroup: the pids controller on v1/hybrid, else the unified
 * hierarchy. */
static int own_procs_path (char *buf, size_t len)
{
  FILE *f = fopen ("/proc/self/cgroup", "re");
  char line[4096];
  int found = -1;
  while (f && found < 0 && fgets (line, sizeof line, f))
    {
      line[strcspn (line, "\n")] = '\0';
      char *ctrl = strchr (line, ':');
      char *path = ctrl ? strchr (ctrl + 1, ':') : NULL;
      if (path == NULL)
        continue;
      *path++ = '\0';
      ctrl++;
      if (strcmp (ctrl, "pids") == 0)
        found = snprintf (buf, len, "/sys/fs/cgroup/pids%s/cgroup.procs", path) < (int) len ? 0 : -1;
      else if (*ctrl == '\0')
        {
          snprintf (buf, len, "/sys/fs/cgroup/unified%s/cgroup.procs", path);
          if (access (buf, W_OK) != 0)
            snprintf (buf, len, "/sys/fs/cgroup%s/cgroup.procs", path);
          found = 0;
        }
    }
  if (f)
    fclose (f);
  return found;
}

void cgroup_prewarm_async (void)
{
  /* Double fork: the worker is nobody's child here, so no caller ever
   * waits for it or reaps it by accident. */
  pid_t pid = fork ();
  if (pid != 0)
    {
      if (pid > 0)
        waitpid (pid, NULL, 0);
      return;
    }
  if (fork () != 0)
    _exit (0);
  char path[4200];
  if (own_procs_path (path, sizeof path) == 0)
    {
      int fd = open (path, O_WRONLY | O_CLOEXEC);
      if (fd >= 0)
        {
          (void) !write (fd, "0", 1);
          close (fd);
        }
    }
  _exit (0);
}
