/* GET /events: `docker events`.  The handler checks the query and places
 * a reader in the event log before the headers go out (so no event
 * between the request and the stream is missed); the stream thread then
 * writes one JSON object per line until "until", the client leaves or the
 * daemon stops. */
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/stream.h"
#include "common/cleanup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_SEC 1000000000LL

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
  if ((*ns = stream_parse_time (v, now)) >= 0)
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
