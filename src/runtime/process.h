/* The container process: everything config.process (plus linux.seccomp and
 * linux.personality) asks for, parsed and compiled in the runtime before
 * any process exists, then applied in the container just before execve.
 * The same plan serves the init (create/run) and `exec`. */
#ifndef BERTH_PROCESS_H
#define BERTH_PROCESS_H

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "common/json.h"
#include "runtime/caps.h"
#include "runtime/process-sched.h"
#include "runtime/seccomp.h"

struct process_rlimit
{
  int resource;
  struct rlimit limit;
};

struct process_plan
{
  char **args;
  char **env;
  char *cwd;
  uid_t uid;
  gid_t gid;
  gid_t *groups;
  size_t ngroups;
  bool has_umask;
  mode_t umask;
  bool has_caps;
  struct berth_caps caps;
  struct process_rlimit *rlimits;
  size_t nrlimits;
  bool no_new_privs;
  bool has_oom_score_adj;
  int oom_score_adj;
  char *apparmor_profile;
  char *selinux_label;
  bool terminal;
  unsigned short rows, cols;
  bool has_personality;
  unsigned long personality;
  struct berth_seccomp *seccomp;
  struct process_sched sched;
  int preserve_fds;
};

/* Parse PROCESS (config.process or an exec --process object) with the
 * container-wide parts of CONFIG (linux.seccomp, linux.personality). */
int process_plan_init (struct process_plan *p, json_t *process, json_t *config, berth_err *err);
void process_plan_free (struct process_plan *p);

/* In the container: close every fd >= 3 that is neither preserved nor in
 * KEEP (terminated by -1), and make the kept internal ones close-on-exec.
 * Must run before the cwd is entered (CVE-2024-21626). */
int process_close_fds (const struct process_plan *p, const int *keep, berth_err *err);

/* In the container, with the root in place: rlimits, oom_score_adj,
 * personality, LSM labels, no_new_privs, seccomp (when no_new_privs is off
 * it needs CAP_SYS_ADMIN, so it comes before the privilege drop), bounding
 * set, user and groups, capabilities, umask, then the cwd, verified to be
 * inside the root. */
int process_drop_privileges (struct process_plan *p, berth_err *err);

/* Look args[0] up in the process's PATH, as the container will see it. */
int process_resolve_executable (struct process_plan *p, char **path, berth_err *err);

/* Install a no_new_privs seccomp filter last and execve.  Only returns on
 * failure. */
int process_exec (struct process_plan *p, const char *path, berth_err *err);

/* Host-side validation that needs no container: LSM availability. */
int process_check_host_support (const struct process_plan *p, berth_err *err);

#endif
