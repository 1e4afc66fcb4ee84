/* The chroot child of the container archive API (see container-archive.h):
 * stat a path, tar a path or the whole root, or extract an uploaded tar,
 * all from inside the container's root. */
#include "daemon/container-archive.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Docker's extraction: owners, modes, times and xattrs as in the tar;
 * ".." is refused by libarchive on top of our own cleaning.  Symlinks
 * inside the root are followed, as Docker does: the chroot keeps them in. */
#define EXTRACT_FLAGS                                                                                     \
  (ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR            \
   | ARCHIVE_EXTRACT_SECURE_NODOTDOT)

/* Docker's tar leaves out ACLs and file flags; sparse files are stored
 * whole, so that data blocks come in order. */
#define READDISK_FLAGS                                                                                    \
  (ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS | ARCHIVE_READDISK_NO_ACL | ARCHIVE_READDISK_NO_FFLAGS             \
   | ARCHIVE_READDISK_NO_SPARSE)

static int child_fail (struct archive_result *res, int errnum, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static int child_fail (struct archive_result *res, int errnum, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (res->msg, sizeof res->msg, fmt, ap);
  va_end (ap);
  res->ok = 0;
  res->errnum = errnum ? errnum : EIO;
  return -1;
}

static const char *arc_error (struct archive *a)
{
  const char *s = archive_error_string (a);
  return s ? s : "unknown error";
}

/* ---- stat ---- */

static int do_stat (const char *path, struct stat *st, struct archive_result *res)
{
  if (lstat (path, st) < 0)
    return child_fail (res, errno, "lstat %s: %s", path, strerror (errno));
  res->size = st->st_size;
  res->mode = st->st_mode;
  res->mtime_sec = st->st_mtim.tv_sec;
  res->mtime_nsec = st->st_mtim.tv_nsec;
  if (S_ISLNK (st->st_mode))
    {
      cleanup_close int root = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
      cleanup_free char *target = NULL;
      int r = root < 0 ? -errno : archive_follow_in_scope (root, path, &target);
      if (r < 0)
        return child_fail (res, -r, "resolve %s: %s", path, strerror (-r));
      snprintf (res->link_target, sizeof res->link_target, "%s", target ? target : "");
    }
  return 0;
}

/* ---- tar out ---- */

static int copy_file_data (struct archive *disk, struct archive *out, const char *name, struct archive_result *res)
{
  const void *buf;
  size_t len;
  la_int64_t off;
  int r;
  while ((r = archive_read_data_block (disk, &buf, &len, &off)) == ARCHIVE_OK)
    if (len > 0 && archive_write_data (out, buf, len) < 0)
      return child_fail (res, EIO, "write %s: %s", name, arc_error (out));
  /* A file that cannot be read is left short (padded by libarchive),
   * as Docker logs and goes on; only a broken output is fatal. */
  return r == ARCHIVE_FATAL ? child_fail (res, EIO, "read %s: %s", name, arc_error (disk)) : 0;
}

/* The part of PATHNAME below OPENED: "." -> "", "./a/b" -> "a/b",
 * OPENED itself -> "". */
static const char *relative_name (const char *pathname, const char *opened)
{
  size_t n = strlen (opened);
  if (strncmp (pathname, opened, n) == 0 && (pathname[n] == '\0' || pathname[n] == '/'))
    pathname += n;
  while (*pathname == '/')
    pathname++;
  return pathname;
}

/* Write one entry read from disk under its new NAME.  Returns -1 only on
 * a fatal error (the output is broken). */
static int write_entry (struct archive *disk, struct archive *out, struct archive_entry_linkresolver *links,
                        struct archive_entry *e, const char *name, struct archive_result *res)
{
  archive_entry_copy_pathname (e, name);
  /* Docker's headers: whole-second mtimes, no atime/ctime. */
  archive_entry_set_mtime (e, archive_entry_mtime (e), 0);
  archive_entry_unset_atime (e);
  archive_entry_unset_ctime (e);
  archive_entry_unset_birthtime (e);
  struct archive_entry *spare = NULL;
  archive_entry_linkify (links, &e, &spare);
  int r = archive_write_header (out, e);
  if (r == ARCHIVE_FATAL)
    return child_fail (res, EIO, "write %s: %s", name, arc_error (out));
  if (r < ARCHIVE_WARN)
    return 0; /* sockets and the like: tar cannot hold them (Docker skips them too) */
  if (archive_entry_filetype (e) == AE_IFREG && archive_entry_hardlink (e) == NULL && archive_entry_size (e) > 0
      && copy_file_data (disk, out, name, res) < 0)
    return -1;
  if (archive_write_finish_entry (out) == ARCHIVE_FATAL)
    return child_fail (res, EIO, "write %s: %s", name, arc_error (out));
  return 0;
}

/* Tar OPENED (relative to the current folder) and, for a folder,
 * everything below it.  Entries are named archive_entry_name (REBASE,
 * rel); with REBASE NULL (export) they are the bare relative names and
 * OPENED itself is left out. */
static int tar_walk (struct archive *out, const char *opened, const char *rebase, struct archive_result *res)
{
  struct archive *disk = archive_read_disk_new ();
  struct archive_entry_linkresolver *links = archive_entry_linkresolver_new ();
  int ret = 0;
  if (disk == NULL || links == NULL)
    ret = child_fail (res, ENOMEM, "out of memory");
  else
    {
      archive_entry_linkresolver_set_strategy (links, archive_format (out));
      archive_read_disk_set_symlink_physical (disk);
      archive_read_disk_set_behavior (disk, READDISK_FLAGS);
      if (archive_read_disk_open (disk, opened) != ARCHIVE_OK)
        ret = child_fail (res, EIO, "read %s: %s", opened, arc_error (disk));
    }
  while (ret == 0)
    {
      struct archive_entry *e = archive_entry_new ();
      int r = e ? archive_read_next_header2 (disk, e) : ARCHIVE_FATAL;
      if (r == ARCHIVE_EOF)
        {
          archive_entry_free (e);
          break;
        }
      if (r == ARCHIVE_FATAL)
        ret = child_fail (res, EIO, "read %s: %s", opened, arc_error (disk));
      else if (r >= ARCHIVE_WARN)
        {
          archive_read_disk_descend (disk);
          const char *rel = relative_name (archive_entry_pathname (e), opened);
          cleanup_free char *name = rebase ? archive_entry_name (rebase, rel) : strdup (rel);
          if (name == NULL)
            ret = child_fail (res, ENOMEM, "out of memory");
          else if (rebase || *rel)
            ret = write_entry (disk, out, links, e, name, res);
        }
      archive_entry_free (e);
    }
  if (links)
    archive_entry_linkresolver_free (links);
  if (disk)
    archive_read_free (disk);
  return ret;
}

static struct archive *tar_writer (int fd, struct archive_result *res)
{
  struct archive *out = archive_write_new ();
  if (out == NULL)
    {
      child_fail (res, ENOMEM, "out of memory");
      return NULL;
    }
  /* ustar unless a name or id needs pax records, as Go's tar; no padding
   * of the last block to 10 KiB. */
  archive_write_set_format_pax_restricted (out);
  archive_write_set_bytes_in_last_block (out, 1);
  if (archive_write_open_fd (out, fd) != ARCHIVE_OK)
    {
      child_fail (res, EIO, "write the archive: %s", arc_error (out));
      archive_write_free (out);
      return NULL;
    }
  return out;
}

static int tar_close (struct archive *out, int r, struct archive_result *res)
{
  if (archive_write_close (out) != ARCHIVE_OK && r == 0)
    r = child_fail (res, EIO, "write the archive: %s", arc_error (out));
  archive_write_free (out);
  return r;
}

static int do_get (const struct archive_job *job, struct archive_result *res)
{
  struct stat st;
  if (do_stat (job->path, &st, res) < 0)
    return -1;
  cleanup_free char *rebase = archive_base_name (job->path), *copy = strdup (job->path);
  if (rebase == NULL || copy == NULL)
    return child_fail (res, ENOMEM, "out of memory");
  /* A folder is walked from inside; anything else is one entry, read
   * from its parent folder without following it. */
  const char *opened = ".";
  if (S_ISDIR (st.st_mode))
    {
      if (chdir (job->path) < 0)
        return child_fail (res, errno, "chdir %s: %s", job->path, strerror (errno));
    }
  else
    {
      char *base = basename (copy);
      opened = job->path + (base - copy);
      if (chdir (dirname (copy)) < 0)
        return child_fail (res, errno, "chdir to the folder of %s: %s", job->path, strerror (errno));
    }
  struct archive *out = tar_writer (job->data_fd, res);
  if (out == NULL)
    return -1;
  return tar_close (out, tar_walk (out, opened, rebase, res), res);
}

static int do_export (const struct archive_job *job, struct archive_result *res)
{
  struct archive *out = tar_writer (job->data_fd, res);
  if (out == NULL)
    return -1;
  return tar_close (out, tar_walk (out, ".", NULL, res), res);
}

/* ---- extraction ---- */

/* The id of NAME in a passwd/group style FILE (name:x:id:...), with the
 * passwd entry's group in *gid when GID is not NULL. */
static bool lookup_id (const char *file, const char *name, unsigned long *id, unsigned long *gid)
{
  cleanup_free char *content = NULL;
  /* Non-blocking and regular files only: a FIFO planted at /etc/passwd
   * must not hang the child. */
  cleanup_close int fd = open (file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) < 0 || !S_ISREG (st.st_mode)
      || st.st_size > 16 * 1024 * 1024 || (content = calloc (1, (size_t) st.st_size + 1)) == NULL
      || berth_read_all (fd, content, (size_t) st.st_size) < 0)
    return false;
  size_t n = strlen (name);
  for (char *line = content; *line;)
    {
      size_t len = strcspn (line, "\n");
      if (strncmp (line, name, n) == 0 && line[n] == ':')
        {
          const char *pw = strchr (line + n + 1, ':');
          if (pw && isdigit ((unsigned char) pw[1]))
            {
              char *end;
              *id = strtoul (pw + 1, &end, 10);
              if (gid && *end == ':' && isdigit ((unsigned char) end[1]))
                *gid = strtoul (end + 1, NULL, 10);
              return true;
            }
        }
      line += len;
      if (*line)
        line++;
    }
  return false;
}

