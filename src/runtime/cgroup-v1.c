/* cgroup v1 backend: one folder per hierarchy, files named after the
 * OCI fields (runc's fs driver). */
#include "runtime/cgroup-internal.h"

#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define FREEZE_ROUNDS 50     /* FREEZE_ROUNDS * FREEZE_ROUND_MS: give up after 5s */
#define FREEZE_ROUND_MS 100

/* v1 reports "no limit" as the largest page-aligned long. */
#define V1_UNLIMITED (1ULL << 62)

/* ------------------------------------------------------------------ */
/* create / enter                                                      */

/* A new cpuset cgroup starts with empty cpus and mems and nobody can join
 * it (ENOSPC): copy the parent's values into each level we create. */
static int cpuset_inherit (const char *dir, const char *parent, berth_err *err)
{
  static const char *const files[] = { "cpuset.cpus", "cpuset.mems", NULL };
  for (const char *const *f = files; *f; f++)
    {
      cleanup_free char *own = NULL, *inherited = NULL;
      if (!cgroup_file_exists (dir, *f))
        continue;
      int r = cgroup_read (dir, *f, &own, err);
      if (r == 0 && *own == '\0')
        r = cgroup_read (parent, *f, &inherited, err);
      if (r == 0 && inherited)
        r = cgroup_write (dir, *f, inherited, err);
      if (r < 0)
        return r;
    }
  return 0;
}

static int mkdir_hierarchy (struct cgroup_hierarchy *h, berth_err *err)
{
  if (!cgroup_hierarchy_has (h, "cpuset"))
    return cgroup_mkdir (h->path, err);
  /* Walk down from the mount point so each new level can inherit. */
  size_t base = strlen (h->mountpoint);
  cleanup_free char *level = strdup (h->path);
  if (level == NULL)
    return berth_fail (err, ENOMEM, "mkdir `%s`", h->path);
  for (char *p = level + base + 1;; p++)
    {
      if (*p != '/' && *p != '\0')
        continue;
      char saved = *p;
      *p = '\0';
      if (mkdir (level, 0755) < 0 && errno != EEXIST)
        return berth_fail_errno (err, "mkdir `%s`", level);
      char *slash = strrchr (level, '/');
      *slash = '\0';
      cleanup_free char *parent = strdup (level);
      *slash = '/';
      if (parent == NULL)
        return berth_fail (err, ENOMEM, "mkdir `%s`", level);
      int r = cpuset_inherit (level, parent, err);
      if (r < 0)
        return r;
      *p = saved;
      if (saved == '\0')
        return 0;
    }
}

static int v1_create (struct cgroup_manager *m, pid_t pid, berth_err *err)
{
  for (size_t i = 0; i < m->n_hiers; i++)
    {
      struct cgroup_hierarchy *h = &m->hiers[i];
      if (h->v2)
        continue;
      int r = mkdir_hierarchy (h, err);
      if (r == 0 && pid > 0)
        r = cgroup_move_pid (h->path, pid, err);
      if (r < 0)
        return r;
    }
  return 0;
}

static int v1_enter (struct cgroup_manager *m, pid_t pid, berth_err *err)
{
  for (size_t i = 0; i < m->n_hiers; i++)
    {
      if (m->hiers[i].v2)
        continue;
      int r = cgroup_move_pid (m->hiers[i].path, pid, err);
      if (r < 0)
        return r;
    }
  return 0;
}

/* ------------------------------------------------------------------ */
/* helpers                                                             */

/* Write F1 then F2 (either may be NULL).  Some pairs (cfs period/quota, rt
 * period/runtime) are checked against each other, so the kernel may refuse
 * the first with EINVAL until the second is in: then write F2 first. */
