/* Unit tests for the Docker -> OCI spec generation (src/daemon/spec-*.c,
 * hostconfig.c, seccomp-default.c), and at the end a check that generated
 * specs really run under berth-runtime and runc. */
#include "unit.h"

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "daemon/spec-gen.h"
#include "daemon/spec-internal.h"
#include "runtime/caps.h"
#include "runtime/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <sys/types.h>

#define TEST_ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* Test JSON is written with ' for ". */
static json_t *J (const char *text)
{
  cleanup_free char *s = strdup (text);
  CHECK (s != NULL);
  for (char *p = s; *p; p++)
    if (*p == '\'')
      *p = '"';
  json_error_t jerr;
  json_t *j = json_loads (s, JSON_DECODE_ANY, &jerr);
  if (j == NULL)
    printf ("  bad test JSON: %s: %s\n", jerr.text, s);
  CHECK (j != NULL);
  return j;
}

static void expect_error (int ret, berth_err *err, const char *fragment)
{
  if (ret >= 0)
    printf ("  expected an error containing \"%s\", got success\n", fragment);
  CHECK (ret < 0);
  CHECK (*err != NULL);
  if (strstr ((*err)->msg, fragment) == NULL)
    printf ("  error \"%s\" does not contain \"%s\"\n", (*err)->msg, fragment);
  CHECK (strstr ((*err)->msg, fragment) != NULL);
  berth_error_free (err);
}

static void expect_ok (int ret, berth_err *err)
{
  if (ret < 0)
    printf ("  unexpected error: %s\n", *err ? (*err)->msg : "(none)");
  CHECK (ret >= 0);
  CHECK (*err == NULL);
}

static bool str_array_has (json_t *arr, const char *s)
{
  return spec_json_array_has (arr, s);
}

static const char *str_at (json_t *arr, size_t i)
{
  return json_string_value (json_array_get (arr, i));
}

static json_t *merge_ok (const char *config, const char *image)
{
  cleanup_json json_t *c = J (config);
  cleanup_json json_t *i = image ? J (image) : NULL;
  json_t *m = NULL;
  berth_err err = NULL;
  expect_ok (container_config_merge (c, i, "busybox:latest", "0123456789ab", &m, &err), &err);
  return m;
}

static void merge_fails (const char *config, const char *image, const char *fragment)
{
  cleanup_json json_t *c = J (config);
  cleanup_json json_t *i = image ? J (image) : NULL;
  json_t *m = NULL;
  berth_err err = NULL;
  expect_error (container_config_merge (c, i, "img", "host", &m, &err), &err, fragment);
  CHECK (m == NULL);
}

static json_t *normalize_ok (const char *hc)
{
  cleanup_json json_t *h = hc ? J (hc) : NULL;
  json_t *out = NULL;
  berth_err err = NULL;
  expect_ok (host_config_normalize (h, &out, &err), &err);
  return out;
}

static void normalize_fails (const char *hc, const char *fragment)
{
  cleanup_json json_t *h = J (hc);
  json_t *out = NULL;
  berth_err err = NULL;
  int ret = host_config_normalize (h, &out, &err);
  if (ret >= 0)
    printf ("  HostConfig %s was accepted\n", hc);
  expect_error (ret, &err, fragment);
  CHECK (out == NULL);
}

/* A temp folder with rootfs/ (etc/passwd, etc/group) and ctr/. */
struct fixture
{
  char dir[64];
  char rootfs[128];
  char ctr[128];
};

static void write_text (const char *path, const char *text)
{
  berth_err err = NULL;
  expect_ok (berth_write_file (path, text, strlen (text), &err), &err);
}

