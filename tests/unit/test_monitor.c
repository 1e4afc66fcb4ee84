/* Tests of berth-monitor, its berthd-side client (daemon/monitor-client.h)
 * and berth-init.  They drive the real binaries of the same build folder
 * (berth-monitor, berth-runtime, berth-init next to tests/), and runc for
 * one test, with busybox bundles in a temporary folder.
 *
 * Every test runs in a sandbox: the checks run in a child, and the parent
 * cleans up whatever happened (monitors killed, containers deleted with
 * the runtime, cgroups removed, the folder removed). */
#include "daemon/monitor-client.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#define CHECK_INT(a, b)                                                                   \
  do                                                                                      \
    {                                                                                     \
      long long a_ = (a), b_ = (b);                                                       \
      if (a_ != b_)                                                                       \
        {                                                                                 \
          fprintf (stdout, "  %s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, \
                   a_, b_);                                                               \
          fflush (stdout);                                                                \
          _exit (1);                                                                      \
        }                                                                                 \
    }                                                                                     \
  while (0)

/* ------------------------------------------------------------------ */
/* The sandbox                                                         */
/* ------------------------------------------------------------------ */

struct env
{
  char dir[64];             /* /tmp/berth-monitor-XXXXXX */
  char monitor[PATH_MAX];
  char runtime[PATH_MAX];
  char init[PATH_MAX];
  char berth_root[128];     /* the runtimes' --root folders */
  char runc_root[128];
  char cgtag[64];           /* cgroup names: /berth-test/CGTAG-N */
  int n;                    /* containers made so far */
};

static struct env E;

#define RUNC "/usr/sbin/runc"
#define TIMEOUT_S 15

static void sibling_path (char *out, const char *bindir, const char *name)
{
  CHECK ((size_t) snprintf (out, PATH_MAX, "%s/%s", bindir, name) < PATH_MAX);
}

/* The binaries of this build: the test is BUILD/tests/test_monitor. */
static void env_init (void)
{
  char exe[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
  CHECK (n > 0);
  exe[n] = '\0';
  *strrchr (exe, '/') = '\0';
  *strrchr (exe, '/') = '\0';
  sibling_path (E.monitor, exe, "berth-monitor");
  sibling_path (E.runtime, exe, "berth-runtime");
  sibling_path (E.init, exe, "berth-init");
  strcpy (E.dir, "/tmp/berth-monitor-XXXXXX");
  CHECK (mkdtemp (E.dir) != NULL);
  chmod (E.dir, 0755);
  snprintf (E.berth_root, sizeof E.berth_root, "%s/root", E.dir);
  snprintf (E.runc_root, sizeof E.runc_root, "%s/runc-root", E.dir);
  snprintf (E.cgtag, sizeof E.cgtag, "monitor-%d", (int) getpid ());
  E.n = 0;
  /* The ASan runtime's leak check at exit cannot stop the world once it
   * has joined a container's pid namespace (exec): it spins.  tests/run
   * turns it off for the ASan runtime the same way. */
  const char *asan = getenv ("ASAN_OPTIONS");
  if (asan == NULL || strstr (asan, "detect_leaks") == NULL)
    {
      char opts[1024];
      snprintf (opts, sizeof opts, "%s%sdetect_leaks=0", asan ? asan : "", asan && *asan ? ":" : "");
      setenv ("ASAN_OPTIONS", opts, 1);
    }
}

static bool is_monitor (pid_t pid)
{
  char path[64], cmd[256] = "";
  snprintf (path, sizeof path, "/proc/%d/cmdline", (int) pid);
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read (fd, cmd, sizeof cmd - 1) <= 0)
    return false;
  return strstr (cmd, "berth-monitor") != NULL;
}

/* Run ARGV (in CWD if not NULL) with stdout in OUT (if not NULL, at most
 * SIZE-1 bytes) and stderr to /dev/null; returns its exit code or -1. */
static int run (const char *const *argv, const char *cwd, char *out, size_t size)
{
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return -1;
  pid_t pid = fork ();
  if (pid == 0)
    {
      int null = open ("/dev/null", O_RDWR);
      dup2 (null, 0);
      dup2 (p[1], 1);
      dup2 (null, 2);
      if (cwd && chdir (cwd) < 0)
        _exit (126);
      execv (argv[0], (char *const *) argv);
      _exit (127);
    }
  close (p[1]);
  size_t len = 0;
  char sink[4096];
  ssize_t n;
  while ((n = read (p[0], out ? out + len : sink, out ? size - 1 - len : sizeof sink)) > 0)
    if (out)
      len += (size_t) n;
  if (out)
    out[len] = '\0';
  close (p[0]);
  int st;
  if (pid < 0 || waitpid (pid, &st, 0) < 0)
    return -1;
  return WIFEXITED (st) ? WEXITSTATUS (st) : 128 + WTERMSIG (st);
}

static void delete_all (const char *rt, const char *root)
{
  cleanup_dir DIR *d = opendir (root);
  struct dirent *de;
  while (d && (de = readdir (d)) != NULL)
    {
      if (de->d_name[0] == '.')
        continue;
      const char *argv[] = { rt, "--root", root, "delete", "--force", de->d_name, NULL };
      run (argv, NULL, NULL, 0);
    }
}

static void sandbox_cleanup (void)
{
  char pattern[PATH_MAX];
  glob_t g;
  /* monitors first, so none of them races the deletes below */
  snprintf (pattern, sizeof pattern, "%s/state-*/monitor.pid", E.dir);
  if (glob (pattern, 0, NULL, &g) == 0)
    {
      for (size_t i = 0; i < g.gl_pathc; i++)
        {
          cleanup_free char *text = NULL;
          berth_err err = NULL;
          if (berth_read_file (g.gl_pathv[i], 64, &text, NULL, &err) < 0)
            {
              berth_error_free (&err);
              continue;
            }
          pid_t pid = (pid_t) atoi (text);
          if (pid <= 1 || !is_monitor (pid))
            continue;
          /* with a runtime command it may be running (its own process
           * group, from its setsid; containers have their own sessions) */
          pid_t pgid = getpgid (pid);
          if (pgid > 1 && pgid != getpgid (0))
            kill (-pgid, SIGKILL);
          kill (pid, SIGKILL);
        }
      globfree (&g);
    }
  delete_all (E.runtime, E.berth_root);
  delete_all (RUNC, E.runc_root);
  snprintf (pattern, sizeof pattern, "/sys/fs/cgroup/*/berth-test/%s-*", E.cgtag);
  if (glob (pattern, GLOB_ONLYDIR, NULL, &g) == 0)
    {
      for (size_t i = 0; i < g.gl_pathc; i++)
        rmdir (g.gl_pathv[i]);
      globfree (&g);
    }
  berth_rm_rf (E.dir);
}

/* Run BODY in a child; clean up after it whatever it did; fail if it did. */
static void sandbox (void (*body) (void))
{
  env_init ();
  fflush (stdout);
  pid_t pid = fork ();
  CHECK (pid >= 0);
  if (pid == 0)
    {
      body ();
      fflush (stdout);
      _exit (0);
    }
  int st = 0;
  bool done = false;
  for (int i = 0; i < 120 * 50 && !done; i++)
    {
      done = waitpid (pid, &st, WNOHANG) == pid;
      if (!done)
        usleep (20000);
    }
  if (!done)
    {
      printf ("  timed out\n");
      kill (pid, SIGKILL);
      waitpid (pid, &st, 0);
    }
  sandbox_cleanup ();
  fflush (stdout);
  if (!done || !WIFEXITED (st) || WEXITSTATUS (st) != 0)
    _exit (1);
}

/* ------------------------------------------------------------------ */
/* Bundles, monitors, clients                                          */
/* ------------------------------------------------------------------ */

struct ctr
{
  char id[64];
  char bundle[PATH_MAX];
  char state[PATH_MAX];
  char log[PATH_MAX];
  const char *rt, *rt_root;
  pid_t monitor_pid, pid;
};

static void copy_file (const char *from, const char *to, mode_t mode)
{
  cleanup_close int in = open (from, O_RDONLY | O_CLOEXEC);
  cleanup_close int out = open (to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  CHECK (in >= 0 && out >= 0);
  char buf[65536];
  ssize_t n;
  while ((n = read (in, buf, sizeof buf)) > 0)
    CHECK (berth_write_all (out, buf, (size_t) n) == 0);
  CHECK (n == 0);
}

static void pathf (char *out, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
static void pathf (char *out, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (out, PATH_MAX, fmt, ap);
  va_end (ap);
  CHECK (n > 0 && n < PATH_MAX);
}

static void make_rootfs (const char *bundle)
{
  static const char *dirs[] = { "rootfs", "rootfs/bin", "rootfs/proc", "rootfs/sys", "rootfs/dev", "rootfs/tmp",
                                "rootfs/etc" };
  static const char *applets[] = { "sh", "cat", "echo", "sleep", "stty", "printf", "head", "tr", "true", "kill" };
  char path[PATH_MAX];
  CHECK (mkdir (bundle, 0755) == 0);
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
    {
      pathf (path, "%s/%s", bundle, dirs[i]);
      CHECK (mkdir (path, 0755) == 0);
    }
  pathf (path, "%s/rootfs/bin/busybox", bundle);
  copy_file ("/bin/busybox", path, 0755);
  for (size_t i = 0; i < sizeof applets / sizeof applets[0]; i++)
    {
      pathf (path, "%s/rootfs/bin/%s", bundle, applets[i]);
      CHECK (symlink ("busybox", path) == 0);
    }
}

static json_t *string_array (const char *const *args)
{
  json_t *a = json_array ();
  for (; *args; args++)
    json_array_append_new (a, json_string (*args));
  return a;
}

/* A container: a bundle from `berth-runtime spec` running ARGS, a state
 * folder and a log path; nothing is started. */
static void make_container (struct ctr *c, bool runc, const char *const *args, bool tty)
{
  int n = ++E.n;
  memset (c, 0, sizeof *c);
  snprintf (c->id, sizeof c->id, "mon-%d-%d", (int) getpid (), n);
  pathf (c->bundle, "%s/bundle-%d", E.dir, n);
  pathf (c->state, "%s/state-%d", E.dir, n);
  pathf (c->log, "%s/state-%d/ctr.log", E.dir, n);
  c->rt = runc ? RUNC : E.runtime;
  c->rt_root = runc ? E.runc_root : E.berth_root;
  CHECK (mkdir (c->state, 0700) == 0);
  make_rootfs (c->bundle);
  const char *spec[] = { E.runtime, "spec", NULL };
  CHECK_INT (run (spec, c->bundle, NULL, 0), 0);
  char path[PATH_MAX];
  pathf (path, "%s/config.json", c->bundle);
  berth_err err = NULL;
  cleanup_json json_t *config = berth_json_load_file (path, &err);
  CHECK (config != NULL);
  json_t *process = berth_json_obj (config, "process");
  json_object_set_new (process, "args", string_array (args));
  json_object_set_new (process, "terminal", json_boolean (tty));
  json_object_set_new (berth_json_obj (config, "root"), "readonly", json_false ());
  json_t *lnx = berth_json_obj (config, "linux");
  char cg[128];
  snprintf (cg, sizeof cg, "/berth-test/%s-%d", E.cgtag, n);
  json_object_set_new (lnx, "cgroupsPath", json_string (cg));
  /* no network namespace: faster, and nothing here needs one */
  json_t *nss = berth_json_arr (lnx, "namespaces"), *ns;
  size_t i;
  json_array_foreach (nss, i, ns)
    if (strcmp (berth_json_str (ns, "type"), "network") == 0)
      {
        json_array_remove (nss, i);
        break;
      }
  CHECK (berth_json_write_file (path, config, &err) == 0);
}

/* An exec in the running container PARENT: a state folder and a
 * process.json from the container's process. */
static void make_exec (struct ctr *e, const struct ctr *parent, const char *const *args, bool tty, char *process_path)
{
  int n = ++E.n;
  *e = *parent;
  pathf (e->state, "%s/state-%d", E.dir, n);
  e->log[0] = '\0';
  CHECK (mkdir (e->state, 0700) == 0);
  char path[PATH_MAX];
  pathf (path, "%s/config.json", parent->bundle);
  berth_err err = NULL;
  cleanup_json json_t *config = berth_json_load_file (path, &err);
  CHECK (config != NULL);
  json_t *process = berth_json_obj (config, "process");
  json_object_set_new (process, "args", string_array (args));
  json_object_set_new (process, "terminal", json_boolean (tty));
  pathf (process_path, "%s/process.json", e->state);
  CHECK (berth_json_write_file (process_path, process, &err) == 0);
}

enum { F_TTY = 1, F_STDIN = 2, F_STDIN_ONCE = 4, F_NO_LOG = 8 };

static int spawn (struct ctr *c, const char *exec_process, int flags, berth_err *err)
{
  struct monitor_spawn o = {
    .monitor_path = E.monitor,
    .id = c->id,
    .state_dir = c->state,
    .runtime_path = c->rt,
    .runtime_root = c->rt_root,
    .bundle = exec_process ? NULL : c->bundle,
    .exec_process = exec_process,
    .log_file = exec_process || (flags & F_NO_LOG) ? NULL : c->log,
    .tty = flags & F_TTY,
    .stdin_open = flags & F_STDIN,
    .stdin_once = flags & F_STDIN_ONCE,
  };
  return monitor_spawn (&o, &c->monitor_pid, &c->pid, err);
}

static void spawn_ok (struct ctr *c, int flags)
{
  berth_err err = NULL;
  int r = spawn (c, NULL, flags, &err);
  if (r < 0)
    printf ("  monitor_spawn: %s\n", err ? err->msg : "?");
  CHECK (r == 0);
  CHECK (c->monitor_pid > 0 && c->pid > 0);
}

static void start_ok (struct ctr *c)
{
  berth_err err = NULL;
  int r = monitor_start (c->state, &err);
  if (r < 0)
    printf ("  monitor_start: %s\n", err ? err->msg : "?");
  CHECK (r == 0);
}

static int attach (struct ctr *c, uint8_t streams)
{
  berth_err err = NULL;
  int fd = monitor_connect (c->state, &err);
  CHECK (fd >= 0);
  struct timeval tv = { .tv_sec = TIMEOUT_S };
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  CHECK (monitor_send (fd, MON_ATTACH, &streams, 1) == 0);
  return fd;
}

struct collected
{
  char out[262144], err[262144];
  size_t out_len, err_len;
  int exit_code;    /* -1 until MON_EXIT */
};

/* Read messages until MON_EXIT, or until the output has UNTIL in it. */
static void collect (int fd, struct collected *got, const char *until)
{
  static char buf[MONITOR_MSG_MAX];
  got->exit_code = -1;
  for (;;)
    {
      enum monitor_msg type;
      ssize_t n = monitor_recv (fd, &type, buf, sizeof buf - 1);
      if (n < 0)
        printf ("  monitor_recv: %s (so far: out \"%s\" err \"%s\")\n", strerror ((int) -n), got->out, got->err);
      CHECK (n >= 0);
      buf[n] = '\0';
      if (type == MON_EXIT)
        {
          got->exit_code = atoi (buf);
          return;
        }
      char *dst = type == MON_STDERR ? got->err : got->out;
      size_t *len = type == MON_STDERR ? &got->err_len : &got->out_len;
      CHECK (type == MON_STDOUT || type == MON_STDERR);
      CHECK (*len + (size_t) n < sizeof got->out);
      memcpy (dst + *len, buf, (size_t) n + 1);
      *len += (size_t) n;
      if (until && strstr (got->out, until))
        return;
    }
}

static bool process_alive (pid_t pid)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  cleanup_free char *buf = NULL;
  berth_err err = NULL;
  if (berth_read_file (path, 4096, &buf, NULL, &err) < 0)
    {
      berth_error_free (&err);
      return false;
    }
  char *p = strrchr (buf, ')');
  return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static void wait_gone (pid_t pid)
{
  for (int i = 0; i < TIMEOUT_S * 100 && process_alive (pid); i++)
    usleep (10000);
  CHECK (!process_alive (pid));
}

static bool time_is_rfc3339_ns (const char *t)
{
  const char *tpl = "dddd-dd-ddTdd:dd:dd.dddddddddZ";
  if (t == NULL || strlen (t) != strlen (tpl))
    return false;
  for (size_t i = 0; tpl[i]; i++)
    if (tpl[i] == 'd' ? (t[i] < '0' || t[i] > '9') : t[i] != tpl[i])
      return false;
  return true;
}

/* The exit file, once the monitor wrote it. */
static int wait_exit_oom (struct ctr *c, char **error, bool *oom)
{
  for (int i = 0; i < TIMEOUT_S * 100; i++)
    {
      int code;
      cleanup_free char *fin = NULL;
      berth_err err = NULL;
      int r = monitor_read_exit (c->state, &code, &fin, oom, error, &err);
      if (r == 0)
        {
          CHECK (time_is_rfc3339_ns (fin));
          return code;
        }
      CHECK (r == -ENOENT);
      berth_error_free (&err);
      usleep (10000);
    }
  CHECK (!"no exit file");
  return -1;
}

static int wait_exit (struct ctr *c, char **error)
{
  bool oom = true;
  int code = wait_exit_oom (c, error, &oom);
  CHECK (!oom);
  return code;
}

/* After the exit: the monitor is gone, the runtime forgot the container,
 * the attach socket was removed. */
static void check_cleaned_up (struct ctr *c)
{
  wait_gone (c->monitor_pid);
  const char *state[] = { c->rt, "--root", c->rt_root, "state", c->id, NULL };
  CHECK (run (state, NULL, NULL, 0) != 0);
  char path[PATH_MAX];
  pathf (path, "%s/attach.sock", c->state);
  CHECK (access (path, F_OK) < 0 && errno == ENOENT);
}

/* The log's entries as a JSON array, checking each line's shape. */
static json_t *read_log (struct ctr *c, char **raw)
{
  cleanup_free char *text = NULL;
  berth_err err = NULL;
  CHECK (berth_read_file (c->log, 16 * 1024 * 1024, &text, NULL, &err) == 0);
  json_t *entries = json_array ();
  for (char *line = text, *next; *line; line = next)
    {
      next = strchr (line, '\n');
      CHECK (next != NULL);
      *next++ = '\0';
      json_t *j = json_loads (line, 0, NULL);
      CHECK (j != NULL);
      CHECK_INT (json_object_size (j), 3);
      CHECK (berth_json_str (j, "log") != NULL);
      const char *stream = berth_json_str (j, "stream");
      CHECK (stream && (strcmp (stream, "stdout") == 0 || strcmp (stream, "stderr") == 0));
      CHECK (time_is_rfc3339_ns (berth_json_str (j, "time")));
      json_array_append_new (entries, j);
      next[-1] = '\n';
    }
  if (raw)
    *raw = take_ptr (text);
  return entries;
}

/* The log text of STREAM's entries, in order, joined. */
static char *log_text (json_t *entries, const char *stream)
{
  size_t i, len = 0;
  json_t *e;
  char *out = calloc (1, 1);
  json_array_foreach (entries, i, e)
    {
      if (strcmp (berth_json_str (e, "stream"), stream) != 0)
        continue;
      const char *s = berth_json_str (e, "log");
      out = realloc (out, len + strlen (s) + 1);
      strcpy (out + len, s);
      len += strlen (s);
    }
  return out;
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

static void body_logs_and_exit_codes (void)
{
  struct ctr c;
  const char *args[] = { "sh", "-c", "echo out1; echo 'err <1> & \"q\"' >&2; echo out2; printf 'tail\\tend'; exit 3",
                         NULL };
  make_container (&c, false, args, false);
  spawn_ok (&c, 0);
  start_ok (&c);
  cleanup_free char *error = NULL;
  CHECK_INT (wait_exit (&c, &error), 3);
  CHECK (error == NULL);
  check_cleaned_up (&c);
  cleanup_free char *raw = NULL;
  cleanup_json json_t *entries = read_log (&c, &raw);
  CHECK_INT (json_array_size (entries), 4);
  cleanup_free char *out = log_text (entries, "stdout");
  cleanup_free char *err = log_text (entries, "stderr");
  CHECK_STR (out, "out1\nout2\ntail\tend");
  CHECK_STR (err, "err <1> & \"q\"\n");
  /* Docker's escaping: HTML-safe, control bytes as \u00XX */
  CHECK_CONTAINS (raw, "{\"log\":\"err \\u003c1\\u003e \\u0026 \\\"q\\\"\\n\",\"stream\":\"stderr\",\"time\":\"");
  CHECK_CONTAINS (raw, "{\"log\":\"tail\\u0009end\",\"stream\":\"stdout\"");

  struct ctr t;
  const char *targs[] = { "true", NULL };
  make_container (&t, false, targs, false);
  spawn_ok (&t, 0);
  start_ok (&t);
  CHECK_INT (wait_exit (&t, NULL), 0);
  check_cleaned_up (&t);
  cleanup_json json_t *none = read_log (&t, NULL);
  CHECK_INT (json_array_size (none), 0);
}
TEST (logs_and_exit_codes) { sandbox (body_logs_and_exit_codes); }

/* Lines over 16 KiB are split like docker's json-file: a 16384-byte
 * entry without a newline, then the rest. */
static void body_long_lines (void)
{
  struct ctr c;
  const char *args[] = { "sh", "-c", "head -c 20000 /dev/zero | tr '\\0' a; echo; echo short", NULL };
  make_container (&c, false, args, false);
  spawn_ok (&c, 0);
  start_ok (&c);
  CHECK_INT (wait_exit (&c, NULL), 0);
  wait_gone (c.monitor_pid);
  cleanup_json json_t *entries = read_log (&c, NULL);
  CHECK_INT (json_array_size (entries), 3);
  const char *first = berth_json_str (json_array_get (entries, 0), "log");
  const char *second = berth_json_str (json_array_get (entries, 1), "log");
  CHECK_INT (strlen (first), 16384);
  CHECK_INT (strlen (second), 20000 - 16384 + 1);
  CHECK (strspn (first, "a") == 16384 && strspn (second, "a") == 20000 - 16384 && second[3616] == '\n');
  CHECK_STR (berth_json_str (json_array_get (entries, 2), "log"), "short\n");
}
TEST (long_lines) { sandbox (body_long_lines); }

/* Killed by a signal: 128+9; SIGTERM to the monitor is ignored. */
static void body_signal_exit (void)
{
  struct ctr c;
  const char *args[] = { "sleep", "100", NULL };
  make_container (&c, false, args, false);
  spawn_ok (&c, 0);
  start_ok (&c);
  CHECK (kill (c.monitor_pid, SIGTERM) == 0);
  CHECK (kill (c.monitor_pid, SIGHUP) == 0);
  CHECK (kill (c.monitor_pid, SIGINT) == 0);
  usleep (100000);
  CHECK (process_alive (c.monitor_pid));
  CHECK (kill (c.pid, SIGKILL) == 0);
  CHECK_INT (wait_exit (&c, NULL), 137);
  check_cleaned_up (&c);
}
TEST (signal_exit) { sandbox (body_signal_exit); }

/* Attach clients get the streams they asked for, then MON_EXIT. */
static void body_attach (void)
{
  struct ctr c;
  const char *args[] = { "sh", "-c", "echo hello; echo world >&2; echo again; exit 5", NULL };
  make_container (&c, false, args, false);
  spawn_ok (&c, 0);
  int both = attach (&c, MON_ATTACH_STDOUT | MON_ATTACH_STDERR);
  int out_only = attach (&c, MON_ATTACH_STDOUT);
  int nothing = attach (&c, 0);
  start_ok (&c);
  static struct collected a, b, n;
  collect (both, &a, NULL);
  collect (out_only, &b, NULL);
  collect (nothing, &n, NULL);
  CHECK_STR (a.out, "hello\nagain\n");
  CHECK_STR (a.err, "world\n");
  CHECK_STR (b.out, "hello\nagain\n");
  CHECK_INT (b.err_len, 0);
  CHECK_INT (n.out_len + n.err_len, 0);
  CHECK_INT (a.exit_code, 5);
  CHECK_INT (b.exit_code, 5);
  CHECK_INT (n.exit_code, 5);
  /* then the monitor hangs up */
  enum monitor_msg type;
  char buf[16];
  CHECK_INT (monitor_recv (both, &type, buf, sizeof buf), -EPIPE);
  close (both);
  close (out_only);
  close (nothing);
  CHECK_INT (wait_exit (&c, NULL), 5);
  check_cleaned_up (&c);
  /* a monitor that is gone refuses connections */
  berth_err err = NULL;
  CHECK (monitor_connect (c.state, &err) < 0);
  CHECK (err != NULL);
  berth_error_free (&err);
}
TEST (attach) { sandbox (body_attach); }

/* stdin: MON_STDIN reaches the process, through the monitor's buffer
 * when the process does not read yet; MON_STDIN_CLOSE closes it only with
 * --stdin-once, once what was buffered is written. */
static void body_stdin (void)
{
  struct ctr c;
  const char *args[] = { "sh", "-c", "sleep 0.3; cat", NULL };
  make_container (&c, false, args, false);
  spawn_ok (&c, F_STDIN | F_STDIN_ONCE);
  int fd = attach (&c, MON_ATTACH_STDOUT);
  start_ok (&c);
  /* more than a pipe holds */
  static char big[100000];
  for (size_t i = 0; i < sizeof big; i++)
    big[i] = (char) ('a' + i % 26);
  for (size_t off = 0; off < sizeof big; off += 25000)
    CHECK (monitor_send (fd, MON_STDIN, big + off, 25000) == 0);
  CHECK (monitor_send (fd, MON_STDIN_CLOSE, NULL, 0) == 0);
  static struct collected got;
  collect (fd, &got, NULL);
  CHECK_INT (got.out_len, sizeof big);
  CHECK (memcmp (got.out, big, sizeof big) == 0);
  CHECK_INT (got.exit_code, 0);
  close (fd);
  CHECK_INT (wait_exit (&c, NULL), 0);
  check_cleaned_up (&c);
  cleanup_json json_t *entries = read_log (&c, NULL);
  cleanup_free char *out = log_text (entries, "stdout");
  CHECK_INT (strlen (out), sizeof big);

  /* without --stdin-once the container's stdin stays open */
  struct ctr k;
  const char *cat[] = { "cat", NULL };
  make_container (&k, false, cat, false);
  spawn_ok (&k, F_STDIN);
  fd = attach (&k, MON_ATTACH_STDOUT);
  start_ok (&k);
  CHECK (monitor_send (fd, MON_STDIN, "one\n", 4) == 0);
  CHECK (monitor_send (fd, MON_STDIN_CLOSE, NULL, 0) == 0);
  static struct collected one;
  collect (fd, &one, "one\n");
  usleep (200000);
  CHECK (process_alive (k.pid));
  CHECK (monitor_send (fd, MON_STDIN, "two\n", 4) == 0);
  static struct collected two;
  collect (fd, &two, "two\n");
  CHECK (kill (k.pid, SIGKILL) == 0);
  CHECK_INT (wait_exit (&k, NULL), 137);
  close (fd);
}
TEST (stdin) { sandbox (body_stdin); }

/* --tty: a pty from the console socket; resizes show in `stty size`. */
static void tty_body (bool runc)
{
  struct ctr c;
  const char *args[] = { "sh", "-c", "read x; stty size; echo err >&2; read y; stty size; echo \"got $x $y\"", NULL };
  make_container (&c, runc, args, true);
  spawn_ok (&c, F_TTY | F_STDIN | F_STDIN_ONCE);
  berth_err err = NULL;
  CHECK (monitor_resize (c.state, 33, 77, &err) == 0);
  int fd = attach (&c, MON_ATTACH_STDOUT | MON_ATTACH_STDERR);
  start_ok (&c);
  CHECK (monitor_send (fd, MON_STDIN, "go\n", 3) == 0);
  static struct collected got;
  collect (fd, &got, "err\r\n");
  struct monitor_winsize ws = { .rows = 40, .cols = 100 };
  CHECK (monitor_send (fd, MON_RESIZE, &ws, sizeof ws) == 0);
  /* no effect with a tty */
  CHECK (monitor_send (fd, MON_STDIN_CLOSE, NULL, 0) == 0);
  CHECK (monitor_send (fd, MON_STDIN, "on\n", 3) == 0);
  collect (fd, &got, NULL);
  CHECK_INT (got.exit_code, 0);
  CHECK_INT (got.err_len, 0);
  CHECK_CONTAINS (got.out, "33 77\r\nerr\r\n");
  CHECK_CONTAINS (got.out, "40 100\r\n");
  CHECK_CONTAINS (got.out, "got go on\r\n");
  close (fd);
  CHECK_INT (wait_exit (&c, NULL), 0);
  check_cleaned_up (&c);
  cleanup_json json_t *entries = read_log (&c, NULL);
  cleanup_free char *logged = log_text (entries, "stdout");
  cleanup_free char *errs = log_text (entries, "stderr");
  CHECK_STR (logged, got.out);
  CHECK_STR (errs, "");
}
static void body_tty (void) { tty_body (false); }
TEST (tty) { sandbox (body_tty); }

/* A process the runtime cannot start: the runtime's message, exit code
 * 127, nothing left behind and nothing in the log. */
static void body_create_fails (void)
{
  struct ctr c;
  const char *args[] = { "/nonexistent", NULL };
  make_container (&c, false, args, false);
  berth_err err = NULL;
  int r = spawn (&c, NULL, 0, &err);
  if (r == 0)
    {
      /* a runtime that only fails at start */
      r = monitor_start (c.state, &err);
      CHECK (r < 0);
    }
  CHECK (err != NULL);
  CHECK_INT (err->errnum, 0);
  CHECK_CONTAINS (err->msg, "/nonexistent");
  berth_error_free (&err);
  cleanup_free char *error = NULL;
  CHECK_INT (wait_exit (&c, &error), 127);
  CHECK_CONTAINS (error, "/nonexistent");
  char path[PATH_MAX];
  pathf (path, "%s/monitor.pid", c.state);
  cleanup_free char *text = NULL;
  CHECK (berth_read_file (path, 64, &text, NULL, &err) == 0);
  c.monitor_pid = atoi (text);
  check_cleaned_up (&c);
  /* the runtime's complaint on stderr did not reach the log */
  struct stat st;
  CHECK (stat (c.log, &st) < 0 || st.st_size == 0);
}
TEST (create_fails) { sandbox (body_create_fails); }

/* Exec mode: `runtime exec` in a running container, with its own output
 * and exit code; a failing exec answers MON_START_FAILED. */
static void body_exec (void)
{
  struct ctr c;
  const char *args[] = { "sleep", "100", NULL };
  make_container (&c, false, args, false);
  spawn_ok (&c, 0);
  start_ok (&c);

  struct ctr e;
  char process[PATH_MAX];
  const char *eargs[] = { "sh", "-c", "read line; echo exec-out $line; echo exec-err >&2; exit 7", NULL };
  make_exec (&e, &c, eargs, false, process);
  berth_err err = NULL;
  CHECK (spawn (&e, process, F_STDIN | F_STDIN_ONCE, &err) == 0);
  CHECK (e.monitor_pid > 0 && e.pid == 0);
  int fd = attach (&e, MON_ATTACH_STDOUT | MON_ATTACH_STDERR);
  start_ok (&e);
  CHECK (monitor_send (fd, MON_STDIN, "in\n", 3) == 0);
  static struct collected got;
  collect (fd, &got, NULL);
  CHECK_STR (got.out, "exec-out in\n");
  CHECK_STR (got.err, "exec-err\n");
  CHECK_INT (got.exit_code, 7);
  close (fd);
  CHECK_INT (wait_exit (&e, NULL), 7);
  wait_gone (e.monitor_pid);
  /* the exec's end is not the container's */
  CHECK (process_alive (c.pid));
  CHECK (process_alive (c.monitor_pid));

  struct ctr bad;
  const char *bargs[] = { "/nonexistent", NULL };
  make_exec (&bad, &c, bargs, false, process);
  CHECK (spawn (&bad, process, 0, &err) == 0);
  fd = attach (&bad, MON_ATTACH_STDOUT | MON_ATTACH_STDERR);
  CHECK (monitor_start (bad.state, &err) < 0);
  CHECK_INT (err->errnum, 0);
  CHECK_CONTAINS (err->msg, "/nonexistent");
  berth_error_free (&err);
  static struct collected none;
  collect (fd, &none, NULL);
  CHECK_INT (none.exit_code, 127);
  CHECK_INT (none.out_len + none.err_len, 0);
  close (fd);
  cleanup_free char *error = NULL;
  CHECK_INT (wait_exit (&bad, &error), 127);
  CHECK_CONTAINS (error, "/nonexistent");
  wait_gone (bad.monitor_pid);
  CHECK (process_alive (c.pid));

  /* with a terminal */
  struct ctr t;
  const char *targs[] = { "sh", "-c", "read x; echo tty-$x; exit 3", NULL };
  make_exec (&t, &c, targs, true, process);
  CHECK (spawn (&t, process, F_TTY | F_STDIN, &err) == 0);
  fd = attach (&t, MON_ATTACH_STDOUT | MON_ATTACH_STDERR);
  start_ok (&t);
  CHECK (monitor_send (fd, MON_STDIN, "hi\n", 3) == 0);
  static struct collected tty;
  collect (fd, &tty, NULL);
  CHECK_CONTAINS (tty.out, "tty-hi\r\n");
  CHECK_INT (tty.exit_code, 3);
  close (fd);
  CHECK_INT (wait_exit (&t, NULL), 3);
  wait_gone (t.monitor_pid);

  CHECK (kill (c.pid, SIGKILL) == 0);
  CHECK_INT (wait_exit (&c, NULL), 137);
  check_cleaned_up (&c);
}
TEST (exec) { sandbox (body_exec); }

/* The monitor outlives whoever spawned it, and is found again by pid and
 * start time. */
static void body_survives_spawner (void)
{
  struct ctr c;
  const char *args[] = { "sh", "-c", "read x; exit 4", NULL };
  make_container (&c, false, args, false);
  int p[2];
  CHECK (pipe (p) == 0);
  pid_t spawner = fork ();
  if (spawner == 0)
    {
      spawn_ok (&c, F_STDIN | F_STDIN_ONCE);
      CHECK (write (p[1], &c.monitor_pid, sizeof c.monitor_pid) == sizeof c.monitor_pid);
      _exit (0);
    }
  int st;
  CHECK (waitpid (spawner, &st, 0) == spawner && WIFEXITED (st) && WEXITSTATUS (st) == 0);
  CHECK (read (p[0], &c.monitor_pid, sizeof c.monitor_pid) == sizeof c.monitor_pid);
  close (p[0]);
  close (p[1]);
  CHECK (process_alive (c.monitor_pid));
  CHECK (is_monitor (c.monitor_pid));
  /* neither the spawner's nor ours */
  char path[PATH_MAX];
  pathf (path, "/proc/%d/stat", (int) c.monitor_pid);
  cleanup_free char *stat = NULL;
  berth_err err = NULL;
  CHECK (berth_read_file (path, 4096, &stat, NULL, &err) == 0);
  int ppid = 0;
  CHECK (sscanf (strrchr (stat, ')') + 2, "%*c %d", &ppid) == 1);
  CHECK (ppid != getpid () && ppid != spawner);
  /* its own session */
  CHECK (getsid (c.monitor_pid) != getsid (0));
  pathf (path, "%s/monitor.pid", c.state);
  cleanup_free char *text = NULL;
  CHECK (berth_read_file (path, 64, &text, NULL, &err) == 0);
  CHECK_INT (atoi (text), c.monitor_pid);

  uint64_t start = proc_start_time (c.monitor_pid);
  CHECK (start > 0);
  CHECK (proc_start_time (getpid ()) > 0 && proc_start_time (getpid ()) <= start);
  cleanup_close int pidfd = monitor_pidfd (c.monitor_pid, start);
  CHECK (pidfd >= 0);
  CHECK_INT (monitor_pidfd (c.monitor_pid, start + 1), -ESRCH);
  int any = monitor_pidfd (c.monitor_pid, 0);
  CHECK (any >= 0);
  close (any);

  start_ok (&c);
  int fd = attach (&c, MON_ATTACH_STDOUT);
  CHECK (monitor_send (fd, MON_STDIN, "\n", 1) == 0);
  struct pollfd pfd = { pidfd, POLLIN, 0 };
  CHECK (poll (&pfd, 1, TIMEOUT_S * 1000) == 1);
  close (fd);
  CHECK_INT (wait_exit (&c, NULL), 4);
  wait_gone (c.monitor_pid);
  /* Gone once reaped (by init: the monitor is nobody's child here).  An
   * init that does not reap leaves a zombie, whose pidfd says it ended. */
  pathf (path, "/proc/%d", (int) c.monitor_pid);
  for (int i = 0; i < 200 && access (path, F_OK) == 0; i++)
    usleep (10000);
  if (access (path, F_OK) < 0)
    {
      CHECK_INT (proc_start_time (c.monitor_pid), 0);
      CHECK (monitor_pidfd (c.monitor_pid, start) < 0);
    }
  else
    {
      cleanup_close int zombie = monitor_pidfd (c.monitor_pid, start);
      struct pollfd zp = { zombie, POLLIN, 0 };
      CHECK (zombie >= 0 && poll (&zp, 1, 0) == 1);
    }
  CHECK_INT (proc_start_time (-1), 0);
  CHECK_INT (monitor_pidfd (0, 0), -ESRCH);
}
TEST (survives_spawner) { sandbox (body_survives_spawner); }

/* A client that does not read is dropped; the container goes on. */
static void body_slow_client (void)
{
  struct ctr c;
  const char *args[] = { "sh", "-c", "head -c 3000000 /dev/zero; echo done", NULL };
  make_container (&c, false, args, false);
  spawn_ok (&c, F_NO_LOG);
  int lazy = attach (&c, MON_ATTACH_STDOUT);
  start_ok (&c);
  CHECK_INT (wait_exit (&c, NULL), 0);
  wait_gone (c.monitor_pid);
  /* it never read: the container waited for it CLIENT_STALL_MS, then it
   * was dropped; what it got before, then the end of the connection */
  size_t total = 0;
  char *buf = malloc (MONITOR_MSG_MAX);
  for (;;)
    {
      enum monitor_msg type;
      ssize_t n = monitor_recv (lazy, &type, buf, MONITOR_MSG_MAX);
      if (n == -EPIPE)
        break;
      CHECK (n >= 0 && type == MON_STDOUT);
      total += (size_t) n;
    }
  free (buf);
  CHECK (total < 3000000);
  close (lazy);
}
TEST (slow_client) { sandbox (body_slow_client); }

/* The monitor with runc: logs, exit code, a failing create, the tty. */
static void body_runc (void)
{
  struct ctr c;
  const char *args[] = { "sh", "-c", "echo from-runc; echo oops >&2; exit 2", NULL };
  make_container (&c, true, args, false);
  spawn_ok (&c, 0);
  int fd = attach (&c, MON_ATTACH_STDOUT | MON_ATTACH_STDERR);
  start_ok (&c);
  static struct collected got;
  collect (fd, &got, NULL);
  close (fd);
  CHECK_STR (got.out, "from-runc\n");
  CHECK_STR (got.err, "oops\n");
  CHECK_INT (got.exit_code, 2);
  CHECK_INT (wait_exit (&c, NULL), 2);
  check_cleaned_up (&c);
  cleanup_json json_t *entries = read_log (&c, NULL);
  CHECK_INT (json_array_size (entries), 2);

  struct ctr bad;
  const char *bargs[] = { "/nonexistent", NULL };
  make_container (&bad, true, bargs, false);
  berth_err err = NULL;
  CHECK (spawn (&bad, NULL, 0, &err) < 0);
  CHECK_INT (err->errnum, 0);
  CHECK_CONTAINS (err->msg, "/nonexistent");
  berth_error_free (&err);
  cleanup_free char *error = NULL;
  CHECK_INT (wait_exit (&bad, &error), 127);
  struct stat st;
  CHECK (stat (bad.log, &st) < 0 || st.st_size == 0);

  tty_body (true);
}
TEST (runc) { sandbox (body_runc); }

/* Memory: one monitor per container must stay small (release build). */
static void body_small_rss (void)
{
  struct ctr c;
  const char *args[] = { "sh", "-c", "echo hi; sleep 100", NULL };
  make_container (&c, false, args, false);
  spawn_ok (&c, 0);
  int fd = attach (&c, MON_ATTACH_STDOUT);
  start_ok (&c);
  static struct collected got;
  collect (fd, &got, "hi\n");
  char path[PATH_MAX];
  pathf (path, "/proc/%d/status", (int) c.monitor_pid);
  cleanup_free char *status = NULL;
  berth_err err = NULL;
  CHECK (berth_read_file (path, 65536, &status, NULL, &err) == 0);
  char *rss = strstr (status, "VmRSS:"), *anon = strstr (status, "RssAnon:");
  CHECK (rss != NULL && anon != NULL);
  long kib = atol (rss + 6), anon_kib = atol (anon + 8);
  /* The file-backed part (the binary) is shared by all monitors; the
   * private part is what each container costs. */
  if (strstr (E.monitor, "/asan/") == NULL)
    {
      if (kib >= 1536 || anon_kib >= 256)
        printf ("  monitor RSS %ld KiB, anonymous %ld KiB\n", kib, anon_kib);
      CHECK (kib > 0 && kib < 1536);
      CHECK (anon_kib < 256);
    }
  CHECK (kill (c.pid, SIGKILL) == 0);
  CHECK_INT (wait_exit (&c, NULL), 137);
  close (fd);
}
TEST (small_rss) { sandbox (body_small_rss); }

/* A container the kernel OOM-kills under its memory limit. */
static void body_oom (void)
{
  struct ctr c;
  const char *args[] = { "sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived", NULL };
  make_container (&c, false, args, false);
  char path[PATH_MAX];
  pathf (path, "%s/config.json", c.bundle);
  berth_err err = NULL;
  cleanup_json json_t *config = berth_json_load_file (path, &err);
  CHECK (config != NULL);
  json_t *resources = json_pack ("{s:{s:I, s:I}}", "memory", "limit", (json_int_t) 16 << 20, "swap", (json_int_t) 16 << 20);
  json_object_set_new (berth_json_obj (config, "linux"), "resources", resources);
  CHECK (berth_json_write_file (path, config, &err) == 0);
  spawn_ok (&c, 0);
  start_ok (&c);
  bool oom = false;
  CHECK_INT (wait_exit_oom (&c, NULL, &oom), 137);
  CHECK (oom);
  check_cleaned_up (&c);
}
TEST (oom) { sandbox (body_oom); }

/* Bad command lines get an error on the sync fd, not a hang. */
static void body_bad_spawn (void)
{
  struct ctr c;
  const char *args[] = { "true", NULL };
  make_container (&c, false, args, false);
  struct monitor_spawn o = { .monitor_path = E.monitor, .id = c.id, .state_dir = c.state, .runtime_path = E.runtime };
  pid_t mp, p;
  berth_err err = NULL;
  CHECK (monitor_spawn (&o, &mp, &p, &err) < 0); /* neither bundle nor exec */
  berth_error_free (&err);
  o.bundle = c.bundle;
  o.runtime_path = "/nonexistent-runtime";
  CHECK (monitor_spawn (&o, &mp, &p, &err) < 0);
  CHECK_CONTAINS (err->msg, "nonexistent-runtime");
  berth_error_free (&err);
  o.runtime_path = E.runtime;
  o.monitor_path = "/nonexistent-monitor";
  CHECK (monitor_spawn (&o, &mp, &p, &err) < 0);
  berth_error_free (&err);
  char nothing[PATH_MAX];
  pathf (nothing, "%s/nothing", E.dir);
  CHECK_INT (monitor_read_exit (nothing, NULL, NULL, NULL, NULL, &err), -ENOENT);
  berth_error_free (&err);
}
TEST (bad_spawn) { sandbox (body_bad_spawn); }

/* ------------------------------------------------------------------ */
/* berth-init                                                          */
/* ------------------------------------------------------------------ */

static int run_init (const char *script)
{
  const char *argv[] = { E.init, "--", "sh", "-c", script, NULL };
  return run (argv, NULL, NULL, 0);
}

static void body_init_exit_codes (void)
{
  CHECK_INT (run_init ("exit 9"), 9);
  CHECK_INT (run_init ("true"), 0);
  CHECK_INT (run_init ("kill -KILL $$"), 137);
  const char *missing[] = { E.init, "/nonexistent", NULL };
  CHECK_INT (run (missing, NULL, NULL, 0), 127);
  const char *none[] = { E.init, "--", NULL };
  CHECK_INT (run (none, NULL, NULL, 0), 1);
}
TEST (init_exit_codes) { sandbox (body_init_exit_codes); }

/* berth-init forwards signals to its child and reaps orphans. */
static void body_init_signals_and_zombies (void)
{
  char orphan_file[PATH_MAX], script[PATH_MAX * 4];
  pathf (orphan_file, "%s/orphan", E.dir);
  /* The orphan's parent subshell exits at once: it is reparented to
   * berth-init (a subreaper off pid 1) and must be reaped when it ends. */
  snprintf (script, sizeof script,
            "trap 'echo got-USR1' USR1; trap 'echo got-TERM; exit 42' TERM;"
            "(sleep 1 & echo $! > %s.tmp; mv %s.tmp %s); echo ready;"
            "while :; do sleep 0.05; done",
            orphan_file, orphan_file, orphan_file);
  int p[2];
  CHECK (pipe (p) == 0);
  pid_t init = fork ();
  if (init == 0)
    {
      int null = open ("/dev/null", O_RDONLY);
      dup2 (null, 0);
      dup2 (p[1], 1);
      close (p[0]);
      close (p[1]);
      execl (E.init, E.init, "--", "sh", "-c", script, (char *) NULL);
      _exit (127);
    }
  close (p[1]);
  FILE *out = fdopen (p[0], "r");
  char line[256];
  CHECK (fgets (line, sizeof line, out) != NULL);
  CHECK_STR (line, "ready\n");
  cleanup_free char *text = NULL;
  berth_err err = NULL;
  CHECK (berth_read_file (orphan_file, 64, &text, NULL, &err) == 0);
  pid_t orphan = atoi (text);
  CHECK (orphan > 0);
  char path[PATH_MAX];
  pathf (path, "/proc/%d/stat", (int) orphan);
  cleanup_free char *stat = NULL;
  CHECK (berth_read_file (path, 4096, &stat, NULL, &err) == 0);
  int ppid = 0;
  CHECK (sscanf (strrchr (stat, ')') + 2, "%*c %d", &ppid) == 1);
  CHECK_INT (ppid, init);
  /* reaped once it exits: /proc/PID goes away, no zombie stays */
  for (int i = 0; i < 300 && access (path, F_OK) == 0; i++)
    usleep (10000);
  CHECK (access (path, F_OK) < 0);

  CHECK (kill (init, SIGUSR1) == 0);
  CHECK (fgets (line, sizeof line, out) != NULL);
  CHECK_STR (line, "got-USR1\n");
  CHECK (kill (init, SIGTERM) == 0);
  CHECK (fgets (line, sizeof line, out) != NULL);
  CHECK_STR (line, "got-TERM\n");
  fclose (out);
  int st;
  CHECK (waitpid (init, &st, 0) == init);
  CHECK (WIFEXITED (st));
  CHECK_INT (WEXITSTATUS (st), 42);

  /* a child killed by a forwarded signal: 128+N */
  init = fork ();
  if (init == 0)
    {
      int null = open ("/dev/null", O_RDWR);
      dup2 (null, 0);
      dup2 (null, 1);
      execl (E.init, E.init, "sleep", "10", (char *) NULL);
      _exit (127);
    }
  usleep (100000);
  CHECK (kill (init, SIGINT) == 0);
  CHECK (waitpid (init, &st, 0) == init);
  CHECK (WIFEXITED (st));
  CHECK_INT (WEXITSTATUS (st), 128 + SIGINT);
}
TEST (init_signals_and_zombies) { sandbox (body_init_signals_and_zombies); }
