/* berth's container commands that are one request per container: stop,
 * kill, restart, rm, pause, unpause, rename, wait, ps, top, inspect. */
#include "containers.h"
#include "common/cleanup.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cli_fail (berth_err *err)
{
  fprintf (stderr, "%s\n", (*err)->msg);
  berth_error_free (err);
  return 1;
}

int cli_usage (const char *usage)
{
  fprintf (stderr, "%s%s\n", strncmp (usage, "usage:", 6) == 0 ? "" : "usage: ", usage);
  return 1;
}

char *container_path (const char *name, const char *suffix)
{
  cleanup_free char *e = client_escape (name);
  char *p = NULL;
  if (e == NULL || asprintf (&p, "/containers/%s%s", e, suffix) < 0)
    return NULL;
  return p;
}

int start_failure_status (const char *msg)
{
  if (strstr (msg, "executable file not found") || strstr (msg, "no such file or directory")
      || strstr (msg, "system cannot find the file specified"))
    return EXIT_NOT_FOUND;
  if (strstr (msg, "permission denied") || strstr (msg, "is a directory"))
    return EXIT_CANNOT_EXEC;
  return EXIT_DAEMON_ERROR;
}

/* A request whose reply has no body worth showing: 2xx and 304 (docker's
 * "already stopped/started") are success. */
static int simple_request (struct client *c, const char *method, const char *path, berth_err *err)
{
  struct client_reply r = { 0 };
  if (client_call (c, method, path, NULL, -1, -1, &r, err) < 0)
    return -1;
  int ret = 0;
  if (r.status / 100 != 2 && r.status != 304)
    {
      cleanup_json json_t *j = r.body ? json_loads (r.body, 0, NULL) : NULL;
      const char *msg = berth_json_str (j, "message");
      ret = berth_fail_as (err, r.status == 404 ? ENOENT : 0, "Error response from daemon: %s",
                           msg ? msg : (r.body && *r.body ? r.body : "(no message)"));
    }
  client_reply_free (&r);
  return ret;
}

/* METHOD /containers/NAME/SUFFIX?QUERY for each NAME, printing NAME on
 * success, as docker stop/kill/rm... do. */
static int each_container (struct client *c, const char *method, const char *suffix, const char *query, int argc,
                           char **argv)
{
  int rc = 0;
  for (int i = 0; i < argc; i++)
    {
      berth_err err = NULL;
      cleanup_free char *base = container_path (argv[i], suffix), *path = NULL;
      if (base == NULL || asprintf (&path, "%s%s%s", base, query && *query ? "?" : "", query ? query : "") < 0)
        return 1;
      if (simple_request (c, method, path, &err) < 0)
        rc = cli_fail (&err);
      else
        puts (argv[i]);
    }
  return rc;
}

/* Options given by short letters (and their long names): VALUES[LETTER]
 * gets the option's value ("1" for a flag).  Returns the index of the
 * first operand, or -1 after printing USAGE. */
static int parse_value_opts (int argc, char **argv, const char *shorts, const struct option *longs, const char *usage,
                             const char *values[128])
{
  int opt;
  optind = 1;
  while ((opt = getopt_long (argc, argv, shorts, longs, NULL)) != -1)
    {
      if (opt == '?' || opt <= 0 || opt >= 128)
        return cli_usage (usage), -1;
      values[opt] = optarg ? optarg : "1";
    }
  if (optind >= argc)
    return cli_usage (usage), -1;
  return optind;
}

static int stop_like (struct client *c, int argc, char **argv, const char *action)
{
  static const struct option opts[] = { { "time", required_argument, NULL, 't' },
                                        { "timeout", required_argument, NULL, 't' },
                                        { "signal", required_argument, NULL, 's' },
                                        { NULL, 0, NULL, 0 } };
  const char *values[128] = { 0 };
  cleanup_free char *usage = NULL, *query = NULL, *t = NULL, *s = NULL;
  if (asprintf (&usage, "usage: berth %s [-t SECONDS] [-s SIGNAL] CONTAINER...", action) < 0)
    return 1;
  int first = parse_value_opts (argc, argv, "+t:s:", opts, usage, values);
  if (first < 0)
    return 1;
  const char *timeout = values['t'], *signal = values['s'];
  t = timeout ? client_escape (timeout) : NULL;
  s = signal ? client_escape (signal) : NULL;
  if (asprintf (&query, "%s%s%s%s%s", t ? "t=" : "", t ? t : "", t && s ? "&" : "", s ? "signal=" : "",
                s ? s : "") < 0)
    return 1;
  cleanup_free char *suffix = NULL;
  if (asprintf (&suffix, "/%s", action) < 0)
    return 1;
  return each_container (c, "POST", suffix, query, argc - first, argv + first);
}

int cmd_stop (struct client *c, int argc, char **argv)
{
  return stop_like (c, argc, argv, "stop");
}

int cmd_restart (struct client *c, int argc, char **argv)
{
  return stop_like (c, argc, argv, "restart");
}

