#include "cli.h"

enum { O_BUNDLE = 1, O_PID_FILE, O_CONSOLE, O_NO_PIVOT, O_NO_KEYRING, O_PRESERVE, O_DETACH, O_KEEP };

static const struct cli_opt create_opts[] = {
  { "bundle", 'b', true, O_BUNDLE },
  { "pid-file", 0, true, O_PID_FILE },
  { "console-socket", 0, true, O_CONSOLE },
  { "no-pivot", 0, false, O_NO_PIVOT },
  { "no-new-keyring", 0, false, O_NO_KEYRING },
  { "preserve-fds", 0, true, O_PRESERVE },
  { "detach", 'd', false, O_DETACH },
  { "keep", 0, false, O_KEEP },
  { NULL, 0, false, 0 },
};

/* Shared by create and run: parse flags into *o; returns 0 or -1. */
static int parse_create (int argc, char **argv, struct berth_create_opts *o, bool is_run)
{
  struct cli_parser p = { .argc = argc, .argv = argv, .i = 1 };
  const char *arg;
  int id;
  long long n;
  while ((id = cli_next (&p, create_opts, &arg)) > 0)
    switch (id)
      {
      case O_BUNDLE: o->bundle = arg; break;
      case O_PID_FILE: o->pid_file = arg; break;
      case O_CONSOLE: o->console_socket = arg; break;
      case O_NO_PIVOT: o->no_pivot = true; break;
      case O_NO_KEYRING: o->no_new_keyring = true; break;
      case O_PRESERVE:
        if (cli_parse_int (arg, &n) < 0 || n < 0 || n > 65536)
          return cli_usage_error ("--preserve-fds: invalid number `%s`", arg);
        o->preserve_fds = (int) n;
        break;
      case O_DETACH:
        if (!is_run)
          return cli_usage_error ("unknown option `-d` for create");
        o->detach = true;
        break;
      default: break;
      }
  if (id < 0)
    return -1;
  o->id = cli_one_id (&p, argv[0]);
  return o->id ? 0 : -1;
}

int cmd_create (struct berth_global *g, int argc, char **argv)
{
  struct berth_create_opts o = { 0 };
  berth_err err = NULL;
  if (parse_create (argc, argv, &o, false) < 0)
    return 1;
  if (berth_container_create (g, &o, &err) < 0)
    return cli_fail (&err);
  return 0;
}

int cmd_run (struct berth_global *g, int argc, char **argv)
{
  struct berth_create_opts o = { 0 };
  berth_err err = NULL;
  if (parse_create (argc, argv, &o, true) < 0)
    return 1;
  int r = berth_container_run (g, &o, &err);
  if (r < 0)
    return cli_fail (&err);
  return r;
}
