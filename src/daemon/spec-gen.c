/* Docker's Config + HostConfig -> the OCI runtime spec (see spec-gen.h).
 * Host configuration checks live in hostconfig.c, users in spec-user.c,
 * mounts in spec-mounts.c, capabilities and security options in
 * spec-security.c and the seccomp profiles in seccomp-default.c. */
#include "daemon/spec-internal.h"

#include "common/cleanup.h"
#include "runtime/rootfs.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OCI_VERSION "1.0.2-dev"
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CFS_PERIOD 100000
#define NANO_CPUS_PER_CPU 1000000000LL

/* ------------------------------------------------------------------ */
/* Signals                                                             */
/* ------------------------------------------------------------------ */

struct signal_name
{
  const char *name;
  int number;
};

static const struct signal_name signal_names[] = {
  { "ABRT", SIGABRT }, { "ALRM", SIGALRM },   { "BUS", SIGBUS },     { "CHLD", SIGCHLD }, { "CLD", SIGCHLD },
  { "CONT", SIGCONT }, { "FPE", SIGFPE },     { "HUP", SIGHUP },     { "ILL", SIGILL },   { "INT", SIGINT },
  { "IO", SIGIO },     { "IOT", SIGIOT },     { "KILL", SIGKILL },   { "PIPE", SIGPIPE }, { "POLL", SIGPOLL },
  { "PROF", SIGPROF }, { "PWR", SIGPWR },     { "QUIT", SIGQUIT },   { "SEGV", SIGSEGV }, { "STKFLT", SIGSTKFLT },
  { "STOP", SIGSTOP }, { "SYS", SIGSYS },     { "TERM", SIGTERM },   { "TRAP", SIGTRAP }, { "TSTP", SIGTSTP },
  { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },   { "URG", SIGURG },     { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },
  { "VTALRM", SIGVTALRM }, { "WINCH", SIGWINCH }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
};

int signal_from_name (const char *name)
{
  if (name == NULL || name[0] == '\0')
    return -1;
  if (isdigit ((unsigned char) name[0]))
    {
      char *end;
      long n = strtol (name, &end, 10);
      return *end == '\0' && n > 0 && n <= SIGRTMAX ? (int) n : -1;
    }
  char upper[32];
  size_t len = strlen (name);
  if (len >= sizeof upper)
    return -1;
  for (size_t i = 0; i <= len; i++)
    upper[i] = (char) toupper ((unsigned char) name[i]);
  const char *s = strncmp (upper, "SIG", 3) == 0 ? upper + 3 : upper;
  for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
    if (strcmp (signal_names[i].name, s) == 0)
      return signal_names[i].number;
  /* RTMIN, RTMIN+n, RTMAX, RTMAX-n */
  int base = strncmp (s, "RTMIN", 5) == 0 ? SIGRTMIN : strncmp (s, "RTMAX", 5) == 0 ? SIGRTMAX : -1;
  if (base < 0)
    return -1;
  if (s[5] == '\0')
    return base;
  char *end;
  long off = strtol (s + 6, &end, 10);
  if (*end || off < 1 || !isdigit ((unsigned char) s[6]) || (base == SIGRTMIN ? s[5] != '+' : s[5] != '-'))
    return -1;
  long n = base == SIGRTMIN ? base + off : base - off;
  return n >= SIGRTMIN && n <= SIGRTMAX ? (int) n : -1;
}

/* ------------------------------------------------------------------ */
/* Config merge                                                        */
/* ------------------------------------------------------------------ */

/* The key of "KEY=value" (or of a bare "KEY") has length *n. */
static size_t env_key_len (const char *e)
{
  return strcspn (e, "=");
}

static bool env_same_key (const char *a, const char *b)
{
  size_t n = env_key_len (a);
  return n == env_key_len (b) && strncmp (a, b, n) == 0;
}

/* Docker's ReplaceOrAppendEnvValues: each "K=V" of OVERRIDES replaces K in
 * ENV or is appended; a bare "K" removes K. */