int cmd_kill (struct client *c, int argc, char **argv)
{
  static const struct option opts[] = { { "signal", required_argument, NULL, 's' }, { NULL, 0, NULL, 0 } };
  const char *values[128] = { 0 };
  int first = parse_value_opts (argc, argv, "+s:", opts, "usage: berth kill [-s SIGNAL] CONTAINER...", values);
  if (first < 0)
    return 1;
  cleanup_free char *s = values['s'] ? client_escape (values['s']) : NULL, *query = NULL;
  if (s && asprintf (&query, "signal=%s", s) < 0)
    return 1;
  return each_container (c, "POST", "/kill", query, argc - first, argv + first);
}

int cmd_rm (struct client *c, int argc, char **argv)
{
  static const struct option opts[] = { { "force", no_argument, NULL, 'f' },
                                        { "volumes", no_argument, NULL, 'v' },
                                        { NULL, 0, NULL, 0 } };
  const char *values[128] = { 0 };
  int first = parse_value_opts (argc, argv, "+fv", opts, "usage: berth rm [-f] [-v] CONTAINER...", values);
  if (first < 0)
    return 1;
  cleanup_free char *query = NULL;
  if (asprintf (&query, "force=%d&v=%d", values['f'] != NULL, values['v'] != NULL) < 0)
    return 1;
  return each_container (c, "DELETE", "", query, argc - first, argv + first);
}

int cmd_pause (struct client *c, int argc, char **argv)
{
  if (argc < 2)
    return cli_usage ("usage: berth pause CONTAINER...");
  return each_container (c, "POST", "/pause", NULL, argc - 1, argv + 1);
}

int cmd_unpause (struct client *c, int argc, char **argv)
{
  if (argc < 2)
    return cli_usage ("usage: berth unpause CONTAINER...");
  return each_container (c, "POST", "/unpause", NULL, argc - 1, argv + 1);
}

int cmd_rename (struct client *c, int argc, char **argv)
{
  berth_err err = NULL;
  if (argc != 3)
    return cli_usage ("usage: berth rename CONTAINER NEW_NAME");
  cleanup_free char *base = container_path (argv[1], "/rename"), *name = client_escape (argv[2]), *path = NULL;
  if (base == NULL || name == NULL || asprintf (&path, "%s?name=%s", base, name) < 0)
    return 1;
  return simple_request (c, "POST", path, &err) < 0 ? cli_fail (&err) : 0;
}

int cmd_wait (struct client *c, int argc, char **argv)
{
  int rc = 0;
  if (argc < 2)
    return cli_usage ("usage: berth wait CONTAINER...");
  for (int i = 1; i < argc; i++)
    {
      berth_err err = NULL;
      cleanup_free char *path = container_path (argv[i], "/wait");
      cleanup_json json_t *r = client_json (c, "POST", path, NULL, &err);
      if (r == NULL)
        rc = cli_fail (&err);
      else
        printf ("%lld\n", (long long) berth_json_int (r, "StatusCode", -1));
    }
  return rc;
}

/* ---- ps ---- */

static void human_age (json_int_t created, char *buf, size_t len)
{
  long long s = (long long) time (NULL) - (long long) created;
  if (s < 60)
    snprintf (buf, len, "%lld seconds ago", s < 1 ? 1 : s);
  else if (s < 3600)
    snprintf (buf, len, "%lld minutes ago", s / 60);
  else if (s < 86400 * 2)
    snprintf (buf, len, "%lld hours ago", s / 3600);
  else
    snprintf (buf, len, "%lld days ago", s / 86400);
}

/* docker's COMMAND column: quoted, cut at 20 characters with an ellipsis. */
static void command_column (const char *cmd, char *buf, size_t len)
{
  cleanup_free char *q = NULL;
  if (asprintf (&q, "\"%s\"", cmd ? cmd : "") < 0)
    {
      snprintf (buf, len, "?");
      return;
    }
  if (strlen (q) > 20)
    snprintf (buf, len, "%.19s\xe2\x80\xa6", q);
  else
    snprintf (buf, len, "%s", q);
}

/* S left-aligned in WIDTH characters (UTF-8 aware, for the ellipsis). */
static void print_cell (const char *s, int width)
{
  int chars = 0;
  for (const char *p = s; *p; p++)
    chars += ((unsigned char) *p & 0xc0) != 0x80;
  printf ("%s%*s", s, width > chars ? width - chars : 1, "");
}

static const char *first_name (json_t *ctr)
{
  const char *n = json_string_value (json_array_get (berth_json_arr (ctr, "Names"), 0));
  return n ? (n[0] == '/' ? n + 1 : n) : "";
}

