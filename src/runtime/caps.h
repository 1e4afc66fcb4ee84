/* Linux capabilities of the container process (libcap). */
#ifndef BERTH_CAPS_H
#define BERTH_CAPS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/json.h"

struct berth_caps
{
  uint64_t bounding, effective, inheritable, permitted, ambient;
};

/* Parse process.capabilities.  Unknown names are skipped with a warning
 * (as runc does: one config serves several kernels).  *present is false
 * when the object is absent, in which case nothing is changed at exec. */
int berth_caps_parse (json_t *capabilities, struct berth_caps *caps, bool *present, berth_err *err);

/* Before switching user: drop everything not in the bounding set. */
int berth_caps_drop_bounding (const struct berth_caps *caps, berth_err *err);
/* After switching user (with PR_SET_KEEPCAPS): set effective, permitted,
 * inheritable and raise the ambient set. */
int berth_caps_apply (const struct berth_caps *caps, berth_err *err);

/* Highest capability number the kernel knows. */
int berth_caps_last_cap (void);
/* Names of every capability this host knows, "CAP_CHOWN"... */
json_t *berth_caps_known (void);

#endif
