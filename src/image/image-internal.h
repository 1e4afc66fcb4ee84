/* Private interface between the files of libberth-image.  Every external
 * symbol here starts with img_ so that the static archive can be linked next
 * to the runtime's without clashes. */
#ifndef BERTH_IMAGE_INTERNAL_H
#define BERTH_IMAGE_INTERNAL_H

#include "image/image.h"
#include "common/cleanup.h"
#include "common/clock.h"
#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct archive;

/* "sha256:" + 64 hex digits + NUL. */
#define IMG_DIGEST_PREFIX "sha256:"
#define IMG_DIGEST_PREFIX_LEN 7
#define IMG_HEX_LEN 64
#define IMG_DIGEST_SIZE (IMG_DIGEST_PREFIX_LEN + IMG_HEX_LEN + 1)

/* JSON documents read from an archive or the store are at most this big. */
#define IMG_JSON_MAX BERTH_JSON_MAX_SIZE

#define IMG_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define IMG_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define IMG_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define IMG_MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define IMG_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define IMG_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

#define IMG_ANNOTATION_NAME "io.containerd.image.name"
#define IMG_ANNOTATION_REF "org.opencontainers.image.ref.name"

struct image_store
{
  char *root;
  char *blobs;     /* ROOT/blobs/sha256 */
  char *layers;    /* ROOT/layers/sha256 */
  char *tmp;       /* ROOT/tmp */
  char *refs_path; /* ROOT/refs.json */
  /* The parsed refs.json: {"images": {ID: {"manifest": DIGEST, "hidden": true?}},
   * "refs": {"NAME:TAG" or "NAME@DIGEST": ID}}.  Only replaced as a whole,
   * after the new version is on disk (img_db_commit). */
  json_t *db;
};

static inline void img_cleanup_storep (struct image_store **s)
{
  image_store_close (*s);
}
#define cleanup_store __attribute__ ((cleanup (img_cleanup_storep)))

static inline void img_cleanup_refp (struct image_ref *r)
{
  image_ref_free (r);
}
#define cleanup_ref __attribute__ ((cleanup (img_cleanup_refp)))

static inline void img_cleanup_infop (struct image_info **i)
{
  image_info_free (*i);
}
#define cleanup_info __attribute__ ((cleanup (img_cleanup_infop)))

void img_cleanup_archivep (struct archive **a);
#define cleanup_archive __attribute__ ((cleanup (img_cleanup_archivep)))

/* ---- digest.c: sha256 with OpenSSL EVP ---- */

struct img_hash
{
  void *md; /* SHA256_CTX (see digest.c) */
};
int img_hash_init (struct img_hash *h, berth_err *err);
void img_hash_update (struct img_hash *h, const void *buf, size_t len);
/* Write "sha256:<hex>" into OUT and release the context. */
void img_hash_final (struct img_hash *h, char out[IMG_DIGEST_SIZE]);
void img_hash_free (struct img_hash *h);
int img_hash_buffer (const void *buf, size_t len, char out[IMG_DIGEST_SIZE], berth_err *err);

bool img_hex_valid (const char *hex, size_t len);
bool img_digest_valid (const char *d);
const char *img_digest_hex (const char *d);
/* "digest mismatch for NAME: expected X, got Y" unless they are equal. */
int img_digest_check (const char *name, const char *expected, const char *got, berth_err *err);
/* "sha256:<hex>" -> the 12-character short id Docker shows. */
void img_short_id (const char *id, char out[13]);

/* ---- store.c: paths, refs.json, temporary folders ---- */

char *img_path (const char *dir, const char *digest);
char *img_blob_path (struct image_store *s, const char *digest);
/* A fresh private folder under ROOT/tmp (removed by the caller). */
int img_tmpdir (struct image_store *s, const char *what, char **out, berth_err *err);
json_t *img_db_images (json_t *db);
json_t *img_db_refs (json_t *db);
/* A copy of the db to edit; img_db_commit writes it atomically and then
 * makes it the current one (it steals NEWDB). */
