/* cgroup manager: layout detection, path resolution, shared file helpers
 * and the dispatch to the v1 / v2 backends (see cgroup.h). */
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
/* small string helpers                                                */

static char *join_path (const char *dir, const char *name)
{
  char *s = NULL;
  if (asprintf (&s, "%s/%s", dir, name) < 0)
    return NULL;
  return s;
}

static void free_strv (char **v)
{
  if (v == NULL)
    return;
  for (char **s = v; *s; s++)
    free (*s);
  free (v);
}

/* Split S at any of SEPS, dropping empty pieces. */
static char **split (const char *s, const char *seps)
{
  cleanup_free char *copy = strdup (s);
  if (copy == NULL)
    return NULL;
  size_t n = 0;
  char **v = calloc (strlen (s) / 2 + 2, sizeof (char *));
  if (v == NULL)
    return NULL;
  char *save = NULL;
  for (char *tok = strtok_r (copy, seps, &save); tok; tok = strtok_r (NULL, seps, &save))
    {
      v[n] = strdup (tok);
      if (v[n++] == NULL)
        {
          free_strv (v);
          return NULL;
        }
    }
  return v;
}

static bool strv_contains (char **v, const char *s)
{
  for (; v && *v; v++)
    if (strcmp (*v, s) == 0)
      return true;
  return false;
}

static void sleep_ms (long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
    ;
}

static long now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ------------------------------------------------------------------ */
/* file helpers                                                        */

static int write_fd_value (const char *path, int flags, const char *value, berth_err *err)
{
  cleanup_close int fd = open (path, O_WRONLY | O_CLOEXEC | flags);
  if (fd < 0)
    return berth_fail_errno (err, "open `%s`", path);
  int r = berth_write_all (fd, value, strlen (value));
  if (r < 0)
    {
      /* Do not print the newline of list entries inside the message. */
      int n = (int) strcspn (value, "\n");
      return berth_fail (err, -r, "write `%s` %.*s", path, n, value);
    }
  return 0;
}

int cgroup_write (const char *dir, const char *file, const char *value, berth_err *err)
{
  cleanup_free char *path = join_path (dir, file);
  if (path == NULL)
    return berth_fail (err, ENOMEM, "write `%s/%s`", dir, file);
  return write_fd_value (path, O_TRUNC, value, err);
}

int cgroup_writef (const char *dir, const char *file, berth_err *err, const char *fmt, ...)
{
  cleanup_free char *value = NULL;
  va_list ap;
  va_start (ap, fmt);
  int r = vasprintf (&value, fmt, ap);
  va_end (ap);
  if (r < 0)
    return berth_fail (err, ENOMEM, "write `%s/%s`", dir, file);
  return cgroup_write (dir, file, value, err);
}

int cgroup_write_entry (const char *dir, const char *file, const char *entry, berth_err *err)
{
  cleanup_free char *path = join_path (dir, file);
  cleanup_free char *line = NULL;
  if (path == NULL || asprintf (&line, "%s\n", entry) < 0)
    return berth_fail (err, ENOMEM, "write `%s/%s`", dir, file);
  return write_fd_value (path, O_APPEND, line, err);
}

int cgroup_read (const char *dir, const char *file, char **out, berth_err *err)
{
  cleanup_free char *path = join_path (dir, file);
  if (path == NULL)
    return berth_fail (err, ENOMEM, "read `%s/%s`", dir, file);
  size_t len = 0;
  int r = berth_read_file (path, CGROUP_FILE_MAX, out, &len, err);
  if (r < 0)
    return r;
  while (len > 0 && ((*out)[len - 1] == '\n' || (*out)[len - 1] == ' '))
    (*out)[--len] = '\0';
  return 0;
}

bool cgroup_file_exists (const char *dir, const char *file)
{
  cleanup_free char *path = join_path (dir, file);
  return path && access (path, F_OK) == 0;
}

int cgroup_read_u64 (const char *dir, const char *file, uint64_t *out, berth_err *err)
{
  cleanup_free char *s = NULL;
  int r = cgroup_read (dir, file, &s, err);
  if (r < 0)
    return r;
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull (s, &end, 10);
  if (errno != 0 || end == s || *end != '\0')
    return berth_fail (err, 0, "read `%s/%s`: not a number: `%s`", dir, file, s);
  *out = v;
  return 0;
}

int cgroup_mkdir (const char *dir, berth_err *err)
{
  return berth_mkdir_p (dir, 0755, err);
}

int cgroup_move_pid (const char *dir, pid_t pid, berth_err *err)
{
  return cgroup_writef (dir, "cgroup.procs", err, "%d", (int) pid);
}

static int pid_set_add (struct cgroup_pid_set *set, pid_t pid)
{
  if (set->n == set->cap)
    {
      size_t cap = set->cap ? set->cap * 2 : 64;
      pid_t *p = realloc (set->pids, cap * sizeof (pid_t));
      if (p == NULL)
        return -ENOMEM;
      set->pids = p;
      set->cap = cap;
    }
  set->pids[set->n++] = pid;
  return 0;
}