static int write_pair (const char *dir, const char *f1, const char *v1, const char *f2, const char *v2,
                       berth_err *err)
{
  if (v1 == NULL)
    return v2 ? cgroup_write (dir, f2, v2, err) : 0;
  berth_err first = NULL;
  int r = cgroup_write (dir, f1, v1, &first);
  if (r == 0)
    return v2 ? cgroup_write (dir, f2, v2, err) : 0;
  if (r != -EINVAL || v2 == NULL)
    {
      *err = first;
      return r;
    }
  berth_error_free (&first);
  r = cgroup_write (dir, f2, v2, err);
  return r < 0 ? r : cgroup_write (dir, f1, v1, err);
}

static int write_i64 (const char *dir, const char *file, int64_t v, berth_err *err)
{
  return cgroup_writef (dir, file, err, "%" PRId64, v);
}

/* ------------------------------------------------------------------ */
/* memory                                                              */

#define MEM "linux.resources.memory"

static int check_usage (const char *dir, const char *file, int64_t limit, berth_err *err)
{
  uint64_t usage = 0;
  int r = cgroup_read_u64 (dir, file, &usage, err);
  if (r < 0)
    return r;
  if (usage >= (uint64_t) limit)
    return berth_fail (err, 0, "memory limit %" PRId64 " is not above the current usage %" PRIu64
                       " (checkBeforeUpdate)", limit, usage);
  return 0;
}

/* LIMIT and SWAP (memory+swap on v1) with 0 meaning unset.  The kernel
 * keeps memsw >= limit at every step, so the write order depends on the
 * current limit (runc's setMemoryAndSwap). */
static int memory_and_swap (const char *dir, int64_t limit, int64_t swap, berth_err *err)
{
  bool memsw = cgroup_file_exists (dir, "memory.memsw.limit_in_bytes");
  if (limit == -1 && swap == 0 && memsw)
    swap = -1;
  if (!memsw && swap != 0 && swap != limit)
    return berth_fail (err, 0, "swap limit %" PRId64 " requested but the kernel has no swap accounting "
                       "(no memory.memsw.limit_in_bytes)", swap);
  if (!memsw)
    swap = 0;
  if (limit > 0 && swap > 0 && swap < limit)
    return berth_fail (err, 0, "memory+swap limit (%" PRId64 ") must be >= memory limit (%" PRId64 ")", swap,
                       limit);
  bool swap_first = false;
  if (limit != 0 && swap != 0)
    {
      uint64_t current = 0;
      berth_err ignored = NULL;
      if (cgroup_read_u64 (dir, "memory.limit_in_bytes", &current, &ignored) < 0)
        berth_error_free (&ignored);
      swap_first = swap == -1 || current < (uint64_t) swap;
    }
  int r = 0;
  if (swap_first)
    r = write_i64 (dir, "memory.memsw.limit_in_bytes", swap, err);
  if (r == 0 && limit != 0)
    r = write_i64 (dir, "memory.limit_in_bytes", limit, err);
  if (r == 0 && swap != 0 && !swap_first)
    r = write_i64 (dir, "memory.memsw.limit_in_bytes", swap, err);
  return r;
}

static int memory_knobs (const char *dir, json_t *mem, berth_err *err)
{
  int64_t v = 0;
  bool b = false;
  /* "kernel" (kmem.limit_in_bytes) is deprecated and refused by recent
   * kernels: ignored, like runc. */
  int r = cgroup_write_int_field (dir, "memory.kmem.tcp.limit_in_bytes", mem, "kernelTCP", MEM, err);
  if (r == 0)
    r = cgroup_write_int_field (dir, "memory.soft_limit_in_bytes", mem, "reservation", MEM, err);
  if (r < 0 || (r = cgroup_json_bool (mem, "disableOOMKiller", &b, MEM, err)) < 0)
    return r;
  if (r > 0 && (r = cgroup_write (dir, "memory.oom_control", b ? "1" : "0", err)) < 0)
    return r;
  if ((r = cgroup_json_int (mem, "swappiness", &v, MEM, err)) < 0)
    return r;
  /* swappiness is a uint64 in the spec; -1 (max uint64) means unset. */
  if (r > 0 && v != -1)
    {
      if (v < 0 || v > 100)
        return berth_fail (err, 0, "invalid memory swappiness %" PRId64 " (0-100)", v);
      if ((r = write_i64 (dir, "memory.swappiness", v, err)) < 0)
        return r;
    }
  /* Kernels since 5.x always use the hierarchy and refuse "0"; only an
   * explicit true is written. */
  if ((r = cgroup_json_bool (mem, "useHierarchy", &b, MEM, err)) < 0)
    return r;
  if (r > 0 && b && (r = cgroup_write (dir, "memory.use_hierarchy", "1", err)) < 0)
    return r;
  return 0;
}

