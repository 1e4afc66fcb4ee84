/* Docker's stream framing, json-file log reading, the attach relay and
 * Docker's time arguments. */
#include "unit.h"

#include "common/monitor-proto.h"
#include "daemon/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

/* ---- helpers ---- */

struct membuf
{
  char *data;
  size_t len;
  int fail_after; /* calls before the sink fails with -EPIPE; -1: never */
  volatile bool gone;
};

static int mem_sink (void *cookie, const void *buf, size_t len)
{
  struct membuf *m = cookie;
  if (m->gone || m->fail_after == 0)
    return -EPIPE;
  if (len == 0)
    return 0;
  if (m->fail_after > 0)
    m->fail_after--;
  m->data = realloc (m->data, m->len + len + 1);
  memcpy (m->data + m->len, buf, len);
  m->len += len;
  m->data[m->len] = '\0';
  return 0;
}

/* Decoded frames as "1:payload" pieces, one per on_frame call. */
struct decoded
{
  char *text;
  size_t len, cap;
  int calls;
  int empty_frames;
};

static void on_frame (void *cookie, enum stream_kind stream, const char *data, size_t len)
{
  struct decoded *d = cookie;
  d->calls++;
  if (len == 0)
    {
      d->empty_frames++;
      return;
    }
  if (d->len + len + 4 > d->cap)
    {
      d->cap = (d->len + len + 4) * 2;
      d->text = realloc (d->text, d->cap);
    }
  d->len += (size_t) snprintf (d->text + d->len, d->cap - d->len, "%d:%.*s", (int) stream, (int) len, data);
}

/* Decode a whole framed buffer into "1:a2:b" form. */
static void decode_all (const struct membuf *m, struct decoded *out)
{
  struct stream_decoder dec = { 0 };
  memset (out, 0, sizeof *out);
  CHECK (stream_decoder_feed (&dec, m->data ? m->data : "", m->len, on_frame, out) == 0);
  CHECK (dec.need == 0 && dec.hdr_len == 0);
  if (out->text == NULL)
    out->text = strdup ("");
}

static char *make_temp_dir (void)
{
  char tmpl[] = "/tmp/berth-stream-XXXXXX";
  CHECK (mkdtemp (tmpl) != NULL);
  return strdup (tmpl);
}

static void write_text (const char *path, const char *text, const char *mode)
{
  FILE *f = fopen (path, mode);
  CHECK (f != NULL);
  fputs (text, f);
  fclose (f);
}

static int64_t now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms (int ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep (&ts, NULL);
}

/* ---- framing ---- */

TEST (frame_header_bytes)
{
  uint8_t h[8];
  stream_frame_header (h, STREAM_STDERR, 0x01020304);
  const uint8_t want[8] = { 2, 0, 0, 0, 1, 2, 3, 4 };
  CHECK (memcmp (h, want, 8) == 0);
  stream_frame_header (h, STREAM_STDOUT, 5);
  const uint8_t want5[8] = { 1, 0, 0, 0, 0, 0, 0, 5 };
  CHECK (memcmp (h, want5, 8) == 0);
}

TEST (write_frame_framed_raw_and_split)
{
  struct membuf m = { .fail_after = -1 };
  CHECK (stream_write_frame (mem_sink, &m, false, STREAM_STDOUT, "hello", 5) == 0);
  CHECK (m.len == 13);
  CHECK (memcmp (m.data, "\1\0\0\0\0\0\0\5hello", 13) == 0);
  CHECK (stream_write_frame (mem_sink, &m, true, STREAM_STDERR, "raw", 3) == 0);
  CHECK (m.len == 16 && memcmp (m.data + 13, "raw", 3) == 0);
  CHECK (stream_write_frame (mem_sink, &m, false, STREAM_STDOUT, "", 0) == 0);
  CHECK (m.len == 16);
  free (m.data);

  /* 2.5 MiB: frames of 1 MiB, 1 MiB and the rest. */
  size_t big = 2 * 1024 * 1024 + 512 * 1024;
  char *data = malloc (big);
  memset (data, 'z', big);
  struct membuf b = { .fail_after = -1 };
  CHECK (stream_write_frame (mem_sink, &b, false, STREAM_STDERR, data, big) == 0);
  CHECK (b.len == big + 3 * 8);
  const uint8_t *p = (const uint8_t *) b.data;
  CHECK (p[0] == 2 && p[4] == 0 && p[5] == 0x10 && p[6] == 0 && p[7] == 0);
  p += 8 + 1024 * 1024;
  CHECK (p[0] == 2 && p[5] == 0x10);
  p += 8 + 1024 * 1024;
  CHECK (p[0] == 2 && p[5] == 0x08 && p[6] == 0);
  free (data);
  free (b.data);
}

