/* Validation of what clients put into paths: repository names, tags,
 * digests and upload ids.  Everything that reaches the file system has
 * passed one of these, so no name can climb out of the root. */
#include "registry/registry.h"

#include <ctype.h>
#include <string.h>

static bool is_alnum_lower (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
 * Returns the length consumed, 0 if it does not match. */
static size_t component_len (const char *s)
{
  size_t i = 0;
  if (!is_alnum_lower (s[i]))
    return 0;
  for (;;)
    {
      while (is_alnum_lower (s[i]))
        i++;
      size_t sep = i;
      if (s[i] == '.')
        i++;
      else if (s[i] == '_')
        i += s[i + 1] == '_' ? 2 : 1;
      else if (s[i] == '-')
        while (s[i] == '-')
          i++;
      if (i == sep)
        return i;              /* end of the component */
      if (!is_alnum_lower (s[i]))
        return 0;              /* a separator must be followed by [a-z0-9] */
    }
}

bool reg_name_valid (const char *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > REG_NAME_MAX)
    return false;
  const char *p = name;
  for (;;)
    {
      size_t n = component_len (p);
      if (n == 0)
        return false;
      p += n;
      if (*p == '\0')
        return true;
      if (*p != '/')
        return false;
      p++;
    }
}

/* [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} */
bool reg_tag_valid (const char *tag)
{
  size_t n = tag ? strlen (tag) : 0;
  if (n == 0 || n > 128)
    return false;
  if (!(isalnum ((unsigned char) tag[0]) || tag[0] == '_'))
    return false;
  for (size_t i = 1; i < n; i++)
    if (!(isalnum ((unsigned char) tag[i]) || tag[i] == '_' || tag[i] == '.' || tag[i] == '-'))
      return false;
  return true;
}

static bool hex_valid (const char *s, size_t len)
{
  if (strlen (s) != len)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  return true;
}

bool reg_digest_valid (const char *digest)
{
  return digest && strncmp (digest, "sha256:", 7) == 0 && hex_valid (digest + 7, REG_HEX_LEN);
}

bool reg_uuid_valid (const char *uuid)
{
  return uuid && hex_valid (uuid, REG_UUID_LEN);
}