static int v1_memory (const char *dir, json_t *mem, berth_err *err)
{
  int64_t limit = 0, swap = 0;
  bool check = false;
  if (cgroup_json_int (mem, "limit", &limit, MEM, err) < 0 || cgroup_json_int (mem, "swap", &swap, MEM, err) < 0
      || cgroup_json_bool (mem, "checkBeforeUpdate", &check, MEM, err) < 0)
    return -EINVAL;
  int r = 0;
  if (check && limit > 0)
    r = check_usage (dir, "memory.usage_in_bytes", limit, err);
  if (r == 0)
    r = memory_and_swap (dir, limit, swap, err);
  return r < 0 ? r : memory_knobs (dir, mem, err);
}

/* ------------------------------------------------------------------ */
/* cpu, cpuset, pids                                                   */

#define CPU "linux.resources.cpu"

static int cpu_shares (const char *dir, int64_t shares, berth_err *err)
{
  int r = write_i64 (dir, "cpu.shares", shares, err);
  if (r < 0)
    return r;
  /* The kernel clamps out-of-range shares silently; say so instead. */
  uint64_t got = 0;
  r = cgroup_read_u64 (dir, "cpu.shares", &got, err);
  if (r == 0 && got != (uint64_t) shares)
    return berth_fail (err, 0, "cpu shares %" PRId64 " out of range (the kernel set %" PRIu64 ")", shares, got);
  return r;
}

/* Fields whose 0 means "unset" (runc); others are written when present. */
static int nonzero_field (json_t *o, const char *key, const char *where, char *buf, size_t len, const char **out,
                          berth_err *err)
{
  int64_t v = 0;
  *out = NULL;
  int r = cgroup_json_int (o, key, &v, where, err);
  if (r > 0 && v != 0)
    {
      snprintf (buf, len, "%" PRId64, v);
      *out = buf;
    }
  return r < 0 ? r : 0;
}

static int v1_cpu (const char *dir, json_t *cpu, berth_err *err)
{
  int64_t shares = 0;
  char pb[32], qb[32], rpb[32], rrb[32];
  const char *period, *quota, *rt_period, *rt_runtime;
  int r = cgroup_json_int (cpu, "shares", &shares, CPU, err);
  if (r > 0 && shares != 0)
    r = cpu_shares (dir, shares, err);
  if (r < 0)
    return r;
  if (nonzero_field (cpu, "period", CPU, pb, sizeof pb, &period, err) < 0
      || nonzero_field (cpu, "quota", CPU, qb, sizeof qb, &quota, err) < 0
      || nonzero_field (cpu, "realtimePeriod", CPU, rpb, sizeof rpb, &rt_period, err) < 0
      || nonzero_field (cpu, "realtimeRuntime", CPU, rrb, sizeof rrb, &rt_runtime, err) < 0)
    return -EINVAL;
  r = write_pair (dir, "cpu.cfs_period_us", period, "cpu.cfs_quota_us", quota, err);
  if (r == 0)
    r = cgroup_write_int_field (dir, "cpu.cfs_burst_us", cpu, "burst", CPU, err);
  if (r == 0)
    r = write_pair (dir, "cpu.rt_period_us", rt_period, "cpu.rt_runtime_us", rt_runtime, err);
  if (r == 0)
    r = cgroup_write_int_field (dir, "cpu.idle", cpu, "idle", CPU, err);
  return r;
}

/* ------------------------------------------------------------------ */
/* blkio                                                               */

