/* Bearer tokens (the Docker token-auth flow).  A client without a token
 * gets 401 with WWW-Authenticate: Bearer realm=...,service=...,scope=...;
 * it asks the realm for a token, here /token of this registry, which
 * checks its htpasswd credentials and answers an HS256 JWT whose "access"
 * claim lists what it may do ([{"type":"repository","name":"x",
 * "actions":["pull","push"]}]).  Requests carry it as Authorization:
 * Bearer; the signature, audience (service), issuer and expiry are checked
 * before the access list is. */
#include "registry/http.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define KEY_MIN 32
#define KEY_MAX 4096
#define TOKEN_MAX 16384
#define CLOCK_SKEW 60

int reg_token_load_key (struct registry *reg, berth_err *err)
{
  char *key = NULL;
  size_t len = 0;
  if (berth_read_file (reg->cfg.token_key, KEY_MAX, &key, &len, err) < 0)
    return berth_error_prefix (err, "--token-key");
  while (len > 0 && (key[len - 1] == '\n' || key[len - 1] == '\r'))
    len--;
  if (len < KEY_MIN)
    {
      free (key);
      return berth_fail (err, EINVAL, "--token-key %s: the key must have at least %d bytes", reg->cfg.token_key, KEY_MIN);
    }
  reg->token_secret = (unsigned char *) key;
  reg->token_secret_len = len;
  return 0;
}

/* ---- base64url without padding ---- */

static char *b64url_encode (const unsigned char *in, size_t len)
{
  size_t cap = 4 * ((len + 2) / 3) + 1;
  char *out = malloc (cap);
  if (out == NULL)
    return NULL;
  int n = EVP_EncodeBlock ((unsigned char *) out, in, len);
  while (n > 0 && out[n - 1] == '=')
    n--;
  out[n] = '\0';
  for (char *p = out; *p; p++)
    *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
  return out;
}

