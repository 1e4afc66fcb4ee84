/* What `docker top` and `docker stats` read about a running container:
 * its cgroup folders, the pids in them, resource counters, and the
 * parsing of `ps` output.  Nothing here needs the daemon's state, so the
 * unit tests drive it against fake cgroup trees and fake files.
 *
 * A container's cgroup is found from /proc/<pid>/cgroup of its process and
 * /proc/self/mountinfo (the runtime puts it under /berth/<id> in every
 * hierarchy).  Each controller is read where the host mounts it: a v1
 * hierarchy of its own, else the unified (v2) one, so v1, v2 and hybrid
 * hosts all work. */
#ifndef BERTH_CONTAINER_STATS_H
#define BERTH_CONTAINER_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/json.h"

/* The folders of one cgroup, one per controller berthd reads; NULL where
 * the controller is not mounted (or the process is not in a cgroup of the
 * container there).  UNIFIED is the cgroup2 folder, if any. */
struct ct_cgroup
{
  char *cpu;
  char *cpuacct;
  char *memory;
  char *pids;
  char *blkio;
  char *unified;
};

void ct_cgroup_free (struct ct_cgroup *cg);

/* Fill CG from the text of /proc/<pid>/cgroup (PROC_CGROUP) and of
 * /proc/self/mountinfo (MOUNTINFO).  With ID (may be NULL), a hierarchy is
 * used only if the cgroup path there contains ID: a controller the runtime
 * did not set up leaves the process in an ancestor (often "/"), whose
 * processes and counters are the host's, not the container's. */
int ct_cgroup_parse (const char *proc_cgroup, const char *mountinfo, const char *id, struct ct_cgroup *cg,
                     berth_err *err);
/* The same for a live PID (reads the two files).  ENOENT when the process
 * is gone. */
int ct_cgroup_locate (pid_t pid, const char *id, struct ct_cgroup *cg, berth_err *err);

/* Every pid in the container's cgroup and its sub-cgroups (from the pids
 * folder, else memory, cpu, cpuacct, unified), sorted; heap array. */
int ct_cgroup_pids (const struct ct_cgroup *cg, pid_t **pids, size_t *n, berth_err *err);

/* One reading of the counters.  Values are Docker's units (ns, bytes). */
struct ct_stats_sample
{
  char *read;                  /* RFC 3339 (nanoseconds) time of the reading */
  bool has_cpu;
  uint64_t cpu_total, cpu_kernel, cpu_user;
  uint64_t *percpu;            /* v1 only; NULL on v2 */
  size_t n_percpu;
  uint64_t periods, throttled_periods, throttled_time;
  uint64_t system_cpu;         /* the host's, from /proc/stat */
  unsigned online_cpus;
  bool has_memory, memory_v1;
  uint64_t mem_usage, mem_max_usage, mem_limit, mem_failcnt;
  json_t *mem_stat;            /* memory.stat as {key: n} */
  bool has_pids;
  uint64_t pids_current, pids_limit; /* limit 0: none */
  json_t *io_bytes, *io_ops;   /* Docker's BlkioStatEntry arrays, or NULL */
  json_t *networks;            /* {ifname: {...}}, or NULL for none */
};

void ct_stats_sample_clear (struct ct_stats_sample *s);

/* Read every counter of CG.  PID (may be <= 0) is the container's process,
 * for its network interfaces; MACHINE_MEMORY caps the memory limit as
 * Docker does (an unlimited cgroup reports the host's memory).  Counters
 * that cannot be read are left out, never an error. */
void ct_stats_read (const struct ct_cgroup *cg, pid_t pid, uint64_t machine_memory, struct ct_stats_sample *s);

/* Docker's stats object (GET /containers/{id}/stats) for NOW with PRE as
 * the previous reading (NULL: none, as with one-shot); NAME "/name". */
json_t *ct_stats_json (const struct ct_stats_sample *now, const struct ct_stats_sample *pre, const char *name,
                       const char *id);
/* What Docker answers for a container that does not run: zero values,
 * "read" "0001-01-01T00:00:00Z". */
json_t *ct_stats_zero_json (const char *name, const char *id);

/* --- parsers, exposed for the unit tests --- */

/* "key value" lines (memory.stat, cpu.stat, cpuacct.stat) into OBJ. */
void ct_parse_keyed (const char *content, json_t *obj);
/* The value of KEY in such a file; false when absent. */
bool ct_keyed_u64 (const char *content, const char *key, uint64_t *out);
/* A number, or "max" (*out = 0, returns true with *is_max). */
bool ct_parse_limit (const char *content, uint64_t *out, bool *is_max);
/* v1 blkio "MAJ:MIN Op N" lines; v2 io.stat "MAJ:MIN rbytes=N wbytes=N
 * rios=N wios=N ..." lines (KEY_READ/KEY_WRITE pick the pair).  Return a
 * new array of {"major","minor","op","value"}. */
json_t *ct_parse_blkio_v1 (const char *content);
json_t *ct_parse_io_v2 (const char *content, const char *key_read, const char *key_write);
/* /proc/stat: the host's cpu time in ns (the first 7 fields of "cpu", as
 * Docker sums them) and the number of "cpuN" lines. */
bool ct_parse_proc_stat (const char *content, long clock_ticks, uint64_t *system_ns, unsigned *online);
/* /proc/<pid>/net/dev into Docker's networks object, "lo" left out; NULL
 * when no other interface is there. */
json_t *ct_parse_net_dev (const char *content);

/* --- top --- */

/* Docker refuses ps arguments that rename the PID column ("-o x=PID"):
 * EINVAL "specifying \"x=PID\" is not allowed". */
int top_check_ps_args (const char *ps_args, berth_err *err);
/* Split PS_ARGS on spaces into ARGV (after ARGV[0..FIRST-1] left alone),
 * at most MAX entries with the NULL; returns the count. */
size_t top_split_args (char *ps_args, const char **argv, size_t first, size_t max);
/* Keep the rows of `ps` OUTPUT whose PID column is one of PIDS (sorted),
 * plus the "-" rows (threads) that follow a kept row; the last column
 * takes the rest of the line.  *out = {"Titles": [...], "Processes":
 * [[...], ...]}.  EINVAL "Couldn't find PID field in ps output" or
 * "Unexpected pid 'x'". */
int top_parse_ps (const char *output, const pid_t *pids, size_t n, json_t **out, berth_err *err);

#endif
