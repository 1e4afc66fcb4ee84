/* cgroup v2 backend: the unified hierarchy (the whole of /sys/fs/cgroup on
 * v2 hosts, /sys/fs/cgroup/unified on hybrid ones).  OCI values are v1
 * shaped and converted the way runc's fs2 driver does; devices become an
 * eBPF program, v2 has no devices controller. */
#include "runtime/cgroup-internal.h"

#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FREEZE_TIMEOUT_MS 5000

/* ------------------------------------------------------------------ */
/* create / enter                                                      */

/* Enable in DIR's cgroup.subtree_control every controller DIR has, so
 * that the children get their files.  Failures are not fatal: a parent
 * with processes of its own cannot delegate domain controllers, and a
 * controller we miss surfaces as a clear error when a resource needs it. */
static void enable_controllers (const char *dir)
{
  cleanup_free char *avail = NULL;
  berth_err err = NULL;
  if (!cgroup_file_exists (dir, "cgroup.controllers") || cgroup_read (dir, "cgroup.controllers", &avail, &err) < 0
      || *avail == '\0')
    {
      berth_error_free (&err);
      return;
    }
  cleanup_free char *all = calloc (1, strlen (avail) * 2 + 2);
  if (all == NULL)
    return;
  char *save = NULL;
  for (char *c = strtok_r (avail, " ", &save); c; c = strtok_r (NULL, " ", &save))
    sprintf (all + strlen (all), "%s+%s", *all ? " " : "", c);
  if (cgroup_write (dir, "cgroup.subtree_control", all, &err) == 0)
    return;
  berth_error_free (&err);
  /* One refused controller fails the whole write: go one by one. */
  save = NULL;
  for (char *c = strtok_r (all, " ", &save); c; c = strtok_r (NULL, " ", &save))
    if (cgroup_write (dir, "cgroup.subtree_control", c, &err) < 0)
      {
        berth_debug ("cgroup: cannot enable %s in `%s`: %s", c + 1, dir, err->msg);
        berth_error_free (&err);
      }
}

static int v2_create (struct cgroup_manager *m, pid_t pid, berth_err *err)
{
  struct cgroup_hierarchy *h = m->unified;
  size_t base = strlen (h->mountpoint);
  cleanup_free char *level = strdup (h->path);
  if (level == NULL)
    return berth_fail (err, ENOMEM, "mkdir `%s`", h->path);
  /* From the root down: each parent delegates before the child exists. */
  for (char *p = level + base;; p++)
    {
      if (*p != '/' && *p != '\0')
        continue;
      char saved = *p;
      *p = '\0';
      if (*level && mkdir (level, 0755) < 0 && errno != EEXIST)
        return berth_fail_errno (err, "mkdir `%s`", level);
      if (saved == '/')
        enable_controllers (*level ? level : "/");
      *p = saved;
      if (saved == '\0')
        break;
    }
  return pid > 0 ? cgroup_move_pid (h->path, pid, err) : 0;
}

static int v2_enter (struct cgroup_manager *m, pid_t pid, berth_err *err)
{
  return cgroup_move_pid (m->unified->path, pid, err);
}

/* ------------------------------------------------------------------ */
/* memory                                                              */

#define MEM "linux.resources.memory"

static int v2_swap (const char *dir, int64_t swap, int64_t limit, berth_err *err)
{
  int64_t v = 0;
  int r = cgroup_swap_to_v2 (swap, limit, &v, err);
  if (r < 0)
    return r;
  char value[32];
  cgroup_v2_limit (v, value, sizeof value);
  berth_err werr = NULL;
  r = cgroup_write (dir, "memory.swap.max", value, &werr);
  if (r == 0)
    return 0;
  /* Without swap accounting "unlimited" and "none" are what we have. */
  if (r == -ENOENT && (v == -1 || v == 0))
    {
      berth_error_free (&werr);
      return 0;
    }
  if (r == -ENOENT)
    {
      berth_error_free (&werr);
      return berth_fail (err, 0, "swap limit requested but the kernel has no swap accounting (no memory.swap.max)");
    }
  *err = werr;
  return r;
}

