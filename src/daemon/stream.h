/* Container output on the wire: Docker's stream framing, the relay between
 * a hijacked connection and a berth-monitor, and json-file log reading.
 *
 * Framing (without a TTY): each chunk is an 8-byte header
 *   [stream, 0, 0, 0, size (4 bytes, big endian)] then SIZE bytes,
 * with stream 0 stdin, 1 stdout, 2 stderr.  With a TTY the bytes go raw. */
#ifndef BERTH_STREAM_H
#define BERTH_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "common/error.h"

enum stream_kind
{
  STREAM_STDIN = 0,
  STREAM_STDOUT = 1,
  STREAM_STDERR = 2,
};

/* Where output goes: returns 0, or -errno (-EPIPE: the reader has gone).
 * A call with LEN 0 writes nothing and is a probe: -EPIPE if the reader
 * is known to have gone (stream_out_write behaves so too). */
typedef int (*stream_sink) (void *cookie, const void *buf, size_t len);

/* A sink that writes all of BUF to the fd (int *) COOKIE, retrying on
 * EINTR and short writes; -EPIPE when the peer closed.  Sockets are
 * written with MSG_NOSIGNAL (no SIGPIPE); other fds with write(). */
int stream_sink_fd (void *cookie, const void *buf, size_t len);

/* Fill HDR for a frame of LEN bytes on STREAM. */
void stream_frame_header (uint8_t hdr[8], enum stream_kind stream, uint32_t len);
/* Write BUF to SINK: framed (header then data, split in frames of at most
 * 1 MiB) unless RAW.  Nothing is written for LEN 0. */
int stream_write_frame (stream_sink sink, void *cookie, bool raw, enum stream_kind stream, const void *buf,
                        size_t len);

/* Decode frames incrementally (for tests and for berth's own CLI): start
 * from a zeroed struct and feed bytes with stream_decoder_feed; ON_FRAME
 * gets each frame's payload as it arrives: a frame split across feeds
 * comes in several calls on the same stream (a frame of size 0 in one call
 * with LEN 0).  Returns 0, or -EINVAL for a malformed header (stream > 2 or
 * non-zero padding); the decoder is then unusable. */
struct stream_decoder
{
  uint8_t hdr[8];
  size_t hdr_len;
  uint32_t need;     /* payload bytes still to come of the current frame */
  enum stream_kind stream;
};
int stream_decoder_feed (struct stream_decoder *d, const void *buf, size_t len,
                         void (*on_frame) (void *cookie, enum stream_kind stream, const char *data, size_t len),
                         void *cookie);

/* Relay between a hijacked client connection and a monitor attach socket.
 * MON_FD is a connected monitor socket (monitor_connect); the relay sends
 * MON_ATTACH with the streams asked for, then:
 *   client -> MON_STDIN (only when STDIN; EXTRA first); the client's
 *     half-close (EOF) -> MON_STDIN_CLOSE, and output keeps flowing;
 *   MON_STDOUT/MON_STDERR -> the client, framed unless TTY;
 *   MON_EXIT or the monitor's end -> shut the client's write side, return.
 * A client that has gone entirely (hang-up, or a write fails) ends it too.
 * Returns 0 when the output has ended or the client has gone, -errno if
 * MON_ATTACH could not be sent (both sockets stay open: the caller closes
 * them).  *exit_code gets MON_EXIT's code, or -1 if none came. */
struct relay_opts
{
  bool tty;
  bool stdin;
  bool stdout;
  bool stderr;
  /* With a TTY, this byte sequence in the client's input detaches it (the
   * relay ends; the container's stdin stays open), as Docker's detach
   * keys do.  NULL: Docker's default, ctrl-p ctrl-q; "": none. */
  const char *detach_keys;
};

/* Docker's detach-keys syntax ("ctrl-p,ctrl-q", "ctrl-a,x") into bytes in
 * OUT (NUL-terminated); returns the length, or -1 when invalid. */
int stream_parse_detach_keys (const char *spec, char *out, size_t size);
int stream_relay (int client, const char *extra, size_t extra_len, int mon_fd, const struct relay_opts *o,
                  int *exit_code);

/* Read a json-file log (lines {"log":"...","stream":"stdout|stderr",
 * "time":"RFC 3339"}) and write the selected entries to SINK, one frame
 * per entry, framed unless TTY (Docker sends TTY logs raw).
 *   since/until: unix time in ns (0 = no bound; until exclusive);
 *   tail: the last N lines of the file only (-1 = all), counted before
 *     since/until and the stream selection apply, as dockerd does;
 *   timestamps: prefix each entry with its time as docker does
 *     ("2024-01-02T03:04:05.000000000Z ": UTC, always 9 digits);
 *   follow: after the end of the file, wait for more (inotify) until
 *     STILL_RUNNING(cookie) returns false (checked a few times a second)
 *     and the file has been read to its end, "until" has passed, the file
 *     is removed, or the sink fails (probed while waiting).  Without
 *     STILL_RUNNING it follows until one of the others.  A file that does
 *     not exist yet is waited for.
 * A missing file is an empty log.  Lines that do not parse are skipped; a
 * last line without its newline is still being written and is left out.
 * Returns 0, or -errno with *err (-EPIPE when the sink failed). */
struct logs_opts
{
  bool stdout;
  bool stderr;
  bool tty;
  bool timestamps;
  bool follow;
  int64_t since_ns;
  int64_t until_ns;
  long tail;
  bool (*still_running) (void *cookie);
  void *running_cookie;
};
int logs_stream (const char *path, const struct logs_opts *o, stream_sink sink, void *cookie, berth_err *err);

/* Docker's time arguments ("since", "until"): unix seconds with optional
 * fraction ("1700000000.5"), RFC 3339 (also its shorter forms docker
 * takes: "2024-01-02", "2024-01-02T03:04"; local time without a zone), or
 * a Go duration before NOW_NS ("10m", "1h30m", "1.5s"; "0" is the epoch).
 * Returns ns since the epoch, or -1 if invalid. */
int64_t stream_parse_time (const char *s, int64_t now_ns);

#endif