static bool all_digits (const char *s)
{
  if (*s == '\0')
    return false;
  for (; *s; s++)
    if (!isdigit ((unsigned char) *s))
      return false;
  return true;
}

/* USER[:GROUP] of the container into numeric ids. */
static int resolve_owner (const char *spec, uid_t *uid, gid_t *gid, struct archive_result *res)
{
  cleanup_free char *user = strdup (spec);
  if (user == NULL)
    return child_fail (res, ENOMEM, "out of memory");
  char *group = strchr (user, ':');
  if (group)
    *group++ = '\0';
  unsigned long u = 0, g = 0;
  if (all_digits (user))
    u = strtoul (user, NULL, 10);
  else if (!lookup_id ("/etc/passwd", user, &u, &g))
    return child_fail (res, EINVAL, "unable to find user %s: no matching entries in passwd file", user);
  if (group && all_digits (group))
    g = strtoul (group, NULL, 10);
  else if (group && !lookup_id ("/etc/group", group, &g, NULL))
    return child_fail (res, EINVAL, "unable to find group %s: no matching entries in group file", group);
  *uid = (uid_t) u;
  *gid = (gid_t) g;
  return 0;
}

static bool is_device (struct archive_entry *e)
{
  mode_t t = archive_entry_filetype (e);
  return archive_entry_hardlink (e) == NULL && (t == AE_IFCHR || t == AE_IFBLK);
}

