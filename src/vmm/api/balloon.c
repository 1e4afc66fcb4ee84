/* The balloon: PUT before boot; GET any time once configured; PATCH the
 * target and the statistics interval, and GET the statistics, while the
 * guest runs (Firecracker's rules). */
#include "vmm/api/api-internal.h"

#define NO_BALLOON "No balloon device configured."

void api_balloon_put (struct vmm_api *api, struct api_call *call, struct api_reply *rep)
{
  berth_err err = NULL;
  if (vm_config_set_balloon (&api->cfg, call->body, NULL, &err) < 0)
    {
      api_fault_err (rep, &err);
      return;
    }
  api_ok (rep);
}

void api_balloon_get (struct vmm_api *api, struct api_call *call, struct api_reply *rep)
{
  (void) call;
  if (!api->cfg.balloon.present)
    {
      api_fault (rep, NO_BALLOON);
      return;
    }
  api_json (rep, vm_balloon_to_json (&api->cfg.balloon));
}

void api_balloon_patch (struct vmm_api *api, struct api_call *call, struct api_reply *rep)
{
  berth_err err = NULL;
  uint32_t amount = 0;
  if (!api->cfg.balloon.present)
    {
      api_fault (rep, NO_BALLOON);
      return;
    }
  if (vm_balloon_update_from_json (call->body, &amount, &err) < 0)
    {
      api_fault_err (rep, &err);
      return;
    }
  if (amount > api->cfg.machine.mem_size_mib)
    {
      api_fault (rep, "amount_mib: %u MiB is more than the guest's memory (%llu MiB)", amount,
                        (unsigned long long) api->cfg.machine.mem_size_mib);
      return;
    }
  if (vmm_balloon_set_target (api->vm, amount, &err) < 0)
    {
      api_fault_err (rep, &err);
      return;
    }
  api->cfg.balloon.amount_mib = amount;
  api_ok (rep);
}

void api_balloon_stats_get (struct vmm_api *api, struct api_call *call, struct api_reply *rep)
{
  (void) call;
  berth_err err = NULL;
  if (!api->cfg.balloon.present)
    {
      api_fault (rep, NO_BALLOON);
      return;
    }
  if (api->cfg.balloon.stats_polling_interval_s == 0)
    {
      api_fault (rep, "Statistics for the balloon device are not enabled.");
      return;
    }
  json_t *stats = NULL;
  if (vmm_balloon_stats (api->vm, &stats, &err) < 0)
    {
      api_fault_err (rep, &err);
      return;
    }
  api_json (rep, stats);
}

void api_balloon_stats_patch (struct vmm_api *api, struct api_call *call, struct api_reply *rep)
{
  berth_err err = NULL;
  uint32_t interval = 0;
  if (!api->cfg.balloon.present)
    {
      api_fault (rep, NO_BALLOON);
      return;
    }
  if (vm_balloon_stats_update_from_json (call->body, &interval, &err) < 0)
    {
      api_fault_err (rep, &err);
      return;
    }
  /* The statistics queue exists only if it was asked for at boot. */
  if ((api->cfg.balloon.stats_polling_interval_s == 0) != (interval == 0))
    {
      api_fault (rep, "Cannot enable or disable the balloon statistics after boot "
                             "(set stats_polling_interval_s in PUT /balloon).");
      return;
    }
  if (vmm_balloon_set_stats_interval (api->vm, interval, &err) < 0)
    {
      api_fault_err (rep, &err);
      return;
    }
  api->cfg.balloon.stats_polling_interval_s = interval;
  api_ok (rep);
}
