/* Berth's default seccomp profile and the converter from Docker's profile
 * format, both producing the OCI linux.seccomp object.
 *
 * The default profile follows Docker's semantics: everything not listed
 * fails with EPERM; a large set of ordinary syscalls is allowed; some are
 * allowed only with arguments that cannot escape (personality, socket,
 * clone without namespace flags); and the syscalls that a capability
 * guards anyway are allowed only when the container has that capability,
 * so that a kernel bug in them cannot be reached without it. */
#include "daemon/spec-internal.h"

#include "common/cleanup.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

/* ------------------------------------------------------------------ */
/* The default profile as data                                        */
/* ------------------------------------------------------------------ */

/* Allowed for every container, on x86_64 and its 32-bit personalities
 * (names that do not exist on an architecture are skipped by the
 * runtime).  ptrace and process_vm_* are here because since Linux 4.8 a
 * ptraced process cannot bypass seccomp, and berth needs a newer kernel. */
static const char *const always_allowed[] = {
  /* files and file descriptors */
  "access faccessat faccessat2 open openat openat2 creat close close_range dup dup2 dup3 read readv pread64 preadv "
  "preadv2 write writev pwrite64 pwritev pwritev2 lseek _llseek sendfile sendfile64 splice tee vmsplice "
  "copy_file_range readahead fadvise64 fadvise64_64 fallocate truncate truncate64 ftruncate ftruncate64 fsync "
  "fdatasync sync syncfs sync_file_range flock fcntl fcntl64 ioctl name_to_handle_at pipe pipe2",
  /* metadata and directories */
  "stat stat64 lstat lstat64 fstat fstat64 fstatat64 newfstatat statx statfs statfs64 fstatfs fstatfs64 chmod "
  "fchmod fchmodat chown chown32 fchown fchown32 lchown lchown32 fchownat utime utimes utimensat "
  "utimensat_time64 futimesat umask mkdir mkdirat rmdir rename renameat renameat2 link linkat symlink symlinkat "
  "unlink unlinkat readlink readlinkat mknod mknodat chdir fchdir getcwd getdents getdents64",
  /* extended attributes, notification */
  "getxattr lgetxattr fgetxattr setxattr lsetxattr fsetxattr listxattr llistxattr flistxattr removexattr "
  "lremovexattr fremovexattr inotify_init inotify_init1 inotify_add_watch inotify_rm_watch fanotify_mark",
  /* polling, events, timers, clocks */
  "select _newselect pselect6 pselect6_time64 poll ppoll ppoll_time64 epoll_create epoll_create1 epoll_ctl "
  "epoll_ctl_old epoll_wait epoll_wait_old epoll_pwait epoll_pwait2 eventfd eventfd2 signalfd signalfd4 "
  "timerfd_create timerfd_settime timerfd_settime64 timerfd_gettime timerfd_gettime64 timer_create timer_delete "
  "timer_settime timer_settime64 timer_gettime timer_gettime64 timer_getoverrun alarm getitimer setitimer "
  "nanosleep clock_nanosleep clock_nanosleep_time64 clock_gettime clock_gettime64 clock_getres "
  "clock_getres_time64 clock_adjtime clock_adjtime64 adjtimex gettimeofday time times pause",
  /* asynchronous I/O */
  "io_setup io_destroy io_submit io_cancel io_getevents io_pgetevents io_pgetevents_time64 io_uring_setup "
  "io_uring_enter io_uring_register",
  /* memory */
  "brk mmap mmap2 munmap mremap mprotect madvise mincore msync mlock mlock2 mlockall munlock munlockall "
  "remap_file_pages membarrier memfd_create memfd_secret pkey_alloc pkey_free pkey_mprotect",
  /* processes, signals, scheduling */
  "execve execveat exit exit_group fork vfork wait4 waitid waitpid kill tkill tgkill pidfd_open "
  "pidfd_send_signal process_mrelease rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn "
  "rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sigaltstack sigprocmask sigreturn "
  "restart_syscall getpid getppid gettid getpgid setpgid getpgrp getsid setsid prctl seccomp capget capset "
  "set_tid_address set_robust_list get_robust_list futex futex_time64 futex_waitv rseq get_thread_area "
  "set_thread_area getcpu getpriority setpriority ioprio_get ioprio_set sched_yield sched_getaffinity "
  "sched_setaffinity sched_getattr sched_setattr sched_getparam sched_setparam sched_getscheduler "
  "sched_setscheduler sched_get_priority_max sched_get_priority_min sched_rr_get_interval "
  "sched_rr_get_interval_time64 getrlimit ugetrlimit setrlimit prlimit64 getrusage sysinfo uname getrandom "
  "ptrace process_vm_readv process_vm_writev landlock_create_ruleset landlock_add_rule landlock_restrict_self",
  /* credentials */
  "getuid getuid32 geteuid geteuid32 getgid getgid32 getegid getegid32 getresuid getresuid32 getresgid "
  "getresgid32 getgroups getgroups32 setuid setuid32 setgid setgid32 setreuid setreuid32 setregid setregid32 "
  "setresuid setresuid32 setresgid setresgid32 setfsuid setfsuid32 setfsgid setfsgid32 setgroups setgroups32",
  /* sockets (socket itself is below, with AF_VSOCK refused) */
  "socketpair bind listen accept accept4 connect getsockname getpeername getsockopt setsockopt shutdown send "
  "sendto sendmsg sendmmsg recv recvfrom recvmsg recvmmsg recvmmsg_time64 socketcall",
  /* System V and POSIX IPC */
  "ipc msgget msgsnd msgrcv msgctl semget semop semtimedop semtimedop_time64 semctl shmget shmat shmdt shmctl "
  "mq_open mq_unlink mq_timedsend mq_timedsend_time64 mq_timedreceive mq_timedreceive_time64 mq_notify "
  "mq_getsetattr",
  /* x86 only: thread-local storage and the LDT */
  "arch_prctl modify_ldt",
};

