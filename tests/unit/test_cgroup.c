/* Unit tests of the cgroup manager: path rules, layout detection and value
 * conversions on their own, resource application on fake trees made of
 * plain files (BERTH_CGROUP_ROOT), and real cgroups on the host. */
#include "unit.h"

#include "common/cleanup.h"
#include "common/fs.h"
#include "runtime/cgroup-internal.h"
#include "runtime/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>

/* ------------------------------------------------------------------ */
/* helpers                                                             */

static char *fmt (const char *f, ...) __attribute__ ((format (printf, 1, 2)));
static char *fmt (const char *f, ...)
{
  char *s = NULL;
  va_list ap;
  va_start (ap, f);
  if (vasprintf (&s, f, ap) < 0)
    abort ();
  va_end (ap);
  return s;
}

static void touch (const char *dir, const char *name, const char *content)
{
  char *p = fmt ("%s/%s", dir, name);
  berth_err err = NULL;
  CHECK (berth_write_file (p, content, strlen (content), &err) == 0);
  free (p);
}

static void mkdirs (const char *dir)
{
  berth_err err = NULL;
  CHECK (berth_mkdir_p (dir, 0755, &err) == 0);
}

/* Content of DIR/NAME ("<missing>" when absent); a static buffer. */
static const char *slurp (const char *dir, const char *name)
{
  static char buf[8192];
  char *p = fmt ("%s/%s", dir, name);
  int fd = open (p, O_RDONLY);
  free (p);
  if (fd < 0)
    return "<missing>";
  ssize_t n = read (fd, buf, sizeof buf - 1);
  close (fd);
  buf[n < 0 ? 0 : n] = '\0';
  return buf;
}

static const char *trim (const char *s)
{
  static char buf[8192];
  snprintf (buf, sizeof buf, "%s", s);
  size_t n = strlen (buf);
  while (n > 0 && buf[n - 1] == '\n')
    buf[--n] = '\0';
  return buf;
}

static char *fake_root (void)
{
  char *root = strdup ("/tmp/berth-cgtest-XXXXXX");
  CHECK (mkdtemp (root) != NULL);
  setenv ("BERTH_CGROUP_ROOT", root, 1);
  return root;
}

static json_t *parse (const char *s)
{
  json_error_t e;
  json_t *j = json_loads (s, 0, &e);
  if (j == NULL)
    printf ("  bad test JSON: %s\n", e.text);
  CHECK (j != NULL);
  return j;
}

/* Apply S and return the error message, or NULL on success. */
static char *apply_str (struct cgroup_manager *m, const char *s)
{
  json_t *j = parse (s);
  berth_err err = NULL;
  int r = cgroup_apply_resources (m, j, &err);
  json_decref (j);
  if (r == 0)
    {
      CHECK (err == NULL);
      return NULL;
    }
  CHECK (err != NULL && r < 0);
  char *msg = strdup (err->msg);
  berth_error_free (&err);
  return msg;
}

static void apply_ok (struct cgroup_manager *m, const char *s)
{
  char *msg = apply_str (m, s);
  if (msg)
    printf ("  apply failed: %s\n", msg);
  CHECK (msg == NULL);
}

static void apply_fails (struct cgroup_manager *m, const char *s, const char *expect)
{
  char *msg = apply_str (m, s);
  if (msg == NULL || strstr (msg, expect) == NULL)
    printf ("  expected error containing `%s`, got `%s`\n", expect, msg ? msg : "(success)");
  CHECK (msg != NULL && strstr (msg, expect) != NULL);
  free (msg);
}

static struct cgroup_manager *manager (const char *path)
{
  struct cgroup_manager *m = NULL;
  berth_err err = NULL;
  int r = cgroup_manager_new (path, &m, &err);
  if (r < 0)
    printf ("  manager: %s\n", err->msg);
  CHECK (r == 0 && m != NULL);
  return m;
}

/* ------------------------------------------------------------------ */
/* path resolution                                                     */

static char *resolve_in (const char *own, const char *path, const char *id)
{
  char *out = NULL;
  berth_err err = NULL;
  int r = cgroup_resolve_path_in (own, path, id, &out, &err);
  if (r < 0)
    {
      CHECK (out == NULL && err != NULL);
      berth_error_free (&err);
      return NULL;
    }
  return out;
}

TEST (resolve_default_and_absolute)
{
  CHECK_STR (resolve_in ("/", NULL, "abc"), "/berth/abc");
  CHECK_STR (resolve_in ("/", "", "abc"), "/berth/abc");
  CHECK_STR (resolve_in ("/x", "/a/b", "abc"), "/a/b");
  CHECK_STR (resolve_in ("/", "//a/./b//", "abc"), "/a/b");
  CHECK_STR (resolve_in ("/", "/a/../b", "abc"), "/b");
}

TEST (resolve_relative)
{
  CHECK_STR (resolve_in ("/user.slice", "x/y", "abc"), "/user.slice/x/y");
  CHECK_STR (resolve_in ("/", "x", "abc"), "/x");
  CHECK_STR (resolve_in ("/a/b", "../c", "abc"), "/a/c");
  /* The real one is based on our own cgroup. */
  char *out = NULL;
  berth_err err = NULL;
  CHECK (cgroup_resolve_path ("rel-test", "abc", &out, &err) == 0);
  CHECK (out[0] == '/');
  CHECK (strlen (out) >= 9 && strcmp (out + strlen (out) - 9, "/rel-test") == 0);
}

TEST (resolve_rejects_escapes)
{
  CHECK (resolve_in ("/", "/../x", "abc") == NULL);
  CHECK (resolve_in ("/", "/a/../../x", "abc") == NULL);
  CHECK (resolve_in ("/a", "../../x", "abc") == NULL);
  CHECK (resolve_in ("/", "/", "abc") == NULL);
  CHECK (resolve_in ("/", "/a/..", "abc") == NULL);
  CHECK (resolve_in ("/", NULL, "a/b") == NULL);
  CHECK (resolve_in ("/", NULL, "..") == NULL);
  CHECK (resolve_in ("/", NULL, "") == NULL);
  struct cgroup_manager *m = NULL;
  berth_err err = NULL;
  CHECK (cgroup_manager_new ("relative", &m, &err) < 0);
  CHECK (strstr (err->msg, "absolute") != NULL);
}

/* ------------------------------------------------------------------ */
/* mode detection                                                      */

static void fake_v1_hierarchies (const char *root)
{
  static const char *const dirs[] = { "cpu,cpuacct", "cpuset", "memory", "devices", "freezer", "blkio",
                                      "pids", "hugetlb", "net_cls,net_prio", "systemd", NULL };
  for (const char *const *d = dirs; *d; d++)
    {
      char *p = fmt ("%s/%s", root, *d);
      mkdirs (p);
      free (p);
    }
}

static enum cgroup_mode detect (void)
{
  enum cgroup_mode mode = 0;
  berth_err err = NULL;
  int r = cgroup_detect_mode (&mode, &err);
  if (r < 0)
    printf ("  detect: %s\n", err->msg);
  CHECK (r == 0);
  return mode;
}

