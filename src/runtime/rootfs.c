/* The container's root file system: see rootfs.h.
 *
 * Mount targets are never passed to mount(2) as path strings built from the
 * config: they are opened inside the root with openat2(RESOLVE_IN_ROOT) and
 * the mount is made on the resulting /proc/self/fd/N, so whatever symlinks
 * the rootfs holds, the target is inside the rootfs.  The only paths handed
 * to the kernel as strings are host paths the config owner chose on purpose
 * (bind sources) and the runtime's own fixed paths. */
#include "runtime/rootfs.h"
#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MAX_SYMLINKS 40
#define PROC_FD_PATH_MAX 32
#define MS_ATIME_MASK (MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME)

/* ------------------------------------------------------------------ */
/* Small path helpers                                                 */
/* ------------------------------------------------------------------ */

static const char *proc_fd_path (char buf[PROC_FD_PATH_MAX], int fd)
{
  snprintf (buf, PROC_FD_PATH_MAX, "/proc/self/fd/%d", fd);
  return buf;
}

/* Lexically clean PATH into an absolute in-root path with no empty, "."
 * or ".." components; ".." at the root stays at the root, as in-root
 * resolution does.  Only used to compare destinations with "/proc", "/dev"
 * and friends: the mounts themselves resolve the path as written. */
static char *clean_path (const char *path)
{
  cleanup_free char *rel = berth_clean_relative_path (path, BERTH_DOTDOT_CLAMP);
  char *out = NULL;
  if (rel == NULL || asprintf (&out, "/%s", rel) < 0)
    return NULL;
  return out;
}

/* CLEAN (from clean_path) is TOP or below it. */
static bool path_is_under (const char *clean, const char *top)
{
  size_t n = strlen (top);
  return strncmp (clean, top, n) == 0 && (clean[n] == '\0' || clean[n] == '/');
}

/* ------------------------------------------------------------------ */
/* Resolution inside the root                                         */
/* ------------------------------------------------------------------ */

/* openat2 with RESOLVE_IN_ROOT: absolute symlinks and ".." are clamped to
 * ROOTFD.  Magic links (/proc/self/fd/N, /proc/self/root) could jump
 * anywhere, so they are refused.  The kernel answers EAGAIN when a rename
 * or mount raced with the lookup; that is retried. */
static int openat2_in_root (int rootfd, const char *path, uint64_t flags, uint64_t resolve)
{
  struct open_how how = {
    .flags = flags | O_PATH | O_CLOEXEC,
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve,
  };
  if (*path == '\0')
    path = "/";
  for (int attempt = 0; attempt < 32; attempt++)
    {
      long fd = syscall (SYS_openat2, rootfd, path, &how, sizeof (how));
      if (fd >= 0)
        return (int) fd;
      if (errno != EAGAIN)
        return -errno;
    }
  return -EAGAIN;
}

/* Create NAME (a folder, or an empty file) in the folder PARENT, itself
 * resolved inside the root; mkdirat/mknodat never follow a symlink in
 * their last component. */
static int make_missing (int rootfd, const char *parent, const char *name, bool file)
{
  cleanup_close int dirfd = openat2_in_root (rootfd, parent, O_DIRECTORY, 0);
  if (dirfd < 0)
    return dirfd;
  int r = file ? mknodat (dirfd, name, S_IFREG | 0644, 0) : mkdirat (dirfd, name, 0755);
  return r < 0 ? -errno : 0;
}

/* The state of a walk through a path inside the root.  RESOLVED is the
 * walked prefix ("" is the root) and never contains a symlink; TODO is what
 * is left to walk, starting at P. */
struct in_root_walk
{
  int rootfd;
  char resolved[PATH_MAX];
  size_t len;
  char *todo;
  const char *p;
  int links;
  int races;
};

/* walk_step created the component, or lost a race for it: look again. */
#define WALK_AGAIN 1

/* ".." on the walked prefix: it holds no symlink, so this is exact. */
static void walk_pop (struct in_root_walk *w)
{
  while (w->len > 0 && w->resolved[w->len - 1] != '/')
    w->len--;
  if (w->len > 0)
    w->len--;
  w->resolved[w->len] = '\0';
}

/* Open RESOLVED/NAME itself, a symlink included. */
static int walk_open_next (struct in_root_walk *w, const char *name)
{
  if (w->len + 1 + strlen (name) >= sizeof (w->resolved))
    return -ENAMETOOLONG;
  snprintf (w->resolved + w->len, sizeof (w->resolved) - w->len, "/%s", name);
  int fd = openat2_in_root (w->rootfd, w->resolved, O_NOFOLLOW, 0);
  w->resolved[w->len] = '\0';
  return fd;
}

static void walk_push (struct in_root_walk *w, const char *name)
{
  snprintf (w->resolved + w->len, sizeof (w->resolved) - w->len, "/%s", name);
  w->len += 1 + strlen (name);
}

/* Replace the symlink LINKFD by its target in what is left to walk; an
 * absolute target restarts at the root. */
static int walk_splice_symlink (struct in_root_walk *w, int linkfd, const char *rest)
{
  char target[PATH_MAX];
  if (++w->links > MAX_SYMLINKS)
    return -ELOOP;
  ssize_t len = readlinkat (linkfd, "", target, sizeof (target) - 1);
  if (len < 0)
    return -errno;
  if ((size_t) len >= sizeof (target) - 1)
    return -ENAMETOOLONG;
  target[len] = '\0';
  if (target[0] == '/')
    {
      w->len = 0;
      w->resolved[0] = '\0';
    }
  char *next = NULL;
  if (asprintf (&next, "%s/%s", target, rest) < 0)
    return -ENOMEM;
  free (w->todo);
  w->todo = next;
  w->p = next;
  return 0;
}

/* Take the next component of what is left into NAME; false at the end. */
static bool walk_next_component (struct in_root_walk *w, char name[NAME_MAX + 1], const char **end, int *ret)
{
  while (*w->p == '/')
    w->p++;
  if (*w->p == '\0')
    return false;
  *end = strchrnul (w->p, '/');
  size_t n = *end - w->p;
  if (n > NAME_MAX)
    {
      *ret = -ENAMETOOLONG;
      return false;
    }
  memcpy (name, w->p, n);
  name[n] = '\0';
  return true;
}

/* One step of the walk for the component NAME, which ends at END. */
static int walk_step (struct in_root_walk *w, const char *name, const char *end, enum rootfs_create create)
{
  bool last = end[strspn (end, "/")] == '\0';
  cleanup_close int fd = walk_open_next (w, name);
  if (fd == -ENOENT)
    {
      int r = make_missing (w->rootfd, w->resolved, name, last && create == ROOTFS_CREATE_FILE);
      /* EEXIST: someone created it meanwhile. */
      if (r == -EEXIST && ++w->races <= 16)
        return WALK_AGAIN;
      return r < 0 ? r : WALK_AGAIN;
    }
  if (fd < 0)
    return fd;
  struct stat st;
  if (fstat (fd, &st) < 0)
    return -errno;
  if (S_ISLNK (st.st_mode))
    return walk_splice_symlink (w, fd, end);
  if (!last && !S_ISDIR (st.st_mode))
    return -ENOTDIR;
  walk_push (w, name);
  w->p = end;
  return 0;
}

