/* Unit tests for the OCI seccomp translation.  Filters are installed for
 * real, in a grandchild, so a wrong translation shows up as a syscall that
 * behaves wrongly rather than as a mismatch against our own tables. */
#include "unit.h"

#include "common/cleanup.h"
#include "common/json.h"
#include "runtime/seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

/* The errno our getppid rules return: unlikely to come from anywhere else. */
#define TEST_ERRNO 123
#define TEST_ERRNO_STR "123"

/* The profiles below are written with ' for readability. */
static json_t *parse_profile (const char *text)
{
  cleanup_free char *s = strdup (text);
  CHECK (s != NULL);
  for (char *p = s; *p; p++)
    if (*p == '\'')
      *p = '"';
  json_error_t jerr;
  json_t *j = json_loads (s, 0, &jerr);
  if (j == NULL)
    printf ("  bad test JSON: %s: %s\n", jerr.text, s);
  CHECK (j != NULL);
  return j;
}

static struct berth_seccomp *compile_ok (const char *text)
{
  cleanup_json json_t *j = parse_profile (text);
  struct berth_seccomp *s = NULL;
  berth_err err = NULL;
  int ret = berth_seccomp_compile (j, &s, &err);
  if (ret < 0)
    printf ("  compile failed: %s\n", err->msg);
  CHECK (ret == 0);
  CHECK (err == NULL);
  CHECK (s != NULL);
  CHECK (s->prog.len > 0 && s->prog.filter != NULL);
  return s;
}

/* Compile TEXT, expect a failure whose message contains FRAGMENT. */
static void expect_error (const char *text, const char *fragment)
{
  cleanup_json json_t *j = parse_profile (text);
  struct berth_seccomp *s = NULL;
  berth_err err = NULL;
  int ret = berth_seccomp_compile (j, &s, &err);
  if (ret == 0)
    printf ("  compiled, expected an error with \"%s\": %s\n", fragment, text);
  CHECK (ret < 0);
  CHECK (s == NULL);
  CHECK (err != NULL && err->msg != NULL);
  if (strstr (err->msg, fragment) == NULL)
    printf ("  message \"%s\" lacks \"%s\"\n", err->msg, fragment);
  CHECK (strstr (err->msg, fragment) != NULL);
  berth_error_free (&err);
}

static bool program_has (const struct berth_seccomp *s, unsigned short code, uint32_t k)
{
  for (unsigned short i = 0; i < s->prog.len; i++)
    if (s->prog.filter[i].code == code && s->prog.filter[i].k == k)
      return true;
  return false;
}

static bool program_returns (const struct berth_seccomp *s, uint32_t action)
{
  return program_has (s, BPF_RET | BPF_K, action);
}

static bool same_program (const struct berth_seccomp *a, const struct berth_seccomp *b)
{
  return a->prog.len == b->prog.len
         && memcmp (a->prog.filter, b->prog.filter, a->prog.len * sizeof (struct sock_filter)) == 0;
}

static volatile sig_atomic_t trapped_syscall = -1;

static void on_sigsys (int sig, siginfo_t *info, void *ctx)
{
  trapped_syscall = info->si_syscall;
}

/* Fork; the child installs S after no_new_privs (with a SIGSYS handler so
 * TRAP is told apart from KILL) and exits with PROBE's result.  Returns
 * the wait status. */
static int run_filtered (const struct berth_seccomp *s, int (*probe) (void))
{
  fflush (stdout);
  pid_t pid = fork ();
  CHECK (pid >= 0);
  if (pid == 0)
    {
      struct rlimit no_core = { 0, 0 };
      struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
      berth_err err = NULL;
      setrlimit (RLIMIT_CORE, &no_core);
      prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
      sigaction (SIGSYS, &sa, NULL);
      if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        _exit (100);
      if (berth_seccomp_install (s, &err) < 0)
        {
          printf ("  install failed: %s\n", err->msg);
          fflush (stdout);
          _exit (101);
        }
      /* Not _exit(): under ASan its interceptor makes syscalls a
       * default-deny filter refuses. */
      syscall (SYS_exit_group, probe ());
    }
  int status = 0;
  CHECK (waitpid (pid, &status, 0) == pid);
  return status;
}

