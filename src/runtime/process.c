#include "runtime/process.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const struct { const char *name; int resource; } rlimit_names[] = {
  { "RLIMIT_AS", RLIMIT_AS }, { "RLIMIT_CORE", RLIMIT_CORE }, { "RLIMIT_CPU", RLIMIT_CPU },
  { "RLIMIT_DATA", RLIMIT_DATA }, { "RLIMIT_FSIZE", RLIMIT_FSIZE }, { "RLIMIT_LOCKS", RLIMIT_LOCKS },
  { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
  { "RLIMIT_NOFILE", RLIMIT_NOFILE }, { "RLIMIT_NPROC", RLIMIT_NPROC }, { "RLIMIT_RSS", RLIMIT_RSS },
  { "RLIMIT_RTPRIO", RLIMIT_RTPRIO }, { "RLIMIT_RTTIME", RLIMIT_RTTIME }, { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
  { "RLIMIT_STACK", RLIMIT_STACK },
};

static int parse_rlimits (struct process_plan *p, json_t *arr, berth_err *err)
{
  size_t n = json_array_size (arr), i;
  json_t *rl;
  if (n == 0)
    return 0;
  p->rlimits = calloc (n, sizeof *p->rlimits);
  if (p->rlimits == NULL)
    return berth_fail (err, ENOMEM, "rlimits");
  json_array_foreach (arr, i, rl)
    {
      const char *type = berth_json_str (rl, "type");
      int res = -1;
      for (size_t k = 0; type && k < sizeof rlimit_names / sizeof rlimit_names[0]; k++)
        if (strcmp (type, rlimit_names[k].name) == 0)
          res = rlimit_names[k].resource;
      if (res < 0)
        return berth_fail (err, 0, "process.rlimits[%zu]: unknown type `%s`", i, type ? type : "");
      json_t *soft = json_object_get (rl, "soft"), *hard = json_object_get (rl, "hard");
      if (!json_is_integer (soft) || !json_is_integer (hard))
        return berth_fail (err, 0, "process.rlimits[%zu]: soft and hard must be integers", i);
      struct process_rlimit *r = &p->rlimits[p->nrlimits++];
      r->resource = res;
      r->limit.rlim_cur = (rlim_t) json_integer_value (soft);
      r->limit.rlim_max = (rlim_t) json_integer_value (hard);
    }
  return 0;
}

static int parse_user (struct process_plan *p, json_t *user, berth_err *err)
{
  if (user == NULL)
    return 0;
  if (!json_is_object (user))
    return berth_fail (err, 0, "process.user: expected an object");
  if (berth_json_str (user, "username"))
    return berth_fail (err, 0, "process.user.username is for Windows; use uid and gid");
  p->uid = (uid_t) berth_json_int (user, "uid", 0);
  p->gid = (gid_t) berth_json_int (user, "gid", 0);
  json_t *um = json_object_get (user, "umask");
  if (json_is_integer (um))
    {
      p->has_umask = true;
      p->umask = (mode_t) json_integer_value (um) & 0777;
    }
  json_t *groups = berth_json_arr (user, "additionalGids");
  size_t n = json_array_size (groups), i;
  json_t *g;
  p->groups = calloc (n + 1, sizeof (gid_t));
  if (p->groups == NULL)
    return berth_fail (err, ENOMEM, "groups");
  json_array_foreach (groups, i, g)
    {
      if (!json_is_integer (g))
        return berth_fail (err, 0, "process.user.additionalGids[%zu]: expected an integer", i);
      p->groups[p->ngroups++] = (gid_t) json_integer_value (g);
    }
  return 0;
}

static int parse_personality (struct process_plan *p, json_t *pers, berth_err *err)
{
  if (pers == NULL)
    return 0;
  const char *domain = berth_json_str (pers, "domain");
  if (domain == NULL)
    return berth_fail (err, 0, "linux.personality.domain is required");
  if (strcmp (domain, "LINUX") == 0)
    p->personality = PER_LINUX;
  else if (strcmp (domain, "LINUX32") == 0)
    p->personality = PER_LINUX32;
  else
    return berth_fail (err, 0, "linux.personality.domain: unknown domain `%s`", domain);
  if (json_array_size (berth_json_arr (pers, "flags")) > 0)
    return berth_fail (err, 0, "linux.personality.flags are not supported");
  p->has_personality = true;
  return 0;
}

static int parse_console (struct process_plan *p, json_t *process)
{
  json_t *size = berth_json_obj (process, "consoleSize");
  p->terminal = berth_json_bool (process, "terminal", false);
  p->rows = (unsigned short) berth_json_int (size, "height", 0);
  p->cols = (unsigned short) berth_json_int (size, "width", 0);
  return 0;
}

static int dup_opt (char **dst, const char *src)
{
  *dst = src ? strdup (src) : NULL;
  return 0;
}

int process_plan_init (struct process_plan *p, json_t *process, json_t *config, berth_err *err)
{
  memset (p, 0, sizeof *p);
  if (!json_is_object (process))
    return berth_fail (err, 0, "process: expected an object");
  json_t *args = json_object_get (process, "args");
  if (json_array_size (args) == 0)
    return berth_fail (err, 0, "process.args must name a program to run");
  const char *cwd = berth_json_str (process, "cwd");
  if (cwd == NULL || cwd[0] != '/')
    return berth_fail (err, 0, "process.cwd must be an absolute path");
  int r;
  if ((r = berth_json_strv (args, &p->args, "process.args", err)) < 0
      || (r = berth_json_strv (json_object_get (process, "env"), &p->env, "process.env", err)) < 0
      || (r = parse_user (p, json_object_get (process, "user"), err)) < 0
      || (r = parse_rlimits (p, berth_json_arr (process, "rlimits"), err)) < 0
      || (r = berth_caps_parse (json_object_get (process, "capabilities"), &p->caps, &p->has_caps, err)) < 0
      || (r = parse_personality (p, berth_json_path (config, "linux.personality"), err)) < 0
      || (r = process_sched_parse (&p->sched, process, err)) < 0
      || (r = berth_seccomp_compile (berth_json_path (config, "linux.seccomp"), &p->seccomp, err)) < 0)
    return r;
  p->cwd = strdup (cwd);
  p->no_new_privs = berth_json_bool (process, "noNewPrivileges", false);
  json_t *oom = json_object_get (process, "oomScoreAdj");
  p->has_oom_score_adj = json_is_integer (oom);
  p->oom_score_adj = (int) json_integer_value (oom);
  dup_opt (&p->apparmor_profile, berth_json_str (process, "apparmorProfile"));
  dup_opt (&p->selinux_label, berth_json_str (process, "selinuxLabel"));
  return parse_console (p, process);
}

void process_plan_free (struct process_plan *p)
{
  cleanup_strvp (&p->args);
  cleanup_strvp (&p->env);
  free (p->cwd);
  free (p->groups);
  free (p->rlimits);
  free (p->apparmor_profile);
  free (p->selinux_label);
  berth_seccomp_free (p->seccomp);
  memset (p, 0, sizeof *p);
}

int process_check_host_support (const struct process_plan *p, berth_err *err)
{
  if (p->apparmor_profile && *p->apparmor_profile && access ("/sys/kernel/security/apparmor", F_OK) < 0)
    return berth_fail (err, 0, "process.apparmorProfile `%s` is set but AppArmor is not enabled on this host",
                       p->apparmor_profile);
  if (p->selinux_label && *p->selinux_label && access ("/sys/fs/selinux/enforce", F_OK) < 0)
    return berth_fail (err, 0, "process.selinuxLabel is set but SELinux is not enabled on this host");
  return 0;
}

static bool in_keep (int fd, const int *keep)
{
  for (; keep && *keep >= 0; keep++)
    if (*keep == fd)
      return true;
  return false;
}

static void close_or_keep (int fd, int first, const int *keep)
{
  if (fd < first)
    fcntl (fd, F_SETFD, 0); /* preserved: must survive exec */
  else if (in_keep (fd, keep))
    fcntl (fd, F_SETFD, FD_CLOEXEC);
  else
    close (fd);
}

int process_close_fds (const struct process_plan *p, const int *keep, berth_err *err)
{
  int first = 3 + p->preserve_fds;
  cleanup_dir DIR *d = opendir ("/proc/self/fd");
  if (d == NULL)
    {
      /* No /proc in the container: probe every possible fd instead. */
      long max = sysconf (_SC_OPEN_MAX);
      if (max < 0 || max > 1 << 20)
        max = 1 << 20;
      for (int fd = 3; fd < max; fd++)
        if (fcntl (fd, F_GETFD) >= 0)
          close_or_keep (fd, first, keep);
      return 0;
    }
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      int fd = atoi (de->d_name);
      if (de->d_name[0] == '.' || fd < 3 || fd == dirfd (d))
        continue;
      close_or_keep (fd, first, keep);
    }
  (void) err;
  return 0;
}

