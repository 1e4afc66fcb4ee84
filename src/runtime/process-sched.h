/* Scheduling of the container process: process.ioPriority,
 * process.scheduler and process.execCPUAffinity (runtime-spec 1.2). */
#ifndef BERTH_PROCESS_SCHED_H
#define BERTH_PROCESS_SCHED_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/json.h"

/* struct sched_attr of sched_setattr(2); glibc 2.36 has no wrapper. */
struct berth_sched_attr
{
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
};

struct process_sched
{
  bool has_ioprio;
  int ioprio;                      /* IOPRIO_PRIO_VALUE (class, level) */
  bool has_scheduler;
  struct berth_sched_attr attr;
  bool has_initial_cpus, has_final_cpus;
  cpu_set_t initial_cpus, final_cpus;
};

int process_sched_parse (struct process_sched *s, json_t *process, berth_err *err);
/* I/O priority and scheduler; before privileges are dropped. */
int process_sched_apply (const struct process_sched *s, berth_err *err);
/* execCPUAffinity.initial (FINAL false) or .final (FINAL true). */
int process_sched_apply_affinity (const struct process_sched *s, bool final, berth_err *err);

/* "0-3,7" -> set; exposed for unit tests. */
int process_parse_cpu_list (const char *list, cpu_set_t *set, berth_err *err);

#endif
