/* Path matching for the API router. */
#include "daemon/server.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

const char *route_strip_version (const char *url, char *version, size_t len)
{
  version[0] = '\0';
  if (strncmp (url, "/v", 2) != 0 || !isdigit ((unsigned char) url[2]))
    return url;
  const char *p = url + 2;
  while (isdigit ((unsigned char) *p) || *p == '.')
    p++;
  if (*p != '/' && *p != '\0')
    return url;
  size_t n = (size_t) (p - (url + 2));
  if (n >= len)
    return url;
  memcpy (version, url + 2, n);
  version[n] = '\0';
  return *p ? p : "/";
}

/* Number of '/'-separated segments of S (no leading slash). */
static size_t count_segments (const char *s)
{
  size_t n = *s ? 1 : 0;
  for (; *s; s++)
    n += *s == '/';
  return n;
}

static const char *segment_end (const char *s)
{
  const char *e = strchr (s, '/');
  return e ? e : s + strlen (s);
}

static void free_params (char **params, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free (params[i]);
      params[i] = NULL;
    }
}

bool route_match (const char *pattern, const char *path, char **params)
{
  size_t np = 0;
  while (*pattern == '/')
    pattern++;
  while (*path == '/')
    path++;
  while (*pattern)
    {
      const char *pe = segment_end (pattern);
      size_t plen = (size_t) (pe - pattern);
      bool capture = pattern[0] == '{';
      bool greedy = capture && plen >= 3 && pattern[plen - 2] == '*';
      const char *se;
      if (*path == '\0')
        goto nomatch;
      if (greedy)
        {
          /* Leave exactly as many segments as the rest of the pattern has. */
          size_t rest = *pe ? count_segments (pe + 1) : 0;
          size_t have = count_segments (path);
          if (have < rest + 1)
            goto nomatch;
          se = path;
          for (size_t k = 0; k < have - rest; k++)
            se = segment_end (se) + (k + 1 < have - rest ? 1 : 0);
        }
      else
        se = segment_end (path);
      size_t slen = (size_t) (se - path);
      if (capture)
        {
          if (slen == 0 || np == ROUTE_MAX_PARAMS)
            goto nomatch;
          params[np++] = strndup (path, slen);
        }
      else if (slen != plen || strncmp (pattern, path, plen) != 0)
        goto nomatch;
      pattern = *pe ? pe + 1 : pe;
      path = *se ? se + 1 : se;
    }
  if (*path == '\0')
    return true;
nomatch:
  free_params (params, np);
  return false;
}
