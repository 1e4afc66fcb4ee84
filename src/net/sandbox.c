/* Network namespaces that berthd makes and names with a bind mount.
 *
 * unshare() and setns() change only the calling thread, and berthd has
 * many: each namespace operation runs in a short-lived thread of its own,
 * so no other thread ever finds itself in the wrong namespace. */
#include "net/net.h"
#include "net/internal.h"

#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

struct ns_job
{
  const char *path;
  int (*fn) (void *arg, berth_err *err);
  void *arg;
  int ret;
  berth_err err;
};

/* Run FN(ARG) to its end in a new thread and return what it returned.
 * The thread's berth_err comes back to the caller through JOB. */
static int run_in_thread (void *(*body) (void *), struct ns_job *job, berth_err *err)
{
  pthread_t t;
  int r = pthread_create (&t, NULL, body, job);
  if (r != 0)
    return berth_fail (err, r, "start a thread for network namespace %s", job->path);
  pthread_join (t, NULL);
  if (job->ret < 0 && err && *err == NULL)
    *err = job->err;
  else
    berth_error_free (&job->err);
  return job->ret;
}

/* ------------------------------------------------------------- creation */

static int lo_up (berth_err *err)
{
  cleanup_nl struct nl nl = { 0 };
  int r = nl_open (&nl, err);
  if (r < 0)
    return r;
  int index = nl_link_index (&nl, "lo");
  if (index < 0)
    return berth_fail (err, -index, "find lo");
  r = nl_link_set_up (&nl, index);
  if (r < 0)
    return berth_fail (err, -r, "set lo up");
  return 0;
}

static void *create_body (void *arg)
{
  struct ns_job *job = arg;
  if (unshare (CLONE_NEWNET) < 0)
    {
      job->ret = berth_fail_errno (&job->err, "unshare network namespace");
      return NULL;
    }
  job->ret = lo_up (&job->err);
  if (job->ret < 0)
    return NULL;
  /* the bind mount keeps the namespace alive once this thread is gone */
  if (mount ("/proc/thread-self/ns/net", job->path, NULL, MS_BIND, NULL) < 0)
    job->ret = berth_fail_errno (&job->err, "bind mount network namespace on %s", job->path);
  return NULL;
}

int net_sandbox_create (const char *path, berth_err *err)
{
  int fd = open (path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0)
    return berth_fail_errno (err, "create sandbox file %s", path);
  close (fd);
  struct ns_job job = { .path = path };
  int r = run_in_thread (create_body, &job, err);
  if (r < 0)
    {
      unlink (path);
      return berth_error_prefix (err, "create sandbox %s", path);
    }
  return 0;
}

int net_sandbox_destroy (const char *path, berth_err *err)
{
  /* EINVAL: not a mount point, a sandbox whose creation was cut short */
  if (umount2 (path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
    return berth_fail_errno (err, "unmount sandbox %s", path);
  if (unlink (path) < 0 && errno != ENOENT)
    return berth_fail_errno (err, "remove sandbox %s", path);
  return 0;
}

/* -------------------------------------------------------------- joining */

static void *run_body (void *arg)
{
  struct ns_job *job = arg;
  cleanup_close int fd = open (job->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      job->ret = berth_fail_errno (&job->err, "open sandbox %s", job->path);
      return NULL;
    }
  if (setns (fd, CLONE_NEWNET) < 0)
    {
      job->ret = berth_fail_errno (&job->err, "join sandbox %s", job->path);
      return NULL;
    }
  job->ret = job->fn (job->arg, &job->err);
  return NULL;
}

int net_sandbox_run_err (const char *path, int (*fn) (void *arg, berth_err *err), void *arg, berth_err *err)
{
  struct ns_job job = { .path = path, .fn = fn, .arg = arg };
  return run_in_thread (run_body, &job, err);
}

struct plain_call
{
  int (*fn) (void *arg);
  void *arg;
  const char *path;
};

static int call_plain (void *arg, berth_err *err)
{
  struct plain_call *c = arg;
  int r = c->fn (c->arg);
  if (r < 0)
    return berth_fail (err, -r, "in sandbox %s", c->path);
  return r;
}

int net_sandbox_run (const char *path, int (*fn) (void *arg), void *arg, berth_err *err)
{
  struct plain_call c = { fn, arg, path };
  return net_sandbox_run_err (path, call_plain, &c, err);
}