/* Walk PATH one component at a time the way RESOLVE_IN_ROOT does, creating
 * what is missing.  A symlink found on the way is read and spliced into
 * what is left to walk, so a dangling symlink gets its target created
 * inside the root, never on the host. */
static int create_in_root (int rootfd, const char *path, enum rootfs_create create)
{
  struct in_root_walk w = { .rootfd = rootfd };
  w.todo = strdup (path);
  if (w.todo == NULL)
    return -ENOMEM;
  w.p = w.todo;
  char name[NAME_MAX + 1];
  const char *end = NULL;
  int ret = 0;
  while (ret == 0 && walk_next_component (&w, name, &end, &ret))
    {
      if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
        {
          if (name[1] == '.')
            walk_pop (&w);
          w.p = end;
          continue;
        }
      ret = walk_step (&w, name, end, create);
      if (ret == WALK_AGAIN)
        ret = 0;
    }
  free (w.todo);
  if (ret < 0)
    return ret;
  return openat2_in_root (rootfd, w.resolved, 0, 0);
}

static int open_in_root (int rootfd, const char *path, enum rootfs_create create)
{
  int fd = openat2_in_root (rootfd, path, 0, 0);
  if (fd != -ENOENT || create == ROOTFS_NO_CREATE)
    return fd;
  return create_in_root (rootfd, path, create);
}

int rootfs_open_in_root (int rootfd, const char *path, enum rootfs_create create, berth_err *err)
{
  int fd = open_in_root (rootfd, path, create);
  if (fd < 0)
    return berth_fail (err, -fd, "open `%s` in the container root", path);
  return fd;
}

/* ------------------------------------------------------------------ */
/* Mount options                                                      */
/* ------------------------------------------------------------------ */

struct flag_option
{
  const char *name;
  bool clear;
  unsigned long flag;
};

/* runc's table (libcontainer/specconv), i.e. mount(8)'s names. */
static const struct flag_option flag_options[] = {
  { "defaults", false, 0 },
  { "ro", false, MS_RDONLY },            { "rw", true, MS_RDONLY },
  { "nosuid", false, MS_NOSUID },        { "suid", true, MS_NOSUID },
  { "nodev", false, MS_NODEV },          { "dev", true, MS_NODEV },
  { "noexec", false, MS_NOEXEC },        { "exec", true, MS_NOEXEC },
  { "sync", false, MS_SYNCHRONOUS },     { "async", true, MS_SYNCHRONOUS },
  { "dirsync", false, MS_DIRSYNC },      { "remount", false, MS_REMOUNT },
  { "mand", false, MS_MANDLOCK },        { "nomand", true, MS_MANDLOCK },
  { "noatime", false, MS_NOATIME },      { "atime", true, MS_NOATIME },
  { "nodiratime", false, MS_NODIRATIME },{ "diratime", true, MS_NODIRATIME },
  { "relatime", false, MS_RELATIME },    { "norelatime", true, MS_RELATIME },
  { "strictatime", false, MS_STRICTATIME }, { "nostrictatime", true, MS_STRICTATIME },
  { "lazytime", false, MS_LAZYTIME },    { "nolazytime", true, MS_LAZYTIME },
  { "iversion", false, MS_I_VERSION },   { "noiversion", true, MS_I_VERSION },
  { "silent", false, MS_SILENT },        { "loud", true, MS_SILENT },
  { "nosymfollow", false, MS_NOSYMFOLLOW },
  { "bind", false, MS_BIND },            { "rbind", false, MS_BIND | MS_REC },
};

static const struct flag_option propagation_options[] = {
  { "private", false, MS_PRIVATE },       { "rprivate", false, MS_PRIVATE | MS_REC },
  { "shared", false, MS_SHARED },         { "rshared", false, MS_SHARED | MS_REC },
  { "slave", false, MS_SLAVE },           { "rslave", false, MS_SLAVE | MS_REC },
  { "unbindable", false, MS_UNBINDABLE }, { "runbindable", false, MS_UNBINDABLE | MS_REC },
};

/* Recursive mount attributes (mount_setattr with AT_RECURSIVE), runc's
 * "rro" family.  An atime entry selects an atime mode, which the kernel
 * wants as the whole MOUNT_ATTR__ATIME field. */
struct rec_option
{
  const char *name;
  bool clear;
  bool atime;
  uint64_t attr;
};

static const struct rec_option rec_options[] = {
  { "rro", false, false, MOUNT_ATTR_RDONLY },            { "rrw", true, false, MOUNT_ATTR_RDONLY },
  { "rnosuid", false, false, MOUNT_ATTR_NOSUID },        { "rsuid", true, false, MOUNT_ATTR_NOSUID },
  { "rnodev", false, false, MOUNT_ATTR_NODEV },          { "rdev", true, false, MOUNT_ATTR_NODEV },
  { "rnoexec", false, false, MOUNT_ATTR_NOEXEC },        { "rexec", true, false, MOUNT_ATTR_NOEXEC },
  { "rnodiratime", false, false, MOUNT_ATTR_NODIRATIME },{ "rdiratime", true, false, MOUNT_ATTR_NODIRATIME },
  { "rnosymfollow", false, false, MOUNT_ATTR_NOSYMFOLLOW }, { "rsymfollow", true, false, MOUNT_ATTR_NOSYMFOLLOW },
  { "rnoatime", false, true, MOUNT_ATTR_NOATIME },       { "ratime", false, true, MOUNT_ATTR_RELATIME },
  { "rrelatime", false, true, MOUNT_ATTR_RELATIME },     { "rnorelatime", false, true, MOUNT_ATTR_STRICTATIME },
  { "rstrictatime", false, true, MOUNT_ATTR_STRICTATIME }, { "rnostrictatime", false, true, MOUNT_ATTR_RELATIME },
};

/* Options berth knows and deliberately does not implement: silently
 * passing them as data would produce a mount other than the one asked. */
static const char *const unsupported_options[] = { "idmap", "ridmap", "tmpcopyup" };

struct rec_attr
{
  uint64_t set;
  uint64_t clr;
};

#define N_ELEMENTS(a) (sizeof (a) / sizeof ((a)[0]))

static const struct flag_option *find_flag_option (const struct flag_option *table, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (table[i].name, name) == 0)
      return &table[i];
  return NULL;
}

static const struct rec_option *find_rec_option (const char *name)
{
  for (size_t i = 0; i < N_ELEMENTS (rec_options); i++)
    if (strcmp (rec_options[i].name, name) == 0)
      return &rec_options[i];
  return NULL;
}

static bool is_unsupported_option (const char *name)
{
  for (size_t i = 0; i < N_ELEMENTS (unsupported_options); i++)
    if (strcmp (unsupported_options[i], name) == 0)
      return true;
  return false;
}

static void apply_rec_option (const struct rec_option *o, struct rec_attr *rec)
{
  if (o->atime)
    {
      rec->clr |= MOUNT_ATTR__ATIME;
      rec->set = (rec->set & ~(uint64_t) MOUNT_ATTR__ATIME) | o->attr;
    }
  else if (o->clear)
    {
      rec->clr |= o->attr;
      rec->set &= ~o->attr;
    }
  else
    {
      rec->set |= o->attr;
      rec->clr &= ~o->attr;
    }
}

