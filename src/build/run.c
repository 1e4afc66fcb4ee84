/* RUN: the command runs in a container of berth's runtime (`runtime run`
 * in the foreground, its output streamed to the client as it comes) on
 * the step's root, with the stage's env (plus the build args in scope),
 * user and working folder, on the build's network (`--network`, default
 * the default bridge) set up by berthd's network code as for a container
 * started with that network mode.  The upper folder then becomes the
 * step's layer. */
#include "build/builder.h"
#include "daemon/container.h"
#include "daemon/container-internal.h"
#include "daemon/network.h"
#include "daemon/spec-gen.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

json_t *build_command (struct stage *st, const struct df_instr *in, size_t from);

/* A RUN whose text is only a heredoc runs the heredoc's body as the
 * script; other heredocs are handed to the shell as written. */
static json_t *run_command (struct stage *st, const struct df_instr *in)
{
  if (in->json_form || in->nheredocs == 0)
    return build_command (st, in, 0);
  struct df_instr copy = *in;
  cleanup_free char *text = NULL;
  const char *a = in->args[0];
  while (*a == ' ' || *a == '\t')
    a++;
  if (in->nheredocs == 1 && strncmp (a, "<<", 2) == 0 && strchr (a, ' ') == NULL)
    text = strdup (in->heredocs[0].content);
  else
    {
      text = strdup (in->args[0]);
      for (size_t i = 0; text && i < in->nheredocs; i++)
        {
          char *t = NULL;
          if (asprintf (&t, "%s\n%s%s", text, in->heredocs[i].content, in->heredocs[i].name) < 0)
            t = NULL;
          free (text);
          text = t;
        }
    }
  char *args[] = { text, NULL };
  copy.args = args;
  copy.nargs = 1;
  return build_command (st, &copy, 0);
}

static char *join_words (json_t *arr)
{
  size_t i, len = 1;
  json_t *e;
  json_array_foreach (arr, i, e)
    len += strlen (json_string_value (e) ? json_string_value (e) : "") + 1;
  char *s = calloc (1, len);
  json_array_foreach (arr, i, e)
    if (s)
      {
        if (i)
          strcat (s, " ");
        strcat (s, json_string_value (e) ? json_string_value (e) : "");
      }
  return s;
}

/* Docker's history text: "|2 A=1 B=2 /bin/sh -c make" when build args
 * are in scope (not the predefined proxy ones). */
static char *run_created_by (json_t *cmd, char **args)
{
  cleanup_free char *words = join_words (cmd);
  cleanup_free char *prefix = NULL;
  size_t n = 0;
  for (char **a = args; a && *a; a++)
    {
      cleanup_free char *name = strndup (*a, strcspn (*a, "="));
      if (name == NULL || build_arg_is_proxy (name))
        continue;
      char *t = NULL;
      if (asprintf (&t, "%s %s", prefix ? prefix : "", *a) < 0)
        return NULL;
      free (prefix);
      prefix = t;
      n++;
    }
  char *out = NULL;
  if (words == NULL)
    return NULL;
  if (n == 0)
    return strdup (words);
  return asprintf (&out, "|%zu%s %s", n, prefix, words) < 0 ? NULL : out;
}

/* The step container's networking, made and undone by berthd's network
 * code (network.h) through a container object that lives only for the
 * step: the same sandbox, endpoint, /etc/hosts lines and resolv.conf as
 * `docker run --network MODE` gets. */
struct step_net
{
  struct container c;
  char *netns;   /* the sandbox to join, or NULL (host) */
  char *hosts;   /* the endpoint's /etc/hosts lines */
  bool up;
};

static int step_net_up (struct build *b, const char *id, json_t *config, struct step_net *n, berth_err *err)
{
  const char *mode = b->req->network_mode && *b->req->network_mode ? b->req->network_mode : "default";
  if (strncmp (mode, "container:", 10) == 0)
    return berth_fail_as (err, EINVAL, "network mode %s is not supported for builds", mode);
  cleanup_json json_t *hc_in = json_pack ("{s:s}", "NetworkMode", mode);
  if (hc_in == NULL)
    return berth_fail (err, ENOMEM, "RUN");
  int r = host_config_normalize (hc_in, &n->c.host_config, err);
  if (r == 0)
    r = network_container_prepare (b->d, n->c.host_config, NULL, &n->c.net_settings, err);
  if (r < 0)
    return r;
  snprintf (n->c.id, sizeof n->c.id, "%s", id);
  if (asprintf (&n->c.name, "/%.12s", id) < 0)
    return berth_fail (err, ENOMEM, "RUN");
  n->c.config = json_incref (config);
  r = network_container_up (b->d, &n->c, &n->netns, err);
  if (r < 0)
    return berth_error_prefix (err, "RUN: network");
  n->up = true;
  n->hosts = network_hosts_lines (b->d, &n->c);
  return 0;
}

/* Idempotent; also after a failed step_net_up. */
static void step_net_down (struct build *b, struct step_net *n)
{
  if (n->up)
    network_container_down (b->d, &n->c);
  n->up = false;
  free (n->netns);
  free (n->hosts);
  free (n->c.name);
  json_decref (n->c.config);
  json_decref (n->c.host_config);
  json_decref (n->c.net_settings);
  memset (n, 0, sizeof *n);
}