static int exit_code (int status)
{
  if (WIFSIGNALED (status))
    printf ("  probe killed by signal %d\n", WTERMSIG (status));
  CHECK (WIFEXITED (status));
  return WEXITSTATUS (status);
}

static unsigned long probe_args[2];

/* 0: getppid failed with TEST_ERRNO, 1: it worked, 2: anything else. */
static int probe_getppid (void)
{
  errno = 0;
  long r = syscall (SYS_getppid, probe_args[0], probe_args[1]);
  if (r == -1 && errno == TEST_ERRNO)
    return 0;
  return r > 0 ? 1 : 2;
}

/* Whether S makes getppid(A0, A1) fail with TEST_ERRNO. */
static bool getppid_blocked (const struct berth_seccomp *s, unsigned long a0, unsigned long a1)
{
  probe_args[0] = a0;
  probe_args[1] = a1;
  int code = exit_code (run_filtered (s, probe_getppid));
  CHECK (code == 0 || code == 1);
  return code == 0;
}

TEST (null_profile_gives_no_filter)
{
  struct berth_seccomp *s = (struct berth_seccomp *) 1;
  berth_err err = NULL;
  CHECK (berth_seccomp_compile (NULL, &s, &err) == 0 && s == NULL && err == NULL);

  s = (struct berth_seccomp *) 1;
  cleanup_json json_t *null = json_null ();
  CHECK (berth_seccomp_compile (null, &s, &err) == 0 && s == NULL && err == NULL);

  CHECK (berth_seccomp_install (NULL, &err) == 0);
  berth_seccomp_free (NULL);
}

static char mkdir_path[64];

static int probe_mkdir (void)
{
  if (mkdir (mkdir_path, 0700) != -1 || errno != 38)
    return 1;
  return syscall (SYS_getpid) > 1 ? 0 : 2;
}

TEST (mkdir_blocked_with_errno_38)
{
  snprintf (mkdir_path, sizeof mkdir_path, "/tmp/berth-seccomp-test-%d", getpid ());
  /* The filter must be what stops mkdir, not the environment. */
  CHECK (mkdir (mkdir_path, 0700) == 0 && rmdir (mkdir_path) == 0);

  struct berth_seccomp *s = compile_ok ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': ["
                                        " {'names': ['mkdir', 'mkdirat'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': 38}]}");
  CHECK (exit_code (run_filtered (s, probe_mkdir)) == 0);
  struct stat st;
  CHECK (stat (mkdir_path, &st) < 0 && errno == ENOENT);
  berth_seccomp_free (s);
}

TEST (argument_rule_checked_both_ways)
{
  struct berth_seccomp *s = compile_ok ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': ["
                                        " {'names': ['getppid'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': " TEST_ERRNO_STR ","
                                        "  'args': [{'index': 0, 'value': 4294967295, 'op': 'SCMP_CMP_EQ'}]}]}");
  CHECK (getppid_blocked (s, 0xffffffffUL, 0));
  CHECK (!getppid_blocked (s, 0, 0));
  CHECK (!getppid_blocked (s, 0xfffffffeUL, 0));
  berth_seccomp_free (s);

  /* jansson has no integers above INT64_MAX: -1 stands for all ones. */
  s = compile_ok ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': ["
                  " {'names': ['getppid'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': " TEST_ERRNO_STR ","
                  "  'args': [{'index': 0, 'value': -1, 'op': 'SCMP_CMP_EQ'}]}]}");
  CHECK (getppid_blocked (s, ~0UL, 0));
  CHECK (!getppid_blocked (s, 0xffffffffUL, 0));
  berth_seccomp_free (s);
}

