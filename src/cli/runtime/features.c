#include "cli.h"

int cmd_features (struct berth_global *g, int argc, char **argv)
{
  if (argc > 1)
    return cli_usage_error ("`features` takes no arguments"), 1;
  cleanup_json json_t *f = berth_features ();
  if (f == NULL)
    return cli_usage_error ("cannot build the features document"), 1;
  cli_print_json (f, true);
  return 0;
}
