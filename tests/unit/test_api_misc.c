/* Unit tests of the pure parts of berthd's top, stats, archive, export
 * and update handlers: cgroup location and counters on fake trees, ps
 * parsing, Docker's path forms, the chrooted archive child against a fake
 * container root (hostile symlinks and tar names included; needs root),
 * and the update rules. */
#include "unit.h"

#include "common/cleanup.h"
#include "common/fs.h"
#include "daemon/container-archive.h"
#include "daemon/container-stats.h"
#include "daemon/update-config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

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

static char *tmp_dir (void)
{
  char *d = strdup ("/tmp/berth-api-misc.XXXXXX");
  if (d == NULL || mkdtemp (d) == NULL)
    abort ();
  return d;
}

/* Write DIR/NAME, creating the folders on the way. */
static void put_file (const char *dir, const char *name, const char *content)
{
  cleanup_free char *path = fmt ("%s/%s", dir, name);
  cleanup_free char *parent = strdup (path);
  *strrchr (parent, '/') = '\0';
  CHECK (berth_mkdir_p (parent, 0755, NULL) == 0);
  CHECK (berth_write_file (path, content, strlen (content), NULL) == 0);
}

static char *slurp (const char *path)
{
  char *out = NULL;
  if (berth_read_file (path, 1 << 20, &out, NULL, NULL) < 0)
    return NULL;
  return out;
}

static json_int_t jint (json_t *root, const char *dotted)
{
  json_t *v = berth_json_path (root, dotted);
  CHECK (json_is_integer (v));
  return json_integer_value (v);
}

/* ------------------------------------------------------------------ */
/* cgroup location                                                     */

#define ID "4f1c0ffee"

static const char hybrid_cgroup[] = "12:pids:/berth/" ID "\n"
                                    "9:name=systemd:/\n"
                                    "4:memory:/berth/" ID "\n"
                                    "3:cpu,cpuacct:/berth/" ID "\n"
                                    "2:blkio:/\n"
                                    "0::/\n";

static const char hybrid_mountinfo[]
    = "25 1 0:22 / /sys rw,nosuid - sysfs sysfs rw\n"
      "30 25 0:26 / /sys/fs/cgroup ro shared:9 - tmpfs tmpfs ro,mode=755\n"
      "31 30 0:27 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
      "33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw shared:12 - cgroup cgroup rw,cpu,cpuacct\n"
      "34 30 0:30 / /sys/fs/cgroup/memory rw shared:13 - cgroup cgroup rw,memory\n"
      "35 30 0:31 / /sys/fs/cgroup/pids rw shared:14 - cgroup cgroup rw,pids\n"
      "36 30 0:32 / /sys/fs/cgroup/blkio rw shared:15 - cgroup cgroup rw,blkio\n";

TEST (cgroup_parse_hybrid)
{
  struct ct_cgroup cg;
  CHECK (ct_cgroup_parse (hybrid_cgroup, hybrid_mountinfo, ID, &cg, NULL) == 0);
  CHECK_STR (cg.pids, "/sys/fs/cgroup/pids/berth/" ID);
  CHECK_STR (cg.memory, "/sys/fs/cgroup/memory/berth/" ID);
  CHECK_STR (cg.cpu, "/sys/fs/cgroup/cpu,cpuacct/berth/" ID);
  CHECK_STR (cg.cpuacct, "/sys/fs/cgroup/cpu,cpuacct/berth/" ID);
  /* Left in the root cgroup there: the host's counters, not used. */
  CHECK (cg.blkio == NULL);
  CHECK (cg.unified == NULL);
  ct_cgroup_free (&cg);
  /* Without the id filter the root folders count. */
  CHECK (ct_cgroup_parse (hybrid_cgroup, hybrid_mountinfo, NULL, &cg, NULL) == 0);
  CHECK_STR (cg.blkio, "/sys/fs/cgroup/blkio");
  CHECK_STR (cg.unified, "/sys/fs/cgroup/unified");
  ct_cgroup_free (&cg);
}

TEST (cgroup_parse_v2_and_mount_roots)
{
  struct ct_cgroup cg;
  /* A cgroup2 mount whose root is a sub-cgroup (a cgroup namespace), with
   * an escaped space in its mount point. */
  const char *mi = "40 1 0:40 /outer /sys/fs/cgroup\\040x rw - cgroup2 cgroup2 rw\n";
  CHECK (ct_cgroup_parse ("0::/outer/berth/" ID "\n", mi, ID, &cg, NULL) == 0);
  CHECK_STR (cg.unified, "/sys/fs/cgroup x/berth/" ID);
  CHECK (cg.memory == NULL && cg.pids == NULL);
  ct_cgroup_free (&cg);
  /* A path outside the mount's root is not visible. */
  berth_err err = NULL;
  CHECK (ct_cgroup_parse ("0::/elsewhere/" ID "\n", mi, ID, &cg, &err) == -ENOENT);
  berth_error_free (&err);
  /* Garbage in, no crash. */
  CHECK (ct_cgroup_parse ("nonsense\n::\n1:x\n", "junk line\n- - -\n", NULL, &cg, NULL) == -ENOENT);
}

TEST (cgroup_pids_walks_subgroups)
{
  cleanup_free char *d = tmp_dir ();
  put_file (d, "cgroup.procs", "42\n7\n");
  put_file (d, "sub/cgroup.procs", "100\n42\n");
  put_file (d, "sub/deeper/cgroup.procs", "3\n");
  struct ct_cgroup cg = { .memory = strdup (d) };
  pid_t *pids = NULL;
  size_t n = 0;
  CHECK (ct_cgroup_pids (&cg, &pids, &n, NULL) == 0);
  CHECK (n == 4);
  CHECK (pids[0] == 3 && pids[1] == 7 && pids[2] == 42 && pids[3] == 100);
  free (pids);
  ct_cgroup_free (&cg);
  berth_rm_rf (d);
}

/* This very process, in the host's real cgroups (skipped where the test
 * runs without any cgroup file system). */
