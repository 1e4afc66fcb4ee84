/* PUT and PATCH /drives/{id}: virtio-blk devices.  Both are pre-boot only
 * here: swapping a running drive's backing file (Firecracker's post-boot
 * PATCH) is not in the VMM core's interface. */
#include "vmm/api/api-internal.h"

void api_drive_put (struct vmm_api *api, struct api_call *call, struct api_reply *rep)
{
  berth_err err = NULL;
  if (vm_config_put_drive (&api->cfg, call->id, call->body, NULL, &err) < 0)
    {
      api_fault_err (rep, &err);
      return;
    }
  api_ok (rep);
}

void api_drive_patch (struct vmm_api *api, struct api_call *call, struct api_reply *rep)
{
  berth_err err = NULL;
  if (vm_config_patch_drive (&api->cfg, call->id, call->body, &err) < 0)
    {
      api_fault_err (rep, &err);
      return;
    }
  api_ok (rep);
}
