/* Docker's stream framing, the attach relay and Docker's time arguments.
 * (json-file log reading is in logs.c.) */
#include "daemon/stream.h"
#include "common/cleanup.h"
#include "common/monitor-proto.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Frames larger than this are split (Docker's own writers never send
 * larger ones either, and a reader may size its buffer by it). */
#define FRAME_MAX (1024 * 1024)
/* Below this size header and data go to the sink in one call, so an HTTP
 * stream carries a frame in one chunk. */
#define FRAME_COALESCE 8192

/* ---- sinks and framing ---- */

/* A zero-length write is a probe: is the reader still there? */
static int probe_fd (int fd)
{
  struct pollfd p = { .fd = fd, .events = 0 };
  if (poll (&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)))
    return -EPIPE;
  return 0;
}

int stream_sink_fd (void *cookie, const void *buf, size_t len)
{
  int fd = *(int *) cookie;
  const char *p = buf;
  if (len == 0)
    return probe_fd (fd);
  bool is_socket = true;
  while (len > 0)
    {
      /* send() with MSG_NOSIGNAL: a gone reader must not raise SIGPIPE. */
      ssize_t w = is_socket ? send (fd, p, len, MSG_NOSIGNAL) : write (fd, p, len);
      if (w < 0 && errno == ENOTSOCK && is_socket)
        {
          is_socket = false;
          continue;
        }
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        return errno == ECONNRESET ? -EPIPE : -errno;
      p += w;
      len -= (size_t) w;
    }
  return 0;
}

void stream_frame_header (uint8_t hdr[8], enum stream_kind stream, uint32_t len)
{
  hdr[0] = (uint8_t) stream;
  hdr[1] = hdr[2] = hdr[3] = 0;
  hdr[4] = (uint8_t) (len >> 24);
  hdr[5] = (uint8_t) (len >> 16);
  hdr[6] = (uint8_t) (len >> 8);
  hdr[7] = (uint8_t) len;
}

static int write_one_frame (stream_sink sink, void *cookie, enum stream_kind stream, const char *buf, size_t len)
{
  uint8_t small[8 + FRAME_COALESCE];
  stream_frame_header (small, stream, (uint32_t) len);
  if (len <= FRAME_COALESCE)
    {
      memcpy (small + 8, buf, len);
      return sink (cookie, small, 8 + len);
    }
  int r = sink (cookie, small, 8);
  return r < 0 ? r : sink (cookie, buf, len);
}

int stream_write_frame (stream_sink sink, void *cookie, bool raw, enum stream_kind stream, const void *buf,
                        size_t len)
{
  const char *p = buf;
  if (len == 0)
    return 0; /* an empty frame carries nothing; a zero-length sink write is a probe */
  if (raw)
    return sink (cookie, buf, len);
  while (len > 0)
    {
      size_t n = len > FRAME_MAX ? FRAME_MAX : len;
      int r = write_one_frame (sink, cookie, stream, p, n);
      if (r < 0)
        return r;
      p += n;
      len -= n;
    }
  return 0;
}

/* ---- the incremental decoder ---- */

static int decoder_take_header (struct stream_decoder *d)
{
  if (d->hdr[0] > STREAM_STDERR || d->hdr[1] || d->hdr[2] || d->hdr[3])
    return -EINVAL;
  d->stream = (enum stream_kind) d->hdr[0];
  d->need = (uint32_t) d->hdr[4] << 24 | (uint32_t) d->hdr[5] << 16 | (uint32_t) d->hdr[6] << 8 | d->hdr[7];
  d->hdr_len = 0;
  return 0;
}

int stream_decoder_feed (struct stream_decoder *d, const void *buf, size_t len,
                         void (*on_frame) (void *cookie, enum stream_kind stream, const char *data, size_t len),
                         void *cookie)
{
  const char *p = buf;
  while (len > 0)
    {
      if (d->need > 0)
        {
          size_t n = len < d->need ? len : d->need;
          on_frame (cookie, d->stream, p, n);
          d->need -= (uint32_t) n;
          p += n;
          len -= n;
          continue;
        }
      size_t n = sizeof d->hdr - d->hdr_len;
      if (n > len)
        n = len;
      memcpy (d->hdr + d->hdr_len, p, n);
      d->hdr_len += n;
      p += n;
      len -= n;
      if (d->hdr_len < sizeof d->hdr)
        break;
      if (decoder_take_header (d) < 0)
        return -EINVAL;
      if (d->need == 0)
        on_frame (cookie, d->stream, "", 0);
    }
  return 0;
}