static void env_replace_or_append (json_t *env, json_t *overrides)
{
  size_t i;
  json_t *o;
  json_array_foreach (overrides, i, o)
    {
      const char *s = json_string_value (o);
      bool set = strchr (s, '=') != NULL;
      bool done = false;
      for (size_t k = json_array_size (env); k-- > 0;)
        if (env_same_key (json_string_value (json_array_get (env, k)), s))
          {
            if (set && !done)
              json_array_set (env, k, o);
            else
              json_array_remove (env, k);
            done = true;
          }
      if (set && !done)
        json_array_append (env, o);
    }
}

static bool env_has (json_t *env, const char *key)
{
  size_t i;
  json_t *e;
  json_array_foreach (env, i, e)
    if (env_same_key (json_string_value (e), key))
      return true;
  return false;
}

static int check_env (json_t *env, const char *where, berth_err *err)
{
  if (env && !json_is_null (env) && !json_is_array (env))
    return berth_fail (err, 0, "%s.Env: expected an array of strings", where);
  size_t i;
  json_t *e;
  json_array_foreach (env, i, e)
    {
      if (!json_is_string (e))
        return berth_fail (err, 0, "%s.Env[%zu]: expected a string", where, i);
      if (env_key_len (json_string_value (e)) == 0)
        return berth_fail (err, 0, "invalid environment variable: %s", json_string_value (e));
    }
  return 0;
}

/* Cmd/Entrypoint: an array of strings, a string (one word), or null ->
 * a new array, or NULL for "not set". */
static int command_field (json_t *obj, const char *key, const char *where, json_t **out, berth_err *err)
{
  *out = NULL;
  json_t *v = json_object_get (obj, key);
  if (v == NULL || json_is_null (v))
    return 0;
  if (json_is_string (v))
    {
      *out = json_pack ("[O]", v);
      return 0;
    }
  if (!json_is_array (v))
    return berth_fail (err, 0, "%s.%s: expected an array of strings", where, key);
  size_t i;
  json_t *s;
  json_array_foreach (v, i, s)
    if (!json_is_string (s))
      return berth_fail (err, 0, "%s.%s[%zu]: expected a string", where, key, i);
  *out = json_deep_copy (v);
  return 0;
}

static bool is_cleared_entrypoint (json_t *ep)
{
  return json_array_size (ep) == 1 && json_string_length (json_array_get (ep, 0)) == 0;
}

/* Entrypoint and Cmd, with Docker's rules (see spec-gen.h). */
static int merge_command (json_t *m, json_t *config, json_t *image, berth_err *err)
{
  cleanup_json json_t *ep = NULL;
  cleanup_json json_t *cmd = NULL;
  cleanup_json json_t *image_ep = NULL;
  cleanup_json json_t *image_cmd = NULL;
  int ret;
  if ((ret = command_field (config, "Entrypoint", "Config", &ep, err)) < 0
      || (ret = command_field (config, "Cmd", "Config", &cmd, err)) < 0
      || (ret = command_field (image, "Entrypoint", "image config", &image_ep, err)) < 0
      || (ret = command_field (image, "Cmd", "image config", &image_cmd, err)) < 0)
    return ret;
  if (is_cleared_entrypoint (ep))
    json_array_clear (ep);
  else if (ep == NULL)
    {
      ep = take_ptr (image_ep);
      if (json_array_size (cmd) == 0)
        {
          json_decref (cmd);
          cmd = take_ptr (image_cmd);
        }
    }
  else if (json_array_size (ep) == 0 && json_array_size (cmd) == 0)
    {
      /* An explicitly empty Entrypoint still lets the image's Cmd run. */
      json_decref (cmd);
      cmd = take_ptr (image_cmd);
    }
  if (json_array_size (ep) == 0 && json_array_size (cmd) == 0)
    return berth_fail (err, 0, "no command specified");
  json_object_set_new (m, "Entrypoint", json_array_size (ep) ? take_ptr (ep) : json_null ());
  json_object_set_new (m, "Cmd", json_array_size (cmd) ? take_ptr (cmd) : json_null ());
  return 0;
}

