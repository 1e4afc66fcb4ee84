/* udplisten: prints every UDP datagram it receives, for the networking
 * suite (Debian's busybox nc has no -u).
 *
 *   udplisten PORT [PREFIX]
 *
 * Binds 0.0.0.0:PORT (UDP) and writes "PREFIX<datagram>" (trailing
 * newlines of the datagram dropped, one newline added) to stdout for each
 * datagram, from any sender, flushing after each; answers each sender with
 * "ack <datagram>" so that replies through NAT can be checked too. Runs
 * until killed. Static: it runs inside busybox containers. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
  if (argc < 2 || argc > 3)
    {
      fprintf (stderr, "usage: udplisten PORT [PREFIX]\n");
      return 2;
    }
  const char *prefix = argc == 3 ? argv[2] : "";
  int fd = socket (AF_INET, SOCK_DGRAM, 0);
  if (fd < 0)
    {
      perror ("socket");
      return 1;
    }
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((unsigned short) atoi (argv[1])) };
  sa.sin_addr.s_addr = htonl (INADDR_ANY);
  if (bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    {
      perror ("bind");
      return 1;
    }
  char buf[2048], ack[2100];
  for (;;)
    {
      struct sockaddr_in from;
      socklen_t fl = sizeof from;
      ssize_t n = recvfrom (fd, buf, sizeof buf - 1, 0, (struct sockaddr *) &from, &fl);
      if (n < 0)
        continue;
      while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
      buf[n] = 0;
      printf ("%s%s\n", prefix, buf);
      fflush (stdout);
      int m = snprintf (ack, sizeof ack, "ack %s\n", buf);
      sendto (fd, ack, (size_t) m, 0, (struct sockaddr *) &from, fl);
    }
}
