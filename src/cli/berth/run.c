/* berth create, run and start: the create body the docker CLI sends
 * ({...Config..., "HostConfig": {...}, "NetworkingConfig": {...}}), and
 * docker's run flow: create, attach (unless -d), wait for the exit (asked
 * before the start, so it cannot be missed), start, relay the streams,
 * exit with the container's status. */
#include "containers.h"
#include "common/cleanup.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const char run_usage[] =
    "usage: berth run|create [OPTIONS] IMAGE [COMMAND [ARG...]]\n"
    "  -d, --detach            run in the background, print the container id (run only)\n"
    "  -i, --interactive       keep stdin open and send ours\n"
    "  -t, --tty               allocate a pseudo-TTY\n"
    "      --rm                remove the container when it exits\n"
    "  -e, --env KEY[=VALUE]   set an environment variable\n"
    "  -w, --workdir DIR       working directory inside the container\n"
    "  -u, --user USER[:GROUP] user to run as\n"
    "      --name NAME         container name\n"
    "      --entrypoint CMD    override the image's entrypoint\n"
    "  -v, --volume SRC:DST[:OPTS] | DST   bind mount, or anonymous volume\n"
    "      --tmpfs DST[:OPTS]  mount a tmpfs\n"
    "      --read-only         read-only root file system\n"
    "  -m, --memory SIZE       memory limit (b, k, m, g)\n"
    "      --cpus N            CPU quota (1.5 = one and a half CPUs)\n"
    "      --pids-limit N      process limit (-1: unlimited)\n"
    "      --cap-add CAP, --cap-drop CAP, --security-opt OPT\n"
    "      --restart POLICY    no, always, unless-stopped, on-failure[:N]\n"
    "      --init              run an init inside the container\n"
    "  -l, --label KEY[=VALUE] set a label\n"
    "      --stop-signal SIG, --stop-timeout SECONDS\n"
    "      --runtime NAME, --network MODE, -h/--hostname NAME";

enum
{
  OPT_RM = 256,
  OPT_NAME,
  OPT_ENTRYPOINT,
  OPT_TMPFS,
  OPT_READ_ONLY,
  OPT_CPUS,
  OPT_PIDS_LIMIT,
  OPT_CAP_ADD,
  OPT_CAP_DROP,
  OPT_SECURITY_OPT,
  OPT_RESTART,
  OPT_INIT,
  OPT_STOP_SIGNAL,
  OPT_STOP_TIMEOUT,
  OPT_RUNTIME,
  OPT_NETWORK,
  OPT_HELP,
};

