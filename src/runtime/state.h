/* On-disk state of a container: <root>/<id>/state.json (written
 * atomically once the init is ready), <root>/<id>/config.json (the config
 * the container was created with) and <root>/<id>/exec.fifo (exists while
 * the init waits for `start`).  The status is derived, never stored: it is
 * read from the init process, the fifo and the freezer. */
#ifndef BERTH_STATE_H
#define BERTH_STATE_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/json.h"
#include "runtime/runtime.h"

enum container_status
{
  STATUS_CREATED,
  STATUS_RUNNING,
  STATUS_PAUSED,
  STATUS_STOPPED,
};

struct container_state
{
  char *id;
  char *dir;                       /* <root>/<id> */
  pid_t pid;
  unsigned long long start_time;   /* field 22 of /proc/<pid>/stat: guards against pid reuse */
  char *bundle;
  char *rootfs;
  char *created;                   /* RFC 3339 */
  char *cgroup_path;               /* resolved, absolute */
  json_t *annotations;
  json_t *config;                  /* loaded lazily by state_config() */
};

void state_free (struct container_state *st);
static inline void cleanup_statep (struct container_state **st)
{
  if (*st)
    state_free (*st);
}
#define cleanup_state __attribute__ ((cleanup (cleanup_statep)))

/* <root>/<id> as a heap string. */
char *state_dir_for (struct berth_global *g, const char *id);

int state_load (struct berth_global *g, const char *id, struct container_state **out, berth_err *err);
int state_save (struct container_state *st, berth_err *err);
json_t *state_config (struct container_state *st, berth_err *err);

enum container_status state_status (struct container_state *st);
const char *state_status_name (enum container_status s);
bool state_init_alive (struct container_state *st);

/* The OCI state object (what `state` prints and hooks read). */
json_t *state_to_json (struct container_state *st, const char *status);

/* Field 22 of /proc/PID/stat; 0 if the process is gone or a zombie. */
unsigned long long proc_start_time (pid_t pid);


#endif
