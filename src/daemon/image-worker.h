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
 * Protocol: fd 0 is the input archive (load, import), the credentials
 * JSON {username, password, identitytoken} (pull, push, login) or
 * /dev/null, fd 1 the output archive (save), Docker's JSON progress lines
 * (pull, push) or /dev/null, fd 2 berthd's log, fd 3 a pipe for
 * one JSON result: {"lines": [...]} (load: "Loaded image: ..."), {"id": ...}
 * (import), {"images": [{"id", "manifest", "keys": [...]}]} (pull),
 * {} (save, push, login), or {"error": MESSAGE, "errno": N} on failure.
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
/* Registry operations (pull, push, login) run while the request streams:
 * start the worker with ARGS (in argv) and SECRET (credentials, on its
 * stdin: never in argv); read progress lines from run->progress_fd until
 * EOF, then image_worker_finish waits and gives the result.  The store is
 * not reloaded: a pull does not write refs.json (its caller records the
 * images, image_record).  Cancel sends SIGTERM (the client went away). */
struct image_worker_run
{
  int pid;
  int progress_fd;
  int result_fd;
};
int image_worker_start (struct berthd *d, const char *op, json_t *args, json_t *secret, struct image_worker_run *run,
                        berth_err *err);
int image_worker_finish (struct image_worker_run *run, json_t **result, berth_err *err);
void image_worker_cancel (struct image_worker_run *run);
/* docker save of NAMES into OUT_FD. */
int image_worker_save (struct berthd *d, const char *const *names, int out_fd, berth_err *err);

#endif
