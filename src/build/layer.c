/* Step roots and their changes.  A step that changes files (RUN, COPY,
 * ADD) works on an overlayfs of the stage's layers under a fresh upper
 * folder; the upper folder then holds exactly the step's changes, with
 * overlayfs whiteouts (char 0:0 devices, "trusted.overlay.opaque" folders)
 * for deletions, which become the .wh. entries of a layer tar. */
#include "build/builder.h"
#include "daemon/daemon.h"
#include "image/image.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Mount points of a container's root: below the step's upper folder, so
 * a RUN that needs them does not record them as changes (Docker's "init
 * layer"). */
static int init_layer (struct build *b, char **out, berth_err *err)
{
  cleanup_free char *dir = NULL;
  if (asprintf (&dir, "%s/init", b->req->work_dir) < 0)
    return berth_fail (err, ENOMEM, "init layer");
  if (build_work_dir (b, err) < 0)
    return -EIO;
  if (access (dir, F_OK) != 0)
    {
      static const char *const dirs[] = { "proc", "sys", "dev", "etc", NULL };
      static const char *const files[] = { "etc/hosts", "etc/hostname", "etc/resolv.conf", NULL };
      for (const char *const *p = dirs; *p; p++)
        {
          cleanup_free char *d = NULL;
          if (asprintf (&d, "%s/%s", dir, *p) < 0 || berth_mkdir_p (d, 0755, err) < 0)
            return -EIO;
        }
      for (const char *const *p = files; *p; p++)
        {
          cleanup_free char *f = NULL;
          if (asprintf (&f, "%s/%s", dir, *p) < 0 || berth_write_file (f, "", 0, err) < 0)
            return -EIO;
        }
    }
  *out = take_ptr (dir);
  return 0;
}

int step_root_mount (struct build *b, const char *image_id, bool with_init, struct step_root *r, berth_err *err)
{
  cleanup_free char *work = NULL, *lower = NULL, *opts = NULL, *init = NULL, *empty = NULL;
  cleanup_strv char **dirs = NULL;
  memset (r, 0, sizeof *r);
  int n = ++b->mounts;
  if (asprintf (&r->dir, "%s/step-%d", b->req->work_dir, n) < 0 || asprintf (&r->upper, "%s/upper", r->dir) < 0
      || asprintf (&r->rootfs, "%s/rootfs", r->dir) < 0 || asprintf (&work, "%s/work", r->dir) < 0
      || asprintf (&empty, "%s/empty", r->dir) < 0)
    return berth_fail (err, ENOMEM, "step root");
  if (build_work_dir (b, err) < 0 || berth_mkdir_p (r->upper, 0755, err) < 0 || berth_mkdir_p (work, 0700, err) < 0
      || berth_mkdir_p (r->rootfs, 0755, err) < 0 || berth_mkdir_p (empty, 0755, err) < 0)
    return -EIO;
  if (image_id)
    {
      pthread_mutex_lock (&b->d->image_lock);
      int ret = image_layer_dirs (b->d->images, image_id, &dirs, err);
      pthread_mutex_unlock (&b->d->image_lock);
      if (ret < 0)
        return ret;
    }
  if (with_init && init_layer (b, &init, err) < 0)
    return -EIO;
  size_t len = strlen (init ? init : empty) + 1;
  for (char **p = dirs; p && *p; p++)
    len += strlen (*p) + 1;
  lower = calloc (1, len);
  if (lower == NULL)
    return berth_fail (err, ENOMEM, "step root");
  strcpy (lower, init ? init : empty);
  for (char **p = dirs; p && *p; p++)
    {
      strcat (lower, ":");
      strcat (lower, *p);
    }
  if (asprintf (&opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, r->upper, work) < 0)
    return berth_fail (err, ENOMEM, "step root");
  if (strlen (opts) > 4000)
    return berth_fail_as (err, E2BIG, "the image has too many layers for a build step (%zu)", len);
  if (mount ("overlay", r->rootfs, "overlay", 0, opts) < 0)
    return berth_fail_errno (err, "mount the step's root");
  r->mounted = true;
  return 0;
}

void step_root_release (struct step_root *r)
{
  if (r->mounted)
    umount2 (r->rootfs, MNT_DETACH);
  if (r->dir)
    berth_rm_rf (r->dir);
  free (r->dir);
  free (r->upper);
  free (r->rootfs);
  free (r->tar);
  memset (r, 0, sizeof *r);
}

/* ---- the upper folder as a tar ---- */

struct tarw
{
  struct archive *a;
  struct archive_entry *e;
  int fd;
  EVP_MD_CTX *md;      /* the diff id, over the bytes written */
  long long size;      /* regular files and link targets, as the store's unpacker counts */
  bool adoptable;
  char buf[1 << 16];
};

static la_ssize_t tar_write_cb (struct archive *a, void *opaque, const void *buf, size_t len)
{
  struct tarw *t = opaque;
  if (berth_write_all (t->fd, buf, len) < 0)
    {
      archive_set_error (a, errno, "write the layer tar");
      return -1;
    }
  EVP_DigestUpdate (t->md, buf, len);
  return (la_ssize_t) len;
}

/* The tar carries no xattrs: the folder keeps none either (overlayfs
 * leaves trusted.overlay.origin/impure on copied-up entries), except the
 * opaque mark, which is the .wh..wh..opq entry. */
static void strip_xattrs (int dirfd, const char *base)
{
  char list[4096];
  cleanup_free char *self = NULL;
  cleanup_close int fd = openat (dirfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || asprintf (&self, "/proc/self/fd/%d", fd) < 0)
    return;
  ssize_t n = llistxattr (self, list, sizeof list);
  for (ssize_t i = 0; i < n; i += (ssize_t) strlen (list + i) + 1)
    if (strcmp (list + i, "trusted.overlay.opaque") != 0)
      (void) lremovexattr (self, list + i);
}

static int write_header (struct tarw *t, const char *name, const struct stat *st, const char *link,
                         berth_err *err)
{
  archive_entry_clear (t->e);
  archive_entry_copy_stat (t->e, st);
  archive_entry_set_pathname (t->e, name);
  if (link)
    archive_entry_set_symlink (t->e, link);
  if (!S_ISREG (st->st_mode))
    archive_entry_set_size (t->e, 0);
  archive_entry_set_nlink (t->e, 1);
  if (archive_write_header (t->a, t->e) < ARCHIVE_WARN)
    return berth_fail (err, EIO, "layer tar: %s: %s", name, archive_error_string (t->a));
  return 0;
}

static int write_whiteout (struct tarw *t, const char *dir, const char *base, const struct stat *st, berth_err *err)
{
  cleanup_free char *name = NULL;
  if (asprintf (&name, "%s%s.wh.%s", dir, *dir ? "/" : "", base) < 0)
    return berth_fail (err, ENOMEM, "layer tar");
  struct stat wst = *st;
  wst.st_mode = S_IFREG | 0644;
  wst.st_size = 0;
  wst.st_rdev = 0;
  return write_header (t, name, &wst, NULL, err);
}

static int write_content (struct tarw *t, int dirfd, const char *base, const char *name, berth_err *err)
{
  cleanup_close int fd = openat (dirfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (err, "layer tar: open %s", name);
  for (;;)
    {
      ssize_t n = read (fd, t->buf, sizeof t->buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return berth_fail_errno (err, "layer tar: read %s", name);
      if (n == 0)
        return 0;
      if (archive_write_data (t->a, t->buf, (size_t) n) < 0)
        return berth_fail (err, EIO, "layer tar: %s", archive_error_string (t->a));
    }
}

static bool is_opaque (int dirfd)
{
  char v[4] = "";
  ssize_t n = fgetxattr (dirfd, "trusted.overlay.opaque", v, sizeof v);
  return n == 1 && v[0] == 'y';
}

/* Depth first, sorted names: the same changes give the same tar (and so
 * the same layer id). */
static int walk (struct tarw *t, int dirfd, const char *rel, berth_err *err)
{
  struct dirent **names = NULL;
  cleanup_close int scanfd = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_free char *self = NULL;
  if (asprintf (&self, "/proc/self/fd/%d", scanfd) < 0)
    return berth_fail (err, ENOMEM, "layer tar");
  int n = scandir (self, &names, NULL, alphasort);
  if (n < 0)
    return berth_fail_errno (err, "layer tar: list %s", *rel ? rel : "/");
  int r = 0;
  for (int i = 0; i < n; i++)
    {
      const char *base = names[i]->d_name;
      struct stat st;
      cleanup_free char *name = NULL;
      if (r < 0 || strcmp (base, ".") == 0 || strcmp (base, "..") == 0)
        continue;
      if (asprintf (&name, "%s%s%s", rel, *rel ? "/" : "", base) < 0)
        r = berth_fail (err, ENOMEM, "layer tar");
      else if (fstatat (dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
        r = berth_fail_errno (err, "layer tar: stat %s", name);
      if (r == 0)
        strip_xattrs (dirfd, base);
      if (r < 0)
        ;
      else if (S_ISCHR (st.st_mode) && st.st_rdev == makedev (0, 0))
        r = write_whiteout (t, rel, base, &st, err);
      else if (S_ISDIR (st.st_mode))
        {
          cleanup_close int sub = openat (dirfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          cleanup_free char *dname = NULL;
          if (sub < 0 || asprintf (&dname, "%s/", name) < 0)
            r = berth_fail_errno (err, "layer tar: open %s", name);
          else if ((r = write_header (t, dname, &st, NULL, err)) == 0 && is_opaque (sub))
            r = write_whiteout (t, name, ".wh..opq", &st, err);
          if (r == 0)
            r = walk (t, sub, name, err);
        }
      else if (S_ISLNK (st.st_mode))
        {
          char target[4096];
          ssize_t len = readlinkat (dirfd, base, target, sizeof target - 1);
          if (len < 0)
            r = berth_fail_errno (err, "layer tar: readlink %s", name);
          else
            {
              target[len] = '\0';
              t->size += len;
              r = write_header (t, name, &st, target, err);
            }
        }
      else if (S_ISREG (st.st_mode))
        {
          t->size += st.st_size;
          if (st.st_nlink > 1)
            t->adoptable = false; /* the store's layer would have copies */
          r = write_header (t, name, &st, NULL, err);
          if (r == 0)
            r = write_content (t, dirfd, base, name, err);
        }
      else
        {
          if (!S_ISFIFO (st.st_mode))
            t->adoptable = false; /* devices made by RUN: the store decides */
          r = write_header (t, name, &st, NULL, err);
        }
    }
  for (int i = 0; i < n; i++)
    free (names[i]);
  free (names);
  return r;
}

int step_root_layer_tar (struct step_root *r, berth_err *err)
{
  cleanup_free char *path = NULL;
  struct tarw *t = calloc (1, sizeof *t);
  if (t == NULL || asprintf (&path, "%s/layer.tar", r->dir) < 0)
    {
      free (t);
      return berth_fail (err, ENOMEM, "layer tar");
    }
  t->adoptable = true;
  t->fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  t->md = EVP_MD_CTX_new ();
  t->a = archive_write_new ();
  t->e = archive_entry_new ();
  int ret = 0;
  if (t->fd < 0)
    ret = berth_fail_errno (err, "layer tar: create %s", path);
  else if (t->md == NULL || EVP_DigestInit_ex (t->md, EVP_sha256 (), NULL) != 1)
    ret = berth_fail (err, ENOMEM, "layer tar: sha256");
  else if (t->a == NULL || t->e == NULL || archive_write_set_format_pax_restricted (t->a) != ARCHIVE_OK
           || archive_write_set_bytes_in_last_block (t->a, 1) != ARCHIVE_OK
           || archive_write_open2 (t->a, t, NULL, tar_write_cb, NULL, NULL) != ARCHIVE_OK)
    ret = berth_fail (err, EIO, "layer tar: %s", t->a ? archive_error_string (t->a) : "no memory");
  cleanup_close int upper = ret == 0 ? open (r->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  if (ret == 0 && upper < 0)
    ret = berth_fail_errno (err, "open %s", r->upper);
  if (ret == 0)
    ret = walk (t, upper, "", err);
  if (t->a && archive_write_close (t->a) != ARCHIVE_OK && ret == 0)
    ret = berth_fail (err, EIO, "layer tar: %s", archive_error_string (t->a));
  if (ret == 0)
    {
      unsigned char md[32];
      unsigned len = 0;
      EVP_DigestFinal_ex (t->md, md, &len);
      strcpy (r->diff_id, "sha256:");
      for (int i = 0; i < 32; i++)
        sprintf (r->diff_id + 7 + 2 * i, "%02x", md[i]);
      r->size = t->size;
      r->adoptable = t->adoptable;
    }
  if (t->a)
    archive_write_free (t->a);
  if (t->e)
    archive_entry_free (t->e);
  if (t->md)
    EVP_MD_CTX_free (t->md);
  if (t->fd >= 0 && close (t->fd) < 0 && ret == 0)
    ret = berth_fail_errno (err, "layer tar: write %s", path);
  free (t);
  if (ret == 0)
    {
      free (r->tar);
      r->tar = take_ptr (path);
    }
  return ret;
}
