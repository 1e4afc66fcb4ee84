/* The image worker process and berthd's side of it (see image-worker.h). */
#include "daemon/image-worker.h"
#include "daemon/daemon.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "image/image.h"
#include "image/distribution.h"

#include <curl/curl.h>
#include <signal.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define RESULT_FD 3
#define RESULT_MAX (16 << 20)

/* ---- the worker ---- */

static int run_load (struct image_store *s, json_t *args, json_t *result, berth_err *err)
{
  cleanup_strv char **lines = NULL;
  int r = image_load (s, 0, &lines, err);
  if (r < 0)
    return r;
  json_t *arr = json_array ();
  for (char **l = lines; l && *l; l++)
    json_array_append_new (arr, json_string (*l));
  json_object_set_new (result, "lines", arr);
  return 0;
}

static int run_import (struct image_store *s, json_t *args, json_t *result, berth_err *err)
{
  cleanup_free char *id = NULL;
  int r = image_import (s, 0, berth_json_str (args, "ref"), berth_json_obj (args, "changes"),
                        berth_json_str (args, "message"), &id, err);
  if (r < 0)
    return r;
  json_object_set_new (result, "id", json_string (id));
  return 0;
}

static int run_save (struct image_store *s, json_t *args, json_t *result, berth_err *err)
{
  cleanup_strv char **names = NULL;
  int r = berth_json_strv (berth_json_arr (args, "names"), &names, "names", err);
  if (r < 0)
    return r;
  return image_save (s, (const char *const *) names, 1, err);
}

/* ---- registry operations: credentials come on fd 0 (never in argv,
 * which every user can read in /proc), progress goes to fd 1 ---- */

static int read_options (json_t *args, struct dist_options *o, berth_err *err)
{
  memset (o, 0, sizeof *o);
  o->progress_fd = 1;
  o->platform = berth_json_str (args, "platform");
  o->max_downloads = (int) berth_json_int (args, "max_downloads", 0);
  json_t *insecure = berth_json_arr (args, "insecure");
  int r = insecure ? berth_json_strv (insecure, &o->insecure, "insecure", err) : 0;
  if (r < 0)
    return r;
  cleanup_free char *secret = berthd_read_to_end (0, 256 * 1024);
  cleanup_json json_t *a = secret && *secret ? berth_json_load_buffer (secret, strlen (secret), "credentials", err) : NULL;
  if (secret && *secret && a == NULL)
    return -EINVAL;
  const char *u = berth_json_str (a, "username"), *p = berth_json_str (a, "password");
  const char *t = berth_json_str (a, "identitytoken");
  o->auth.username = u && *u ? strdup (u) : NULL;
  o->auth.password = p && *p ? strdup (p) : NULL;
  o->auth.identity_token = t && *t ? strdup (t) : NULL;
  curl_global_init (CURL_GLOBAL_DEFAULT);
  return 0;
}

static void free_options (struct dist_options *o)
{
  dist_auth_free (&o->auth);
  cleanup_strvp (&o->insecure);
}

static int run_pull (struct image_store *s, json_t *args, json_t *result, berth_err *err)
{
  struct dist_options o;
  struct dist_pulled *pulled = NULL;
  size_t n = 0;
  int r = read_options (args, &o, err);
  if (r == 0)
    r = image_pull (s, berth_json_str (args, "ref") ? berth_json_str (args, "ref") : "", berth_json_bool (args, "all_tags", false), &o, &pulled, &n, err);
  free_options (&o);
  if (r < 0)
    return r;
  json_t *arr = json_array ();
  for (size_t i = 0; i < n; i++)
    {
      json_t *keys = json_array ();
      for (char **k = pulled[i].keys; k && *k; k++)
        json_array_append_new (keys, json_string (*k));
      json_array_append_new (arr, json_pack ("{s:s,s:s,s:o}", "id", pulled[i].id, "manifest", pulled[i].manifest,
                                             "keys", keys));
    }
  json_object_set_new (result, "images", arr);
  dist_pulled_free (pulled, n);
  return 0;
}

static int run_push (struct image_store *s, json_t *args, json_t *result, berth_err *err)
{
  struct dist_options o;
  int r = read_options (args, &o, err);
  if (r == 0)
    r = image_push (s, berth_json_str (args, "name") ? berth_json_str (args, "name") : "", berth_json_str (args, "tag"), &o, err);
  free_options (&o);
  return r;
}

