/* berth exec: POST /containers/NAME/exec, then POST /exec/ID/start on a
 * hijacked connection (or detached), then the exit code from GET
 * /exec/ID/json, as docker exec does. */
#include "containers.h"
#include "common/cleanup.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const char exec_usage[] =
    "usage: berth exec [-i] [-t] [-d] [-e KEY=VALUE] [-w DIR] [-u USER] CONTAINER COMMAND [ARG...]";

struct exec_opts
{
  bool interactive;
  bool tty;
  bool detach;
  json_t *body;   /* the exec create body */
};

static int parse_exec (int argc, char **argv, struct exec_opts *o)
{
  static const struct option opts[] = { { "interactive", no_argument, NULL, 'i' },
                                        { "tty", no_argument, NULL, 't' },
                                        { "detach", no_argument, NULL, 'd' },
                                        { "env", required_argument, NULL, 'e' },
                                        { "workdir", required_argument, NULL, 'w' },
                                        { "user", required_argument, NULL, 'u' },
                                        { NULL, 0, NULL, 0 } };
  json_t *env = json_array ();
  json_object_set_new (o->body, "Env", env);
  int opt;
  optind = 1;
  while ((opt = getopt_long (argc, argv, "+itde:w:u:", opts, NULL)) != -1)
    switch (opt)
      {
      case 'i': o->interactive = true; break;
      case 't': o->tty = true; break;
      case 'd': o->detach = true; break;
      case 'e': json_array_append_new (env, json_string (optarg)); break;
      case 'w': json_object_set_new (o->body, "WorkingDir", json_string (optarg)); break;
      case 'u': json_object_set_new (o->body, "User", json_string (optarg)); break;
      default: return -1;
      }
  if (argc - optind < 2)
    return -1;
  json_t *cmd = json_array ();
  for (int i = optind + 1; i < argc; i++)
    json_array_append_new (cmd, json_string (argv[i]));
  json_object_set_new (o->body, "Cmd", cmd);
  bool attach = !o->detach;
  json_object_set_new (o->body, "Tty", json_boolean (o->tty));
  json_object_set_new (o->body, "AttachStdin", json_boolean (attach && o->interactive));
  json_object_set_new (o->body, "AttachStdout", json_boolean (attach));
  json_object_set_new (o->body, "AttachStderr", json_boolean (attach));
  json_object_set_new (o->body, "Detach", json_boolean (o->detach));
  struct winsize ws;
  if (o->tty && ioctl (1, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
    json_object_set_new (o->body, "ConsoleSize", json_pack ("[ii]", ws.ws_row, ws.ws_col));
  return optind;
}

/* The exit code of a finished exec session. */
static int exec_exit_code (struct client *c, const char *exec_path)
{
  berth_err err = NULL;
  cleanup_free char *path = NULL;
  if (asprintf (&path, "%s/json", exec_path) < 0)
    return 1;
  cleanup_json json_t *info = client_json (c, "GET", path, NULL, &err);
  if (info == NULL)
    return cli_fail (&err);
  return (int) (berth_json_int (info, "ExitCode", 0) & 0xff);
}

int cmd_exec (struct client *c, int argc, char **argv)
{
  struct exec_opts o = { .body = json_object () };
  cleanup_json json_t *body_owner = o.body;
  berth_err err = NULL;
  int first = parse_exec (argc, argv, &o);
  if (first < 0)
    return cli_usage (exec_usage);
  cleanup_free char *create = container_path (argv[first], "/exec");
  cleanup_free char *body = json_dumps (o.body, JSON_COMPACT);
  cleanup_json json_t *created = client_json (c, "POST", create, body, &err);
  if (created == NULL)
    return cli_fail (&err);
  const char *id = berth_json_str (created, "Id");
  cleanup_free char *eid = id ? client_escape (id) : NULL, *exec_path = NULL, *start = NULL, *resize = NULL;
  if (eid == NULL || asprintf (&exec_path, "/exec/%s", eid) < 0 || asprintf (&start, "%s/start", exec_path) < 0
      || asprintf (&resize, "%s/resize", exec_path) < 0)
    return 1;
  cleanup_json json_t *start_body = json_pack ("{s:b, s:b}", "Detach", o.detach, "Tty", o.tty);
  if (json_object_get (o.body, "ConsoleSize"))
    json_object_set (start_body, "ConsoleSize", json_object_get (o.body, "ConsoleSize"));
  cleanup_free char *sbody = json_dumps (start_body, JSON_COMPACT);
  if (o.detach)
    {
      cleanup_json json_t *r = client_json (c, "POST", start, sbody, &err);
      return r ? 0 : cli_fail (&err);
    }
  int fd = -1;
  struct raw_head head = { 0 };
  if (client_hijack (c, start, sbody, &fd, &head, &err) < 0)
    return cli_fail (&err);
  cleanup_close int sock = fd;
  struct pump_opts po = { .tty = o.tty, .send_stdin = o.interactive, .resize = resize };
  int broken = pump_streams (c, sock, head.extra, head.extra_len, &po);
  raw_head_free (&head);
  if (broken < 0)
    fprintf (stderr, "berth: the exec output stream broke off\n");
  return exec_exit_code (c, exec_path);
}
