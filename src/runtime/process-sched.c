#include "runtime/process-sched.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_CLASS_SHIFT 13

static const struct { const char *name; int value; } ioprio_classes[] = {
  { "IOPRIO_CLASS_RT", 1 }, { "IOPRIO_CLASS_BE", 2 }, { "IOPRIO_CLASS_IDLE", 3 },
};

static const struct { const char *name; uint32_t value; } sched_policies[] = {
  { "SCHED_OTHER", 0 }, { "SCHED_FIFO", 1 }, { "SCHED_RR", 2 }, { "SCHED_BATCH", 3 },
  { "SCHED_IDLE", 5 }, { "SCHED_DEADLINE", 6 },
};

static const struct { const char *name; uint64_t value; } sched_flags[] = {
  { "SCHED_FLAG_RESET_ON_FORK", 0x01 }, { "SCHED_FLAG_RECLAIM", 0x02 }, { "SCHED_FLAG_DL_OVERRUN", 0x04 },
  { "SCHED_FLAG_KEEP_POLICY", 0x08 }, { "SCHED_FLAG_KEEP_PARAMS", 0x10 }, { "SCHED_FLAG_UTIL_CLAMP_MIN", 0x20 },
  { "SCHED_FLAG_UTIL_CLAMP_MAX", 0x40 },
};

/* Find KEY in TABLE (an array of {name, value}); store its value in *OUT. */
#define LOOKUP(table, key, out)                                          \
  ({                                                                     \
    bool found_ = false;                                                 \
    for (size_t i_ = 0; (key) && i_ < sizeof table / sizeof table[0]; i_++) \
      if (strcmp (table[i_].name, (key)) == 0)                           \
        {                                                                \
          *(out) = table[i_].value;                                      \
          found_ = true;                                                 \
        }                                                                \
    found_;                                                              \
  })

static int parse_ioprio (struct process_sched *s, json_t *io, berth_err *err)
{
  const char *cls = berth_json_str (io, "class");
  int value = 0;
  if (!LOOKUP (ioprio_classes, cls, &value))
    return berth_fail (err, 0, "process.ioPriority.class: unknown class `%s`", cls ? cls : "");
  json_int_t prio = berth_json_int (io, "priority", 0);
  if (prio < 0 || prio > 7)
    return berth_fail (err, 0, "process.ioPriority.priority must be 0-7");
  s->has_ioprio = true;
  s->ioprio = (value << IOPRIO_CLASS_SHIFT) | (int) prio;
  return 0;
}

static int parse_scheduler (struct process_sched *s, json_t *sc, berth_err *err)
{
  const char *policy = berth_json_str (sc, "policy");
  uint32_t p = 0;
  if (!LOOKUP (sched_policies, policy, &p))
    return berth_fail (err, 0, "process.scheduler.policy: unknown or unsupported policy `%s`", policy ? policy : "");
  s->attr = (struct berth_sched_attr){
    .size = sizeof s->attr, .sched_policy = p,
    .sched_nice = (int32_t) berth_json_int (sc, "nice", 0),
    .sched_priority = (uint32_t) berth_json_int (sc, "priority", 0),
    .sched_runtime = (uint64_t) berth_json_int (sc, "runtime", 0),
    .sched_deadline = (uint64_t) berth_json_int (sc, "deadline", 0),
    .sched_period = (uint64_t) berth_json_int (sc, "period", 0),
  };
  size_t i;
  json_t *f;
  json_array_foreach (berth_json_arr (sc, "flags"), i, f)
    {
      uint64_t bit = 0;
      const char *flag = json_string_value (f);
      if (!LOOKUP (sched_flags, flag, &bit))
        return berth_fail (err, 0, "process.scheduler.flags[%zu]: unknown flag `%s`", i, flag ? flag : "");
      s->attr.sched_flags |= bit;
    }
  s->has_scheduler = true;
  return 0;
}

int process_parse_cpu_list (const char *list, cpu_set_t *set, berth_err *err)
{
  CPU_ZERO (set);
  const char *p = list;
  while (*p)
    {
      char *end;
      long lo = strtol (p, &end, 10), hi = lo;
      if (end == p || lo < 0)
        return berth_fail (err, 0, "invalid CPU list `%s`", list);
      if (*end == '-')
        {
          p = end + 1;
          hi = strtol (p, &end, 10);
          if (end == p || hi < lo)
            return berth_fail (err, 0, "invalid CPU list `%s`", list);
        }
      if (hi >= CPU_SETSIZE)
        return berth_fail (err, 0, "CPU list `%s`: CPU %ld is out of range", list, hi);
      for (long c = lo; c <= hi; c++)
        CPU_SET ((int) c, set);
      if (*end == ',' && end[1] != '\0')
        end++;
      else if (*end != '\0')
        return berth_fail (err, 0, "invalid CPU list `%s`", list);
      p = end;
    }
  return 0;
}

int process_sched_parse (struct process_sched *s, json_t *process, berth_err *err)
{
  memset (s, 0, sizeof *s);
  json_t *io = berth_json_obj (process, "ioPriority");
  json_t *sc = berth_json_obj (process, "scheduler");
  json_t *aff = berth_json_obj (process, "execCPUAffinity");
  int r;
  if ((io && (r = parse_ioprio (s, io, err)) < 0) || (sc && (r = parse_scheduler (s, sc, err)) < 0))
    return r;
  const char *initial = berth_json_str (aff, "initial"), *final = berth_json_str (aff, "final");
  if (initial && (r = process_parse_cpu_list (initial, &s->initial_cpus, err)) < 0)
    return berth_error_prefix (err, "process.execCPUAffinity.initial");
  if (final && (r = process_parse_cpu_list (final, &s->final_cpus, err)) < 0)
    return berth_error_prefix (err, "process.execCPUAffinity.final");
  s->has_initial_cpus = initial != NULL;
  s->has_final_cpus = final != NULL;
  return 0;
}

int process_sched_apply (const struct process_sched *s, berth_err *err)
{
  if (s->has_ioprio && syscall (SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, s->ioprio) < 0)
    return berth_fail_errno (err, "set process.ioPriority");
  if (s->has_scheduler && syscall (SYS_sched_setattr, 0, &s->attr, 0) < 0)
    return berth_fail_errno (err, "set process.scheduler");
  return 0;
}

int process_sched_apply_affinity (const struct process_sched *s, bool final, berth_err *err)
{
  bool has = final ? s->has_final_cpus : s->has_initial_cpus;
  if (has && sched_setaffinity (0, sizeof (cpu_set_t), final ? &s->final_cpus : &s->initial_cpus) < 0)
    return berth_fail_errno (err, "set process.execCPUAffinity.%s", final ? "final" : "initial");
  return 0;
}
