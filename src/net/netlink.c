/* Links, addresses and routes through rtnetlink (libmnl): bridges, veth
 * pairs whose inside end is made directly in a sandbox, and the sysctls
 * that bridges need. */
#include "net/net.h"
#include "net/internal.h"

#include "common/cleanup.h"
#include "common/fs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>   /* before the linux headers, which then skip linux/if.h's copies */
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------- the socket */

int nl_open (struct nl *nl, berth_err *err)
{
  nl->sock = mnl_socket_open2 (NETLINK_ROUTE, SOCK_CLOEXEC);
  if (nl->sock == NULL)
    return berth_fail_errno (err, "open rtnetlink socket");
  if (mnl_socket_bind (nl->sock, 0, MNL_SOCKET_AUTOPID) < 0)
    {
      int r = berth_fail_errno (err, "bind rtnetlink socket");
      mnl_socket_close (take_ptr (nl->sock));
      return r;
    }
  nl->portid = mnl_socket_get_portid (nl->sock);
  nl->seq = (unsigned) time (NULL);
  return 0;
}

static int open_here (void *arg, berth_err *err)
{
  return nl_open (arg, err);
}

int nl_open_in (const char *netns_path, struct nl *nl, berth_err *err)
{
  return net_sandbox_run_err (netns_path, open_here, nl, err);
}

void nl_close (struct nl *nl)
{
  if (nl->sock)
    mnl_socket_close (take_ptr (nl->sock));
}

struct nlmsghdr *nl_msg (struct nl *nl, char *buf, uint16_t type, uint16_t flags)
{
  struct nlmsghdr *h = mnl_nlmsg_put_header (buf);
  h->nlmsg_type = type;
  h->nlmsg_flags = NLM_F_REQUEST | flags;
  h->nlmsg_seq = ++nl->seq;
  return h;
}

/* Read answers to H until its end (ack, error or NLMSG_DONE). */
static int nl_talk (struct nl *nl, struct nlmsghdr *h, mnl_cb_t cb, void *data)
{
  if (mnl_socket_sendto (nl->sock, h, h->nlmsg_len) < 0)
    return -errno;
  /* dumps come in messages of up to 32 KiB (libmnl's advice) */
  char buf[32768];
  for (;;)
    {
      ssize_t n = mnl_socket_recvfrom (nl->sock, buf, sizeof buf);
      if (n < 0)
        return -errno;
      int r = mnl_cb_run (buf, (size_t) n, h->nlmsg_seq, nl->portid, cb, data);
      if (r < 0)
        return errno ? -errno : -EIO;
      if (r == MNL_CB_STOP)
        return 0;
    }
}

int nl_request (struct nl *nl, struct nlmsghdr *h)
{
  h->nlmsg_flags |= NLM_F_ACK;
  return nl_talk (nl, h, NULL, NULL);
}

int nl_dump (struct nl *nl, struct nlmsghdr *h, mnl_cb_t cb, void *data)
{
  h->nlmsg_flags |= NLM_F_DUMP;
  return nl_talk (nl, h, cb, data);
}

/* ------------------------------------------------------------- lookups */

static int index_cb (const struct nlmsghdr *h, void *data)
{
  const struct ifinfomsg *ifi = mnl_nlmsg_get_payload (h);
  *(int *) data = ifi->ifi_index;
  return MNL_CB_OK;
}

int nl_link_index (struct nl *nl, const char *name)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  /* the ack after the answer ends the exchange */
  struct nlmsghdr *h = nl_msg (nl, buf, RTM_GETLINK, NLM_F_ACK);
  struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header (h, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz (h, IFLA_IFNAME, name);
  int index = 0;
  int r = nl_talk (nl, h, index_cb, &index);
  if (r < 0)
    return r;
  return index > 0 ? index : -ENODEV;
}

/* The kind ("bridge", "veth"...) of link NAME into KIND, "" if it has none. */
struct kind_query
{
  char *kind;
  size_t size;
};