static int append_data (char **data, const char *opt)
{
  char *joined = NULL;
  if (asprintf (&joined, "%s%s%s", *data, **data ? "," : "", opt) < 0)
    return -ENOMEM;
  free (*data);
  *data = joined;
  return 0;
}

/* One option: a flag, a propagation type, a recursive attribute, or fs
 * data.  The last of contradicting options wins, as with mount(8). */
static int parse_one_option (const char *opt, struct rootfs_mount_opts *out, struct rec_attr *rec, berth_err *err)
{
  const struct flag_option *f = find_flag_option (flag_options, N_ELEMENTS (flag_options), opt);
  if (f && f->clear)
    {
      out->flags &= ~f->flag;
      out->clear |= f->flag;
      return 0;
    }
  if (f)
    {
      out->flags |= f->flag;
      out->clear &= ~f->flag;
      return 0;
    }
  f = find_flag_option (propagation_options, N_ELEMENTS (propagation_options), opt);
  if (f)
    {
      out->propagation = f->flag;
      return 0;
    }
  const struct rec_option *r = find_rec_option (opt);
  if (r)
    {
      apply_rec_option (r, rec);
      return 0;
    }
  if (is_unsupported_option (opt))
    return berth_fail (err, EOPNOTSUPP, "mount option `%s`", opt);
  if (append_data (&out->data, opt) < 0)
    return berth_fail (err, ENOMEM, "mount option `%s`", opt);
  return 0;
}

static int parse_mount_options (json_t *options, struct rootfs_mount_opts *out, struct rec_attr *rec, berth_err *err)
{
  memset (out, 0, sizeof (*out));
  memset (rec, 0, sizeof (*rec));
  if (options != NULL && !json_is_null (options) && !json_is_array (options))
    return berth_fail (err, 0, "mount options: expected an array of strings");
  out->data = strdup ("");
  if (out->data == NULL)
    return berth_fail (err, ENOMEM, "mount options");
  size_t i;
  json_t *v;
  json_array_foreach (options, i, v)
    {
      int ret = json_is_string (v) ? parse_one_option (json_string_value (v), out, rec, err)
                                   : berth_fail (err, 0, "mount options[%zu]: expected a string", i);
      if (ret < 0)
        {
          free (take_ptr (out->data));
          return ret;
        }
    }
  return 0;
}

/* The recursive attributes (rro, rnosuid...) have no field in
 * struct rootfs_mount_opts: they are validated here and applied by
 * rootfs_prepare. */
int rootfs_parse_mount_options (json_t *options, struct rootfs_mount_opts *out, berth_err *err)
{
  struct rec_attr rec;
  return parse_mount_options (options, out, &rec, err);
}

static bool data_has_option (const char *data, const char *prefix)
{
  size_t n = strlen (prefix);
  for (const char *p = data; p; p = strchr (p, ','))
    {
      if (*p == ',')
        p++;
      if (strncmp (p, prefix, n) == 0)
        return true;
    }
  return false;
}

/* statvfs's ST_* bits as the MS_* flags of the same per-mount property. */
static unsigned long mount_flags_of_statvfs (unsigned long f_flag)
{
  static const struct { unsigned long st, ms; } map[] = {
    { ST_RDONLY, MS_RDONLY },     { ST_NOSUID, MS_NOSUID },         { ST_NODEV, MS_NODEV },
    { ST_NOEXEC, MS_NOEXEC },     { ST_NOATIME, MS_NOATIME },       { ST_NODIRATIME, MS_NODIRATIME },
    { ST_RELATIME, MS_RELATIME },
  };
  unsigned long flags = 0;
  for (size_t i = 0; i < N_ELEMENTS (map); i++)
    if (f_flag & map[i].st)
      flags |= map[i].ms;
  return flags;
}

/* ------------------------------------------------------------------ */
/* One entry of config.mounts                                         */
/* ------------------------------------------------------------------ */

enum mount_kind { MOUNT_BIND, MOUNT_PROC, MOUNT_SYSFS, MOUNT_MQUEUE, MOUNT_CGROUP, MOUNT_TMPFS, MOUNT_OTHER };

struct mount_job
{
  const char *destination;  /* as written in the config: resolved in the root, and in messages */
  char *clean_dest;         /* lexically cleaned, for comparisons with /proc, /dev... */
  const char *type;         /* NULL for a bind mount without a type */
  char *source;             /* bind sources made absolute against the bundle */
  enum mount_kind kind;
  struct rootfs_mount_opts opts;
  struct rec_attr rec;
};

static void mount_job_clear (struct mount_job *job)
{
  free (job->clean_dest);
  free (job->source);
  free (job->opts.data);
}
#define cleanup_mount_job __attribute__ ((cleanup (mount_job_clear)))

static enum mount_kind mount_kind_of_type (const char *type)
{
  static const struct { const char *type; enum mount_kind kind; } kinds[] = {
    { "bind", MOUNT_BIND },     { "proc", MOUNT_PROC },     { "sysfs", MOUNT_SYSFS },
    { "mqueue", MOUNT_MQUEUE }, { "cgroup", MOUNT_CGROUP }, { "tmpfs", MOUNT_TMPFS },
  };
  for (size_t i = 0; i < N_ELEMENTS (kinds); i++)
    if (strcmp (kinds[i].type, type) == 0)
      return kinds[i].kind;
  return MOUNT_OTHER;
}

/* A bind source relative to the bundle, as runc does (it runs in it). */
static int bind_source_path (const char *bundle, const char *source, char **out)
{
  if (source[0] == '/' || bundle == NULL)
    *out = strdup (source);
  else if (asprintf (out, "%s/%s", bundle, source) < 0)
    *out = NULL;
  return *out ? 0 : -ENOMEM;
}

static int mount_job_parse (struct rootfs_ctx *ctx, json_t *entry, size_t i, struct mount_job *job, berth_err *err)
{
  if (!json_is_object (entry))
    return berth_fail (err, 0, "mounts[%zu]: expected an object", i);
  job->destination = berth_json_str (entry, "destination");
  if (job->destination == NULL || job->destination[0] == '\0')
    return berth_fail (err, 0, "mounts[%zu]: missing destination", i);
  const char *dest = job->destination;
  if (json_object_get (entry, "uidMappings") || json_object_get (entry, "gidMappings"))
    return berth_fail (err, EOPNOTSUPP, "mount on `%s`: idmapped mounts", dest);
  if (parse_mount_options (json_object_get (entry, "options"), &job->opts, &job->rec, err) < 0)
    return berth_error_prefix (err, "mount on `%s`", dest);
  job->clean_dest = clean_path (dest);
  if (job->clean_dest == NULL)
    return berth_fail (err, ENOMEM, "mount on `%s`", dest);

  job->type = berth_json_str (entry, "type");
  const char *source = berth_json_str (entry, "source");
  if ((job->opts.flags & MS_BIND) || (job->type && strcmp (job->type, "bind") == 0))
    {
      job->kind = MOUNT_BIND;
      job->opts.flags |= MS_BIND;
      if (source == NULL || source[0] == '\0')
        return berth_fail (err, 0, "bind mount on `%s`: missing source", dest);
      if (bind_source_path (ctx->bundle, source, &job->source) < 0)
        return berth_fail (err, ENOMEM, "bind mount on `%s`", dest);
      return 0;
    }
  if (job->type == NULL || job->type[0] == '\0')
    return berth_fail (err, 0, "mount on `%s`: missing type", dest);
  job->kind = mount_kind_of_type (job->type);
  job->source = strdup (source && source[0] ? source : job->type);
  return job->source ? 0 : berth_fail (err, ENOMEM, "mount on `%s`", dest);
}