/* Docker's rules for what is on disk at NAME already: a folder merges
 * with a folder, anything else is replaced (removed first); with
 * NO_OVERWRITE a folder and a non-folder never replace each other. */
static int make_room (const char *name, bool entry_is_dir, const struct archive_job *job, struct archive_result *res)
{
  struct stat st;
  if (lstat (name, &st) < 0)
    return errno == ENOENT ? 0 : child_fail (res, errno, "lstat %s/%s: %s", job->path, name, strerror (errno));
  bool is_dir = S_ISDIR (st.st_mode);
  if (job->no_overwrite_dir_non_dir && is_dir && !entry_is_dir)
    return child_fail (res, EINVAL, "cannot overwrite directory \"%s/%s\" with non-directory \"%s\"", job->path, name,
                       job->path);
  if (job->no_overwrite_dir_non_dir && !is_dir && entry_is_dir)
    return child_fail (res, EINVAL, "cannot overwrite non-directory \"%s/%s\" with directory \"%s\"", job->path, name,
                       job->path);
  if (is_dir && entry_is_dir)
    return 0;
  int r = berth_rm_rf (name);
  return r < 0 ? child_fail (res, -r, "remove %s/%s: %s", job->path, name, strerror (-r)) : 0;
}

/* Clean and check an uploaded entry.  Returns 0 to extract it, 1 to skip
 * it (the folder itself), -1 on a refused entry. */
