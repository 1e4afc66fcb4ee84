/* berth-runtime's command line: runc's, verb by verb.  main.c parses the
 * global flags and dispatches to one cmd_<verb>() per file. */
#ifndef BERTH_CLI_H
#define BERTH_CLI_H

#include <stdbool.h>

#include "common/cleanup.h"
#include "runtime/runtime.h"

/* One option of a verb.  Long names are accepted with one or two dashes
 * and with "=value" (Go's flag style, which runc users rely on). */
struct cli_opt
{
  const char *name;   /* long name without dashes */
  char short_name;    /* 0 if none */
  bool has_arg;
  int id;             /* returned by cli_next */
};

struct cli_parser
{
  int argc;
  char **argv;
  int i;              /* next argv index */
};

/* Returns the id of the next option (value in *arg), 0 when the options
 * end (p->i then indexes the first positional argument), or -1 after
 * printing an error for an unknown option or a missing value. */
int cli_next (struct cli_parser *p, const struct cli_opt *opts, const char **arg);

/* Require exactly one positional id argument; print usage otherwise. */
const char *cli_one_id (struct cli_parser *p, const char *verb);

int cli_parse_int (const char *s, long long *out);
/* "512k", "100M", "1g" -> bytes; -1 for "-1". */
int cli_parse_size (const char *s, long long *out);

/* Report an error the runc way and return the exit code 1. */
int cli_fail (berth_err *err);
int cli_usage_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

typedef int (*cli_cmd_fn) (struct berth_global *g, int argc, char **argv);

int cmd_create (struct berth_global *g, int argc, char **argv);
int cmd_run (struct berth_global *g, int argc, char **argv);
int cmd_start (struct berth_global *g, int argc, char **argv);
int cmd_state (struct berth_global *g, int argc, char **argv);
int cmd_kill (struct berth_global *g, int argc, char **argv);
int cmd_delete (struct berth_global *g, int argc, char **argv);
int cmd_exec (struct berth_global *g, int argc, char **argv);
int cmd_ps (struct berth_global *g, int argc, char **argv);
int cmd_list (struct berth_global *g, int argc, char **argv);
int cmd_pause (struct berth_global *g, int argc, char **argv);
int cmd_resume (struct berth_global *g, int argc, char **argv);
int cmd_update (struct berth_global *g, int argc, char **argv);
int cmd_spec (struct berth_global *g, int argc, char **argv);
int cmd_features (struct berth_global *g, int argc, char **argv);
int cmd_events (struct berth_global *g, int argc, char **argv);

/* Print JSON to stdout (pretty when INDENT). */
void cli_print_json (json_t *j, bool indent);

#endif