static int apply_rlimits (struct process_plan *p, berth_err *err)
{
  for (size_t i = 0; i < p->nrlimits; i++)
    if (setrlimit (p->rlimits[i].resource, &p->rlimits[i].limit) < 0)
      return berth_fail_errno (err, "set rlimit %d to %llu/%llu", p->rlimits[i].resource,
                               (unsigned long long) p->rlimits[i].limit.rlim_cur,
                               (unsigned long long) p->rlimits[i].limit.rlim_max);
  return 0;
}

static int apply_lsm (struct process_plan *p, berth_err *err)
{
  char buf[4096];
  if (p->apparmor_profile && *p->apparmor_profile)
    {
      int n = snprintf (buf, sizeof buf, "exec %s", p->apparmor_profile);
      if (berth_write_file ("/proc/self/attr/apparmor/exec", buf, (size_t) n, err) < 0)
        return berth_error_prefix (err, "apply AppArmor profile");
    }
  if (p->selinux_label && *p->selinux_label
      && berth_write_file ("/proc/self/attr/exec", p->selinux_label, strlen (p->selinux_label), err) < 0)
    return berth_error_prefix (err, "apply SELinux label");
  return 0;
}

static int apply_misc (struct process_plan *p, berth_err *err)
{
  if (p->has_oom_score_adj)
    {
      char buf[32];
      int n = snprintf (buf, sizeof buf, "%d", p->oom_score_adj);
      if (berth_write_file ("/proc/self/oom_score_adj", buf, (size_t) n, err) < 0)
        return berth_error_prefix (err, "set oomScoreAdj");
    }
  if (p->has_personality && personality (p->personality) < 0)
    return berth_fail_errno (err, "set personality");
  return process_sched_apply (&p->sched, err);
}