TEST (cgroup_locate_self)
{
  struct ct_cgroup cg;
  berth_err err = NULL;
  if (access ("/proc/self/cgroup", R_OK) < 0 || access ("/sys/fs/cgroup", F_OK) < 0)
    return;
  CHECK (ct_cgroup_locate (getpid (), NULL, &cg, &err) == 0);
  pid_t *pids = NULL;
  size_t n = 0;
  CHECK (ct_cgroup_pids (&cg, &pids, &n, NULL) == 0);
  bool found = false;
  for (size_t i = 0; i < n; i++)
    found |= pids[i] == getpid ();
  CHECK (found);
  free (pids);
  struct ct_stats_sample s;
  ct_stats_read (&cg, getpid (), 0, &s);
  CHECK (s.has_memory && s.mem_usage > 0);
  CHECK (s.online_cpus >= 1 && s.system_cpu > 0);
  /* The id filter leaves nothing when no path holds it. */
  struct ct_cgroup none;
  CHECK (ct_cgroup_locate (getpid (), "no-such-container-id", &none, &err) == -ENOENT);
  berth_error_free (&err);
  ct_stats_sample_clear (&s);
  ct_cgroup_free (&cg);
}

/* ------------------------------------------------------------------ */
/* stats                                                               */

TEST (stats_parsers)
{
  uint64_t ns = 0, v = 0;
  unsigned online = 0;
  const char *stat = "cpu  10 20 30 40 50 60 70 80 90 100\ncpu0 1 2 3 4 5 6 7 0 0 0\ncpu1 1 2 3 4 5 6 7\n"
                     "intr 1 2 3\n";
  CHECK (ct_parse_proc_stat (stat, 100, &ns, &online));
  CHECK (ns == 280ULL * 10000000ULL); /* 10+..+70 ticks of 10 ms */
  CHECK (online == 2);
  CHECK (!ct_parse_proc_stat ("cpu 1 2\n", 100, &ns, &online));

  CHECK (ct_keyed_u64 ("usage_usec 5\nuser_usec 3\n", "user_usec", &v) && v == 3);
  CHECK (!ct_keyed_u64 ("usage_usec 5\n", "usage", &v));
  bool is_max;
  CHECK (ct_parse_limit ("max\n", &v, &is_max) && is_max && v == 0);
  CHECK (ct_parse_limit ("123\n", &v, &is_max) && !is_max && v == 123);
  CHECK (!ct_parse_limit ("x", &v, &is_max));

  cleanup_json json_t *b = ct_parse_blkio_v1 ("8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n");
  CHECK (json_array_size (b) == 3);
  CHECK_STR (json_string_value (json_object_get (json_array_get (b, 1), "op")), "Write");
  CHECK (jint (json_array_get (b, 1), "value") == 8192);

  cleanup_json json_t *io = ct_parse_io_v2 ("254:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n", "rbytes",
                                            "wbytes");
  CHECK (json_array_size (io) == 2);
  CHECK (jint (json_array_get (io, 0), "major") == 254);
  CHECK (jint (json_array_get (io, 0), "value") == 10);
  CHECK_STR (json_string_value (json_object_get (json_array_get (io, 1), "op")), "write");
  CHECK (jint (json_array_get (io, 1), "value") == 20);

  const char *dev = "Inter-|   Receive                            |  Transmit\n"
                    " face |bytes    packets errs drop fifo frame compressed multicast|bytes packets\n"
                    "    lo:     100       1    0    0    0     0          0         0      100       1    0    0"
                    "    0     0       0          0\n"
                    "  eth0:    2000      20    1    2    0     0          0         0     3000      30    3    4"
                    "    0     0       0          0\n";
  cleanup_json json_t *nets = ct_parse_net_dev (dev);
  CHECK (nets && json_object_size (nets) == 1);
  CHECK (jint (nets, "eth0.rx_bytes") == 2000);
  CHECK (jint (nets, "eth0.tx_packets") == 30);
  CHECK (jint (nets, "eth0.tx_dropped") == 4);
  CHECK (ct_parse_net_dev ("    lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n") == NULL);
}

