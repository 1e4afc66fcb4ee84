#include "cli.h"
#include "runtime/cgroup.h"

#include <stdio.h>
#include <unistd.h>

enum { O_STATS = 1, O_INTERVAL };
static const struct cli_opt events_opts[] = {
  { "stats", 0, false, O_STATS },
  { "interval", 0, true, O_INTERVAL },
  { NULL, 0, false, 0 },
};

static int print_stats (struct berth_global *g, const char *id, berth_err *err)
{
  cleanup_json json_t *config = NULL;
  cleanup_json json_t *state = NULL;
  cleanup_cgroup struct cgroup_manager *m = NULL;
  cleanup_free char *path = NULL;
  json_t *stats = NULL;
  if (berth_container_state (g, id, &state, err) < 0 || berth_container_config (g, id, &config, err) < 0)
    return -1;
  const char *cg = berth_json_str (berth_json_obj (config, "linux"), "cgroupsPath");
  if (cgroup_resolve_path (cg, id, &path, err) < 0 || cgroup_manager_new (path, &m, err) < 0
      || cgroup_stats (m, &stats, err) < 0)
    return -1;
  cleanup_json json_t *ev = json_pack ("{s:s, s:s, s:o}", "type", "stats", "id", id, "data", stats);
  cli_print_json (ev, false);
  fflush (stdout);
  return 0;
}

/* events --stats ID: one statistics record; without --stats, one every
 * --interval seconds (default 5) while the container exists. */
int cmd_events (struct berth_global *g, int argc, char **argv)
{
  struct cli_parser p = { .argc = argc, .argv = argv, .i = 1 };
  const char *arg, *id;
  bool once = false;
  long long interval = 5;
  int opt;
  berth_err err = NULL;
  while ((opt = cli_next (&p, events_opts, &arg)) > 0)
    {
      if (opt == O_STATS)
        once = true;
      else if (cli_parse_int (arg, &interval) < 0 || interval <= 0)
        return cli_usage_error ("--interval: invalid seconds `%s`", arg), 1;
    }
  if (opt < 0 || (id = cli_one_id (&p, "events")) == NULL)
    return 1;
  do
    {
      if (print_stats (g, id, &err) < 0)
        return cli_fail (&err);
      if (!once)
        sleep ((unsigned) interval);
    }
  while (!once);
  return 0;
}