TEST (operators_translate)
{
  static const struct
  {
    const char *op;
    unsigned long value, value_two, blocked, allowed;
  } cases[] = {
    { "SCMP_CMP_NE", 5, 0, 6, 5 },
    { "SCMP_CMP_LT", 5, 0, 4, 5 },
    { "SCMP_CMP_LE", 5, 0, 5, 6 },
    { "SCMP_CMP_EQ", 5, 0, 5, 4 },
    { "SCMP_CMP_GE", 5, 0, 5, 4 },
    { "SCMP_CMP_GT", 5, 0, 6, 5 },
    { "SCMP_CMP_MASKED_EQ", 0xf0, 0x50, 0x55, 0x65 },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      char text[512];
      snprintf (text, sizeof text,
                "{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'],"
                " 'action': 'SCMP_ACT_ERRNO', 'errnoRet': " TEST_ERRNO_STR ","
                " 'args': [{'index': 1, 'value': %lu, 'valueTwo': %lu, 'op': '%s'}]}]}",
                cases[i].value, cases[i].value_two, cases[i].op);
      struct berth_seccomp *s = compile_ok (text);
      if (!getppid_blocked (s, 0, cases[i].blocked) || getppid_blocked (s, 0, cases[i].allowed))
        printf ("  %s translated wrongly\n", cases[i].op);
      CHECK (getppid_blocked (s, 0, cases[i].blocked));
      CHECK (!getppid_blocked (s, 0, cases[i].allowed));
      berth_seccomp_free (s);
    }
}

TEST (args_on_different_indexes_all_must_match)
{
  struct berth_seccomp *s = compile_ok ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': ["
                                        " {'names': ['getppid'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': " TEST_ERRNO_STR ","
                                        "  'args': [{'index': 0, 'value': 1, 'op': 'SCMP_CMP_EQ'},"
                                        "           {'index': 1, 'value': 2, 'op': 'SCMP_CMP_EQ'}]}]}");
  CHECK (getppid_blocked (s, 1, 2));
  CHECK (!getppid_blocked (s, 1, 3));
  CHECK (!getppid_blocked (s, 0, 2));
  berth_seccomp_free (s);
}

/* runc: two conditions on one argument become two rules, so either blocks. */
TEST (args_on_same_index_match_either)
{
  struct berth_seccomp *s = compile_ok ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': ["
                                        " {'names': ['getppid'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': " TEST_ERRNO_STR ","
                                        "  'args': [{'index': 0, 'value': 255, 'valueTwo': 1, 'op': 'SCMP_CMP_MASKED_EQ'},"
                                        "           {'index': 0, 'value': 255, 'valueTwo': 2, 'op': 'SCMP_CMP_MASKED_EQ'}]}]}");
  CHECK (getppid_blocked (s, 1, 0));
  CHECK (getppid_blocked (s, 0x102, 0));
  CHECK (!getppid_blocked (s, 3, 0));
  CHECK (!getppid_blocked (s, 0, 0));
  berth_seccomp_free (s);
}

TEST (value_actions_put_their_value_in_the_program)
{
  static const struct
  {
    const char *profile;
    uint32_t ret;
  } cases[] = {
    { "{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_KILL_PROCESS'}]}",
      0x80000000U },
    { "{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_TRAP'}]}",
      0x00030000U },
    { "{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': 7}]}",
      0x00050007U },
    { "{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_ERRNO'}]}",
      0x00050000U | EPERM },
    { "{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_TRACE', 'errnoRet': 9}]}",
      0x7ff00009U },
    { "{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_TRACE'}]}",
      0x7ff00000U | EPERM },
    { "{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_LOG'}]}",
      0x7ffc0000U },
    { "{'defaultAction': 'SCMP_ACT_ERRNO', 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_ALLOW'}]}",
      0x7fff0000U },
    { "{'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 99}", 0x00050063U },
    { "{'defaultAction': 'SCMP_ACT_LOG'}", 0x7ffc0000U },
  };
  struct berth_seccomp *allow_all = compile_ok ("{'defaultAction': 'SCMP_ACT_ALLOW'}");
  struct berth_seccomp *deny_all = compile_ok ("{'defaultAction': 'SCMP_ACT_ERRNO'}");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      struct berth_seccomp *s = compile_ok (cases[i].profile);
      /* Only meaningful if the value is not there anyway. */
      CHECK (!program_returns (allow_all, cases[i].ret) || !program_returns (deny_all, cases[i].ret));
      if (!program_returns (s, cases[i].ret))
        printf ("  no return 0x%x in %s\n", cases[i].ret, cases[i].profile);
      CHECK (program_returns (s, cases[i].ret));
      berth_seccomp_free (s);
    }
  berth_seccomp_free (allow_all);
  berth_seccomp_free (deny_all);
}

