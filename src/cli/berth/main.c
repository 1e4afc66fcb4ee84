/* berth: berth's own command line client for berthd. */
#include "client.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*berth_cmd) (struct client *c, int argc, char **argv);

static const struct
{
  const char *name;
  berth_cmd fn;
  const char *help;
} commands[] = {
  { "version", cmd_version, "show client and daemon versions" },
  { "info", cmd_info, "show daemon-wide information" },
  { "build", cmd_build, "PATH|-: build an image from a Dockerfile (-t -f --build-arg --target -q ...; build --help)" },
  { "images", cmd_images, "list images (-q: ids only)" },
  { "run", cmd_run, "IMAGE [CMD...]: create and start a container (-d -i -t --rm -e -v ...; run --help)" },
  { "create", cmd_create, "IMAGE [CMD...]: create a container (the options of run)" },
  { "start", cmd_start, "start containers (-a: attach, -i: with stdin)" },
  { "stop", cmd_stop, "stop containers (-t SECONDS)" },
  { "restart", cmd_restart, "restart containers (-t SECONDS)" },
  { "kill", cmd_kill, "send a signal to containers (-s SIGNAL, default KILL)" },
  { "rm", cmd_rm, "remove containers (-f: also running ones)" },
  { "ps", cmd_ps, "list containers (-a: also stopped ones, -q: ids only)" },
  { "logs", cmd_logs, "show a container's output (-f, --tail N, -t)" },
  { "exec", cmd_exec, "CONTAINER CMD...: run a command in a container (-i -t -d -e -w -u)" },
  { "wait", cmd_wait, "wait for containers to stop, print their exit codes" },
  { "top", cmd_top, "show a container's processes" },
  { "pause", cmd_pause, "freeze containers" },
  { "unpause", cmd_unpause, "thaw containers" },
  { "rename", cmd_rename, "CONTAINER NEW_NAME: rename a container" },
  { "inspect", cmd_inspect, "show a container's or an image's details as JSON" },
  { "history", cmd_history, "show an image's layers" },
  { "tag", cmd_tag, "SOURCE TARGET: give an image another name" },
  { "rmi", cmd_rmi, "remove images (-f to force)" },
  { "load", cmd_load, "load images from a tar archive (-i FILE, default stdin)" },
  { "save", cmd_save, "write images to a tar archive (-o FILE, default stdout)" },
  { "import", cmd_import, "FILE|- [REF]: make an image from a root file system tar (-c CHANGE)" },
  { "network", cmd_network, "create, ls, inspect, rm, prune, connect, disconnect (network --help)" },
  { "port", cmd_port, "CONTAINER [PORT[/PROTO]]: show published ports" },
  { NULL, NULL, NULL },
};

static void usage (FILE *out)
{
  fprintf (out, "usage: berth [-H unix:///path/to/berth.sock] COMMAND [ARGS...]\n\ncommands:\n");
  for (size_t i = 0; commands[i].name; i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].help);
}

static const char *socket_path (int *argc, char ***argv)
{
  const char *host = getenv ("BERTH_HOST");
  if (*argc > 2 && (strcmp ((*argv)[1], "-H") == 0 || strcmp ((*argv)[1], "--host") == 0))
    {
      host = (*argv)[2];
      *argc -= 2;
      *argv += 2;
    }
  if (host == NULL)
    return "/run/berth/berth.sock";
  return strncmp (host, "unix://", 7) == 0 ? host + 7 : host;
}

int main (int argc, char **argv)
{
  berth_log_init ("berth");
  struct client c = { .socket = socket_path (&argc, &argv) };
  if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "help") == 0)
    {
      usage (argc < 2 ? stderr : stdout);
      return argc < 2 ? 1 : 0;
    }
  for (size_t i = 0; commands[i].name; i++)
    if (strcmp (commands[i].name, argv[1]) == 0)
      return commands[i].fn (&c, argc - 1, argv + 1);
  fprintf (stderr, "berth: unknown command `%s` (see berth --help)\n", argv[1]);
  return 1;
}