static int run_login (struct image_store *s, json_t *args, json_t *result, berth_err *err)
{
  struct dist_options o;
  (void) s;
  int r = read_options (args, &o, err);
  if (r == 0)
    r = image_login (berth_json_str (args, "server"), &o, err);
  free_options (&o);
  return r;
}

static const struct
{
  const char *name;
  int (*run) (struct image_store *s, json_t *args, json_t *result, berth_err *err);
} worker_ops[] = {
  { "load", run_load },
  { "import", run_import },
  { "save", run_save },
  { "pull", run_pull },
  { "push", run_push },
  { "login", run_login },
};

static int worker_run (const char *op, const char *root, const char *args_text, json_t *result, berth_err *err)
{
  cleanup_json json_t *args = berth_json_load_buffer (args_text, strlen (args_text), "worker arguments", err);
  if (args == NULL)
    return -EINVAL;
  for (size_t i = 0; i < sizeof worker_ops / sizeof worker_ops[0]; i++)
    if (strcmp (op, worker_ops[i].name) == 0)
      {
        struct image_store *s = NULL;
        int r = image_store_open (root, &s, err);
        if (r < 0)
          return r;
        r = worker_ops[i].run (s, args, result, err);
        image_store_close (s);
        return r;
      }
  return berth_fail (err, 0, "image-worker: unknown operation '%s'", op);
}

int image_worker_main (int argc, char **argv)
{
  if (argc != 4)
    {
      fprintf (stderr, "usage: berthd image-worker load|import|save|pull|push|login IMAGE-ROOT ARGS-JSON\n");
      return 2;
    }
  berth_err err = NULL;
  cleanup_json json_t *result = json_object ();
  int r = worker_run (argv[1], argv[2], argv[3], result, &err);
  if (r < 0)
    {
      json_object_clear (result);
      json_object_set_new (result, "error", json_string (err && err->msg ? err->msg : "image worker failed"));
      json_object_set_new (result, "errno", json_integer (err ? err->errnum : 0));
      berth_error_free (&err);
    }
  cleanup_free char *text = json_dumps (result, JSON_COMPACT);
  if (text == NULL || berth_write_all (RESULT_FD, text, strlen (text)) < 0)
    return 1;
  return r < 0 ? 1 : 0;
}

/* ---- berthd's side ---- */

