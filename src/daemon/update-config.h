/* POST /containers/{id}/update without the container: Docker's checks of
 * the request, its merge into the HostConfig, and the OCI resources a
 * running container gets (container-update.c runs them). */
#ifndef BERTH_UPDATE_CONFIG_H
#define BERTH_UPDATE_CONFIG_H

#include "common/json.h"

/* Apply UPDATE (the request body: Memory, MemorySwap, MemoryReservation,
 * NanoCpus, CpuQuota, CpuPeriod, CpuShares, CpusetCpus, CpusetMems,
 * PidsLimit, BlkioWeight, RestartPolicy; zero, "" and null mean "leave
 * alone", as the docker CLI sends every field; other fields are ignored)
 * to HOST_CONFIG, in place (give a copy: on error it may be half done).
 * NCPUS bounds NanoCpus and CpusetCpus.
 *
 * *resources (may be NULL) gets the OCI linux.resources object of what the
 * request changes ({} for a restart policy alone), for `RUNTIME update -r`.
 *
 * Errors, with Docker's messages:
 *   -EINVAL: the request is wrong ("Minimum memory limit allowed is 6MB",
 *     "invalid restart policy: ...", "Memory: expected integer"...);
 *   -EBUSY: it conflicts with the container ("Conflicting options: Nano
 *     CPUs cannot be updated as CPU Period has already been set", "Restart
 *     policy cannot be updated because AutoRemove is enabled for the
 *     container"): Docker answers those with 409 and "Cannot update
 *     container ID: " in front. */
int host_config_update (json_t *host_config, json_t *update, long ncpus, json_t **resources, berth_err *err);

#endif
