/* System endpoints: _ping, version, info, system df. */
#include "daemon/daemon.h"
#include "daemon/container.h"
#include "image/image.h"
#include "runtime/cgroup.h"
#include "common/cleanup.h"

#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

void api_ping (struct request *req, struct reply *rep)
{
  (void) req;
  reply_text (rep, 200, "text/plain; charset=utf-8", "OK");
  reply_header (rep, "Builder-Version", "1");
  reply_header (rep, "Cache-Control", "no-cache, no-store, must-revalidate");
  reply_header (rep, "Pragma", "no-cache");
}

void api_version (struct request *req, struct reply *rep)
{
  (void) req;
  struct utsname u;
  uname (&u);
  json_t *details = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s}", "ApiVersion", BERTHD_API_VERSION, "MinAPIVersion",
                               BERTHD_MIN_API_VERSION, "GitCommit", BERTH_COMMIT, "Os", "linux", "Arch", "amd64",
                               "KernelVersion", u.release);
  reply_json (rep, 200,
              json_pack ("{s:{s:s}, s:[{s:s, s:s, s:o}], s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Platform", "Name",
                         "berth", "Components", "Name", "Engine", "Version", BERTH_VERSION, "Details", details,
                         "Version", BERTH_VERSION, "ApiVersion", BERTHD_API_VERSION, "MinAPIVersion",
                         BERTHD_MIN_API_VERSION, "GitCommit", BERTH_COMMIT, "GoVersion", "n/a (C)", "Os", "linux",
                         "Arch", "amd64", "KernelVersion", u.release));
}

static size_t image_count (struct berthd *d)
{
  struct image_info **list = NULL;
  size_t n = 0;
  berth_err err = NULL;
  pthread_mutex_lock (&d->image_lock);
  if (image_list (d->images, &list, &n, &err) < 0)
    berth_error_free (&err);
  pthread_mutex_unlock (&d->image_lock);
  image_list_free (list, n);
  return n;
}

static const char *cgroup_version (void)
{
  enum cgroup_mode mode = CGROUP_MODE_V1;
  berth_err err = NULL;
  if (cgroup_detect_mode (&mode, &err) < 0)
    berth_error_free (&err);
  return mode == CGROUP_MODE_V2 ? "2" : "1";
}

static char *os_name (void)
{
  char line[256];
  cleanup_file FILE *f = fopen ("/etc/os-release", "re");
  while (f && fgets (line, sizeof line, f))
    if (strncmp (line, "PRETTY_NAME=", 12) == 0)
      {
        char *v = line + 12;
        v[strcspn (v, "\n")] = '\0';
        if (*v == '"')
          {
            v++;
            v[strcspn (v, "\"")] = '\0';
          }
        return strdup (v);
      }
  return strdup ("Linux");
}

struct container_counts
{
  int total, running, paused;
};

static struct container_counts count_containers (struct berthd *d)
{
  struct container_counts cc = { 0 };
  size_t n;
  struct container **all = containers_all (d->containers, &n);
  containers_lock (d->containers);
  for (size_t i = 0; i < n; i++)
    {
      cc.total++;
      cc.running += all[i]->status == CT_RUNNING || all[i]->status == CT_RESTARTING;
      cc.paused += all[i]->status == CT_PAUSED;
    }
  containers_unlock (d->containers);
  containers_put_all (d->containers, all, n);
  return cc;
}