/* Syscalls a capability already guards: allowed with that capability. */
struct cap_rule
{
  const char *cap;
  const char *names;
};

static const struct cap_rule cap_rules[] = {
  { "CAP_DAC_READ_SEARCH", "open_by_handle_at" },
  { "CAP_SYS_ADMIN", "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount "
                     "mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname "
                     "sethostname setns syslog umount umount2 unshare" },
  { "CAP_SYS_BOOT", "reboot" },
  { "CAP_SYS_CHROOT", "chroot" },
  { "CAP_SYS_MODULE", "init_module finit_module delete_module" },
  { "CAP_SYS_PACCT", "acct" },
  { "CAP_SYS_PTRACE", "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace" },
  { "CAP_SYS_RAWIO", "iopl ioperm" },
  { "CAP_SYS_TIME", "settimeofday stime clock_settime clock_settime64" },
  { "CAP_SYS_TTY_CONFIG", "vhangup" },
  { "CAP_SYS_NICE", "get_mempolicy mbind set_mempolicy set_mempolicy_home_node" },
  { "CAP_SYSLOG", "syslog" },
  { "CAP_BPF", "bpf" },
  { "CAP_PERFMON", "perf_event_open" },
};

/* personality(2) values that only select the Linux ABI variants (PER_LINUX,
 * PER_LINUX32, UNAME26 and both, and 0xffffffff which only queries). */
static const json_int_t personality_allowed[] = { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff };

/* clone(2) flags that create namespaces (CLONE_NEWNS, NEWCGROUP, NEWUTS,
 * NEWIPC, NEWUSER, NEWPID, NEWNET): without CAP_SYS_ADMIN clone is allowed
 * only when none of them is set. */
