/* OCI hooks (config.hooks): each runs with the container state JSON on its
 * stdin, its own args and env, and an optional timeout in seconds. */
#ifndef BERTH_HOOKS_H
#define BERTH_HOOKS_H

#include <stdbool.h>

#include "common/json.h"

/* Run every hook of config.hooks.KIND in order.  The first failure stops
 * the sequence and is returned. */
int hooks_run (json_t *config, const char *kind, json_t *state, berth_err *err);

/* For poststart/poststop: failures are logged as warnings, all hooks run. */
void hooks_run_warn_only (json_t *config, const char *kind, json_t *state);

bool hooks_present (json_t *config, const char *kind);

#endif