/* setgroups is denied in a user namespace whose /proc/self/setgroups says
 * "deny" (rootless); then the groups stay as they are. */
static bool setgroups_allowed (void)
{
  cleanup_free char *s = NULL;
  if (berth_read_file ("/proc/self/setgroups", 64, &s, NULL, NULL) < 0)
    return true;
  return strncmp (s, "deny", 4) != 0;
}

static int switch_user (struct process_plan *p, berth_err *err)
{
  if (setgroups_allowed () && setgroups (p->ngroups, p->groups) < 0)
    return berth_fail_errno (err, "setgroups");
  if (setresgid (p->gid, p->gid, p->gid) < 0)
    return berth_fail_errno (err, "setgid %u", (unsigned) p->gid);
  if (setresuid (p->uid, p->uid, p->uid) < 0)
    return berth_fail_errno (err, "setuid %u", (unsigned) p->uid);
  return 0;
}

static int enter_cwd (struct process_plan *p, berth_err *err)
{
  if (chdir (p->cwd) < 0)
    return berth_fail_errno (err, "chdir to cwd `%s`", p->cwd);
  /* CVE-2024-21626: a cwd reached through a leaked fd lies outside the
   * root; getcwd then fails or answers "(unreachable)...". */
  char buf[4096];
  if (getcwd (buf, sizeof buf) == NULL || buf[0] != '/')
    return berth_fail (err, 0, "cwd `%s` is outside the container root", p->cwd);
  return 0;
}

