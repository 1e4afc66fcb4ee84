/* The container commands of the berth CLI: what run, start, exec, attach
 * and logs share.  They speak the Engine API as the docker CLI does.
 *
 * libcurl serves the plain requests (client.c); attach and exec need the
 * connection itself after the reply ("101 UPGRADED": the socket carries
 * the container's stdin one way and its output the other), so those are
 * written by hand on a Unix socket here (hijack.c). */
#ifndef BERTH_CLI_CONTAINERS_H
#define BERTH_CLI_CONTAINERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"

/* docker's exit statuses for its own failures (`docker run`): the daemon
 * refused (125), the command cannot be run (126) or was not found (127). */
#define EXIT_DAEMON_ERROR 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

/* ---- raw HTTP on the daemon's socket (hijack.c) ---- */

struct raw_head
{
  int status;
  char *text;            /* the head, NUL-terminated, without the blank line */
  char *extra;           /* bytes read after the head (the body's start) */
  size_t extra_len;
};
void raw_head_free (struct raw_head *h);

/* Connect to the daemon's socket: an fd, or -1 with *err. */
int raw_connect (struct client *c, berth_err *err);
/* Write "METHOD /vVERSION/PATH HTTP/1.1" (client_api_version) with a JSON BODY (may be NULL) and
 * HEADERS (more header lines, each ending in \r\n; may be NULL). */
int raw_send (struct client *c, int fd, const char *method, const char *path, const char *body, const char *headers, berth_err *err);
/* Read the reply's status line and headers. */
int raw_read_head (int fd, struct raw_head *h, berth_err *err);
/* Read the rest of a reply whose connection the daemon closes after it
 * (requests sent with "Connection: close"), undoing chunked encoding. */
int raw_read_body (int fd, struct raw_head *h, char **body, size_t *len, berth_err *err);
/* The value of header NAME in H (a heap string), or NULL. */
char *raw_header (const struct raw_head *h, const char *name);
/* An error made of an error reply's {"message"}. */
int raw_reply_error (int status, const char *body, berth_err *err);

/* POST PATH with BODY asking for the connection ("Connection: Upgrade",
 * "Upgrade: tcp").  On 101 (or 200 from daemons that answer so) *fd is
 * the stream and *head holds the bytes already read after the head. */
int client_hijack (struct client *c, const char *path, const char *body, int *fd, struct raw_head *head,
                   berth_err *err);

/* Ask for a container's exit before starting it, as docker does: POST
 * /containers/ID/wait?condition=CONDITION ("next-exit", or "removed" for
 * --rm), on its own connection, answered when the container exits.
 * wait_finish reads the answer: *code its StatusCode. */
int wait_begin (struct client *c, const char *id, const char *condition, berth_err *err);
int wait_finish (int fd, long *code, berth_err *err);

/* ---- streams (attach.c) ---- */

/* The 8-byte framing of a non-TTY stream: [stream, 0, 0, 0, size (big
 * endian)] then SIZE bytes (the same format as src/daemon/stream.h's
 * decoder, which lives in the daemon library the CLI does not link). */
struct frame_decoder
{
  uint8_t hdr[8];
  size_t hdr_len;
  uint32_t need;
  int stream;
};
/* Feed bytes; each payload piece goes to stdout (stream 1) or stderr
 * (stream 2); stream 0 is ignored.  -EINVAL for a malformed header. */
int frame_decoder_feed (struct frame_decoder *d, const void *buf, size_t len);

struct pump_opts
{
  bool tty;               /* raw output (no frames) */
  bool send_stdin;        /* copy our stdin to the stream, half-close at its end */
  const char *resize;     /* "/containers/ID/resize" or "/exec/ID/resize" for -t on a terminal, or NULL */
};
/* Relay between our stdin/stdout/stderr and the hijacked FD (EXTRA: bytes
 * of the stream already read) until the output ends.  With -t on a
 * terminal, the local terminal is in raw mode meanwhile, and its size is
 * sent now and on every SIGWINCH.  Returns 0, or -1 if the stream broke. */
int pump_streams (struct client *c, int fd, const char *extra, size_t extra_len, const struct pump_opts *o);
/* Send the local terminal's size to RESIZE (if stdin is a terminal). */
void send_terminal_size (struct client *c, const char *resize);

/* ---- shared helpers (containers.c) ---- */

int cli_fail (berth_err *err);                /* print, free, return 1 */
int cli_usage (const char *usage);            /* print "usage: ...", return 1 */
/* "/containers/NAME" + SUFFIX, NAME escaped. */
char *container_path (const char *name, const char *suffix);
/* 125/126/127 for a failed start, from the daemon's message. */
int start_failure_status (const char *msg);

#endif
