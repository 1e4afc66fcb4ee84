/* sha256 digests ("sha256:<64 lowercase hex>") with OpenSSL's EVP. */
#include "image/image-internal.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

int img_hash_init (struct img_hash *h, berth_err *err)
{
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  if (md == NULL || EVP_DigestInit_ex (md, EVP_sha256 (), NULL) != 1)
    {
      EVP_MD_CTX_free (md);
      h->md = NULL;
      return berth_fail (err, ENOMEM, "sha256: cannot initialize the digest");
    }
  h->md = md;
  return 0;
}

void img_hash_update (struct img_hash *h, const void *buf, size_t len)
{
  if (h->md && len > 0)
    EVP_DigestUpdate (h->md, buf, len);
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
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  memcpy (out, IMG_DIGEST_PREFIX, IMG_DIGEST_PREFIX_LEN);
  if (h->md == NULL || EVP_DigestFinal_ex (h->md, md, &n) != 1 || n != IMG_HEX_LEN / 2)
    memset (md, 0, sizeof md); /* unreachable with a working libcrypto */
  hex_encode (md, IMG_HEX_LEN / 2, out + IMG_DIGEST_PREFIX_LEN);
  img_hash_free (h);
}

void img_hash_free (struct img_hash *h)
{
  EVP_MD_CTX_free (h->md);
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
