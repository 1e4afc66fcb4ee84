/* PUT /actions: InstanceStart (build and start the VM from the
 * configuration) and SendCtrlAltDel (the i8042 reset sequence). */
#include "vmm/api/api-internal.h"
#include "common/log.h"

#include <string.h>
#include <unistd.h>

static void instance_start (struct vmm_api *api, struct api_reply *rep)
{
  berth_err err = NULL;
  if (api->started)
    {
      api_fault (rep, API_NOT_AFTER_START);
      return;
    }
  if (vm_config_validate (&api->cfg, &err) < 0)
    {
      berth_error_prefix (&err, "Cannot start the microVM");
      {
        api_fault_err (rep, &err);
        return;
      }
    }
  struct vmm *vm = NULL;
  if (vmm_create (&api->cfg, &vm, &err) < 0)
    {
      berth_error_prefix (&err, "Cannot start the microVM");
      {
        api_fault_err (rep, &err);
        return;
      }
    }
  if (vmm_start (vm, &err) < 0)
    {
      vmm_destroy (vm);
      berth_error_prefix (&err, "Cannot start the microVM");
      {
        api_fault_err (rep, &err);
        return;
      }
    }
  pthread_mutex_lock (&api->lock);
  api->vm = vm;
  api->started = true;
  pthread_mutex_unlock (&api->lock);
  uint64_t one = 1;
  if (write (api->started_fd, &one, sizeof one) < 0)
    berth_log (BERTH_LOG_ERROR, "api: cannot wake the server loop");
  berth_log (BERTH_LOG_INFO, "api: microVM started");
  api_ok (rep);
}

static void ctrl_alt_del (struct vmm_api *api, struct api_reply *rep)
{
  berth_err err = NULL;
  if (!api->started)
    {
      api_fault (rep, API_NOT_BEFORE_START);
      return;
    }
  if (vmm_send_ctrl_alt_del (api->vm, &err) < 0)
    {
      api_fault_err (rep, &err);
      return;
    }
  api_ok (rep);
}

void api_actions_put (struct vmm_api *api, struct api_call *call, struct api_reply *rep)
{
  const char *key;
  json_t *v;
  json_object_foreach (call->body, key, v)
    if (strcmp (key, "action_type") != 0)
      {
        api_fault (rep, "%s: unknown field", key);
        return;
      }
  json_t *type = json_object_get (call->body, "action_type");
  if (type == NULL)
    {
      api_fault (rep, "action_type: missing required field");
      return;
    }
  if (!json_is_string (type))
    {
      api_fault (rep, "action_type: expected a string");
      return;
    }
  const char *t = json_string_value (type);
  if (strcmp (t, "InstanceStart") == 0)
    instance_start (api, rep);
  else if (strcmp (t, "SendCtrlAltDel") == 0)
    ctrl_alt_del (api, rep);
  else if (strcmp (t, "FlushMetrics") == 0)
    api_fault (rep, "FlushMetrics: berth-vmm has no metrics to flush.");
  else
    api_fault (rep, "action_type: unknown action \"%s\" (InstanceStart, SendCtrlAltDel)", t);
}