static int v2_memory (const char *dir, json_t *mem, berth_err *err)
{
  int64_t limit = 0, swap = 0, reservation = 0;
  bool check = false;
  int hl = cgroup_json_int (mem, "limit", &limit, MEM, err);
  int hs = hl < 0 ? hl : cgroup_json_int (mem, "swap", &swap, MEM, err);
  int hr = hs < 0 ? hs : cgroup_json_int (mem, "reservation", &reservation, MEM, err);
  if (hr < 0 || cgroup_json_bool (mem, "checkBeforeUpdate", &check, MEM, err) < 0)
    return -EINVAL;
  /* kernel, kernelTCP, swappiness, disableOOMKiller and useHierarchy are
   * v1 knobs with no v2 file; runc ignores them there too. */
  char value[32];
  int r = 0;
  if (check && limit > 0)
    {
      uint64_t usage = 0;
      if ((r = cgroup_read_u64 (dir, "memory.current", &usage, err)) < 0)
        return r;
      if (usage >= (uint64_t) limit)
        return berth_fail (err, 0, "memory limit %" PRId64 " is not above the current usage %" PRIu64
                           " (checkBeforeUpdate)", limit, usage);
    }
  if (swap != 0 || limit == -1)
    r = v2_swap (dir, swap, limit, err);
  if (r == 0 && limit != 0)
    {
      if (limit < -1)
        return berth_fail (err, 0, "invalid memory limit %" PRId64, limit);
      cgroup_v2_limit (limit, value, sizeof value);
      r = cgroup_write (dir, "memory.max", value, err);
    }
  if (r == 0 && reservation != 0)
    {
      cgroup_v2_limit (reservation, value, sizeof value);
      r = cgroup_write (dir, "memory.low", value, err);
    }
  return r;
}

/* ------------------------------------------------------------------ */
/* cpu, cpuset, pids                                                   */

#define CPU "linux.resources.cpu"

static int cpu_max (const char *dir, json_t *cpu, berth_err *err)
{
  int64_t quota = 0, period = 0;
  if (cgroup_json_int (cpu, "quota", &quota, CPU, err) < 0 || cgroup_json_int (cpu, "period", &period, CPU, err) < 0)
    return -EINVAL;
  if (quota == 0 && period == 0)
    return 0;
  if (period < 0)
    return berth_fail (err, 0, CPU ".period: invalid value %" PRId64, period);
  /* Only the period given: keep the quota in force. */
  cleanup_free char *current = NULL;
  if (quota == 0)
    {
      berth_err ignored = NULL;
      if (cgroup_read (dir, "cpu.max", &current, &ignored) < 0)
        berth_error_free (&ignored);
    }
  char line[64];
  cgroup_cpu_max (quota != 0, quota, (uint64_t) period, current, line, sizeof line);
  return cgroup_write (dir, "cpu.max", line, err);
}

static int v2_cpu (const char *dir, json_t *cpu, berth_err *err)
{
  int64_t v = 0, rt_period = 0, rt_runtime = 0;
  int r;
  if (cgroup_json_int (cpu, "realtimePeriod", &rt_period, CPU, err) < 0
      || cgroup_json_int (cpu, "realtimeRuntime", &rt_runtime, CPU, err) < 0)
    return -EINVAL;
  if (rt_period != 0 || rt_runtime != 0)
    return berth_fail (err, 0, "realtimePeriod/realtimeRuntime are not supported on cgroup v2");
  if ((r = cgroup_json_int (cpu, "shares", &v, CPU, err)) < 0)
    return r;
  if (r > 0 && v != 0)
    {
      if (v < 0)
        return berth_fail (err, 0, CPU ".shares: invalid value %" PRId64, v);
      if ((r = cgroup_writef (dir, "cpu.weight", err, "%" PRIu64, cgroup_shares_to_weight ((uint64_t) v))) < 0)
        return r;
    }
  r = cpu_max (dir, cpu, err);
  if (r == 0)
    r = cgroup_write_int_field (dir, "cpu.max.burst", cpu, "burst", CPU, err);
  if (r == 0)
    r = cgroup_write_int_field (dir, "cpu.idle", cpu, "idle", CPU, err);
  return r;
}

