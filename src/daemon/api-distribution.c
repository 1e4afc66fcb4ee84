/* Registry endpoints of the Engine API: `docker pull` (POST
 * /images/create?fromImage=), `docker push` (POST /images/{name}/push) and
 * `docker login` (POST /auth).  The work runs in the image worker
 * (image-worker.h, src/image/distribution.h); berthd forwards its JSON
 * progress lines to the client as they come.
 *
 * Errors found before the first progress line (an unknown image, refused
 * credentials, an unreachable registry) are plain HTTP errors, as dockerd
 * answers them; later ones are {"errorDetail": {"message": ...}, "error":
 * ...} lines in the stream. */
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/image-worker.h"
#include "daemon/image-pull.h"
#include "image/distribution.h"
#include "image/image.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE_MAX_BYTES (1 << 20)

/* ---- the worker's run, as a stream ---- */

struct dist_stream
{
  struct berthd *d;
  struct image_worker_run run;
  char *pending; /* progress bytes read before the stream started */
  size_t pending_len;
  bool pull;
  json_t *early; /* the result, when the worker ended before its first line */
  char *shown;   /* the reference as the final status names it */
};

static void dist_stream_free (void *opaque)
{
  struct dist_stream *x = opaque;
  if (x->run.pid > 0)
    {
      json_t *res = NULL;
      berth_err err = NULL;
      image_worker_cancel (&x->run);
      if (image_worker_finish (&x->run, &res, &err) == 0)
        json_decref (res);
      berth_error_free (&err);
    }
  if (x->early)
    json_decref (x->early);
  free (x->pending);
  free (x->shown);
  free (x);
}

static json_t *error_line (const char *msg)
{
  return json_pack ("{s:{s:s},s:s}", "errorDetail", "message", msg, "error", msg);
}

static int write_json (struct stream_out *out, json_t *j)
{
  cleanup_free char *s = j ? json_dumps (j, JSON_COMPACT) : NULL;
  if (j)
    json_decref (j);
  if (s == NULL)
    return -ENOMEM;
  size_t n = strlen (s);
  s[n] = '\n';
  return stream_out_write (out, s, n + 1);
}

/* Record the pulled images under the store lock; the final status. */
static int record_pulled (struct berthd *d, const char *shown, json_t *res, json_t **status, berth_err *err)
{
  bool fresh_any = false;
  size_t i;
  json_t *img;
  int r = 0;
  pthread_mutex_lock (&d->image_lock);
  json_array_foreach (berth_json_arr (res, "images"), i, img)
    {
      cleanup_strv char **keys = NULL;
      bool fresh = false;
      const char *id = berth_json_str (img, "id"), *manifest = berth_json_str (img, "manifest");
      r = berth_json_strv (berth_json_arr (img, "keys"), &keys, "image worker", err);
      if (r == 0)
        r = image_record (d->images, id ? id : "", manifest ? manifest : "", keys, &fresh, err);
      if (r < 0)
        break;
      fresh_any |= fresh;
      json_t *attrs = json_pack ("{s:s}", "name", shown);
      events_emit (d->events, "image", "pull", shown, attrs);
    }
  pthread_mutex_unlock (&d->image_lock);
  if (r < 0)
    return r;
  cleanup_free char *text = NULL;
  if (asprintf (&text, "Status: %s for %s", fresh_any ? "Downloaded newer image" : "Image is up to date",
                shown) < 0)
    return berth_fail (err, ENOMEM, "pull");
  *status = json_pack ("{s:s}", "status", text);
  return 0;
}

static void finish_stream (struct stream_out *out, struct dist_stream *x)
{
  json_t *res = take_ptr (x->early);
  berth_err err = NULL;
  int r = res ? 0 : image_worker_finish (&x->run, &res, &err);
  json_t *last = NULL;
  if (r == 0 && x->pull)
    r = record_pulled (x->d, x->shown, res, &last, &err);
  if (res)
    json_decref (res);
  if (r < 0)
    last = error_line (err && err->msg ? err->msg : "failed");
  berth_error_free (&err);
  if (last)
    write_json (out, last);
}

