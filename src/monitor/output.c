/* The container's output: forwarded to attach clients as it comes, and
 * logged line by line in Docker's json-file format:
 *   {"log":"text\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"} */
#include "monitor.h"

#include "common/fs.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void client_drop (struct monitor *m, size_t idx)
{
  close (m->clients[idx].fd);
  free (m->clients[idx].held);
  m->clients[idx] = m->clients[--m->nclients];
}

long long monitor_now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for room on a client that holds a message (the final flush is the
 * only caller that gets here: the loop reads no output while one is held). */
static bool client_wait_held (struct monitor *m, size_t idx)
{
  while (m->clients[idx].held)
    {
      struct pollfd p = { .fd = m->clients[idx].fd, .events = POLLOUT };
      long long left = CLIENT_STALL_MS - (monitor_now_ms () - m->clients[idx].held_since);
      if (left <= 0 || poll (&p, 1, (int) left) < 0)
        left = 0;
      if (!client_retry_held (m, idx))
        return false;
    }
  return true;
}

void client_send_output (struct monitor *m, size_t idx, enum monitor_msg type, const void *data, size_t len)
{
  if (m->clients[idx].held && !client_wait_held (m, idx))
    return;
  struct client *c = &m->clients[idx];
  unsigned char t = (unsigned char) type;
  struct iovec iov[2] = { { &t, 1 }, { (void *) data, len } };
  struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
  ssize_t n;
  do
    n = sendmsg (c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n >= 0)
    return;
  if (errno != EAGAIN || (c->held = malloc (len + 1)) == NULL)
    {
      client_drop (m, idx);
      return;
    }
  /* Full: keep it; output reading pauses until it is sent. */
  c->held[0] = (char) t;
  memcpy (c->held + 1, data, len);
  c->held_len = len + 1;
  c->held_since = monitor_now_ms ();
}

bool client_retry_held (struct monitor *m, size_t idx)
{
  struct client *c = &m->clients[idx];
  if (c->held == NULL)
    return true;
  ssize_t n;
  do
    n = send (c->fd, c->held, c->held_len, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n >= 0)
    {
      free (c->held);
      c->held = NULL;
      c->held_len = 0;
      return true;
    }
  if (errno != EAGAIN || monitor_now_ms () - c->held_since > CLIENT_STALL_MS)
    {
      client_drop (m, idx);
      return false;
    }
  return true;
}

bool clients_congested (struct monitor *m, long long *oldest)
{
  bool any = false;
  for (size_t i = 0; i < m->nclients; i++)
    if (m->clients[i].held)
      {
        if (!any || m->clients[i].held_since < *oldest)
          *oldest = m->clients[i].held_since;
        any = true;
      }
  return any;
}

void clients_flush_held (struct monitor *m, long long ms)
{
  long long end = monitor_now_ms () + ms, oldest = 0;
  while (clients_congested (m, &oldest))
    {
      for (size_t i = m->nclients; i-- > 0;)
        if (m->clients[i].held && !client_retry_held (m, i))
          continue;
      if (!clients_congested (m, &oldest))
        break;
      if (monitor_now_ms () >= end)
        {
          for (size_t i = m->nclients; i-- > 0;)
            if (m->clients[i].held)
              client_drop (m, i);
          break;
        }
      struct timespec pause = { 0, 5 * 1000000L };
      nanosleep (&pause, NULL);
    }
}

bool client_send (struct monitor *m, size_t idx, enum monitor_msg type, const void *data, size_t len)
{
  unsigned char t = (unsigned char) type;
  struct iovec iov[2] = { { &t, 1 }, { (void *) data, len } };
  struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
  ssize_t n;
  do
    n = sendmsg (m->clients[idx].fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n >= 0)
    return true;
  /* EAGAIN included: a client that does not read must not hold up the
   * container, nor make the monitor buffer without end. */
  client_drop (m, idx);
  return false;
}

static void forward (struct monitor *m, enum monitor_msg type, const char *data, size_t len)
{
  uint8_t want = type == MON_STDERR ? MON_ATTACH_STDERR : MON_ATTACH_STDOUT;
  /* Backwards: a dropped client is replaced by the last one, already done. */
  for (size_t i = m->nclients; i-- > 0;)
    if (m->clients[i].attach & want)
      client_send_output (m, i, type, data, len);
}

static bool enc_reserve (struct monitor *m, size_t need)
{
  if (m->enc_cap >= need)
    return true;
  char *p = realloc (m->enc, need);
  if (p == NULL)
    return false;
  m->enc = p;
  m->enc_cap = need;
  return true;
}

/* The length of the valid UTF-8 sequence at S (of LEN bytes), or 0 if it
 * is not one (Go's utf8.DecodeRune rules: no overlongs, no surrogates,
 * nothing above U+10FFFF). */