TEST (stats_v1_tree)
{
  cleanup_free char *d = tmp_dir ();
  cleanup_free char *cpu = fmt ("%s/cpu", d), *mem = fmt ("%s/memory", d), *pids = fmt ("%s/pids", d),
                    *blkio = fmt ("%s/blkio", d);
  long hz = sysconf (_SC_CLK_TCK);
  put_file (cpu, "cpuacct.usage", "5000000000\n");
  put_file (cpu, "cpuacct.usage_percpu", "3000000000 2000000000 \n");
  put_file (cpu, "cpuacct.stat", "user 300\nsystem 100\n");
  put_file (cpu, "cpu.stat", "nr_periods 10\nnr_throttled 2\nthrottled_time 777\n");
  put_file (mem, "memory.usage_in_bytes", "1048576\n");
  put_file (mem, "memory.max_usage_in_bytes", "2097152\n");
  put_file (mem, "memory.limit_in_bytes", "9223372036854771712\n");
  put_file (mem, "memory.failcnt", "0\n");
  put_file (mem, "memory.stat", "cache 4096\nrss 8192\ntotal_inactive_file 4096\n");
  put_file (pids, "pids.current", "3\n");
  put_file (pids, "pids.max", "max\n");
  put_file (blkio, "blkio.throttle.io_service_bytes_recursive", "8:0 Read 10\n8:0 Write 20\nTotal 30\n");
  put_file (blkio, "blkio.throttle.io_serviced_recursive", "8:0 Read 1\n8:0 Write 2\nTotal 3\n");
  struct ct_cgroup cg = { .cpu = strdup (cpu), .cpuacct = strdup (cpu), .memory = strdup (mem),
                          .pids = strdup (pids), .blkio = strdup (blkio) };
  struct ct_stats_sample s;
  ct_stats_read (&cg, 0, 1 << 30, &s);
  CHECK (s.has_cpu && s.cpu_total == 5000000000ULL);
  CHECK (s.cpu_user == 300ULL * (1000000000ULL / (uint64_t) hz));
  CHECK (s.n_percpu == 2 && s.percpu[1] == 2000000000ULL);
  CHECK (s.has_memory && s.memory_v1 && s.mem_limit == 1 << 30); /* capped to the machine */
  CHECK (s.has_pids && s.pids_current == 3 && s.pids_limit == 0);

  cleanup_json json_t *j = ct_stats_json (&s, NULL, "/web", "abc");
  CHECK_STR (json_string_value (json_object_get (j, "name")), "/web");
  CHECK_STR (json_string_value (json_object_get (j, "preread")), "0001-01-01T00:00:00Z");
  CHECK (strncmp (json_string_value (json_object_get (j, "read")), "20", 2) == 0);
  CHECK (jint (j, "cpu_stats.cpu_usage.total_usage") == 5000000000LL);
  CHECK (json_array_size (berth_json_path (j, "cpu_stats.cpu_usage.percpu_usage")) == 2);
  CHECK (jint (j, "cpu_stats.throttling_data.throttled_time") == 777);
  CHECK (jint (j, "cpu_stats.online_cpus") >= 1);
  CHECK (jint (j, "cpu_stats.system_cpu_usage") > 0);
  CHECK (jint (j, "precpu_stats.cpu_usage.total_usage") == 0);
  CHECK (berth_json_path (j, "precpu_stats.system_cpu_usage") == NULL);
  CHECK (jint (j, "memory_stats.usage") == 1048576);
  CHECK (jint (j, "memory_stats.max_usage") == 2097152);
  CHECK (jint (j, "memory_stats.limit") == 1 << 30);
  CHECK (jint (j, "memory_stats.stats.total_inactive_file") == 4096);
  CHECK (berth_json_path (j, "memory_stats.failcnt") == NULL);
  CHECK (jint (j, "pids_stats.current") == 3);
  CHECK (berth_json_path (j, "pids_stats.limit") == NULL);
  CHECK (json_array_size (berth_json_path (j, "blkio_stats.io_service_bytes_recursive")) == 2);
  CHECK (json_array_size (berth_json_path (j, "blkio_stats.io_serviced_recursive")) == 2);
  CHECK (json_is_null (berth_json_path (j, "blkio_stats.sectors_recursive")));
  CHECK (jint (j, "num_procs") == 0);
  CHECK (json_object_size (json_object_get (j, "storage_stats")) == 0);
  CHECK (json_object_get (j, "networks") == NULL);

  /* A second reading: precpu is the first. */
  struct ct_stats_sample s2;
  put_file (cpu, "cpuacct.usage", "6000000000\n");
  ct_stats_read (&cg, 0, 1 << 30, &s2);
  cleanup_json json_t *j2 = ct_stats_json (&s2, &s, "/web", "abc");
  CHECK (jint (j2, "cpu_stats.cpu_usage.total_usage") == 6000000000LL);
  CHECK (jint (j2, "precpu_stats.cpu_usage.total_usage") == 5000000000LL);
  CHECK_STR (json_string_value (json_object_get (j2, "preread")), s.read);
  ct_stats_sample_clear (&s);
  ct_stats_sample_clear (&s2);
  ct_cgroup_free (&cg);
  berth_rm_rf (d);
}

TEST (stats_v2_tree)
{
  cleanup_free char *d = tmp_dir ();
  put_file (d, "cpu.stat", "usage_usec 2000\nuser_usec 1500\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\n"
                           "throttled_usec 9\n");
  put_file (d, "memory.current", "4096\n");
  put_file (d, "memory.max", "65536\n");
  put_file (d, "memory.stat", "anon 1024\nfile 2048\ninactive_file 1024\n");
  put_file (d, "pids.current", "2\n");
  put_file (d, "pids.max", "50\n");
  put_file (d, "io.stat", "8:16 rbytes=5 wbytes=6 rios=7 wios=8 dbytes=0 dios=0\n");
  struct ct_cgroup cg = { .unified = strdup (d) };
  struct ct_stats_sample s;
  ct_stats_read (&cg, 0, 1 << 30, &s);
  cleanup_json json_t *j = ct_stats_json (&s, NULL, "/db", "def");
  CHECK (jint (j, "cpu_stats.cpu_usage.total_usage") == 2000000);
  CHECK (jint (j, "cpu_stats.cpu_usage.usage_in_usermode") == 1500000);
  CHECK (jint (j, "cpu_stats.cpu_usage.usage_in_kernelmode") == 500000);
  CHECK (berth_json_path (j, "cpu_stats.cpu_usage.percpu_usage") == NULL);
  CHECK (jint (j, "cpu_stats.throttling_data.throttled_time") == 9000);
  CHECK (jint (j, "memory_stats.usage") == 4096);
  CHECK (jint (j, "memory_stats.limit") == 65536);
  CHECK (berth_json_path (j, "memory_stats.max_usage") == NULL);
  CHECK (jint (j, "memory_stats.stats.inactive_file") == 1024);
  CHECK (jint (j, "pids_stats.limit") == 50);
  json_t *bytes = berth_json_path (j, "blkio_stats.io_service_bytes_recursive");
  CHECK (json_array_size (bytes) == 2 && jint (json_array_get (bytes, 1), "value") == 6);
  ct_stats_sample_clear (&s);

  /* "max" memory: the machine's. */
  put_file (d, "memory.max", "max\n");
  ct_stats_read (&cg, 0, 1 << 30, &s);
  CHECK (s.mem_limit == 1 << 30);
  ct_stats_sample_clear (&s);
  ct_cgroup_free (&cg);
  berth_rm_rf (d);
}

TEST (stats_zero_shape)
{
  cleanup_json json_t *j = ct_stats_zero_json ("/stopped", "123");
  CHECK_STR (json_string_value (json_object_get (j, "read")), "0001-01-01T00:00:00Z");
  CHECK_STR (json_string_value (json_object_get (j, "id")), "123");
  CHECK (json_object_size (json_object_get (j, "memory_stats")) == 0);
  CHECK (json_object_size (json_object_get (j, "pids_stats")) == 0);
  CHECK (json_is_null (berth_json_path (j, "blkio_stats.io_service_bytes_recursive")));
  CHECK (jint (j, "cpu_stats.cpu_usage.total_usage") == 0);
  CHECK (jint (j, "precpu_stats.throttling_data.periods") == 0);
}

