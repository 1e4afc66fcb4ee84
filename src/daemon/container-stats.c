/* A running container's cgroup: where it is, which pids it holds, and its
 * counters in Docker's stats shape (see container-stats.h). */
#include "daemon/container-stats.h"
#include "common/cleanup.h"
#include "common/clock.h"
#include "common/fs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Counter files are small; memory.stat is the largest, a few KiB. */
#define CG_FILE_MAX (1024 * 1024)
/* Sub-cgroups deeper than this are not looked into for pids. */
#define CG_MAX_DEPTH 32

#define ZERO_TIME "0001-01-01T00:00:00Z"

void ct_cgroup_free (struct ct_cgroup *cg)
{
  free (cg->cpu);
  free (cg->cpuacct);
  free (cg->memory);
  free (cg->pids);
  free (cg->blkio);
  free (cg->unified);
  memset (cg, 0, sizeof *cg);
}

/* ---- locating the cgroup ---- */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal (char *s)
{
  char *out = s;
  for (char *p = s; *p;)
    {
      if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7')
        {
          *out++ = (char) (((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0'));
          p += 4;
        }
      else
        *out++ = *p++;
    }
  *out = '\0';
}

static bool list_has (const char *list, const char *item)
{
  size_t n = strlen (item);
  for (const char *p = list; p && *p;)
    {
      size_t len = strcspn (p, ",");
      if (len == n && strncmp (p, item, n) == 0)
        return true;
      p += len;
      if (*p == ',')
        p++;
    }
  return false;
}

struct mount_rec
{
  char *root, *point, *fstype, *superopts;
};

/* Split a mountinfo LINE in place: fields 4 and 5 (root, mount point),
 * then after the " - " separator the type and the super options. */
static bool parse_mount_line (char *line, struct mount_rec *m)
{
  char *fields[6] = { 0 };
  char *save = NULL;
  char *tok = strtok_r (line, " ", &save);
  for (int i = 0; tok && i < 6; i++)
    {
      fields[i] = tok;
      if (i < 5)
        tok = strtok_r (NULL, " ", &save);
    }
  if (fields[5] == NULL)
    return false;
  /* Optional fields ("shared:1 master:2") end at "-". */
  while ((tok = strtok_r (NULL, " ", &save)) && strcmp (tok, "-") != 0)
    ;
  if (tok == NULL)
    return false;
  m->root = fields[3];
  m->point = fields[4];
  m->fstype = strtok_r (NULL, " ", &save);
  strtok_r (NULL, " ", &save); /* the source */
  m->superopts = strtok_r (NULL, " \n", &save);
  if (m->fstype == NULL || m->superopts == NULL)
    return false;
  unescape_octal (m->root);
  unescape_octal (m->point);
  return true;
}

/* The folder of cgroup PATH under mount M, or NULL when the mount shows
 * another part of the hierarchy. */
static char *folder_under (const struct mount_rec *m, const char *path)
{
  const char *rest = path;
  if (strcmp (m->root, "/") != 0)
    {
      size_t n = strlen (m->root);
      if (strncmp (path, m->root, n) != 0 || (path[n] != '/' && path[n] != '\0'))
        return NULL;
      rest = path + n;
    }
  if (strcmp (rest, "/") == 0)
    rest = "";
  char *out = NULL;
  return asprintf (&out, "%s%s", m->point, rest) < 0 ? NULL : out;
}

/* The folder of PATH in the hierarchy of CONTROLLER (v1), or in the
 * cgroup2 hierarchy (CONTROLLER NULL). */
static char *find_folder (const char *mountinfo, const char *controller, const char *path)
{
  for (const char *p = mountinfo; p && *p;)
    {
      size_t len = strcspn (p, "\n");
      cleanup_free char *line = strndup (p, len);
      p += len;
      if (*p == '\n')
        p++;
      struct mount_rec m;
      if (line == NULL || !parse_mount_line (line, &m))
        continue;
      bool match = controller ? strcmp (m.fstype, "cgroup") == 0 && list_has (m.superopts, controller)
                              : strcmp (m.fstype, "cgroup2") == 0;
      char *folder = match ? folder_under (&m, path) : NULL;
      if (folder)
        return folder;
    }
  return NULL;
}

static void set_folder (char **slot, const char *mountinfo, const char *controller, const char *path)
{
  if (*slot == NULL)
    *slot = find_folder (mountinfo, controller, path);
}

/* One line of /proc/<pid>/cgroup: "ID:CONTROLLERS:PATH". */
static void use_cgroup_line (const char *line, const char *mountinfo, const char *id, struct ct_cgroup *cg)
{
  const char *c1 = strchr (line, ':');
  const char *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
  if (c2 == NULL || c2[1] != '/')
    return;
  const char *path = c2 + 1;
  if (id && strstr (path, id) == NULL)
    return;
  cleanup_free char *ctrls = strndup (c1 + 1, (size_t) (c2 - c1 - 1));
  if (ctrls == NULL)
    return;
  if (*ctrls == '\0')
    {
      set_folder (&cg->unified, mountinfo, NULL, path);
      return;
    }
  static const struct { const char *name; size_t off; } wanted[] = {
    { "cpu", offsetof (struct ct_cgroup, cpu) },       { "cpuacct", offsetof (struct ct_cgroup, cpuacct) },
    { "memory", offsetof (struct ct_cgroup, memory) }, { "pids", offsetof (struct ct_cgroup, pids) },
    { "blkio", offsetof (struct ct_cgroup, blkio) },
  };
  for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++)
    if (list_has (ctrls, wanted[i].name))
      set_folder ((char **) ((char *) cg + wanted[i].off), mountinfo, wanted[i].name, path);
}

int ct_cgroup_parse (const char *proc_cgroup, const char *mountinfo, const char *id, struct ct_cgroup *cg,
                     berth_err *err)
{
  memset (cg, 0, sizeof *cg);
  for (const char *p = proc_cgroup; p && *p;)
    {
      size_t len = strcspn (p, "\n");
      cleanup_free char *line = strndup (p, len);
      if (line == NULL)
        {
          ct_cgroup_free (cg);
          return berth_fail (err, ENOMEM, "cgroup");
        }
      use_cgroup_line (line, mountinfo, id, cg);
      p += len;
      if (*p == '\n')
        p++;
    }
  if (!cg->cpu && !cg->cpuacct && !cg->memory && !cg->pids && !cg->blkio && !cg->unified)
    return berth_fail (err, ENOENT, "the container's cgroup was not found");
  return 0;
}

int ct_cgroup_locate (pid_t pid, const char *id, struct ct_cgroup *cg, berth_err *err)
{
  char path[64];
  cleanup_free char *procs = NULL, *mountinfo = NULL;
  snprintf (path, sizeof path, "/proc/%d/cgroup", (int) pid);
  if (berth_read_file (path, CG_FILE_MAX, &procs, NULL, err) < 0
      || berth_read_file ("/proc/self/mountinfo", 16 * CG_FILE_MAX, &mountinfo, NULL, err) < 0)
    return -ENOENT;
  return ct_cgroup_parse (procs, mountinfo, id, cg, err);
}

/* ---- pids ---- */

struct pid_list
{
  pid_t *v;
  size_t n, cap;
};

static int pid_list_add (struct pid_list *l, pid_t pid)
{
  if (l->n == l->cap)
    {
      size_t cap = l->cap ? l->cap * 2 : 64;
      pid_t *nv = realloc (l->v, cap * sizeof *nv);
      if (nv == NULL)
        return -ENOMEM;
      l->v = nv;
      l->cap = cap;
    }
  l->v[l->n++] = pid;
  return 0;
}

static int collect_pids (const char *dir, int depth, struct pid_list *l)
{
  cleanup_free char *procs_path = NULL, *procs = NULL;
  if (asprintf (&procs_path, "%s/cgroup.procs", dir) < 0)
    return -ENOMEM;
  if (berth_read_file (procs_path, 16 * CG_FILE_MAX, &procs, NULL, NULL) < 0)
    return 0; /* the cgroup went away: its processes are gone too */
  for (char *p = procs; *p;)
    {
      char *end;
      long v = strtol (p, &end, 10);
      if (end == p)
        break;
      if (v > 0 && pid_list_add (l, (pid_t) v) < 0)
        return -ENOMEM;
      p = end;
      while (*p == '\n')
        p++;
    }
  if (depth >= CG_MAX_DEPTH)
    return 0;
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *de;
  while (d && (de = readdir (d)))
    {
      if (de->d_type != DT_DIR || strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      cleanup_free char *sub = NULL;
      if (asprintf (&sub, "%s/%s", dir, de->d_name) < 0 || collect_pids (sub, depth + 1, l) < 0)
        return -ENOMEM;
    }
  return 0;
}

static int cmp_pid (const void *a, const void *b)
{
  pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
  return x < y ? -1 : x > y;
}

int ct_cgroup_pids (const struct ct_cgroup *cg, pid_t **pids, size_t *n, berth_err *err)
{
  const char *dir = cg->pids     ? cg->pids
                    : cg->memory ? cg->memory
                    : cg->cpu    ? cg->cpu
                    : cg->cpuacct ? cg->cpuacct
                                  : cg->unified;
  struct pid_list l = { 0 };
  if (dir == NULL)
    return berth_fail (err, ENOENT, "the container's cgroup was not found");
  if (collect_pids (dir, 0, &l) < 0)
    {
      free (l.v);
      return berth_fail (err, ENOMEM, "list the container's processes");
    }
  if (l.n > 0)
    qsort (l.v, l.n, sizeof *l.v, cmp_pid);
  size_t k = 0;
  for (size_t i = 0; i < l.n; i++)
    if (k == 0 || l.v[k - 1] != l.v[i])
      l.v[k++] = l.v[i];
  *pids = l.v;
  *n = k;
  return 0;
}

/* ---- parsers ---- */

static uint64_t parse_u64 (const char *s, const char **end)
{
  char *e;
  errno = 0;
  unsigned long long v = strtoull (s, &e, 10);
  if (end)
    *end = e;
  return errno == ERANGE ? UINT64_MAX : (uint64_t) v;
}

/* JSON numbers are signed 64-bit in jansson. */
static json_t *json_u64 (uint64_t v)
{
  return json_integer (v > (uint64_t) INT64_MAX ? INT64_MAX : (json_int_t) v);
}

void ct_parse_keyed (const char *content, json_t *obj)
{
  for (const char *p = content; p && *p;)
    {
      size_t len = strcspn (p, "\n");
      const char *sp = memchr (p, ' ', len);
      if (sp && sp > p && isdigit ((unsigned char) sp[1]))
        {
          cleanup_free char *key = strndup (p, (size_t) (sp - p));
          if (key)
            json_object_set_new (obj, key, json_u64 (parse_u64 (sp + 1, NULL)));
        }
      p += len;
      if (*p == '\n')
        p++;
    }
}

bool ct_keyed_u64 (const char *content, const char *key, uint64_t *out)
{
  size_t n = strlen (key);
  for (const char *p = content; p && *p;)
    {
      if (strncmp (p, key, n) == 0 && p[n] == ' ' && isdigit ((unsigned char) p[n + 1]))
        {
          *out = parse_u64 (p + n + 1, NULL);
          return true;
        }
      p += strcspn (p, "\n");
      if (*p == '\n')
        p++;
    }
  return false;
}

bool ct_parse_limit (const char *content, uint64_t *out, bool *is_max)
{
  *is_max = false;
  if (content == NULL)
    return false;
  if (strncmp (content, "max", 3) == 0)
    {
      *is_max = true;
      *out = 0;
      return true;
    }
  if (!isdigit ((unsigned char) content[0]))
    return false;
  *out = parse_u64 (content, NULL);
  return true;
}

static json_t *blkio_entry (unsigned long major, unsigned long minor, const char *op, uint64_t value)
{
  return json_pack ("{s:I, s:I, s:s, s:o}", "major", (json_int_t) major, "minor", (json_int_t) minor, "op", op,
                    "value", json_u64 (value));
}

json_t *ct_parse_blkio_v1 (const char *content)
{
  json_t *arr = json_array ();
  for (const char *p = content; p && *p;)
    {
      size_t len = strcspn (p, "\n");
      cleanup_free char *line = strndup (p, len);
      unsigned long major, minor;
      char op[32];
      unsigned long long value;
      /* "Total N" lines have no device: they are skipped, as Docker does. */
      if (line && sscanf (line, "%lu:%lu %31s %llu", &major, &minor, op, &value) == 4)
        json_array_append_new (arr, blkio_entry (major, minor, op, value));
      p += len;
      if (*p == '\n')
        p++;
    }
  return arr;
}

/* The value of "KEY=N" among the fields of LINE. */
static bool field_value (const char *line, const char *key, uint64_t *out)
{
  size_t n = strlen (key);
  for (const char *p = strchr (line, ' '); p; p = strchr (p + 1, ' '))
    if (strncmp (p + 1, key, n) == 0 && p[1 + n] == '=')
      {
        *out = parse_u64 (p + 2 + n, NULL);
        return true;
      }
  return false;
}

json_t *ct_parse_io_v2 (const char *content, const char *key_read, const char *key_write)
{
  json_t *arr = json_array ();
  for (const char *p = content; p && *p;)
    {
      size_t len = strcspn (p, "\n");
      cleanup_free char *line = strndup (p, len);
      unsigned long major, minor;
      uint64_t r = 0, w = 0;
      if (line && sscanf (line, "%lu:%lu", &major, &minor) == 2)
        {
          field_value (line, key_read, &r);
          field_value (line, key_write, &w);
          json_array_append_new (arr, blkio_entry (major, minor, "read", r));
          json_array_append_new (arr, blkio_entry (major, minor, "write", w));
        }
      p += len;
      if (*p == '\n')
        p++;
    }
  return arr;
}

bool ct_parse_proc_stat (const char *content, long clock_ticks, uint64_t *system_ns, unsigned *online)
{
  bool found = false;
  *online = 0;
  for (const char *p = content; p && *p;)
    {
      if (strncmp (p, "cpu ", 4) == 0)
        {
          const char *q = p + 4;
          uint64_t ticks = 0;
          int fields = 0;
          for (; fields < 7; fields++)
            {
              while (*q == ' ')
                q++;
              if (!isdigit ((unsigned char) *q))
                break;
              ticks += parse_u64 (q, &q);
            }
          if (fields == 7 && clock_ticks > 0)
            {
              *system_ns = ticks * (1000000000ULL / (uint64_t) clock_ticks);
              found = true;
            }
        }
      else if (strncmp (p, "cpu", 3) == 0 && isdigit ((unsigned char) p[3]))
        (*online)++;
      p += strcspn (p, "\n");
      if (*p == '\n')
        p++;
    }
  return found;
}

json_t *ct_parse_net_dev (const char *content)
{
  json_t *nets = json_object ();
  for (const char *p = content; p && *p;)
    {
      size_t len = strcspn (p, "\n");
      cleanup_free char *line = strndup (p, len);
      char *colon = line ? strchr (line, ':') : NULL;
      p += len;
      if (*p == '\n')
        p++;
      if (colon == NULL || strchr (line, '|'))
        continue;
      *colon = '\0';
      char *name = line;
      while (*name == ' ')
        name++;
      unsigned long long f[16];
      if (strcmp (name, "lo") == 0
          || sscanf (colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
                     &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &f[10], &f[11], &f[12],
                     &f[13], &f[14], &f[15])
                 != 16)
        continue;
      json_object_set_new (nets, name,
                           json_pack ("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "rx_bytes", json_u64 (f[0]),
                                      "rx_packets", json_u64 (f[1]), "rx_errors", json_u64 (f[2]), "rx_dropped",
                                      json_u64 (f[3]), "tx_bytes", json_u64 (f[8]), "tx_packets", json_u64 (f[9]),
                                      "tx_errors", json_u64 (f[10]), "tx_dropped", json_u64 (f[11])));
    }
  if (json_object_size (nets) == 0)
    {
      json_decref (nets);
      return NULL;
    }
  return nets;
}

/* ---- reading the counters ---- */

static char *read_cg (const char *dir, const char *file)
{
  if (dir == NULL)
    return NULL;
  cleanup_free char *path = NULL;
  char *out = NULL;
  if (asprintf (&path, "%s/%s", dir, file) < 0 || berth_read_file (path, CG_FILE_MAX, &out, NULL, NULL) < 0)
    return NULL;
  return out;
}

static bool read_cg_u64 (const char *dir, const char *file, uint64_t *out)
{
  cleanup_free char *s = read_cg (dir, file);
  if (s == NULL || !isdigit ((unsigned char) s[0]))
    return false;
  *out = parse_u64 (s, NULL);
  return true;
}

static void read_percpu (const char *content, struct ct_stats_sample *s)
{
  size_t cap = 0;
  for (const char *p = content; p && *p;)
    {
      while (*p == ' ' || *p == '\n')
        p++;
      if (!isdigit ((unsigned char) *p))
        break;
      uint64_t v = parse_u64 (p, &p);
      if (s->n_percpu == cap)
        {
          cap = cap ? cap * 2 : 16;
          uint64_t *nv = realloc (s->percpu, cap * sizeof *nv);
          if (nv == NULL)
            return;
          s->percpu = nv;
        }
      s->percpu[s->n_percpu++] = v;
    }
}

static void read_cpu_v1 (const struct ct_cgroup *cg, struct ct_stats_sample *s)
{
  if (!read_cg_u64 (cg->cpuacct, "cpuacct.usage", &s->cpu_total))
    return;
  s->has_cpu = true;
  cleanup_free char *percpu = read_cg (cg->cpuacct, "cpuacct.usage_percpu");
  read_percpu (percpu, s);
  /* cpuacct.stat counts clock ticks (USER_HZ). */
  cleanup_free char *stat = read_cg (cg->cpuacct, "cpuacct.stat");
  long hz = sysconf (_SC_CLK_TCK);
  uint64_t user = 0, system = 0;
  if (stat && hz > 0 && ct_keyed_u64 (stat, "user", &user) && ct_keyed_u64 (stat, "system", &system))
    {
      s->cpu_user = user * (1000000000ULL / (uint64_t) hz);
      s->cpu_kernel = system * (1000000000ULL / (uint64_t) hz);
    }
  cleanup_free char *cpu_stat = read_cg (cg->cpu, "cpu.stat");
  ct_keyed_u64 (cpu_stat, "nr_periods", &s->periods);
  ct_keyed_u64 (cpu_stat, "nr_throttled", &s->throttled_periods);
  ct_keyed_u64 (cpu_stat, "throttled_time", &s->throttled_time);
}

static void read_cpu_v2 (const struct ct_cgroup *cg, struct ct_stats_sample *s)
{
  cleanup_free char *stat = read_cg (cg->unified, "cpu.stat");
  uint64_t v;
  if (stat == NULL || !ct_keyed_u64 (stat, "usage_usec", &v))
    return;
  s->has_cpu = true;
  s->cpu_total = v * 1000;
  if (ct_keyed_u64 (stat, "user_usec", &v))
    s->cpu_user = v * 1000;
  if (ct_keyed_u64 (stat, "system_usec", &v))
    s->cpu_kernel = v * 1000;
  ct_keyed_u64 (stat, "nr_periods", &s->periods);
  ct_keyed_u64 (stat, "nr_throttled", &s->throttled_periods);
  if (ct_keyed_u64 (stat, "throttled_usec", &v))
    s->throttled_time = v * 1000;
}

static void read_memory (const struct ct_cgroup *cg, uint64_t machine_memory, struct ct_stats_sample *s)
{
  bool is_max = false;
  if (cg->memory && read_cg_u64 (cg->memory, "memory.usage_in_bytes", &s->mem_usage))
    {
      s->has_memory = s->memory_v1 = true;
      read_cg_u64 (cg->memory, "memory.max_usage_in_bytes", &s->mem_max_usage);
      read_cg_u64 (cg->memory, "memory.limit_in_bytes", &s->mem_limit);
      read_cg_u64 (cg->memory, "memory.failcnt", &s->mem_failcnt);
    }
  else if (cg->unified && read_cg_u64 (cg->unified, "memory.current", &s->mem_usage))
    {
      s->has_memory = true;
      cleanup_free char *max = read_cg (cg->unified, "memory.max");
      ct_parse_limit (max, &s->mem_limit, &is_max);
    }
  else
    return;
  cleanup_free char *stat = read_cg (s->memory_v1 ? cg->memory : cg->unified, "memory.stat");
  s->mem_stat = json_object ();
  ct_parse_keyed (stat, s->mem_stat);
  /* An unlimited cgroup reports a huge number (v1) or "max" (v2); Docker
   * shows the host's memory instead. */
  if (machine_memory > 0 && (is_max || s->mem_limit == 0 || s->mem_limit > machine_memory))
    s->mem_limit = machine_memory;
}

static void read_pids (const struct ct_cgroup *cg, struct ct_stats_sample *s)
{
  const char *dir = cg->pids;
  if (dir == NULL && cg->unified)
    {
      cleanup_free char *probe = read_cg (cg->unified, "pids.current");
      dir = probe ? cg->unified : NULL;
    }
  if (dir == NULL || !read_cg_u64 (dir, "pids.current", &s->pids_current))
    return;
  s->has_pids = true;
  cleanup_free char *max = read_cg (dir, "pids.max");
  bool is_max;
  if (!ct_parse_limit (max, &s->pids_limit, &is_max))
    s->pids_limit = 0;
}

static void read_blkio (const struct ct_cgroup *cg, struct ct_stats_sample *s)
{
  if (cg->blkio)
    {
      /* The throttle files count every I/O; the CFQ/BFQ ones
       * (blkio.io_*) only exist with those schedulers. */
      cleanup_free char *bytes = read_cg (cg->blkio, "blkio.throttle.io_service_bytes_recursive");
      cleanup_free char *ops = read_cg (cg->blkio, "blkio.throttle.io_serviced_recursive");
      if (bytes == NULL)
        bytes = read_cg (cg->blkio, "blkio.io_service_bytes_recursive");
      if (ops == NULL)
        ops = read_cg (cg->blkio, "blkio.io_serviced_recursive");
      s->io_bytes = bytes ? ct_parse_blkio_v1 (bytes) : NULL;
      s->io_ops = ops ? ct_parse_blkio_v1 (ops) : NULL;
      return;
    }
  cleanup_free char *io = read_cg (cg->unified, "io.stat");
  if (io)
    {
      s->io_bytes = ct_parse_io_v2 (io, "rbytes", "wbytes");
      s->io_ops = ct_parse_io_v2 (io, "rios", "wios");
    }
}

static bool same_file (const char *a, const char *b)
{
  struct stat x, y;
  return stat (a, &x) == 0 && stat (b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* The container's interfaces, unless it shares the host's network. */
static void read_networks (pid_t pid, struct ct_stats_sample *s)
{
  char ns[64], dev[64];
  snprintf (ns, sizeof ns, "/proc/%d/ns/net", (int) pid);
  snprintf (dev, sizeof dev, "/proc/%d/net/dev", (int) pid);
  if (pid <= 0 || same_file (ns, "/proc/self/ns/net"))
    return;
  cleanup_free char *content = NULL;
  if (berth_read_file (dev, CG_FILE_MAX, &content, NULL, NULL) == 0)
    s->networks = ct_parse_net_dev (content);
}

void ct_stats_read (const struct ct_cgroup *cg, pid_t pid, uint64_t machine_memory, struct ct_stats_sample *s)
{
  memset (s, 0, sizeof *s);
  s->read = berth_rfc3339_now ();
  if (cg->cpuacct)
    read_cpu_v1 (cg, s);
  if (!s->has_cpu && cg->unified)
    read_cpu_v2 (cg, s);
  cleanup_free char *stat = NULL;
  if (berth_read_file ("/proc/stat", CG_FILE_MAX, &stat, NULL, NULL) == 0)
    ct_parse_proc_stat (stat, sysconf (_SC_CLK_TCK), &s->system_cpu, &s->online_cpus);
  read_memory (cg, machine_memory, s);
  read_pids (cg, s);
  read_blkio (cg, s);
  read_networks (pid, s);
}

void ct_stats_sample_clear (struct ct_stats_sample *s)
{
  free (s->read);
  free (s->percpu);
  if (s->mem_stat)
    json_decref (s->mem_stat);
  if (s->io_bytes)
    json_decref (s->io_bytes);
  if (s->io_ops)
    json_decref (s->io_ops);
  if (s->networks)
    json_decref (s->networks);
  memset (s, 0, sizeof *s);
}

/* ---- Docker's JSON ---- */

static json_t *throttling_json (const struct ct_stats_sample *s)
{
  return json_pack ("{s:o, s:o, s:o}", "periods", json_u64 (s ? s->periods : 0), "throttled_periods",
                    json_u64 (s ? s->throttled_periods : 0), "throttled_time", json_u64 (s ? s->throttled_time : 0));
}

/* S NULL: the zero value (Docker omits system_cpu_usage and online_cpus
 * then: they are omitempty). */
static json_t *cpu_json (const struct ct_stats_sample *s)
{
  json_t *usage = json_object ();
  json_object_set_new (usage, "total_usage", json_u64 (s ? s->cpu_total : 0));
  if (s && s->n_percpu)
    {
      json_t *per = json_array ();
      for (size_t i = 0; i < s->n_percpu; i++)
        json_array_append_new (per, json_u64 (s->percpu[i]));
      json_object_set_new (usage, "percpu_usage", per);
    }
  json_object_set_new (usage, "usage_in_kernelmode", json_u64 (s ? s->cpu_kernel : 0));
  json_object_set_new (usage, "usage_in_usermode", json_u64 (s ? s->cpu_user : 0));
  json_t *cpu = json_object ();
  json_object_set_new (cpu, "cpu_usage", usage);
  if (s && s->system_cpu)
    json_object_set_new (cpu, "system_cpu_usage", json_u64 (s->system_cpu));
  if (s && s->online_cpus)
    json_object_set_new (cpu, "online_cpus", json_integer (s->online_cpus));
  json_object_set_new (cpu, "throttling_data", throttling_json (s));
  return cpu;
}

static json_t *memory_json (const struct ct_stats_sample *s)
{
  json_t *m = json_object ();
  if (!s->has_memory)
    return m;
  json_object_set_new (m, "usage", json_u64 (s->mem_usage));
  if (s->memory_v1 && s->mem_max_usage)
    json_object_set_new (m, "max_usage", json_u64 (s->mem_max_usage));
  json_object_set (m, "stats", s->mem_stat ? s->mem_stat : json_object ());
  if (s->mem_failcnt)
    json_object_set_new (m, "failcnt", json_u64 (s->mem_failcnt));
  json_object_set_new (m, "limit", json_u64 (s->mem_limit));
  return m;
}

static json_t *pids_json (const struct ct_stats_sample *s)
{
  json_t *p = json_object ();
  if (s && s->has_pids)
    json_object_set_new (p, "current", json_u64 (s->pids_current));
  if (s && s->has_pids && s->pids_limit)
    json_object_set_new (p, "limit", json_u64 (s->pids_limit));
  return p;
}

/* Docker fills the two it can read and leaves the CFQ-only ones null
 * (the zero value: all null). */
static json_t *blkio_json (const struct ct_stats_sample *s)
{
  static const char *const rest[] = { "io_queue_recursive", "io_service_time_recursive", "io_wait_time_recursive",
                                      "io_merged_recursive", "io_time_recursive", "sectors_recursive" };
  json_t *b = json_object ();
  json_object_set (b, "io_service_bytes_recursive", s && s->io_bytes ? s->io_bytes : json_null ());
  json_object_set (b, "io_serviced_recursive", s && s->io_ops ? s->io_ops : json_null ());
  for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++)
    json_object_set_new (b, rest[i], json_null ());
  return b;
}

static json_t *stats_object (const char *read, const char *preread, json_t *pids, json_t *blkio, json_t *cpu,
                             json_t *precpu, json_t *memory, const char *name, const char *id)
{
  return json_pack ("{s:s, s:s, s:o, s:o, s:i, s:{}, s:o, s:o, s:o, s:s, s:s}", "read", read, "preread", preread,
                    "pids_stats", pids, "blkio_stats", blkio, "num_procs", 0, "storage_stats", "cpu_stats", cpu,
                    "precpu_stats", precpu, "memory_stats", memory, "name", name, "id", id);
}

json_t *ct_stats_json (const struct ct_stats_sample *now, const struct ct_stats_sample *pre, const char *name,
                       const char *id)
{
  json_t *j = stats_object (now->read ? now->read : ZERO_TIME, pre && pre->read ? pre->read : ZERO_TIME,
                            pids_json (now), blkio_json (now), cpu_json (now), cpu_json (pre), memory_json (now),
                            name, id);
  if (j && now->networks)
    json_object_set (j, "networks", now->networks);
  return j;
}

json_t *ct_stats_zero_json (const char *name, const char *id)
{
  return stats_object (ZERO_TIME, ZERO_TIME, pids_json (NULL), blkio_json (NULL), cpu_json (NULL), cpu_json (NULL),
                       json_object (), name, id);
}

/* ---- top ---- */

int top_check_ps_args (const char *ps_args, berth_err *err)
{
  for (const char *eq = strchr (ps_args, '='); eq; eq = strchr (eq + 1, '='))
    {
      const char *k = eq;
      while (k > ps_args && !isspace ((unsigned char) k[-1]))
        k--;
      /* Docker's pattern wants blanks before the key. */
      if (k == ps_args)
        continue;
      const char *v = eq + 1;
      while (isspace ((unsigned char) *v))
        v++;
      if (strncmp (v, "PID", 3) != 0)
        continue;
      size_t vlen = 0;
      while (v[vlen] && !isspace ((unsigned char) v[vlen]))
        vlen++;
      if ((size_t) (eq - k) != 3 || strncmp (k, "pid", 3) != 0)
        return berth_fail_as (err, EINVAL, "specifying \"%.*s=%.*s\" is not allowed", (int) (eq - k), k, (int) vlen,
                              v);
    }
  return 0;
}

size_t top_split_args (char *ps_args, const char **argv, size_t first, size_t max)
{
  size_t n = first;
  char *save = NULL;
  for (char *tok = strtok_r (ps_args, " ", &save); tok && n + 1 < max; tok = strtok_r (NULL, " ", &save))
    argv[n++] = tok;
  argv[n] = NULL;
  return n;
}

/* Split LINE on ASCII blanks into a new array of strings. */
static json_t *fields_ascii (const char *line)
{
  json_t *arr = json_array ();
  for (const char *p = line; *p;)
    {
      while (*p && isspace ((unsigned char) *p))
        p++;
      size_t len = 0;
      while (p[len] && !isspace ((unsigned char) p[len]))
        len++;
      if (len)
        json_array_append_new (arr, json_stringn (p, len));
      p += len;
    }
  return arr;
}

/* Docker's row: as many columns as titles, the last one joining the rest
 * (a command line with its arguments). */
static json_t *process_row (json_t *fields, size_t n_titles)
{
  json_t *row = json_array ();
  size_t n = json_array_size (fields);
  for (size_t i = 0; i + 1 < n_titles; i++)
    json_array_append_new (row, i < n ? json_incref (json_array_get (fields, i)) : json_string (""));
  size_t len = 0;
  for (size_t i = n_titles - 1; i < n; i++)
    len += strlen (json_string_value (json_array_get (fields, i))) + 1;
  char *last = calloc (1, len + 1);
  for (size_t i = n_titles - 1; last && i < n; i++)
    {
      if (i > n_titles - 1)
        strcat (last, " ");
      strcat (last, json_string_value (json_array_get (fields, i)));
    }
  json_array_append_new (row, json_string (last ? last : ""));
  free (last);
  return row;
}

static bool has_pid (const pid_t *pids, size_t n, long pid)
{
  pid_t key = (pid_t) pid;
  return pid > 0 && pid <= INT32_MAX && bsearch (&key, pids, n, sizeof *pids, cmp_pid) != NULL;
}

int top_parse_ps (const char *output, const pid_t *pids, size_t n, json_t **out, berth_err *err)
{
  size_t len = strcspn (output, "\n");
  cleanup_free char *header = strndup (output, len);
  cleanup_json json_t *titles = header ? fields_ascii (header) : NULL;
  size_t pid_index = SIZE_MAX;
  for (size_t i = 0; i < json_array_size (titles); i++)
    if (strcmp (json_string_value (json_array_get (titles, i)), "PID") == 0)
      {
        pid_index = i;
        break;
      }
  if (pid_index == SIZE_MAX)
    return berth_fail_as (err, EINVAL, "Couldn't find PID field in ps output");
  cleanup_json json_t *procs = json_array ();
  bool previous_kept = false;
  for (const char *p = output + len; *p;)
    {
      p += *p == '\n';
      size_t l = strcspn (p, "\n");
      cleanup_free char *line = strndup (p, l);
      p += l;
      cleanup_json json_t *fields = line ? fields_ascii (line) : NULL;
      if (json_array_size (fields) <= pid_index)
        continue;
      const char *pid_s = json_string_value (json_array_get (fields, pid_index));
      /* "-": a thread row (ps -T, m), shown with its process. */
      if (strcmp (pid_s, "-") == 0)
        {
          if (previous_kept)
            json_array_append_new (procs, process_row (fields, json_array_size (titles)));
          continue;
        }
      char *end;
      long pid = strtol (pid_s, &end, 10);
      if (*end != '\0' || end == pid_s)
        return berth_fail_as (err, EINVAL, "Unexpected pid '%s'", pid_s);
      previous_kept = has_pid (pids, n, pid);
      if (previous_kept)
        json_array_append_new (procs, process_row (fields, json_array_size (titles)));
    }
  *out = json_pack ("{s:O, s:O}", "Titles", titles, "Processes", procs);
  return 0;
}