static unsigned char *b64url_decode (const char *in, size_t len, size_t *out_len)
{
  if (len > TOKEN_MAX)
    return NULL;
  size_t padded = (len + 3) / 4 * 4;
  cleanup_free char *tmp = malloc (padded + 1);
  unsigned char *out = malloc (padded + 1);
  if (tmp == NULL || out == NULL)
    {
      free (out);
      return NULL;
    }
  for (size_t i = 0; i < len; i++)
    {
      char c = in[i];
      if (c == '+' || c == '/' || c == '=')
        {
          free (out);
          return NULL;
        }
      tmp[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
  for (size_t i = len; i < padded; i++)
    tmp[i] = '=';
  tmp[padded] = '\0';
  int n = padded ? EVP_DecodeBlock (out, (unsigned char *) tmp, padded) : 0;
  if (n < 0)
    {
      free (out);
      return NULL;
    }
  n -= padded - len;
  out[n] = '\0';
  *out_len = n;
  return out;
}

static bool hmac (struct registry *reg, const char *data, size_t len, unsigned char mac[32])
{
  unsigned int n = 0;
  return HMAC (EVP_sha256 (), reg->token_secret, reg->token_secret_len, (const unsigned char *) data, len, mac, &n)
         && n == 32;
}

static char *sign (struct registry *reg, json_t *claims)
{
  static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  cleanup_free char *payload = json_dumps (claims, JSON_COMPACT);
  cleanup_free char *h64 = b64url_encode ((const unsigned char *) header, strlen (header));
  cleanup_free char *p64 = payload ? b64url_encode ((unsigned char *) payload, strlen (payload)) : NULL;
  cleanup_free char *signing = NULL;
  unsigned char mac[32];
  if (h64 == NULL || p64 == NULL || asprintf (&signing, "%s.%s", h64, p64) < 0)
    return NULL;
  if (!hmac (reg, signing, strlen (signing), mac))
    return NULL;
  cleanup_free char *s64 = b64url_encode (mac, sizeof mac);
  char *jwt = NULL;
  if (s64 == NULL || asprintf (&jwt, "%s.%s", signing, s64) < 0)
    return NULL;
  return jwt;
}

bool reg_token_verify (struct registry *reg, const char *jwt, void **claims)
{
  size_t len = strlen (jwt);
  const char *dot1 = memchr (jwt, '.', len);
  const char *dot2 = dot1 ? memchr (dot1 + 1, '.', len - (dot1 + 1 - jwt)) : NULL;
  if (dot2 == NULL || len > TOKEN_MAX || reg->token_secret == NULL)
    return false;
  size_t hl, pl, sl;
  cleanup_free unsigned char *header = b64url_decode (jwt, dot1 - jwt, &hl);
  cleanup_free unsigned char *payload = b64url_decode (dot1 + 1, dot2 - dot1 - 1, &pl);
  cleanup_free unsigned char *sig = b64url_decode (dot2 + 1, len - (dot2 + 1 - jwt), &sl);
  if (header == NULL || payload == NULL || sig == NULL || sl != 32)
    return false;
  cleanup_json json_t *h = json_loadb ((char *) header, hl, 0, NULL);
  const char *alg = berth_json_str (h, "alg");
  if (alg == NULL || strcmp (alg, "HS256") != 0)
    return false;
  unsigned char mac[32];
  if (!hmac (reg, jwt, dot2 - jwt, mac) || CRYPTO_memcmp (mac, sig, 32) != 0)
    return false;
  json_t *c = json_loadb ((char *) payload, pl, 0, NULL);
  time_t now = time (NULL);
  const char *aud = berth_json_str (c, "aud");
  const char *iss = berth_json_str (c, "iss");
  bool ok = json_is_object (c) && berth_json_int (c, "exp", 0) > now && berth_json_int (c, "nbf", 0) <= now + CLOCK_SKEW
            && aud && strcmp (aud, reg->cfg.token_service) == 0 && iss && strcmp (iss, reg->cfg.token_issuer) == 0;
  if (!ok)
    {
      json_decref (c);
      return false;
    }
  *claims = c;
  return true;
}

bool reg_token_allows (void *claims, const char *type, const char *name, const char *action)
{
  json_t *access = berth_json_arr (claims, "access");
  size_t i, j;
  json_t *a, *act;
  json_array_foreach (access, i, a)
    {
      const char *t = berth_json_str (a, "type");
      const char *n = berth_json_str (a, "name");
      if (t == NULL || n == NULL || strcmp (t, type) != 0 || strcmp (n, name) != 0)
        continue;
      json_array_foreach (berth_json_arr (a, "actions"), j, act)
        {
          const char *s = json_string_value (act);
          if (s && (strcmp (s, action) == 0 || strcmp (s, "*") == 0))
            return true;
        }
    }
  return false;
}

void reg_token_claims_free (void *claims)
{
  json_decref (claims);
}

/* ---- the token endpoint ---- */

struct scopes
{
  json_t *access;
};

/* "repository:NAME:pull,push" or "registry:catalog:*": an authenticated
 * user gets the actions it asks for, of those the registry knows. */
static enum MHD_Result add_scope (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
  struct scopes *s = cls;
  if (strcmp (key, "scope") != 0 || value == NULL)
    return MHD_YES;
  const char *c1 = strchr (value, ':');
  const char *c2 = strrchr (value, ':');
  if (c1 == NULL || c2 == c1)
    return MHD_YES;
  cleanup_free char *type = strndup (value, c1 - value);
  cleanup_free char *name = strndup (c1 + 1, c2 - c1 - 1);
  cleanup_free char *actions = strdup (c2 + 1);
  if (type == NULL || name == NULL || actions == NULL)
    return MHD_YES;
  bool repo = strcmp (type, "repository") == 0 && reg_name_valid (name);
  bool catalog = strcmp (type, "registry") == 0 && strcmp (name, "catalog") == 0;
  if (!repo && !catalog)
    return MHD_YES;
  json_t *granted = json_array ();
  char *save = NULL;
  for (char *a = strtok_r (actions, ",", &save); a; a = strtok_r (NULL, ",", &save))
    if ((repo && (strcmp (a, "pull") == 0 || strcmp (a, "push") == 0 || strcmp (a, "delete") == 0))
        || strcmp (a, "*") == 0)
      json_array_append_new (granted, json_string (a));
  json_array_append_new (s->access, json_pack ("{s:s,s:s,s:o}", "type", type, "name", name, "actions", granted));
  return MHD_YES;
}

void token_serve (struct reg_req *req)
{
  struct registry *reg = req->reg;
  if (strcmp (req->method, "GET") != 0)
    return reply_error (req, "UNSUPPORTED", "use GET");
  const char *h = req_header (req, "Authorization");
  cleanup_free char *user = NULL;
  cleanup_free char *password = NULL;
  if (h && !(reg_basic_decode (h, &user, &password) && reg_htpasswd_check (reg->users, user, password)))
    {
      reply_error (req, "UNAUTHORIZED", "bad credentials");
      reply_header (req, "WWW-Authenticate", "Basic realm=\"berth-registry\"");
      return;
    }
  struct scopes s = { .access = json_array () };
  /* anonymous clients get a token that grants nothing */
  if (user)
    MHD_get_connection_values (req->conn, MHD_GET_ARGUMENT_KIND, add_scope, &s);
  unsigned char rnd[16];
  char jti[33];
  if (getrandom (rnd, sizeof rnd, 0) != sizeof rnd)
    memset (rnd, 0, sizeof rnd);
  for (size_t i = 0; i < sizeof rnd; i++)
    snprintf (jti + 2 * i, 3, "%02x", rnd[i]);
  time_t now = time (NULL);
  cleanup_json json_t *claims = json_pack ("{s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:o}", "iss", reg->cfg.token_issuer, "sub",
                                           user ? user : "", "aud", reg->cfg.token_service, "exp",
                                           (json_int_t) (now + REG_TOKEN_TTL), "nbf", (json_int_t) (now - 1), "iat",
                                           (json_int_t) now, "jti", jti, "access", s.access);
  cleanup_free char *jwt = claims ? sign (reg, claims) : NULL;
  if (jwt == NULL)
    return reply_error_status (req, 500, "UNKNOWN", "cannot sign the token");
  char issued[64];
  struct tm tm;
  gmtime_r (&now, &tm);
  strftime (issued, sizeof issued, "%Y-%m-%dT%H:%M:%SZ", &tm);
  reply_json (req, 200, NULL, json_pack ("{s:s,s:s,s:i,s:s}", "token", jwt, "access_token", jwt, "expires_in",
                                         REG_TOKEN_TTL, "issued_at", issued));
}
