#include "cli.h"

static const struct cli_opt no_opts[] = { { NULL, 0, false, 0 } };

int cmd_state (struct berth_global *g, int argc, char **argv)
{
  struct cli_parser p = { .argc = argc, .argv = argv, .i = 1 };
  const char *arg, *id;
  berth_err err = NULL;
  cleanup_json json_t *state = NULL;
  if (cli_next (&p, no_opts, &arg) < 0 || (id = cli_one_id (&p, "state")) == NULL)
    return 1;
  if (berth_container_state (g, id, &state, &err) < 0)
    return cli_fail (&err);
  cli_print_json (state, true);
  return 0;
}