static void dist_stream_run (struct stream_out *out, void *opaque)
{
  struct dist_stream *x = opaque;
  bool gone = x->pending_len && stream_out_write (out, x->pending, x->pending_len) < 0;
  char buf[65536];
  while (!gone && x->early == NULL)
    {
      ssize_t n = read (x->run.progress_fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      gone = stream_out_write (out, buf, (size_t) n) < 0;
    }
  /* The client went away: so does the pull (dockerd cancels too; the
   * worker rolls back).  One that had finished anyway is still recorded,
   * rather than leaving its layers unreferenced. */
  if (gone)
    image_worker_cancel (&x->run);
  finish_stream (out, x);
}

/* Wait for the worker's first complete progress line (or its end). */
static int first_line (struct dist_stream *x)
{
  size_t cap = 0;
  for (;;)
    {
      if (x->pending && memchr (x->pending, '\n', x->pending_len))
        return 1;
      if (x->pending_len + 4096 > cap)
        {
          if (cap > LINE_MAX_BYTES)
            return 1;
          char *nb = realloc (x->pending, cap = cap * 2 + 8192);
          if (nb == NULL)
            return -ENOMEM;
          x->pending = nb;
        }
      ssize_t n = read (x->run.progress_fd, x->pending + x->pending_len, cap - x->pending_len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return 0;
      x->pending_len += (size_t) n;
    }
}

static json_t *worker_args (struct berthd *d)
{
  return json_pack ("{s:O}", "insecure", d->cfg.insecure_registries);
}

/* X-Registry-Auth, decoded, as the worker's secret. */
static json_t *registry_auth (struct request *req, berth_err *err)
{
  struct dist_auth a;
  if (dist_auth_decode (request_header (req, "X-Registry-Auth"), &a, err) < 0)
    return NULL;
  json_t *j = json_pack ("{s:s?,s:s?,s:s?}", "username", a.username, "password", a.password, "identitytoken",
                         a.identity_token);
  dist_auth_free (&a);
  return j;
}

/* Start OP; answer an error at once if it fails before its first line,
 * else stream the rest. */
static void start_stream (struct request *req, struct reply *rep, const char *op, json_t *args, bool pull,
                          const char *shown)
{
  berth_err err = NULL;
  cleanup_json json_t *secret = registry_auth (req, &err);
  if (secret == NULL)
    return reply_berth_error (rep, &err);
  struct dist_stream *x = calloc (1, sizeof *x);
  if (x == NULL || (x->shown = strdup (shown)) == NULL)
    {
      free (x);
      return reply_error (rep, 500, "out of memory");
    }
  x->d = req->daemon;
  x->pull = pull;
  if (image_worker_start (req->daemon, op, args, secret, &x->run, &err) < 0)
    {
      dist_stream_free (x);
      return reply_berth_error (rep, &err);
    }
  int r = first_line (x);
  if (r <= 0)
    {
      json_t *res = NULL;
      if (image_worker_finish (&x->run, &res, &err) < 0)
        {
          int e = err ? err->errnum : 0;
          dist_stream_free (x);
          /* 403, not 401: on a 401 the docker CLI asks for a password
           * on its terminal (dockerd does not answer 401 here either). */
          if (e == EACCES)
            {
              reply_error (rep, 403, "%s", err->msg);
              berth_error_free (&err);
              return;
            }
          return reply_berth_error (rep, &err);
        }
      /* A run that ended without a line: the result alone goes into the
       * stream. */
      x->early = res;
    }
  reply_stream (rep, 200, "application/json", dist_stream_run, x, dist_stream_free);
}

/* ---- docker pull ---- */

void api_images_pull (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  const char *from = request_query (req, "fromImage");
  const char *tag = request_query (req, "tag");
  const char *platform = request_query (req, "platform");
  if (from == NULL || *from == '\0')
    return reply_error (rep, 400, "fromImage or fromSrc is required");
  /* tag is a tag or a digest; fromImage may carry one itself.  An image
   * named without either pulls every tag, as dockerd does. */
  cleanup_free char *ref = NULL;
  bool digest = tag && strncmp (tag, "sha256:", 7) == 0;
  if (asprintf (&ref, "%s%s%s", from, tag && *tag ? (digest ? "@" : ":") : "", tag && *tag ? tag : "") < 0)
    return reply_error (rep, 500, "out of memory");
  struct image_ref parsed = { 0 };
  berth_err err = NULL;
  if (image_ref_parse (ref, &parsed, &err) < 0)
    return reply_berth_error (rep, &err);
  const char *last = strrchr (from, '/');
  bool all_tags = (tag == NULL || *tag == '\0') && strchr (last ? last : from, ':') == NULL && !strchr (from, '@');
  struct image_ref shown_ref = { .name = parsed.name, .tag = all_tags ? NULL : parsed.tag, .digest = parsed.digest };
  if (parsed.digest)
    shown_ref.tag = NULL;
  cleanup_free char *shown = image_ref_familiar (&shown_ref);
  image_ref_free (&parsed);
  cleanup_json json_t *args = worker_args (d);
  json_object_set_new (args, "ref", json_string (ref));
  json_object_set_new (args, "all_tags", json_boolean (all_tags));
  if (platform && *platform)
    json_object_set_new (args, "platform", json_string (platform));
  start_stream (req, rep, "pull", args, true, shown ? shown : ref);
}

/* ---- docker push ---- */

void api_image_push (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  const char *tag = request_query (req, "tag");
  cleanup_json json_t *args = worker_args (d);
  json_object_set_new (args, "name", json_string (req->params[0]));
  if (tag && *tag)
    json_object_set_new (args, "tag", json_string (tag));
  start_stream (req, rep, "push", args, false, req->params[0]);
}

/* ---- docker login ---- */

void api_auth (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  cleanup_json json_t *body = request_json (req, rep);
  if (body == NULL)
    return;
  const char *server = berth_json_str (body, "serveraddress");
  cleanup_json json_t *args = worker_args (d);
  json_object_set_new (args, "server", json_string (server ? server : ""));
  cleanup_json json_t *secret = json_pack ("{s:s?,s:s?,s:s?}", "username", berth_json_str (body, "username"),
                                           "password", berth_json_str (body, "password"), "identitytoken",
                                           berth_json_str (body, "identitytoken"));
  struct image_worker_run run;
  berth_err err = NULL;
  json_t *res = NULL;
  int r = image_worker_start (d, "login", args, secret, &run, &err);
  if (r == 0)
    r = image_worker_finish (&run, &res, &err);
  if (res)
    json_decref (res);
  if (r < 0 && err && err->errnum == EACCES)
    {
      reply_error (rep, 401, "%s", err->msg);
      berth_error_free (&err);
      return;
    }
  if (r < 0)
    return reply_berth_error (rep, &err);
  reply_json (rep, 200, json_pack ("{s:s,s:s}", "Status", "Login Succeeded", "IdentityToken", ""));
}

/* ---- a pull for berthd itself (image-pull.h) ---- */

/* Each complete line of the worker's progress as a JSON message. */
static int forward_progress (int fd, int (*progress) (void *, json_t *), void *opaque)
{
  FILE *f = fdopen (dup (fd), "r");
  if (f == NULL)
    return -errno;
  char *line = NULL;
  size_t cap = 0;
  int r = 0;
  while (getline (&line, &cap, f) > 0)
    {
      cleanup_json json_t *msg = json_loads (line, 0, NULL);
      if (r == 0 && msg && progress && progress (opaque, msg) == -EPIPE)
        r = -EPIPE;
    }
  free (line);
  fclose (f);
  return r;
}

int berthd_image_pull (struct berthd *d, const char *name, json_t *secret, int (*progress) (void *opaque, json_t *msg),
                void *opaque, berth_err *err)
{
  struct image_ref parsed = { 0 };
  if (image_ref_parse (name, &parsed, err) < 0)
    return -EINVAL;
  cleanup_free char *ref = image_ref_familiar (&parsed);
  image_ref_free (&parsed);
  cleanup_json json_t *args = worker_args (d);
  if (ref == NULL || args == NULL)
    return berth_fail (err, ENOMEM, "pull");
  json_object_set_new (args, "ref", json_string (ref));
  json_object_set_new (args, "all_tags", json_false ());
  struct image_worker_run run;
  int r = image_worker_start (d, "pull", args, secret, &run, err);
  if (r < 0)
    return r;
  /* A reader that went away: the pull stops (the worker rolls back). */
  if (forward_progress (run.progress_fd, progress, opaque) == -EPIPE)
    image_worker_cancel (&run);
  cleanup_json json_t *res = NULL, *status = NULL;
  r = image_worker_finish (&run, &res, err);
  if (r == 0)
    r = record_pulled (d, ref, res, &status, err);
  if (r == 0 && status && progress)
    progress (opaque, status);
  return r;
}
