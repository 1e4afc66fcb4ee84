/* Shared by the container-*.c files only. */
#ifndef BERTH_CONTAINER_INTERNAL_H
#define BERTH_CONTAINER_INTERNAL_H

#include "daemon/container.h"
#include "daemon/daemon.h"

#include <pthread.h>

struct containers
{
  struct berthd *d;
  char *dir;                  /* <data-root>/containers */
  pthread_mutex_t lock;
  pthread_cond_t changed;     /* broadcast on every state change */
  struct container **list;
  size_t n, cap;
  /* The reaper: an epoll set of monitor pidfds. */
  int epfd;
  int wake_fd;                /* eventfd: stop the reaper */
  pthread_t reaper;
  bool reaper_running;
  bool closing;
};

/* container-store.c */
struct container *container_alloc (struct containers *cs, const char *id);
struct container *container_find_locked (struct containers *cs, const char *name_or_id);
void container_table_remove (struct containers *cs, struct container *c);
int container_table_insert (struct containers *cs, struct container *c);
bool container_name_valid (const char *name);
bool container_name_taken_locked (struct containers *cs, const char *name);
char *container_random_name (struct containers *cs);
int containers_load (struct containers *cs, berth_err *err);

/* container-fs.c */
void container_umount_path (const char *path);
char *container_rootfs_path (struct container *c);
char *container_runtime_root (struct berthd *d, const char *name);
/* The runtime's error message from its output (heap). */
char *runtime_error_message (const char *output);

/* The runtime's error in the words the docker CLI looks for (Go's lower
 * case strerror), with PREFIX (may be NULL) in front. */
void docker_style_error (berth_err *err, const char *prefix);

/* container-reaper.c */
int reaper_start (struct containers *cs, berth_err *err);
void reaper_stop (struct containers *cs);
/* Watch C's monitor (C->monitor_pid, started at C->monitor_start). */
int reaper_watch (struct containers *cs, struct container *c);
/* Reap an exec's monitor when it ends (berthd, a subreaper, is its parent). */
int reaper_watch_exec (struct containers *cs, pid_t monitor_pid);
/* After berthd starts: adopt live monitors, settle the dead, restart. */
void containers_recover (struct containers *cs);

/* container-life.c */
/* The monitor of C ended: record the exit, apply --rm and the restart
 * policy.  Called by the reaper without any lock held. */
void container_exited (struct containers *cs, struct container *c);
int container_start_locked_op (struct berthd *d, struct container *c, bool restarting, berth_err *err);
void container_schedule_restart (struct berthd *d, struct container *c);
/* Remove C's runtime state, mount and exec-root folder after it exited. */
void container_cleanup_after_exit (struct berthd *d, struct container *c);

/* container-health.c: start the health checks of C's new run, if its
 * config has any. */
void container_health_start (struct berthd *d, struct container *c);

/* Exec records (api-exec.c): forget those of a removed container. */
void exec_forget_container (struct berthd *d, const char *container_id);

#endif
