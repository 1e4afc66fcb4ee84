/* libberth-net's pure logic: CIDR parsing and comparisons, address pools,
 * subnet choice, protocol names. */
#include "unit.h"

#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>

static struct net_cidr cidr (const char *text)
{
  struct net_cidr c;
  berth_err err = NULL;
  if (net_cidr_parse (text, false, &c, &err) != 0)
    {
      printf ("  cannot parse %s: %s\n", text, err ? err->msg : "?");
      _exit (1);
    }
  return c;
}

static struct in_addr ip (const char *text)
{
  struct in_addr a;
  CHECK (inet_pton (AF_INET, text, &a) == 1);
  return a;
}

static const char *ntoa (struct in_addr a)
{
  static char buf[INET_ADDRSTRLEN];
  return inet_ntop (AF_INET, &a, buf, sizeof buf);
}

/* TEXT must be refused with -EINVAL and a message that names it. */
static void expect_bad_cidr (const char *text, bool allow_host_bits)
{
  struct net_cidr c;
  berth_err err = NULL;
  int r = net_cidr_parse (text, allow_host_bits, &c, &err);
  if (r != -EINVAL)
    {
      printf ("  \"%s\" gave %d, not -EINVAL\n", text, r);
      _exit (1);
    }
  CHECK (err != NULL);
  CHECK_CONTAINS (err->msg, text);
  berth_error_free (&err);
}

TEST (cidr_parse_and_format)
{
  char buf[NET_CIDR_STRLEN];
  struct net_cidr c = cidr ("10.1.0.0/16");
  CHECK (c.prefix == 16);
  CHECK (c.addr.s_addr == ip ("10.1.0.0").s_addr);
  CHECK_STR (net_cidr_format (&c, buf), "10.1.0.0/16");
  c = cidr ("255.255.255.255/32");
  CHECK_STR (net_cidr_format (&c, buf), "255.255.255.255/32");
  c = cidr ("0.0.0.0/0");
  CHECK_STR (net_cidr_format (&c, buf), "0.0.0.0/0");
}

TEST (cidr_host_bits)
{
  expect_bad_cidr ("10.1.2.3/16", false);
  berth_err err = NULL;
  struct net_cidr c;
  CHECK (net_cidr_parse ("10.1.2.3/16", false, &c, &err) == -EINVAL);
  CHECK_CONTAINS (err->msg, "10.1.0.0/16");   /* says what was meant */
  berth_error_free (&err);
  /* allowed: the host bits are cleared */
  CHECK (net_cidr_parse ("10.1.2.3/16", true, &c, &err) == 0);
  char buf[NET_CIDR_STRLEN];
  CHECK_STR (net_cidr_format (&c, buf), "10.1.0.0/16");
}

