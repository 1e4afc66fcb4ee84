/* PUT /boot-source: the kernel, the initrd and the command line. */
#include "vmm/api/api-internal.h"

void api_boot_source_put (struct vmm_api *api, struct api_call *call, struct api_reply *rep)
{
  berth_err err = NULL;
  if (vm_config_set_boot_source (&api->cfg, call->body, NULL, &err) < 0)
    {
      api_fault_err (rep, &err);
      return;
    }
  api_ok (rep);
}
