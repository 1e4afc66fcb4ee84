/* Docker's `update` rules (daemon/update.go, container.UpdateContainer and
 * verifyContainerResources) over JSON HostConfigs; see update-config.h. */
#include "daemon/update-config.h"
#include "common/cleanup.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_MEMORY (6 * 1024 * 1024)
/* NanoCpus become a CFS quota over this period (100 ms), as in Docker. */
#define NANO_CPU_PERIOD 100000

static const char *const int_fields[] = { "Memory",   "MemorySwap", "MemoryReservation", "NanoCpus",
                                          "CpuQuota", "CpuPeriod",  "CpuShares",         "BlkioWeight" };

/* The request's values, 0 / NULL when absent. */
struct update_req
{
  json_int_t memory, memory_swap, memory_reservation, nano_cpus, cpu_quota, cpu_period, cpu_shares, blkio_weight;
  const char *cpuset_cpus, *cpuset_mems;
  bool has_pids;
  json_int_t pids_limit;
  const char *restart_name;
  json_int_t restart_max;
};

static int read_int (json_t *obj, const char *key, json_int_t *out, berth_err *err)
{
  json_t *v = json_object_get (obj, key);
  *out = 0;
  if (v == NULL || json_is_null (v))
    return 0;
  if (!json_is_integer (v))
    return berth_fail_as (err, EINVAL, "%s: expected integer", key);
  *out = json_integer_value (v);
  return 0;
}

static int read_string (json_t *obj, const char *key, const char **out, berth_err *err)
{
  json_t *v = json_object_get (obj, key);
  *out = NULL;
  if (v == NULL || json_is_null (v))
    return 0;
  if (!json_is_string (v))
    return berth_fail_as (err, EINVAL, "%s: expected string", key);
  *out = *json_string_value (v) ? json_string_value (v) : NULL;
  return 0;
}

static int read_restart (json_t *update, struct update_req *r, berth_err *err)
{
  json_t *rp = json_object_get (update, "RestartPolicy");
  if (rp == NULL || json_is_null (rp))
    return 0;
  if (!json_is_object (rp))
    return berth_fail_as (err, EINVAL, "RestartPolicy: expected object");
  if (read_string (rp, "Name", &r->restart_name, err) < 0 || read_int (rp, "MaximumRetryCount", &r->restart_max, err) < 0)
    return -EINVAL;
  return 0;
}

static int read_request (json_t *update, struct update_req *r, berth_err *err)
{
  json_int_t *slots[] = { &r->memory,     &r->memory_swap, &r->memory_reservation, &r->nano_cpus,
                          &r->cpu_quota,  &r->cpu_period,  &r->cpu_shares,         &r->blkio_weight };
  memset (r, 0, sizeof *r);
  if (!json_is_object (update))
    return berth_fail_as (err, EINVAL, "the update must be a JSON object");
  for (size_t i = 0; i < sizeof int_fields / sizeof int_fields[0]; i++)
    if (read_int (update, int_fields[i], slots[i], err) < 0)
      return -EINVAL;
  if (read_string (update, "CpusetCpus", &r->cpuset_cpus, err) < 0
      || read_string (update, "CpusetMems", &r->cpuset_mems, err) < 0)
    return -EINVAL;
  json_t *pids = json_object_get (update, "PidsLimit");
  if (pids && !json_is_null (pids))
    {
      if (!json_is_integer (pids))
        return berth_fail_as (err, EINVAL, "PidsLimit: expected integer");
      r->has_pids = true;
      r->pids_limit = json_integer_value (pids);
    }
  return read_restart (update, r, err);
}

/* "0-3,5": every number below NCPUS (MAX_OK < 0: no bound). */
static bool cpu_list_valid (const char *list, long max_ok, bool *in_range)
{
  *in_range = true;
  const char *p = list;
  while (*p)
    {
      char *end;
      long a = strtol (p, &end, 10), b = a;
      if (end == p || a < 0)
        return false;
      p = end;
      if (*p == '-')
        {
          b = strtol (p + 1, &end, 10);
          if (end == p + 1 || b < a)
            return false;
          p = end;
        }
      if (max_ok >= 0 && b >= max_ok)
        *in_range = false;
      if (*p == ',')
        p++;
      else if (*p)
        return false;
    }
  return true;
}

