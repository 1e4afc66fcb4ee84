/* The mounts of a Docker container: Docker's defaults, the network files
 * (/etc/hostname, /etc/hosts, /etc/resolv.conf) written into the
 * container's folder and bind-mounted, the user's Binds, Mounts and Tmpfs,
 * and the init. */
#include "daemon/spec-internal.h"

#include "common/cleanup.h"
#include "common/fs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_PROPAGATION "rprivate"

/* ------------------------------------------------------------------ */
/* Binds                                                               */
/* ------------------------------------------------------------------ */

void spec_bind_clear (struct spec_bind *b)
{
  free (b->source);
  free (b->destination);
  memset (b, 0, sizeof *b);
}

static const char *const propagations[] = { "shared", "rshared", "slave", "rslave", "private", "rprivate", NULL };
/* SELinux relabeling, volume copy and macOS consistency modes: accepted,
 * nothing to do on this host. */
static const char *const ignored_modes[] = { "z", "Z", "nocopy", "consistent", "cached", "delegated", NULL };

static bool in_list (const char *const *list, const char *s)
{
  for (; *list; list++)
    if (strcmp (*list, s) == 0)
      return true;
  return false;
}

static int parse_bind_mode (const char *modes, struct spec_bind *out, berth_err *err)
{
  bool rw_seen = false, propagation_seen = false;
  cleanup_free char *copy = strdup (modes);
  if (copy == NULL)
    return berth_fail (err, ENOMEM, "bind");
  char *save = NULL;
  for (char *m = strtok_r (copy, ",", &save); m; m = strtok_r (NULL, ",", &save))
    {
      if (strcmp (m, "ro") == 0 || strcmp (m, "rw") == 0)
        {
          if (rw_seen)
            return berth_fail (err, 0, "invalid mode: %s", modes);
          rw_seen = true;
          out->readonly = m[1] == 'o';
        }
      else if (in_list (propagations, m))
        {
          if (propagation_seen)
            return berth_fail (err, 0, "invalid mode: %s", modes);
          propagation_seen = true;
          for (const char *const *p = propagations; *p; p++)
            if (strcmp (*p, m) == 0)
              out->propagation = *p;
        }
      else if (!in_list (ignored_modes, m))
        return berth_fail (err, 0, "invalid mode: %s", modes);
    }
  return 0;
}

int spec_parse_bind (const char *spec, struct spec_bind *out, berth_err *err)
{
  memset (out, 0, sizeof *out);
  out->propagation = DEFAULT_PROPAGATION;
  const char *c1 = strchr (spec, ':');
  const char *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
  if (c1 == NULL || c1 == spec || (c2 && strchr (c2 + 1, ':')) || (c2 ? c2 == c1 + 1 : c1[1] == '\0'))
    return berth_fail (err, 0, "invalid volume specification: '%s'", spec);
  if (spec[0] != '/')
    return berth_fail (err, 0, "invalid volume specification: '%s': named volumes are not supported yet", spec);
  out->source = strndup (spec, (size_t) (c1 - spec));
  out->destination = c2 ? strndup (c1 + 1, (size_t) (c2 - c1 - 1)) : strdup (c1 + 1);
  if (out->source == NULL || out->destination == NULL)
    {
      spec_bind_clear (out);
      return berth_fail (err, ENOMEM, "bind");
    }
  int ret = 0;
  if (out->destination[0] != '/')
    ret = berth_fail (err, 0, "invalid volume specification: '%s': destination must be an absolute path", spec);
  else if (strcmp (out->destination, "/") == 0)
    ret = berth_fail (err, 0, "invalid volume specification: '%s': destination can't be '/'", spec);
  else if (c2)
    ret = parse_bind_mode (c2 + 1, out, err);
  if (ret < 0)
    spec_bind_clear (out);
  return ret;
}

