/* exec: start another process in a running container.
 *
 * The runtime joins the container's pid namespace (that only affects its
 * children), forks, and the child joins the other namespaces of the init,
 * which puts it in the container's root.  The parent moves the child into
 * the cgroup, then the child drops privileges like the init did and execs.
 * Both ends of the sync socket are close-on-exec, so EOF tells the parent
 * that execve succeeded. */
#include "runtime/container-internal.h"
#include "runtime/cgroup.h"
#include "runtime/namespaces.h"
#include "runtime/process.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct exec_ctx
{
  struct berth_exec_opts *o;
  struct container_state *st;
  struct ns_plan ns;
  struct process_plan proc;
  int sync_parent, sync_child, master;
  pid_t pid;
};

static void __attribute__ ((noreturn)) exec_child (struct exec_ctx *c)
{
  berth_err err = NULL;
  struct sync_msg msg;
  cleanup_free char *exe = NULL;
  close (c->sync_parent);
  if (process_sched_apply_affinity (&c->proc.sched, false, &err) < 0
      || sync_expect (c->sync_child, SYNC_GO, &msg, &err) < 0 || ns_enter_all_of (c->st->pid, &c->ns, &err) < 0)
    sync_child_fail (c->sync_child, &err);
  if (c->proc.terminal)
    {
      int master = terminal_setup_in_container (false, c->proc.rows, c->proc.cols, &err);
      if (master < 0 || sync_send (c->sync_child, SYNC_PTY, "/dev/pts", master) < 0)
        sync_child_fail (c->sync_child, &err);
      close (master);
    }
  int keep[] = { c->sync_child, berth_log_fd (), -1 };
  if (process_resolve_executable (&c->proc, &exe, &err) < 0 || process_close_fds (&c->proc, keep, &err) < 0
      || process_drop_privileges (&c->proc, &err) < 0)
    sync_child_fail (c->sync_child, &err);
  process_exec (&c->proc, exe, &err);
  sync_child_fail (c->sync_child, &err);
}

static int exec_parent (struct exec_ctx *c, berth_err *err)
{
  struct sync_msg msg;
  cleanup_cgroup struct cgroup_manager *m = NULL;
  close (c->sync_child);
  c->sync_child = -1;
  if (c->st->cgroup_path && (cgroup_manager_new (c->st->cgroup_path, &m, err) < 0 || cgroup_enter (m, c->pid, err) < 0))
    return berth_error_prefix (err, "exec");
  if (sync_send (c->sync_parent, SYNC_GO, NULL, -1) < 0)
    return berth_fail_errno (err, "sync");
  if (c->proc.terminal)
    {
      if (sync_expect (c->sync_parent, SYNC_PTY, &msg, err) < 0)
        return -EINVAL;
      cleanup_close int master = msg.fd;
      if (c->o->console_socket && sync_send_fd_to_path (c->o->console_socket, master, msg.payload, err) < 0)
        return -EINVAL;
      if (!c->o->console_socket)
        c->master = take_fd (&master);
    }
  int r = sync_recv (c->sync_parent, &msg);
  if (r == 0 && msg.type == SYNC_ERROR)
    return berth_fail (err, 0, "%s", msg.payload);
  if (r != -EPIPE)
    return berth_fail (err, 0, "exec: unexpected message from the process");
  if (c->o->pid_file && container_write_pid_file (c->o->pid_file, c->pid, err) < 0)
    return -EIO;
  return 0;
}

static int exec_validate (struct exec_ctx *c, struct berth_global *g, berth_err *err)
{
  if (state_load (g, c->o->id, &c->st, err) < 0)
    return -ENOENT;
  enum container_status s = state_status (c->st);
  if (s != STATUS_RUNNING && s != STATUS_CREATED)
    return berth_fail (err, 0, "cannot exec in container `%s`: it is %s", c->o->id, state_status_name (s));
  json_t *config = state_config (c->st, err);
  if (config == NULL || ns_plan_init (&c->ns, config, err) < 0
      || process_plan_init (&c->proc, c->o->process, config, err) < 0)
    return -EINVAL;
  c->proc.preserve_fds = c->o->preserve_fds;
  if (c->proc.terminal && !c->o->console_socket && c->o->detach)
    return berth_fail (err, 0, "exec -t with -d needs --console-socket");
  if (!c->proc.terminal && c->o->console_socket)
    return berth_fail (err, 0, "--console-socket given but the process has no terminal");
  return process_check_host_support (&c->proc, err);
}

static int do_exec (struct exec_ctx *c, struct berth_global *g, berth_err *err)
{
  int sv[2];
  if (exec_validate (c, g, err) < 0)
    return -EINVAL;
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (c->ns.has[NS_PID] && ns_enter_pid_of (c->st->pid, err) < 0)
    return -EINVAL;
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return berth_fail_errno (err, "socketpair");
  c->sync_parent = sv[0];
  c->sync_child = sv[1];
  c->pid = container_clone (0);
  if (c->pid < 0)
    return berth_fail_errno (err, "fork");
  if (c->pid == 0)
    exec_child (c);
  if (exec_parent (c, err) < 0)
    {
      kill (c->pid, SIGKILL);
      waitpid (c->pid, NULL, 0);
      return -EINVAL;
    }
  if (c->o->detach)
    return 0;
  return container_wait_forwarding (c->pid, c->master, err);
}

int berth_container_exec (struct berth_global *g, struct berth_exec_opts *o, berth_err *err)
{
  struct exec_ctx c = { .o = o, .sync_parent = -1, .sync_child = -1, .master = -1 };
  int r = do_exec (&c, g, err);
  for (int *fd = &c.sync_parent; fd <= &c.master; fd++)
    if (*fd >= 0)
      close (*fd);
  ns_plan_free (&c.ns);
  process_plan_free (&c.proc);
  state_free (c.st);
  return r;
}