#define BLKIO "linux.resources.blockIO"

/* Kernels with BFQ and without CFQ only have the blkio.bfq.* files. */
static const char *weight_file (const char *dir, bool device)
{
  if (cgroup_file_exists (dir, device ? "blkio.weight_device" : "blkio.weight"))
    return device ? "blkio.weight_device" : "blkio.weight";
  if (cgroup_file_exists (dir, device ? "blkio.bfq.weight_device" : "blkio.bfq.weight"))
    return device ? "blkio.bfq.weight_device" : "blkio.bfq.weight";
  return NULL;
}

static int blkio_weights (const char *dir, json_t *bio, berth_err *err)
{
  int64_t v = 0;
  int r = cgroup_json_int (bio, "weight", &v, BLKIO, err);
  if (r > 0 && v != 0)
    {
      const char *file = weight_file (dir, false);
      if (file == NULL)
        return berth_fail (err, 0, "weight not supported by the kernel (no blkio.weight nor blkio.bfq.weight)");
      r = write_i64 (dir, file, v, err);
    }
  if (r < 0)
    return r;
  r = cgroup_json_int (bio, "leafWeight", &v, BLKIO, err);
  if (r > 0 && v != 0)
    r = write_i64 (dir, "blkio.leaf_weight", v, err);
  return r < 0 ? r : 0;
}

static int blkio_weight_device (const char *dir, json_t *wd, size_t i, berth_err *err)
{
  char where[80], entry[96];
  snprintf (where, sizeof where, BLKIO ".weightDevice[%zu]", i);
  int64_t major, minor, weight = 0, leaf = 0;
  int r = cgroup_json_blkdev (wd, where, &major, &minor, err);
  int hw = r < 0 ? r : cgroup_json_int (wd, "weight", &weight, where, err);
  int hl = hw < 0 ? hw : cgroup_json_int (wd, "leafWeight", &leaf, where, err);
  if (hl < 0)
    return hl;
  if (hw > 0)
    {
      const char *file = weight_file (dir, true);
      if (file == NULL)
        return berth_fail (err, 0, "weightDevice not supported by the kernel (no blkio.weight_device)");
      snprintf (entry, sizeof entry, "%" PRId64 ":%" PRId64 " %" PRId64, major, minor, weight);
      if ((r = cgroup_write_entry (dir, file, entry, err)) < 0)
        return r;
    }
  if (hl > 0)
    {
      snprintf (entry, sizeof entry, "%" PRId64 ":%" PRId64 " %" PRId64, major, minor, leaf);
      if ((r = cgroup_write_entry (dir, "blkio.leaf_weight_device", entry, err)) < 0)
        return r;
    }
  return 0;
}

static int blkio_throttle (const char *dir, json_t *bio, const char *key, const char *file, berth_err *err)
{
  json_t *arr = json_object_get (bio, key);
  if (arr == NULL || json_is_null (arr))
    return 0;
  if (!json_is_array (arr))
    return berth_fail (err, 0, BLKIO ".%s: expected an array", key);
  for (size_t i = 0; i < json_array_size (arr); i++)
    {
      char where[96], entry[96];
      snprintf (where, sizeof where, BLKIO ".%s[%zu]", key, i);
      json_t *e = json_array_get (arr, i);
      int64_t major, minor, rate = 0;
      int r = cgroup_json_blkdev (e, where, &major, &minor, err);
      if (r < 0 || (r = cgroup_json_int (e, "rate", &rate, where, err)) < 0)
        return r;
      if (r == 0)
        return berth_fail (err, 0, "%s.rate: missing", where);
      snprintf (entry, sizeof entry, "%" PRId64 ":%" PRId64 " %" PRId64, major, minor, rate);
      if ((r = cgroup_write_entry (dir, file, entry, err)) < 0)
        return r;
    }
  return 0;
}

