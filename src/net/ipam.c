/* Address pools of networks, and the choice of subnets for new ones. */
#include "net/net.h"
#include "net/internal.h"

#include "common/cleanup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Addresses are kept in host byte order in a sorted array of the ones in
 * use: a pool costs memory for what is allocated, not for its size (a /8
 * is as cheap as a /24). */
struct net_pool
{
  struct net_cidr subnet;
  uint32_t range_first, range_last;   /* --ip-range, inclusive */
  uint32_t network, broadcast, gateway;
  uint32_t last;                      /* last address handed out */
  uint32_t *used;
  size_t n_used, cap_used;
};

static uint32_t host_order (struct in_addr a)
{
  return ntohl (a.s_addr);
}

static struct in_addr net_order (uint32_t a)
{
  return (struct in_addr){ htonl (a) };
}

static uint32_t cidr_first (const struct net_cidr *c)
{
  return host_order (c->addr) & net_prefix_mask (c->prefix);
}

static uint32_t cidr_last (const struct net_cidr *c)
{
  return cidr_first (c) | ~net_prefix_mask (c->prefix);
}

static bool is_reserved (const struct net_pool *p, uint32_t a)
{
  return a == p->network || a == p->broadcast || a == p->gateway;
}

int net_pool_new (const struct net_cidr *subnet, const struct net_cidr *range, struct in_addr gateway,
                  struct net_pool **out, berth_err *err)
{
  char sbuf[NET_CIDR_STRLEN], rbuf[NET_CIDR_STRLEN];
  if (range && (range->prefix < subnet->prefix || !net_cidr_contains (subnet, range->addr)))
    return berth_fail_as (err, EINVAL, "ip range %s is not inside subnet %s", net_cidr_format (range, rbuf),
                          net_cidr_format (subnet, sbuf));
  if (gateway.s_addr != INADDR_ANY && !net_cidr_contains (subnet, gateway))
    return berth_fail_as (err, EINVAL, "gateway %s is not inside subnet %s", inet_ntoa (gateway),
                          net_cidr_format (subnet, sbuf));
  struct net_pool *p = calloc (1, sizeof *p);
  if (p == NULL)
    return berth_fail (err, ENOMEM, "address pool");
  p->subnet = *subnet;
  p->network = cidr_first (subnet);
  p->broadcast = cidr_last (subnet);
  p->gateway = host_order (gateway);
  p->range_first = cidr_first (range ? range : subnet);
  p->range_last = cidr_last (range ? range : subnet);
  p->last = p->range_first - 1;   /* so the first search starts at the range's start */
  *out = p;
  return 0;
}

void net_pool_free (struct net_pool *p)
{
  if (p == NULL)
    return;
  free (p->used);
  free (p);
}

/* Index of A in USED, or where it would go (with *FOUND false). */
static size_t used_search (const struct net_pool *p, uint32_t a, bool *found)
{
  size_t lo = 0, hi = p->n_used;
  while (lo < hi)
    {
      size_t mid = lo + (hi - lo) / 2;
      if (p->used[mid] < a)
        lo = mid + 1;
      else
        hi = mid;
    }
  *found = lo < p->n_used && p->used[lo] == a;
  return lo;
}

bool net_pool_in_use (const struct net_pool *p, struct in_addr a)
{
  bool found;
  used_search (p, host_order (a), &found);
  return found;
}

static int used_insert (struct net_pool *p, uint32_t a, berth_err *err)
{
  bool found;
  size_t i = used_search (p, a, &found);
  if (found)
    return 0;
  if (p->n_used == p->cap_used)
    {
      size_t cap = p->cap_used ? p->cap_used * 2 : 16;
      uint32_t *grown = realloc (p->used, cap * sizeof *grown);
      if (grown == NULL)
        return berth_fail (err, ENOMEM, "address pool");
      p->used = grown;
      p->cap_used = cap;
    }
  memmove (p->used + i + 1, p->used + i, (p->n_used - i) * sizeof *p->used);
  p->used[i] = a;
  p->n_used++;
  return 0;
}

/* How many addresses of the range can be handed out at all, and how many
 * of them are. */