void api_info (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  struct utsname u;
  struct sysinfo si;
  char host[256] = "";
  uname (&u);
  sysinfo (&si);
  gethostname (host, sizeof host - 1);
  cleanup_free char *os = os_name ();
  struct container_counts cc = count_containers (d);
  json_t *info = json_pack (
      "{s:s, s:i, s:i, s:i, s:i, s:I, s:s, s:[[ss]], s:{s:[s], s:[ss], s:[s]}, s:b, s:b, s:b, s:b, s:b, s:b, s:b,"
      " s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:s, s:s, s:s, s:[], s:b, s:b}",
      "ID", d->engine_id, "Containers", cc.total, "ContainersRunning", cc.running, "ContainersPaused", cc.paused,
      "ContainersStopped", cc.total - cc.running - cc.paused,
      "Images", (json_int_t) image_count (d), "Driver", "overlay2", "DriverStatus", "Backing Filesystem", "extfs",
      "Plugins", "Volume", "local", "Network", "host", "null", "Log", "json-file", "MemoryLimit", 1, "SwapLimit", 1,
      "CpuCfsPeriod", 1, "CpuCfsQuota", 1, "CPUShares", 1, "CPUSet", 1, "PidsLimit", 1, "Debug", 0,
      "LoggingDriver", "json-file", "CgroupDriver", "cgroupfs", "CgroupVersion", cgroup_version (), "KernelVersion",
      u.release, "OperatingSystem", os, "OSType", "linux", "Architecture", u.machine, "NCPU",
      (int) sysconf (_SC_NPROCESSORS_ONLN), "MemTotal", (json_int_t) si.totalram * si.mem_unit, "DockerRootDir",
      d->cfg.data_root, "Name", host, "ServerVersion", BERTH_VERSION, "Warnings", "LiveRestoreEnabled", 1,
      "ExperimentalBuild", 0);
  json_t *registry = json_pack ("{s:{}, s:[s], s:[]}", "IndexConfigs", "InsecureRegistryCIDRs", "127.0.0.0/8",
                                "Mirrors");
  size_t i;
  json_t *v;
  /* daemon.json "insecure-registries": CIDRs, else registry names */
  json_array_foreach (d->cfg.insecure_registries, i, v)
    if (strchr (json_string_value (v), '/'))
      json_array_append (json_object_get (registry, "InsecureRegistryCIDRs"), v);
    else
      json_object_set_new (json_object_get (registry, "IndexConfigs"), json_string_value (v),
                           json_pack ("{s:O,s:[],s:b,s:b}", "Name", v, "Mirrors", "Secure", 0, "Official", 0));
  json_object_set_new (info, "RegistryConfig", registry);
  json_object_set_new (info, "Runtimes", json_pack ("{s:{s:s}, s:{s:s}}", "berth", "path", "berth-runtime", "runc",
                                                    "path", "runc"));
  json_object_update (json_object_get (info, "Runtimes"), d->cfg.runtimes);
  json_object_set_new (info, "DefaultRuntime", json_string ("berth"));
  json_object_set_new (info, "Swarm", json_pack ("{s:s, s:s}", "LocalNodeState", "inactive", "NodeID", ""));
  json_object_set_new (info, "SecurityOptions", json_pack ("[s]", "name=seccomp,profile=builtin"));
  reply_json (rep, 200, info);
}

json_t *api_image_summary (struct image_info *i);


static int containers_using (struct berthd *d, const char *image_id)
{
  size_t n;
  int count = 0;
  struct container **all = containers_all (d->containers, &n);
  for (size_t i = 0; i < n; i++)
    count += strcmp (all[i]->image_id, image_id) == 0;
  containers_put_all (d->containers, all, n);
  return count;
}

static json_t *containers_df (struct berthd *d)
{
  size_t n;
  struct container **all = containers_all (d->containers, &n);
  json_t *out = json_array ();
  for (size_t i = 0; i < n; i++)
    {
      json_t *j = container_list_json (d, all[i]);
      json_object_set_new (j, "SizeRw", json_integer (container_rw_size (all[i])));
      json_object_set_new (j, "SizeRootFs", json_integer (0));
      json_array_append_new (out, j);
    }
  containers_put_all (d->containers, all, n);
  return out;
}

void api_system_df (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  struct image_info **list = NULL;
  size_t n = 0;
  int64_t bytes = 0;
  berth_err err = NULL;
  pthread_mutex_lock (&d->image_lock);
  int r = image_list (d->images, &list, &n, &err);
  if (r >= 0)
    r = image_store_usage (d->images, &bytes, &err);
  pthread_mutex_unlock (&d->image_lock);
  if (r < 0)
    {
      image_list_free (list, n);
      reply_berth_error (rep, &err);
      return;
    }
  json_t *images = json_array ();
  for (size_t i = 0; i < n; i++)
    {
      json_t *summary = api_image_summary (list[i]);
      json_object_set_new (summary, "Containers", json_integer (containers_using (d, list[i]->id)));
      json_array_append_new (images, summary);
    }
  image_list_free (list, n);
  reply_json (rep, 200, json_pack ("{s:I, s:o, s:o, s:[], s:[]}", "LayersSize", (json_int_t) bytes, "Images", images,
                                   "Containers", containers_df (d), "Volumes", "BuildCache"));
}