static json_t *bind_mount (const char *source, const char *destination, bool recursive, bool readonly,
                           const char *propagation)
{
  json_t *opts = json_pack ("[s]", recursive ? "rbind" : "bind");
  if (readonly)
    json_array_append_new (opts, json_string ("ro"));
  json_array_append_new (opts, json_string (propagation));
  return json_pack ("{s:s, s:s, s:s, s:o}", "destination", destination, "type", "bind", "source", source,
                    "options", opts);
}

/* ------------------------------------------------------------------ */
/* Tmpfs                                                               */
/* ------------------------------------------------------------------ */

/* Flag options and their "kind": a later option of the same kind
 * replaces an earlier one (MS_* flag; all propagations are one kind). */
struct tmpfs_flag
{
  const char *name;
  unsigned long kind;
};

#define PROPAGATION_KIND (~0UL)
static const struct tmpfs_flag tmpfs_flags[] = {
  { "ro", MS_RDONLY },          { "rw", MS_RDONLY },          { "suid", MS_NOSUID },
  { "nosuid", MS_NOSUID },      { "dev", MS_NODEV },          { "nodev", MS_NODEV },
  { "exec", MS_NOEXEC },        { "noexec", MS_NOEXEC },      { "sync", MS_SYNCHRONOUS },
  { "async", MS_SYNCHRONOUS },  { "dirsync", MS_DIRSYNC },    { "mand", MS_MANDLOCK },
  { "nomand", MS_MANDLOCK },    { "atime", MS_NOATIME },      { "noatime", MS_NOATIME },
  { "diratime", MS_NODIRATIME },{ "nodiratime", MS_NODIRATIME }, { "relatime", MS_RELATIME },
  { "norelatime", MS_RELATIME },{ "strictatime", MS_STRICTATIME }, { "nostrictatime", MS_STRICTATIME },
  { "shared", PROPAGATION_KIND }, { "rshared", PROPAGATION_KIND }, { "slave", PROPAGATION_KIND },
  { "rslave", PROPAGATION_KIND }, { "private", PROPAGATION_KIND }, { "rprivate", PROPAGATION_KIND },
  { "unbindable", PROPAGATION_KIND }, { "runbindable", PROPAGATION_KIND },
};
static const char *const tmpfs_data_keys[] = { "size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol", NULL };

static const struct tmpfs_flag *find_tmpfs_flag (const char *name)
{
  for (size_t i = 0; i < sizeof tmpfs_flags / sizeof tmpfs_flags[0]; i++)
    if (strcmp (tmpfs_flags[i].name, name) == 0)
      return &tmpfs_flags[i];
  return NULL;
}

/* Are options A and B of the same kind? */
static bool same_tmpfs_kind (const char *a, const char *b)
{
  const struct tmpfs_flag *fa = find_tmpfs_flag (a), *fb = find_tmpfs_flag (b);
  if (fa || fb)
    return fa && fb && fa->kind == fb->kind;
  size_t ka = strcspn (a, "="), kb = strcspn (b, "=");
  return ka == kb && strncmp (a, b, ka) == 0;
}

static int check_tmpfs_option (const char *opt, berth_err *err)
{
  if (find_tmpfs_flag (opt))
    return 0;
  const char *eq = strchr (opt, '=');
  if (eq && eq[1] != '\0')
    for (const char *const *k = tmpfs_data_keys; *k; k++)
      if (strlen (*k) == (size_t) (eq - opt) && strncmp (*k, opt, (size_t) (eq - opt)) == 0)
        return 0;
  return berth_fail (err, 0, "invalid tmpfs option \"%s\"", opt);
}

