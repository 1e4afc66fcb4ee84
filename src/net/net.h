/* berth's network layer: the kernel-facing parts of container networking.
 *
 * berthd keeps the model (networks, endpoints, sandboxes: the container
 * network model of libnetwork) in src/daemon/network*.c; this library does
 * what touches the kernel, with no knowledge of Docker's JSON:
 *
 *   sandbox.c   network namespaces that berthd makes and names (a bind
 *               mount under <exec-root>/netns/<id>), handed to the runtime
 *               as the container's network namespace path
 *   netlink.c   links, addresses and routes through libmnl: bridges, veth
 *               pairs, moving a veth end into a sandbox, sysctls of links
 *   ipam.c      address pools: CIDR parsing, overlap checks, allocation
 *   firewall.c  berth's own nftables table through libnftables: masquerade,
 *               isolation between bridges, --internal, published ports
 *   ports.c     host port reservations (a bound socket held while the
 *               mapping exists, so "port already in use" is found early and
 *               nobody takes the port meanwhile)
 *   dns.c       the embedded DNS server: sockets bound to 127.0.0.11:53
 *               inside a sandbox, answering from berthd's records and
 *               forwarding other names to the host's resolvers
 *
 * All functions follow berth's error contract (common/error.h): they return
 * a negative errno and fill *err.  Addresses are IPv4 (IPv6 is not
 * supported yet); they travel as struct in_addr in network byte order.
 * Nothing here takes locks of berthd's; each object documents its own
 * thread safety.
 */
#ifndef BERTH_NET_H
#define BERTH_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

/* ------------------------------------------------------------ addresses */

struct net_cidr
{
  struct in_addr addr;   /* network address (host bits cleared by parse) */
  uint8_t prefix;        /* 0..32 */
};

/* "10.1.0.0/16" -> cidr.  Refuses host bits set ("10.1.2.3/16") unless
 * ALLOW_HOST_BITS, a prefix > 32, garbage; the message names TEXT. */
int net_cidr_parse (const char *text, bool allow_host_bits, struct net_cidr *out, berth_err *err);
/* "10.1.0.0/16" into BUF (at least NET_CIDR_STRLEN). */
#define NET_CIDR_STRLEN 19
char *net_cidr_format (const struct net_cidr *c, char *buf);
bool net_cidr_contains (const struct net_cidr *c, struct in_addr a);
bool net_cidr_overlaps (const struct net_cidr *a, const struct net_cidr *b);
int net_ip_parse (const char *text, struct in_addr *out, berth_err *err);

/* ----------------------------------------------------------------- ipam */

/* One network's address pool.  SUBNET holds every address of the network;
 * RANGE (--ip-range, inside SUBNET) the ones handed out automatically.
 * The network address, the broadcast address and the gateway are never
 * handed out.  GATEWAY must be inside SUBNET; INADDR_ANY means no gateway.
 * Not thread safe: berthd calls it under its network lock. */
struct net_pool;

int net_pool_new (const struct net_cidr *subnet, const struct net_cidr *range /* NULL: subnet */,
                  struct in_addr gateway, struct net_pool **out, berth_err *err);
void net_pool_free (struct net_pool *p);
/* The next free address of the range (round robin after the last one
 * given, as Docker does, so a released address is not reused at once).
 * -ENOSPC with "no available addresses in network X" when exhausted. */
int net_pool_alloc (struct net_pool *p, struct in_addr *out, berth_err *err);
/* A given address (--ip): -EINVAL outside the subnet or reserved,
 * -EADDRINUSE when taken. */
int net_pool_reserve (struct net_pool *p, struct in_addr a, berth_err *err);
void net_pool_release (struct net_pool *p, struct in_addr a);
bool net_pool_in_use (const struct net_pool *p, struct in_addr a);

/* A free subnet of PREFIX bits from the default pools (10.211.0.0/16 up
 * to 10.254.0.0/16, step 1 << (32 - PREFIX)) that overlaps none of TAKEN
 * (N entries: the other networks) and no route of the host's main table
 * (other than a default route). */
int net_pick_subnet (uint8_t prefix, const struct net_cidr *taken, size_t n, struct net_cidr *out, berth_err *err);
/* 0 if no route of the host's main table (default route aside) overlaps
 * C, else -EEXIST with a message naming the route's device. */