static int prepare_upload_entry (struct archive_entry *e, const struct archive_job *job, bool chown_set, uid_t uid,
                                 gid_t gid, struct archive_result *res)
{
  const char *raw = archive_entry_pathname (e);
  if (raw == NULL)
    return child_fail (res, EINVAL, "an entry without a name in the archive");
  cleanup_free char *name = archive_clean_name (raw);
  if (name == NULL)
    return child_fail (res, EINVAL, "\"%s\" is outside of \"%s\"", raw, job->path);
  if (*name == '\0')
    return 1;
  const char *link = archive_entry_hardlink (e);
  if (link)
    {
      cleanup_free char *target = archive_clean_name (link);
      if (target == NULL || *target == '\0')
        return child_fail (res, EINVAL, "invalid hardlink \"%s\" -> \"%s\"", raw, link);
      archive_entry_copy_hardlink (e, target);
    }
  const char *symlink = archive_entry_filetype (e) == AE_IFLNK ? archive_entry_symlink (e) : NULL;
  if (symlink && archive_symlink_escapes (name, symlink))
    return child_fail (res, EINVAL, "invalid symlink \"%s\" -> \"%s\"", raw, symlink);
  if (is_device (e))
    return child_fail (res, EINVAL, "device node %s is not allowed", raw);
  if (make_room (name, archive_entry_filetype (e) == AE_IFDIR && link == NULL, job, res) < 0)
    return -1;
  archive_entry_copy_pathname (e, name);
  if (chown_set)
    {
      archive_entry_set_uid (e, uid);
      archive_entry_set_gid (e, gid);
    }
  return 0;
}

static int copy_upload_data (struct archive *in, struct archive *out, struct archive_result *res)
{
  const void *buf;
  size_t len;
  la_int64_t off;
  int r;
  while ((r = archive_read_data_block (in, &buf, &len, &off)) == ARCHIVE_OK)
    if (archive_write_data_block (out, buf, len, off) < ARCHIVE_WARN)
      return child_fail (res, EIO, "extract: %s", arc_error (out));
  if (r != ARCHIVE_EOF)
    return child_fail (res, EINVAL, "read the archive: %s", arc_error (in));
  return 0;
}

/* Docker takes uploads plain or compressed with gzip, bzip2 or xz; a
 * filter that libarchive would run as an external program is left out
 * (it would run the container's binary, as root). */
static struct archive *upload_reader (bool plain_tar_only)
{
  static int (*const filters[]) (struct archive *)
      = { archive_read_support_filter_gzip, archive_read_support_filter_bzip2, archive_read_support_filter_xz };
  struct archive *in = archive_read_new ();
  if (in == NULL)
    return NULL;
  archive_read_support_format_tar (in);
  archive_read_support_format_empty (in);
  for (size_t i = 0; !plain_tar_only && i < sizeof filters / sizeof filters[0]; i++)
    {
      struct archive *probe = archive_read_new ();
      bool native = probe && filters[i](probe) == ARCHIVE_OK;
      if (probe)
        archive_read_free (probe);
      if (native)
        filters[i](in);
    }
  return in;
}

static int extract_entries (struct archive *in, struct archive *out, const struct archive_job *job, bool chown_set,
                            uid_t uid, gid_t gid, struct archive_result *res)
{
  struct archive_entry *e;
  for (;;)
    {
      int r = archive_read_next_header (in, &e);
      if (r == ARCHIVE_EOF)
        break;
      if (r < ARCHIVE_WARN)
        return child_fail (res, EINVAL, "read the archive: %s", arc_error (in));
      r = prepare_upload_entry (e, job, chown_set, uid, gid, res);
      if (r < 0)
        return -1;
      if (r > 0)
        continue;
      const char *name = archive_entry_pathname (e);
      if (archive_write_header (out, e) < ARCHIVE_WARN)
        return child_fail (res, EIO, "extract %s: %s", name, arc_error (out));
      if (archive_entry_size (e) > 0 && copy_upload_data (in, out, res) < 0)
        return -1;
      if (archive_write_finish_entry (out) < ARCHIVE_WARN)
        return child_fail (res, EIO, "extract %s: %s", name, arc_error (out));
    }
  /* Folder times and modes are set at close. */
  if (archive_write_close (out) < ARCHIVE_WARN)
    return child_fail (res, EIO, "extract: %s", arc_error (out));
  return 0;
}

