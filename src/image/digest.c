/* sha256 digests ("sha256:<64 lowercase hex>") with OpenSSL's libcrypto.
 *
 * Through the SHA256_* functions rather than EVP: the same assembly, but
 * EVP's first use loads OpenSSL's configuration and default provider,
 * about 2 MiB that then stay resident in berthd for its whole life (the
 * daemon verifies every JSON blob it reads).  They are deprecated in
 * OpenSSL 3 only in favour of EVP, not for being wrong. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "image/image-internal.h"

#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int img_hash_init (struct img_hash *h, berth_err *err)
{
  SHA256_CTX *ctx = malloc (sizeof *ctx);
  if (ctx == NULL || SHA256_Init (ctx) != 1)
    {
      free (ctx);
      h->md = NULL;
      return berth_fail (err, ENOMEM, "sha256: cannot initialize the digest");
    }
  h->md = ctx;
  return 0;
}

void img_hash_update (struct img_hash *h, const void *buf, size_t len)
{
  if (h->md && len > 0)
    SHA256_Update (h->md, buf, len);
}

static void hex_encode (const unsigned char *in, size_t n, char *out)
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++)
    {
      out[2 * i] = digits[in[i] >> 4];
      out[2 * i + 1] = digits[in[i] & 0xf];
    }
  out[2 * n] = '\0';
}

void img_hash_final (struct img_hash *h, char out[IMG_DIGEST_SIZE])
{
  unsigned char md[SHA256_DIGEST_LENGTH];
  memcpy (out, IMG_DIGEST_PREFIX, IMG_DIGEST_PREFIX_LEN);
  if (h->md == NULL || SHA256_Final (md, h->md) != 1)
    memset (md, 0, sizeof md); /* unreachable with a working libcrypto */
  hex_encode (md, IMG_HEX_LEN / 2, out + IMG_DIGEST_PREFIX_LEN);
  img_hash_free (h);
}

void img_hash_free (struct img_hash *h)
{
  free (h->md);
  h->md = NULL;
}

int img_hash_buffer (const void *buf, size_t len, char out[IMG_DIGEST_SIZE], berth_err *err)
{
  struct img_hash h;
  int r = img_hash_init (&h, err);
  if (r < 0)
    return r;
  img_hash_update (&h, buf, len);
  img_hash_final (&h, out);
  return 0;
}

bool img_hex_valid (const char *hex, size_t len)
{
  if (strlen (hex) != len)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
      return false;
  return true;
}

bool img_digest_valid (const char *d)
{
  return d && strncmp (d, IMG_DIGEST_PREFIX, IMG_DIGEST_PREFIX_LEN) == 0
         && img_hex_valid (d + IMG_DIGEST_PREFIX_LEN, IMG_HEX_LEN);
}

const char *img_digest_hex (const char *d)
{
  return strncmp (d, IMG_DIGEST_PREFIX, IMG_DIGEST_PREFIX_LEN) == 0 ? d + IMG_DIGEST_PREFIX_LEN : d;
}

int img_digest_check (const char *name, const char *expected, const char *got, berth_err *err)
{
  if (strcmp (expected, got) == 0)
    return 0;
  return berth_fail (err, 0, "digest mismatch for %s: expected %s, got %s", name, expected, got);
}

void img_short_id (const char *id, char out[13])
{
  snprintf (out, 13, "%s", img_digest_hex (id));
}