static void fixture_make (struct fixture *f)
{
  snprintf (f->dir, sizeof f->dir, "/tmp/test-specgen-XXXXXX");
  CHECK (mkdtemp (f->dir) != NULL);
  CHECK (chmod (f->dir, 0755) == 0);
  snprintf (f->rootfs, sizeof f->rootfs, "%s/rootfs", f->dir);
  snprintf (f->ctr, sizeof f->ctr, "%s/ctr", f->dir);
  char path[256];
  snprintf (path, sizeof path, "%s/etc", f->rootfs);
  berth_err err = NULL;
  expect_ok (berth_mkdir_p (path, 0755, &err), &err);
  CHECK (mkdir (f->ctr, 0755) == 0);
  snprintf (path, sizeof path, "%s/etc/passwd", f->rootfs);
  write_text (path, "root:x:0:0:root:/root:/bin/sh\n"
                    "user:x:1000:1000:user:/home/user:/bin/sh\n"
                    "broken line without fields\n"
                    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  snprintf (path, sizeof path, "%s/etc/group", f->rootfs);
  write_text (path, "root:x:0:\n"
                    "user:x:1000:\n"
                    "extra:x:1001:user,other\n"
                    "audio:x:29:other,user\n"
                    "nogroup:x:65534:\n");
}

static void fixture_remove (struct fixture *f)
{
  berth_rm_rf (f->dir);
}

/* Merge CONFIG (no image), normalize HC and generate the spec. */
static int generate (struct fixture *f, const char *config, const char *hc, const char *init, json_t **spec,
                     berth_err *err)
{
  cleanup_json json_t *merged = merge_ok (config, NULL);
  cleanup_json json_t *host = normalize_ok (hc);
  struct spec_input in = {
    .id = TEST_ID, .config = merged, .host_config = host, .rootfs = f->rootfs, .container_dir = f->ctr,
    .init_path = init, .cgroups_path = "/berth-test/specgen", .shared_netns = NULL,
  };
  return spec_generate (&in, spec, err);
}

static json_t *generate_ok (struct fixture *f, const char *config, const char *hc)
{
  json_t *spec = NULL;
  berth_err err = NULL;
  expect_ok (generate (f, config, hc, NULL, &spec, &err), &err);
  CHECK (spec != NULL);
  return spec;
}

static json_t *find_mount (json_t *spec, const char *dest)
{
  size_t i;
  json_t *m;
  json_array_foreach (json_object_get (spec, "mounts"), i, m)
    if (strcmp (berth_json_str (m, "destination"), dest) == 0)
      return m;
  return NULL;
}

static ssize_t mount_index (json_t *spec, const char *dest)
{
  size_t i;
  json_t *m;
  json_array_foreach (json_object_get (spec, "mounts"), i, m)
    if (strcmp (berth_json_str (m, "destination"), dest) == 0)
      return (ssize_t) i;
  return -1;
}

static bool has_namespace (json_t *spec, const char *type)
{
  size_t i;
  json_t *n;
  json_array_foreach (berth_json_path (spec, "linux.namespaces"), i, n)
    if (strcmp (berth_json_str (n, "type"), type) == 0)
      return true;
  return false;
}

static json_t *caps_of (json_t *spec)
{
  return berth_json_path (spec, "process.capabilities.bounding");
}

/* Does the seccomp object allow NAME unconditionally (a rule with that
 * name, action ALLOW and no args)? */
static bool seccomp_allows (json_t *seccomp, const char *name)
{
  size_t i;
  json_t *r;
  json_array_foreach (json_object_get (seccomp, "syscalls"), i, r)
    if (str_array_has (json_object_get (r, "names"), name)
        && strcmp (berth_json_str (r, "action"), "SCMP_ACT_ALLOW") == 0 && json_object_get (r, "args") == NULL)
      return true;
  return false;
}

static json_t *seccomp_rule (json_t *seccomp, const char *name)
{
  size_t i;
  json_t *r;
  json_array_foreach (json_object_get (seccomp, "syscalls"), i, r)
    if (str_array_has (json_object_get (r, "names"), name))
      return r;
  return NULL;
}

static char *read_text (const char *path)
{
  char *buf = NULL;
  size_t len;
  berth_err err = NULL;
  expect_ok (berth_read_file (path, 1 << 20, &buf, &len, &err), &err);
  return buf;
}

/* ------------------------------------------------------------------ */
/* Config merge                                                        */
/* ------------------------------------------------------------------ */

TEST (merge_env_request_wins_and_extends)
{
  cleanup_json json_t *m = merge_ok ("{'Env':['A=x','C=3'],'Cmd':['true']}", "{'Env':['PATH=/img','A=1','B=2']}");
  json_t *env = json_object_get (m, "Env");
  CHECK (json_array_size (env) == 4);
  CHECK_STR (str_at (env, 0), "A=x");
  CHECK_STR (str_at (env, 1), "C=3");
  CHECK_STR (str_at (env, 2), "PATH=/img");
  CHECK_STR (str_at (env, 3), "B=2");
  cleanup_json json_t *m2 = merge_ok ("{'Cmd':['true']}", "{'Env':['PATH=/img']}");
  CHECK (json_array_size (json_object_get (m2, "Env")) == 1);
  merge_fails ("{'Env':['=x'],'Cmd':['true']}", NULL, "invalid environment variable: =x");
  merge_fails ("{'Env':'A=1','Cmd':['true']}", NULL, "Config.Env: expected an array");
}

TEST (merge_entrypoint_and_cmd)
{
  const char *image = "{'Entrypoint':['/ep','-x'],'Cmd':['img-cmd']}";
  cleanup_json json_t *a = merge_ok ("{}", image);
  CHECK_STR (str_at (json_object_get (a, "Entrypoint"), 0), "/ep");
  CHECK_STR (str_at (json_object_get (a, "Cmd"), 0), "img-cmd");

  cleanup_json json_t *b = merge_ok ("{'Cmd':['mine']}", image);
  CHECK_STR (str_at (json_object_get (b, "Entrypoint"), 1), "-x");
  CHECK (json_array_size (json_object_get (b, "Cmd")) == 1);
  CHECK_STR (str_at (json_object_get (b, "Cmd"), 0), "mine");

  /* a request Entrypoint drops the image's Cmd */
  cleanup_json json_t *c = merge_ok ("{'Entrypoint':['/my']}", image);
  CHECK (json_array_size (json_object_get (c, "Entrypoint")) == 1);
  CHECK_STR (str_at (json_object_get (c, "Entrypoint"), 0), "/my");
  CHECK (json_is_null (json_object_get (c, "Cmd")));

  /* Entrypoint [""] clears the image's */
  cleanup_json json_t *d = merge_ok ("{'Entrypoint':[''],'Cmd':['sh','-c','x']}", image);
  CHECK (json_is_null (json_object_get (d, "Entrypoint")));
  CHECK (json_array_size (json_object_get (d, "Cmd")) == 3);
  merge_fails ("{'Entrypoint':['']}", image, "no command specified");

  /* a string Cmd is one word */
  cleanup_json json_t *e = merge_ok ("{'Cmd':'ls'}", NULL);
  CHECK_STR (str_at (json_object_get (e, "Cmd"), 0), "ls");
  CHECK (json_is_null (json_object_get (e, "Entrypoint")));

  merge_fails ("{}", NULL, "no command specified");
  merge_fails ("{}", "{'Env':['A=1']}", "no command specified");
  merge_fails ("{'Cmd':[1]}", NULL, "Config.Cmd[0]: expected a string");
}

TEST (merge_labels_and_other_fields)
{
  cleanup_json json_t *m = merge_ok (
      "{'Cmd':['true'],'Labels':{'b':'mine','c':'3'},'ExposedPorts':{'80/tcp':{}}}",
      "{'Labels':{'a':'1','b':'2'},'WorkingDir':'/srv','User':'user','StopSignal':'SIGQUIT','ExposedPorts':{'443/tcp':{}},"
      "'Volumes':{'/data':{}}}");
  json_t *labels = json_object_get (m, "Labels");
  CHECK (json_object_size (labels) == 3);
  CHECK_STR (berth_json_str (labels, "a"), "1");
  CHECK_STR (berth_json_str (labels, "b"), "mine");
  CHECK_STR (berth_json_str (labels, "c"), "3");
  CHECK_STR (berth_json_str (m, "WorkingDir"), "/srv");
  CHECK_STR (berth_json_str (m, "User"), "user");
  CHECK_STR (berth_json_str (m, "StopSignal"), "SIGQUIT");
  CHECK (json_object_size (json_object_get (m, "ExposedPorts")) == 2);
  CHECK (json_object_get (json_object_get (m, "Volumes"), "/data") != NULL);
  CHECK_STR (berth_json_str (m, "Image"), "busybox:latest");
  CHECK_STR (berth_json_str (m, "Hostname"), "0123456789ab");
  CHECK (json_is_false (json_object_get (m, "Tty")));

  cleanup_json json_t *n = merge_ok ("{'Cmd':['true'],'Hostname':'web','User':'1000','WorkingDir':'/w'}",
                                     "{'User':'user','WorkingDir':'/srv'}");
  CHECK_STR (berth_json_str (n, "Hostname"), "web");
  CHECK_STR (berth_json_str (n, "User"), "1000");
  CHECK_STR (berth_json_str (n, "WorkingDir"), "/w");
  CHECK (json_object_size (json_object_get (n, "Labels")) == 0);

  merge_fails ("{'Cmd':['true'],'WorkingDir':'rel'}", NULL, "the working directory 'rel' is invalid");
  merge_fails ("{'Cmd':['true'],'StopSignal':'SIGNOPE'}", NULL, "invalid signal: SIGNOPE");
  merge_fails ("{'Cmd':['true'],'Labels':{'a':1}}", NULL, "Config.Labels.a");
  merge_fails ("[1]", NULL, "Config: expected an object");
}

TEST (signal_names)
{
  CHECK (signal_from_name ("SIGTERM") == SIGTERM);
  CHECK (signal_from_name ("TERM") == SIGTERM);
  CHECK (signal_from_name ("term") == SIGTERM);
  CHECK (signal_from_name ("15") == 15);
  CHECK (signal_from_name ("SIGKILL") == SIGKILL);
  CHECK (signal_from_name ("RTMIN+2") == SIGRTMIN + 2);
  CHECK (signal_from_name ("SIGRTMAX") == SIGRTMAX);
  CHECK (signal_from_name ("0") == -1);
  CHECK (signal_from_name ("99") == -1);
  CHECK (signal_from_name ("SIGFOO") == -1);
  CHECK (signal_from_name ("") == -1);
  CHECK (signal_from_name ("15x") == -1);
}

/* ------------------------------------------------------------------ */
/* HostConfig                                                          */
/* ------------------------------------------------------------------ */

TEST (hostconfig_defaults)
{
  cleanup_json json_t *h = normalize_ok (NULL);
  CHECK_STR (berth_json_str (h, "NetworkMode"), "default");
  CHECK_STR (json_string_value (berth_json_path (h, "RestartPolicy.Name")), "no");
  CHECK (berth_json_int (berth_json_obj (h, "RestartPolicy"), "MaximumRetryCount", -1) == 0);
  CHECK_STR (json_string_value (berth_json_path (h, "LogConfig.Type")), "json-file");
  CHECK (json_is_object (berth_json_path (h, "LogConfig.Config")));
  CHECK (berth_json_int (h, "ShmSize", 0) == 67108864);
  CHECK_STR (berth_json_str (h, "IpcMode"), "private");
  CHECK_STR (berth_json_str (h, "CgroupnsMode"), spec_host_cgroup2 () ? "private" : "host");
  CHECK (str_array_has (json_object_get (h, "MaskedPaths"), "/proc/kcore"));
  CHECK (str_array_has (json_object_get (h, "MaskedPaths"), "/sys/devices/virtual/powercap"));
  CHECK (str_array_has (json_object_get (h, "ReadonlyPaths"), "/proc/sysrq-trigger"));
  CHECK (json_is_false (json_object_get (h, "Privileged")));
  CHECK (berth_json_int (h, "MemorySwap", -2) == 0);
  CHECK (json_is_array (json_object_get (h, "Dns")));

  cleanup_json json_t *p = normalize_ok ("{'NetworkMode':'default','Privileged':true,'RestartPolicy':{'Name':''}}");
  CHECK_STR (berth_json_str (p, "NetworkMode"), "default");
  CHECK (json_array_size (json_object_get (p, "MaskedPaths")) == 0);
  CHECK_STR (json_string_value (berth_json_path (p, "RestartPolicy.Name")), "no");

  cleanup_json json_t *c = normalize_ok ("{'CapAdd':['net_admin','CAP_SYS_TIME'],'CapDrop':['all']}");
  /* checked, but kept as given (dockerd's inspect shows them so) */
  CHECK_STR (str_at (json_object_get (c, "CapAdd"), 0), "net_admin");
  CHECK_STR (str_at (json_object_get (c, "CapAdd"), 1), "CAP_SYS_TIME");
  CHECK_STR (str_at (json_object_get (c, "CapDrop"), 0), "all");

  cleanup_json json_t *u = normalize_ok ("{'SecurityOpt':['systempaths=unconfined'],'MaskedPaths':null}");
  CHECK (json_array_size (json_object_get (u, "MaskedPaths")) == 0);
  CHECK (json_array_size (json_object_get (u, "ReadonlyPaths")) == 0);
}

TEST (hostconfig_memory_swap_default)
{
  cleanup_json json_t *h = normalize_ok ("{'Memory':67108864}");
  CHECK (berth_json_int (h, "MemorySwap", 0) == (spec_host_swap_limit () ? 134217728 : -1));
  cleanup_json json_t *h2 = normalize_ok ("{'Memory':67108864,'MemorySwap':-1}");
  CHECK (berth_json_int (h2, "MemorySwap", 0) == -1);
}

TEST (hostconfig_errors)
{
  static const char *const cases[][2] = {
    { "{'RestartPolicy':{'Name':'sometimes'}}", "invalid restart policy 'sometimes'" },
    { "{'RestartPolicy':{'Name':'always','MaximumRetryCount':3}}",
      "maximum retry count cannot be used with restart policy 'always'" },
    { "{'RestartPolicy':{'Name':'on-failure','MaximumRetryCount':-1}}", "maximum retry count cannot be negative" },
    { "{'AutoRemove':true,'RestartPolicy':{'Name':'always'}}", "can't create 'AutoRemove' container with restart policy" },
    { "{'Memory':1000}", "Minimum memory limit allowed is 6MB" },
    { "{'MemoryReservation':1000}", "Minimum memory reservation allowed is 6MB" },
    { "{'Memory':67108864,'MemorySwap':10000000}", "Minimum memoryswap limit should be larger than memory limit" },
    { "{'MemorySwap':67108864}", "You should always set the Memory limit when using Memoryswap limit" },
    { "{'Memory':10000000,'MemoryReservation':20000000}", "Minimum memory limit can not be less than memory reservation" },
    { "{'MemorySwappiness':101}", "valid memory swappiness range is 0-100" },
    { "{'Memory':'64m'}", "HostConfig.Memory: expected an integer" },
    { "{'Memory':1.5}", "HostConfig.Memory: expected an integer" },
    { "{'NanoCpus':1000000000000}", "Range of CPUs is from 0.01 to" },
    { "{'NanoCpus':1000}", "Range of CPUs is from 0.01 to" },
    { "{'NanoCpus':1000000000,'CpuPeriod':100000}", "Conflicting options: Nano CPUs and CPU Period" },
    { "{'NanoCpus':1000000000,'CpuQuota':100000}", "Conflicting options: Nano CPUs and CPU Quota" },
    { "{'CpuPeriod':10}", "CPU cfs period can not be less than 1ms" },
    { "{'CpuQuota':10}", "CPU cfs quota can not be less than 1ms" },
    { "{'CpusetCpus':'0-'}", "Invalid value 0- for cpuset cpus" },
    { "{'CpusetCpus':'0-4095'}", "Requested CPUs are not available" },
    { "{'CpusetMems':'x'}", "Invalid value x for cpuset mems" },
    { "{'BlkioWeight':5}", "Range of blkio weight is from 10 to 1000" },
    { "{'OomScoreAdj':2000}", "range for oom score adj is [-1000, 1000]" },
    { "{'ShmSize':-1}", "SHM size can not be less than 0" },
    { "{'Mounts':[{'Type':'bind','Source':'/nonexistent/specgen','Target':'/x'}]}",
      "invalid mount config for type \"bind\": bind source path does not exist: /nonexistent/specgen" },
    { "{'Mounts':[{'Type':'bind','Source':'/tmp'}]}", "invalid mount config for type \"bind\": field Target must not be empty" },
    { "{'Mounts':[{'Type':'tmpfs','Source':'/tmp','Target':'/t'}]}", "field Source must not be specified" },
    { "{'Mounts':[{'Type':'volume','Source':'v','Target':'/t'}]}", "invalid mount config for type \"volume\"" },
    { "{'Mounts':[{'Type':'npipe','Target':'/t'}]}", "invalid mount config: mount type unknown" },
    { "{'Mounts':[{'Type':'tmpfs','Target':'rel'}]}", "mount path must be absolute" },
    { "{'Binds':['data:/data']}", "named volumes are not supported yet" },
    { "{'Binds':['/tmp:/data:xx']}", "invalid mode: xx" },
    { "{'Binds':['/tmp:/data:ro,rw']}", "invalid mode: ro,rw" },
    { "{'Binds':['/tmp']}", "invalid volume specification: '/tmp'" },
    { "{'Binds':['/tmp:/']}", "destination can't be '/'" },
    { "{'Binds':['/tmp:rel']}", "destination must be an absolute path" },
    { "{'Binds':['/tmp:/a','/var:/a/']}", "Duplicate mount point: /a/" },
    { "{'Binds':['/tmp:/t'],'Tmpfs':{'/t':''}}", "Duplicate mount point: /t" },
    { "{'Tmpfs':{'/t':'bogus'}}", "invalid tmpfs option \"bogus\"" },
    { "{'Tmpfs':{'/t':'size'}}", "invalid tmpfs option \"size\"" },
    { "{'Tmpfs':{'rel':''}}", "invalid tmpfs mount destination: rel" },
    { "{'CapAdd':['FOO']}", "invalid CapAdd: unknown capability: \"CAP_FOO\"" },
    { "{'CapDrop':['cap_bar']}", "invalid CapDrop: unknown capability: \"CAP_BAR\"" },
    { "{'NetworkMode':'container:'}", "invalid network mode: container:" },
    { "{'IpcMode':'weird'}", "invalid IPC mode: weird" },
    { "{'UTSMode':'weird'}", "invalid UTS mode: weird" },
    { "{'PidMode':'container:x'}", "PID mode 'container:x' is not supported yet" },
    { "{'CgroupnsMode':'both'}", "invalid cgroup namespace mode: both" },
    { "{'SecurityOpt':['foo=bar']}", "unknown security option: foo=bar" },
    { "{'SecurityOpt':['nonsense']}", "unknown security option: nonsense" },
    { "{'SecurityOpt':['no-new-privileges=maybe']}", "invalid value for no-new-privileges: maybe" },
    { "{'SecurityOpt':['seccomp={not json']}", "seccomp profile: invalid JSON" },
    { "{'SecurityOpt':['seccomp={\\'defaultAction\\':\\'SCMP_ACT_NOPE\\'}']}", "unknown action \"SCMP_ACT_NOPE\"" },
    { "{'Ulimits':[{'Name':'nofile','Soft':10,'Hard':5}]}", "ulimit soft limit must be less than or equal to hard limit: 10 > 5" },
    { "{'Ulimits':[{'Name':'bogus','Soft':1,'Hard':1}]}", "invalid ulimit type: bogus" },
    { "{'Sysctls':{'kernel.hostname':'x'}}", "sysctl 'kernel.hostname' is not allowed" },
    { "{'Sysctls':{'net.ipv4.ip_forward':'1'},'NetworkMode':'host'}", "not allowed in host network namespace" },
    { "{'Sysctls':{'kernel.shmmax':'1'},'IpcMode':'host'}", "not allowed in host IPC namespace" },
    { "{'Dns':['not-an-ip']}", "not-an-ip is not an ip address" },
    { "{'ExtraHosts':['db:999.1.1.1']}", "invalid IP address in add-host" },
    { "{'ExtraHosts':['nocolon']}", "bad format for add-host" },
    { "{'Devices':[{'PathOnHost':'/nonexistent-dev'}]}", "error gathering device information" },
    { "{'Devices':[{'PathOnHost':'/dev/null','CgroupPermissions':'rwx'}]}", "invalid device cgroup permissions: rwx" },
    { "{'DeviceCgroupRules':['x 1:2 rwm']}", "invalid device cgroup rule" },
    { "{'Links':['a:b']}", "links are not supported" },
    { "{'LogConfig':{'Type':'syslog'}}", "log driver 'syslog' is not supported" },
    { "{'ConsoleSize':[1]}", "HostConfig.ConsoleSize" },
    { "{'Binds':'x'}", "HostConfig.Binds: expected an array" },
    { "{'Privileged':'yes'}", "HostConfig.Privileged: expected a boolean" },
    { "[]", "HostConfig: expected an object" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    normalize_fails (cases[i][0], cases[i][1]);
}

TEST (hostconfig_accepts_valid_input)
{
  cleanup_json json_t *h = normalize_ok (
      "{'RestartPolicy':{'Name':'on-failure','MaximumRetryCount':3},'Memory':67108864,'NanoCpus':500000000,"
      "'Binds':['/tmp:/data:ro,z','/var/tmp:/rw:rw,rshared'],'Tmpfs':{'/run':'size=1m,mode=700'},"
      "'Mounts':[{'Type':'tmpfs','Target':'/cache','TmpfsOptions':{'SizeBytes':1048576}}],'CapAdd':['ALL'],"
      "'SecurityOpt':['no-new-privileges:true','seccomp=unconfined','apparmor=unconfined','label=disable'],"
      "'Sysctls':{'net.ipv4.ip_forward':'1','kernel.shmmax':'1000000'},'Ulimits':[{'Name':'nofile','Soft':100,'Hard':200}],"
      "'Dns':['10.0.0.1'],'ExtraHosts':['db:10.0.0.2','v6:::1'],'CgroupnsMode':'private',"
      "'CpusetCpus':'0','Devices':[{'PathOnHost':'/dev/null','PathInContainer':'/dev/mynull'}],"
      "'DeviceCgroupRules':['c 42:* rmw'],'IpcMode':'shareable','ConsoleSize':[24,80]}");
  CHECK_STR (berth_json_str (h, "NetworkMode"), "default");
  CHECK_STR (berth_json_str (h, "CgroupnsMode"), "private");
  cleanup_json json_t *host = normalize_ok ("{'NetworkMode':'host','Sysctls':{'kernel.shmmax':'1'}}");
  CHECK_STR (berth_json_str (host, "NetworkMode"), "host");
  cleanup_json json_t *c = normalize_ok ("{'NetworkMode':'container:abc'}");
  CHECK_STR (berth_json_str (c, "NetworkMode"), "container:abc");
}

/* What docker run (CLI v28) sends for `docker run busybox echo hi`. */
TEST (docker_cli_request_is_accepted)
{
  cleanup_json json_t *hc = normalize_ok (
      "{'Binds':null,'ContainerIDFile':'','LogConfig':{'Type':'','Config':{}},'NetworkMode':'default','PortBindings':{},"
      "'RestartPolicy':{'Name':'no','MaximumRetryCount':0},'AutoRemove':false,'VolumeDriver':'','VolumesFrom':null,"
      "'ConsoleSize':[50,200],'CapAdd':null,'CapDrop':null,'CgroupnsMode':'','Dns':[],'DnsOptions':[],'DnsSearch':[],"
      "'ExtraHosts':null,'GroupAdd':null,'IpcMode':'','Cgroup':'','Links':null,'OomScoreAdj':0,'PidMode':'',"
      "'Privileged':false,'PublishAllPorts':false,'ReadonlyRootfs':false,'SecurityOpt':null,'UTSMode':'','UsernsMode':'',"
      "'ShmSize':0,'Isolation':'','CpuShares':0,'Memory':0,'NanoCpus':0,'CgroupParent':'','BlkioWeight':0,"
      "'BlkioWeightDevice':[],'BlkioDeviceReadBps':[],'BlkioDeviceWriteBps':[],'BlkioDeviceReadIOps':[],"
      "'BlkioDeviceWriteIOps':[],'CpuPeriod':0,'CpuQuota':0,'CpuRealtimePeriod':0,'CpuRealtimeRuntime':0,"
      "'CpusetCpus':'','CpusetMems':'','Devices':[],'DeviceCgroupRules':null,'DeviceRequests':null,"
      "'MemoryReservation':0,'MemorySwap':0,'MemorySwappiness':-1,'OomKillDisable':false,'PidsLimit':0,'Ulimits':null,"
      "'CpuCount':0,'CpuPercent':0,'IOMaximumIOps':0,'IOMaximumBandwidth':0,'MaskedPaths':null,'ReadonlyPaths':null}");
  CHECK_STR (berth_json_str (hc, "NetworkMode"), "default");
  CHECK_STR (json_string_value (berth_json_path (hc, "LogConfig.Type")), "json-file");
  CHECK (json_is_array (json_object_get (hc, "Ulimits")));
  CHECK (json_array_size (json_object_get (hc, "MaskedPaths")) == 11);
  cleanup_json json_t *m = merge_ok (
      "{'Hostname':'','Domainname':'','User':'','AttachStdin':false,'AttachStdout':true,'AttachStderr':true,'Tty':false,"
      "'OpenStdin':false,'StdinOnce':false,'Env':[],'Cmd':['echo','hi'],'Image':'busybox','Volumes':{},'WorkingDir':'',"
      "'Entrypoint':null,'OnBuild':null,'Labels':{}}",
      "{'Env':['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],'Cmd':['sh']}");
  CHECK_STR (str_at (json_object_get (m, "Cmd"), 1), "hi");
  CHECK (json_array_size (json_object_get (m, "Env")) == 1);
  CHECK_STR (berth_json_str (m, "Hostname"), "0123456789ab");
  struct fixture f;
  fixture_make (&f);
  struct spec_input in = { .config = m, .host_config = hc, .rootfs = f.rootfs, .container_dir = f.ctr };
  cleanup_json json_t *spec = NULL;
  berth_err err = NULL;
  expect_ok (spec_generate (&in, &spec, &err), &err);
  CHECK (berth_json_path (spec, "linux.resources.memory") == NULL);
  CHECK (berth_json_path (spec, "process.consoleSize") == NULL);
  fixture_remove (&f);
}

/* ------------------------------------------------------------------ */
/* The spec                                                            */
/* ------------------------------------------------------------------ */

TEST (spec_process_basics)
{
  struct fixture f;
  fixture_make (&f);
  cleanup_json json_t *s = generate_ok (&f, "{'Entrypoint':['/bin/echo'],'Cmd':['hi','there'],'Env':['A=1'],"
                                             "'Hostname':'web','WorkingDir':'/srv/app'}",
                                        "{}");
  CHECK_STR (berth_json_str (s, "ociVersion"), "1.0.2-dev");
  json_t *args = berth_json_path (s, "process.args");
  CHECK (json_array_size (args) == 3);
  CHECK_STR (str_at (args, 0), "/bin/echo");
  CHECK_STR (str_at (args, 2), "there");
  json_t *env = berth_json_path (s, "process.env");
  CHECK_STR (str_at (env, 0), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  CHECK (str_array_has (env, "HOSTNAME=web"));
  CHECK (str_array_has (env, "A=1"));
  CHECK (str_array_has (env, "HOME=/root"));
  CHECK (!str_array_has (env, "TERM=xterm"));
  CHECK_STR (json_string_value (berth_json_path (s, "process.cwd")), "/srv/app");
  CHECK (json_is_false (berth_json_path (s, "process.terminal")));
  CHECK_STR (berth_json_str (s, "hostname"), "web");
  CHECK_STR (json_string_value (berth_json_path (s, "root.path")), f.rootfs);
  CHECK (json_is_false (berth_json_path (s, "root.readonly")));
  CHECK_STR (json_string_value (berth_json_path (s, "linux.cgroupsPath")), "/berth-test/specgen");
  CHECK (json_integer_value (berth_json_path (s, "process.user.uid")) == 0);
  CHECK (json_is_false (berth_json_path (s, "process.noNewPrivileges")));
  CHECK (json_integer_value (berth_json_path (s, "process.oomScoreAdj")) == 0);
  /* the working directory was created inside the root */
  char path[256];
  struct stat st;
  snprintf (path, sizeof path, "%s/srv/app", f.rootfs);
  CHECK (stat (path, &st) == 0 && S_ISDIR (st.st_mode));

  /* the image's PATH replaces the default one; a tty adds TERM */
  cleanup_json json_t *t = generate_ok (&f, "{'Cmd':['sh'],'Env':['PATH=/mine','HOME=/h'],'Tty':true}",
                                        "{'ConsoleSize':[24,80],'OomScoreAdj':-500}");
  env = berth_json_path (t, "process.env");
  CHECK_STR (str_at (env, 0), "PATH=/mine");
  CHECK (str_array_has (env, "TERM=xterm"));
  CHECK (str_array_has (env, "HOME=/h"));
  CHECK (!str_array_has (env, "HOME=/root"));
  CHECK (json_is_true (berth_json_path (t, "process.terminal")));
  CHECK (json_integer_value (berth_json_path (t, "process.consoleSize.width")) == 80);
  CHECK (json_integer_value (berth_json_path (t, "process.oomScoreAdj")) == -500);
  CHECK_STR (json_string_value (berth_json_path (t, "process.cwd")), "/");
  fixture_remove (&f);
}

static json_t *user_of (struct fixture *f, const char *user, const char *hc)
{
  char config[256];
  snprintf (config, sizeof config, "{'Cmd':['id'],'User':'%s'}", user);
  json_t *s = generate_ok (f, config, hc);
  json_t *u = json_incref (berth_json_path (s, "process.user"));
  json_decref (s);
  return u;
}

static void user_fails (struct fixture *f, const char *user, const char *fragment)
{
  char config[256];
  snprintf (config, sizeof config, "{'Cmd':['id'],'User':'%s'}", user);
  json_t *s = NULL;
  berth_err err = NULL;
  expect_error (generate (f, config, "{}", NULL, &s, &err), &err, fragment);
  CHECK (s == NULL);
}

static void check_user (json_t *u, json_int_t uid, json_int_t gid, const char *gids)
{
  CHECK (json_integer_value (json_object_get (u, "uid")) == uid);
  CHECK (json_integer_value (json_object_get (u, "gid")) == gid);
  char buf[128] = "";
  size_t i;
  json_t *g;
  json_array_foreach (json_object_get (u, "additionalGids"), i, g)
    snprintf (buf + strlen (buf), sizeof buf - strlen (buf), "%s%lld", i ? "," : "", (long long) json_integer_value (g));
  CHECK_STR (buf, gids);
}

TEST (spec_user_resolution)
{
  struct fixture f;
  fixture_make (&f);
  json_t *u;
  u = user_of (&f, "", "{}"); check_user (u, 0, 0, ""); json_decref (u);
  u = user_of (&f, "user", "{}"); check_user (u, 1000, 1000, "1001,29"); json_decref (u);
  u = user_of (&f, "1000", "{}"); check_user (u, 1000, 1000, "1001,29"); json_decref (u);
  u = user_of (&f, "user:root", "{}"); check_user (u, 1000, 0, ""); json_decref (u);
  u = user_of (&f, "user:1001", "{}"); check_user (u, 1000, 1001, ""); json_decref (u);
  u = user_of (&f, "1234", "{}"); check_user (u, 1234, 0, ""); json_decref (u);
  u = user_of (&f, "1234:5678", "{}"); check_user (u, 1234, 5678, ""); json_decref (u);
  u = user_of (&f, "nobody:extra", "{}"); check_user (u, 65534, 1001, ""); json_decref (u);
  u = user_of (&f, "nobody", "{'GroupAdd':['audio','4242']}"); check_user (u, 65534, 65534, "29,4242"); json_decref (u);
  user_fails (&f, "ghost", "unable to find user ghost: no matching entries in passwd file");
  user_fails (&f, "user:nogroupx", "unable to find group nogroupx: no matching entries in group file");

  cleanup_json json_t *s = generate_ok (&f, "{'Cmd':['id'],'User':'user'}", "{}");
  CHECK (str_array_has (berth_json_path (s, "process.env"), "HOME=/home/user"));

  /* without any account files, numeric ids still work */
  char path[256];
  snprintf (path, sizeof path, "%s/etc/passwd", f.rootfs);
  CHECK (unlink (path) == 0);
  u = user_of (&f, "42:43", "{}"); check_user (u, 42, 43, ""); json_decref (u);
  user_fails (&f, "user", "unable to find user user");
  fixture_remove (&f);
}

/* A host user that the fixture's root does not have. */
static void host_only_user (char *name, size_t size)
{
  cleanup_free char *passwd = read_text ("/etc/passwd");
  name[0] = '\0';
  char *save = NULL;
  for (char *line = strtok_r (passwd, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      size_t n = strcspn (line, ":");
      if (n > 0 && n < size && strncmp (line, "root:", 5) != 0 && strncmp (line, "user:", 5) != 0
          && strncmp (line, "nobody:", 7) != 0)
        {
          memcpy (name, line, n);
          name[n] = '\0';
          return;
        }
    }
}

TEST (spec_user_passwd_symlink_stays_in_root)
{
  struct fixture f;
  fixture_make (&f);
  char host_user[64];
  host_only_user (host_user, sizeof host_user);
  CHECK (host_user[0] != '\0');
  char path[256];
  snprintf (path, sizeof path, "%s/etc/passwd", f.rootfs);
  CHECK (unlink (path) == 0);
  CHECK (symlink ("../../../etc/passwd", path) == 0);
  /* resolved in the root, the link points at itself: no passwd at all */
  user_fails (&f, host_user, "unable to find user");

  /* an absolute link lands inside the root too */
  CHECK (unlink (path) == 0);
  CHECK (symlink ("/../../../../data/passwd", path) == 0);
  snprintf (path, sizeof path, "%s/data", f.rootfs);
  CHECK (mkdir (path, 0755) == 0);
  snprintf (path, sizeof path, "%s/data/passwd", f.rootfs);
  write_text (path, "inroot:x:4321:4322::/in:/bin/sh\n");
  json_t *u = user_of (&f, "inroot", "{}");
  check_user (u, 4321, 4322, "");
  json_decref (u);
  user_fails (&f, host_user, "unable to find user");
  fixture_remove (&f);
}

TEST (spec_default_mounts_and_network_files)
{
  struct fixture f;
  fixture_make (&f);
  cleanup_json json_t *s = generate_ok (&f, "{'Cmd':['true'],'Hostname':'box'}",
                                        "{'ShmSize':1048576,'ExtraHosts':['db:10.1.2.3'],'Dns':['10.9.9.9'],"
                                        "'DnsSearch':['example.org']}");
  const char *defaults[] = { "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup" };
  for (size_t i = 0; i < 7; i++)
    CHECK (find_mount (s, defaults[i]) != NULL);
  json_t *shm = find_mount (s, "/dev/shm");
  CHECK_STR (berth_json_str (shm, "type"), "tmpfs");
  CHECK (str_array_has (json_object_get (shm, "options"), "size=1048576"));
  CHECK (str_array_has (json_object_get (find_mount (s, "/sys"), "options"), "ro"));
  CHECK (str_array_has (json_object_get (find_mount (s, "/sys/fs/cgroup"), "options"), "ro"));
  CHECK (mount_index (s, "/dev") < mount_index (s, "/dev/pts"));

  json_t *hosts = find_mount (s, "/etc/hosts");
  CHECK (hosts != NULL);
  char path[256];
  snprintf (path, sizeof path, "%s/hosts", f.ctr);
  CHECK_STR (berth_json_str (hosts, "source"), path);
  CHECK_STR (berth_json_str (hosts, "type"), "bind");
  CHECK (!str_array_has (json_object_get (hosts, "options"), "ro"));
  cleanup_free char *hosts_text = read_text (path);
  CHECK (strstr (hosts_text, "127.0.0.1\tlocalhost\n") != NULL);
  CHECK (strstr (hosts_text, "10.1.2.3\tdb\n") != NULL);
  snprintf (path, sizeof path, "%s/hostname", f.ctr);
  cleanup_free char *hostname_text = read_text (path);
  CHECK_STR (hostname_text, "box\n");
  snprintf (path, sizeof path, "%s/resolv.conf", f.ctr);
  cleanup_free char *resolv = read_text (path);
  CHECK (strstr (resolv, "nameserver 10.9.9.9\n") != NULL);
  CHECK (strstr (resolv, "search example.org\n") != NULL);
  CHECK (find_mount (s, "/etc/hostname") != NULL && find_mount (s, "/etc/resolv.conf") != NULL);
  CHECK (find_mount (s, "/dev/init") == NULL);
  fixture_remove (&f);
}

TEST (spec_user_mounts)
{
  struct fixture f;
  fixture_make (&f);
  char hc[1024], src[200];
  snprintf (src, sizeof src, "%s/new-bind-source", f.dir);
  snprintf (hc, sizeof hc,
            "{'Binds':['/tmp:/data/sub:ro','%s:/data','/var/tmp:/rs:rslave'],"
            "'Tmpfs':{'/run':'size=1m,exec','/dev/shm':'size=2m'},"
            "'Mounts':[{'Type':'tmpfs','Target':'/cache','ReadOnly':true,'TmpfsOptions':{'SizeBytes':4096,'Mode':448}},"
            "{'Type':'bind','Source':'/tmp','Target':'/nr','BindOptions':{'NonRecursive':true}}]}",
            src);
  cleanup_json json_t *s = generate_ok (&f, "{'Cmd':['true']}", hc);
  /* Binds' missing sources are created, as Docker does */
  struct stat st;
  CHECK (stat (src, &st) == 0 && S_ISDIR (st.st_mode));

  json_t *ro = find_mount (s, "/data/sub"), *rw = find_mount (s, "/data");
  CHECK (ro && rw);
  CHECK_STR (berth_json_str (ro, "source"), "/tmp");
  CHECK (str_array_has (json_object_get (ro, "options"), "rbind"));
  CHECK (str_array_has (json_object_get (ro, "options"), "ro"));
  CHECK (str_array_has (json_object_get (ro, "options"), "rprivate"));
  CHECK (!str_array_has (json_object_get (rw, "options"), "ro"));
  CHECK (mount_index (s, "/data") < mount_index (s, "/data/sub"));
  CHECK (str_array_has (json_object_get (find_mount (s, "/rs"), "options"), "rslave"));
  CHECK (str_array_has (json_object_get (find_mount (s, "/nr"), "options"), "bind"));
  CHECK (!str_array_has (json_object_get (find_mount (s, "/nr"), "options"), "rbind"));

  json_t *run = find_mount (s, "/run");
  json_t *opts = json_object_get (run, "options");
  CHECK_STR (berth_json_str (run, "type"), "tmpfs");
  CHECK (str_array_has (opts, "exec") && !str_array_has (opts, "noexec"));
  CHECK (str_array_has (opts, "nosuid") && str_array_has (opts, "nodev") && str_array_has (opts, "size=1m"));

  json_t *cache = json_object_get (find_mount (s, "/cache"), "options");
  CHECK (str_array_has (cache, "size=4096") && str_array_has (cache, "mode=700") && str_array_has (cache, "ro"));

  /* a user /dev/shm replaces the default one */
  json_t *shm = find_mount (s, "/dev/shm");
  CHECK (str_array_has (json_object_get (shm, "options"), "size=2m"));
  size_t count = 0, i;
  json_t *m;
  json_array_foreach (json_object_get (s, "mounts"), i, m)
    count += strcmp (berth_json_str (m, "destination"), "/dev/shm") == 0;
  CHECK (count == 1);
  fixture_remove (&f);
}

TEST (spec_tmpfs_option_merge)
{
  json_t *o = NULL;
  berth_err err = NULL;
  expect_ok (spec_tmpfs_options ("size=1m,size=2m,rw,ro,shared", &o, &err), &err);
  CHECK (json_array_size (o) == 6);
  CHECK_STR (str_at (o, 0), "noexec");
  CHECK (!str_array_has (o, "size=1m") && str_array_has (o, "size=2m"));
  CHECK (!str_array_has (o, "rw") && str_array_has (o, "ro"));
  CHECK (!str_array_has (o, "rprivate") && str_array_has (o, "shared"));
  json_decref (o);
  expect_error (spec_tmpfs_options ("uid=", &o, &err), &err, "invalid tmpfs option");
}

TEST (spec_resources)
{
  struct fixture f;
  fixture_make (&f);
  cleanup_json json_t *s = generate_ok (&f, "{'Cmd':['true']}",
                                        "{'Memory':67108864,'MemoryReservation':33554432,'NanoCpus':1500000000,"
                                        "'PidsLimit':100,'CpuShares':512,'BlkioWeight':300,'CpusetCpus':'0',"
                                        "'OomKillDisable':true}");
  json_t *r = berth_json_path (s, "linux.resources");
  CHECK (json_integer_value (berth_json_path (r, "memory.limit")) == 67108864);
  CHECK (json_integer_value (berth_json_path (r, "memory.reservation")) == 33554432);
  if (spec_host_swap_limit ())
    CHECK (json_integer_value (berth_json_path (r, "memory.swap")) == 134217728);
  else
    CHECK (berth_json_path (r, "memory.swap") == NULL);
  CHECK (json_is_true (berth_json_path (r, "memory.disableOOMKiller")));
  CHECK (json_integer_value (berth_json_path (r, "cpu.quota")) == 150000);
  CHECK (json_integer_value (berth_json_path (r, "cpu.period")) == 100000);
  CHECK (json_integer_value (berth_json_path (r, "cpu.shares")) == 512);
  CHECK_STR (json_string_value (berth_json_path (r, "cpu.cpus")), "0");
  CHECK (json_integer_value (berth_json_path (r, "pids.limit")) == 100);
  CHECK (json_integer_value (berth_json_path (r, "blockIO.weight")) == 300);

  json_t *devices = json_object_get (r, "devices");
  CHECK (json_is_false (json_object_get (json_array_get (devices, 0), "allow")));
  CHECK_STR (berth_json_str (json_array_get (devices, 0), "access"), "rwm");
  bool null_allowed = false, pts_allowed = false, tun_allowed = false;
  size_t i;
  json_t *d;
  json_array_foreach (devices, i, d)
    {
      json_int_t major = berth_json_int (d, "major", -1), minor = berth_json_int (d, "minor", -1);
      null_allowed |= major == 1 && minor == 3 && strcmp (berth_json_str (d, "access"), "rwm") == 0;
      pts_allowed |= major == 136 && minor == -1;
      tun_allowed |= major == 10 && minor == 200;
    }
  CHECK (null_allowed && pts_allowed && tun_allowed);

  cleanup_json json_t *q = generate_ok (&f, "{'Cmd':['true']}", "{'CpuQuota':50000,'CpuPeriod':200000}");
  CHECK (json_integer_value (berth_json_path (q, "linux.resources.cpu.quota")) == 50000);
  CHECK (json_integer_value (berth_json_path (q, "linux.resources.cpu.period")) == 200000);
  CHECK (berth_json_path (q, "linux.resources.memory") == NULL);
  CHECK (berth_json_path (q, "linux.resources.pids") == NULL);
  fixture_remove (&f);
}

TEST (spec_devices)
{
  struct fixture f;
  fixture_make (&f);
  cleanup_json json_t *s = generate_ok (&f, "{'Cmd':['true']}",
                                        "{'Devices':[{'PathOnHost':'/dev/null','PathInContainer':'/dev/mynull',"
                                        "'CgroupPermissions':'rw'}],'DeviceCgroupRules':['c 42:* rmw','b 8:1 r']}");
  json_t *dev = json_array_get (berth_json_path (s, "linux.devices"), 0);
  CHECK_STR (berth_json_str (dev, "path"), "/dev/mynull");
  CHECK_STR (berth_json_str (dev, "type"), "c");
  CHECK (berth_json_int (dev, "major", 0) == 1 && berth_json_int (dev, "minor", 0) == 3);
  json_t *rules = berth_json_path (s, "linux.resources.devices");
  size_t n = json_array_size (rules);
  json_t *last = json_array_get (rules, n - 1), *before = json_array_get (rules, n - 2), *dev_rule = json_array_get (rules, n - 3);
  CHECK_STR (berth_json_str (last, "type"), "b");
  CHECK (berth_json_int (last, "major", 0) == 8 && berth_json_int (last, "minor", 0) == 1);
  CHECK (berth_json_int (before, "major", 0) == 42 && json_object_get (before, "minor") == NULL);
  CHECK_STR (berth_json_str (dev_rule, "access"), "rw");
  fixture_remove (&f);
}

TEST (spec_capabilities)
{
  struct fixture f;
  fixture_make (&f);
  cleanup_json json_t *d = generate_ok (&f, "{'Cmd':['true']}", "{}");
  json_t *caps = caps_of (d);
  CHECK (json_array_size (caps) == 14);
  for (const char *const *c = spec_default_caps; *c; c++)
    CHECK (str_array_has (caps, *c));
  CHECK (json_equal (caps, berth_json_path (d, "process.capabilities.effective")));
  CHECK (json_equal (caps, berth_json_path (d, "process.capabilities.permitted")));
  CHECK (berth_json_path (d, "process.capabilities.inheritable") == NULL);
  CHECK (berth_json_path (d, "process.capabilities.ambient") == NULL);

  cleanup_json json_t *a = generate_ok (&f, "{'Cmd':['true']}", "{'CapAdd':['NET_ADMIN'],'CapDrop':['chown','MKNOD']}");
  caps = caps_of (a);
  CHECK (json_array_size (caps) == 13);
  CHECK (str_array_has (caps, "CAP_NET_ADMIN") && !str_array_has (caps, "CAP_CHOWN") && !str_array_has (caps, "CAP_MKNOD"));

  cleanup_json json_t *only = generate_ok (&f, "{'Cmd':['true']}", "{'CapAdd':['CHOWN'],'CapDrop':['ALL']}");
  caps = caps_of (only);
  CHECK (json_array_size (caps) == 1);
  CHECK_STR (str_at (caps, 0), "CAP_CHOWN");

  cleanup_json json_t *known = spec_all_capabilities ();
  cleanup_json json_t *all = generate_ok (&f, "{'Cmd':['true']}", "{'CapAdd':['ALL'],'CapDrop':['MKNOD']}");
  caps = caps_of (all);
  CHECK (json_array_size (caps) == json_array_size (known) - 1);
  CHECK (str_array_has (caps, "CAP_SYS_ADMIN") && !str_array_has (caps, "CAP_MKNOD"));

  cleanup_json json_t *p = generate_ok (&f, "{'Cmd':['true']}", "{'Privileged':true,'CapDrop':['ALL']}");
  CHECK (json_equal (caps_of (p), known));
  CHECK (berth_json_path (p, "linux.seccomp") == NULL);
  CHECK (json_array_size (berth_json_path (p, "linux.maskedPaths")) == 0);
  CHECK (json_array_size (berth_json_path (p, "linux.readonlyPaths")) == 0);
  json_t *dev = berth_json_path (p, "linux.resources.devices");
  CHECK (json_array_size (dev) == 1 && json_is_true (json_object_get (json_array_get (dev, 0), "allow")));
  CHECK (str_array_has (json_object_get (find_mount (p, "/sys"), "options"), "rw"));

  cleanup_json json_t *masked = generate_ok (&f, "{'Cmd':['true']}", "{}");
  CHECK (json_array_size (berth_json_path (masked, "linux.maskedPaths")) == 11);
  CHECK (str_array_has (berth_json_path (masked, "linux.maskedPaths"), "/proc/keys"));
  CHECK (json_array_size (berth_json_path (masked, "linux.readonlyPaths")) == 5);
  fixture_remove (&f);
}

TEST (spec_seccomp_default_profile)
{
  struct fixture f;
  fixture_make (&f);
  cleanup_json json_t *s = generate_ok (&f, "{'Cmd':['true']}", "{}");
  json_t *sc = berth_json_path (s, "linux.seccomp");
  CHECK (sc != NULL);
  CHECK_STR (berth_json_str (sc, "defaultAction"), "SCMP_ACT_ERRNO");
  CHECK (berth_json_int (sc, "defaultErrnoRet", 0) == 1);
  json_t *arches = json_object_get (sc, "architectures");
  CHECK (json_array_size (arches) == 3 && str_array_has (arches, "SCMP_ARCH_X86_64") && str_array_has (arches, "SCMP_ARCH_X86")
         && str_array_has (arches, "SCMP_ARCH_X32"));
  CHECK (seccomp_allows (sc, "read") && seccomp_allows (sc, "execve") && seccomp_allows (sc, "arch_prctl"));
  CHECK (seccomp_allows (sc, "chroot")); /* CAP_SYS_CHROOT is a default */
  CHECK (!seccomp_allows (sc, "mount") && !seccomp_allows (sc, "unshare") && !seccomp_allows (sc, "setns"));
  CHECK (!seccomp_allows (sc, "reboot") && !seccomp_allows (sc, "init_module") && !seccomp_allows (sc, "kcmp"));
  CHECK (!seccomp_allows (sc, "bpf") && !seccomp_allows (sc, "perf_event_open"));
  CHECK (seccomp_rule (sc, "mount") == NULL);
  json_t *clone3 = seccomp_rule (sc, "clone3");
  CHECK_STR (berth_json_str (clone3, "action"), "SCMP_ACT_ERRNO");
  CHECK (berth_json_int (clone3, "errnoRet", 0) == 38);
  json_t *clone = seccomp_rule (sc, "clone");
  CHECK_STR (berth_json_str (json_array_get (json_object_get (clone, "args"), 0), "op"), "SCMP_CMP_MASKED_EQ");
  CHECK (berth_json_int (json_array_get (json_object_get (clone, "args"), 0), "value", 0) == 0x7E020000);
  json_t *sock = seccomp_rule (sc, "socket");
  CHECK_STR (berth_json_str (json_array_get (json_object_get (sock, "args"), 0), "op"), "SCMP_CMP_NE");
  CHECK (berth_json_int (json_array_get (json_object_get (sock, "args"), 0), "value", 0) == 40);
  size_t personality = 0, i;
  json_t *r;
  json_array_foreach (json_object_get (sc, "syscalls"), i, r)
    personality += str_array_has (json_object_get (r, "names"), "personality");
  CHECK (personality == 5);

  /* the runtime's compiler takes it */
  struct berth_seccomp *compiled = NULL;
  berth_err err = NULL;
  expect_ok (berth_seccomp_compile (sc, &compiled, &err), &err);
  CHECK (compiled != NULL && compiled->prog.len > 0);
  berth_seccomp_free (compiled);

  cleanup_json json_t *admin = generate_ok (&f, "{'Cmd':['true']}", "{'CapAdd':['SYS_ADMIN','SYS_PTRACE','SYS_BOOT']}");
  sc = berth_json_path (admin, "linux.seccomp");
  CHECK (seccomp_allows (sc, "mount") && seccomp_allows (sc, "umount2") && seccomp_allows (sc, "unshare")
         && seccomp_allows (sc, "setns") && seccomp_allows (sc, "clone") && seccomp_allows (sc, "clone3"));
  CHECK (seccomp_allows (sc, "kcmp") && seccomp_allows (sc, "reboot"));
  json_array_foreach (json_object_get (sc, "syscalls"), i, r)
    CHECK (!(str_array_has (json_object_get (r, "names"), "clone3") && berth_json_int (r, "errnoRet", 0) == 38));

  cleanup_json json_t *none = generate_ok (&f, "{'Cmd':['true']}", "{'SecurityOpt':['seccomp=unconfined']}");
  CHECK (berth_json_path (none, "linux.seccomp") == NULL);
  fixture_remove (&f);
}

TEST (seccomp_docker_profile_conversion)
{
  const char *profile =
      "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1,"
      "\"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\",\"subArchitectures\":[\"SCMP_ARCH_X86\"]},"
      "{\"architecture\":\"SCMP_ARCH_AARCH64\",\"subArchitectures\":[\"SCMP_ARCH_ARM\"]}],"
      "\"syscalls\":[{\"names\":[\"read\",\"write\"],\"action\":\"SCMP_ACT_ALLOW\",\"comment\":\"io\"},"
      "{\"name\":\"getpid\",\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":99},"
      "{\"names\":[\"mount\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}},"
      "{\"names\":[\"arm_only\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"arches\":[\"arm64\"]}},"
      "{\"names\":[\"amd_only\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"arches\":[\"amd64\"]}},"
      "{\"names\":[\"not_amd\"],\"action\":\"SCMP_ACT_ALLOW\",\"excludes\":{\"arches\":[\"amd64\"]}},"
      "{\"names\":[\"old_kernel\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"minKernel\":\"4.8\"}},"
      "{\"names\":[\"future_kernel\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"minKernel\":\"99.0\"}},"
      "{\"names\":[\"no_admin\"],\"action\":\"SCMP_ACT_ALLOW\",\"excludes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}},"
      "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"}]}]}";
  cleanup_json json_t *plain = J ("['CAP_CHOWN']");
  cleanup_json json_t *admin = J ("['CAP_CHOWN','CAP_SYS_ADMIN']");
  json_t *out = NULL;
  berth_err err = NULL;
  expect_ok (seccomp_profile_from_docker (profile, plain, &out, &err), &err);
  CHECK_STR (berth_json_str (out, "defaultAction"), "SCMP_ACT_ERRNO");
  CHECK (berth_json_int (out, "defaultErrnoRet", 0) == 1);
  json_t *arches = json_object_get (out, "architectures");
  CHECK (json_array_size (arches) == 2 && str_array_has (arches, "SCMP_ARCH_X86_64") && str_array_has (arches, "SCMP_ARCH_X86"));
  CHECK (seccomp_allows (out, "read") && seccomp_allows (out, "write"));
  CHECK (berth_json_int (seccomp_rule (out, "getpid"), "errnoRet", 0) == 99);
  CHECK (seccomp_rule (out, "mount") == NULL);
  CHECK (seccomp_rule (out, "arm_only") == NULL && seccomp_rule (out, "amd_only") != NULL);
  CHECK (seccomp_rule (out, "not_amd") == NULL);
  CHECK (seccomp_rule (out, "old_kernel") != NULL && seccomp_rule (out, "future_kernel") == NULL);
  CHECK (seccomp_rule (out, "no_admin") != NULL);
  CHECK (json_array_size (json_object_get (seccomp_rule (out, "personality"), "args")) == 1);
  CHECK (json_object_get (seccomp_rule (out, "read"), "comment") == NULL);
  struct berth_seccomp *compiled = NULL;
  expect_ok (berth_seccomp_compile (out, &compiled, &err), &err);
  berth_seccomp_free (compiled);
  json_decref (out);

  expect_ok (seccomp_profile_from_docker (profile, admin, &out, &err), &err);
  CHECK (seccomp_allows (out, "mount"));
  CHECK (seccomp_rule (out, "no_admin") == NULL);
  json_decref (out);

  /* through SecurityOpt, as the docker CLI sends it */
  struct fixture f;
  fixture_make (&f);
  cleanup_json json_t *hc = J ("{}");
  cleanup_free char *opt = NULL;
  CHECK (asprintf (&opt, "seccomp=%s", profile) > 0);
  json_object_set_new (hc, "SecurityOpt", json_pack ("[s]", opt));
  cleanup_json json_t *host = NULL;
  expect_ok (host_config_normalize (hc, &host, &err), &err);
  cleanup_json json_t *merged = merge_ok ("{'Cmd':['true']}", NULL);
  struct spec_input in = { .config = merged, .host_config = host, .rootfs = f.rootfs, .container_dir = f.ctr };
  cleanup_json json_t *spec = NULL;
  expect_ok (spec_generate (&in, &spec, &err), &err);
  json_t *sc = berth_json_path (spec, "linux.seccomp");
  CHECK (seccomp_rule (sc, "amd_only") != NULL && seccomp_rule (sc, "mount") == NULL);
  CHECK (!seccomp_allows (sc, "execve"));
  fixture_remove (&f);
}

