/* From Docker's container model to the OCI runtime spec.
 *
 * Docker clients send a container as {Config, HostConfig} (the body of
 * POST /containers/create); the image brings its own config.  This file
 * merges and validates them (at create time: bad input is a 400 there, not
 * a failure at start) and turns the result into the config.json that
 * berth-runtime or runc runs (at start time, once the root is mounted).
 * Every function is pure apart from spec_generate's reads of the root file
 * system (/etc/passwd, /etc/group) and its writes of the files it names. */
#ifndef BERTH_SPEC_GEN_H
#define BERTH_SPEC_GEN_H

#include <stdbool.h>

#include "common/json.h"

/* Docker's create-time merge: CONFIG is the request's Config (not changed);
 * IMAGE_CONFIG is the image config blob's "config" object (may be NULL for
 * none).  *merged gets the Config as `docker inspect` shows it:
 *   Env = the request's, then the image's entries whose name the request
 *     does not set (same name: the request wins; Docker's order);
 *   Entrypoint = request's if set (a [""] entrypoint clears it), else
 *     image's; Cmd = request's if set, else image's unless the request set
 *     an Entrypoint (Docker drops the image Cmd then);
 *   WorkingDir, User, StopSignal: request's, else image's; ExposedPorts,
 *     Volumes, Labels: image's overlaid with the request's;
 *   Image: the name the user gave (IMAGE_NAME); Hostname: request's or
 *     HOSTNAME_DEFAULT (the id's first 12 chars).
 * Fails (EINVAL, a message saying which field) when there is nothing to
 * run: "no command specified"; a relative WorkingDir, a bad StopSignal or Env
 * entry are EINVAL too.  Cmd/Entrypoint may be given as one string. */
int container_config_merge (json_t *config, json_t *image_config, const char *image_name, const char *hostname_default,
                            json_t **merged, berth_err *err);

/* Validate HOST_CONFIG (the request's HostConfig; NULL = {}) and fill in
 * Docker's defaults, as `docker inspect` shows them (NetworkMode "none"
 * when empty or "default", RestartPolicy {"Name":"no"}, LogConfig
 * {"Type":"json-file","Config":{}}, ShmSize 67108864, ...).  Errors are
 * EINVAL with Docker's wording where it has one, e.g.
 *   "invalid restart policy 'sometimes'" / "maximum retry count cannot be
 *   used with restart policy 'always'", "Minimum memory limit allowed is
 *   6MB", "Range of CPUs is from 0.01 to N.00, as there are only N CPUs
 *   available", "invalid mount config: ...", "invalid capability: CAP_X",
 *   "network mode 'bridge' is not supported yet" (only none, host, default
 *   and container:<id> pass), "unknown security option: ...".
 * Binds "src:dst[:ro|rw|z|Z|...]" with an absolute src (a named volume is
 * refused: volumes are a later issue), Tmpfs {"/path": "opts"}, Mounts of
 * type bind/tmpfs are checked here, and so are a seccomp=<JSON> profile,
 * Ulimits, Sysctls (Docker's namespaced ones only), Devices,
 * DeviceCgroupRules, Dns and ExtraHosts.  Also filled in: CgroupnsMode
 * ("private" on a pure cgroup v2 host, else "host"), IpcMode "private",
 * MemorySwap (twice Memory when only Memory is set, -1 when the host
 * cannot limit swap), MaskedPaths/ReadonlyPaths (Docker's lists; empty
 * when Privileged or with systempaths=unconfined), CapAdd/CapDrop as
 * "CAP_*" names.  Runtime is left to the caller.  *out is a new object. */
int host_config_normalize (json_t *host_config, json_t **out, berth_err *err);

/* "SIGTERM", "TERM", "15" -> 15; -1 if unknown. */
int signal_from_name (const char *name);

