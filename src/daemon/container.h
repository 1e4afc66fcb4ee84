/* berthd's containers: the model, its persistence and its lifecycle.
 *
 * On disk (everything under the data root is written atomically):
 *   <data-root>/containers/<id>/config.v2.json  the container (below)
 *   <data-root>/containers/<id>/<id>-json.log   its log (berth-monitor)
 *   <data-root>/containers/<id>/config.json     the OCI spec of the last start
 *   <data-root>/containers/<id>/{hostname,hosts,resolv.conf}
 *   <data-root>/containers/<id>/fs/{upper,work} the overlayfs upper layer
 *   <data-root>/containers/<id>/rootfs          the overlayfs mount point
 *                                               (mounted while it runs)
 *   <exec-root>/c/<id>/    the container monitor's state dir
 *   <exec-root>/x/<exec>/  an exec's monitor state dir
 *   <exec-root>/runtime/<name>/  each runtime's --root
 * (Short names under the exec root keep the monitors' Unix socket paths
 * within the 108 bytes of sun_path.)
 *
 * Locking: one mutex (struct containers.lock) guards every container's
 * fields and the maps; one condition variable is broadcast on every state
 * change, and waiters (wait, stop, attach before start) re-check their own
 * condition.  Operations that change a container's life (start, stop,
 * restart, pause, remove...) also hold its op_lock, so two of them never
 * interleave; they drop the big lock while they run the runtime.  The
 * reaper thread takes only the big lock, so it never waits for an
 * operation that is waiting for an exit. */
#ifndef BERTH_CONTAINER_H
#define BERTH_CONTAINER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/json.h"

struct berthd;

enum container_status
{
  CT_CREATED = 0,
  CT_RUNNING,
  CT_PAUSED,
  CT_RESTARTING,
  CT_REMOVING,
  CT_EXITED,
  CT_DEAD,
};

const char *container_status_name (enum container_status s);

struct container
{
  char id[65];
  char *name;             /* "/name" */
  char *image_id;         /* "sha256:..." */
  json_t *config;         /* merged Config */
  json_t *host_config;    /* normalized HostConfig */
  json_t *net_settings;   /* {"Networks": {name: EndpointSettings},
                             "Ports": {...}}: see network.h */
  char *created;          /* RFC 3339 */
  char *runtime;          /* runtime name ("berth", "runc", ...) */
  char *dir;              /* <data-root>/containers/<id> */
  char *state_dir;        /* <exec-root>/c/<id> */

  /* State, persisted. */
  enum container_status status;
  pid_t pid;
  pid_t monitor_pid;
  uint64_t monitor_start; /* proc_start_time of the monitor */
  int exit_code;
  bool oom_killed;
  char *error;
  char *started_at;
  char *finished_at;
  int restart_count;
  bool manually_stopped;  /* stop/kill by the user: restart policies hold off */
  bool has_been_started;

  /* In memory only. */
  struct berthd *daemon;
  pthread_mutex_t op_lock;
  int refs;               /* container_get/put */
  bool removed;           /* gone from the maps; freed at the last put */
  unsigned generation;    /* +1 each time a monitor comes up */
  unsigned exits;         /* +1 each time the process exited */
  int fast_restarts;      /* consecutive restarts of short runs: backoff */
  int pending_attach;     /* attach sessions waiting for the monitor */
  bool restart_scheduled;
  char **exec_ids;        /* NULL-terminated, heap */
  json_t *health;         /* State.Health while health checks run, or NULL */
};

struct containers;

int containers_open (struct berthd *d, const char *dir, struct containers **out, berth_err *err);
/* Stops the reaper; containers keep running (live restore). */
void containers_close (struct containers *cs);

/* Lookups take a reference: container_put() it.  NAME_OR_ID: a full id, a
 * unique id prefix, or a name with or without its leading '/'.  ENOENT
 * gives "No such container: X". */
int container_get (struct containers *cs, const char *name_or_id, struct container **out, berth_err *err);
void container_put (struct containers *cs, struct container *c);
/* Every container, referenced; free with containers_put_all. */
struct container **containers_all (struct containers *cs, size_t *n);
void containers_put_all (struct containers *cs, struct container **list, size_t n);

void containers_lock (struct containers *cs);
void containers_unlock (struct containers *cs);
/* Broadcast the state-change condition (caller holds the lock). */
void containers_wake_all (struct containers *cs);

/* Does any container use IMAGE_ID?  (the image store's in_use callback) */
bool containers_use_image (const char *image_id, void *opaque);

/* POST /containers/create: BODY is the request (Config fields at the top
 * level plus HostConfig); NAME may be NULL (a random one).  *id gets the
 * new id, *warnings (may be NULL) Docker's Warnings array. */
int container_create (struct berthd *d, json_t *body, const char *name, char **id, json_t **warnings,
                      berth_err *err);

/* For API handlers: look up the {id} path parameter; on failure replies
 * 404 and returns NULL.  container_put() the result. */
struct request;
struct reply;
struct container *api_container_lookup (struct request *req, struct reply *rep);

/* Lifecycle operations, each under the container's op_lock. */
int container_start (struct berthd *d, struct container *c, berth_err *err); /* -EALREADY when running */
int container_stop (struct berthd *d, struct container *c, int timeout, const char *signal, berth_err *err);
int container_kill (struct berthd *d, struct container *c, const char *signal, berth_err *err);
int container_restart (struct berthd *d, struct container *c, int timeout, berth_err *err);
int container_pause (struct berthd *d, struct container *c, bool pause, berth_err *err);
int container_remove (struct berthd *d, struct container *c, bool force, berth_err *err);
int container_rename (struct berthd *d, struct container *c, const char *name, berth_err *err);
int container_update (struct berthd *d, struct container *c, json_t *update, json_t **warnings, berth_err *err);

/* Block until the condition ("not-running", "next-exit", "removed") holds;
 * *exit_code gets the exit code.  Returns -ECANCELED when the daemon stops. */
int container_wait (struct berthd *d, struct container *c, const char *condition, int *exit_code, berth_err *err);

/* Docker's inspect and list shapes. */
json_t *container_inspect_json (struct berthd *d, struct container *c);
json_t *container_list_json (struct berthd *d, struct container *c);
/* "Up 5 seconds", "Exited (0) 3 minutes ago", "Created", ... */
char *container_status_text (struct container *c);

/* Save config.v2.json (caller holds the big lock). */
int container_save (struct containers *cs, struct container *c, berth_err *err);

/* Runtime plumbing. */
const char *container_runtime_path (struct berthd *d, const char *name);
/* RUNTIME [--root R] ARGS... for C; stderr goes to *output (heap, may be
 * NULL).  Returns the exit status, or -errno. */
int container_runtime_call (struct berthd *d, struct container *c, const char *const *args, char **output);

/* Bytes in the container's writable layer (`ps --size`, `system df`). */
int64_t container_rw_size (struct container *c);

/* Mount / unmount the container's root (idempotent). */
int container_mount (struct berthd *d, struct container *c, berth_err *err);
void container_unmount (struct berthd *d, struct container *c);

/* Emit a container event with the name, image and labels attributes
 * (EXTRA, stolen, may add more). */
void container_event (struct berthd *d, struct container *c, const char *action, json_t *extra);

#endif