static size_t utf8_len (const unsigned char *s, size_t len)
{
  unsigned char c = s[0];
  size_t n;
  unsigned char lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf)
    n = 2;
  else if (c >= 0xe0 && c <= 0xef)
    {
      n = 3;
      if (c == 0xe0)
        lo = 0xa0;
      else if (c == 0xed)
        hi = 0x9f;
    }
  else if (c >= 0xf0 && c <= 0xf4)
    {
      n = 4;
      if (c == 0xf0)
        lo = 0x90;
      else if (c == 0xf4)
        hi = 0x8f;
    }
  else
    return 0;
  if (len < n || s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if (s[i] < 0x80 || s[i] > 0xbf)
      return 0;
  return n;
}

/* Docker's encoding of the "log" string (jsonlog's
 * ffjsonWriteJSONBytesAsString): \" \\ \n \r, other control bytes and
 * < > & as \u00XX, invalid UTF-8 as \ufffd, U+2028/U+2029 escaped.
 * OUT has room for 6 bytes per input byte. */
static size_t escape_log (char *out, const unsigned char *s, size_t len)
{
  static const char hex[] = "0123456789abcdef";
  char *o = out;
  for (size_t i = 0; i < len;)
    {
      unsigned char b = s[i];
      if (b < 0x80)
        {
          if (b >= 0x20 && b != '\\' && b != '"' && b != '<' && b != '>' && b != '&')
            *o++ = (char) b;
          else if (b == '\\' || b == '"')
            *o++ = '\\', *o++ = (char) b;
          else if (b == '\n')
            *o++ = '\\', *o++ = 'n';
          else if (b == '\r')
            *o++ = '\\', *o++ = 'r';
          else
            o += sprintf (o, "\\u00%c%c", hex[b >> 4], hex[b & 0xf]);
          i++;
          continue;
        }
      size_t n = utf8_len (s + i, len - i);
      if (n == 0)
        {
          memcpy (o, "\\ufffd", 6);
          o += 6;
          i++;
        }
      else if (n == 3 && b == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9))
        {
          o += sprintf (o, "\\u202%c", s[i + 2] == 0xa8 ? '8' : '9');
          i += 3;
        }
      else
        {
          memcpy (o, s + i, n);
          o += n;
          i += n;
        }
    }
  return (size_t) (o - out);
}

/* RFC 3339 with nanoseconds, always 9 digits (Docker's RFC3339NanoFixed). */
static size_t format_now (char *buf, size_t size)
{
  struct timespec ts;
  struct tm tm;
  clock_gettime (CLOCK_REALTIME, &ts);
  gmtime_r (&ts.tv_sec, &tm);
  size_t n = strftime (buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
  n += (size_t) snprintf (buf + n, size - n, ".%09ldZ", ts.tv_nsec);
  return n;
}

/* One log entry, written with one write() to the O_APPEND log, so a
 * reader never sees half an entry followed by another. */
static void log_entry (struct monitor *m, const char *stream, const char *data, size_t len)
{
  if (m->log_fd < 0 || len == 0)
    return;
  static const char head[] = "{\"log\":\"";
  char tail[128];
  size_t tlen = (size_t) snprintf (tail, sizeof tail, "\",\"stream\":\"%s\",\"time\":\"", stream);
  tlen += format_now (tail + tlen, sizeof tail - tlen);
  tlen += (size_t) snprintf (tail + tlen, sizeof tail - tlen, "\"}\n");
  if (!enc_reserve (m, sizeof head + len * 6 + tlen))
    return;
  size_t n = sizeof head - 1;
  memcpy (m->enc, head, n);
  n += escape_log (m->enc + n, (const unsigned char *) data, len);
  memcpy (m->enc + n, tail, tlen);
  n += tlen;
  /* A full disk loses log lines, never the container's progress. */
  (void) berth_write_all (m->log_fd, m->enc, n);
}

/* Log the complete lines of OUT's buffer and keep the rest; a full buffer
 * without a newline is logged as it is (a "partial" entry, as docker's
 * 16 KiB split). */
static void log_lines (struct monitor *m, struct output *out)
{
  size_t start = 0;
  char *nl;
  while ((nl = memchr (out->line + start, '\n', out->used - start)) != NULL)
    {
      size_t end = (size_t) (nl - out->line) + 1;
      log_entry (m, out->stream, out->line + start, end - start);
      start = end;
    }
  if (start == 0 && out->used == sizeof out->line)
    start = out->used, log_entry (m, out->stream, out->line, out->used);
  memmove (out->line, out->line + start, out->used - start);
  out->used -= start;
}

void output_flush (struct monitor *m, struct output *out)
{
  log_entry (m, out->stream, out->line, out->used);
  out->used = 0;
}

void output_read (struct monitor *m, struct output *out)
{
  ssize_t n = read (out->fd, out->line + out->used, sizeof out->line - out->used);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0)
    {
      /* EOF; EIO is a pty's EOF (the last slave fd closed). */
      output_flush (m, out);
      close (out->fd);
      out->fd = -1;
      return;
    }
  forward (m, out->type, out->line + out->used, (size_t) n);
  if (m->log_fd < 0)
    return;
  out->used += (size_t) n;
  log_lines (m, out);
}
