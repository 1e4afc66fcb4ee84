/* The /exec API resource: processes started in running containers.
 *
 * An exec is kept in memory (Docker does not persist them either).  Each
 * start gets its own berth-monitor in exec mode, with its state folder at
 * <exec-root>/x/<exec id>; the exit file there is the exec's result. */
#include "daemon/container-internal.h"
#include "daemon/monitor-client.h"
#include "daemon/spec-gen.h"
#include "daemon/stream.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


struct exec_rec
{
  char id[65];
  char container_id[65];
  json_t *config;       /* the create body */
  char *state_dir;
  bool started;
  pid_t monitor_pid;
  int start_failed;     /* Docker's 126/127 when the process never ran */
  struct exec_rec *next;
};

static pthread_mutex_t exec_lock = PTHREAD_MUTEX_INITIALIZER;
static struct exec_rec *execs;

static struct exec_rec *exec_find_locked (const char *id)
{
  for (struct exec_rec *e = execs; e; e = e->next)
    if (strcmp (e->id, id) == 0)
      return e;
  return NULL;
}

static void exec_free (struct exec_rec *e)
{
  json_decref (e->config);
  if (e->state_dir)
    berth_rm_rf (e->state_dir);
  free (e->state_dir);
  free (e);
}

void exec_forget_container (struct berthd *d, const char *container_id)
{
  (void) d;
  pthread_mutex_lock (&exec_lock);
  for (struct exec_rec **p = &execs; *p;)
    {
      struct exec_rec *e = *p;
      if (strcmp (e->container_id, container_id) == 0)
        {
          *p = e->next;
          exec_free (e);
        }
      else
        p = &e->next;
    }
  pthread_mutex_unlock (&exec_lock);
}

static void add_exec_id (struct container *c, const char *id)
{
  size_t n = 0;
  while (c->exec_ids && c->exec_ids[n])
    n++;
  char **nv = realloc (c->exec_ids, (n + 2) * sizeof *nv);
  if (nv == NULL)
    return;
  nv[n] = strdup (id);
  nv[n + 1] = NULL;
  c->exec_ids = nv;
}

static bool flag (json_t *o, const char *key)
{
  return json_is_true (json_object_get (o, key));
}

/* Docker's exec event actions name the command: "exec_start: sh -c ls". */
static void exec_event (struct berthd *d, struct container *c, struct exec_rec *e, const char *what, json_t *attrs)
{
  size_t len = strlen (what) + 3, i;
  json_t *v, *cmd = json_object_get (e->config, "Cmd");
  json_array_foreach (cmd, i, v) len += strlen (json_string_value (v) ?: "") + 1;
  cleanup_free char *action = calloc (1, len);
  if (action == NULL)
    return json_decref (attrs);
  strcpy (action, what);
  strcat (action, ":");
  json_array_foreach (cmd, i, v)
    {
      strcat (action, " ");
      strcat (action, json_string_value (v) ?: "");
    }
  json_object_set_new (attrs, "execID", json_string (e->id));
  container_event (d, c, action, attrs);
}

/* ---- create ---- */

void api_exec_create (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  cleanup_json json_t *body = request_json (req, rep);
  if (body == NULL)
    return;
  struct container *c = api_container_lookup (req, rep);
  if (c == NULL)
    return;
  json_t *cmd = json_object_get (body, "Cmd");
  containers_lock (d->containers);
  enum container_status st = c->status;
  containers_unlock (d->containers);
  unsigned char raw[32];
  struct exec_rec *e = calloc (1, sizeof *e);
  const char *keys = json_string_value (json_object_get (body, "DetachKeys"));
  char parsed[17];
  if (!json_is_array (cmd) || json_array_size (cmd) == 0)
    reply_error (rep, 400, "No exec command specified");
  else if (keys && *keys && stream_parse_detach_keys (keys, parsed, sizeof parsed) < 0)
    reply_error (rep, 400, "Invalid detach keys (%s) provided", keys);
  else if (st == CT_PAUSED)
    reply_error (rep, 409, "Container %s is paused, unpause the container before exec", c->name + 1);
  else if (st != CT_RUNNING)
    reply_error (rep, 409, "Container %s is not running", c->id);
  else if (e == NULL || getentropy (raw, sizeof raw) < 0)
    reply_error (rep, 500, "cannot create an exec instance");
  else
    {
      for (size_t i = 0; i < sizeof raw; i++)
        snprintf (e->id + 2 * i, 3, "%02x", raw[i]);
      snprintf (e->container_id, sizeof e->container_id, "%s", c->id);
      e->config = json_incref (body);
      if (asprintf (&e->state_dir, "%s/x/%s", d->cfg.exec_root, e->id) < 0)
        e->state_dir = NULL;
      pthread_mutex_lock (&exec_lock);
      e->next = execs;
      execs = e;
      pthread_mutex_unlock (&exec_lock);
      containers_lock (d->containers);
      add_exec_id (c, e->id);
      containers_unlock (d->containers);
      exec_event (d, c, e, "exec_create", json_object ());
      reply_json (rep, 201, json_pack ("{s:s}", "Id", e->id));
      e = NULL;
    }
  free (e);
  container_put (d->containers, c);
}

