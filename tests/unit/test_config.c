/* Config parsing: process, namespaces, capabilities, signals, ids. */
#include "unit.h"

#include "runtime/caps.h"
#include "runtime/namespaces.h"
#include "runtime/process.h"
#include "runtime/runtime.h"

#include <sched.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/resource.h>

static json_t *parse (const char *text)
{
  json_t *j = json_loads (text, 0, NULL);
  if (j == NULL)
    {
      printf ("  bad test JSON: %s\n", text);
      _exit (1);
    }
  return j;
}

#define PROCESS_OK "{\"args\":[\"sh\",\"-c\",\"true\"],\"cwd\":\"/work\",\"env\":[\"A=1\"]," \
  "\"user\":{\"uid\":1000,\"gid\":100,\"umask\":18,\"additionalGids\":[5,6]}," \
  "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":100,\"hard\":200}]," \
  "\"noNewPrivileges\":true,\"oomScoreAdj\":500,\"terminal\":true,\"consoleSize\":{\"height\":24,\"width\":80}," \
  "\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_CHOWN\"],\"effective\":[\"CAP_KILL\"],\"ambient\":[\"CAP_NOT_A_CAP\"]}}"

TEST (process_plan_full)
{
  json_t *config = parse ("{\"linux\":{\"personality\":{\"domain\":\"LINUX32\"}}}");
  json_t *process = parse (PROCESS_OK);
  struct process_plan p;
  berth_err err = NULL;
  CHECK (process_plan_init (&p, process, config, &err) == 0);
  CHECK_STR (p.args[0], "sh");
  CHECK_STR (p.args[2], "true");
  CHECK (p.args[3] == NULL);
  CHECK_STR (p.env[0], "A=1");
  CHECK_STR (p.cwd, "/work");
  CHECK (p.uid == 1000 && p.gid == 100);
  CHECK (p.has_umask && p.umask == 022);
  CHECK (p.ngroups == 2 && p.groups[0] == 5 && p.groups[1] == 6);
  CHECK (p.nrlimits == 1 && p.rlimits[0].resource == RLIMIT_NOFILE);
  CHECK (p.rlimits[0].limit.rlim_cur == 100 && p.rlimits[0].limit.rlim_max == 200);
  CHECK (p.no_new_privs);
  CHECK (p.has_oom_score_adj && p.oom_score_adj == 500);
  CHECK (p.terminal && p.rows == 24 && p.cols == 80);
  CHECK (p.has_caps);
  CHECK (p.caps.bounding == ((1ULL << 5) | (1ULL << 0)));  /* CAP_KILL=5, CAP_CHOWN=0 */
  CHECK (p.caps.effective == (1ULL << 5));
  CHECK (p.caps.ambient == 0);                               /* unknown name skipped */
  CHECK (p.has_personality && p.personality == PER_LINUX32);
  CHECK (p.seccomp == NULL);
  process_plan_free (&p);
  json_decref (process);
  json_decref (config);
}

static void expect_process_error (const char *process_json, const char *needle)
{
  json_t *config = parse ("{}");
  json_t *process = parse (process_json);
  struct process_plan p;
  berth_err err = NULL;
  int r = process_plan_init (&p, process, config, &err);
  if (r >= 0 || err == NULL || strstr (err->msg, needle) == NULL)
    {
      printf ("  for %s: expected an error with \"%s\", got %s\n", process_json, needle, err ? err->msg : "success");
      _exit (1);
    }
  berth_error_free (&err);
  process_plan_free (&p);
  json_decref (process);
  json_decref (config);
}

