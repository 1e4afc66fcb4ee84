/* Reading an image archive.  The input may be a pipe, and manifest.json
 * usually comes last, so every regular file is copied into a private
 * folder under tmp/ (hashed on the way) before anything is interpreted.
 * Nothing of the archive is ever created by its own name: spooled files
 * are numbered, and links only live in memory, resolved by path.  That
 * makes the archive's paths harmless; we still refuse the ones that try to
 * leave it, as a clear sign of a hostile archive. */
#include "image/image-internal.h"
#include "common/fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPOOL_MAX_ENTRIES 100000
#define LINK_MAX_HOPS 40

static int normalize (const char *in, bool allow_dotdot, char **out)
{
  size_t cap = strlen (in) + 1;
  cleanup_free char *buf = malloc (cap);
  size_t n = 0;
  if (buf == NULL)
    return -ENOMEM;
  for (const char *p = in; *p;)
    {
      while (*p == '/')
        p++;
      size_t len = strcspn (p, "/");
      bool dotdot = len == 2 && p[0] == '.' && p[1] == '.';
      if (dotdot && !allow_dotdot)
        return -EPERM;
      if (dotdot)
        {
          /* Drop the last component; above the root is outside. */
          if (n == 0)
            return -EPERM;
          char *slash = memrchr (buf, '/', n);
          n = slash ? (size_t) (slash - buf) : 0;
        }
      else if (len > 0 && !(len == 1 && p[0] == '.'))
        {
          if (n > 0)
            buf[n++] = '/';
          memcpy (buf + n, p, len);
          n += len;
        }
      p += len;
    }
  buf[n] = '\0';
  *out = take_ptr (buf);
  return 0;
}

int img_archive_path (const char *in, const char *where, char **out, berth_err *err)
{
  if (in[0] == '/')
    return berth_fail (err, 0, "%s: absolute path %s is not allowed", where, in);
  int r = normalize (in, false, out);
  if (r == -EPERM)
    return berth_fail (err, 0, "%s: path %s leaves the archive (\"..\")", where, in);
  return r < 0 ? berth_fail (err, -r, "%s", where) : 0;
}

/* A symlink's target, relative to the symlink's folder, as an archive
 * path; targets that leave the archive are refused. */
static int link_target (const char *path, const char *target, char **out, berth_err *err)
{
  cleanup_free char *joined = NULL;
  const char *slash = strrchr (path, '/');
  if (target[0] == '/')
    return berth_fail (err, 0, "symlink %s points outside the archive: %s", path, target);
  if (asprintf (&joined, "%.*s/%s", slash ? (int) (slash - path) : 0, path, target) < 0)
    return berth_fail (err, ENOMEM, "symlink %s", path);
  int r = normalize (joined, true, out);
  if (r == -EPERM)
    return berth_fail (err, 0, "symlink %s points outside the archive: %s", path, target);
  return r < 0 ? berth_fail (err, -r, "symlink %s", path) : 0;
}

static struct img_spool_entry *spool_add (struct img_spool *sp, char *path, berth_err *err)
{
  if (sp->n == SPOOL_MAX_ENTRIES)
    {
      berth_fail (err, 0, "the archive has more than %d entries", SPOOL_MAX_ENTRIES);
      return NULL;
    }
  if (sp->n == sp->cap)
    {
      size_t cap = sp->cap ? sp->cap * 2 : 64;
      struct img_spool_entry *v = realloc (sp->v, cap * sizeof *v);
      if (v == NULL)
        {
          berth_fail (err, ENOMEM, "read archive");
          return NULL;
        }
      sp->v = v;
      sp->cap = cap;
    }
  struct img_spool_entry *e = &sp->v[sp->n++];
  memset (e, 0, sizeof *e);
  e->path = path;
  return e;
}

static int add_link (struct img_spool *sp, char *path, char *target, berth_err *err)
{
  struct img_spool_entry *e = spool_add (sp, path, err);
  if (e == NULL)
    {
      free (path);
      free (target);
      return berth_error_ret (*err);
    }
  e->link = target;
  return 0;
}

