/* Unpacking a layer tar, like Docker's chrootarchive: a forked child
 * chroot()s into the (empty) destination folder and extracts the tar it
 * reads from a socket, so no entry, symlink or hardlink can resolve to
 * anything outside the layer, whatever the tar contains.  The parent
 * decompresses the blob, hashes the plain tar (the diff id) and feeds it to
 * the child; the child answers with the unpacked size or an error.
 *
 * On top of the chroot, entries with ".." are refused, absolute names are
 * taken relative to the layer (as Docker does), device nodes are refused
 * (berth's policy) except overlayfs whiteouts (char 0:0), and the Docker /
 * OCI whiteout files become what overlayfs understands:
 *   dir/.wh.NAME       -> dir/NAME, a char device 0:0
 *   dir/.wh..wh..opq   -> xattr trusted.overlay.opaque=y on dir */
#include "image/image-internal.h"
#include "common/fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_META_PREFIX ".wh..wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"
#define OPAQUE_XATTR "trusted.overlay.opaque"
#define OVERLAY_XATTR_PREFIX "trusted.overlay."

#define EXTRACT_FLAGS                                                                                     \
  (ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR            \
   | ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS)

/* What the child sends back once it is done. */
struct unpack_result
{
  int32_t ok;
  int64_t size;
  char msg[1024];
};

