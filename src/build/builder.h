/* berthd's image builder: runs a parsed Dockerfile (dockerfile.h) the way
 * Docker's classic builder does, step by step, each step a (hidden) image
 * in berthd's store, with a layer cache shared between builds.
 *
 * Files: builder.c (the build: stages, steps, output, the final image),
 * dispatch.c (one function per metadata instruction), run.c (RUN in a
 * container of berth's runtime), copy.c (COPY and ADD), layer.c (step
 * roots: overlay mounts, and their upper folder as a layer tar), cache.c
 * (the layer cache), context.c (the build context: safe extraction). */
#ifndef BERTH_BUILD_BUILDER_H
#define BERTH_BUILD_BUILDER_H

#include <stdbool.h>

#include "build/dockerfile.h"
#include "common/json.h"

struct berthd;

/* One build, as POST /build asks for it. */
struct build_request
{
  /* A private folder for this build (step roots, downloads), created
   * when a step first needs it (build_work_dir). */
  const char *work_dir;
  int context_fd;           /* the extracted context's root (O_PATH; borrowed) */
  const char *dockerfile;   /* the Dockerfile's path in the context */
  char **tags;              /* -t values, NULL-terminated (may be NULL) */
  json_t *build_args;       /* {"NAME": "value" or null} (may be NULL) */
  json_t *labels;           /* {"key": "value"} (may be NULL) */
  const char *target;       /* --target or NULL */
  bool no_cache;
  bool quiet;               /* -q: no step output, only the id at the end */
  bool force_rm;            /* kept for the API: step containers always go */
  /* RUN's network: "default" (or NULL, ""), "bridge", "host", "none" or a
   * network's name, as HostConfig.NetworkMode of `docker run`;
   * container:<id> is refused. */
  const char *network_mode;
  /* --pull: FROM pulls the base image even when it is local (a missing
   * one is always pulled). */
  bool pull;
  /* X-Registry-Config as the client sent it (NULL: none): FROM's pulls
   * take the credentials of the image's registry from it. */
  const char *registry_config;
  /* Output: EMIT gets each JSON message ({"stream": ...}, {"aux": ...});
   * it returns -EPIPE once the client has gone (the build stops). */
  int (*emit) (void *opaque, json_t *msg);
  void *opaque;
  /* Out (may be NULL): a failing RUN's exit status, which the error
   * message's errorDetail.code carries so clients exit with it. */
  int *exit_code;
};

/* Run the build; *image_id (heap) is the result, tagged with every tag.
 * Errors are Docker's words where it has some (the stream turns them
 * into an errorDetail message). */
int build_run (struct berthd *d, const struct build_request *req, char **image_id, berth_err *err);

/* ---- shared by the builder's files ---- */

struct build;

struct stage
{
  char *name;         /* AS name or NULL */
  int index;
  char *image_id;     /* current image ("sha256:..."), NULL for scratch before any step */
  json_t *image;      /* the whole image config: config, rootfs, history */
  char **args;        /* ARGs in scope: "NAME=value", NULL-terminated */
  bool cmd_set;       /* CMD given in this stage (ENTRYPOINT then keeps it) */
  bool done;
};

struct build
{
  struct berthd *d;
  const struct build_request *req;
  struct dockerfile *df;
  struct stage *stages;
  size_t nstages;
  char **meta_args;   /* meta ARGs before FROM: "NAME=value" */
  char **used_args;   /* --build-arg names consumed */
  int step, nsteps;
  double step_start;  /* CLOCK_MONOTONIC ms, for the debug log */
  int mounts;         /* counter for step folders */
  bool work_dir_made; /* build_work_dir ran */
  const char *dockerignore_text;
  struct dockerignore *ignore;
  char **pulled;      /* base images pulled by this build (NULL-terminated) */
  size_t npulled;
};

/* The stage's "config" object (created if missing). */
json_t *stage_config (struct stage *st);
/* The variables instruction words expand with: ENV entries, then ARGs not
 * shadowed by them (Docker: ENV wins).  Heap strv. */
