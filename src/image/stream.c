/* Decompressing readers over libarchive's "raw" format: whatever the
 * compression (gzip, zstd, xz, ... or none), they yield the plain bytes,
 * which is what a diff id is computed over. */
#include "image/image-internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>

#define IMG_READ_BLOCK (128 * 1024)

void img_cleanup_archivep (struct archive **a)
{
  if (*a)
    archive_read_free (*a);
}

void img_archive_support_filters (struct archive *a)
{
  archive_read_support_filter_all (a);
}

const char *img_archive_error (struct archive *a)
{
  const char *e = archive_error_string (a);
  return e ? e : "unknown error";
}

static struct archive *raw_new (void)
{
  struct archive *a = archive_read_new ();
  if (a == NULL)
    return NULL;
  img_archive_support_filters (a);
  archive_read_support_format_raw (a);
  /* An empty stream is an empty (raw) file, not an error. */
  archive_read_support_format_empty (a);
  return a;
}

/* The raw format has exactly one entry: position the reader on it. */
static int raw_start (struct archive *a, const char *name, berth_err *err)
{
  struct archive_entry *e;
  int r = archive_read_next_header (a, &e);
  if (r == ARCHIVE_OK || r == ARCHIVE_WARN || r == ARCHIVE_EOF)
    return 0;
  return berth_fail (err, 0, "read %s: %s", name, img_archive_error (a));
}

int img_raw_open_file (const char *file, struct archive **out, berth_err *err)
{
  cleanup_archive struct archive *a = raw_new ();
  if (a == NULL)
    return berth_fail (err, ENOMEM, "read %s", file);
  if (archive_read_open_filename (a, file, IMG_READ_BLOCK) != ARCHIVE_OK)
    return berth_fail (err, 0, "read %s: %s", file, img_archive_error (a));
  int r = raw_start (a, file, err);
  if (r < 0)
    return r;
  *out = take_ptr (a);
  return 0;
}

int img_raw_open_fd (int fd, struct archive **out, berth_err *err)
{
  cleanup_archive struct archive *a = raw_new ();
  if (a == NULL)
    return berth_fail (err, ENOMEM, "read input");
  if (archive_read_open_fd (a, fd, IMG_READ_BLOCK) != ARCHIVE_OK)
    return berth_fail (err, 0, "read input: %s", img_archive_error (a));
  int r = raw_start (a, "input", err);
  if (r < 0)
    return r;
  *out = take_ptr (a);
  return 0;
}

int img_raw_pump (struct archive *a, const char *name, img_sink_fn sink, void *opaque, char digest[IMG_DIGEST_SIZE],
                  int64_t *size, berth_err *err)
{
  struct img_hash h;
  int r = img_hash_init (&h, err);
  if (r < 0)
    return r;
  cleanup_free char *buf = malloc (IMG_READ_BLOCK);
  if (buf == NULL)
    {
      img_hash_free (&h);
      return berth_fail (err, ENOMEM, "read %s", name);
    }
  int64_t total = 0;
  la_ssize_t n = 0;
  /* The "empty" format has no entry to read data from. */
  bool empty = archive_format (a) == ARCHIVE_FORMAT_EMPTY;
  while (!empty && (n = archive_read_data (a, buf, IMG_READ_BLOCK)) > 0)
    {
      img_hash_update (&h, buf, (size_t) n);
      total += n;
      r = sink ? sink (opaque, buf, (size_t) n, err) : 0;
      if (r < 0)
        {
          img_hash_free (&h);
          return r;
        }
    }
  if (n < 0)
    {
      img_hash_free (&h);
      return berth_fail (err, 0, "read %s: %s", name, img_archive_error (a));
    }
  img_hash_final (&h, digest);
  if (size)
    *size = total;
  return 0;
}
