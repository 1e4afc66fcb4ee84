/* The request/reply interface between http.c and the API handlers.
 *
 * A request's life: its headers arrive → http.c routes it, checks
 * authentication, then calls the route's begin() (which may choose how
 * the body is consumed: discarded, buffered up to a limit, or streamed
 * into a file while hashed) → the body arrives → finish() builds the
 * reply.  An error reply set by begin() is sent without reading the body.
 * The request's cleanup frees whatever begin() took (see req->cleanup). */
#ifndef BERTH_REGISTRY_HTTP_H
#define BERTH_REGISTRY_HTTP_H

#include "registry/registry.h"

#include <jansson.h>

enum reg_route_kind
{
  ROUTE_NONE = 0,
  ROUTE_BASE,       /* /v2/ */
  ROUTE_CATALOG,    /* /v2/_catalog */
  ROUTE_TOKEN,      /* /token */
  ROUTE_TAGS,       /* /v2/<name>/tags/list */
  ROUTE_MANIFEST,   /* /v2/<name>/manifests/<ref> */
  ROUTE_BLOB,       /* /v2/<name>/blobs/<digest> */
  ROUTE_UPLOAD,     /* /v2/<name>/blobs/uploads/[<uuid>] */
  ROUTE_REFERRERS,  /* /v2/<name>/referrers/<digest> */
};

enum reg_body_mode
{
  BODY_DISCARD = 0,
  BODY_BUFFER,      /* into req->buf, at most req->buf_max bytes */
  BODY_FILE,        /* appended to req->body_fd and hashed into req->hash */
};

struct reg_req
{
  struct registry *reg;
  struct MHD_Connection *conn;
  const char *method;
  enum reg_route_kind kind;
  char *name;              /* repository */
  char *ref;               /* tag, digest or uuid */
  char *user;              /* authenticated user, if any */
  void *claims;            /* verified token claims, if any */

  enum reg_body_mode body_mode;
  char *buf;
  size_t buf_len, buf_cap, buf_max;
  bool too_large;
  int body_fd;
  struct reg_hash *hash;   /* hashed as written (BODY_FILE), may be NULL */
  uint64_t body_bytes;     /* bytes of the body received */
  int body_errno;          /* a write failed */

  void (*finish) (struct reg_req *req);
  void (*cleanup) (struct reg_req *req);
  void *ctx;               /* the handler's state */

  unsigned status;
  struct MHD_Response *resp;
  bool began;
};

/* Header and query lookups (NULL if absent). */
const char *req_header (struct reg_req *req, const char *name);
const char *req_query (struct reg_req *req, const char *key);

/* Replies: the last one set wins (the previous response is destroyed). */
void reply_empty (struct reg_req *req, unsigned status);
void reply_buffer (struct reg_req *req, unsigned status, const char *content_type, const char *body, size_t len);
void reply_json (struct reg_req *req, unsigned status, const char *content_type, json_t *body);
/* LEN bytes of FD from OFFSET; takes the fd. */
void reply_fd (struct reg_req *req, unsigned status, const char *content_type, int fd, uint64_t offset, uint64_t len);
void reply_header (struct reg_req *req, const char *name, const char *value);
void reply_headerf (struct reg_req *req, const char *name, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));
/* The spec's {"errors":[{"code","message","detail"}]} with CODE's status
 * (see http.c for the table); DETAIL may be NULL. */
void reply_error (struct reg_req *req, const char *code, const char *detail_fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
void reply_error_status (struct reg_req *req, unsigned status, const char *code, const char *detail);
/* 500 with the berth error's message (and frees it). */
void reply_internal (struct reg_req *req, berth_err *err);

/* Does the authenticated client hold ACTION on repository NAME?  (Always
 * true without auth.) Used by mount for the source repository. */
bool req_allowed (struct reg_req *req, const char *name, const char *action);

/* Route handlers (begin; they set req->finish when they need the body). */
void blobs_get (struct reg_req *req);
void blobs_delete (struct reg_req *req);
void uploads_post (struct reg_req *req);
void uploads_patch (struct reg_req *req);
void uploads_put (struct reg_req *req);
void uploads_status (struct reg_req *req);
void uploads_cancel (struct reg_req *req);
void manifests_get (struct reg_req *req);
void manifests_put (struct reg_req *req);
void manifests_delete (struct reg_req *req);
void tags_list (struct reg_req *req);
void catalog_list (struct reg_req *req);
void referrers_list (struct reg_req *req);
void token_serve (struct reg_req *req);

/* Pagination shared by tags and catalog: the entries after ?last=, at
 * most ?n=; *LINK (heap, or NULL) is the Link header for the next page. */
json_t *paginate (struct reg_req *req, char **sorted, const char *base_url, char **link);

/* referrers.c: index entries kept when manifests are put/deleted. */
int referrers_add (struct registry *reg, const char *name, const char *subject, const char *digest,
                   json_t *manifest, const char *media_type, size_t size, berth_err *err);
void referrers_remove (struct registry *reg, const char *name, const char *digest);

#endif