static int add_procs_file (const char *dir, struct cgroup_pid_set *set, berth_err *err)
{
  cleanup_free char *procs = NULL;
  int r = cgroup_read (dir, "cgroup.procs", &procs, err);
  if (r < 0)
    return r;
  char *save = NULL;
  for (char *tok = strtok_r (procs, "\n", &save); tok; tok = strtok_r (NULL, "\n", &save))
    {
      long pid = strtol (tok, NULL, 10);
      if (pid > 0 && pid_set_add (set, (pid_t) pid) < 0)
        return berth_fail (err, ENOMEM, "list pids of `%s`", dir);
    }
  return 0;
}

int cgroup_collect_pids (const char *dir, struct cgroup_pid_set *set, berth_err *err)
{
  int r = add_procs_file (dir, set, err);
  if (r < 0)
    return r;
  cleanup_dir DIR *d = opendir (dir);
  if (d == NULL)
    return berth_fail_errno (err, "open `%s`", dir);
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      if (de->d_type != DT_DIR || strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      cleanup_free char *sub = join_path (dir, de->d_name);
      if (sub == NULL)
        return berth_fail (err, ENOMEM, "list pids of `%s`", dir);
      berth_err sub_err = NULL;
      r = cgroup_collect_pids (sub, set, &sub_err);
      /* A child cgroup removed while we walk is not an error. */
      if (r == -ENOENT)
        {
          berth_error_free (&sub_err);
          continue;
        }
      if (r < 0)
        {
          *err = sub_err;
          return r;
        }
    }
  return 0;
}

static int rmdir_retry (const char *dir, berth_err *err)
{
  long deadline = now_ms () + 1000;
  for (;;)
    {
      if (rmdir (dir) == 0 || errno == ENOENT)
        return 0;
      /* EBUSY: exiting processes have not left yet. */
      if (errno != EBUSY || now_ms () > deadline)
        return berth_fail_errno (err, "rmdir `%s`", dir);
      sleep_ms (10);
    }
}

int cgroup_rmdir_tree (const char *dir, berth_err *err)
{
  cleanup_dir DIR *d = opendir (dir);
  if (d == NULL)
    return errno == ENOENT ? 0 : berth_fail_errno (err, "open `%s`", dir);
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      if (de->d_type != DT_DIR || strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      cleanup_free char *sub = join_path (dir, de->d_name);
      if (sub == NULL)
        return berth_fail (err, ENOMEM, "remove `%s`", dir);
      int r = cgroup_rmdir_tree (sub, err);
      if (r < 0)
        return r;
    }
  return rmdir_retry (dir, err);
}

