/* berth-vmm's REST API, in Firecracker's shape, on a Unix socket.
 *
 *   PUT   /boot-source               pre-boot   kernel, initrd, command line
 *   GET   /machine-config            any time
 *   PUT   /machine-config            pre-boot   (vcpu_count, mem_size_mib required)
 *   PATCH /machine-config            pre-boot   only the fields given
 *   PUT   /drives/{id}               pre-boot   add or replace a drive
 *   PATCH /drives/{id}               pre-boot   path_on_host, rate_limiter
 *   PUT   /network-interfaces/{id}   pre-boot
 *   PUT   /vsock                     pre-boot
 *   PUT   /balloon                   pre-boot
 *   GET   /balloon                   any time (once configured)
 *   PATCH /balloon                   running    {"amount_mib"}: the target
 *   GET   /balloon/statistics        running    (stats_polling_interval_s > 0)
 *   PATCH /balloon/statistics        running    {"stats_polling_interval_s"}
 *   PUT   /actions                   {"action_type": "InstanceStart"} pre-boot,
 *                                    {"action_type": "SendCtrlAltDel"} running
 *   GET   /                          instance info: id, state, vmm_version, app_name
 *   GET   /vm/config                 the whole configuration (full-config JSON)
 *
 * Success: 204 without a body for PUT and PATCH, 200 with JSON for GET.
 * Errors: HTTP 400 with {"fault_message": "..."} (Firecracker's shape), for
 * bad JSON, unknown fields, wrong types, out-of-range values, unknown
 * paths and methods, and calls in the wrong state ("The requested
 * operation is not supported after starting the microVM." /
 * "... before starting the microVM.").
 *
 * The API calls only the VMM core's interface (vmm.h); requests are served
 * one at a time (one MHD thread), as Firecracker's are. */
#ifndef BERTH_VMM_API_H
#define BERTH_VMM_API_H

#include <stddef.h>

#include "common/error.h"
#include "vmm/vm-config.h"

/* Largest request body, as Firecracker's (51200 bytes). */
#define VMM_API_MAX_BODY 51200

/* Serve the API on SOCK_PATH (created; a stale socket there is replaced,
 * anything else is an error) starting from INITIAL (NULL: defaults; copied
 * from command-line flags or --config-file, may be empty).
 *
 * SIGTERM and SIGINT are blocked in the calling thread (and so in every
 * thread it starts, the VMM's included) and handled here.
 *
 * Returns 0 when the serving ended, with *EXIT_STATUS set to
 *   - the VM's exit status (VMM_EXIT_*, vmm.h) when the guest stopped,
 *   - 0 on SIGTERM/SIGINT before InstanceStart,
 *   - 128 + the signal on SIGTERM/SIGINT while the guest runs (the caller
 *     exits at once, which ends the vCPU threads);
 * or a negative errno if the socket or server could not be set up.  The
 * socket file is removed on return. */
int vmm_api_serve (const char *sock_path, const struct vm_config *initial, int *exit_status, berth_err *err);

/* ---- the parts vmm_api_serve is built of, for tests ---- */

struct vmm_api;

struct vmm_api *vmm_api_new (const struct vm_config *initial);
void vmm_api_free (struct vmm_api *api);

/* Handle one request: METHOD and PATH (query strings are ignored), the
 * body (may be NULL/0).  Sets *STATUS and *RESPONSE (heap JSON text, or
 * NULL for no body). */
void vmm_api_handle (struct vmm_api *api, const char *method, const char *path, const char *body, size_t len,
                     unsigned *status, char **response);

/* The eventfd that becomes readable when InstanceStart succeeded. */
int vmm_api_started_fd (struct vmm_api *api);
/* After the started fd fired: block until the guest stops (vmm_wait). */
int vmm_api_wait (struct vmm_api *api);

#endif