/* ------------------------------------------------------------------ */
/* io                                                                  */

#define BLKIO "linux.resources.blockIO"

/* With BFQ, io.bfq.weight takes blkio's 10-1000 scale as is; otherwise
 * io.weight (1-10000) gets the converted value. */
static int io_weight (const char *dir, const char *device, int64_t weight, berth_err *err)
{
  char entry[96];
  bool bfq = cgroup_file_exists (dir, "io.bfq.weight");
  uint64_t v = bfq ? (uint64_t) weight : cgroup_blkio_weight_to_io_weight ((uint64_t) weight);
  if (device)
    snprintf (entry, sizeof entry, "%s %" PRIu64, device, v);
  else
    snprintf (entry, sizeof entry, "%" PRIu64, v);
  const char *file = bfq ? "io.bfq.weight" : "io.weight";
  return device ? cgroup_write_entry (dir, file, entry, err) : cgroup_write (dir, file, entry, err);
}

static int io_weight_devices (const char *dir, json_t *bio, berth_err *err)
{
  json_t *wds = json_object_get (bio, "weightDevice");
  if (wds && !json_is_null (wds) && !json_is_array (wds))
    return berth_fail (err, 0, BLKIO ".weightDevice: expected an array");
  for (size_t i = 0; i < json_array_size (wds); i++)
    {
      char where[80], device[48];
      snprintf (where, sizeof where, BLKIO ".weightDevice[%zu]", i);
      json_t *wd = json_array_get (wds, i);
      int64_t major, minor, weight = 0;
      int r = cgroup_json_blkdev (wd, where, &major, &minor, err);
      if (r < 0 || (r = cgroup_json_int (wd, "weight", &weight, where, err)) < 0)
        return r;
      /* leafWeight has no v2 counterpart. */
      if (r == 0 || weight == 0)
        continue;
      snprintf (device, sizeof device, "%" PRId64 ":%" PRId64, major, minor);
      if ((r = io_weight (dir, device, weight, err)) < 0)
        return r;
    }
  return 0;
}

static int io_max (const char *dir, json_t *bio, const char *key, const char *name, berth_err *err)
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
      /* 0 removes the limit on v1; "max" is how v2 says it. */
      if (rate <= 0)
        snprintf (entry, sizeof entry, "%" PRId64 ":%" PRId64 " %s=max", major, minor, name);
      else
        snprintf (entry, sizeof entry, "%" PRId64 ":%" PRId64 " %s=%" PRId64, major, minor, name, rate);
      if ((r = cgroup_write_entry (dir, "io.max", entry, err)) < 0)
        return r;
    }
  return 0;
}

static int v2_io (const char *dir, json_t *bio, berth_err *err)
{
  static const char *const throttles[][2] = {
    { "throttleReadBpsDevice", "rbps" },
    { "throttleWriteBpsDevice", "wbps" },
    { "throttleReadIOPSDevice", "riops" },
    { "throttleWriteIOPSDevice", "wiops" },
  };
  int64_t weight = 0;
  int r = cgroup_json_int (bio, "weight", &weight, BLKIO, err);
  if (r < 0)
    return r;
  if (r > 0 && weight != 0 && (r = io_weight (dir, NULL, weight, err)) < 0)
    return r;
  if ((r = io_weight_devices (dir, bio, err)) < 0)
    return r;
  for (size_t i = 0; i < 4; i++)
    if ((r = io_max (dir, bio, throttles[i][0], throttles[i][1], err)) < 0)
      return r;
  return 0;
}

/* ------------------------------------------------------------------ */
/* devices: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE        */

