/* File and directory helpers shared by all berth components. */
#ifndef BERTH_FS_H
#define BERTH_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"

/* Read at most MAX bytes of PATH into a NUL-terminated heap buffer;
 * fail with EFBIG if the file is larger. */
int berth_read_file (const char *path, size_t max, char **out, size_t *len, berth_err *err);
int berth_read_file_at (int dirfd, const char *path, size_t max, char **out, size_t *len, berth_err *err);

/* Write (truncate) an existing or new file. */
int berth_write_file (const char *path, const char *data, size_t len, berth_err *err);
int berth_write_file_at (int dirfd, const char *name, const char *data, size_t len, berth_err *err);

/* Write to PATH.tmp, fsync, rename over PATH, fsync the folder: readers see
 * the old or the new content, never a torn one, even after a crash. */
int berth_write_file_atomic (const char *path, const char *data, size_t len, mode_t mode, berth_err *err);

/* The same temp-file-and-rename without the fsyncs: for state that lives
 * on tmpfs (/run) and is meant to vanish with a reboot, where readers need
 * atomicity but durability would only cost time. */
int berth_write_file_replace (const char *path, const char *data, size_t len, mode_t mode, berth_err *err);

/* mkdir -p; existing folders are fine. */
int berth_mkdir_p (const char *path, mode_t mode, berth_err *err);

/* What a ".." component does in berth_clean_relative_path. */
enum berth_dotdot
{
  BERTH_DOTDOT_REFUSE,  /* any ".." makes the result NULL (archive members) */
  BERTH_DOTDOT_RESOLVE, /* removes the previous component; climbing above
                         * the top makes it NULL (Docker's lexical clean) */
  BERTH_DOTDOT_CLAMP,   /* removes the previous component; above the top it
                         * stays at the top (in-root resolution) */
};

/* A path made relative and clean: "./a//b/" -> "a/b", a leading "/"
 * dropped, "" for the root itself; ".." as DOTDOT says.  The one lexical
 * path cleaner of berth (archives, mounts, cgroup paths).  Heap string;
 * NULL also when out of memory. */
char *berth_clean_relative_path (const char *in, enum berth_dotdot dotdot);

/* rm -rf that stays on PATH's file system and never follows symlinks. */
int berth_rm_rf (const char *path);

/* Write all of BUF, retrying on EINTR and short writes.  Returns 0 or -errno. */
int berth_write_all (int fd, const void *buf, size_t len);
/* Read exactly LEN bytes unless EOF comes first; returns bytes read or -errno. */
ssize_t berth_read_all (int fd, void *buf, size_t len);

#endif
