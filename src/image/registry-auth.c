/* Registry authentication: the docker CLI's credentials (X-Registry-Auth),
 * answering a registry's 401 challenge (basic, or a bearer token from the
 * realm it names), which hosts speak plain HTTP, and `docker login`. */
#include "image/dist-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- X-Registry-Auth ---- */

void dist_auth_free (struct dist_auth *a)
{
  free (a->username);
  free (a->password);
  free (a->identity_token);
  memset (a, 0, sizeof *a);
}

static char *dup_nonempty (const char *s)
{
  return s && *s ? strdup (s) : NULL;
}

/* A header holding base64url (with or without padding) JSON: the JSON
 * (NULL and *ERR filled for bad base64 or JSON).  WHAT names the header. */
static json_t *decode_header_json (const char *header, const char *what, berth_err *err)
{
  size_t n = strlen (header);
  if (n > 64 * 1024)
    return berth_fail (err, EINVAL, "%s: too long", what), NULL;
  cleanup_free char *b64 = malloc (n + 4);
  cleanup_free unsigned char *raw = malloc (n + 4);
  if (b64 == NULL || raw == NULL)
    return berth_fail (err, ENOMEM, "%s", what), NULL;
  /* base64url -> standard base64, padded, for OpenSSL. */
  size_t pad = 0;
  for (size_t i = 0; i < n; i++)
    b64[i] = header[i] == '-' ? '+' : header[i] == '_' ? '/' : header[i];
  while (n % 4)
    b64[n++] = '=';
  b64[n] = '\0';
  for (size_t i = n; i > 0 && b64[i - 1] == '='; i--)
    pad++;
  int len = EVP_DecodeBlock (raw, (unsigned char *) b64, (int) n);
  if (len < 0 || (size_t) len < pad)
    return berth_fail (err, EINVAL, "%s: invalid base64", what), NULL;
  len -= (int) pad;
  json_t *j = berth_json_load_buffer ((char *) raw, (size_t) len, what, err);
  if (j != NULL && !json_is_object (j))
    {
      json_decref (j);
      return berth_fail (err, EINVAL, "%s: expected a JSON object", what), NULL;
    }
  return j;
}

/* One AuthConfig object into OUT: username and password, or "auth"
 * (base64 "user:password", as in the CLI's config.json), and
 * identitytoken. */
static int auth_from_json (json_t *j, struct dist_auth *out, berth_err *err)
{
  out->username = dup_nonempty (berth_json_str (j, "username"));
  out->password = dup_nonempty (berth_json_str (j, "password"));
  out->identity_token = dup_nonempty (berth_json_str (j, "identitytoken"));
  const char *auth = berth_json_str (j, "auth");
  if (out->username || auth == NULL || *auth == '\0')
    return 0;
  size_t n = strlen (auth);
  cleanup_free unsigned char *raw = malloc (n + 1);
  if (raw == NULL)
    return berth_fail (err, ENOMEM, "registry credentials");
  int len = EVP_DecodeBlock (raw, (const unsigned char *) auth, (int) n);
  while (len > 0 && raw[len - 1] == '\0') /* the padding decodes to NULs */
    len--;
  const char *colon = len > 0 ? memchr (raw, ':', (size_t) len) : NULL;
  if (colon == NULL)
    return berth_fail (err, EINVAL, "registry credentials: \"auth\" is not base64 of user:password");
  free (out->password);
  out->username = strndup ((const char *) raw, (size_t) (colon - (const char *) raw));
  out->password = strndup (colon + 1, (size_t) (len - (colon + 1 - (const char *) raw)));
  return out->username && out->password ? 0 : berth_fail (err, ENOMEM, "registry credentials");
}

int dist_auth_decode (const char *header, struct dist_auth *out, berth_err *err)
{
  memset (out, 0, sizeof *out);
  if (header == NULL || *header == '\0')
    return 0;
  cleanup_json json_t *j = decode_header_json (header, "X-Registry-Auth", err);
  if (j == NULL)
    return -EINVAL;
  return auth_from_json (j, out, err) < 0 ? (dist_auth_free (out), -EINVAL) : 0;
}