/* The program gets a struct bpf_cgroup_dev_ctx (access_type = access << 16
 * | type, major, minor) and returns 1 to allow, 0 to deny.  Rules are
 * checked from the last to the first and the first match decides, so the
 * last matching rule of the config wins, as with successive writes to v1's
 * devices.allow/deny; "a" rules match everything (v1 ignores the rest of
 * such a rule).  Nothing matched: allow, like a v1 cgroup that inherits an
 * allow-all parent (configs start with a deny-all rule). */

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

struct bpf_prog
{
  struct bpf_insn *insns;
  size_t n, cap;
};

static int prog_emit (struct bpf_prog *p, struct bpf_insn insn)
{
  if (p->n == p->cap)
    {
      size_t cap = p->cap ? p->cap * 2 : 64;
      struct bpf_insn *v = realloc (p->insns, cap * sizeof *v);
      if (v == NULL)
        return -ENOMEM;
      p->insns = v;
      p->cap = cap;
    }
  p->insns[p->n++] = insn;
  return 0;
}

static int prog_prologue (struct bpf_prog *p)
{
  const struct bpf_insn insns[] = {
    INSN (BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0), /* r2 = access_type */
    INSN (BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0),
    INSN (BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff),   /* r2 = device type */
    INSN (BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16),       /* r3 = access */
    INSN (BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0), /* r4 = major */
    INSN (BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0), /* r5 = minor */
  };
  for (size_t i = 0; i < sizeof insns / sizeof insns[0]; i++)
    if (prog_emit (p, insns[i]) < 0)
      return -ENOMEM;
  return 0;
}

static int access_bits (const char *access)
{
  int bits = 0;
  for (const char *c = access; *c; c++)
    bits |= *c == 'r' ? BPF_DEVCG_ACC_READ : *c == 'w' ? BPF_DEVCG_ACC_WRITE : BPF_DEVCG_ACC_MKNOD;
  return bits;
}

#define ALL_ACCESS (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)
#define NEXT_RULE 0x7fff /* placeholder offset, patched once the block length is known */

