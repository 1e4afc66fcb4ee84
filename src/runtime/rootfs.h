/* The container's root file system: mounts, devices, pivot_root and the
 * masked and read-only paths.
 *
 * Every mount target is resolved inside the root with openat2(2) and
 * RESOLVE_IN_ROOT (missing folders/files are created component by component
 * the same way), and the mount is then made on /proc/self/fd/N of that
 * resolved fd, so a symlink planted in the rootfs can never redirect a mount
 * onto the host (CVE-2021-30465).  /proc and /sys targets must not be
 * symlinks, and the /dev/null used for masking is checked to be the real
 * character device 1:3 before it is bind-mounted. */
#ifndef BERTH_ROOTFS_H
#define BERTH_ROOTFS_H

#include <stdbool.h>

#include "common/json.h"
#include "runtime/cgroup.h"

struct rootfs_ctx
{
  json_t *config;                 /* the whole OCI config */
  const char *bundle;             /* absolute bundle folder */
  const char *rootfs;             /* absolute host path of root.path */
  struct cgroup_manager *cgroup;  /* for "cgroup" mounts; may be NULL */
  bool cgroupns;                  /* the container has a new cgroup namespace */
  bool userns;                    /* new user namespace: mknod is impossible, bind-mount devices */
  bool netns;                     /* new network namespace: sysfs can be mounted fresh */
  bool no_pivot;                  /* --no-pivot: MS_MOVE + chroot instead of pivot_root */
  /* Called before the first "cgroup" mount: the process must be in its
   * cgroup (and cgroup namespace) by then.  It lets the runtime move the
   * process into its cgroup while the other mounts are being made. */
  int (*before_cgroup_mount) (void *opaque, berth_err *err);
  void *opaque;
};

/* Step 1, in the container's new mount namespace, before pivot_root:
 * make "/" rslave (or rootfsPropagation's recursive flag), bind the rootfs
 * onto itself, perform config.mounts in order (bind/rbind with all flags
 * incl. remount for ro, proc, sysfs, tmpfs, devpts, mqueue, cgroup, any
 * other fs type with its data options, and propagation flags), create
 * linux.devices plus the default devices (null zero full random urandom
 * tty; mknod, or bind mounts from the host in a user namespace) with the
 * requested mode/uid/gid, the /dev/fd, /dev/stdin, /dev/stdout,
 * /dev/stderr symlinks, and /dev/ptmx -> pts/ptmx. */
int rootfs_prepare (struct rootfs_ctx *ctx, berth_err *err);

/* Step 2: make the rootfs the process's "/" (pivot_root(".", ".") then
 * detach the old root, or MS_MOVE + chroot with no_pivot), chdir("/"),
 * and apply rootfsPropagation if it is set. */
int rootfs_pivot (struct rootfs_ctx *ctx, berth_err *err);

/* Step 3, after pivot_root and after /dev/console is in place: mask
 * linux.maskedPaths (the verified /dev/null over files, a read-only empty
 * tmpfs over folders; missing paths are skipped), make
 * linux.readonlyPaths read-only bind mounts, and remount "/" read-only
 * if root.readonly. */
int rootfs_finalize (struct rootfs_ctx *ctx, berth_err *err);

/* Open PATH (absolute or relative, inside the root ROOTFD) with openat2
 * RESOLVE_IN_ROOT.  With CREATE, missing parents are made as folders and
 * the last component as a folder (CREATE_DIR) or an empty file
 * (CREATE_FILE).  Returns an O_PATH|O_CLOEXEC fd or a negative error. */
enum rootfs_create { ROOTFS_NO_CREATE = 0, ROOTFS_CREATE_DIR = 1, ROOTFS_CREATE_FILE = 2 };
int rootfs_open_in_root (int rootfd, const char *path, enum rootfs_create create, berth_err *err);

/* Parse mount options into MS_* flags, propagation flags and the leftover
 * comma-joined data string.  Exposed for unit tests. */
struct rootfs_mount_opts
{
  unsigned long flags;        /* MS_RDONLY, MS_NOSUID, ..., MS_BIND, MS_REC */
  unsigned long clear;        /* flags that options like "rw"/"suid" explicitly clear */
  unsigned long propagation;  /* MS_PRIVATE/MS_SHARED/MS_SLAVE/MS_UNBINDABLE (| MS_REC) */
  char *data;                 /* heap, "" when none */
};
int rootfs_parse_mount_options (json_t *options, struct rootfs_mount_opts *out, berth_err *err);

#endif
