/* Reading a json-file log for GET /containers/{id}/logs.
 *
 * The monitor appends one line per entry, each with one write(), so an
 * entry is complete once its newline is in the file; a tail without a
 * newline is an entry still being written and waits (follow) or is left
 * out.  Like dockerd, "tail" counts the file's last lines before "since",
 * "until" and the stream selection apply. */
#include "daemon/stream.h"
#include "common/cleanup.h"
#include "common/json.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_READ_CHUNK 65536
/* A longer line is not one the monitor wrote (it splits at 16 KiB as
 * docker does): it is skipped rather than buffered without bound. */
#define LOG_LINE_MAX (4 * 1024 * 1024)
/* How often a follower looks at still_running and at its reader while no
 * line comes. */
#define LOG_FOLLOW_TICK_MS 250

struct log_reader
{
  int fd;
  const struct logs_opts *o;
  stream_sink sink;
  void *cookie;
  char *line;        /* bytes of the line being read, not yet ended */
  size_t len, cap;
  bool skipping;     /* inside an over-long line: drop it up to its newline */
  bool until_passed; /* an entry at or after "until" was seen: the end */
};

static int64_t now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* docker's RFC3339NanoFixed, in UTC, and the space after it. */
static void format_timestamp (int64_t ns, char out[48])
{
  time_t sec = (time_t) (ns / 1000000000LL);
  long frac = (long) (ns % 1000000000LL);
  if (frac < 0)
    {
      frac += 1000000000L;
      sec--;
    }
  struct tm tm;
  char date[32];
  gmtime_r (&sec, &tm);
  strftime (date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf (out, 48, "%s.%09ldZ ", date, frac);
}

static int emit_entry (struct log_reader *r, enum stream_kind kind, int64_t time_ns, const char *log, size_t len)
{
  if (!r->o->timestamps)
    return stream_write_frame (r->sink, r->cookie, r->o->tty, kind, log, len);
  char ts[48];
  format_timestamp (time_ns, ts);
  size_t tl = strlen (ts);
  cleanup_free char *buf = malloc (tl + len);
  if (buf == NULL)
    return -ENOMEM;
  memcpy (buf, ts, tl);
  memcpy (buf + tl, log, len);
  return stream_write_frame (r->sink, r->cookie, r->o->tty, kind, buf, tl + len);
}

/* One line of the file: filter it and send it.  0 or the sink's error. */
static int take_line (struct log_reader *r, const char *data, size_t len)
{
  cleanup_json json_t *j = json_loadb (data, len, JSON_ALLOW_NUL, NULL);
  json_t *log = json_object_get (j, "log");
  const char *stream = berth_json_str (j, "stream");
  const char *time = berth_json_str (j, "time");
  /* A time is a date ('T' inside), not one of the durations that
   * stream_parse_time also reads. */
  if (!json_is_string (log) || stream == NULL || time == NULL || strchr (time, 'T') == NULL)
    return 0;
  bool is_stdout = strcmp (stream, "stdout") == 0, is_stderr = strcmp (stream, "stderr") == 0;
  int64_t t = stream_parse_time (time, 0);
  if (t < 0 || !(is_stdout || is_stderr))
    return 0;
  enum stream_kind kind = is_stderr ? STREAM_STDERR : STREAM_STDOUT;
  if (r->o->until_ns > 0 && t >= r->o->until_ns)
    {
      r->until_passed = true;
      return 0;
    }
  if (t < r->o->since_ns)
    return 0;
  if ((kind == STREAM_STDOUT && !r->o->stdout) || (kind == STREAM_STDERR && !r->o->stderr))
    return 0;
  return emit_entry (r, kind, t, json_string_value (log), json_string_length (log));
}

/* Append DATA to the pending line (or drop it while skipping). */
static void keep_partial (struct log_reader *r, const char *data, size_t len)
{
  if (r->skipping)
    return;
  if (r->len + len > LOG_LINE_MAX)
    {
      r->skipping = true;
      r->len = 0;
      return;
    }
  if (r->len + len > r->cap)
    {
      size_t cap = (r->len + len) * 2;
      char *n = realloc (r->line, cap);
      if (n == NULL)
        {
          r->skipping = true;
          r->len = 0;
          return;
        }
      r->line = n;
      r->cap = cap;
    }
  memcpy (r->line + r->len, data, len);
  r->len += len;
}

/* Split a block read from the file into lines. */
static int take_block (struct log_reader *r, const char *data, size_t len)
{
  while (len > 0 && !r->until_passed)
    {
      const char *nl = memchr (data, '\n', len);
      if (nl == NULL)
        {
          keep_partial (r, data, len);
          return 0;
        }
      size_t n = (size_t) (nl - data);
      int ret = 0;
      if (r->skipping)
        r->skipping = false;
      else if (r->len > 0)
        {
          keep_partial (r, data, n);
          if (!r->skipping)
            ret = take_line (r, r->line, r->len);
          r->skipping = false;
          r->len = 0;
        }
      else
        ret = take_line (r, data, n);
      if (ret < 0)
        return ret;
      data += n + 1;
      len -= n + 1;
    }
  return 0;
}

/* Everything up to the current end of the file. */
static int read_available (struct log_reader *r, berth_err *err)
{
  cleanup_free char *buf = malloc (LOG_READ_CHUNK);
  if (buf == NULL)
    return berth_fail (err, ENOMEM, "log reader");
  while (!r->until_passed)
    {
      ssize_t n = read (r->fd, buf, LOG_READ_CHUNK);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return berth_fail_errno (err, "read the log");
      if (n == 0)
        return 0;
      int ret = take_block (r, buf, (size_t) n);
      if (ret < 0)
        return berth_fail (err, -ret, "send the log");
    }
  return 0;
}

/* Where the last TAIL complete lines of FD begin (the end of the last
 * newline-terminated line when TAIL is 0). */
static off_t tail_offset (int fd, long tail)
{
  struct stat st;
  char buf[LOG_READ_CHUNK];
  if (tail < 0 || fstat (fd, &st) < 0)
    return 0;
  off_t end = st.st_size;
  long newlines = 0;
  while (end > 0)
    {
      off_t start = end > (off_t) sizeof buf ? end - (off_t) sizeof buf : 0;
      ssize_t n = pread (fd, buf, (size_t) (end - start), start);
      if (n <= 0)
        return 0;
      for (ssize_t i = n - 1; i >= 0; i--)
        {
          if (buf[i] != '\n')
            continue;
          /* The first newline from the end closes the last line; the
           * (TAIL+1)-th one ends the line before the tail. */
          if (newlines++ == tail)
            return start + i + 1;
        }
      end = start;
    }
  return 0;
}

static bool follow_goes_on (const struct logs_opts *o)
{
  if (o->until_ns > 0 && now_ns () >= o->until_ns)
    return false;
  return o->still_running == NULL || o->still_running (o->running_cookie);
}

static int open_log (const char *path, berth_err *err)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno != ENOENT)
    return berth_fail_errno (err, "open `%s`", path);
  return fd < 0 ? -ENOENT : fd;
}