static uint64_t range_capacity (const struct net_pool *p)
{
  uint64_t n = (uint64_t) p->range_last - p->range_first + 1;
  uint32_t reserved[] = { p->network, p->broadcast, p->gateway };
  for (size_t i = 0; i < 3; i++)
    {
      bool counted = false;   /* a /32's network is its broadcast too */
      for (size_t j = 0; j < i; j++)
        counted |= reserved[j] == reserved[i];
      if (!counted && reserved[i] >= p->range_first && reserved[i] <= p->range_last)
        n--;
    }
  return n;
}

static uint64_t range_used (const struct net_pool *p)
{
  bool found;
  size_t from = used_search (p, p->range_first, &found);
  size_t to = used_search (p, p->range_last, &found) + (found ? 1 : 0);
  return to - from;
}

int net_pool_alloc (struct net_pool *p, struct in_addr *out, berth_err *err)
{
  if (range_used (p) >= range_capacity (p))
    {
      char buf[NET_CIDR_STRLEN];
      return berth_fail_as (err, ENOSPC, "no available addresses in network %s", net_cidr_format (&p->subnet, buf));
    }
  /* at least one address is free, and each step that skips one passes an
   * address that is used or reserved, so this ends */
  uint32_t a = p->last;
  for (;;)
    {
      a = (a >= p->range_last || a < p->range_first) ? p->range_first : a + 1;
      if (!is_reserved (p, a) && !net_pool_in_use (p, net_order (a)))
        break;
    }
  int r = used_insert (p, a, err);
  if (r < 0)
    return r;
  p->last = a;
  *out = net_order (a);
  return 0;
}

int net_pool_reserve (struct net_pool *p, struct in_addr a, berth_err *err)
{
  char buf[NET_CIDR_STRLEN];
  if (!net_cidr_contains (&p->subnet, a))
    return berth_fail_as (err, EINVAL, "address %s is not inside subnet %s", inet_ntoa (a),
                          net_cidr_format (&p->subnet, buf));
  uint32_t h = host_order (a);
  if (is_reserved (p, h))
    return berth_fail_as (err, EINVAL, "address %s is reserved in network %s (%s)", inet_ntoa (a),
                          net_cidr_format (&p->subnet, buf),
                          h == p->gateway ? "the gateway" : h == p->network ? "the network address" : "broadcast");
  if (net_pool_in_use (p, a))
    return berth_fail_as (err, EADDRINUSE, "Address already in use: %s", inet_ntoa (a));
  return used_insert (p, h, err);
}

void net_pool_release (struct net_pool *p, struct in_addr a)
{
  bool found;
  size_t i = used_search (p, host_order (a), &found);
  if (!found)
    return;
  memmove (p->used + i, p->used + i + 1, (p->n_used - i - 1) * sizeof *p->used);
  p->n_used--;
}

/* ---------------------------------------------------------- host routes */

struct route
{
  struct net_cidr dst;
  int oif;
};

struct route_list
{
  struct route *v;
  size_t n;
  int error;
};

struct route_attrs
{
  struct in_addr dst;
  int oif;
  uint32_t table;
};

static int route_attr_cb (const struct nlattr *a, void *data)
{
  struct route_attrs *ra = data;
  switch (mnl_attr_get_type (a))
    {
    case RTA_DST:
      if (mnl_attr_get_payload_len (a) == sizeof ra->dst)
        memcpy (&ra->dst, mnl_attr_get_payload (a), sizeof ra->dst);
      break;
    case RTA_OIF:
      if (mnl_attr_validate (a, MNL_TYPE_U32) == 0)
        ra->oif = (int) mnl_attr_get_u32 (a);
      break;
    case RTA_TABLE:
      if (mnl_attr_validate (a, MNL_TYPE_U32) == 0)
        ra->table = mnl_attr_get_u32 (a);
      break;
    }
  return MNL_CB_OK;
}

