/* libberth-image's registry client: `docker pull`, `docker push` and
 * `docker login` against any OCI distribution-spec registry (berth-registry,
 * CNCF distribution, Docker Hub...).  berthd runs these in its image worker
 * (daemon/image-worker.h), never in the daemon itself: libcurl's TLS and the
 * decompressors then never stay resident in berthd.
 *
 * Transport: loopback registries (localhost, 127.0.0.0/8, ::1) and those
 * named in OPTS->insecure are insecure, as with dockerd: HTTPS when they
 * speak it (certificate not checked), else plain HTTP.  Others: HTTPS,
 * verified against
 * the system CAs plus CERTS_DIR/HOST[:PORT]/ca.crt (Docker's
 * /etc/docker/certs.d layout; client.cert + client.key there are sent as a
 * client certificate).  "docker.io" is served by registry-1.docker.io.
 *
 * Auth: the registry's 401 challenge decides.  "Basic": the credentials are
 * sent as they are.  "Bearer realm=..,service=..,scope=..": a token is
 * fetched from the realm (with the credentials as basic auth when there are
 * some, or the identity token as a refresh token) and the request retried.
 *
 * Progress: JSON lines written to OPTS->progress_fd as the docker CLI reads
 * them ({"status": ..., "id": ..., "progressDetail": {...}}), one write per
 * line, so that a pipe reader never sees half a line. */
#ifndef BERTH_IMAGE_DISTRIBUTION_H
#define BERTH_IMAGE_DISTRIBUTION_H

#include <stdbool.h>

#include "image/image.h"

/* Credentials, as the docker CLI sends them (X-Registry-Auth, /auth). */
struct dist_auth
{
  char *username;
  char *password;
  char *identity_token; /* an OAuth refresh token, instead of a password */
};

struct dist_options
{
  struct dist_auth auth;
  char **insecure;       /* "host[:port]" or CIDR "10.0.0.0/8", NULL-terminated, may be NULL */
  const char *certs_dir; /* default /etc/docker/certs.d */
  const char *platform;  /* "os/arch[/variant]" or NULL: linux/<host arch> */
  int progress_fd;       /* JSON progress lines; -1: none */
  int max_downloads;     /* layers fetched at once; 0: 3, as dockerd */
};

/* Decode an X-Registry-Auth header (base64url JSON {username, password,
 * serveraddress, identitytoken}); an empty or "{}" header gives no
 * credentials.  Bad base64 or JSON fail with EINVAL. */
int dist_auth_decode (const char *header, struct dist_auth *out, berth_err *err);
/* The credentials for REGISTRY (a reference's domain: "docker.io",
 * "localhost:5000") in an X-Registry-Config header (base64url JSON
 * {"<server address>": {username, password, auth, identitytoken}}, what
 * `docker build` sends for every registry it has a login for).  No header
 * or no entry for REGISTRY gives no credentials; bad base64 or JSON fail
 * with EINVAL. */
int dist_auth_config_lookup (const char *header, const char *registry, struct dist_auth *out, berth_err *err);
void dist_auth_free (struct dist_auth *a);

/* What a pull stored: the image and the refs.json keys to point at it.
 * The pull itself never writes refs.json: the caller records the result
 * with image_record under its store lock (pulls run without it). */
struct dist_pulled
{
  char id[72];       /* "sha256:..." config digest */
  char manifest[72]; /* the stored manifest's digest */
  char **keys;       /* "NAME:TAG", "NAME@DIGEST" */
};

/* Pull REF ("busybox", "host:5000/x:1", "x@sha256:...") into S: blobs and
 * layers are committed one by one (each complete or absent), the config and
 * manifest last.  ALL_TAGS pulls every tag of REF's repository (REF has no
 * tag then).  *pulled gets one entry per image (*n of them).  Errors: ENOENT
 * for an unknown repository, tag or digest ("manifest for X not found"),
 * EACCES for refused credentials, EIO for network and registry failures,
 * EINVAL for bad manifests and digest mismatches. */
int image_pull (struct image_store *s, const char *ref, bool all_tags, const struct dist_options *opts,
                struct dist_pulled **pulled, size_t *n, berth_err *err);
void dist_pulled_free (struct dist_pulled *p, size_t n);

/* Point the KEYS at the image ID whose manifest blob is MANIFEST (both
 * already in the store), in one refs.json commit.  *fresh (may be NULL)
 * tells whether any key pointed elsewhere before ("Downloaded newer
 * image" rather than "Image is up to date"). */
int image_record (struct image_store *s, const char *id, const char *manifest, char **keys, bool *fresh,
                  berth_err *err);

/* Push NAME (a repository, "host:5000/x") with TAG, or every tag of it
 * when TAG is NULL or empty.  Layers are pushed gzip-compressed: a layer
 * stored uncompressed is compressed once and the result kept (so the next
 * push sends the same bytes and digest). */
int image_push (struct image_store *s, const char *name, const char *tag, const struct dist_options *opts,
                berth_err *err);

/* `docker login`: check the credentials against SERVER's /v2/ (basic or
 * token flow).  EACCES when the registry refuses them. */
int image_login (const char *server, const struct dist_options *opts, berth_err *err);

#endif