/* Wait until the log changes, a tick passes or the file goes away.
 * Returns false once the file was removed (nothing more will come). */
static bool wait_for_more (int ino, int fd)
{
  struct pollfd p = { .fd = ino, .events = POLLIN };
  if (poll (&p, 1, LOG_FOLLOW_TICK_MS) > 0)
    {
      char events[4096];
      while (read (ino, events, sizeof events) > 0)
        ;
    }
  struct stat st;
  return fstat (fd, &st) == 0 && st.st_nlink > 0;
}

/* Open the log; when following, wait for it to appear while the
 * container runs (*WAITED: all of it is new then). */
static int wait_for_file (const char *path, const struct logs_opts *o, stream_sink sink, void *cookie,
                          bool *waited, berth_err *err)
{
  *waited = false;
  for (;;)
    {
      bool running = o->follow && follow_goes_on (o);
      int fd = open_log (path, err);
      if (fd != -ENOENT || !running)
        return fd;
      *waited = true;
      if (sink (cookie, NULL, 0) < 0)
        return berth_fail (err, EPIPE, "send the log");
      struct timespec tick = { 0, LOG_FOLLOW_TICK_MS * 1000000L };
      nanosleep (&tick, NULL);
    }
}

static int follow (struct log_reader *r, berth_err *err)
{
  cleanup_close int ino = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
  char self[64];
  snprintf (self, sizeof self, "/proc/self/fd/%d", r->fd);
  if (ino < 0 || inotify_add_watch (ino, self, IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF) < 0)
    return berth_fail_errno (err, "watch the log");
  for (;;)
    {
      /* Look at the state before reading: what was written before the
       * container stopped is in the file by then, and read below. */
      bool running = follow_goes_on (r->o);
      int ret = read_available (r, err);
      if (ret < 0 || !running || r->until_passed)
        return ret;
      if (r->sink (r->cookie, NULL, 0) < 0)
        return berth_fail (err, EPIPE, "send the log");
      if (!wait_for_more (ino, r->fd))
        return read_available (r, err);
    }
}

int logs_stream (const char *path, const struct logs_opts *o, stream_sink sink, void *cookie, berth_err *err)
{
  bool waited;
  cleanup_close int fd = wait_for_file (path, o, sink, cookie, &waited, err);
  if (fd == -ENOENT)
    return 0;
  if (fd < 0)
    return fd;
  if (!waited && lseek (fd, tail_offset (fd, o->tail), SEEK_SET) < 0)
    return berth_fail_errno (err, "seek in `%s`", path);
  struct log_reader r = { .fd = fd, .o = o, .sink = sink, .cookie = cookie };
  int ret = o->follow ? follow (&r, err) : read_available (&r, err);
  free (r.line);
  return ret;
}