/* ---- the attach relay ---- */

/* One message to the monitor; MON_STDIN payloads are split to fit. */
static int mon_send (int fd, enum monitor_msg type, const void *data, size_t len)
{
  char buf[MONITOR_MSG_MAX];
  buf[0] = (char) type;
  if (len > 0)
    memcpy (buf + 1, data, len);
  for (;;)
    {
      ssize_t w = send (fd, buf, len + 1, MSG_NOSIGNAL);
      if (w >= 0)
        return 0;
      if (errno != EINTR)
        return -errno;
    }
}

static int mon_send_stdin (int fd, const char *data, size_t len)
{
  while (len > 0)
    {
      size_t n = len > MONITOR_MSG_MAX - 1 ? MONITOR_MSG_MAX - 1 : len;
      int r = mon_send (fd, MON_STDIN, data, n);
      if (r < 0)
        return r;
      data += n;
      len -= n;
    }
  return 0;
}

struct relay
{
  int client;
  int mon;
  const struct relay_opts *o;
  bool stdin_done;   /* EOF from the client */
  bool close_sent;   /* MON_STDIN_CLOSE sent */
  /* One MON_STDIN message the monitor has not taken yet.  It is sent
   * without blocking: a relay stuck in a send would stop reading output,
   * and the monitor drops clients that do not read (cat of a large input
   * needs both directions at once). */
  char *pending;     /* MONITOR_MSG_MAX: type byte + data */
  size_t pending_len;
  const char *keys;  /* detach keys (TTY only), or NULL */
  size_t keys_len;
  size_t keys_seen;  /* how many of them the input has matched so far */
  int *exit_code;
  char *buf;         /* MONITOR_MSG_MAX + 1 */
};

enum relay_step
{
  RELAY_GO_ON,
  RELAY_DONE,        /* output ended: shut the client's write side */
  RELAY_CLIENT_GONE, /* nobody to write to */
  RELAY_DETACHED,    /* the client typed the detach keys */
};

/* Copy IN to OUT leaving out the detach keys: a partial match is held back
 * until the next byte decides (as Docker's escape proxy does).  Returns the
 * bytes written to OUT (room: len + keys_len); *detach is set once the
 * whole sequence came (what preceded it is in OUT). */
static size_t filter_detach_keys (struct relay *r, const char *in, size_t len, char *out, bool *detach)
{
  size_t n = 0;
  for (size_t i = 0; i < len; i++)
    {
      if (in[i] == r->keys[r->keys_seen])
        {
          if (++r->keys_seen == r->keys_len)
            {
              *detach = true;
              return n;
            }
          continue;
        }
      /* Not the sequence after all: what was held back is input. */
      memcpy (out + n, r->keys, r->keys_seen);
      n += r->keys_seen;
      r->keys_seen = 0;
      if (in[i] == r->keys[0])
        {
          r->keys_seen = 1;
          if (r->keys_len == 1)
            {
              *detach = true;
              return n;
            }
          continue;
        }
      out[n++] = in[i];
    }
  return n;
}

/* Send the pending stdin message, then the close, without blocking. */
static void relay_flush_stdin (struct relay *r)
{
  if (r->pending_len > 0)
    {
      ssize_t w = send (r->mon, r->pending, r->pending_len, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0 && (errno == EAGAIN || errno == EINTR))
        return;
      r->pending_len = 0; /* sent, or the monitor is gone (its EOF follows) */
    }
  if (r->stdin_done && !r->close_sent)
    {
      r->close_sent = true;
      if (r->o->stdin)
        (void) mon_send (r->mon, MON_STDIN_CLOSE, NULL, 0);
    }
}

#define DETACH_KEYS_MAX 16