TEST (write_frame_reports_sink_failure)
{
  struct membuf m = { .fail_after = 0 };
  CHECK (stream_write_frame (mem_sink, &m, false, STREAM_STDOUT, "x", 1) == -EPIPE);
}

TEST (sink_fd_writes_and_sees_a_gone_reader)
{
  int sv[2];
  CHECK (socketpair (AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  CHECK (stream_sink_fd (&sv[0], "abc", 3) == 0);
  char buf[4] = { 0 };
  CHECK (read (sv[1], buf, 3) == 3 && strcmp (buf, "abc") == 0);
  CHECK (stream_sink_fd (&sv[0], NULL, 0) == 0);
  close (sv[1]);
  /* No SIGPIPE (it would kill this test), just -EPIPE. */
  CHECK (stream_sink_fd (&sv[0], "abc", 3) == -EPIPE);
  CHECK (stream_sink_fd (&sv[0], NULL, 0) == -EPIPE);
  int p[2];
  CHECK (pipe (p) == 0);
  CHECK (stream_sink_fd (&p[1], "xy", 2) == 0);
  CHECK (read (p[0], buf, 2) == 2);
}

/* ---- the decoder ---- */

static size_t build_stream (char *out)
{
  struct membuf m = { .fail_after = -1 };
  stream_write_frame (mem_sink, &m, false, STREAM_STDOUT, "hello", 5);
  stream_write_frame (mem_sink, &m, false, STREAM_STDERR, "world!", 6);
  uint8_t empty[8];
  stream_frame_header (empty, STREAM_STDOUT, 0);
  mem_sink (&m, empty, 8);
  stream_write_frame (mem_sink, &m, false, STREAM_STDIN, "in", 2);
  stream_write_frame (mem_sink, &m, false, STREAM_STDOUT, "bye", 3);
  memcpy (out, m.data, m.len);
  size_t n = m.len;
  free (m.data);
  return n;
}

/* Pieces of the same stream coalesced: "1:hello2:world!0:in1:bye". */
static void coalesce (const struct decoded *d, char *out)
{
  char last = 0;
  size_t o = 0;
  for (size_t i = 0; i < d->len;)
    {
      char stream = d->text[i];
      i += 2; /* "N:" */
      if (stream != last)
        {
          out[o++] = stream;
          out[o++] = ':';
          last = stream;
        }
      while (i < d->len && !(d->text[i] >= '0' && d->text[i] <= '2' && i + 1 < d->len && d->text[i + 1] == ':'))
        out[o++] = d->text[i++];
    }
  out[o] = '\0';
}

TEST (decoder_split_at_every_boundary)
{
  char stream[256];
  size_t n = build_stream (stream);
  for (size_t cut = 0; cut <= n; cut++)
    {
      struct stream_decoder dec = { 0 };
      struct decoded d = { 0 };
      CHECK (stream_decoder_feed (&dec, stream, cut, on_frame, &d) == 0);
      CHECK (stream_decoder_feed (&dec, stream + cut, n - cut, on_frame, &d) == 0);
      char joined[512];
      coalesce (&d, joined);
      CHECK_STR (joined, "1:hello2:world!0:in1:bye");
      CHECK (d.empty_frames == 1);
      free (d.text);
      CHECK (dec.need == 0 && dec.hdr_len == 0);
    }
  /* Byte by byte. */
  struct stream_decoder dec = { 0 };
  struct decoded d = { 0 };
  for (size_t i = 0; i < n; i++)
    CHECK (stream_decoder_feed (&dec, stream + i, 1, on_frame, &d) == 0);
  char joined[512];
  coalesce (&d, joined);
  CHECK_STR (joined, "1:hello2:world!0:in1:bye");
}

TEST (decoder_whole_frames_in_one_feed)
{
  char stream[256];
  size_t n = build_stream (stream);
  struct stream_decoder dec = { 0 };
  struct decoded d = { 0 };
  CHECK (stream_decoder_feed (&dec, stream, n, on_frame, &d) == 0);
  CHECK_STR (d.text, "1:hello2:world!0:in1:bye");
  CHECK (d.calls == 5);
}

TEST (decoder_rejects_bad_headers)
{
  struct decoded d = { 0 };
  struct stream_decoder dec = { 0 };
  CHECK (stream_decoder_feed (&dec, "\3\0\0\0\0\0\0\1x", 9, on_frame, &d) == -EINVAL);
  struct stream_decoder dec2 = { 0 };
  CHECK (stream_decoder_feed (&dec2, "\1\0\1\0\0\0\0\1x", 9, on_frame, &d) == -EINVAL);
  /* Valid first frame, then garbage: the first still arrives. */
  struct stream_decoder dec3 = { 0 };
  memset (&d, 0, sizeof d);
  CHECK (stream_decoder_feed (&dec3, "\1\0\0\0\0\0\0\1xHTTP/1.1", 18, on_frame, &d) == -EINVAL);
  CHECK_STR (d.text, "1:x");
}

/* ---- Docker's time arguments ---- */

TEST (parse_time_unix_rfc3339_duration)
{
  const int64_t S = 1000000000LL;
  int64_t now = 1800000000LL * S;
  CHECK (stream_parse_time ("1700000000", now) == 1700000000LL * S);
  CHECK (stream_parse_time ("1700000000.5", now) == 1700000000LL * S + S / 2);
  CHECK (stream_parse_time ("1700000000.123456789", now) == 1700000000LL * S + 123456789);
  CHECK (stream_parse_time ("0", now) == 0);
  CHECK (stream_parse_time ("2023-11-14T22:13:20Z", now) == 1700000000LL * S);
  CHECK (stream_parse_time ("2023-11-14T22:13:20.25Z", now) == 1700000000LL * S + S / 4);
  CHECK (stream_parse_time ("2023-11-14T23:13:20+01:00", now) == 1700000000LL * S);
  CHECK (stream_parse_time ("2023-11-14T17:13:20.000000001-05:00", now) == 1700000000LL * S + 1);
  CHECK (stream_parse_time ("2023-11-14Z", now) == 1699920000LL * S);
  CHECK (stream_parse_time ("10m", now) == now - 600 * S);
  CHECK (stream_parse_time ("1h30m", now) == now - 5400 * S);
  CHECK (stream_parse_time ("1.5s", now) == now - S - S / 2);
  CHECK (stream_parse_time ("250ms", now) == now - S / 4);
  CHECK (stream_parse_time ("2h45m30.5s", now) == now - (9930 * S + S / 2));
  CHECK (stream_parse_time ("", now) == -1);
  CHECK (stream_parse_time ("abc", now) == -1);
  CHECK (stream_parse_time ("10x", now) == -1);
  CHECK (stream_parse_time ("1h30", now) == -1);
  CHECK (stream_parse_time ("2023-13-01", now) == -1);
  CHECK (stream_parse_time ("2023-11-14T25:00:00Z", now) == -1);
  CHECK (stream_parse_time ("2023-11-14T22:13:20Zjunk", now) == -1);
  CHECK (stream_parse_time ("1700000000.", now) == -1);
  CHECK (stream_parse_time (NULL, now) == -1);
}

TEST (parse_time_without_zone_is_local)
{
  const int64_t S = 1000000000LL;
  setenv ("TZ", "UTC", 1);
  tzset ();
  CHECK (stream_parse_time ("2023-11-14T22:13:20", 0) == 1700000000LL * S);
  CHECK (stream_parse_time ("2023-11-14T22:13", 0) == 1699999980LL * S);
  CHECK (stream_parse_time ("2023-11-14", 0) == 1699920000LL * S);
  setenv ("TZ", "EST5", 1);
  tzset ();
  CHECK (stream_parse_time ("2023-11-14T17:13:20", 0) == 1700000000LL * S);
}

/* ---- json-file logs ---- */

static const char *LOG_LINES
    = "{\"log\":\"out1\\n\",\"stream\":\"stdout\",\"time\":\"2023-11-14T22:13:20.000000001Z\"}\n"
      "{\"log\":\"err1\\n\",\"stream\":\"stderr\",\"time\":\"2023-11-14T22:13:21Z\"}\n"
      "this is not json\n"
      "{\"log\":\"out2\\n\",\"stream\":\"stdout\",\"time\":\"2023-11-14T22:13:22.5Z\"}\n"
      "{\"log\":\"odd\\n\",\"stream\":\"bogus\",\"time\":\"2023-11-14T22:13:22.6Z\"}\n"
      "{\"log\":\"err2\\n\",\"stream\":\"stderr\",\"time\":\"2023-11-14T22:13:23Z\"}\n";

static char *log_path;

static void make_log (const char *text)
{
  char *dir = make_temp_dir ();
  CHECK (asprintf (&log_path, "%s/ctr-json.log", dir) > 0);
  free (dir);
  if (text)
    write_text (log_path, text, "w");
}

/* Run logs_stream and decode what it wrote. */
static char *read_logs (struct logs_opts o)
{
  struct decoded d;
  struct membuf m = { .fail_after = -1 };
  berth_err err = NULL;
  CHECK (logs_stream (log_path, &o, mem_sink, &m, &err) == 0);
  CHECK (err == NULL);
  if (o.tty)
    {
      char *raw = strdup (m.data ? m.data : "");
      free (m.data);
      return raw;
    }
  decode_all (&m, &d);
  free (m.data);
  return d.text;
}

#define BOTH .stdout = true, .stderr = true

TEST (logs_stream_selection)
{
  make_log (LOG_LINES);
  CHECK_STR (read_logs ((struct logs_opts){ BOTH, .tail = -1 }), "1:out1\n2:err1\n1:out2\n2:err2\n");
  CHECK_STR (read_logs ((struct logs_opts){ .stdout = true, .tail = -1 }), "1:out1\n1:out2\n");
  CHECK_STR (read_logs ((struct logs_opts){ .stderr = true, .tail = -1 }), "2:err1\n2:err2\n");
  CHECK_STR (read_logs ((struct logs_opts){ .tail = -1 }), "");
  CHECK_STR (read_logs ((struct logs_opts){ BOTH, .tail = -1, .tty = true }), "out1\nerr1\nout2\nerr2\n");
}

TEST (logs_since_until)
{
  const int64_t S = 1000000000LL;
  make_log (LOG_LINES);
  CHECK_STR (read_logs ((struct logs_opts){ BOTH, .tail = -1, .since_ns = 1700000001LL * S }), "2:err1\n1:out2\n2:err2\n");
  CHECK_STR (read_logs ((struct logs_opts){ BOTH, .tail = -1, .since_ns = 1700000000LL * S + 2 }), "2:err1\n1:out2\n2:err2\n");
  CHECK_STR (read_logs ((struct logs_opts){ BOTH, .tail = -1, .since_ns = 1700000000LL * S + 1 }),
             "1:out1\n2:err1\n1:out2\n2:err2\n");
  CHECK_STR (read_logs ((struct logs_opts){ BOTH, .tail = -1, .until_ns = 1700000002LL * S + S / 2 }), "1:out1\n2:err1\n");
  CHECK_STR (read_logs ((struct logs_opts){ BOTH, .tail = -1, .since_ns = 1700000001LL * S, .until_ns = 1700000003LL * S }),
             "2:err1\n1:out2\n");
  CHECK_STR (read_logs ((struct logs_opts){ BOTH, .tail = -1, .since_ns = 1800000000LL * S }), "");
}

TEST (logs_tail)
{
  make_log (LOG_LINES);
  CHECK_STR (read_logs ((struct logs_opts){ BOTH, .tail = 0 }), "");
  CHECK_STR (read_logs ((struct logs_opts){ BOTH, .tail = 1 }), "2:err2\n");
  /* Like dockerd, the tail counts the file's lines (here one is bogus). */
  CHECK_STR (read_logs ((struct logs_opts){ BOTH, .tail = 3 }), "1:out2\n2:err2\n");
  CHECK_STR (read_logs ((struct logs_opts){ BOTH, .tail = 4 }), "1:out2\n2:err2\n");
  CHECK_STR (read_logs ((struct logs_opts){ BOTH, .tail = 5 }), "2:err1\n1:out2\n2:err2\n");
  CHECK_STR (read_logs ((struct logs_opts){ BOTH, .tail = 1000 }), "1:out1\n2:err1\n1:out2\n2:err2\n");
  CHECK_STR (read_logs ((struct logs_opts){ .stdout = true, .tail = 1 }), "");
}

TEST (logs_tail_of_a_big_file)
{
  make_log (NULL);
  FILE *f = fopen (log_path, "w");
  for (int i = 0; i < 20000; i++)
    fprintf (f, "{\"log\":\"line %d\\n\",\"stream\":\"stdout\",\"time\":\"2023-11-14T22:13:20Z\"}\n", i);
  fclose (f);
  CHECK_STR (read_logs ((struct logs_opts){ BOTH, .tail = 2 }), "1:line 19998\n1:line 19999\n");
  char *all = read_logs ((struct logs_opts){ BOTH, .tail = -1 });
  CHECK (strncmp (all, "1:line 0\n1:line 1\n", 18) == 0);
  CHECK (strstr (all, "1:line 19999\n") != NULL);
}

TEST (logs_timestamps)
{
  make_log (LOG_LINES);
  CHECK_STR (read_logs ((struct logs_opts){ .stdout = true, .tail = -1, .timestamps = true }),
             "1:2023-11-14T22:13:20.000000001Z out1\n1:2023-11-14T22:13:22.500000000Z out2\n");
  CHECK_STR (read_logs ((struct logs_opts){ .stderr = true, .tail = 1, .timestamps = true, .tty = true }),
             "2023-11-14T22:13:23.000000000Z err2\n");
}

TEST (logs_missing_file_partial_line_and_nul)
{
  make_log (NULL);
  CHECK_STR (read_logs ((struct logs_opts){ BOTH, .tail = -1 }), "");
  write_text (log_path,
              "{\"log\":\"a\\u0000b\\n\",\"stream\":\"stdout\",\"time\":\"2023-11-14T22:13:20Z\"}\n"
              "{\"log\":\"no-time\\n\",\"stream\":\"stdout\"}\n"
              "{\"log\":\"bad-time\\n\",\"stream\":\"stdout\",\"time\":\"5s\"}\n"
              "{\"log\":\"partial\\n\",\"stream\":\"stdout\",\"time\":\"2023-11-14T22:13:20Z\"}",
              "w");
  struct membuf m = { .fail_after = -1 };
  struct logs_opts o = { BOTH, .tail = -1, .tty = true };
  CHECK (logs_stream (log_path, &o, mem_sink, &m, NULL) == 0);
  CHECK (m.len == 4 && memcmp (m.data, "a\0b\n", 4) == 0);
}

TEST (logs_sink_failure_is_reported)
{
  make_log (LOG_LINES);
  struct membuf m = { .fail_after = 1 };
  struct logs_opts o = { BOTH, .tail = -1 };
  berth_err err = NULL;
  CHECK (logs_stream (log_path, &o, mem_sink, &m, &err) == -EPIPE);
  CHECK (err != NULL);
  berth_error_free (&err);
}

/* Follow: a writer thread appends entries (one in two writes) and then
 * says the container stopped. */
static volatile bool writer_running = true;

static bool still_running (void *cookie)
{
  (void) cookie;
  return writer_running;
}

static void *log_writer (void *arg)
{
  (void) arg;
  sleep_ms (150);
  write_text (log_path, "{\"log\":\"two\\n\",\"stream\":\"stderr\",\"time\":\"2023-11-14T22:13:21Z\"}\n", "a");
  sleep_ms (150);
  write_text (log_path, "{\"log\":\"thr", "a");
  sleep_ms (150);
  write_text (log_path, "ee\\n\",\"stream\":\"stdout\",\"time\":\"2023-11-14T22:13:22Z\"}\n", "a");
  write_text (log_path, "{\"log\":\"last\\n\",\"stream\":\"stdout\",\"time\":\"2023-11-14T22:13:23Z\"}\n", "a");
  writer_running = false;
  return NULL;
}

TEST (logs_follow_sees_appends_and_stops)
{
  make_log ("{\"log\":\"one\\n\",\"stream\":\"stdout\",\"time\":\"2023-11-14T22:13:20Z\"}\n");
  pthread_t t;
  pthread_create (&t, NULL, log_writer, NULL);
  struct membuf m = { .fail_after = -1 };
  struct logs_opts o = { BOTH, .tail = -1, .follow = true, .still_running = still_running };
  int64_t start = now_ns ();
  CHECK (logs_stream (log_path, &o, mem_sink, &m, NULL) == 0);
  CHECK (now_ns () - start < 3000000000LL);
  pthread_join (t, NULL);
  struct decoded d;
  decode_all (&m, &d);
  CHECK_STR (d.text, "1:one\n2:two\n1:three\n1:last\n");
}

TEST (logs_follow_tail_zero_waits_for_a_missing_file)
{
  make_log (NULL);
  pthread_t t;
  writer_running = true;
  pthread_create (&t, NULL, log_writer, NULL);
  struct membuf m = { .fail_after = -1 };
  struct logs_opts o = { BOTH, .tail = 0, .follow = true, .still_running = still_running };
  CHECK (logs_stream (log_path, &o, mem_sink, &m, NULL) == 0);
  pthread_join (t, NULL);
  struct decoded d;
  decode_all (&m, &d);
  CHECK_STR (d.text, "2:two\n1:three\n1:last\n");
}

static void *reader_leaves (void *arg)
{
  sleep_ms (200);
  ((struct membuf *) arg)->gone = true;
  return NULL;
}

TEST (logs_follow_ends_when_the_reader_goes)
{
  make_log (LOG_LINES);
  struct membuf m = { .fail_after = -1 };
  pthread_t t;
  pthread_create (&t, NULL, reader_leaves, &m);
  struct logs_opts o = { BOTH, .tail = -1, .follow = true }; /* no still_running: forever */
  berth_err err = NULL;
  CHECK (logs_stream (log_path, &o, mem_sink, &m, &err) == -EPIPE);
  berth_error_free (&err);
  pthread_join (t, NULL);
  struct decoded d;
  decode_all (&m, &d);
  CHECK_STR (d.text, "1:out1\n2:err1\n1:out2\n2:err2\n");
}

TEST (logs_follow_ends_at_until)
{
  make_log (LOG_LINES);
  struct membuf m = { .fail_after = -1 };
  struct logs_opts o = { BOTH, .tail = -1, .follow = true, .until_ns = now_ns () + 300000000LL };
  CHECK (logs_stream (log_path, &o, mem_sink, &m, NULL) == 0);
  struct decoded d;
  decode_all (&m, &d);
  CHECK_STR (d.text, "1:out1\n2:err1\n1:out2\n2:err2\n");
}

/* ---- the attach relay against a fake monitor and a fake client ---- */

struct relay_run
{
  int client;   /* the relay's end of the client connection */
  int mon;      /* the relay's end of the monitor connection */
  struct relay_opts o;
  const char *extra;
  int ret;
  int exit_code;
  volatile bool done;
};

static void *relay_thread (void *arg)
{
  struct relay_run *r = arg;
  r->ret = stream_relay (r->client, r->extra, r->extra ? strlen (r->extra) : 0, r->mon, &r->o, &r->exit_code);
  r->done = true;
  return NULL;
}

/* The test's ends. */
struct peers
{
  int client;
  int mon;
  pthread_t t;
  struct relay_run run;
};

static void start_relay (struct peers *p, struct relay_opts o, const char *extra)
{
  int c[2], m[2];
  CHECK (socketpair (AF_UNIX, SOCK_STREAM, 0, c) == 0);
  CHECK (socketpair (AF_UNIX, SOCK_SEQPACKET, 0, m) == 0);
  p->client = c[0];
  p->mon = m[0];
  p->run = (struct relay_run){ .client = c[1], .mon = m[1], .o = o, .extra = extra };
  CHECK (pthread_create (&p->t, NULL, relay_thread, &p->run) == 0);
}

/* One monitor message within 2 s: its type, payload in BUF. */
static int mon_expect (int fd, char *buf, size_t size, ssize_t *len)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };
  CHECK (poll (&p, 1, 2000) == 1);
  char msg[MONITOR_MSG_MAX];
  ssize_t n = recv (fd, msg, sizeof msg, 0);
  CHECK (n >= 1);
  *len = n - 1;
  CHECK ((size_t) *len < size);
  memcpy (buf, msg + 1, (size_t) *len);
  buf[*len] = '\0';
  return msg[0];
}