TEST (seccomp_docker_profile_errors)
{
  static const char *const cases[][2] = {
    { "not json", "seccomp profile: invalid JSON" },
    { "[]", "expected a JSON object" },
    { "{}", "profile.defaultAction: expected an action name" },
    { "{'defaultAction':'SCMP_ACT_BOGUS'}", "unknown action \"SCMP_ACT_BOGUS\"" },
    { "{'defaultAction':'SCMP_ACT_ERRNO','extra':1}", "unknown field \"extra\"" },
    { "{'defaultAction':'SCMP_ACT_ERRNO','defaultErrnoRet':-1}", "defaultErrnoRet: expected an errno number" },
    { "{'defaultAction':'SCMP_ACT_ERRNO','architectures':['SCMP_ARCH_Z80']}", "unknown value \"SCMP_ARCH_Z80\"" },
    { "{'defaultAction':'SCMP_ACT_ERRNO','architectures':['SCMP_ARCH_X86_64'],"
      "'archMap':[{'architecture':'SCMP_ARCH_X86_64'}]}", "both 'architectures' and 'archMap'" },
    { "{'defaultAction':'SCMP_ACT_ERRNO','archMap':[{'architecture':'SCMP_ARCH_X86_64','subArchitectures':['x']}]}",
      "unknown value \"x\"" },
    { "{'defaultAction':'SCMP_ACT_ERRNO','syscalls':{}}", "syscalls: expected an array" },
    { "{'defaultAction':'SCMP_ACT_ERRNO','syscalls':[{'action':'SCMP_ACT_ALLOW'}]}", "syscalls[0]: no syscall name" },
    { "{'defaultAction':'SCMP_ACT_ERRNO','syscalls':[{'name':'read','names':['write'],'action':'SCMP_ACT_ALLOW'}]}",
      "use either 'name' or 'names'" },
    { "{'defaultAction':'SCMP_ACT_ERRNO','syscalls':[{'names':['read']}]}", "syscalls[0].action" },
    { "{'defaultAction':'SCMP_ACT_ERRNO','syscalls':[{'names':['read'],'action':'SCMP_ACT_NOTIFY'}]}",
      "SCMP_ACT_NOTIFY is not supported" },
    { "{'defaultAction':'SCMP_ACT_ERRNO','syscalls':[{'names':['read'],'action':'SCMP_ACT_ALLOW','bogus':1}]}",
      "syscalls[0]: unknown field \"bogus\"" },
    { "{'defaultAction':'SCMP_ACT_ERRNO','syscalls':[{'names':['read'],'action':'SCMP_ACT_ALLOW',"
      "'args':[{'index':7,'value':1,'op':'SCMP_CMP_EQ'}]}]}", "args[0].index: expected 0 to 5" },
    { "{'defaultAction':'SCMP_ACT_ERRNO','syscalls':[{'names':['read'],'action':'SCMP_ACT_ALLOW',"
      "'args':[{'index':0,'value':1,'op':'SCMP_CMP_ALMOST'}]}]}", "unknown operator \"SCMP_CMP_ALMOST\"" },
    { "{'defaultAction':'SCMP_ACT_ERRNO','syscalls':[{'names':['read'],'action':'SCMP_ACT_ALLOW',"
      "'args':[{'index':0,'value':'1','op':'SCMP_CMP_EQ'}]}]}", "args[0].value: expected an integer" },
    { "{'defaultAction':'SCMP_ACT_ERRNO','syscalls':[{'names':['read'],'action':'SCMP_ACT_ALLOW',"
      "'includes':{'minKernel':'four'}}]}", "invalid kernel version \"four\"" },
    { "{'defaultAction':'SCMP_ACT_ERRNO','syscalls':[{'names':['read'],'action':'SCMP_ACT_ALLOW',"
      "'excludes':{'caps':'CAP_X'}}]}", "excludes.caps: expected an array" },
    { "{'defaultAction':'SCMP_ACT_ERRNO','syscalls':[{'names':[1],'action':'SCMP_ACT_ALLOW'}]}",
      "syscalls[0].names[0]: expected a string" },
    { "{'defaultAction':'SCMP_ACT_ERRNO','listenerPath':'/run/x.sock'}", "listenerPath is not supported" },
    { "{'defaultAction':'SCMP_ACT_ERRNO','flags':['SECCOMP_FILTER_FLAG_BOGUS']}", "unknown value" },
  };
  cleanup_json json_t *caps = J ("[]");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      cleanup_free char *text = strdup (cases[i][0]);
      for (char *p = text; *p; p++)
        if (*p == '\'')
          *p = '"';
      json_t *out = NULL;
      berth_err err = NULL;
      int ret = seccomp_profile_from_docker (text, caps, &out, &err);
      CHECK (ret == -EINVAL);
      expect_error (ret, &err, cases[i][1]);
      CHECK (out == NULL);
    }
}