static int probe_getppid_plain (void)
{
  trapped_syscall = -1;
  errno = 0;
  long r = syscall (SYS_getppid);
  if (trapped_syscall == SYS_getppid)
    return 10; /* SIGSYS handler ran: TRAP */
  if (r == -1)
    return errno == ENOSYS ? 11 : 12;
  return 13; /* allowed */
}

static int run_getppid_with_action (const char *action)
{
  char text[256];
  snprintf (text, sizeof text,
            "{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'], 'action': '%s'}]}", action);
  struct berth_seccomp *s = compile_ok (text);
  int status = run_filtered (s, probe_getppid_plain);
  /* KILL_PROCESS has its own return value; KILL and KILL_THREAD must not. */
  bool kill_process = program_returns (s, 0x80000000U);
  berth_seccomp_free (s);
  if (strcmp (action, "SCMP_ACT_KILL_PROCESS") == 0)
    CHECK (kill_process);
  else
    CHECK (!kill_process);
  return status;
}

TEST (actions_behave)
{
  /* Killed despite the SIGSYS handler: a kill, not a trap. */
  static const char *const kills[] = { "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS" };
  for (size_t i = 0; i < 3; i++)
    {
      int status = run_getppid_with_action (kills[i]);
      if (!WIFSIGNALED (status) || WTERMSIG (status) != SIGSYS)
        printf ("  %s did not kill with SIGSYS (status 0x%x)\n", kills[i], status);
      CHECK (WIFSIGNALED (status) && WTERMSIG (status) == SIGSYS);
    }
  CHECK (exit_code (run_getppid_with_action ("SCMP_ACT_TRAP")) == 10);
  /* Without a tracer the kernel fails a TRACE'd syscall with ENOSYS. */
  CHECK (exit_code (run_getppid_with_action ("SCMP_ACT_TRACE")) == 11);
  CHECK (exit_code (run_getppid_with_action ("SCMP_ACT_LOG")) == 13);
}

static int probe_default_errno (void)
{
  errno = 0;
  if (syscall (SYS_getuid) != -1 || errno != 99)
    return 1;
  return syscall (SYS_getppid) > 0 ? 0 : 2;
}

static int probe_default_eperm (void)
{
  errno = 0;
  if (syscall (SYS_getuid) != -1 || errno != EPERM)
    return 1;
  return syscall (SYS_getppid) > 0 ? 0 : 2;
}

TEST (default_errno_uses_default_errno_ret)
{
  struct berth_seccomp *s = compile_ok ("{'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 99, 'syscalls': ["
                                        " {'names': ['exit_group', 'exit', 'getppid'], 'action': 'SCMP_ACT_ALLOW'}]}");
  CHECK (exit_code (run_filtered (s, probe_default_errno)) == 0);
  berth_seccomp_free (s);

  s = compile_ok ("{'defaultAction': 'SCMP_ACT_ERRNO', 'syscalls': ["
                  " {'names': ['exit_group', 'exit', 'getppid'], 'action': 'SCMP_ACT_ALLOW'}]}");
  CHECK (exit_code (run_filtered (s, probe_default_eperm)) == 0);
  berth_seccomp_free (s);
}

TEST (rule_equal_to_default_is_skipped)
{
  /* ERRNO without errnoRet is ERRNO(EPERM), the same as the default:
   * libseccomp would refuse the rule. */
  struct berth_seccomp *s = compile_ok ("{'defaultAction': 'SCMP_ACT_ERRNO', 'syscalls': ["
                                        " {'names': ['getuid'], 'action': 'SCMP_ACT_ERRNO'},"
                                        " {'names': ['exit_group', 'exit', 'getppid'], 'action': 'SCMP_ACT_ALLOW'}]}");
  CHECK (exit_code (run_filtered (s, probe_default_eperm)) == 0);
  berth_seccomp_free (s);

  s = compile_ok ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_ALLOW'}]}");
  CHECK (!getppid_blocked (s, 0, 0));
  berth_seccomp_free (s);
}