static void mon_say (int fd, char type, const char *payload)
{
  char msg[256];
  msg[0] = type;
  size_t n = strlen (payload);
  memcpy (msg + 1, payload, n);
  CHECK (send (fd, msg, n + 1, 0) == (ssize_t) n + 1);
}

/* Read exactly N bytes from FD within 2 s. */
static void read_exact (int fd, char *buf, size_t n)
{
  size_t got = 0;
  while (got < n)
    {
      struct pollfd p = { .fd = fd, .events = POLLIN };
      CHECK (poll (&p, 1, 2000) == 1);
      ssize_t r = read (fd, buf + got, n - got);
      CHECK (r > 0);
      got += (size_t) r;
    }
}

static void expect_eof (int fd)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };
  CHECK (poll (&p, 1, 2000) == 1);
  char c;
  CHECK (read (fd, &c, 1) == 0);
}

static void join_relay (struct peers *p)
{
  for (int i = 0; i < 200 && !p->run.done; i++)
    sleep_ms (10);
  CHECK (p->run.done);
  pthread_join (p->t, NULL);
}

TEST (relay_stdin_half_close_output_and_exit)
{
  struct peers p;
  start_relay (&p, (struct relay_opts){ .stdin = true, .stdout = true, .stderr = true }, "pre");
  char buf[256];
  ssize_t n;
  CHECK (mon_expect (p.mon, buf, sizeof buf, &n) == MON_ATTACH);
  CHECK (n == 1 && buf[0] == (MON_ATTACH_STDOUT | MON_ATTACH_STDERR));
  CHECK (mon_expect (p.mon, buf, sizeof buf, &n) == MON_STDIN);
  CHECK_STR (buf, "pre");
  CHECK (write (p.client, "abc", 3) == 3);
  CHECK (mon_expect (p.mon, buf, sizeof buf, &n) == MON_STDIN);
  CHECK_STR (buf, "abc");
  /* stdin's end: MON_STDIN_CLOSE once, output still flows. */
  CHECK (shutdown (p.client, SHUT_WR) == 0);
  CHECK (mon_expect (p.mon, buf, sizeof buf, &n) == MON_STDIN_CLOSE);
  CHECK (n == 0);
  mon_say (p.mon, MON_STDOUT, "out");
  mon_say (p.mon, MON_STDERR, "err!");
  read_exact (p.client, buf, 8 + 3 + 8 + 4);
  CHECK (memcmp (buf, "\1\0\0\0\0\0\0\3out\2\0\0\0\0\0\0\4err!", 23) == 0);
  mon_say (p.mon, MON_EXIT, "3");
  expect_eof (p.client);
  join_relay (&p);
  CHECK (p.run.ret == 0);
  CHECK (p.run.exit_code == 3);
  /* Nothing else went to the monitor (no second MON_STDIN_CLOSE). */
  CHECK (recv (p.mon, buf, sizeof buf, MSG_DONTWAIT) <= 0);
}

