/* Linux namespaces of a container: which are new (made at clone time, or
 * by unshare where clone cannot make them), which are joined by path, and
 * the user namespace's id maps. */
#ifndef BERTH_NAMESPACES_H
#define BERTH_NAMESPACES_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/json.h"

#define NS_MAX_JOINS 8

struct ns_plan
{
  int clone_flags;     /* CLONE_NEW* given to clone(): pid net ipc uts mount user */
  bool new_cgroupns;   /* unshared by the child after it is in its cgroup */
  bool new_timens;     /* unshared by the parent: it applies to children */
  bool has[8];         /* by enum ns_kind: the container has this ns (new or joined) */
  struct
  {
    int flag;          /* CLONE_NEW* */
    char *path;
  } joins[NS_MAX_JOINS];
  size_t njoins;
  json_t *uid_mappings, *gid_mappings, *time_offsets; /* borrowed from config */
};

enum ns_kind { NS_PID, NS_NET, NS_IPC, NS_UTS, NS_MOUNT, NS_USER, NS_CGROUP, NS_TIME };

int ns_plan_init (struct ns_plan *p, json_t *config, berth_err *err);
void ns_plan_free (struct ns_plan *p);

/* Parent, before clone: join a pid namespace given by path (setns on a pid
 * ns only affects children), and make a time namespace with its offsets. */
int ns_prepare_parent (struct ns_plan *p, berth_err *err);
/* Parent, after clone: write uid_map/gid_map of PID. */
int ns_write_id_maps (struct ns_plan *p, pid_t pid, berth_err *err);
/* Child: join the namespaces given by path (user first, pid skipped). */
int ns_join_paths (struct ns_plan *p, berth_err *err);

/* exec: join every namespace of the running container PID listed in
 * config; pid is joined by the parent with ns_enter_pid_of. */
int ns_enter_pid_of (pid_t pid, berth_err *err);
int ns_enter_all_of (pid_t pid, const struct ns_plan *p, berth_err *err);

#endif
