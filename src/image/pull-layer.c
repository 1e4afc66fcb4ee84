/* Pulling layers: up to max_downloads layers at once, each in a thread of
 * its own that streams the blob from the registry into a temp blob file
 * (sha256 of the compressed bytes as they arrive) and, through a pipe,
 * into a second thread that decompresses and unpacks it (the diff id
 * computed on the way, img_layer_prepare).  When both are done and both
 * digests match, the blob and the layer are committed; otherwise both are
 * thrown away.
 *
 * Why threads with blocking easy handles rather than one curl multi loop:
 * each download feeds its own unpacker through a pipe, and a blocking
 * write into that pipe is the back-pressure; in a multi loop one slow
 * unpacker would stall every other transfer. */
#include "image/pull-internal.h"
#include "common/fs.h"

#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PIPE_BYTES (1 << 20)
#define RECV_BUFFER (256 * 1024)
/* Progress messages per layer: at most one per this many ms. */
#define PROGRESS_MS 100

volatile sig_atomic_t pull_cancelled;

static int64_t now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the unpacking thread ---- */

struct unpacker
{
  struct pull_job *job;
  struct pull_layer *l;
  int fd; /* the pipe's read end */
  char *tmp;
  int result;
  berth_err err;
};

static void drain (int fd)
{
  char buf[65536];
  ssize_t n;
  while ((n = read (fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    ;
}

static void *unpack_thread (void *opaque)
{
  struct unpacker *u = opaque;
  cleanup_archive struct archive *a = NULL;
  u->result = img_raw_open_fd (u->fd, &a, &u->err);
  if (u->result == 0)
    u->result = img_layer_prepare (u->job->s, a, u->l->name, u->l->diff_id, &u->tmp, &u->err);
  /* Read what is left (padding after the tar; or everything after a
   * failure) so that the download completes and its digest tells
   * whether the registry sent a corrupt blob. */
  drain (u->fd);
  return NULL;
}

/* ---- the download ---- */

struct download
{
  struct pull_job *job;
  struct pull_layer *l;
  struct img_blob_writer w;
  int pipe_fd; /* write end, or -1 when the layer is unpacked from the file afterwards */
  bool status_checked, bad_status;
  char errbody[1024];
  size_t errlen;
  int64_t last_ms;
  int write_err;
};

static size_t write_cb (char *buf, size_t size, size_t n, void *opaque)
{
  struct download *d = opaque;
  size_t len = size * n;
  if (!d->status_checked)
    {
      long status = 0;
      curl_easy_getinfo (d->l->curl, CURLINFO_RESPONSE_CODE, &status);
      d->status_checked = true;
      d->bad_status = status != 200;
    }
  if (d->bad_status)
    {
      size_t k = len < sizeof d->errbody - 1 - d->errlen ? len : sizeof d->errbody - 1 - d->errlen;
      memcpy (d->errbody + d->errlen, buf, k);
      d->errlen += k;
      return len;
    }
  if (d->job->abort)
    return 0;
  if (d->w.size + (int64_t) len > d->l->size)
    {
      d->write_err = -EFBIG;
      return 0;
    }
  if (img_blob_writer_write (&d->w, buf, len, NULL) < 0)
    {
      d->write_err = -EIO;
      return 0;
    }
  if (d->pipe_fd >= 0 && berth_write_all (d->pipe_fd, buf, len) < 0)
    {
      /* The unpacker gave up: it still drains, so this means it is gone. */
      close (d->pipe_fd);
      d->pipe_fd = -1;
    }
  return len;
}

static int progress_cb (void *opaque, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
  struct download *d = opaque;
  (void) dltotal, (void) ultotal, (void) ulnow;
  if (pull_cancelled && !d->job->abort)
    {
      pthread_mutex_lock (&d->job->lock);
      if (d->job->err == NULL)
        berth_fail_as (&d->job->err, ECANCELED, "pull cancelled");
      d->job->abort = true;
      pthread_mutex_unlock (&d->job->lock);
    }
  if (d->job->abort)
    return 1;
  int64_t t = now_ms ();
  if (dlnow > 0 && !d->bad_status && t - d->last_ms >= PROGRESS_MS)
    {
      d->last_ms = t;
      dist_progress_bytes (d->job->p, d->l->short_id, "Downloading", (int64_t) dlnow, d->l->size);
    }
  return 0;
}

static int fetch (struct download *d, berth_err *err)
{
  struct pull_layer *l = d->l;
  cleanup_free char *what = NULL;
  cleanup_free char *url = asprintf (&what, "blobs/%s", l->digest) < 0 ? NULL : dist_url (d->job->c, what);
  struct curl_slist *list = NULL;
  if (url == NULL)
    return berth_fail (err, ENOMEM, "download");
  CURL *h = dist_easy (d->job->c, url, NULL, &list, err);
  if (h == NULL)
    return -ENOMEM;
  l->curl = h;
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, d);
  curl_easy_setopt (h, CURLOPT_XFERINFOFUNCTION, progress_cb);
  curl_easy_setopt (h, CURLOPT_XFERINFODATA, d);
  curl_easy_setopt (h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt (h, CURLOPT_BUFFERSIZE, (long) RECV_BUFFER);
  CURLcode rc = curl_easy_perform (h);
  long status = 0;
  curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &status);
  l->curl = NULL;
  curl_easy_cleanup (h);
  curl_slist_free_all (list);
  if (d->job->abort)
    return -ECANCELED;
  if (d->write_err == -EFBIG)
    return berth_fail_as (err, EINVAL, "blob %s: the registry sent more than its %lld bytes", l->digest,
                          (long long) l->size);
  if (d->write_err < 0)
    return berth_fail (err, -d->write_err, "write blob %s", l->digest);
  if (d->bad_status || (rc == CURLE_OK && status != 200))
    {
      struct dist_response r = { .status = status, .body = strndup (d->errbody, d->errlen), .len = d->errlen };
      int ret = dist_fail_response (&r, l->digest, err);
      dist_response_free (&r);
      return ret;
    }
  if (rc != CURLE_OK)
    return berth_fail (err, EIO, "download %s: %s", l->digest, curl_easy_strerror (rc));
  if (d->w.size != l->size)
    return berth_fail_as (err, EIO, "download %s: got %lld of %lld bytes", l->digest, (long long) d->w.size,
                          (long long) l->size);
  return 0;
}

static int start_unpacker (struct download *d, struct unpacker *u, pthread_t *th, berth_err *err)
{
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return berth_fail_errno (err, "pipe");
  (void) fcntl (p[1], F_SETPIPE_SZ, PIPE_BYTES);
  memset (u, 0, sizeof *u);
  u->job = d->job;
  u->l = d->l;
  u->fd = p[0];
  d->pipe_fd = p[1];
  int r = pthread_create (th, NULL, unpack_thread, u);
  if (r != 0)
    {
      close (p[0]);
      close (p[1]);
      d->pipe_fd = -1;
      return berth_fail (err, r, "start an unpacking thread");
    }
  return 0;
}

/* Commit the verified blob and the unpacked layer. */
static int commit (struct download *d, struct unpacker *u, berth_err *err)
{
  bool fresh;
  struct pull_layer *l = d->l;
  int r = img_blob_commit (d->job->s, d->w.path, l->digest, &fresh, err);
  l->new_blob = r == 0 && fresh;
  if (r == 0 && u)
    {
      r = img_layer_commit (d->job->s, u->tmp, l->diff_id, &fresh, err);
      free (u->tmp);
      u->tmp = NULL;
    }
  else if (r == 0)
    {
      cleanup_free char *file = img_blob_path (d->job->s, l->digest);
      r = file ? img_layer_create (d->job->s, file, l->name, l->diff_id, &fresh, err) : berth_fail (err, ENOMEM, "layer");
    }
  l->new_layer = r == 0 && fresh;
  return r;
}

static int download_layer (struct pull_job *job, struct pull_layer *l, berth_err *err)
{
  struct download d = { .job = job, .l = l, .pipe_fd = -1 };
  struct unpacker u;
  pthread_t th;
  bool unpack = !img_layer_exists (job->s, l->diff_id);
  int r = img_blob_writer_open (job->s->tmp, &d.w, err);
  if (r < 0)
    return r;
  if (unpack && (r = start_unpacker (&d, &u, &th, err)) < 0)
    {
      img_blob_writer_cleanup (&d.w);
      return r;
    }
  r = fetch (&d, err);
  if (r == 0)
    {
      dist_progress_status (job->p, l->short_id, "Verifying Checksum");
      r = img_blob_writer_finish (&d.w, l->digest, l->digest, err);
      if (r == 0)
        dist_progress_status (job->p, l->short_id, "Download complete");
    }
  if (d.pipe_fd >= 0)
    close (d.pipe_fd);
  if (unpack)
    {
      pthread_join (th, NULL);
      close (u.fd);
      if (r == 0 && u.result < 0)
        {
          r = u.result;
          if (err)
            *err = take_ptr (u.err);
        }
      berth_error_free (&u.err);
    }
  if (r == 0)
    {
      dist_progress_bytes (job->p, l->short_id, "Extracting", l->size, l->size);
      r = commit (&d, unpack ? &u : NULL, err);
    }
  if (unpack && u.tmp)
    {
      berth_rm_rf (u.tmp);
      free (u.tmp);
    }
  img_blob_writer_cleanup (&d.w);
  return r;
}

/* The blob is in the store already, the layer is not (or the reverse is
 * handled by download_layer). */
static int unpack_stored (struct pull_job *job, struct pull_layer *l, berth_err *err)
{
  cleanup_free char *file = img_blob_path (job->s, l->digest);
  bool fresh;
  if (file == NULL)
    return berth_fail (err, ENOMEM, "layer");
  dist_progress_bytes (job->p, l->short_id, "Extracting", l->size, l->size);
  int r = img_layer_create (job->s, file, l->name, l->diff_id, &fresh, err);
  l->new_layer = r == 0 && fresh;
  return r;
}

static int pull_one (struct pull_job *job, struct pull_layer *l, berth_err *err)
{
  int r = img_blob_exists (job->s, l->digest) ? unpack_stored (job, l, err) : download_layer (job, l, err);
  if (r == 0)
    {
      dist_source_add (job->s, l->digest, job->c->host, job->c->repo);
      dist_progress_status (job->p, l->short_id, "Pull complete");
    }
  return r;
}

static void *layer_thread (void *opaque)
{
  struct pull_job *job = opaque;
  for (;;)
    {
      pthread_mutex_lock (&job->lock);
      struct pull_layer *l = NULL;
      while (job->next < job->n && !job->abort)
        {
          struct pull_layer *c = &job->layers[job->next++];
          if (!c->skip)
            {
              l = c;
              break;
            }
        }
      pthread_mutex_unlock (&job->lock);
      if (l == NULL)
        return NULL;
      berth_err err = NULL;
      if (pull_one (job, l, &err) < 0)
        {
          pthread_mutex_lock (&job->lock);
          /* The first failure is the one to report; the others are
           * mostly its consequence (cancelled downloads). */
          if (job->err == NULL && err)
            job->err = take_ptr (err);
          job->abort = true;
          pthread_mutex_unlock (&job->lock);
          berth_error_free (&err);
        }
    }
}

int pull_layers (struct pull_job *job, int max, berth_err *err)
{
  pthread_t th[16];
  int n = max < 1 ? 3 : max > 16 ? 16 : max, started = 0;
  pthread_mutex_init (&job->lock, NULL);
  size_t pending = 0;
  for (size_t i = 0; i < job->n; i++)
    if (!job->layers[i].skip && pending++ >= (size_t) n)
      dist_progress_status (job->p, job->layers[i].short_id, "Waiting");
  for (int i = 0; i < n && (size_t) i < pending; i++)
    {
      if (pthread_create (&th[started], NULL, layer_thread, job) != 0)
        break;
      started++;
    }
  if (started == 0 && pending > 0)
    return berth_fail (err, EAGAIN, "start the download threads");
  for (int i = 0; i < started; i++)
    pthread_join (th[i], NULL);
  pthread_mutex_destroy (&job->lock);
  if (job->err)
    {
      /* Complete layers of a failed pull go too: nothing of it stays. */
      for (size_t i = 0; i < job->n; i++)
        {
          if (job->layers[i].new_layer)
            img_layer_delete (job->s, job->layers[i].diff_id, NULL);
          if (job->layers[i].new_blob)
            img_blob_delete (job->s, job->layers[i].digest, NULL);
        }
      *err = take_ptr (job->err);
      return berth_error_ret (*err);
    }
  return 0;
}