/* One rule: jumps to the next block on mismatch, else returns. */
static int prog_rule (struct bpf_prog *p, const struct cgroup_device_rule *r)
{
  struct bpf_insn b[12];
  size_t n = 0;
  if (r->type != 'a')
    {
      int acc = access_bits (r->access);
      int type = r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK;
      b[n++] = INSN (BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, NEXT_RULE, type);
      /* allow: every requested bit must be granted; deny: any requested
       * bit it names is refused. */
      if (r->allow && (~acc & ALL_ACCESS))
        b[n++] = INSN (BPF_JMP | BPF_JSET | BPF_K, BPF_REG_3, 0, NEXT_RULE, ~acc & ALL_ACCESS);
      if (!r->allow && acc != ALL_ACCESS)
        {
          b[n++] = INSN (BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_3, 0, 0);
          b[n++] = INSN (BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_6, 0, 0, acc);
          b[n++] = INSN (BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_6, 0, NEXT_RULE, 0);
        }
      if (r->major >= 0)
        b[n++] = INSN (BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, NEXT_RULE, (int32_t) r->major);
      if (r->minor >= 0)
        b[n++] = INSN (BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, NEXT_RULE, (int32_t) r->minor);
    }
  b[n++] = INSN (BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, r->allow ? 1 : 0);
  b[n++] = INSN (BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  for (size_t i = 0; i < n; i++)
    {
      if (b[i].off == NEXT_RULE)
        b[i].off = (int16_t) (n - i - 1);
      if (prog_emit (p, b[i]) < 0)
        return -ENOMEM;
    }
  return 0;
}

static int prog_build (struct bpf_prog *p, const struct cgroup_device_rule *rules, size_t n)
{
  if (prog_prologue (p) < 0)
    return -ENOMEM;
  for (size_t i = n; i > 0; i--)
    {
      if (prog_rule (p, &rules[i - 1]) < 0)
        return -ENOMEM;
      /* Matches everything: what follows would be unreachable, and the
       * verifier refuses unreachable code. */
      if (rules[i - 1].type == 'a')
        return 0;
    }
  const struct cgroup_device_rule allow_rest = { true, 'a', -1, -1, "rwm" };
  return prog_rule (p, &allow_rest);
}

static int bpf_call (int cmd, union bpf_attr *attr)
{
  return (int) syscall (__NR_bpf, cmd, attr, sizeof *attr);
}

static int prog_load (struct bpf_prog *p, berth_err *err)
{
  static char log[8192];
  union bpf_attr attr;
  memset (&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t) (uintptr_t) p->insns;
  attr.insn_cnt = (uint32_t) p->n;
  attr.license = (uint64_t) (uintptr_t) "GPL";
  int fd = bpf_call (BPF_PROG_LOAD, &attr);
  if (fd >= 0)
    return fd;
  int saved = errno;
  /* Load again with the verifier log to say why. */
  log[0] = '\0';
  attr.log_buf = (uint64_t) (uintptr_t) log;
  attr.log_size = sizeof log;
  attr.log_level = 1;
  fd = bpf_call (BPF_PROG_LOAD, &attr);
  if (fd >= 0)
    return fd;
  return berth_fail (err, saved, "load the eBPF device program%s%.200s", *log ? ": " : "", log);
}

#define MAX_PROGS 64

static int query_progs (int cgfd, uint32_t *ids, uint32_t *n, berth_err *err)
{
  union bpf_attr attr;
  memset (&attr, 0, sizeof attr);
  attr.query.target_fd = (uint32_t) cgfd;
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = (uint64_t) (uintptr_t) ids;
  attr.query.prog_cnt = *n;
  if (bpf_call (BPF_PROG_QUERY, &attr) < 0)
    return berth_fail_errno (err, "query the cgroup's eBPF device programs");
  *n = attr.query.prog_cnt;
  return 0;
}

static int detach_prog (int cgfd, uint32_t id, berth_err *err)
{
  union bpf_attr attr;
  memset (&attr, 0, sizeof attr);
  attr.prog_id = id;
  cleanup_close int fd = bpf_call (BPF_PROG_GET_FD_BY_ID, &attr);
  if (fd < 0)
    return errno == ENOENT ? 0 : berth_fail_errno (err, "open eBPF program %u", id);
  memset (&attr, 0, sizeof attr);
  attr.target_fd = (uint32_t) cgfd;
  attr.attach_bpf_fd = (uint32_t) fd;
  attr.attach_type = BPF_CGROUP_DEVICE;
  if (bpf_call (BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT)
    return berth_fail_errno (err, "detach eBPF program %u", id);
  return 0;
}

int cgroup_bpf_devices_count (const char *dir, berth_err *err)
{
  cleanup_close int cgfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cgfd < 0)
    return berth_fail_errno (err, "open `%s`", dir);
  uint32_t ids[MAX_PROGS], n = MAX_PROGS;
  int r = query_progs (cgfd, ids, &n, err);
  return r < 0 ? r : (int) n;
}

int cgroup_bpf_devices_apply (const char *dir, const struct cgroup_device_rule *rules, size_t n, berth_err *err)
{
  struct bpf_prog p = { 0 };
  int r = prog_build (&p, rules, n);
  cleanup_close int prog = r < 0 ? -1 : prog_load (&p, err);
  free (p.insns);
  if (r < 0)
    return berth_fail (err, ENOMEM, "build the eBPF device program");
  if (prog < 0)
    return prog;
  cleanup_close int cgfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cgfd < 0)
    return berth_fail_errno (err, "open `%s`", dir);
  /* Attach the new program next to the old ones, then detach the old:
   * the container is never left without a filter (`update`). */
  uint32_t old[MAX_PROGS], n_old = MAX_PROGS;
  if ((r = query_progs (cgfd, old, &n_old, err)) < 0)
    return r;
  union bpf_attr attr;
  memset (&attr, 0, sizeof attr);
  attr.target_fd = (uint32_t) cgfd;
  attr.attach_bpf_fd = (uint32_t) prog;
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf_call (BPF_PROG_ATTACH, &attr) < 0)
    return berth_fail_errno (err, "attach the eBPF device program to `%s`", dir);
  for (uint32_t i = 0; i < n_old; i++)
    if ((r = detach_prog (cgfd, old[i], err)) < 0)
      return r;
  return 0;
}