static enum relay_step relay_from_client (struct relay *r)
{
  char raw[MONITOR_MSG_MAX - 1 - DETACH_KEYS_MAX];
  char *into = r->keys ? raw : r->pending + 1;
  ssize_t n = read (r->client, into, r->keys ? sizeof raw : MONITOR_MSG_MAX - 1);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return RELAY_GO_ON;
  if (n < 0)
    return RELAY_CLIENT_GONE;
  if (n == 0)
    {
      /* The client half-closed (docker's CloseWrite after stdin's EOF):
       * tell the monitor once, and keep the output flowing. */
      r->stdin_done = true;
      relay_flush_stdin (r);
      return RELAY_GO_ON;
    }
  bool detach = false;
  if (r->keys)
    n = (ssize_t) filter_detach_keys (r, raw, (size_t) n, r->pending + 1, &detach);
  if (r->o->stdin && n > 0)
    {
      r->pending[0] = MON_STDIN;
      r->pending_len = (size_t) n + 1;
      if (detach) /* what came before the keys still goes in */
        (void) mon_send (r->mon, MON_STDIN, r->pending + 1, (size_t) n);
      else
        relay_flush_stdin (r);
    }
  return detach ? RELAY_DETACHED : RELAY_GO_ON;
}

int stream_parse_detach_keys (const char *spec, char *out, size_t size)
{
  size_t n = 0;
  const char *p = spec;
  while (*p)
    {
      const char *comma = strchr (p, ',');
      size_t len = comma ? (size_t) (comma - p) : strlen (p);
      char key;
      if (len == 1)
        key = p[0];
      else if (len == 6 && strncmp (p, "ctrl-", 5) == 0 && ((p[5] >= 'a' && p[5] <= 'z') || strchr ("@[\\]^_", p[5])))
        key = (char) ((p[5] >= 'a' && p[5] <= 'z' ? p[5] - 'a' + 'A' : p[5]) & 0x1f);
      else
        return -1;
      if (key == '\0' || n + 1 >= size)
        return -1;
      out[n++] = key;
      p += len;
      if (*p == ',')
        p++;
    }
  out[n] = '\0';
  return (int) n;
}

static enum relay_step relay_from_monitor (struct relay *r)
{
  ssize_t n = recv (r->mon, r->buf, MONITOR_MSG_MAX, 0);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return RELAY_GO_ON;
  if (n <= 0)
    return RELAY_DONE;
  const char *payload = r->buf + 1;
  size_t len = (size_t) n - 1;
  switch (r->buf[0])
    {
    case MON_STDOUT:
    case MON_STDERR:
      {
        enum stream_kind kind = r->buf[0] == MON_STDOUT ? STREAM_STDOUT : STREAM_STDERR;
        int w = stream_write_frame (stream_sink_fd, &r->client, r->o->tty, kind, payload, len);
        return w < 0 ? RELAY_CLIENT_GONE : RELAY_GO_ON;
      }
    case MON_EXIT:
      {
        r->buf[n] = '\0';
        char *end = NULL;
        long code = strtol (payload, &end, 10);
        if (end != payload && code >= 0 && code <= 255)
          *r->exit_code = (int) code;
        return RELAY_DONE;
      }
    default:
      return RELAY_GO_ON; /* MON_STARTED and the like are not for us */
    }
}

static enum relay_step relay_wait (struct relay *r)
{
  /* While stdin is read, ask for POLLRDHUP too; after its EOF only a
   * full hang-up of the client matters (poll reports it unasked). */
  bool read_client = !r->stdin_done && r->pending_len == 0;
  bool flush = r->pending_len > 0 || (r->stdin_done && !r->close_sent);
  struct pollfd p[2] = {
    { .fd = r->client, .events = read_client ? POLLIN | POLLRDHUP : 0 },
    { .fd = r->mon, .events = POLLIN | (flush ? POLLOUT : 0) },
  };
  if (poll (p, 2, -1) < 0)
    return errno == EINTR ? RELAY_GO_ON : RELAY_CLIENT_GONE;
  /* Output first: what the monitor sent before its exit reaches the
   * client; then stdin, in the same round so neither side starves. */
  enum relay_step step = RELAY_GO_ON;
  if (p[1].revents & POLLIN)
    step = relay_from_monitor (r);
  else if (p[1].revents & (POLLHUP | POLLERR | POLLNVAL))
    step = RELAY_DONE;
  if (step != RELAY_GO_ON)
    return step;
  if (flush && (p[1].revents & POLLOUT))
    relay_flush_stdin (r);
  if (read_client && (p[0].revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR)))
    return relay_from_client (r);
  if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL))
    return RELAY_CLIENT_GONE;
  return RELAY_GO_ON;
}