int spec_tmpfs_options (const char *opts, json_t **out, berth_err *err)
{
  *out = NULL;
  cleanup_json json_t *all = json_pack ("[ssss]", "noexec", "nosuid", "nodev", DEFAULT_PROPAGATION);
  cleanup_free char *copy = strdup (opts ? opts : "");
  if (all == NULL || copy == NULL)
    return berth_fail (err, ENOMEM, "tmpfs options");
  char *save = NULL;
  for (char *o = strtok_r (copy, ",", &save); o; o = strtok_r (NULL, ",", &save))
    {
      if (strcmp (o, "defaults") == 0)
        continue;
      int ret = check_tmpfs_option (o, err);
      if (ret < 0)
        return ret;
      json_array_append_new (all, json_string (o));
    }
  /* Keep the last option of each kind, in order. */
  cleanup_json json_t *merged = json_array ();
  size_t n = json_array_size (all);
  for (size_t i = 0; i < n; i++)
    {
      const char *o = json_string_value (json_array_get (all, i));
      bool replaced = false;
      for (size_t k = i + 1; k < n && !replaced; k++)
        replaced = same_tmpfs_kind (o, json_string_value (json_array_get (all, k)));
      if (!replaced)
        json_array_append_new (merged, json_string (o));
    }
  *out = take_ptr (merged);
  return 0;
}

static json_t *tmpfs_mount (const char *destination, json_t *options)
{
  return json_pack ("{s:s, s:s, s:s, s:o}", "destination", destination, "type", "tmpfs", "source", "tmpfs",
                    "options", options);
}

/* ------------------------------------------------------------------ */
/* User mounts                                                         */
/* ------------------------------------------------------------------ */

static int mount_config_error (berth_err *err, const char *type, const char *what)
{
  return berth_fail (err, 0, "invalid mount config for type \"%s\": %s", type, what);
}

static int add_binds (json_t *host_config, bool create_sources, json_t *mounts, berth_err *err)
{
  json_t *binds = json_object_get (host_config, "Binds");
  if (binds && !json_is_null (binds) && !json_is_array (binds))
    return berth_fail (err, 0, "HostConfig.Binds: expected an array of strings");
  size_t i;
  json_t *v;
  json_array_foreach (binds, i, v)
    {
      if (!json_is_string (v))
        return berth_fail (err, 0, "HostConfig.Binds[%zu]: expected a string", i);
      struct spec_bind b;
      int ret = spec_parse_bind (json_string_value (v), &b, err);
      if (ret < 0)
        return ret;
      if (create_sources && access (b.source, F_OK) < 0 && (ret = berth_mkdir_p (b.source, 0755, err)) < 0)
        {
          spec_bind_clear (&b);
          return berth_error_prefix (err, "create the bind source");
        }
      json_array_append_new (mounts, bind_mount (b.source, b.destination, true, b.readonly, b.propagation));
      spec_bind_clear (&b);
    }
  return 0;
}

static int mount_from_api (json_t *m, size_t index, json_t **out, berth_err *err)
{
  *out = NULL;
  if (!json_is_object (m))
    return berth_fail (err, 0, "HostConfig.Mounts[%zu]: expected an object", index);
  const char *type = berth_json_str (m, "Type");
  const char *source = berth_json_str (m, "Source");
  const char *target = berth_json_str (m, "Target");
  bool readonly = berth_json_bool (m, "ReadOnly", false);
  if (type == NULL || type[0] == '\0')
    return berth_fail (err, 0, "invalid mount config: mount type unknown");
  if (strcmp (type, "volume") == 0)
    return mount_config_error (err, type, "volumes are not supported yet");
  if (strcmp (type, "bind") != 0 && strcmp (type, "tmpfs") != 0)
    return berth_fail (err, 0, "invalid mount config: mount type unknown: %s", type);
  if (target == NULL || target[0] == '\0')
    return mount_config_error (err, type, "field Target must not be empty");
  if (target[0] != '/')
    return berth_fail (err, 0, "invalid mount config for type \"%s\": invalid mount path: '%s' mount path must be absolute",
                       type, target);
  if (strcmp (type, "bind") == 0)
    {
      if (source == NULL || source[0] == '\0')
        return mount_config_error (err, type, "field Source must not be empty");
      if (source[0] != '/')
        return berth_fail (err, 0, "invalid mount config for type \"bind\": invalid mount path: '%s' mount path must be absolute",
                           source);
      struct stat st;
      if (stat (source, &st) < 0)
        return berth_fail (err, 0, "invalid mount config for type \"bind\": bind source path does not exist: %s", source);
      json_t *bo = berth_json_obj (m, "BindOptions");
      const char *propagation = berth_json_str (bo, "Propagation");
      if (propagation && propagation[0] && !in_list (propagations, propagation))
        return mount_config_error (err, type, "invalid propagation mode");
      *out = bind_mount (source, target, !berth_json_bool (bo, "NonRecursive", false), readonly,
                         propagation && propagation[0] ? propagation : DEFAULT_PROPAGATION);
      return 0;
    }
  if (source && source[0])
    return mount_config_error (err, type, "field Source must not be specified");
  json_t *to = berth_json_obj (m, "TmpfsOptions");
  json_int_t size = berth_json_int (to, "SizeBytes", 0);
  json_int_t mode = berth_json_int (to, "Mode", 0);
  if (size < 0 || mode < 0 || mode > 07777)
    return mount_config_error (err, type, "invalid TmpfsOptions");
  char data[128] = "";
  size_t len = 0;
  if (size > 0)
    len += (size_t) snprintf (data + len, sizeof data - len, "size=%lld,", (long long) size);
  if (mode > 0)
    len += (size_t) snprintf (data + len, sizeof data - len, "mode=%llo,", (long long) mode);
  if (readonly)
    snprintf (data + len, sizeof data - len, "ro");
  json_t *options;
  int ret = spec_tmpfs_options (data, &options, err);
  if (ret < 0)
    return ret;
  *out = tmpfs_mount (target, options);
  return 0;
}