TEST (detect_fake_v1)
{
  char *root = fake_root ();
  fake_v1_hierarchies (root);
  CHECK (detect () == CGROUP_MODE_V1);
  struct cgroup_manager *m = manager ("/berth/x");
  CHECK (cgroup_manager_mode (m) == CGROUP_MODE_V1);
  CHECK (m->unified == NULL);
  struct cgroup_hierarchy *h = cgroup_find_v1 (m, "cpuacct");
  CHECK (h != NULL);
  CHECK_STR (h->name, "cpu,cpuacct");
  CHECK (cgroup_find_v1 (m, "cpu") == h);
  char *want = fmt ("%s/cpu,cpuacct/berth/x", root);
  CHECK_STR (h->path, want);
  h = cgroup_find_v1 (m, "net_prio");
  CHECK (h != NULL && strcmp (h->options, "net_cls,net_prio") == 0);
  bool systemd = false;
  for (size_t i = 0; i < m->n_hiers; i++)
    if (strcmp (m->hiers[i].name, "systemd") == 0)
      systemd = strcmp (m->hiers[i].options, "name=systemd") == 0 && m->hiers[i].controllers[0] == NULL;
  CHECK (systemd);
  cgroup_manager_free (m);
  berth_rm_rf (root);
}

TEST (detect_fake_hybrid)
{
  char *root = fake_root ();
  fake_v1_hierarchies (root);
  char *u = fmt ("%s/unified", root);
  mkdirs (u);
  touch (u, "cgroup.controllers", "hugetlb\n");
  CHECK (detect () == CGROUP_MODE_HYBRID);
  struct cgroup_manager *m = manager ("/berth/x");
  CHECK (m->unified != NULL && m->unified->v2);
  CHECK_STR (m->unified->controllers[0], "hugetlb");
  CHECK (m->unified->controllers[1] == NULL);
  CHECK (cgroup_find_v1 (m, "unified") == NULL);
  cgroup_manager_free (m);
  berth_rm_rf (root);
}

TEST (detect_fake_v2)
{
  char *root = fake_root ();
  touch (root, "cgroup.controllers", "cpu memory pids\n");
  mkdirs (fmt ("%s/some.slice", root));
  CHECK (detect () == CGROUP_MODE_V2);
  struct cgroup_manager *m = manager ("/berth/x");
  CHECK (m->n_hiers == 1 && m->unified == &m->hiers[0]);
  CHECK_STR (m->unified->path, fmt ("%s/berth/x", root));
  berth_rm_rf (root);
}

TEST (detect_empty_root_fails)
{
  char *root = fake_root ();
  enum cgroup_mode mode;
  berth_err err = NULL;
  CHECK (cgroup_detect_mode (&mode, &err) < 0);
  CHECK (strstr (err->msg, "no cgroup hierarchy") != NULL);
  berth_rm_rf (root);
}

/* The host's layout, judged independently with statfs. */
TEST (detect_host)
{
  unsetenv ("BERTH_CGROUP_ROOT");
  struct statfs root, unified;
  CHECK (statfs ("/sys/fs/cgroup", &root) == 0);
  enum cgroup_mode want = CGROUP_MODE_V1;
  if ((unsigned long) root.f_type == CGROUP2_SUPER_MAGIC)
    want = CGROUP_MODE_V2;
  else if (statfs ("/sys/fs/cgroup/unified", &unified) == 0 && (unsigned long) unified.f_type == CGROUP2_SUPER_MAGIC)
    want = CGROUP_MODE_HYBRID;
  CHECK (detect () == want);
  CHECK_STR (cgroup_mode_name (want), want == CGROUP_MODE_V2 ? "v2" : want == CGROUP_MODE_HYBRID ? "hybrid" : "v1");
}

/* ------------------------------------------------------------------ */
/* conversions                                                         */

static int64_t swap_v2 (int64_t swap, int64_t limit, bool *ok)
{
  int64_t out = 12345;
  berth_err err = NULL;
  *ok = cgroup_swap_to_v2 (swap, limit, &out, &err) == 0;
  berth_error_free (&err);
  return out;
}

TEST (convert_values)
{
  CHECK (cgroup_shares_to_weight (0) == 0);
  CHECK (cgroup_shares_to_weight (1) == 1);
  CHECK (cgroup_shares_to_weight (2) == 1);
  CHECK (cgroup_shares_to_weight (1024) == 39);
  CHECK (cgroup_shares_to_weight (262144) == 10000);
  CHECK (cgroup_shares_to_weight (1000000) == 10000);
  CHECK (cgroup_blkio_weight_to_io_weight (0) == 0);
  CHECK (cgroup_blkio_weight_to_io_weight (10) == 1);
  CHECK (cgroup_blkio_weight_to_io_weight (500) == 4950);
  CHECK (cgroup_blkio_weight_to_io_weight (1000) == 10000);

  bool ok;
  CHECK (swap_v2 (0, -1, &ok) == -1 && ok);
  CHECK (swap_v2 (-1, 100, &ok) == -1 && ok);
  CHECK (swap_v2 (0, 100, &ok) == 0 && ok);
  CHECK (swap_v2 (300, 100, &ok) == 200 && ok);
  CHECK (swap_v2 (100, 100, &ok) == 0 && ok);
  swap_v2 (50, 100, &ok);
  CHECK (!ok);
  swap_v2 (200, 0, &ok);
  CHECK (!ok);
  swap_v2 (200, -1, &ok);
  CHECK (!ok);

  char b[64];
  cgroup_cpu_max (true, 50000, 100000, NULL, b, sizeof b);
  CHECK_STR (b, "50000 100000");
  cgroup_cpu_max (true, -1, 100000, "20000 100000", b, sizeof b);
  CHECK_STR (b, "max 100000");
  cgroup_cpu_max (false, 0, 200000, "30000 100000", b, sizeof b);
  CHECK_STR (b, "30000 200000");
  cgroup_cpu_max (false, 0, 200000, NULL, b, sizeof b);
  CHECK_STR (b, "max 200000");
  cgroup_cpu_max (true, 50000, 0, NULL, b, sizeof b);
  CHECK_STR (b, "50000");
  cgroup_v2_limit (-1, b, sizeof b);
  CHECK_STR (b, "max");
  cgroup_v2_limit (4096, b, sizeof b);
  CHECK_STR (b, "4096");
  cgroup_pids_max (0, b, sizeof b);
  CHECK_STR (b, "max");
  cgroup_pids_max (-1, b, sizeof b);
  CHECK_STR (b, "max");
  cgroup_pids_max (100, b, sizeof b);
  CHECK_STR (b, "100");
}

