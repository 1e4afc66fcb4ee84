/* POST /build: the classic builder's endpoint, as `DOCKER_BUILDKIT=0
 * docker build` calls it.  The context tar (the request body, in a temp
 * file) is extracted into a private folder under <data-root>/build/tmp
 * before the reply starts, so a hostile context is a plain 400; the build
 * then streams Docker's JSON messages.  Query parameters the classic
 * builder would take and berth does not use (cpu and memory limits of the
 * step containers, extrahosts, squash...) are accepted and ignored, as
 * dockerd ignores what it does not know. */
#include "build/builder.h"
#include "image/distribution.h"
#include "daemon/daemon.h"
#include "image/image.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct build_job
{
  struct berthd *d;
  char *work_dir;
  int context_fd; /* the extracted context (build_context_extract) */
  char *dockerfile;
  char **tags;
  json_t *build_args;
  json_t *labels;
  char *target;
  char *network_mode;
  char *registry_config; /* X-Registry-Config as sent, or NULL */
  bool no_cache, quiet, force_rm, pull;
  struct stream_out *out;
};

static void job_free (void *p)
{
  struct build_job *j = p;
  if (j->context_fd >= 0)
    close (j->context_fd);
  if (j->work_dir)
    berth_rm_rf (j->work_dir);
  free (j->work_dir);
  free (j->dockerfile);
  cleanup_strvp (&j->tags);
  json_decref (j->build_args);
  json_decref (j->labels);
  free (j->target);
  free (j->network_mode);
  free (j->registry_config);
  free (j);
}

/* One JSON message per line, as dockerd's stream formatter writes them;
 * MSG NULL only asks whether the client is still there. */
static int emit (void *opaque, json_t *msg)
{
  struct build_job *j = opaque;
  if (msg == NULL)
    return stream_out_write (j->out, "", 0);
  cleanup_free char *text = json_dumps (msg, JSON_COMPACT);
  if (text == NULL)
    return -ENOMEM;
  size_t n = strlen (text);
  cleanup_free char *line = malloc (n + 3);
  if (line == NULL)
    return -ENOMEM;
  memcpy (line, text, n);
  memcpy (line + n, "\r\n", 3);
  return stream_out_write (j->out, line, n + 2);
}

/* CODE: a failing RUN's status (0: none), as dockerd's errorDetail.code. */
static void emit_error (struct build_job *j, const char *msg, int code)
{
  cleanup_json json_t *m = json_pack ("{s:{s:s},s:s}", "errorDetail", "message", msg, "error", msg);
  if (m && code)
    json_object_set_new (json_object_get (m, "errorDetail"), "code", json_integer (code));
  if (m)
    emit (j, m);
}

static void run_build (struct stream_out *out, void *ctx)
{
  struct build_job *j = ctx;
  j->out = out;
  int code = 0;
  struct build_request req = {
    .work_dir = j->work_dir,
    .context_fd = j->context_fd,
    .dockerfile = j->dockerfile,
    .tags = j->tags,
    .build_args = j->build_args,
    .labels = j->labels,
    .target = j->target,
    .no_cache = j->no_cache,
    .quiet = j->quiet,
    .force_rm = j->force_rm,
    .network_mode = j->network_mode,
    .pull = j->pull,
    .registry_config = j->registry_config,
    .emit = emit,
    .opaque = j,
    .exit_code = &code,
  };
  cleanup_free char *id = NULL;
  berth_err err = NULL;
  if (build_run (j->d, &req, &id, &err) < 0)
    {
      berth_debug ("build failed: %s", err && err->msg ? err->msg : "?");
      emit_error (j, err && err->msg ? err->msg : "build failed", code);
      berth_error_free (&err);
    }
}