static int kind_attr_cb (const struct nlattr *a, void *data)
{
  struct kind_query *q = data;
  if (mnl_attr_get_type (a) == IFLA_INFO_KIND && mnl_attr_validate (a, MNL_TYPE_NUL_STRING) == 0)
    snprintf (q->kind, q->size, "%s", mnl_attr_get_str (a));
  return MNL_CB_OK;
}

static int link_attr_cb (const struct nlattr *a, void *data)
{
  if (mnl_attr_get_type (a) == IFLA_LINKINFO && mnl_attr_validate (a, MNL_TYPE_NESTED) == 0)
    mnl_attr_parse_nested (a, kind_attr_cb, data);
  return MNL_CB_OK;
}

static int kind_cb (const struct nlmsghdr *h, void *data)
{
  return mnl_attr_parse (h, sizeof (struct ifinfomsg), link_attr_cb, data);
}

static int nl_link_kind (struct nl *nl, const char *name, char *kind, size_t size)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *h = nl_msg (nl, buf, RTM_GETLINK, NLM_F_ACK);
  struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header (h, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz (h, IFLA_IFNAME, name);
  struct kind_query q = { kind, size };
  kind[0] = '\0';
  return nl_talk (nl, h, kind_cb, &q);
}

bool net_link_exists (const char *name)
{
  return if_nametoindex (name) != 0;
}

/* ------------------------------------------------------------- changes */

int nl_link_set_up (struct nl *nl, int index)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *h = nl_msg (nl, buf, RTM_NEWLINK, 0);
  struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header (h, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  return nl_request (nl, h);
}

static int nl_link_delete (struct nl *nl, const char *name)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *h = nl_msg (nl, buf, RTM_DELLINK, 0);
  struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header (h, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz (h, IFLA_IFNAME, name);
  int r = nl_request (nl, h);
  return r == -ENODEV ? 0 : r;
}

/* ADDR/PREFIX on link INDEX; an address that is already there is fine. */
static int nl_addr_add (struct nl *nl, int index, struct in_addr addr, uint8_t prefix)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *h = nl_msg (nl, buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header (h, sizeof *ifa);
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = prefix;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = (unsigned) index;
  mnl_attr_put (h, IFA_LOCAL, sizeof addr, &addr);
  mnl_attr_put (h, IFA_ADDRESS, sizeof addr, &addr);
  if (prefix < 31)
    {
      struct in_addr brd = { htonl (ntohl (addr.s_addr) | ~net_prefix_mask (prefix)) };
      mnl_attr_put (h, IFA_BROADCAST, sizeof brd, &brd);
    }
  int r = nl_request (nl, h);
  return r == -EEXIST ? 0 : r;
}

static int nl_default_route_add (struct nl *nl, int index, struct in_addr gateway)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *h = nl_msg (nl, buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  struct rtmsg *rtm = mnl_nlmsg_put_extra_header (h, sizeof *rtm);
  rtm->rtm_family = AF_INET;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  mnl_attr_put (h, RTA_GATEWAY, sizeof gateway, &gateway);
  mnl_attr_put_u32 (h, RTA_OIF, (uint32_t) index);
  return nl_request (nl, h);
}

static int write_sysctl (const char *path, berth_err *err)
{
  return berth_write_file (path, "1", 1, err);
}

static int check_ifname (const char *what, const char *name, berth_err *err)
{
  if (name == NULL || name[0] == '\0' || strlen (name) >= IFNAMSIZ || strchr (name, '/') || strchr (name, ' '))
    return berth_fail_as (err, EINVAL, "invalid %s interface name \"%s\"", what, name ? name : "");
  return 0;
}

/* -------------------------------------------------------------- bridges */

