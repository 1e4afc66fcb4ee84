#include "cli.h"
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { O_BUNDLE = 1, O_ROOTLESS };
static const struct cli_opt spec_opts[] = {
  { "bundle", 'b', true, O_BUNDLE },
  { "rootless", 0, false, O_ROOTLESS },
  { NULL, 0, false, 0 },
};

int cmd_spec (struct berth_global *g, int argc, char **argv)
{
  struct cli_parser p = { .argc = argc, .argv = argv, .i = 1 };
  const char *arg, *bundle = ".";
  bool rootless = false;
  int opt;
  while ((opt = cli_next (&p, spec_opts, &arg)) > 0)
    {
      if (opt == O_BUNDLE)
        bundle = arg;
      else
        rootless = true;
    }
  if (opt < 0 || p.i != argc)
    return cli_usage_error ("usage: spec [--bundle DIR] [--rootless]"), 1;
  cleanup_free char *path = NULL;
  if (asprintf (&path, "%s/config.json", bundle) < 0)
    return 1;
  if (access (path, F_OK) == 0)
    return cli_usage_error ("File %s exists. Remove it first", path), 1;
  cleanup_json json_t *spec = berth_spec_default (rootless);
  cleanup_free char *text = spec ? json_dumps (spec, JSON_INDENT (8)) : NULL;
  if (text == NULL)
    return 1;
  berth_err err = NULL;
  size_t len = strlen (text);
  text[len] = '\0';
  if (berth_write_file (path, text, len, &err) < 0)
    return cli_fail (&err);
  return 0;
}
