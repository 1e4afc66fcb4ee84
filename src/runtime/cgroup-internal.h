/* Internals shared by the cgroup manager (cgroup.c) and its backends
 * (cgroup-v1.c, cgroup-v2.c).  Not part of the runtime's interface: the
 * unit tests include it to reach the conversion helpers and the fake-tree
 * friendly pieces. */
#ifndef BERTH_CGROUP_INTERNAL_H
#define BERTH_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "common/json.h"
#include "runtime/cgroup.h"

#define CGROUP_DEFAULT_ROOT "/sys/fs/cgroup"

/* One mounted hierarchy.  On v1 there is one per mount (a mount can hold
 * several co-mounted controllers, "cpu,cpuacct"); v2 has a single one. */
struct cgroup_hierarchy
{
  bool v2;
  char *mountpoint;   /* host mount point, "/sys/fs/cgroup/cpu,cpuacct" */
  char *name;         /* folder under the cgroup root: "cpu,cpuacct", "unified", "" (pure v2) */
  char *options;      /* v1 options that select the hierarchy: "cpu,cpuacct", "name=systemd" */
  char **controllers; /* NULL-terminated; v2: the root's cgroup.controllers */
  char *path;         /* the container's folder in this hierarchy */
};

struct cgroup_manager
{
  enum cgroup_mode mode;
  char *path;                        /* resolved cgroup path, absolute */
  struct cgroup_hierarchy *hiers;
  size_t n_hiers;
  struct cgroup_hierarchy *unified;  /* the v2 hierarchy (pure or hybrid), or NULL */
};

struct cgroup_pid_set
{
  pid_t *pids;
  size_t n, cap;
};

/* A backend.  The v1 backend works on every v1 hierarchy of the manager,
 * the v2 backend on m->unified; the manager calls one or both depending on
 * the mode and routes each resource to the backend owning its controller. */
struct cgroup_ops
{
  const char *name;
  /* mkdir the cgroup folders and move PID in (PID <= 0: only mkdir). */
  int (*create) (struct cgroup_manager *m, pid_t pid, berth_err *err);
  int (*enter) (struct cgroup_manager *m, pid_t pid, berth_err *err);
  /* Apply the part of linux.resources owned by CONTROLLER ("memory",
   * "cpu", "cpuset", "pids", "blkio"/"io", "hugetlb", "devices", "net_cls",
   * "net_prio", "unified") to the folder DIR.  SECTION is the resource
   * object ("memory", "cpu", "blockIO"...), or the array for devices and
   * hugepageLimits. */
  int (*apply) (struct cgroup_manager *m, const char *dir, const char *controller, json_t *section,
                berth_err *err);
  int (*freeze) (struct cgroup_manager *m, bool frozen, berth_err *err);
  int (*is_frozen) (struct cgroup_manager *m, bool *frozen, berth_err *err);
  int (*pids) (struct cgroup_manager *m, struct cgroup_pid_set *set, berth_err *err);
  /* Returns 1 when the kernel killed everything itself, 0 when the caller
   * must signal each pid. */
  int (*kill) (struct cgroup_manager *m, int sig, berth_err *err);
  int (*destroy) (struct cgroup_manager *m, berth_err *err);
  /* v1: populate the tmpfs folder DIRFD with one mount per hierarchy;
   * v2: mount the unified view at the folder DIRFD. */
  int (*mount) (struct cgroup_manager *m, int dirfd, unsigned long flags, bool cgroupns, berth_err *err);
  /* Add the "memory", "pids", "cpu" sections it can provide to STATS
   * (sections already present are left alone). */
  int (*stats) (struct cgroup_manager *m, json_t *stats, berth_err *err);
};

extern const struct cgroup_ops cgroup_v1_ops;
extern const struct cgroup_ops cgroup_v2_ops;

/* --- manager-level helpers (cgroup.c) --- */