/* ------------------------------------------------------------------ */
/* top                                                                 */

TEST (top_parse_ps_output)
{
  const char *out = "UID          PID    PPID  C STIME TTY          TIME CMD\n"
                    "root           1       0  0 10:00 ?        00:00:01 /sbin/init splash\n"
                    "root         100       1  0 10:01 ?        00:00:00 sleep 1000 --flag  x\n"
                    "root         101     100  0 10:01 ?        00:00:00 sh\n"
                    "\n";
  pid_t pids[] = { 100, 101 };
  json_t *t = NULL;
  CHECK (top_parse_ps (out, pids, 2, &t, NULL) == 0);
  CHECK (json_array_size (json_object_get (t, "Titles")) == 8);
  json_t *procs = json_object_get (t, "Processes");
  CHECK (json_array_size (procs) == 2);
  json_t *row = json_array_get (procs, 0);
  CHECK (json_array_size (row) == 8);
  CHECK_STR (json_string_value (json_array_get (row, 1)), "100");
  CHECK_STR (json_string_value (json_array_get (row, 7)), "sleep 1000 --flag x");
  json_decref (t);

  /* Thread rows ("-") follow the process they belong to. */
  const char *threads = "PID TID CMD\n100 - sleep\n- 100 -\n- 102 -\n200 - other\n- 200 -\n";
  pid_t only[] = { 100 };
  CHECK (top_parse_ps (threads, only, 1, &t, NULL) == 0);
  CHECK (json_array_size (json_object_get (t, "Processes")) == 3);
  json_decref (t);

  berth_err err = NULL;
  CHECK (top_parse_ps ("USER COMMAND\nroot x\n", only, 1, &t, &err) == -EINVAL);
  CHECK_STR (err->msg, "Couldn't find PID field in ps output");
  berth_error_free (&err);
  CHECK (top_parse_ps ("PID CMD\nabc x\n", only, 1, &t, &err) == -EINVAL);
  CHECK_STR (err->msg, "Unexpected pid 'abc'");
  berth_error_free (&err);
  CHECK (top_parse_ps ("", only, 1, &t, &err) == -EINVAL);
  berth_error_free (&err);
}

TEST (top_ps_args)
{
  berth_err err = NULL;
  CHECK (top_check_ps_args ("-ef", NULL) == 0);
  CHECK (top_check_ps_args ("-o pid=PID,comm", NULL) == 0);
  CHECK (top_check_ps_args ("aux", NULL) == 0);
  CHECK (top_check_ps_args ("-o user=PID", &err) == -EINVAL);
  CHECK_STR (err->msg, "specifying \"user=PID\" is not allowed");
  berth_error_free (&err);
  char args[] = "-o  pid,comm  -T";
  const char *argv[8] = { "ps" };
  size_t n = top_split_args (args, argv, 1, 8);
  CHECK (n == 4);
  CHECK_STR (argv[1], "-o");
  CHECK_STR (argv[2], "pid,comm");
  CHECK_STR (argv[3], "-T");
  CHECK (argv[4] == NULL);
}

/* ------------------------------------------------------------------ */
/* archive paths                                                       */

static void check_abs (const char *in, const char *want)
{
  cleanup_free char *got = archive_abs_path (in);
  CHECK_STR (got, want);
}

TEST (archive_path_forms)
{
  check_abs ("/etc", "/etc");
  check_abs ("etc/", "/etc/");
  check_abs ("/etc/.", "/etc/.");
  check_abs ("/etc/./", "/etc/./");
  check_abs (".", "/.");
  check_abs ("/", "/");
  check_abs ("../../etc//passwd", "/etc/passwd");
  check_abs ("/a/b/../c", "/a/c");

  static const char *const base[][2] = { { "/etc", "etc" }, { "/etc/", "etc" }, { "/etc/.", "." }, { "/", "/" } };
  for (size_t i = 0; i < 4; i++)
    {
      cleanup_free char *b = archive_base_name (base[i][0]);
      CHECK_STR (b, base[i][1]);
    }

  cleanup_free char *e1 = archive_entry_name ("etc", ""), *e2 = archive_entry_name ("etc", "passwd"),
                    *e3 = archive_entry_name ("/", ""), *e4 = archive_entry_name ("/", "bin/ls"),
                    *e5 = archive_entry_name (".", "x");
  CHECK_STR (e1, "etc");
  CHECK_STR (e2, "etc/passwd");
  CHECK_STR (e3, "/");
  CHECK_STR (e4, "/bin/ls");
  CHECK_STR (e5, "./x");

  cleanup_free char *c1 = archive_clean_name ("./a//b/"), *c2 = archive_clean_name ("/abs/x"),
                    *c3 = archive_clean_name ("a/../b"), *c4 = archive_clean_name ("./");
  CHECK_STR (c1, "a/b");
  CHECK_STR (c2, "abs/x");
  CHECK_STR (c3, "b");
  CHECK_STR (c4, "");
  CHECK (archive_clean_name ("../x") == NULL);
  CHECK (archive_clean_name ("a/../../x") == NULL);

  CHECK (!archive_symlink_escapes ("a/link", "../b"));
  CHECK (archive_symlink_escapes ("a/link", "../../b"));
  CHECK (archive_symlink_escapes ("link", "x/../../y"));
  CHECK (!archive_symlink_escapes ("link", "/etc/passwd"));

  CHECK (archive_go_mode (S_IFDIR | 0755) == (1u << 31 | 0755));
  CHECK (archive_go_mode (S_IFLNK | 0777) == (1u << 27 | 0777));
  CHECK (archive_go_mode (S_IFREG | S_ISUID | 0644) == (1u << 23 | 0644));
  CHECK (archive_go_mode (S_IFCHR | 0600) == (1u << 26 | 1u << 21 | 0600));
}

