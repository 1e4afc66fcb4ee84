#include "common/error.h"
#include "common/log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static char *vformat (const char *fmt, va_list ap)
{
  char *s = NULL;
  if (vasprintf (&s, fmt, ap) < 0)
    return NULL;
  return s;
}

static int vfail (berth_err *err, int errnum, bool with_strerror, const char *fmt, va_list ap)
{
  int ret = -(errnum > 0 ? errnum : EINVAL);
  if (err == NULL || *err != NULL)
    return ret;
  struct berth_error *e = calloc (1, sizeof (*e));
  if (e == NULL)
    return ret;
  char *msg = vformat (fmt, ap);
  if (msg != NULL && errnum > 0 && with_strerror)
    {
      char *full = NULL;
      if (asprintf (&full, "%s: %s", msg, strerror (errnum)) >= 0)
        {
          free (msg);
          msg = full;
        }
    }
  e->errnum = errnum;
  e->msg = msg ? msg : strdup ("out of memory");
  *err = e;
  return ret;
}

int berth_fail (berth_err *err, int errnum, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  int r = vfail (err, errnum, true, fmt, ap);
  va_end (ap);
  return r;
}

int berth_fail_as (berth_err *err, int errnum, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  int r = vfail (err, errnum, false, fmt, ap);
  va_end (ap);
  return r;
}

int berth_error_ret (berth_err err)
{
  if (err == NULL)
    return -EINVAL;
  return -(err->errnum > 0 ? err->errnum : EINVAL);
}

int berth_error_prefix (berth_err *err, const char *fmt, ...)
{
  if (err == NULL || *err == NULL)
    return -EINVAL;
  va_list ap;
  va_start (ap, fmt);
  char *ctx = vformat (fmt, ap);
  va_end (ap);
  char *full = NULL;
  if (ctx != NULL && asprintf (&full, "%s: %s", ctx, (*err)->msg) >= 0)
    {
      free ((*err)->msg);
      (*err)->msg = full;
    }
  free (ctx);
  return berth_error_ret (*err);
}

void berth_error_free (berth_err *err)
{
  if (err == NULL || *err == NULL)
    return;
  free ((*err)->msg);
  free (*err);
  *err = NULL;
}

int berth_error_report (berth_err *err)
{
  if (err && *err)
    berth_log (BERTH_LOG_ERROR, "%s", (*err)->msg);
  berth_error_free (err);
  return 1;
}