TEST (relay_tty_raw_and_monitor_end)
{
  struct peers p;
  start_relay (&p, (struct relay_opts){ .tty = true, .stdin = true, .stdout = true }, NULL);
  char buf[256];
  ssize_t n;
  CHECK (mon_expect (p.mon, buf, sizeof buf, &n) == MON_ATTACH);
  CHECK (buf[0] == MON_ATTACH_STDOUT);
  mon_say (p.mon, MON_STDOUT, "hello\r\n");
  read_exact (p.client, buf, 7);
  CHECK (memcmp (buf, "hello\r\n", 7) == 0);
  mon_say (p.mon, MON_STARTED, ""); /* not for the client */
  close (p.mon);                    /* the monitor goes without MON_EXIT */
  expect_eof (p.client);
  join_relay (&p);
  CHECK (p.run.ret == 0 && p.run.exit_code == -1);
}

TEST (relay_without_stdin_drops_input)
{
  struct peers p;
  start_relay (&p, (struct relay_opts){ .stdout = true }, "ignored");
  char buf[256];
  ssize_t n;
  CHECK (mon_expect (p.mon, buf, sizeof buf, &n) == MON_ATTACH);
  CHECK (write (p.client, "typed", 5) == 5);
  CHECK (shutdown (p.client, SHUT_WR) == 0);
  mon_say (p.mon, MON_STDOUT, "x");
  read_exact (p.client, buf, 9);
  CHECK (memcmp (buf, "\1\0\0\0\0\0\0\1x", 9) == 0);
  mon_say (p.mon, MON_EXIT, "137");
  expect_eof (p.client);
  join_relay (&p);
  CHECK (p.run.exit_code == 137);
  /* Neither the extra bytes, the typed ones nor a close reached it. */
  CHECK (recv (p.mon, buf, sizeof buf, MSG_DONTWAIT) <= 0);
}