TEST (cidr_garbage)
{
  const char *bad[] = { "", "/", "10.1.0.0", "10.1.0.0/", "10.1.0.0/33", "10.1.0.0/100", "10.1.0.0/-1",
                        "10.1.0.0/1a", "10.1.0/16", "10.1.0.256/24", "abc/8", "10.1.0.0/16 ", " 10.1.0.0/16",
                        "10.1.0.0//16", "010.1.0.0/16", "10.1.0.0/016" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    expect_bad_cidr (bad[i], true);
  struct net_cidr c;
  CHECK (net_cidr_parse (NULL, true, &c, NULL) == -EINVAL);
}

TEST (ip_parse)
{
  struct in_addr a;
  berth_err err = NULL;
  CHECK (net_ip_parse ("10.1.2.3", &a, &err) == 0);
  CHECK (a.s_addr == ip ("10.1.2.3").s_addr);
  const char *bad[] = { "", "10.1.2", "10.1.2.3.4", "10.1.2.256", "x", "10.1.2.3/24" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      CHECK (net_ip_parse (bad[i], &a, &err) == -EINVAL);
      CHECK_CONTAINS (err->msg, bad[i]);
      berth_error_free (&err);
    }
}

TEST (cidr_contains)
{
  struct net_cidr c = cidr ("10.1.0.0/16");
  CHECK (net_cidr_contains (&c, ip ("10.1.0.0")));
  CHECK (net_cidr_contains (&c, ip ("10.1.255.255")));
  CHECK (!net_cidr_contains (&c, ip ("10.2.0.0")));
  CHECK (!net_cidr_contains (&c, ip ("10.0.255.255")));
  struct net_cidr all = cidr ("0.0.0.0/0");
  CHECK (net_cidr_contains (&all, ip ("203.0.113.9")));
  struct net_cidr one = cidr ("10.1.2.3/32");
  CHECK (net_cidr_contains (&one, ip ("10.1.2.3")));
  CHECK (!net_cidr_contains (&one, ip ("10.1.2.4")));
}

TEST (cidr_overlaps)
{
  struct net_cidr a = cidr ("10.1.0.0/16"), b = cidr ("10.1.5.0/24"), c = cidr ("10.2.0.0/16"),
                  d = cidr ("10.0.0.0/8"), e = cidr ("10.1.255.0/24"), f = cidr ("10.0.255.0/24");
  CHECK (net_cidr_overlaps (&a, &b) && net_cidr_overlaps (&b, &a));
  CHECK (!net_cidr_overlaps (&a, &c) && !net_cidr_overlaps (&c, &a));
  CHECK (net_cidr_overlaps (&d, &c) && net_cidr_overlaps (&c, &d));
  CHECK (net_cidr_overlaps (&a, &e));
  CHECK (!net_cidr_overlaps (&a, &f));
  CHECK (net_cidr_overlaps (&a, &a));
}

TEST (mac_from_ip)
{
  uint8_t mac[6];
  net_mac_from_ip (ip ("172.17.0.2"), mac);
  uint8_t want[6] = { 0x02, 0x42, 172, 17, 0, 2 };
  CHECK (memcmp (mac, want, 6) == 0);
}

static struct net_pool *pool (const char *subnet, const char *range, const char *gateway)
{
  struct net_cidr s = cidr (subnet), r;
  if (range)
    r = cidr (range);
  struct net_pool *p = NULL;
  berth_err err = NULL;
  if (net_pool_new (&s, range ? &r : NULL, ip (gateway), &p, &err) != 0)
    {
      printf ("  pool %s: %s\n", subnet, err ? err->msg : "?");
      _exit (1);
    }
  return p;
}

static const char *alloc (struct net_pool *p)
{
  struct in_addr a;
  berth_err err = NULL;
  int r = net_pool_alloc (p, &a, &err);
  if (r != 0)
    {
      printf ("  alloc: %d %s\n", r, err ? err->msg : "?");
      _exit (1);
    }
  return ntoa (a);
}

TEST (pool_order_and_exhaustion)
{
  /* a /29: .0 network, .7 broadcast, .1 gateway: .2 to .6 are given */
  struct net_pool *p = pool ("10.9.0.0/29", NULL, "10.9.0.1");
  CHECK_STR (alloc (p), "10.9.0.2");
  CHECK_STR (alloc (p), "10.9.0.3");
  CHECK_STR (alloc (p), "10.9.0.4");
  CHECK_STR (alloc (p), "10.9.0.5");
  CHECK_STR (alloc (p), "10.9.0.6");
  struct in_addr a;
  berth_err err = NULL;
  CHECK (net_pool_alloc (p, &a, &err) == -ENOSPC);
  CHECK_CONTAINS (err->msg, "no available addresses in network 10.9.0.0/29");
  berth_error_free (&err);
  CHECK (net_pool_in_use (p, ip ("10.9.0.4")));
  CHECK (!net_pool_in_use (p, ip ("10.9.0.1")));
  net_pool_free (p);
}

TEST (pool_round_robin_after_release)
{
  struct net_pool *p = pool ("10.9.0.0/29", NULL, "10.9.0.1");
  CHECK_STR (alloc (p), "10.9.0.2");
  CHECK_STR (alloc (p), "10.9.0.3");
  net_pool_release (p, ip ("10.9.0.2"));
  CHECK (!net_pool_in_use (p, ip ("10.9.0.2")));
  /* the released address comes back only after the others */
  CHECK_STR (alloc (p), "10.9.0.4");
  CHECK_STR (alloc (p), "10.9.0.5");
  CHECK_STR (alloc (p), "10.9.0.6");
  CHECK_STR (alloc (p), "10.9.0.2");
  struct in_addr a;
  CHECK (net_pool_alloc (p, &a, NULL) == -ENOSPC);
  net_pool_release (p, ip ("10.9.0.5"));
  CHECK_STR (alloc (p), "10.9.0.5");
  net_pool_free (p);
}

TEST (pool_gateway_elsewhere)
{
  /* a gateway at the end of the subnet is skipped, not the .1 */
  struct net_pool *p = pool ("10.9.0.0/30", NULL, "10.9.0.2");
  CHECK_STR (alloc (p), "10.9.0.1");
  struct in_addr a;
  CHECK (net_pool_alloc (p, &a, NULL) == -ENOSPC);
  net_pool_free (p);
}

TEST (pool_reserve)
{
  struct net_pool *p = pool ("10.9.0.0/24", NULL, "10.9.0.1");
  berth_err err = NULL;
  CHECK (net_pool_reserve (p, ip ("10.9.0.7"), &err) == 0);
  CHECK (net_pool_in_use (p, ip ("10.9.0.7")));
  CHECK (net_pool_reserve (p, ip ("10.9.0.7"), &err) == -EADDRINUSE);
  berth_error_free (&err);
  const char *refused[] = { "10.9.0.0", "10.9.0.255", "10.9.0.1", "10.9.1.5" };
  for (size_t i = 0; i < 4; i++)
    {
      CHECK (net_pool_reserve (p, ip (refused[i]), &err) == -EINVAL);
      CHECK_CONTAINS (err->msg, refused[i]);
      berth_error_free (&err);
    }
  /* automatic allocation steps over reserved addresses */
  for (int i = 2; i < 7; i++)
    alloc (p);
  CHECK_STR (alloc (p), "10.9.0.8");
  net_pool_release (p, ip ("10.9.0.7"));
  CHECK (net_pool_reserve (p, ip ("10.9.0.7"), &err) == 0);
  net_pool_free (p);
}

TEST (pool_ip_range)
{
  struct net_pool *p = pool ("10.9.0.0/24", "10.9.0.128/30", "10.9.0.1");
  CHECK_STR (alloc (p), "10.9.0.128");
  CHECK_STR (alloc (p), "10.9.0.129");
  CHECK_STR (alloc (p), "10.9.0.130");
  CHECK_STR (alloc (p), "10.9.0.131");
  struct in_addr a;
  berth_err err = NULL;
  CHECK (net_pool_alloc (p, &a, &err) == -ENOSPC);
  berth_error_free (&err);
  /* --ip outside the range but inside the subnet is still fine */
  CHECK (net_pool_reserve (p, ip ("10.9.0.20"), &err) == 0);
  net_pool_free (p);

  /* a range that holds the subnet's broadcast does not give it out */
  p = pool ("10.9.0.0/24", "10.9.0.252/30", "10.9.0.1");
  CHECK_STR (alloc (p), "10.9.0.252");
  CHECK_STR (alloc (p), "10.9.0.253");
  CHECK_STR (alloc (p), "10.9.0.254");
  CHECK (net_pool_alloc (p, &a, NULL) == -ENOSPC);
  net_pool_free (p);
}

TEST (pool_bad_config)
{
  struct net_cidr s = cidr ("10.9.0.0/24"), outside = cidr ("10.8.0.0/25"), wider = cidr ("10.9.0.0/23");
  struct net_pool *p = NULL;
  berth_err err = NULL;
  CHECK (net_pool_new (&s, &outside, ip ("10.9.0.1"), &p, &err) == -EINVAL);
  CHECK_CONTAINS (err->msg, "10.8.0.0/25");
  berth_error_free (&err);
  CHECK (net_pool_new (&s, &wider, ip ("10.9.0.1"), &p, &err) == -EINVAL);
  berth_error_free (&err);
  CHECK (net_pool_new (&s, NULL, ip ("10.8.0.1"), &p, &err) == -EINVAL);
  CHECK_CONTAINS (err->msg, "10.8.0.1");
  berth_error_free (&err);
  CHECK (p == NULL);
}

TEST (pool_large_subnet)
{
  /* a /8 costs what it holds, and wraps around at its end */
  struct net_pool *p = pool ("10.0.0.0/8", "10.255.255.252/30", "10.0.0.1");
  CHECK_STR (alloc (p), "10.255.255.252");
  CHECK_STR (alloc (p), "10.255.255.253");
  CHECK_STR (alloc (p), "10.255.255.254");
  net_pool_release (p, ip ("10.255.255.252"));
  CHECK_STR (alloc (p), "10.255.255.252");
  net_pool_free (p);
}

/* The pools' candidates in order, as net_pick_subnet walks them. */
static struct net_cidr candidate (uint8_t prefix, uint32_t i)
{
  struct net_cidr c = { { htonl (0x0ad30000u + (i << (32 - prefix))) }, prefix };
  return c;
}

TEST (pick_subnet_skips_taken)
{
  struct net_cidr taken[] = { cidr ("10.211.0.0/16"), cidr ("10.212.0.0/24"), cidr ("10.212.1.128/25") };
  struct net_cidr out;
  berth_err err = NULL;
  CHECK (net_pick_subnet (24, taken, 3, &out, &err) == 0);
  for (size_t i = 0; i < 3; i++)
    CHECK (!net_cidr_overlaps (&out, &taken[i]));
  CHECK (out.prefix == 24);
  CHECK (net_check_host_routes (&out, &err) == 0);
  /* and nothing before it was free: each earlier one is taken or routed */
  for (uint32_t i = 0;; i++)
    {
      struct net_cidr c = candidate (24, i);
      if (c.addr.s_addr == out.addr.s_addr)
        break;
      bool is_taken = false;
      for (size_t j = 0; j < 3; j++)
        is_taken |= net_cidr_overlaps (&c, &taken[j]);
      if (!is_taken)
        {
          CHECK (net_check_host_routes (&c, &err) == -EEXIST);
          berth_error_free (&err);
        }
      CHECK (i < 100000);
    }
  /* on a host without routes there, the answer is the first free one */
  struct net_cidr want = cidr ("10.212.2.0/24");
  if (net_check_host_routes (&want, NULL) == 0)
    CHECK (out.addr.s_addr == want.addr.s_addr);
}

TEST (pick_subnet_exhausted_and_bad_prefix)
{
  struct net_cidr all = cidr ("10.0.0.0/8"), out;
  berth_err err = NULL;
  CHECK (net_pick_subnet (16, &all, 1, &out, &err) == -ENOSPC);
  CHECK_CONTAINS (err->msg, "non-overlapping");
  berth_error_free (&err);
  CHECK (net_pick_subnet (8, NULL, 0, &out, &err) == -EINVAL);
  berth_error_free (&err);
  CHECK (net_pick_subnet (31, NULL, 0, &out, &err) == -EINVAL);
  berth_error_free (&err);
  /* /16: whole pools */
  struct net_cidr taken[] = { cidr ("10.211.0.0/16") };
  CHECK (net_pick_subnet (16, taken, 1, &out, &err) == 0);
  CHECK (out.prefix == 16);
  CHECK (!net_cidr_overlaps (&out, &taken[0]));
  CHECK ((ntohl (out.addr.s_addr) & 0xffff) == 0);
}

TEST (proto_names)
{
  enum net_proto p;
  CHECK (net_proto_parse ("tcp", &p) == 0 && p == NET_TCP);
  CHECK (net_proto_parse ("udp", &p) == 0 && p == NET_UDP);
  CHECK (net_proto_parse ("sctp", &p) == 0 && p == NET_SCTP);
  CHECK (net_proto_parse ("icmp", &p) == -EINVAL);
  CHECK (net_proto_parse ("", &p) == -EINVAL);
  CHECK (net_proto_parse ("tcpx", &p) == -EINVAL);
  CHECK (net_proto_parse (NULL, &p) == -EINVAL);
  CHECK_STR (net_proto_name (NET_TCP), "tcp");
  CHECK_STR (net_proto_name (NET_UDP), "udp");
  CHECK_STR (net_proto_name (NET_SCTP), "sctp");
}