#define CLONE_NAMESPACE_FLAGS 0x7E020000
#define AF_VSOCK_FAMILY 40
/* clone3 passes its flags in memory seccomp cannot read: fail it with
 * ENOSYS so that glibc falls back to clone, which is checked. */
#define CLONE3_ERRNO 38

static int append_names (json_t *names, const char *list)
{
  const char *p = list;
  while (*p)
    {
      size_t n = strcspn (p, " ");
      if (n > 0 && json_array_append_new (names, json_stringn (p, n)) < 0)
        return -1;
      p += n;
      p += strspn (p, " ");
    }
  return 0;
}

static json_t *rule_names (const char *list)
{
  json_t *names = json_array ();
  if (names && append_names (names, list) < 0)
    {
      json_decref (names);
      return NULL;
    }
  return names;
}

static int add_rule (json_t *syscalls, json_t *names, const char *action, json_t *args, int errno_ret)
{
  json_t *rule = json_pack ("{s:o, s:s}", "names", names, "action", action);
  if (rule == NULL)
    {
      json_decref (args);
      return -1;
    }
  if (args)
    json_object_set_new (rule, "args", args);
  if (errno_ret > 0)
    json_object_set_new (rule, "errnoRet", json_integer (errno_ret));
  return json_array_append_new (syscalls, rule);
}

static json_t *one_arg (int index, json_int_t value, json_int_t value_two, const char *op)
{
  return json_pack ("[{s:i, s:I, s:I, s:s}]", "index", index, "value", value, "valueTwo", value_two, "op", op);
}

json_t *seccomp_default_profile (json_t *caps)
{
  cleanup_json json_t *syscalls = json_array ();
  cleanup_json json_t *base = json_array ();
  if (syscalls == NULL || base == NULL)
    return NULL;
  for (size_t i = 0; i < sizeof always_allowed / sizeof always_allowed[0]; i++)
    if (append_names (base, always_allowed[i]) < 0)
      return NULL;
  if (add_rule (syscalls, take_ptr (base), "SCMP_ACT_ALLOW", NULL, 0) < 0)
    return NULL;

  if (add_rule (syscalls, rule_names ("socket"), "SCMP_ACT_ALLOW", one_arg (0, AF_VSOCK_FAMILY, 0, "SCMP_CMP_NE"), 0) < 0)
    return NULL;
  /* One rule per value: the arguments of one rule are ANDed. */
  for (size_t i = 0; i < sizeof personality_allowed / sizeof personality_allowed[0]; i++)
    if (add_rule (syscalls, rule_names ("personality"), "SCMP_ACT_ALLOW",
                  one_arg (0, personality_allowed[i], 0, "SCMP_CMP_EQ"), 0) < 0)
      return NULL;

  for (size_t i = 0; i < sizeof cap_rules / sizeof cap_rules[0]; i++)
    if (spec_json_array_has (caps, cap_rules[i].cap)
        && add_rule (syscalls, rule_names (cap_rules[i].names), "SCMP_ACT_ALLOW", NULL, 0) < 0)
      return NULL;

  if (!spec_json_array_has (caps, "CAP_SYS_ADMIN"))
    {
      /* MASKED_EQ: (arg & value) == valueTwo. */
      if (add_rule (syscalls, rule_names ("clone"), "SCMP_ACT_ALLOW",
                    one_arg (0, CLONE_NAMESPACE_FLAGS, 0, "SCMP_CMP_MASKED_EQ"), 0) < 0
          || add_rule (syscalls, rule_names ("clone3"), "SCMP_ACT_ERRNO", NULL, CLONE3_ERRNO) < 0)
        return NULL;
    }

  return json_pack ("{s:s, s:i, s:[sss], s:O}", "defaultAction", "SCMP_ACT_ERRNO", "defaultErrnoRet", EPERM,
                    "architectures", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "syscalls", syscalls);
}

/* ------------------------------------------------------------------ */
/* Docker's profile format -> OCI                                      */
/* ------------------------------------------------------------------ */