int net_check_host_routes (const struct net_cidr *c, berth_err *err);

/* ------------------------------------------------------------ sandboxes */

/* A fresh network namespace, bind-mounted at PATH (a file that is created;
 * its folder must exist), with lo up.  The namespace lives until
 * net_sandbox_destroy even when no process is in it. */
int net_sandbox_create (const char *path, berth_err *err);
/* Unmount and unlink PATH; the kernel frees the namespace (and the veth
 * ends inside, which takes their host peers with them) when its last user
 * goes.  A missing PATH is not an error. */
int net_sandbox_destroy (const char *path, berth_err *err);
/* Run FN(ARG) in a thread that has joined the namespace at PATH; returns
 * FN's return.  For calls that must happen inside (binding sockets).  FN
 * returns a negative errno on failure; *err then says "in sandbox PATH:
 * <strerror>".  File descriptors FN opens stay valid after the thread. */
int net_sandbox_run (const char *path, int (*fn) (void *arg), void *arg, berth_err *err);

/* ---------------------------------------------------------------- links */

/* A bridge NAME with address GATEWAY/PREFIX, up; created if missing, the
 * address added if missing (an existing bridge is adopted: berthd restart).
 * Also sets net.ipv4.ip_forward=1 and the bridge's route_localnet=1 (so
 * published ports answer on 127.0.0.1). */
int net_bridge_ensure (const char *name, struct in_addr gateway, uint8_t prefix, berth_err *err);
/* Delete a link (bridge or veth); a missing link is not an error. */
int net_link_delete (const char *name, berth_err *err);
bool net_link_exists (const char *name);
/* Every link whose name starts with PREFIX, as a NULL-terminated heap
 * array of heap strings (berthd cleans up leftovers "veth..." after a
 * crash). */
int net_link_list_prefix (const char *prefix, char ***out, berth_err *err);

struct net_endpoint_config
{
  const char *sandbox;        /* namespace path (net_sandbox_create) */
  const char *bridge;         /* host bridge to attach to */
  const char *host_ifname;    /* host end, e.g. "vethab12cd3" (<= 15 chars) */
  const char *ct_ifname;      /* name inside: "eth0", "eth1"... */
  struct in_addr addr;        /* address inside */
  uint8_t prefix;
  struct in_addr gateway;     /* default route via it, if set_default_route */
  bool set_default_route;     /* false for --internal and extra networks */
  uint8_t mac[6];             /* the inside end's MAC */
  unsigned mtu;               /* 0: 1500 */
};

/* Make a veth pair, attach the host end to the bridge (in hairpin mode, so
 * a container reaches its own published ports when br_netfilter is loaded)
 * and bring it up, move the other end into the sandbox, rename it, set MAC,
 * address, up, and the default route.  (The inside end is created directly
 * in the sandbox with its final name, MAC and MTU.)  On failure nothing is
 * left behind. */
int net_endpoint_attach (const struct net_endpoint_config *cfg, berth_err *err);
/* Remove the pair (through its host end).  A missing link is fine. */
int net_endpoint_detach (const char *host_ifname, berth_err *err);
/* A MAC for ADDR as Docker makes them: 02:42 followed by the IPv4 bytes. */
void net_mac_from_ip (struct in_addr a, uint8_t mac[6]);

/* ------------------------------------------------------------- firewall */

/* berth's nftables table ("ip <name>") with its chains and maps.  One
 * object per daemon; calls are serialized inside (a mutex).  berthd
 * rebuilds it at start: net_fw_open flushes the table and the daemon
 * adds what is still live. */
struct net_fw;

int net_fw_open (const char *table, struct net_fw **out, berth_err *err);
/* Delete the table (used by tests and when the daemon has no networks
 * left to serve; berthd normally keeps it).  A missing table is fine; FW
 * stays valid (net_fw_close frees it). */
int net_fw_destroy (struct net_fw *fw, berth_err *err);
void net_fw_close (struct net_fw *fw);

/* A bridge network: masquerade traffic from SUBNET leaving through other
 * interfaces (unless INTERNAL), drop traffic between this bridge and the
 * other berth bridges, and for INTERNAL drop everything routed in or out
 * of the bridge.  Re-adding the same bridge replaces its rules. */