int stream_relay (int client, const char *extra, size_t extra_len, int mon_fd, const struct relay_opts *o,
                  int *exit_code)
{
  cleanup_free char *buf = malloc (MONITOR_MSG_MAX + 1);
  cleanup_free char *pending = malloc (MONITOR_MSG_MAX);
  *exit_code = -1;
  if (buf == NULL || pending == NULL)
    return -ENOMEM;
  uint8_t flags = (o->stdout ? MON_ATTACH_STDOUT : 0) | (o->stderr ? MON_ATTACH_STDERR : 0);
  int r = mon_send (mon_fd, MON_ATTACH, &flags, 1);
  if (r < 0)
    return r;
  if (o->stdin && extra_len > 0)
    (void) mon_send_stdin (mon_fd, extra, extra_len);
  struct relay rl = { .client = client, .mon = mon_fd, .o = o, .exit_code = exit_code, .buf = buf, .pending = pending };
  if (o->tty && o->stdin)
    {
      rl.keys = o->detach_keys ? o->detach_keys : "\x10\x11"; /* ctrl-p ctrl-q */
      rl.keys_len = strnlen (rl.keys, DETACH_KEYS_MAX);
      if (rl.keys_len == 0)
        rl.keys = NULL;
    }
  enum relay_step step;
  while ((step = relay_wait (&rl)) == RELAY_GO_ON)
    ;
  if (step == RELAY_DONE)
    shutdown (client, SHUT_WR);
  return 0;
}

/* ---- Docker's time arguments ---- */

#define NS_PER_SEC 1000000000LL

/* Digits at *P into *V (at most MAXD of them); the count, 0 if none. */
static int take_digits (const char **p, int maxd, long long *v)
{
  int n = 0;
  *v = 0;
  while (**p >= '0' && **p <= '9' && n < maxd)
    {
      *v = *v * 10 + (**p - '0');
      (*p)++;
      n++;
    }
  return n;
}

/* ".123" -> 123000000 ns; digits past the ninth are dropped. */
static long long take_fraction_ns (const char **p, bool *ok)
{
  long long ns = 0;
  int n = 0;
  *ok = false;
  if (**p != '.')
    return 0;
  (*p)++;
  while (**p >= '0' && **p <= '9')
    {
      if (n < 9)
        ns = ns * 10 + (**p - '0');
      n++;
      (*p)++;
    }
  for (int i = n; i < 9; i++)
    ns *= 10;
  *ok = n > 0;
  return ns;
}

static bool parse_unix (const char *s, int64_t *out)
{
  const char *p = s;
  bool neg = *p == '-';
  if (neg)
    p++;
  long long sec;
  int n = take_digits (&p, 12, &sec);
  if (n == 0)
    return false;
  long long ns = 0;
  if (*p == '.')
    {
      bool ok;
      ns = take_fraction_ns (&p, &ok);
      if (!ok)
        return false;
    }
  if (*p != '\0')
    return false;
  long long v = sec * NS_PER_SEC + ns;
  *out = neg ? -v : v;
  return true;
}

struct duration_unit
{
  const char *name;
  long long ns;
};

static const struct duration_unit duration_units[] = {
  { "ns", 1 }, { "us", 1000 }, { "\xc2\xb5s", 1000 }, { "\xce\xbcs", 1000 }, { "ms", 1000000 },
  { "s", NS_PER_SEC }, { "m", 60 * NS_PER_SEC }, { "h", 3600 * NS_PER_SEC },
};

static const struct duration_unit *take_unit (const char **p)
{
  const struct duration_unit *best = NULL;
  for (size_t i = 0; i < sizeof duration_units / sizeof *duration_units; i++)
    {
      size_t n = strlen (duration_units[i].name);
      if (strncmp (*p, duration_units[i].name, n) == 0 && (best == NULL || n > strlen (best->name)))
        best = &duration_units[i];
    }
  if (best)
    *p += strlen (best->name);
  return best;
}

