/* Operations on an existing container: start, state, kill, delete, pause,
 * resume, update, ps, list. */
#include "runtime/container-internal.h"
#include "runtime/cgroup.h"
#include "runtime/hooks.h"
#include "runtime/terminal.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int container_exit_code (int status)
{
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return 255;
}

int container_write_pid_file (const char *path, pid_t pid, berth_err *err)
{
  char buf[32];
  int n = snprintf (buf, sizeof buf, "%d", (int) pid);
  if (berth_write_file_replace (path, buf, (size_t) n, 0644, err) < 0)
    return berth_error_prefix (err, "pid file");
  return 0;
}

static volatile pid_t forward_pid;

static void forward_signal (int sig)
{
  if (forward_pid > 0)
    kill (forward_pid, sig);
}

int container_wait_forwarding (pid_t pid, int master, berth_err *err)
{
  static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
  struct sigaction sa = { .sa_handler = forward_signal, .sa_flags = SA_RESTART };
  forward_pid = pid;
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    sigaction (sigs[i], &sa, NULL);
  if (master >= 0)
    terminal_relay (master, err);
  int status;
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return berth_fail_errno (err, "wait for the container");
  forward_pid = 0;
  return container_exit_code (status);
}

static int status_error (struct container_state *st, const char *action, enum container_status s, berth_err *err)
{
  return berth_fail (err, 0, "cannot %s container `%s`: it is %s", action, st->id, state_status_name (s));
}

static int load_manager (struct container_state *st, struct cgroup_manager **m, berth_err *err)
{
  if (st->cgroup_path == NULL)
    return berth_fail (err, 0, "container `%s` has no cgroup", st->id);
  return cgroup_manager_new (st->cgroup_path, m, err);
}

/* ---- start ---- */

