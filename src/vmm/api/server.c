/* The API server: routing, JSON bodies, Firecracker's errors, the Unix
 * socket, and the serve loop that waits for the guest (or a signal) to end
 * it.  The HTTP transport (http.c) runs in the API thread and serves
 * requests one at a time, as Firecracker does, so the handlers need no
 * locking among themselves. */
#include "vmm/api/api-internal.h"
#include "vmm/api/http.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- replies ---- */

void api_ok (struct api_reply *rep)
{
  if (rep->body)
    json_decref (rep->body);
  rep->status = 204;
  rep->body = NULL;
}

void api_json (struct api_reply *rep, json_t *body)
{
  if (rep->body)
    json_decref (rep->body);
  rep->status = body ? 200 : 500;
  rep->body = body ? body : json_pack ("{s:s}", "fault_message", "out of memory");
}

void api_fault (struct api_reply *rep, const char *fmt, ...)
{
  char *msg = NULL;
  va_list ap;
  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  va_end (ap);
  if (rep->body)
    json_decref (rep->body);
  rep->status = 400;
  rep->body = json_pack ("{s:s}", "fault_message", msg ? msg : "error");
  free (msg);
}

void api_fault_err (struct api_reply *rep, berth_err *err)
{
  api_fault (rep, "%s", err && *err ? (*err)->msg : "internal error");
  berth_error_free (err);
}

/* ---- routing ---- */

enum when
{
  ANY_TIME,
  PRE_BOOT,
  RUNNING,
};

struct route
{
  const char *method;
  const char *path;   /* a trailing "/" takes one {id} segment */
  enum when when;
  api_handler fn;
};

static const struct route routes[] = {
  { "GET", "/", ANY_TIME, api_instance_get },
  { "GET", "/vm/config", ANY_TIME, api_vm_config_get },
  { "PUT", "/boot-source", PRE_BOOT, api_boot_source_put },
  { "GET", "/machine-config", ANY_TIME, api_machine_config_get },
  { "PUT", "/machine-config", PRE_BOOT, api_machine_config_put },
  { "PATCH", "/machine-config", PRE_BOOT, api_machine_config_patch },
  { "PUT", "/drives/", PRE_BOOT, api_drive_put },
  { "PATCH", "/drives/", PRE_BOOT, api_drive_patch },
  { "PUT", "/network-interfaces/", PRE_BOOT, api_net_put },
  { "PUT", "/vsock", PRE_BOOT, api_vsock_put },
  { "PUT", "/balloon", PRE_BOOT, api_balloon_put },
  { "GET", "/balloon", ANY_TIME, api_balloon_get },
  { "PATCH", "/balloon", RUNNING, api_balloon_patch },
  { "GET", "/balloon/statistics", RUNNING, api_balloon_stats_get },
  { "PATCH", "/balloon/statistics", RUNNING, api_balloon_stats_patch },
  /* The action decides the state it needs (InstanceStart, SendCtrlAltDel). */
  { "PUT", "/actions", ANY_TIME, api_actions_put },
  { NULL, NULL, ANY_TIME, NULL },
};

/* PATH matches ROUTE's path; *ID gets the {id} segment (pointing into
 * PATH) for paths ending in "/". */
static bool path_matches (const char *pattern, const char *path, const char **id)
{
  size_t n = strlen (pattern);
  *id = NULL;
  if (n > 1 && pattern[n - 1] == '/')
    {
      if (strncmp (pattern, path, n) != 0 || path[n] == '\0' || strchr (path + n, '/'))
        return false;
      *id = path + n;
      return true;
    }
  return strcmp (pattern, path) == 0;
}

static const struct route *find_route (const char *method, const char *path, const char **id)
{
  for (const struct route *r = routes; r->method; r++)
    if (strcmp (r->method, method) == 0 && path_matches (r->path, path, id))
      return r;
  return NULL;
}

static bool api_is_started (struct vmm_api *api)
{
  pthread_mutex_lock (&api->lock);
  bool s = api->started;
  pthread_mutex_unlock (&api->lock);
  return s;
}

/* The body of a PUT/PATCH: a JSON object, or a fault. */
static json_t *parse_body (const char *body, size_t len, struct api_reply *rep)
{
  if (len > VMM_API_MAX_BODY)
    {
      api_fault (rep, "Request payload with size %zu is larger than the limit of %d allowed by server.", len,
                 VMM_API_MAX_BODY);
      return NULL;
    }
  if (body == NULL || len == 0)
    {
      api_fault (rep, "The request body is empty: expected a JSON object.");
      return NULL;
    }
  berth_err err = NULL;
  json_t *j = berth_json_load_buffer (body, len, "request body", &err);
  if (j == NULL)
    {
      api_fault_err (rep, &err);
      return NULL;
    }
  if (!json_is_object (j))
    {
      json_decref (j);
      api_fault (rep, "request body: expected a JSON object");
      return NULL;
    }
  return j;
}