static int add_api_mounts (json_t *host_config, json_t *mounts, berth_err *err)
{
  json_t *list = json_object_get (host_config, "Mounts");
  if (list && !json_is_null (list) && !json_is_array (list))
    return berth_fail (err, 0, "HostConfig.Mounts: expected an array");
  size_t i;
  json_t *m;
  json_array_foreach (list, i, m)
    {
      json_t *mount;
      int ret = mount_from_api (m, i, &mount, err);
      if (ret < 0)
        return ret;
      json_array_append_new (mounts, mount);
    }
  return 0;
}

static int add_tmpfs (json_t *host_config, json_t *mounts, berth_err *err)
{
  json_t *tmpfs = json_object_get (host_config, "Tmpfs");
  if (tmpfs && !json_is_null (tmpfs) && !json_is_object (tmpfs))
    return berth_fail (err, 0, "HostConfig.Tmpfs: expected an object");
  const char *path;
  json_t *opts;
  json_object_foreach (tmpfs, path, opts)
    {
      if (!json_is_string (opts))
        return berth_fail (err, 0, "HostConfig.Tmpfs[%s]: expected a string", path);
      if (path[0] != '/' || strcmp (path, "/") == 0)
        return berth_fail (err, 0, "invalid tmpfs mount destination: %s", path);
      json_t *options;
      int ret = spec_tmpfs_options (json_string_value (opts), &options, err);
      if (ret < 0)
        return ret;
      json_array_append_new (mounts, tmpfs_mount (path, options));
    }
  return 0;
}

/* Path depth without trailing or doubled slashes: "/a/b" = 2. */
static size_t path_depth (const char *p)
{
  size_t depth = 0;
  char prev = '/';
  for (; *p; prev = *p++)
    if (*p != '/' && prev == '/')
      depth++;
  return depth;
}

/* Compare destinations as paths ("/a/" == "/a"). */
static bool same_path (const char *a, const char *b)
{
  while (*a || *b)
    {
      while (a[0] == '/' && (a[1] == '/' || a[1] == '\0'))
        a++;
      while (b[0] == '/' && (b[1] == '/' || b[1] == '\0'))
        b++;
      if (*a != *b)
        return false;
      if (*a)
        a++, b++;
    }
  return true;
}

static const char *destination_of (json_t *m)
{
  return berth_json_str (m, "destination");
}

static bool has_destination (json_t *mounts, const char *dest)
{
  size_t i;
  json_t *m;
  json_array_foreach (mounts, i, m)
    if (same_path (destination_of (m), dest))
      return true;
  return false;
}

