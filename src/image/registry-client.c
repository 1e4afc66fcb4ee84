/* The registry client's transport: one profile per repository (endpoint,
 * TLS, auth), easy handles configured alike, and small requests whose
 * answer is kept in memory with the 401 challenge answered once. */
#include "image/dist-internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DEFAULT_CERTS_DIR "/etc/docker/certs.d"
#define CONNECT_TIMEOUT 30L
/* A transfer slower than 1 byte/s for this long is a dead registry. */
#define STALL_SECONDS 60L

int dist_split_name (const char *name, char **host, char **repo, berth_err *err)
{
  const char *slash = strchr (name, '/');
  if (slash == NULL)
    return berth_fail (err, EINVAL, "invalid repository name `%s`", name);
  *host = strndup (name, (size_t) (slash - name));
  *repo = strdup (slash + 1);
  if (*host == NULL || *repo == NULL)
    return berth_fail (err, ENOMEM, "repository name");
  return 0;
}

static char *file_in (const char *dir, const char *host, const char *name)
{
  char *p = NULL;
  if (asprintf (&p, "%s/%s/%s", dir, host, name) < 0)
    return NULL;
  if (access (p, R_OK) == 0)
    return p;
  free (p);
  return NULL;
}

/* Does SERVER speak TLS?  Like dockerd with an insecure registry: HTTPS
 * first (certificate unchecked), plain HTTP when the handshake fails. */
static bool speaks_tls (const char *server)
{
  cleanup_free char *url = NULL;
  if (asprintf (&url, "https://%s/v2/", server) < 0)
    return false;
  CURL *h = curl_easy_init ();
  if (h == NULL)
    return false;
  curl_easy_setopt (h, CURLOPT_URL, url);
  curl_easy_setopt (h, CURLOPT_NOBODY, 1L);
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt (h, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt (h, CURLOPT_SSL_VERIFYPEER, 0L);
  curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST, 0L);
  CURLcode rc = curl_easy_perform (h);
  curl_easy_cleanup (h);
  return rc == CURLE_OK;
}

int dist_client_open (struct dist_client *c, const char *host, const char *repo, const char *actions,
                      const struct dist_options *o, berth_err *err)
{
  memset (c, 0, sizeof *c);
  const char *server = strcmp (host, "docker.io") == 0 ? "registry-1.docker.io" : host;
  bool insecure = dist_host_insecure (host, o->insecure);
  c->tls = !insecure || speaks_tls (server);
  c->verify = !insecure;
  c->auth = &o->auth;
  const char *certs = o->certs_dir ? o->certs_dir : DEFAULT_CERTS_DIR;
  if (c->tls)
    {
      c->ca_file = file_in (certs, host, "ca.crt");
      c->client_cert = file_in (certs, host, "client.cert");
      c->client_key = file_in (certs, host, "client.key");
    }
  c->host = strdup (host);
  c->repo = repo ? strdup (repo) : NULL;
  if (c->host == NULL || (repo && c->repo == NULL) || asprintf (&c->base, "%s://%s/v2/", c->tls ? "https" : "http", server) < 0)
    return berth_fail (err, ENOMEM, "registry client");
  if (repo && asprintf (&c->scope, "repository:%s:%s", repo, actions) < 0)
    return berth_fail (err, ENOMEM, "registry client");
  return 0;
}

void dist_client_close (struct dist_client *c)
{
  free (c->host);
  free (c->base);
  free (c->repo);
  free (c->scope);
  free (c->ca_file);
  free (c->client_cert);
  free (c->client_key);
  free (c->authz);
  memset (c, 0, sizeof *c);
}

int dist_client_add_scope (struct dist_client *c, const char *scope, berth_err *err)
{
  if (c->scope && strstr (c->scope, scope))
    return 0;
  char *s = NULL;
  if (asprintf (&s, "%s%s%s", c->scope ? c->scope : "", c->scope ? " " : "", scope) < 0)
    return berth_fail (err, ENOMEM, "token scope");
  free (c->scope);
  c->scope = s;
  return 0;
}

