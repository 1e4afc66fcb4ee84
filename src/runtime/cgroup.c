/* cgroup manager: the dispatch to the v1 / v2 backends, freeze, kill,
 * destroy, the container's cgroup mount and stats (see cgroup.h).
 * Layout discovery is in cgroup-layout.c, shared helpers in cgroup-util.c. */
#include "runtime/cgroup.h"
#include "runtime/cgroup-internal.h"

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

/* cgroup.procs of a big cgroup can be long; stay well above it. */
#define CGROUP_FILE_MAX (16 * 1024 * 1024)

/* ------------------------------------------------------------------ */
/* manager                                                             */

int cgroup_manager_new (const char *resolved_path, struct cgroup_manager **out, berth_err *err)
{
  cleanup_free char *path = NULL;
  if (resolved_path == NULL || resolved_path[0] != '/')
    return berth_fail (err, 0, "cgroup path `%s`: must be absolute", resolved_path ? resolved_path : "");
  int r = cgroup_clean_path (resolved_path, &path, err);
  if (r < 0)
    return r;
  struct cgroup_manager *m = calloc (1, sizeof *m);
  if (m == NULL)
    return berth_fail (err, ENOMEM, "cgroup manager");
  m->path = take_ptr (path);
  r = cgroup_discover (cgroup_root (), &m->mode, &m->hiers, &m->n_hiers, err);
  if (r < 0)
    {
      cgroup_manager_free (m);
      return r;
    }
  for (size_t i = 0; i < m->n_hiers; i++)
    {
      struct cgroup_hierarchy *h = &m->hiers[i];
      if (asprintf (&h->path, "%s%s", h->mountpoint, m->path) < 0)
        {
          h->path = NULL;
          cgroup_manager_free (m);
          return berth_fail (err, ENOMEM, "cgroup manager");
        }
      if (h->v2)
        m->unified = h;
    }
  *out = m;
  return 0;
}

void cgroup_manager_free (struct cgroup_manager *m)
{
  if (m == NULL)
    return;
  cgroup_hierarchies_free (m->hiers, m->n_hiers);
  free (m->path);
  free (m);
}

enum cgroup_mode cgroup_manager_mode (struct cgroup_manager *m)
{
  return m->mode;
}

const char *cgroup_manager_path (struct cgroup_manager *m)
{
  return m->path;
}

/* Backends in use, v1 first: on hybrid the v1 hierarchies own most
 * controllers, so they are the first choice for freezing and listing. */
static size_t backends (struct cgroup_manager *m, const struct cgroup_ops *ops[2])
{
  size_t n = 0;
  if (m->mode != CGROUP_MODE_V2)
    ops[n++] = &cgroup_v1_ops;
  if (m->unified)
    ops[n++] = &cgroup_v2_ops;
  return n;
}

int cgroup_create (struct cgroup_manager *m, pid_t pid, berth_err *err)
{
  const struct cgroup_ops *ops[2];
  size_t n = backends (m, ops);
  for (size_t i = 0; i < n; i++)
    {
      int r = ops[i]->create (m, pid, err);
      if (r < 0)
        return berth_error_prefix (err, "create cgroup `%s`", m->path);
    }
  return 0;
}

int cgroup_enter (struct cgroup_manager *m, pid_t pid, berth_err *err)
{
  const struct cgroup_ops *ops[2];
  size_t n = backends (m, ops);
  for (size_t i = 0; i < n; i++)
    {
      int r = ops[i]->enter (m, pid, err);
      if (r < 0)
        return berth_error_prefix (err, "join cgroup `%s`", m->path);
    }
  return 0;
}

/* ------------------------------------------------------------------ */
/* resource routing                                                    */

/* One controller's share of linux.resources.  FIELDS lists the keys of
 * SECTION that need the controller; NULL means the section itself (an
 * array or object, needed when not empty). */
