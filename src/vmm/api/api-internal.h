/* Shared between the API's files: the server's state and the handlers, one
 * file per resource (Firecracker's split). */
#ifndef BERTH_VMM_API_INTERNAL_H
#define BERTH_VMM_API_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "common/json.h"
#include "vmm/api/api.h"
#include "vmm/vm-config.h"
#include "vmm/vmm.h"

#define API_NOT_AFTER_START "The requested operation is not supported after starting the microVM."
#define API_NOT_BEFORE_START "The requested operation is not supported before starting the microVM."

struct vmm_api
{
  /* Requests come one at a time, but the waiter (vmm_api_wait) reads vm
   * and started from another thread: they change under the lock. */
  pthread_mutex_t lock;
  struct vm_config cfg;  /* what the API was told; the VM's copy is its own */
  struct vmm *vm;        /* after InstanceStart */
  bool started;
  int started_fd;        /* eventfd, written once InstanceStart succeeded */
};

/* One request, after routing: ID is the {id} of the path, BODY the parsed
 * JSON object of a PUT/PATCH (NULL for GET). */
struct api_call
{
  const char *method;
  const char *id;
  json_t *body;
};

struct api_reply
{
  unsigned status;
  json_t *body;          /* NULL: no body (204) */
};

/* 204 No Content */
void api_ok (struct api_reply *rep);
/* 200 with BODY (stolen) */
void api_json (struct api_reply *rep, json_t *body);
/* 400 {"fault_message": ...} */
void api_fault (struct api_reply *rep, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
/* 400 with the error's message; frees it. */
void api_fault_err (struct api_reply *rep, berth_err *err);

typedef void (*api_handler) (struct vmm_api *api, struct api_call *call, struct api_reply *rep);

/* The handlers.  The router has checked the state (pre-boot/running) and
 * that a PUT/PATCH body is a JSON object. */
void api_boot_source_put (struct vmm_api *, struct api_call *, struct api_reply *);
void api_machine_config_get (struct vmm_api *, struct api_call *, struct api_reply *);
void api_machine_config_put (struct vmm_api *, struct api_call *, struct api_reply *);
void api_machine_config_patch (struct vmm_api *, struct api_call *, struct api_reply *);
void api_drive_put (struct vmm_api *, struct api_call *, struct api_reply *);
void api_drive_patch (struct vmm_api *, struct api_call *, struct api_reply *);
void api_net_put (struct vmm_api *, struct api_call *, struct api_reply *);
void api_vsock_put (struct vmm_api *, struct api_call *, struct api_reply *);
void api_balloon_put (struct vmm_api *, struct api_call *, struct api_reply *);
void api_balloon_get (struct vmm_api *, struct api_call *, struct api_reply *);
void api_balloon_patch (struct vmm_api *, struct api_call *, struct api_reply *);
void api_balloon_stats_get (struct vmm_api *, struct api_call *, struct api_reply *);
void api_balloon_stats_patch (struct vmm_api *, struct api_call *, struct api_reply *);
void api_actions_put (struct vmm_api *, struct api_call *, struct api_reply *);
void api_instance_get (struct vmm_api *, struct api_call *, struct api_reply *);
void api_vm_config_get (struct vmm_api *, struct api_call *, struct api_reply *);

#endif
