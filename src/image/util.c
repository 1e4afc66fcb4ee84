/* Small helpers: string vectors and RFC 3339 times. */
#include "image/image-internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

size_t img_strv_len (char **v)
{
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}

bool img_strv_contains (char **v, const char *s)
{
  for (size_t i = 0; v && v[i]; i++)
    if (strcmp (v[i], s) == 0)
      return true;
  return false;
}

int img_strv_add (char ***v, const char *s)
{
  size_t n = img_strv_len (*v);
  char *copy = strdup (s);
  char **nv = copy ? realloc (*v, (n + 2) * sizeof (char *)) : NULL;
  if (nv == NULL)
    {
      free (copy);
      return -ENOMEM;
    }
  nv[n] = copy;
  nv[n + 1] = NULL;
  *v = nv;
  return 0;
}

/* "2024-01-02T03:04:05.123456789Z" or "...+02:00" -> unix seconds; 0 if
 * it cannot be parsed (Docker shows the epoch then, too). */
int64_t img_parse_time (const char *s)
{
  struct tm tm;
  memset (&tm, 0, sizeof tm);
  const char *p = s ? strptime (s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
  if (p == NULL)
    return 0;
  if (*p == '.')
    for (p++; isdigit ((unsigned char) *p); p++)
      ;
  int64_t t = (int64_t) timegm (&tm);
  if (*p == '+' || *p == '-')
    {
      int hh = 0, mm = 0;
      if (sscanf (p + 1, "%2d:%2d", &hh, &mm) != 2)
        return 0;
      int64_t off = (int64_t) hh * 3600 + mm * 60;
      t += *p == '+' ? -off : off;
    }
  return t;
}


int img_fail_plain (berth_err *err, int errnum, const char *fmt, ...)
{
  va_list ap;
  char *msg = NULL;
  bool fresh = err && *err == NULL;
  int r = berth_fail (err, errnum, "%s", "");
  va_start (ap, fmt);
  int n = vasprintf (&msg, fmt, ap);
  va_end (ap);
  if (fresh && *err && n >= 0)
    {
      free ((*err)->msg);
      (*err)->msg = take_ptr (msg);
    }
  if (n >= 0)
    free (msg);
  return r;
}