struct resource_route
{
  const char *section;
  const char *v1;   /* controller name on v1, NULL: none */
  const char *v2;   /* controller name on v2, NULL: none */
  const char *const *fields;
};

static const char *const memory_fields[] = { "limit", "reservation", "swap", "kernelTCP", "swappiness",
                                             "disableOOMKiller", "useHierarchy", NULL };
static const char *const cpu_fields[] = { "shares", "quota", "burst", "period", "realtimeRuntime",
                                          "realtimePeriod", "idle", NULL };
static const char *const cpuset_fields[] = { "cpus", "mems", NULL };
static const char *const pids_fields[] = { "limit", NULL };
static const char *const blkio_fields[] = { "weight", "leafWeight", "weightDevice", "throttleReadBpsDevice",
                                            "throttleWriteBpsDevice", "throttleReadIOPSDevice",
                                            "throttleWriteIOPSDevice", NULL };
static const char *const net_cls_fields[] = { "classID", NULL };
static const char *const net_prio_fields[] = { "priorities", NULL };

/* "devices" on v2 is the eBPF program, always possible; "unified" is the
 * raw v2 files, always possible when there is a v2 hierarchy.  unified
 * comes last so that it overrides the converted values, like runc. */
static const struct resource_route routes[] = {
  { "cpu", "cpuset", "cpuset", cpuset_fields },
  { "cpu", "cpu", "cpu", cpu_fields },
  { "memory", "memory", "memory", memory_fields },
  { "pids", "pids", "pids", pids_fields },
  { "blockIO", "blkio", "io", blkio_fields },
  { "hugepageLimits", "hugetlb", "hugetlb", NULL },
  { "network", "net_cls", NULL, net_cls_fields },
  { "network", "net_prio", NULL, net_prio_fields },
  { "devices", "devices", "devices", NULL },
  { "unified", NULL, "unified", NULL },
};

static bool section_needed (json_t *section, const char *const *fields)
{
  if (section == NULL || json_is_null (section))
    return false;
  if (fields == NULL)
    return json_is_array (section) ? json_array_size (section) > 0
           : json_is_object (section) ? json_object_size (section) > 0
                                      : true;
  for (const char *const *f = fields; *f; f++)
    if (cgroup_json_has (section, *f))
      return true;
  return false;
}

static bool v2_has (struct cgroup_manager *m, const char *controller)
{
  if (m->unified == NULL)
    return false;
  if (strcmp (controller, "devices") == 0 || strcmp (controller, "unified") == 0)
    return true;
  return cgroup_hierarchy_has (m->unified, controller);
}

static int apply_route (struct cgroup_manager *m, const struct resource_route *rt, json_t *section,
                        berth_err *err)
{
  const char *name = rt->v1 ? rt->v1 : rt->v2;
  struct cgroup_hierarchy *h = rt->v1 ? cgroup_find_v1 (m, rt->v1) : NULL;
  int r;
  if (h)
    r = cgroup_v1_ops.apply (m, h->path, rt->v1, section, err);
  else if (rt->v2 && v2_has (m, rt->v2))
    r = cgroup_v2_ops.apply (m, m->unified->path, rt->v2, section, err);
  else if (strcmp (name, "unified") == 0)
    return berth_fail (err, 0, "cgroup unified: no cgroup v2 hierarchy on this host (%s layout)",
                       cgroup_mode_name (m->mode));
  else
    return berth_fail (err, 0, "cgroup %s: controller not available", name);
  if (r < 0)
    return berth_error_prefix (err, "cgroup %s", h ? rt->v1 : rt->v2);
  return 0;
}

int cgroup_apply_resources (struct cgroup_manager *m, json_t *resources, berth_err *err)
{
  if (resources == NULL || json_is_null (resources))
    return 0;
  if (!json_is_object (resources))
    return berth_fail (err, 0, "linux.resources: expected an object");
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
    {
      json_t *section = json_object_get (resources, routes[i].section);
      if (routes[i].fields && section && !json_is_null (section) && !json_is_object (section))
        return berth_fail (err, 0, "linux.resources.%s: expected an object", routes[i].section);
      if (!section_needed (section, routes[i].fields))
        continue;
      int r = apply_route (m, &routes[i], section, err);
      if (r < 0)
        return r;
    }
  return 0;
}