static int merge_env (json_t *m, json_t *config, json_t *image, berth_err *err)
{
  json_t *user = json_object_get (config, "Env");
  json_t *image_env = json_object_get (image, "Env");
  int ret;
  if ((ret = check_env (user, "Config", err)) < 0 || (ret = check_env (image_env, "image config", err)) < 0)
    return ret;
  json_t *env = json_is_array (user) ? json_deep_copy (user) : json_array ();
  size_t i;
  json_t *e;
  json_array_foreach (image_env, i, e)
    if (!env_has (env, json_string_value (e)))
      json_array_append (env, e);
  json_object_set_new (m, "Env", env);
  return 0;
}

/* String fields: the request's when non-empty, else the image's. */
static int merge_string (json_t *m, json_t *config, json_t *image, const char *key, berth_err *err)
{
  int ret = berth_json_check_type (config, key, JSON_STRING, "Config", err);
  if (ret < 0)
    return ret;
  const char *mine = berth_json_str (config, key);
  const char *theirs = berth_json_str (image, key);
  json_object_set_new (m, key, json_string (mine && mine[0] ? mine : theirs ? theirs : ""));
  return 0;
}

/* Object fields: the image's keys overlaid with the request's. */
static int merge_object (json_t *m, json_t *config, json_t *image, const char *key, bool null_when_empty,
                         berth_err *err)
{
  int ret = berth_json_check_type (config, key, JSON_OBJECT, "Config", err);
  if (ret < 0)
    return ret;
  json_t *out = json_object ();
  json_t *theirs = berth_json_obj (image, key);
  if (theirs)
    json_object_update (out, theirs);
  json_t *mine = berth_json_obj (config, key);
  if (mine)
    json_object_update (out, mine);
  json_object_set_new (m, key, null_when_empty && json_object_size (out) == 0 ? (json_decref (out), json_null ()) : out);
  return 0;
}

static int check_labels (json_t *m, berth_err *err)
{
  const char *key;
  json_t *v;
  json_object_foreach (json_object_get (m, "Labels"), key, v)
    if (!json_is_string (v))
      return berth_fail (err, 0, "Config.Labels.%s: expected a string", key);
  return 0;
}

static const char *const bool_fields[] = { "AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin",
                                           "StdinOnce", "NetworkDisabled", NULL };

int container_config_merge (json_t *config, json_t *image_config, const char *image_name, const char *hostname_default,
                            json_t **merged, berth_err *err)
{
  *merged = NULL;
  if (config && !json_is_null (config) && !json_is_object (config))
    return berth_fail (err, 0, "Config: expected an object");
  json_t *image = json_is_object (image_config) ? image_config : NULL;
  cleanup_json json_t *m = json_is_object (config) ? json_deep_copy (config) : json_object ();
  if (m == NULL)
    return berth_fail (err, ENOMEM, "Config");
  int ret;
  for (const char *const *b = bool_fields; *b; b++)
    {
      if ((ret = berth_json_check_type (m, *b, JSON_TRUE, "Config", err)) < 0)
        return ret;
      json_object_set_new (m, *b, json_boolean (berth_json_bool (m, *b, false)));
    }
  if ((ret = berth_json_check_type (m, "Hostname", JSON_STRING, "Config", err)) < 0
      || (ret = berth_json_check_type (m, "Domainname", JSON_STRING, "Config", err)) < 0
      || (ret = merge_env (m, config, image, err)) < 0 || (ret = merge_command (m, config, image, err)) < 0
      || (ret = merge_string (m, config, image, "WorkingDir", err)) < 0
      || (ret = merge_string (m, config, image, "User", err)) < 0
      || (ret = merge_string (m, config, image, "StopSignal", err)) < 0
      || (ret = merge_object (m, config, image, "ExposedPorts", true, err)) < 0
      || (ret = merge_object (m, config, image, "Volumes", true, err)) < 0
      || (ret = merge_object (m, config, image, "Labels", false, err)) < 0 || (ret = check_labels (m, err)) < 0)
    return ret;

  const char *wd = berth_json_str (m, "WorkingDir");
  if (wd[0] && wd[0] != '/')
    return berth_fail (err, 0, "the working directory '%s' is invalid, it needs to be an absolute path", wd);
  const char *stop = berth_json_str (m, "StopSignal");
  if (stop[0] == '\0')
    json_object_del (m, "StopSignal");
  else if (signal_from_name (stop) < 0)
    return berth_fail (err, 0, "invalid signal: %s", stop);
  if (!json_is_object (json_object_get (m, "Healthcheck")) && berth_json_obj (image, "Healthcheck"))
    json_object_set (m, "Healthcheck", berth_json_obj (image, "Healthcheck"));
  if (json_object_get (m, "OnBuild") == NULL)
    json_object_set_new (m, "OnBuild", json_null ());

  const char *hostname = berth_json_str (m, "Hostname");
  json_object_set_new (m, "Hostname", json_string (hostname && hostname[0] ? hostname : hostname_default));
  if (berth_json_str (m, "Domainname") == NULL)
    json_object_set_new (m, "Domainname", json_string (""));
  json_object_set_new (m, "Image", json_string (image_name ? image_name : ""));
  *merged = take_ptr (m);
  return 0;
}