char **stage_expand_env (struct stage *st);
/* The value of ARG NAME in scope (NULL if unset). */
const char *stage_arg (struct stage *st, const char *name);
/* Build args for a RUN: ARGs with values, not shadowed by ENV. */
char **stage_run_args (struct stage *st);
bool build_arg_is_proxy (const char *name);

/* Stream a line of text ({"stream": TEXT}); nothing with -q. */
int build_say (struct build *b, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
/* Raw output of a RUN step (not line-based). */
int build_output (struct build *b, const char *buf, size_t len);

/* Commit a step: NEW_CONFIG (the stage's image with "config" changed) and
 * CREATED_BY become a hidden image; LAYER_TAR (may be NULL: an empty
 * layer, metadata only) is its new layer.  Updates st->image_id/image. */
struct step_root;
int build_commit (struct build *b, struct stage *st, const char *created_by, struct step_root *layer, berth_err *err);

/* dispatch.c: metadata instructions change stage_config (st) and return
 * CREATED_BY, the history text ("#(nop)  ENV A=b"), heap. */
int dispatch_meta (struct build *b, struct stage *st, const struct df_instr *in, char **created_by, berth_err *err);

/* layer.c: a step root, the stage's layers under a fresh upper folder. */
struct step_root
{
  char *dir;     /* WORK_DIR/step-N */
  char *upper;
  char *rootfs;  /* the merged mount */
  bool mounted;
  /* Set by step_root_layer_tar: */
  char *tar;            /* the layer tar (in DIR) */
  char diff_id[72];     /* its sha256, computed while writing it */
  long long size;       /* the unpacked size, as the store counts it */
  bool adoptable;       /* UPPER can become the store's layer folder as is */
};
/* INIT_LAYER: add the layer with mount points of a container's root
 * (/proc, /sys, /dev, /etc/hosts...) under the upper one, so that they
 * are not part of the step's changes. */
int step_root_mount (struct build *b, const char *image_id, bool init_layer, struct step_root *r, berth_err *err);
void step_root_release (struct step_root *r);
/* The upper folder (after unmounting) as a layer tar (overlayfs whiteouts
 * become .wh. entries), written to R->tar (a file in the step folder),
 * with R->diff_id and R->size; xattrs other than overlayfs' opaque mark
 * are removed from UPPER (the tar has none), and R->adoptable tells
 * whether UPPER holds nothing the store's unpacker would refuse (device
 * nodes), so that it can be moved into the store. */
int step_root_layer_tar (struct step_root *r, berth_err *err);

/* run.c */
int build_run_step (struct build *b, struct stage *st, const struct df_instr *in, berth_err *err);
/* copy.c: COPY and ADD. */
int build_copy_step (struct build *b, struct stage *st, const struct df_instr *in, berth_err *err);

/* cache.c: KEY is the hex sha256 of the parent id, the step text and its
 * inputs; the value an image id. */
char *cache_key (const char *parent, const char *created_by, const char *inputs);
/* A cached image id that still exists, or NULL. */
char *cache_get (struct build *b, const char *key);
void cache_put (struct build *b, const char *key, const char *image_id);
/* Any text under KEY in the cache folder (a memo, not an image id). */
char *cache_get_text (struct build *b, const char *key);
void cache_put_text (struct build *b, const char *key, const char *text);
/* Look up a step: prints " ---> Using cache" and moves the stage on; 1
 * on a hit, 0 on a miss. */
int build_cache_hit (struct build *b, struct stage *st, const char *key, berth_err *err);
/* Create the request's WORK_DIR (0700) if it is not there yet. */
int build_work_dir (struct build *b, berth_err *err);

/* context.c: extract the tar read from FD safely; *root_out is an
 * O_PATH descriptor of the context's root.  A plain tar up to
 * BUILD_CONTEXT_TMPFS_MAX bytes (as sent) goes into a detached tmpfs,
 * freed when that descriptor (and any opened from it) is closed; others
 * into DISK_DIR (created), which the caller removes. */
#define BUILD_CONTEXT_TMPFS_MAX (256LL << 20)
int build_context_extract (int fd, const char *disk_dir, int *root_out, berth_err *err);
/* At berthd's start: unmount and remove what interrupted builds left. */
void build_leftovers_remove (const char *data_root);

#endif
