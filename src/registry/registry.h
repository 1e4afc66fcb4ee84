/* berth-registry: an OCI distribution-spec 1.1 registry server.
 *
 * Components (one file per concern):
 *   config.c     flags and the JSON config file (struct reg_config)
 *   http.c       libmicrohttpd glue: routing, request bodies, replies,
 *                the spec's JSON errors
 *   tls.c        OpenSSL terminator threads in front of MHD
 *   auth.c       none / htpasswd basic / bearer token checks
 *   token.c      the token endpoint (/token) and HS256 JWTs
 *   names.c      repository name, tag, digest and uuid validation
 *   storage.c    the content-addressed file system layout, atomic commits
 *   blobs.c      GET/HEAD/DELETE /v2/<name>/blobs/<digest>
 *   uploads.c    POST/PATCH/PUT/GET/DELETE /v2/<name>/blobs/uploads/...
 *   manifests.c  GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>
 *   tags.c       GET /v2/<name>/tags/list
 *   catalog.c    GET /v2/_catalog
 *   referrers.c  GET /v2/<name>/referrers/<digest>
 *   gc.c         `berth-registry garbage-collect`
 *   main.c       the program
 *
 * Storage layout under ROOT (see storage.c):
 *   blobs/sha256/<2 hex>/<64 hex>             blob and manifest contents
 *   repositories/<name>/_layers/sha256/<hex>  the blob is in this repository
 *   repositories/<name>/_manifests/revisions/sha256/<hex>
 *                                             the manifest is in this
 *                                             repository; holds its media type
 *   repositories/<name>/_manifests/tags/<tag>/current/link   "sha256:<hex>"
 *   repositories/<name>/_manifests/referrers/sha256/<subject hex>/<hex>
 *                                             descriptor JSON of a referrer
 *   repositories/<name>/_uploads/<uuid>/data  an upload in progress
 */
#ifndef BERTH_REGISTRY_H
#define BERTH_REGISTRY_H

#include <microhttpd.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

#define REG_DEFAULT_LISTEN "127.0.0.1:5000"
#define REG_DEFAULT_ROOT "/var/lib/berth-registry"
/* Largest manifest accepted (distribution uses 4 MiB too). */
#define REG_MANIFEST_MAX (4 * 1024 * 1024)
#define REG_HEX_LEN 64
#define REG_DIGEST_LEN (7 + REG_HEX_LEN) /* "sha256:" + hex */
#define REG_UUID_LEN 32
#define REG_NAME_MAX 255
#define REG_TOKEN_TTL 300

enum reg_auth_mode
{
  REG_AUTH_NONE = 0,
  REG_AUTH_BASIC,
  REG_AUTH_TOKEN,
};

/* Every key can be given as a flag (--listen) or in the config file
 * ("listen"); flags win. */
struct reg_config
{
  char *listen;        /* ADDR:PORT */
  char *root;
  char *htpasswd;      /* file of user:bcrypt lines */
  enum reg_auth_mode auth;
  char *token_realm;   /* URL clients get tokens from */
  char *token_service; /* the "service" (JWT audience), default berth-registry */
  char *token_issuer;  /* JWT issuer, default berth-registry */
  char *token_key;     /* file with the HS256 secret (32 bytes or more) */
  char *tls_cert;
  char *tls_key;
  char *log_level;
  char *max_page;      /* the most entries one tags/list or catalog page holds */
  long max_page_n;     /* max_page parsed (default REG_DEFAULT_MAX_PAGE) */
};

/* Like distribution's catalog maxentries: a client that asks for no page
 * size (or a larger one) gets at most this many, and a Link to the rest. */
#define REG_DEFAULT_MAX_PAGE 1000

struct upload;

struct registry
{
  struct reg_config cfg;
  int root_fd;
  unsigned char *token_secret;
  size_t token_secret_len;
  pthread_mutex_t uploads_lock;
  struct upload *uploads;    /* in-memory state of uploads in progress */
  struct htpasswd *users;
  struct MHD_Daemon *mhd;
  struct reg_tls *tls;
};

/* ---- config.c ---- */
/* Parse argv (after the program name); returns 1 if --help/--version was
 * handled (print and exit 0), 0 to run, <0 on error. */
int reg_config_parse (struct reg_config *cfg, int argc, char **argv, berth_err *err);
void reg_config_free (struct reg_config *cfg);
void reg_usage (void);