/* ------------------------------------------------------------------ */
/* Process                                                             */
/* ------------------------------------------------------------------ */

static bool mode_is (json_t *hc, const char *key, const char *value)
{
  const char *v = berth_json_str (hc, key);
  return v && strcmp (v, value) == 0;
}

/* The hostname the container sees (NULL: the host's UTS namespace). */
static const char *container_hostname (json_t *config, json_t *hc, char *buf, size_t size)
{
  if (mode_is (hc, "UTSMode", "host"))
    return NULL;
  if (mode_is (hc, "NetworkMode", "host"))
    {
      if (gethostname (buf, size - 1) < 0)
        buf[0] = '\0';
      buf[size - 1] = '\0';
      return buf;
    }
  const char *name = berth_json_str (config, "Hostname");
  return name ? name : "";
}

static json_t *process_args (json_t *config, json_t *hc)
{
  json_t *args = json_array ();
  if (berth_json_bool (hc, "Init", false))
    {
      json_array_append_new (args, json_string ("/dev/init"));
      json_array_append_new (args, json_string ("--"));
    }
  json_t *ep = json_object_get (config, "Entrypoint");
  if (json_is_array (ep))
    json_array_extend (args, ep);
  json_t *cmd = json_object_get (config, "Cmd");
  if (json_is_array (cmd))
    json_array_extend (args, cmd);
  return args;
}

static json_t *process_env (json_t *config, const char *hostname, bool tty, const char *home)
{
  json_t *env = json_pack ("[s]", DEFAULT_PATH);
  if (hostname)
    {
      char *h = NULL;
      if (asprintf (&h, "HOSTNAME=%s", hostname) >= 0)
        json_array_append_new (env, json_string (h));
      free (h);
    }
  if (tty)
    json_array_append_new (env, json_string ("TERM=xterm"));
  env_replace_or_append (env, json_object_get (config, "Env"));
  /* runc adds HOME when it is missing, berth-runtime does not: say it
   * here so both run the same process. */
  if (!env_has (env, "HOME"))
    {
      char *h = NULL;
      if (asprintf (&h, "HOME=%s", home) >= 0)
        json_array_append_new (env, json_string (h));
      free (h);
    }
  return env;
}

/* WorkingDir exists in the root (created, resolved inside it, as
 * Docker does). */