static int do_put (const struct archive_job *job, struct archive_result *res)
{
  struct stat st;
  if (stat (job->path, &st) < 0)
    return child_fail (res, errno, "stat %s: %s", job->path, strerror (errno));
  if (!S_ISDIR (st.st_mode))
    return child_fail (res, ENOTDIR, "extraction point is not a directory");
  if (chdir (job->path) < 0)
    return child_fail (res, errno, "chdir %s: %s", job->path, strerror (errno));
  uid_t uid = 0;
  gid_t gid = 0;
  if (job->chown_user && resolve_owner (job->chown_user, &uid, &gid, res) < 0)
    return -1;
  struct archive *in = upload_reader (job->plain_tar_only);
  struct archive *out = archive_write_disk_new ();
  int r = 0;
  if (in == NULL || out == NULL)
    r = child_fail (res, ENOMEM, "out of memory");
  else
    {
      /* No user name lookups: ids are numeric. */
      archive_write_disk_set_options (out, EXTRACT_FLAGS);
      if (archive_read_open_fd (in, job->data_fd, 128 * 1024) != ARCHIVE_OK)
        r = child_fail (res, EINVAL, "read the archive: %s", arc_error (in));
      else
        r = extract_entries (in, out, job, job->chown_user != NULL, uid, gid, res);
    }
  if (in)
    archive_read_free (in);
  if (out)
    archive_write_free (out);
  return r;
}

/* ---- the child ---- */

static int cmp_int (const void *a, const void *b)
{
  int x = *(const int *) a, y = *(const int *) b;
  return x < y ? -1 : x > y;
}

/* Close every descriptor but KEEP (N of them, -1 ignored): the daemon's
 * other files and folders have no business in the chroot. */
static void close_other_fds (int *keep, size_t n)
{
  qsort (keep, n, sizeof *keep, cmp_int);
  unsigned int from = 3;
  for (size_t i = 0; i < n; i++)
    {
      if (keep[i] < (int) from)
        continue;
      if ((unsigned int) keep[i] > from)
        close_range (from, (unsigned int) keep[i] - 1, 0);
      from = (unsigned int) keep[i] + 1;
    }
  close_range (from, ~0U, 0);
}

/* Enter the job's root (the caller's root, cwd and umask are its own: a
 * child, or a thread that unshared them) and do the job. */
static void run_in_root (const struct archive_job *job, struct archive_result *res)
{
  umask (022);
  int r = -1;
  if (fchdir (job->root_fd) < 0 || chroot (".") < 0 || chdir ("/") < 0)
    child_fail (res, errno, "enter the container's root: %s", strerror (errno));
  else
    {
      struct stat st;
      switch (job->op)
        {
        case ARCHIVE_OP_STAT: r = do_stat (job->path, &st, res); break;
        case ARCHIVE_OP_GET: r = do_get (job, res); break;
        case ARCHIVE_OP_PUT: r = do_put (job, res); break;
        case ARCHIVE_OP_EXPORT: r = do_export (job, res); break;
        }
    }
  res->ok = r == 0;
}

static void __attribute__ ((noreturn)) child_main (const struct archive_job *job, int sock)
{
  struct archive_result res;
  memset (&res, 0, sizeof res);
  int keep[3] = { sock, job->root_fd, job->data_fd };
  close_other_fds (keep, 3);
  run_in_root (job, &res);
  (void) berth_write_all (sock, &res, sizeof res);
  _exit (res.ok ? 0 : 1);
}

struct thread_job
{
  const struct archive_job *job;
  struct archive_result *res;
};

static void *thread_main (void *p)
{
  struct thread_job *t = p;
  /* The root, cwd and umask become this thread's own: chroot() here
   * leaves berthd's other threads where they are. */
  if (unshare (CLONE_FS) < 0)
    child_fail (t->res, errno, "unshare the file system context: %s", strerror (errno));
  else
    run_in_root (t->job, t->res);
  return NULL;
}

