#include "cli.h"

enum { O_FORCE = 1 };
static const struct cli_opt delete_opts[] = {
  { "force", 'f', false, O_FORCE },
  { NULL, 0, false, 0 },
};

int cmd_delete (struct berth_global *g, int argc, char **argv)
{
  struct cli_parser p = { .argc = argc, .argv = argv, .i = 1 };
  const char *arg, *id;
  bool force = false;
  int opt;
  berth_err err = NULL;
  while ((opt = cli_next (&p, delete_opts, &arg)) > 0)
    force = true;
  if (opt < 0 || (id = cli_one_id (&p, "delete")) == NULL)
    return 1;
  if (berth_container_delete (g, id, force, &err) < 0)
    return cli_fail (&err);
  return 0;
}
