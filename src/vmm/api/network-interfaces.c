/* PUT /network-interfaces/{id}: virtio-net devices on tap interfaces. */
#include "vmm/api/api-internal.h"

void api_net_put (struct vmm_api *api, struct api_call *call, struct api_reply *rep)
{
  berth_err err = NULL;
  if (vm_config_put_net (&api->cfg, call->id, call->body, NULL, &err) < 0)
    {
      api_fault_err (rep, &err);
      return;
    }
  api_ok (rep);
}
