/* GET / (instance information) and GET /vm/config (the configuration as a
 * full-config JSON document, which --config-file accepts). */
#include "vmm/api/api-internal.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "unknown"
#endif

void api_instance_get (struct vmm_api *api, struct api_call *call, struct api_reply *rep)
{
  (void) call;
  pthread_mutex_lock (&api->lock);
  bool started = api->started;
  pthread_mutex_unlock (&api->lock);
  api_json (rep, json_pack ("{s:s,s:s,s:s,s:s}", "id", "anonymous-instance", "state",
                            started ? "Running" : "Not started", "vmm_version", BERTH_VERSION, "app_name",
                            "berth-vmm"));
}

void api_vm_config_get (struct vmm_api *api, struct api_call *call, struct api_reply *rep)
{
  (void) call;
  api_json (rep, vm_config_to_json (&api->cfg));
}