static int ensure_cwd (const char *rootfs, const char *cwd, berth_err *err)
{
  cleanup_close int rootfd = open (rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return berth_fail_errno (err, "open the container root %s", rootfs);
  cleanup_close int fd = rootfs_open_in_root (rootfd, cwd, ROOTFS_CREATE_DIR, err);
  return fd < 0 ? berth_error_prefix (err, "working directory") : 0;
}

static json_t *capabilities_object (json_t *caps)
{
  return json_pack ("{s:O, s:O, s:O}", "bounding", caps, "effective", caps, "permitted", caps);
}

static json_t *user_object (const struct spec_user *u)
{
  json_t *user = json_pack ("{s:I, s:I}", "uid", (json_int_t) u->uid, "gid", (json_int_t) u->gid);
  if (json_array_size (u->additional_gids) > 0)
    json_object_set (user, "additionalGids", u->additional_gids);
  return user;
}

static void set_console_size (json_t *process, json_t *size)
{
  if (json_array_size (size) != 2)
    return;
  json_int_t h = json_integer_value (json_array_get (size, 0)), w = json_integer_value (json_array_get (size, 1));
  if (h > 0 && w > 0)
    json_object_set_new (process, "consoleSize", json_pack ("{s:I, s:I}", "height", h, "width", w));
}

static int build_process (const struct spec_input *in, json_t *caps, const struct spec_security *sec,
                          const char *hostname, json_t **out, berth_err *err)
{
  json_t *config = in->config, *hc = in->host_config;
  struct spec_user user;
  int ret = spec_resolve_user (in->rootfs, berth_json_str (config, "User"), json_object_get (hc, "GroupAdd"), &user, err);
  if (ret < 0)
    return ret;
  cleanup_json json_t *rlimits = NULL;
  if ((ret = spec_rlimits (json_object_get (hc, "Ulimits"), &rlimits, err)) < 0)
    {
      spec_user_clear (&user);
      return ret;
    }
  bool tty = berth_json_bool (config, "Tty", false);
  const char *cwd = berth_json_str (config, "WorkingDir");
  if (cwd == NULL || cwd[0] == '\0')
    cwd = "/";
  json_t *process = json_pack ("{s:b, s:o, s:o, s:o, s:s, s:o, s:b, s:I}", "terminal", tty, "user", user_object (&user),
                               "args", process_args (config, hc), "env", process_env (config, hostname, tty, user.home),
                               "cwd", cwd, "capabilities", capabilities_object (caps), "noNewPrivileges",
                               sec->no_new_privileges, "oomScoreAdj", berth_json_int (hc, "OomScoreAdj", 0));
  spec_user_clear (&user);
  if (process == NULL)
    return berth_fail (err, ENOMEM, "process");
  if (json_array_size (rlimits) > 0)
    json_object_set (process, "rlimits", rlimits);
  if (tty)
    set_console_size (process, json_object_get (hc, "ConsoleSize"));
  if (strcmp (cwd, "/") != 0 && (ret = ensure_cwd (in->rootfs, cwd, err)) < 0)
    {
      json_decref (process);
      return ret;
    }
  *out = process;
  return 0;
}

/* ------------------------------------------------------------------ */
/* linux                                                               */
/* ------------------------------------------------------------------ */

static int build_namespaces (const struct spec_input *in, json_t **out, berth_err *err)
{
  json_t *hc = in->host_config;
  json_t *ns = json_array ();
  if (!mode_is (hc, "PidMode", "host"))
    json_array_append_new (ns, json_pack ("{s:s}", "type", "pid"));
  if (!mode_is (hc, "IpcMode", "host"))
    json_array_append_new (ns, json_pack ("{s:s}", "type", "ipc"));
  if (!mode_is (hc, "UTSMode", "host"))
    json_array_append_new (ns, json_pack ("{s:s}", "type", "uts"));
  json_array_append_new (ns, json_pack ("{s:s}", "type", "mount"));
  const char *net = berth_json_str (hc, "NetworkMode");
  if (in->shared_netns)
    json_array_append_new (ns, json_pack ("{s:s, s:s}", "type", "network", "path", in->shared_netns));
  else if (net && strncmp (net, "container:", 10) == 0)
    {
      json_decref (ns);
      return berth_fail (err, 0, "network mode %s: the other container's network namespace is unknown", net);
    }
  else if (!mode_is (hc, "NetworkMode", "host"))
    json_array_append_new (ns, json_pack ("{s:s}", "type", "network"));
  const char *cgroupns = berth_json_str (hc, "CgroupnsMode");
  if (cgroupns == NULL || cgroupns[0] == '\0' ? spec_host_cgroup2 () : strcmp (cgroupns, "private") == 0)
    json_array_append_new (ns, json_pack ("{s:s}", "type", "cgroup"));
  *out = ns;
  return 0;
}

static json_t *device_rule (const char *type, int major, int minor, const char *access)
{
  json_t *r = json_pack ("{s:b, s:s, s:s}", "allow", 1, "type", type, "access", access);
  if (major >= 0)
    json_object_set_new (r, "major", json_integer (major));
  if (minor >= 0)
    json_object_set_new (r, "minor", json_integer (minor));
  return r;
}

/* Docker's default device rules: deny everything, allow mknod of any
 * node, and the usual character devices (null, zero, full, random,
 * urandom, tty, console, ptmx, the pts and tun). */
static json_t *default_device_rules (void)
{
  static const int char_devices[][2] = { { 1, 3 }, { 1, 5 }, { 1, 7 }, { 1, 8 }, { 1, 9 },
                                         { 5, 0 }, { 5, 1 }, { 5, 2 }, { 136, -1 }, { 10, 200 } };
  json_t *rules = json_pack ("[{s:b, s:s}]", "allow", 0, "access", "rwm");
  json_array_append_new (rules, device_rule ("c", -1, -1, "m"));
  json_array_append_new (rules, device_rule ("b", -1, -1, "m"));
  for (size_t i = 0; i < sizeof char_devices / sizeof char_devices[0]; i++)
    json_array_append_new (rules, device_rule ("c", char_devices[i][0], char_devices[i][1], "rwm"));
  return rules;
}

static int build_devices (json_t *hc, json_t *linux_, json_t *resources, berth_err *err)
{
  if (berth_json_bool (hc, "Privileged", false))
    {
      json_object_set_new (resources, "devices", json_pack ("[{s:b, s:s}]", "allow", 1, "access", "rwm"));
      return 0;
    }
  json_t *rules = default_device_rules ();
  json_object_set_new (resources, "devices", rules);
  json_t *devices = json_array ();
  json_object_set_new (linux_, "devices", devices);
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (hc, "Devices"), i, v)
    {
      json_t *device, *rule;
      int ret = spec_device_from_api (v, i, &device, &rule, err);
      if (ret < 0)
        return ret;
      json_array_append_new (devices, device);
      json_array_append_new (rules, rule);
    }
  json_array_foreach (json_object_get (hc, "DeviceCgroupRules"), i, v)
    {
      json_t *rule;
      int ret = spec_device_rule (json_string_value (v), &rule, err);
      if (ret < 0)
        return ret;
      json_array_append_new (rules, rule);
    }
  if (json_array_size (devices) == 0)
    json_object_del (linux_, "devices");
  return 0;
}

