/* Control groups for berth-runtime.
 *
 * One manager per container hides the host layout: cgroup v1 (one
 * hierarchy per controller under /sys/fs/cgroup/<ctrl>), v2 (one unified
 * hierarchy at /sys/fs/cgroup) and hybrid (v1 controllers plus a cgroup2
 * hierarchy at /sys/fs/cgroup/unified that holds the controllers v1 does
 * not).  Each backend implements struct cgroup_ops (cgroup-internal.h); a
 * hybrid manager drives both backends and routes each resource to the
 * hierarchy where its controller lives, so behaviour is the same on all
 * three layouts.
 *
 * Path rules (runc's cgroupfs driver): an absolute cgroupsPath is taken
 * from each hierarchy's root; a relative one from the runtime's own cgroup
 * in that hierarchy; when the config has none, "/berth/<id>" is used.
 */
#ifndef BERTH_CGROUP_H
#define BERTH_CGROUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/json.h"

enum cgroup_mode
{
  CGROUP_MODE_V1 = 1,
  CGROUP_MODE_V2 = 2,
  CGROUP_MODE_HYBRID = 3,
};

struct cgroup_manager;

/* Detect the layout of /sys/fs/cgroup (BERTH_CGROUP_ROOT overrides the
 * mount point, for tests). */
int cgroup_detect_mode (enum cgroup_mode *mode, berth_err *err);
const char *cgroup_mode_name (enum cgroup_mode mode);

/* Resolve the container's cgroup path (see path rules above) into
 * *resolved (heap string, always absolute). */
int cgroup_resolve_path (const char *cgroups_path, const char *id, char **resolved, berth_err *err);

/* A manager for an absolute, already resolved path.  Creates nothing. */
int cgroup_manager_new (const char *resolved_path, struct cgroup_manager **out, berth_err *err);
void cgroup_manager_free (struct cgroup_manager *m);
static inline void cleanup_cgroupp (struct cgroup_manager **m)
{
  if (*m)
    cgroup_manager_free (*m);
}
#define cleanup_cgroup __attribute__ ((cleanup (cleanup_cgroupp)))

enum cgroup_mode cgroup_manager_mode (struct cgroup_manager *m);
const char *cgroup_manager_path (struct cgroup_manager *m);

/* mkdir the cgroup in every hierarchy (enabling the needed controllers in
 * the parents' cgroup.subtree_control on v2) and move PID into it. */
int cgroup_create (struct cgroup_manager *m, pid_t pid, berth_err *err);
/* Move PID into the existing cgroup (exec). */
int cgroup_enter (struct cgroup_manager *m, pid_t pid, berth_err *err);

/* Apply an OCI linux.resources object: memory, cpu, cpuset, pids, blockIO,
 * hugepageLimits, devices, network (classID/priorities), unified.  Fields
 * that are absent are left alone, so the same call serves `update`.  A
 * field whose controller the host lacks fails with a clear message. */
int cgroup_apply_resources (struct cgroup_manager *m, json_t *resources, berth_err *err);

/* Freeze (pause) or thaw (resume) every process in the cgroup; waits until
 * the kernel reports the new state. */
int cgroup_set_frozen (struct cgroup_manager *m, bool frozen, berth_err *err);
int cgroup_is_frozen (struct cgroup_manager *m, bool *frozen, berth_err *err);

/* Every pid in the cgroup and its descendants (sorted, heap array). */
int cgroup_list_pids (struct cgroup_manager *m, pid_t **pids, size_t *n, berth_err *err);

/* Send SIG to every process in the cgroup (thawing a frozen one for SIGKILL). */
int cgroup_kill_all (struct cgroup_manager *m, int sig, berth_err *err);

/* Remove the cgroup from every hierarchy.  Kills nothing; retries briefly on
 * EBUSY while exiting processes leave.  Missing folders are fine. */
int cgroup_destroy (struct cgroup_manager *m, berth_err *err);

/* Mount a cgroup file system view at the folder TARGET_FD (an O_PATH fd of
 * the mount target inside the container's root, already resolved safely)
 * with MOUNT_FLAGS (MS_RDONLY, MS_NOSUID...).  With CGROUPNS the container
 * has its own cgroup namespace and gets real cgroup mounts rooted at its
 * cgroup; without, the container's own cgroup folders are bind-mounted.
 * v1/hybrid: a tmpfs with one folder per hierarchy (plus "unified" on
 * hybrid, and cpu -> cpu,cpuacct style symlinks); v2: a cgroup2 mount. */
int cgroup_mount_in_container (struct cgroup_manager *m, int target_fd, unsigned long mount_flags,
                               bool cgroupns, berth_err *err);

/* Start a no-op cgroup migration in a detached process, so that the
 * kernel's RCU grace period for cgroup migrations runs while the caller
 * does other work (see cgroup-prewarm.c).  Never fails. */
void cgroup_prewarm_async (void);

/* Resource statistics, for `berth-runtime events --stats`-like consumers:
 * {"memory":{"usage":N,"limit":N},"pids":{"current":N},"cpu":{"usage_ns":N}} */
int cgroup_stats (struct cgroup_manager *m, json_t **stats, berth_err *err);

#endif
