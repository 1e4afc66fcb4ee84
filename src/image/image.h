/* libberth-image: berth's local image store.
 *
 * Layout under ROOT (berthd uses <data-root>/image):
 *   blobs/sha256/<hex>        content-addressed blobs (configs, manifests,
 *                             compressed or plain layer tars), verified by
 *                             sha256 while they are written
 *   layers/sha256/<hex>/diff  each layer unpacked once (by diff id), with
 *                             whiteouts converted to overlayfs form, ready to
 *                             be a read-only lowerdir
 *   refs.json                 name:tag and name@digest -> image id, written
 *                             atomically
 *   tmp/                      partial downloads and uploads
 * An image id is "sha256:<hex of its config blob>".  Everything written is
 * written atomically (temp file, fsync, rename), so a crash never leaves a
 * half image visible.
 *
 * References follow Docker's rules: "busybox" is
 * "docker.io/library/busybox:latest"; the familiar form drops
 * "docker.io/library/" again for display. */
#ifndef BERTH_IMAGE_H
#define BERTH_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/json.h"

struct image_store;

int image_store_open (const char *root, struct image_store **out, berth_err *err);
void image_store_close (struct image_store *s);
/* Re-read refs.json, after another process (berthd's image worker) has
 * changed the store.  On failure the old view stays. */
int image_store_reload (struct image_store *s, berth_err *err);

/* ---- references ---- */

struct image_ref
{
  char *name;    /* normalized: "docker.io/library/busybox" */
  char *tag;     /* "latest" (the default when neither tag nor digest) or NULL */
  char *digest;  /* "sha256:..." or NULL */
};

/* Parse and normalize.  Invalid references (upper case in the path,
 * empty components, bad tag or digest...) fail with a clear message. */
int image_ref_parse (const char *s, struct image_ref *out, berth_err *err);
void image_ref_free (struct image_ref *r);
/* "busybox:latest", "example.com:5000/x/y:1", "busybox@sha256:..." */
char *image_ref_familiar (const struct image_ref *r);

/* ---- images ---- */

/* What `docker images` and `docker image inspect` show. */
struct image_info
{
  char *id;             /* "sha256:<hex>" */
  char **repo_tags;     /* familiar "name:tag", NULL-terminated */
  char **repo_digests;  /* familiar "name@sha256:...", NULL-terminated */
  json_t *config;       /* the image config blob (OCI / Docker image JSON) */
  char **diff_ids;      /* rootfs.diff_ids, bottom first, NULL-terminated */
  int64_t size;         /* sum of the unpacked layer sizes */
  int64_t created;      /* unix seconds, from config.created */
};
void image_info_free (struct image_info *i);

/* Resolve NAME_OR_ID: a full or short (>= 4 hex chars, unique) id with or
 * without "sha256:", a name[:tag] or name@digest.  ENOENT gives
 * "No such image: NAME_OR_ID" (the daemon maps it to a 404). */
int image_lookup (struct image_store *s, const char *name_or_id, struct image_info **out, berth_err *err);

/* Every image (one entry per image id). */
int image_list (struct image_store *s, struct image_info ***out, size_t *n, berth_err *err);
void image_list_free (struct image_info **list, size_t n);

/* Point TARGET (a reference) at the image SOURCE resolves to. */
int image_tag (struct image_store *s, const char *source, const char *target, berth_err *err);

/* `docker rmi`: with a reference, untag it, and delete the image when no
 * reference is left; with an id, delete the image (FORCE also drops all
 * its references; without FORCE an id with several references fails).
 * *report is the Docker API's [{"Untagged": ...}, {"Deleted": ...}] list.
 * IN_USE (may be NULL) is asked whether a container uses an image id. */
int image_remove (struct image_store *s, const char *name_or_id, bool force,
                  bool (*in_use) (const char *id, void *opaque), void *opaque, json_t **report, berth_err *err);

/* Docker's history entries: [{Id, Created, CreatedBy, Tags, Size, Comment}]. */
int image_history (struct image_store *s, const char *name_or_id, json_t **out, berth_err *err);

