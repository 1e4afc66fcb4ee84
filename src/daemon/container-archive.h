/* Files in and out of a container's root file system: what GET/HEAD/PUT
 * /containers/{id}/archive and GET /containers/{id}/export do, without
 * the HTTP and container-state parts (api-archive.c has those).
 *
 * Security: every path of the request and every name in an uploaded tar
 * is resolved inside the root only.  The work runs in a forked child that
 * chroot()s into the root (like the image store's layer unpacking, and
 * Docker's chrootarchive), so ".." and absolute symlinks planted in the
 * container resolve against the container's root, never the host's.  The
 * child closes every other descriptor, uses libarchive with numeric owners
 * (no user database lookups: the container's /etc/passwd is "/" there),
 * and reports back over a socket.
 *
 * Limits: the root is the overlayfs of the container; bind mounts, tmpfs
 * and volumes live in the container's mount namespace and are not seen
 * here (Docker shows them).  Device nodes in an upload are refused
 * (berth's policy, as for image layers). */
#ifndef BERTH_CONTAINER_ARCHIVE_H
#define BERTH_CONTAINER_ARCHIVE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "common/json.h"

/* ---- path logic (pure) ---- */

/* Go's os.FileMode bits for a stat(2) mode (permissions, type, setuid...):
 * a folder is 1<<31 | perm, a symlink 1<<27 | perm... */
uint32_t archive_go_mode (mode_t mode);

/* Docker's absolute form of the ?path= value: joined to "/", cleaned, and
 * a trailing "/." or "/" kept ("a/b/" -> "/a/b/", "x/." -> "/x/.",
 * "../../etc" -> "/etc").  Heap string. */
char *archive_abs_path (const char *path);
/* filepath.Base of an absolute path: "/a/b/" -> "b", "/a/." -> ".",
 * "/" -> "/".  Heap string. */
char *archive_base_name (const char *abs_path);

/* The tar name of an archived file: REL is its path below the archived
 * resource ("" for the resource itself), REBASE the name the resource
 * gets (archive_base_name; "/" for the root, whose entries are "/",
 * "/bin"... as Docker writes them).  Heap string. */
char *archive_entry_name (const char *rebase, const char *rel);

/* Clean a name from an uploaded tar: "./a//b/" -> "a/b", a leading "/"
 * dropped (names are relative to the extraction folder, as Docker does);
 * NULL when ".." would leave the folder; "" for the folder itself. */
char *archive_clean_name (const char *name);
/* Does symlink NAME (cleaned, relative to the extraction folder) with
 * TARGET point above that folder, lexically?  (Docker refuses those:
 * "invalid symlink".)  An absolute target is joined to the folder by
 * Docker, so it never does. */
bool archive_symlink_escapes (const char *name, const char *target);

/* Resolve every symlink of PATH (absolute) as if ROOT_FD were "/":
 * absolute targets restart at ROOT_FD, ".." stops there, and a missing
 * component ends the resolution lexically (Docker's
 * FollowSymlinkInScope).  ELOOP after 255 links.  *out is absolute. */
int archive_follow_in_scope (int root_fd, const char *path, char **out);

/* Docker's ContainerPathStat {"name","size","mode","mtime","linkTarget"}
 * and its X-Docker-Container-Path-Stat header value (base64 of the JSON). */
json_t *archive_path_stat_json (const char *name, int64_t size, uint32_t mode, const struct timespec *mtime,
                                const char *link_target);
char *archive_path_stat_header (json_t *stat);
/* Standard base64 with padding.  Heap string. */
char *archive_base64 (const void *data, size_t len);

/* ---- the chroot child ---- */

enum archive_op
{
  ARCHIVE_OP_STAT = 0, /* lstat PATH (a trailing "/" follows a symlink) */
  ARCHIVE_OP_GET,      /* stat, then a tar of PATH into DATA_FD */
  ARCHIVE_OP_PUT,      /* extract the tar read from DATA_FD into folder PATH */
  ARCHIVE_OP_EXPORT,   /* a tar of the whole root into DATA_FD */
};

struct archive_job
{
  enum archive_op op;
  int root_fd;             /* the root folder (O_PATH is enough) */
  const char *path;        /* archive_abs_path of the request */
  int data_fd;
  bool no_overwrite_dir_non_dir;
  /* PUT with copyUIDGID: the owner for every extracted file; the USER
   * string ("name", "uid", "name:group", "uid:gid") is resolved in the
   * container's /etc/passwd and /etc/group.  NULL: keep the tar's. */
  const char *chown_user;
  /* PUT: read an uncompressed tar only (no decompressor runs). */
  bool plain_tar_only;
};

struct archive_result
{
  int32_t ok;
  int32_t errnum;          /* when !ok: ENOENT (no such path), ENOTDIR (PUT
                              into a non-folder), EINVAL (bad upload), ... */
  /* The lstat of PATH (STAT, GET). */
  int64_t size;
  uint32_t mode;           /* st_mode */
  int64_t mtime_sec, mtime_nsec;
  char link_target[4096];  /* symlinks: archive_follow_in_scope of PATH */
  char msg[1024];
};

/* Run JOB in a chrooted child and wait for it; *res tells how it went.
 * Returns 0 when the child ran (even if the job failed: see res->ok), or
 * -errno with *err when no child could be started. */
int archive_run (const struct archive_job *job, struct archive_result *res, berth_err *err);

/* archive_run in two halves, for a caller that feeds DATA_FD (a pipe)
 * while the child works: start forks the child (before the caller starts
 * the threads that feed it: a child forked while a thread holds a lock
 * inherits the lock held), finish waits for it.  Every started child
 * must be finished. */
struct archive_child
{
  pid_t pid;
  int sock;
};
int archive_start (const struct archive_job *job, struct archive_child *child, berth_err *err);
int archive_finish (struct archive_child *child, struct archive_result *res, berth_err *err);

/* Run JOB as archive_run does, but in a new thread of this process that
 * unshares its root, cwd and umask (unshare(CLONE_FS)) and chroots into
 * the root: the same confinement of every name, without the fork (about
 * 1 ms of page-table copying for berthd, most of a cached build's time).
 * What it gives up is the child's crash isolation and its closed
 * descriptors, so it is meant for a small, plain tar read by libarchive's
 * tar reader into a fresh folder (a build context), not for the other
 * jobs. */
int archive_run_thread (const struct archive_job *job, struct archive_result *res, berth_err *err);

/* Extract the tar on DATA_FD into the root ROOT_FD (ARCHIVE_OP_PUT of "/";
 * CHOWN_USER as in struct archive_job, may be NULL).  A failed extraction
 * is "WHAT: the child's message", classified as ERRNUM, or as the child's
 * errno (EIO if none) when ERRNUM is 0. */
int archive_put_root (int root_fd, int data_fd, const char *chown_user, const char *what, int errnum,
                      berth_err *err);

/* archive_put_root in two halves (archive_start, archive_finish). */
int archive_put_root_start (int root_fd, int data_fd, const char *chown_user, struct archive_child *child,
                            berth_err *err);
int archive_put_root_finish (struct archive_child *child, const char *what, int errnum, berth_err *err);

/* archive_put_root for an uncompressed tar, in a thread (archive_run_thread);
 * a compressed one is refused as an unrecognized archive. */
int archive_put_plain_tar_thread (int root_fd, int data_fd, const char *what, int errnum, berth_err *err);

#endif
