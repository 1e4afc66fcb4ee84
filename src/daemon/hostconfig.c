/* HostConfig: validation at create time and Docker's defaults, so that a
 * bad request is a 400 from POST /containers/create and `docker inspect`
 * shows what the container will really get. */
#include "daemon/spec-internal.h"

#include "common/cleanup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define MIN_MEMORY (6 * 1024 * 1024)
#define DEFAULT_SHM_SIZE (64 * 1024 * 1024)
#define NANO_CPUS_PER_CPU 1000000000LL
/* 0.01 CPU: the smallest CFS quota (1 ms) in the default 100 ms period. */
#define MIN_NANO_CPUS 10000000LL

const char *const spec_default_masked_paths[] = {
  "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
  "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap", NULL,
};
const char *const spec_default_readonly_paths[] = {
  "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

bool spec_host_cgroup2 (void)
{
  struct statfs st;
  return statfs ("/sys/fs/cgroup", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

bool spec_host_swap_limit (void)
{
  if (spec_host_cgroup2 ())
    return access ("/sys/fs/cgroup/init.scope/memory.swap.max", F_OK) == 0
           || access ("/sys/fs/cgroup/system.slice/memory.swap.max", F_OK) == 0;
  return access ("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0;
}

static int cpus_available (void)
{
  cpu_set_t set;
  if (sched_getaffinity (0, sizeof set, &set) == 0)
    return CPU_COUNT (&set);
  long n = sysconf (_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int) n : 1;
}

/* ------------------------------------------------------------------ */
/* Field types                                                         */
/* ------------------------------------------------------------------ */

struct field_type
{
  const char *name;
  json_type type;
};

static const struct field_type field_types[] = {
  { "Binds", JSON_ARRAY },          { "CapAdd", JSON_ARRAY },           { "CapDrop", JSON_ARRAY },
  { "Dns", JSON_ARRAY },            { "DnsOptions", JSON_ARRAY },       { "DnsSearch", JSON_ARRAY },
  { "ExtraHosts", JSON_ARRAY },     { "GroupAdd", JSON_ARRAY },         { "SecurityOpt", JSON_ARRAY },
  { "Ulimits", JSON_ARRAY },        { "Devices", JSON_ARRAY },          { "MaskedPaths", JSON_ARRAY },
  { "ReadonlyPaths", JSON_ARRAY },  { "ConsoleSize", JSON_ARRAY },      { "DeviceCgroupRules", JSON_ARRAY },
  { "Links", JSON_ARRAY },          { "VolumesFrom", JSON_ARRAY },      { "DeviceRequests", JSON_ARRAY },
  { "Mounts", JSON_ARRAY },
  { "RestartPolicy", JSON_OBJECT }, { "LogConfig", JSON_OBJECT },       { "PortBindings", JSON_OBJECT },
  { "Tmpfs", JSON_OBJECT },         { "Sysctls", JSON_OBJECT },         { "StorageOpt", JSON_OBJECT },
  { "NetworkMode", JSON_STRING },   { "IpcMode", JSON_STRING },         { "PidMode", JSON_STRING },
  { "UTSMode", JSON_STRING },       { "UsernsMode", JSON_STRING },      { "CgroupnsMode", JSON_STRING },
  { "CpusetCpus", JSON_STRING },    { "CpusetMems", JSON_STRING },      { "CgroupParent", JSON_STRING },
  { "Runtime", JSON_STRING },       { "ContainerIDFile", JSON_STRING }, { "VolumeDriver", JSON_STRING },
  { "Cgroup", JSON_STRING },        { "Isolation", JSON_STRING },
  { "Privileged", JSON_TRUE },      { "ReadonlyRootfs", JSON_TRUE },    { "AutoRemove", JSON_TRUE },
  { "Init", JSON_TRUE },            { "OomKillDisable", JSON_TRUE },    { "PublishAllPorts", JSON_TRUE },
  { "CpuShares", JSON_INTEGER },    { "Memory", JSON_INTEGER },         { "NanoCpus", JSON_INTEGER },
  { "BlkioWeight", JSON_INTEGER },  { "CpuPeriod", JSON_INTEGER },      { "CpuQuota", JSON_INTEGER },
  { "MemoryReservation", JSON_INTEGER }, { "MemorySwap", JSON_INTEGER }, { "ShmSize", JSON_INTEGER },
  { "OomScoreAdj", JSON_INTEGER },  { "PidsLimit", JSON_INTEGER },      { "MemorySwappiness", JSON_INTEGER },
  { "CpuRealtimePeriod", JSON_INTEGER }, { "CpuRealtimeRuntime", JSON_INTEGER },
};

static int check_field_types (json_t *hc, berth_err *err)
{
  for (size_t i = 0; i < sizeof field_types / sizeof field_types[0]; i++)
    {
      json_t *v = json_object_get (hc, field_types[i].name);
      /* JSON_REAL would let 1.5 through as an integer field. */
      if (field_types[i].type == JSON_INTEGER && v && !json_is_null (v) && !json_is_integer (v))
        return berth_fail (err, 0, "HostConfig.%s: expected an integer", field_types[i].name);
      int ret = berth_json_check_type (hc, field_types[i].name, field_types[i].type, "HostConfig", err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

/* Every element of HC[KEY] (an array, checked) is a string. */
static int check_strings (json_t *hc, const char *key, berth_err *err)
{
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (hc, key), i, v)
    if (!json_is_string (v))
      return berth_fail (err, 0, "HostConfig.%s[%zu]: expected a string", key, i);
  return 0;
}

/* ------------------------------------------------------------------ */
/* Individual checks                                                   */
/* ------------------------------------------------------------------ */

static int check_restart_policy (json_t *hc, berth_err *err)
{
  json_t *rp = json_object_get (hc, "RestartPolicy");
  const char *name = berth_json_str (rp, "Name");
  json_t *count = json_object_get (rp, "MaximumRetryCount");
  if (count && !json_is_null (count) && !json_is_integer (count))
    return berth_fail (err, 0, "HostConfig.RestartPolicy.MaximumRetryCount: expected an integer");
  json_int_t retries = json_integer_value (count);
  if (name == NULL || name[0] == '\0')
    name = "no";
  if (strcmp (name, "on-failure") == 0)
    {
      if (retries < 0)
        return berth_fail (err, 0, "maximum retry count cannot be negative");
    }
  else if (strcmp (name, "no") == 0 || strcmp (name, "always") == 0 || strcmp (name, "unless-stopped") == 0)
    {
      if (retries != 0)
        return berth_fail (err, 0, "maximum retry count cannot be used with restart policy '%s'", name);
    }
  else
    return berth_fail (err, 0, "invalid restart policy '%s'", name);
  if (strcmp (name, "no") != 0 && berth_json_bool (hc, "AutoRemove", false))
    return berth_fail (err, 0, "can't create 'AutoRemove' container with restart policy");
  json_object_set_new (hc, "RestartPolicy", json_pack ("{s:s, s:I}", "Name", name, "MaximumRetryCount", retries));
  return 0;
}

static int check_memory (json_t *hc, berth_err *err)
{
  json_int_t memory = berth_json_int (hc, "Memory", 0);
  json_int_t swap = berth_json_int (hc, "MemorySwap", 0);
  json_int_t reservation = berth_json_int (hc, "MemoryReservation", 0);
  json_t *swappiness = json_object_get (hc, "MemorySwappiness");
  if (memory < 0 || reservation < 0 || swap < -1)
    return berth_fail (err, 0, "invalid memory limit: values must not be negative");
  if (memory > 0 && memory < MIN_MEMORY)
    return berth_fail (err, 0, "Minimum memory limit allowed is 6MB");
  if (swap > 0 && memory == 0)
    return berth_fail (err, 0, "You should always set the Memory limit when using Memoryswap limit, see usage");
  if (swap > 0 && swap < memory)
    return berth_fail (err, 0, "Minimum memoryswap limit should be larger than memory limit, see usage");
  if (reservation > 0 && reservation < MIN_MEMORY)
    return berth_fail (err, 0, "Minimum memory reservation allowed is 6MB");
  if (memory > 0 && reservation > memory)
    return berth_fail (err, 0, "Minimum memory limit can not be less than memory reservation limit, see usage");
  if (json_is_integer (swappiness) && (json_integer_value (swappiness) < -1 || json_integer_value (swappiness) > 100))
    return berth_fail (err, 0, "Invalid value: %lld, valid memory swappiness range is 0-100",
                       (long long) json_integer_value (swappiness));
  /* Docker's default: swap as large as the memory limit, when the host
   * can limit swap at all (else unlimited, -1). */
  if (memory > 0 && swap == 0)
    swap = memory * 2;
  if (swap != 0 && !spec_host_swap_limit ())
    swap = -1;
  json_object_set_new (hc, "MemorySwap", json_integer (swap));
  return 0;
}

/* "0-3,5": every number below LIMIT (0: any). */
static bool valid_cpu_list (const char *s, long limit)
{
  if (*s == '\0')
    return true;
  while (*s)
    {
      char *end;
      if (*s < '0' || *s > '9')
        return false;
      long lo = strtol (s, &end, 10), hi = lo;
      if (*end == '-')
        {
          if (end[1] < '0' || end[1] > '9')
            return false;
          hi = strtol (end + 1, &end, 10);
        }
      if (hi < lo || (limit > 0 && hi >= limit))
        return false;
      if (*end == ',' && end[1] != '\0')
        end++;
      else if (*end != '\0')
        return false;
      s = end;
    }
  return true;
}

static int check_cpu (json_t *hc, berth_err *err)
{
  json_int_t nano = berth_json_int (hc, "NanoCpus", 0);
  json_int_t period = berth_json_int (hc, "CpuPeriod", 0);
  json_int_t quota = berth_json_int (hc, "CpuQuota", 0);
  json_int_t shares = berth_json_int (hc, "CpuShares", 0);
  int ncpu = cpus_available ();
  if (nano > 0 && period > 0)
    return berth_fail (err, 0, "Conflicting options: Nano CPUs and CPU Period cannot both be set");
  if (nano > 0 && quota > 0)
    return berth_fail (err, 0, "Conflicting options: Nano CPUs and CPU Quota cannot both be set");
  if (nano < 0 || (nano > 0 && nano < MIN_NANO_CPUS) || nano > (json_int_t) ncpu * NANO_CPUS_PER_CPU)
    return berth_fail (err, 0, "Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", ncpu, ncpu);
  if (period != 0 && (period < 1000 || period > 1000000))
    return berth_fail (err, 0, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  if (quota > 0 && quota < 1000)
    return berth_fail (err, 0, "CPU cfs quota can not be less than 1ms (i.e. 1000)");
  if (shares < 0)
    return berth_fail (err, 0, "invalid CPU shares: %lld", (long long) shares);
  const char *cpus = berth_json_str (hc, "CpusetCpus");
  const char *mems = berth_json_str (hc, "CpusetMems");
  if (cpus && !valid_cpu_list (cpus, 0))
    return berth_fail (err, 0, "Invalid value %s for cpuset cpus", cpus);
  long configured = sysconf (_SC_NPROCESSORS_CONF);
  if (cpus && !valid_cpu_list (cpus, configured > 0 ? configured : 1))
    return berth_fail (err, 0, "Requested CPUs are not available - requested %s, available: 0-%ld", cpus,
                       (configured > 0 ? configured : 1) - 1);
  if (mems && !valid_cpu_list (mems, 0))
    return berth_fail (err, 0, "Invalid value %s for cpuset mems", mems);
  return 0;
}

static int check_limits (json_t *hc, berth_err *err)
{
  json_int_t blkio = berth_json_int (hc, "BlkioWeight", 0);
  json_int_t oom = berth_json_int (hc, "OomScoreAdj", 0);
  json_int_t shm = berth_json_int (hc, "ShmSize", 0);
  if (blkio != 0 && (blkio < 10 || blkio > 1000))
    return berth_fail (err, 0, "Range of blkio weight is from 10 to 1000");
  if (oom < -1000 || oom > 1000)
    return berth_fail (err, 0, "Invalid value %lld, range for oom score adj is [-1000, 1000]", (long long) oom);
  if (shm < 0)
    return berth_fail (err, 0, "SHM size can not be less than 0");
  if (shm == 0)
    json_object_set_new (hc, "ShmSize", json_integer (DEFAULT_SHM_SIZE));
  json_t *size = json_object_get (hc, "ConsoleSize");
  size_t i;
  json_t *v;
  json_array_foreach (size, i, v)
    if (!json_is_integer (v) || json_integer_value (v) < 0 || json_array_size (size) != 2)
      return berth_fail (err, 0, "HostConfig.ConsoleSize: expected [height, width]");
  return 0;
}

static int check_namespace_modes (json_t *hc, berth_err *err)
{
  /* "default" and network names are resolved against the networks at
   * create (network_container_prepare). */
  const char *net = berth_json_str (hc, "NetworkMode");
  if (net == NULL || net[0] == '\0')
    json_object_set_new (hc, "NetworkMode", json_string (net = "default"));
  if (strcmp (net, "container:") == 0)
    return berth_fail (err, 0, "invalid network mode: %s", net);

  const char *ipc = berth_json_str (hc, "IpcMode");
  if (ipc == NULL || ipc[0] == '\0')
    json_object_set_new (hc, "IpcMode", json_string (ipc = "private"));
  if (strncmp (ipc, "container:", 10) == 0)
    return berth_fail (err, 0, "IPC mode '%s' is not supported yet", ipc);
  if (strcmp (ipc, "private") != 0 && strcmp (ipc, "shareable") != 0 && strcmp (ipc, "host") != 0
      && strcmp (ipc, "none") != 0)
    return berth_fail (err, 0, "invalid IPC mode: %s", ipc);

  const char *pid = berth_json_str (hc, "PidMode");
  if (pid && pid[0] && strcmp (pid, "host") != 0)
    return berth_fail (err, 0, "PID mode '%s' is not supported yet", pid);
  const char *uts = berth_json_str (hc, "UTSMode");
  if (uts && uts[0] && strcmp (uts, "host") != 0)
    return berth_fail (err, 0, "invalid UTS mode: %s", uts);
  const char *userns = berth_json_str (hc, "UsernsMode");
  if (userns && userns[0] && strcmp (userns, "host") != 0)
    return berth_fail (err, 0, "user namespace mode '%s' is not supported yet", userns);

  const char *cgroupns = berth_json_str (hc, "CgroupnsMode");
  if (cgroupns == NULL || cgroupns[0] == '\0')
    json_object_set_new (hc, "CgroupnsMode", json_string (cgroupns = spec_host_cgroup2 () ? "private" : "host"));
  if (strcmp (cgroupns, "private") != 0 && strcmp (cgroupns, "host") != 0)
    return berth_fail (err, 0, "invalid cgroup namespace mode: %s", cgroupns);
  return 0;
}

static bool valid_ip (const char *s)
{
  unsigned char buf[sizeof (struct in6_addr)];
  return inet_pton (AF_INET, s, buf) == 1 || inet_pton (AF_INET6, s, buf) == 1;
}

static int check_dns (json_t *hc, berth_err *err)
{
  int ret;
  if ((ret = check_strings (hc, "Dns", err)) < 0 || (ret = check_strings (hc, "DnsSearch", err)) < 0
      || (ret = check_strings (hc, "DnsOptions", err)) < 0 || (ret = check_strings (hc, "ExtraHosts", err)) < 0)
    return ret;
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (hc, "Dns"), i, v)
    if (!valid_ip (json_string_value (v)))
      return berth_fail (err, 0, "%s is not an ip address", json_string_value (v));
  json_array_foreach (json_object_get (hc, "ExtraHosts"), i, v)
    {
      const char *s = json_string_value (v);
      size_t n = strcspn (s, ":=");
      if (n == 0 || s[n] == '\0' || strpbrk (s, " \t\n"))
        return berth_fail (err, 0, "bad format for add-host: \"%s\"", s);
      if (strcmp (s + n + 1, "host-gateway") == 0)
        return berth_fail (err, 0, "add-host: host-gateway is not supported");
      if (!valid_ip (s + n + 1))
        return berth_fail (err, 0, "invalid IP address in add-host: \"%s\"", s + n + 1);
    }
  const char *keys[] = { "Dns", "DnsSearch", "DnsOptions" };
  for (int k = 0; k < 3; k++)
    if (!json_is_array (json_object_get (hc, keys[k])))
      json_object_set_new (hc, keys[k], json_array ());
  return 0;
}

struct rlimit_name
{
  const char *docker;
  const char *oci;
};

static const struct rlimit_name rlimit_names[] = {
  { "as", "RLIMIT_AS" },         { "core", "RLIMIT_CORE" },       { "cpu", "RLIMIT_CPU" },
  { "data", "RLIMIT_DATA" },     { "fsize", "RLIMIT_FSIZE" },     { "locks", "RLIMIT_LOCKS" },
  { "memlock", "RLIMIT_MEMLOCK" }, { "msgqueue", "RLIMIT_MSGQUEUE" }, { "nice", "RLIMIT_NICE" },
  { "nofile", "RLIMIT_NOFILE" }, { "nproc", "RLIMIT_NPROC" },     { "rss", "RLIMIT_RSS" },
  { "rtprio", "RLIMIT_RTPRIO" }, { "rttime", "RLIMIT_RTTIME" },   { "sigpending", "RLIMIT_SIGPENDING" },
  { "stack", "RLIMIT_STACK" },
};

int spec_rlimits (json_t *ulimits, json_t **out, berth_err *err)
{
  *out = NULL;
  cleanup_json json_t *rlimits = json_array ();
  size_t i;
  json_t *u;
  json_array_foreach (ulimits, i, u)
    {
      const char *name = berth_json_str (u, "Name");
      json_t *soft = json_object_get (u, "Soft"), *hard = json_object_get (u, "Hard");
      if (name == NULL || !json_is_integer (soft) || !json_is_integer (hard))
        return berth_fail (err, 0, "HostConfig.Ulimits[%zu]: expected {Name, Soft, Hard}", i);
      const char *type = NULL;
      for (size_t k = 0; k < sizeof rlimit_names / sizeof rlimit_names[0]; k++)
        if (strcmp (rlimit_names[k].docker, name) == 0)
          type = rlimit_names[k].oci;
      if (type == NULL)
        return berth_fail (err, 0, "invalid ulimit type: %s", name);
      if (json_integer_value (soft) < 0 || json_integer_value (hard) < 0)
        return berth_fail (err, 0, "invalid ulimit %s: values must not be negative", name);
      if (json_integer_value (soft) > json_integer_value (hard))
        return berth_fail (err, 0, "ulimit soft limit must be less than or equal to hard limit: %lld > %lld",
                           (long long) json_integer_value (soft), (long long) json_integer_value (hard));
      json_array_append_new (rlimits, json_pack ("{s:s, s:O, s:O}", "type", type, "hard", hard, "soft", soft));
    }
  *out = take_ptr (rlimits);
  return 0;
}

/* Docker's namespaced sysctls: IPC ones (kernel.msg*, sem, shm*,
 * fs.mqueue.*) unless the IPC namespace is the host's, net.* unless the
 * network namespace is, and the UTS domain name. */
static int check_sysctls (json_t *hc, berth_err *err)
{
  static const char *const ipc_names[] = { "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                                           "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
                                           "kernel.shm_rmid_forced", NULL };
  bool ipc_host = strcmp (berth_json_str (hc, "IpcMode"), "host") == 0;
  bool net_host = strcmp (berth_json_str (hc, "NetworkMode"), "host") == 0;
  const char *name;
  json_t *v;
  json_object_foreach (json_object_get (hc, "Sysctls"), name, v)
    {
      if (!json_is_string (v))
        return berth_fail (err, 0, "HostConfig.Sysctls[%s]: expected a string", name);
      bool ipc = strncmp (name, "fs.mqueue.", 10) == 0;
      for (const char *const *p = ipc_names; *p && !ipc; p++)
        ipc = strcmp (*p, name) == 0;
      bool net = strncmp (name, "net.", 4) == 0;
      if (ipc && ipc_host)
        return berth_fail (err, 0, "sysctl '%s' is not allowed in host IPC namespace", name);
      if (net && net_host)
        return berth_fail (err, 0, "sysctl '%s' is not allowed in host network namespace", name);
      if (!ipc && !net && strcmp (name, "kernel.domainname") != 0)
        return berth_fail (err, 0, "sysctl '%s' is not allowed", name);
    }
  return 0;
}

static bool valid_permissions (const char *p)
{
  if (p[0] == '\0' || strlen (p) > 3)
    return false;
  for (; *p; p++)
    if (*p != 'r' && *p != 'w' && *p != 'm')
      return false;
  return true;
}

int spec_device_from_api (json_t *d, size_t index, json_t **device, json_t **rule, berth_err *err)
{
  *device = *rule = NULL;
  const char *host = berth_json_str (d, "PathOnHost");
  const char *path = berth_json_str (d, "PathInContainer");
  const char *perms = berth_json_str (d, "CgroupPermissions");
  if (host == NULL || host[0] != '/')
    return berth_fail (err, 0, "HostConfig.Devices[%zu].PathOnHost: expected an absolute path", index);
  if (path == NULL || path[0] == '\0')
    path = host;
  if (path[0] != '/')
    return berth_fail (err, 0, "HostConfig.Devices[%zu].PathInContainer: expected an absolute path", index);
  if (perms == NULL || perms[0] == '\0')
    perms = "rwm";
  if (!valid_permissions (perms))
    return berth_fail (err, 0, "invalid device cgroup permissions: %s", perms);
  struct stat st;
  if (stat (host, &st) < 0)
    return berth_fail_errno (err, "error gathering device information while adding custom device \"%s\"", host);
  if (!S_ISCHR (st.st_mode) && !S_ISBLK (st.st_mode))
    return berth_fail (err, 0, "error gathering device information while adding custom device \"%s\": not a device node",
                       host);
  const char *type = S_ISCHR (st.st_mode) ? "c" : "b";
  json_int_t major = major (st.st_rdev), minor = minor (st.st_rdev);
  *device = json_pack ("{s:s, s:s, s:I, s:I, s:i, s:i, s:i}", "path", path, "type", type, "major", major, "minor", minor,
                       "fileMode", (int) (st.st_mode & 07777), "uid", 0, "gid", 0);
  *rule = json_pack ("{s:b, s:s, s:I, s:I, s:s}", "allow", 1, "type", type, "major", major, "minor", minor, "access",
                     perms);
  return 0;
}

/* "c 1:3 rwm", "b *:* m", "a": a device cgroup rule. */
int spec_device_rule (const char *s, json_t **rule, berth_err *err)
{
  *rule = NULL;
  char type, access[8] = "rwm", major[16], minor[16];
  int n = 0;
  if (sscanf (s, "%c %15[0-9*]:%15[0-9*] %7s%n", &type, major, minor, access, &n) != 4 || s[n] != '\0'
      || (type != 'a' && type != 'b' && type != 'c') || !valid_permissions (access))
    return berth_fail (err, 0, "invalid device cgroup rule: \"%s\"", s);
  *rule = json_pack ("{s:b, s:s, s:s}", "allow", 1, "type", (char[]){ type, '\0' }, "access", access);
  if (strcmp (major, "*") != 0)
    json_object_set_new (*rule, "major", json_integer (strtoll (major, NULL, 10)));
  if (strcmp (minor, "*") != 0)
    json_object_set_new (*rule, "minor", json_integer (strtoll (minor, NULL, 10)));
  return 0;
}

static int check_devices (json_t *hc, berth_err *err)
{
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (hc, "Devices"), i, v)
    {
      cleanup_json json_t *device = NULL;
      cleanup_json json_t *rule = NULL;
      int ret = spec_device_from_api (v, i, &device, &rule, err);
      if (ret < 0)
        return ret;
    }
  int ret = check_strings (hc, "DeviceCgroupRules", err);
  if (ret < 0)
    return ret;
  json_array_foreach (json_object_get (hc, "DeviceCgroupRules"), i, v)
    {
      cleanup_json json_t *rule = NULL;
      if ((ret = spec_device_rule (json_string_value (v), &rule, err)) < 0)
        return ret;
    }
  return 0;
}

static int check_unsupported (json_t *hc, berth_err *err)
{
  if (json_array_size (json_object_get (hc, "Links")) > 0)
    return berth_fail (err, 0, "links are not supported");
  if (json_array_size (json_object_get (hc, "VolumesFrom")) > 0)
    return berth_fail (err, 0, "VolumesFrom is not supported yet");
  if (json_array_size (json_object_get (hc, "DeviceRequests")) > 0)
    return berth_fail (err, 0, "device requests (--gpus) are not supported");
  return 0;
}

static int check_log_config (json_t *hc, berth_err *err)
{
  json_t *lc = json_object_get (hc, "LogConfig");
  const char *type = berth_json_str (lc, "Type");
  json_t *config = json_object_get (lc, "Config");
  if (type == NULL || type[0] == '\0')
    type = "json-file";
  if (strcmp (type, "json-file") != 0 && strcmp (type, "none") != 0)
    return berth_fail (err, 0, "log driver '%s' is not supported", type);
  if (config && !json_is_null (config) && !json_is_object (config))
    return berth_fail (err, 0, "HostConfig.LogConfig.Config: expected an object");
  const char *key;
  json_t *v;
  json_object_foreach (config, key, v)
    if (!json_is_string (v))
      return berth_fail (err, 0, "HostConfig.LogConfig.Config.%s: expected a string", key);
  json_object_set_new (hc, "LogConfig", json_pack ("{s:s, s:o}", "Type", type,
                                                   "Config", json_is_object (config) ? json_deep_copy (config)
                                                                                     : json_object ()));
  return 0;
}

/* CapAdd/CapDrop normalized to "CAP_*" (or "ALL"), as Docker shows them. */
static int normalize_capabilities (json_t *hc, berth_err *err)
{
  const char *keys[] = { "CapAdd", "CapDrop" };
  for (int k = 0; k < 2; k++)
    {
      json_t *arr = json_object_get (hc, keys[k]);
      size_t i;
      json_t *v;
      json_array_foreach (arr, i, v)
        {
          if (!json_is_string (v))
            return berth_fail (err, 0, "HostConfig.%s[%zu]: expected a string", keys[k], i);
          char *name = NULL;
          int ret = spec_capability_name (json_string_value (v), &name, err);
          if (ret < 0)
            return berth_error_prefix (err, "invalid %s", keys[k]);
          /* Checked only: inspect shows the names as given, as dockerd
           * does; the spec normalizes them again. */
          free (name);
        }
    }
  return 0;
}

static json_t *string_array (const char *const *list)
{
  json_t *arr = json_array ();
  for (; *list; list++)
    json_array_append_new (arr, json_string (*list));
  return arr;
}

static int check_security (json_t *hc, berth_err *err)
{
  struct spec_security sec;
  int ret = spec_parse_security_opts (json_object_get (hc, "SecurityOpt"), &sec, err);
  if (ret < 0)
    return ret;
  if (sec.seccomp_profile)
    {
      cleanup_json json_t *converted = NULL;
      cleanup_json json_t *caps = json_array ();
      if ((ret = seccomp_profile_from_docker (sec.seccomp_profile, caps, &converted, err)) < 0)
        return ret;
    }
  if ((ret = check_strings (hc, "MaskedPaths", err)) < 0 || (ret = check_strings (hc, "ReadonlyPaths", err)) < 0
      || (ret = check_strings (hc, "GroupAdd", err)) < 0)
    return ret;
  /* Docker fills the defaults in at create, except for privileged
   * containers; systempaths=unconfined (sent by the CLI as empty lists)
   * keeps them empty. */
  bool privileged = berth_json_bool (hc, "Privileged", false);
  bool unconfined = false;
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (hc, "SecurityOpt"), i, v)
    unconfined |= strcmp (json_string_value (v), "systempaths=unconfined") == 0;
  if (!json_is_array (json_object_get (hc, "MaskedPaths")))
    json_object_set_new (hc, "MaskedPaths", privileged || unconfined ? json_array () : string_array (spec_default_masked_paths));
  if (!json_is_array (json_object_get (hc, "ReadonlyPaths")))
    json_object_set_new (hc, "ReadonlyPaths",
                         privileged || unconfined ? json_array () : string_array (spec_default_readonly_paths));
  return 0;
}

/* ------------------------------------------------------------------ */
/* Defaults                                                            */
/* ------------------------------------------------------------------ */

static const char defaults_json[] =
  "{\"Binds\":null,\"ContainerIDFile\":\"\",\"PortBindings\":{},\"AutoRemove\":false,\"VolumeDriver\":\"\","
  "\"VolumesFrom\":null,\"ConsoleSize\":[0,0],\"CapAdd\":null,\"CapDrop\":null,\"ExtraHosts\":null,"
  "\"GroupAdd\":null,\"Cgroup\":\"\",\"Links\":null,\"OomScoreAdj\":0,\"PidMode\":\"\",\"Privileged\":false,"
  "\"PublishAllPorts\":false,\"ReadonlyRootfs\":false,\"SecurityOpt\":null,\"UTSMode\":\"\",\"UsernsMode\":\"\","
  "\"Isolation\":\"\",\"CpuShares\":0,\"Memory\":0,\"NanoCpus\":0,\"CgroupParent\":\"\",\"BlkioWeight\":0,"
  "\"BlkioWeightDevice\":[],\"BlkioDeviceReadBps\":[],\"BlkioDeviceWriteBps\":[],\"BlkioDeviceReadIOps\":[],"
  "\"BlkioDeviceWriteIOps\":[],\"CpuPeriod\":0,\"CpuQuota\":0,\"CpuRealtimePeriod\":0,\"CpuRealtimeRuntime\":0,"
  "\"CpusetCpus\":\"\",\"CpusetMems\":\"\",\"Devices\":[],\"DeviceCgroupRules\":null,\"DeviceRequests\":null,"
  "\"MemoryReservation\":0,\"MemorySwap\":0,\"MemorySwappiness\":null,\"OomKillDisable\":false,"
  "\"PidsLimit\":null,\"Ulimits\":[],\"CpuCount\":0,\"CpuPercent\":0,\"IOMaximumIOps\":0,"
  "\"IOMaximumBandwidth\":0}";

/* Fill keys that are absent or null with the defaults. */
static void fill_defaults (json_t *hc)
{
  cleanup_json json_t *defaults = json_loads (defaults_json, 0, NULL);
  const char *key;
  json_t *v;
  json_object_foreach (defaults, key, v)
    {
      json_t *cur = json_object_get (hc, key);
      if (cur == NULL || (json_is_null (cur) && !json_is_null (v)))
        json_object_set (hc, key, v);
    }
}

int host_config_normalize (json_t *host_config, json_t **out, berth_err *err)
{
  *out = NULL;
  if (host_config && !json_is_null (host_config) && !json_is_object (host_config))
    return berth_fail (err, 0, "HostConfig: expected an object");
  cleanup_json json_t *hc = json_is_object (host_config) ? json_deep_copy (host_config) : json_object ();
  if (hc == NULL)
    return berth_fail (err, ENOMEM, "HostConfig");
  int ret;
  cleanup_json json_t *mounts = NULL;
  cleanup_json json_t *rlimits = NULL;
  if ((ret = check_field_types (hc, err)) < 0 || (ret = check_unsupported (hc, err)) < 0
      || (ret = check_restart_policy (hc, err)) < 0 || (ret = check_memory (hc, err)) < 0
      || (ret = check_cpu (hc, err)) < 0 || (ret = check_limits (hc, err)) < 0
      || (ret = check_namespace_modes (hc, err)) < 0 || (ret = check_dns (hc, err)) < 0
      || (ret = check_sysctls (hc, err)) < 0 || (ret = check_devices (hc, err)) < 0
      || (ret = check_log_config (hc, err)) < 0 || (ret = normalize_capabilities (hc, err)) < 0
      || (ret = check_security (hc, err)) < 0 || (ret = spec_rlimits (json_object_get (hc, "Ulimits"), &rlimits, err)) < 0
      || (ret = spec_user_mounts (hc, false, &mounts, err)) < 0)
    return ret;
  fill_defaults (hc);
  *out = take_ptr (hc);
  return 0;
}
