/* nettool: a small command line over libberth-net for tests/integration/
 * net-lib.sh.  Each command prints what it made or "error: MESSAGE" on
 * stderr and exits 1.
 *
 *   sandbox-create PATH | sandbox-destroy PATH
 *   bridge-ensure NAME GW/PREFIX
 *   link-delete NAME | link-exists NAME | link-list PREFIX
 *   attach SANDBOX BRIDGE HOSTIF CTIF IP/PREFIX GW [--no-route] [--mtu N]
 *   detach HOSTIF
 *   check-routes CIDR | pick-subnet PREFIX [TAKEN-CIDR...]
 *   port-reserve PROTO IP PORT   prints the port, holds it until stdin ends
 *   udp-echo-in SANDBOX PORT     binds 0.0.0.0:PORT inside the sandbox (via
 *                                net_sandbox_run), prints "ready", answers
 *                                each datagram with "from PEER-IP MESSAGE"
 *   udp-ask IP PORT MESSAGE      one datagram, prints the answer (2 s)
 *   fw TABLE                     net_fw_open, then one command per stdin
 *                                line, answered by "ok" or "error: ...":
 *       add-network BRIDGE SUBNET [internal] | remove-network BRIDGE
 *       add-port PROTO HOST-IP HOST-PORT CT-IP CT-PORT | remove-port (same)
 *       destroy
 */
#include "net/net.h"

#include "common/cleanup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int report (int r, berth_err *err)
{
  if (r >= 0)
    return 0;
  fprintf (stderr, "error: %s\n", *err ? (*err)->msg : strerror (-r));
  berth_error_free (err);
  return 1;
}

static int usage (void)
{
  fprintf (stderr, "usage: see tests/net/nettool.c\n");
  return 2;
}

static int parse_port (const char *s, uint16_t *out)
{
  char *end;
  long v = strtol (s, &end, 10);
  if (*s == '\0' || *end || v < 0 || v > 65535)
    return -EINVAL;
  *out = (uint16_t) v;
  return 0;
}

/* ------------------------------------------------------------- links */

static int cmd_bridge_ensure (char **argv, berth_err *err)
{
  struct net_cidr c;
  int r = net_cidr_parse (argv[1], true, &c, err);
  struct in_addr gw;
  if (r == 0)
    {
      /* GW/PREFIX: the address itself, with its host bits */
      char ip[INET_ADDRSTRLEN];
      snprintf (ip, sizeof ip, "%.*s", (int) strcspn (argv[1], "/"), argv[1]);
      r = net_ip_parse (ip, &gw, err);
    }
  return r < 0 ? r : net_bridge_ensure (argv[0], gw, c.prefix, err);
}

static int cmd_link_list (char **argv, berth_err *err)
{
  cleanup_strv char **names = NULL;
  int r = net_link_list_prefix (argv[0], &names, err);
  for (char **n = names; r == 0 && *n; n++)
    printf ("%s\n", *n);
  return r;
}

static int cmd_attach (int argc, char **argv, berth_err *err)
{
  struct net_endpoint_config cfg = {
    .sandbox = argv[0], .bridge = argv[1], .host_ifname = argv[2], .ct_ifname = argv[3], .set_default_route = true,
  };
  char ip[INET_ADDRSTRLEN];
  snprintf (ip, sizeof ip, "%.*s", (int) strcspn (argv[4], "/"), argv[4]);
  struct net_cidr c;
  int r = net_cidr_parse (argv[4], true, &c, err);
  if (r == 0)
    r = net_ip_parse (ip, &cfg.addr, err);
  if (r == 0)
    r = net_ip_parse (argv[5], &cfg.gateway, err);
  if (r < 0)
    return r;
  cfg.prefix = c.prefix;
  net_mac_from_ip (cfg.addr, cfg.mac);
  for (int i = 6; i < argc; i++)
    if (strcmp (argv[i], "--no-route") == 0)
      cfg.set_default_route = false;
    else if (strcmp (argv[i], "--mtu") == 0 && i + 1 < argc)
      cfg.mtu = (unsigned) atoi (argv[++i]);
    else
      return berth_fail_as (err, EINVAL, "unknown option %s", argv[i]);
  return net_endpoint_attach (&cfg, err);
}

/* -------------------------------------------------------------- ipam */

