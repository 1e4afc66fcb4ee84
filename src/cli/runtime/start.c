#include "cli.h"

static const struct cli_opt no_opts[] = { { NULL, 0, false, 0 } };

int cmd_start (struct berth_global *g, int argc, char **argv)
{
  struct cli_parser p = { .argc = argc, .argv = argv, .i = 1 };
  const char *arg, *id;
  berth_err err = NULL;
  if (cli_next (&p, no_opts, &arg) < 0 || (id = cli_one_id (&p, "start")) == NULL)
    return 1;
  if (berth_container_start (g, id, &err) < 0)
    return cli_fail (&err);
  return 0;
}