static int route_cb (const struct nlmsghdr *h, void *data)
{
  struct route_list *l = data;
  const struct rtmsg *rtm = mnl_nlmsg_get_payload (h);
  struct route_attrs ra = { .table = rtm->rtm_table };
  mnl_attr_parse (h, sizeof *rtm, route_attr_cb, &ra);
  /* the default route overlaps everything and is not a conflict */
  if (rtm->rtm_family != AF_INET || ra.table != RT_TABLE_MAIN || rtm->rtm_dst_len == 0)
    return MNL_CB_OK;
  struct route *grown = realloc (l->v, (l->n + 1) * sizeof *grown);
  if (grown == NULL)
    {
      l->error = ENOMEM;
      return MNL_CB_ERROR;
    }
  l->v = grown;
  l->v[l->n++] = (struct route){ { ra.dst, rtm->rtm_dst_len }, ra.oif };
  return MNL_CB_OK;
}

/* The routes of the host's main table, without default routes. */
static int host_routes (struct route **out, size_t *n, berth_err *err)
{
  cleanup_nl struct nl nl = { 0 };
  int r = nl_open (&nl, err);
  if (r < 0)
    return r;
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *h = nl_msg (&nl, buf, RTM_GETROUTE, 0);
  struct rtmsg *rtm = mnl_nlmsg_put_extra_header (h, sizeof *rtm);
  rtm->rtm_family = AF_INET;
  struct route_list l = { 0 };
  r = nl_dump (&nl, h, route_cb, &l);
  if (r < 0 || l.error)
    {
      free (l.v);
      return berth_fail (err, l.error ? l.error : -r, "read the host's routes");
    }
  *out = l.v;
  *n = l.n;
  return 0;
}

static const struct route *overlapping_route (const struct net_cidr *c, const struct route *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (net_cidr_overlaps (c, &v[i].dst))
      return &v[i];
  return NULL;
}

static int route_conflict (const struct net_cidr *c, const struct route *rt, berth_err *err)
{
  char cbuf[NET_CIDR_STRLEN], rbuf[NET_CIDR_STRLEN], dev[IF_NAMESIZE] = "";
  if (rt->oif == 0 || if_indextoname ((unsigned) rt->oif, dev) == NULL)
    snprintf (dev, sizeof dev, "%s", "(none)");
  return berth_fail_as (err, EEXIST, "subnet %s overlaps with the host's route %s dev %s", net_cidr_format (c, cbuf),
                        net_cidr_format (&rt->dst, rbuf), dev);
}

int net_check_host_routes (const struct net_cidr *c, berth_err *err)
{
  cleanup_free struct route *routes = NULL;
  size_t n = 0;
  int r = host_routes (&routes, &n, err);
  if (r < 0)
    return r;
  const struct route *rt = overlapping_route (c, routes, n);
  return rt ? route_conflict (c, rt, err) : 0;
}

static bool overlaps_any (const struct net_cidr *c, const struct net_cidr *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (net_cidr_overlaps (c, &v[i]))
      return true;
  return false;
}

#define POOLS_FIRST 0x0ad30000u   /* 10.211.0.0 */
#define POOLS_LAST 0x0afeffffu    /* 10.254.255.255 */

int net_pick_subnet (uint8_t prefix, const struct net_cidr *taken, size_t n, struct net_cidr *out, berth_err *err)
{
  /* the pools are /16s: a bigger subnet would not fit in one */
  if (prefix < 16 || prefix > 30)
    return berth_fail_as (err, EINVAL, "cannot pick a /%u subnet from the default pools (/16 to /30)",
                          (unsigned) prefix);
  cleanup_free struct route *routes = NULL;
  size_t n_routes = 0;
  int r = host_routes (&routes, &n_routes, err);
  if (r < 0)
    return r;
  uint64_t step = 1ull << (32 - prefix);
  for (uint64_t a = POOLS_FIRST; a + step - 1 <= POOLS_LAST; a += step)
    {
      struct net_cidr c = { net_order ((uint32_t) a), prefix };
      if (!overlaps_any (&c, taken, n) && overlapping_route (&c, routes, n_routes) == NULL)
        {
          *out = c;
          return 0;
        }
    }
  return berth_fail_as (err, ENOSPC, "could not find an available, non-overlapping IPv4 address pool among the "
                                     "defaults to assign to the network");
}