TEST (spec_security_options)
{
  struct fixture f;
  fixture_make (&f);
  const char *yes[] = { "{'SecurityOpt':['no-new-privileges']}", "{'SecurityOpt':['no-new-privileges=true']}",
                        "{'SecurityOpt':['no-new-privileges:true']}" };
  for (size_t i = 0; i < 3; i++)
    {
      json_t *s = generate_ok (&f, "{'Cmd':['true']}", yes[i]);
      CHECK (json_is_true (berth_json_path (s, "process.noNewPrivileges")));
      json_decref (s);
    }
  cleanup_json json_t *no = generate_ok (&f, "{'Cmd':['true']}", "{'SecurityOpt':['no-new-privileges=false']}");
  CHECK (json_is_false (berth_json_path (no, "process.noNewPrivileges")));

  cleanup_json json_t *ro = generate_ok (&f, "{'Cmd':['true']}", "{'ReadonlyRootfs':true}");
  CHECK (json_is_true (berth_json_path (ro, "root.readonly")));
  CHECK (str_array_has (json_object_get (find_mount (ro, "/etc/hosts"), "options"), "ro"));

  cleanup_json json_t *lim = generate_ok (&f, "{'Cmd':['true']}",
                                          "{'Ulimits':[{'Name':'nofile','Soft':1024,'Hard':2048}],"
                                          "'Sysctls':{'net.ipv4.ip_forward':'1'}}");
  json_t *rl = json_array_get (berth_json_path (lim, "process.rlimits"), 0);
  CHECK_STR (berth_json_str (rl, "type"), "RLIMIT_NOFILE");
  CHECK (berth_json_int (rl, "soft", 0) == 1024 && berth_json_int (rl, "hard", 0) == 2048);
  CHECK_STR (berth_json_str (berth_json_path (lim, "linux.sysctl"), "net.ipv4.ip_forward"), "1");
  fixture_remove (&f);
}

