/* Between pull.c (manifests, configs, the image) and pull-layer.c (the
 * parallel layer downloads). */
#ifndef BERTH_IMAGE_PULL_INTERNAL_H
#define BERTH_IMAGE_PULL_INTERNAL_H

#include "image/dist-internal.h"

#include <signal.h>

struct pull_layer
{
  const char *digest;  /* blob digest (from the manifest) */
  int64_t size;        /* blob size (from the manifest) */
  const char *diff_id; /* from the config */
  char short_id[13];   /* what the progress messages call it */
  char name[96];       /* for error messages: "layer sha256:..." */
  bool skip;           /* already in the store: "Already exists" */
  bool new_blob, new_layer; /* committed by this pull: undone if it fails */
  CURL *curl;          /* while downloading */
};

struct pull_job
{
  struct image_store *s;
  struct dist_client *c;
  struct dist_progress *p;
  struct pull_layer *layers;
  size_t n;
  /* Under LOCK: the next layer to take, the first error, the abort flag
   * (read without the lock by transfers, which only ever see it turn on). */
  pthread_mutex_t lock;
  size_t next;
  berth_err err;
  volatile bool abort;
};

/* Set by SIGTERM (berthd cancels a pull whose client went away): the
 * transfers stop and the pull rolls back like any failed one. */
extern volatile sig_atomic_t pull_cancelled;

/* Fetch and unpack every layer not marked skip, MAX at a time.  On
 * failure, the blobs and layers it committed are removed again. */
int pull_layers (struct pull_job *job, int max, berth_err *err);

#endif