static int v2_devices (const char *dir, json_t *devices, berth_err *err)
{
  cleanup_free struct cgroup_device_rule *rules = NULL;
  size_t n = 0;
  int r = cgroup_device_rules (devices, &rules, &n, err);
  return r < 0 ? r : cgroup_bpf_devices_apply (dir, rules, n, err);
}

/* ------------------------------------------------------------------ */
/* unified                                                             */

static int v2_unified (const char *dir, json_t *unified, berth_err *err)
{
  if (!json_is_object (unified))
    return berth_fail (err, 0, "linux.resources.unified: expected an object");
  const char *key;
  json_t *value;
  json_object_foreach (unified, key, value)
  {
    /* Keys are file names in the container's own folder, nothing else. */
    if (*key == '\0' || *key == '.' || strchr (key, '/'))
      return berth_fail (err, 0, "linux.resources.unified: invalid file name `%s`", key);
    if (!json_is_string (value))
      return berth_fail (err, 0, "linux.resources.unified.%s: expected a string", key);
    if (!cgroup_file_exists (dir, key))
      return berth_fail (err, 0, "`%s/%s` does not exist (controller not available or not enabled?)", dir, key);
    int r = cgroup_write (dir, key, json_string_value (value), err);
    if (r < 0)
      return r;
  }
  return 0;
}

static int v2_hugetlb (const char *dir, json_t *section, berth_err *err)
{
  return cgroup_apply_hugetlb (dir, section, "max", err);
}

static const struct cgroup_applier v2_appliers[] = {
  { "memory", v2_memory }, { "cpu", v2_cpu }, { "cpuset", cgroup_write_cpuset }, { "pids", cgroup_write_pids },
  { "io", v2_io }, { "hugetlb", v2_hugetlb }, { "devices", v2_devices }, { "unified", v2_unified }, { NULL, NULL },
};

static int v2_apply (struct cgroup_manager *m, const char *dir, const char *controller, json_t *section,
                     berth_err *err)
{
  (void) m;
  return cgroup_apply_section (v2_appliers, controller, dir, section, err);
}

/* ------------------------------------------------------------------ */
/* freeze, pids, kill, destroy                                         */

static int v2_freeze (struct cgroup_manager *m, bool frozen, berth_err *err)
{
  const char *dir = m->unified->path;
  if (!cgroup_file_exists (dir, "cgroup.freeze"))
    return berth_fail (err, 0, "cgroup freezer: not supported by the kernel (no `%s/cgroup.freeze`)", dir);
  int r = cgroup_write (dir, "cgroup.freeze", frozen ? "1" : "0", err);
  if (r < 0)
    return r;
  bool reached = false;
  const char *want = frozen ? "frozen 1" : "frozen 0";
  r = cgroup_wait_for (dir, "cgroup.events", want, FREEZE_TIMEOUT_MS, &reached, err);
  if (r < 0)
    return r;
  if (!reached)
    {
      if (frozen)
        {
          berth_err ignored = NULL;
          if (cgroup_write (dir, "cgroup.freeze", "0", &ignored) < 0)
            berth_error_free (&ignored);
        }
      return berth_fail (err, ETIMEDOUT, "wait for `%s` in `%s/cgroup.events`", want, dir);
    }
  return 0;
}

static int v2_is_frozen (struct cgroup_manager *m, bool *frozen, berth_err *err)
{
  cleanup_free char *events = NULL;
  int r = cgroup_read (m->unified->path, "cgroup.events", &events, err);
  if (r < 0)
    return r;
  const char *p = strstr (events, "frozen ");
  *frozen = p && (p == events || p[-1] == '\n') && p[7] == '1';
  return 0;
}