static int v1_blkio (const char *dir, json_t *bio, berth_err *err)
{
  static const char *const throttles[][2] = {
    { "throttleReadBpsDevice", "blkio.throttle.read_bps_device" },
    { "throttleWriteBpsDevice", "blkio.throttle.write_bps_device" },
    { "throttleReadIOPSDevice", "blkio.throttle.read_iops_device" },
    { "throttleWriteIOPSDevice", "blkio.throttle.write_iops_device" },
  };
  int r = blkio_weights (dir, bio, err);
  if (r < 0)
    return r;
  json_t *wds = json_object_get (bio, "weightDevice");
  if (wds && !json_is_null (wds) && !json_is_array (wds))
    return berth_fail (err, 0, BLKIO ".weightDevice: expected an array");
  for (size_t i = 0; i < json_array_size (wds); i++)
    if ((r = blkio_weight_device (dir, json_array_get (wds, i), i, err)) < 0)
      return r;
  for (size_t i = 0; i < 4; i++)
    if ((r = blkio_throttle (dir, bio, throttles[i][0], throttles[i][1], err)) < 0)
      return r;
  return 0;
}

/* ------------------------------------------------------------------ */
/* devices, network                                                    */

static int v1_devices (const char *dir, json_t *devices, berth_err *err)
{
  cleanup_free struct cgroup_device_rule *rules = NULL;
  size_t n = 0;
  int r = cgroup_device_rules (devices, &rules, &n, err);
  for (size_t i = 0; r == 0 && i < n; i++)
    {
      char entry[64];
      cgroup_device_rule_string (&rules[i], entry, sizeof entry);
      r = cgroup_write_entry (dir, rules[i].allow ? "devices.allow" : "devices.deny", entry, err);
    }
  return r;
}

static int net_cls (const char *dir, json_t *net, berth_err *err)
{
  int64_t id = 0;
  int r = cgroup_json_int (net, "classID", &id, "linux.resources.network", err);
  if (r <= 0)
    return r;
  if (id < 0 || id > UINT32_MAX)
    return berth_fail (err, 0, "linux.resources.network.classID: out of range");
  return write_i64 (dir, "net_cls.classid", id, err);
}

static int net_prio (const char *dir, json_t *net, berth_err *err)
{
  json_t *prios = json_object_get (net, "priorities");
  if (!json_is_array (prios))
    return berth_fail (err, 0, "linux.resources.network.priorities: expected an array");
  for (size_t i = 0; i < json_array_size (prios); i++)
    {
      char where[64];
      snprintf (where, sizeof where, "linux.resources.network.priorities[%zu]", i);
      json_t *p = json_array_get (prios, i);
      const char *name = NULL;
      int64_t prio = 0;
      int a = cgroup_json_string (p, "name", &name, where, err);
      int b = a < 0 ? a : cgroup_json_int (p, "priority", &prio, where, err);
      if (a < 0 || b < 0)
        return -EINVAL;
      if (a == 0 || b == 0 || *name == '\0' || strpbrk (name, " \n"))
        return berth_fail (err, 0, "%s: name and priority are required", where);
      cleanup_free char *entry = NULL;
      if (asprintf (&entry, "%s %" PRId64, name, prio) < 0)
        return berth_fail (err, ENOMEM, "net_prio");
      int r = cgroup_write_entry (dir, "net_prio.ifpriomap", entry, err);
      if (r < 0)
        return r;
    }
  return 0;
}

static int v1_hugetlb (const char *dir, json_t *section, berth_err *err)
{
  return cgroup_apply_hugetlb (dir, section, "limit_in_bytes", err);
}

static const struct cgroup_applier v1_appliers[] = {
  { "memory", v1_memory }, { "cpu", v1_cpu }, { "cpuset", cgroup_write_cpuset }, { "pids", cgroup_write_pids },
  { "blkio", v1_blkio }, { "hugetlb", v1_hugetlb }, { "devices", v1_devices }, { "net_cls", net_cls },
  { "net_prio", net_prio }, { NULL, NULL },
};

static int v1_apply (struct cgroup_manager *m, const char *dir, const char *controller, json_t *section,
                     berth_err *err)
{
  (void) m;
  return cgroup_apply_section (v1_appliers, controller, dir, section, err);
}

