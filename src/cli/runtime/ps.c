#include "cli.h"
#include "common/fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { O_FORMAT = 1 };
static const struct cli_opt ps_opts[] = {
  { "format", 'f', true, O_FORMAT },
  { NULL, 0, false, 0 },
};

static bool has_pid (const pid_t *pids, size_t n, long pid)
{
  for (size_t i = 0; i < n; i++)
    if (pids[i] == pid)
      return true;
  return false;
}

/* Run ps(1) with ARGS (default -ef) and read all its output. */
static char *run_ps (char **args, int nargs)
{
  int fds[2];
  if (pipe (fds) < 0)
    return NULL;
  pid_t pid = fork ();
  if (pid == 0)
    {
      char *argv[nargs + 3];
      argv[0] = "ps";
      int k = 1;
      if (nargs == 0)
        argv[k++] = "-ef";
      for (int i = 0; i < nargs; i++)
        argv[k++] = args[i];
      argv[k] = NULL;
      dup2 (fds[1], 1);
      close (fds[0]);
      close (fds[1]);
      execvp ("ps", argv);
      _exit (127);
    }
  close (fds[1]);
  size_t cap = 65536, len = 0;
  char *buf = malloc (cap);
  ssize_t r;
  while (buf && (r = read (fds[0], buf + len, cap - len - 1)) > 0)
    {
      len += (size_t) r;
      if (len + 1 == cap)
        {
          char *nb = realloc (buf, cap *= 2);
          if (nb == NULL)
            {
              free (buf);
              buf = NULL;
            }
          buf = nb;
        }
    }
  close (fds[0]);
  waitpid (pid, NULL, 0);
  if (buf)
    buf[len] = '\0';
  return buf;
}

/* Index of the PID column in ps's header line. */
static int pid_column (char *header)
{
  cleanup_free char *copy = strdup (header);
  char *save = NULL;
  int col = 0;
  for (char *tok = strtok_r (copy, " \t", &save); tok; tok = strtok_r (NULL, " \t", &save), col++)
    if (strcmp (tok, "PID") == 0)
      return col;
  return -1;
}

static long field_at (const char *line, int col)
{
  cleanup_free char *copy = strdup (line);
  char *save = NULL, *tok = strtok_r (copy, " \t", &save);
  for (int i = 0; tok && i < col; i++)
    tok = strtok_r (NULL, " \t", &save);
  return tok ? strtol (tok, NULL, 10) : -1;
}

static int print_table (const pid_t *pids, size_t n, char **args, int nargs)
{
  cleanup_free char *out = run_ps (args, nargs);
  if (out == NULL)
    return cli_usage_error ("cannot run ps"), 1;
  char *save = NULL, *line = strtok_r (out, "\n", &save);
  int col = line ? pid_column (line) : -1;
  if (col < 0)
    return cli_usage_error ("ps output has no PID column"), 1;
  puts (line);
  while ((line = strtok_r (NULL, "\n", &save)) != NULL)
    if (has_pid (pids, n, field_at (line, col)))
      puts (line);
  return 0;
}

int cmd_ps (struct berth_global *g, int argc, char **argv)
{
  struct cli_parser p = { .argc = argc, .argv = argv, .i = 1 };
  const char *arg, *format = "table";
  int opt;
  berth_err err = NULL;
  while ((opt = cli_next (&p, ps_opts, &arg)) > 0)
    format = arg;
  if (opt < 0 || p.i >= argc)
    return cli_usage_error ("usage: ps [--format table|json] ID [ps options]"), 1;
  if (strcmp (format, "json") != 0 && strcmp (format, "table") != 0)
    return cli_usage_error ("unknown format `%s`: use table or json", format), 1;
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  if (berth_container_pids (g, argv[p.i], &pids, &n, &err) < 0)
    return cli_fail (&err);
  if (strcmp (format, "table") == 0)
    return print_table (pids, n, argv + p.i + 1, argc - p.i - 1);
  cleanup_json json_t *arr = json_array ();
  for (size_t i = 0; i < n; i++)
    json_array_append_new (arr, json_integer (pids[i]));
  cli_print_json (arr, false);
  return 0;
}
