/* The layer cache: <data-root>/build/cache/<key>, each file holding the
 * image id a build step made.  KEY hashes the parent image id, the step's
 * history text (the instruction after expansion, with the build args a RUN
 * sees) and its inputs (COPY/ADD: a hash of the sources' names, modes,
 * owners and contents).  One file per entry: builds share the cache
 * without a lock, an entry is written atomically, and an entry whose
 * image is gone (rmi, prune) is a miss. */
#include "build/builder.h"
#include "daemon/daemon.h"
#include "image/image.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *cache_key (const char *parent, const char *created_by, const char *inputs)
{
  unsigned char md[32];
  unsigned int len = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
  if (ctx == NULL)
    return NULL;
  const char *parts[] = { parent ? parent : "scratch", created_by ? created_by : "", inputs ? inputs : "" };
  EVP_DigestInit_ex (ctx, EVP_sha256 (), NULL);
  for (size_t i = 0; i < 3; i++)
    EVP_DigestUpdate (ctx, parts[i], strlen (parts[i]) + 1); /* with the NUL: no ambiguity */
  EVP_DigestFinal_ex (ctx, md, &len);
  EVP_MD_CTX_free (ctx);
  char *hex = malloc (65);
  for (size_t i = 0; hex && i < 32; i++)
    sprintf (hex + 2 * i, "%02x", md[i]);
  return hex;
}

static char *entry_path (struct build *b, const char *key)
{
  char *p = NULL;
  return asprintf (&p, "%s/build/cache/%s", b->d->cfg.data_root, key) < 0 ? NULL : p;
}

char *cache_get_text (struct build *b, const char *key)
{
  cleanup_free char *path = key ? entry_path (b, key) : NULL;
  char *text = NULL;
  size_t len = 0;
  if (path == NULL || berth_read_file (path, 1 << 16, &text, &len, NULL) < 0)
    return NULL;
  return text;
}

void cache_put_text (struct build *b, const char *key, const char *text)
{
  cache_put (b, key, text);
}

char *cache_get (struct build *b, const char *key)
{
  cleanup_free char *path = key ? entry_path (b, key) : NULL;
  char *id = NULL;
  size_t len = 0;
  if (path == NULL || berth_read_file (path, 128, &id, &len, NULL) < 0)
    return NULL;
  id[strcspn (id, "\n")] = '\0';
  pthread_mutex_lock (&b->d->image_lock);
  bool ok = image_exists (b->d->images, id);
  pthread_mutex_unlock (&b->d->image_lock);
  if (!ok)
    {
      free (id);
      return NULL;
    }
  return id;
}

void cache_put (struct build *b, const char *key, const char *image_id)
{
  cleanup_free char *dir = NULL;
  cleanup_free char *path = key ? entry_path (b, key) : NULL;
  if (path == NULL || image_id == NULL || asprintf (&dir, "%s/build/cache", b->d->cfg.data_root) < 0)
    return;
  berth_err err = NULL;
  /* A cache that cannot be written only makes the next build slower. */
  if (berth_mkdir_p (dir, 0700, &err) < 0
      || berth_write_file_replace (path, image_id, strlen (image_id), 0600, &err) < 0)
    berth_error_free (&err);
}