static int check_memory (const struct update_req *r, berth_err *err)
{
  if (r->memory != 0 && r->memory < MIN_MEMORY)
    return berth_fail_as (err, EINVAL, "Minimum memory limit allowed is 6MB");
  if (r->memory > 0 && r->memory_swap > 0 && r->memory_swap < r->memory)
    return berth_fail_as (err, EINVAL, "Minimum memoryswap limit should be larger than memory limit, see usage");
  if (r->memory_reservation > 0 && r->memory_reservation < MIN_MEMORY)
    return berth_fail_as (err, EINVAL, "Minimum memory reservation allowed is 6MB");
  if (r->memory > 0 && r->memory_reservation > 0 && r->memory < r->memory_reservation)
    return berth_fail_as (err, EINVAL,
                          "Minimum memory limit can not be less than memory reservation limit, see usage");
  return 0;
}

static int check_cpu (const struct update_req *r, long ncpus, berth_err *err)
{
  bool in_range;
  if (r->nano_cpus > 0 && r->cpu_period > 0)
    return berth_fail_as (err, EINVAL, "Conflicting options: Nano CPUs and CPU Period cannot both be set");
  if (r->nano_cpus > 0 && r->cpu_quota > 0)
    return berth_fail_as (err, EINVAL, "Conflicting options: Nano CPUs and CPU Quota cannot both be set");
  if (r->nano_cpus < 0 || r->nano_cpus > (json_int_t) ncpus * 1000000000LL)
    return berth_fail_as (err, EINVAL, "Range of CPUs is from 0.01 to %ld.00, as there are only %ld CPUs available",
                          ncpus, ncpus);
  if (r->cpu_shares < 0)
    return berth_fail_as (err, EINVAL, "Invalid value: %lld, CPU shares must be a positive integer",
                          (long long) r->cpu_shares);
  if (r->cpu_period != 0 && (r->cpu_period < 1000 || r->cpu_period > 1000000))
    return berth_fail_as (err, EINVAL,
                          "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  if (r->cpu_quota > 0 && r->cpu_quota < 1000)
    return berth_fail_as (err, EINVAL, "CPU cfs quota can not be less than 1ms (i.e. 1000)");
  if (r->cpuset_cpus && !cpu_list_valid (r->cpuset_cpus, ncpus, &in_range))
    return berth_fail_as (err, EINVAL, "Invalid value %s for cpuset cpus", r->cpuset_cpus);
  if (r->cpuset_cpus && !in_range)
    return berth_fail_as (err, EINVAL, "Requested CPUs are not available - requested %s, available: 0-%ld",
                          r->cpuset_cpus, ncpus - 1);
  if (r->cpuset_mems && !cpu_list_valid (r->cpuset_mems, -1, &in_range))
    return berth_fail_as (err, EINVAL, "Invalid value %s for cpuset mems", r->cpuset_mems);
  return 0;
}

static int check_restart (const struct update_req *r, berth_err *err)
{
  const char *n = r->restart_name;
  if (n == NULL)
    return 0;
  if (strcmp (n, "always") == 0 || strcmp (n, "unless-stopped") == 0 || strcmp (n, "no") == 0)
    {
      if (r->restart_max != 0)
        return berth_fail_as (err, EINVAL,
                              "invalid restart policy: maximum retry count can only be used with 'on-failure'");
      return 0;
    }
  if (strcmp (n, "on-failure") == 0)
    {
      if (r->restart_max < 0)
        return berth_fail_as (err, EINVAL, "invalid restart policy: maximum retry count cannot be negative");
      return 0;
    }
  return berth_fail_as (err, EINVAL,
                        "invalid restart policy: unknown policy '%s'; use one of 'no', 'always', 'on-failure', or "
                        "'unless-stopped'",
                        n);
}

static json_int_t current (json_t *hc, const char *key)
{
  json_t *v = json_object_get (hc, key);
  return json_is_integer (v) ? json_integer_value (v) : 0;
}

/* Docker's UpdateContainer: NanoCpus and CpuPeriod/CpuQuota exclude each
 * other across updates too. */
static int check_conflicts (json_t *hc, const struct update_req *r, berth_err *err)
{
  if (r->nano_cpus > 0 && current (hc, "CpuPeriod") > 0)
    return berth_fail_as (err, EBUSY,
                          "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set");
  if (r->nano_cpus > 0 && current (hc, "CpuQuota") > 0)
    return berth_fail_as (err, EBUSY,
                          "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set");
  if (r->cpu_period > 0 && current (hc, "NanoCpus") > 0)
    return berth_fail_as (err, EBUSY,
                          "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set");
  if (r->cpu_quota > 0 && current (hc, "NanoCpus") > 0)
    return berth_fail_as (err, EBUSY,
                          "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set");
  json_int_t swap = current (hc, "MemorySwap");
  if (r->memory != 0 && swap > 0 && r->memory > swap && r->memory_swap == 0)
    return berth_fail_as (err, EBUSY,
                          "Memory limit should be smaller than already set memoryswap limit, update the memoryswap "
                          "at the same time");
  if (r->restart_name && strcmp (r->restart_name, "no") != 0
      && json_is_true (json_object_get (hc, "AutoRemove")))
    return berth_fail_as (err, EBUSY, "Restart policy cannot be updated because AutoRemove is enabled for the container");
  return 0;
}

static void merge (json_t *hc, const struct update_req *r)
{
  const json_int_t values[] = { r->memory,    r->memory_swap, r->memory_reservation, r->nano_cpus,
                                r->cpu_quota, r->cpu_period,  r->cpu_shares,         r->blkio_weight };
  for (size_t i = 0; i < sizeof int_fields / sizeof int_fields[0]; i++)
    if (values[i] != 0)
      json_object_set_new (hc, int_fields[i], json_integer (values[i]));
  if (r->cpuset_cpus)
    json_object_set_new (hc, "CpusetCpus", json_string (r->cpuset_cpus));
  if (r->cpuset_mems)
    json_object_set_new (hc, "CpusetMems", json_string (r->cpuset_mems));
  if (r->has_pids)
    json_object_set_new (hc, "PidsLimit", json_integer (r->pids_limit));
  if (r->restart_name)
    json_object_set_new (hc, "RestartPolicy", json_pack ("{s:s, s:I}", "Name", r->restart_name,
                                                         "MaximumRetryCount", r->restart_max));
}

static json_t *section (json_t *res, const char *name)
{
  json_t *s = json_object_get (res, name);
  if (s == NULL)
    json_object_set_new (res, name, s = json_object ());
  return s;
}

static void set_int (json_t *res, const char *name, const char *key, json_int_t v)
{
  json_object_set_new (section (res, name), key, json_integer (v));
}

/* Docker's toContainerdResources of the request alone. */
static json_t *oci_resources (const struct update_req *r)
{
  json_t *res = json_object ();
  if (r->memory > 0)
    set_int (res, "memory", "limit", r->memory);
  if (r->memory_reservation > 0)
    set_int (res, "memory", "reservation", r->memory_reservation);
  if (r->memory_swap > 0)
    set_int (res, "memory", "swap", r->memory_swap);
  if (r->cpu_shares > 0)
    set_int (res, "cpu", "shares", r->cpu_shares);
  if (r->nano_cpus > 0)
    {
      set_int (res, "cpu", "period", NANO_CPU_PERIOD);
      set_int (res, "cpu", "quota", r->nano_cpus * NANO_CPU_PERIOD / 1000000000LL);
    }
  if (r->cpu_period > 0)
    set_int (res, "cpu", "period", r->cpu_period);
  if (r->cpu_quota != 0)
    set_int (res, "cpu", "quota", r->cpu_quota);
  if (r->cpuset_cpus)
    json_object_set_new (section (res, "cpu"), "cpus", json_string (r->cpuset_cpus));
  if (r->cpuset_mems)
    json_object_set_new (section (res, "cpu"), "mems", json_string (r->cpuset_mems));
  if (r->blkio_weight > 0)
    set_int (res, "blockIO", "weight", r->blkio_weight);
  /* -1 is "no limit" for the runtimes; 0 would mean "leave alone". */
  if (r->has_pids)
    set_int (res, "pids", "limit", r->pids_limit > 0 ? r->pids_limit : -1);
  return res;
}

int host_config_update (json_t *host_config, json_t *update, long ncpus, json_t **resources, berth_err *err)
{
  struct update_req r;
  if (ncpus < 1)
    ncpus = 1;
  if (read_request (update, &r, err) < 0 || check_memory (&r, err) < 0 || check_cpu (&r, ncpus, err) < 0
      || check_restart (&r, err) < 0)
    return -EINVAL;
  if (r.blkio_weight != 0 && (r.blkio_weight < 10 || r.blkio_weight > 1000))
    return berth_fail_as (err, EINVAL, "Range of blkio weight is from 10 to 1000");
  if (check_conflicts (host_config, &r, err) < 0)
    return -EBUSY;
  merge (host_config, &r);
  if (resources)
    *resources = oci_resources (&r);
  return 0;
}
