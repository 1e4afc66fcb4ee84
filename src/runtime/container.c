/* create and run: set a container up and leave its init waiting on the
 * exec fifo for `start`.
 *
 * Processes: the runtime (parent) clones the init with the new namespaces.
 * They talk over a SOCK_SEQPACKET pair (sync.h):
 *   parent: write id maps, join the cgroup and apply resources  -> GO
 *   init:   join namespaces by path, cgroup ns, hostname, mounts -> HOOKS
 *   parent: prestart + createRuntime hooks                       -> HOOKS_DONE
 *   init:   createContainer hooks, pivot_root, terminal          -> PTY
 *   init:   sysctl, masks, privileges dropped, fds closed        -> READY
 *   init:   blocks opening exec.fifo for writing until `start` reads it,
 *           runs startContainer hooks, execs the process.
 * The parent writes state.json only after READY, so a container that is
 * visible is always complete; any failure before that removes everything
 * (process, cgroup, state folder). */
#include "runtime/container-internal.h"
#include "runtime/cgroup.h"
#include "runtime/hooks.h"
#include "runtime/namespaces.h"
#include "runtime/process.h"
#include "runtime/rootfs.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"
#include "common/cleanup.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct create_ctx
{
  struct berth_global *g;
  struct berth_create_opts *o;
  json_t *config;
  char *bundle;
  char *rootfs;
  char *state_dir;
  char *cgroup_path;
  struct cgroup_manager *cgroup;
  struct ns_plan ns;
  struct process_plan proc;
  int fifo_fd;        /* O_PATH of exec.fifo */
  int sync_parent;
  int sync_child;
  int master;         /* pty master, when the parent keeps it (run -t) */
  pid_t pid;
  bool created_dir;
  bool foreground;    /* run without -d: we wait for the container */
  bool in_cgroup;     /* init: the parent said GO */
};

static void create_ctx_free (struct create_ctx *c)
{
  if (c->config)
    json_decref (c->config);
  free (c->bundle);
  free (c->rootfs);
  free (c->state_dir);
  free (c->cgroup_path);
  if (c->cgroup)
    cgroup_manager_free (c->cgroup);
  ns_plan_free (&c->ns);
  process_plan_free (&c->proc);
  for (int *fd = &c->fifo_fd; fd <= &c->master; fd++)
    if (*fd >= 0)
      close (*fd);
}

