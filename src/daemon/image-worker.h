/* The image worker: archive operations of the image store (load, import,
 * save) run in a short-lived process, `berthd image-worker OP ROOT ...`,
 * that berthd spawns (exec, not a bare fork: berthd is multi-threaded).
 *
 * Why a process: these operations pull libarchive's codecs, libxml2, ICU
 * and OpenSSL's digests into memory.  Done in berthd, those pages stay
 * resident for the daemon's whole life, which is most of its idle memory;
 * done in a worker they go away with it.  A decompressor crashing on a
 * hostile archive also kills only the worker.
 *
 * Protocol: fd 0 is the input archive (load, import) or /dev/null, fd 1 the
 * output archive (save) or /dev/null, fd 2 berthd's log, fd 3 a pipe for
 * one JSON result: {"lines": [...]} (load: "Loaded image: ..."), {"id": ...}
 * (import), {} (save), or {"error": MESSAGE, "errno": N} on failure.
 * Callers hold berthd's image lock for the whole call, and the store is
 * reloaded from disk afterwards. */
#ifndef BERTH_IMAGE_WORKER_H
#define BERTH_IMAGE_WORKER_H

#include "common/json.h"

struct berthd;

/* `berthd image-worker ...` (argv[0] is "image-worker"): the worker's
 * main, returns the exit status. */
int image_worker_main (int argc, char **argv);

/* docker load: IN_FD is the archive; *lines the "Loaded image..." lines. */
int image_worker_load (struct berthd *d, int in_fd, char ***lines, berth_err *err);
/* docker import: REF, CHANGES (a JSON object) and MESSAGE may be NULL. */
int image_worker_import (struct berthd *d, int in_fd, const char *ref, json_t *changes, const char *message,
                         char **id, berth_err *err);
/* docker save of NAMES into OUT_FD. */
int image_worker_save (struct berthd *d, const char *const *names, int out_fd, berth_err *err);

#endif