static void set_int (json_t *obj, const char *key, json_int_t v)
{
  json_object_set_new (obj, key, json_integer (v));
}

static json_t *build_resources (json_t *hc)
{
  json_t *r = json_object ();
  json_t *memory = json_object (), *cpu = json_object ();
  json_int_t v;
  if ((v = berth_json_int (hc, "Memory", 0)) > 0)
    set_int (memory, "limit", v);
  if ((v = berth_json_int (hc, "MemoryReservation", 0)) > 0)
    set_int (memory, "reservation", v);
  v = berth_json_int (hc, "MemorySwap", 0);
  if ((v > 0 || v == -1) && spec_host_swap_limit ())
    set_int (memory, "swap", v);
  if ((v = berth_json_int (hc, "MemorySwappiness", -1)) >= 0 && !spec_host_cgroup2 ())
    set_int (memory, "swappiness", v);
  if (berth_json_bool (hc, "OomKillDisable", false))
    json_object_set_new (memory, "disableOOMKiller", json_true ());

  if ((v = berth_json_int (hc, "CpuShares", 0)) > 0)
    set_int (cpu, "shares", v);
  if ((v = berth_json_int (hc, "NanoCpus", 0)) > 0)
    {
      set_int (cpu, "period", CFS_PERIOD);
      set_int (cpu, "quota", v * CFS_PERIOD / NANO_CPUS_PER_CPU);
    }
  else
    {
      if ((v = berth_json_int (hc, "CpuPeriod", 0)) > 0)
        set_int (cpu, "period", v);
      if ((v = berth_json_int (hc, "CpuQuota", 0)) != 0)
        set_int (cpu, "quota", v);
    }
  const char *s;
  if ((s = berth_json_str (hc, "CpusetCpus")) && s[0])
    json_object_set_new (cpu, "cpus", json_string (s));
  if ((s = berth_json_str (hc, "CpusetMems")) && s[0])
    json_object_set_new (cpu, "mems", json_string (s));

  if (json_object_size (memory))
    json_object_set (r, "memory", memory);
  if (json_object_size (cpu))
    json_object_set (r, "cpu", cpu);
  json_decref (memory);
  json_decref (cpu);
  if ((v = berth_json_int (hc, "PidsLimit", 0)) > 0)
    json_object_set_new (r, "pids", json_pack ("{s:I}", "limit", v));
  if ((v = berth_json_int (hc, "BlkioWeight", 0)) > 0)
    json_object_set_new (r, "blockIO", json_pack ("{s:I}", "weight", v));
  return r;
}

