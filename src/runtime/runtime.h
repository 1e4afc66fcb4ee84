/* libberth-runtime: the public API of berth's OCI runtime core.
 *
 * Every operation follows runc's semantics so that the CLI in
 * src/cli/runtime can expose runc's exact command line, and berthd can call
 * the same functions.  All functions return a negative value and fill *err
 * on failure. */
#ifndef BERTH_RUNTIME_H
#define BERTH_RUNTIME_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/json.h"

#define BERTH_OCI_VERSION "1.2.0"
#define BERTH_DEFAULT_STATE_ROOT "/run/berth-runtime"

/* Options shared by every operation. */
struct berth_global
{
  const char *state_root;  /* --root */
  bool systemd_cgroup;     /* --systemd-cgroup: refused, no systemd driver */
};

struct berth_create_opts
{
  const char *id;
  const char *bundle;          /* NULL: current folder */
  const char *pid_file;        /* write the init's host pid here */
  const char *console_socket;  /* send the pty master here when terminal=true */
  bool no_pivot;               /* MS_MOVE + chroot instead of pivot_root */
  bool no_new_keyring;         /* accepted for runc compatibility */
  int preserve_fds;            /* keep fds 3 .. 3+N-1 open in the container */
  bool detach;                 /* run: return after start */
};

struct berth_exec_opts
{
  const char *id;
  json_t *process;             /* a complete OCI process object */
  const char *pid_file;
  const char *console_socket;
  bool detach;
  int preserve_fds;
};

/* create: set the container up and leave its init waiting for start. */
int berth_container_create (struct berth_global *g, struct berth_create_opts *o, berth_err *err);
/* run: create + start; without detach wait and return the exit status
 * (0-255, 128+signal), and delete the container afterwards. */
int berth_container_run (struct berth_global *g, struct berth_create_opts *o, berth_err *err);
int berth_container_start (struct berth_global *g, const char *id, berth_err *err);
/* The OCI state object: ociVersion, id, status, pid, bundle, annotations,
 * plus runc's rootfs, created and owner. */
int berth_container_state (struct berth_global *g, const char *id, json_t **state, berth_err *err);
int berth_container_kill (struct berth_global *g, const char *id, int sig, bool all, berth_err *err);
int berth_container_delete (struct berth_global *g, const char *id, bool force, berth_err *err);
int berth_container_pause (struct berth_global *g, const char *id, berth_err *err);
int berth_container_resume (struct berth_global *g, const char *id, berth_err *err);
/* Apply an OCI linux.resources object to a created/running container. */
int berth_container_update (struct berth_global *g, const char *id, json_t *resources, berth_err *err);
int berth_container_pids (struct berth_global *g, const char *id, pid_t **pids, size_t *n, berth_err *err);
/* Array of state objects of every container under the root. */
int berth_container_list (struct berth_global *g, json_t **list, berth_err *err);
/* exec: returns the process's exit status, or 0 with detach. */
int berth_container_exec (struct berth_global *g, struct berth_exec_opts *o, berth_err *err);
/* The container's stored config.json (for exec defaults). */
int berth_container_config (struct berth_global *g, const char *id, json_t **config, berth_err *err);

/* A default config.json, as `runc spec` writes it. */
json_t *berth_spec_default (bool rootless);
/* The `features` document (runtime-spec features.md). */
json_t *berth_features (void);

/* Re-execute the running binary from a sealed memfd copy unless it already
 * is one (CVE-2019-5736): a container process that gets hold of
 * /proc/<pid>/exe of the runtime then sees a sealed, anonymous copy, never
 * the file on the host.  Returns 0 when already cloned; does not return on
 * success otherwise. */
int berth_ensure_cloned_binary (char **argv, berth_err *err);
bool berth_is_cloned_binary (void);

/* Signal names ("KILL", "SIGKILL") and numbers ("9"); -1 if unknown. */
int berth_parse_signal (const char *s);

/* Container ids: [A-Za-z0-9_+.-]+, not "." or "..", at most 1024 bytes. */
int berth_validate_id (const char *id, berth_err *err);

#endif