/* A key of X-Registry-Config ("localhost:5000", "https://host/v1/") as a
 * bare host[:port]; Docker Hub's "index.docker.io" is "docker.io". */
static char *config_key_host (const char *key)
{
  if (strncmp (key, "https://", 8) == 0)
    key += 8;
  else if (strncmp (key, "http://", 7) == 0)
    key += 7;
  char *host = strndup (key, strcspn (key, "/"));
  if (host && (strcmp (host, "index.docker.io") == 0 || strcmp (host, "registry-1.docker.io") == 0))
    {
      free (host);
      host = strdup ("docker.io");
    }
  return host;
}

int dist_auth_config_lookup (const char *header, const char *registry, struct dist_auth *out, berth_err *err)
{
  memset (out, 0, sizeof *out);
  if (header == NULL || *header == '\0')
    return 0;
  cleanup_json json_t *j = decode_header_json (header, "X-Registry-Config", err);
  if (j == NULL)
    return -EINVAL;
  const char *key;
  json_t *v;
  json_object_foreach (j, key, v)
    {
      cleanup_free char *host = config_key_host (key);
      if (host == NULL)
        return berth_fail (err, ENOMEM, "X-Registry-Config");
      if (strcmp (host, registry) != 0 || !json_is_object (v))
        continue;
      return auth_from_json (v, out, err) < 0 ? (dist_auth_free (out), -EINVAL) : 0;
    }
  return 0;
}

/* ---- plain HTTP or TLS ---- */

/* "h", "h:port", "[v6]:port" -> the bare host (heap). */
static char *bare_host (const char *host)
{
  if (host[0] == '[')
    {
      const char *end = strchr (host, ']');
      return end ? strndup (host + 1, (size_t) (end - host - 1)) : strdup (host);
    }
  const char *colon = strchr (host, ':');
  /* More than one colon: an IPv6 literal without brackets. */
  if (colon && strchr (colon + 1, ':') == NULL)
    return strndup (host, (size_t) (colon - host));
  return strdup (host);
}

static bool in_cidr (const char *ip, const char *cidr)
{
  const char *slash = strchr (cidr, '/');
  if (slash == NULL)
    return false;
  cleanup_free char *net = strndup (cidr, (size_t) (slash - cidr));
  struct in_addr a, n;
  int bits = atoi (slash + 1);
  if (net == NULL || inet_pton (AF_INET, ip, &a) != 1 || inet_pton (AF_INET, net, &n) != 1 || bits < 0 || bits > 32)
    return false;
  uint32_t mask = bits == 0 ? 0 : htonl (~0U << (32 - bits));
  return (a.s_addr & mask) == (n.s_addr & mask);
}

bool dist_host_insecure (const char *host, char **insecure)
{
  cleanup_free char *bare = bare_host (host);
  if (bare == NULL)
    return false;
  if (strcmp (bare, "localhost") == 0 || strcmp (bare, "::1") == 0 || in_cidr (bare, "127.0.0.0/8"))
    return true;
  for (char **i = insecure; i && *i; i++)
    if (strcmp (*i, host) == 0 || strcmp (*i, bare) == 0 || in_cidr (bare, *i))
      return true;
  return false;
}

/* ---- challenges ---- */

/* The value of KEY in `Bearer realm="..",service=".."` (heap or NULL). */
static char *challenge_param (const char *ch, const char *key)
{
  size_t k = strlen (key);
  const char *p = strchr (ch, ' ');
  while (p && *p)
    {
      while (*p == ' ' || *p == ',')
        p++;
      const char *eq = strchr (p, '=');
      if (eq == NULL)
        return NULL;
      bool match = (size_t) (eq - p) == k && strncasecmp (p, key, k) == 0;
      const char *v = eq + 1, *end;
      if (*v == '"')
        {
          v++;
          end = strchr (v, '"');
          if (end == NULL)
            return NULL;
          if (match)
            return strndup (v, (size_t) (end - v));
          p = end + 1;
        }
      else
        {
          end = v + strcspn (v, ",");
          if (match)
            return strndup (v, (size_t) (end - v));
          p = end;
        }
    }
  return NULL;
}