TEST (process_plan_errors)
{
  expect_process_error ("{\"args\":[],\"cwd\":\"/\"}", "process.args");
  expect_process_error ("{\"args\":[\"sh\"]}", "process.cwd");
  expect_process_error ("{\"args\":[\"sh\"],\"cwd\":\"relative\"}", "absolute");
  expect_process_error ("{\"args\":[\"sh\",1],\"cwd\":\"/\"}", "process.args[1]");
  expect_process_error ("{\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":\"A=1\"}", "process.env");
  expect_process_error ("{\"args\":[\"sh\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_BOGUS\",\"soft\":1,\"hard\":1}]}",
                        "RLIMIT_BOGUS");
  expect_process_error ("{\"args\":[\"sh\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":\"x\",\"hard\":1}]}",
                        "integers");
  expect_process_error ("{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0,\"additionalGids\":[\"a\"]}}",
                        "additionalGids[0]");
  expect_process_error ("{\"args\":[\"sh\"],\"cwd\":\"/\",\"capabilities\":{\"bounding\":\"CAP_KILL\"}}", "bounding");
}

TEST (personality_errors)
{
  json_t *process = parse ("{\"args\":[\"sh\"],\"cwd\":\"/\"}");
  json_t *config = parse ("{\"linux\":{\"personality\":{\"domain\":\"BSD\"}}}");
  struct process_plan p;
  berth_err err = NULL;
  CHECK (process_plan_init (&p, process, config, &err) < 0);
  CHECK (strstr (err->msg, "BSD") != NULL);
  berth_error_free (&err);
  process_plan_free (&p);
  json_decref (process);
  json_decref (config);
}

TEST (namespaces_new_and_joined)
{
  json_t *config = parse ("{\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\",\"path\":\"/run/netns/x\"},"
                          "{\"type\":\"mount\"},{\"type\":\"cgroup\"},{\"type\":\"time\"},{\"type\":\"user\"}],"
                          "\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1}],"
                          "\"gidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1}]}}");
  struct ns_plan p;
  berth_err err = NULL;
  CHECK (ns_plan_init (&p, config, &err) == 0);
  CHECK (p.clone_flags == (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUSER));
  CHECK (p.new_cgroupns && p.new_timens);
  CHECK (p.njoins == 1 && p.joins[0].flag == CLONE_NEWNET);
  CHECK_STR (p.joins[0].path, "/run/netns/x");
  CHECK (p.has[NS_NET] && p.has[NS_PID] && !p.has[NS_IPC] && !p.has[NS_UTS]);
  ns_plan_free (&p);
  json_decref (config);
}

static void expect_ns_error (const char *config_json, const char *needle)
{
  json_t *config = parse (config_json);
  struct ns_plan p;
  berth_err err = NULL;
  int r = ns_plan_init (&p, config, &err);
  if (r >= 0 || err == NULL || strstr (err->msg, needle) == NULL)
    {
      printf ("  for %s: expected an error with \"%s\", got %s\n", config_json, needle, err ? err->msg : "success");
      _exit (1);
    }
  berth_error_free (&err);
  ns_plan_free (&p);
  json_decref (config);
}

TEST (namespaces_errors)
{
  expect_ns_error ("{\"linux\":{\"namespaces\":[{\"type\":\"bogus\"}]}}", "bogus");
  expect_ns_error ("{\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\"}]}}", "duplicate");
  expect_ns_error ("{\"linux\":{\"namespaces\":[{\"type\":\"user\"}]}}", "uidMappings");
  expect_ns_error ("{\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1}]}}", "user namespace");
  expect_ns_error ("{\"linux\":{\"timeOffsets\":{\"monotonic\":{\"secs\":1}}}}", "time namespace");
}

TEST (signals)
{
  CHECK (berth_parse_signal ("KILL") == SIGKILL);
  CHECK (berth_parse_signal ("SIGKILL") == SIGKILL);
  CHECK (berth_parse_signal ("sigterm") == SIGTERM);
  CHECK (berth_parse_signal ("9") == 9);
  CHECK (berth_parse_signal ("RTMIN+2") == SIGRTMIN + 2);
  CHECK (berth_parse_signal ("SIGRTMAX-1") == SIGRTMAX - 1);
  CHECK (berth_parse_signal ("NOPE") == -1);
  CHECK (berth_parse_signal ("0") == -1);
  CHECK (berth_parse_signal ("99") == -1);
  CHECK (berth_parse_signal ("9x") == -1);
  CHECK (berth_parse_signal ("") == -1);
}