static int cmd_pick_subnet (int argc, char **argv, berth_err *err)
{
  struct net_cidr taken[16], out;
  size_t n = 0;
  for (int i = 1; i < argc && n < 16; i++)
    {
      int r = net_cidr_parse (argv[i], false, &taken[n++], err);
      if (r < 0)
        return r;
    }
  int r = net_pick_subnet ((uint8_t) atoi (argv[0]), taken, n, &out, err);
  char buf[NET_CIDR_STRLEN];
  if (r == 0)
    printf ("%s\n", net_cidr_format (&out, buf));
  return r;
}

static int cmd_check_routes (char **argv, berth_err *err)
{
  struct net_cidr c;
  int r = net_cidr_parse (argv[0], false, &c, err);
  return r < 0 ? r : net_check_host_routes (&c, err);
}

/* ------------------------------------------------------------- ports */

static int cmd_port_reserve (char **argv, berth_err *err)
{
  enum net_proto proto;
  struct in_addr ip;
  uint16_t port;
  if (net_proto_parse (argv[0], &proto) < 0 || parse_port (argv[2], &port) < 0)
    return berth_fail_as (err, EINVAL, "bad protocol or port");
  int r = net_ip_parse (argv[1], &ip, err);
  if (r < 0)
    return r;
  int fd = net_port_reserve (proto, ip, &port, err);
  if (fd < 0)
    return fd;
  printf ("%u\n", (unsigned) port);
  fflush (stdout);
  char c;
  while (read (0, &c, 1) > 0)
    ;
  close (fd);
  return 0;
}

static int bind_udp (void *arg)
{
  uint16_t port = *(uint16_t *) arg;
  int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (port) };
  if (fd < 0 || bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    {
      int e = errno;
      if (fd >= 0)
        close (fd);
      return -e;
    }
  return fd;
}

static int cmd_udp_echo_in (char **argv, berth_err *err)
{
  uint16_t port;
  if (parse_port (argv[1], &port) < 0)
    return berth_fail_as (err, EINVAL, "bad port %s", argv[1]);
  /* the socket is made inside; it is served from this (host) thread */
  int fd = net_sandbox_run (argv[0], bind_udp, &port, err);
  if (fd < 0)
    return fd;
  printf ("ready\n");
  fflush (stdout);
  for (;;)
    {
      char msg[512], answer[600], peer[INET_ADDRSTRLEN];
      struct sockaddr_in sa;
      socklen_t len = sizeof sa;
      ssize_t n = recvfrom (fd, msg, sizeof msg - 1, 0, (struct sockaddr *) &sa, &len);
      if (n < 0)
        return berth_fail_errno (err, "recvfrom");
      msg[n] = '\0';
      inet_ntop (AF_INET, &sa.sin_addr, peer, sizeof peer);
      int m = snprintf (answer, sizeof answer, "from %s %s", peer, msg);
      sendto (fd, answer, (size_t) m, 0, (struct sockaddr *) &sa, len);
    }
}

static int cmd_udp_ask (char **argv, berth_err *err)
{
  struct sockaddr_in sa = { .sin_family = AF_INET };
  if (inet_pton (AF_INET, argv[0], &sa.sin_addr) != 1 || parse_port (argv[1], &sa.sin_port) < 0)
    return berth_fail_as (err, EINVAL, "bad address");
  sa.sin_port = htons (sa.sin_port);
  cleanup_close int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0 || send (fd, argv[2], strlen (argv[2]), 0) < 0)
    return berth_fail_errno (err, "send to %s:%s", argv[0], argv[1]);
  struct pollfd p = { .fd = fd, .events = POLLIN };
  if (poll (&p, 1, 2000) != 1)
    return berth_fail_as (err, ETIMEDOUT, "no answer from %s:%s", argv[0], argv[1]);
  char buf[600];
  ssize_t n = recv (fd, buf, sizeof buf - 1, 0);
  if (n < 0)
    return berth_fail_errno (err, "receive from %s:%s", argv[0], argv[1]);
  buf[n] = '\0';
  printf ("%s\n", buf);
  return 0;
}

/* ---------------------------------------------------------- firewall */

static int parse_port_map (char **w, int n, struct net_port_map *m, berth_err *err)
{
  if (n != 5)
    return berth_fail_as (err, EINVAL, "want PROTO HOST-IP HOST-PORT CT-IP CT-PORT");
  if (net_proto_parse (w[0], &m->proto) < 0 || parse_port (w[2], &m->host_port) < 0
      || parse_port (w[4], &m->ct_port) < 0)
    return berth_fail_as (err, EINVAL, "bad protocol or port");
  int r = net_ip_parse (w[1], &m->host_ip, err);
  return r < 0 ? r : net_ip_parse (w[3], &m->ct_ip, err);
}