const char *cgroup_root (void);
/* Find the hierarchies under ROOT and the layout. */
int cgroup_discover (const char *root, enum cgroup_mode *mode, struct cgroup_hierarchy **hiers, size_t *n,
                     berth_err *err);
void cgroup_hierarchies_free (struct cgroup_hierarchy *hiers, size_t n);
bool cgroup_hierarchy_has (const struct cgroup_hierarchy *h, const char *controller);
/* The v1 hierarchy holding CONTROLLER, or NULL. */
struct cgroup_hierarchy *cgroup_find_v1 (struct cgroup_manager *m, const char *controller);

/* Path resolution against OWN, the caller's own cgroup (for relative paths). */
int cgroup_resolve_path_in (const char *own, const char *cgroups_path, const char *id, char **resolved,
                            berth_err *err);

/* --- file helpers (cgroup.c); errors name the full path and the value --- */

/* Replace the value of an existing cgroup file (no O_CREAT: a missing file
 * means a missing controller or feature and must fail). */
int cgroup_write (const char *dir, const char *file, const char *value, berth_err *err);
int cgroup_writef (const char *dir, const char *file, berth_err *err, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));
/* Add one entry to a list-like file (devices.allow, io.max, ifpriomap...):
 * the kernel takes one entry per write; O_APPEND keeps all the entries in
 * a fake tree made of plain files, and is ignored by cgroupfs. */
int cgroup_write_entry (const char *dir, const char *file, const char *entry, berth_err *err);
/* Read a file, without the trailing newline. */
int cgroup_read (const char *dir, const char *file, char **out, berth_err *err);
bool cgroup_file_exists (const char *dir, const char *file);
int cgroup_read_u64 (const char *dir, const char *file, uint64_t *out, berth_err *err);
/* mkdir -p DIR (cgroupfs creates the files). */
int cgroup_mkdir (const char *dir, berth_err *err);
int cgroup_move_pid (const char *dir, pid_t pid, berth_err *err);
/* Add the pids of DIR/cgroup.procs and of every descendant folder. */
int cgroup_collect_pids (const char *dir, struct cgroup_pid_set *set, berth_err *err);
/* rmdir DIR's descendants, then DIR; retries EBUSY for about a second. */
int cgroup_rmdir_tree (const char *dir, berth_err *err);
/* Poll FILE until it has the line LINE (*reached) or TIMEOUT_MS elapses. */
int cgroup_wait_for (const char *dir, const char *file, const char *line, int timeout_ms, bool *reached,
                     berth_err *err);

/* Mount helpers: "/proc/self/fd/N" for an fd, and an fd of the mount that
 * was just stacked on the folder FD (the fd itself still points below it). */
void cgroup_fd_path (int fd, char *buf, size_t len);
int cgroup_reopen_mounted (int fd, int flags, berth_err *err);
/* Bind SOURCE on the folder TARGET_FD and apply FLAGS to the new mount. */
int cgroup_bind_mount (const char *source, int target_fd, unsigned long flags, berth_err *err);

/* --- JSON field helpers: 1 present, 0 absent or null, < 0 wrong type --- */

int cgroup_json_int (json_t *obj, const char *key, int64_t *out, const char *where, berth_err *err);
int cgroup_json_bool (json_t *obj, const char *key, bool *out, const char *where, berth_err *err);
int cgroup_json_string (json_t *obj, const char *key, const char **out, const char *where, berth_err *err);
bool cgroup_json_has (json_t *obj, const char *key);
/* Write the integer OBJ.KEY to DIR/FILE when present. */
int cgroup_write_int_field (const char *dir, const char *file, json_t *obj, const char *key, const char *where,
                            berth_err *err);
/* "major"/"minor" of a blockIO device entry. */
int cgroup_json_blkdev (json_t *entry, const char *where, int64_t *major, int64_t *minor, berth_err *err);

/* hugepageLimits -> hugetlb.<size>.<SUFFIX> ("limit_in_bytes" on v1,
 * "max" on v2). */