/* "blobs/sha256/<hex>" names its own digest. */
static bool blob_name (const char *path, char digest[IMG_DIGEST_SIZE])
{
  const char *prefix = "blobs/sha256/";
  if (strncmp (path, prefix, strlen (prefix)) != 0 || !img_hex_valid (path + strlen (prefix), IMG_HEX_LEN))
    return false;
  snprintf (digest, IMG_DIGEST_SIZE, "%s%s", IMG_DIGEST_PREFIX, path + strlen (prefix));
  return true;
}

static int copy_entry (struct archive *a, struct img_blob_writer *w, const char *path, berth_err *err)
{
  const void *buf;
  size_t len;
  la_int64_t off;
  int r;
  while ((r = archive_read_data_block (a, &buf, &len, &off)) == ARCHIVE_OK)
    {
      /* Sparse entries: the holes are zeros. */
      static const char zeros[4096];
      while (w->size < off)
        {
          size_t gap = (size_t) (off - w->size) < sizeof zeros ? (size_t) (off - w->size) : sizeof zeros;
          if (img_blob_writer_write (w, zeros, gap, err) < 0)
            return berth_error_ret (*err);
        }
      if (img_blob_writer_write (w, buf, len, err) < 0)
        return berth_error_ret (*err);
    }
  if (r != ARCHIVE_EOF)
    return berth_fail (err, 0, "read %s from the archive: %s", path, img_archive_error (a));
  return 0;
}

static int spool_file (struct img_spool *sp, struct archive *a, char *path, berth_err *err)
{
  struct img_blob_writer w;
  char expected[IMG_DIGEST_SIZE];
  bool named = blob_name (path, expected);
  struct img_spool_entry *e = spool_add (sp, path, err);
  if (e == NULL)
    {
      free (path);
      return berth_error_ret (*err);
    }
  int r = img_blob_writer_open (sp->dir, &w, err);
  if (r == 0)
    r = copy_entry (a, &w, path, err);
  if (r == 0)
    r = img_blob_writer_finish (&w, path, named ? expected : NULL, err);
  if (r < 0)
    {
      img_blob_writer_cleanup (&w);
      return r;
    }
  e->file = take_ptr (w.path);
  e->size = w.size;
  memcpy (e->digest, w.digest, IMG_DIGEST_SIZE);
  img_blob_writer_cleanup (&w);
  return 0;
}

static int spool_entry (struct img_spool *sp, struct archive *a, struct archive_entry *ae, berth_err *err)
{
  const char *name = archive_entry_pathname (ae);
  const char *hardlink = archive_entry_hardlink (ae);
  char *path = NULL;
  if (name == NULL)
    return berth_fail (err, 0, "archive entry without a name");
  int r = img_archive_path (name, "archive entry", &path, err);
  if (r < 0)
    return r;
  if (*path == '\0' || (hardlink == NULL && archive_entry_filetype (ae) == AE_IFDIR))
    {
      free (path);
      return 0;
    }
  char *target = NULL;
  cleanup_free char *where = NULL;
  if (hardlink && asprintf (&where, "hardlink %s", path) < 0)
    where = NULL;
  if (hardlink)
    r = img_archive_path (hardlink, where ? where : "hardlink", &target, err);
  else if (archive_entry_filetype (ae) == AE_IFLNK)
    r = link_target (path, archive_entry_symlink (ae) ? archive_entry_symlink (ae) : "", &target, err);
  else if (archive_entry_filetype (ae) == AE_IFREG)
    return spool_file (sp, a, path, err);
  else if (archive_entry_filetype (ae) == AE_IFCHR || archive_entry_filetype (ae) == AE_IFBLK)
    r = berth_fail (err, 0, "device node %s in archive is not allowed", path);
  else
    r = berth_fail (err, 0, "special file %s in archive is not allowed", path);
  if (r < 0)
    {
      free (path);
      return r;
    }
  return add_link (sp, path, target, err);
}

