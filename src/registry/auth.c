/* htpasswd basic authentication.  Passwords are bcrypt ("$2y$", what
 * `htpasswd -B` writes), checked with crypt_rn(3) from libcrypt (libxcrypt).  bcrypt is
 * slow by design (milliseconds per check) and clients send the same
 * credentials with every request, so a successful check is remembered for a
 * minute, keyed by the sha256 of the credentials and the stored hash. */
#include "registry/registry.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CACHE_SLOTS 32
#define CACHE_SECONDS 60
#define HTPASSWD_MAX (1 << 20)

struct user
{
  char *name;
  char *hash;
};

struct htpasswd
{
  struct user *users;
  size_t n;
  pthread_mutex_t lock;
  struct
  {
    char key[REG_DIGEST_LEN + 1];
    time_t until;
  } cache[CACHE_SLOTS];
  unsigned next_slot;
};

int reg_htpasswd_load (const char *path, struct htpasswd **out, berth_err *err)
{
  cleanup_free char *text = NULL;
  size_t len = 0;
  int r = berth_read_file (path, HTPASSWD_MAX, &text, &len, err);
  if (r < 0)
    return berth_error_prefix (err, "htpasswd");
  struct htpasswd *h = calloc (1, sizeof *h);
  if (h == NULL)
    return berth_fail (err, ENOMEM, "out of memory");
  pthread_mutex_init (&h->lock, NULL);
  char *save = NULL;
  for (char *line = strtok_r (text, "\r\n", &save); line; line = strtok_r (NULL, "\r\n", &save))
    {
      char *colon = strchr (line, ':');
      if (line[0] == '#' || colon == NULL || colon == line)
        continue;
      struct user *nu = realloc (h->users, (h->n + 1) * sizeof *nu);
      if (nu == NULL)
        break;
      h->users = nu;
      h->users[h->n].name = strndup (line, colon - line);
      h->users[h->n].hash = strdup (colon + 1);
      h->n++;
    }
  *out = h;
  return 0;
}

void reg_htpasswd_free (struct htpasswd *h)
{
  if (h == NULL)
    return;
  for (size_t i = 0; i < h->n; i++)
    {
      free (h->users[i].name);
      free (h->users[i].hash);
    }
  free (h->users);
  pthread_mutex_destroy (&h->lock);
  free (h);
}

static void cache_key (const char *user, const char *password, const char *hash, char *out)
{
  struct reg_hash hh;
  if (reg_hash_init (&hh) < 0)
    {
      out[0] = '\0';
      return;
    }
  reg_hash_update (&hh, user, strlen (user) + 1);
  reg_hash_update (&hh, password, strlen (password) + 1);
  reg_hash_update (&hh, hash, strlen (hash));
  reg_hash_final (&hh, out);
}

static bool cache_lookup (struct htpasswd *h, const char *key)
{
  time_t now = time (NULL);
  bool hit = false;
  pthread_mutex_lock (&h->lock);
  for (int i = 0; i < CACHE_SLOTS && !hit; i++)
    hit = h->cache[i].until > now && CRYPTO_memcmp (h->cache[i].key, key, REG_DIGEST_LEN) == 0;
  pthread_mutex_unlock (&h->lock);
  return hit;
}

static void cache_store (struct htpasswd *h, const char *key)
{
  pthread_mutex_lock (&h->lock);
  unsigned i = h->next_slot++ % CACHE_SLOTS;
  memcpy (h->cache[i].key, key, REG_DIGEST_LEN + 1);
  h->cache[i].until = time (NULL) + CACHE_SECONDS;
  pthread_mutex_unlock (&h->lock);
}

bool reg_htpasswd_check (struct htpasswd *h, const char *user, const char *password)
{
  if (h == NULL || user == NULL || password == NULL)
    return false;
  for (size_t i = 0; i < h->n; i++)
    {
      if (strcmp (h->users[i].name, user) != 0)
        continue;
      const char *stored = h->users[i].hash;
      char key[REG_DIGEST_LEN + 1];
      cache_key (user, password, stored, key);
      if (key[0] && cache_lookup (h, key))
        return true;
      struct crypt_data *cd = calloc (1, sizeof *cd);
      if (cd == NULL)
        return false;
      /* crypt_rn (libxcrypt) rather than crypt_r: the sanitizers intercept
       * crypt_r and their interceptor finds no libxcrypt symbol to call */
      const char *got = crypt_rn (password, stored, cd, sizeof *cd);
      bool ok = got && got[0] != '*' && strlen (got) == strlen (stored) && CRYPTO_memcmp (got, stored, strlen (stored)) == 0;
      explicit_bzero (cd, sizeof *cd);
      free (cd);
      if (ok && key[0])
        cache_store (h, key);
      return ok;
    }
  return false;
}

bool reg_basic_decode (const char *header, char **user, char **password)
{
  if (strncasecmp (header, "Basic ", 6) != 0)
    return false;
  const char *b64 = header + 6;
  while (*b64 == ' ')
    b64++;
  size_t len = strlen (b64);
  if (len == 0 || len % 4 != 0 || len > 4096)
    return false;
  cleanup_free unsigned char *out = malloc (len);
  if (out == NULL)
    return false;
  int n = EVP_DecodeBlock (out, (const unsigned char *) b64, len);
  if (n < 0)
    return false;
  if (b64[len - 1] == '=')
    n--;
  if (b64[len - 2] == '=')
    n--;
  char *colon = memchr (out, ':', n);
  if (colon == NULL || memchr (out, '\0', n))
    return false;
  *user = strndup ((char *) out, colon - (char *) out);
  *password = strndup (colon + 1, n - (colon + 1 - (char *) out));
  return *user && *password;
}