TEST (relay_ends_when_the_client_goes)
{
  struct peers p;
  start_relay (&p, (struct relay_opts){ .stdin = true, .stdout = true }, NULL);
  char buf[256];
  ssize_t n;
  CHECK (mon_expect (p.mon, buf, sizeof buf, &n) == MON_ATTACH);
  close (p.client);
  join_relay (&p);
  CHECK (p.run.ret == 0 && p.run.exit_code == -1);
  /* The client's EOF was still its stdin's end. */
  CHECK (mon_expect (p.mon, buf, sizeof buf, &n) == MON_STDIN_CLOSE);
}

TEST (relay_big_stdin_is_split)
{
  struct peers p;
  start_relay (&p, (struct relay_opts){ .stdin = true, .stdout = true }, NULL);
  char buf[MONITOR_MSG_MAX];
  ssize_t n;
  CHECK (mon_expect (p.mon, buf, sizeof buf, &n) == MON_ATTACH);
  size_t total = 200000, got = 0;
  char *data = malloc (total);
  memset (data, 'q', total);
  CHECK (write (p.client, data, total) == (ssize_t) total);
  while (got < total)
    {
      CHECK (mon_expect (p.mon, buf, sizeof buf, &n) == MON_STDIN);
      CHECK (n > 0 && n <= MONITOR_MSG_MAX - 1 && buf[0] == 'q');
      got += (size_t) n;
    }
  CHECK (got == total);
  mon_say (p.mon, MON_EXIT, "0");
  join_relay (&p);
  CHECK (p.run.exit_code == 0);
  free (data);
}