TEST (container_ids)
{
  const char *good[] = { "a", "web-1", "A_b.c+d", "0" };
  const char *bad[] = { "", ".", "..", "a/b", "../x", "a b", "x\n" };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    CHECK (berth_validate_id (good[i], NULL) == 0);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      berth_err err = NULL;
      CHECK (berth_validate_id (bad[i], &err) < 0);
      CHECK (err != NULL);
      berth_error_free (&err);
    }
  char longid[1100];
  memset (longid, 'a', sizeof longid - 1);
  longid[sizeof longid - 1] = '\0';
  CHECK (berth_validate_id (longid, NULL) < 0);
}

TEST (default_spec_is_valid)
{
  json_t *spec = berth_spec_default (false);
  CHECK (spec != NULL);
  struct process_plan p;
  struct ns_plan n;
  berth_err err = NULL;
  CHECK (process_plan_init (&p, json_object_get (spec, "process"), spec, &err) == 0);
  CHECK (ns_plan_init (&n, spec, &err) == 0);
  CHECK (n.has[NS_MOUNT] && n.has[NS_PID] && n.new_cgroupns);
  process_plan_free (&p);
  ns_plan_free (&n);
  json_decref (spec);
  json_t *rootless = berth_spec_default (true);
  CHECK (ns_plan_init (&n, rootless, &err) == 0);
  CHECK (n.clone_flags & CLONE_NEWUSER);
  ns_plan_free (&n);
  json_decref (rootless);
}

TEST (features_document)
{
  json_t *f = berth_features ();
  CHECK (f != NULL);
  CHECK_STR (json_string_value (json_object_get (f, "ociVersionMax")), BERTH_OCI_VERSION);
  CHECK (json_array_size (json_object_get (f, "hooks")) == 6);
  CHECK (json_array_size (berth_json_path (f, "linux.capabilities")) > 30);
  CHECK (json_is_true (berth_json_path (f, "linux.seccomp.enabled")));
  json_decref (f);
}

TEST (cpu_lists)
{
  cpu_set_t set;
  berth_err err = NULL;
  CHECK (process_parse_cpu_list ("0-2,5", &set, &err) == 0);
  CHECK (CPU_COUNT (&set) == 4 && CPU_ISSET (0, &set) && CPU_ISSET (2, &set) && CPU_ISSET (5, &set));
  CHECK (!CPU_ISSET (3, &set));
  const char *bad[] = { "x", "3-1", "1,", "1-", "-1", "99999" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      CHECK (process_parse_cpu_list (bad[i], &set, &err) < 0);
      berth_error_free (&err);
    }
}

TEST (scheduling_parse)
{
  json_t *process = parse ("{\"scheduler\":{\"policy\":\"SCHED_FIFO\",\"priority\":10,\"flags\":[\"SCHED_FLAG_RESET_ON_FORK\"]},"
                           "\"ioPriority\":{\"class\":\"IOPRIO_CLASS_BE\",\"priority\":3}}");
  struct process_sched s;
  berth_err err = NULL;
  CHECK (process_sched_parse (&s, process, &err) == 0);
  CHECK (s.has_scheduler && s.attr.sched_policy == 1 && s.attr.sched_priority == 10 && s.attr.sched_flags == 1);
  CHECK (s.has_ioprio && s.ioprio == ((2 << 13) | 3));
  json_decref (process);
  process = parse ("{\"ioPriority\":{\"class\":\"IOPRIO_CLASS_BE\",\"priority\":9}}");
  CHECK (process_sched_parse (&s, process, &err) < 0);
  berth_error_free (&err);
  json_decref (process);
  process = parse ("{\"scheduler\":{\"policy\":\"SCHED_OTHER\",\"flags\":[\"SCHED_FLAG_BOGUS\"]}}");
  CHECK (process_sched_parse (&s, process, &err) < 0);
  CHECK (strstr (err->msg, "SCHED_FLAG_BOGUS") != NULL);
  berth_error_free (&err);
  json_decref (process);
}
