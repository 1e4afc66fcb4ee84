/* Image references with Docker's grammar and normalization
 * (github.com/distribution/reference):
 *   reference := name [":" tag] ["@" digest]
 *   name      := [domain "/"] path-component ["/" path-component]*
 *   domain    := host [":" port]; host is a domain name or "[IPv6]"
 *   path-component := [a-z0-9]+ (separator [a-z0-9]+)*,
 *   separator := "." | "_" | "__" | "-"+
 *   tag       := [\w][\w.-]{0,127}
 * The first component is a domain when it contains "." or ":", is
 * "localhost", or has upper case letters; otherwise the domain is
 * docker.io, where one-component names live under "library/". */
#include "image/image-internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_DOMAIN "docker.io"
#define LEGACY_DEFAULT_DOMAIN "index.docker.io"
#define OFFICIAL_PREFIX "library/"
#define NAME_MAX_LEN 255
#define TAG_MAX_LEN 128

static bool lower_alnum (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool word_char (char c)
{
  return isascii ((unsigned char) c) && (isalnum ((unsigned char) c) || c == '_');
}

static bool path_component_valid (const char *p, size_t n)
{
  size_t i = 0;
  while (i < n)
    {
      size_t start = i;
      while (i < n && lower_alnum (p[i]))
        i++;
      if (i == start)
        return false;
      if (i == n)
        return true;
      if (p[i] == '.')
        i++;
      else if (p[i] == '_')
        i += (i + 1 < n && p[i + 1] == '_') ? 2 : 1;
      else if (p[i] == '-')
        while (i < n && p[i] == '-')
          i++;
      else
        return false;
      if (i == n)
        return false; /* a separator must be followed by alphanumerics */
    }
  return false;
}

static bool path_valid (const char *path)
{
  const char *p = path;
  for (;;)
    {
      size_t n = strcspn (p, "/");
      if (!path_component_valid (p, n))
        return false;
      if (p[n] == '\0')
        return true;
      p += n + 1;
    }
}

static bool domain_component_valid (const char *p, size_t n)
{
  if (n == 0 || !isalnum ((unsigned char) p[0]) || !isalnum ((unsigned char) p[n - 1]))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isascii ((unsigned char) p[i]) || !(isalnum ((unsigned char) p[i]) || p[i] == '-'))
      return false;
  return true;
}

static bool host_valid (const char *p, size_t n)
{
  if (n >= 2 && p[0] == '[')
    {
      if (p[n - 1] != ']' || n == 2)
        return false;
      for (size_t i = 1; i < n - 1; i++)
        if (!(isxdigit ((unsigned char) p[i]) || p[i] == ':'))
          return false;
      return true;
    }
  for (;;)
    {
      size_t c = 0;
      while (c < n && p[c] != '.')
        c++;
      if (!domain_component_valid (p, c))
        return false;
      if (c == n)
        return true;
      p += c + 1;
      n -= c + 1;
    }
}

static bool domain_valid (const char *d)
{
  const char *end = d + strlen (d);
  const char *colon = strrchr (d, ':');
  const char *bracket = strrchr (d, ']');
  if (colon && (bracket == NULL || colon > bracket))
    {
      if (colon[1] == '\0' || strspn (colon + 1, "0123456789") != strlen (colon + 1))
        return false;
      end = colon;
    }
  return host_valid (d, (size_t) (end - d));
}

static bool tag_valid (const char *t)
{
  size_t n = strlen (t);
  if (n == 0 || n > TAG_MAX_LEN || !word_char (t[0]))
    return false;
  for (size_t i = 1; i < n; i++)
    if (!word_char (t[i]) && t[i] != '.' && t[i] != '-')
      return false;
  return true;
}

static bool has_upper (const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (isupper ((unsigned char) s[i]))
      return true;
  return false;
}

/* Split NAME into domain and path the way Docker does. */
static int split_domain (const char *name, char **domain, char **path)
{
  const char *slash = strchr (name, '/');
  size_t n = slash ? (size_t) (slash - name) : 0;
  bool localhost = n == strlen ("localhost") && strncmp (name, "localhost", n) == 0;
  bool is_domain = slash && (memchr (name, '.', n) || memchr (name, ':', n) || localhost || has_upper (name, n));
  const char *rest = is_domain ? slash + 1 : name;
  *domain = is_domain ? strndup (name, n) : strdup (DEFAULT_DOMAIN);
  if (*domain && strcmp (*domain, LEGACY_DEFAULT_DOMAIN) == 0)
    strcpy (*domain, DEFAULT_DOMAIN);
  bool official = *domain && strcmp (*domain, DEFAULT_DOMAIN) == 0 && strchr (rest, '/') == NULL;
  if (asprintf (path, "%s%s", official ? OFFICIAL_PREFIX : "", rest) < 0)
    *path = NULL;
  return *domain && *path ? 0 : -ENOMEM;
}

static int bad_ref (const char *s, const char *why, berth_err *err)
{
  if (why)
    return berth_fail (err, 0, "invalid reference format: %s", why);
  return berth_fail (err, 0, "invalid reference format: \"%s\"", s);
}