static int child_fail (struct unpack_result *res, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static int child_fail (struct unpack_result *res, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (res->msg, sizeof res->msg, fmt, ap);
  va_end (ap);
  res->ok = 0;
  return -1;
}

/* Names are relative to the layer root, as in Docker; ".." is refused. */
static char *clean_path (const char *in)
{
  return berth_clean_relative_path (in, BERTH_DOTDOT_REFUSE);
}

/* mkdir -p relative to the (chroot) root for the parents of whiteouts. */
static int ensure_dir (const char *dir)
{
  char buf[PATH_MAX];
  if (snprintf (buf, sizeof buf, "%s", dir) >= (int) sizeof buf)
    return -ENAMETOOLONG;
  for (char *p = buf;; p++)
    {
      if (*p != '/' && *p != '\0')
        continue;
      char c = *p;
      *p = '\0';
      if (buf[0] && mkdir (buf, 0755) < 0 && errno != EEXIST)
        return -errno;
      *p = c;
      if (c == '\0')
        return 0;
    }
}

static int opaque_dir (const char *dir, struct unpack_result *res)
{
  struct stat st;
  int r = ensure_dir (dir);
  if (r < 0)
    return child_fail (res, "create %s: %s", dir, strerror (-r));
  if (lstat (dir, &st) < 0 || !S_ISDIR (st.st_mode))
    return child_fail (res, "opaque whiteout in %s, which is not a directory", dir);
  if (lsetxattr (dir, OPAQUE_XATTR, "y", 1, 0) < 0)
    return child_fail (res, "set %s on %s: %s", OPAQUE_XATTR, dir, strerror (errno));
  return 0;
}

static int whiteout_file (const char *dir, const char *name, struct archive_entry *e, struct unpack_result *res)
{
  char path[PATH_MAX];
  if (*name == '\0')
    return child_fail (res, "bad whiteout %s/%s", dir, WHITEOUT_PREFIX);
  int r = ensure_dir (dir);
  if (r < 0)
    return child_fail (res, "create %s: %s", dir, strerror (-r));
  if (snprintf (path, sizeof path, "%s/%s", dir, name) >= (int) sizeof path)
    return child_fail (res, "whiteout %s/%s: name too long", dir, name);
  if (mknod (path, S_IFCHR, makedev (0, 0)) < 0)
    return child_fail (res, "whiteout %s: %s", path, strerror (errno));
  if (lchown (path, (uid_t) archive_entry_uid (e), (gid_t) archive_entry_gid (e)) < 0)
    return child_fail (res, "chown whiteout %s: %s", path, strerror (errno));
  return 0;
}

/* Returns 1 when PATH was a whiteout (done here, not by libarchive). */
static int handle_whiteout (const char *path, struct archive_entry *e, struct unpack_result *res)
{
  const char *slash = strrchr (path, '/');
  const char *base = slash ? slash + 1 : path;
  if (strncmp (base, WHITEOUT_PREFIX, strlen (WHITEOUT_PREFIX)) != 0)
    return 0;
  char dir[PATH_MAX];
  snprintf (dir, sizeof dir, "%.*s", slash ? (int) (slash - path) : 1, slash ? path : ".");
  int r = 1;
  if (strcmp (base, WHITEOUT_OPAQUE) == 0)
    r = opaque_dir (dir, res);
  else if (strncmp (base, WHITEOUT_META_PREFIX, strlen (WHITEOUT_META_PREFIX)) == 0)
    r = 1; /* other aufs metadata (.wh..wh.plnk ...): nothing to do */
  else
    r = whiteout_file (dir, base + strlen (WHITEOUT_PREFIX), e, res);
  return r < 0 ? r : 1;
}

/* overlayfs reads trusted.overlay.* from the layers: a layer must not be
 * able to set them itself (redirects, metacopy...), only via whiteouts. */
static int drop_overlay_xattrs (struct archive_entry *e)
{
  int n = archive_entry_xattr_reset (e);
  if (n <= 0)
    return 0;
  struct keep { char *name; void *value; size_t size; };
  cleanup_free struct keep *keep = calloc ((size_t) n, sizeof *keep);
  int k = 0, dropped = 0;
  if (keep == NULL)
    return -ENOMEM;
  const char *name;
  const void *value;
  size_t size;
  while (archive_entry_xattr_next (e, &name, &value, &size) == ARCHIVE_OK)
    {
      if (strncmp (name, OVERLAY_XATTR_PREFIX, strlen (OVERLAY_XATTR_PREFIX)) == 0)
        {
          dropped++;
          continue;
        }
      keep[k].name = strdup (name);
      keep[k].value = malloc (size ? size : 1);
      if (keep[k].name == NULL || keep[k].value == NULL)
        return -ENOMEM; /* the child exits right after: no cleanup needed */
      memcpy (keep[k].value, value, size);
      keep[k++].size = size;
    }
  if (dropped)
    {
      archive_entry_xattr_clear (e);
      for (int i = 0; i < k; i++)
        archive_entry_xattr_add_entry (e, keep[i].name, keep[i].value, keep[i].size);
    }
  for (int i = 0; i < k; i++)
    {
      free (keep[i].name);
      free (keep[i].value);
    }
  return 0;
}

static bool is_device (struct archive_entry *e)
{
  mode_t t = archive_entry_filetype (e);
  if (archive_entry_hardlink (e) != NULL || (t != AE_IFCHR && t != AE_IFBLK))
    return false;
  /* A char device 0:0 is an overlayfs whiteout already. */
  return !(t == AE_IFCHR && archive_entry_rdevmajor (e) == 0 && archive_entry_rdevminor (e) == 0);
}

/* Clean and check the entry.  Returns 0 to extract it with libarchive,
 * 1 when it needs nothing more, -1 on a refused entry. */
static int prepare_entry (struct archive_entry *e, struct unpack_result *res)
{
  const char *raw = archive_entry_pathname (e);
  if (raw == NULL)
    return child_fail (res, "entry without a name in layer");
  /* Layer tars name their entries relative to the root; an absolute name
   * is a hostile or broken archive (berth's policy: refuse it). */
  if (raw[0] == '/')
    return child_fail (res, "absolute path %s in layer is not allowed", raw);
  cleanup_free char *path = clean_path (raw);
  if (path == NULL)
    return child_fail (res, "path %s in layer leaves the layer (\"..\")", raw);
  if (*path == '\0')
    return 1; /* "./": the layer root is ours */
  /* aufs metadata folders (.wh..wh.plnk, ...) at the root: not content */
  if (strncmp (path, WHITEOUT_META_PREFIX, strlen (WHITEOUT_META_PREFIX)) == 0 && strcmp (path, WHITEOUT_OPAQUE) != 0)
    return 1;
  const char *link = archive_entry_hardlink (e);
  if (link)
    {
      cleanup_free char *target = link[0] == '/' ? NULL : clean_path (link);
      if (target == NULL || *target == '\0')
        return child_fail (res, "hardlink %s in layer points outside the layer: %s", raw, link);
      archive_entry_copy_hardlink (e, target);
    }
  if (is_device (e))
    return child_fail (res, "device node %s in layer is not allowed", path);
  archive_entry_copy_pathname (e, path);
  int r = handle_whiteout (path, e, res);
  if (r != 0)
    return r;
  if (drop_overlay_xattrs (e) < 0)
    return child_fail (res, "out of memory");
  return 0;
}

static int copy_data (struct archive *in, struct archive *out, const char *path, struct unpack_result *res)
{
  const void *buf;
  size_t len;
  la_int64_t off;
  int r;
  while ((r = archive_read_data_block (in, &buf, &len, &off)) == ARCHIVE_OK)
    if (archive_write_data_block (out, buf, len, off) < ARCHIVE_WARN)
      return child_fail (res, "write %s: %s", path, img_archive_error (out));
  if (r != ARCHIVE_EOF)
    return child_fail (res, "read %s: %s", path, img_archive_error (in));
  return 0;
}

/* Docker counts file and symlink sizes once per inode. */
static int64_t entry_size (struct archive_entry *e)
{
  if (archive_entry_hardlink (e))
    return 0;
  if (archive_entry_filetype (e) == AE_IFREG)
    return archive_entry_size (e);
  if (archive_entry_filetype (e) == AE_IFLNK && archive_entry_symlink (e))
    return (int64_t) strlen (archive_entry_symlink (e));
  return 0;
}

static int extract_entry (struct archive *in, struct archive *out, struct archive_entry *e,
                          struct unpack_result *res)
{
  int r = prepare_entry (e, res);
  if (r != 0)
    return r < 0 ? r : 0;
  const char *path = archive_entry_pathname (e);
  if (archive_write_header (out, e) < ARCHIVE_WARN)
    return child_fail (res, "%s: %s", path, img_archive_error (out));
  if (archive_entry_size (e) > 0 && copy_data (in, out, path, res) < 0)
    return -1;
  if (archive_write_finish_entry (out) < ARCHIVE_WARN)
    return child_fail (res, "%s: %s", path, img_archive_error (out));
  res->size += entry_size (e);
  return 0;
}

static int extract_all (struct archive *in, struct archive *out, struct unpack_result *res)
{
  struct archive_entry *e;
  for (;;)
    {
      int r = archive_read_next_header (in, &e);
      if (r == ARCHIVE_EOF)
        break;
      if (r < ARCHIVE_WARN)
        return child_fail (res, "read layer: %s", img_archive_error (in));
      if (extract_entry (in, out, e, res) < 0)
        return -1;
    }
  /* Directory times and permissions are fixed up at close. */
  if (archive_write_close (out) < ARCHIVE_WARN)
    return child_fail (res, "finish layer: %s", img_archive_error (out));
  res->ok = 1;
  return 0;
}

static int extract (int fd, struct unpack_result *res)
{
  struct archive *in = archive_read_new ();
  struct archive *out = archive_write_disk_new ();
  if (in == NULL || out == NULL)
    return child_fail (res, "out of memory");
  archive_read_support_format_tar (in);
  archive_read_support_format_empty (in);
  /* No user name lookups: ids are numeric, and the layer's /etc/passwd
   * (our / now) must not be consulted. */
  archive_write_disk_set_options (out, EXTRACT_FLAGS);
  if (archive_read_open_fd (in, fd, 128 * 1024) != ARCHIVE_OK)
    return child_fail (res, "read layer: %s", img_archive_error (in));
  return extract_all (in, out, res);
}

/* Read what the parent still sends (tar padding after the end marker) so
 * that it can hash the whole stream. */
static void drain (int fd)
{
  char buf[65536];
  ssize_t n;
  while ((n = read (fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    ;
}

/* The daemon's other descriptors (folders among them) have no business
 * in the chroot. */
static void close_other_fds (int keep)
{
  if (keep > 3)
    close_range (3, (unsigned int) keep - 1, 0);
  close_range ((unsigned int) keep + 1, ~0U, 0);
}

static void __attribute__ ((noreturn)) unpack_child (const char *dest, int fd)
{
  struct unpack_result res;
  memset (&res, 0, sizeof res);
  umask (022);
  close_other_fds (fd);
  if (chroot (dest) < 0 || chdir ("/") < 0)
    child_fail (&res, "chroot into %s: %s", dest, strerror (errno));
  else if (extract (fd, &res) == 0)
    drain (fd);
  (void) berth_write_all (fd, &res, sizeof res);
  _exit (res.ok ? 0 : 1);
}

/* A child that failed closed its end: stop with -EPIPE and no message, the
 * child's message says what went wrong. */
static int send_chunk (void *opaque, const void *buf, size_t len, berth_err *err)
{
  int fd = *(int *) opaque;
  const char *p = buf;
  while (len > 0)
    {
      ssize_t w = send (fd, p, len, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
        return -EPIPE;
      if (w < 0)
        return berth_fail_errno (err, "send layer data");
      p += w;
      len -= (size_t) w;
    }
  return 0;
}

static int wait_child (pid_t pid, int fd, const char *name, struct unpack_result *res, berth_err *err)
{
  memset (res, 0, sizeof *res);
  ssize_t n = berth_read_all (fd, res, sizeof *res);
  int st = 0;
  while (waitpid (pid, &st, 0) < 0 && errno == EINTR)
    ;
  res->msg[sizeof res->msg - 1] = '\0';
  if (n != (ssize_t) sizeof *res)
    return berth_fail (err, 0, "unpack %s: the unpacking process died (status %d)", name, st);
  if (!res->ok)
    return berth_fail (err, 0, "unpack %s: %s", name, res->msg);
  return 0;
}

int img_layer_unpack (struct archive *src, const char *name, const char *dest, char digest[IMG_DIGEST_SIZE],
                      int64_t *size, berth_err *err)
{
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return berth_fail_errno (err, "unpack %s: socketpair", name);
  pid_t pid = fork ();
  if (pid < 0)
    {
      int r = berth_fail_errno (err, "unpack %s: fork", name);
      close (sv[0]);
      close (sv[1]);
      return r;
    }
  if (pid == 0)
    {
      close (sv[0]);
      unpack_child (dest, sv[1]);
    }
  close (sv[1]);
  cleanup_close int fd = sv[0];
  berth_err pump_err = NULL;
  int pr = img_raw_pump (src, name, send_chunk, &fd, digest, NULL, &pump_err);
  shutdown (fd, SHUT_WR);
  struct unpack_result res;
  int wr = wait_child (pid, fd, name, &res, err);
  /* A decompression error explains a truncated tar better than the child. */
  if (pr < 0 && pump_err)
    {
      berth_error_free (err);
      if (err)
        *err = take_ptr (pump_err);
      berth_error_free (&pump_err);
      return pr;
    }
  if (wr < 0)
    return wr;
  if (pr < 0)
    return berth_fail (err, 0, "unpack %s: the unpacking process stopped reading", name);
  *size = res.size;
  return 0;
}