int img_spool_archive (int fd, struct img_spool *sp, berth_err *err)
{
  cleanup_archive struct archive *a = archive_read_new ();
  struct archive_entry *ae;
  if (a == NULL)
    return berth_fail (err, ENOMEM, "read archive");
  img_archive_support_filters (a);
  archive_read_support_format_tar (a);
  if (archive_read_open_fd (a, fd, 128 * 1024) != ARCHIVE_OK)
    return berth_fail (err, 0, "read the image archive: %s", img_archive_error (a));
  for (;;)
    {
      int r = archive_read_next_header (a, &ae);
      if (r == ARCHIVE_EOF)
        return 0;
      if (r < ARCHIVE_WARN)
        return berth_fail (err, 0, "read the image archive: %s", img_archive_error (a));
      r = spool_entry (sp, a, ae, err);
      if (r < 0)
        return r;
    }
}

void img_spool_free (struct img_spool *sp)
{
  for (size_t i = 0; i < sp->n; i++)
    {
      free (sp->v[i].path);
      free (sp->v[i].file);
      free (sp->v[i].link);
    }
  free (sp->v);
  if (sp->dir)
    berth_rm_rf (sp->dir);
  free (sp->dir);
  memset (sp, 0, sizeof *sp);
}

/* A later entry of the same name replaces an earlier one, as in tar. */
static struct img_spool_entry *find_exact (struct img_spool *sp, const char *path)
{
  for (size_t i = sp->n; i-- > 0;)
    if (strcmp (sp->v[i].path, path) == 0)
      return &sp->v[i];
  return NULL;
}

/* If a folder on PATH is a link, PATH with it replaced; else NULL. */
static char *through_parent_link (struct img_spool *sp, char *path)
{
  for (char *slash = strchr (path, '/'); slash; slash = strchr (slash + 1, '/'))
    {
      *slash = '\0';
      struct img_spool_entry *pe = find_exact (sp, path);
      *slash = '/';
      if (pe && pe->file)
        return NULL; /* a file used as a folder */
      if (pe == NULL)
        continue;
      char *next = NULL;
      if (asprintf (&next, "%s%s%s", pe->link, *pe->link ? "/" : "", slash + 1) < 0)
        return NULL;
      return next;
    }
  return NULL;
}

struct img_spool_entry *img_spool_get (struct img_spool *sp, const char *path)
{
  cleanup_free char *cur = strdup (path);
  for (int hops = 0; cur && hops < LINK_MAX_HOPS; hops++)
    {
      struct img_spool_entry *e = find_exact (sp, cur);
      if (e && e->file)
        return e;
      char *next = e ? strdup (e->link) : through_parent_link (sp, cur);
      free (cur);
      cur = next;
    }
  return NULL;
}

int img_spool_find (struct img_spool *sp, const char *path, const char *where, struct img_spool_entry **out,
                    berth_err *err)
{
  cleanup_free char *clean = NULL;
  int r = img_archive_path (path, where, &clean, err);
  if (r < 0)
    return r;
  *out = img_spool_get (sp, clean);
  if (*out == NULL)
    return berth_fail (err, 0, "%s: %s is missing from the archive", where, path);
  return 0;
}

int img_spool_json (struct img_spool_entry *e, json_t **out, berth_err *err)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  if (e->size > IMG_JSON_MAX)
    return berth_fail (err, EFBIG, "%s is too large for a JSON file (%lld bytes, the limit is %d)", e->path,
                       (long long) e->size, IMG_JSON_MAX);
  int r = berth_read_file (e->file, IMG_JSON_MAX, &buf, &len, err);
  if (r < 0)
    return berth_error_prefix (err, "%s", e->path);
  *out = berth_json_load_buffer (buf, len, e->path, err);
  return *out ? 0 : berth_error_ret (*err);
}