/* ---- start ---- */

static int write_process (struct container *c, struct exec_rec *e, char **path, berth_err *err)
{
  cleanup_free char *spec_path = NULL, *rootfs = container_rootfs_path (c);
  cleanup_json json_t *spec = NULL, *process = NULL;
  if (rootfs == NULL || asprintf (&spec_path, "%s/config.json", c->dir) < 0
      || asprintf (path, "%s/process.json", e->state_dir) < 0)
    return berth_fail (err, ENOMEM, "exec");
  spec = berth_json_load_file (spec_path, err);
  if (spec == NULL)
    return -EIO;
  if (exec_process_generate (spec, e->config, rootfs, &process, err) < 0)
    return -EINVAL;
  return berth_json_replace_file (*path, process, err);
}

static int spawn_exec_monitor (struct berthd *d, struct container *c, struct exec_rec *e, berth_err *err)
{
  cleanup_free char *process = NULL, *root = container_runtime_root (d, c->runtime);
  berth_rm_rf (e->state_dir);
  if (root == NULL || berth_mkdir_p (e->state_dir, 0700, err) < 0 || write_process (c, e, &process, err) < 0)
    return -EIO;
  struct monitor_spawn ms = {
    .monitor_path = d->monitor_path,
    .id = c->id,
    .state_dir = e->state_dir,
    .runtime_path = container_runtime_path (d, c->runtime),
    .runtime_root = root,
    .exec_process = process,
    .tty = flag (e->config, "Tty"),
    .stdin_open = flag (e->config, "AttachStdin"),
    .stdin_once = true,
  };
  pid_t pid;
  int r = monitor_spawn (&ms, &e->monitor_pid, &pid, err);
  if (r == 0)
    reaper_watch_exec (d->containers, e->monitor_pid);
  return r;
}

struct exec_session
{
  struct berthd *d;
  struct container *c;
  struct exec_rec *e;   /* lives until the container is removed */
};

static void exec_session_free (void *p)
{
  struct exec_session *s = p;
  container_put (s->d->containers, s->c);
  free (s);
}

static void exec_session (int sock, const char *extra, size_t extra_len, void *ctx)
{
  struct exec_session *s = ctx;
  struct exec_rec *e = s->e;
  berth_err err = NULL;
  struct relay_opts o = {
    .tty = flag (e->config, "Tty"),
    .stdin = flag (e->config, "AttachStdin"),
    .stdout = flag (e->config, "AttachStdout"),
    .stderr = flag (e->config, "AttachStderr"),
  };
  char keys[17];
  const char *spec = json_string_value (json_object_get (e->config, "DetachKeys"));
  if (spec && *spec && stream_parse_detach_keys (spec, keys, sizeof keys) >= 0)
    o.detach_keys = keys;
  cleanup_close int mon = monitor_connect (e->state_dir, &err);
  if (mon >= 0)
    {
      char flags = (o.stdout ? MON_ATTACH_STDOUT : 0) | (o.stderr ? MON_ATTACH_STDERR : 0);
      monitor_send (mon, MON_ATTACH, &flags, 1);
    }
  if (mon < 0 || monitor_start (e->state_dir, &err) < 0)
    {
      /* Docker shows the runtime's complaint on the stream itself. */
      docker_style_error (&err, NULL);
      const char *msg = err ? err->msg : "exec failed";
      /* Known before the client asks (it inspects as soon as the stream
       * ends), whatever the monitor is still writing. */
      pthread_mutex_lock (&exec_lock);
      e->start_failed = strstr (msg, "no such file") || strstr (msg, "not found") ? 127 : 126;
      pthread_mutex_unlock (&exec_lock);
      cleanup_free char *line = NULL;
      if (asprintf (&line, "OCI runtime exec failed: %s\r\n", msg) > 0)
        stream_write_frame (stream_sink_fd, &sock, o.tty, STREAM_STDOUT, line, strlen (line));
      berth_error_free (&err);
      return;
    }
  exec_event (s->d, s->c, e, "exec_start", json_object ());
  int code = -1;
  stream_relay (sock, extra, extra_len, mon, &o, &code);
  char codestr[16];
  snprintf (codestr, sizeof codestr, "%d", code);
  container_event (s->d, s->c, "exec_die", json_pack ("{s:s, s:s}", "execID", e->id, "exitCode", codestr));
}

