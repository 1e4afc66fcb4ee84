/* Pulling one image for berthd's own use (a build's FROM), through the
 * image worker's pull op as POST /images/create does (api-distribution.c,
 * which implements this), with the same progress messages and final
 * "Status: ..." line, and the same recording of the result in the store. */
#ifndef BERTH_IMAGE_PULL_H
#define BERTH_IMAGE_PULL_H

#include "common/json.h"

struct berthd;

/* PROGRESS gets each of Docker's JSON progress messages as the worker
 * writes them, then {"status": "Status: Downloaded newer image for X"}
 * (or "Image is up to date"); it returns -EPIPE when its reader has gone,
 * which cancels the pull.  NAME is one image (a tag, ":latest" when it has
 * neither tag nor digest, or a digest); SECRET the registry credentials
 * ({username, password, identitytoken}) or NULL for none.  Errors are the
 * registry client's ("manifest unknown", "pull access denied ...").  The
 * caller holds no image lock. */
int berthd_image_pull (struct berthd *d, const char *name, json_t *secret, int (*progress) (void *opaque, json_t *msg),
                void *opaque, berth_err *err);

#endif