/* ------------------------------------------------------------------ */
/* freezer                                                             */

static const char *freezer_dir (struct cgroup_manager *m, berth_err *err)
{
  struct cgroup_hierarchy *h = cgroup_find_v1 (m, "freezer");
  if (h == NULL)
    berth_fail (err, 0, "cgroup freezer: controller not available");
  return h ? h->path : NULL;
}

static int v1_freeze (struct cgroup_manager *m, bool frozen, berth_err *err)
{
  const char *dir = freezer_dir (m, err);
  if (dir == NULL)
    return -EINVAL;
  const char *state = frozen ? "FROZEN" : "THAWED";
  /* Writing FROZEN again each round pushes the freezer past tasks that
   * were forking while it started (FREEZING can stick otherwise). */
  for (int round = 0; round < FREEZE_ROUNDS; round++)
    {
      bool reached = false;
      int r = cgroup_write (dir, "freezer.state", state, err);
      if (r == 0)
        r = cgroup_wait_for (dir, "freezer.state", state, FREEZE_ROUND_MS, &reached, err);
      if (r < 0)
        return r;
      if (reached)
        return 0;
    }
  if (frozen)
    {
      berth_err ignored = NULL;
      if (cgroup_write (dir, "freezer.state", "THAWED", &ignored) < 0)
        berth_error_free (&ignored);
    }
  return berth_fail (err, ETIMEDOUT, "wait for `%s/freezer.state` to read %s", dir, state);
}

static int v1_is_frozen (struct cgroup_manager *m, bool *frozen, berth_err *err)
{
  const char *dir = freezer_dir (m, err);
  if (dir == NULL)
    return -EINVAL;
  cleanup_free char *state = NULL;
  int r = cgroup_read (dir, "freezer.state", &state, err);
  if (r < 0)
    return r;
  *frozen = strcmp (state, "FROZEN") == 0;
  return 0;
}

/* ------------------------------------------------------------------ */
/* pids, kill, destroy                                                 */

static int v1_pids (struct cgroup_manager *m, struct cgroup_pid_set *set, berth_err *err)
{
  /* Every hierarchy holds every process; prefer the ones a container
   * always gets, where nothing else moves processes around. */
  static const char *const prefer[] = { "pids", "freezer", "memory", NULL };
  struct cgroup_hierarchy *h = NULL;
  for (const char *const *c = prefer; *c && h == NULL; c++)
    h = cgroup_find_v1 (m, *c);
  for (size_t i = 0; h == NULL && i < m->n_hiers; i++)
    if (!m->hiers[i].v2)
      h = &m->hiers[i];
  if (h == NULL)
    return berth_fail (err, 0, "no cgroup v1 hierarchy");
  return cgroup_collect_pids (h->path, set, err);
}

static int v1_kill (struct cgroup_manager *m, int sig, berth_err *err)
{
  return 0; /* no cgroup.kill on v1: the manager signals each pid */
}

static int v1_destroy (struct cgroup_manager *m, berth_err *err)
{
  int ret = 0;
  for (size_t i = 0; i < m->n_hiers; i++)
    {
      if (m->hiers[i].v2)
        continue;
      /* Go on with the other hierarchies; report the first failure. */
      int r = cgroup_rmdir_tree (m->hiers[i].path, err);
      if (r < 0 && ret == 0)
        ret = r;
    }
  return ret;
}

/* ------------------------------------------------------------------ */
/* mount                                                               */

/* Co-mounted controllers get a link each: cpu -> cpu,cpuacct. */
static int link_comounted (int dirfd, const struct cgroup_hierarchy *h, berth_err *err)
{
  for (char **c = h->controllers; c && *c; c++)
    {
      if (strcmp (*c, h->name) == 0)
        continue;
      if (symlinkat (h->name, dirfd, *c) < 0 && errno != EEXIST)
        return berth_fail_errno (err, "symlink `%s` -> `%s`", *c, h->name);
    }
  return 0;
}