TEST (device_rules)
{
  json_t *j = parse ("[{\"allow\":false,\"access\":\"rwm\"},"
                     "{\"allow\":true,\"type\":\"c\",\"major\":10,\"minor\":200,\"access\":\"rw\"},"
                     "{\"allow\":true,\"type\":\"b\",\"major\":8}]");
  struct cgroup_device_rule *rules = NULL;
  size_t n = 0;
  berth_err err = NULL;
  CHECK (cgroup_device_rules (j, &rules, &n, &err) == 0);
  CHECK (n > 3);
  char b[64];
  cgroup_device_rule_string (&rules[0], b, sizeof b);
  CHECK_STR (b, "a *:* rwm");
  CHECK (!rules[0].allow);
  cgroup_device_rule_string (&rules[1], b, sizeof b);
  CHECK_STR (b, "c 10:200 rw");
  cgroup_device_rule_string (&rules[2], b, sizeof b);
  CHECK_STR (b, "b 8:* rwm");
  cgroup_device_rule_string (&rules[3], b, sizeof b);
  CHECK_STR (b, "c *:* m");
  /* /dev/null is among the defaults. */
  bool null_ok = false;
  for (size_t i = 3; i < n; i++)
    null_ok |= rules[i].allow && rules[i].type == 'c' && rules[i].major == 1 && rules[i].minor == 3;
  CHECK (null_ok);

  static const char *const bad[] = { "[{\"access\":\"rwm\"}]", "[{\"allow\":true,\"type\":\"x\"}]",
                                     "[{\"allow\":true,\"access\":\"rwx\"}]", "[{\"allow\":\"yes\"}]", "[1]", NULL };
  for (const char *const *s = bad; *s; s++)
    {
      json_t *b2 = parse (*s);
      CHECK (cgroup_device_rules (b2, &rules, &n, &err) < 0);
      CHECK (strstr (err->msg, "linux.resources.devices[0]") != NULL);
      berth_error_free (&err);
    }
}

/* ------------------------------------------------------------------ */
/* fake v1                                                             */

static void touch_all (const char *dir, const char *const *files)
{
  for (; *files; files++)
    touch (dir, *files, "");
}

static const char *const v1_memory_files[] = { "memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
                                               "memory.soft_limit_in_bytes", "memory.swappiness",
                                               "memory.oom_control", "memory.kmem.tcp.limit_in_bytes",
                                               "memory.kmem.limit_in_bytes", "memory.use_hierarchy",
                                               "memory.usage_in_bytes", "cgroup.procs", NULL };
static const char *const v1_cpu_files[] = { "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us",
                                            "cpu.cfs_burst_us", "cpu.rt_runtime_us", "cpu.rt_period_us",
                                            "cpu.idle", "cpuacct.usage", "cgroup.procs", NULL };
static const char *const v1_blkio_files[] = { "blkio.weight", "blkio.leaf_weight", "blkio.weight_device",
                                              "blkio.leaf_weight_device", "blkio.throttle.read_bps_device",
                                              "blkio.throttle.write_iops_device", "cgroup.procs", NULL };

/* A fake v1 tree with the container's folders made by cgroup_create and
 * the files a real cgroupfs would show in them. */
static struct cgroup_manager *fake_v1_container (const char *root)
{
  fake_v1_hierarchies (root);
  struct cgroup_manager *m = manager ("/berth/t1");
  berth_err err = NULL;
  CHECK (cgroup_create (m, 0, &err) == 0);
  for (size_t i = 0; i < m->n_hiers; i++)
    {
      struct stat st;
      CHECK (stat (m->hiers[i].path, &st) == 0 && S_ISDIR (st.st_mode));
      touch (m->hiers[i].path, "cgroup.procs", "");
    }
  touch_all (cgroup_find_v1 (m, "memory")->path, v1_memory_files);
  touch_all (cgroup_find_v1 (m, "cpu")->path, v1_cpu_files);
  touch_all (cgroup_find_v1 (m, "blkio")->path, v1_blkio_files);
  const char *d = cgroup_find_v1 (m, "cpuset")->path;
  touch (d, "cpuset.cpus", "");
  touch (d, "cpuset.mems", "");
  touch (cgroup_find_v1 (m, "pids")->path, "pids.max", "");
  touch (cgroup_find_v1 (m, "hugetlb")->path, "hugetlb.2MB.limit_in_bytes", "");
  d = cgroup_find_v1 (m, "net_cls")->path;
  touch (d, "net_cls.classid", "");
  touch (d, "net_prio.ifpriomap", "");
  d = cgroup_find_v1 (m, "devices")->path;
  touch (d, "devices.allow", "");
  touch (d, "devices.deny", "");
  return m;
}

static const char *v1 (struct cgroup_manager *m, const char *controller, const char *file)
{
  struct cgroup_hierarchy *h = cgroup_find_v1 (m, controller);
  CHECK (h != NULL);
  return slurp (h->path, file);
}

TEST (apply_fake_v1)
{
  char *root = fake_root ();
  struct cgroup_manager *m = fake_v1_container (root);
  apply_ok (m, "{\"memory\":{\"limit\":1048576,\"swap\":2097152,\"reservation\":524288,\"swappiness\":10,"
               "\"disableOOMKiller\":true,\"kernelTCP\":4096,\"kernel\":8192,\"useHierarchy\":true},"
               "\"cpu\":{\"shares\":512,\"quota\":50000,\"period\":100000,\"burst\":1000,\"cpus\":\"0-1\","
               "\"mems\":\"0\",\"realtimeRuntime\":950,\"realtimePeriod\":1000,\"idle\":1},"
               "\"pids\":{\"limit\":-1},"
               "\"blockIO\":{\"weight\":500,\"leafWeight\":300,"
               "\"weightDevice\":[{\"major\":8,\"minor\":0,\"weight\":100,\"leafWeight\":50}],"
               "\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":1000}],"
               "\"throttleWriteIOPSDevice\":[{\"major\":8,\"minor\":16,\"rate\":20}]},"
               "\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":4194304}],"
               "\"network\":{\"classID\":1048577,\"priorities\":[{\"name\":\"eth0\",\"priority\":5},"
               "{\"name\":\"lo\",\"priority\":1}]},"
               "\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
               "{\"allow\":true,\"type\":\"c\",\"major\":10,\"minor\":200,\"access\":\"rwm\"}]}");
  CHECK_STR (v1 (m, "memory", "memory.limit_in_bytes"), "1048576");
  CHECK_STR (v1 (m, "memory", "memory.memsw.limit_in_bytes"), "2097152");
  CHECK_STR (v1 (m, "memory", "memory.soft_limit_in_bytes"), "524288");
  CHECK_STR (v1 (m, "memory", "memory.swappiness"), "10");
  CHECK_STR (v1 (m, "memory", "memory.oom_control"), "1");
  CHECK_STR (v1 (m, "memory", "memory.kmem.tcp.limit_in_bytes"), "4096");
  CHECK_STR (v1 (m, "memory", "memory.kmem.limit_in_bytes"), "");
  CHECK_STR (v1 (m, "memory", "memory.use_hierarchy"), "1");
  CHECK_STR (v1 (m, "cpu", "cpu.shares"), "512");
  CHECK_STR (v1 (m, "cpu", "cpu.cfs_quota_us"), "50000");
  CHECK_STR (v1 (m, "cpu", "cpu.cfs_period_us"), "100000");
  CHECK_STR (v1 (m, "cpu", "cpu.cfs_burst_us"), "1000");
  CHECK_STR (v1 (m, "cpu", "cpu.rt_runtime_us"), "950");
  CHECK_STR (v1 (m, "cpu", "cpu.rt_period_us"), "1000");
  CHECK_STR (v1 (m, "cpu", "cpu.idle"), "1");
  CHECK_STR (v1 (m, "cpuset", "cpuset.cpus"), "0-1");
  CHECK_STR (v1 (m, "cpuset", "cpuset.mems"), "0");
  CHECK_STR (v1 (m, "pids", "pids.max"), "max");
  CHECK_STR (v1 (m, "blkio", "blkio.weight"), "500");
  CHECK_STR (v1 (m, "blkio", "blkio.leaf_weight"), "300");
  CHECK_STR (v1 (m, "blkio", "blkio.weight_device"), "8:0 100\n");
  CHECK_STR (v1 (m, "blkio", "blkio.leaf_weight_device"), "8:0 50\n");
  CHECK_STR (v1 (m, "blkio", "blkio.throttle.read_bps_device"), "8:0 1000\n");
  CHECK_STR (v1 (m, "blkio", "blkio.throttle.write_iops_device"), "8:16 20\n");
  CHECK_STR (v1 (m, "hugetlb", "hugetlb.2MB.limit_in_bytes"), "4194304");
  CHECK_STR (v1 (m, "net_cls", "net_cls.classid"), "1048577");
  CHECK_STR (v1 (m, "net_prio", "net_prio.ifpriomap"), "eth0 5\nlo 1\n");
  CHECK_STR (v1 (m, "devices", "devices.deny"), "a *:* rwm\n");
  const char *allow = v1 (m, "devices", "devices.allow");
  CHECK (strncmp (allow, "c 10:200 rwm\nc *:* m\nb *:* m\nc 1:3 rwm\n", 38) == 0);

  /* update: absent fields stay as they are. */
  apply_ok (m, "{\"memory\":{\"reservation\":1},\"cpu\":{\"cpus\":\"1\"},\"pids\":{\"limit\":42}}");
  CHECK_STR (v1 (m, "memory", "memory.soft_limit_in_bytes"), "1");
  CHECK_STR (v1 (m, "memory", "memory.limit_in_bytes"), "1048576");
  CHECK_STR (v1 (m, "memory", "memory.swappiness"), "10");
  CHECK_STR (v1 (m, "cpuset", "cpuset.cpus"), "1");
  CHECK_STR (v1 (m, "cpu", "cpu.shares"), "512");
  CHECK_STR (v1 (m, "pids", "pids.max"), "42");
  /* memory -1 without swap: both unlimited. */
  apply_ok (m, "{\"memory\":{\"limit\":-1}}");
  CHECK_STR (v1 (m, "memory", "memory.limit_in_bytes"), "-1");
  CHECK_STR (v1 (m, "memory", "memory.memsw.limit_in_bytes"), "-1");
  /* Empty sections and kernel-only memory need nothing. */
  apply_ok (m, "{\"cpu\":{},\"memory\":{\"kernel\":1},\"devices\":[],\"hugepageLimits\":[]}");
  berth_rm_rf (root);
}