struct spec_input
{
  const char *id;              /* container id (64 hex) */
  json_t *config;              /* merged Config (container_config_merge) */
  json_t *host_config;         /* normalized HostConfig */
  const char *rootfs;          /* the mounted root (overlayfs merged dir) */
  const char *container_dir;   /* writable folder for hostname, hosts,
                                  resolv.conf (bind-mounted into the
                                  container, as Docker does) */
  const char *init_path;       /* static init for HostConfig.Init, or NULL */
  const char *cgroups_path;    /* e.g. "/berth/<id>" */
  const char *shared_netns;    /* the network namespace to join: the
                                  sandbox berthd made (bridge networks),
                                  or for NetworkMode container:<id> that
                                  container's; NULL: a new one (none) or
                                  the host's (host) */
  const char *hosts_extra;     /* more /etc/hosts lines (the container's
                                  own addresses), or NULL */
  bool embedded_dns;           /* resolv.conf names 127.0.0.11 */
};

/* The OCI runtime spec (config.json content, ociVersion 1.0.2 so runc and
 * berth-runtime both take it) for a container:
 *   process: args = Entrypoint + Cmd (with Init: [init, "--", ...]); env
 *     with PATH defaulted, HOSTNAME, TERM=xterm with a tty; cwd WorkingDir
 *     or "/" (created in ROOTFS if missing, as Docker does); user resolved
 *     from ROOTFS/etc/passwd and /etc/group safely inside the root ("name",
 *     "uid", "name:group", "uid:gid"; additional groups from /etc/group);
 *     an unknown user is an error ("unable to find user NAME: no matching
 *     entries in passwd file"), HOME from passwd unless Env sets it (runc
 *     would add it, berth-runtime does not); terminal = Tty; Docker's
 *     default capabilities (or, when Privileged, every capability berthd's
 *     own bounding set has), CapAdd/CapDrop ("ALL" too);
 *     noNewPrivileges from SecurityOpt; rlimits from Ulimits; oomScoreAdj.
 *   root: ROOTFS, readonly = ReadonlyRootfs.
 *   hostname: Config.Hostname (not with NetworkMode host: the host's).
 *   mounts: Docker's defaults (/proc, /dev tmpfs, /dev/pts, /dev/shm with
 *     ShmSize, /dev/mqueue, /sys ro, /sys/fs/cgroup ro), then
 *     /etc/hostname, /etc/hosts, /etc/resolv.conf bind-mounted from files
 *     written into CONTAINER_DIR (network none: localhost entries only, the
 *     host's resolv.conf; host: the host's files), then Binds, Mounts and
 *     Tmpfs (sorted parents first; missing Binds sources are created on
 *     the host, as Docker does), and the init at /dev/init.
 *   linux: namespaces pid ipc uts mount network cgroup (network omitted for
 *     host, path for container:<id>; pid/ipc/uts omitted for the "host"
 *     modes; cgroup only for CgroupnsMode "private", the default on a pure
 *     cgroup v2 host); resources from Memory,
 *     MemoryReservation, MemorySwap, NanoCpus/CpuQuota/CpuPeriod,
 *     CpuShares, CpusetCpus/Mems, PidsLimit, BlkioWeight; Docker's default
 *     device cgroup rules; maskedPaths/readonlyPaths (none when
 *     Privileged); sysctls; seccomp: berth's default profile (Docker's
 *     allow list), SecurityOpt seccomp=unconfined for none, or
 *     seccomp=<JSON> (the docker CLI sends the file's content) converted
 *     from Docker's profile format; cgroupsPath = CGROUPS_PATH.
 *   annotations: none needed. */
int spec_generate (const struct spec_input *in, json_t **spec, berth_err *err);

/* The container's /etc/resolv.conf for HOST_CONFIG (Dns, DnsSearch,
 * DnsOptions, NetworkMode) over the host's, naming the embedded DNS
 * server when EMBEDDED_DNS.  Heap string, NULL when out of memory.  The
 * one writer of the file: at start, and when a running container joins
 * its first user network. */
char *spec_resolv_conf (json_t *host_config, bool embedded_dns);

/* The OCI process for `runtime exec --process`: EXEC_CONFIG is the body of
 * POST /containers/{id}/exec (Cmd, Env, User, WorkingDir, Tty, Privileged);
 * the rest (env, user, cwd, capabilities, noNewPrivileges, rlimits) comes
 * from the container's SPEC, as Docker does.  ROOTFS resolves a User. */
int exec_process_generate (json_t *spec, json_t *exec_config, const char *rootfs, json_t **process, berth_err *err);

#endif