/* Stable insertion sort by depth: parents are mounted before children. */
static json_t *sort_by_depth (json_t *mounts)
{
  json_t *sorted = json_array ();
  size_t i;
  json_t *m;
  json_array_foreach (mounts, i, m)
    {
      size_t depth = path_depth (destination_of (m));
      size_t at = json_array_size (sorted);
      while (at > 0 && path_depth (destination_of (json_array_get (sorted, at - 1))) > depth)
        at--;
      json_array_insert (sorted, at, m);
    }
  return sorted;
}

int spec_user_mounts (json_t *host_config, bool create_bind_sources, json_t **out, berth_err *err)
{
  *out = NULL;
  cleanup_json json_t *mounts = json_array ();
  if (mounts == NULL)
    return berth_fail (err, ENOMEM, "mounts");
  int ret;
  if ((ret = add_binds (host_config, create_bind_sources, mounts, err)) < 0
      || (ret = add_api_mounts (host_config, mounts, err)) < 0 || (ret = add_tmpfs (host_config, mounts, err)) < 0)
    return ret;
  for (size_t i = 0; i < json_array_size (mounts); i++)
    for (size_t k = 0; k < i; k++)
      if (same_path (destination_of (json_array_get (mounts, i)), destination_of (json_array_get (mounts, k))))
        return berth_fail (err, 0, "Duplicate mount point: %s", destination_of (json_array_get (mounts, i)));
  *out = sort_by_depth (mounts);
  return *out ? 0 : berth_fail (err, ENOMEM, "mounts");
}

/* ------------------------------------------------------------------ */
/* Default mounts                                                      */
/* ------------------------------------------------------------------ */

static json_t *default_mounts (json_t *hc)
{
  bool privileged = berth_json_bool (hc, "Privileged", false);
  const char *ipc = berth_json_str (hc, "IpcMode");
  bool ipc_host = ipc && strcmp (ipc, "host") == 0;
  bool ipc_none = ipc && strcmp (ipc, "none") == 0;
  json_int_t shm_size = berth_json_int (hc, "ShmSize", 0);
  char shm_opt[48];
  snprintf (shm_opt, sizeof shm_opt, "size=%lld", (long long) (shm_size > 0 ? shm_size : 64 * 1024 * 1024));
  const char *sys_ro = privileged ? "rw" : "ro";

  json_t *m = json_pack (
      "[{s:s, s:s, s:s, s:[sss]}, {s:s, s:s, s:s, s:[ssss]}, {s:s, s:s, s:s, s:[ssssss]},"
      " {s:s, s:s, s:s, s:[ssss]}, {s:s, s:s, s:s, s:[ssss]}, {s:s, s:s, s:s, s:[sss]}]",
      "destination", "/proc", "type", "proc", "source", "proc", "options", "nosuid", "noexec", "nodev",
      "destination", "/dev", "type", "tmpfs", "source", "tmpfs", "options", "nosuid", "strictatime", "mode=755",
      "size=65536k",
      "destination", "/dev/pts", "type", "devpts", "source", "devpts", "options", "nosuid", "noexec", "newinstance",
      "ptmxmode=0666", "mode=0620", "gid=5",
      "destination", "/sys", "type", "sysfs", "source", "sysfs", "options", "nosuid", "noexec", "nodev", sys_ro,
      "destination", "/sys/fs/cgroup", "type", "cgroup", "source", "cgroup", "options", "nosuid", "noexec", "nodev",
      sys_ro,
      "destination", "/dev/mqueue", "type", "mqueue", "source", "mqueue", "options", "nosuid", "noexec", "nodev");
  if (m == NULL || ipc_none)
    return m;
  if (ipc_host)
    json_array_append_new (m, bind_mount ("/dev/shm", "/dev/shm", true, false, DEFAULT_PROPAGATION));
  else
    json_array_append_new (m, json_pack ("{s:s, s:s, s:s, s:[sssss]}", "destination", "/dev/shm", "type", "tmpfs",
                                         "source", "shm", "options", "nosuid", "noexec", "nodev", "mode=1777", shm_opt));
  return m;
}