static int read_fifo (struct container_state *st, const char *fifo, berth_err *err)
{
  /* O_NONBLOCK: never hang if the init died before opening its end. */
  cleanup_close int fd = open (fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (err, "container `%s` is not waiting to start", st->id);
  for (;;)
    {
      struct pollfd p = { .fd = fd, .events = POLLIN };
      int r = poll (&p, 1, 100);
      if (r < 0 && errno != EINTR)
        return berth_fail_errno (err, "poll exec fifo");
      if (r > 0)
        {
          char c;
          ssize_t n = read (fd, &c, 1);
          if (n == 1)
            return 0;
          if (n == 0 || (n < 0 && errno != EAGAIN))
            return berth_fail (err, 0, "container `%s` exited before it started", st->id);
        }
      if (!state_init_alive (st))
        return berth_fail (err, 0, "container `%s` exited before it started", st->id);
    }
}

int container_start_state (struct container_state *st, berth_err *err)
{
  enum container_status s = state_status (st);
  if (s != STATUS_CREATED)
    return status_error (st, "start", s, err);
  cleanup_free char *fifo = NULL;
  if (asprintf (&fifo, "%s/exec.fifo", st->dir) < 0)
    return berth_fail (err, ENOMEM, "start");
  if (read_fifo (st, fifo, err) < 0)
    return -EINVAL;
  unlink (fifo);
  berth_debug ("started");
  json_t *config = state_config (st, err);
  if (config == NULL)
    return -EINVAL;
  cleanup_json json_t *js = state_to_json (st, "running");
  hooks_run_warn_only (config, "poststart", js);
  return 0;
}

int berth_container_start (struct berth_global *g, const char *id, berth_err *err)
{
  cleanup_state struct container_state *st = NULL;
  if (state_load (g, id, &st, err) < 0)
    return -ENOENT;
  return container_start_state (st, err);
}

/* ---- state, list ---- */

int berth_container_state (struct berth_global *g, const char *id, json_t **out, berth_err *err)
{
  cleanup_state struct container_state *st = NULL;
  if (state_load (g, id, &st, err) < 0)
    return -ENOENT;
  *out = state_to_json (st, state_status_name (state_status (st)));
  return *out ? 0 : berth_fail (err, ENOMEM, "state");
}

int berth_container_list (struct berth_global *g, json_t **out, berth_err *err)
{
  cleanup_json json_t *list = json_array ();
  cleanup_dir DIR *d = opendir (g->state_root);
  if (d == NULL && errno != ENOENT)
    return berth_fail_errno (err, "open `%s`", g->state_root);
  struct dirent *de;
  while (d && (de = readdir (d)) != NULL)
    {
      cleanup_state struct container_state *st = NULL;
      berth_err ignored = NULL;
      if (de->d_name[0] == '.' || state_load (g, de->d_name, &st, &ignored) < 0)
        {
          berth_error_free (&ignored);
          continue;
        }
      json_array_append_new (list, state_to_json (st, state_status_name (state_status (st))));
    }
  *out = take_ptr (list);
  return 0;
}

int berth_container_config (struct berth_global *g, const char *id, json_t **config, berth_err *err)
{
  cleanup_state struct container_state *st = NULL;
  if (state_load (g, id, &st, err) < 0)
    return -ENOENT;
  json_t *c = state_config (st, err);
  if (c == NULL)
    return -EINVAL;
  *config = json_incref (c);
  return 0;
}

/* ---- kill ---- */

/* Signal the init through a pidfd checked against the recorded start
 * time, so a recycled pid is never signalled. */
static int signal_init (struct container_state *st, int sig, berth_err *err)
{
  cleanup_close int pidfd = (int) syscall (SYS_pidfd_open, st->pid, 0);
  if (pidfd < 0 || !state_init_alive (st))
    return berth_fail (err, ESRCH, "container `%s` is not running", st->id);
  if (syscall (SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
    return berth_fail_errno (err, "signal container `%s`", st->id);
  return 0;
}

int berth_container_kill (struct berth_global *g, const char *id, int sig, bool all, berth_err *err)
{
  cleanup_state struct container_state *st = NULL;
  if (state_load (g, id, &st, err) < 0)
    return -ENOENT;
  enum container_status s = state_status (st);
  if (s == STATUS_STOPPED && !all)
    return berth_fail (err, 0, "container `%s` is not running", id);
  if (!all)
    return signal_init (st, sig, err);
  cleanup_cgroup struct cgroup_manager *m = NULL;
  if (load_manager (st, &m, err) < 0)
    return -EINVAL;
  return cgroup_kill_all (m, sig, err);
}

/* ---- delete ---- */

int container_kill_and_wait (struct container_state *st, berth_err *err)
{
  cleanup_cgroup struct cgroup_manager *m = NULL;
  if (load_manager (st, &m, err) == 0)
    cgroup_kill_all (m, SIGKILL, err);
  berth_error_free (err);
  if (state_init_alive (st))
    signal_init (st, SIGKILL, err);
  berth_error_free (err);
  for (int i = 0; i < 1000 && state_init_alive (st); i++)
    {
      struct timespec ts = { 0, 5 * 1000 * 1000 };
      nanosleep (&ts, NULL);
    }
  if (state_init_alive (st))
    return berth_fail (err, EBUSY, "container `%s` did not die after SIGKILL", st->id);
  return 0;
}

int container_destroy (struct container_state *st, berth_err *err)
{
  berth_debug ("destroying");
  cleanup_cgroup struct cgroup_manager *m = NULL;
  int ret = 0;
  if (st->cgroup_path && load_manager (st, &m, err) == 0 && cgroup_destroy (m, err) < 0)
    ret = berth_error_prefix (err, "delete container `%s`", st->id);
  berth_err cfg_err = NULL;
  json_t *config = state_config (st, &cfg_err);
  berth_error_free (&cfg_err);
  if (config)
    {
      cleanup_json json_t *js = state_to_json (st, "stopped");
      hooks_run_warn_only (config, "poststop", js);
    }
  int r = berth_rm_rf (st->dir);
  if (r < 0 && ret == 0)
    ret = berth_fail (err, -r, "remove `%s`", st->dir);
  return ret;
}

int berth_container_delete (struct berth_global *g, const char *id, bool force, berth_err *err)
{
  cleanup_state struct container_state *st = NULL;
  if (state_load (g, id, &st, err) < 0)
    {
      /* A folder without a readable state is debris of a crash: --force
       * removes it. */
      cleanup_free char *dir = state_dir_for (g, id);
      if (force && dir && berth_validate_id (id, NULL) == 0 && access (dir, F_OK) == 0)
        {
          berth_error_free (err);
          return berth_rm_rf (dir) < 0 ? berth_fail_errno (err, "remove `%s`", dir) : 0;
        }
      return -ENOENT;
    }
  enum container_status s = state_status (st);
  if ((s == STATUS_RUNNING || s == STATUS_PAUSED) && !force)
    return berth_fail (err, 0, "cannot delete container `%s` that is not stopped: %s (use --force)", id,
                       state_status_name (s));
  if (s != STATUS_STOPPED && container_kill_and_wait (st, err) < 0)
    return -EBUSY;
  return container_destroy (st, err);
}

/* ---- pause, resume, update, ps ---- */

static int set_frozen (struct berth_global *g, const char *id, bool frozen, berth_err *err)
{
  cleanup_state struct container_state *st = NULL;
  cleanup_cgroup struct cgroup_manager *m = NULL;
  if (state_load (g, id, &st, err) < 0)
    return -ENOENT;
  enum container_status s = state_status (st);
  if (frozen && s != STATUS_RUNNING && s != STATUS_CREATED)
    return status_error (st, "pause", s, err);
  if (!frozen && s != STATUS_PAUSED)
    return status_error (st, "resume", s, err);
  if (load_manager (st, &m, err) < 0)
    return -EINVAL;
  return cgroup_set_frozen (m, frozen, err);
}

int berth_container_pause (struct berth_global *g, const char *id, berth_err *err)
{
  return set_frozen (g, id, true, err);
}

int berth_container_resume (struct berth_global *g, const char *id, berth_err *err)
{
  return set_frozen (g, id, false, err);
}

int berth_container_update (struct berth_global *g, const char *id, json_t *resources, berth_err *err)
{
  cleanup_state struct container_state *st = NULL;
  cleanup_cgroup struct cgroup_manager *m = NULL;
  if (state_load (g, id, &st, err) < 0)
    return -ENOENT;
  enum container_status s = state_status (st);
  if (s == STATUS_STOPPED)
    return status_error (st, "update", s, err);
  if (!json_is_object (resources))
    return berth_fail (err, 0, "resources: expected a JSON object");
  if (load_manager (st, &m, err) < 0)
    return -EINVAL;
  return cgroup_apply_resources (m, resources, err);
}

int berth_container_pids (struct berth_global *g, const char *id, pid_t **pids, size_t *n, berth_err *err)
{
  cleanup_state struct container_state *st = NULL;
  cleanup_cgroup struct cgroup_manager *m = NULL;
  if (state_load (g, id, &st, err) < 0)
    return -ENOENT;
  if (load_manager (st, &m, err) < 0)
    return -EINVAL;
  return cgroup_list_pids (m, pids, n, err);
}
