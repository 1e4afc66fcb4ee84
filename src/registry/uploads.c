/* Blob uploads: POST starts one (or mounts, or takes the whole blob at
 * once with ?digest=), PATCH appends a chunk, PUT ?digest= ends it, GET
 * reports progress, DELETE cancels.
 *
 * The data goes to repositories/<name>/_uploads/<uuid>/data as it arrives,
 * hashed on the way (the sha256 state lives in memory between requests, so
 * the final PUT costs no re-read); after a restart the state is rebuilt by
 * hashing the file once.  PUT checks the digest, fsyncs and renames the
 * file into the blob store: a blob is never visible before it is complete
 * and verified.  One request at a time per upload (a second one gets
 * BLOB_UPLOAD_INVALID). */
#include "registry/http.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

struct upload
{
  char uuid[REG_UUID_LEN + 1];
  char *name;
  struct reg_hash hash;
  bool hashed;          /* hash covers [0, offset) */
  uint64_t offset;
  bool busy;
  struct upload *next;
};

struct upload_req
{
  struct upload *up;
  char *path;           /* the data file, relative to the root */
  uint64_t start;       /* offset before this request's body */
  int64_t chunk_len;    /* from Content-Range, -1 if none */
  bool done;            /* committed or cancelled: drop the state */
};

static char *data_path (const char *name, const char *uuid)
{
  return reg_repo_path (name, "_uploads/%s/data", uuid);
}

static void upload_free (struct upload *up)
{
  reg_hash_free (&up->hash);
  free (up->name);
  free (up);
}

/* Take the upload for this request: -ENOENT unknown, -EBUSY in use. */
static int upload_acquire (struct registry *reg, const char *name, const char *uuid, struct upload **out)
{
  if (!reg_uuid_valid (uuid))
    return -ENOENT;
  pthread_mutex_lock (&reg->uploads_lock);
  struct upload *up = reg->uploads;
  while (up && !(strcmp (up->uuid, uuid) == 0 && strcmp (up->name, name) == 0))
    up = up->next;
  int r = 0;
  if (up == NULL)
    {
      /* not in memory (the registry restarted): take it from the disk */
      cleanup_free char *path = data_path (name, uuid);
      struct stat st;
      if (path == NULL || fstatat (reg->root_fd, path, &st, 0) < 0 || !S_ISREG (st.st_mode))
        r = -ENOENT;
      else if ((up = calloc (1, sizeof *up)) == NULL || (up->name = strdup (name)) == NULL)
        {
          free (up);
          up = NULL;
          r = -ENOMEM;
        }
      else
        {
          memcpy (up->uuid, uuid, REG_UUID_LEN + 1);
          up->offset = st.st_size;
          up->next = reg->uploads;
          reg->uploads = up;
        }
    }
  if (r == 0 && up->busy)
    r = -EBUSY;
  if (r == 0)
    up->busy = true;
  pthread_mutex_unlock (&reg->uploads_lock);
  if (r == 0)
    *out = up;
  return r;
}

static void upload_release (struct registry *reg, struct upload *up, bool drop)
{
  pthread_mutex_lock (&reg->uploads_lock);
  up->busy = false;
  if (drop)
    for (struct upload **pp = &reg->uploads; *pp; pp = &(*pp)->next)
      if (*pp == up)
        {
          *pp = up->next;
          upload_free (up);
          break;
        }
  pthread_mutex_unlock (&reg->uploads_lock);
}

/* Make the hash cover the file's first up->offset bytes (after a restart
 * or a failed write). */