int cmd_ps (struct client *c, int argc, char **argv)
{
  static const struct option opts[] = { { "all", no_argument, NULL, 'a' },
                                        { "quiet", no_argument, NULL, 'q' },
                                        { NULL, 0, NULL, 0 } };
  bool all = false, quiet = false;
  int opt;
  optind = 1;
  while ((opt = getopt_long (argc, argv, "aq", opts, NULL)) != -1)
    {
      if (opt == '?')
        return cli_usage ("usage: berth ps [-a] [-q]");
      all |= opt == 'a';
      quiet |= opt == 'q';
    }
  berth_err err = NULL;
  cleanup_json json_t *list = client_json (c, "GET", all ? "/containers/json?all=1" : "/containers/json", NULL, &err);
  if (list == NULL)
    return cli_fail (&err);
  if (!quiet)
    printf ("%-15s%-24s%-23s%-18s%-28s%-10s%s\n", "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS",
            "NAMES");
  size_t i;
  json_t *ctr;
  json_array_foreach (list, i, ctr)
    {
      const char *id = berth_json_str (ctr, "Id");
      if (quiet)
        {
          printf ("%.12s\n", id ? id : "");
          continue;
        }
      char cmd[64], age[64];
      command_column (berth_json_str (ctr, "Command"), cmd, sizeof cmd);
      human_age (berth_json_int (ctr, "Created", 0), age, sizeof age);
      const char *image = berth_json_str (ctr, "Image"), *status = berth_json_str (ctr, "Status");
      printf ("%-15.12s", id ? id : "");
      print_cell (image ? image : "", 24);
      print_cell (cmd, 23);
      print_cell (age, 18);
      print_cell (status ? status : "", 28);
      print_cell ("", 10);
      printf ("%s\n", first_name (ctr));
    }
  return 0;
}

/* ---- top ---- */

int cmd_top (struct client *c, int argc, char **argv)
{
  berth_err err = NULL;
  if (argc < 2)
    return cli_usage ("usage: berth top CONTAINER [ps OPTIONS]");
  cleanup_free char *base = container_path (argv[1], "/top"), *path = NULL, *args = strdup ("");
  for (int i = 2; i < argc && args; i++)
    {
      char *n = NULL;
      if (asprintf (&n, "%s%s%s", args, *args ? " " : "", argv[i]) < 0)
        return 1;
      free (args);
      args = n;
    }
  cleanup_free char *eargs = args && *args ? client_escape (args) : NULL;
  if (base == NULL || asprintf (&path, "%s%s%s", base, eargs ? "?ps_args=" : "", eargs ? eargs : "") < 0)
    return 1;
  cleanup_json json_t *top = client_json (c, "GET", path, NULL, &err);
  if (top == NULL)
    return cli_fail (&err);
  json_t *titles = berth_json_arr (top, "Titles"), *procs = berth_json_arr (top, "Processes");
  size_t ncol = json_array_size (titles), i, k;
  cleanup_free size_t *width = calloc (ncol + 1, sizeof (size_t));
  json_t *row, *cell;
  if (width == NULL)
    return 1;
  json_array_foreach (titles, k, cell)
    width[k] = strlen (json_string_value (cell) ? json_string_value (cell) : "");
  json_array_foreach (procs, i, row)
    json_array_foreach (row, k, cell)
      if (k < ncol && json_string_value (cell) && strlen (json_string_value (cell)) > width[k])
        width[k] = strlen (json_string_value (cell));
  json_array_foreach (titles, k, cell)
    if (k + 1 < ncol)
      printf ("%-*s   ", (int) width[k], json_string_value (cell) ? json_string_value (cell) : "");
    else
      printf ("%s\n", json_string_value (cell) ? json_string_value (cell) : "");
  json_array_foreach (procs, i, row)
    json_array_foreach (row, k, cell)
      if (k + 1 < json_array_size (row))
        printf ("%-*s   ", k < ncol ? (int) width[k] : 0, json_string_value (cell) ? json_string_value (cell) : "");
      else
        printf ("%s\n", json_string_value (cell) ? json_string_value (cell) : "");
  return 0;
}

/* ---- inspect: a container, else an image, as docker inspect ---- */

static json_t *inspect_one (struct client *c, const char *name)
{
  berth_err err = NULL;
  cleanup_free char *cpath = container_path (name, "/json");
  json_t *j = client_json (c, "GET", cpath, NULL, &err);
  if (j)
    return j;
  bool missing = err && err->errnum == ENOENT;
  if (!missing)
    {
      cli_fail (&err);
      return NULL;
    }
  berth_error_free (&err);
  /* image references keep their slashes: the daemon routes them */
  cleanup_free char *e = client_escape (name), *ipath = NULL;
  for (char *s = e; s && (s = strstr (s, "%2F")) != NULL;)
    {
      *s = '/';
      memmove (s + 1, s + 3, strlen (s + 3) + 1);
    }
  if (e && asprintf (&ipath, "/images/%s/json", e) >= 0)
    j = client_json (c, "GET", ipath, NULL, &err);
  if (j == NULL)
    {
      berth_error_free (&err);
      fprintf (stderr, "Error: No such object: %s\n", name);
    }
  return j;
}

int cmd_inspect (struct client *c, int argc, char **argv)
{
  if (argc < 2)
    return cli_usage ("usage: berth inspect CONTAINER|IMAGE...");
  cleanup_json json_t *out = json_array ();
  int rc = 0;
  for (int i = 1; i < argc; i++)
    {
      json_t *j = inspect_one (c, argv[i]);
      if (j == NULL)
        rc = 1;
      else
        json_array_append_new (out, j);
    }
  cleanup_free char *s = json_dumps (out, JSON_INDENT (4));
  puts (s ? s : "[]");
  return rc;
}
