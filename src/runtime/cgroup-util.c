/* Helpers shared by the cgroup manager and both backends: strings, files,
 * mounts, JSON fields, hugetlb, v1 -> v2 value conversions, device rules. */
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

char *cgroup_join_path (const char *dir, const char *name)
{
  char *s = NULL;
  if (asprintf (&s, "%s/%s", dir, name) < 0)
    return NULL;
  return s;
}

void cgroup_free_strv (char **v)
{
  if (v == NULL)
    return;
  for (char **s = v; *s; s++)
    free (*s);
  free (v);
}

/* Split S at any of SEPS, dropping empty pieces. */
char **cgroup_split (const char *s, const char *seps)
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
          cgroup_free_strv (v);
          return NULL;
        }
    }
  return v;
}

bool cgroup_strv_contains (char **v, const char *s)
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
  cleanup_free char *path = cgroup_join_path (dir, file);
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
  cleanup_free char *path = cgroup_join_path (dir, file);
  cleanup_free char *line = NULL;
  if (path == NULL || asprintf (&line, "%s\n", entry) < 0)
    return berth_fail (err, ENOMEM, "write `%s/%s`", dir, file);
  return write_fd_value (path, O_APPEND, line, err);
}

int cgroup_read (const char *dir, const char *file, char **out, berth_err *err)
{
  cleanup_free char *path = cgroup_join_path (dir, file);
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
  cleanup_free char *path = cgroup_join_path (dir, file);
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
      cleanup_free char *sub = cgroup_join_path (dir, de->d_name);
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
      cleanup_free char *sub = cgroup_join_path (dir, de->d_name);
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

/* Map V from the v1 range [LO, HI] onto v2's weights [1, 10000] (runc's
 * formula); 0 stays "unset".  V is clamped first: the formula underflows
 * below LO. */
static uint64_t v1_to_v2_weight (uint64_t v, uint64_t lo, uint64_t hi)
{
  if (v == 0)
    return 0;
  v = v < lo ? lo : v > hi ? hi : v;
  return 1 + ((v - lo) * 9999) / (hi - lo);
}

uint64_t cgroup_shares_to_weight (uint64_t shares)
{
  return v1_to_v2_weight (shares, 2, 262144);
}

uint64_t cgroup_blkio_weight_to_io_weight (uint64_t weight)
{
  return v1_to_v2_weight (weight, 10, 1000);
}

int cgroup_apply_section (const struct cgroup_applier *table, const char *controller, const char *dir,
                          json_t *section, berth_err *err)
{
  for (; table->controller; table++)
    if (strcmp (table->controller, controller) == 0)
      return table->apply (dir, section, err);
  return berth_fail (err, 0, "cgroup: no writer for controller `%s`", controller);
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

