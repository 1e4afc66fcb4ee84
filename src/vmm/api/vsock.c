/* PUT /vsock: the virtio-vsock device and its host-side Unix socket. */
#include "vmm/api/api-internal.h"

void api_vsock_put (struct vmm_api *api, struct api_call *call, struct api_reply *rep)
{
  berth_err err = NULL;
  if (vm_config_set_vsock (&api->cfg, call->body, NULL, &err) < 0)
    {
      api_fault_err (rep, &err);
      return;
    }
  api_ok (rep);
}