char *dist_url (struct dist_client *c, const char *what)
{
  char *u = NULL;
  if (asprintf (&u, "%s%s/%s", c->base, c->repo, what) < 0)
    return NULL;
  return u;
}

void dist_response_free (struct dist_response *r)
{
  free (r->body);
  free (r->content_type);
  free (r->digest);
  free (r->location);
  free (r->www_auth);
  free (r->link);
  memset (r, 0, sizeof *r);
}

CURL *dist_easy (struct dist_client *c, const char *url, const char *const *headers, struct curl_slist **list,
                 berth_err *err)
{
  CURL *h = curl_easy_init ();
  if (h == NULL)
    {
      berth_fail (err, ENOMEM, "curl");
      return NULL;
    }
  struct curl_slist *l = NULL;
  for (size_t i = 0; headers && headers[i]; i++)
    l = curl_slist_append (l, headers[i]);
  if (c->authz)
    l = curl_slist_append (l, c->authz);
  /* No "Expect: 100-continue" round trip before uploads. */
  l = curl_slist_append (l, "Expect:");
  *list = l;
  curl_easy_setopt (h, CURLOPT_URL, url);
  curl_easy_setopt (h, CURLOPT_HTTPHEADER, l);
  curl_easy_setopt (h, CURLOPT_USERAGENT, "berth/1.0 (docker/20.10 compatible)");
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt (h, CURLOPT_LOW_SPEED_TIME, STALL_SECONDS);
  /* Blob GETs may be redirected to a storage host; curl drops our
   * Authorization header when the host changes. */
  curl_easy_setopt (h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt (h, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt (h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  /* The environment's proxies are not the daemon's business. */
  curl_easy_setopt (h, CURLOPT_NOPROXY, "*");
  if (!c->verify)
    {
      curl_easy_setopt (h, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
  if (c->ca_file)
    {
      /* With OpenSSL, CAINFO and CAPATH add up: the registry's CA and the
       * system's. */
      curl_easy_setopt (h, CURLOPT_CAINFO, c->ca_file);
      curl_easy_setopt (h, CURLOPT_CAPATH, "/etc/ssl/certs");
    }
  if (c->client_cert && c->client_key)
    {
      curl_easy_setopt (h, CURLOPT_SSLCERT, c->client_cert);
      curl_easy_setopt (h, CURLOPT_SSLKEY, c->client_key);
    }
  return h;
}

static char *trimmed (const char *v, size_t n)
{
  while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
    n--;
  while (n > 0 && *v == ' ')
    v++, n--;
  return strndup (v, n);
}

static size_t header_cb (char *buf, size_t size, size_t n, void *opaque)
{
  struct dist_response *r = opaque;
  size_t len = size * n;
  static const struct
  {
    const char *name;
    size_t off;
  } wanted[] = {
    { "content-type:", offsetof (struct dist_response, content_type) },
    { "docker-content-digest:", offsetof (struct dist_response, digest) },
    { "location:", offsetof (struct dist_response, location) },
    { "www-authenticate:", offsetof (struct dist_response, www_auth) },
    { "link:", offsetof (struct dist_response, link) },
  };
  /* A new status line (a redirect, a 100) starts a new set of headers. */
  if (len > 5 && strncmp (buf, "HTTP/", 5) == 0)
    {
      free (r->www_auth);
      r->www_auth = NULL;
      free (r->link);
      r->link = NULL;
    }
  for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++)
    {
      size_t k = strlen (wanted[i].name);
      if (len > k && strncasecmp (buf, wanted[i].name, k) == 0)
        {
          char **slot = (char **) ((char *) r + wanted[i].off);
          /* The first WWW-Authenticate wins (Bearer before Basic, as sent). */
          if (*slot && wanted[i].off == offsetof (struct dist_response, www_auth))
            return len;
          free (*slot);
          *slot = trimmed (buf + k, len - k);
        }
    }
  return len;
}

void dist_capture_headers (CURL *h, struct dist_response *r)
{
  curl_easy_setopt (h, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt (h, CURLOPT_HEADERDATA, r);
}

struct body_buf
{
  struct dist_response *r;
  size_t max;
  bool too_big;
};

static size_t body_cb (char *buf, size_t size, size_t n, void *opaque)
{
  struct body_buf *b = opaque;
  size_t len = size * n;
  if (b->r->len + len > b->max)
    {
      b->too_big = true;
      return 0;
    }
  char *nb = realloc (b->r->body, b->r->len + len + 1);
  if (nb == NULL)
    return 0;
  memcpy (nb + b->r->len, buf, len);
  b->r->len += len;
  nb[b->r->len] = '\0';
  b->r->body = nb;
  return len;
}

static int perform_once (struct dist_client *c, const char *method, const char *url, const char *const *headers,
                         const void *body, size_t len, size_t max, struct dist_response *r, berth_err *err)
{
  struct curl_slist *list = NULL;
  CURL *h = dist_easy (c, url, headers, &list, err);
  if (h == NULL)
    return -ENOMEM;
  struct body_buf b = { .r = r, .max = max };
  dist_capture_headers (h, r);
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, body_cb);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, &b);
  if (strcmp (method, "HEAD") == 0)
    curl_easy_setopt (h, CURLOPT_NOBODY, 1L);
  else if (strcmp (method, "GET") != 0)
    curl_easy_setopt (h, CURLOPT_CUSTOMREQUEST, method);
  if (body || strcmp (method, "PUT") == 0 || strcmp (method, "POST") == 0)
    {
      curl_easy_setopt (h, CURLOPT_POSTFIELDS, body ? body : "");
      curl_easy_setopt (h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) (body ? len : 0));
    }
  CURLcode rc = curl_easy_perform (h);
  curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &r->status);
  curl_off_t cl = -1;
  curl_easy_getinfo (h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
  r->content_length = cl;
  curl_easy_cleanup (h);
  curl_slist_free_all (list);
  if (b.too_big)
    return berth_fail_as (err, EIO, "%s %s: the answer is larger than %zu bytes", method, url, max);
  if (rc != CURLE_OK)
    return berth_fail_as (err, EIO, "%s %s: %s", method, url, curl_easy_strerror (rc));
  return 0;
}

int dist_request (struct dist_client *c, const char *method, const char *url, const char *const *headers,
                  const void *body, size_t len, size_t max, struct dist_response *r, berth_err *err)
{
  memset (r, 0, sizeof *r);
  int ret = perform_once (c, method, url, headers, body, len, max, r, err);
  if (ret < 0 || r->status != 401 || r->www_auth == NULL)
    return ret;
  cleanup_free char *challenge = strdup (r->www_auth);
  if (challenge == NULL)
    return berth_fail (err, ENOMEM, "registry auth");
  ret = dist_authorize (c, challenge, err);
  if (ret < 0)
    return ret;
  dist_response_free (r);
  return perform_once (c, method, url, headers, body, len, max, r, err);
}

int dist_fail_response (struct dist_response *r, const char *what, berth_err *err)
{
  cleanup_json json_t *j = r->body ? json_loadb (r->body, r->len, 0, NULL) : NULL;
  json_t *e0 = json_array_get (berth_json_arr (j, "errors"), 0);
  const char *code = berth_json_str (e0, "code"), *msg = berth_json_str (e0, "message");
  int errnum = r->status == 404 ? ENOENT : (r->status == 401 || r->status == 403) ? EACCES : EIO;
  if (code && msg)
    return berth_fail_as (err, errnum, "%s: %s: %s", what, code, msg);
  if (r->status == 401)
    return berth_fail_as (err, errnum, "%s: unauthorized: authentication required", what);
  return berth_fail_as (err, errnum, "%s: the registry answered HTTP %ld", what, r->status);
}
