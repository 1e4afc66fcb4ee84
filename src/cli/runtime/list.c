#include "cli.h"

#include <stdio.h>
#include <string.h>

enum { O_FORMAT = 1, O_QUIET };
static const struct cli_opt list_opts[] = {
  { "format", 'f', true, O_FORMAT },
  { "quiet", 'q', false, O_QUIET },
  { NULL, 0, false, 0 },
};

int cmd_list (struct berth_global *g, int argc, char **argv)
{
  struct cli_parser p = { .argc = argc, .argv = argv, .i = 1 };
  const char *arg, *format = "table";
  bool quiet = false;
  int opt;
  berth_err err = NULL;
  while ((opt = cli_next (&p, list_opts, &arg)) > 0)
    {
      if (opt == O_FORMAT)
        format = arg;
      else
        quiet = true;
    }
  if (opt < 0 || p.i != argc)
    return cli_usage_error ("usage: list [--format table|json] [--quiet]"), 1;
  if (strcmp (format, "json") != 0 && strcmp (format, "table") != 0)
    return cli_usage_error ("unknown format `%s`: use table or json", format), 1;
  cleanup_json json_t *list = NULL;
  if (berth_container_list (g, &list, &err) < 0)
    return cli_fail (&err);
  size_t i;
  json_t *c;
  if (quiet)
    {
      json_array_foreach (list, i, c)
        puts (berth_json_str (c, "id"));
      return 0;
    }
  if (strcmp (format, "json") == 0)
    {
      cli_print_json (list, false);
      return 0;
    }
  printf ("%-20s %-8s %-8s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
  json_array_foreach (list, i, c)
    printf ("%-20s %-8lld %-8s %-40s %-32s %s\n", berth_json_str (c, "id"), (long long) berth_json_int (c, "pid", 0),
            berth_json_str (c, "status"), berth_json_str (c, "bundle"), berth_json_str (c, "created"), "root");
  return 0;
}