TEST (spec_init)
{
  struct fixture f;
  fixture_make (&f);
  json_t *s = NULL;
  berth_err err = NULL;
  expect_ok (generate (&f, "{'Entrypoint':['/bin/sh'],'Cmd':['-c','x']}", "{'Init':true}", "/usr/lib/berth-init", &s,
                       &err),
             &err);
  json_t *args = berth_json_path (s, "process.args");
  CHECK (json_array_size (args) == 5);
  CHECK_STR (str_at (args, 0), "/dev/init");
  CHECK_STR (str_at (args, 1), "--");
  CHECK_STR (str_at (args, 2), "/bin/sh");
  json_t *m = find_mount (s, "/dev/init");
  CHECK (m != NULL);
  CHECK_STR (berth_json_str (m, "source"), "/usr/lib/berth-init");
  CHECK (str_array_has (json_object_get (m, "options"), "ro"));
  CHECK (mount_index (s, "/dev") < mount_index (s, "/dev/init"));
  json_decref (s);
  s = NULL;
  expect_error (generate (&f, "{'Cmd':['true']}", "{'Init':true}", NULL, &s, &err), &err, "no init binary");
  CHECK (s == NULL);
  fixture_remove (&f);
}

TEST (spec_namespaces_and_network_modes)
{
  struct fixture f;
  fixture_make (&f);
  cleanup_json json_t *d = generate_ok (&f, "{'Cmd':['true'],'Hostname':'box'}", "{}");
  const char *types[] = { "pid", "ipc", "uts", "mount", "network" };
  for (size_t i = 0; i < 5; i++)
    CHECK (has_namespace (d, types[i]));
  CHECK (has_namespace (d, "cgroup") == spec_host_cgroup2 ());
  CHECK (!has_namespace (d, "user"));

  cleanup_json json_t *priv = generate_ok (&f, "{'Cmd':['true']}", "{'CgroupnsMode':'private'}");
  CHECK (has_namespace (priv, "cgroup"));
  cleanup_json json_t *hostns = generate_ok (&f, "{'Cmd':['true']}", "{'CgroupnsMode':'host'}");
  CHECK (!has_namespace (hostns, "cgroup"));

  cleanup_json json_t *h = generate_ok (&f, "{'Cmd':['true'],'Hostname':'box'}",
                                        "{'NetworkMode':'host','PidMode':'host','IpcMode':'host'}");
  CHECK (!has_namespace (h, "network") && !has_namespace (h, "pid") && !has_namespace (h, "ipc"));
  CHECK (has_namespace (h, "uts") && has_namespace (h, "mount"));
  char host[256] = "";
  CHECK (gethostname (host, sizeof host - 1) == 0);
  CHECK_STR (berth_json_str (h, "hostname"), host);
  char path[256];
  snprintf (path, sizeof path, "%s/hosts", f.ctr);
  cleanup_free char *hosts = read_text (path);
  cleanup_free char *host_hosts = read_text ("/etc/hosts");
  CHECK (strncmp (hosts, host_hosts, strlen (host_hosts)) == 0);
  CHECK_STR (json_string_value (json_object_get (find_mount (h, "/dev/shm"), "source")), "/dev/shm");

  cleanup_json json_t *uts = generate_ok (&f, "{'Cmd':['true']}", "{'UTSMode':'host'}");
  CHECK (!has_namespace (uts, "uts") && json_object_get (uts, "hostname") == NULL);

  cleanup_json json_t *none_ipc = generate_ok (&f, "{'Cmd':['true']}", "{'IpcMode':'none'}");
  CHECK (find_mount (none_ipc, "/dev/shm") == NULL);

  /* container:<id> joins the other container's namespace */
  cleanup_json json_t *merged = merge_ok ("{'Cmd':['true']}", NULL);
  cleanup_json json_t *hc = normalize_ok ("{'NetworkMode':'container:abc'}");
  struct spec_input in = { .config = merged, .host_config = hc, .rootfs = f.rootfs, .container_dir = f.ctr,
                           .shared_netns = "/proc/4242/ns/net" };
  cleanup_json json_t *c = NULL;
  berth_err err = NULL;
  expect_ok (spec_generate (&in, &c, &err), &err);
  size_t i;
  json_t *n;
  bool joined = false;
  json_array_foreach (berth_json_path (c, "linux.namespaces"), i, n)
    joined |= strcmp (berth_json_str (n, "type"), "network") == 0
              && berth_json_str (n, "path") && strcmp (berth_json_str (n, "path"), "/proc/4242/ns/net") == 0;
  CHECK (joined);
  in.shared_netns = NULL;
  json_t *bad = NULL;
  expect_error (spec_generate (&in, &bad, &err), &err, "network namespace is unknown");
  fixture_remove (&f);
}