/* The thread's chroot ends with it, so it is never reused: a fresh
 * thread per job. */
int archive_run_thread (const struct archive_job *job, struct archive_result *res, berth_err *err)
{
  memset (res, 0, sizeof *res);
  struct thread_job t = { .job = job, .res = res };
  pthread_t th;
  int r = pthread_create (&th, NULL, thread_main, &t);
  if (r != 0)
    return berth_fail (err, r, "start the archive thread");
  pthread_join (th, NULL);
  res->msg[sizeof res->msg - 1] = '\0';
  res->link_target[sizeof res->link_target - 1] = '\0';
  return 0;
}

int archive_start (const struct archive_job *job, struct archive_child *child, berth_err *err)
{
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return berth_fail_errno (err, "socketpair");
  pid_t pid = fork ();
  if (pid < 0)
    {
      int r = berth_fail_errno (err, "fork");
      close (sv[0]);
      close (sv[1]);
      return r;
    }
  if (pid == 0)
    {
      close (sv[0]);
      child_main (job, sv[1]);
    }
  close (sv[1]);
  child->pid = pid;
  child->sock = sv[0];
  return 0;
}

int archive_finish (struct archive_child *child, struct archive_result *res, berth_err *err)
{
  memset (res, 0, sizeof *res);
  ssize_t n = berth_read_all (child->sock, res, sizeof *res);
  close (child->sock);
  int status = 0;
  while (waitpid (child->pid, &status, 0) < 0 && errno == EINTR)
    ;
  res->msg[sizeof res->msg - 1] = '\0';
  res->link_target[sizeof res->link_target - 1] = '\0';
  if (n != (ssize_t) sizeof *res)
    {
      memset (res, 0, sizeof *res);
      return berth_fail (err, 0, "the archive process died (status %d)", status);
    }
  return 0;
}

int archive_run (const struct archive_job *job, struct archive_result *res, berth_err *err)
{
  struct archive_child child;
  memset (res, 0, sizeof *res);
  int r = archive_start (job, &child, err);
  return r < 0 ? r : archive_finish (&child, res, err);
}

/* The outcome of a PUT that ran (R: 0) or could not (R: -errno). */
static int put_result (int r, const struct archive_result *res, const char *what, int errnum, berth_err *err)
{
  if (r < 0 || res->ok)
    return r;
  if (errnum == 0)
    errnum = res->errnum ? res->errnum : EIO;
  return berth_fail_as (err, errnum, "%s: %s", what, res->msg[0] ? res->msg : strerror (res->errnum));
}

static int put_root (const struct archive_job *job,
                     int (*run) (const struct archive_job *, struct archive_result *, berth_err *), const char *what,
                     int errnum, berth_err *err)
{
  struct archive_result res;
  memset (&res, 0, sizeof res);
  return put_result (run (job, &res, err), &res, what, errnum, err);
}

int archive_put_root_start (int root_fd, int data_fd, const char *chown_user, struct archive_child *child,
                            berth_err *err)
{
  struct archive_job job = { .op = ARCHIVE_OP_PUT, .root_fd = root_fd, .path = "/", .data_fd = data_fd,
                             .chown_user = chown_user };
  return archive_start (&job, child, err);
}

int archive_put_root_finish (struct archive_child *child, const char *what, int errnum, berth_err *err)
{
  struct archive_result res;
  return put_result (archive_finish (child, &res, err), &res, what, errnum, err);
}

int archive_put_root (int root_fd, int data_fd, const char *chown_user, const char *what, int errnum,
                      berth_err *err)
{
  struct archive_job job = { .op = ARCHIVE_OP_PUT, .root_fd = root_fd, .path = "/", .data_fd = data_fd,
                             .chown_user = chown_user };
  return put_root (&job, archive_run, what, errnum, err);
}

int archive_put_plain_tar_thread (int root_fd, int data_fd, const char *what, int errnum, berth_err *err)
{
  struct archive_job job = { .op = ARCHIVE_OP_PUT, .root_fd = root_fd, .path = "/", .data_fd = data_fd,
                             .plain_tar_only = true };
  return put_root (&job, archive_run_thread, what, errnum, err);
}