int net_fw_add_network (struct net_fw *fw, const char *bridge, const struct net_cidr *subnet, bool internal,
                        berth_err *err);
/* A bridge that was never added (by this FW object) is not an error. */
int net_fw_remove_network (struct net_fw *fw, const char *bridge, berth_err *err);

enum net_proto { NET_TCP, NET_UDP, NET_SCTP };

struct net_port_map
{
  enum net_proto proto;
  struct in_addr host_ip;     /* INADDR_ANY: every host address */
  uint16_t host_port;
  struct in_addr ct_ip;
  uint16_t ct_port;
};

/* DNAT host_ip:host_port to the container, for traffic that comes in from
 * outside (prerouting) and for traffic made on the host itself (output),
 * including to 127.0.0.1 (with masquerade so replies come back). */
/* The same host address, port and protocol already published to another
 * target: -EADDRINUSE ("port is already allocated"); the same mapping
 * again is fine.  Removing looks only at proto, host_ip and host_port; a
 * mapping that is not there is fine. */
int net_fw_add_port (struct net_fw *fw, const struct net_port_map *m, berth_err *err);
int net_fw_remove_port (struct net_fw *fw, const struct net_port_map *m, berth_err *err);

/* ---------------------------------------------------------------- ports */

/* Reserve a host port: a socket bound to IP:PORT (TCP: not listening) that
 * is kept until release.  No SO_REUSEADDR: with it Linux would let a second
 * reservation, or a host server, share the port (see ports.c).  PORT 0 picks a free one from
 * the ephemeral range (written back).  -EADDRINUSE with Docker's words
 * ("Bind for 0.0.0.0:8080 failed: port is already allocated") when taken.
 * Returns the fd, which the caller keeps and closes to release. */
int net_port_reserve (enum net_proto proto, struct in_addr ip, uint16_t *port, berth_err *err);
const char *net_proto_name (enum net_proto p);             /* "tcp" */
int net_proto_parse (const char *name, enum net_proto *out); /* -EINVAL */

/* ------------------------------------------------------------------ dns */

/* The embedded DNS server: one per daemon, with one thread that serves
 * every sandbox.  Names are resolved through the LOOKUP callback (called
 * on the DNS thread; it must be thread safe), other names are forwarded
 * to the resolvers of the host's /etc/resolv.conf (read at start; over
 * UDP, and TCP for truncated answers).  The DNS server answers only A
 * queries from records (AAAA for a known name: an empty answer, NOERROR;
 * PTR for in-addr.arpa of a known address: the name). */
struct net_dns;

/* Fill up to MAX addresses for NAME (lower case, no trailing dot) as seen
 * from the sandbox KEY; return how many (0: not ours, forward). */
typedef int (*net_dns_lookup_fn) (void *ctx, const char *key, const char *name, struct in_addr *out, int max);
/* Reverse lookup: the name for A as seen from KEY into BUF; 0 found. */
typedef int (*net_dns_reverse_fn) (void *ctx, const char *key, struct in_addr a, char *buf, size_t size);

int net_dns_start (net_dns_lookup_fn lookup, net_dns_reverse_fn reverse, void *ctx, struct net_dns **out,
                   berth_err *err);
/* Serve the sandbox at NETNS_PATH: UDP and TCP sockets on 127.0.0.11:53
 * made inside it; queries from there are looked up with KEY (berthd: the
 * container id). */
int net_dns_add_sandbox (struct net_dns *dns, const char *key, const char *netns_path, berth_err *err);
/* The same, with the sandbox's own upstream servers (IP addresses,
 * NULL-terminated; NULL or empty: the host's resolvers), as Docker's
 * embedded DNS forwards to a container's --dns servers. */
int net_dns_add_sandbox_upstreams (struct net_dns *dns, const char *key, const char *netns_path,
                                   const char *const *servers, berth_err *err);
void net_dns_remove_sandbox (struct net_dns *dns, const char *key);
void net_dns_stop (struct net_dns *dns);
/* For tests: read the resolvers from PATH instead of /etc/resolv.conf at
 * the following net_dns_start calls (NULL: /etc/resolv.conf again).  Not
 * thread safe; call it before net_dns_start. */
void net_dns_set_resolv_conf (const char *path);

#endif
