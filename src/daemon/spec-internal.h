/* Pieces of spec generation shared between src/daemon/spec-*.c,
 * hostconfig.c and seccomp-default.c, and exposed to the unit tests. */
#ifndef BERTH_SPEC_INTERNAL_H
#define BERTH_SPEC_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/json.h"
#include "daemon/spec-gen.h"

/* Docker's default capabilities (oci/caps/defaults.go), NULL-terminated. */
extern const char *const spec_default_caps[];

/* "All capabilities": those the kernel knows that berthd's own bounding
 * set still has (a container cannot get more, and asking for more makes
 * the runtime fail). */
json_t *spec_all_capabilities (void);

/* The bounding/effective/permitted list of "CAP_*" names for HOST_CONFIG
 * (normalized): spec_all_capabilities() when Privileged, else the
 * defaults tweaked by CapAdd/CapDrop the way Docker does ("ALL" in CapAdd
 * = every capability minus CapDrop; "ALL" in CapDrop = only CapAdd). */
int spec_capabilities (json_t *host_config, json_t **caps, berth_err *err);

/* "net_admin", "NET_ADMIN", "cap_net_admin" -> "CAP_NET_ADMIN" (heap);
 * "all" -> "ALL".  Unknown -> EINVAL "invalid capability: CAP_X". */
int spec_capability_name (const char *name, char **out, berth_err *err);

/* True when json array ARR holds the string S. */
bool spec_json_array_has (json_t *arr, const char *s);

/* SecurityOpt, parsed.  SECCOMP_PROFILE points into the request (the
 * JSON text the docker CLI read from the file), NULL for the default. */
struct spec_security
{
  bool no_new_privileges;
  bool seccomp_unconfined;
  const char *seccomp_profile;
};
/* Accepts "no-new-privileges[=|:true|false]", "seccomp=unconfined",
 * "seccomp=<JSON>", "apparmor=...", "label=..." (both accepted and
 * ignored: this host has neither), "systempaths=unconfined"; anything
 * else is EINVAL "unknown security option: ...". */
int spec_parse_security_opts (json_t *security_opt, struct spec_security *out, berth_err *err);

/* Berth's default seccomp profile (Docker's allow list for amd64) as an OCI
 * linux.seccomp object, with the capability-gated rules of CAPS (the
 * container's final bounding set, an array of "CAP_*") only. */
json_t *seccomp_default_profile (json_t *caps);

/* Docker's profile format (the text of `--security-opt seccomp=FILE`) ->
 * OCI linux.seccomp, keeping the rules whose includes/excludes match amd64,
 * CAPS and the running kernel.  Unknown fields, actions, operators or
 * architectures and malformed values fail with EINVAL naming the field. */
int seccomp_profile_from_docker (const char *text, json_t *caps, json_t **out, berth_err *err);

/* The user a process runs as, resolved in the container's root. */
struct spec_user
{
  uid_t uid;
  gid_t gid;
  json_t *additional_gids;  /* array of integers, owned */
  char *home;               /* from passwd, "/" when the user has no entry */
};
void spec_user_clear (struct spec_user *u);

/* Resolve USER ("", "name", "uid", "name:group", "uid:gid"...) like runc's
 * GetExecUser, reading etc/passwd and etc/group inside ROOTFS (symlinks
 * resolved within it, RESOLVE_IN_ROOT; missing files are fine for numeric
 * ids).  GROUP_ADD (HostConfig.GroupAdd, may be NULL) adds supplementary
 * groups by name or id. */
int spec_resolve_user (const char *rootfs, const char *user, json_t *group_add, struct spec_user *out,
                       berth_err *err);

/* One entry of HostConfig.Binds, split and checked. */
struct spec_bind
{
  char *source;       /* absolute host path */
  char *destination;  /* absolute container path */
  bool readonly;
  const char *propagation;  /* "rprivate" unless a mode names one (static) */
};
void spec_bind_clear (struct spec_bind *b);
int spec_parse_bind (const char *spec, struct spec_bind *out, berth_err *err);

/* Docker's tmpfs options "size=64m,mode=1777,exec" -> the OCI mount
 * options: Docker's defaults (noexec nosuid nodev rprivate) then OPTS,
 * where a later option replaces an earlier one of the same kind (exec
 * after noexec, a second size=...), as Docker's MergeTmpfsOptions does.
 * EINVAL "invalid tmpfs option ..." on anything else. */
int spec_tmpfs_options (const char *opts, json_t **out, berth_err *err);

/* HostConfig.Binds, Mounts (bind and tmpfs) and Tmpfs as OCI mounts,
 * checked (absolute paths, bind sources of Mounts exist, no destination
 * twice: "Duplicate mount point: /x") and sorted parents first.  With
 * CREATE_BIND_SOURCES, missing sources of Binds are made as folders, as
 * Docker does at start. */
int spec_user_mounts (json_t *host_config, bool create_bind_sources, json_t **out, berth_err *err);

/* Append Docker's default mounts (minus those a user mount replaces), the
 * network files written into IN->container_dir, the user mounts and the
 * init to SPEC's mounts. */
int spec_add_mounts (const struct spec_input *in, json_t *spec, berth_err *err);

/* Docker's linux.maskedPaths and linux.readonlyPaths, NULL-terminated. */
extern const char *const spec_default_masked_paths[];
extern const char *const spec_default_readonly_paths[];

/* HostConfig.Ulimits [{Name:"nofile",Soft,Hard}] -> process.rlimits. */
int spec_rlimits (json_t *ulimits, json_t **out, berth_err *err);

/* HostConfig.Devices[INDEX] {PathOnHost, PathInContainer,
 * CgroupPermissions} -> a linux.devices entry (from a stat of the host
 * node) and the resources.devices rule that allows it. */
int spec_device_from_api (json_t *d, size_t index, json_t **device, json_t **rule, berth_err *err);

/* A DeviceCgroupRules entry ("c 1:3 rwm", "b *:* m") -> an allow rule. */
int spec_device_rule (const char *s, json_t **rule, berth_err *err);

/* The host runs a pure cgroup v2 hierarchy (statfs of /sys/fs/cgroup). */
bool spec_host_cgroup2 (void);

/* Swap limits can be set (memsw on v1, memory.swap.max on v2). */
bool spec_host_swap_limit (void);

#endif