/* NAME (no tag, no digest) -> "domain/path", validated. */
static int parse_name (const char *s, const char *name, char **out, berth_err *err)
{
  cleanup_free char *domain = NULL;
  cleanup_free char *path = NULL;
  if (*name == '\0')
    return bad_ref (s, "repository name must have at least one component", err);
  if (split_domain (name, &domain, &path) < 0)
    return berth_fail (err, ENOMEM, "parse reference");
  if (has_upper (path, strlen (path)))
    return berth_fail (err, 0, "invalid reference format: repository name (%s) must be lowercase", path);
  if (!domain_valid (domain) || !path_valid (path))
    return bad_ref (s, NULL, err);
  if (strlen (domain) + 1 + strlen (path) > NAME_MAX_LEN)
    return bad_ref (s, "repository name must not be more than 255 characters", err);
  if (asprintf (out, "%s/%s", domain, path) < 0)
    return berth_fail (err, ENOMEM, "parse reference");
  return 0;
}

/* Split "name[:tag][@digest]"; the tag colon is the last one after the last
 * slash (a domain may have a port). */
static int split_ref (const char *s, char **name, char **tag, char **digest, berth_err *err)
{
  const char *at = strchr (s, '@');
  cleanup_free char *rest = at ? strndup (s, (size_t) (at - s)) : strdup (s);
  if (rest == NULL)
    return berth_fail (err, ENOMEM, "parse reference");
  if (at && !img_digest_valid (at + 1))
    return bad_ref (s, "digest must be sha256: and 64 lowercase hex digits", err);
  char *colon = strrchr (rest, ':');
  char *slash = strrchr (rest, '/');
  if (colon && (slash == NULL || colon > slash))
    {
      *colon = '\0';
      if (!tag_valid (colon + 1))
        return bad_ref (s, NULL, err);
      *tag = strdup (colon + 1);
    }
  *digest = at ? strdup (at + 1) : NULL;
  *name = take_ptr (rest);
  return 0;
}

int img_ref_parse (const char *s, struct image_ref *out, bool *explicit_tag, berth_err *err)
{
  memset (out, 0, sizeof *out);
  if (s == NULL || *s == '\0')
    return bad_ref ("", "repository name must have at least one component", err);
  if (img_hex_valid (s, IMG_HEX_LEN))
    return berth_fail (err, 0, "invalid repository name (%s), cannot specify 64-byte hexadecimal strings", s);
  cleanup_free char *name = NULL;
  cleanup_free char *tag = NULL;
  cleanup_free char *digest = NULL;
  int r = split_ref (s, &name, &tag, &digest, err);
  if (r < 0)
    return r;
  r = parse_name (s, name, &out->name, err);
  if (r < 0)
    return r;
  if (explicit_tag)
    *explicit_tag = tag || digest;
  if (tag == NULL && digest == NULL)
    tag = strdup ("latest");
  out->tag = take_ptr (tag);
  out->digest = take_ptr (digest);
  if (out->tag == NULL && out->digest == NULL)
    {
      image_ref_free (out);
      return berth_fail (err, ENOMEM, "parse reference");
    }
  return 0;
}

int image_ref_parse (const char *s, struct image_ref *out, berth_err *err)
{
  return img_ref_parse (s, out, NULL, err);
}

void image_ref_free (struct image_ref *r)
{
  if (r == NULL)
    return;
  free (r->name);
  free (r->tag);
  free (r->digest);
  memset (r, 0, sizeof *r);
}

/* "docker.io/library/x" -> "x", "docker.io/u/x" -> "u/x". */
static const char *familiar_name (const char *name)
{
  const char *p = name;
  if (strncmp (p, DEFAULT_DOMAIN "/", strlen (DEFAULT_DOMAIN) + 1) != 0)
    return p;
  p += strlen (DEFAULT_DOMAIN) + 1;
  if (strncmp (p, OFFICIAL_PREFIX, strlen (OFFICIAL_PREFIX)) == 0 && strchr (p + strlen (OFFICIAL_PREFIX), '/') == NULL)
    p += strlen (OFFICIAL_PREFIX);
  return p;
}

char *image_ref_familiar (const struct image_ref *r)
{
  char *out = NULL;
  if (asprintf (&out, "%s%s%s%s%s", familiar_name (r->name), r->tag ? ":" : "", r->tag ? r->tag : "",
                r->digest ? "@" : "", r->digest ? r->digest : "")
      < 0)
    return NULL;
  return out;
}

char *img_ref_key (const struct image_ref *r)
{
  char *out = NULL;
  int n = r->digest ? asprintf (&out, "%s@%s", r->name, r->digest) : asprintf (&out, "%s:%s", r->name, r->tag);
  return n < 0 ? NULL : out;
}

/* Where the name of a key ends: at "@", or at the tag's ":". */
static size_t key_name_len (const char *key)
{
  const char *at = strchr (key, '@');
  if (at)
    return (size_t) (at - key);
  const char *colon = strrchr (key, ':');
  const char *slash = strrchr (key, '/');
  if (colon && (slash == NULL || colon > slash))
    return (size_t) (colon - key);
  return strlen (key);
}

char *img_key_name (const char *key)
{
  return strndup (key, key_name_len (key));
}

bool img_key_is_digest (const char *key)
{
  return strchr (key, '@') != NULL;
}

char *img_key_familiar (const char *key)
{
  cleanup_free char *name = img_key_name (key);
  char *out = NULL;
  if (name == NULL || asprintf (&out, "%s%s", familiar_name (name), key + strlen (name)) < 0)
    return NULL;
  return out;
}