/* Go's time.ParseDuration: [-+]("1.5" unit)+, or "0"; the whole part in
 * integers, the fraction in floating point, as Go does. */
static bool parse_duration (const char *s, int64_t *out)
{
  const char *p = s;
  bool neg = *p == '-';
  if (*p == '-' || *p == '+')
    p++;
  if (strcmp (p, "0") == 0)
    {
      *out = 0;
      return true;
    }
  if (*p == '\0')
    return false;
  int64_t total = 0;
  while (*p)
    {
      long long whole;
      int n = take_digits (&p, 18, &whole);
      double frac = 0, scale = 1;
      if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, n++)
          frac += (*p - '0') * (scale /= 10);
      const struct duration_unit *u = n > 0 ? take_unit (&p) : NULL;
      if (u == NULL || whole > (INT64_MAX - total) / u->ns - 1)
        return false;
      total += whole * u->ns + (int64_t) (frac * (double) u->ns);
    }
  *out = neg ? -total : total;
  return true;
}

static bool take_2 (const char **p, char sep, int *v)
{
  long long x;
  if (sep && *(*p)++ != sep)
    return false;
  if (take_digits (p, 2, &x) != 2)
    return false;
  *v = (int) x;
  return true;
}

/* "Z", "+07:00", "-0700" (seconds east into *off), or nothing. */
static bool take_zone (const char **p, bool *has_zone, long *off)
{
  *has_zone = false;
  *off = 0;
  if (**p == 'Z' || **p == 'z')
    {
      (*p)++;
      *has_zone = true;
      return true;
    }
  if (**p != '+' && **p != '-')
    return true;
  int sign = *(*p)++ == '-' ? -1 : 1, hh, mm = 0;
  if (!take_2 (p, 0, &hh))
    return false;
  if (**p == ':' && !take_2 (p, ':', &mm))
    return false;
  if (**p >= '0' && **p <= '9' && !take_2 (p, 0, &mm))
    return false;
  *has_zone = true;
  *off = sign * (hh * 3600L + mm * 60L);
  return hh <= 23 && mm <= 59;
}

/* RFC 3339 and the shorter forms docker accepts: a date, then optionally
 * "T" and hours[:minutes[:seconds[.fraction]]], then a zone; without a zone
 * the time is local, as docker reads it. */
static bool parse_rfc3339 (const char *s, int64_t *out)
{
  const char *p = s;
  long long year;
  struct tm tm = { 0 };
  if (take_digits (&p, 4, &year) != 4 || !take_2 (&p, '-', &tm.tm_mon) || !take_2 (&p, '-', &tm.tm_mday))
    return false;
  long long ns = 0;
  if (*p == 'T' || *p == 't')
    {
      p++;
      if (!take_2 (&p, 0, &tm.tm_hour))
        return false;
      if (*p == ':' && !take_2 (&p, ':', &tm.tm_min))
        return false;
      if (*p == ':' && !take_2 (&p, ':', &tm.tm_sec))
        return false;
      if (*p == '.')
        {
          bool ok;
          ns = take_fraction_ns (&p, &ok);
          if (!ok)
            return false;
        }
    }
  bool has_zone;
  long off;
  if (!take_zone (&p, &has_zone, &off) || *p != '\0')
    return false;
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59
      || tm.tm_sec > 60)
    return false;
  tm.tm_year = (int) year - 1900;
  tm.tm_mon -= 1;
  tm.tm_isdst = -1;
  time_t t = has_zone ? timegm (&tm) - off : mktime (&tm);
  *out = (int64_t) t * NS_PER_SEC + ns;
  return true;
}

int64_t stream_parse_time (const char *s, int64_t now_ns)
{
  int64_t v;
  if (s == NULL || *s == '\0')
    return -1;
  /* docker's order: a duration first ("0" is the epoch, not "now"), then
   * a date, then unix seconds. */
  if (strcmp (s, "0") != 0 && parse_duration (s, &v))
    return now_ns - v;
  if (strchr (s + 1, '-') && parse_rfc3339 (s, &v))
    return v;
  if (parse_unix (s, &v))
    return v;
  return -1;
}
