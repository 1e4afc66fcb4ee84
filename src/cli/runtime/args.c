#include "cli.h"
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_usage_error (const char *fmt, ...)
{
  char *msg = NULL;
  va_list ap;
  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  va_end (ap);
  berth_log (BERTH_LOG_ERROR, "%s", msg ? msg : "usage error");
  if (berth_log_fd () != 2)
    fprintf (stderr, "berth-runtime: %s\n", msg ? msg : "usage error");
  free (msg);
  return -1;
}

int cli_fail (berth_err *err)
{
  if (err && *err && berth_log_fd () != 2)
    fprintf (stderr, "berth-runtime: %s\n", (*err)->msg);
  return berth_error_report (err);
}

static const struct cli_opt *find_long (const struct cli_opt *opts, const char *name, size_t len)
{
  for (; opts->name; opts++)
    if (strlen (opts->name) == len && strncmp (opts->name, name, len) == 0)
      return opts;
  return NULL;
}

static const struct cli_opt *find_short (const struct cli_opt *opts, char c)
{
  for (; opts->name; opts++)
    if (opts->short_name == c)
      return opts;
  return NULL;
}

int cli_next (struct cli_parser *p, const struct cli_opt *opts, const char **arg)
{
  *arg = NULL;
  if (p->i >= p->argc)
    return 0;
  const char *a = p->argv[p->i];
  if (a[0] != '-' || a[1] == '\0')
    return 0;
  p->i++;
  if (strcmp (a, "--") == 0)
    return 0;
  const char *name = a + (a[1] == '-' ? 2 : 1);
  const char *eq = strchr (name, '=');
  size_t len = eq ? (size_t) (eq - name) : strlen (name);
  const struct cli_opt *o = find_long (opts, name, len);
  if (o == NULL && a[1] != '-' && len == 1)
    o = find_short (opts, name[0]);
  if (o == NULL)
    return cli_usage_error ("unknown option `%s`", a);
  if (!o->has_arg)
    {
      /* Go's bool flags accept --flag=true/false. */
      if (eq && strcmp (eq + 1, "false") == 0)
        return cli_next (p, opts, arg) ;
      return o->id;
    }
  if (eq)
    *arg = eq + 1;
  else if (p->i < p->argc)
    *arg = p->argv[p->i++];
  else
    return cli_usage_error ("option `%s` needs a value", a);
  return o->id;
}

const char *cli_one_id (struct cli_parser *p, const char *verb)
{
  if (p->argc - p->i != 1)
    {
      cli_usage_error ("`%s` requires exactly 1 argument: the container id", verb);
      return NULL;
    }
  return p->argv[p->i];
}

int cli_parse_int (const char *s, long long *out)
{
  char *end = NULL;
  errno = 0;
  long long v = strtoll (s, &end, 10);
  if (*s == '\0' || *end != '\0' || errno)
    return -1;
  *out = v;
  return 0;
}

int cli_parse_size (const char *s, long long *out)
{
  char *end = NULL;
  errno = 0;
  long long v = strtoll (s, &end, 10);
  if (end == s || errno)
    return -1;
  long long mult = 1;
  switch (*end)
    {
    case 'k': case 'K': mult = 1LL << 10; end++; break;
    case 'm': case 'M': mult = 1LL << 20; end++; break;
    case 'g': case 'G': mult = 1LL << 30; end++; break;
    case 't': case 'T': mult = 1LL << 40; end++; break;
    default: break;
    }
  if (*end == 'b' || *end == 'B')
    end++;
  if (*end != '\0')
    return -1;
  *out = v < 0 ? v : v * mult;
  return 0;
}

void cli_print_json (json_t *j, bool indent)
{
  char *s = json_dumps (j, indent ? JSON_INDENT (2) : JSON_COMPACT);
  if (s)
    {
      puts (s);
      free (s);
    }
}