static json_t *paths_or_default (json_t *hc, const char *key, const char *const *defaults)
{
  json_t *v = json_object_get (hc, key);
  if (json_is_array (v))
    return json_deep_copy (v);
  json_t *arr = json_array ();
  if (!berth_json_bool (hc, "Privileged", false))
    for (; *defaults; defaults++)
      json_array_append_new (arr, json_string (*defaults));
  return arr;
}

static int build_seccomp (json_t *hc, json_t *caps, const struct spec_security *sec, json_t *linux_, berth_err *err)
{
  /* Docker runs privileged containers without a filter. */
  if (sec->seccomp_unconfined || berth_json_bool (hc, "Privileged", false))
    return 0;
  json_t *profile = NULL;
  if (sec->seccomp_profile)
    {
      int ret = seccomp_profile_from_docker (sec->seccomp_profile, caps, &profile, err);
      if (ret < 0)
        return ret;
    }
  else if ((profile = seccomp_default_profile (caps)) == NULL)
    return berth_fail (err, ENOMEM, "seccomp profile");
  json_object_set_new (linux_, "seccomp", profile);
  return 0;
}

static int build_linux (const struct spec_input *in, json_t *caps, const struct spec_security *sec, json_t **out,
                        berth_err *err)
{
  json_t *hc = in->host_config;
  cleanup_json json_t *linux_ = json_object ();
  json_t *ns = NULL;
  int ret = build_namespaces (in, &ns, err);
  if (ret < 0)
    return ret;
  json_object_set_new (linux_, "namespaces", ns);
  json_t *resources = build_resources (hc);
  json_object_set_new (linux_, "resources", resources);
  if ((ret = build_devices (hc, linux_, resources, err)) < 0)
    return ret;
  if (in->cgroups_path)
    json_object_set_new (linux_, "cgroupsPath", json_string (in->cgroups_path));
  json_object_set_new (linux_, "maskedPaths", paths_or_default (hc, "MaskedPaths", spec_default_masked_paths));
  json_object_set_new (linux_, "readonlyPaths", paths_or_default (hc, "ReadonlyPaths", spec_default_readonly_paths));
  json_t *sysctls = berth_json_obj (hc, "Sysctls");
  if (json_object_size (sysctls) > 0)
    json_object_set_new (linux_, "sysctl", json_deep_copy (sysctls));
  if ((ret = build_seccomp (hc, caps, sec, linux_, err)) < 0)
    return ret;
  *out = take_ptr (linux_);
  return 0;
}

/* ------------------------------------------------------------------ */
/* spec_generate, exec_process_generate                                */
/* ------------------------------------------------------------------ */