TEST (unknown_syscall_names_are_skipped)
{
  struct berth_seccomp *s = compile_ok ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': ["
                                        " {'names': ['berth_no_such_syscall'], 'action': 'SCMP_ACT_KILL'},"
                                        " {'names': ['berth_no_such_syscall', 'getppid'], 'action': 'SCMP_ACT_ERRNO',"
                                        "  'errnoRet': " TEST_ERRNO_STR "}]}");
  CHECK (getppid_blocked (s, 0, 0));
  berth_seccomp_free (s);
}

TEST (unknown_names_fail_with_field)
{
  expect_error ("{'defaultAction': 'SCMP_ACT_FOO'}", "linux.seccomp.defaultAction: unknown action `SCMP_ACT_FOO`");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getpid'], 'action': 'SCMP_ACT_ERRNO'},"
                " {'names': ['getppid'], 'action': 'SCMP_ACT_FOO'}]}",
                "linux.seccomp.syscalls[1].action: unknown action `SCMP_ACT_FOO`");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_ERRNO',"
                " 'args': [{'index': 0, 'value': 1, 'op': 'SCMP_CMP_EQ'}, {'index': 1, 'value': 1, 'op': 'SCMP_CMP_FOO'}]}]}",
                "linux.seccomp.syscalls[0].args[1].op: unknown operator `SCMP_CMP_FOO`");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': ['SCMP_ARCH_X86', 'SCMP_ARCH_FOO']}",
                "linux.seccomp.architectures[1]: unknown architecture `SCMP_ARCH_FOO`");
  /* libseccomp's own spelling is not the spec's. */
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': ['x86_64']}",
                "linux.seccomp.architectures[0]: unknown architecture `x86_64`");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'flags': ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_FOO']}",
                "linux.seccomp.flags[1]: unknown flag `SECCOMP_FILTER_FLAG_FOO`");
}

TEST (notify_is_rejected)
{
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_NOTIFY'}]}",
                "linux.seccomp.syscalls[0].action: seccomp notify is not supported");
  expect_error ("{'defaultAction': 'SCMP_ACT_NOTIFY'}", "linux.seccomp.defaultAction: seccomp notify is not supported");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'listenerPath': '/run/agent.sock'}",
                "linux.seccomp.listenerPath: seccomp notify is not supported");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'flags': ['SECCOMP_FILTER_FLAG_NEW_LISTENER']}",
                "linux.seccomp.flags[0]: seccomp notify is not supported");
}

