#include "cli.h"

#include <signal.h>

enum { O_ALL = 1, O_SIGNAL };
static const struct cli_opt kill_opts[] = {
  { "all", 'a', false, O_ALL },
  { "signal", 's', true, O_SIGNAL },
  { NULL, 0, false, 0 },
};

/* kill [--all] [--signal SIG] ID [SIG]; SIGTERM by default. */
int cmd_kill (struct berth_global *g, int argc, char **argv)
{
  struct cli_parser p = { .argc = argc, .argv = argv, .i = 1 };
  const char *arg, *signame = "SIGTERM";
  bool all = false;
  int opt;
  berth_err err = NULL;
  while ((opt = cli_next (&p, kill_opts, &arg)) > 0)
    {
      if (opt == O_ALL)
        all = true;
      else
        signame = arg;
    }
  int rest = argc - p.i;
  if (opt < 0 || rest < 1 || rest > 2)
    return cli_usage_error ("usage: kill [--all] [--signal SIG] ID [SIGNAL]"), 1;
  if (rest == 2)
    signame = argv[p.i + 1];
  int sig = berth_parse_signal (signame);
  if (sig <= 0)
    return cli_usage_error ("unknown signal `%s`", signame), 1;
  if (berth_container_kill (g, argv[p.i], sig, all, &err) < 0)
    return cli_fail (&err);
  return 0;
}