static const char *mount_what (const struct mount_job *job)
{
  return job->kind == MOUNT_BIND ? job->source : job->type;
}

static int fail_mount (const struct mount_job *job, int errnum, berth_err *err)
{
  if (job->kind == MOUNT_BIND)
    return berth_fail (err, errnum, "bind mount `%s` on `%s`", job->source, job->destination);
  return berth_fail (err, errnum, "mount `%s` on `%s`", job->type, job->destination);
}

/* A /proc or /sys that is a symlink would send procfs/sysfs (or what is
 * mounted over them) somewhere the container chose; refuse it like runc
 * (CVE-2019-19921 family).  Any symlink on the way counts. */
static int refuse_symlinked_proc_sys (int rootfd, const struct mount_job *job, berth_err *err)
{
  const char *d = job->clean_dest;
  bool proc_sys_fs = job->kind == MOUNT_PROC || job->kind == MOUNT_SYSFS;
  bool guarded = strcmp (d, "/proc") == 0 || strcmp (d, "/sys") == 0
                 || (proc_sys_fs && (path_is_under (d, "/proc") || path_is_under (d, "/sys")));
  if (!guarded)
    return 0;
  cleanup_close int fd = openat2_in_root (rootfd, d, O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
  struct stat st;
  if (fd == -ELOOP || (fd >= 0 && fstat (fd, &st) == 0 && S_ISLNK (st.st_mode)))
    return berth_fail (err, 0, "mount `%s` on `%s`: the destination is a symlink in the rootfs, refusing to mount there",
                       mount_what (job), job->destination);
  if (fd < 0 && fd != -ENOENT)
    return fail_mount (job, -fd, err);
  return 0;
}

/* Open (creating if needed) the mount target.  *EXISTED tells whether it
 * was there before, for tmpfs's mode preservation. */
static int open_target (int rootfd, const struct mount_job *job, enum rootfs_create create, bool *existed,
                        berth_err *err)
{
  int fd = open_in_root (rootfd, job->destination, ROOTFS_NO_CREATE);
  if (existed)
    *existed = fd >= 0;
  if (fd == -ENOENT)
    fd = open_in_root (rootfd, job->destination, create);
  if (fd < 0)
    return berth_fail (err, -fd, "%s `%s` on `%s`: open the destination in the rootfs",
                       job->kind == MOUNT_BIND ? "bind mount" : "mount", mount_what (job), job->destination);
  return fd;
}

/* Reopen the target after something was mounted on it: the old fd still
 * points below the new mount. */
static int reopen_target (int rootfd, const struct mount_job *job, berth_err *err)
{
  int fd = open_in_root (rootfd, job->destination, ROOTFS_NO_CREATE);
  return fd < 0 ? fail_mount (job, -fd, err) : fd;
}

/* A bind mount ignores every flag but MS_REC; a second MS_REMOUNT|MS_BIND
 * applies them.  Unless "remount" was given (mount --bind -o remount), the
 * flags the source mount already has are kept unless explicitly cleared,
 * as runc does: inside a user namespace the kernel locks nosuid, nodev,
 * noexec, ro and atime of a mount from outside, and a remount dropping one
 * of them fails with EPERM. */
static int remount_bind (int rootfd, const struct mount_job *job, berth_err *err)
{
  unsigned long requested = job->opts.flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
  if (requested == 0 && job->opts.clear == 0)
    return 0;
  cleanup_close int fd = reopen_target (rootfd, job, err);
  if (fd < 0)
    return fd;
  unsigned long flags = requested | MS_BIND | MS_REMOUNT;
  if (!(job->opts.flags & MS_REMOUNT))
    {
      struct statvfs sv;
      if (fstatvfs (fd, &sv) < 0)
        return fail_mount (job, errno, err);
      unsigned long kept = mount_flags_of_statvfs (sv.f_flag);
      if (requested & MS_ATIME_MASK)
        kept &= ~MS_ATIME_MASK;
      flags |= kept & ~job->opts.clear;
    }
  char path[PROC_FD_PATH_MAX];
  if (mount (NULL, proc_fd_path (path, fd), NULL, flags, NULL) < 0)
    return berth_fail_errno (err, "remount `%s` with its mount options", job->destination);
  return 0;
}

static int mount_bind (int rootfd, const struct mount_job *job, berth_err *err)
{
  struct stat st;
  if (stat (job->source, &st) < 0)
    return fail_mount (job, errno, err);
  enum rootfs_create create = S_ISDIR (st.st_mode) ? ROOTFS_CREATE_DIR : ROOTFS_CREATE_FILE;
  cleanup_close int fd = open_target (rootfd, job, create, NULL, err);
  if (fd < 0)
    return fd;
  char path[PROC_FD_PATH_MAX];
  if (mount (job->source, proc_fd_path (path, fd), NULL, MS_BIND | (job->opts.flags & MS_REC), NULL) < 0)
    return fail_mount (job, errno, err);
  return remount_bind (rootfd, job, err);
}

/* Retry JOB as a bind mount of the host's SOURCE (FLAGS added). */
static int mount_bind_fallback (int rootfd, const struct mount_job *job, const char *source, unsigned long flags,
                                berth_err *err)
{
  struct mount_job bind = *job;
  bind.kind = MOUNT_BIND;
  bind.source = (char *) source;
  bind.opts.flags |= MS_BIND | flags;
  berth_debug ("mount `%s` on `%s` not permitted, bind mounting `%s` instead", job->type, job->destination, source);
  return mount_bind (rootfd, &bind, err);
}

/* A /dev with "ro" is mounted read-write so the devices can be made in
 * it, and remounted read-only by rootfs_finalize. */
static unsigned long fs_mount_flags (const struct mount_job *job)
{
  unsigned long flags = job->opts.flags & ~(MS_BIND | MS_REC);
  if (strcmp (job->clean_dest, "/dev") == 0)
    flags &= ~MS_RDONLY;
  return flags;
}

static int mount_fs_on (const struct mount_job *job, int fd)
{
  char path[PROC_FD_PATH_MAX];
  const char *data = job->opts.data && job->opts.data[0] ? job->opts.data : NULL;
  return mount (job->source, proc_fd_path (path, fd), job->type, fs_mount_flags (job), data);
}

static int mount_filesystem (struct rootfs_ctx *ctx, int rootfd, const struct mount_job *job, berth_err *err)
{
  cleanup_close int fd = open_target (rootfd, job, ROOTFS_CREATE_DIR, NULL, err);
  if (fd < 0)
    return fd;
  if (mount_fs_on (job, fd) == 0)
    return 0;
  int errnum = errno;
  /* sysfs belongs to a network namespace: without its own one the
   * container (in a user namespace) may not mount it; runc then binds the
   * host's /sys.  Same for mqueue and the ipc namespace. */
  if (job->kind == MOUNT_SYSFS && errnum == EPERM && !ctx->netns)
    return mount_bind_fallback (rootfd, job, "/sys", MS_REC, err);
  if (job->kind == MOUNT_MQUEUE && errnum == EPERM && ctx->userns)
    return mount_bind_fallback (rootfd, job, "/dev/mqueue", 0, err);
  return fail_mount (job, errnum, err);
}

/* tmpfs over an existing folder keeps the folder's mode unless "mode=" is
 * given (runc), so that e.g. a tmpfs /tmp stays 1777 as in the image. */
static int mount_tmpfs (int rootfd, const struct mount_job *job, berth_err *err)
{
  bool existed = false;
  cleanup_close int fd = open_target (rootfd, job, ROOTFS_CREATE_DIR, &existed, err);
  if (fd < 0)
    return fd;
  struct stat st;
  if (fstat (fd, &st) < 0)
    return fail_mount (job, errno, err);
  if (mount_fs_on (job, fd) < 0)
    return fail_mount (job, errno, err);
  if (!existed || data_has_option (job->opts.data, "mode=") || (fs_mount_flags (job) & MS_RDONLY))
    return 0;
  cleanup_close int top = reopen_target (rootfd, job, err);
  if (top < 0)
    return top;
  char path[PROC_FD_PATH_MAX];
  if (chmod (proc_fd_path (path, top), st.st_mode & 07777) < 0)
    return fail_mount (job, errno, err);
  return 0;
}

static int mount_cgroup (struct rootfs_ctx *ctx, int rootfd, const struct mount_job *job, berth_err *err)
{
  if (ctx->cgroup == NULL)
    return berth_fail (err, 0, "mount `cgroup` on `%s`: no cgroup manager", job->destination);
  if (ctx->before_cgroup_mount && ctx->before_cgroup_mount (ctx->opaque, err) < 0)
    return -EINVAL;
  cleanup_close int fd = open_target (rootfd, job, ROOTFS_CREATE_DIR, NULL, err);
  if (fd < 0)
    return fd;
  unsigned long flags = job->opts.flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
  if (cgroup_mount_in_container (ctx->cgroup, fd, flags, ctx->cgroupns, err) < 0)
    return berth_error_prefix (err, "mount `cgroup` on `%s`", job->destination);
  return 0;
}

/* Propagation and recursive attributes each need their own call, on the
 * mount now at the destination. */
static int apply_mount_attributes (int rootfd, const struct mount_job *job, berth_err *err)
{
  if (job->opts.propagation == 0 && job->rec.set == 0 && job->rec.clr == 0)
    return 0;
  cleanup_close int fd = reopen_target (rootfd, job, err);
  if (fd < 0)
    return fd;
  char path[PROC_FD_PATH_MAX];
  if (job->opts.propagation && mount (NULL, proc_fd_path (path, fd), NULL, job->opts.propagation, NULL) < 0)
    return berth_fail_errno (err, "set the propagation of `%s`", job->destination);
  struct mount_attr attr = { .attr_set = job->rec.set, .attr_clr = job->rec.clr };
  if ((attr.attr_set || attr.attr_clr)
      && mount_setattr (fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof (attr)) < 0)
    return berth_fail_errno (err, "set the recursive mount attributes of `%s`", job->destination);
  return 0;
}

static int mount_one (struct rootfs_ctx *ctx, int rootfd, const struct mount_job *job, berth_err *err)
{
  int ret = refuse_symlinked_proc_sys (rootfd, job, err);
  if (ret < 0)
    return ret;
  switch (job->kind)
    {
    case MOUNT_BIND:
      ret = mount_bind (rootfd, job, err);
      break;
    case MOUNT_TMPFS:
      ret = mount_tmpfs (rootfd, job, err);
      break;
    case MOUNT_CGROUP:
      ret = mount_cgroup (ctx, rootfd, job, err);
      break;
    default:
      ret = mount_filesystem (ctx, rootfd, job, err);
      break;
    }
  if (ret < 0)
    return ret;
  return apply_mount_attributes (rootfd, job, err);
}

static int do_config_mounts (struct rootfs_ctx *ctx, int rootfd, berth_err *err)
{
  json_t *mounts = json_object_get (ctx->config, "mounts");
  if (mounts == NULL || json_is_null (mounts))
    return 0;
  if (!json_is_array (mounts))
    return berth_fail (err, 0, "mounts: expected an array");
  size_t i;
  json_t *entry;
  json_array_foreach (mounts, i, entry)
    {
      cleanup_mount_job struct mount_job job = { 0 };
      int ret = mount_job_parse (ctx, entry, i, &job, err);
      if (ret == 0)
        ret = mount_one (ctx, rootfd, &job, err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

/* Find the config mount at DEST (cleaned), the last one if several. */
static bool find_config_mount (json_t *config, const char *dest, bool *is_bind, bool *readonly)
{
  json_t *mounts = berth_json_arr (config, "mounts");
  bool found = false;
  size_t i;
  json_t *entry;
  json_array_foreach (mounts, i, entry)
    {
      const char *d = berth_json_str (entry, "destination");
      cleanup_free char *clean = d ? clean_path (d) : NULL;
      if (clean == NULL || strcmp (clean, dest) != 0)
        continue;
      struct rootfs_mount_opts opts;
      struct rec_attr rec;
      if (parse_mount_options (json_object_get (entry, "options"), &opts, &rec, NULL) < 0)
        continue;
      free (opts.data);
      const char *type = berth_json_str (entry, "type");
      found = true;
      *is_bind = (opts.flags & MS_BIND) || (type && strcmp (type, "bind") == 0);
      *readonly = (opts.flags & MS_RDONLY) != 0;
    }
  return found;
}

/* ------------------------------------------------------------------ */
/* Devices                                                            */
/* ------------------------------------------------------------------ */

struct device_spec
{
  const char *path;
  char type;  /* c b u p */
  unsigned int major, minor;
  mode_t mode;
  uid_t uid;
  gid_t gid;
};

/* config-linux.md "Default Devices". */
static const struct device_spec default_devices[] = {
  { "/dev/null", 'c', 1, 3, 0666, 0, 0 },    { "/dev/zero", 'c', 1, 5, 0666, 0, 0 },
  { "/dev/full", 'c', 1, 7, 0666, 0, 0 },    { "/dev/random", 'c', 1, 8, 0666, 0, 0 },
  { "/dev/urandom", 'c', 1, 9, 0666, 0, 0 }, { "/dev/tty", 'c', 5, 0, 0666, 0, 0 },
};

static mode_t device_type_bits (char type)
{
  return type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
}

static int device_spec_parse (json_t *entry, size_t i, struct device_spec *dev, berth_err *err)
{
  if (!json_is_object (entry))
    return berth_fail (err, 0, "linux.devices[%zu]: expected an object", i);
  dev->path = berth_json_str (entry, "path");
  if (dev->path == NULL || dev->path[0] == '\0')
    return berth_fail (err, 0, "linux.devices[%zu]: missing path", i);
  const char *type = berth_json_str (entry, "type");
  if (type == NULL || strlen (type) != 1 || strchr ("cbup", type[0]) == NULL)
    return berth_fail (err, 0, "device `%s`: type must be one of c, b, u, p", dev->path);
  dev->type = type[0];
  json_int_t major = berth_json_int (entry, "major", -1), minor = berth_json_int (entry, "minor", -1);
  if (dev->type != 'p' && (major < 0 || minor < 0 || major > UINT32_MAX || minor > UINT32_MAX))
    return berth_fail (err, 0, "device `%s`: missing or invalid major/minor", dev->path);
  dev->major = major < 0 ? 0 : (unsigned int) major;
  dev->minor = minor < 0 ? 0 : (unsigned int) minor;
  dev->mode = (mode_t) berth_json_int (entry, "fileMode", 0666) & 07777;
  dev->uid = (uid_t) berth_json_int (entry, "uid", 0);
  dev->gid = (gid_t) berth_json_int (entry, "gid", 0);
  return 0;
}

/* In a user namespace mknod is refused: bind the host's node (same path)
 * onto an empty file.  Its mode and owner are the host's. */
static int bind_host_device (int rootfd, const struct device_spec *dev, const char *host_path, berth_err *err)
{
  cleanup_close int fd = open_in_root (rootfd, dev->path, ROOTFS_CREATE_FILE);
  if (fd < 0)
    return berth_fail (err, -fd, "create device `%s`", dev->path);
  char path[PROC_FD_PATH_MAX];
  if (mount (host_path, proc_fd_path (path, fd), NULL, MS_BIND, NULL) < 0)
    return berth_fail_errno (err, "bind mount device `%s` from the host", dev->path);
  return 0;
}

/* mknod in the resolved parent, then set the exact mode (the umask
 * applied to mknod) and owner without following a symlink.  An existing
 * node is kept, as runc does. */
static int create_device (int rootfd, const struct device_spec *dev, bool userns, berth_err *err)
{
  cleanup_free char *clean = clean_path (dev->path);
  if (clean == NULL)
    return berth_fail (err, ENOMEM, "device `%s`", dev->path);
  char *slash = strrchr (clean, '/');
  const char *name = slash + 1;
  if (*name == '\0')
    return berth_fail (err, 0, "device `%s`: invalid path", dev->path);
  if (userns && dev->type != 'p')
    return bind_host_device (rootfd, dev, clean, err);
  *slash = '\0';
  cleanup_close int dirfd = open_in_root (rootfd, clean[0] ? clean : "/", ROOTFS_CREATE_DIR);
  if (dirfd < 0)
    return berth_fail (err, -dirfd, "create device `%s`", dev->path);
  mode_t mode = device_type_bits (dev->type) | dev->mode;
  if (mknodat (dirfd, name, mode, makedev (dev->major, dev->minor)) < 0)
    {
      if (errno == EEXIST)
        return 0;
      if (errno == EPERM && dev->type != 'p')
        {
          *slash = '/';
          return bind_host_device (rootfd, dev, clean, err);
        }
      return berth_fail_errno (err, "mknod `%s`", dev->path);
    }
  if (fchownat (dirfd, name, dev->uid, dev->gid, AT_SYMLINK_NOFOLLOW) < 0)
    return berth_fail_errno (err, "chown `%s`", dev->path);
  if (fchmodat (dirfd, name, dev->mode, AT_SYMLINK_NOFOLLOW) < 0)
    return berth_fail_errno (err, "chmod `%s`", dev->path);
  return 0;
}

static bool config_has_device (json_t *devices, const char *path)
{
  size_t i;
  json_t *entry;
  json_array_foreach (devices, i, entry)
    {
      const char *p = berth_json_str (entry, "path");
      cleanup_free char *clean = p ? clean_path (p) : NULL;
      if (clean && strcmp (clean, path) == 0)
        return true;
    }
  return false;
}

static int create_devices (struct rootfs_ctx *ctx, int rootfd, berth_err *err)
{
  json_t *devices = berth_json_path (ctx->config, "linux.devices");
  if (devices && !json_is_null (devices) && !json_is_array (devices))
    return berth_fail (err, 0, "linux.devices: expected an array");
  size_t i;
  json_t *entry;
  json_array_foreach (devices, i, entry)
    {
      struct device_spec dev;
      int ret = device_spec_parse (entry, i, &dev, err);
      if (ret == 0)
        ret = create_device (rootfd, &dev, ctx->userns, err);
      if (ret < 0)
        return ret;
    }
  /* The config's entry for a default device wins. */
  for (i = 0; i < N_ELEMENTS (default_devices); i++)
    {
      if (config_has_device (devices, default_devices[i].path))
        continue;
      int ret = create_device (rootfd, &default_devices[i], ctx->userns, err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

static int create_dev_symlinks (int devfd, berth_err *err)
{
  static const struct { const char *target, *name; } links[] = {
    { "/proc/self/fd", "fd" },      { "/proc/self/fd/0", "stdin" },
    { "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
    { "/proc/kcore", "core" },
  };
  for (size_t i = 0; i < N_ELEMENTS (links); i++)
    {
      /* kcore exists only with CONFIG_PROC_KCORE (the host /proc is still
       * visible here). */
      if (strcmp (links[i].name, "core") == 0 && access ("/proc/kcore", F_OK) < 0)
        continue;
      if (symlinkat (links[i].target, devfd, links[i].name) < 0 && errno != EEXIST)
        return berth_fail_errno (err, "symlink `/dev/%s`", links[i].name);
    }
  return 0;
}

/* With a devpts instance of its own on /dev/pts, /dev/ptmx must be its
 * ptmx, not the host's: make it a symlink to pts/ptmx. */
static int setup_ptmx (int rootfd, int devfd, berth_err *err)
{
  cleanup_close int pts = open_in_root (rootfd, "/dev/pts", ROOTFS_NO_CREATE);
  struct statfs sfs;
  if (pts < 0 || fstatfs (pts, &sfs) < 0 || sfs.f_type != DEVPTS_SUPER_MAGIC)
    return 0;
  if (unlinkat (devfd, "ptmx", 0) < 0 && errno != ENOENT)
    return berth_fail_errno (err, "remove `/dev/ptmx`");
  if (symlinkat ("pts/ptmx", devfd, "ptmx") < 0)
    return berth_fail_errno (err, "symlink `/dev/ptmx`");
  return 0;
}

/* Like runc, /dev is set up unless it is a bind mount (of the host's /dev,
 * which has it all already). */
static int setup_dev (struct rootfs_ctx *ctx, int rootfd, berth_err *err)
{
  bool is_bind = false, readonly = false;
  if (find_config_mount (ctx->config, "/dev", &is_bind, &readonly) && is_bind)
    return 0;
  int ret = create_devices (ctx, rootfd, err);
  if (ret < 0)
    return ret;
  cleanup_close int devfd = rootfs_open_in_root (rootfd, "/dev", ROOTFS_CREATE_DIR, err);
  if (devfd < 0)
    return devfd;
  ret = create_dev_symlinks (devfd, err);
  if (ret < 0)
    return ret;
  return setup_ptmx (rootfd, devfd, err);
}

/* ------------------------------------------------------------------ */
/* Root propagation, rootfs_prepare, rootfs_pivot                     */
/* ------------------------------------------------------------------ */

/* linux.rootfsPropagation as MS_* flags (0 when unset); "rshared" and
 * friends are accepted too and carry MS_REC, like runc. */
static int root_propagation (json_t *config, unsigned long *flags, berth_err *err)
{
  *flags = 0;
  json_t *v = berth_json_path (config, "linux.rootfsPropagation");
  if (v == NULL || json_is_null (v))
    return 0;
  if (!json_is_string (v))
    return berth_fail (err, 0, "linux.rootfsPropagation: expected a string");
  const char *name = json_string_value (v);
  if (name[0] == '\0')
    return 0;
  const struct flag_option *f = find_flag_option (propagation_options, N_ELEMENTS (propagation_options), name);
  if (f == NULL)
    return berth_fail (err, 0, "linux.rootfsPropagation: unknown value `%s`", name);
  *flags = f->flag;
  return 0;
}

/* Undo mountinfo's octal escapes (\040 for a space...) in place. */
static void unescape_mountinfo (char *s)
{
  char *o = s;
  for (char *p = s; *p; p++)
    {
      if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7')
        {
          *o++ = (char) (((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0'));
          p += 3;
        }
      else
        *o++ = *p;
    }
  *o = '\0';
}

struct mount_point
{
  char path[PATH_MAX];
  bool shared_or_unbindable;
};

/* One mountinfo line: field 5 is the mount point, fields 7.. up to "-"
 * the optional tags (shared:N, master:N, unbindable). */
static bool parse_mountinfo_line (char *line, char **mount_point, bool *shared_or_unbindable)
{
  char *save = NULL;
  char *field = strtok_r (line, " \n", &save);
  for (int i = 1; field && i < 5; i++)
    field = strtok_r (NULL, " \n", &save);
  if (field == NULL)
    return false;
  *mount_point = field;
  unescape_mountinfo (field);
  *shared_or_unbindable = false;
  strtok_r (NULL, " \n", &save); /* per-mount options */
  while ((field = strtok_r (NULL, " \n", &save)) && strcmp (field, "-") != 0)
    if (strncmp (field, "shared:", 7) == 0 || strcmp (field, "unbindable") == 0)
      *shared_or_unbindable = true;
  return true;
}

/* The mount holding PATH: the longest mount point above it, the last one
 * listed when several are stacked. */
static int find_mount_of (const char *path, struct mount_point *mp, berth_err *err)
{
  cleanup_file FILE *f = fopen ("/proc/self/mountinfo", "re");
  if (f == NULL)
    return berth_fail_errno (err, "open /proc/self/mountinfo");
  cleanup_free char *line = NULL;
  size_t cap = 0, best = 0;
  bool found = false;
  while (getline (&line, &cap, f) > 0)
    {
      char *point;
      bool flag;
      if (!parse_mountinfo_line (line, &point, &flag))
        continue;
      size_t n = strlen (point);
      bool above = strcmp (point, "/") == 0 || path_is_under (path, point);
      if (!above || n < best || n >= sizeof (mp->path))
        continue;
      best = n;
      found = true;
      memcpy (mp->path, point, n + 1);
      mp->shared_or_unbindable = flag;
    }
  if (!found)
    return berth_fail (err, ENOENT, "find the mount holding `%s`", path);
  return 0;
}

/* pivot_root refuses a new root whose parent mount is shared, and a bind
 * of the rootfs under a shared mount would propagate to the host's peers;
 * a bind from an unbindable mount is refused.  So make the mount holding
 * the rootfs private, in this namespace only (runc's
 * rootfsParentMountPrivate). */
static int make_rootfs_parent_private (const char *rootfs, berth_err *err)
{
  cleanup_free char *real = realpath (rootfs, NULL);
  if (real == NULL)
    return berth_fail_errno (err, "resolve rootfs `%s`", rootfs);
  struct mount_point mp;
  int ret = find_mount_of (real, &mp, err);
  if (ret == 0 && mp.shared_or_unbindable && mount (NULL, mp.path, NULL, MS_PRIVATE, NULL) < 0)
    ret = berth_fail_errno (err, "make `%s` private", mp.path);
  return ret;
}

int rootfs_prepare (struct rootfs_ctx *ctx, berth_err *err)
{
  unsigned long propagation;
  int ret = root_propagation (ctx->config, &propagation, err);
  if (ret < 0)
    return ret;
  /* Nothing done in here may reach the host: rslave unless told. */
  unsigned long root_flags = (propagation ? propagation : MS_SLAVE) | MS_REC;
  if (mount (NULL, "/", NULL, root_flags, NULL) < 0)
    return berth_fail_errno (err, "set the propagation of `/`");
  ret = make_rootfs_parent_private (ctx->rootfs, err);
  if (ret < 0)
    return ret;
  /* pivot_root needs the new root to be a mount point. */
  if (mount (ctx->rootfs, ctx->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
    return berth_fail_errno (err, "bind mount the rootfs `%s` onto itself", ctx->rootfs);
  cleanup_close int rootfd = open (ctx->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return berth_fail_errno (err, "open the rootfs `%s`", ctx->rootfs);
  ret = do_config_mounts (ctx, rootfd, err);
  if (ret < 0)
    return ret;
  return setup_dev (ctx, rootfd, err);
}

/* pivot_root(".", ".") stacks the old root on top of the new one at "/";
 * detaching it leaves only the rootfs, with no folder needed for the old
 * root.  It is made rslave first so the unmount does not propagate to the
 * host.  pivot_root also refuses a shared current root, which "/" is with
 * rootfsPropagation shared; it is about to go, so make it private. */
static int pivot_to_cwd (unsigned long propagation, berth_err *err)
{
  if ((propagation & MS_SHARED) && mount (NULL, "/", NULL, MS_PRIVATE, NULL) < 0)
    return berth_fail_errno (err, "make the old root private");
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    return berth_fail_errno (err, "pivot_root");
  if (mount (NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
    return berth_fail_errno (err, "make the old root rslave");
  if (umount2 (".", MNT_DETACH) < 0)
    return berth_fail_errno (err, "detach the old root");
  return 0;
}

/* --no-pivot (for a rootfs on ramfs, where pivot_root is refused). */
static int move_root_to_cwd (berth_err *err)
{
  if (mount (".", "/", NULL, MS_MOVE, NULL) < 0)
    return berth_fail_errno (err, "move the rootfs onto `/`");
  if (chroot (".") < 0)
    return berth_fail_errno (err, "chroot into the rootfs");
  return 0;
}

int rootfs_pivot (struct rootfs_ctx *ctx, berth_err *err)
{
  unsigned long propagation;
  int ret = root_propagation (ctx->config, &propagation, err);
  if (ret < 0)
    return ret;
  cleanup_close int fd = open (ctx->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (err, "open the rootfs `%s`", ctx->rootfs);
  if (fchdir (fd) < 0)
    return berth_fail_errno (err, "chdir to the rootfs `%s`", ctx->rootfs);
  ret = ctx->no_pivot ? move_root_to_cwd (err) : pivot_to_cwd (propagation, err);
  if (ret < 0)
    return ret;
  if (chdir ("/") < 0)
    return berth_fail_errno (err, "chdir to `/`");
  /* Done after the pivot so it applies to the container's "/", not to
   * the mount the rootfs came from. */
  if (propagation && mount (NULL, "/", NULL, propagation, NULL) < 0)
    return berth_fail_errno (err, "set the rootfs propagation");
  return 0;
}

/* ------------------------------------------------------------------ */
/* rootfs_finalize                                                    */
/* ------------------------------------------------------------------ */

/* After the pivot, /proc/self/fd/N is resolved in the container's /proc:
 * make sure that is a real procfs and not folders the image planted. */
static int check_proc_fd_usable (berth_err *err)
{
  struct statfs sfs;
  if (statfs ("/proc/self/fd", &sfs) < 0)
    return berth_fail_errno (err, "masked and read-only paths need procfs on `/proc`");
  if (sfs.f_type != PROC_SUPER_MAGIC)
    return berth_fail (err, 0, "masked and read-only paths need procfs on `/proc`, which is not one");
  return 0;
}

/* Remount the mount at PATH read-only, repeating the flags it has that a
 * user namespace would lock. */
static int remount_readonly (const char *path, int fd, const char *what, berth_err *err)
{
  struct statvfs sv;
  if (fstatvfs (fd, &sv) < 0)
    return berth_fail_errno (err, "make `%s` read-only", what);
  unsigned long kept = mount_flags_of_statvfs (sv.f_flag) & (MS_NOSUID | MS_NODEV | MS_NOEXEC);
  if (mount (NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | kept, NULL) < 0)
    return berth_fail_errno (err, "make `%s` read-only", what);
  return 0;
}

static int open_verified_dev_null (int rootfd, berth_err *err)
{
  cleanup_close int fd = open_in_root (rootfd, "/dev/null", ROOTFS_NO_CREATE);
  if (fd < 0)
    return berth_fail (err, -fd, "open `/dev/null` to mask paths");
  struct stat st;
  if (fstat (fd, &st) < 0)
    return berth_fail_errno (err, "stat `/dev/null`");
  if (!S_ISCHR (st.st_mode) || st.st_rdev != makedev (1, 3))
    return berth_fail (err, 0, "`/dev/null` is not the null device, refusing to mask");
  return take_fd (&fd);
}

/* A file is covered with /dev/null, a folder with an empty read-only
 * tmpfs.  Missing paths are fine: masks are a best effort list. */
static int mask_path (int rootfd, int nullfd, const char *path, berth_err *err)
{
  cleanup_close int fd = open_in_root (rootfd, path, ROOTFS_NO_CREATE);
  if (fd == -ENOENT)
    return 0;
  if (fd < 0)
    return berth_fail (err, -fd, "mask `%s`", path);
  struct stat st;
  if (fstat (fd, &st) < 0)
    return berth_fail_errno (err, "mask `%s`", path);
  char target[PROC_FD_PATH_MAX], source[PROC_FD_PATH_MAX];
  int r = S_ISDIR (st.st_mode)
              ? mount ("tmpfs", proc_fd_path (target, fd), "tmpfs", MS_RDONLY, NULL)
              : mount (proc_fd_path (source, nullfd), proc_fd_path (target, fd), NULL, MS_BIND, NULL);
  if (r < 0)
    return berth_fail_errno (err, "mask `%s`", path);
  return 0;
}

static int check_string_array (json_t *arr, const char *where, berth_err *err)
{
  if (arr == NULL || json_is_null (arr))
    return 0;
  if (!json_is_array (arr))
    return berth_fail (err, 0, "%s: expected an array of strings", where);
  size_t i;
  json_t *v;
  json_array_foreach (arr, i, v)
    if (!json_is_string (v))
      return berth_fail (err, 0, "%s[%zu]: expected a string", where, i);
  return 0;
}

static int mask_paths (int rootfd, json_t *paths, berth_err *err)
{
  int ret = check_string_array (paths, "linux.maskedPaths", err);
  if (ret < 0 || json_array_size (paths) == 0)
    return ret;
  cleanup_close int nullfd = open_verified_dev_null (rootfd, err);
  if (nullfd < 0)
    return nullfd;
  ret = check_proc_fd_usable (err);
  if (ret < 0)
    return ret;
  size_t i;
  json_t *v;
  json_array_foreach (paths, i, v)
    {
      ret = mask_path (rootfd, nullfd, json_string_value (v), err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

/* Bind PATH onto itself (with its submounts) and make that read-only. */
static int readonly_path (int rootfd, const char *path, berth_err *err)
{
  cleanup_close int fd = open_in_root (rootfd, path, ROOTFS_NO_CREATE);
  if (fd == -ENOENT)
    return 0;
  if (fd < 0)
    return berth_fail (err, -fd, "make `%s` read-only", path);
  char proc_path[PROC_FD_PATH_MAX];
  proc_fd_path (proc_path, fd);
  if (mount (proc_path, proc_path, NULL, MS_BIND | MS_REC, NULL) < 0)
    return berth_fail_errno (err, "make `%s` read-only: bind mount", path);
  cleanup_close int top = open_in_root (rootfd, path, ROOTFS_NO_CREATE);
  if (top < 0)
    return berth_fail (err, -top, "make `%s` read-only", path);
  return remount_readonly (proc_fd_path (proc_path, top), top, path, err);
}

static int readonly_paths (int rootfd, json_t *paths, berth_err *err)
{
  int ret = check_string_array (paths, "linux.readonlyPaths", err);
  if (ret < 0 || json_array_size (paths) == 0)
    return ret;
  ret = check_proc_fd_usable (err);
  if (ret < 0)
    return ret;
  size_t i;
  json_t *v;
  json_array_foreach (paths, i, v)
    {
      ret = readonly_path (rootfd, json_string_value (v), err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

/* A /dev mount asked read-only was mounted read-write for the devices. */
static int remount_dev_readonly (struct rootfs_ctx *ctx, int rootfd, berth_err *err)
{
  bool is_bind = false, readonly = false;
  if (!find_config_mount (ctx->config, "/dev", &is_bind, &readonly) || is_bind || !readonly)
    return 0;
  int ret = check_proc_fd_usable (err);
  if (ret < 0)
    return ret;
  cleanup_close int fd = rootfs_open_in_root (rootfd, "/dev", ROOTFS_NO_CREATE, err);
  if (fd < 0)
    return fd;
  char path[PROC_FD_PATH_MAX];
  return remount_readonly (proc_fd_path (path, fd), fd, "/dev", err);
}

int rootfs_finalize (struct rootfs_ctx *ctx, berth_err *err)
{
  cleanup_close int rootfd = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return berth_fail_errno (err, "open `/`");
  int ret = mask_paths (rootfd, berth_json_path (ctx->config, "linux.maskedPaths"), err);
  if (ret == 0)
    ret = readonly_paths (rootfd, berth_json_path (ctx->config, "linux.readonlyPaths"), err);
  if (ret == 0)
    ret = remount_dev_readonly (ctx, rootfd, err);
  if (ret < 0)
    return ret;
  json_t *readonly = berth_json_path (ctx->config, "root.readonly");
  if (!json_is_true (readonly))
    return 0;
  return remount_readonly ("/", rootfd, "/", err);
}