int spec_generate (const struct spec_input *in, json_t **spec, berth_err *err)
{
  *spec = NULL;
  if (!json_is_object (in->config) || !json_is_object (in->host_config) || in->rootfs == NULL
      || in->container_dir == NULL)
    return berth_fail (err, EINVAL, "spec_generate: missing config, host config, rootfs or container folder");
  json_t *hc = in->host_config;
  struct spec_security sec;
  cleanup_json json_t *caps = NULL;
  int ret;
  if ((ret = spec_parse_security_opts (json_object_get (hc, "SecurityOpt"), &sec, err)) < 0
      || (ret = spec_capabilities (hc, &caps, err)) < 0)
    return ret;
  if (berth_json_bool (hc, "Init", false) && in->init_path == NULL)
    return berth_fail (err, 0, "Init: no init binary is configured");

  char host_name[256];
  const char *hostname = container_hostname (in->config, hc, host_name, sizeof host_name);
  cleanup_json json_t *s = json_pack ("{s:s, s:{s:s, s:b}}", "ociVersion", OCI_VERSION, "root", "path", in->rootfs,
                                      "readonly", berth_json_bool (hc, "ReadonlyRootfs", false));
  if (s == NULL)
    return berth_fail (err, ENOMEM, "spec");
  if (hostname)
    json_object_set_new (s, "hostname", json_string (hostname));
  const char *domain = berth_json_str (in->config, "Domainname");
  if (hostname && domain && domain[0])
    json_object_set_new (s, "domainname", json_string (domain));

  json_t *process = NULL, *linux_ = NULL;
  if ((ret = build_process (in, caps, &sec, hostname, &process, err)) < 0)
    return ret;
  json_object_set_new (s, "process", process);
  if ((ret = spec_add_mounts (in, s, err)) < 0 || (ret = build_linux (in, caps, &sec, &linux_, err)) < 0)
    return ret;
  json_object_set_new (s, "linux", linux_);
  *spec = take_ptr (s);
  return 0;
}

int exec_process_generate (json_t *spec, json_t *exec_config, const char *rootfs, json_t **process, berth_err *err)
{
  *process = NULL;
  json_t *base = berth_json_obj (spec, "process");
  if (base == NULL)
    return berth_fail (err, EINVAL, "the container's spec has no process");
  if (!json_is_object (exec_config))
    return berth_fail (err, 0, "exec config: expected an object");
  cleanup_json json_t *cmd = NULL;
  int ret = command_field (exec_config, "Cmd", "exec config", &cmd, err);
  if (ret < 0)
    return ret;
  if (json_array_size (cmd) == 0)
    return berth_fail (err, 0, "No exec command specified");
  json_t *exec_env = json_object_get (exec_config, "Env");
  if ((ret = check_env (exec_env, "exec config", err)) < 0)
    return ret;
  const char *user_spec = berth_json_str (exec_config, "User");
  const char *cwd = berth_json_str (exec_config, "WorkingDir");
  if (cwd && cwd[0] && cwd[0] != '/')
    return berth_fail (err, 0, "the working directory '%s' is invalid, it needs to be an absolute path", cwd);
  bool tty = berth_json_bool (exec_config, "Tty", false);

  cleanup_json json_t *p = json_deep_copy (base);
  json_t *env = json_is_array (json_object_get (p, "env")) ? json_object_get (p, "env") : NULL;
  if (env == NULL)
    json_object_set_new (p, "env", env = json_array ());
  json_object_set (p, "args", cmd);
  json_object_set_new (p, "terminal", json_boolean (tty));
  json_object_del (p, "consoleSize");
  if (tty)
    {
      if (!env_has (env, "TERM"))
        json_array_append_new (env, json_string ("TERM=xterm"));
      set_console_size (p, json_object_get (exec_config, "ConsoleSize"));
    }
  if (user_spec && user_spec[0])
    {
      struct spec_user u;
      if ((ret = spec_resolve_user (rootfs, user_spec, NULL, &u, err)) < 0)
        return ret;
      json_object_set_new (p, "user", user_object (&u));
      /* HOME follows the user, as runc sets it for the exec'd process. */
      char *home = NULL;
      if (asprintf (&home, "HOME=%s", u.home) >= 0)
        {
          json_t *h = json_pack ("[s]", home);
          env_replace_or_append (env, h);
          json_decref (h);
        }
      free (home);
      spec_user_clear (&u);
    }
  env_replace_or_append (env, exec_env);
  if (cwd && cwd[0])
    json_object_set_new (p, "cwd", json_string (cwd));
  if (berth_json_bool (exec_config, "Privileged", false))
    {
      cleanup_json json_t *all = spec_all_capabilities ();
      json_object_set_new (p, "capabilities", capabilities_object (all));
    }
  *process = take_ptr (p);
  return 0;
}