TEST (apply_fake_v1_errors)
{
  char *root = fake_root ();
  struct cgroup_manager *m = fake_v1_container (root);
  apply_fails (m, "{\"unified\":{\"memory.high\":\"1\"}}", "cgroup unified: no cgroup v2 hierarchy");
  apply_fails (m, "{\"memory\":{\"limit\":200,\"swap\":100}}", "must be >= memory limit");
  apply_fails (m, "{\"memory\":{\"swappiness\":101}}", "swappiness");
  apply_fails (m, "{\"memory\":{\"limit\":\"1G\"}}", "linux.resources.memory.limit: expected an integer");
  apply_fails (m, "{\"memory\":5}", "linux.resources.memory: expected an object");
  apply_fails (m, "{\"hugepageLimits\":[{\"pageSize\":\"3MB\",\"limit\":1}]}", "cgroup hugetlb: page size 3MB");
  apply_fails (m, "{\"hugepageLimits\":[{\"pageSize\":\"../x\",\"limit\":1}]}", "invalid pageSize");
  apply_fails (m, "{\"blockIO\":{\"throttleReadBpsDevice\":[{\"major\":8,\"rate\":1}]}}", "major and minor");
  /* A file the "kernel" does not have: the message names path and value. */
  char *file = fmt ("%s/cpu.cfs_burst_us", cgroup_find_v1 (m, "cpu")->path);
  unlink (file);
  char *msg = apply_str (m, "{\"cpu\":{\"burst\":5}}");
  CHECK (msg != NULL);
  char *want = fmt ("cgroup cpu: open `%s`: No such file or directory", file);
  CHECK_STR (msg, want);

  /* No swap accounting: only a swap equal to the limit is fine. */
  unlink (fmt ("%s/memory.memsw.limit_in_bytes", cgroup_find_v1 (m, "memory")->path));
  apply_fails (m, "{\"memory\":{\"limit\":1000,\"swap\":2000}}", "no swap accounting");
  apply_ok (m, "{\"memory\":{\"limit\":1000,\"swap\":1000}}");
  CHECK_STR (v1 (m, "memory", "memory.limit_in_bytes"), "1000");
  apply_ok (m, "{\"memory\":{\"limit\":-1}}");
  CHECK_STR (v1 (m, "memory", "memory.limit_in_bytes"), "-1");
  berth_rm_rf (root);
}

TEST (apply_fake_v1_missing_controller)
{
  char *root = fake_root ();
  mkdirs (fmt ("%s/memory", root));
  mkdirs (fmt ("%s/cpu", root));
  struct cgroup_manager *m = manager ("/berth/t2");
  apply_fails (m, "{\"pids\":{\"limit\":10}}", "cgroup pids: controller not available");
  apply_fails (m, "{\"network\":{\"classID\":1}}", "cgroup net_cls: controller not available");
  apply_fails (m, "{\"cpu\":{\"cpus\":\"0\"}}", "cgroup cpuset: controller not available");
  apply_fails (m, "{\"devices\":[{\"allow\":true}]}", "cgroup devices: controller not available");
  apply_fails (m, "{\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":1}]}", "cgroup hugetlb: controller not available");
  /* Absent or empty sections do not need their controller. */
  apply_ok (m, "{\"pids\":null,\"network\":{},\"devices\":[],\"cpu\":{\"shares\":null}}");
  berth_rm_rf (root);
}

/* ------------------------------------------------------------------ */
/* fake v2                                                             */

static const char *const v2_files[] = { "memory.max", "memory.swap.max", "memory.low", "memory.high",
                                        "memory.current", "cpu.weight", "cpu.max.burst", "cpu.idle",
                                        "cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max",
                                        "hugetlb.2MB.max", "cgroup.procs", NULL };