json_t *img_db_copy (struct image_store *s, berth_err *err);
int img_db_commit (struct image_store *s, json_t *newdb, berth_err *err);
/* The image record of ID, hidden ones only when INCLUDE_HIDDEN. */
json_t *img_db_image (json_t *db, const char *id, bool include_hidden);
void img_db_add_image (json_t *db, const char *id, const char *manifest);
bool img_db_hidden (json_t *rec);

/* ---- blob.c: content-addressed files ---- */

/* A temp file whose sha256 is computed over exactly the bytes written. */
struct img_blob_writer
{
  int fd;
  char *path;
  struct img_hash hash;
  int64_t size;
  char digest[IMG_DIGEST_SIZE];
};
int img_blob_writer_open (const char *dir, struct img_blob_writer *w, berth_err *err);
int img_blob_writer_write (struct img_blob_writer *w, const void *buf, size_t len, berth_err *err);
/* Close, hash, and compare with EXPECTED (may be NULL); on a mismatch the
 * temp file is deleted and the error names NAME. */
int img_blob_writer_finish (struct img_blob_writer *w, const char *name, const char *expected, berth_err *err);
/* Delete the temp file if it is still there. */
void img_blob_writer_cleanup (struct img_blob_writer *w);

/* Move the already verified FILE into the store as DIGEST; *CREATED says
 * whether it was new (false when the store had it). */
int img_blob_commit (struct image_store *s, const char *file, const char *digest, bool *created, berth_err *err);
int img_blob_put (struct image_store *s, const char *buf, size_t len, char digest[IMG_DIGEST_SIZE], bool *created,
                  berth_err *err);
bool img_blob_exists (struct image_store *s, const char *digest);
int64_t img_blob_size (struct image_store *s, const char *digest);
/* Read a JSON blob and check that it still has its digest. */
int img_blob_read_json (struct image_store *s, const char *digest, json_t **out, berth_err *err);
/* Unlink; add the bytes freed to *FREED (may be NULL). */
void img_blob_delete (struct image_store *s, const char *digest, int64_t *freed);

/* ---- stream.c: decompressing readers ---- */

/* A libarchive reader that yields the decompressed bytes of FILE or FD
 * (gzip, zstd, ... or plain), whatever they are. */
int img_raw_open_file (const char *file, struct archive **out, berth_err *err);
int img_raw_open_fd (int fd, struct archive **out, berth_err *err);
/* Read the whole decompressed stream, hashing it and handing each chunk
 * to SINK (may be NULL).  NAME is for messages. */
typedef int (*img_sink_fn) (void *opaque, const void *buf, size_t len, berth_err *err);
int img_raw_pump (struct archive *a, const char *name, img_sink_fn sink, void *opaque, char digest[IMG_DIGEST_SIZE],
                  int64_t *size, berth_err *err);
/* Enable the read filters and report the library's error text. */
void img_archive_support_filters (struct archive *a);
const char *img_archive_error (struct archive *a);

/* ---- layer.c / layer-unpack.c ---- */

char *img_layer_dir (struct image_store *s, const char *diff_id);
char *img_layer_diff_dir (struct image_store *s, const char *diff_id);
bool img_layer_exists (struct image_store *s, const char *diff_id);
int64_t img_layer_size (struct image_store *s, const char *diff_id);
/* Make sure the layer DIFF_ID is unpacked, from BLOB_FILE (compressed or
 * not) which must decompress to exactly DIFF_ID.  NAME is for messages.
 * *CREATED tells whether it was unpacked now (the caller rolls back). */
int img_layer_create (struct image_store *s, const char *blob_file, const char *name, const char *diff_id,
                      bool *created, berth_err *err);