static int set_authz (struct dist_client *c, const char *kind, const char *cred, berth_err *err)
{
  char *h = NULL;
  if (asprintf (&h, "Authorization: %s %s", kind, cred) < 0)
    return berth_fail (err, ENOMEM, "registry auth");
  free (c->authz);
  c->authz = h;
  return 0;
}

static int basic_auth (struct dist_client *c, berth_err *err)
{
  if (c->auth->username == NULL)
    return berth_fail_as (err, EACCES, "%s: unauthorized: authentication required", c->host);
  cleanup_free char *plain = NULL;
  if (asprintf (&plain, "%s:%s", c->auth->username, c->auth->password ? c->auth->password : "") < 0)
    return berth_fail (err, ENOMEM, "registry auth");
  size_t n = strlen (plain);
  cleanup_free unsigned char *b64 = malloc (4 * ((n + 2) / 3) + 1);
  if (b64 == NULL)
    return berth_fail (err, ENOMEM, "registry auth");
  EVP_EncodeBlock (b64, (unsigned char *) plain, (int) n);
  return set_authz (c, "Basic", (char *) b64, err);
}

static int append_param (char **url, CURL *h, const char *key, const char *value)
{
  char *esc = curl_easy_escape (h, value, 0);
  char *u = NULL;
  int r = esc ? asprintf (&u, "%s%s%s=%s", *url, strchr (*url, '?') ? "&" : "?", key, esc) : -1;
  curl_free (esc);
  if (r < 0)
    return -ENOMEM;
  free (*url);
  *url = u;
  return 0;
}

/* The token URL: realm?service=..&scope=..(one per scope)&account=.. */
static char *token_url (struct dist_client *c, CURL *h, const char *realm, const char *service, const char *scope)
{
  char *url = strdup (realm);
  if (url && service && append_param (&url, h, "service", service) < 0)
    return NULL;
  cleanup_free char *scopes = scope ? strdup (scope) : NULL;
  char *save = NULL;
  for (char *s = scopes ? strtok_r (scopes, " ", &save) : NULL; url && s; s = strtok_r (NULL, " ", &save))
    if (append_param (&url, h, "scope", s) < 0)
      return NULL;
  if (url && c->auth->username && append_param (&url, h, "account", c->auth->username) < 0)
    return NULL;
  return url;
}

static int parse_token (struct dist_response *r, const char *realm, struct dist_client *c, berth_err *err)
{
  cleanup_json json_t *j = r->body ? json_loadb (r->body, r->len, 0, NULL) : NULL;
  const char *tok = berth_json_str (j, "token");
  if (tok == NULL || *tok == '\0')
    tok = berth_json_str (j, "access_token");
  if (tok == NULL || *tok == '\0')
    return berth_fail (err, EIO, "token server %s: no token in its answer", realm);
  return set_authz (c, "Bearer", tok, err);
}

static int fetch_token (struct dist_client *c, const char *realm, const char *service, const char *scope,
                        berth_err *err)
{
  if (strncmp (realm, "https://", 8) != 0 && strncmp (realm, "http://", 7) != 0)
    return berth_fail (err, EIO, "%s: unsupported token realm `%s`", c->host, realm);
  struct dist_response r = { 0 };
  struct curl_slist *list = NULL;
  free (c->authz);
  c->authz = NULL;
  CURL *h = dist_easy (c, realm, NULL, &list, err);
  if (h == NULL)
    return -ENOMEM;
  cleanup_free char *url = token_url (c, h, realm, service, scope);
  cleanup_free char *form = NULL;
  if (url == NULL)
    {
      curl_easy_cleanup (h);
      curl_slist_free_all (list);
      return berth_fail (err, ENOMEM, "token request");
    }
  curl_easy_setopt (h, CURLOPT_URL, url);
  if (c->auth->identity_token)
    {
      /* OAuth refresh token (docker login with an identity token). */
      char *s = curl_easy_escape (h, service ? service : "", 0), *sc = curl_easy_escape (h, scope ? scope : "", 0);
      char *t = curl_easy_escape (h, c->auth->identity_token, 0);
      if (s && sc && t
          && asprintf (&form, "grant_type=refresh_token&client_id=docker&service=%s&scope=%s&refresh_token=%s", s, sc,
                       t) < 0)
        form = NULL;
      curl_free (s);
      curl_free (sc);
      curl_free (t);
      curl_easy_setopt (h, CURLOPT_URL, realm);
      curl_easy_setopt (h, CURLOPT_POSTFIELDS, form ? form : "");
    }
  else if (c->auth->username)
    {
      curl_easy_setopt (h, CURLOPT_USERNAME, c->auth->username);
      curl_easy_setopt (h, CURLOPT_PASSWORD, c->auth->password ? c->auth->password : "");
      curl_easy_setopt (h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    }
  FILE *mem = open_memstream (&r.body, &r.len);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, mem);
  curl_easy_setopt (h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) DIST_SMALL_MAX);
  CURLcode rc = curl_easy_perform (h);
  curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &r.status);
  curl_easy_cleanup (h);
  curl_slist_free_all (list);
  if (mem)
    fclose (mem);
  int ret;
  if (rc != CURLE_OK)
    ret = berth_fail (err, EIO, "get a token from %s: %s", realm, curl_easy_strerror (rc));
  else if (r.status == 401 || r.status == 403)
    ret = berth_fail_as (err, EACCES, "%s: unauthorized: incorrect username or password", c->host);
  else if (r.status != 200)
    ret = berth_fail (err, EIO, "get a token from %s: HTTP %ld", realm, r.status);
  else
    ret = parse_token (&r, realm, c, err);
  dist_response_free (&r);
  return ret;
}

