/* Host port reservations: a socket bound to the published address and port
 * and held while the mapping exists.
 *
 * SO_REUSEADDR is deliberately not set.  Linux lets two sockets share a
 * port when both set it and neither listens (TCP), and always for UDP: with
 * it, a second reservation of the same port, or a host server that sets
 * it, would get the port too.  Without it every other bind of the port
 * fails while the reservation lives. */
#include "net/net.h"

#include "common/cleanup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static const char *const proto_names[] = { [NET_TCP] = "tcp", [NET_UDP] = "udp", [NET_SCTP] = "sctp" };

const char *net_proto_name (enum net_proto p)
{
  if ((unsigned) p >= sizeof proto_names / sizeof proto_names[0])
    return "unknown";
  return proto_names[p];
}

int net_proto_parse (const char *name, enum net_proto *out)
{
  for (size_t i = 0; name && i < sizeof proto_names / sizeof proto_names[0]; i++)
    if (strcmp (name, proto_names[i]) == 0)
      {
        *out = (enum net_proto) i;
        return 0;
      }
  return -EINVAL;
}

static int proto_socket (enum net_proto proto)
{
  switch (proto)
    {
    case NET_TCP:
      return socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    case NET_UDP:
      return socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
    case NET_SCTP:
      return socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP);
    }
  errno = EPROTONOSUPPORT;
  return -1;
}

int net_port_reserve (enum net_proto proto, struct in_addr ip, uint16_t *port, berth_err *err)
{
  char ipbuf[INET_ADDRSTRLEN];
  inet_ntop (AF_INET, &ip, ipbuf, sizeof ipbuf);
  cleanup_close int fd = proto_socket (proto);
  if (fd < 0)
    return berth_fail_errno (err, "%s socket for %s:%u", net_proto_name (proto), ipbuf, (unsigned) *port);

  /* port 0: the kernel picks a free one from ip_local_port_range */
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = ip, .sin_port = htons (*port) };
  if (bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    {
      if (errno == EADDRINUSE && *port != 0)
        return berth_fail_as (err, EADDRINUSE, "Bind for %s:%u failed: port is already allocated", ipbuf,
                              (unsigned) *port);
      if (errno == EADDRINUSE)
        return berth_fail_as (err, EADDRINUSE, "no free %s port left on %s", net_proto_name (proto), ipbuf);
      return berth_fail_errno (err, "Bind for %s:%u failed", ipbuf, (unsigned) *port);
    }
  socklen_t len = sizeof sa;
  if (getsockname (fd, (struct sockaddr *) &sa, &len) < 0)
    return berth_fail_errno (err, "read the port bound on %s", ipbuf);
  *port = ntohs (sa.sin_port);
  return take_fd (&fd);
}
