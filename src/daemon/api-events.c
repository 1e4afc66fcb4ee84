/* GET /events: `docker events`.  The handler checks the query and places
 * a reader in the event log before the headers go out (so no event
 * between the request and the stream is missed); the stream thread then
 * writes one JSON object per line until "until", the client leaves or the
 * daemon stops. */
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "common/cleanup.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_SEC 1000000000LL

/* ---- Docker's time arguments (eventtime.GetTimestamp) ---- */

/* "1.5h", "10m30s", "250ms": Go's time.ParseDuration, positive only. */
static bool parse_duration (const char *s, int64_t *ns)
{
  static const struct
  {
    const char *unit;
    double ns;
  } units[] = { { "ns", 1 }, { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 },
                { "h", 3600e9 } };
  double total = 0;
  if (*s == '\0')
    return false;
  while (*s)
    {
      char *end;
      if (!isdigit ((unsigned char) *s) && *s != '.')
        return false;
      double v = strtod (s, &end);
      if (end == s)
        return false;
      size_t best = 0;
      double scale = 0;
      for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        {
          size_t n = strlen (units[i].unit);
          /* the longest unit that fits: "ms" before "m" */
          if (strncmp (end, units[i].unit, n) == 0 && n > best)
            best = n, scale = units[i].ns;
        }
      if (best == 0)
        return false;
      total += v * scale;
      s = end + best;
    }
  if (total > 9.2e18)
    return false;
  *ns = (int64_t) total;
  return true;
}

/* "1700000000" or "1700000000.123456789" (what the docker CLI sends). */
static bool parse_unix (const char *s, int64_t *ns)
{
  char *end;
  errno = 0;
  long long sec = strtoll (s, &end, 10);
  if (end == s || errno || sec < 0 || sec > 9000000000LL || !isdigit ((unsigned char) *s))
    return false;
  int64_t frac = 0;
  if (*end == '.')
    {
      int digits = 0;
      for (end++; isdigit ((unsigned char) *end); end++, digits++)
        if (digits < 9)
          frac = frac * 10 + (*end - '0');
      for (; digits < 9; digits++)
        frac *= 10;
    }
  if (*end != '\0')
    return false;
  *ns = (int64_t) sec * NS_PER_SEC + frac;
  return true;
}

/* RFC 3339 and its shorter forms: "2024-01-02", "2024-01-02T15:04",
 * "2024-01-02T15:04:05.5Z", "...+02:00"; without a zone, local time. */
static bool parse_date (const char *s, int64_t *ns)
{
  static const char *const formats[] = { "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H", "%Y-%m-%d", NULL };
  struct tm tm;
  const char *rest = NULL;
  for (const char *const *f = formats; *f && rest == NULL; f++)
    {
      memset (&tm, 0, sizeof tm);
      rest = strptime (s, *f, &tm);
    }
  if (rest == NULL)
    return false;
  int64_t frac = 0;
  if (*rest == '.')
    {
      int digits = 0;
      for (rest++; isdigit ((unsigned char) *rest); rest++, digits++)
        if (digits < 9)
          frac = frac * 10 + (*rest - '0');
      if (digits == 0)
        return false;
      for (; digits < 9; digits++)
        frac *= 10;
    }
  time_t t;
  if (*rest == '\0')
    {
      tm.tm_isdst = -1;
      t = mktime (&tm);
    }
  else
    {
      int off = 0, hh = 0, mm = 0;
      if ((*rest == 'Z' || *rest == 'z') && rest[1] == '\0')
        off = 0;
      else if ((*rest == '+' || *rest == '-') && sscanf (rest + 1, "%2d:%2d", &hh, &mm) == 2 && strlen (rest) == 6)
        off = (*rest == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
      else
        return false;
      t = timegm (&tm) - off;
    }
  if (t == (time_t) -1 || t < 0)
    return false;
  *ns = (int64_t) t * NS_PER_SEC + frac;
  return true;
}

/* A "since"/"until" value as ns since the epoch. */
static bool parse_time (const char *s, int64_t now, int64_t *ns)
{
  int64_t d;
  if (strcmp (s, "0") != 0 && parse_duration (s, &d))
    {
      *ns = now - d;
      return true;
    }
  return parse_unix (s, ns) || parse_date (s, ns);
}

/* ---- the stream ---- */

struct events_stream
{
  struct events *log;
  struct events_filter *filter;
  struct events_reader reader;
  int64_t deadline_ns;        /* "until", or 0 */
};

static void events_stream_free (void *opaque)
{
  struct events_stream *s = opaque;
  events_filter_free (s->filter);
  free (s);
}

static void stream_events (struct stream_out *out, void *opaque)
{
  struct events_stream *s = opaque;
  json_t *msg;
  while (events_next (s->log, &s->reader, s->deadline_ns, &msg) > 0)
    {
      char *line = json_dumps (msg, JSON_COMPACT);
      json_decref (msg);
      if (line == NULL)
        continue;
      size_t n = strlen (line);
      line[n] = '\n';   /* json_dumps's NUL becomes the line's end */
      int r = stream_out_write (out, line, n + 1);
      free (line);
      if (r < 0)
        break;
    }
}

/* One time argument; replies 400 and returns false when it is invalid. */
static bool time_arg (struct request *req, struct reply *rep, const char *key, int64_t now, int64_t *ns)
{
  const char *v = request_query (req, key);
  *ns = 0;
  if (v == NULL || *v == '\0')
    return true;
  if (parse_time (v, now, ns))
    {
      /* since=0 asks for every kept event: keep it distinct from "unset" */
      if (*ns == 0)
        *ns = 1;
      return true;
    }
  reply_error (rep, 400, "invalid %s `%s`: expected unix seconds, RFC 3339 or a duration like 10m", key, v);
  return false;
}

void api_events (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  int64_t now = (int64_t) ts.tv_sec * NS_PER_SEC + ts.tv_nsec, since, until;
  berth_err err = NULL;
  if (!time_arg (req, rep, "since", now, &since) || !time_arg (req, rep, "until", now, &until))
    return;
  if (until > 0 && until < since)
    return reply_error (rep, 400, "`since` time (%s) cannot be after `until` time (%s)", request_query (req, "since"),
                        request_query (req, "until"));
  struct events_stream *s = calloc (1, sizeof *s);
  if (s == NULL)
    return reply_error (rep, 500, "out of memory");
  if (events_filter_parse (request_query (req, "filters"), &s->filter, &err) < 0)
    {
      free (s);
      return reply_berth_error (rep, &err);
    }
  s->log = d->events;
  s->deadline_ns = until;
  events_reader_init (d->events, &s->reader, since, until, s->filter);
  reply_stream (rep, 200, "application/json", stream_events, s, events_stream_free);
}
