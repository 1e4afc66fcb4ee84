/* POST /containers/{id}/update: new resource limits and restart policy.
 * The HostConfig changes (and is saved) under the big lock; a running
 * container then gets the new limits from its runtime (`RUNTIME update
 * --resources FILE ID`, which berth-runtime and runc both take).  If the
 * runtime refuses, the old HostConfig comes back, as with Docker. */
#include "daemon/container-internal.h"
#include "daemon/update-config.h"
#include "common/cleanup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int runtime_update (struct berthd *d, struct container *c, json_t *resources, berth_err *err)
{
  cleanup_free char *file = NULL, *out = NULL;
  /* The monitor's state folder exists while the container runs, and only
   * one update runs at a time (op_lock). */
  if (asprintf (&file, "%s/update-resources.json", c->state_dir) < 0)
    return berth_fail (err, ENOMEM, "update");
  if (berth_json_replace_file (file, resources, err) < 0)
    return berth_error_prefix (err, "Cannot update container %s", c->id);
  const char *args[] = { "update", "--resources", file, c->id, NULL };
  int r = container_runtime_call (d, c, args, &out);
  unlink (file);
  if (r == 0)
    return 0;
  cleanup_free char *msg = r < 0 ? strdup (strerror (-r)) : runtime_error_message (out);
  return berth_fail_as (err, EIO, "Cannot update container %s: %s", c->id, msg ? msg : "the runtime failed");
}

static void restore_host_config (struct containers *cs, struct container *c, json_t *old)
{
  containers_lock (cs);
  json_decref (c->host_config);
  c->host_config = json_incref (old);
  container_save (cs, c, NULL);
  containers_unlock (cs);
}

static int update_locked_op (struct berthd *d, struct container *c, json_t *update, berth_err *err)
{
  struct containers *cs = d->containers;
  cleanup_json json_t *old = NULL, *next = NULL, *resources = NULL;
  containers_lock (cs);
  if (c->removed || c->status == CT_REMOVING || c->status == CT_DEAD)
    {
      containers_unlock (cs);
      return berth_fail_as (err, EIO, "Cannot update container %s: container is marked for removal and cannot be "
                                      "\"update\"", c->id);
    }
  old = json_incref (c->host_config);
  next = json_deep_copy (c->host_config);
  int r = next ? host_config_update (next, update, sysconf (_SC_NPROCESSORS_ONLN), &resources, err)
               : berth_fail (err, ENOMEM, "update");
  if (r == -EBUSY)
    berth_error_prefix (err, "Cannot update container %s", c->id);
  if (r == 0)
    {
      json_decref (c->host_config);
      c->host_config = json_incref (next);
      r = container_save (cs, c, err);
      if (r < 0)
        {
          json_decref (c->host_config);
          c->host_config = json_incref (old);
        }
    }
  /* Paused counts as running: its cgroup is there to update. */
  bool live = c->status == CT_RUNNING || c->status == CT_PAUSED;
  containers_unlock (cs);
  if (r < 0)
    return r;
  /* A stopped container gets the new limits at its next start (from the
   * saved HostConfig). */
  if (live && json_object_size (resources) > 0 && (r = runtime_update (d, c, resources, err)) < 0)
    restore_host_config (cs, c, old);
  return r;
}

int container_update (struct berthd *d, struct container *c, json_t *update, json_t **warnings, berth_err *err)
{
  pthread_mutex_lock (&c->op_lock);
  int r = update_locked_op (d, c, update, err);
  pthread_mutex_unlock (&c->op_lock);
  if (r < 0)
    return r;
  if (warnings)
    *warnings = json_array ();
  container_event (d, c, "update", NULL);
  return 0;
}
