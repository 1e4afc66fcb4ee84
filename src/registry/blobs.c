/* GET/HEAD/DELETE /v2/<name>/blobs/<digest>.  Contents are sent straight
 * from the file (MHD uses sendfile), a Range header selects one byte range. */
#include "registry/http.h"
#include "common/cleanup.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "bytes=A-B", "bytes=A-" or "bytes=-N" against SIZE: 1 and [*start,*end]
 * when satisfiable, 0 when unsatisfiable, -1 when malformed (ignored, as
 * RFC 9110 lets a server do). */
static int parse_range (const char *h, uint64_t size, uint64_t *start, uint64_t *end)
{
  if (strncmp (h, "bytes=", 6) != 0 || strchr (h, ','))
    return -1;
  const char *p = h + 6;
  char *e;
  if (*p == '-')
    {
      errno = 0;
      uint64_t n = strtoull (p + 1, &e, 10);
      if (errno || *e || e == p + 1)
        return -1;
      if (n == 0 || size == 0)
        return 0;
      *start = n >= size ? 0 : size - n;
      *end = size - 1;
      return 1;
    }
  if (*p < '0' || *p > '9')
    return -1;
  errno = 0;
  uint64_t a = strtoull (p, &e, 10);
  if (errno || *e != '-')
    return -1;
  p = e + 1;
  uint64_t b = size ? size - 1 : 0;
  if (*p)
    {
      if (*p < '0' || *p > '9')
        return -1;
      b = strtoull (p, &e, 10);
      if (errno || *e || b < a)
        return -1;
    }
  if (a >= size)
    return 0;
  *start = a;
  *end = b >= size ? size - 1 : b;
  return 1;
}

void blobs_get (struct reg_req *req)
{
  struct registry *reg = req->reg;
  if (!reg_digest_valid (req->ref))
    return reply_error (req, "DIGEST_INVALID", "invalid digest %s", req->ref);
  if (!reg_repo_has_blob (reg, req->name, req->ref))
    return reply_error (req, "BLOB_UNKNOWN", "%s", req->ref);
  off_t size = 0;
  int fd = reg_blob_open (reg, req->ref, &size);
  if (fd < 0)
    return reply_error (req, "BLOB_UNKNOWN", "%s", req->ref);
  uint64_t start = 0, end = size ? (uint64_t) size - 1 : 0;
  const char *range = req_header (req, "Range");
  int r = range ? parse_range (range, size, &start, &end) : -1;
  if (r == 0)
    {
      close (fd);
      reply_error_status (req, 416, "BLOB_UNKNOWN", "range not satisfiable");
      reply_headerf (req, "Content-Range", "bytes */%" PRIu64, (uint64_t) size);
      return;
    }
  if (r == 1)
    {
      reply_fd (req, 206, "application/octet-stream", fd, start, end - start + 1);
      reply_headerf (req, "Content-Range", "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start, end, (uint64_t) size);
    }
  else
    reply_fd (req, 200, "application/octet-stream", fd, 0, size);
  reply_header (req, "Docker-Content-Digest", req->ref);
  reply_header (req, "Accept-Ranges", "bytes");
  reply_headerf (req, "ETag", "\"%s\"", req->ref);
  reply_header (req, "Cache-Control", "max-age=31536000");
}

/* Removes the blob from the repository; its content stays until
 * garbage-collect finds no manifest using it. */
void blobs_delete (struct reg_req *req)
{
  struct registry *reg = req->reg;
  if (!reg_digest_valid (req->ref))
    return reply_error (req, "DIGEST_INVALID", "invalid digest %s", req->ref);
  if (!reg_repo_has_blob (reg, req->name, req->ref))
    return reply_error (req, "BLOB_UNKNOWN", "%s", req->ref);
  cleanup_free char *link = reg_repo_path (req->name, "_layers/sha256/%s", req->ref + 7);
  if (link == NULL || unlinkat (reg->root_fd, link, 0) < 0)
    return reply_error_status (req, 500, "UNKNOWN", "cannot remove the blob link");
  reply_empty (req, 202);
  reply_header (req, "Docker-Content-Digest", req->ref);
}