/* ---- names.c ---- */
bool reg_name_valid (const char *name);
bool reg_tag_valid (const char *tag);
/* "sha256:<64 lowercase hex>" */
bool reg_digest_valid (const char *digest);
bool reg_uuid_valid (const char *uuid);

/* ---- digest (storage.c) ---- */
struct reg_hash
{
  EVP_MD_CTX *md;
};
int reg_hash_init (struct reg_hash *h);
void reg_hash_update (struct reg_hash *h, const void *buf, size_t len);
/* Writes "sha256:<hex>" (REG_DIGEST_LEN + 1 bytes) and frees the context. */
void reg_hash_final (struct reg_hash *h, char *out);
void reg_hash_free (struct reg_hash *h);
int reg_hash_buffer (const void *buf, size_t len, char *out);
/* Copy the state (for "what is the digest so far" without ending it). */
int reg_hash_copy (struct reg_hash *dst, const struct reg_hash *src);

/* ---- storage.c ---- */
int reg_storage_open (struct registry *reg, berth_err *err);
/* Paths relative to the root (heap strings). */
char *reg_blob_path (const char *digest);
char *reg_repo_path (const char *name, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
/* Open a blob for reading; -ENOENT if absent.  *size is set. */
int reg_blob_open (struct registry *reg, const char *digest, off_t *size);
bool reg_blob_exists (struct registry *reg, const char *digest, off_t *size);
/* Move the verified, fsynced file TMP (relative to root) into the blob
 * store under DIGEST; an existing blob wins (same content). */
int reg_blob_commit (struct registry *reg, const char *tmp, const char *digest, berth_err *err);
/* Store a small blob (a manifest) from memory: temp, fsync, rename. */
int reg_blob_put_buffer (struct registry *reg, const char *digest, const char *buf, size_t len, berth_err *err);
/* Small "link" files: write atomically (temp + rename), read (NULL if absent). */
int reg_link_write (struct registry *reg, const char *path, const char *content, bool durable, berth_err *err);
char *reg_link_read (struct registry *reg, const char *path, size_t max);
bool reg_path_exists (struct registry *reg, const char *path);
int reg_mkdir_p (struct registry *reg, const char *path);
/* rm -rf of PATH under the root. */
int reg_remove_tree (struct registry *reg, const char *path);
/* Sorted list of names in a directory under the root (NULL-terminated;
 * an absent directory is an empty list).  NULL only when out of memory. */
char **reg_list_dir (struct registry *reg, const char *path);
void reg_strv_free (char **v);
/* The repository has this blob / manifest. */
bool reg_repo_has_blob (struct registry *reg, const char *name, const char *digest);
bool reg_repo_has_manifest (struct registry *reg, const char *name, const char *digest, char **media_type);
int reg_repo_link_blob (struct registry *reg, const char *name, const char *digest, berth_err *err);

/* ---- auth.c ---- */
struct htpasswd;
int reg_htpasswd_load (const char *path, struct htpasswd **out, berth_err *err);
void reg_htpasswd_free (struct htpasswd *h);
/* Checks "Authorization: Basic" credentials against the file. */
bool reg_htpasswd_check (struct htpasswd *h, const char *user, const char *password);
/* Decodes a Basic header value into user and password (heap). */
bool reg_basic_decode (const char *header, char **user, char **password);

/* ---- token.c ---- */
int reg_token_load_key (struct registry *reg, berth_err *err);
/* Verify a JWT; on success *claims holds the payload (json_t *). */
bool reg_token_verify (struct registry *reg, const char *jwt, void **claims);
/* The token grants ACTION on repository NAME (or registry:catalog). */
bool reg_token_allows (void *claims, const char *type, const char *name, const char *action);
void reg_token_claims_free (void *claims);

/* ---- tls.c ---- */
struct reg_tls;
int reg_tls_start (struct registry *reg, int listen_fd, berth_err *err);
void reg_tls_stop (struct registry *reg);

/* ---- http.c ---- */
int reg_http_start (struct registry *reg, berth_err *err);
void reg_http_stop (struct registry *reg);
int reg_listen_socket (const char *addr, berth_err *err);

/* ---- gc.c ---- */
int reg_gc_main (int argc, char **argv);

#endif