/* ------------------------------------------------------------------ */
/* freeze, pids, kill, destroy                                         */

/* The backend that freezes: the v1 freezer when mounted, else cgroup2's
 * cgroup.freeze (also present on hybrid's unified hierarchy). */
static const struct cgroup_ops *freezer_backend (struct cgroup_manager *m, berth_err *err)
{
  if (m->mode != CGROUP_MODE_V2 && cgroup_find_v1 (m, "freezer"))
    return &cgroup_v1_ops;
  if (m->unified)
    return &cgroup_v2_ops;
  berth_fail (err, 0, "cgroup freezer: controller not available");
  return NULL;
}

int cgroup_set_frozen (struct cgroup_manager *m, bool frozen, berth_err *err)
{
  const struct cgroup_ops *ops = freezer_backend (m, err);
  if (ops == NULL)
    return -EINVAL;
  int r = ops->freeze (m, frozen, err);
  if (r < 0)
    return berth_error_prefix (err, "%s cgroup `%s`", frozen ? "freeze" : "thaw", m->path);
  return 0;
}

int cgroup_is_frozen (struct cgroup_manager *m, bool *frozen, berth_err *err)
{
  const struct cgroup_ops *ops = freezer_backend (m, err);
  if (ops == NULL)
    return -EINVAL;
  return ops->is_frozen (m, frozen, err);
}

static int cmp_pid (const void *a, const void *b)
{
  pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
  return (x > y) - (x < y);
}

int cgroup_list_pids (struct cgroup_manager *m, pid_t **pids, size_t *n, berth_err *err)
{
  const struct cgroup_ops *ops[2];
  backends (m, ops);
  struct cgroup_pid_set set = { 0 };
  int r = ops[0]->pids (m, &set, err);
  if (r < 0)
    {
      free (set.pids);
      return berth_error_prefix (err, "list pids of cgroup `%s`", m->path);
    }
  if (set.n > 0) /* (an empty set has no array: qsort's pointer must not be NULL) */
    qsort (set.pids, set.n, sizeof (pid_t), cmp_pid);
  size_t j = 0;
  for (size_t i = 0; i < set.n; i++)
    if (j == 0 || set.pids[j - 1] != set.pids[i])
      set.pids[j++] = set.pids[i];
  *pids = set.pids ? set.pids : calloc (1, sizeof (pid_t));
  *n = j;
  return *pids ? 0 : berth_fail (err, ENOMEM, "list pids");
}

static int signal_pids (struct cgroup_manager *m, int sig, berth_err *err)
{
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  int r = cgroup_list_pids (m, &pids, &n, err);
  if (r < 0)
    return r;
  for (size_t i = 0; i < n; i++)
    if (kill (pids[i], sig) < 0 && errno != ESRCH)
      return berth_fail_errno (err, "kill %d", (int) pids[i]);
  return 0;
}

/* Frozen processes cannot die before they are thawed. */
static int thaw_if_frozen (struct cgroup_manager *m, berth_err *err)
{
  bool frozen = false;
  berth_err ferr = NULL;
  if (cgroup_is_frozen (m, &frozen, &ferr) < 0)
    {
      berth_error_free (&ferr);
      return 0;
    }
  return frozen ? cgroup_set_frozen (m, false, err) : 0;
}

int cgroup_kill_all (struct cgroup_manager *m, int sig, berth_err *err)
{
  int r = m->unified ? cgroup_v2_ops.kill (m, sig, err) : 0;
  if (r == 0)
    {
      r = signal_pids (m, sig, err);
      /* A second pass catches children forked while we signalled. */
      if (r == 0 && sig == SIGKILL)
        r = signal_pids (m, sig, err);
    }
  if (r < 0)
    return berth_error_prefix (err, "kill cgroup `%s`", m->path);
  return sig == SIGKILL ? thaw_if_frozen (m, err) : 0;
}

