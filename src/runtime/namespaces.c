#include "runtime/namespaces.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const struct
{
  const char *type;   /* config name */
  const char *proc;   /* /proc/<pid>/ns/<proc> */
  int flag;
} ns_types[] = {
  [NS_PID] = { "pid", "pid", CLONE_NEWPID },
  [NS_NET] = { "network", "net", CLONE_NEWNET },
  [NS_IPC] = { "ipc", "ipc", CLONE_NEWIPC },
  [NS_UTS] = { "uts", "uts", CLONE_NEWUTS },
  [NS_MOUNT] = { "mount", "mnt", CLONE_NEWNS },
  [NS_USER] = { "user", "user", CLONE_NEWUSER },
  [NS_CGROUP] = { "cgroup", "cgroup", CLONE_NEWCGROUP },
  [NS_TIME] = { "time", "time", CLONE_NEWTIME },
};
#define NS_COUNT (sizeof ns_types / sizeof ns_types[0])

static int ns_kind_of (const char *type)
{
  for (size_t i = 0; i < NS_COUNT; i++)
    if (strcmp (ns_types[i].type, type) == 0)
      return (int) i;
  return -1;
}

static int add_namespace (struct ns_plan *p, json_t *ns, size_t idx, berth_err *err)
{
  const char *type = berth_json_str (ns, "type");
  const char *path = berth_json_str (ns, "path");
  int kind = type ? ns_kind_of (type) : -1;
  if (kind < 0)
    return berth_fail (err, 0, "linux.namespaces[%zu]: unknown namespace type `%s`", idx, type ? type : "");
  if (p->has[kind])
    return berth_fail (err, 0, "linux.namespaces: duplicate namespace `%s`", type);
  p->has[kind] = true;
  if (path && *path)
    {
      if (p->njoins == NS_MAX_JOINS)
        return berth_fail (err, 0, "linux.namespaces: too many paths");
      p->joins[p->njoins].flag = ns_types[kind].flag;
      p->joins[p->njoins].path = strdup (path);
      p->njoins++;
      return 0;
    }
  if (kind == NS_CGROUP)
    p->new_cgroupns = true;
  else if (kind == NS_TIME)
    p->new_timens = true;
  else
    p->clone_flags |= ns_types[kind].flag;
  return 0;
}

int ns_plan_init (struct ns_plan *p, json_t *config, berth_err *err)
{
  memset (p, 0, sizeof *p);
  json_t *linux_ = berth_json_obj (config, "linux");
  json_t *list = berth_json_arr (linux_, "namespaces");
  size_t i;
  json_t *ns;
  json_array_foreach (list, i, ns)
    {
      int r = add_namespace (p, ns, i, err);
      if (r < 0)
        return r;
    }
  p->uid_mappings = berth_json_arr (linux_, "uidMappings");
  p->gid_mappings = berth_json_arr (linux_, "gidMappings");
  p->time_offsets = berth_json_obj (linux_, "timeOffsets");
  if ((p->uid_mappings || p->gid_mappings) && !(p->clone_flags & CLONE_NEWUSER))
    return berth_fail (err, 0, "linux.uidMappings/gidMappings need a new user namespace");
  if ((p->clone_flags & CLONE_NEWUSER) && (json_array_size (p->uid_mappings) == 0 || json_array_size (p->gid_mappings) == 0))
    return berth_fail (err, 0, "a new user namespace needs linux.uidMappings and linux.gidMappings");
  if (p->time_offsets && !p->new_timens)
    return berth_fail (err, 0, "linux.timeOffsets need a new time namespace");
  return 0;
}

void ns_plan_free (struct ns_plan *p)
{
  for (size_t i = 0; i < p->njoins; i++)
    free (p->joins[i].path);
  p->njoins = 0;
}

static int setns_path (const char *path, int flag, berth_err *err)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (err, "open namespace `%s`", path);
  if (setns (fd, flag) < 0)
    return berth_fail_errno (err, "join namespace `%s`", path);
  return 0;
}

static int write_time_offsets (json_t *offsets, berth_err *err)
{
  char buf[256];
  size_t n = 0;
  const char *clocks[] = { "monotonic", "boottime" };
  for (size_t i = 0; i < 2; i++)
    {
      json_t *o = berth_json_obj (offsets, clocks[i]);
      if (o == NULL)
        continue;
      n += (size_t) snprintf (buf + n, sizeof buf - n, "%s %lld %lld\n", clocks[i],
                              (long long) berth_json_int (o, "secs", 0),
                              (long long) berth_json_int (o, "nanosecs", 0));
    }
  if (n == 0)
    return 0;
  return berth_write_file ("/proc/self/timens_offsets", buf, n, err);
}

