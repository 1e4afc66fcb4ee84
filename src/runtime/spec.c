/* The default config.json (`spec`) and the features document. */
#include "runtime/runtime.h"
#include "runtime/caps.h"
#include "runtime/seccomp.h"
#include "common/cleanup.h"

#include <string.h>
#include <unistd.h>

static const char default_spec[] =
  "{"
  "\"ociVersion\":\"" BERTH_OCI_VERSION "\","
  "\"process\":{\"terminal\":true,\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"sh\"],"
  "\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"TERM=xterm\"],"
  "\"cwd\":\"/\","
  "\"capabilities\":{\"bounding\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
  "\"effective\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
  "\"permitted\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
  "\"ambient\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"]},"
  "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}],"
  "\"noNewPrivileges\":true},"
  "\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
  "\"hostname\":\"berth\","
  "\"mounts\":["
  "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
  "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
  "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\"gid=5\"]},"
  "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
  "{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\",\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
  "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},"
  "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]}"
  "],"
  "\"linux\":{"
  "\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},"
  "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"},{\"type\":\"cgroup\"}],"
  "\"maskedPaths\":[\"/proc/acpi\",\"/proc/asound\",\"/proc/kcore\",\"/proc/keys\",\"/proc/latency_stats\",\"/proc/timer_list\","
  "\"/proc/timer_stats\",\"/proc/sched_debug\",\"/sys/firmware\",\"/proc/scsi\"],"
  "\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]"
  "}}";

/* runc's rootless conversion: a user namespace mapping the caller, /sys
 * bound from the host, no cgroup mount or resources. */
static void make_rootless (json_t *spec)
{
  json_t *linux_ = json_object_get (spec, "linux");
  json_t *ns = json_object_get (linux_, "namespaces");
  json_array_append_new (ns, json_pack ("{s:s}", "type", "user"));
  json_object_set_new (linux_, "uidMappings", json_pack ("[{s:i,s:i,s:i}]", "containerID", 0, "hostID", (int) geteuid (), "size", 1));
  json_object_set_new (linux_, "gidMappings", json_pack ("[{s:i,s:i,s:i}]", "containerID", 0, "hostID", (int) getegid (), "size", 1));
  json_object_del (linux_, "resources");
  json_t *mounts = json_object_get (spec, "mounts");
  for (size_t i = json_array_size (mounts); i-- > 0;)
    {
      json_t *m = json_array_get (mounts, i);
      const char *type = json_string_value (json_object_get (m, "type"));
      if (type && strcmp (type, "cgroup") == 0)
        json_array_remove (mounts, i);
      else if (type && strcmp (type, "sysfs") == 0)
        json_array_set_new (mounts, i, json_pack ("{s:s,s:s,s:s,s:[sssss]}", "destination", "/sys", "type", "none",
                                                  "source", "/sys", "options", "rbind", "nosuid", "noexec", "nodev", "ro"));
      else if (type && strcmp (type, "devpts") == 0)
        {
          json_t *opts = json_object_get (m, "options");
          for (size_t k = json_array_size (opts); k-- > 0;)
            if (strcmp (json_string_value (json_array_get (opts, k)), "gid=5") == 0)
              json_array_remove (opts, k);
        }
    }
}

json_t *berth_spec_default (bool rootless)
{
  json_t *spec = json_loads (default_spec, 0, NULL);
  if (spec && rootless)
    make_rootless (spec);
  return spec;
}

static json_t *string_array (const char *const *list)
{
  json_t *arr = json_array ();
  for (; *list; list++)
    json_array_append_new (arr, json_string (*list));
  return arr;
}

static const char *const hook_names[] = { "prestart", "createRuntime", "createContainer", "startContainer",
                                          "poststart", "poststop", NULL };
static const char *const mount_options[] = {
  "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "lazytime", "mand", "noatime",
  "nodev", "nodiratime", "noexec", "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid", "private",
  "rbind", "relatime", "remount", "ro", "rprivate", "rro", "rshared", "rslave", "runbindable", "rw", "shared",
  "slave", "strictatime", "suid", "sync", "unbindable", NULL,
};
static const char *const namespace_names[] = { "cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time", NULL };

json_t *berth_features (void)
{
  return json_pack ("{s:s, s:s, s:o, s:o, s:{s:o, s:o, s:{s:b,s:b,s:b,s:b,s:b}, s:o, s:{s:b}, s:{s:b},"
                    " s:{s:b}, s:{s:{s:b}}}, s:{s:s, s:s}}",
                    "ociVersionMin", "1.0.0", "ociVersionMax", BERTH_OCI_VERSION,
                    "hooks", string_array (hook_names), "mountOptions", string_array (mount_options),
                    "linux",
                    "namespaces", string_array (namespace_names),
                    "capabilities", berth_caps_known (),
                    "cgroup", "v1", 1, "v2", 1, "systemd", 0, "systemdUser", 0, "rdma", 0,
                    "seccomp", berth_seccomp_features (),
                    "apparmor", "enabled", access ("/sys/kernel/security/apparmor", F_OK) == 0,
                    "selinux", "enabled", access ("/sys/fs/selinux/enforce", F_OK) == 0,
                    "intelRdt", "enabled", 0,
                    "mountExtensions", "idmap", "enabled", 0,
                    "annotations", "io.berth.runtime.version", BERTH_VERSION, "io.berth.runtime.commit", BERTH_COMMIT);
}