static int upload_rehash (struct registry *reg, struct upload *up, const char *path)
{
  if (up->hashed)
    return 0;
  reg_hash_free (&up->hash);
  if (reg_hash_init (&up->hash) < 0)
    return -ENOMEM;
  cleanup_close int fd = openat (reg->root_fd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  struct stat st;
  if (fstat (fd, &st) < 0)
    return -errno;
  cleanup_free char *buf = malloc (1 << 20);
  if (buf == NULL)
    return -ENOMEM;
  uint64_t left = st.st_size;
  while (left > 0)
    {
      ssize_t n = read (fd, buf, left < (1 << 20) ? left : (1 << 20));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return n < 0 ? -errno : -EIO;
      reg_hash_update (&up->hash, buf, n);
      left -= n;
    }
  up->offset = st.st_size;
  up->hashed = true;
  return 0;
}

static int upload_create (struct registry *reg, const char *name, struct upload **out, berth_err *err)
{
  unsigned char rnd[REG_UUID_LEN / 2];
  if (getrandom (rnd, sizeof rnd, 0) != sizeof rnd)
    return berth_fail_errno (err, "getrandom");
  struct upload *up = calloc (1, sizeof *up);
  if (up == NULL || (up->name = strdup (name)) == NULL || reg_hash_init (&up->hash) < 0)
    {
      if (up)
        upload_free (up);
      return berth_fail (err, ENOMEM, "out of memory");
    }
  for (size_t i = 0; i < sizeof rnd; i++)
    snprintf (up->uuid + 2 * i, 3, "%02x", rnd[i]);
  up->hashed = true;
  up->busy = true;
  cleanup_free char *path = data_path (name, up->uuid);
  cleanup_free char *dir = reg_repo_path (name, "_uploads/%s", up->uuid);
  int r = path && dir ? reg_mkdir_p (reg, dir) : -ENOMEM;
  int fd = r < 0 ? -1 : openat (reg->root_fd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      upload_free (up);
      return berth_fail (err, r < 0 ? -r : errno, "cannot create an upload in %s", name);
    }
  close (fd);
  pthread_mutex_lock (&reg->uploads_lock);
  up->next = reg->uploads;
  reg->uploads = up;
  pthread_mutex_unlock (&reg->uploads_lock);
  *out = up;
  return 0;
}

static void upload_headers (struct reg_req *req, struct upload *up)
{
  reply_headerf (req, "Location", "/v2/%s/blobs/uploads/%s", req->name, up->uuid);
  reply_headerf (req, "Range", "0-%" PRIu64, up->offset ? up->offset - 1 : 0);
  reply_header (req, "Docker-Upload-UUID", up->uuid);
}

/* The request's end, whatever happened: what reached the file counts. */
static void upload_req_cleanup (struct reg_req *req)
{
  struct upload_req *u = req->ctx;
  if (u == NULL)
    return;
  if (u->up && !u->done)
    {
      struct stat st;
      if (req->body_fd >= 0 && fstat (req->body_fd, &st) == 0)
        {
          if (req->body_errno || (uint64_t) st.st_size != u->start + req->body_bytes)
            u->up->hashed = false;
          u->up->offset = st.st_size;
        }
    }
  if (u->up)
    upload_release (req->reg, u->up, u->done);
  /* any body still arriving is not this upload's any more */
  req->hash = NULL;
  req->body_mode = BODY_DISCARD;
  free (u->path);
  free (u);
  req->ctx = NULL;
}

static void reply_acquire_error (struct reg_req *req, int r)
{
  if (r == -EBUSY)
    reply_error (req, "BLOB_UPLOAD_INVALID", "another request is using this upload");
  else if (r == -ENOENT)
    reply_error (req, "BLOB_UPLOAD_UNKNOWN", "%s", req->ref);
  else
    reply_error_status (req, 500, "UNKNOWN", strerror (-r));
}

/* "A-B" or "bytes A-B"; -1 if absent or malformed. */
static int parse_content_range (const char *h, uint64_t *a, uint64_t *b)
{
  if (h == NULL)
    return 0;
  if (strncmp (h, "bytes ", 6) == 0)
    h += 6;
  else if (strncmp (h, "bytes=", 6) == 0)
    h += 6;
  char *e;
  errno = 0;
  *a = strtoull (h, &e, 10);
  if (errno || e == h || *e != '-')
    return -1;
  const char *p = e + 1;
  *b = strtoull (p, &e, 10);
  if (errno || e == p || (*e && *e != '/') || *b < *a)
    return -1;
  return 1;
}

/* Prepare the request to append its body to the upload. */
static bool upload_begin_body (struct reg_req *req, struct upload_req *u)
{
  struct registry *reg = req->reg;
  int r = upload_rehash (reg, u->up, u->path);
  if (r < 0)
    {
      reply_error_status (req, 500, "UNKNOWN", strerror (-r));
      return false;
    }
  uint64_t a, b;
  int cr = parse_content_range (req_header (req, "Content-Range"), &a, &b);
  if (cr < 0)
    {
      reply_error (req, "BLOB_UPLOAD_INVALID", "malformed Content-Range");
      return false;
    }
  u->chunk_len = -1;
  if (cr == 1)
    {
      if (a != u->up->offset)
        {
          reply_error_status (req, 416, "BLOB_UPLOAD_INVALID", "chunk out of order");
          upload_headers (req, u->up);
          return false;
        }
      u->chunk_len = b - a + 1;
    }
  req->body_fd = openat (reg->root_fd, u->path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (req->body_fd < 0)
    {
      reply_error_status (req, 500, "UNKNOWN", strerror (errno));
      return false;
    }
  /* bytes past the known offset are from an interrupted write: drop them */
  if (ftruncate (req->body_fd, u->up->offset) < 0)
    {
      reply_error_status (req, 500, "UNKNOWN", strerror (errno));
      return false;
    }
  u->start = u->up->offset;
  req->body_mode = BODY_FILE;
  req->hash = &u->up->hash;
  return true;
}

/* A chunk whose length differs from its Content-Range is taken back. */
static bool chunk_length_ok (struct reg_req *req, struct upload_req *u)
{
  if (u->chunk_len < 0 || req->body_bytes == (uint64_t) u->chunk_len)
    return true;
  if (ftruncate (req->body_fd, u->start) == 0)
    u->up->hashed = false;
  reply_error_status (req, 416, "BLOB_UPLOAD_INVALID", "the chunk's length does not match its Content-Range");
  return false;
}

static struct upload_req *upload_req_new (struct reg_req *req, struct upload *up)
{
  struct upload_req *u = calloc (1, sizeof *u);
  if (u == NULL)
    return NULL;
  u->up = up;
  u->path = data_path (req->name, up->uuid);
  req->ctx = u;
  req->cleanup = upload_req_cleanup;
  return u->path ? u : NULL;
}

static void patch_finish (struct reg_req *req)
{
  struct upload_req *u = req->ctx;
  if (req->body_errno)
    return reply_error_status (req, 500, "UNKNOWN", strerror (req->body_errno));
  if (!chunk_length_ok (req, u))
    return;
  u->up->offset = u->start + req->body_bytes;
  reply_empty (req, 202);
  upload_headers (req, u->up);
}

void uploads_patch (struct reg_req *req)
{
  struct upload *up = NULL;
  int r = upload_acquire (req->reg, req->name, req->ref, &up);
  if (r < 0)
    return reply_acquire_error (req, r);
  struct upload_req *u = upload_req_new (req, up);
  if (u == NULL)
    return reply_error_status (req, 500, "UNKNOWN", "out of memory");
  if (upload_begin_body (req, u))
    req->finish = patch_finish;
}

/* Verify and commit: the end of PUT and of a monolithic POST. */
static void complete_finish (struct reg_req *req)
{
  struct registry *reg = req->reg;
  struct upload_req *u = req->ctx;
  const char *want = req_query (req, "digest");
  berth_err err = NULL;
  if (req->body_errno)
    return reply_error_status (req, 500, "UNKNOWN", strerror (req->body_errno));
  if (!chunk_length_ok (req, u))
    return;
  u->up->offset = u->start + req->body_bytes;
  char got[REG_DIGEST_LEN + 1];
  struct reg_hash copy;
  if (reg_hash_copy (&copy, &u->up->hash) < 0)
    return reply_error_status (req, 500, "UNKNOWN", "out of memory");
  reg_hash_final (&copy, got);
  /* whatever the outcome, this upload is over */
  u->done = true;
  cleanup_free char *dir = reg_repo_path (req->name, "_uploads/%s", u->up->uuid);
  if (strcmp (got, want) != 0)
    {
      if (dir)
        reg_remove_tree (reg, dir);
      return reply_error (req, "DIGEST_INVALID", "the content's digest is %s", got);
    }
  if (fsync (req->body_fd) < 0)
    {
      if (dir)
        reg_remove_tree (reg, dir);
      return reply_error_status (req, 500, "UNKNOWN", strerror (errno));
    }
  if (reg_blob_commit (reg, u->path, got, &err) < 0 || reg_repo_link_blob (reg, req->name, got, &err) < 0)
    {
      if (dir)
        reg_remove_tree (reg, dir);
      return reply_internal (req, &err);
    }
  if (dir)
    reg_remove_tree (reg, dir);
  reply_empty (req, 201);
  reply_headerf (req, "Location", "/v2/%s/blobs/%s", req->name, got);
  reply_header (req, "Docker-Content-Digest", got);
}

void uploads_put (struct reg_req *req)
{
  const char *want = req_query (req, "digest");
  struct upload *up = NULL;
  int r = upload_acquire (req->reg, req->name, req->ref, &up);
  if (r < 0)
    return reply_acquire_error (req, r);
  struct upload_req *u = upload_req_new (req, up);
  if (u == NULL)
    return reply_error_status (req, 500, "UNKNOWN", "out of memory");
  if (!reg_digest_valid (want))
    return reply_error (req, "DIGEST_INVALID", "missing or unsupported digest: %s", want ? want : "(none)");
  if (upload_begin_body (req, u))
    req->finish = complete_finish;
}

/* Mount: link a blob of FROM into NAME, if the client may read FROM. */
static bool try_mount (struct reg_req *req)
{
  const char *digest = req_query (req, "mount");
  const char *from = req_query (req, "from");
  if (!reg_digest_valid (digest) || !reg_name_valid (from) || !req_allowed (req, from, "pull"))
    return false;
  if (!reg_repo_has_blob (req->reg, from, digest))
    return false;
  berth_err err = NULL;
  if (reg_repo_link_blob (req->reg, req->name, digest, &err) < 0)
    {
      reply_internal (req, &err);
      return true;
    }
  reply_empty (req, 201);
  reply_headerf (req, "Location", "/v2/%s/blobs/%s", req->name, digest);
  reply_header (req, "Docker-Content-Digest", digest);
  return true;
}

void uploads_post (struct reg_req *req)
{
  if (req_query (req, "mount") && try_mount (req))
    return;
  const char *digest = req_query (req, "digest");
  if (digest && !reg_digest_valid (digest))
    return reply_error (req, "DIGEST_INVALID", "unsupported digest: %s", digest);
  struct upload *up = NULL;
  berth_err err = NULL;
  if (upload_create (req->reg, req->name, &up, &err) < 0)
    return reply_internal (req, &err);
  struct upload_req *u = upload_req_new (req, up);
  if (u == NULL)
    {
      upload_release (req->reg, up, false);
      return reply_error_status (req, 500, "UNKNOWN", "out of memory");
    }
  if (digest)
    {
      /* the whole blob in this request */
      if (upload_begin_body (req, u))
        req->finish = complete_finish;
      return;
    }
  reply_empty (req, 202);
  upload_headers (req, up);
}

void uploads_status (struct reg_req *req)
{
  struct upload *up = NULL;
  int r = upload_acquire (req->reg, req->name, req->ref, &up);
  if (r < 0)
    return reply_acquire_error (req, r);
  reply_empty (req, 204);
  upload_headers (req, up);
  upload_release (req->reg, up, false);
}

void uploads_cancel (struct reg_req *req)
{
  struct upload *up = NULL;
  int r = upload_acquire (req->reg, req->name, req->ref, &up);
  if (r < 0)
    return reply_acquire_error (req, r);
  cleanup_free char *dir = reg_repo_path (req->name, "_uploads/%s", up->uuid);
  if (dir)
    reg_remove_tree (req->reg, dir);
  upload_release (req->reg, up, true);
  reply_empty (req, 204);
}
