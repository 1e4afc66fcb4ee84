/* The streams of attach and exec: our stdin to the container, its output
 * (framed unless TTY) to our stdout and stderr, the local terminal in raw
 * mode for -t, and its size sent to the daemon. */
#include "containers.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

int frame_decoder_feed (struct frame_decoder *d, const void *buf, size_t len)
{
  const uint8_t *p = buf;
  while (len > 0)
    {
      if (d->need == 0)
        {
          d->hdr[d->hdr_len++] = *p++;
          len--;
          if (d->hdr_len < 8)
            continue;
          d->hdr_len = 0;
          if (d->hdr[0] > 2 || d->hdr[1] || d->hdr[2] || d->hdr[3])
            return -EINVAL;
          d->stream = d->hdr[0];
          d->need = (uint32_t) d->hdr[4] << 24 | (uint32_t) d->hdr[5] << 16 | (uint32_t) d->hdr[6] << 8 | d->hdr[7];
          continue;
        }
      size_t n = len < d->need ? len : d->need;
      if (d->stream != 0)
        berth_write_all (d->stream == 2 ? 2 : 1, p, n);
      p += n;
      len -= n;
      d->need -= (uint32_t) n;
    }
  return 0;
}

void send_terminal_size (struct client *c, const char *resize)
{
  struct winsize ws;
  if (resize == NULL || ioctl (0, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0 || ws.ws_col == 0)
    return;
  cleanup_free char *path = NULL;
  if (asprintf (&path, "%s?h=%u&w=%u", resize, ws.ws_row, ws.ws_col) < 0)
    return;
  struct client_reply r = { 0 };
  berth_err err = NULL;
  /* A failed resize is not worth stopping the session for (docker only
   * logs it too). */
  if (client_call (c, "POST", path, NULL, -1, -1, &r, &err) < 0)
    berth_error_free (&err);
  client_reply_free (&r);
}

/* The local terminal, raw while a -t session runs. */
struct raw_terminal
{
  bool active;
  struct termios saved;
};

static void terminal_raw (struct raw_terminal *t)
{
  struct termios raw;
  if (!isatty (0) || tcgetattr (0, &t->saved) < 0)
    return;
  raw = t->saved;
  cfmakeraw (&raw);
  t->active = tcsetattr (0, TCSANOW, &raw) == 0;
}

static void terminal_restore (struct raw_terminal *t)
{
  if (t->active)
    tcsetattr (0, TCSANOW, &t->saved);
}

/* SIGWINCH as an fd to poll, while a -t session runs on a terminal. */
static int winch_fd (const struct pump_opts *o, sigset_t *old)
{
  sigset_t set;
  if (!o->tty || o->resize == NULL || !isatty (0))
    return -1;
  sigemptyset (&set);
  sigaddset (&set, SIGWINCH);
  sigprocmask (SIG_BLOCK, &set, old);
  return signalfd (-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Our stdin to the stream; at its end, half-close so the container sees
 * EOF while its output keeps coming.  False once stdin is done. */
static bool forward_stdin (int fd)
{
  char buf[32768];
  ssize_t n = read (0, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n > 0 && berth_write_all (fd, buf, (size_t) n) == 0)
    return true;
  shutdown (fd, SHUT_WR);
  return false;
}

/* Output from the stream; false at its end. */
static bool forward_output (int fd, const struct pump_opts *o, struct frame_decoder *d, int *broken)
{
  char buf[32768];
  ssize_t n = read (fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n < 0)
    *broken = 1;
  if (n <= 0)
    return false;
  if (o->tty)
    return berth_write_all (1, buf, (size_t) n) == 0;
  if (frame_decoder_feed (d, buf, (size_t) n) < 0)
    {
      *broken = 1;
      return false;
    }
  return true;
}

int pump_streams (struct client *c, int fd, const char *extra, size_t extra_len, const struct pump_opts *o)
{
  struct frame_decoder dec = { 0 };
  struct raw_terminal term = { 0 };
  sigset_t old;
  int broken = 0;
  bool stdin_open = o->send_stdin;
  if (extra_len > 0)
    {
      if (o->tty)
        berth_write_all (1, extra, extra_len);
      else if (frame_decoder_feed (&dec, extra, extra_len) < 0)
        return -1;
    }
  cleanup_close int winch = winch_fd (o, &old);
  if (o->tty)
    terminal_raw (&term);
  send_terminal_size (c, o->tty ? o->resize : NULL);
  for (bool open = true; open;)
    {
      struct pollfd p[3] = { { .fd = fd, .events = POLLIN },
                             { .fd = stdin_open ? 0 : -1, .events = POLLIN },
                             { .fd = winch, .events = POLLIN } };
      if (poll (p, 3, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          broken = 1;
          break;
        }
      if (p[2].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          while (read (winch, &si, sizeof si) > 0)
            ;
          send_terminal_size (c, o->resize);
        }
      if (p[1].revents & (POLLIN | POLLHUP | POLLERR))
        stdin_open = forward_stdin (fd);
      if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
        open = forward_output (fd, o, &dec, &broken);
    }
  terminal_restore (&term);
  if (winch >= 0)
    sigprocmask (SIG_SETMASK, &old, NULL);
  return broken ? -1 : 0;
}