TEST (exec_process)
{
  struct fixture f;
  fixture_make (&f);
  cleanup_json json_t *s = generate_ok (&f, "{'Cmd':['sleep','1000'],'Env':['A=1','B=2'],'WorkingDir':'/w'}",
                                        "{'SecurityOpt':['no-new-privileges'],"
                                        "'Ulimits':[{'Name':'nofile','Soft':10,'Hard':20}]}");
  cleanup_json json_t *e = J ("{'Cmd':['ls','-l'],'Env':['B=3','C=4'],'User':'user','WorkingDir':'/tmp','Tty':true,"
                              "'ConsoleSize':[30,100]}");
  json_t *p = NULL;
  berth_err err = NULL;
  expect_ok (exec_process_generate (s, e, f.rootfs, &p, &err), &err);
  CHECK_STR (str_at (json_object_get (p, "args"), 1), "-l");
  json_t *env = json_object_get (p, "env");
  CHECK (str_array_has (env, "A=1") && str_array_has (env, "B=3") && str_array_has (env, "C=4"));
  CHECK (!str_array_has (env, "B=2"));
  CHECK (str_array_has (env, "TERM=xterm") && str_array_has (env, "HOME=/home/user"));
  CHECK (berth_json_int (json_object_get (p, "user"), "uid", 0) == 1000);
  CHECK_STR (berth_json_str (p, "cwd"), "/tmp");
  CHECK (json_is_true (json_object_get (p, "terminal")));
  CHECK (berth_json_int (json_object_get (p, "consoleSize"), "height", 0) == 30);
  CHECK (json_is_true (json_object_get (p, "noNewPrivileges")));
  CHECK (json_equal (json_object_get (p, "rlimits"), berth_json_path (s, "process.rlimits")));
  CHECK (json_equal (json_object_get (p, "capabilities"), berth_json_path (s, "process.capabilities")));
  json_decref (p);

  /* defaults come from the container */
  cleanup_json json_t *e2 = J ("{'Cmd':['true'],'Privileged':true}");
  expect_ok (exec_process_generate (s, e2, f.rootfs, &p, &err), &err);
  CHECK_STR (berth_json_str (p, "cwd"), "/w");
  CHECK (berth_json_int (json_object_get (p, "user"), "uid", -1) == 0);
  CHECK (json_is_false (json_object_get (p, "terminal")));
  CHECK (json_equal (json_object_get (p, "env"), berth_json_path (s, "process.env")));
  cleanup_json json_t *known = spec_all_capabilities ();
  CHECK (json_equal (berth_json_path (p, "capabilities.bounding"), known));
  json_decref (p);

  cleanup_json json_t *e3 = J ("{'Cmd':[]}");
  expect_error (exec_process_generate (s, e3, f.rootfs, &p, &err), &err, "No exec command specified");
  cleanup_json json_t *e4 = J ("{'Cmd':['true'],'User':'ghost'}");
  expect_error (exec_process_generate (s, e4, f.rootfs, &p, &err), &err, "unable to find user ghost");
  cleanup_json json_t *e5 = J ("{'Cmd':['true'],'Env':[3]}");
  expect_error (exec_process_generate (s, e5, f.rootfs, &p, &err), &err, "exec config.Env[0]");
  fixture_remove (&f);
}