/* Remove unused images: dangling only (no tag), or ALL that IN_USE says are
 * unused; with UNTIL (unix seconds, 0: no limit) only those created before
 * it (the "until" filter).  *report is {"ImagesDeleted": [...], "SpaceReclaimed": N}. */
int image_prune (struct image_store *s, bool all, int64_t until, bool (*in_use) (const char *id, void *opaque),
                 void *opaque, json_t **report, berth_err *err);

/* ---- archives ---- */

/* `docker load`: read a docker-archive (manifest.json) or an OCI image
 * layout archive (index.json + oci-layout) from FD, store blobs and layers,
 * apply the tags it names.  *loaded gets "Loaded image: busybox:latest" or
 * "Loaded image ID: sha256:..." lines (heap strings, NULL-terminated).
 * Hostile input (paths with "..", absolute paths, links leaving the
 * archive, device nodes, digests that do not match, oversized JSON) fails
 * clearly and leaves nothing behind outside ROOT/tmp, which is cleaned. */
int image_load (struct image_store *s, int fd, char ***loaded, berth_err *err);

/* `docker save`: write a docker-archive of the named images to FD, which
 * also carries an OCI layout (index.json, oci-layout), as Docker 25+ does. */
int image_save (struct image_store *s, const char *const *names, int fd, berth_err *err);

/* `docker import`: make a one-layer image from a root file system tar
 * (plain, gzip or zstd) read from FD.  REF (may be NULL) tags it; CHANGES
 * (may be NULL) is a JSON object of config fields to set (Cmd, Env,
 * Entrypoint, WorkingDir, User, ExposedPorts, Volumes, Labels).  MESSAGE
 * (may be NULL) becomes the image's comment and its history comment.  *id
 * gets the new image id. */
int image_import (struct image_store *s, int fd, const char *ref, json_t *changes, const char *message, char **id,
                  berth_err *err);

/* ---- for containers ---- */

/* The unpacked layer folders of an image, top layer first (overlayfs
 * lowerdir order), NULL-terminated heap strings. */
int image_layer_dirs (struct image_store *s, const char *id, char ***dirs, berth_err *err);

/* Total size of blobs and layers on disk (for `docker system df`). */
int image_store_usage (struct image_store *s, int64_t *bytes, berth_err *err);

/* ---- builds (commit.c) ---- */

/* The config blob of image ID (a full "sha256:<hex>" id; hidden images,
 * i.e. build steps, too).  ENOENT: "No such image: ID". */
int image_config_read (struct image_store *s, const char *id, json_t **config, berth_err *err);
/* Is ID (full id) an image of the store, hidden ones included, with its
 * layers?  (The build cache checks its entries with it.) */
bool image_exists (struct image_store *s, const char *id);
/* Store the plain (uncompressed) layer tar TAR_FILE as a blob and an
 * unpacked layer (whiteouts in the tar's .wh. form); *diff_id (heap) is
 * its sha256.  TAR_FILE stays (the caller removes it). */
int image_layer_add (struct image_store *s, const char *tar_file, char **diff_id, berth_err *err);
/* The same for a layer that exists unpacked already: DIR (overlayfs form:
 * whiteouts as char 0:0 devices, opaque folders by xattr; no other
 * xattrs, no device nodes) holds exactly what TAR_FILE holds, whose sha256
 * DIFF_ID ("sha256:<hex>") the caller computed while writing it, and SIZE
 * is the layer's unpacked size.  DIR is renamed into the store (it must be
 * on the store's filesystem; else the tar is unpacked as by
 * image_layer_add) and gone on success unless the store had the layer.
 * Saves unpacking a tar made from a folder (a build step's changes). */
int image_layer_add_dir (struct image_store *s, const char *tar_file, const char *diff_id, const char *dir, int64_t size,
                         char **diff_id_out, berth_err *err);
/* Write CONFIG (a whole image config whose rootfs.diff_ids name layers in
 * the store) and a manifest for it, and record the image.  HIDDEN keeps
 * it out of listings and name lookups (build steps); committing a hidden
 * image again without HIDDEN makes it visible.  *id (heap) is its id. */
int image_commit (struct image_store *s, json_t *config, bool hidden, char **id, berth_err *err);

#endif