pid_t container_clone (int flags)
{
  return (pid_t) syscall (SYS_clone, (unsigned long) flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

/* ---- validation, in the parent, before anything exists ---- */

static int load_bundle (struct create_ctx *c, berth_err *err)
{
  char buf[PATH_MAX];
  const char *bundle = c->o->bundle ? c->o->bundle : ".";
  if (realpath (bundle, buf) == NULL)
    return berth_fail_errno (err, "bundle `%s`", bundle);
  c->bundle = strdup (buf);
  cleanup_free char *cfg = NULL;
  if (asprintf (&cfg, "%s/config.json", c->bundle) < 0)
    return berth_fail (err, ENOMEM, "config");
  c->config = berth_json_load_file (cfg, err);
  if (c->config == NULL)
    return -EINVAL;
  if (!json_is_object (c->config))
    return berth_fail (err, 0, "%s: expected a JSON object", cfg);
  const char *root = berth_json_str (berth_json_obj (c->config, "root"), "path");
  if (root == NULL || *root == '\0')
    return berth_fail (err, 0, "config.json: root.path is required");
  cleanup_free char *rootfs = NULL;
  if (asprintf (&rootfs, "%s%s%s", root[0] == '/' ? "" : c->bundle, root[0] == '/' ? "" : "/", root) < 0)
    return berth_fail (err, ENOMEM, "rootfs");
  struct stat st;
  if (realpath (rootfs, buf) == NULL || stat (buf, &st) < 0)
    return berth_fail_errno (err, "rootfs `%s`", rootfs);
  if (!S_ISDIR (st.st_mode))
    return berth_fail (err, ENOTDIR, "rootfs `%s`", rootfs);
  c->rootfs = strdup (buf);
  return 0;
}

/* Only namespaced sysctls may be set, each in a namespace of the container's
 * own (runc's rule): anything else would change the host. */
static int validate_sysctl (struct create_ctx *c, berth_err *err)
{
  json_t *sysctl = berth_json_path (c->config, "linux.sysctl");
  const char *key;
  json_t *v;
  static const char *ipc_keys[] = { "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                                    "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced" };
  json_object_foreach (sysctl, key, v)
    {
      bool ok = false;
      if (!json_is_string (v))
        return berth_fail (err, 0, "linux.sysctl.%s: expected a string", key);
      if (strstr (key, "..") || strchr (key, '/'))
        return berth_fail (err, 0, "linux.sysctl: invalid key `%s`", key);
      for (size_t i = 0; i < sizeof ipc_keys / sizeof ipc_keys[0]; i++)
        ok |= strcmp (key, ipc_keys[i]) == 0 && c->ns.has[NS_IPC];
      ok |= strncmp (key, "fs.mqueue.", 10) == 0 && c->ns.has[NS_IPC];
      ok |= strncmp (key, "net.", 4) == 0 && c->ns.has[NS_NET];
      ok |= (strcmp (key, "kernel.hostname") == 0 || strcmp (key, "kernel.domainname") == 0) && c->ns.has[NS_UTS];
      if (!ok)
        return berth_fail (err, 0, "sysctl `%s` is not in a separate kernel namespace of the container", key);
    }
  return 0;
}

/* Features of the spec that berth does not implement: refused, never
 * silently ignored, so nobody believes a setting is in force. */
static int refuse_unsupported (json_t *config, berth_err *err)
{
  json_t *linux_ = berth_json_obj (config, "linux");
  if (json_object_get (linux_, "intelRdt"))
    return berth_fail (err, 0, "linux.intelRdt: Intel RDT is not supported by berth-runtime");
  if (json_object_size (berth_json_obj (linux_, "netDevices")) > 0)
    return berth_fail (err, 0, "linux.netDevices: moving network devices into the container is not supported");
  const char *label = berth_json_str (linux_, "mountLabel");
  if (label && *label && access ("/sys/fs/selinux/enforce", F_OK) < 0)
    return berth_fail (err, 0, "linux.mountLabel is set but SELinux is not enabled on this host");
  return 0;
}

static int validate_config (struct create_ctx *c, berth_err *err)
{
  json_t *process = json_object_get (c->config, "process");
  int r;
  if (process == NULL)
    return berth_fail (err, 0, "config.json: process is required");
  c->proc.preserve_fds = c->o->preserve_fds;
  if ((r = ns_plan_init (&c->ns, c->config, err)) < 0
      || (r = process_plan_init (&c->proc, process, c->config, err)) < 0
      || (r = process_check_host_support (&c->proc, err)) < 0 || (r = validate_sysctl (c, err)) < 0)
    return r;
  c->proc.preserve_fds = c->o->preserve_fds;
  if (!c->ns.has[NS_MOUNT])
    return berth_fail (err, 0, "config.json: linux.namespaces must include a mount namespace");
  if ((r = refuse_unsupported (c->config, err)) < 0)
    return r;
  if ((berth_json_str (c->config, "hostname") || berth_json_str (c->config, "domainname")) && !c->ns.has[NS_UTS])
    return berth_fail (err, 0, "config.json: setting the hostname needs a private UTS namespace");
  if (c->proc.terminal && c->o->console_socket == NULL && !c->foreground)
    return berth_fail (err, 0, "process.terminal is set: use --console-socket (or run in the foreground)");
  if (!c->proc.terminal && c->o->console_socket)
    return berth_fail (err, 0, "--console-socket given but process.terminal is false");
  return 0;
}

/* ---- host-side resources: state folder, fifo, cgroup ---- */

static int make_state_dir (struct create_ctx *c, berth_err *err)
{
  if (berth_mkdir_p (c->g->state_root, 0711, err) < 0)
    return berth_error_prefix (err, "state root");
  c->state_dir = state_dir_for (c->g, c->o->id);
  if (c->state_dir == NULL)
    return berth_fail (err, ENOMEM, "state");
  if (mkdir (c->state_dir, 0700) < 0)
    {
      if (errno == EEXIST)
        return berth_fail (err, EEXIST, "container `%s` already exists", c->o->id);
      return berth_fail_errno (err, "create `%s`", c->state_dir);
    }
  c->created_dir = true;
  cleanup_free char *cfg = NULL, *fifo = NULL;
  if (asprintf (&cfg, "%s/config.json", c->state_dir) < 0 || asprintf (&fifo, "%s/exec.fifo", c->state_dir) < 0)
    return berth_fail (err, ENOMEM, "state");
  if (berth_json_replace_file (cfg, c->config, err) < 0)
    return -EIO;
  /* 0622: the init opens it for writing after switching to the container
   * user; umask must not take the write bits away. */
  mode_t old = umask (0);
  int r = mkfifo (fifo, 0622);
  umask (old);
  if (r < 0)
    return berth_fail_errno (err, "mkfifo `%s`", fifo);
  c->fifo_fd = open (fifo, O_PATH | O_CLOEXEC);
  if (c->fifo_fd < 0)
    return berth_fail_errno (err, "open `%s`", fifo);
  return 0;
}

static int prepare_cgroup (struct create_ctx *c, berth_err *err)
{
  if (c->g->systemd_cgroup)
    return berth_fail (err, 0, "--systemd-cgroup is not supported: berth-runtime manages cgroups through cgroupfs; drop the flag");
  const char *path = berth_json_str (berth_json_obj (c->config, "linux"), "cgroupsPath");
  if (cgroup_resolve_path (path, c->o->id, &c->cgroup_path, err) < 0
      || cgroup_manager_new (c->cgroup_path, &c->cgroup, err) < 0)
    return berth_error_prefix (err, "cgroup");
  return 0;
}

static json_t *hook_state (struct create_ctx *c, const char *status, pid_t pid)
{
  json_t *ann = berth_json_obj (c->config, "annotations");
  return json_pack ("{s:s, s:s, s:s, s:i, s:s, s:O}", "ociVersion", BERTH_OCI_VERSION, "id", c->o->id,
                    "status", status, "pid", (int) pid, "bundle", c->bundle,
                    "annotations", ann ? ann : json_object ());
}

/* ---- the container's init, between clone and execve ---- */

static int init_set_names (struct create_ctx *c, berth_err *err)
{
  const char *host = berth_json_str (c->config, "hostname");
  const char *domain = berth_json_str (c->config, "domainname");
  if (host && sethostname (host, strlen (host)) < 0)
    return berth_fail_errno (err, "set hostname `%s`", host);
  if (domain && setdomainname (domain, strlen (domain)) < 0)
    return berth_fail_errno (err, "set domainname `%s`", domain);
  return 0;
}

static int init_write_sysctl (struct create_ctx *c, berth_err *err)
{
  json_t *sysctl = berth_json_path (c->config, "linux.sysctl");
  const char *key;
  json_t *v;
  json_object_foreach (sysctl, key, v)
    {
      char path[PATH_MAX];
      int n = snprintf (path, sizeof path, "/proc/sys/%s", key);
      for (char *p = path + 10; p < path + n; p++)
        if (*p == '.')
          *p = '/';
      const char *value = json_string_value (v);
      if (berth_write_file (path, value, strlen (value), err) < 0)
        return berth_error_prefix (err, "sysctl %s", key);
    }
  return 0;
}

static int init_enter_namespaces (struct create_ctx *c, berth_err *err)
{
  struct sync_msg msg;
  /* In a new user namespace we are the overflow id until the maps exist
   * and we become root of it. */
  if (c->ns.clone_flags & CLONE_NEWUSER)
    {
      if (sync_expect (c->sync_child, SYNC_MAPPED, &msg, err) < 0)
        return -EINVAL;
      if (setresgid (0, 0, 0) < 0 || setresuid (0, 0, 0) < 0)
        return berth_fail_errno (err, "become root in the user namespace (is id 0 mapped?)");
    }
  if (ns_join_paths (&c->ns, err) < 0)
    return -EINVAL;
  return init_set_names (c, err);
}

/* Wait until the parent has moved us into our cgroup (it does that while
 * we make mounts), then make the cgroup namespace, whose root must be
 * that cgroup.  Idempotent. */
static int init_join_cgroup (void *opaque, berth_err *err)
{
  struct create_ctx *c = opaque;
  struct sync_msg msg;
  if (c->in_cgroup)
    return 0;
  if (sync_expect (c->sync_child, SYNC_GO, &msg, err) < 0)
    return -EINVAL;
  c->in_cgroup = true;
  if (c->ns.new_cgroupns && unshare (CLONE_NEWCGROUP) < 0)
    return berth_fail_errno (err, "create cgroup namespace");
  return 0;
}

static int init_hooks_round_trip (struct create_ctx *c, berth_err *err)
{
  struct sync_msg msg;
  if (!hooks_present (c->config, "prestart") && !hooks_present (c->config, "createRuntime"))
    return 0;
  if (sync_send (c->sync_child, SYNC_HOOKS, NULL, -1) < 0)
    return berth_fail_errno (err, "sync");
  return sync_expect (c->sync_child, SYNC_HOOKS_DONE, &msg, err);
}

static int init_rootfs (struct create_ctx *c, struct rootfs_ctx *rc, berth_err *err)
{
  bool own_mountns = (c->ns.clone_flags & CLONE_NEWNS) != 0;
  *rc = (struct rootfs_ctx){ .config = c->config, .bundle = c->bundle, .rootfs = c->rootfs,
                             .cgroup = c->cgroup, .cgroupns = c->ns.new_cgroupns || c->ns.has[NS_CGROUP],
                             .userns = c->ns.has[NS_USER], .netns = c->ns.has[NS_NET], .no_pivot = c->o->no_pivot,
                             .before_cgroup_mount = init_join_cgroup, .opaque = c };
  berth_debug ("init: namespaces entered");
  if (own_mountns && rootfs_prepare (rc, err) < 0)
    return -EINVAL;
  if (init_join_cgroup (c, err) < 0)
    return -EINVAL;
  berth_debug ("init: mounts done");
  if (init_hooks_round_trip (c, err) < 0)
    return -EINVAL;
  cleanup_json json_t *st = hook_state (c, "creating", getpid ());
  if (hooks_run (c->config, "createContainer", st, err) < 0)
    return -EINVAL;
  if (own_mountns && rootfs_pivot (rc, err) < 0)
    return -EINVAL;
  berth_debug ("init: pivoted");
  return 0;
}

static int init_terminal (struct create_ctx *c, berth_err *err)
{
  if (!c->proc.terminal)
    {
      if (setsid () < 0)
        return berth_fail_errno (err, "setsid");
      return 0;
    }
  cleanup_close int master = terminal_setup_in_container (true, c->proc.rows, c->proc.cols, err);
  if (master < 0)
    return -EINVAL;
  if (sync_send (c->sync_child, SYNC_PTY, "/dev/console", master) < 0)
    return berth_fail_errno (err, "send the terminal");
  return 0;
}

/* Block until `start` opens the fifo for reading, then tell it we go. */
static int init_wait_for_start (struct create_ctx *c, berth_err *err)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/self/fd/%d", c->fifo_fd);
  cleanup_close int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (err, "open exec fifo");
  if (berth_write_all (fd, "0", 1) < 0)
    return berth_fail_errno (err, "write exec fifo");
  return 0;
}

static void __attribute__ ((noreturn)) init_main (struct create_ctx *c)
{
  berth_err err = NULL;
  struct rootfs_ctx rc;
  cleanup_free char *exe = NULL;
  close (c->sync_parent);
  c->sync_parent = -1;
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (process_sched_apply_affinity (&c->proc.sched, false, &err) < 0 || init_enter_namespaces (c, &err) < 0 || init_rootfs (c, &rc, &err) < 0 || init_terminal (c, &err) < 0
      || init_write_sysctl (c, &err) < 0 || ((c->ns.clone_flags & CLONE_NEWNS) && rootfs_finalize (&rc, &err) < 0)
      || process_resolve_executable (&c->proc, &exe, &err) < 0)
    sync_child_fail (c->sync_child, &err);
  int keep[] = { c->sync_child, c->fifo_fd, berth_log_fd (), -1 };
  if (process_close_fds (&c->proc, keep, &err) < 0 || process_drop_privileges (&c->proc, &err) < 0)
    sync_child_fail (c->sync_child, &err);
  berth_debug ("init: ready");
  /* The creator goes away after READY; we must outlive it. */
  prctl (PR_SET_PDEATHSIG, 0);
  sync_send (c->sync_child, SYNC_READY, NULL, -1);
  close (c->sync_child);
  cleanup_json json_t *st = hook_state (c, "created", getpid ());
  if (init_wait_for_start (c, &err) < 0 || hooks_run (c->config, "startContainer", st, &err) < 0)
    goto fail_after_ready;
  close (c->fifo_fd);
  process_exec (&c->proc, exe, &err);
fail_after_ready:
  /* No parent listens anymore: the container's stderr is all we have. */
  fprintf (stderr, "berth-runtime: %s\n", err ? err->msg : "failed");
  _exit (127);
}

/* ---- the parent side ---- */

/* linux.resources, plus an allow rule for each device of linux.devices
 * when the config restricts devices: a device the config creates must be
 * usable.  (cgroup.c appends the devices every container needs.) */
static json_t *resources_with_config_devices (json_t *config)
{
  json_t *orig = berth_json_path (config, "linux.resources");
  json_t *res = json_is_object (orig) ? json_deep_copy (orig) : json_object ();
  json_t *rules = berth_json_arr (res, "devices");
  if (rules == NULL)
    return res; /* no device rules: the cgroup stays as open as its parent */
  size_t i;
  json_t *d;
  json_array_foreach (berth_json_path (config, "linux.devices"), i, d)
    {
      const char *type = berth_json_str (d, "type");
      if (type && (strcmp (type, "c") == 0 || strcmp (type, "b") == 0))
        json_array_append_new (rules, json_pack ("{s:b, s:s, s:I, s:I, s:s}", "allow", 1, "type", type,
                                                 "major", berth_json_int (d, "major", 0),
                                                 "minor", berth_json_int (d, "minor", 0), "access", "rwm"));
    }
  return res;
}

static int parent_setup_child (struct create_ctx *c, berth_err *err)
{
  berth_debug ("cloned init %d", (int) c->pid);
  if (ns_write_id_maps (&c->ns, c->pid, err) < 0)
    return -EINVAL;
  if ((c->ns.clone_flags & CLONE_NEWUSER) && sync_send (c->sync_parent, SYNC_MAPPED, NULL, -1) < 0)
    return berth_fail_errno (err, "sync with the container");
  if (cgroup_create (c->cgroup, c->pid, err) < 0)
    return berth_error_prefix (err, "cgroup");
  berth_debug ("cgroup created");
  cleanup_json json_t *res = resources_with_config_devices (c->config);
  if (res == NULL)
    return berth_fail (err, ENOMEM, "resources");
  if (cgroup_apply_resources (c->cgroup, res, err) < 0)
    return berth_error_prefix (err, "cgroup");
  berth_debug ("resources applied");
  if (sync_send (c->sync_parent, SYNC_GO, NULL, -1) < 0)
    return berth_fail_errno (err, "sync with the container");
  return 0;
}

static int parent_run_hooks (struct create_ctx *c, berth_err *err)
{
  struct sync_msg msg;
  if (!hooks_present (c->config, "prestart") && !hooks_present (c->config, "createRuntime"))
    return 0;
  if (sync_expect (c->sync_parent, SYNC_HOOKS, &msg, err) < 0)
    return -EINVAL;
  cleanup_json json_t *st = hook_state (c, "creating", c->pid);
  if (hooks_run (c->config, "prestart", st, err) < 0 || hooks_run (c->config, "createRuntime", st, err) < 0)
    return -EINVAL;
  return sync_send (c->sync_parent, SYNC_HOOKS_DONE, NULL, -1) < 0 ? berth_fail_errno (err, "sync") : 0;
}

static int parent_receive_terminal (struct create_ctx *c, berth_err *err)
{
  struct sync_msg msg;
  if (!c->proc.terminal)
    return 0;
  if (sync_expect (c->sync_parent, SYNC_PTY, &msg, err) < 0)
    return -EINVAL;
  cleanup_close int master = msg.fd;
  if (master < 0)
    return berth_fail (err, 0, "the container sent no terminal");
  if (c->o->console_socket)
    return sync_send_fd_to_path (c->o->console_socket, master, msg.payload, err);
  c->master = take_fd (&master);
  return 0;
}

static int parent_save_state (struct create_ctx *c, berth_err *err)
{
  struct container_state st = {
    .id = (char *) c->o->id, .dir = c->state_dir, .pid = c->pid, .start_time = proc_start_time (c->pid),
    .bundle = c->bundle, .rootfs = c->rootfs, .cgroup_path = c->cgroup_path,
    .annotations = berth_json_obj (c->config, "annotations"),
  };
  cleanup_free char *created = berth_rfc3339_now ();
  st.created = created;
  if (st.annotations == NULL)
    st.annotations = json_object ();
  else
    json_incref (st.annotations);
  int r = state_save (&st, err);
  json_decref (st.annotations);
  if (r < 0)
    return r;
  if (c->o->pid_file && container_write_pid_file (c->o->pid_file, c->pid, err) < 0)
    return -EIO;
  return 0;
}

static int parent_main (struct create_ctx *c, berth_err *err)
{
  struct sync_msg msg;
  close (c->sync_child);
  c->sync_child = -1;
  if (parent_setup_child (c, err) < 0 || parent_run_hooks (c, err) < 0 || parent_receive_terminal (c, err) < 0
      || sync_expect (c->sync_parent, SYNC_READY, &msg, err) < 0)
    return -EINVAL;
  berth_debug ("init is ready");
  return parent_save_state (c, err);
}

/* Undo a failed create: nothing of the container may remain. */
static void create_rollback (struct create_ctx *c)
{
  berth_err err = NULL;
  if (c->pid > 0)
    {
      kill (c->pid, SIGKILL);
      waitpid (c->pid, NULL, 0);
    }
  if (c->cgroup && cgroup_destroy (c->cgroup, &err) < 0)
    {
      berth_warn ("%s", err->msg);
      berth_error_free (&err);
    }
  if (c->created_dir)
    berth_rm_rf (c->state_dir);
}

static int do_create (struct create_ctx *c, berth_err *err)
{
  int sv[2];
  if (berth_validate_id (c->o->id, err) < 0 || load_bundle (c, err) < 0 || validate_config (c, err) < 0
      || prepare_cgroup (c, err) < 0)
    return -EINVAL;
  /* Non-dumpable while set up: no process in the container may ptrace us
   * or open our /proc entries. */
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (make_state_dir (c, err) < 0)
    goto fail;
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    {
      berth_fail_errno (err, "socketpair");
      goto fail;
    }
  c->sync_parent = sv[0];
  c->sync_child = sv[1];
  if (ns_prepare_parent (&c->ns, err) < 0)
    goto fail;
  berth_debug ("cloning");
  c->pid = container_clone (c->ns.clone_flags);
  if (c->pid < 0)
    {
      berth_fail_errno (err, "clone the container process");
      goto fail;
    }
  if (c->pid == 0)
    init_main (c);
  if (parent_main (c, err) < 0)
    goto fail;
  return 0;
fail:
  create_rollback (c);
  return -EINVAL;
}

#define CREATE_CTX_INIT(g_, o_) { .g = (g_), .o = (o_), .fifo_fd = -1, .sync_parent = -1, .sync_child = -1, .master = -1 }

int berth_container_create (struct berth_global *g, struct berth_create_opts *o, berth_err *err)
{
  struct create_ctx c = CREATE_CTX_INIT (g, o);
  int r = do_create (&c, err);
  create_ctx_free (&c);
  return r;
}

int berth_container_run (struct berth_global *g, struct berth_create_opts *o, berth_err *err)
{
  struct create_ctx c = CREATE_CTX_INIT (g, o);
  c.foreground = !o->detach;
  cleanup_state struct container_state *st = NULL;
  int r = do_create (&c, err);
  if (r >= 0)
    r = state_load (g, o->id, &st, err);
  if (r >= 0)
    r = container_start_state (st, err);
  if (r >= 0 && c.foreground)
    {
      r = container_wait_forwarding (c.pid, c.master, err);
      berth_debug ("container exited");
      berth_err derr = NULL;
      if (container_destroy (st, &derr) < 0)
        berth_error_report (&derr);
      berth_debug ("destroyed");
    }
  else if (r < 0 && st)
    {
      berth_err derr = NULL;
      container_kill_and_wait (st, &derr);
      container_destroy (st, &derr);
      berth_error_free (&derr);
    }
  create_ctx_free (&c);
  return r;
}