static void dispatch (struct vmm_api *api, const char *method, const char *path, const char *body, size_t len,
                      struct api_reply *rep)
{
  const char *id = NULL;
  const struct route *r = find_route (method, path, &id);
  if (r == NULL)
    {
      api_fault (rep, "Invalid request method and/or path: %s %s.", method, path);
      return;
    }
  bool started = api_is_started (api);
  if (r->when == PRE_BOOT && started)
    {
      api_fault (rep, API_NOT_AFTER_START);
      return;
    }
  if (r->when == RUNNING && !started)
    {
      api_fault (rep, API_NOT_BEFORE_START);
      return;
    }
  struct api_call call = { .method = method, .id = id };
  if (strcmp (method, "GET") != 0 && (call.body = parse_body (body, len, rep)) == NULL)
    return;
  r->fn (api, &call, rep);
  if (call.body)
    json_decref (call.body);
}

void vmm_api_handle (struct vmm_api *api, const char *method, const char *path, const char *body, size_t len,
                     unsigned *status, char **response)
{
  struct api_reply rep = { .status = 500 };
  /* The query string plays no part in Firecracker's API. */
  cleanup_free char *p = strndup (path, strcspn (path, "?"));
  if (p == NULL)
    api_fault (&rep, "out of memory");
  else
    {
      /* "/drives/x/" is "/drives/x", as for Firecracker's router. */
      size_t n = strlen (p);
      if (n > 1 && p[n - 1] == '/')
        p[n - 1] = '\0';
      dispatch (api, method, p, body, len, &rep);
    }
  *status = rep.status;
  *response = rep.body ? json_dumps (rep.body, JSON_COMPACT) : NULL;
  if (rep.body)
    json_decref (rep.body);
  berth_log (rep.status >= 400 ? BERTH_LOG_WARNING : BERTH_LOG_DEBUG, "api: %s %s: %u%s%s", method, path, rep.status,
             *response && rep.status >= 400 ? " " : "", *response && rep.status >= 400 ? *response : "");
}

/* ---- the state ---- */

struct vmm_api *vmm_api_new (const struct vm_config *initial)
{
  struct vmm_api *api = calloc (1, sizeof *api);
  if (api == NULL)
    return NULL;
  pthread_mutex_init (&api->lock, NULL);
  vm_config_init (&api->cfg);
  api->started_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  berth_err err = NULL;
  if (api->started_fd < 0 || (initial && vm_config_copy (&api->cfg, initial, &err) < 0))
    {
      if (err)
        berth_error_report (&err);
      vmm_api_free (api);
      return NULL;
    }
  return api;
}

void vmm_api_free (struct vmm_api *api)
{
  if (api == NULL)
    return;
  if (api->vm)
    vmm_destroy (api->vm);
  vm_config_free (&api->cfg);
  if (api->started_fd >= 0)
    close (api->started_fd);
  pthread_mutex_destroy (&api->lock);
  free (api);
}

int vmm_api_started_fd (struct vmm_api *api)
{
  return api->started_fd;
}

int vmm_api_wait (struct vmm_api *api)
{
  pthread_mutex_lock (&api->lock);
  struct vmm *vm = api->vm;
  pthread_mutex_unlock (&api->lock);
  return vm ? vmm_wait (vm) : VMM_EXIT_ERROR;
}

/* ---- the transport (http.h) ---- */

static void on_request (void *opaque, const char *method, const char *path, const char *body, size_t len,
                        unsigned *status, char **response)
{
  vmm_api_handle (opaque, method, path, body, len, status, response);
}

/* A stale socket (nobody answers) is replaced; anything else at PATH,
 * a live socket included, is an error. */
static int listen_unix (const char *path, berth_err *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen (path) >= sizeof addr.sun_path)
    return berth_fail (err, ENAMETOOLONG, "API socket %s", path);
  strcpy (addr.sun_path, path);
  struct stat st;
  if (lstat (path, &st) == 0)
    {
      if (!S_ISSOCK (st.st_mode))
        return berth_fail (err, EEXIST, "API socket %s", path);
      cleanup_close int probe = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (probe >= 0 && connect (probe, (struct sockaddr *) &addr, sizeof addr) == 0)
        return berth_fail (err, EADDRINUSE, "API socket %s", path);
      unlink (path);
    }
  cleanup_close int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return berth_fail_errno (err, "socket");
  mode_t old = umask (0077); /* the API controls the VM: owner only */
  int r = bind (fd, (struct sockaddr *) &addr, sizeof addr);
  umask (old);
  if (r < 0)
    return berth_fail_errno (err, "bind API socket %s", path);
  if (listen (fd, 16) < 0)
    return berth_fail_errno (err, "listen on %s", path);
  return take_fd (&fd);
}