#define PROFILE "seccomp profile"
/* Docker matches includes/excludes "arches" against Go's GOARCH. */
#define HOST_GOARCH "amd64"
#define HOST_SCMP_ARCH "SCMP_ARCH_X86_64"

static const char *const known_actions[] = {
  "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", NULL,
};
static const char *const known_ops[] = {
  "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ", NULL,
};
static const char *const known_arches[] = {
  "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
  "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32",
  "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
  "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64",
  "SCMP_ARCH_RISCV64", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB", NULL,
};
static const char *const known_flags[] = {
  "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", NULL,
};

static bool in_list (const char *const *list, const char *s)
{
  for (; *list; list++)
    if (strcmp (*list, s) == 0)
      return true;
  return false;
}

/* Every key of OBJ is one of ALLOWED. */
static int check_keys (json_t *obj, const char *const *allowed, const char *where, berth_err *err)
{
  const char *key;
  json_t *v;
  json_object_foreach (obj, key, v)
    if (!in_list (allowed, key))
      return berth_fail (err, 0, PROFILE ": %s: unknown field \"%s\"", where, key);
  return 0;
}

/* An absent/null value or an array of strings each in KNOWN (NULL: any). */
static int check_string_array (json_t *obj, const char *key, const char *const *known, const char *where,
                               berth_err *err)
{
  json_t *arr = json_object_get (obj, key);
  if (arr == NULL || json_is_null (arr))
    return 0;
  if (!json_is_array (arr))
    return berth_fail (err, 0, PROFILE ": %s.%s: expected an array of strings", where, key);
  size_t i;
  json_t *v;
  json_array_foreach (arr, i, v)
    {
      if (!json_is_string (v))
        return berth_fail (err, 0, PROFILE ": %s.%s[%zu]: expected a string", where, key, i);
      if (known && !in_list (known, json_string_value (v)))
        return berth_fail (err, 0, PROFILE ": %s.%s: unknown value \"%s\"", where, key, json_string_value (v));
    }
  return 0;
}

static int check_action (json_t *obj, const char *key, const char *where, berth_err *err)
{
  const char *action = berth_json_str (obj, key);
  if (action == NULL)
    return berth_fail (err, 0, PROFILE ": %s.%s: expected an action name", where, key);
  if (strcmp (action, "SCMP_ACT_NOTIFY") == 0)
    return berth_fail (err, 0, PROFILE ": %s: SCMP_ACT_NOTIFY is not supported", where);
  if (!in_list (known_actions, action))
    return berth_fail (err, 0, PROFILE ": %s.%s: unknown action \"%s\"", where, key, action);
  return 0;
}

static int check_errno_ret (json_t *obj, const char *key, const char *where, berth_err *err)
{
  json_t *v = json_object_get (obj, key);
  if (v == NULL || json_is_null (v))
    return 0;
  if (!json_is_integer (v) || json_integer_value (v) < 0 || json_integer_value (v) > 4095)
    return berth_fail (err, 0, PROFILE ": %s.%s: expected an errno number", where, key);
  return 0;
}

/* "4.8" -> 4, 8; the running kernel's release the same way. */
static int parse_kernel_version (const char *s, int *major, int *minor)
{
  char tail;
  int n = sscanf (s, "%d.%d%c", major, minor, &tail);
  if (n == 2 || (n == 3 && (tail == '.' || tail == '-' || tail == '+')))
    return *major >= 0 && *minor >= 0 ? 0 : -1;
  return -1;
}

static int kernel_at_least (const char *min, bool *yes, const char *where, berth_err *err)
{
  int want_major, want_minor, major, minor;
  if (parse_kernel_version (min, &want_major, &want_minor) < 0)
    return berth_fail (err, 0, PROFILE ": %s.minKernel: invalid kernel version \"%s\"", where, min);
  struct utsname u;
  if (uname (&u) < 0 || parse_kernel_version (u.release, &major, &minor) < 0)
    return berth_fail (err, 0, "cannot parse the running kernel's version");
  *yes = major > want_major || (major == want_major && minor >= want_minor);
  return 0;
}