TEST (apply_fake_v2)
{
  char *root = fake_root ();
  touch (root, "cgroup.controllers", "cpu cpuset io memory pids hugetlb\n");
  touch (root, "cgroup.subtree_control", "");
  struct cgroup_manager *m = manager ("/berth/t3");
  berth_err err = NULL;
  CHECK (cgroup_create (m, 0, &err) == 0);
  CHECK_STR (slurp (root, "cgroup.subtree_control"), "+cpu +cpuset +io +memory +pids +hugetlb");
  const char *d = m->unified->path;
  touch_all (d, v2_files);
  touch (d, "cpu.max", "max 100000\n");
  apply_ok (m, "{\"memory\":{\"limit\":1048576,\"swap\":3145728,\"reservation\":524288,\"swappiness\":10,"
               "\"disableOOMKiller\":true,\"kernelTCP\":1},"
               "\"cpu\":{\"shares\":1024,\"quota\":50000,\"period\":100000,\"burst\":1000,\"idle\":0,"
               "\"cpus\":\"0-1\",\"mems\":\"0\"},"
               "\"pids\":{\"limit\":0},"
               "\"blockIO\":{\"weight\":500,\"leafWeight\":300,"
               "\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":1000}],"
               "\"throttleWriteIOPSDevice\":[{\"major\":8,\"minor\":16,\"rate\":20}]},"
               "\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":4194304}],"
               "\"unified\":{\"memory.high\":\"999999\"}}");
  CHECK_STR (slurp (d, "memory.max"), "1048576");
  CHECK_STR (slurp (d, "memory.swap.max"), "2097152");
  CHECK_STR (slurp (d, "memory.low"), "524288");
  CHECK_STR (slurp (d, "memory.high"), "999999");
  CHECK_STR (slurp (d, "cpu.weight"), "39");
  CHECK_STR (slurp (d, "cpu.max"), "50000 100000");
  CHECK_STR (slurp (d, "cpu.max.burst"), "1000");
  CHECK_STR (slurp (d, "cpu.idle"), "0");
  CHECK_STR (slurp (d, "cpuset.cpus"), "0-1");
  CHECK_STR (slurp (d, "cpuset.mems"), "0");
  CHECK_STR (slurp (d, "pids.max"), "max");
  CHECK_STR (slurp (d, "io.weight"), "4950");
  CHECK_STR (slurp (d, "io.max"), "8:0 rbps=1000\n8:16 wiops=20\n");
  CHECK_STR (slurp (d, "hugetlb.2MB.max"), "4194304");

  /* update of the period alone keeps the quota. */
  apply_ok (m, "{\"cpu\":{\"period\":200000}}");
  CHECK_STR (slurp (d, "cpu.max"), "50000 200000");
  apply_ok (m, "{\"cpu\":{\"quota\":-1}}");
  CHECK_STR (slurp (d, "cpu.max"), "max");
  apply_ok (m, "{\"memory\":{\"limit\":-1}}");
  CHECK_STR (slurp (d, "memory.max"), "max");
  CHECK_STR (slurp (d, "memory.swap.max"), "max");
  CHECK_STR (slurp (d, "memory.low"), "524288");
  /* BFQ present: its file takes the blkio scale as is. */
  touch (d, "io.bfq.weight", "");
  apply_ok (m, "{\"blockIO\":{\"weight\":500}}");
  CHECK_STR (slurp (d, "io.bfq.weight"), "500");

  apply_fails (m, "{\"network\":{\"classID\":1}}", "cgroup net_cls: controller not available");
  apply_fails (m, "{\"cpu\":{\"realtimeRuntime\":100}}", "cgroup cpu: realtimePeriod/realtimeRuntime are not supported");
  apply_fails (m, "{\"unified\":{\"memory.nope\":\"1\"}}", "memory.nope` does not exist");
  apply_fails (m, "{\"unified\":{\"../x\":\"1\"}}", "invalid file name");
  apply_fails (m, "{\"unified\":{\"memory.high\":1}}", "expected a string");
  apply_fails (m, "{\"memory\":{\"swap\":100}}", "without a memory limit");
  apply_fails (m, "{\"memory\":{\"limit\":1000,\"swap\":100,\"checkBeforeUpdate\":true}}", "memory.current");
  /* checkBeforeUpdate: refuse a limit under the usage. */
  touch (d, "memory.current", "5000\n");
  apply_fails (m, "{\"memory\":{\"limit\":4096,\"checkBeforeUpdate\":true}}", "current usage 5000");
  apply_ok (m, "{\"memory\":{\"limit\":8192,\"checkBeforeUpdate\":true}}");
  CHECK_STR (slurp (d, "memory.max"), "8192");
  /* No swap accounting: unlimited swap is fine, a limit is not. */
  unlink (fmt ("%s/memory.swap.max", d));
  apply_ok (m, "{\"memory\":{\"limit\":-1}}");
  apply_fails (m, "{\"memory\":{\"limit\":1000,\"swap\":2000}}", "no swap accounting");
  berth_rm_rf (root);
}

/* ------------------------------------------------------------------ */
/* fake hybrid                                                         */

TEST (apply_fake_hybrid)
{
  char *root = fake_root ();
  fake_v1_hierarchies (root);
  rmdir (fmt ("%s/hugetlb", root));
  char *u = fmt ("%s/unified", root);
  mkdirs (u);
  touch (u, "cgroup.controllers", "hugetlb\n");
  touch (u, "cgroup.subtree_control", "");
  struct cgroup_manager *m = manager ("/berth/t4");
  CHECK (cgroup_manager_mode (m) == CGROUP_MODE_HYBRID);
  berth_err err = NULL;
  CHECK (cgroup_create (m, 0, &err) == 0);
  CHECK_STR (slurp (u, "cgroup.subtree_control"), "+hugetlb");
  const char *ud = m->unified->path;
  CHECK_STR (ud, fmt ("%s/unified/berth/t4", root));
  touch (ud, "hugetlb.2MB.max", "");
  touch (ud, "memory.high", "");
  const char *md = cgroup_find_v1 (m, "memory")->path;
  touch_all (md, v1_memory_files);
  touch (cgroup_find_v1 (m, "pids")->path, "pids.max", "");
  apply_ok (m, "{\"memory\":{\"limit\":1048576},\"pids\":{\"limit\":7},"
               "\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":2097152}],"
               "\"unified\":{\"memory.high\":\"5\"}}");
  CHECK_STR (slurp (md, "memory.limit_in_bytes"), "1048576");
  CHECK_STR (v1 (m, "pids", "pids.max"), "7");
  CHECK_STR (slurp (ud, "hugetlb.2MB.max"), "2097152");
  CHECK_STR (slurp (ud, "memory.high"), "5");
  /* Neither hierarchy has net_cls here. */
  rmdir (fmt ("%s/net_cls,net_prio/berth/t4", root));
  rmdir (fmt ("%s/net_cls,net_prio/berth", root));
  rmdir (fmt ("%s/net_cls,net_prio", root));
  struct cgroup_manager *m2 = manager ("/berth/t4");
  apply_fails (m2, "{\"network\":{\"priorities\":[{\"name\":\"lo\",\"priority\":1}]}}",
               "cgroup net_prio: controller not available");

  /* stats: v1 first, the unified hierarchy fills the gaps. */
  touch (md, "memory.usage_in_bytes", "123\n");
  touch (md, "memory.limit_in_bytes", "9223372036854771712\n");
  touch (cgroup_find_v1 (m, "cpuacct")->path, "cpuacct.usage", "5000\n");
  touch (cgroup_find_v1 (m, "pids")->path, "pids.current", "3\n");
  touch (ud, "cpu.stat", "usage_usec 7\nuser_usec 1\n");
  json_t *stats = NULL;
  CHECK (cgroup_stats (m, &stats, &err) == 0);
  CHECK (json_integer_value (json_object_get (json_object_get (stats, "memory"), "usage")) == 123);
  CHECK (json_integer_value (json_object_get (json_object_get (stats, "memory"), "limit")) == -1);
  CHECK (json_integer_value (json_object_get (json_object_get (stats, "cpu"), "usage_ns")) == 5000);
  CHECK (json_integer_value (json_object_get (json_object_get (stats, "pids"), "current")) == 3);
  berth_rm_rf (root);
}