int dist_authorize (struct dist_client *c, const char *www_auth, berth_err *err)
{
  if (strncasecmp (www_auth, "Basic", 5) == 0)
    return basic_auth (c, err);
  if (strncasecmp (www_auth, "Bearer", 6) != 0)
    return berth_fail (err, EIO, "%s: unsupported authentication scheme `%s`", c->host, www_auth);
  cleanup_free char *realm = challenge_param (www_auth, "realm");
  cleanup_free char *service = challenge_param (www_auth, "service");
  cleanup_free char *scope = challenge_param (www_auth, "scope");
  if (realm == NULL)
    return berth_fail (err, EIO, "%s: a bearer challenge without a realm", c->host);
  /* Our own scope covers what we are about to do; the challenge's scope
   * too when it asks for something else. */
  cleanup_free char *want = NULL;
  if (c->scope && scope && strstr (c->scope, scope) == NULL)
    {
      if (asprintf (&want, "%s %s", c->scope, scope) < 0)
        return berth_fail (err, ENOMEM, "token scope");
    }
  else
    want = strdup (c->scope ? c->scope : scope ? scope : "");
  return fetch_token (c, realm, service, want && *want ? want : NULL, err);
}

/* ---- docker login ---- */

int image_login (const char *server, const struct dist_options *opts, berth_err *err)
{
  /* "https://host/v1/", "host", "http://host:5000" -> host */
  const char *h = server && *server ? server : "docker.io";
  if (strncmp (h, "https://", 8) == 0)
    h += 8;
  else if (strncmp (h, "http://", 7) == 0)
    h += 7;
  cleanup_free char *host = strndup (h, strcspn (h, "/"));
  if (host == NULL)
    return berth_fail (err, ENOMEM, "login");
  if (strcmp (host, "index.docker.io") == 0 || strcmp (host, "registry-1.docker.io") == 0)
    {
      free (host);
      host = strdup ("docker.io");
    }
  struct dist_client c;
  int r = dist_client_open (&c, host, NULL, NULL, opts, err);
  struct dist_response resp = { 0 };
  if (r == 0)
    r = dist_request (&c, "GET", c.base, NULL, NULL, 0, DIST_SMALL_MAX, &resp, err);
  if (r == 0 && resp.status == 401 && c.authz == NULL)
    r = berth_fail_as (err, EACCES, "login to %s: unauthorized: authentication required", host);
  else if (r == 0 && (resp.status == 401 || resp.status == 403))
    r = berth_fail_as (err, EACCES, "login to %s: unauthorized: incorrect username or password", host);
  else if (r == 0 && resp.status != 200)
    r = berth_fail (err, EIO, "login to %s: %s answered HTTP %ld", host, c.base, resp.status);
  dist_response_free (&resp);
  dist_client_close (&c);
  return r;
}