static const char *const filter_keys[] = { "caps", "arches", "minKernel", NULL };

static int check_filter (json_t *filter, const char *where, berth_err *err)
{
  if (filter == NULL || json_is_null (filter))
    return 0;
  if (!json_is_object (filter))
    return berth_fail (err, 0, PROFILE ": %s: expected an object", where);
  json_t *min = json_object_get (filter, "minKernel");
  int ret;
  if ((ret = check_keys (filter, filter_keys, where, err)) < 0
      || (ret = check_string_array (filter, "caps", NULL, where, err)) < 0
      || (ret = check_string_array (filter, "arches", NULL, where, err)) < 0)
    return ret;
  if (min && !json_is_null (min) && !json_is_string (min))
    return berth_fail (err, 0, PROFILE ": %s.minKernel: expected a string", where);
  if (json_is_string (min))
    {
      bool unused;
      return kernel_at_least (json_string_value (min), &unused, where, err);
    }
  return 0;
}

static const char *const arg_keys[] = { "index", "value", "valueTwo", "op", NULL };

static int check_args (json_t *args, const char *where, berth_err *err)
{
  if (args == NULL || json_is_null (args))
    return 0;
  if (!json_is_array (args))
    return berth_fail (err, 0, PROFILE ": %s.args: expected an array", where);
  size_t i;
  json_t *a;
  json_array_foreach (args, i, a)
    {
      char at[64];
      snprintf (at, sizeof at, "%s.args[%zu]", where, i);
      if (!json_is_object (a))
        return berth_fail (err, 0, PROFILE ": %s: expected an object", at);
      int ret = check_keys (a, arg_keys, at, err);
      if (ret < 0)
        return ret;
      json_int_t index = berth_json_int (a, "index", -1);
      if (index < 0 || index > 5)
        return berth_fail (err, 0, PROFILE ": %s.index: expected 0 to 5", at);
      if (!json_is_integer (json_object_get (a, "value")))
        return berth_fail (err, 0, PROFILE ": %s.value: expected an integer", at);
      json_t *two = json_object_get (a, "valueTwo");
      if (two && !json_is_integer (two))
        return berth_fail (err, 0, PROFILE ": %s.valueTwo: expected an integer", at);
      const char *op = berth_json_str (a, "op");
      if (op == NULL || !in_list (known_ops, op))
        return berth_fail (err, 0, PROFILE ": %s.op: unknown operator \"%s\"", at, op ? op : "");
    }
  return 0;
}

static const char *const syscall_keys[] = { "name", "names", "action", "args", "comment", "includes",
                                            "excludes", "errnoRet", NULL };

static int check_syscall (json_t *call, const char *where, berth_err *err)
{
  if (!json_is_object (call))
    return berth_fail (err, 0, PROFILE ": %s: expected an object", where);
  int ret = check_keys (call, syscall_keys, where, err);
  if (ret < 0)
    return ret;
  json_t *name = json_object_get (call, "name");
  json_t *names = json_object_get (call, "names");
  if (name && !json_is_null (name) && !json_is_string (name))
    return berth_fail (err, 0, PROFILE ": %s.name: expected a string", where);
  if ((ret = check_string_array (call, "names", NULL, where, err)) < 0)
    return ret;
  bool has_name = json_is_string (name) && json_string_length (name) > 0;
  bool has_names = json_array_size (names) > 0;
  if (has_name && has_names)
    return berth_fail (err, 0, PROFILE ": %s: use either 'name' or 'names'", where);
  if (!has_name && !has_names)
    return berth_fail (err, 0, PROFILE ": %s: no syscall name", where);
  char at[64];
  if ((ret = check_action (call, "action", where, err)) < 0 || (ret = check_errno_ret (call, "errnoRet", where, err)) < 0
      || (ret = check_args (json_object_get (call, "args"), where, err)) < 0)
    return ret;
  snprintf (at, sizeof at, "%s.includes", where);
  if ((ret = check_filter (json_object_get (call, "includes"), at, err)) < 0)
    return ret;
  snprintf (at, sizeof at, "%s.excludes", where);
  return check_filter (json_object_get (call, "excludes"), at, err);
}