static bool has_line (const char *content, const char *line)
{
  size_t n = strlen (line);
  for (const char *p = content; p;)
    {
      if (strncmp (p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
        return true;
      p = strchr (p, '\n');
      p = p ? p + 1 : NULL;
    }
  return false;
}

int cgroup_wait_for (const char *dir, const char *file, const char *line, int timeout_ms, bool *reached,
                     berth_err *err)
{
  long deadline = now_ms () + timeout_ms;
  long delay = 1;
  *reached = false;
  for (;;)
    {
      cleanup_free char *content = NULL;
      int r = cgroup_read (dir, file, &content, err);
      if (r < 0)
        return r;
      if (has_line (content, line))
        {
          *reached = true;
          return 0;
        }
      if (now_ms () > deadline)
        return 0;
      sleep_ms (delay);
      delay = delay < 10 ? delay * 2 : 10;
    }
}

/* ------------------------------------------------------------------ */
/* mount helpers                                                       */

void cgroup_fd_path (int fd, char *buf, size_t len)
{
  snprintf (buf, len, "/proc/self/fd/%d", fd);
}

/* Mounting on "/proc/self/fd/N" stacks the mount on N's folder, but N (and
 * reopening the magic link) still refer to the folder below it.  Walking
 * from the parent by name crosses into the new mount. */
int cgroup_reopen_mounted (int fd, int flags, berth_err *err)
{
  char proc[64], target[PATH_MAX];
  cgroup_fd_path (fd, proc, sizeof proc);
  ssize_t n = readlink (proc, target, sizeof target - 1);
  if (n < 0)
    return berth_fail_errno (err, "readlink `%s`", proc);
  target[n] = '\0';
  cleanup_close int parent = openat (fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (parent < 0)
    return berth_fail_errno (err, "open parent of `%s`", target);
  const char *name = strrchr (target, '/');
  name = name && name[1] ? name + 1 : ".";
  cleanup_close int top = openat (parent, name, flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (top < 0)
    return berth_fail_errno (err, "open `%s`", target);
  struct stat below, above;
  if (fstat (fd, &below) < 0 || fstat (top, &above) < 0)
    return berth_fail_errno (err, "stat `%s`", target);
  if (below.st_dev == above.st_dev && below.st_ino == above.st_ino)
    return berth_fail (err, 0, "reopen `%s`: the new mount is not on top", target);
  return take_fd (&top);
}

/* Per-mount flags the caller may ask for; anything else (MS_BIND, MS_REC,
 * propagation) is ours to decide. */
#define CGROUP_MOUNT_FLAGS                                                                          \
  (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME           \
   | MS_STRICTATIME)

int cgroup_bind_mount (const char *source, int target_fd, unsigned long flags, berth_err *err)
{
  char target[64];
  cgroup_fd_path (target_fd, target, sizeof target);
  if (mount (source, target, NULL, MS_BIND | MS_REC, NULL) < 0)
    return berth_fail_errno (err, "bind mount `%s`", source);
  /* A bind mount ignores flags; they need a remount of the new mount. */
  cleanup_close int top = cgroup_reopen_mounted (target_fd, O_PATH, err);
  if (top < 0)
    return top;
  char top_path[64];
  cgroup_fd_path (top, top_path, sizeof top_path);
  unsigned long remount = MS_REMOUNT | MS_BIND | (flags & CGROUP_MOUNT_FLAGS);
  if (mount (NULL, top_path, NULL, remount, NULL) < 0)
    return berth_fail_errno (err, "remount bind of `%s`", source);
  return 0;
}

/* ------------------------------------------------------------------ */
/* JSON helpers                                                        */

bool cgroup_json_has (json_t *obj, const char *key)
{
  json_t *v = json_is_object (obj) ? json_object_get (obj, key) : NULL;
  return v != NULL && !json_is_null (v);
}

int cgroup_json_int (json_t *obj, const char *key, int64_t *out, const char *where, berth_err *err)
{
  if (!cgroup_json_has (obj, key))
    return 0;
  json_t *v = json_object_get (obj, key);
  if (!json_is_integer (v))
    return berth_fail (err, 0, "%s.%s: expected an integer", where, key);
  *out = json_integer_value (v);
  return 1;
}

int cgroup_json_bool (json_t *obj, const char *key, bool *out, const char *where, berth_err *err)
{
  if (!cgroup_json_has (obj, key))
    return 0;
  json_t *v = json_object_get (obj, key);
  if (!json_is_boolean (v))
    return berth_fail (err, 0, "%s.%s: expected a boolean", where, key);
  *out = json_is_true (v);
  return 1;
}

int cgroup_json_string (json_t *obj, const char *key, const char **out, const char *where, berth_err *err)
{
  if (!cgroup_json_has (obj, key))
    return 0;
  json_t *v = json_object_get (obj, key);
  if (!json_is_string (v))
    return berth_fail (err, 0, "%s.%s: expected a string", where, key);
  *out = json_string_value (v);
  return 1;
}

int cgroup_write_int_field (const char *dir, const char *file, json_t *obj, const char *key, const char *where,
                            berth_err *err)
{
  int64_t v = 0;
  int r = cgroup_json_int (obj, key, &v, where, err);
  if (r <= 0)
    return r;
  return cgroup_writef (dir, file, err, "%" PRId64, v);
}

int cgroup_json_blkdev (json_t *entry, const char *where, int64_t *major, int64_t *minor, berth_err *err)
{
  if (!json_is_object (entry))
    return berth_fail (err, 0, "%s: expected an object", where);
  int a = cgroup_json_int (entry, "major", major, where, err);
  int b = a < 0 ? a : cgroup_json_int (entry, "minor", minor, where, err);
  if (a < 0 || b < 0)
    return -EINVAL;
  if (a == 0 || b == 0 || *major < 0 || *minor < 0)
    return berth_fail (err, 0, "%s: major and minor are required", where);
  return 0;
}

/* ------------------------------------------------------------------ */
/* hugetlb (same file layout on both versions)                         */

static int apply_hugepage_limit (const char *dir, json_t *entry, size_t i, const char *suffix, berth_err *err)
{
  char where[64];
  snprintf (where, sizeof where, "linux.resources.hugepageLimits[%zu]", i);
  const char *size = NULL;
  int64_t limit = 0;
  if (!json_is_object (entry))
    return berth_fail (err, 0, "%s: expected an object", where);
  int a = cgroup_json_string (entry, "pageSize", &size, where, err);
  int b = a < 0 ? a : cgroup_json_int (entry, "limit", &limit, where, err);
  if (a < 0 || b < 0)
    return -EINVAL;
  /* The size names a file: "2MB", "1GB"; nothing that could walk. */
  if (a == 0 || b == 0 || *size == '\0' || strspn (size, "0123456789KMGB") != strlen (size))
    return berth_fail (err, 0, "%s: invalid pageSize or limit", where);
  cleanup_free char *file = NULL;
  if (asprintf (&file, "hugetlb.%s.%s", size, suffix) < 0)
    return berth_fail (err, ENOMEM, "hugetlb");
  if (!cgroup_file_exists (dir, file))
    return berth_fail (err, 0, "page size %s not supported by the host (no `%s`)", size, file);
  char value[32];
  if (strcmp (suffix, "max") == 0)
    cgroup_v2_limit (limit, value, sizeof value);
  else
    snprintf (value, sizeof value, "%" PRId64, limit);
  return cgroup_write (dir, file, value, err);
}

int cgroup_apply_hugetlb (const char *dir, json_t *limits, const char *suffix, berth_err *err)
{
  if (!json_is_array (limits))
    return berth_fail (err, 0, "linux.resources.hugepageLimits: expected an array");
  for (size_t i = 0; i < json_array_size (limits); i++)
    {
      int r = apply_hugepage_limit (dir, json_array_get (limits, i), i, suffix, err);
      if (r < 0)
        return r;
    }
  return 0;
}

/* ------------------------------------------------------------------ */
/* value conversions                                                   */

uint64_t cgroup_shares_to_weight (uint64_t shares)
{
  if (shares == 0)
    return 0;
  /* Clamp to the v1 range first: runc's formula underflows below 2. */
  if (shares < 2)
    shares = 2;
  if (shares > 262144)
    shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t cgroup_blkio_weight_to_io_weight (uint64_t weight)
{
  if (weight == 0)
    return 0;
  if (weight < 10)
    weight = 10;
  if (weight > 1000)
    weight = 1000;
  return 1 + ((weight - 10) * 9999) / 990;
}

int cgroup_swap_to_v2 (int64_t swap, int64_t limit, int64_t *out, berth_err *err)
{
  /* As on v1: an unlimited memory with no swap setting means unlimited
   * swap too. */
  if (limit == -1 && swap == 0)
    {
      *out = -1;
      return 0;
    }
  if (swap == -1 || swap == 0)
    {
      *out = swap;
      return 0;
    }
  if (limit == 0 || limit == -1)
    return berth_fail (err, 0, "cannot set a swap limit without a memory limit");
  if (limit < 0 || swap < 0)
    return berth_fail (err, 0, "invalid memory (%" PRId64 ") or swap (%" PRId64 ") value", limit, swap);
  if (swap < limit)
    return berth_fail (err, 0, "memory+swap limit (%" PRId64 ") must be >= memory limit (%" PRId64 ")", swap,
                       limit);
  *out = swap - limit;
  return 0;
}

void cgroup_cpu_max (bool has_quota, int64_t quota, uint64_t period, const char *current, char *buf,
                     size_t len)
{
  char q[32] = "max";
  if (has_quota && quota > 0)
    snprintf (q, sizeof q, "%" PRId64, quota);
  else if (!has_quota && current && *current)
    snprintf (q, sizeof q, "%.*s", (int) strcspn (current, " \n"), current);
  if (period > 0)
    snprintf (buf, len, "%s %" PRIu64, q, period);
  else
    snprintf (buf, len, "%s", q);
}

void cgroup_v2_limit (int64_t value, char *buf, size_t len)
{
  if (value < 0)
    snprintf (buf, len, "max");
  else
    snprintf (buf, len, "%" PRId64, value);
}

void cgroup_pids_max (int64_t limit, char *buf, size_t len)
{
  if (limit <= 0)
    snprintf (buf, len, "max");
  else
    snprintf (buf, len, "%" PRId64, limit);
}

int cgroup_write_cpuset (const char *dir, json_t *cpu, berth_err *err)
{
  static const char *const keys[][2] = { { "cpus", "cpuset.cpus" }, { "mems", "cpuset.mems" } };
  for (size_t i = 0; i < 2; i++)
    {
      const char *s = NULL;
      int r = cgroup_json_string (cpu, keys[i][0], &s, "linux.resources.cpu", err);
      if (r < 0)
        return r;
      if (r > 0 && *s && (r = cgroup_write (dir, keys[i][1], s, err)) < 0)
        return r;
    }
  return 0;
}

int cgroup_write_pids (const char *dir, json_t *p, berth_err *err)
{
  int64_t limit = 0;
  int r = cgroup_json_int (p, "limit", &limit, "linux.resources.pids", err);
  if (r <= 0)
    return r;
  char value[32];
  cgroup_pids_max (limit, value, sizeof value);
  return cgroup_write (dir, "pids.max", value, err);
}

/* ------------------------------------------------------------------ */
/* device rules                                                        */

static const struct cgroup_device_rule default_devices[] = {
  { true, 'c', -1, -1, "m" },    /* mknod any char device */
  { true, 'b', -1, -1, "m" },    /* mknod any block device */
  { true, 'c', 1, 3, "rwm" },    /* /dev/null */
  { true, 'c', 1, 5, "rwm" },    /* /dev/zero */
  { true, 'c', 1, 7, "rwm" },    /* /dev/full */
  { true, 'c', 1, 8, "rwm" },    /* /dev/random */
  { true, 'c', 1, 9, "rwm" },    /* /dev/urandom */
  { true, 'c', 5, 0, "rwm" },    /* /dev/tty */
  { true, 'c', 5, 1, "rwm" },    /* /dev/console */
  { true, 'c', 5, 2, "rwm" },    /* /dev/ptmx */
  { true, 'c', 136, -1, "rwm" }, /* /dev/pts/N */
};

static int parse_device_rule (json_t *j, size_t i, struct cgroup_device_rule *r, berth_err *err)
{
  char where[64];
  snprintf (where, sizeof where, "linux.resources.devices[%zu]", i);
  if (!json_is_object (j))
    return berth_fail (err, 0, "%s: expected an object", where);
  const char *type = "a", *access = "rwm";
  int ret;
  if ((ret = cgroup_json_bool (j, "allow", &r->allow, where, err)) < 0)
    return ret;
  if (ret == 0)
    return berth_fail (err, 0, "%s.allow: missing", where);
  r->major = r->minor = -1;
  if (cgroup_json_string (j, "type", &type, where, err) < 0
      || cgroup_json_string (j, "access", &access, where, err) < 0
      || cgroup_json_int (j, "major", &r->major, where, err) < 0
      || cgroup_json_int (j, "minor", &r->minor, where, err) < 0)
    return -EINVAL;
  if (strlen (type) != 1 || strchr ("acb", type[0]) == NULL)
    return berth_fail (err, 0, "%s.type: invalid device type `%s` (a, c or b)", where, type);
  if (*access == '\0' || strlen (access) > 3 || strspn (access, "rwm") != strlen (access))
    return berth_fail (err, 0, "%s.access: invalid access `%s` (a subset of rwm)", where, access);
  if (r->major < -1 || r->major > INT32_MAX || r->minor < -1 || r->minor > INT32_MAX)
    return berth_fail (err, 0, "%s: invalid device number", where);
  r->type = type[0];
  snprintf (r->access, sizeof r->access, "%s", access);
  return 0;
}

int cgroup_device_rules (json_t *devices, struct cgroup_device_rule **rules, size_t *n, berth_err *err)
{
  if (!json_is_array (devices))
    return berth_fail (err, 0, "linux.resources.devices: expected an array");
  size_t n_user = json_array_size (devices);
  size_t n_default = sizeof default_devices / sizeof default_devices[0];
  cleanup_free struct cgroup_device_rule *v = calloc (n_user + n_default, sizeof *v);
  if (v == NULL)
    return berth_fail (err, ENOMEM, "devices");
  for (size_t i = 0; i < n_user; i++)
    {
      int r = parse_device_rule (json_array_get (devices, i), i, &v[i], err);
      if (r < 0)
        return r;
    }
  memcpy (v + n_user, default_devices, sizeof default_devices);
  *n = n_user + n_default;
  *rules = take_ptr (v);
  return 0;
}

void cgroup_device_rule_string (const struct cgroup_device_rule *r, char *buf, size_t len)
{
  char major[24] = "*", minor[24] = "*";
  if (r->major >= 0)
    snprintf (major, sizeof major, "%" PRId64, r->major);
  if (r->minor >= 0)
    snprintf (minor, sizeof minor, "%" PRId64, r->minor);
  snprintf (buf, len, "%c %s:%s %s", r->type, major, minor, r->access);
}

/* ------------------------------------------------------------------ */
/* layout discovery                                                    */

const char *cgroup_root (void)
{
  static char root[PATH_MAX];
  const char *r = getenv ("BERTH_CGROUP_ROOT");
  if (r == NULL || *r == '\0')
    return CGROUP_DEFAULT_ROOT;
  /* Paths are built as root + "/" + name: no trailing slash. */
  snprintf (root, sizeof root, "%s", r);
  for (size_t n = strlen (root); n > 1 && root[n - 1] == '/'; n--)
    root[n - 1] = '\0';
  return root;
}

static void hierarchy_clear (struct cgroup_hierarchy *h)
{
  free (h->mountpoint);
  free (h->name);
  free (h->options);
  free_strv (h->controllers);
  free (h->path);
  memset (h, 0, sizeof *h);
}

void cgroup_hierarchies_free (struct cgroup_hierarchy *hiers, size_t n)
{
  for (size_t i = 0; i < n; i++)
    hierarchy_clear (&hiers[i]);
  free (hiers);
}

bool cgroup_hierarchy_has (const struct cgroup_hierarchy *h, const char *controller)
{
  return strv_contains (h->controllers, controller);
}

struct cgroup_hierarchy *cgroup_find_v1 (struct cgroup_manager *m, const char *controller)
{
  for (size_t i = 0; i < m->n_hiers; i++)
    if (!m->hiers[i].v2 && cgroup_hierarchy_has (&m->hiers[i], controller))
      return &m->hiers[i];
  return NULL;
}

struct hier_list
{
  struct cgroup_hierarchy *v;
  size_t n;
};

static void hier_list_clear (struct hier_list *l)
{
  cgroup_hierarchies_free (l->v, l->n);
  l->v = NULL;
  l->n = 0;
}

/* Add a hierarchy; a later mount on the same point hides the earlier one. */
static int hier_list_add (struct hier_list *l, struct cgroup_hierarchy *h)
{
  for (size_t i = 0; i < l->n; i++)
    if (strcmp (l->v[i].mountpoint, h->mountpoint) == 0)
      {
        hierarchy_clear (&l->v[i]);
        l->v[i] = *h;
        return 0;
      }
  struct cgroup_hierarchy *v = realloc (l->v, (l->n + 1) * sizeof *v);
  if (v == NULL)
    return -ENOMEM;
  l->v = v;
  l->v[l->n++] = *h;
  return 0;
}

static char **read_v2_controllers (const char *mountpoint)
{
  cleanup_free char *s = NULL;
  berth_err err = NULL;
  if (cgroup_read (mountpoint, "cgroup.controllers", &s, &err) < 0)
    {
      berth_error_free (&err);
      return calloc (1, sizeof (char *));
    }
  return split (s, " \n");
}

/* Options of a v1 super block minus the ones that do not name the
 * hierarchy; name=... stays, it is needed to mount it again. */
static char *v1_options (const char *superopts)
{
  static const char *const skip[] = { "rw", "ro", "noprefix", "clone_children", "xattr",
                                      "cpuset_v2_mode", "favordynmods", "none", NULL };
  cleanup_strv char **opts = split (superopts, ",");
  if (opts == NULL)
    return NULL;
  char *out = calloc (1, strlen (superopts) + 1);
  if (out == NULL)
    return NULL;
  for (char **o = opts; *o; o++)
    {
      bool skipped = strncmp (*o, "release_agent=", 14) == 0;
      for (const char *const *s = skip; *s && !skipped; s++)
        skipped = strcmp (*o, *s) == 0;
      if (skipped)
        continue;
      if (*out)
        strcat (out, ",");
      strcat (out, *o);
    }
  return out;
}

static char **v1_controllers (const char *options)
{
  char **v = split (options, ",");
  if (v == NULL)
    return NULL;
  /* name=systemd is a named hierarchy, not a controller. */
  size_t j = 0;
  for (size_t i = 0; v[i]; i++)
    {
      if (strchr (v[i], '='))
        free (v[i]);
      else
        v[j++] = v[i];
    }
  v[j] = NULL;
  return v;
}

static int make_hierarchy (const char *root, const char *mountpoint, bool v2, const char *options,
                           struct cgroup_hierarchy *h)
{
  memset (h, 0, sizeof *h);
  h->v2 = v2;
  h->mountpoint = strdup (mountpoint);
  const char *name = strcmp (mountpoint, root) == 0 ? "" : mountpoint + strlen (root) + 1;
  h->name = strdup (name);
  h->options = strdup (options ? options : "");
  h->controllers = v2 ? read_v2_controllers (mountpoint) : v1_controllers (h->options);
  if (!h->mountpoint || !h->name || !h->options || !h->controllers)
    {
      hierarchy_clear (h);
      return -ENOMEM;
    }
  return 0;
}

/* mountinfo escapes blanks as \040. */
static void unescape_octal (char *s)
{
  char *w = s;
  for (char *r = s; *r;)
    {
      if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] && r[3])
        {
          *w++ = (char) (((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
          r += 4;
        }
      else
        *w++ = *r++;
    }
  *w = '\0';
}

/* Parse one mountinfo line ("id parent dev root mountpoint opts
 * [optional...] - fstype source superopts"); true for a cgroup mount at
 * ROOT or directly below it. */
static bool parse_mountinfo_line (char *line, const char *root, char **mountpoint, bool *v2, char **superopts)
{
  char *f[64];
  size_t n = 0;
  char *save = NULL;
  for (char *t = strtok_r (line, " \n", &save); t && n < 64; t = strtok_r (NULL, " \n", &save))
    f[n++] = t;
  size_t dash = 6;
  while (dash < n && strcmp (f[dash], "-") != 0)
    dash++;
  if (n < 5 || dash + 3 >= n)
    return false;
  const char *fstype = f[dash + 1];
  if (strcmp (fstype, "cgroup") != 0 && strcmp (fstype, "cgroup2") != 0)
    return false;
  char *mp = f[4];
  unescape_octal (mp);
  size_t rl = strlen (root);
  bool at_root = strcmp (mp, root) == 0;
  bool below = strncmp (mp, root, rl) == 0 && mp[rl] == '/' && mp[rl + 1] && strchr (mp + rl + 1, '/') == NULL;
  if (!at_root && !below)
    return false;
  *mountpoint = mp;
  *v2 = strcmp (fstype, "cgroup2") == 0;
  *superopts = f[dash + 3];
  return true;
}

static int discover_mountinfo (const char *root, struct hier_list *l, berth_err *err)
{
  cleanup_file FILE *f = fopen ("/proc/self/mountinfo", "re");
  if (f == NULL)
    return berth_fail_errno (err, "open `/proc/self/mountinfo`");
  cleanup_free char *line = NULL;
  size_t cap = 0;
  while (getline (&line, &cap, f) > 0)
    {
      char *mp, *opts;
      bool v2;
      if (!parse_mountinfo_line (line, root, &mp, &v2, &opts))
        continue;
      cleanup_free char *options = v2 ? strdup ("") : v1_options (opts);
      struct cgroup_hierarchy h;
      if (options == NULL || make_hierarchy (root, mp, v2, options, &h) < 0 || hier_list_add (l, &h) < 0)
        return berth_fail (err, ENOMEM, "read cgroup mounts");
    }
  return 0;
}

/* BERTH_CGROUP_ROOT pointing at a plain folder (tests): a top-level
 * cgroup.controllers means v2; otherwise every subfolder is a v1
 * hierarchy named after its controllers, and "unified" with a
 * cgroup.controllers is the hybrid's v2 part. */
static int discover_folder (const char *root, struct hier_list *l, berth_err *err)
{
  struct cgroup_hierarchy h;
  if (cgroup_file_exists (root, "cgroup.controllers"))
    {
      if (make_hierarchy (root, root, true, NULL, &h) < 0 || hier_list_add (l, &h) < 0)
        return berth_fail (err, ENOMEM, "read cgroup folders");
      return 0;
    }
  cleanup_dir DIR *d = opendir (root);
  if (d == NULL)
    return berth_fail_errno (err, "open `%s`", root);
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      if (de->d_type != DT_DIR || de->d_name[0] == '.')
        continue;
      cleanup_free char *mp = join_path (root, de->d_name);
      if (mp == NULL)
        return berth_fail (err, ENOMEM, "read cgroup folders");
      bool v2 = strcmp (de->d_name, "unified") == 0 && cgroup_file_exists (mp, "cgroup.controllers");
      const char *opts = strcmp (de->d_name, "systemd") == 0 ? "name=systemd" : de->d_name;
      if (make_hierarchy (root, mp, v2, v2 ? NULL : opts, &h) < 0 || hier_list_add (l, &h) < 0)
        return berth_fail (err, ENOMEM, "read cgroup folders");
    }
  return 0;
}

static bool is_fs (const char *path, unsigned long magic)
{
  struct statfs s;
  return statfs (path, &s) == 0 && (unsigned long) s.f_type == magic;
}

static enum cgroup_mode mode_of (const char *root, struct hier_list *l)
{
  if (is_fs (root, CGROUP2_SUPER_MAGIC))
    return CGROUP_MODE_V2;
  for (size_t i = 0; i < l->n; i++)
    {
      if (l->v[i].v2 && l->v[i].name[0] == '\0')
        return CGROUP_MODE_V2;
      if (l->v[i].v2)
        return CGROUP_MODE_HYBRID;
    }
  return CGROUP_MODE_V1;
}

/* Keep only what the mode uses: pure v2 has one hierarchy at the root;
 * v1 has no v2 part. */
static void keep_mode_hierarchies (enum cgroup_mode mode, struct hier_list *l)
{
  size_t j = 0;
  for (size_t i = 0; i < l->n; i++)
    {
      struct cgroup_hierarchy *h = &l->v[i];
      bool keep = mode == CGROUP_MODE_V2 ? h->v2 && h->name[0] == '\0'
                  : mode == CGROUP_MODE_V1 ? !h->v2
                                           : !h->v2 || strcmp (h->name, "unified") == 0;
      if (keep)
        l->v[j++] = *h;
      else
        hierarchy_clear (h);
    }
  l->n = j;
}

int cgroup_discover (const char *root, enum cgroup_mode *mode, struct cgroup_hierarchy **hiers, size_t *n,
                     berth_err *err)
{
  struct hier_list l = { 0 };
  int r = discover_mountinfo (root, &l, err);
  if (r == 0 && l.n == 0 && getenv ("BERTH_CGROUP_ROOT"))
    r = discover_folder (root, &l, err);
  if (r < 0)
    {
      hier_list_clear (&l);
      return r;
    }
  *mode = mode_of (root, &l);
  keep_mode_hierarchies (*mode, &l);
  if (l.n == 0)
    {
      hier_list_clear (&l);
      return berth_fail (err, ENOENT, "cgroup: no cgroup hierarchy mounted at `%s`", root);
    }
  *hiers = l.v;
  *n = l.n;
  return 0;
}

int cgroup_detect_mode (enum cgroup_mode *mode, berth_err *err)
{
  struct cgroup_hierarchy *hiers = NULL;
  size_t n = 0;
  int r = cgroup_discover (cgroup_root (), mode, &hiers, &n, err);
  if (r < 0)
    return r;
  cgroup_hierarchies_free (hiers, n);
  return 0;
}

const char *cgroup_mode_name (enum cgroup_mode mode)
{
  switch (mode)
    {
    case CGROUP_MODE_V1: return "v1";
    case CGROUP_MODE_V2: return "v2";
    case CGROUP_MODE_HYBRID: return "hybrid";
    }
  return "unknown";
}

/* ------------------------------------------------------------------ */
/* path resolution                                                     */

/* Lexically clean an absolute path; ".." may not climb above "/", and the
 * root itself is refused: the container must never own a hierarchy root. */
static int clean_path (const char *path, char **out, berth_err *err)
{
  cleanup_free char *copy = strdup (path);
  cleanup_free char *res = calloc (1, strlen (path) + 2);
  if (copy == NULL || res == NULL)
    return berth_fail (err, ENOMEM, "cgroup path");
  size_t len = 0;
  char *save = NULL;
  for (char *c = strtok_r (copy, "/", &save); c; c = strtok_r (NULL, "/", &save))
    {
      if (strcmp (c, ".") == 0)
        continue;
      if (strcmp (c, "..") == 0)
        {
          if (len == 0)
            return berth_fail (err, 0, "cgroup path `%s`: `..` escapes the cgroup root", path);
          while (len > 0 && res[len] != '/')
            len--;
          res[len] = '\0';
          continue;
        }
      len += (size_t) sprintf (res + len, "/%s", c);
    }
  if (len == 0)
    return berth_fail (err, 0, "cgroup path `%s`: resolves to the root cgroup", path);
  *out = take_ptr (res);
  return 0;
}

int cgroup_resolve_path_in (const char *own, const char *cgroups_path, const char *id, char **resolved,
                            berth_err *err)
{
  cleanup_free char *joined = NULL;
  int r;
  if (cgroups_path == NULL || *cgroups_path == '\0')
    {
      if (id == NULL || *id == '\0' || strchr (id, '/') || strcmp (id, "..") == 0 || strcmp (id, ".") == 0)
        return berth_fail (err, 0, "cgroup path: invalid container id `%s`", id ? id : "");
      r = asprintf (&joined, "/berth/%s", id);
    }
  else if (cgroups_path[0] == '/')
    r = asprintf (&joined, "%s", cgroups_path);
  else
    r = asprintf (&joined, "%s/%s", own && *own ? own : "/", cgroups_path);
  if (r < 0)
    return berth_fail (err, ENOMEM, "cgroup path");
  return clean_path (joined, resolved, err);
}

/* Our own cgroup, the base of relative paths.  One string must serve every
 * hierarchy, so take the unified one ("0::") when there is one, else the
 * name=systemd one, else the first v1 line. */
static int own_cgroup (char **out, berth_err *err)
{
  cleanup_free char *content = NULL;
  int r = berth_read_file ("/proc/self/cgroup", CGROUP_FILE_MAX, &content, NULL, err);
  if (r < 0)
    return r;
  const char *best = NULL;
  int best_rank = 0;
  char *save = NULL;
  for (char *line = strtok_r (content, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      char *c1 = strchr (line, ':');
      char *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
      if (c2 == NULL)
        continue;
      *c2 = '\0';
      int rank = strcmp (c1 + 1, "") == 0 ? 3 : strstr (c1 + 1, "name=systemd") ? 2 : 1;
      if (rank > best_rank)
        {
          best = c2 + 1;
          best_rank = rank;
        }
    }
  *out = strdup (best ? best : "/");
  return *out ? 0 : berth_fail (err, ENOMEM, "cgroup path");
}

int cgroup_resolve_path (const char *cgroups_path, const char *id, char **resolved, berth_err *err)
{
  cleanup_free char *own = NULL;
  if (cgroups_path && *cgroups_path && cgroups_path[0] != '/')
    {
      int r = own_cgroup (&own, err);
      if (r < 0)
        return r;
    }
  return cgroup_resolve_path_in (own, cgroups_path, id, resolved, err);
}

/* ------------------------------------------------------------------ */
/* manager                                                             */

int cgroup_manager_new (const char *resolved_path, struct cgroup_manager **out, berth_err *err)
{
  cleanup_free char *path = NULL;
  if (resolved_path == NULL || resolved_path[0] != '/')
    return berth_fail (err, 0, "cgroup path `%s`: must be absolute", resolved_path ? resolved_path : "");
  int r = clean_path (resolved_path, &path, err);
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