/* Make DIR (an unpacked layer in overlayfs form, on the store's
 * filesystem) the layer DIFF_ID by renaming it into place; SIZE is its
 * unpacked size.  Nothing happens when the layer exists (DIR stays). */
int img_layer_adopt (struct image_store *s, const char *dir, const char *diff_id, int64_t size, bool *created,
                     berth_err *err);
/* The two halves of img_layer_create, for layers unpacked as they stream
 * in (pull): unpack the (compressed or plain) tar SRC into a fresh folder
 * under tmp/ and check that it is DIFF_ID (*tmp gets the folder; nothing is
 * left on failure); then move it into place (*CREATED false when the layer
 * was there already; TMP is gone either way). */
int img_layer_prepare (struct image_store *s, struct archive *src, const char *name, const char *diff_id,
                       char **tmp, berth_err *err);
int img_layer_commit (struct image_store *s, const char *tmp, const char *diff_id, bool *created, berth_err *err);
/* Just check that BLOB_FILE decompresses to DIFF_ID. */
int img_layer_verify (const char *blob_file, const char *name, const char *diff_id, berth_err *err);
void img_layer_delete (struct image_store *s, const char *diff_id, int64_t *freed);
/* Unpack the tar read from SRC into the folder DEST (which exists and is
 * empty) in a chrooted child; returns the unpacked size. */
int img_layer_unpack (struct archive *src, const char *name, const char *dest, char digest[IMG_DIGEST_SIZE],
                      int64_t *size, berth_err *err);

/* ---- dist-source.c ---- */

/* The gzip-compressed twin that a push made of the plain layer blob
 * DIGEST (distribution.h), or NULL (heap).  `docker rmi` removes it with
 * the blob when no remaining image uses either. */
char *img_dist_gzip_twin (struct image_store *s, const char *digest);

/* ---- reference.c ---- */

/* Like image_ref_parse, but says whether S named a tag or digest itself
 * ("busybox" gets "latest" only by default). */
int img_ref_parse (const char *s, struct image_ref *out, bool *explicit_tag, berth_err *err);
/* The refs.json key: "NAME:TAG", or "NAME@DIGEST" when there is a digest. */
char *img_ref_key (const struct image_ref *r);
/* Familiar form of a refs.json key. */
char *img_key_familiar (const char *key);
/* The repository name of a refs.json key, and whether it is a digest one. */
char *img_key_name (const char *key);
bool img_key_is_digest (const char *key);

/* ---- image.c ---- */

/* Resolve NAME_OR_ID to an image id ("sha256:<hex>"). */
int img_resolve (struct image_store *s, const char *name_or_id, char id[IMG_DIGEST_SIZE], berth_err *err);
/* The refs.json keys that point at ID, sorted by familiar form. */
char **img_refs_of (json_t *db, const char *id);
int img_info_load (struct image_store *s, const char *id, struct image_info **out, berth_err *err);
/* The manifest of image ID (its record names it). */
int img_manifest_of (struct image_store *s, const char *id, json_t **manifest, char digest[IMG_DIGEST_SIZE],
                     berth_err *err);
/* The config's rootfs.diff_ids, validated. */
int img_config_diff_ids (json_t *config, const char *where, char ***out, berth_err *err);
/* RFC 3339 <-> unix seconds. */
int64_t img_parse_time (const char *s);

/* Append a NULL-terminated copy of S to the vector *V. */
int img_strv_add (char ***v, const char *s);
size_t img_strv_len (char **v);
/* berth_fail without the ": strerror" suffix, for messages the daemon
 * passes on verbatim (Docker's "No such image: ...", "conflict: ..."). */
int img_fail_plain (berth_err *err, int errnum, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));
bool img_strv_contains (char **v, const char *s);

/* ---- oci.c: manifests and indexes ---- */