static const char *const top_keys[] = { "defaultAction", "defaultErrnoRet", "architectures", "archMap", "syscalls",
                                        "flags", "listenerPath", "listenerMetadata", NULL };
static const char *const arch_map_keys[] = { "architecture", "subArchitectures", NULL };

static int check_arch_map (json_t *map, berth_err *err)
{
  if (map == NULL || json_is_null (map))
    return 0;
  if (!json_is_array (map))
    return berth_fail (err, 0, PROFILE ": archMap: expected an array");
  size_t i;
  json_t *e;
  json_array_foreach (map, i, e)
    {
      char at[32];
      snprintf (at, sizeof at, "archMap[%zu]", i);
      if (!json_is_object (e))
        return berth_fail (err, 0, PROFILE ": %s: expected an object", at);
      int ret = check_keys (e, arch_map_keys, at, err);
      if (ret < 0)
        return ret;
      const char *arch = berth_json_str (e, "architecture");
      if (arch == NULL || !in_list (known_arches, arch))
        return berth_fail (err, 0, PROFILE ": %s.architecture: unknown value \"%s\"", at, arch ? arch : "");
      if ((ret = check_string_array (e, "subArchitectures", known_arches, at, err)) < 0)
        return ret;
    }
  return 0;
}

static int check_profile (json_t *p, berth_err *err)
{
  if (!json_is_object (p))
    return berth_fail (err, 0, PROFILE ": expected a JSON object");
  int ret;
  if ((ret = check_keys (p, top_keys, "profile", err)) < 0 || (ret = check_action (p, "defaultAction", "profile", err)) < 0
      || (ret = check_errno_ret (p, "defaultErrnoRet", "profile", err)) < 0
      || (ret = check_string_array (p, "architectures", known_arches, "profile", err)) < 0
      || (ret = check_string_array (p, "flags", known_flags, "profile", err)) < 0
      || (ret = check_arch_map (json_object_get (p, "archMap"), err)) < 0)
    return ret;
  if (json_array_size (json_object_get (p, "architectures")) > 0 && json_array_size (json_object_get (p, "archMap")) > 0)
    return berth_fail (err, 0, PROFILE ": both 'architectures' and 'archMap' are specified, use either one");
  const char *listener = berth_json_str (p, "listenerPath");
  if (listener && listener[0])
    return berth_fail (err, 0, PROFILE ": listenerPath is not supported");
  json_t *syscalls = json_object_get (p, "syscalls");
  if (syscalls && !json_is_null (syscalls) && !json_is_array (syscalls))
    return berth_fail (err, 0, PROFILE ": syscalls: expected an array");
  size_t i;
  json_t *call;
  json_array_foreach (syscalls, i, call)
    {
      char at[32];
      snprintf (at, sizeof at, "syscalls[%zu]", i);
      if ((ret = check_syscall (call, at, err)) < 0)
        return ret;
    }
  return 0;
}

/* Docker's rule selection: excludes drop a rule when any of its arches is
 * the host's, any of its caps is in CAPS, or the kernel is at least
 * minKernel; includes keep it only when its arches name the host's, all of
 * its caps are in CAPS and the kernel is at least minKernel.  The profile
 * was checked, so minKernel parses. */
static bool filter_matches_any (json_t *filter, json_t *caps)
{
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (filter, "arches"), i, v)
    if (strcmp (json_string_value (v), HOST_GOARCH) == 0)
      return true;
  json_array_foreach (json_object_get (filter, "caps"), i, v)
    if (spec_json_array_has (caps, json_string_value (v)))
      return true;
  bool newer = false;
  const char *min = berth_json_str (filter, "minKernel");
  return min && kernel_at_least (min, &newer, "", NULL) == 0 && newer;
}