int ns_prepare_parent (struct ns_plan *p, berth_err *err)
{
  for (size_t i = 0; i < p->njoins; i++)
    if (p->joins[i].flag == CLONE_NEWPID && setns_path (p->joins[i].path, CLONE_NEWPID, err) < 0)
      return -EINVAL;
  if (p->new_timens)
    {
      if (unshare (CLONE_NEWTIME) < 0)
        return berth_fail_errno (err, "create time namespace");
      if (write_time_offsets (p->time_offsets, err) < 0)
        return berth_error_prefix (err, "linux.timeOffsets");
    }
  return 0;
}

static int format_map (json_t *maps, char *buf, size_t len, const char *what, berth_err *err)
{
  size_t n = 0, i;
  json_t *m;
  buf[0] = '\0';
  json_array_foreach (maps, i, m)
    {
      json_t *c = json_object_get (m, "containerID"), *h = json_object_get (m, "hostID"), *s = json_object_get (m, "size");
      if (!json_is_integer (c) || !json_is_integer (h) || !json_is_integer (s))
        return berth_fail (err, 0, "linux.%s[%zu]: containerID, hostID and size must be integers", what, i);
      int w = snprintf (buf + n, len - n, "%lld %lld %lld\n", (long long) json_integer_value (c),
                        (long long) json_integer_value (h), (long long) json_integer_value (s));
      if (w < 0 || (size_t) w >= len - n)
        return berth_fail (err, 0, "linux.%s: too many entries", what);
      n += (size_t) w;
    }
  return (int) n;
}

int ns_write_id_maps (struct ns_plan *p, pid_t pid, berth_err *err)
{
  if (!(p->clone_flags & CLONE_NEWUSER))
    return 0;
  char buf[4096], path[64];
  int n = format_map (p->uid_mappings, buf, sizeof buf, "uidMappings", err);
  if (n < 0)
    return n;
  snprintf (path, sizeof path, "/proc/%d/uid_map", (int) pid);
  if (berth_write_file (path, buf, (size_t) n, err) < 0)
    return berth_error_prefix (err, "write uid map");
  n = format_map (p->gid_mappings, buf, sizeof buf, "gidMappings", err);
  if (n < 0)
    return n;
  snprintf (path, sizeof path, "/proc/%d/gid_map", (int) pid);
  if (berth_write_file (path, buf, (size_t) n, err) < 0)
    return berth_error_prefix (err, "write gid map");
  return 0;
}

int ns_join_paths (struct ns_plan *p, berth_err *err)
{
  /* The user namespace first: it grants the capabilities to join the rest. */
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < p->njoins; i++)
      {
        int flag = p->joins[i].flag;
        if (flag == CLONE_NEWPID || (pass == 0) != (flag == CLONE_NEWUSER))
          continue;
        if (setns_path (p->joins[i].path, flag, err) < 0)
          return -EINVAL;
      }
  return 0;
}

int ns_enter_pid_of (pid_t pid, berth_err *err)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/ns/pid", (int) pid);
  return setns_path (path, CLONE_NEWPID, err);
}

/* True when PID's namespace of KIND differs from ours. */
static bool ns_differs (pid_t pid, int kind)
{
  char a[64], b[64];
  struct stat sa, sb;
  snprintf (a, sizeof a, "/proc/%d/ns/%s", (int) pid, ns_types[kind].proc);
  snprintf (b, sizeof b, "/proc/self/ns/%s", ns_types[kind].proc);
  if (stat (a, &sa) < 0 || stat (b, &sb) < 0)
    return true;
  return sa.st_ino != sb.st_ino || sa.st_dev != sb.st_dev;
}

int ns_enter_all_of (pid_t pid, const struct ns_plan *p, berth_err *err)
{
  /* user first: it grants the rights to join the others.  setns into our
   * own user namespace is EINVAL, so only namespaces that differ from ours
   * are joined.  Every fd is opened before the first setns: once in the
   * container's mount namespace, /proc/<pid> is no longer the host's. */
  static const int order[] = { NS_USER, NS_MOUNT, NS_NET, NS_IPC, NS_UTS, NS_CGROUP, NS_TIME };
  enum { N = sizeof order / sizeof order[0] };
  int fds[N];
  int ret = 0;
  for (size_t i = 0; i < N; i++)
    {
      fds[i] = -1;
      int kind = order[i];
      if (!p->has[kind] || !ns_differs (pid, kind))
        continue;
      char path[64];
      snprintf (path, sizeof path, "/proc/%d/ns/%s", (int) pid, ns_types[kind].proc);
      fds[i] = open (path, O_RDONLY | O_CLOEXEC);
      if (fds[i] < 0 && ret == 0)
        ret = berth_fail_errno (err, "open namespace `%s`", path);
    }
  for (size_t i = 0; i < N && ret == 0; i++)
    if (fds[i] >= 0 && setns (fds[i], ns_types[order[i]].flag) < 0)
      ret = berth_fail_errno (err, "join the container's %s namespace", ns_types[order[i]].type);
  for (size_t i = 0; i < N; i++)
    if (fds[i] >= 0)
      close (fds[i]);
  return ret;
}