/* A default mount is dropped when a user mount has its destination, or
 * when the user mounts their own /dev (then Docker drops /dev/...). */
static bool replaced_by_user (json_t *user, const char *dest)
{
  if (has_destination (user, dest))
    return true;
  return strncmp (dest, "/dev/", 5) == 0 && has_destination (user, "/dev");
}

/* ------------------------------------------------------------------ */
/* Network files                                                       */
/* ------------------------------------------------------------------ */

static const char localhost_entries[] = "127.0.0.1\tlocalhost\n"
                                        "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                        "fe00::0\tip6-localnet\n"
                                        "ff00::0\tip6-mcastprefix\n"
                                        "ff02::1\tip6-allnodes\n"
                                        "ff02::2\tip6-allrouters\n";

static bool network_is_host (json_t *hc)
{
  const char *mode = berth_json_str (hc, "NetworkMode");
  return mode && strcmp (mode, "host") == 0;
}

/* Read a host file; a missing one reads as "". */
static char *read_host_file (const char *path)
{
  char *buf = NULL;
  size_t len;
  berth_err err = NULL;
  if (berth_read_file (path, 1024 * 1024, &buf, &len, &err) < 0)
    {
      berth_error_free (&err);
      return strdup ("");
    }
  return buf;
}

static char *hosts_content (const struct spec_input *in)
{
  json_t *hc = in->host_config;
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&out, &len);
  if (f == NULL)
    return NULL;
  if (network_is_host (hc))
    {
      cleanup_free char *host = read_host_file ("/etc/hosts");
      fputs (host ? host : "", f);
      if (host && host[0] && host[strlen (host) - 1] != '\n')
        fputc ('\n', f);
    }
  else
    fputs (localhost_entries, f);
  if (in->hosts_extra)
    fputs (in->hosts_extra, f);
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (hc, "ExtraHosts"), i, v)
    {
      /* "name:ip" (the ip may hold colons), checked by normalize. */
      const char *s = json_string_value (v);
      size_t n = strcspn (s, ":=");
      if (s[n])
        fprintf (f, "%s\t%.*s\n", s + n + 1, (int) n, s);
    }
  fclose (f);
  return out;
}

/* A loopback resolver of the host cannot be reached from a container's
 * own network namespace, so Docker leaves it out there. */
static bool loopback_nameserver (const char *line)
{
  const char *addr = line + strlen ("nameserver");
  addr += strspn (addr, " \t");
  return strncmp (addr, "127.", 4) == 0 || strncmp (addr, "::1", 3) == 0;
}

/* Keep the host's lines except the kinds the user replaced.  On user
 * networks the only nameserver is the embedded DNS server, which forwards
 * other names to the host's resolvers. */
char *spec_resolv_conf (json_t *hc, bool embedded_dns)
{
  cleanup_free char *host = read_host_file ("/etc/resolv.conf");
  json_t *dns = json_object_get (hc, "Dns"), *search = json_object_get (hc, "DnsSearch"),
         *options = json_object_get (hc, "DnsOptions");
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&out, &len);
  if (f == NULL)
    return NULL;
  char *save = NULL;
  for (char *line = host ? strtok_r (host, "\n", &save) : NULL; line; line = strtok_r (NULL, "\n", &save))
    {
      bool is_ns = strncmp (line, "nameserver", 10) == 0;
      bool is_search = strncmp (line, "search", 6) == 0 || strncmp (line, "domain", 6) == 0;
      bool is_options = strncmp (line, "options", 7) == 0;
      if ((is_ns && (json_array_size (dns) || embedded_dns)) || (is_search && json_array_size (search))
          || (is_options && (json_array_size (options) || embedded_dns)))
        continue;
      if (is_ns && !network_is_host (hc) && loopback_nameserver (line))
        continue;
      fprintf (f, "%s\n", line);
    }
  size_t i;
  json_t *v;
  if (embedded_dns)
    fputs ("nameserver 127.0.0.11\n", f);
  else
    json_array_foreach (dns, i, v)
      fprintf (f, "nameserver %s\n", json_string_value (v));
  if (embedded_dns && json_array_size (options) == 0)
    fputs ("options ndots:0\n", f);
  const char *kw[] = { "search", "options" };
  json_t *lists[] = { search, options };
  for (int k = 0; k < 2; k++)
    if (json_array_size (lists[k]) > 0)
      {
        fputs (kw[k], f);
        json_array_foreach (lists[k], i, v)
          fprintf (f, " %s", json_string_value (v));
        fputc ('\n', f);
      }
  fclose (f);
  return out;
}

