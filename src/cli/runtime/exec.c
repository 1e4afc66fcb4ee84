#include "cli.h"

#include <stdlib.h>
#include <string.h>

enum
{
  O_CONSOLE = 1, O_CWD, O_ENV, O_TTY, O_USER, O_GIDS, O_PROCESS, O_DETACH, O_PID_FILE,
  O_LABEL, O_APPARMOR, O_NNP, O_CAP, O_PRESERVE, O_IGNORED,
};

static const struct cli_opt exec_opts[] = {
  { "console-socket", 0, true, O_CONSOLE },
  { "cwd", 0, true, O_CWD },
  { "env", 'e', true, O_ENV },
  { "tty", 't', false, O_TTY },
  { "user", 'u', true, O_USER },
  { "additional-gids", 'g', true, O_GIDS },
  { "process", 'p', true, O_PROCESS },
  { "detach", 'd', false, O_DETACH },
  { "pid-file", 0, true, O_PID_FILE },
  { "process-label", 0, true, O_LABEL },
  { "apparmor", 0, true, O_APPARMOR },
  { "no-new-privs", 0, false, O_NNP },
  { "cap", 'c', true, O_CAP },
  { "preserve-fds", 0, true, O_PRESERVE },
  { "ignore-paused", 0, false, O_IGNORED },
  { "cgroup", 0, true, O_IGNORED },
  { NULL, 0, false, 0 },
};

/* NAME=VALUE replaces an existing NAME in ENV, or is appended. */
static void set_env (json_t *env, const char *entry)
{
  const char *eq = strchr (entry, '=');
  size_t klen = eq ? (size_t) (eq - entry) : strlen (entry);
  size_t i;
  json_t *v;
  json_array_foreach (env, i, v)
    {
      const char *s = json_string_value (v);
      if (s && strncmp (s, entry, klen) == 0 && s[klen] == '=')
        {
          json_array_set_new (env, i, json_string (entry));
          return;
        }
    }
  json_array_append_new (env, json_string (entry));
}

static int set_user (json_t *process, const char *spec)
{
  long long uid, gid = 0;
  char *colon = strchr (spec, ':');
  cleanup_free char *u = strndup (spec, colon ? (size_t) (colon - spec) : strlen (spec));
  if (cli_parse_int (u, &uid) < 0 || uid < 0 || (colon && (cli_parse_int (colon + 1, &gid) < 0 || gid < 0)))
    return cli_usage_error ("--user: expected UID[:GID], got `%s`", spec);
  json_object_set_new (process, "user", json_pack ("{s:I, s:I}", "uid", (json_int_t) uid, "gid", (json_int_t) gid));
  return 0;
}

static int add_gid (json_t *process, const char *s)
{
  long long gid;
  if (cli_parse_int (s, &gid) < 0 || gid < 0)
    return cli_usage_error ("--additional-gids: invalid gid `%s`", s);
  json_t *user = json_object_get (process, "user");
  json_t *gids = json_object_get (user, "additionalGids");
  if (!json_is_array (gids))
    json_object_set_new (user, "additionalGids", gids = json_array ());
  json_array_append_new (gids, json_integer (gid));
  return 0;
}

static void add_cap (json_t *process, const char *cap)
{
  static const char *sets[] = { "bounding", "effective", "permitted", "ambient", "inheritable" };
  json_t *caps = json_object_get (process, "capabilities");
  if (!json_is_object (caps))
    json_object_set_new (process, "capabilities", caps = json_object ());
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
    {
      json_t *arr = json_object_get (caps, sets[i]);
      if (!json_is_array (arr))
        json_object_set_new (caps, sets[i], arr = json_array ());
      json_array_append_new (arr, json_string (cap));
    }
}

static int apply_opt (json_t *process, struct berth_exec_opts *o, int id, const char *arg)
{
  long long n;
  switch (id)
    {
    case O_CONSOLE: o->console_socket = arg; return 0;
    case O_CWD: json_object_set_new (process, "cwd", json_string (arg)); return 0;
    case O_ENV: set_env (json_object_get (process, "env"), arg); return 0;
    case O_TTY: json_object_set_new (process, "terminal", json_true ()); return 0;
    case O_USER: return set_user (process, arg);
    case O_GIDS: return add_gid (process, arg);
    case O_DETACH: o->detach = true; return 0;
    case O_PID_FILE: o->pid_file = arg; return 0;
    case O_LABEL: json_object_set_new (process, "selinuxLabel", json_string (arg)); return 0;
    case O_APPARMOR: json_object_set_new (process, "apparmorProfile", json_string (arg)); return 0;
    case O_NNP: json_object_set_new (process, "noNewPrivileges", json_true ()); return 0;
    case O_CAP: add_cap (process, arg); return 0;
    case O_PRESERVE:
      if (cli_parse_int (arg, &n) < 0 || n < 0 || n > 65536)
        return cli_usage_error ("--preserve-fds: invalid number `%s`", arg);
      o->preserve_fds = (int) n;
      return 0;
    default: return 0;
    }
}

/* The process to run: --process FILE as is, or the container's own
 * process with the command line's args and changes. */
static json_t *base_process (struct berth_global *g, const char *id, const char *file, berth_err *err)
{
  if (file)
    return berth_json_load_file (file, err);
  cleanup_json json_t *config = NULL;
  if (berth_container_config (g, id, &config, err) < 0)
    return NULL;
  json_t *process = json_deep_copy (json_object_get (config, "process"));
  if (process == NULL)
    process = json_pack ("{s:s, s:[]}", "cwd", "/", "env");
  json_object_set_new (process, "terminal", json_false ());
  json_object_del (process, "consoleSize");
  if (!json_is_array (json_object_get (process, "env")))
    json_object_set_new (process, "env", json_array ());
  return process;
}

int cmd_exec (struct berth_global *g, int argc, char **argv)
{
  struct cli_parser p = { .argc = argc, .argv = argv, .i = 1 };
  struct berth_exec_opts o = { 0 };
  const char *arg, *process_file = NULL;
  int id;
  berth_err err = NULL;
  /* First pass: find --process and the id; options apply to the base. */
  while ((id = cli_next (&p, exec_opts, &arg)) > 0)
    if (id == O_PROCESS)
      process_file = arg;
  if (id < 0)
    return 1;
  if (p.i >= argc)
    return cli_usage_error ("usage: exec [options] ID [COMMAND [ARGS...]]"), 1;
  o.id = argv[p.i];
  if (berth_validate_id (o.id, &err) < 0)
    return cli_fail (&err);
  cleanup_json json_t *process = base_process (g, o.id, process_file, &err);
  if (process == NULL)
    return cli_fail (&err);
  if (!json_is_object (process))
    return cli_usage_error ("--process: expected a JSON object"), 1;
  struct cli_parser q = { .argc = argc, .argv = argv, .i = 1 };
  while ((id = cli_next (&q, exec_opts, &arg)) > 0)
    if (id != O_PROCESS && apply_opt (process, &o, id, arg) < 0)
      return 1;
  if (process_file == NULL)
    {
      if (p.i + 1 >= argc)
        return cli_usage_error ("exec: no command given"), 1;
      json_t *args = json_array ();
      for (int i = p.i + 1; i < argc; i++)
        json_array_append_new (args, json_string (argv[i]));
      json_object_set_new (process, "args", args);
    }
  o.process = process;
  int r = berth_container_exec (g, &o, &err);
  if (r < 0)
    return cli_fail (&err);
  return r;
}