int cgroup_destroy (struct cgroup_manager *m, berth_err *err)
{
  const struct cgroup_ops *ops[2];
  size_t n = backends (m, ops);
  for (size_t i = 0; i < n; i++)
    {
      int r = ops[i]->destroy (m, err);
      if (r < 0)
        return berth_error_prefix (err, "destroy cgroup `%s`", m->path);
    }
  return 0;
}

/* ------------------------------------------------------------------ */
/* mount in the container                                              */

static int mount_tmpfs (int target_fd, unsigned long flags, berth_err *err)
{
  char target[64];
  cgroup_fd_path (target_fd, target, sizeof target);
  /* Read-only comes at the end, once the folders are made. */
  unsigned long f = MS_NOSUID | MS_NODEV | MS_NOEXEC | (flags & CGROUP_MOUNT_FLAGS & ~MS_RDONLY);
  if (mount ("tmpfs", target, "tmpfs", f, "mode=755") < 0)
    return berth_fail_errno (err, "mount tmpfs on the cgroup folder");
  return cgroup_reopen_mounted (target_fd, O_RDONLY, err);
}

static int mount_unified_folder (struct cgroup_manager *m, int dirfd, unsigned long flags, bool cgroupns,
                                 berth_err *err)
{
  if (mkdirat (dirfd, "unified", 0755) < 0 && errno != EEXIST)
    return berth_fail_errno (err, "mkdir `unified`");
  cleanup_close int fd = openat (dirfd, "unified", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (err, "open `unified`");
  return cgroup_v2_ops.mount (m, fd, flags, cgroupns, err);
}

static int remount_tmpfs (int dirfd, unsigned long flags, berth_err *err)
{
  char path[64];
  cgroup_fd_path (dirfd, path, sizeof path);
  unsigned long f = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC | (flags & CGROUP_MOUNT_FLAGS);
  if (mount (NULL, path, NULL, f, NULL) < 0)
    return berth_fail_errno (err, "remount the cgroup tmpfs");
  return 0;
}

int cgroup_mount_in_container (struct cgroup_manager *m, int target_fd, unsigned long mount_flags,
                               bool cgroupns, berth_err *err)
{
  int r;
  if (m->mode == CGROUP_MODE_V2)
    {
      r = cgroup_v2_ops.mount (m, target_fd, mount_flags, cgroupns, err);
      return r < 0 ? berth_error_prefix (err, "mount cgroup2 in the container") : 0;
    }
  cleanup_close int dirfd = mount_tmpfs (target_fd, mount_flags, err);
  if (dirfd < 0)
    return berth_error_prefix (err, "mount cgroups in the container");
  r = cgroup_v1_ops.mount (m, dirfd, mount_flags, cgroupns, err);
  if (r == 0 && m->mode == CGROUP_MODE_HYBRID && m->unified)
    r = mount_unified_folder (m, dirfd, mount_flags, cgroupns, err);
  if (r == 0)
    r = remount_tmpfs (dirfd, mount_flags, err);
  return r < 0 ? berth_error_prefix (err, "mount cgroups in the container") : 0;
}

/* ------------------------------------------------------------------ */
/* stats                                                               */

int cgroup_stats (struct cgroup_manager *m, json_t **stats, berth_err *err)
{
  cleanup_json json_t *s = json_object ();
  if (s == NULL)
    return berth_fail (err, ENOMEM, "cgroup stats");
  const struct cgroup_ops *ops[2];
  size_t n = backends (m, ops);
  for (size_t i = 0; i < n; i++)
    {
      int r = ops[i]->stats (m, s, err);
      if (r < 0)
        return berth_error_prefix (err, "stats of cgroup `%s`", m->path);
    }
  *stats = take_ptr (s);
  return 0;
}
