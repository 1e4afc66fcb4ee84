/* Private interface of the registry client (pull.c, pull-layer.c, push.c,
 * login in registry-auth.c): one registry connection profile per
 * repository, its requests, its auth, and the progress writer. */
#ifndef BERTH_IMAGE_DIST_INTERNAL_H
#define BERTH_IMAGE_DIST_INTERNAL_H

#include "image/distribution.h"
#include "image/image-internal.h"

#include <curl/curl.h>
#include <pthread.h>

/* A manifest or index is at most this big (as berth-registry). */
#define DIST_MANIFEST_MAX (4 << 20)
/* Token and error answers. */
#define DIST_SMALL_MAX (1 << 20)

#define DIST_MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define DIST_MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define DIST_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define DIST_MT_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+prettyjws"

/* One repository on one registry. */
struct dist_client
{
  char *host;     /* as in the reference: "127.0.0.1:5000", "docker.io" */
  char *base;     /* "http://127.0.0.1:5000/v2/" */
  char *repo;     /* path on the registry: "library/busybox" */
  char *scope;    /* token scope(s), space separated: "repository:R:pull[,push]" */
  bool tls;
  bool verify;    /* check the server's certificate (not for insecure registries) */
  char *ca_file;  /* CERTS_DIR/HOST/ca.crt when it exists */
  char *client_cert, *client_key;
  const struct dist_auth *auth;
  /* "Authorization: ..." once a challenge was answered; set only before
   * parallel transfers start (they read it). */
  char *authz;
};

struct dist_response
{
  long status;
  char *body;
  size_t len;
  char *content_type;
  char *digest;   /* Docker-Content-Digest */
  char *location;
  char *www_auth; /* WWW-Authenticate */
  char *link;     /* Link (RFC 5988): the next page of a tag list */
  curl_off_t content_length;
};
void dist_response_free (struct dist_response *r);

/* ACTIONS: "pull" or "pull,push".  The client does no I/O yet. */
int dist_client_open (struct dist_client *c, const char *host, const char *repo, const char *actions,
                      const struct dist_options *o, berth_err *err);
void dist_client_close (struct dist_client *c);
/* Add another repository to the token scope (cross-repository mounts). */
int dist_client_add_scope (struct dist_client *c, const char *scope, berth_err *err);
/* "http://host/v2/<repo>/<what>" (heap). */
char *dist_url (struct dist_client *c, const char *what);

/* An easy handle for URL with TLS settings, timeouts and the current
 * Authorization; HEADERS (may be NULL) are extra header lines.  The
 * caller frees *list (the curl_slist that must outlive the transfer). */
CURL *dist_easy (struct dist_client *c, const char *url, const char *const *headers, struct curl_slist **list,
                 berth_err *err);
/* Capture the response headers the client cares about into R. */
void dist_capture_headers (CURL *h, struct dist_response *r);

/* One request with a body kept in memory (at most MAX bytes; more fails);
 * a 401 is answered once (basic or token) and the request repeated.
 * BODY (may be NULL) is sent with LEN bytes.  Only transport failures are
 * errors; any HTTP status is returned in R. */
int dist_request (struct dist_client *c, const char *method, const char *url, const char *const *headers,
                  const void *body, size_t len, size_t max, struct dist_response *r, berth_err *err);
/* The error of an unexpected answer: the registry's {"errors": [...]}
 * message, ENOENT for 404, EACCES for 401/403, EIO otherwise. */
int dist_fail_response (struct dist_response *r, const char *what, berth_err *err);

/* registry-auth.c: answer the challenge WWW_AUTH (sets c->authz). */
int dist_authorize (struct dist_client *c, const char *www_auth, berth_err *err);
/* Is HOST ("h", "h:port", "[::1]:port") a loopback or insecure one? */
bool dist_host_insecure (const char *host, char **insecure);

/* progress.c: Docker's JSON progress messages on FD (-1: nowhere). */
struct dist_progress
{
  int fd;
  pthread_mutex_t lock;
};
void dist_progress_init (struct dist_progress *p, int fd);
/* {"status": STATUS, "id": ID} (ID may be NULL). */
void dist_progress_status (struct dist_progress *p, const char *id, const char *status);
/* {"status": STATUS, "progressDetail": {"current": CUR, "total": TOTAL}, "id": ID} */
void dist_progress_bytes (struct dist_progress *p, const char *id, const char *status, int64_t cur, int64_t total);
/* Any JSON object (stolen). */
void dist_progress_json (struct dist_progress *p, json_t *msg);

/* Blob sources (for cross-repository mounts): which repositories of which
 * registry a blob was pulled from or pushed to, in ROOT/distribution/. */
void dist_source_add (struct image_store *s, const char *digest, const char *host, const char *repo);
/* A repository on HOST other than REPO that has DIGEST, or NULL (heap). */
char *dist_source_find (struct image_store *s, const char *digest, const char *host, const char *repo);

/* Registry operations run without berthd's store lock, next to other
 * image workers whose store_open empties tmp/: they keep their partial
 * files in ROOT/tmp-dist/<pid>/ (S->tmp is pointed there), and remove the
 * folders of dead ones. */
int dist_private_tmp (struct image_store *s, berth_err *err);

/* The registry host and repository path of a normalized name
 * ("docker.io/library/busybox" -> "docker.io", "library/busybox"). */
int dist_split_name (const char *name, char **host, char **repo, berth_err *err);
/* The familiar repository as Docker prints it in "Pulling from": the
 * registry path ("library/busybox", "x/y"). */

#endif