TEST (archive_stat_header)
{
  cleanup_free char *b1 = archive_base64 ("foobar", 6), *b2 = archive_base64 ("fooba", 5),
                    *b3 = archive_base64 ("f", 1);
  CHECK_STR (b1, "Zm9vYmFy");
  CHECK_STR (b2, "Zm9vYmE=");
  CHECK_STR (b3, "Zg==");
  struct timespec t = { .tv_sec = 1700000000, .tv_nsec = 120000000 };
  cleanup_json json_t *st = archive_path_stat_json ("hosts", 12, 0644, &t, "");
  CHECK_STR (json_string_value (json_object_get (st, "mtime")), "2023-11-14T22:13:20.12Z");
  CHECK (jint (st, "size") == 12);
  CHECK (jint (st, "mode") == 0644);
  cleanup_free char *h = archive_path_stat_header (st);
  cleanup_free char *text = json_dumps (st, JSON_COMPACT);
  cleanup_free char *expect = archive_base64 (text, strlen (text));
  CHECK_STR (h, expect);
  struct timespec whole = { .tv_sec = 0, .tv_nsec = 0 };
  cleanup_json json_t *st2 = archive_path_stat_json ("x", 0, 0, &whole, NULL);
  CHECK_STR (json_string_value (json_object_get (st2, "mtime")), "1970-01-01T00:00:00Z");
}

TEST (archive_follow_in_scope_stays_inside)
{
  cleanup_free char *root = tmp_dir ();
  cleanup_free char *etc = fmt ("%s/etc", root), *l1 = fmt ("%s/abs", root), *l2 = fmt ("%s/etc/up", root),
                    *l3 = fmt ("%s/loop", root), *l4 = fmt ("%s/broken", root);
  CHECK (mkdir (etc, 0755) == 0);
  CHECK (symlink ("/etc", l1) == 0);                 /* absolute: the root's /etc */
  CHECK (symlink ("../../../../..", l2) == 0);       /* climbs: stops at the root */
  CHECK (symlink ("loop", l3) == 0);
  CHECK (symlink ("/nowhere/x", l4) == 0);
  int fd = open (root, O_PATH | O_DIRECTORY);
  CHECK (fd >= 0);
  char *out = NULL;
  CHECK (archive_follow_in_scope (fd, "/abs/passwd", &out) == 0);
  CHECK_STR (out, "/etc/passwd");
  free (out);
  CHECK (archive_follow_in_scope (fd, "/etc/up/etc", &out) == 0);
  CHECK_STR (out, "/etc");
  free (out);
  CHECK (archive_follow_in_scope (fd, "/broken", &out) == 0);
  CHECK_STR (out, "/nowhere/x");
  free (out);
  CHECK (archive_follow_in_scope (fd, "/../..", &out) == 0);
  CHECK_STR (out, "/");
  free (out);
  CHECK (archive_follow_in_scope (fd, "/loop", &out) == -ELOOP);
  close (fd);
  berth_rm_rf (root);
}

/* ------------------------------------------------------------------ */
/* the chroot child (root only)                                         */

/* A fake container root: files, a folder with a hard link, and symlinks
 * that would leave the root if resolved on the host. */