TEST (invalid_input_names_the_field)
{
  expect_error ("{}", "linux.seccomp.defaultAction: missing");
  expect_error ("{'defaultAction': 1}", "linux.seccomp.defaultAction: expected a string");
  expect_error ("{'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 'EPERM'}",
                "linux.seccomp.defaultErrnoRet: expected an integer");
  expect_error ("{'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 65536}", "linux.seccomp.defaultErrnoRet: 65536 out of range");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'flags': 'SECCOMP_FILTER_FLAG_LOG'}", "linux.seccomp.flags: expected an array");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': [1]}", "linux.seccomp.architectures[0]: expected a string");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': {}}", "linux.seccomp.syscalls: expected an array");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_ERRNO'}, 3]}",
                "linux.seccomp.syscalls[1]: expected an object");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'action': 'SCMP_ACT_ERRNO'}]}",
                "linux.seccomp.syscalls[0].names: missing");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': [], 'action': 'SCMP_ACT_ERRNO'}]}",
                "linux.seccomp.syscalls[0].names: no syscall names");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid', 7], 'action': 'SCMP_ACT_ERRNO'}]}",
                "linux.seccomp.syscalls[0].names[1]: expected a string");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': [''], 'action': 'SCMP_ACT_ERRNO'}]}",
                "linux.seccomp.syscalls[0].names[0]: empty syscall name");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid']}]}",
                "linux.seccomp.syscalls[0].action: missing");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': -1}]}",
                "linux.seccomp.syscalls[0].errnoRet: -1 out of range");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_ERRNO', 'args': {}}]}",
                "linux.seccomp.syscalls[0].args: expected an array");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_ERRNO',"
                " 'args': [{'index': 6, 'value': 1, 'op': 'SCMP_CMP_EQ'}]}]}",
                "linux.seccomp.syscalls[0].args[0].index: 6 out of range");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_ERRNO',"
                " 'args': [{'value': 1, 'op': 'SCMP_CMP_EQ'}]}]}",
                "linux.seccomp.syscalls[0].args[0].index: missing");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_ERRNO',"
                " 'args': [{'index': 0, 'value': '1', 'op': 'SCMP_CMP_EQ'}]}]}",
                "linux.seccomp.syscalls[0].args[0].value: expected an integer");
  expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_ERRNO',"
                " 'args': [{'index': 0, 'value': 1}]}]}",
                "linux.seccomp.syscalls[0].args[0].op: missing");

  cleanup_json json_t *not_object = json_string ("SCMP_ACT_ALLOW");
  struct berth_seccomp *s = NULL;
  berth_err err = NULL;
  CHECK (berth_seccomp_compile (not_object, &s, &err) < 0 && s == NULL);
  CHECK_STR (err->msg, "linux.seccomp: expected an object");
  berth_error_free (&err);
}