static int mount_hierarchy (int dirfd, const struct cgroup_hierarchy *h, unsigned long flags, bool cgroupns,
                            berth_err *err)
{
  if (mkdirat (dirfd, h->name, 0755) < 0 && errno != EEXIST)
    return berth_fail_errno (err, "mkdir `%s`", h->name);
  cleanup_close int fd = openat (dirfd, h->name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (err, "open `%s`", h->name);
  if (!cgroupns)
    return cgroup_bind_mount (h->path, fd, flags, err);
  /* In its own cgroup namespace a fresh mount is rooted at the container's
   * cgroup, and takes the flags directly. */
  char target[64];
  cgroup_fd_path (fd, target, sizeof target);
  if (mount ("cgroup", target, "cgroup", flags, h->options) < 0)
    return berth_fail_errno (err, "mount cgroup `%s`", h->options);
  return 0;
}

static int v1_mount (struct cgroup_manager *m, int dirfd, unsigned long flags, bool cgroupns, berth_err *err)
{
  flags = (flags & (MS_RDONLY | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME))
          | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  for (size_t i = 0; i < m->n_hiers; i++)
    {
      const struct cgroup_hierarchy *h = &m->hiers[i];
      if (h->v2)
        continue;
      int r = mount_hierarchy (dirfd, h, flags, cgroupns, err);
      if (r == 0)
        r = link_comounted (dirfd, h, err);
      if (r < 0)
        return r;
    }
  return 0;
}

/* ------------------------------------------------------------------ */
/* stats                                                               */

/* Read DIR/FILE into OBJ[KEY] when it exists; a missing file is skipped. */
static int stat_u64 (const char *dir, const char *file, json_t *obj, const char *key, bool limit, berth_err *err)
{
  if (!cgroup_file_exists (dir, file))
    return 0;
  uint64_t v = 0;
  int r = cgroup_read_u64 (dir, file, &v, err);
  if (r < 0)
    return r;
  json_int_t j = limit && v >= V1_UNLIMITED ? -1 : (json_int_t) v;
  json_object_set_new (obj, key, json_integer (j));
  return 0;
}

static int stat_section (struct cgroup_manager *m, json_t *stats, const char *controller, const char *section,
                         const char *const files[][2], size_t n, berth_err *err)
{
  struct cgroup_hierarchy *h = cgroup_find_v1 (m, controller);
  if (h == NULL || json_object_get (stats, section))
    return 0;
  json_t *obj = json_object ();
  for (size_t i = 0; i < n; i++)
    {
      bool limit = strcmp (files[i][1], "limit") == 0;
      int r = stat_u64 (h->path, files[i][0], obj, files[i][1], limit, err);
      if (r < 0)
        {
          json_decref (obj);
          return r;
        }
    }
  json_object_set_new (stats, section, obj);
  return 0;
}

static int v1_stats (struct cgroup_manager *m, json_t *stats, berth_err *err)
{
  static const char *const memory[][2] = { { "memory.usage_in_bytes", "usage" },
                                           { "memory.limit_in_bytes", "limit" } };
  static const char *const pids_files[][2] = { { "pids.current", "current" } };
  static const char *const cpu[][2] = { { "cpuacct.usage", "usage_ns" } };
  int r = stat_section (m, stats, "memory", "memory", memory, 2, err);
  if (r == 0)
    r = stat_section (m, stats, "pids", "pids", pids_files, 1, err);
  if (r == 0)
    r = stat_section (m, stats, "cpuacct", "cpu", cpu, 1, err);
  return r;
}

const struct cgroup_ops cgroup_v1_ops = {
  .name = "v1",
  .create = v1_create,
  .enter = v1_enter,
  .apply = v1_apply,
  .freeze = v1_freeze,
  .is_frozen = v1_is_frozen,
  .pids = v1_pids,
  .kill = v1_kill,
  .destroy = v1_destroy,
  .mount = v1_mount,
  .stats = v1_stats,
};