/* A JSON object of strings from the query (buildargs, labels). */
static int query_object (struct request *req, const char *key, json_t **out, berth_err *err)
{
  const char *v = request_query (req, key);
  *out = NULL;
  if (v == NULL || *v == '\0')
    return (*out = json_object ()) ? 0 : -ENOMEM;
  json_t *j = json_loads (v, 0, NULL);
  const char *k;
  json_t *x;
  if (!json_is_object (j))
    {
      json_decref (j);
      return berth_fail_as (err, EINVAL, "invalid %s: expected a JSON object", key);
    }
  json_object_foreach (j, k, x)
    if (!json_is_string (x) && !json_is_null (x))
      {
        json_decref (j);
        return berth_fail_as (err, EINVAL, "invalid %s: %s is not a string", key, k);
      }
  *out = j;
  return 0;
}

static int check_tags (char **tags, berth_err *err)
{
  for (char **t = tags; t && *t; t++)
    {
      struct image_ref ref = { 0 };
      int r = image_ref_parse (*t, &ref, err);
      bool digest = r == 0 && ref.digest;
      image_ref_free (&ref);
      if (r < 0)
        return berth_error_prefix (err, "invalid tag %s", *t);
      if (digest)
        return berth_fail_as (err, EINVAL, "invalid tag %s: a digest cannot be a tag", *t);
    }
  return 0;
}

/* X-Registry-Config: kept for FROM's pulls, checked here so that a
 * malformed one fails the request before the context is read. */
static int registry_config (struct request *req, struct build_job *j, berth_err *err)
{
  const char *h = request_header (req, "X-Registry-Config");
  if (h == NULL || *h == '\0')
    return 0;
  struct dist_auth none;
  if (dist_auth_config_lookup (h, "", &none, err) < 0)
    return -EINVAL;
  dist_auth_free (&none);
  j->registry_config = strdup (h);
  return j->registry_config ? 0 : berth_fail (err, ENOMEM, "build");
}

static int job_prepare (struct request *req, struct build_job *j, berth_err *err)
{
  struct berthd *d = req->daemon;
  const char *remote = request_query (req, "remote");
  if (remote && *remote)
    return berth_fail_as (err, ENOSYS, "remote build contexts (%s) are not supported: send the context", remote);
  const char *df = request_query (req, "dockerfile");
  const char *target = request_query (req, "target");
  j->d = d;
  j->tags = request_query_all (req, "t");
  j->dockerfile = strdup (df && *df ? df : "Dockerfile");
  j->target = target && *target ? strdup (target) : NULL;
  j->no_cache = request_query_bool (req, "nocache", false);
  j->quiet = request_query_bool (req, "q", false);
  j->force_rm = request_query_bool (req, "forcerm", false);
  j->pull = request_query_bool (req, "pull", false);
  const char *net = request_query (req, "networkmode");
  j->network_mode = strdup (net && *net ? net : "default");
  int r = check_tags (j->tags, err);
  if (r == 0)
    r = registry_config (req, j, err);
  if (r == 0)
    r = query_object (req, "buildargs", &j->build_args, err);
  if (r == 0)
    r = query_object (req, "labels", &j->labels, err);
  if (r < 0)
    return r;
  char id[65];
  cleanup_free char *disk_dir = NULL;
  if (berthd_new_id (id) < 0 || asprintf (&j->work_dir, "%s/build/tmp/%.16s", d->cfg.data_root, id) < 0
      || asprintf (&disk_dir, "%s/context", j->work_dir) < 0)
    return berth_fail (err, ENOMEM, "build");
  if (req->body_too_large)
    return berth_fail_as (err, ENOSPC, "cannot store the build context (disk full?)");
  struct timespec t0, t1;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  r = build_context_extract (req->body_fd, disk_dir, &j->context_fd, err);
  clock_gettime (CLOCK_MONOTONIC, &t1);
  berth_debug ("build: context extracted in %.1f ms",
               (double) (t1.tv_sec - t0.tv_sec) * 1e3 + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6);
  return r;
}

void api_build (struct request *req, struct reply *rep)
{
  struct build_job *j = calloc (1, sizeof *j);
  berth_err err = NULL;
  if (j == NULL)
    return reply_error (rep, 500, "out of memory");
  j->context_fd = -1;
  if (job_prepare (req, j, &err) < 0)
    {
      job_free (j);
      return reply_berth_error (rep, &err);
    }
  reply_stream (rep, 200, "application/json", run_build, j, job_free);
}