TEST (architectures_translate)
{
  static const struct
  {
    const char *name;
    uint32_t token;
    uint32_t checked_arch; /* what the program compares seccomp_data.arch with */
  } archs[] = {
    { "SCMP_ARCH_X86", SCMP_ARCH_X86, AUDIT_ARCH_I386 },
    { "SCMP_ARCH_X86_64", SCMP_ARCH_X86_64, AUDIT_ARCH_X86_64 },
    /* x32 shares x86_64's audit value and is told apart by syscall number. */
    { "SCMP_ARCH_X32", SCMP_ARCH_X32, AUDIT_ARCH_X86_64 },
    { "SCMP_ARCH_ARM", SCMP_ARCH_ARM, AUDIT_ARCH_ARM },
    { "SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64, AUDIT_ARCH_AARCH64 },
    { "SCMP_ARCH_MIPS", SCMP_ARCH_MIPS, AUDIT_ARCH_MIPS },
    { "SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64, AUDIT_ARCH_MIPS64 },
    { "SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32, AUDIT_ARCH_MIPS64N32 },
    { "SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL, AUDIT_ARCH_MIPSEL },
    { "SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64, AUDIT_ARCH_MIPSEL64 },
    { "SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32, AUDIT_ARCH_MIPSEL64N32 },
    { "SCMP_ARCH_PPC", SCMP_ARCH_PPC, AUDIT_ARCH_PPC },
    { "SCMP_ARCH_PPC64", SCMP_ARCH_PPC64, AUDIT_ARCH_PPC64 },
    { "SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE, AUDIT_ARCH_PPC64LE },
    { "SCMP_ARCH_S390", SCMP_ARCH_S390, AUDIT_ARCH_S390 },
    { "SCMP_ARCH_S390X", SCMP_ARCH_S390X, AUDIT_ARCH_S390X },
    { "SCMP_ARCH_PARISC", SCMP_ARCH_PARISC, AUDIT_ARCH_PARISC },
    { "SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64, AUDIT_ARCH_PARISC64 },
    { "SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64, AUDIT_ARCH_RISCV64 },
  };
  const char *rule = "'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_ERRNO'}]";
  char text[512];
  snprintf (text, sizeof text, "{'defaultAction': 'SCMP_ACT_ALLOW', %s}", rule);
  struct berth_seccomp *native_only = compile_ok (text);
  uint32_t native = seccomp_arch_native ();
  bool native_le = (native & __AUDIT_ARCH_LE) != 0;

  for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
    {
      snprintf (text, sizeof text, "{'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': ['%s'], %s}",
                archs[i].name, rule);
      /* libseccomp cannot mix byte orders in one filter (nor can runc). */
      if (((archs[i].token & __AUDIT_ARCH_LE) != 0) != native_le)
        {
          expect_error (text, "has a different byte order");
          continue;
        }
      struct berth_seccomp *s = compile_ok (text);
      if (!program_has (s, BPF_JMP | BPF_JEQ | BPF_K, archs[i].checked_arch))
        printf ("  %s: no arch check for 0x%x\n", archs[i].name, archs[i].checked_arch);
      CHECK (program_has (s, BPF_JMP | BPF_JEQ | BPF_K, archs[i].checked_arch));
      /* Adding the native arch again is fine and changes nothing. */
      CHECK (same_program (s, native_only) == (archs[i].token == native));
      berth_seccomp_free (s);
    }
  berth_seccomp_free (native_only);
}

TEST (flags_are_stored_and_installable)
{
  struct berth_seccomp *s = compile_ok ("{'defaultAction': 'SCMP_ACT_ALLOW', 'flags': ["
                                        " 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW',"
                                        " 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],"
                                        " 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_ERRNO',"
                                        "  'errnoRet': " TEST_ERRNO_STR "}]}");
  CHECK (s->flags
         == (SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV));
  /* WAIT_KILLABLE_RECV alone would make the kernel refuse the filter. */
  CHECK (getppid_blocked (s, 0, 0));
  berth_seccomp_free (s);

  s = compile_ok ("{'defaultAction': 'SCMP_ACT_ALLOW', 'flags': ['SECCOMP_FILTER_FLAG_TSYNC']}");
  CHECK (s->flags == SECCOMP_FILTER_FLAG_TSYNC);
  berth_seccomp_free (s);

  s = compile_ok ("{'defaultAction': 'SCMP_ACT_ALLOW'}");
  CHECK (s->flags == 0);
  berth_seccomp_free (s);
}

/* The kernel takes at most BPF_MAXINSNS instructions; say so at compile
 * time instead of letting seccomp(2) fail with a bare EINVAL.  Every
 * little-endian architecture times every syscall gets there without the
 * many-condition rules that make libseccomp slow. */
TEST (oversized_filter_fails_clearly)
{
  if ((seccomp_arch_native () & __AUDIT_ARCH_LE) == 0)
    return;
  size_t cap = 1 << 20, len = 0;
  cleanup_free char *text = malloc (cap);
  CHECK (text != NULL);
  len += snprintf (text + len, cap - len,
                   "{'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86',"
                   " 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64',"
                   " 'SCMP_ARCH_MIPSEL64N32', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_RISCV64'], 'syscalls': [");
  for (int nr = 0; nr < 1000; nr++)
    {
      cleanup_free char *name = seccomp_syscall_resolve_num_arch (seccomp_arch_native (), nr);
      if (name == NULL)
        continue;
      /* Distinct values, so that libseccomp cannot merge the rules. */
      len += snprintf (text + len, cap - len,
                       "{'names': ['%s'], 'action': 'SCMP_ACT_ERRNO'%s%d%s},", name,
                       nr < 100 ? ", 'args': [{'op': 'SCMP_CMP_EQ', 'index': 0, 'value': " : ", 'errnoRet': ",
                       nr < 100 ? nr : 1, nr < 100 ? "}]" : "");
    }
  CHECK (len < cap - 8);
  text[len - 1] = ']'; /* the last rule's comma */
  snprintf (text + len, cap - len, "}");
  expect_error (text, "seccomp filter too large");
}

TEST (install_reports_kernel_refusal)
{
  struct berth_seccomp *s = compile_ok ("{'defaultAction': 'SCMP_ACT_ALLOW'}");
  s->flags = 1U << 30; /* no such flag; the kernel says EINVAL */
  CHECK (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
  berth_err err = NULL;
  CHECK (berth_seccomp_install (s, &err) == -EINVAL);
  CHECK (err != NULL && strstr (err->msg, "install seccomp filter with flags 0x40000000") != NULL);
  berth_error_free (&err);
  berth_seccomp_free (s);
}

static bool json_array_has (json_t *arr, const char *name)
{
  size_t i;
  json_t *v;
  json_array_foreach (arr, i, v)
    if (json_is_string (v) && strcmp (json_string_value (v), name) == 0)
      return true;
  return false;
}

TEST (features_lists_what_compiles)
{
  cleanup_json json_t *f = berth_seccomp_features ();
  CHECK (f != NULL);
  CHECK (json_is_true (json_object_get (f, "enabled")));

  json_t *actions = json_object_get (f, "actions");
  CHECK (json_array_size (actions) == 8);
  CHECK (json_array_has (actions, "SCMP_ACT_KILL_PROCESS") && json_array_has (actions, "SCMP_ACT_LOG"));
  CHECK (!json_array_has (actions, "SCMP_ACT_NOTIFY"));

  json_t *operators = json_object_get (f, "operators");
  CHECK (json_array_size (operators) == 7 && json_array_has (operators, "SCMP_CMP_MASKED_EQ"));

  /* Every listed architecture must be one the compiler knows. */
  json_t *archs = json_object_get (f, "archs");
  CHECK (json_array_size (archs) >= 19);
#if defined(__x86_64__)
  CHECK (json_array_has (archs, "SCMP_ARCH_X86_64"));
#endif
  size_t i;
  json_t *v;
  json_array_foreach (archs, i, v)
    {
      char text[256];
      snprintf (text, sizeof text, "{'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': ['%s']}", json_string_value (v));
      cleanup_json json_t *j = parse_profile (text);
      struct berth_seccomp *s = NULL;
      berth_err err = NULL;
      if (berth_seccomp_compile (j, &s, &err) < 0)
        {
          CHECK (strstr (err->msg, "unknown architecture") == NULL);
          berth_error_free (&err);
        }
      berth_seccomp_free (s);
    }

  json_t *known = json_object_get (f, "knownFlags");
  json_t *supported = json_object_get (f, "supportedFlags");
  CHECK (json_array_size (known) == 4);
  json_array_foreach (supported, i, v)
    CHECK (json_array_has (known, json_string_value (v)));
  /* The test kernel is far newer than 4.14, which added FLAG_LOG. */
  CHECK (json_array_has (supported, "SECCOMP_FILTER_FLAG_LOG"));
}

TEST (compile_free_cycle_does_not_leak)
{
  for (int i = 0; i < 50; i++)
    {
      struct berth_seccomp *s = compile_ok ("{'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 1,"
                                            " 'architectures': ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],"
                                            " 'syscalls': [{'names': ['read', 'write', 'berth_nope'], 'action': 'SCMP_ACT_ALLOW'},"
                                            "  {'names': ['personality'], 'action': 'SCMP_ACT_ALLOW',"
                                            "   'args': [{'index': 0, 'value': 0, 'op': 'SCMP_CMP_EQ'}]},"
                                            "  {'names': ['clone'], 'action': 'SCMP_ACT_ALLOW',"
                                            "   'args': [{'index': 0, 'value': 2114060288, 'valueTwo': 0, 'op': 'SCMP_CMP_MASKED_EQ'},"
                                            "            {'index': 0, 'value': 1, 'valueTwo': 1, 'op': 'SCMP_CMP_MASKED_EQ'}]}]}");
      CHECK (s->prog.len > 10);
      berth_seccomp_free (s);
      expect_error ("{'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['getppid'], 'action': 'SCMP_ACT_ERRNO',"
                    " 'args': [{'index': 0, 'value': 1, 'op': 'SCMP_CMP_EQ'}, {'index': 9, 'value': 1, 'op': 'SCMP_CMP_EQ'}]}]}",
                    "args[1].index");
      json_decref (berth_seccomp_features ());
    }
#if defined(__SANITIZE_ADDRESS__)
  /* Each test ends in _exit(), which skips LeakSanitizer's exit check. */
  CHECK (__lsan_do_recoverable_leak_check () == 0);
#endif
}