static const struct option run_options[] = {
  { "detach", no_argument, NULL, 'd' },
  { "interactive", no_argument, NULL, 'i' },
  { "tty", no_argument, NULL, 't' },
  { "rm", no_argument, NULL, OPT_RM },
  { "env", required_argument, NULL, 'e' },
  { "workdir", required_argument, NULL, 'w' },
  { "user", required_argument, NULL, 'u' },
  { "name", required_argument, NULL, OPT_NAME },
  { "entrypoint", required_argument, NULL, OPT_ENTRYPOINT },
  { "volume", required_argument, NULL, 'v' },
  { "tmpfs", required_argument, NULL, OPT_TMPFS },
  { "read-only", no_argument, NULL, OPT_READ_ONLY },
  { "memory", required_argument, NULL, 'm' },
  { "cpus", required_argument, NULL, OPT_CPUS },
  { "pids-limit", required_argument, NULL, OPT_PIDS_LIMIT },
  { "cap-add", required_argument, NULL, OPT_CAP_ADD },
  { "cap-drop", required_argument, NULL, OPT_CAP_DROP },
  { "security-opt", required_argument, NULL, OPT_SECURITY_OPT },
  { "restart", required_argument, NULL, OPT_RESTART },
  { "init", no_argument, NULL, OPT_INIT },
  { "label", required_argument, NULL, 'l' },
  { "stop-signal", required_argument, NULL, OPT_STOP_SIGNAL },
  { "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
  { "runtime", required_argument, NULL, OPT_RUNTIME },
  { "network", required_argument, NULL, OPT_NETWORK },
  { "net", required_argument, NULL, OPT_NETWORK },
  { "hostname", required_argument, NULL, 'h' },
  { "help", no_argument, NULL, OPT_HELP },
  { NULL, 0, NULL, 0 },
};

struct run_opts
{
  bool detach;
  bool interactive;
  bool tty;
  bool rm;
  const char *name;
  json_t *config;     /* the create body; "HostConfig" inside */
  json_t *host;       /* borrowed: config.HostConfig */
};

/* ---- values ---- */

/* docker's RAMInBytes: "64m", "1.5g", "512kb", "100" (binary units). */
static bool parse_bytes (const char *s, json_int_t *out)
{
  char *end;
  errno = 0;
  double v = strtod (s, &end);
  if (end == s || errno || v < 0 || !isdigit ((unsigned char) *s))
    return false;
  const char *units = "bkmgtp";
  double mult = 1;
  if (*end)
    {
      const char *u = strchr (units, tolower ((unsigned char) *end));
      if (u == NULL)
        return false;
      for (const char *k = units; k < u; k++)
        mult *= 1024;
      end++;
      if (*end == 'i' || *end == 'I')
        end++;
      if ((*end == 'b' || *end == 'B') && u != units)
        end++;
    }
  if (*end || v * mult > 9.2e18)
    return false;
  *out = (json_int_t) (v * mult);
  return true;
}

static bool parse_int (const char *s, json_int_t *out)
{
  char *end;
  errno = 0;
  long long v = strtoll (s, &end, 10);
  if (end == s || *end || errno)
    return false;
  *out = v;
  return true;
}

static json_t *array_of (json_t *obj, const char *key)
{
  json_t *a = json_object_get (obj, key);
  if (!json_is_array (a))
    json_object_set_new (obj, key, a = json_array ());
  return a;
}

static json_t *object_of (json_t *obj, const char *key)
{
  json_t *o = json_object_get (obj, key);
  if (!json_is_object (o))
    json_object_set_new (obj, key, o = json_object ());
  return o;
}

/* "KEY=VALUE" as is; "KEY" takes our value, or is left out, as docker. */
static void add_env (json_t *config, const char *kv)
{
  if (strchr (kv, '='))
    {
      json_array_append_new (array_of (config, "Env"), json_string (kv));
      return;
    }
  const char *v = getenv (kv);
  cleanup_free char *s = NULL;
  if (v && asprintf (&s, "%s=%s", kv, v) >= 0)
    json_array_append_new (array_of (config, "Env"), json_string (s));
}

/* "KEY=VALUE" (or "KEY") into OBJ[KEY]. */
static void add_pair (json_t *obj, const char *kv, char sep)
{
  const char *eq = strchr (kv, sep);
  cleanup_free char *key = eq ? strndup (kv, (size_t) (eq - kv)) : strdup (kv);
  if (key)
    json_object_set_new (obj, key, json_string (eq ? eq + 1 : ""));
}

static bool set_restart (json_t *host, const char *policy)
{
  const char *colon = strchr (policy, ':');
  cleanup_free char *name = colon ? strndup (policy, (size_t) (colon - policy)) : strdup (policy);
  json_int_t retries = 0;
  if (name == NULL || (colon && (strcmp (name, "on-failure") != 0 || !parse_int (colon + 1, &retries) || retries < 0)))
    return false;
  if (strcmp (name, "no") != 0 && strcmp (name, "always") != 0 && strcmp (name, "unless-stopped") != 0
      && strcmp (name, "on-failure") != 0)
    return false;
  json_object_set_new (host, "RestartPolicy", json_pack ("{s:s, s:I}", "Name", name, "MaximumRetryCount", retries));
  return true;
}

/* -v SRC:DST[:OPTS] is a bind; a lone DST an anonymous volume. */
static void add_volume (json_t *config, json_t *host, const char *spec)
{
  if (strchr (spec, ':'))
    json_array_append_new (array_of (host, "Binds"), json_string (spec));
  else
    json_object_set_new (object_of (config, "Volumes"), spec, json_object ());
}

static bool bad_value (const char *opt, const char *value)
{
  fprintf (stderr, "berth: invalid value `%s` for %s\n", value, opt);
  return false;
}

/* One option into the create body; false (with a message) if invalid. */
static bool apply_option (struct run_opts *o, int opt, const char *arg)
{
  json_t *cfg = o->config, *host = o->host;
  json_int_t n;
  switch (opt)
    {
    case 'd': o->detach = true; break;
    case 'i': o->interactive = true; break;
    case 't': o->tty = true; break;
    case OPT_RM: o->rm = true; break;
    case 'e': add_env (cfg, arg); break;
    case 'w': json_object_set_new (cfg, "WorkingDir", json_string (arg)); break;
    case 'u': json_object_set_new (cfg, "User", json_string (arg)); break;
    case 'h': json_object_set_new (cfg, "Hostname", json_string (arg)); break;
    case OPT_NAME: o->name = arg; break;
    case OPT_ENTRYPOINT: json_object_set_new (cfg, "Entrypoint", json_pack ("[s]", arg)); break;
    case 'v': add_volume (cfg, host, arg); break;
    case OPT_TMPFS: add_pair (object_of (host, "Tmpfs"), arg, ':'); break;
    case OPT_READ_ONLY: json_object_set_new (host, "ReadonlyRootfs", json_true ()); break;
    case OPT_INIT: json_object_set_new (host, "Init", json_true ()); break;
    case 'l': add_pair (object_of (cfg, "Labels"), arg, '='); break;
    case OPT_CAP_ADD: json_array_append_new (array_of (host, "CapAdd"), json_string (arg)); break;
    case OPT_CAP_DROP: json_array_append_new (array_of (host, "CapDrop"), json_string (arg)); break;
    case OPT_SECURITY_OPT: json_array_append_new (array_of (host, "SecurityOpt"), json_string (arg)); break;
    case OPT_STOP_SIGNAL: json_object_set_new (cfg, "StopSignal", json_string (arg)); break;
    case OPT_RUNTIME: json_object_set_new (host, "Runtime", json_string (arg)); break;
    case OPT_NETWORK: json_object_set_new (host, "NetworkMode", json_string (arg)); break;
    case OPT_RESTART:
      return set_restart (host, arg) || bad_value ("--restart", arg);
    case 'm':
      if (!parse_bytes (arg, &n))
        return bad_value ("--memory", arg);
      json_object_set_new (host, "Memory", json_integer (n));
      break;
    case OPT_CPUS:
      {
        char *end;
        double v = strtod (arg, &end);
        if (end == arg || *end || !(v >= 0) || v > 1e6)
          return bad_value ("--cpus", arg);
        json_object_set_new (host, "NanoCpus", json_integer ((json_int_t) (v * 1e9 + 0.5)));
        break;
      }
    case OPT_PIDS_LIMIT:
      if (!parse_int (arg, &n))
        return bad_value ("--pids-limit", arg);
      json_object_set_new (host, "PidsLimit", json_integer (n));
      break;
    case OPT_STOP_TIMEOUT:
      if (!parse_int (arg, &n))
        return bad_value ("--stop-timeout", arg);
      json_object_set_new (cfg, "StopTimeout", json_integer (n));
      break;
    default:
      return false;
    }
  return true;
}

/* The local terminal's [height, width] for HostConfig.ConsoleSize. */
static void set_console_size (json_t *host)
{
  struct winsize ws;
  if (ioctl (1, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
    json_object_set_new (host, "ConsoleSize", json_pack ("[ii]", ws.ws_row, ws.ws_col));
}

/* Parse the options of run/create; the create body in o->config.  Returns
 * 0, or an exit status. */
static int parse_run (int argc, char **argv, struct run_opts *o)
{
  o->config = json_pack ("{s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:[], s:n, s:s, s:{}, s:s, s:n, s:{}}",
                         "Hostname", "", "Domainname", "", "User", "", "AttachStdin", 0, "AttachStdout", 0,
                         "AttachStderr", 0, "Tty", 0, "OpenStdin", 0, "StdinOnce", 0, "Env", "Cmd", "Image", "",
                         "Volumes", "WorkingDir", "", "Entrypoint", "Labels");
  o->host = json_pack ("{s:s, s:{s:s, s:i}, s:b}", "NetworkMode", "default", "RestartPolicy", "Name", "no",
                       "MaximumRetryCount", 0, "AutoRemove", 0);
  if (o->config == NULL || o->host == NULL)
    return 1;
  json_object_set (o->config, "HostConfig", o->host);
  json_decref (o->host);
  json_object_set_new (o->config, "NetworkingConfig", json_pack ("{s:{}}", "EndpointsConfig"));
  optind = 1;
  opterr = 1;
  int opt;
  while ((opt = getopt_long (argc, argv, "+dite:w:u:v:m:l:h:", run_options, NULL)) != -1)
    {
      if (opt == OPT_HELP)
        return printf ("%s\n", run_usage), 0;
      if (opt == '?' || !apply_option (o, opt, optarg))
        return cli_usage (run_usage), EXIT_DAEMON_ERROR;
    }
  if (optind >= argc)
    return cli_usage (run_usage), EXIT_DAEMON_ERROR;
  json_t *cfg = o->config;
  json_object_set_new (cfg, "Image", json_string (argv[optind]));
  if (optind + 1 < argc)
    {
      json_t *cmd = json_array ();
      for (int i = optind + 1; i < argc; i++)
        json_array_append_new (cmd, json_string (argv[i]));
      json_object_set_new (cfg, "Cmd", cmd);
    }
  bool attach = !o->detach;
  json_object_set_new (cfg, "AttachStdin", json_boolean (attach && o->interactive));
  json_object_set_new (cfg, "AttachStdout", json_boolean (attach));
  json_object_set_new (cfg, "AttachStderr", json_boolean (attach));
  json_object_set_new (cfg, "Tty", json_boolean (o->tty));
  json_object_set_new (cfg, "OpenStdin", json_boolean (o->interactive));
  json_object_set_new (cfg, "StdinOnce", json_boolean (attach && o->interactive));
  json_object_set_new (o->host, "AutoRemove", json_boolean (o->rm));
  if (o->tty)
    set_console_size (o->host);
  return -1;
}

/* POST /containers/create; *id the new container's id. */
static int create_container (struct client *c, struct run_opts *o, char **id, berth_err *err)
{
  cleanup_free char *body = json_dumps (o->config, JSON_COMPACT), *path = NULL, *name = NULL;
  if (o->name)
    name = client_escape (o->name);
  if (body == NULL || asprintf (&path, "/containers/create%s%s", name ? "?name=" : "", name ? name : "") < 0)
    return berth_fail (err, ENOMEM, "create");
  cleanup_json json_t *r = client_json (c, "POST", path, body, err);
  if (r == NULL)
    return -1;
  json_t *warnings = berth_json_arr (r, "Warnings"), *w;
  size_t i;
  json_array_foreach (warnings, i, w)
    if (json_is_string (w))
      fprintf (stderr, "WARNING: %s\n", json_string_value (w));
  const char *new_id = berth_json_str (r, "Id");
  if (new_id == NULL)
    return berth_fail (err, 0, "the daemon's create reply has no Id");
  *id = strdup (new_id);
  return *id ? 0 : berth_fail (err, ENOMEM, "create");
}

/* POST /containers/ID/start: 0, or docker's status for the failure. */
static int start_container (struct client *c, const char *id)
{
  berth_err err = NULL;
  cleanup_free char *path = container_path (id, "/start");
  cleanup_json json_t *r = client_json (c, "POST", path, NULL, &err);
  if (r != NULL)
    return 0;
  int status = start_failure_status (err->msg);
  fprintf (stderr, "berth: %s\n", err->msg);
  berth_error_free (&err);
  return status;
}

/* An attached session: attach, wait, start, relay, the exit status. */
static int run_attached (struct client *c, const char *id, bool tty, bool send_stdin, bool auto_remove)
{
  berth_err err = NULL;
  cleanup_free char *base = container_path (id, "/attach"), *path = NULL;
  cleanup_free char *resize = container_path (id, "/resize");
  if (asprintf (&path, "%s?stream=1&stdin=%d&stdout=1&stderr=1", base, send_stdin) < 0)
    return 1;
  int fd = -1;
  struct raw_head head = { 0 };
  if (client_hijack (c, path, NULL, &fd, &head, &err) < 0)
    return cli_fail (&err), EXIT_DAEMON_ERROR;
  cleanup_close int sock = fd;
  cleanup_close int wait_fd = wait_begin (c, id, auto_remove ? "removed" : "next-exit", &err);
  if (wait_fd < 0)
    {
      raw_head_free (&head);
      return cli_fail (&err), EXIT_DAEMON_ERROR;
    }
  int status = start_container (c, id);
  if (status != 0)
    {
      raw_head_free (&head);
      return status;
    }
  struct pump_opts po = { .tty = tty, .send_stdin = send_stdin, .resize = resize };
  int broken = pump_streams (c, sock, head.extra, head.extra_len, &po);
  raw_head_free (&head);
  long code = 0;
  if (wait_finish (wait_fd, &code, &err) < 0)
    return cli_fail (&err), EXIT_DAEMON_ERROR;
  if (broken < 0)
    fprintf (stderr, "berth: the container's output stream broke off\n");
  return (int) (code & 0xff);
}

int cmd_create (struct client *c, int argc, char **argv)
{
  struct run_opts o = { 0 };
  berth_err err = NULL;
  int r = parse_run (argc, argv, &o);
  cleanup_json json_t *config = o.config;
  if (r >= 0)
    return r;
  cleanup_free char *id = NULL;
  if (create_container (c, &o, &id, &err) < 0)
    return cli_fail (&err), EXIT_DAEMON_ERROR;
  puts (id);
  return 0;
}

int cmd_run (struct client *c, int argc, char **argv)
{
  struct run_opts o = { 0 };
  berth_err err = NULL;
  int r = parse_run (argc, argv, &o);
  cleanup_json json_t *config = o.config;
  if (r >= 0)
    return r;
  cleanup_free char *id = NULL;
  if (create_container (c, &o, &id, &err) < 0)
    return cli_fail (&err), EXIT_DAEMON_ERROR;
  if (!o.detach)
    return run_attached (c, id, o.tty, o.interactive, o.rm);
  int status = start_container (c, id);
  if (status == 0)
    puts (id);
  return status;
}

static const char start_usage[] = "usage: berth start [-a] [-i] CONTAINER...";

int cmd_start (struct client *c, int argc, char **argv)
{
  bool attach = false, interactive = false;
  static const struct option opts[] = { { "attach", no_argument, NULL, 'a' },
                                        { "interactive", no_argument, NULL, 'i' },
                                        { NULL, 0, NULL, 0 } };
  int opt;
  optind = 1;
  while ((opt = getopt_long (argc, argv, "+ai", opts, NULL)) != -1)
    {
      if (opt == '?')
        return cli_usage (start_usage);
      attach |= opt == 'a';
      interactive |= opt == 'i';
    }
  if (optind >= argc || ((attach || interactive) && argc - optind != 1))
    return cli_usage (start_usage);
  if (attach || interactive)
    {
      berth_err err = NULL;
      cleanup_free char *path = container_path (argv[optind], "/json");
      cleanup_json json_t *info = client_json (c, "GET", path, NULL, &err);
      if (info == NULL)
        return cli_fail (&err);
      json_t *cfg = berth_json_obj (info, "Config");
      bool send_stdin = interactive && berth_json_bool (cfg, "OpenStdin", false);
      return run_attached (c, berth_json_str (info, "Id"), berth_json_bool (cfg, "Tty", false), send_stdin,
                           berth_json_bool (berth_json_obj (info, "HostConfig"), "AutoRemove", false));
    }
  int rc = 0;
  for (int i = optind; i < argc; i++)
    {
      if (start_container (c, argv[i]) != 0)
        rc = 1;
      else
        puts (argv[i]);
    }
  return rc;
}