/* The media type of a layer blob from its magic bytes. */
const char *img_layer_media_type (const char *file);
json_t *img_descriptor (const char *media_type, const char *digest, int64_t size);
/* An OCI manifest for a config and its layer descriptors (stolen). */
json_t *img_manifest_new (const char *config_digest, int64_t config_size, json_t *layers);
/* Check a descriptor: a digest and a size.  WHERE is for messages. */
int img_descriptor_check (json_t *desc, const char *where, berth_err *err);
bool img_media_type_is_index (const char *mt);
bool img_media_type_is_manifest (const char *mt);
/* The platform the store unpacks images for ("amd64" on x86-64). */
const char *img_host_arch (void);
/* Pick the descriptor for linux/<host arch> from an index's manifests. */
json_t *img_index_pick (json_t *manifests);

/* ---- archive-spool.c: the input archive, entry by entry, into tmp/ ---- */

struct img_spool_entry
{
  char *path; /* normalized path in the archive */
  char *file; /* its spooled copy, or NULL for a link */
  char *link; /* symlinks and hardlinks: the archive path they point to */
  char digest[IMG_DIGEST_SIZE];
  int64_t size;
};

struct img_spool
{
  char *dir;
  struct img_spool_entry *v;
  size_t n, cap;
};

/* Read the tar from FD into SP->dir: regular files are copied (and those
 * named blobs/sha256/<hex> checked against their name), links are
 * remembered, and anything unsafe fails the whole archive. */
int img_spool_archive (int fd, struct img_spool *sp, berth_err *err);
void img_spool_free (struct img_spool *sp);
/* "./a//b" -> "a/b"; absolute paths and ".." fail (WHERE names it). */
int img_archive_path (const char *in, const char *where, char **out, berth_err *err);
/* The regular file at PATH, following links; NULL if there is none. */
struct img_spool_entry *img_spool_get (struct img_spool *sp, const char *path);
/* The same for a path named by WHERE (manifest.json...), with an error. */
int img_spool_find (struct img_spool *sp, const char *path, const char *where, struct img_spool_entry **out,
                    berth_err *err);
int img_spool_json (struct img_spool_entry *e, json_t **out, berth_err *err);

/* ---- archive-load.c, archive-docker.c, archive-oci.c: `docker load` ---- */

struct img_load_layer
{
  char *path; /* as the archive names it, for messages */
  struct img_spool_entry *blob;
};

/* One image found in the archive, before it is committed. */
struct img_load_image
{
  char *config_path;
  struct img_spool_entry *config;
  struct img_load_layer *layers;
  size_t nlayers;
  struct img_spool_entry *manifest; /* the archive's OCI manifest, or NULL */
  char **tags;                      /* refs.json keys */
  json_t *config_json;
  char **diff_ids;
  char manifest_digest[IMG_DIGEST_SIZE];
};

struct img_load
{
  struct image_store *s;
  struct img_spool sp;
  struct img_load_image **images;
  size_t n;
  char **new_blobs;  /* created by this load: removed if it fails */
  char **new_layers;
  char **lines;
};

/* Add IMG (stolen, even on failure); one with the same config as an
 * earlier one only adds its tags. */
int img_load_push (struct img_load *l, struct img_load_image *img, berth_err *err);
void img_load_image_free (struct img_load_image *img);
/* Add the image's tag keys parsed from a RepoTags-like name. */
int img_load_add_tag (struct img_load_image *img, const char *name, const char *where, berth_err *err);
int img_load_add_layer (struct img_load_image *img, const char *path, struct img_spool_entry *blob, berth_err *err);
/* docker-archive: manifest.json. */
int img_load_docker (struct img_load *l, struct img_spool_entry *manifest, berth_err *err);
/* OCI image layout: index.json. */
int img_load_oci (struct img_load *l, struct img_spool_entry *index, berth_err *err);
/* A docker-archive that also has an OCI layout (Docker >= 25): use its
 * manifests, so that the repo digests stay the same. */
void img_load_attach_oci (struct img_load *l, struct img_spool_entry *index);

#endif
