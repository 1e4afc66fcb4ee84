/* IPv4 addresses and CIDR blocks: parsing, formatting, comparisons. */
#include "net/net.h"
#include "net/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t net_prefix_mask (uint8_t prefix)
{
  /* a shift by 32 is undefined in C, so /0 is its own case */
  return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

int net_ip_parse (const char *text, struct in_addr *out, berth_err *err)
{
  /* inet_pton takes only the strict dotted quad ("10.1" and "010.1.1.1"
   * are refused), which is what Docker accepts for --ip and --gateway */
  if (text == NULL || inet_pton (AF_INET, text, out) != 1)
    return berth_fail_as (err, EINVAL, "invalid IPv4 address \"%s\"", text ? text : "");
  return 0;
}

/* "32" -> 32; digits only, at most two of them, <= 32. */
static bool parse_prefix (const char *s, uint8_t *out)
{
  size_t n = strlen (s);
  if (n == 0 || n > 2 || strspn (s, "0123456789") != n)
    return false;
  int v = atoi (s);
  if (v > 32)
    return false;
  *out = (uint8_t) v;
  return true;
}

int net_cidr_parse (const char *text, bool allow_host_bits, struct net_cidr *out, berth_err *err)
{
  const char *shown = text ? text : "";
  const char *slash = text ? strchr (text, '/') : NULL;
  char ip[INET_ADDRSTRLEN];
  size_t iplen = slash ? (size_t) (slash - text) : 0;
  if (slash == NULL || iplen == 0 || iplen >= sizeof ip)
    return berth_fail_as (err, EINVAL, "invalid CIDR address \"%s\"", shown);
  memcpy (ip, text, iplen);
  ip[iplen] = '\0';

  struct net_cidr c;
  if (inet_pton (AF_INET, ip, &c.addr) != 1 || !parse_prefix (slash + 1, &c.prefix))
    return berth_fail_as (err, EINVAL, "invalid CIDR address \"%s\"", shown);

  uint32_t host = ntohl (c.addr.s_addr);
  uint32_t network = host & net_prefix_mask (c.prefix);
  if (network != host && !allow_host_bits)
    {
      struct net_cidr fixed = { .addr.s_addr = htonl (network), .prefix = c.prefix };
      char buf[NET_CIDR_STRLEN];
      return berth_fail_as (err, EINVAL, "invalid subnet \"%s\": host bits are set (the network is %s)", shown,
                            net_cidr_format (&fixed, buf));
    }
  c.addr.s_addr = htonl (network);
  *out = c;
  return 0;
}

char *net_cidr_format (const struct net_cidr *c, char *buf)
{
  char ip[INET_ADDRSTRLEN];
  inet_ntop (AF_INET, &c->addr, ip, sizeof ip);
  unsigned prefix = c->prefix <= 32 ? c->prefix : 32;   /* also tells gcc it fits */
  snprintf (buf, NET_CIDR_STRLEN, "%s/%u", ip, prefix);
  return buf;
}

bool net_cidr_contains (const struct net_cidr *c, struct in_addr a)
{
  uint32_t mask = net_prefix_mask (c->prefix);
  return (ntohl (a.s_addr) & mask) == (ntohl (c->addr.s_addr) & mask);
}

bool net_cidr_overlaps (const struct net_cidr *a, const struct net_cidr *b)
{
  /* two blocks overlap exactly when the larger one holds the smaller one's
   * network address */
  uint32_t mask = net_prefix_mask (a->prefix < b->prefix ? a->prefix : b->prefix);
  return (ntohl (a->addr.s_addr) & mask) == (ntohl (b->addr.s_addr) & mask);
}

void net_mac_from_ip (struct in_addr a, uint8_t mac[6])
{
  const uint8_t *ip = (const uint8_t *) &a.s_addr;   /* network order: 10 first */
  mac[0] = 0x02;
  mac[1] = 0x42;
  memcpy (mac + 2, ip, 4);
}
