/* The reaper: one thread that learns of every container exit.
 *
 * Monitors are not berthd's children (they detach so that containers
 * outlive berthd), so berthd cannot wait() for them; it holds a pidfd for
 * each, which becomes readable when the monitor exits, after it has
 * written the exit status.  The same pidfds are how a restarted berthd
 * adopts the monitors of containers that kept running. */
#include "daemon/container-internal.h"
#include "daemon/network.h"
#include "daemon/monitor-client.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

struct watch
{
  struct container *c;  /* referenced; NULL: only reap (exec monitors) */
  int pidfd;
};

int reaper_watch_exec (struct containers *cs, pid_t monitor_pid)
{
  int fd = monitor_pidfd (monitor_pid, 0);
  if (fd < 0)
    return fd;
  struct watch *w = calloc (1, sizeof *w);
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };
  if (w == NULL || epoll_ctl (cs->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
    {
      close (fd);
      free (w);
      return -ENOMEM;
    }
  w->pidfd = fd;
  return 0;
}

int reaper_watch (struct containers *cs, struct container *c)
{
  containers_lock (cs);
  pid_t pid = c->monitor_pid;
  uint64_t start = c->monitor_start;
  containers_unlock (cs);
  int fd = pid > 0 ? monitor_pidfd (pid, start) : -ESRCH;
  if (fd < 0)
    {
      /* Gone already (a very short-lived container): settle it now. */
      container_exited (cs, c);
      return 0;
    }
  struct watch *w = calloc (1, sizeof *w);
  if (w == NULL)
    {
      close (fd);
      return -ENOMEM;
    }
  containers_lock (cs);
  c->refs++;
  containers_unlock (cs);
  w->c = c;
  w->pidfd = fd;
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };
  if (epoll_ctl (cs->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
    {
      int e = errno;
      close (fd);
      container_put (cs, c);
      free (w);
      return -e;
    }
  return 0;
}

static void *reaper_main (void *arg)
{
  struct containers *cs = arg;
  struct epoll_event evs[32];
  for (;;)
    {
      int n = epoll_wait (cs->epfd, evs, 32, -1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        break;
      for (int i = 0; i < n; i++)
        {
          struct watch *w = evs[i].data.ptr;
          if (w == NULL) /* the wake eventfd: berthd is stopping */
            return NULL;
          epoll_ctl (cs->epfd, EPOLL_CTL_DEL, w->pidfd, NULL);
          /* berthd is a child subreaper, so monitors it started while
           * running are its children: reap them.  (Adopted ones are not:
           * ECHILD, harmless.) */
          siginfo_t si;
          waitid (P_PIDFD, w->pidfd, &si, WEXITED | WNOHANG);
          close (w->pidfd);
          if (w->c)
            {
              container_exited (cs, w->c);
              container_put (cs, w->c);
            }
          free (w);
        }
    }
  return NULL;
}

int reaper_start (struct containers *cs, berth_err *err)
{
  cs->epfd = epoll_create1 (EPOLL_CLOEXEC);
  cs->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (cs->epfd < 0 || cs->wake_fd < 0)
    return berth_fail_errno (err, "reaper");
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
  if (epoll_ctl (cs->epfd, EPOLL_CTL_ADD, cs->wake_fd, &ev) < 0)
    return berth_fail_errno (err, "reaper");
  int r = pthread_create (&cs->reaper, NULL, reaper_main, cs);
  if (r != 0)
    return berth_fail (err, r, "reaper thread");
  cs->reaper_running = true;
  return 0;
}

void reaper_stop (struct containers *cs)
{
  if (cs->reaper_running)
    {
      uint64_t one = 1;
      if (write (cs->wake_fd, &one, sizeof one) < 0)
        berth_warn ("cannot wake the reaper: %m");
      pthread_join (cs->reaper, NULL);
      cs->reaper_running = false;
    }
  /* The watches left hold pidfds of monitors that keep running. */
  if (cs->epfd >= 0)
    close (cs->epfd);
  if (cs->wake_fd >= 0)
    close (cs->wake_fd);
}

/* ---- recovery after a (re)start of berthd ---- */

static void recover_one (struct containers *cs, struct container *c)
{
  struct berthd *d = cs->d;
  containers_lock (cs);
  pid_t mpid = c->monitor_pid;
  uint64_t mstart = c->monitor_start;
  enum container_status st = c->status;
  containers_unlock (cs);
  int fd = mpid > 0 ? monitor_pidfd (mpid, mstart) : -ESRCH;
  if (fd >= 0)
    {
      close (fd);
      berth_debug ("container %.12s: monitor %d still runs, adopting it", c->id, (int) mpid);
      network_container_adopt (d, c);
      reaper_watch (cs, c);
      return;
    }
  if (mpid > 0 || st == CT_RUNNING || st == CT_PAUSED)
    {
      /* It ended while berthd was away: the monitor left the exit status. */
      berth_debug ("container %.12s exited while berthd was down", c->id);
      container_exited (cs, c);
      return;
    }
  if (st == CT_RESTARTING)
    {
      containers_lock (cs);
      c->status = CT_EXITED;
      containers_unlock (cs);
    }
  container_unmount (d, c);
  network_container_down (d, c);
  berth_rm_rf (c->state_dir);
}

static bool restart_on_boot (struct container *c)
{
  json_t *policy = json_object_get (c->host_config, "RestartPolicy");
  const char *name = json_string_value (json_object_get (policy, "Name"));
  if (c->status != CT_EXITED || name == NULL || c->removed)
    return false;
  if (strcmp (name, "always") == 0)
    {
      /* Docker: a manual stop holds `always` off only until the daemon
       * restarts. */
      c->manually_stopped = false;
      return true;
    }
  return strcmp (name, "unless-stopped") == 0 && !c->manually_stopped;
}

void containers_recover (struct containers *cs)
{
  size_t n;
  struct container **all = containers_all (cs, &n);
  for (size_t i = 0; i < n; i++)
    recover_one (cs, all[i]);
  for (size_t i = 0; i < n; i++)
    {
      containers_lock (cs);
      bool restart = restart_on_boot (all[i]) && !all[i]->restart_scheduled;
      containers_unlock (cs);
      if (restart)
        container_schedule_restart (cs->d, all[i]);
    }
  containers_put_all (cs, all, n);
}

/* ---- open / close ---- */

int containers_open (struct berthd *d, const char *dir, struct containers **out, berth_err *err)
{
  struct containers *cs = calloc (1, sizeof *cs);
  if (cs == NULL)
    return berth_fail (err, ENOMEM, "containers");
  cs->d = d;
  cs->epfd = cs->wake_fd = -1;
  pthread_mutex_init (&cs->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init (&ca);
  pthread_cond_init (&cs->changed, &ca);
  pthread_condattr_destroy (&ca);
  cs->dir = strdup (dir);
  d->containers = cs;
  *out = cs;
  if (cs->dir == NULL)
    return berth_fail (err, ENOMEM, "containers");
  if (berth_mkdir_p (dir, 0710, err) < 0 || containers_load (cs, err) < 0 || reaper_start (cs, err) < 0)
    return -EIO;
  containers_recover (cs);
  return 0;
}

void containers_close (struct containers *cs)
{
  if (cs == NULL)
    return;
  containers_lock (cs);
  cs->closing = true;
  pthread_cond_broadcast (&cs->changed);
  containers_unlock (cs);
  reaper_stop (cs);
  /* Containers, their monitors and any watches stay: berthd exits next,
   * and the containers live on (live restore). */
}