/* With a TTY, ctrl-p ctrl-q ends the relay (the client detaches) without
 * closing the container's stdin; a lone ctrl-p is input after all. */
TEST (relay_tty_detach_keys)
{
  struct peers p;
  start_relay (&p, (struct relay_opts){ .tty = true, .stdin = true, .stdout = true }, NULL);
  char buf[256];
  ssize_t n;
  CHECK (mon_expect (p.mon, buf, sizeof buf, &n) == MON_ATTACH);
  CHECK (write (p.client, "a\x10", 2) == 2);
  CHECK (mon_expect (p.mon, buf, sizeof buf, &n) == MON_STDIN);
  CHECK (n == 1 && buf[0] == 'a'); /* the ctrl-p is held back */
  CHECK (write (p.client, "b\x10\x11", 3) == 3);
  CHECK (mon_expect (p.mon, buf, sizeof buf, &n) == MON_STDIN);
  CHECK (n == 2 && memcmp (buf, "\x10" "b", 2) == 0);
  join_relay (&p);
  CHECK (p.run.ret == 0);
  /* no MON_STDIN_CLOSE: the container keeps its stdin */
  CHECK (recv (p.mon, buf, sizeof buf, MSG_DONTWAIT) <= 0);
}

TEST (detach_keys_syntax)
{
  char k[17];
  CHECK (stream_parse_detach_keys ("ctrl-p,ctrl-q", k, sizeof k) == 2 && k[0] == 0x10 && k[1] == 0x11);
  CHECK (stream_parse_detach_keys ("ctrl-a,x", k, sizeof k) == 2 && k[0] == 0x01 && k[1] == 'x');
  CHECK (stream_parse_detach_keys ("ctrl-[", k, sizeof k) == 1 && k[0] == 0x1b);
  CHECK (stream_parse_detach_keys ("ctrl-", k, sizeof k) < 0);
  CHECK (stream_parse_detach_keys ("ctrl-pp", k, sizeof k) < 0);
  CHECK (stream_parse_detach_keys ("ab", k, sizeof k) < 0);
}