static int write_spec (struct build *b, struct stage *st, struct step_root *root, const char *id, json_t *cmd,
                       char **args, struct step_net *net, berth_err *err)
{
  json_t *config = stage_config (st);
  json_t *env = json_array ();
  json_t *e;
  size_t i;
  json_array_foreach (json_object_get (config, "Env"), i, e)
    json_array_append (env, e);
  for (char **a = args; a && *a; a++)
    json_array_append_new (env, json_string (*a));
  char host[13];
  snprintf (host, sizeof host, "%.12s", id);
  cleanup_json json_t *c = json_pack ("{s:O,s:o,s:s,s:s,s:s}", "Cmd", cmd, "Env", env, "User",
                                      json_string_value (json_object_get (config, "User")) ?: "", "WorkingDir",
                                      json_string_value (json_object_get (config, "WorkingDir")) ?: "",
                                      "Hostname", host);
  cleanup_json json_t *spec = NULL;
  cleanup_free char *cgroups = NULL, *path = NULL;
  if (c == NULL || asprintf (&cgroups, "/berth/%s", id) < 0 || asprintf (&path, "%s/config.json", root->dir) < 0)
    return berth_fail (err, ENOMEM, "RUN");
  int r = step_net_up (b, id, c, net, err);
  if (r < 0)
    return r;
  struct spec_input in = {
    .id = id,
    .config = c,
    .host_config = net->c.host_config,
    .rootfs = root->rootfs,
    .container_dir = root->dir,
    .cgroups_path = cgroups,
    .shared_netns = net->netns,
    .hosts_extra = net->hosts,
    .embedded_dns = network_container_uses_dns (b->d, &net->c),
  };
  if (spec_generate (&in, &spec, err) < 0)
    return -EINVAL;
  return berth_json_write_file (path, spec, err);
}

/* Run the container, streaming its output; returns its exit status. */
static int run_container (struct build *b, struct step_root *root, const char *id, int *status, berth_err *err)
{
  const char *runtime = container_runtime_path (b->d, "berth");
  cleanup_free char *rtroot = container_runtime_root (b->d, "berth");
  if (runtime == NULL || rtroot == NULL)
    return berth_fail (err, ENOENT, "RUN: no OCI runtime");
  if (berth_mkdir_p (rtroot, 0700, err) < 0)
    return -EIO;
  const char *argv[] = { runtime, "--root", rtroot, "run", "--bundle", root->dir, id, NULL };
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return berth_fail_errno (err, "pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2 (&fa, p[1], 1);
  posix_spawn_file_actions_adddup2 (&fa, p[1], 2);
  pid_t pid;
  int sr = posix_spawn (&pid, argv[0], &fa, NULL, (char *const *) argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  close (p[1]);
  if (sr != 0)
    {
      close (p[0]);
      return berth_fail (err, sr, "RUN: start %s", runtime);
    }
  char buf[8192];
  int r = 0;
  for (;;)
    {
      struct pollfd pfd = { .fd = p[0], .events = POLLIN };
      int pr = poll (&pfd, 1, 1000);
      if (pr == 0)
        {
          /* Quiet: is the client still there? */
          if (r == 0 && build_output (b, "", 0) == -EPIPE)
            r = -EPIPE;
        }
      else if (pr > 0)
        {
          ssize_t n = read (p[0], buf, sizeof buf);
          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            break;
          if (r == 0 && build_output (b, buf, (size_t) n) < 0)
            r = -EPIPE;
        }
      else if (errno != EINTR)
        break;
      if (r == -EPIPE)
        {
          /* The client went away: stop the step. */
          const char *kargv[] = { runtime, "--root", rtroot, "kill", id, "KILL", NULL };
          berthd_spawn_capture (kargv, -1, NULL);
        }
    }
  close (p[0]);
  int st;
  while (waitpid (pid, &st, 0) < 0)
    if (errno != EINTR)
      return berth_fail_errno (err, "RUN: wait");
  *status = WIFEXITED (st) ? WEXITSTATUS (st) : 128 + WTERMSIG (st);
  if (r < 0)
    return berth_fail (err, EPIPE, "the client went away");
  return 0;
}

int build_run_step (struct build *b, struct stage *st, const struct df_instr *in, berth_err *err)
{
  cleanup_json json_t *cmd = run_command (st, in);
  cleanup_strv char **args = stage_run_args (st);
  cleanup_free char *created_by = cmd ? run_created_by (cmd, args) : NULL;
  if (created_by == NULL)
    return berth_fail (err, ENOMEM, "RUN");
  cleanup_free char *key = cache_key (st->image_id, created_by, NULL);
  int r = build_cache_hit (b, st, key, err);
  if (r != 0)
    return r < 0 ? r : 0;
  char id[65];
  if (berthd_new_id (id) < 0)
    return berth_fail (err, EIO, "RUN: no random id");
  struct step_root root;
  struct step_net net = { 0 };
  r = step_root_mount (b, st->image_id, true, &root, err);
  if (r == 0)
    r = write_spec (b, st, &root, id, cmd, args, &net, err);
  if (r == 0)
    r = build_say (b, " ---> Running in %.12s\n", id);
  int status = 0;
  if (r == 0)
    r = run_container (b, &root, id, &status, err);
  /* The endpoint goes with the step, whatever happened to it. */
  step_net_down (b, &net);
  if (r == 0 && status != 0)
    {
      cleanup_free char *words = join_words (cmd);
      if (b->req->exit_code)
        *b->req->exit_code = status;
      r = berth_fail_as (err, EINVAL, "The command '%s' returned a non-zero code: %d", words ? words : "",
                         status);
    }
  if (r == 0)
    r = build_say (b, "Removing intermediate container %.12s\n", id);
  if (r == 0)
    {
      umount2 (root.rootfs, MNT_DETACH);
      root.mounted = false;
      r = step_root_layer_tar (&root, err);
    }
  if (r == 0)
    r = build_commit (b, st, created_by, &root, err);
  if (r == 0)
    cache_put (b, key, st->image_id);
  step_root_release (&root);
  return r;
}