static int bridge_create (struct nl *nl, const char *name)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *h = nl_msg (nl, buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header (h, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz (h, IFLA_IFNAME, name);
  struct nlattr *info = mnl_attr_nest_start (h, IFLA_LINKINFO);
  mnl_attr_put_strz (h, IFLA_INFO_KIND, "bridge");
  mnl_attr_nest_end (h, info);
  return nl_request (nl, h);
}

/* Create bridge NAME, or adopt it if it is one already; *CREATED says which. */
static int bridge_create_or_adopt (struct nl *nl, const char *name, bool *created, berth_err *err)
{
  int r = bridge_create (nl, name);
  *created = r == 0;
  if (r == 0)
    return 0;
  if (r != -EEXIST)
    return berth_fail (err, -r, "create bridge %s", name);
  char kind[32];
  r = nl_link_kind (nl, name, kind, sizeof kind);
  if (r < 0)
    return berth_fail (err, -r, "inspect existing link %s", name);
  if (strcmp (kind, "bridge") != 0)
    return berth_fail_as (err, EEXIST, "cannot use %s as a bridge: a link of type \"%s\" has that name", name,
                          kind[0] ? kind : "device");
  return 0;
}

static int bridge_configure (struct nl *nl, const char *name, struct in_addr gateway, uint8_t prefix, berth_err *err)
{
  int index = nl_link_index (nl, name);
  if (index < 0)
    return berth_fail (err, -index, "find bridge %s", name);
  char ip[INET_ADDRSTRLEN];
  inet_ntop (AF_INET, &gateway, ip, sizeof ip);
  int r = nl_addr_add (nl, index, gateway, prefix);
  if (r < 0)
    return berth_fail (err, -r, "add address %s/%u to bridge %s", ip, (unsigned) prefix, name);
  r = nl_link_set_up (nl, index);
  if (r < 0)
    return berth_fail (err, -r, "set bridge %s up", name);

  /* forwarding is what makes a bridge network reach anything beyond the
   * host; route_localnet lets DNATed 127.0.0.1 traffic leave through the
   * bridge (published ports answer on localhost) */
  r = write_sysctl ("/proc/sys/net/ipv4/ip_forward", err);
  if (r < 0)
    return r;
  char path[128];
  snprintf (path, sizeof path, "/proc/sys/net/ipv4/conf/%s/route_localnet", name);
  return write_sysctl (path, err);
}

int net_bridge_ensure (const char *name, struct in_addr gateway, uint8_t prefix, berth_err *err)
{
  int r = check_ifname ("bridge", name, err);
  if (r < 0)
    return r;
  if (prefix > 32)
    return berth_fail_as (err, EINVAL, "invalid prefix length %u for bridge %s", (unsigned) prefix, name);
  cleanup_nl struct nl nl = { 0 };
  r = nl_open (&nl, err);
  if (r < 0)
    return r;
  bool created;
  r = bridge_create_or_adopt (&nl, name, &created, err);
  if (r < 0)
    return r;
  r = bridge_configure (&nl, name, gateway, prefix, err);
  if (r < 0 && created)
    nl_link_delete (&nl, name);   /* a bridge we made half way goes again */
  return r;
}

int net_link_delete (const char *name, berth_err *err)
{
  int r = check_ifname ("link", name, err);
  if (r < 0)
    return r;
  cleanup_nl struct nl nl = { 0 };
  r = nl_open (&nl, err);
  if (r < 0)
    return r;
  r = nl_link_delete (&nl, name);
  if (r < 0)
    return berth_fail (err, -r, "delete link %s", name);
  return 0;
}

/* ------------------------------------------------------------ listings */

struct name_list
{
  const char *prefix;
  char **names;
  size_t n;
  int error;
};

static int name_attr_cb (const struct nlattr *a, void *data)
{
  const char **name = data;
  if (mnl_attr_get_type (a) == IFLA_IFNAME && mnl_attr_validate (a, MNL_TYPE_NUL_STRING) == 0)
    *name = mnl_attr_get_str (a);
  return MNL_CB_OK;
}

static int list_cb (const struct nlmsghdr *h, void *data)
{
  struct name_list *l = data;
  const char *name = NULL;
  mnl_attr_parse (h, sizeof (struct ifinfomsg), name_attr_cb, &name);
  if (name == NULL || strncmp (name, l->prefix, strlen (l->prefix)) != 0)
    return MNL_CB_OK;
  char **grown = realloc (l->names, (l->n + 2) * sizeof *grown);
  if (grown == NULL || (grown[l->n] = strdup (name)) == NULL)
    {
      if (grown)
        l->names = grown;
      l->error = ENOMEM;
      return MNL_CB_ERROR;
    }
  l->names = grown;
  l->names[++l->n] = NULL;
  return MNL_CB_OK;
}

int net_link_list_prefix (const char *prefix, char ***out, berth_err *err)
{
  cleanup_nl struct nl nl = { 0 };
  int r = nl_open (&nl, err);
  if (r < 0)
    return r;
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *h = nl_msg (&nl, buf, RTM_GETLINK, 0);
  struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header (h, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  struct name_list l = { .prefix = prefix ? prefix : "" };
  r = nl_dump (&nl, h, list_cb, &l);
  cleanup_strv char **names = l.names;   /* NULL-terminated at every step */
  if (l.error)
    return berth_fail (err, l.error, "list links");
  if (r < 0)
    return berth_fail (err, -r, "list links");
  if (names == NULL && (names = calloc (1, sizeof (char *))) == NULL)
    return berth_fail (err, ENOMEM, "list links");
  *out = take_ptr (names);
  return 0;
}

/* ------------------------------------------------------------ endpoints */

/* RTM_NEWLINK for the pair: the host end up and on the bridge, the other
 * end made directly inside the sandbox with its final name, MAC and MTU,
 * so no half-moved or misnamed link can be left on the host. */
static int veth_create (struct nl *nl, const struct net_endpoint_config *cfg, int bridge_index, int netns_fd)
{
  unsigned mtu = cfg->mtu ? cfg->mtu : 1500;
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *h = nl_msg (nl, buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header (h, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  mnl_attr_put_strz (h, IFLA_IFNAME, cfg->host_ifname);
  mnl_attr_put_u32 (h, IFLA_MTU, mtu);
  mnl_attr_put_u32 (h, IFLA_MASTER, (uint32_t) bridge_index);

  struct nlattr *info = mnl_attr_nest_start (h, IFLA_LINKINFO);
  mnl_attr_put_strz (h, IFLA_INFO_KIND, "veth");
  struct nlattr *data = mnl_attr_nest_start (h, IFLA_INFO_DATA);
  struct nlattr *peer = mnl_attr_nest_start (h, VETH_INFO_PEER);
  /* the peer's attributes follow an ifinfomsg of its own */
  struct ifinfomsg *pifi = mnl_nlmsg_get_payload_tail (h);
  memset (pifi, 0, sizeof *pifi);
  pifi->ifi_family = AF_UNSPEC;
  h->nlmsg_len += MNL_ALIGN (sizeof *pifi);
  mnl_attr_put_strz (h, IFLA_IFNAME, cfg->ct_ifname);
  mnl_attr_put_u32 (h, IFLA_NET_NS_FD, (uint32_t) netns_fd);
  mnl_attr_put (h, IFLA_ADDRESS, 6, cfg->mac);
  mnl_attr_put_u32 (h, IFLA_MTU, mtu);
  mnl_attr_nest_end (h, peer);
  mnl_attr_nest_end (h, data);
  mnl_attr_nest_end (h, info);
  return nl_request (nl, h);
}

static int veth_create_checked (struct nl *nl, const struct net_endpoint_config *cfg, berth_err *err)
{
  int bridge_index = nl_link_index (nl, cfg->bridge);
  if (bridge_index < 0)
    return berth_fail (err, -bridge_index, "find bridge %s", cfg->bridge);
  cleanup_close int netns_fd = open (cfg->sandbox, O_RDONLY | O_CLOEXEC);
  if (netns_fd < 0)
    return berth_fail_errno (err, "open sandbox %s", cfg->sandbox);
  int r = veth_create (nl, cfg, bridge_index, netns_fd);
  if (r == -EEXIST && net_link_exists (cfg->host_ifname))
    return berth_fail_as (err, EEXIST, "cannot create veth pair: host interface %s already exists", cfg->host_ifname);
  if (r == -EEXIST)
    return berth_fail_as (err, EEXIST, "cannot create veth pair: interface %s already exists in sandbox %s",
                          cfg->ct_ifname, cfg->sandbox);
  if (r < 0)
    return berth_fail (err, -r, "create veth pair %s/%s on bridge %s", cfg->host_ifname, cfg->ct_ifname, cfg->bridge);
  return 0;
}

/* Hairpin mode on the host end's bridge port.  When br_netfilter is loaded
 * (as on most Docker hosts) a container's connection to its own published
 * port is DNATed at the bridge and bridged back out of the port it came
 * in by; without hairpin mode the bridge drops such frames. */
static int bridge_port_hairpin (struct nl *nl, const char *host_ifname)
{
  int index = nl_link_index (nl, host_ifname);
  if (index < 0)
    return index;
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *h = nl_msg (nl, buf, RTM_SETLINK, 0);
  struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header (h, sizeof *ifi);
  ifi->ifi_family = AF_BRIDGE;
  ifi->ifi_index = index;
  struct nlattr *prot = mnl_attr_nest_start (h, IFLA_PROTINFO);
  mnl_attr_put_u8 (h, IFLA_BRPORT_MODE, 1);
  mnl_attr_nest_end (h, prot);
  return nl_request (nl, h);
}

/* Address, up and default route of the end inside the sandbox. */
static int veth_configure_inside (const struct net_endpoint_config *cfg, berth_err *err)
{
  cleanup_nl struct nl nl = { 0 };
  int r = nl_open_in (cfg->sandbox, &nl, err);
  if (r < 0)
    return r;
  int index = nl_link_index (&nl, cfg->ct_ifname);
  if (index < 0)
    return berth_fail (err, -index, "find %s in sandbox %s", cfg->ct_ifname, cfg->sandbox);
  char ip[INET_ADDRSTRLEN];
  inet_ntop (AF_INET, &cfg->addr, ip, sizeof ip);
  r = nl_addr_add (&nl, index, cfg->addr, cfg->prefix);
  if (r < 0)
    return berth_fail (err, -r, "add address %s/%u to %s", ip, (unsigned) cfg->prefix, cfg->ct_ifname);
  r = nl_link_set_up (&nl, index);
  if (r < 0)
    return berth_fail (err, -r, "set %s up", cfg->ct_ifname);
  if (!cfg->set_default_route)
    return 0;
  r = nl_default_route_add (&nl, index, cfg->gateway);
  if (r < 0)
    {
      inet_ntop (AF_INET, &cfg->gateway, ip, sizeof ip);
      return berth_fail (err, -r, "add default route via %s dev %s", ip, cfg->ct_ifname);
    }
  return 0;
}

int net_endpoint_attach (const struct net_endpoint_config *cfg, berth_err *err)
{
  int r;
  if ((r = check_ifname ("host", cfg->host_ifname, err)) < 0 || (r = check_ifname ("container", cfg->ct_ifname, err)) < 0
      || (r = check_ifname ("bridge", cfg->bridge, err)) < 0)
    return r;
  if (cfg->prefix > 32)
    return berth_fail_as (err, EINVAL, "invalid prefix length %u", (unsigned) cfg->prefix);
  cleanup_nl struct nl nl = { 0 };
  r = nl_open (&nl, err);
  if (r < 0)
    return r;
  r = veth_create_checked (&nl, cfg, err);
  if (r < 0)
    return r;
  r = bridge_port_hairpin (&nl, cfg->host_ifname);
  if (r < 0)
    r = berth_fail (err, -r, "set hairpin mode on %s", cfg->host_ifname);
  if (r == 0)
    r = veth_configure_inside (cfg, err);
  if (r < 0)
    nl_link_delete (&nl, cfg->host_ifname);   /* takes the inside end too */
  return r;
}

int net_endpoint_detach (const char *host_ifname, berth_err *err)
{
  return net_link_delete (host_ifname, err);
}