int process_drop_privileges (struct process_plan *p, berth_err *err)
{
  int r;
  if ((r = apply_rlimits (p, err)) < 0 || (r = apply_misc (p, err)) < 0 || (r = apply_lsm (p, err)) < 0)
    return r;
  if (p->no_new_privs && prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return berth_fail_errno (err, "set no_new_privs");
  if (!p->no_new_privs && p->seccomp && berth_seccomp_install (p->seccomp, err) < 0)
    return berth_error_prefix (err, "seccomp");
  if (p->has_caps)
    {
      if (berth_caps_drop_bounding (&p->caps, err) < 0)
        return -EPERM;
      if (prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return berth_fail_errno (err, "keep capabilities");
    }
  if ((r = switch_user (p, err)) < 0)
    return r;
  /* A uid change resets "dumpable" to fs.suid_dumpable, which may be 1:
   * stay non-dumpable until execve. */
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (p->has_caps)
    {
      prctl (PR_SET_KEEPCAPS, 0, 0, 0, 0);
      if (berth_caps_apply (&p->caps, err) < 0)
        return -EPERM;
    }
  if (p->has_umask)
    umask (p->umask);
  else
    umask (0022);
  return enter_cwd (p, err);
}

static const char *env_path (struct process_plan *p)
{
  for (char **e = p->env; e && *e; e++)
    if (strncmp (*e, "PATH=", 5) == 0)
      return *e + 5;
  return DEFAULT_PATH;
}

static bool is_executable (const char *path)
{
  struct stat st;
  return stat (path, &st) == 0 && S_ISREG (st.st_mode) && access (path, X_OK) == 0;
}

int process_resolve_executable (struct process_plan *p, char **out, berth_err *err)
{
  const char *name = p->args[0];
  if (strchr (name, '/'))
    {
      struct stat st;
      if (stat (name, &st) < 0)
        return berth_fail (err, errno, "exec: \"%s\": stat %s", name, name);
      /* runc's words for a file that is there but cannot run; engines map
       * them to exit status 126. */
      if (!is_executable (name))
        return berth_fail_as (err, EACCES, "exec: \"%s\": permission denied", name);
      *out = strdup (name);
      return 0;
    }
  cleanup_free char *path = strdup (env_path (p));
  char *save = NULL;
  for (char *dir = strtok_r (path, ":", &save); dir; dir = strtok_r (NULL, ":", &save))
    {
      cleanup_free char *cand = NULL;
      if (asprintf (&cand, "%s/%s", *dir ? dir : ".", name) < 0)
        return berth_fail (err, ENOMEM, "exec");
      if (is_executable (cand))
        {
          *out = take_ptr (cand);
          return 0;
        }
    }
  return berth_fail (err, 0, "exec: \"%s\": executable file not found in $PATH", name);
}

extern char **environ;

int process_exec (struct process_plan *p, const char *path, berth_err *err)
{
  if (process_sched_apply_affinity (&p->sched, true, err) < 0)
    return -EINVAL;
  if (p->no_new_privs && p->seccomp && berth_seccomp_install (p->seccomp, err) < 0)
    return berth_error_prefix (err, "seccomp");
  execve (path, p->args, p->env);
  return berth_fail_errno (err, "exec `%s`", path);
}
