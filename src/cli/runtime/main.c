/* berth-runtime: an OCI runtime with runc's command line. */
#include "cli.h"
#include "common/log.h"
#include "runtime/cgroup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command
{
  const char *name;
  cli_cmd_fn fn;
  bool spawns;  /* starts processes in a container: run from a sealed copy */
  const char *help;
};

static const struct command commands[] = {
  { "create", cmd_create, true, "create a container" },
  { "run", cmd_run, true, "create and start a container" },
  { "start", cmd_start, false, "start a created container" },
  { "state", cmd_state, false, "output the state of a container" },
  { "kill", cmd_kill, false, "send a signal to the container's init or all its processes" },
  { "delete", cmd_delete, false, "delete a container and what it holds" },
  { "exec", cmd_exec, true, "run a new process inside a container" },
  { "ps", cmd_ps, false, "list the processes of a container" },
  { "list", cmd_list, false, "list containers" },
  { "pause", cmd_pause, false, "freeze every process of a container" },
  { "resume", cmd_resume, false, "thaw a paused container" },
  { "update", cmd_update, false, "change a container's resource limits" },
  { "spec", cmd_spec, false, "write a default config.json" },
  { "features", cmd_features, false, "show what this runtime supports (JSON)" },
  { "events", cmd_events, false, "show resource usage statistics (--stats)" },
  { NULL, NULL, false, NULL },
};

enum { G_ROOT = 1, G_LOG, G_LOG_FORMAT, G_DEBUG, G_SYSTEMD, G_ROOTLESS, G_CRIU, G_HELP, G_VERSION };

static const struct cli_opt global_opts[] = {
  { "root", 0, true, G_ROOT },
  { "log", 0, true, G_LOG },
  { "log-format", 0, true, G_LOG_FORMAT },
  { "debug", 0, false, G_DEBUG },
  { "systemd-cgroup", 0, false, G_SYSTEMD },
  { "rootless", 0, true, G_ROOTLESS },
  { "criu", 0, true, G_CRIU },
  { "help", 'h', false, G_HELP },
  { "version", 'v', false, G_VERSION },
  { NULL, 0, false, 0 },
};

static void print_version (void)
{
  printf ("berth-runtime version %s\ncommit: %s\nspec: %s\n", BERTH_VERSION, BERTH_COMMIT, BERTH_OCI_VERSION);
}

static void print_help (void)
{
  printf ("usage: berth-runtime [global options] COMMAND [options] [arguments]\n\n"
          "global options:\n"
          "  --root DIR          state folder (default " BERTH_DEFAULT_STATE_ROOT ")\n"
          "  --log FILE          write log messages to FILE\n"
          "  --log-format FMT    text or json\n"
          "  --debug             log debug messages\n"
          "  --systemd-cgroup    refused: cgroups are managed through cgroupfs\n"
          "  --version           print the version\n\ncommands:\n");
  for (const struct command *c = commands; c->name; c++)
    printf ("  %-10s %s\n", c->name, c->help);
}

static int apply_global (struct berth_global *g, int id, const char *arg)
{
  switch (id)
    {
    case G_ROOT:
      g->state_root = arg;
      return 0;
    case G_LOG:
      if (berth_log_open (arg) < 0)
        return cli_usage_error ("cannot open log file `%s`", arg);
      return 0;
    case G_LOG_FORMAT:
      if (strcmp (arg, "json") == 0)
        berth_log_set_format (BERTH_LOG_JSON);
      else if (strcmp (arg, "text") != 0)
        return cli_usage_error ("unknown log format `%s`: use text or json", arg);
      return 0;
    case G_DEBUG:
      berth_log_set_level (BERTH_LOG_DEBUG);
      return 0;
    case G_SYSTEMD:
      g->systemd_cgroup = true;
      return 0;
    default: /* --rootless, --criu: accepted for runc compatibility */
      return 0;
    }
}

int main (int argc, char **argv)
{
  struct berth_global g = { .state_root = BERTH_DEFAULT_STATE_ROOT };
  struct cli_parser p = { .argc = argc, .argv = argv, .i = 1 };
  const char *arg;
  int id;
  berth_log_init ("berth-runtime");
  while ((id = cli_next (&p, global_opts, &arg)) > 0)
    {
      if (id == G_HELP)
        return print_help (), 0;
      if (id == G_VERSION)
        return print_version (), 0;
      if (apply_global (&g, id, arg) < 0)
        return 1;
    }
  if (id < 0)
    return 1;
  if (p.i >= argc)
    return print_help (), 1;
  const char *verb = argv[p.i];
  for (const struct command *c = commands; c->name; c++)
    {
      if (strcmp (c->name, verb) != 0)
        continue;
      berth_err err = NULL;
      berth_debug ("%s", verb);
      if (c->spawns && !berth_is_cloned_binary ())
        cgroup_prewarm_async ();
      if (c->spawns && berth_ensure_cloned_binary (argv, &err) < 0)
        return cli_fail (&err);
      return c->fn (&g, argc - p.i, argv + p.i);
    }
  if (strcmp (verb, "help") == 0)
    return print_help (), 0;
  cli_usage_error ("unknown command `%s` (see --help)", verb);
  return 1;
}
