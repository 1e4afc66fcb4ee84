#include "cli.h"

static const struct cli_opt no_opts[] = { { NULL, 0, false, 0 } };

static int freeze_cmd (struct berth_global *g, int argc, char **argv,
                       int (*op) (struct berth_global *, const char *, berth_err *))
{
  struct cli_parser p = { .argc = argc, .argv = argv, .i = 1 };
  const char *arg, *id;
  berth_err err = NULL;
  if (cli_next (&p, no_opts, &arg) < 0 || (id = cli_one_id (&p, argv[0])) == NULL)
    return 1;
  if (op (g, id, &err) < 0)
    return cli_fail (&err);
  return 0;
}

int cmd_pause (struct berth_global *g, int argc, char **argv)
{
  return freeze_cmd (g, argc, argv, berth_container_pause);
}

int cmd_resume (struct berth_global *g, int argc, char **argv)
{
  return freeze_cmd (g, argc, argv, berth_container_resume);
}