static char *make_root (void)
{
  char *root = tmp_dir ();
  CHECK (chmod (root, 0755) == 0);
  put_file (root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1234:5678::/home/app:/bin/sh\n");
  put_file (root, "etc/group", "root:x:0:\nstaff:x:4321:\n");
  put_file (root, "etc/hostname", "inside\n");
  put_file (root, "data/a.txt", "alpha");
  put_file (root, "data/sub/b.txt", "beta");
  cleanup_free char *a = fmt ("%s/data/a.txt", root), *h = fmt ("%s/data/hard", root);
  CHECK (link (a, h) == 0);
  cleanup_free char *s1 = fmt ("%s/etclink", root), *s2 = fmt ("%s/data/up", root), *s3 = fmt ("%s/dest", root),
                    *s4 = fmt ("%s/destlink", root), *s5 = fmt ("%s/dest/toroot", root);
  CHECK (symlink ("/etc", s1) == 0);
  CHECK (symlink ("../../../../../../etc", s2) == 0);
  CHECK (mkdir (s3, 0755) == 0);
  CHECK (symlink ("/dest", s4) == 0);
  CHECK (symlink ("/", s5) == 0);
  return root;
}

static int run_job (const char *root, enum archive_op op, const char *path, int data_fd,
                    struct archive_result *res)
{
  int fd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  CHECK (fd >= 0);
  cleanup_free char *abs = archive_abs_path (path);
  struct archive_job job = { .op = op, .root_fd = fd, .path = abs, .data_fd = data_fd };
  int r = archive_run (&job, res, NULL);
  close (fd);
  return r;
}

/* Read the tar in FD: "name=content;" for files, "name->target;" for
 * symlinks, "name=>target;" for hard links, "name/;" for folders. */
static char *tar_listing (int fd)
{
  CHECK (lseek (fd, 0, SEEK_SET) == 0);
  struct archive *a = archive_read_new ();
  archive_read_support_format_tar (a);
  CHECK (archive_read_open_fd (a, fd, 10240) == ARCHIVE_OK);
  char *out = strdup ("");
  struct archive_entry *e;
  while (archive_read_next_header (a, &e) == ARCHIVE_OK)
    {
      char data[256] = "";
      ssize_t n = archive_read_data (a, data, sizeof data - 1);
      data[n > 0 ? n : 0] = '\0';
      char *next = NULL;
      const char *name = archive_entry_pathname (e);
      if (archive_entry_hardlink (e))
        next = fmt ("%s%s=>%s;", out, name, archive_entry_hardlink (e));
      else if (archive_entry_filetype (e) == AE_IFLNK)
        next = fmt ("%s%s->%s;", out, name, archive_entry_symlink (e));
      else if (archive_entry_filetype (e) == AE_IFDIR)
        next = fmt ("%s%s;", out, name);
      else
        next = fmt ("%s%s=%s;", out, name, data);
      free (out);
      out = next;
    }
  archive_read_free (a);
  return out;
}

static int temp_fd (void)
{
  int fd = open ("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  CHECK (fd >= 0);
  return fd;
}

TEST (archive_stat_in_root)
{
  if (geteuid () != 0)
    return;
  cleanup_free char *root = make_root ();
  struct archive_result res;
  CHECK (run_job (root, ARCHIVE_OP_STAT, "/etclink", -1, &res) == 0);
  CHECK (res.ok && S_ISLNK (res.mode));
  CHECK_STR (res.link_target, "/etc");
  /* A trailing slash follows the link: the folder, inside the root. */
  CHECK (run_job (root, ARCHIVE_OP_STAT, "/etclink/", -1, &res) == 0);
  CHECK (res.ok && S_ISDIR (res.mode));
  CHECK (run_job (root, ARCHIVE_OP_STAT, "/data/up/hostname", -1, &res) == 0);
  CHECK (res.ok && S_ISREG (res.mode) && res.size == 7); /* the root's "inside\n" */
  CHECK (run_job (root, ARCHIVE_OP_STAT, "/missing", -1, &res) == 0);
  CHECK (!res.ok && res.errnum == ENOENT);
  berth_rm_rf (root);
}

TEST (archive_get_in_root)
{
  if (geteuid () != 0)
    return;
  cleanup_free char *root = make_root ();
  struct archive_result res;
  int fd = temp_fd ();
  CHECK (run_job (root, ARCHIVE_OP_GET, "/data/sub", fd, &res) == 0 && res.ok);
  cleanup_free char *l1 = tar_listing (fd);
  CHECK_STR (l1, "sub/;sub/b.txt=beta;");
  close (fd);

  /* Through an absolute symlink and a climbing one: the root's file. */
  fd = temp_fd ();
  CHECK (run_job (root, ARCHIVE_OP_GET, "/etclink/hostname", fd, &res) == 0 && res.ok);
  cleanup_free char *l2 = tar_listing (fd);
  CHECK_STR (l2, "hostname=inside\n;");
  close (fd);
  fd = temp_fd ();
  CHECK (run_job (root, ARCHIVE_OP_GET, "../../../data/up/hostname", fd, &res) == 0 && res.ok);
  cleanup_free char *l3 = tar_listing (fd);
  CHECK_STR (l3, "hostname=inside\n;");
  close (fd);

  /* A symlink itself, not its target. */
  fd = temp_fd ();
  CHECK (run_job (root, ARCHIVE_OP_GET, "/etclink", fd, &res) == 0 && res.ok);
  cleanup_free char *l4 = tar_listing (fd);
  CHECK_STR (l4, "etclink->/etc;");
  close (fd);

  /* "dir/." is the content, named "./..."; hard links stay links. */
  fd = temp_fd ();
  CHECK (run_job (root, ARCHIVE_OP_GET, "/data/.", fd, &res) == 0 && res.ok);
  cleanup_free char *l5 = tar_listing (fd);
  CHECK (strncmp (l5, "./;", 3) == 0);
  CHECK (strstr (l5, "./sub/b.txt=beta;"));
  CHECK (strstr (l5, "./a.txt=alpha;") || strstr (l5, "./hard=alpha;"));
  CHECK (strstr (l5, "./hard=>./a.txt;") || strstr (l5, "./a.txt=>./hard;"));
  close (fd);

  fd = temp_fd ();
  CHECK (run_job (root, ARCHIVE_OP_GET, "/nope", fd, &res) == 0 && !res.ok && res.errnum == ENOENT);
  close (fd);
  berth_rm_rf (root);
}

TEST (archive_export_names)
{
  if (geteuid () != 0)
    return;
  cleanup_free char *root = make_root ();
  struct archive_result res;
  int fd = temp_fd ();
  CHECK (run_job (root, ARCHIVE_OP_EXPORT, "/", fd, &res) == 0 && res.ok);
  cleanup_free char *l = tar_listing (fd);
  CHECK (strstr (l, "etc/hostname=inside\n;"));
  CHECK (strstr (l, "data/sub/b.txt=beta;"));
  CHECK (strstr (l, "etclink->/etc;"));
  /* Bare relative names, and no entry for the root itself. */
  CHECK (strstr (l, ";./") == NULL && strstr (l, ";/") == NULL);
  CHECK (l[0] != '/' && l[0] != '.');
  close (fd);
  berth_rm_rf (root);
}

/* An uploaded tar with ENTRIES: "f:name:content", "d:name", "l:name:target". */
static int make_tar (const char *const *entries)
{
  int fd = temp_fd ();
  struct archive *a = archive_write_new ();
  archive_write_set_format_pax_restricted (a);
  CHECK (archive_write_open_fd (a, fd) == ARCHIVE_OK);
  for (const char *const *p = entries; *p; p++)
    {
      cleanup_free char *spec = strdup (*p);
      char *kind = strtok (spec, ":"), *name = strtok (NULL, ":"), *rest = strtok (NULL, "");
      struct archive_entry *e = archive_entry_new ();
      archive_entry_set_pathname (e, name);
      archive_entry_set_uid (e, 42);
      archive_entry_set_gid (e, 43);
      if (*kind == 'd')
        {
          archive_entry_set_filetype (e, AE_IFDIR);
          archive_entry_set_perm (e, 0750);
        }
      else if (*kind == 'l')
        {
          archive_entry_set_filetype (e, AE_IFLNK);
          archive_entry_set_symlink (e, rest);
          archive_entry_set_perm (e, 0777);
        }
      else
        {
          archive_entry_set_filetype (e, AE_IFREG);
          archive_entry_set_perm (e, 0640);
          archive_entry_set_size (e, (la_int64_t) strlen (rest));
        }
      CHECK (archive_write_header (a, e) == ARCHIVE_OK);
      if (*kind == 'f')
        CHECK (archive_write_data (a, rest, strlen (rest)) == (la_ssize_t) strlen (rest));
      archive_entry_free (e);
    }
  CHECK (archive_write_close (a) == ARCHIVE_OK);
  archive_write_free (a);
  CHECK (lseek (fd, 0, SEEK_SET) == 0);
  return fd;
}

/* Run JOB (a PUT of DATA, closed after) into ROOT with RUN. */
static int run_put (const char *root, struct archive_job job, int data,
                    int (*run) (const struct archive_job *, struct archive_result *, berth_err *),
                    struct archive_result *res)
{
  job.op = ARCHIVE_OP_PUT;
  job.root_fd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  job.data_fd = data;
  int r = run (&job, res, NULL);
  close (job.root_fd);
  close (data);
  return r;
}

static int put_tar (const char *root, const char *path, const char *const *entries, bool no_overwrite,
                    const char *chown_user, struct archive_result *res)
{
  cleanup_free char *abs = archive_abs_path (path);
  struct archive_job job = { .path = abs, .no_overwrite_dir_non_dir = no_overwrite, .chown_user = chown_user };
  return run_put (root, job, make_tar (entries), archive_run, res);
}

TEST (archive_put_in_root)
{
  if (geteuid () != 0)
    return;
  cleanup_free char *root = make_root ();
  struct archive_result res;
  const char *const ok[] = { "d:new", "f:new/x.txt:hello", "f:/abs.txt:abs", "l:new/ln:/etc/passwd", NULL };
  CHECK (put_tar (root, "/destlink", ok, false, NULL, &res) == 0);
  CHECK (res.ok);
  cleanup_free char *x = fmt ("%s/dest/new/x.txt", root), *abs = fmt ("%s/dest/abs.txt", root);
  cleanup_free char *xc = slurp (x), *ac = slurp (abs);
  CHECK_STR (xc, "hello");
  CHECK_STR (ac, "abs");
  struct stat st;
  CHECK (stat (x, &st) == 0 && st.st_uid == 42 && st.st_gid == 43 && (st.st_mode & 0777) == 0640);

  /* Through a symlink to "/" planted in the folder: the container's root,
   * never the host's. */
  const char *const via_link[] = { "f:toroot/pwned-berth-test:x", NULL };
  CHECK (put_tar (root, "/dest", via_link, false, NULL, &res) == 0 && res.ok);
  cleanup_free char *inside = fmt ("%s/pwned-berth-test", root);
  CHECK (access (inside, F_OK) == 0);
  CHECK (access ("/pwned-berth-test", F_OK) < 0);

  const char *const dotdot[] = { "f:../evil:x", NULL };
  CHECK (put_tar (root, "/dest", dotdot, false, NULL, &res) == 0);
  CHECK (!res.ok && res.errnum == EINVAL && strstr (res.msg, "outside"));
  const char *const badlink[] = { "l:l2:../../x", NULL };
  CHECK (put_tar (root, "/dest", badlink, false, NULL, &res) == 0);
  CHECK (!res.ok && strstr (res.msg, "invalid symlink"));

  CHECK (put_tar (root, "/etc/hostname", ok, false, NULL, &res) == 0);
  CHECK (!res.ok && res.errnum == ENOTDIR);
  CHECK_STR (res.msg, "extraction point is not a directory");
  CHECK (put_tar (root, "/missing", ok, false, NULL, &res) == 0);
  CHECK (!res.ok && res.errnum == ENOENT);

  /* A folder replaced by a file: refused with noOverwriteDirNonDir. */
  const char *const file_over_dir[] = { "f:new:flat", NULL };
  CHECK (put_tar (root, "/dest", file_over_dir, true, NULL, &res) == 0);
  CHECK (!res.ok && strstr (res.msg, "cannot overwrite directory"));
  CHECK (put_tar (root, "/dest", file_over_dir, false, NULL, &res) == 0 && res.ok);
  cleanup_free char *flat_path = fmt ("%s/dest/new", root);
  cleanup_free char *flat = slurp (flat_path);
  CHECK_STR (flat, "flat");

  /* copyUIDGID: the owner from the container's passwd and group. */
  const char *const owned[] = { "f:owned.txt:o", NULL };
  CHECK (put_tar (root, "/dest", owned, false, "app:staff", &res) == 0 && res.ok);
  cleanup_free char *o = fmt ("%s/dest/owned.txt", root);
  CHECK (stat (o, &st) == 0 && st.st_uid == 1234 && st.st_gid == 4321);
  CHECK (put_tar (root, "/dest", owned, false, "app", &res) == 0 && res.ok);
  CHECK (stat (o, &st) == 0 && st.st_uid == 1234 && st.st_gid == 5678);
  CHECK (put_tar (root, "/dest", owned, false, "nobody-here", &res) == 0 && !res.ok);
  berth_rm_rf (root);
}

/* archive_run_thread: the same confinement as the child, and the calling
 * thread keeps its own root and cwd. */
static int put_tar_thread (const char *root, int data, struct archive_result *res)
{
  struct archive_job job = { .path = "/dest", .plain_tar_only = true };
  return run_put (root, job, data, archive_run_thread, res);
}

TEST (archive_put_in_thread_stays_inside)
{
  if (geteuid () != 0)
    return;
  cleanup_free char *root = make_root ();
  char cwd_before[4096], cwd_after[4096];
  CHECK (getcwd (cwd_before, sizeof cwd_before) != NULL);
  struct stat root_before, root_after;
  CHECK (stat ("/", &root_before) == 0);
  struct archive_result res;
  const char *const via_link[] = { "f:toroot/pwned-berth-thread:x", "f:new/x.txt:hello", NULL };
  CHECK (put_tar_thread (root, make_tar (via_link), &res) == 0 && res.ok);
  cleanup_free char *inside = fmt ("%s/pwned-berth-thread", root), *x = fmt ("%s/dest/new/x.txt", root);
  CHECK (access (inside, F_OK) == 0);
  CHECK (access ("/pwned-berth-thread", F_OK) < 0);
  cleanup_free char *xc = slurp (x);
  CHECK_STR (xc, "hello");
  /* the chroot was the thread's own */
  CHECK (getcwd (cwd_after, sizeof cwd_after) != NULL);
  CHECK_STR (cwd_after, cwd_before);
  CHECK (stat ("/", &root_after) == 0 && root_after.st_ino == root_before.st_ino
         && root_after.st_dev == root_before.st_dev);

  const char *const dotdot[] = { "f:../evil:x", NULL };
  CHECK (put_tar_thread (root, make_tar (dotdot), &res) == 0);
  CHECK (!res.ok && res.errnum == EINVAL && strstr (res.msg, "outside"));

  /* plain tar only: a gzip stream is not read */
  int gz = temp_fd ();
  static const unsigned char gzip_empty[] = { 0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
                                              0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };
  CHECK (write (gz, gzip_empty, sizeof gzip_empty) == (ssize_t) sizeof gzip_empty && lseek (gz, 0, SEEK_SET) == 0);
  CHECK (put_tar_thread (root, gz, &res) == 0);
  CHECK (!res.ok);
  berth_rm_rf (root);
}

/* ------------------------------------------------------------------ */
/* update                                                              */

static json_t *parse (const char *text)
{
  json_t *j = json_loads (text, 0, NULL);
  CHECK (j != NULL);
  return j;
}

TEST (update_merges_and_builds_resources)
{
  cleanup_json json_t *hc = parse ("{\"Memory\":0,\"NanoCpus\":0,\"RestartPolicy\":{\"Name\":\"no\"}}");
  /* What the docker CLI sends: every field, zeros for "unchanged". */
  cleanup_json json_t *req = parse ("{\"Memory\":104857600,\"MemorySwap\":209715200,\"NanoCpus\":1500000000,"
                                    "\"CpuShares\":0,\"CpuPeriod\":0,\"CpuQuota\":0,\"CpusetCpus\":\"\","
                                    "\"CpusetMems\":\"\",\"BlkioWeight\":0,\"PidsLimit\":null,"
                                    "\"RestartPolicy\":{\"Name\":\"\",\"MaximumRetryCount\":0}}");
  json_t *res = NULL;
  CHECK (host_config_update (hc, req, 2, &res, NULL) == 0);
  CHECK (jint (hc, "Memory") == 104857600);
  CHECK (jint (hc, "NanoCpus") == 1500000000);
  CHECK_STR (json_string_value (berth_json_path (hc, "RestartPolicy.Name")), "no");
  CHECK (jint (res, "memory.limit") == 104857600);
  CHECK (jint (res, "memory.swap") == 209715200);
  CHECK (jint (res, "cpu.period") == 100000);
  CHECK (jint (res, "cpu.quota") == 150000);
  CHECK (berth_json_path (res, "cpu.shares") == NULL);
  CHECK (json_object_get (res, "pids") == NULL);
  json_decref (res);

  cleanup_json json_t *req2 = parse ("{\"PidsLimit\":-1,\"CpusetCpus\":\"0-1\",\"BlkioWeight\":300,"
                                     "\"RestartPolicy\":{\"Name\":\"on-failure\",\"MaximumRetryCount\":3}}");
  CHECK (host_config_update (hc, req2, 2, &res, NULL) == 0);
  CHECK (jint (res, "pids.limit") == -1);
  CHECK_STR (json_string_value (berth_json_path (res, "cpu.cpus")), "0-1");
  CHECK (jint (res, "blockIO.weight") == 300);
  CHECK_STR (json_string_value (berth_json_path (hc, "RestartPolicy.Name")), "on-failure");
  CHECK (jint (hc, "RestartPolicy.MaximumRetryCount") == 3);
  CHECK (jint (hc, "PidsLimit") == -1);
  json_decref (res);

  cleanup_json json_t *restart_only = parse ("{\"RestartPolicy\":{\"Name\":\"always\"}}");
  CHECK (host_config_update (hc, restart_only, 2, &res, NULL) == 0);
  CHECK (json_object_size (res) == 0);
  json_decref (res);
}

static void check_update_error (const char *hc_text, const char *req_text, int want, const char *msg)
{
  cleanup_json json_t *hc = parse (hc_text), *req = parse (req_text);
  berth_err err = NULL;
  CHECK (host_config_update (hc, req, 2, NULL, &err) == want);
  CHECK_STR (err->msg, msg);
  berth_error_free (&err);
}

TEST (update_errors)
{
  check_update_error ("{}", "{\"Memory\":1000}", -EINVAL, "Minimum memory limit allowed is 6MB");
  check_update_error ("{}", "{\"Memory\":\"1g\"}", -EINVAL, "Memory: expected integer");
  check_update_error ("{}", "{\"Memory\":104857600,\"MemorySwap\":10485760}", -EINVAL,
                      "Minimum memoryswap limit should be larger than memory limit, see usage");
  check_update_error ("{}", "{\"NanoCpus\":5000000000}", -EINVAL,
                      "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available");
  check_update_error ("{}", "{\"CpuPeriod\":10}", -EINVAL,
                      "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  check_update_error ("{}", "{\"CpusetCpus\":\"0-7\"}", -EINVAL,
                      "Requested CPUs are not available - requested 0-7, available: 0-1");
  check_update_error ("{}", "{\"CpusetCpus\":\"a\"}", -EINVAL, "Invalid value a for cpuset cpus");
  check_update_error ("{}", "{\"BlkioWeight\":5}", -EINVAL, "Range of blkio weight is from 10 to 1000");
  check_update_error ("{}", "{\"RestartPolicy\":{\"Name\":\"sometimes\"}}", -EINVAL,
                      "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', "
                      "'on-failure', or 'unless-stopped'");
  check_update_error ("{}", "{\"RestartPolicy\":{\"Name\":\"always\",\"MaximumRetryCount\":2}}", -EINVAL,
                      "invalid restart policy: maximum retry count can only be used with 'on-failure'");
  check_update_error ("{\"CpuPeriod\":100000}", "{\"NanoCpus\":1000000000}", -EBUSY,
                      "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set");
  check_update_error ("{\"NanoCpus\":1000000000}", "{\"CpuQuota\":50000}", -EBUSY,
                      "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set");
  check_update_error ("{\"MemorySwap\":20971520}", "{\"Memory\":41943040}", -EBUSY,
                      "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at "
                      "the same time");
  check_update_error ("{\"AutoRemove\":true}", "{\"RestartPolicy\":{\"Name\":\"always\"}}", -EBUSY,
                      "Restart policy cannot be updated because AutoRemove is enabled for the container");
  check_update_error ("{}", "[1]", -EINVAL, "the update must be a JSON object");
  /* "no" is fine with AutoRemove. */
  cleanup_json json_t *hc = parse ("{\"AutoRemove\":true}"), *req = parse ("{\"RestartPolicy\":{\"Name\":\"no\"}}");
  CHECK (host_config_update (hc, req, 2, NULL, NULL) == 0);
}