static int v2_list_pids (struct cgroup_manager *m, struct cgroup_pid_set *set, berth_err *err)
{
  return cgroup_collect_pids (m->unified->path, set, err);
}

static int v2_kill (struct cgroup_manager *m, int sig, berth_err *err)
{
  /* cgroup.kill (5.14+) kills the whole subtree atomically, even tasks
   * forking meanwhile; only for SIGKILL. */
  if (sig != SIGKILL || !cgroup_file_exists (m->unified->path, "cgroup.kill"))
    return 0;
  int r = cgroup_write (m->unified->path, "cgroup.kill", "1", err);
  return r < 0 ? r : 1;
}

static int v2_destroy (struct cgroup_manager *m, berth_err *err)
{
  return cgroup_rmdir_tree (m->unified->path, err);
}

/* ------------------------------------------------------------------ */
/* mount                                                               */

static int v2_mount (struct cgroup_manager *m, int dirfd, unsigned long flags, bool cgroupns, berth_err *err)
{
  flags = (flags & (MS_RDONLY | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME))
          | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (!cgroupns)
    return cgroup_bind_mount (m->unified->path, dirfd, flags, err);
  /* In its own cgroup namespace the mount is rooted at our cgroup. */
  char target[64];
  cgroup_fd_path (dirfd, target, sizeof target);
  if (mount ("cgroup2", target, "cgroup2", flags, NULL) < 0)
    return berth_fail_errno (err, "mount cgroup2");
  return 0;
}

/* ------------------------------------------------------------------ */
/* stats                                                               */

static int stat_file (const char *dir, const char *file, json_t *obj, const char *key, berth_err *err)
{
  if (!cgroup_file_exists (dir, file))
    return 0;
  cleanup_free char *s = NULL;
  int r = cgroup_read (dir, file, &s, err);
  if (r < 0)
    return r;
  json_int_t v = strcmp (s, "max") == 0 ? -1 : (json_int_t) strtoll (s, NULL, 10);
  json_object_set_new (obj, key, json_integer (v));
  return 0;
}

static int cpu_usage_ns (const char *dir, json_t *obj, berth_err *err)
{
  cleanup_free char *s = NULL;
  if (!cgroup_file_exists (dir, "cpu.stat"))
    return 0;
  int r = cgroup_read (dir, "cpu.stat", &s, err);
  if (r < 0)
    return r;
  const char *p = strstr (s, "usage_usec ");
  if (p && (p == s || p[-1] == '\n'))
    json_object_set_new (obj, "usage_ns", json_integer ((json_int_t) strtoll (p + 11, NULL, 10) * 1000));
  return 0;
}

static int add_section (json_t *stats, const char *name, json_t *obj)
{
  if (json_object_size (obj) > 0 && json_object_get (stats, name) == NULL)
    json_object_set (stats, name, obj);
  json_decref (obj);
  return 0;
}

static int v2_stats (struct cgroup_manager *m, json_t *stats, berth_err *err)
{
  const char *dir = m->unified->path;
  json_t *mem = json_object (), *pids = json_object (), *cpu = json_object ();
  int r = stat_file (dir, "memory.current", mem, "usage", err);
  if (r == 0)
    r = stat_file (dir, "memory.max", mem, "limit", err);
  if (r == 0)
    r = stat_file (dir, "pids.current", pids, "current", err);
  if (r == 0)
    r = cpu_usage_ns (dir, cpu, err);
  add_section (stats, "memory", mem);
  add_section (stats, "pids", pids);
  add_section (stats, "cpu", cpu);
  return r;
}

const struct cgroup_ops cgroup_v2_ops = {
  .name = "v2",
  .create = v2_create,
  .enter = v2_enter,
  .apply = v2_apply,
  .freeze = v2_freeze,
  .is_frozen = v2_is_frozen,
  .pids = v2_list_pids,
  .kill = v2_kill,
  .destroy = v2_destroy,
  .mount = v2_mount,
  .stats = v2_stats,
};