int cgroup_apply_hugetlb (const char *dir, json_t *limits, const char *suffix, berth_err *err);

/* --- device rules --- */

struct cgroup_device_rule
{
  bool allow;
  char type;      /* 'a', 'c' or 'b' */
  int64_t major;  /* -1: any */
  int64_t minor;  /* -1: any */
  char access[4]; /* subset of "rwm" */
};

/* Parse linux.resources.devices and append the devices every container
 * needs (runc's AllowedDevices: /dev/null, zero, full, tty, ptmx, pts...):
 * the spec's default config denies everything, and both runc and crun
 * add these so that a `deny all` config still has a usable /dev. */
int cgroup_device_rules (json_t *devices, struct cgroup_device_rule **rules, size_t *n, berth_err *err);
/* "c 1:3 rwm" as written to devices.allow / devices.deny. */
void cgroup_device_rule_string (const struct cgroup_device_rule *r, char *buf, size_t len);
/* Load an eBPF device program for RULES and attach it to the cgroup2
 * folder DIR, replacing the one attached before (cgroup-v2.c). */
int cgroup_bpf_devices_apply (const char *dir, const struct cgroup_device_rule *rules, size_t n,
                              berth_err *err);
/* Number of device programs attached directly to DIR (tests). */
int cgroup_bpf_devices_count (const char *dir, berth_err *err);

/* --- v1 -> v2 value conversions (runc's rules) --- */

/* cpu.shares [2, 262144] -> cpu.weight [1, 10000]; 0 stays 0 (unset). */
uint64_t cgroup_shares_to_weight (uint64_t shares);
/* blkio.weight [10, 1000] -> io.weight [1, 10000]; 0 stays 0 (unset). */
uint64_t cgroup_blkio_weight_to_io_weight (uint64_t weight);
/* OCI memory.swap (memory+swap on v1) -> memory.swap.max: -1 is "max", 0
 * is unset.  Fails when swap < limit or swap is set without a limit. */
int cgroup_swap_to_v2 (int64_t swap, int64_t limit, int64_t *out, berth_err *err);
/* cpu.max line: quota > 0 -> number, quota < 0 -> "max", no quota -> the
 * quota of CURRENT (the file's content, may be NULL); period appended when
 * non-zero. */
void cgroup_cpu_max (bool has_quota, int64_t quota, uint64_t period, const char *current, char *buf,
                     size_t len);
/* v2 limit files: -1 (any negative) -> "max". */
void cgroup_v2_limit (int64_t value, char *buf, size_t len);
/* pids.max: -1 or 0 -> "max". */
void cgroup_pids_max (int64_t limit, char *buf, size_t len);

/* One resource section's writer, by controller name: each backend has a
 * table of these, and cgroup_apply_section picks the entry. */
struct cgroup_applier
{
  const char *controller;
  int (*apply) (const char *dir, json_t *section, berth_err *err);
};
int cgroup_apply_section (const struct cgroup_applier *table, const char *controller, const char *dir,
                          json_t *section, berth_err *err);

/* cpuset.cpus/mems and pids.max have the same files on v1 and v2. */
int cgroup_write_cpuset (const char *dir, json_t *cpu, berth_err *err);
int cgroup_write_pids (const char *dir, json_t *pids, berth_err *err);

/* Small helpers of cgroup-util.c and cgroup-layout.c. */
char *cgroup_join_path (const char *dir, const char *name);
void cgroup_free_strv (char **v);
char **cgroup_split (const char *s, const char *seps);
bool cgroup_strv_contains (char **v, const char *s);
int cgroup_clean_path (const char *path, char **out, berth_err *err);

/* Per-mount flags the caller may ask for; anything else (MS_BIND, MS_REC,
 * propagation) is ours to decide. */
#define CGROUP_MOUNT_FLAGS                                                                          \
  (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME           \
   | MS_STRICTATIME)

#endif