TEST (stats_fake_v2)
{
  char *root = fake_root ();
  touch (root, "cgroup.controllers", "cpu memory pids\n");
  struct cgroup_manager *m = manager ("/berth/t5");
  mkdirs (m->unified->path);
  touch (m->unified->path, "memory.current", "4096\n");
  touch (m->unified->path, "memory.max", "max\n");
  touch (m->unified->path, "cpu.stat", "usage_usec 12\nuser_usec 10\n");
  json_t *stats = NULL;
  berth_err err = NULL;
  CHECK (cgroup_stats (m, &stats, &err) == 0);
  CHECK (json_integer_value (json_object_get (json_object_get (stats, "memory"), "usage")) == 4096);
  CHECK (json_integer_value (json_object_get (json_object_get (stats, "memory"), "limit")) == -1);
  CHECK (json_integer_value (json_object_get (json_object_get (stats, "cpu"), "usage_ns")) == 12000);
  CHECK (json_object_get (stats, "pids") == NULL);
  berth_rm_rf (root);
}

/* Mounting the view of a fake v1 tree (bind mode): one folder per
 * hierarchy, links for co-mounted controllers, everything read-only. */
TEST (mount_fake_v1_bind)
{
  if (getuid () != 0)
    {
      printf ("  SKIP: needs root\n");
      return;
    }
  char *root = fake_root ();
  struct cgroup_manager *m = fake_v1_container (root);
  touch (cgroup_find_v1 (m, "memory")->path, "memory.limit_in_bytes", "777");
  CHECK (unshare (CLONE_NEWNS) == 0);
  CHECK (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
  char *target = fmt ("%s-mnt", root);
  mkdirs (target);
  int fd = open (target, O_PATH | O_DIRECTORY);
  CHECK (fd >= 0);
  berth_err err = NULL;
  int r = cgroup_mount_in_container (m, fd, MS_RDONLY | MS_NOSUID, false, &err);
  if (r < 0)
    printf ("  mount: %s\n", err->msg);
  CHECK (r == 0);
  char *t = fmt ("%s/memory", target);
  CHECK_STR (slurp (t, "memory.limit_in_bytes"), "777");
  char link[64] = "";
  CHECK (readlink (fmt ("%s/cpu", target), link, sizeof link) > 0);
  CHECK_STR (link, "cpu,cpuacct");
  CHECK (readlink (fmt ("%s/net_prio", target), link, sizeof link) > 0);
  CHECK (access (fmt ("%s/systemd/cgroup.procs", target), F_OK) == 0);
  CHECK (access (fmt ("%s/cpuacct/cpuacct.usage", target), F_OK) == 0);
  CHECK (mkdir (fmt ("%s/new", target), 0755) < 0 && errno == EROFS);
  CHECK (open (fmt ("%s/memory.limit_in_bytes", t), O_WRONLY) < 0 && errno == EROFS);
  umount2 (target, MNT_DETACH);
  rmdir (target);
  berth_rm_rf (root);
}

/* ------------------------------------------------------------------ */
/* the real host                                                       */

static bool host_has_cgroups (void)
{
  unsetenv ("BERTH_CGROUP_ROOT");
  enum cgroup_mode mode;
  berth_err err = NULL;
  if (getuid () != 0 || cgroup_detect_mode (&mode, &err) < 0)
    {
      printf ("  SKIP: needs root and mounted cgroups\n");
      berth_error_free (&err);
      return false;
    }
  return true;
}

/* Where PID sits in the hierarchy with CONTROLLER ("" for the unified one),
 * from /proc/PID/cgroup. */
static char *proc_cgroup (pid_t pid, const char *controller)
{
  char *path = fmt ("/proc/%d/cgroup", (int) pid);
  char *content = NULL;
  berth_err err = NULL;
  CHECK (berth_read_file (path, 1 << 20, &content, NULL, &err) == 0);
  for (char *line = strtok (content, "\n"); line; line = strtok (NULL, "\n"))
    {
      char *c = strchr (line, ':') + 1;
      char *p = strchr (c, ':');
      *p = '\0';
      char *ctrls = fmt (",%s,", c);
      char *want = fmt (",%s,", controller);
      if ((*controller == '\0' && *c == '\0') || (*controller && strstr (ctrls, want)))
        return strdup (p + 1);
    }
  return strdup ("<none>");
}

static void ok_or_print (int r, berth_err *err)
{
  if (r < 0)
    printf ("  error: %s\n", (*err)->msg);
  CHECK (r == 0);
}

/* A child that keeps counting in shared memory until killed. */
static pid_t spawn_counter (volatile unsigned long **counter)
{
  *counter = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK (*counter != MAP_FAILED);
  pid_t pid = fork ();
  CHECK (pid >= 0);
  if (pid == 0)
    for (prctl (PR_SET_PDEATHSIG, SIGKILL);;)
      {
        (**counter)++;
        usleep (1000);
      }
  return pid;
}

static void msleep (long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep (&ts, NULL);
}

TEST (host_lifecycle)
{
  if (!host_has_cgroups ())
    return;
  char *path = fmt ("/berth-unit-test-%d", (int) getpid ());
  struct cgroup_manager *m = manager (path);
  berth_err err = NULL;
  volatile unsigned long *counter;
  pid_t child = spawn_counter (&counter);
  ok_or_print (cgroup_create (m, child, &err), &err);
  bool v1mem = cgroup_find_v1 (m, "memory") != NULL;

  /* The child is in the container cgroup of every hierarchy. */
  if (v1mem)
    CHECK_STR (proc_cgroup (child, "memory"), path);
  if (m->unified)
    CHECK_STR (proc_cgroup (child, ""), path);
  for (size_t i = 0; i < m->n_hiers; i++)
    CHECK (strstr (slurp (m->hiers[i].path, "cgroup.procs"), fmt ("%d\n", (int) child)) != NULL);

  apply_ok (m, "{\"memory\":{\"limit\":67108864},\"pids\":{\"limit\":100}}");
  int64_t limit = 67108864;
  if (v1mem)
    {
      const char *md = cgroup_find_v1 (m, "memory")->path;
      CHECK_STR (trim (slurp (md, "memory.limit_in_bytes")), "67108864");
      if (cgroup_file_exists (md, "memory.memsw.limit_in_bytes"))
        {
          /* Growing and shrinking both need the right write order. */
          apply_ok (m, "{\"memory\":{\"limit\":134217728,\"swap\":268435456}}");
          apply_ok (m, "{\"memory\":{\"limit\":536870912,\"swap\":1073741824}}");
          CHECK_STR (trim (slurp (md, "memory.memsw.limit_in_bytes")), "1073741824");
          apply_ok (m, "{\"memory\":{\"limit\":33554432,\"swap\":67108864}}");
          CHECK_STR (trim (slurp (md, "memory.limit_in_bytes")), "33554432");
          CHECK_STR (trim (slurp (md, "memory.memsw.limit_in_bytes")), "67108864");
          limit = 33554432;
          apply_fails (m, "{\"memory\":{\"limit\":33554432,\"swap\":1}}", "must be >= memory limit");
        }
    }
  else
    CHECK_STR (trim (slurp (m->unified->path, "memory.max")), "67108864");

  /* A value the kernel refuses: the message names the file and value. */
  if (cgroup_find_v1 (m, "cpuset"))
    {
      char *want = fmt ("cgroup cpuset: write `%s/cpuset.cpus` 99999: ", cgroup_find_v1 (m, "cpuset")->path);
      apply_fails (m, "{\"cpu\":{\"cpus\":\"99999\"}}", want);
    }

  /* v1 devices: deny all, then the defaults come back. */
  if (cgroup_find_v1 (m, "devices"))
    {
      apply_ok (m, "{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]}");
      const char *list = slurp (cgroup_find_v1 (m, "devices")->path, "devices.list");
      CHECK (strstr (list, "c 1:3 rwm") != NULL);
      CHECK (strstr (list, "a *:* rwm") == NULL);
    }

  pid_t *pids = NULL;
  size_t n = 0;
  ok_or_print (cgroup_list_pids (m, &pids, &n, &err), &err);
  CHECK (n == 1 && pids[0] == child);

  /* freeze: the counter stops; thaw: it moves again. */
  ok_or_print (cgroup_set_frozen (m, true, &err), &err);
  bool frozen = false;
  ok_or_print (cgroup_is_frozen (m, &frozen, &err), &err);
  CHECK (frozen);
  unsigned long before = *counter;
  msleep (50);
  CHECK (*counter == before);
  ok_or_print (cgroup_set_frozen (m, false, &err), &err);
  ok_or_print (cgroup_is_frozen (m, &frozen, &err), &err);
  CHECK (!frozen);
  msleep (50);
  CHECK (*counter != before);

  /* The cgroup2 freezer, also there on hybrid hosts. */
  if (m->unified && cgroup_file_exists (m->unified->path, "cgroup.freeze"))
    {
      ok_or_print (cgroup_v2_ops.freeze (m, true, &err), &err);
      ok_or_print (cgroup_v2_ops.is_frozen (m, &frozen, &err), &err);
      CHECK (frozen);
      before = *counter;
      msleep (50);
      CHECK (*counter == before);
      ok_or_print (cgroup_v2_ops.freeze (m, false, &err), &err);
      ok_or_print (cgroup_v2_ops.is_frozen (m, &frozen, &err), &err);
      CHECK (!frozen);
      msleep (50);
      CHECK (*counter != before);
    }

  json_t *stats = NULL;
  ok_or_print (cgroup_stats (m, &stats, &err), &err);
  CHECK (json_integer_value (json_object_get (json_object_get (stats, "memory"), "limit")) == limit);
  CHECK (json_is_integer (json_object_get (json_object_get (stats, "memory"), "usage")));
  CHECK (json_integer_value (json_object_get (json_object_get (stats, "cpu"), "usage_ns")) > 0);
  CHECK (json_integer_value (json_object_get (json_object_get (stats, "pids"), "current")) == 1);

  /* SIGKILL while frozen: the kill thaws so the child can die. */
  ok_or_print (cgroup_set_frozen (m, true, &err), &err);
  ok_or_print (cgroup_kill_all (m, SIGKILL, &err), &err);
  int st = 0;
  CHECK (waitpid (child, &st, 0) == child);
  CHECK (WIFSIGNALED (st) && WTERMSIG (st) == SIGKILL);

  ok_or_print (cgroup_destroy (m, &err), &err);
  for (size_t i = 0; i < m->n_hiers; i++)
    CHECK (access (m->hiers[i].path, F_OK) < 0 && errno == ENOENT);
  /* Destroying again is fine. */
  ok_or_print (cgroup_destroy (m, &err), &err);
  cgroup_manager_free (m);
}

/* Nested cgroups below the container are listed and removed too. */
TEST (host_nested_destroy)
{
  if (!host_has_cgroups ())
    return;
  char *path = fmt ("/berth-unit-test-%d-nested", (int) getpid ());
  struct cgroup_manager *m = manager (path);
  berth_err err = NULL;
  ok_or_print (cgroup_create (m, 0, &err), &err);
  volatile unsigned long *counter;
  pid_t child = spawn_counter (&counter);
  for (size_t i = 0; i < m->n_hiers; i++)
    {
      char *sub = fmt ("%s/sub/leaf", m->hiers[i].path);
      mkdirs (sub);
      if (cgroup_hierarchy_has (&m->hiers[i], "cpuset"))
        {
          touch (fmt ("%s/sub", m->hiers[i].path), "cpuset.cpus", trim (slurp (m->hiers[i].path, "cpuset.cpus")));
          touch (fmt ("%s/sub", m->hiers[i].path), "cpuset.mems", trim (slurp (m->hiers[i].path, "cpuset.mems")));
          touch (sub, "cpuset.cpus", trim (slurp (m->hiers[i].path, "cpuset.cpus")));
          touch (sub, "cpuset.mems", trim (slurp (m->hiers[i].path, "cpuset.mems")));
        }
      ok_or_print (cgroup_move_pid (sub, child, &err), &err);
    }
  pid_t *pids = NULL;
  size_t n = 0;
  ok_or_print (cgroup_list_pids (m, &pids, &n, &err), &err);
  CHECK (n == 1 && pids[0] == child);
  /* Not SIGKILL: every pid is signalled, no cgroup.kill. */
  ok_or_print (cgroup_kill_all (m, SIGTERM, &err), &err);
  int st = 0;
  CHECK (waitpid (child, &st, 0) == child);
  CHECK (WIFSIGNALED (st) && WTERMSIG (st) == SIGTERM);
  ok_or_print (cgroup_destroy (m, &err), &err);
  for (size_t i = 0; i < m->n_hiers; i++)
    CHECK (access (m->hiers[i].path, F_OK) < 0 && errno == ENOENT);
}

/* The container's view: bind mounts without a cgroup namespace, fresh
 * cgroup mounts rooted at the container's cgroup with one. */
static void check_host_mount (bool cgroupns)
{
  if (!host_has_cgroups ())
    return;
  char *path = fmt ("/berth-unit-test-%d-mnt%d", (int) getpid (), cgroupns);
  struct cgroup_manager *m = manager (path);
  berth_err err = NULL;
  char *target = fmt ("/tmp/berth-cgmnt-%d-%d", (int) getpid (), cgroupns);
  mkdirs (target);
  ok_or_print (cgroup_create (m, 0, &err), &err);
  pid_t pid = fork ();
  CHECK (pid >= 0);
  if (pid == 0)
    {
      /* In the container's cgroup first, then its own namespaces. */
      ok_or_print (cgroup_enter (m, getpid (), &err), &err);
      CHECK (unshare (CLONE_NEWNS | (cgroupns ? CLONE_NEWCGROUP : 0)) == 0);
      CHECK (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
      int fd = open (target, O_PATH | O_DIRECTORY);
      CHECK (fd >= 0);
      ok_or_print (cgroup_mount_in_container (m, fd, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, cgroupns, &err), &err);
      char *self = fmt ("%d\n", (int) getpid ());
      for (size_t i = 0; i < m->n_hiers; i++)
        {
          /* The root of each mounted hierarchy is the container's cgroup. */
          char *d = m->mode == CGROUP_MODE_V2 ? strdup (target) : fmt ("%s/%s", target, m->hiers[i].name);
          const char *procs = slurp (d, "cgroup.procs");
          if (strstr (procs, self) == NULL)
            printf ("  %s/cgroup.procs: `%s`\n", d, procs);
          CHECK (strstr (procs, self) != NULL);
          CHECK (mkdir (fmt ("%s/x", d), 0755) < 0 && errno == EROFS);
        }
      if (m->mode != CGROUP_MODE_V2)
        CHECK (mkdir (fmt ("%s/x", target), 0755) < 0 && errno == EROFS);
      _exit (0);
    }
  int st = 0;
  CHECK (waitpid (pid, &st, 0) == pid);
  CHECK (WIFEXITED (st) && WEXITSTATUS (st) == 0);
  rmdir (target);
  ok_or_print (cgroup_destroy (m, &err), &err);
}

TEST (host_mount_bind)
{
  check_host_mount (false);
}

TEST (host_mount_cgroupns)
{
  check_host_mount (true);
}

/* ------------------------------------------------------------------ */
/* eBPF device filter on the host's cgroup2 hierarchy                  */

/* Fork a child that joins DIR and opens PATH with FLAGS: 0 or its errno. */
static int open_in_cgroup (const char *dir, const char *path, int flags)
{
  pid_t pid = fork ();
  CHECK (pid >= 0);
  if (pid == 0)
    {
      berth_err err = NULL;
      if (cgroup_move_pid (dir, getpid (), &err) < 0)
        _exit (200);
      int fd = open (path, flags);
      _exit (fd >= 0 ? 0 : errno);
    }
  int st = 0;
  CHECK (waitpid (pid, &st, 0) == pid && WIFEXITED (st));
  CHECK (WEXITSTATUS (st) != 200);
  return WEXITSTATUS (st);
}

static void bpf_apply (const char *dir, const char *rules_json)
{
  json_t *j = parse (rules_json);
  struct cgroup_device_rule *rules = NULL;
  size_t n = 0;
  berth_err err = NULL;
  ok_or_print (cgroup_device_rules (j, &rules, &n, &err), &err);
  ok_or_print (cgroup_bpf_devices_apply (dir, rules, n, &err), &err);
  free (rules);
}

TEST (host_bpf_devices)
{
  if (!host_has_cgroups ())
    return;
  struct cgroup_manager *m = manager ("/x");
  if (m->unified == NULL)
    {
      printf ("  SKIP: no cgroup2 hierarchy\n");
      return;
    }
  char *dir = fmt ("%s/berth-unit-test-%d-bpf", m->unified->mountpoint, (int) getpid ());
  CHECK (mkdir (dir, 0755) == 0);
  berth_err err = NULL;

  /* deny all + the defaults: /dev/null works, /dev/kmsg (1:11) does not. */
  bpf_apply (dir, "[{\"allow\":false,\"access\":\"rwm\"}]");
  CHECK (cgroup_bpf_devices_count (dir, &err) == 1);
  CHECK (open_in_cgroup (dir, "/dev/null", O_RDWR) == 0);
  CHECK (open_in_cgroup (dir, "/dev/kmsg", O_RDONLY) == EPERM);

  /* read-only access to 1:11; the replaced program is detached. */
  bpf_apply (dir, "[{\"allow\":false,\"access\":\"rwm\"},"
                  "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":11,\"access\":\"r\"}]");
  CHECK (cgroup_bpf_devices_count (dir, &err) == 1);
  CHECK (open_in_cgroup (dir, "/dev/kmsg", O_RDONLY) == 0);
  CHECK (open_in_cgroup (dir, "/dev/kmsg", O_WRONLY) == EPERM);
  CHECK (open_in_cgroup (dir, "/dev/zero", O_RDONLY) == 0);

  /* deny writes to one device, allow the rest (last match wins). */
  bpf_apply (dir, "[{\"allow\":true,\"access\":\"rwm\"},"
                  "{\"allow\":false,\"type\":\"c\",\"major\":1,\"minor\":11,\"access\":\"w\"}]");
  CHECK (open_in_cgroup (dir, "/dev/kmsg", O_RDONLY) == 0);
  CHECK (open_in_cgroup (dir, "/dev/kmsg", O_RDWR) == EPERM);
  CHECK (open_in_cgroup (dir, "/dev/zero", O_RDWR) == 0);
  /* The defaults come after the config: /dev/null cannot be denied. */
  bpf_apply (dir, "[{\"allow\":false,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rwm\"}]");
  CHECK (open_in_cgroup (dir, "/dev/null", O_RDWR) == 0);
  CHECK (cgroup_bpf_devices_count (dir, &err) == 1);

  CHECK (rmdir (dir) == 0);
}

/* The one lexical cleaner, in its three ".." modes, and the cgroup paths
 * made with it. */
TEST (clean_relative_path_modes)
{
  static const struct
  {
    const char *in;
    const char *refuse, *resolve, *clamp; /* NULL: refused */
  } cases[] = {
    { "./a//b/", "a/b", "a/b", "a/b" },
    { "/", "", "", "" },
    { "a/../b", NULL, "b", "b" },
    { "../a", NULL, NULL, "a" },
    { "/a/b/../../..", NULL, NULL, "" },
    { "a/./..c/d", "a/..c/d", "a/..c/d", "a/..c/d" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      const char *want[] = { cases[i].refuse, cases[i].resolve, cases[i].clamp };
      enum berth_dotdot modes[] = { BERTH_DOTDOT_REFUSE, BERTH_DOTDOT_RESOLVE, BERTH_DOTDOT_CLAMP };
      for (int m = 0; m < 3; m++)
        {
          cleanup_free char *got = berth_clean_relative_path (cases[i].in, modes[m]);
          if (want[m] == NULL)
            CHECK (got == NULL);
          else
            CHECK_STR (got, want[m]);
        }
    }
}

TEST (cgroup_clean_path_refuses_escapes_and_the_root)
{
  berth_err err = NULL;
  cleanup_free char *p = NULL;
  CHECK (cgroup_clean_path ("/a/./b/../c//", &p, &err) == 0);
  CHECK_STR (p, "/a/c");
  cleanup_free char *q = NULL;
  CHECK (cgroup_clean_path ("/a/../..", &q, &err) < 0);
  CHECK_CONTAINS (err->msg, "escapes");
  berth_error_free (&err);
  CHECK (cgroup_clean_path ("/a/..", &q, &err) < 0);
  CHECK_CONTAINS (err->msg, "root cgroup");
  berth_error_free (&err);
}