static int write_network_file (const char *dir, const char *name, char *content, berth_err *err)
{
  cleanup_free char *data = content;
  if (data == NULL)
    return berth_fail (err, ENOMEM, "%s", name);
  cleanup_free char *path = NULL;
  if (asprintf (&path, "%s/%s", dir, name) < 0)
    return berth_fail (err, ENOMEM, "%s", name);
  return berth_write_file_replace (path, data, strlen (data), 0644, err);
}

static int add_network_files (const struct spec_input *in, json_t *spec, json_t *user, json_t *mounts, berth_err *err)
{
  const char *hostname = berth_json_str (spec, "hostname");
  char host_name[256] = "";
  if (hostname == NULL)
    {
      gethostname (host_name, sizeof host_name - 1);
      hostname = host_name;
    }
  char *hostname_line = NULL;
  if (asprintf (&hostname_line, "%s\n", hostname) < 0)
    hostname_line = NULL;
  int ret;
  if ((ret = write_network_file (in->container_dir, "hostname", hostname_line, err)) < 0
      || (ret = write_network_file (in->container_dir, "hosts", hosts_content (in), err)) < 0
      || (ret = write_network_file (in->container_dir, "resolv.conf", spec_resolv_conf (in->host_config, in->embedded_dns), err)) < 0)
    return berth_error_prefix (err, "write the network files of the container");

  bool readonly = berth_json_bool (in->host_config, "ReadonlyRootfs", false);
  static const char *const files[][2] = { { "resolv.conf", "/etc/resolv.conf" },
                                          { "hostname", "/etc/hostname" },
                                          { "hosts", "/etc/hosts" } };
  for (size_t i = 0; i < 3; i++)
    {
      if (has_destination (user, files[i][1]))
        continue;
      cleanup_free char *source = NULL;
      if (asprintf (&source, "%s/%s", in->container_dir, files[i][0]) < 0)
        return berth_fail (err, ENOMEM, "mounts");
      json_array_append_new (mounts, bind_mount (source, files[i][1], true, readonly, DEFAULT_PROPAGATION));
    }
  return 0;
}

int spec_add_mounts (const struct spec_input *in, json_t *spec, berth_err *err)
{
  json_t *mounts = json_object_get (spec, "mounts");
  if (!json_is_array (mounts))
    {
      mounts = json_array ();
      json_object_set_new (spec, "mounts", mounts);
    }
  cleanup_json json_t *user = NULL;
  int ret = spec_user_mounts (in->host_config, true, &user, err);
  if (ret < 0)
    return ret;

  cleanup_json json_t *defaults = default_mounts (in->host_config);
  if (defaults == NULL)
    return berth_fail (err, ENOMEM, "mounts");
  size_t i;
  json_t *m;
  json_array_foreach (defaults, i, m)
    if (!replaced_by_user (user, destination_of (m)))
      json_array_append (mounts, m);

  if ((ret = add_network_files (in, spec, user, mounts, err)) < 0)
    return ret;
  json_array_extend (mounts, user);

  if (berth_json_bool (in->host_config, "Init", false))
    {
      if (in->init_path == NULL)
        return berth_fail (err, 0, "Init: no init binary is configured");
      json_array_append_new (mounts, json_pack ("{s:s, s:s, s:s, s:[ss]}", "destination", "/dev/init", "type", "bind",
                                                "source", in->init_path, "options", "bind", "ro"));
    }
  return 0;
}