/* Wait for InstanceStart or a signal; then, if started, for the guest or
 * a signal.  A helper thread runs vmm_wait so a signal still ends us. */
struct waiter
{
  struct vmm_api *api;
  int done_fd;
  int status;
};

static void *wait_thread (void *arg)
{
  struct waiter *w = arg;
  w->status = vmm_api_wait (w->api);
  uint64_t one = 1;
  if (write (w->done_fd, &one, sizeof one) < 0)
    berth_log (BERTH_LOG_ERROR, "api: cannot signal the guest's end");
  return NULL;
}

static int serve_loop (struct vmm_api *api, int sig_fd, int *exit_status)
{
  /* On the heap: on a signal the thread outlives this function. */
  struct waiter *w = calloc (1, sizeof *w);
  if (w == NULL)
    return -ENOMEM;
  w->api = api;
  w->done_fd = eventfd (0, EFD_CLOEXEC);
  if (w->done_fd < 0)
    {
      free (w);
      return -errno;
    }
  bool waiting = false;
  pthread_t thread;
  for (;;)
    {
      struct pollfd fds[3] = { { sig_fd, POLLIN, 0 }, { api->started_fd, POLLIN, 0 }, { w->done_fd, POLLIN, 0 } };
      if (poll (fds, waiting ? 3 : 2, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (fds[0].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          if (read (sig_fd, &si, sizeof si) != sizeof si)
            continue;
          berth_log (BERTH_LOG_INFO, "api: signal %u, stopping", si.ssi_signo);
          /* Not started: an idle server stopped on request.  Running: the
           * caller exits, which ends the vCPU threads with the process. */
          *exit_status = waiting ? 128 + (int) si.ssi_signo : 0;
          if (waiting)
            pthread_detach (thread);
          else
            {
              close (w->done_fd);
              free (w);
            }
          return 0;
        }
      if (!waiting && (fds[1].revents & POLLIN))
        {
          if (pthread_create (&thread, NULL, wait_thread, w) != 0)
            return -EAGAIN;
          waiting = true;
        }
      if (waiting && (fds[2].revents & POLLIN))
        {
          pthread_join (thread, NULL);
          close (w->done_fd);
          *exit_status = w->status;
          free (w);
          return 0;
        }
    }
  return -errno;
}

int vmm_api_serve (const char *sock_path, const struct vm_config *initial, int *exit_status, berth_err *err)
{
  sigset_t sigs, old;
  sigemptyset (&sigs);
  sigaddset (&sigs, SIGTERM);
  sigaddset (&sigs, SIGINT);
  pthread_sigmask (SIG_BLOCK, &sigs, &old);
  cleanup_close int sig_fd = signalfd (-1, &sigs, SFD_CLOEXEC);
  if (sig_fd < 0)
    return berth_fail_errno (err, "signalfd");
  /* The guest's side of a vsock or a client that went away must not kill
   * the VMM with SIGPIPE. */
  signal (SIGPIPE, SIG_IGN);

  *exit_status = VMM_EXIT_ERROR;
  struct vmm_api *api = vmm_api_new (initial);
  if (api == NULL)
    return berth_fail (err, ENOMEM, "API state");
  int fd = listen_unix (sock_path, err);
  if (fd < 0)
    {
      vmm_api_free (api);
      return fd;
    }
  struct api_http *srv = NULL;
  if (api_http_start (fd, on_request, api, &srv, err) < 0)
    {
      unlink (sock_path);
      vmm_api_free (api);
      return berth_error_prefix (err, "cannot start the API server on %s", sock_path);
    }
  berth_log (BERTH_LOG_INFO, "api: listening on %s", sock_path);
  int r = serve_loop (api, sig_fd, exit_status);
  /* Replies already queued still leave: a guest can end before the reply
   * to its own InstanceStart is written. */
  api_http_stop (srv);
  unlink (sock_path);
  /* A guest that is still running (a signal ended us) is left to the
   * process exit: destroying it under its vCPU threads is not safe. */
  bool running = *exit_status >= 128 && api->started;
  if (!running)
    vmm_api_free (api);
  if (r < 0)
    return berth_fail (err, -r, "API server");
  return 0;
}
