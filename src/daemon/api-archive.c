/* Files of a container: GET/HEAD/PUT /containers/{id}/archive (docker cp)
 * and GET /containers/{id}/export.
 *
 * The work itself happens in a child chrooted into the container's root
 * (container-archive.c), which is the overlayfs mount: it exists while the
 * container runs, and is mounted here for the time of the request
 * otherwise.  Everything runs under the container's op_lock, so a start,
 * stop or remove waits for a copy to finish (tars are written to a temp
 * file first, and streamed from it after the lock is dropped).  Binds,
 * tmpfs and volumes are not seen (see container-archive.h). */
#include "daemon/daemon.h"
#include "daemon/container.h"
#include "daemon/container-archive.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* api-containers.c */

#define STAT_HEADER "X-Docker-Container-Path-Stat"
#define TAR_TYPE "application/x-tar"

/* Run JOB in C's root, mounting it for the time of the job when C does
 * not run. */
static int run_in_root (struct berthd *d, struct container *c, struct archive_job *job, struct archive_result *res,
                        berth_err *err)
{
  pthread_mutex_lock (&c->op_lock);
  containers_lock (d->containers);
  bool live = c->status == CT_RUNNING || c->status == CT_PAUSED;
  bool gone = c->removed || c->status == CT_REMOVING;
  containers_unlock (d->containers);
  int r;
  if (gone)
    r = berth_fail_as (err, ENOENT, "No such container: %s", c->id);
  else if ((r = container_mount (d, c, err)) == 0)
    {
      cleanup_free char *rootfs = NULL;
      cleanup_close int root = -1;
      if (asprintf (&rootfs, "%s/rootfs", c->dir) < 0)
        r = berth_fail (err, ENOMEM, "archive");
      else if ((root = open (rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
        r = berth_fail_errno (err, "open %s", rootfs);
      else
        {
          /* The open root stays valid even if the container exits now and
           * its root is unmounted (lazily) under us. */
          job->root_fd = root;
          r = archive_run (job, res, err);
        }
    }
  if (!live && !gone)
    container_unmount (d, c);
  pthread_mutex_unlock (&c->op_lock);
  return r;
}

/* The reply for a job that ran but failed. */
static void reply_job_error (struct request *req, struct reply *rep, const struct archive_result *res)
{
  const char *path = request_query (req, "path");
  bool put = strcmp (req->method, "PUT") == 0;
  if (res->errnum == ENOENT || (res->errnum == ENOTDIR && !put))
    reply_error (rep, 404, "Could not find the file %s in container %s", path ? path : "", req->params[0]);
  else if (res->errnum == ENOTDIR || res->errnum == EINVAL)
    reply_error (rep, 400, "%s", res->msg);
  else
    reply_error (rep, 500, "%s", res->msg[0] ? res->msg : "archive failed");
}

/* The ?path= in Docker's absolute form; on error replies 400, NULL. */
static char *abs_path_query (struct request *req, struct reply *rep)
{
  const char *path = request_query (req, "path");
  if (path == NULL || *path == '\0')
    {
      reply_error (rep, 400, "path cannot be empty");
      return NULL;
    }
  char *abs = archive_abs_path (path);
  if (abs == NULL)
    reply_error (rep, 500, "out of memory");
  return abs;
}

static void set_stat_header (struct reply *rep, const char *abs, const struct archive_result *res)
{
  cleanup_free char *name = archive_base_name (abs);
  struct timespec mtime = { .tv_sec = res->mtime_sec, .tv_nsec = res->mtime_nsec };
  cleanup_json json_t *stat = archive_path_stat_json (name ? name : "", res->size, archive_go_mode (res->mode),
                                                      &mtime, res->link_target);
  cleanup_free char *value = stat ? archive_path_stat_header (stat) : NULL;
  if (value)
    reply_header (rep, STAT_HEADER, value);
}

/* Stat (HEAD) or tar (GET) the path. */
static void archive_path (struct request *req, struct reply *rep, enum archive_op op)
{
  cleanup_free char *abs = abs_path_query (req, rep);
  if (abs == NULL)
    return;
  struct container *c = api_container_lookup (req, rep);
  if (c == NULL)
    return;
  struct berthd *d = req->daemon;
  cleanup_close int out = op == ARCHIVE_OP_GET ? berthd_temp_file (d) : -1;
  struct archive_job job = { .op = op, .path = abs, .data_fd = out };
  struct archive_result res;
  berth_err err = NULL;
  if (op == ARCHIVE_OP_GET && out < 0)
    reply_error (rep, 500, "cannot create a temporary file: %s", strerror (errno));
  else if (run_in_root (d, c, &job, &res, &err) < 0)
    reply_berth_error (rep, &err);
  else if (!res.ok)
    reply_job_error (req, rep, &res);
  else
    {
      set_stat_header (rep, abs, &res);
      if (op == ARCHIVE_OP_GET)
        {
          container_event (d, c, "archive-path", NULL);
          lseek (out, 0, SEEK_SET);
          reply_fd (rep, 200, TAR_TYPE, take_fd (&out));
        }
      else
        reply_text (rep, 200, NULL, "");
    }
  container_put (d->containers, c);
}

void api_container_archive_head (struct request *req, struct reply *rep)
{
  archive_path (req, rep, ARCHIVE_OP_STAT);
}

void api_container_archive_get (struct request *req, struct reply *rep)
{
  archive_path (req, rep, strcmp (req->method, "HEAD") == 0 ? ARCHIVE_OP_STAT : ARCHIVE_OP_GET);
}

/* Config.User when the client asked for copyUIDGID (NULL: keep the tar's
 * owners). */
static char *owner_for_upload (struct request *req, struct container *c)
{
  if (!request_query_bool (req, "copyUIDGID", false))
    return NULL;
  containers_lock (req->daemon->containers);
  const char *user = json_string_value (json_object_get (c->config, "User"));
  char *copy = user && *user ? strdup (user) : NULL;
  containers_unlock (req->daemon->containers);
  return copy;
}

static bool readonly_rootfs (struct request *req, struct container *c)
{
  containers_lock (req->daemon->containers);
  bool ro = json_is_true (json_object_get (c->host_config, "ReadonlyRootfs"));
  containers_unlock (req->daemon->containers);
  return ro;
}

void api_container_archive_put (struct request *req, struct reply *rep)
{
  cleanup_free char *abs = abs_path_query (req, rep);
  if (abs == NULL)
    return;
  if (req->body_fd < 0)
    {
      reply_error (rep, 400, "the request has no archive");
      return;
    }
  struct container *c = api_container_lookup (req, rep);
  if (c == NULL)
    return;
  struct berthd *d = req->daemon;
  cleanup_free char *owner = owner_for_upload (req, c);
  struct archive_job job = {
    .op = ARCHIVE_OP_PUT,
    .path = abs,
    .data_fd = req->body_fd,
    .no_overwrite_dir_non_dir = request_query_bool (req, "noOverwriteDirNonDir", false),
    .chown_user = owner,
  };
  struct archive_result res;
  berth_err err = NULL;
  if (readonly_rootfs (req, c))
    reply_error (rep, 400, "container rootfs is marked read-only");
  else if (lseek (req->body_fd, 0, SEEK_SET) < 0)
    reply_error (rep, 500, "read the request: %s", strerror (errno));
  else if (run_in_root (d, c, &job, &res, &err) < 0)
    reply_berth_error (rep, &err);
  else if (!res.ok)
    reply_job_error (req, rep, &res);
  else
    {
      container_event (d, c, "extract-to-dir", NULL);
      reply_text (rep, 200, NULL, "");
    }
  container_put (d->containers, c);
}

void api_container_export (struct request *req, struct reply *rep)
{
  struct container *c = api_container_lookup (req, rep);
  if (c == NULL)
    return;
  struct berthd *d = req->daemon;
  cleanup_close int out = berthd_temp_file (d);
  struct archive_job job = { .op = ARCHIVE_OP_EXPORT, .path = "/", .data_fd = out };
  struct archive_result res;
  berth_err err = NULL;
  if (out < 0)
    reply_error (rep, 500, "cannot create a temporary file: %s", strerror (errno));
  else if (run_in_root (d, c, &job, &res, &err) < 0)
    reply_berth_error (rep, &err);
  else if (!res.ok)
    reply_error (rep, 500, "%s", res.msg);
  else
    {
      container_event (d, c, "export", NULL);
      lseek (out, 0, SEEK_SET);
      reply_fd (rep, 200, TAR_TYPE, take_fd (&out));
    }
  container_put (d->containers, c);
}