static bool filter_matches_all (json_t *filter, json_t *caps)
{
  json_t *arches = json_object_get (filter, "arches");
  if (json_array_size (arches) > 0 && !spec_json_array_has (arches, HOST_GOARCH))
    return false;
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (filter, "caps"), i, v)
    if (!spec_json_array_has (caps, json_string_value (v)))
      return false;
  bool newer = true;
  const char *min = berth_json_str (filter, "minKernel");
  return !min || (kernel_at_least (min, &newer, "", NULL) == 0 && newer);
}

static bool rule_applies (json_t *call, json_t *caps)
{
  json_t *excludes = json_object_get (call, "excludes");
  json_t *includes = json_object_get (call, "includes");
  if (json_is_object (excludes) && filter_matches_any (excludes, caps))
    return false;
  return !json_is_object (includes) || filter_matches_all (includes, caps);
}

static json_t *convert_syscall (json_t *call)
{
  json_t *names = json_object_get (call, "names");
  const char *name = berth_json_str (call, "name");
  json_t *rule = json_pack ("{s:o, s:O}", "names", name && name[0] ? json_pack ("[s]", name) : json_deep_copy (names),
                            "action", json_object_get (call, "action"));
  if (rule == NULL)
    return NULL;
  json_t *args = json_object_get (call, "args");
  if (json_array_size (args) > 0)
    json_object_set (rule, "args", args);
  json_t *errno_ret = json_object_get (call, "errnoRet");
  if (json_is_integer (errno_ret))
    json_object_set (rule, "errnoRet", errno_ret);
  return rule;
}

/* architectures as given, or from archMap the host's entry and its
 * sub-architectures. */
static json_t *convert_architectures (json_t *p)
{
  json_t *arches = json_object_get (p, "architectures");
  if (json_array_size (arches) > 0)
    return json_deep_copy (arches);
  json_t *out = json_array ();
  size_t i;
  json_t *e;
  json_array_foreach (json_object_get (p, "archMap"), i, e)
    {
      if (strcmp (berth_json_str (e, "architecture"), HOST_SCMP_ARCH) != 0)
        continue;
      json_array_append (out, json_object_get (e, "architecture"));
      json_t *subs = json_object_get (e, "subArchitectures");
      if (json_is_array (subs))
        json_array_extend (out, subs);
    }
  return out;
}

int seccomp_profile_from_docker (const char *text, json_t *caps, json_t **out, berth_err *err)
{
  *out = NULL;
  cleanup_json json_t *p = berth_json_load_buffer (text, strlen (text), PROFILE, err);
  if (p == NULL)
    return berth_error_ret (*err);
  int ret = check_profile (p, err);
  if (ret < 0)
    return ret;

  cleanup_json json_t *oci = json_pack ("{s:O, s:o, s:[]}", "defaultAction", json_object_get (p, "defaultAction"),
                                        "architectures", convert_architectures (p), "syscalls");
  if (oci == NULL)
    return berth_fail (err, ENOMEM, PROFILE);
  json_t *v = json_object_get (p, "defaultErrnoRet");
  if (json_is_integer (v))
    json_object_set (oci, "defaultErrnoRet", v);
  v = json_object_get (p, "flags");
  if (json_array_size (v) > 0)
    json_object_set (oci, "flags", v);

  json_t *syscalls = json_object_get (oci, "syscalls");
  size_t i;
  json_t *call;
  json_array_foreach (json_object_get (p, "syscalls"), i, call)
    if (rule_applies (call, caps) && json_array_append_new (syscalls, convert_syscall (call)) < 0)
      return berth_fail (err, ENOMEM, PROFILE);
  *out = take_ptr (oci);
  return 0;
}
