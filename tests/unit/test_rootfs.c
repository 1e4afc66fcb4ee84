/* Unit tests of the rootfs subsystem.  They need root: every test that
 * mounts works in a child that first unshares its mount namespace and
 * makes "/" rprivate, so nothing reaches the host; the temporary rootfs
 * (busybox in rootfs/bin) lives under /tmp and is removed afterwards. */
#include "runtime/rootfs.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202  /* ipc/mqueue.c; not in linux/magic.h */
#endif

/* ------------------------------------------------------------------ */
/* Fixture: /tmp/berth-rootfs-XXXXXX/{rootfs/bin/busybox, host/}       */
/* ------------------------------------------------------------------ */

struct fixture
{
  char dir[64];
  char rootfs[128];
  char host[128];  /* a host folder the tests try to reach from the rootfs */
};

static void copy_file (const char *from, const char *to, mode_t mode)
{
  cleanup_close int in = open (from, O_RDONLY | O_CLOEXEC);
  cleanup_close int out = open (to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  CHECK (in >= 0 && out >= 0);
  char buf[65536];
  ssize_t n;
  while ((n = read (in, buf, sizeof (buf))) > 0)
    CHECK (berth_write_all (out, buf, n) == 0);
  CHECK (n == 0);
}

static void fixture_path (char *buf, size_t size, const char *base, const char *rel)
{
  CHECK ((size_t) snprintf (buf, size, "%s/%s", base, rel) < size);
}

static void make_fixture (struct fixture *fx)
{
  strcpy (fx->dir, "/tmp/berth-rootfs-XXXXXX");
  CHECK (mkdtemp (fx->dir) != NULL);
  fixture_path (fx->rootfs, sizeof (fx->rootfs), fx->dir, "rootfs");
  fixture_path (fx->host, sizeof (fx->host), fx->dir, "host");
  CHECK (mkdir (fx->rootfs, 0755) == 0);
  CHECK (mkdir (fx->host, 0755) == 0);
  char path[256];
  fixture_path (path, sizeof (path), fx->rootfs, "bin");
  CHECK (mkdir (path, 0755) == 0);
  fixture_path (path, sizeof (path), fx->rootfs, "bin/busybox");
  copy_file ("/bin/busybox", path, 0755);
  fixture_path (path, sizeof (path), fx->host, "marker");
  CHECK (berth_write_file (path, "host", 4, NULL) == 0);
}

static json_t *config_printf (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
static json_t *config_printf (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  cleanup_free char *text = NULL;
  int n = vasprintf (&text, fmt, ap);
  va_end (ap);
  CHECK (n >= 0);
  json_error_t jerr;
  json_t *j = json_loads (text, 0, &jerr);
  if (j == NULL)
    printf ("  bad test JSON: %s\n", jerr.text);
  CHECK (j != NULL);
  return j;
}

static struct rootfs_ctx make_ctx (struct fixture *fx, json_t *config)
{
  return (struct rootfs_ctx){ .config = config, .bundle = fx->dir, .rootfs = fx->rootfs };
}

/* Run FN in a child with new mount (and FLAGS) namespaces and "/"
 * rprivate.  With CLONE_NEWPID, FN runs in a grandchild, the namespace's
 * pid 1, so it can mount a procfs of its own.  Removes the fixture and
 * returns whether FN succeeded. */
typedef void (*ns_fn) (struct fixture *fx);

static int wait_ok (pid_t pid)
{
  int st = 0;
  if (waitpid (pid, &st, 0) != pid)
    return 0;
  return WIFEXITED (st) && WEXITSTATUS (st) == 0;
}

static void run_in_namespaces (struct fixture *fx, int flags, ns_fn fn)
{
  fflush (stdout);
  pid_t pid = fork ();
  CHECK (pid >= 0);
  if (pid == 0)
    {
      CHECK (unshare (CLONE_NEWNS | flags) == 0);
      CHECK (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
      if (flags & CLONE_NEWPID)
        {
          pid_t init = fork ();
          CHECK (init >= 0);
          if (init == 0)
            {
              fn (fx);
              fflush (stdout);
              _exit (0);
            }
          _exit (wait_ok (init) ? 0 : 1);
        }
      fn (fx);
      fflush (stdout);
      _exit (0);
    }
  int ok = wait_ok (pid);
  berth_rm_rf (fx->dir);
  CHECK (ok);
}

static bool is_mount_of_type (const char *path, long type)
{
  struct statfs sfs;
  return statfs (path, &sfs) == 0 && sfs.f_type == type;
}

static bool is_readonly (const char *path)
{
  struct statvfs sv;
  return statvfs (path, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

static dev_t dev_of (const char *path)
{
  struct stat st;
  CHECK (stat (path, &st) == 0);
  return st.st_dev;
}

/* ------------------------------------------------------------------ */
/* Option parsing                                                     */
/* ------------------------------------------------------------------ */

static void parse_ok (const char *json, struct rootfs_mount_opts *opts)
{
  cleanup_json json_t *options = json_loads (json, JSON_DECODE_ANY, NULL);
  CHECK (options != NULL);
  berth_err err = NULL;
  int ret = rootfs_parse_mount_options (options, opts, &err);
  if (ret < 0)
    printf ("  %s: %s\n", json, err->msg);
  CHECK (ret == 0 && err == NULL && opts->data != NULL);
}

TEST (parse_mount_options_table)
{
  static const struct { const char *name; unsigned long set, clear; } table[] = {
    { "ro", MS_RDONLY, 0 },           { "rw", 0, MS_RDONLY },
    { "nosuid", MS_NOSUID, 0 },       { "suid", 0, MS_NOSUID },
    { "nodev", MS_NODEV, 0 },         { "dev", 0, MS_NODEV },
    { "noexec", MS_NOEXEC, 0 },       { "exec", 0, MS_NOEXEC },
    { "sync", MS_SYNCHRONOUS, 0 },    { "async", 0, MS_SYNCHRONOUS },
    { "dirsync", MS_DIRSYNC, 0 },     { "remount", MS_REMOUNT, 0 },
    { "mand", MS_MANDLOCK, 0 },       { "nomand", 0, MS_MANDLOCK },
    { "noatime", MS_NOATIME, 0 },     { "atime", 0, MS_NOATIME },
    { "nodiratime", MS_NODIRATIME, 0 }, { "diratime", 0, MS_NODIRATIME },
    { "relatime", MS_RELATIME, 0 },   { "norelatime", 0, MS_RELATIME },
    { "strictatime", MS_STRICTATIME, 0 }, { "nostrictatime", 0, MS_STRICTATIME },
    { "lazytime", MS_LAZYTIME, 0 },   { "nolazytime", 0, MS_LAZYTIME },
    { "bind", MS_BIND, 0 },           { "rbind", MS_BIND | MS_REC, 0 },
    { "defaults", 0, 0 },
  };
  for (size_t i = 0; i < sizeof (table) / sizeof (table[0]); i++)
    {
      char json[64];
      snprintf (json, sizeof (json), "[\"%s\"]", table[i].name);
      struct rootfs_mount_opts o;
      parse_ok (json, &o);
      if (o.flags != table[i].set || o.clear != table[i].clear || o.propagation != 0 || o.data[0] != '\0')
        printf ("  option %s: flags %#lx clear %#lx data \"%s\"\n", table[i].name, o.flags, o.clear, o.data);
      CHECK (o.flags == table[i].set && o.clear == table[i].clear && o.propagation == 0);
      CHECK_STR (o.data, "");
      free (o.data);
    }
}

TEST (parse_mount_options_combinations)
{
  struct rootfs_mount_opts o;
  parse_ok ("[\"ro\", \"nosuid\", \"nodev\", \"noexec\", \"relatime\"]", &o);
  CHECK (o.flags == (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME) && o.clear == 0);
  free (o.data);

  /* The last of two contradicting options wins. */
  parse_ok ("[\"ro\", \"rw\"]", &o);
  CHECK (o.flags == 0 && o.clear == MS_RDONLY);
  free (o.data);
  parse_ok ("[\"rw\", \"ro\"]", &o);
  CHECK (o.flags == MS_RDONLY && o.clear == 0);
  free (o.data);

  /* Propagation is kept apart from the flags. */
  static const struct { const char *json; unsigned long prop; } props[] = {
    { "[\"private\"]", MS_PRIVATE },       { "[\"rprivate\"]", MS_PRIVATE | MS_REC },
    { "[\"shared\"]", MS_SHARED },         { "[\"rshared\"]", MS_SHARED | MS_REC },
    { "[\"slave\"]", MS_SLAVE },           { "[\"rslave\"]", MS_SLAVE | MS_REC },
    { "[\"unbindable\"]", MS_UNBINDABLE }, { "[\"runbindable\"]", MS_UNBINDABLE | MS_REC },
  };
  for (size_t i = 0; i < sizeof (props) / sizeof (props[0]); i++)
    {
      parse_ok (props[i].json, &o);
      CHECK (o.propagation == props[i].prop && o.flags == 0);
      free (o.data);
    }
  parse_ok ("[\"rbind\", \"rprivate\", \"ro\"]", &o);
  CHECK (o.flags == (MS_BIND | MS_REC | MS_RDONLY) && o.propagation == (MS_PRIVATE | MS_REC));
  free (o.data);

  /* Unknown options are file system data, in order. */
  parse_ok ("[\"nosuid\", \"mode=755\", \"size=65536k\"]", &o);
  CHECK (o.flags == MS_NOSUID);
  CHECK_STR (o.data, "mode=755,size=65536k");
  free (o.data);
  parse_ok ("[\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\", \"gid=5\"]", &o);
  CHECK_STR (o.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  free (o.data);

  /* Recursive attributes are accepted but are no MS_* flag nor data. */
  parse_ok ("[\"rro\", \"rnosuid\", \"rnoatime\"]", &o);
  CHECK (o.flags == 0 && o.clear == 0);
  CHECK_STR (o.data, "");
  free (o.data);

  parse_ok ("null", &o);
  CHECK (o.flags == 0 && o.propagation == 0);
  CHECK_STR (o.data, "");
  free (o.data);
  parse_ok ("[]", &o);
  CHECK_STR (o.data, "");
  free (o.data);
}

TEST (parse_mount_options_errors)
{
  static const char *const bad[] = {
    "[\"idmap\"]", "[\"ro\", \"ridmap\"]", "[\"tmpcopyup\"]", "[42]", "\"ro\"", "{}",
  };
  for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
    {
      cleanup_json json_t *options = json_loads (bad[i], JSON_DECODE_ANY, NULL);
      CHECK (options != NULL);
      struct rootfs_mount_opts o;
      berth_err err = NULL;
      CHECK (rootfs_parse_mount_options (options, &o, &err) < 0);
      CHECK (err != NULL && o.data == NULL);
      if (i < 3)
        CHECK_CONTAINS (err->msg, "not supported");
      berth_error_free (&err);
    }
  cleanup_json json_t *idmap = json_loads ("[\"idmap\"]", 0, NULL);
  struct rootfs_mount_opts o;
  berth_err err = NULL;
  CHECK (rootfs_parse_mount_options (idmap, &o, &err) == -EOPNOTSUPP);
  CHECK_CONTAINS (err->msg, "`idmap`");
  berth_error_free (&err);
}

/* ------------------------------------------------------------------ */
/* rootfs_open_in_root                                                */
/* ------------------------------------------------------------------ */

static void check_same_file (int fd, const char *path, mode_t type)
{
  struct stat a, b;
  CHECK (fstat (fd, &a) == 0);
  CHECK (lstat (path, &b) == 0);
  CHECK (a.st_dev == b.st_dev && a.st_ino == b.st_ino);
  CHECK ((b.st_mode & S_IFMT) == type);
}

static void open_in_root_body (struct fixture *fx)
{
  cleanup_close int rootfd = open (fx->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  CHECK (rootfd >= 0);
  berth_err err = NULL;
  char path[512];

  /* Nested missing folders, absolute and relative. */
  cleanup_close int a = rootfs_open_in_root (rootfd, "/a/b/c", ROOTFS_CREATE_DIR, &err);
  CHECK (a >= 0 && err == NULL);
  fixture_path (path, sizeof (path), fx->rootfs, "a/b/c");
  check_same_file (a, path, S_IFDIR);
  cleanup_close int f = rootfs_open_in_root (rootfd, "x/y/file", ROOTFS_CREATE_FILE, &err);
  CHECK (f >= 0);
  fixture_path (path, sizeof (path), fx->rootfs, "x/y/file");
  check_same_file (f, path, S_IFREG);
  fixture_path (path, sizeof (path), fx->rootfs, "x/y");
  struct stat st;
  CHECK (stat (path, &st) == 0 && S_ISDIR (st.st_mode));

  /* Deep paths are fine. */
  char deep[400] = "/deep";
  for (int i = 0; i < 90; i++)
    strcat (deep, "/d");
  cleanup_close int dp = rootfs_open_in_root (rootfd, deep, ROOTFS_CREATE_DIR, &err);
  CHECK (dp >= 0);
  fixture_path (path, sizeof (path), fx->rootfs, deep + 1);
  check_same_file (dp, path, S_IFDIR);

  /* Without CREATE a missing path is an error naming it. */
  CHECK (rootfs_open_in_root (rootfd, "/missing/thing", ROOTFS_NO_CREATE, &err) == -ENOENT);
  CHECK_CONTAINS (err->msg, "/missing/thing");
  berth_error_free (&err);

  /* A dangling symlink to an absolute host path: what is created lands
   * at that path inside the root, never on the host. */
  char link_target[256];
  fixture_path (link_target, sizeof (link_target), fx->host, "made-by-symlink");
  fixture_path (path, sizeof (path), fx->rootfs, "evil");
  CHECK (symlink (link_target, path) == 0);
  cleanup_close int e = rootfs_open_in_root (rootfd, "/evil/sub", ROOTFS_CREATE_DIR, &err);
  CHECK (e >= 0);
  CHECK (access (link_target, F_OK) < 0 && errno == ENOENT);
  char inside[512];
  CHECK ((size_t) snprintf (inside, sizeof (inside), "%s%s/sub", fx->rootfs, link_target) < sizeof (inside));
  check_same_file (e, inside, S_IFDIR);

  /* The same one level down: an absolute target restarts at the root. */
  fixture_path (path, sizeof (path), fx->rootfs, "a/b/evil");
  CHECK (symlink (link_target, path) == 0);
  cleanup_close int e2 = rootfs_open_in_root (rootfd, "/a/b/evil/sub2", ROOTFS_CREATE_FILE, &err);
  CHECK (e2 >= 0);
  CHECK ((size_t) snprintf (inside, sizeof (inside), "%s%s/sub2", fx->rootfs, link_target) < sizeof (inside));
  check_same_file (e2, inside, S_IFREG);

  /* A relative symlink climbing out with "..", and ".." in the path.
   * Had they escaped, they would land in the fixture, not on the host. */
  fixture_path (path, sizeof (path), fx->rootfs, "a/up");
  CHECK (symlink ("../../escaped-rel", path) == 0);
  cleanup_close int r = rootfs_open_in_root (rootfd, "/a/up/file", ROOTFS_CREATE_FILE, &err);
  CHECK (r >= 0);
  fixture_path (path, sizeof (path), fx->rootfs, "escaped-rel/file");
  check_same_file (r, path, S_IFREG);
  fixture_path (path, sizeof (path), fx->dir, "escaped-rel");
  CHECK (access (path, F_OK) < 0);
  cleanup_close int d = rootfs_open_in_root (rootfd, "/../escaped-dotdot", ROOTFS_CREATE_DIR, &err);
  CHECK (d >= 0);
  fixture_path (path, sizeof (path), fx->rootfs, "escaped-dotdot");
  check_same_file (d, path, S_IFDIR);
  fixture_path (path, sizeof (path), fx->dir, "escaped-dotdot");
  CHECK (access (path, F_OK) < 0);

  /* A file in the way of a folder. */
  CHECK (rootfs_open_in_root (rootfd, "/x/y/file/deeper", ROOTFS_CREATE_DIR, &err) == -ENOTDIR);
  berth_error_free (&err);

  /* A symlink loop ends. */
  fixture_path (path, sizeof (path), fx->rootfs, "loop");
  CHECK (symlink ("/loop", path) == 0);
  CHECK (rootfs_open_in_root (rootfd, "/loop/x", ROOTFS_CREATE_DIR, &err) == -ELOOP);
  berth_error_free (&err);
}

TEST (open_in_root_creates_inside_root)
{
  struct fixture fx;
  make_fixture (&fx);
  run_in_namespaces (&fx, 0, open_in_root_body);
}

/* ------------------------------------------------------------------ */
/* rootfs_prepare: destinations stay inside the root                  */
/* ------------------------------------------------------------------ */

static int prepare_with (struct fixture *fx, json_t *config, berth_err *err)
{
  struct rootfs_ctx ctx = make_ctx (fx, config);
  return rootfs_prepare (&ctx, err);
}

static void symlink_destination_body (struct fixture *fx)
{
  char path[512];
  fixture_path (path, sizeof (path), fx->rootfs, "evil");
  CHECK (symlink (fx->host, path) == 0);
  cleanup_json json_t *config = config_printf (
      "{\"mounts\": ["
      " {\"destination\": \"/evil\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"},"
      " {\"destination\": \"/../escaped\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"},"
      " {\"destination\": \"relative/dest\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"}"
      "]}");
  berth_err err = NULL;
  int ret = prepare_with (fx, config, &err);
  if (ret < 0)
    printf ("  %s\n", err->msg);
  CHECK (ret == 0);

  /* The host folder is untouched and no mount point... */
  fixture_path (path, sizeof (path), fx->host, "marker");
  CHECK (access (path, F_OK) == 0);
  CHECK (dev_of (fx->host) == dev_of (fx->dir));
  /* ...the tmpfs is at the symlink target inside the root. */
  char inside[512];
  CHECK ((size_t) snprintf (inside, sizeof (inside), "%s%s", fx->rootfs, fx->host) < sizeof (inside));
  CHECK (is_mount_of_type (inside, TMPFS_MAGIC));
  CHECK (dev_of (inside) != dev_of (fx->rootfs));

  /* ".." stops at the root (escaping, it would reach the fixture). */
  fixture_path (path, sizeof (path), fx->rootfs, "escaped");
  CHECK (is_mount_of_type (path, TMPFS_MAGIC));
  fixture_path (path, sizeof (path), fx->dir, "escaped");
  CHECK (access (path, F_OK) < 0);

  /* A relative destination is relative to "/". */
  fixture_path (path, sizeof (path), fx->rootfs, "relative/dest");
  CHECK (is_mount_of_type (path, TMPFS_MAGIC));
}

TEST (prepare_symlink_destination_stays_in_root)
{
  struct fixture fx;
  make_fixture (&fx);
  run_in_namespaces (&fx, 0, symlink_destination_body);
}

static void expect_refused (struct fixture *fx, const char *mounts_json, const char *dest)
{
  cleanup_json json_t *config = config_printf ("{\"mounts\": %s}", mounts_json);
  berth_err err = NULL;
  CHECK (prepare_with (fx, config, &err) < 0);
  CHECK (err != NULL);
  CHECK_CONTAINS (err->msg, dest);
  CHECK_CONTAINS (err->msg, "symlink");
  berth_error_free (&err);
}

static void proc_symlink_body (struct fixture *fx)
{
  char path[512];
  fixture_path (path, sizeof (path), fx->rootfs, "proc");
  CHECK (symlink (fx->host, path) == 0);
  fixture_path (path, sizeof (path), fx->rootfs, "sys");
  CHECK (symlink ("/elsewhere", path) == 0);

  expect_refused (fx, "[{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"}]", "`/proc`");
  expect_refused (fx, "[{\"destination\": \"/proc/\", \"type\": \"proc\"}]", "`/proc/`");
  expect_refused (fx, "[{\"destination\": \"/proc/sub\", \"type\": \"proc\"}]", "`/proc/sub`");
  expect_refused (fx, "[{\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\"}]", "`/sys`");
  expect_refused (fx, "[{\"destination\": \"/proc\", \"type\": \"tmpfs\"}]", "`/proc`");

  /* Nothing was mounted: not on the host folder, not inside the root. */
  CHECK (dev_of (fx->host) == dev_of (fx->dir));
  CHECK (!is_mount_of_type (fx->host, PROC_SUPER_MAGIC));
  fixture_path (path, sizeof (path), fx->rootfs, "elsewhere");
  CHECK (access (path, F_OK) < 0);
}

TEST (prepare_refuses_symlinked_proc_and_sys)
{
  struct fixture fx;
  make_fixture (&fx);
  run_in_namespaces (&fx, 0, proc_symlink_body);
}

static void error_message_body (struct fixture *fx)
{
  cleanup_json json_t *config = config_printf ("{\"mounts\": [{\"destination\": \"/x\", \"type\": \"nosuchfs\"}]}");
  berth_err err = NULL;
  CHECK (prepare_with (fx, config, &err) == -ENODEV);
  CHECK_STR (err->msg, "mount `nosuchfs` on `/x`: No such device");
  berth_error_free (&err);

  cleanup_json json_t *missing = config_printf (
      "{\"mounts\": [{\"destination\": \"/y\", \"type\": \"bind\", \"source\": \"/nonexistent-berth-src\"}]}");
  CHECK (prepare_with (fx, missing, &err) == -ENOENT);
  CHECK_STR (err->msg, "bind mount `/nonexistent-berth-src` on `/y`: No such file or directory");
  berth_error_free (&err);

  cleanup_json json_t *idmap = config_printf (
      "{\"mounts\": [{\"destination\": \"/z\", \"type\": \"bind\", \"source\": \"/tmp\", \"options\": [\"rbind\", \"idmap\"]}]}");
  CHECK (prepare_with (fx, idmap, &err) == -EOPNOTSUPP);
  CHECK_CONTAINS (err->msg, "`/z`");
  CHECK_CONTAINS (err->msg, "idmap");
  berth_error_free (&err);
}

TEST (prepare_error_messages_name_the_destination)
{
  struct fixture fx;
  make_fixture (&fx);
  run_in_namespaces (&fx, 0, error_message_body);
}

/* ------------------------------------------------------------------ */
/* Bind mounts and their options                                      */
/* ------------------------------------------------------------------ */

static bool mountinfo_has (const char *mount_point, const char *tag)
{
  cleanup_file FILE *f = fopen ("/proc/self/mountinfo", "re");
  CHECK (f != NULL);
  cleanup_free char *line = NULL;
  size_t cap = 0;
  char needle[600];
  snprintf (needle, sizeof (needle), " %s ", mount_point);
  bool found = false;
  while (getline (&line, &cap, f) > 0)
    if (strstr (line, needle) && strstr (line, tag))
      found = true;
  return found;
}

static void bind_body (struct fixture *fx)
{
  char src[256], sub[300], file[300], path[512];
  fixture_path (src, sizeof (src), fx->host, "src");
  fixture_path (sub, sizeof (sub), src, "sub");
  fixture_path (file, sizeof (file), src, "file");
  CHECK (mkdir (src, 0755) == 0 && mkdir (sub, 0755) == 0);
  CHECK (berth_write_file (file, "content", 7, NULL) == 0);
  CHECK (mount ("tmpfs", sub, "tmpfs", 0, NULL) == 0);

  /* "host/src" is relative to the bundle (fx->dir). */
  cleanup_json json_t *config = config_printf (
      "{\"mounts\": ["
      " {\"destination\": \"/ro\", \"type\": \"bind\", \"source\": \"%s\", \"options\": [\"rbind\", \"ro\", \"nosuid\"]},"
      " {\"destination\": \"/rro\", \"source\": \"host/src\", \"options\": [\"rbind\", \"rro\"]},"
      " {\"destination\": \"/etc/file\", \"source\": \"%s\", \"options\": [\"bind\", \"ro\"]},"
      " {\"destination\": \"/shared\", \"type\": \"bind\", \"source\": \"%s\", \"options\": [\"bind\", \"shared\"]}"
      "]}",
      src, file, src);
  berth_err err = NULL;
  int ret = prepare_with (fx, config, &err);
  if (ret < 0)
    printf ("  %s\n", err->msg);
  CHECK (ret == 0);

  /* "ro" applies to the top mount only, "rro" to the submounts too. */
  fixture_path (path, sizeof (path), fx->rootfs, "ro");
  CHECK (is_readonly (path));
  struct statvfs sv;
  CHECK (statvfs (path, &sv) == 0 && (sv.f_flag & ST_NOSUID));
  fixture_path (path, sizeof (path), fx->rootfs, "ro/sub");
  CHECK (is_mount_of_type (path, TMPFS_MAGIC) && !is_readonly (path));
  fixture_path (path, sizeof (path), fx->rootfs, "rro");
  CHECK (is_readonly (path));
  fixture_path (path, sizeof (path), fx->rootfs, "rro/sub");
  CHECK (is_mount_of_type (path, TMPFS_MAGIC) && is_readonly (path));

  /* A file source gets a file target, in a created folder. */
  fixture_path (path, sizeof (path), fx->rootfs, "etc/file");
  struct stat st;
  CHECK (stat (path, &st) == 0 && S_ISREG (st.st_mode));
  cleanup_free char *content = NULL;
  CHECK (berth_read_file (path, 100, &content, NULL, NULL) == 0);
  CHECK_STR (content, "content");
  CHECK (is_readonly (path));
  CHECK (open (path, O_WRONLY | O_CLOEXEC) < 0 && errno == EROFS);

  fixture_path (path, sizeof (path), fx->rootfs, "shared");
  CHECK (mountinfo_has (path, "shared:"));
  fixture_path (path, sizeof (path), fx->rootfs, "ro");
  CHECK (!mountinfo_has (path, "shared:"));

  /* The sources stay writable. */
  CHECK (!is_readonly (src) && !is_readonly (sub));
}

TEST (prepare_bind_mount_options)
{
  struct fixture fx;
  make_fixture (&fx);
  run_in_namespaces (&fx, 0, bind_body);
}

/* ------------------------------------------------------------------ */
/* Devices                                                            */
/* ------------------------------------------------------------------ */

static void check_char_device (const char *path, unsigned int major, unsigned int minor)
{
  struct stat st;
  if (stat (path, &st) < 0)
    printf ("  %s: %s\n", path, strerror (errno));
  CHECK (stat (path, &st) == 0);
  CHECK (S_ISCHR (st.st_mode));
  CHECK (st.st_rdev == makedev (major, minor));
}

static void userns_devices_body (struct fixture *fx)
{
  struct stat host_null;
  CHECK (stat ("/dev/null", &host_null) == 0);
  cleanup_json json_t *config = config_printf (
      "{\"mounts\": [{\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\", \"options\": [\"mode=755\"]}],"
      " \"linux\": {\"devices\": [{\"path\": \"/dev/zero\", \"type\": \"c\", \"major\": 1, \"minor\": 5,"
      "                           \"fileMode\": 384}]}}");
  struct rootfs_ctx ctx = make_ctx (fx, config);
  ctx.userns = true;
  berth_err err = NULL;
  int ret = rootfs_prepare (&ctx, &err);
  if (ret < 0)
    printf ("  %s\n", err->msg);
  CHECK (ret == 0);
  char path[512];
  fixture_path (path, sizeof (path), fx->rootfs, "dev");
  dev_t dev_tmpfs = dev_of (path);
  static const struct { const char *name; unsigned int major, minor; } devs[] = {
    { "dev/null", 1, 3 }, { "dev/zero", 1, 5 }, { "dev/full", 1, 7 },
    { "dev/random", 1, 8 }, { "dev/urandom", 1, 9 }, { "dev/tty", 5, 0 },
  };
  for (size_t i = 0; i < sizeof (devs) / sizeof (devs[0]); i++)
    {
      fixture_path (path, sizeof (path), fx->rootfs, devs[i].name);
      check_char_device (path, devs[i].major, devs[i].minor);
      /* bind mounts of the host's nodes, not nodes of the tmpfs */
      CHECK (dev_of (path) != dev_tmpfs);
    }
  /* The host's nodes kept their mode and owner. */
  struct stat now;
  CHECK (stat ("/dev/null", &now) == 0);
  CHECK (now.st_mode == host_null.st_mode && now.st_uid == host_null.st_uid);
  fixture_path (path, sizeof (path), fx->rootfs, "dev/fd");
  struct stat st;
  CHECK (lstat (path, &st) == 0 && S_ISLNK (st.st_mode));
}

TEST (prepare_devices_in_user_namespace_are_bind_mounts)
{
  struct fixture fx;
  make_fixture (&fx);
  run_in_namespaces (&fx, 0, userns_devices_body);
}

/* ------------------------------------------------------------------ */
/* In a real user namespace                                           */
/* ------------------------------------------------------------------ */

static int run_busybox (const char *script)
{
  fflush (stdout);
  pid_t pid = fork ();
  if (pid == 0)
    {
      int devnull = open ("/dev/null", O_WRONLY);
      dup2 (devnull, 2);
      execl ("/bin/busybox", "sh", "-c", script, (char *) NULL);
      _exit (127);
    }
  int st = 0;
  waitpid (pid, &st, 0);
  return WIFEXITED (st) ? WEXITSTATUS (st) : 128;
}

static void readlink_is (const char *path, const char *expected)
{
  char buf[256];
  ssize_t n = readlink (path, buf, sizeof (buf) - 1);
  CHECK (n > 0);
  buf[n] = '\0';
  CHECK_STR (buf, expected);
}

static void write_proc_file (const char *path, const char *text)
{
  cleanup_close int fd = open (path, O_WRONLY | O_CLOEXEC);
  CHECK (fd >= 0);
  CHECK (berth_write_all (fd, text, strlen (text)) == 0);
}

/* root of the new user namespace is root outside; the mounts copied
 * from outside get their flags locked by the kernel. */
static void enter_user_namespace (int flags)
{
  CHECK (unshare (CLONE_NEWUSER | CLONE_NEWNS | flags) == 0);
  write_proc_file ("/proc/self/setgroups", "deny");
  write_proc_file ("/proc/self/uid_map", "0 0 1");
  write_proc_file ("/proc/self/gid_map", "0 0 1");
  CHECK (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
}

static void userns_body (struct fixture *fx)
{
  char locked[256];
  fixture_path (locked, sizeof (locked), fx->host, "locked");
  CHECK (mkdir (locked, 0755) == 0);
  CHECK (mount ("tmpfs", locked, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0);
  enter_user_namespace (CLONE_NEWPID);

  /* This process is not in the new pid namespace (owned by the user
   * namespace): a fresh procfs is refused, clearly. */
  cleanup_json json_t *proc_only = config_printf (
      "{\"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"}]}");
  struct rootfs_ctx ctx = make_ctx (fx, proc_only);
  ctx.userns = true;
  berth_err err = NULL;
  CHECK (rootfs_prepare (&ctx, &err) == -EPERM);
  CHECK_STR (err->msg, "mount `proc` on `/proc`: Operation not permitted");
  berth_error_free (&err);
  fflush (stdout);
  pid_t init = fork ();
  CHECK (init >= 0);
  if (init > 0)
    _exit (wait_ok (init) ? 0 : 1);

  /* sysfs without a network namespace falls back to binding the host's
   * /sys; "ro" on binds of mounts with locked nosuid/nodev/noexec works
   * only if the remount repeats them. */
  cleanup_json json_t *config = config_printf (
      "{\"root\": {\"readonly\": true},"
      " \"linux\": {\"readonlyPaths\": [\"/locked-rw\"]},"
      " \"mounts\": ["
      "  {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
      "  {\"destination\": \"/locked-rw\", \"type\": \"bind\", \"source\": \"%s\", \"options\": [\"rbind\"]},"
      "  {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\", \"options\": [\"nosuid\", \"ro\", \"mode=755\"]},"
      "  {\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\","
      "   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"ro\"]},"
      "  {\"destination\": \"/locked\", \"type\": \"bind\", \"source\": \"%s\", \"options\": [\"rbind\", \"ro\"]}"
      " ]}",
      locked, locked);
  ctx.config = config;
  int ret = rootfs_prepare (&ctx, &err);
  if (ret == 0)
    ret = rootfs_pivot (&ctx, &err);
  if (ret == 0)
    ret = rootfs_finalize (&ctx, &err);
  if (ret < 0)
    printf ("  %s\n", err->msg);
  CHECK (ret == 0);

  CHECK (is_mount_of_type ("/sys", SYSFS_MAGIC) && is_readonly ("/sys"));
  CHECK (access ("/sys/kernel", F_OK) == 0);
  struct statvfs sv;
  CHECK (statvfs ("/locked", &sv) == 0);
  CHECK ((sv.f_flag & ST_RDONLY) && (sv.f_flag & ST_NOSUID) && (sv.f_flag & ST_NODEV) && (sv.f_flag & ST_NOEXEC));
  CHECK (statvfs ("/locked-rw", &sv) == 0);
  CHECK ((sv.f_flag & ST_RDONLY) && (sv.f_flag & ST_NOSUID) && (sv.f_flag & ST_NODEV) && (sv.f_flag & ST_NOEXEC));
  CHECK (open ("/newfile", O_WRONLY | O_CREAT | O_CLOEXEC, 0644) < 0 && errno == EROFS);
  check_char_device ("/dev/null", 1, 3);
  /* /dev was mounted read-write for the devices and symlinks, then made
   * read-only as asked. */
  CHECK (is_mount_of_type ("/dev", TMPFS_MAGIC) && is_readonly ("/dev"));
  readlink_is ("/dev/fd", "/proc/self/fd");
  CHECK (run_busybox ("true") == 0);
}

TEST (user_namespace_fallbacks_and_locked_flags)
{
  struct fixture fx;
  make_fixture (&fx);
  run_in_namespaces (&fx, 0, userns_body);
}

/* ------------------------------------------------------------------ */
/* The whole sequence                                                 */
/* ------------------------------------------------------------------ */

static void check_container_view (struct fixture *fx)
{
  /* Pivoted: the rootfs is "/" and the host is gone. */
  CHECK (access ("/bin/busybox", X_OK) == 0);
  CHECK (access (fx->dir, F_OK) < 0);

  /* root.readonly */
  CHECK (open ("/newfile", O_WRONLY | O_CREAT | O_CLOEXEC, 0644) < 0 && errno == EROFS);
  CHECK (run_busybox ("true") == 0);
  CHECK (run_busybox ("echo x > /probe") != 0);
  CHECK (run_busybox ("echo x > /dev/shm/probe && test -c /dev/null") == 0);

  /* default devices, mknod'ed with mode 0666 */
  check_char_device ("/dev/null", 1, 3);
  check_char_device ("/dev/zero", 1, 5);
  check_char_device ("/dev/full", 1, 7);
  check_char_device ("/dev/random", 1, 8);
  check_char_device ("/dev/urandom", 1, 9);
  check_char_device ("/dev/tty", 5, 0);
  struct stat st;
  CHECK (stat ("/dev/null", &st) == 0 && (st.st_mode & 07777) == 0666);

  /* linux.devices with mode and owner */
  check_char_device ("/dev/berth-zero", 1, 5);
  CHECK (stat ("/dev/berth-zero", &st) == 0);
  CHECK ((st.st_mode & 07777) == 0640 && st.st_uid == 1234 && st.st_gid == 5678);
  CHECK (stat ("/dev/sub/fifo", &st) == 0 && S_ISFIFO (st.st_mode) && (st.st_mode & 07777) == 0600);

  /* symlinks */
  readlink_is ("/dev/ptmx", "pts/ptmx");
  readlink_is ("/dev/fd", "/proc/self/fd");
  readlink_is ("/dev/stdin", "/proc/self/fd/0");
  readlink_is ("/dev/stdout", "/proc/self/fd/1");
  readlink_is ("/dev/stderr", "/proc/self/fd/2");
  cleanup_close int ptmx = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  CHECK (ptmx >= 0);

  /* file systems */
  CHECK (is_mount_of_type ("/proc", PROC_SUPER_MAGIC));
  CHECK (is_mount_of_type ("/dev", TMPFS_MAGIC));
  CHECK (is_mount_of_type ("/dev/pts", DEVPTS_SUPER_MAGIC));
  CHECK (is_mount_of_type ("/sys", SYSFS_MAGIC) && is_readonly ("/sys"));
  CHECK (is_mount_of_type ("/dev/mqueue", MQUEUE_MAGIC));
  CHECK (getpid () == 1);

  /* maskedPaths */
  if (stat ("/proc/kcore", &st) == 0)
    {
      check_char_device ("/proc/kcore", 1, 3);
      cleanup_close int fd = open ("/proc/kcore", O_RDONLY | O_CLOEXEC);
      char c;
      CHECK (fd >= 0 && read (fd, &c, 1) == 0);
    }
  /* the kernel may lack kcore: these come from the image */
  check_char_device ("/etc/secret", 1, 3);
  cleanup_close int secret = open ("/etc/secret", O_RDONLY | O_CLOEXEC);
  char c;
  CHECK (secret >= 0 && read (secret, &c, 1) == 0);
  CHECK (is_mount_of_type ("/etc/secretdir", TMPFS_MAGIC) && is_readonly ("/etc/secretdir"));
  CHECK (access ("/etc/secretdir/inner", F_OK) < 0 && errno == ENOENT);
  if (access ("/proc/acpi", F_OK) == 0)
    CHECK (is_mount_of_type ("/proc/acpi", TMPFS_MAGIC) && is_readonly ("/proc/acpi"));

  /* readonlyPaths */
  CHECK (is_readonly ("/proc/sys"));
  CHECK (open ("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC) < 0 && errno == EROFS);
  CHECK (!is_readonly ("/proc"));
}

static void full_run_body (struct fixture *fx)
{
  char path[512];
  fixture_path (path, sizeof (path), fx->rootfs, "etc");
  CHECK (mkdir (path, 0755) == 0);
  fixture_path (path, sizeof (path), fx->rootfs, "etc/secret");
  CHECK (berth_write_file (path, "secret", 6, NULL) == 0);
  fixture_path (path, sizeof (path), fx->rootfs, "etc/secretdir");
  CHECK (mkdir (path, 0755) == 0);
  fixture_path (path, sizeof (path), fx->rootfs, "etc/secretdir/inner");
  CHECK (berth_write_file (path, "secret", 6, NULL) == 0);
  cleanup_json json_t *config = config_printf (
      "{\"root\": {\"path\": \"%s\", \"readonly\": true},"
      " \"mounts\": ["
      "  {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
      "  {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
      "   \"options\": [\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"]},"
      "  {\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\","
      "   \"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\", \"gid=5\"]},"
      "  {\"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\","
      "   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\"]},"
      "  {\"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\","
      "   \"options\": [\"nosuid\", \"noexec\", \"nodev\"]},"
      "  {\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\","
      "   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"ro\"]}"
      " ],"
      " \"linux\": {"
      "  \"devices\": [{\"path\": \"/dev/berth-zero\", \"type\": \"c\", \"major\": 1, \"minor\": 5,"
      "               \"fileMode\": 416, \"uid\": 1234, \"gid\": 5678},"
      "              {\"path\": \"/dev/sub/fifo\", \"type\": \"p\", \"fileMode\": 384}],"
      "  \"maskedPaths\": [\"/proc/kcore\", \"/proc/acpi\", \"/nonexistent\", \"/etc/secret\", \"/etc/secretdir\"],"
      "  \"readonlyPaths\": [\"/proc/sys\"]"
      " }}",
      fx->rootfs);
  struct rootfs_ctx ctx = make_ctx (fx, config);
  ctx.netns = true;
  berth_err err = NULL;
  int ret = rootfs_prepare (&ctx, &err);
  if (ret == 0)
    ret = rootfs_pivot (&ctx, &err);
  if (ret == 0)
    ret = rootfs_finalize (&ctx, &err);
  if (ret < 0)
    printf ("  %s\n", err->msg);
  CHECK (ret == 0);
  check_container_view (fx);
}

TEST (full_prepare_pivot_finalize)
{
  struct fixture fx;
  make_fixture (&fx);
  run_in_namespaces (&fx, CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWIPC, full_run_body);
}

static bool root_is_shared (void)
{
  return mountinfo_has ("/", "shared:");
}

/* How many mounts have MOUNT_POINT (field 5 of mountinfo). */
static int count_mounts_at (const char *mount_point)
{
  cleanup_file FILE *f = fopen ("/proc/self/mountinfo", "re");
  CHECK (f != NULL);
  cleanup_free char *line = NULL;
  size_t cap = 0;
  int n = 0;
  while (getline (&line, &cap, f) > 0)
    {
      char point[512];
      if (sscanf (line, "%*s %*s %*s %*s %511s", point) == 1 && strcmp (point, mount_point) == 0)
        n++;
    }
  return n;
}

static void shared_and_no_pivot_body (struct fixture *fx, const char *propagation, bool no_pivot)
{
  cleanup_json json_t *config = config_printf (
      "{\"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"}],"
      " \"linux\": {\"rootfsPropagation\": \"%s\"}}",
      propagation);
  struct rootfs_ctx ctx = make_ctx (fx, config);
  ctx.no_pivot = no_pivot;
  berth_err err = NULL;
  int ret = rootfs_prepare (&ctx, &err);
  if (ret == 0)
    ret = rootfs_pivot (&ctx, &err);
  if (ret < 0)
    printf ("  %s\n", err->msg);
  CHECK (ret == 0);
  CHECK (access ("/bin/busybox", X_OK) == 0);
  CHECK (access (fx->dir, F_OK) < 0);
  char cwd[64];
  CHECK (getcwd (cwd, sizeof (cwd)) != NULL);
  CHECK_STR (cwd, "/");
  CHECK (root_is_shared () == (strcmp (propagation, "shared") == 0));
  /* pivot_root's old root was detached, not left stacked on "/". */
  if (!no_pivot)
    CHECK (count_mounts_at ("/") == 1);
}

/* The rootfs is a mount of its own, as an overlay rootfs is, so "/" is
 * not its parent mount: pivot_root still must not see a shared root. */
static void shared_pivot_body (struct fixture *fx)
{
  CHECK (mount ("tmpfs", fx->rootfs, "tmpfs", 0, "mode=755") == 0);
  char path[512];
  fixture_path (path, sizeof (path), fx->rootfs, "bin");
  CHECK (mkdir (path, 0755) == 0);
  fixture_path (path, sizeof (path), fx->rootfs, "bin/busybox");
  copy_file ("/bin/busybox", path, 0755);
  shared_and_no_pivot_body (fx, "shared", false);
}

static void private_no_pivot_body (struct fixture *fx)
{
  shared_and_no_pivot_body (fx, "private", true);
}

TEST (pivot_with_shared_root_propagation)
{
  struct fixture fx;
  make_fixture (&fx);
  run_in_namespaces (&fx, 0, shared_pivot_body);
}

TEST (no_pivot_moves_and_chroots)
{
  struct fixture fx;
  make_fixture (&fx);
  run_in_namespaces (&fx, 0, private_no_pivot_body);
}

static void fake_dev_null_body (struct fixture *fx)
{
  char fake[256];
  fixture_path (fake, sizeof (fake), fx->host, "fake-null");
  CHECK (berth_write_file (fake, "", 0, NULL) == 0);
  cleanup_json json_t *config = config_printf (
      "{\"mounts\": ["
      "  {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"},"
      "  {\"destination\": \"/dev/null\", \"type\": \"bind\", \"source\": \"%s\", \"options\": [\"bind\"]}"
      " ],"
      " \"linux\": {\"maskedPaths\": [\"/proc/kcore\"]}}",
      fake);
  struct rootfs_ctx ctx = make_ctx (fx, config);
  berth_err err = NULL;
  int ret = rootfs_prepare (&ctx, &err);
  if (ret == 0)
    ret = rootfs_pivot (&ctx, &err);
  if (ret < 0)
    printf ("  %s\n", err->msg);
  CHECK (ret == 0);
  struct stat st;
  CHECK (stat ("/dev/null", &st) == 0 && S_ISREG (st.st_mode));
  CHECK (rootfs_finalize (&ctx, &err) < 0);
  CHECK_STR (err->msg, "`/dev/null` is not the null device, refusing to mask");
  berth_error_free (&err);
}

TEST (finalize_refuses_fake_dev_null)
{
  struct fixture fx;
  make_fixture (&fx);
  run_in_namespaces (&fx, 0, fake_dev_null_body);
}