/* ------------------------------------------------------------------ */
/* Generated specs run under berth-runtime and runc                    */
/* ------------------------------------------------------------------ */

#define RUNC "/usr/sbin/runc"

/* build/berth-runtime next to this test's build/tests/ (or build/asan/). */
static void berth_runtime_path (char *out, size_t size)
{
  char self[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
  CHECK (n > 0);
  self[n] = '\0';
  snprintf (out, size, "%s/../berth-runtime", dirname (self));
}

/* A busybox root: /bin/busybox plus a link per applet, the fixture's
 * etc/passwd and etc/group, and the usual empty folders. */
static void busybox_rootfs (struct fixture *f)
{
  char path[512];
  const char *dirs[] = { "bin", "proc", "sys", "dev", "tmp", "home/user", "root" };
  berth_err err = NULL;
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
    {
      snprintf (path, sizeof path, "%s/%s", f->rootfs, dirs[i]);
      expect_ok (berth_mkdir_p (path, 0755, &err), &err);
    }
  snprintf (path, sizeof path, "%s/tmp", f->rootfs);
  CHECK (chmod (path, 01777) == 0);
  cleanup_free char *busybox = NULL;
  size_t len;
  expect_ok (berth_read_file ("/bin/busybox", 64 << 20, &busybox, &len, &err), &err);
  snprintf (path, sizeof path, "%s/bin/busybox", f->rootfs);
  expect_ok (berth_write_file (path, busybox, len, &err), &err);
  CHECK (chmod (path, 0755) == 0);
  FILE *list = popen ("/bin/busybox --list", "r");
  CHECK (list != NULL);
  char applet[128];
  while (fgets (applet, sizeof applet, list))
    {
      applet[strcspn (applet, "\n")] = '\0';
      if (applet[0] == '\0' || strcmp (applet, "busybox") == 0)
        continue;
      snprintf (path, sizeof path, "%s/bin/%s", f->rootfs, applet);
      CHECK (symlink ("busybox", path) == 0);
    }
  CHECK (pclose (list) == 0);
}

/* Run RUNTIME run on a bundle holding SPEC; *out gets stdout+stderr. */
static int run_container (const char *runtime, struct fixture *f, json_t *spec, const char *id, char **out)
{
  char bundle[256], state[256], config[300];
  snprintf (bundle, sizeof bundle, "%s/bundle-%s", f->dir, id);
  snprintf (state, sizeof state, "%s/state-%s", f->dir, id);
  snprintf (config, sizeof config, "%s/config.json", bundle);
  CHECK (mkdir (bundle, 0755) == 0);
  berth_err err = NULL;
  expect_ok (berth_json_write_file (config, spec, &err), &err);
  int pipefd[2];
  CHECK (pipe (pipefd) == 0);
  pid_t pid = fork ();
  CHECK (pid >= 0);
  if (pid == 0)
    {
      dup2 (pipefd[1], 1);
      dup2 (pipefd[1], 2);
      close (pipefd[0]);
      int devnull = open ("/dev/null", O_RDONLY);
      dup2 (devnull, 0);
      alarm (60);
      execl (runtime, runtime, "--root", state, "run", "--bundle", bundle, id, (char *) NULL);
      _exit (127);
    }
  close (pipefd[1]);
  char *buf = NULL;
  size_t size = 0;
  FILE *mem = open_memstream (&buf, &size);
  char chunk[4096];
  ssize_t n;
  while ((n = read (pipefd[0], chunk, sizeof chunk)) > 0)
    fwrite (chunk, 1, (size_t) n, mem);
  fclose (mem);
  close (pipefd[0]);
  int status = 0;
  CHECK (waitpid (pid, &status, 0) == pid);
  *out = buf;
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

/* Generate a spec for CONFIG/HC in a fresh busybox root and run it with
 * both runtimes; each output must contain every fragment of EXPECT
 * (NULL-terminated) and the exit code must be 0. */
static void run_both (const char *config_json, const char *script, const char *hc, const char *const *expect)
{
  if (geteuid () != 0)
    {
      printf ("  not root: containers cannot run here\n");
      return;
    }
  struct fixture f;
  fixture_make (&f);
  busybox_rootfs (&f);
  char berth[PATH_MAX];
  berth_runtime_path (berth, sizeof berth);
  const char *runtimes[] = { berth, RUNC };
  for (size_t r = 0; r < 2; r++)
    {
      CHECK (access (runtimes[r], X_OK) == 0);
      char id[64], cgroup[128];
      berth_err err = NULL;
      snprintf (id, sizeof id, "specgen-%d-%zu", (int) getpid (), r);
      snprintf (cgroup, sizeof cgroup, "/berth-test/%s", id);
      cleanup_json json_t *config = J (config_json);
      json_object_set_new (config, "Cmd", json_pack ("[sss]", "sh", "-c", script));
      cleanup_json json_t *merged = NULL;
      expect_ok (container_config_merge (config, NULL, "busybox", "0123456789ab", &merged, &err), &err);
      cleanup_json json_t *host = normalize_ok (hc);
      struct spec_input in = { .id = TEST_ID, .config = merged, .host_config = host, .rootfs = f.rootfs,
                               .container_dir = f.ctr, .cgroups_path = cgroup };
      cleanup_json json_t *spec = NULL;
      expect_ok (spec_generate (&in, &spec, &err), &err);
      cleanup_free char *out = NULL;
      int rc = run_container (runtimes[r], &f, spec, id, &out);
      bool ok = rc == 0;
      for (const char *const *e = expect; *e && ok; e++)
        ok = strstr (out, *e) != NULL;
      if (!ok)
        {
          printf ("  %s: exit %d, output:\n%s\n  expected:", runtimes[r], rc, out);
          for (const char *const *e = expect; *e; e++)
            printf (" [%s]", *e);
          printf ("\n");
        }
      CHECK (ok);
    }
  fixture_remove (&f);
}

/* Docker's 14 default capabilities as /proc/PID/status shows them. */
#define DEFAULT_CAPEFF "CapEff:\t00000000a80425fb"

TEST (run_default_config)
{
  const char *expect[] = { "uid=0(root) gid=0(root)", DEFAULT_CAPEFF, "CapBnd:\t00000000a80425fb", "Seccomp:\t2",
                           "host=box", "etc=box", "unshare-blocked", "NoNewPrivs:\t0", "masked=", "cwd=/", NULL };
  run_both ("{'Hostname':'box'}",
            "id; grep -E '^(CapEff|CapBnd|Seccomp|NoNewPrivs):' /proc/self/status; echo host=$(hostname); "
            "echo etc=$(cat /etc/hostname); unshare -U true 2>/dev/null || echo unshare-blocked; "
            "echo masked=$(cat /proc/kcore 2>&1 | head -c 10); echo cwd=$(pwd)",
            "{}", expect);
}

TEST (run_as_user_1000)
{
  const char *expect[] = { "uid=1000(user) gid=1000(user)", "1001(extra)", "CapEff:\t0000000000000000",
                           "home=/home/user", "NoNewPrivs:\t1", "cwd=/srv", NULL };
  run_both ("{'User':'user','WorkingDir':'/srv'}",
            "id; grep -E '^(CapEff|NoNewPrivs):' /proc/self/status; echo home=$HOME; echo cwd=$(pwd)",
            "{'SecurityOpt':['no-new-privileges']}", expect);
}

TEST (run_readonly_root_with_tmpfs)
{
  const char *expect[] = { "root-readonly", "tmp-writable", "size=1024k", "shm=2048", NULL };
  run_both ("{}",
            "touch /x 2>/dev/null || echo root-readonly; touch /tmp/y && echo tmp-writable; "
            "grep ' /tmp ' /proc/mounts; echo shm=$(df -k /dev/shm | awk 'NR==2{print $2}')",
            "{'ReadonlyRootfs':true,'Tmpfs':{'/tmp':'size=1m'},'ShmSize':2097152}", expect);
}

TEST (run_with_capabilities_dropped)
{
  const char *expect[] = { "CapEff:\t0000000000000001", "CapBnd:\t0000000000000001", "chroot-blocked", NULL };
  run_both ("{}", "grep -E '^Cap(Eff|Bnd):' /proc/self/status; chroot / true 2>/dev/null || echo chroot-blocked",
            "{'CapDrop':['ALL'],'CapAdd':['CHOWN']}", expect);
}

TEST (run_with_memory_and_pids_limits)
{
  const char *expect[] = { "mem=67108864", "pids=50", "rlimit=123", NULL };
  run_both ("{}",
            "echo mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max); "
            "echo pids=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max); "
            "echo rlimit=$(ulimit -n)",
            "{'Memory':67108864,'PidsLimit':50,'Ulimits':[{'Name':'nofile','Soft':123,'Hard':456}]}", expect);
}

TEST (run_privileged)
{
  cleanup_json json_t *all = spec_all_capabilities ();
  unsigned long long mask = 0;
  size_t i;
  json_t *c;
  json_array_foreach (all, i, c)
    {
      cap_value_t cap;
      CHECK (cap_from_name (json_string_value (c), &cap) == 0);
      mask |= 1ULL << cap;
    }
  char capeff[64];
  snprintf (capeff, sizeof capeff, "CapEff:\t%016llx", mask);
  const char *expect[] = { capeff, "Seccomp:\t0", "sys-writable", NULL };
  run_both ("{}",
            "grep -E '^(CapEff|Seccomp):' /proc/self/status; grep ' /sys sysfs rw' /proc/mounts >/dev/null && echo sys-writable",
            "{'Privileged':true}", expect);
}

TEST (run_host_network)
{
  char host[256] = "", expect_host[300];
  CHECK (gethostname (host, sizeof host - 1) == 0);
  snprintf (expect_host, sizeof expect_host, "host=%s\n", host);
  /* the host's interfaces are visible: more than the lone loopback */
  const char *expect[] = { expect_host, "ifaces-shared", NULL };
  run_both ("{'Hostname':'ignored'}",
            "echo host=$(hostname); n=$(ls /sys/class/net | wc -l); "
            "[ \"$(readlink /proc/1/ns/net)\" = \"$(readlink /proc/self/ns/net)\" ] && [ $n -ge 1 ] && echo ifaces-shared",
            "{'NetworkMode':'host'}", expect);
}

TEST (run_custom_seccomp_profile)
{
  const char *expect[] = { "mkdir-denied", "Seccomp:\t2", NULL };
  run_both ("{}", "mkdir /newdir 2>/dev/null || echo mkdir-denied; grep '^Seccomp:' /proc/self/status",
            "{'SecurityOpt':['seccomp={\\'defaultAction\\':\\'SCMP_ACT_ALLOW\\',\\'syscalls\\':[{\\'names\\':"
            "[\\'mkdir\\',\\'mkdirat\\'],\\'action\\':\\'SCMP_ACT_ERRNO\\',\\'errnoRet\\':1}]}']}",
            expect);
}