static int spawn_worker (const char *const *argv, int in_fd, int out_fd, int result_fd, pid_t *pid)
{
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init (&fa);
  if (in_fd >= 0)
    posix_spawn_file_actions_adddup2 (&fa, in_fd, 0);
  else
    posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
  if (out_fd >= 0)
    posix_spawn_file_actions_adddup2 (&fa, out_fd, 1);
  else
    posix_spawn_file_actions_addopen (&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2 (&fa, result_fd, RESULT_FD);
  int r = posix_spawn (pid, argv[0], &fa, NULL, (char *const *) argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  return -r;
}

/* The worker's JSON answer on RFD, after it exited; its error turned back
 * into a berth error with the same errno (so a 404 stays a 404). */
static int collect (pid_t pid, int rfd, json_t **result, berth_err *err)
{
  cleanup_free char *text = berthd_read_to_end (rfd, RESULT_MAX);
  int status;
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return berth_fail_errno (err, "image worker: wait");
  json_t *res = text && *text ? json_loads (text, 0, NULL) : NULL;
  if (res == NULL)
    return berth_fail (err, 0, "the image worker died (%s %d)", WIFSIGNALED (status) ? "signal" : "status",
                       WIFSIGNALED (status) ? WTERMSIG (status) : WEXITSTATUS (status));
  const char *msg = berth_json_str (res, "error");
  if (msg)
    {
      int errnum = (int) berth_json_int (res, "errno", 0);
      int r = berth_fail_as (err, errnum, "%s", msg);
      json_decref (res);
      return r;
    }
  *result = res;
  return 0;
}

static int worker_argv (struct berthd *d, const char *op, json_t *args, char **args_text, char **root, berth_err *err)
{
  *args_text = json_dumps (args, JSON_COMPACT);
  if (*args_text == NULL || asprintf (root, "%s/image", d->cfg.data_root) < 0)
    return berth_fail (err, ENOMEM, "image worker %s", op);
  return 0;
}

/* Run OP with ARGS and wait for its answer (see collect). */
static int call_worker (struct berthd *d, const char *op, json_t *args, int in_fd, int out_fd, json_t **result,
                        berth_err *err)
{
  cleanup_free char *args_text = NULL;
  cleanup_free char *root = NULL;
  if (worker_argv (d, op, args, &args_text, &root, err) < 0)
    return -ENOMEM;
  const char *argv[] = { "/proc/self/exe", "image-worker", op, root, args_text, NULL };
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return berth_fail_errno (err, "image worker: pipe");
  pid_t pid;
  int r = spawn_worker (argv, in_fd, out_fd, p[1], &pid);
  close (p[1]);
  cleanup_close int rfd = p[0];
  if (r < 0)
    return berth_fail (err, -r, "start the image worker");
  r = collect (pid, rfd, result, err);
  /* Whatever happened, the worker may have committed refs.json. */
  image_store_reload (d->images, NULL);
  return r;
}

int image_worker_start (struct berthd *d, const char *op, json_t *args, json_t *secret, struct image_worker_run *run,
                        berth_err *err)
{
  cleanup_free char *args_text = NULL;
  cleanup_free char *root = NULL;
  cleanup_free char *secret_text = secret ? json_dumps (secret, JSON_COMPACT) : NULL;
  run->pid = -1;
  run->progress_fd = run->result_fd = -1;
  if (worker_argv (d, op, args, &args_text, &root, err) < 0)
    return -ENOMEM;
  /* The credentials: an unlinked temp file as the worker's stdin. */
  cleanup_close int in = berthd_temp_file (d);
  if (in < 0)
    return berth_fail (err, EIO, "image worker: temp file");
  if (secret_text && berth_write_all (in, secret_text, strlen (secret_text)) < 0)
    return berth_fail_errno (err, "image worker: temp file");
  lseek (in, 0, SEEK_SET);
  const char *argv[] = { "/proc/self/exe", "image-worker", op, root, args_text, NULL };
  int res[2], prog[2];
  if (pipe2 (res, O_CLOEXEC) < 0)
    return berth_fail_errno (err, "image worker: pipe");
  if (pipe2 (prog, O_CLOEXEC) < 0)
    {
      close (res[0]);
      close (res[1]);
      return berth_fail_errno (err, "image worker: pipe");
    }
  pid_t pid;
  int r = spawn_worker (argv, in, prog[1], res[1], &pid);
  close (res[1]);
  close (prog[1]);
  if (r < 0)
    {
      close (res[0]);
      close (prog[0]);
      return berth_fail (err, -r, "start the image worker");
    }
  run->pid = pid;
  run->progress_fd = prog[0];
  run->result_fd = res[0];
  return 0;
}

int image_worker_finish (struct image_worker_run *run, json_t **result, berth_err *err)
{
  if (run->progress_fd >= 0)
    close (run->progress_fd);
  run->progress_fd = -1;
  int r = collect (run->pid, run->result_fd, result, err);
  close (run->result_fd);
  run->result_fd = -1;
  run->pid = -1;
  return r;
}

void image_worker_cancel (struct image_worker_run *run)
{
  if (run->pid > 0)
    kill (run->pid, SIGTERM);
}

int image_worker_load (struct berthd *d, int in_fd, char ***lines, berth_err *err)
{
  cleanup_json json_t *args = json_object (), *res = NULL;
  int r = call_worker (d, "load", args, in_fd, -1, &res, err);
  if (r < 0)
    return r;
  return berth_json_strv (berth_json_arr (res, "lines"), lines, "image worker", err);
}

int image_worker_import (struct berthd *d, int in_fd, const char *ref, json_t *changes, const char *message,
                         char **id, berth_err *err)
{
  cleanup_json json_t *args = json_object (), *res = NULL;
  if (ref)
    json_object_set_new (args, "ref", json_string (ref));
  if (message)
    json_object_set_new (args, "message", json_string (message));
  if (changes)
    json_object_set (args, "changes", changes);
  int r = call_worker (d, "import", args, in_fd, -1, &res, err);
  if (r < 0)
    return r;
  const char *s = berth_json_str (res, "id");
  if (s == NULL || (*id = strdup (s)) == NULL)
    return berth_fail (err, 0, "the image worker gave no image id");
  return 0;
}

int image_worker_save (struct berthd *d, const char *const *names, int out_fd, berth_err *err)
{
  cleanup_json json_t *args = json_object (), *res = NULL;
  json_t *arr = json_array ();
  for (size_t i = 0; names[i]; i++)
    json_array_append_new (arr, json_string (names[i]));
  json_object_set_new (args, "names", arr);
  return call_worker (d, "save", args, -1, out_fd, &res, err);
}
