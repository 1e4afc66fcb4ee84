#include "runtime/terminal.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

static int make_controlling (int slave, berth_err *err)
{
  if (setsid () < 0 && errno != EPERM)
    return berth_fail_errno (err, "setsid");
  if (ioctl (slave, TIOCSCTTY, 0) < 0)
    return berth_fail_errno (err, "make the terminal the controlling one");
  for (int fd = 0; fd < 3; fd++)
    if (dup2 (slave, fd) < 0)
      return berth_fail_errno (err, "dup2 terminal");
  return 0;
}

static int bind_console (int slave, berth_err *err)
{
  /* /dev/console must exist as a file to bind over. */
  int fd = open ("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0)
    close (fd);
  char src[64];
  snprintf (src, sizeof src, "/proc/self/fd/%d", slave);
  if (mount (src, "/dev/console", NULL, MS_BIND, NULL) < 0)
    return berth_fail_errno (err, "bind the terminal on /dev/console");
  return 0;
}

int terminal_setup_in_container (bool console, unsigned short rows, unsigned short cols, berth_err *err)
{
  cleanup_close int master = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0)
    return berth_fail_errno (err, "open /dev/ptmx");
  if (unlockpt (master) < 0)
    return berth_fail_errno (err, "unlockpt");
  /* TIOCGPTPEER opens the slave through the master, without a path lookup
   * that a container could race. */
  cleanup_close int slave = ioctl (master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0)
    return berth_fail_errno (err, "open the terminal's slave");
  if (rows && cols)
    {
      struct winsize ws = { .ws_row = rows, .ws_col = cols };
      ioctl (slave, TIOCSWINSZ, &ws);
    }
  if (console && bind_console (slave, err) < 0)
    return -EINVAL;
  if (make_controlling (slave, err) < 0)
    return -EINVAL;
  return take_fd (&master);
}

static struct termios saved_termios;
static bool termios_saved;

static void restore_terminal (void)
{
  if (termios_saved)
    tcsetattr (0, TCSANOW, &saved_termios);
}

static void make_raw (int master)
{
  struct winsize ws;
  if (ioctl (0, TIOCGWINSZ, &ws) == 0)
    ioctl (master, TIOCSWINSZ, &ws);
  if (tcgetattr (0, &saved_termios) < 0)
    return;
  termios_saved = true;
  atexit (restore_terminal);
  struct termios raw = saved_termios;
  cfmakeraw (&raw);
  raw.c_oflag |= OPOST; /* keep \n -> \r\n on our side */
  tcsetattr (0, TCSANOW, &raw);
}

/* Copy what is readable on FROM to TO; false on EOF or error. */
static bool pump (int from, int to)
{
  char buf[8192];
  ssize_t n = read (from, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n <= 0)
    return false;
  return berth_write_all (to, buf, (size_t) n) == 0;
}

int terminal_relay (int master, berth_err *err)
{
  if (isatty (0))
    make_raw (master);
  struct pollfd fds[2] = { { .fd = master, .events = POLLIN }, { .fd = 0, .events = POLLIN } };
  for (;;)
    {
      int r = poll (fds, 2, -1);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return berth_fail_errno (err, "poll terminal");
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
        if (!pump (master, 1))
          break;
      if (fds[1].revents & (POLLIN | POLLHUP | POLLERR))
        if (!pump (0, master))
          fds[1].fd = -1; /* our stdin ended: keep showing output */
    }
  restore_terminal ();
  return 0;
}
