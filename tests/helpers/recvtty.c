/* recvtty: a console-socket receiver for --console-socket tests.
 *
 *   recvtty [-w TEXT] [-t SECONDS] [-q] SOCKET_PATH
 *
 * Listens on the Unix socket SOCKET_PATH, accepts one connection, receives
 * the pty master through SCM_RIGHTS, prints "recvtty: got fd (ptsN)" to
 * stderr, writes TEXT into it (C escapes \n \r \t \\ \x04 are decoded), then
 * copies whatever comes out of the master to stdout until the slave side is
 * closed everywhere (EIO/EOF) or SECONDS (default 10) have passed. Exits 0
 * when a master was received, 2 on a timeout waiting for the connection,
 * 1 on other errors. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t unescape (const char *in, char *out)
{
  size_t n = 0;
  while (*in)
    {
      if (*in == '\\' && in[1])
        {
          in++;
          switch (*in)
            {
            case 'n': out[n++] = '\n'; in++; break;
            case 'r': out[n++] = '\r'; in++; break;
            case 't': out[n++] = '\t'; in++; break;
            case '\\': out[n++] = '\\'; in++; break;
            case 'x':
              {
                char hex[3] = { 0 };
                in++;
                for (int i = 0; i < 2 && *in; i++)
                  hex[i] = *in++;
                out[n++] = (char) strtol (hex, NULL, 16);
                break;
              }
            default: out[n++] = '\\'; out[n++] = *in++; break;
            }
        }
      else
        out[n++] = *in++;
    }
  return n;
}

static int recv_fd (int sock)
{
  char buf[4096];
  char cbuf[CMSG_SPACE (sizeof (int) * 4)];
  struct iovec iov = { buf, sizeof buf };
  struct msghdr msg;
  memset (&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t r = recvmsg (sock, &msg, MSG_CMSG_CLOEXEC);
  if (r < 0)
    {
      perror ("recvtty: recvmsg");
      return -1;
    }
  for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c; c = CMSG_NXTHDR (&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      {
        int fd;
        memcpy (&fd, CMSG_DATA (c), sizeof fd);
        fprintf (stderr, "recvtty: message '%.*s'\n", (int) (r > 200 ? 200 : r), buf);
        return fd;
      }
  fprintf (stderr, "recvtty: no SCM_RIGHTS in message (%zd bytes)\n", r);
  return -1;
}

int main (int argc, char **argv)
{
  const char *text = NULL;
  double timeout = 10;
  int opt;
  while ((opt = getopt (argc, argv, "w:t:")) != -1)
    switch (opt)
      {
      case 'w': text = optarg; break;
      case 't': timeout = atof (optarg); break;
      default:
        fprintf (stderr, "usage: recvtty [-w TEXT] [-t SECONDS] SOCKET\n");
        return 1;
      }
  if (optind != argc - 1)
    {
      fprintf (stderr, "usage: recvtty [-w TEXT] [-t SECONDS] SOCKET\n");
      return 1;
    }
  const char *path = argv[optind];
  int ls = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa;
  memset (&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (strlen (path) >= sizeof sa.sun_path)
    {
      fprintf (stderr, "recvtty: socket path too long\n");
      return 1;
    }
  strcpy (sa.sun_path, path);
  unlink (path);
  if (ls < 0 || bind (ls, (struct sockaddr *) &sa, sizeof sa) < 0 || listen (ls, 4) < 0)
    {
      perror ("recvtty: bind/listen");
      return 1;
    }
  double deadline = now () + timeout;
  struct pollfd p = { ls, POLLIN, 0 };
  int r = poll (&p, 1, (int) (timeout * 1000));
  if (r <= 0)
    {
      fprintf (stderr, "recvtty: timed out waiting for a connection\n");
      unlink (path);
      return 2;
    }
  int cs = accept4 (ls, NULL, NULL, SOCK_CLOEXEC);
  if (cs < 0)
    {
      perror ("recvtty: accept");
      return 1;
    }
  int master = recv_fd (cs);
  close (cs);
  close (ls);
  unlink (path);
  if (master < 0)
    return 1;
  int ptn = -1;
  if (ioctl (master, TIOCGPTN, &ptn) == 0)
    fprintf (stderr, "recvtty: got fd (pts%d)\n", ptn);
  else
    fprintf (stderr, "recvtty: got fd (not a pty master: %s)\n", strerror (errno));
  if (text)
    {
      char *buf = malloc (strlen (text) + 1);
      size_t n = unescape (text, buf);
      if (write (master, buf, n) != (ssize_t) n)
        perror ("recvtty: write");
      free (buf);
    }
  char buf[4096];
  for (;;)
    {
      double left = deadline - now ();
      if (left <= 0)
        {
          fprintf (stderr, "recvtty: timeout reading\n");
          break;
        }
      struct pollfd q = { master, POLLIN, 0 };
      r = poll (&q, 1, (int) (left * 1000) + 1);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        continue;
      ssize_t n = read (master, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break; /* EIO: all slave fds closed */
      fwrite (buf, 1, n, stdout);
      fflush (stdout);
    }
  return 0;
}