void api_exec_start (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  cleanup_json json_t *body = req->body_len ? request_json (req, rep) : json_object ();
  if (body == NULL)
    return;
  pthread_mutex_lock (&exec_lock);
  struct exec_rec *e = exec_find_locked (req->params[0]);
  bool already = e && e->started;
  if (e && !already)
    e->started = true;
  pthread_mutex_unlock (&exec_lock);
  if (e == NULL)
    return reply_error (rep, 404, "No such exec instance: %s", req->params[0]);
  if (already)
    return reply_error (rep, 409, "Exec command %s is already running", e->id);
  struct container *c = NULL;
  berth_err err = NULL;
  if (container_get (d->containers, e->container_id, &c, &err) < 0)
    return reply_berth_error (rep, &err);
  containers_lock (d->containers);
  bool running = c->status == CT_RUNNING;
  containers_unlock (d->containers);
  if (json_is_boolean (json_object_get (body, "Tty")))
    json_object_set (e->config, "Tty", json_object_get (body, "Tty"));
  if (!running)
    reply_error (rep, 409, "Container %s is not running", c->id);
  else if (spawn_exec_monitor (d, c, e, &err) < 0)
    reply_berth_error (rep, &err);
  else if (flag (body, "Detach"))
    {
      if (monitor_start (e->state_dir, &err) < 0)
        reply_berth_error (rep, &err);
      else
        {
          exec_event (d, c, e, "exec_start", json_object ());
          reply_text (rep, 200, NULL, "");
        }
    }
  else
    {
      struct exec_session *s = calloc (1, sizeof *s);
      if (s)
        {
          *s = (struct exec_session){ .d = d, .c = c, .e = e };
          bool tty = flag (e->config, "Tty");
          bool new_api = req->api_version[0] == '\0' || strcmp (req->api_version, "1.42") >= 0;
          reply_upgrade (rep,
                         tty || !new_api ? "application/vnd.docker.raw-stream"
                                         : "application/vnd.docker.multiplexed-stream",
                         exec_session, s, exec_session_free);
          return;
        }
      reply_error (rep, 500, "out of memory");
    }
  container_put (d->containers, c);
}

/* ---- inspect, resize ---- */

void api_exec_inspect (struct request *req, struct reply *rep)
{
  pthread_mutex_lock (&exec_lock);
  struct exec_rec *e = exec_find_locked (req->params[0]);
  json_t *j = NULL;
  if (e)
    {
      int code = 0;
      bool exited = e->started && monitor_read_exit (e->state_dir, &code, NULL, NULL, NULL, NULL) == 0;
      if (e->start_failed)
        {
          exited = true;
          code = e->start_failed;
        }
      int fd = e->started && !exited ? monitor_pidfd (e->monitor_pid, 0) : -1;
      bool running = fd >= 0;
      if (fd >= 0)
        close (fd);
      json_t *cmd = json_object_get (e->config, "Cmd");
      json_t *args = json_deep_copy (cmd);
      if (json_array_size (args) > 0)
        json_array_remove (args, 0);
      cleanup_free char *pid_path = NULL, *pid_s = NULL;
      int pid = 0;
      if (running && asprintf (&pid_path, "%s/pid", e->state_dir) > 0
          && berth_read_file (pid_path, 64, &pid_s, NULL, NULL) == 0)
        pid = atoi (pid_s);
      const char *user = json_string_value (json_object_get (e->config, "User"));
      j = json_pack ("{s:s, s:b, s:o, s:{s:b, s:s, s:o, s:b, s:s}, s:b, s:b, s:b, s:b, s:s, s:s, s:i}", "ID", e->id,
                     "Running", running, "ExitCode", exited ? json_integer (code) : json_null (), "ProcessConfig",
                     "tty", flag (e->config, "Tty"), "entrypoint", json_string_value (json_array_get (cmd, 0)) ?: "",
                     "arguments", args ? args : json_array (), "privileged", flag (e->config, "Privileged"), "user",
                     user ? user : "", "OpenStdin", flag (e->config, "AttachStdin"), "OpenStderr",
                     flag (e->config, "AttachStderr"), "OpenStdout", flag (e->config, "AttachStdout"), "CanRemove",
                     0, "ContainerID", e->container_id, "DetachKeys", "", "Pid", pid);
    }
  pthread_mutex_unlock (&exec_lock);
  if (j == NULL)
    return reply_error (rep, 404, "No such exec instance: %s", req->params[0]);
  reply_json (rep, 200, j);
}

void api_exec_resize (struct request *req, struct reply *rep)
{
  pthread_mutex_lock (&exec_lock);
  struct exec_rec *e = exec_find_locked (req->params[0]);
  cleanup_free char *dir = e && e->state_dir ? strdup (e->state_dir) : NULL;
  pthread_mutex_unlock (&exec_lock);
  if (dir == NULL)
    return reply_error (rep, 404, "No such exec instance: %s", req->params[0]);
  const char *h = request_query (req, "h"), *w = request_query (req, "w");
  berth_err err = NULL;
  if (monitor_resize (dir, h ? atoi (h) : 0, w ? atoi (w) : 0, &err) < 0)
    return reply_berth_error (rep, &err);
  reply_text (rep, 200, NULL, "");
}
