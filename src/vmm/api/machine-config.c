/* GET, PUT and PATCH /machine-config: vCPUs, memory, SMT, CPU template. */
#include "vmm/api/api-internal.h"

void api_machine_config_get (struct vmm_api *api, struct api_call *call, struct api_reply *rep)
{
  (void) call;
  api_json (rep, vm_machine_to_json (&api->cfg.machine));
}

static void set_machine (struct vmm_api *api, struct api_call *call, struct api_reply *rep, bool patch)
{
  berth_err err = NULL;
  if (vm_config_set_machine (&api->cfg, call->body, patch, NULL, &err) < 0)
    {
      api_fault_err (rep, &err);
      return;
    }
  api_ok (rep);
}

void api_machine_config_put (struct vmm_api *api, struct api_call *call, struct api_reply *rep)
{
  set_machine (api, call, rep, false);
}

void api_machine_config_patch (struct vmm_api *api, struct api_call *call, struct api_reply *rep)
{
  set_machine (api, call, rep, true);
}