static int fw_line (struct net_fw *fw, char *line, berth_err *err)
{
  char *w[8];
  int n = 0;
  for (char *tok = strtok (line, " \t\n"); tok && n < 8; tok = strtok (NULL, " \t\n"))
    w[n++] = tok;
  if (n == 0)
    return berth_fail_as (err, EINVAL, "empty command");
  struct net_port_map m;
  struct net_cidr c;
  int r;
  if (strcmp (w[0], "add-network") == 0 && (n == 3 || n == 4))
    return (r = net_cidr_parse (w[2], false, &c, err)) < 0
               ? r
               : net_fw_add_network (fw, w[1], &c, n == 4 && strcmp (w[3], "internal") == 0, err);
  if (strcmp (w[0], "remove-network") == 0 && n == 2)
    return net_fw_remove_network (fw, w[1], err);
  if (strcmp (w[0], "add-port") == 0)
    return (r = parse_port_map (w + 1, n - 1, &m, err)) < 0 ? r : net_fw_add_port (fw, &m, err);
  if (strcmp (w[0], "remove-port") == 0)
    return (r = parse_port_map (w + 1, n - 1, &m, err)) < 0 ? r : net_fw_remove_port (fw, &m, err);
  if (strcmp (w[0], "destroy") == 0 && n == 1)
    return net_fw_destroy (fw, err);
  return berth_fail_as (err, EINVAL, "unknown command %s", w[0]);
}

static int cmd_fw (char **argv, berth_err *err)
{
  struct net_fw *fw;
  int r = net_fw_open (argv[0], &fw, err);
  if (r < 0)
    return r;
  printf ("ok\n");
  fflush (stdout);
  char line[512];
  while (fgets (line, sizeof line, stdin))
    {
      berth_err e = NULL;
      if (fw_line (fw, line, &e) < 0)
        printf ("error: %s\n", e ? e->msg : "?");
      else
        printf ("ok\n");
      fflush (stdout);
      berth_error_free (&e);
    }
  net_fw_close (fw);
  return 0;
}

/* -------------------------------------------------------------- main */

int main (int argc, char **argv)
{
  if (argc < 2)
    return usage ();
  const char *cmd = argv[1];
  int n = argc - 2;
  char **a = argv + 2;
  berth_err err = NULL;
  int r;
  if (strcmp (cmd, "sandbox-create") == 0 && n == 1)
    r = net_sandbox_create (a[0], &err);
  else if (strcmp (cmd, "sandbox-destroy") == 0 && n == 1)
    r = net_sandbox_destroy (a[0], &err);
  else if (strcmp (cmd, "bridge-ensure") == 0 && n == 2)
    r = cmd_bridge_ensure (a, &err);
  else if (strcmp (cmd, "link-delete") == 0 && n == 1)
    r = net_link_delete (a[0], &err);
  else if (strcmp (cmd, "link-exists") == 0 && n == 1)
    return net_link_exists (a[0]) ? 0 : 1;
  else if (strcmp (cmd, "link-list") == 0 && n == 1)
    r = cmd_link_list (a, &err);
  else if (strcmp (cmd, "attach") == 0 && n >= 6)
    r = cmd_attach (n, a, &err);
  else if (strcmp (cmd, "detach") == 0 && n == 1)
    r = net_endpoint_detach (a[0], &err);
  else if (strcmp (cmd, "check-routes") == 0 && n == 1)
    r = cmd_check_routes (a, &err);
  else if (strcmp (cmd, "pick-subnet") == 0 && n >= 1)
    r = cmd_pick_subnet (n, a, &err);
  else if (strcmp (cmd, "port-reserve") == 0 && n == 3)
    r = cmd_port_reserve (a, &err);
  else if (strcmp (cmd, "udp-echo-in") == 0 && n == 2)
    r = cmd_udp_echo_in (a, &err);
  else if (strcmp (cmd, "udp-ask") == 0 && n == 3)
    r = cmd_udp_ask (a, &err);
  else if (strcmp (cmd, "fw") == 0 && n == 1)
    r = cmd_fw (a, &err);
  else
    return usage ();
  return report (r, &err);
}
