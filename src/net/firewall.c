/* berth's nftables table, through libnftables.
 *
 * The table ("ip <name>") holds only berth's rules and is made whole by
 * net_fw_open.  Its rules never change afterwards: networks and published
 * ports are elements of named sets and maps, so each change is one element
 * added or deleted, atomic and cheap however many containers there are.
 *
 *   bridges       every berth bridge
 *   internal      bridges of --internal networks
 *   same_bridge   "br" . "br" for every bridge: traffic that stays on one
 *                 bridge (hairpin through a published port, or bridged
 *                 traffic when br_netfilter is loaded)
 *   hairpin       subnet . "br" for every bridge: the same in postrouting,
 *                 where the input interface is no longer known
 *   masq          subnets whose traffic leaving the host is masqueraded
 *   P_ip, P_any   published ports of protocol P: by host address and port,
 *                 and by port alone (bound to every host address)
 */
#include "net/net.h"

#include "common/cleanup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fw_network
{
  char bridge[IF_NAMESIZE];
  struct net_cidr subnet;
  bool internal;
};

struct net_fw
{
  pthread_mutex_t lock;   /* a libnftables context is not thread safe */
  struct nft_ctx *nft;
  char table[64];
  /* what the sets hold, to delete exactly those elements again */
  struct fw_network *networks;
  size_t n_networks;
};

/* The whole table.  Re-made by one transaction: "add" makes sure that
 * "delete" finds a table, and the new one replaces it atomically. */
static const char ruleset[] =
  "add table ip %1$s\n"
  "delete table ip %1$s\n"
  "table ip %1$s {\n"
  "  set bridges { type ifname; }\n"
  "  set internal { type ifname; }\n"
  "  set same_bridge { type ifname . ifname; }\n"
  "  set hairpin { type ipv4_addr . ifname; flags interval; }\n"
  "  set masq { type ipv4_addr; flags interval; }\n"
  "  map tcp_ip { type ipv4_addr . inet_service : ipv4_addr . inet_service; }\n"
  "  map tcp_any { type inet_service : ipv4_addr . inet_service; }\n"
  "  map udp_ip { type ipv4_addr . inet_service : ipv4_addr . inet_service; }\n"
  "  map udp_any { type inet_service : ipv4_addr . inet_service; }\n"
  "  map sctp_ip { type ipv4_addr . inet_service : ipv4_addr . inet_service; }\n"
  "  map sctp_any { type inet_service : ipv4_addr . inet_service; }\n"
  /* published ports; ports bound to every address only for the host's
   * own addresses */
  "  chain publish {\n"
  "    dnat to ip daddr . tcp dport map @tcp_ip\n"
  "    dnat to ip daddr . udp dport map @udp_ip\n"
  "    dnat to ip daddr . sctp dport map @sctp_ip\n"
  "    fib daddr type local dnat to tcp dport map @tcp_any\n"
  "    fib daddr type local dnat to udp dport map @udp_any\n"
  "    fib daddr type local dnat to sctp dport map @sctp_any\n"
  "  }\n"
  /* for traffic from outside and from containers */
  "  chain prerouting {\n"
  "    type nat hook prerouting priority dstnat; policy accept;\n"
  "    jump publish\n"
  "  }\n"
  /* and for connections made on the host itself, 127.0.0.1 included */
  "  chain output {\n"
  "    type nat hook output priority -100; policy accept;\n"
  "    jump publish\n"
  "  }\n"
  /* containers reach the world as the host; 127.0.0.1 cannot be a source
   * on a bridge, and a container that reaches itself or a neighbour
   * through a published port must see the answer come from the gateway */
  "  chain postrouting {\n"
  "    type nat hook postrouting priority srcnat; policy accept;\n"
  "    ip saddr @masq oifname != @bridges masquerade\n"
  "    ip saddr 127.0.0.0/8 oifname @bridges masquerade\n"
  "    ct status dnat ip saddr . oifname @hairpin masquerade\n"
  "  }\n"
  /* isolation: internal bridges route nothing in or out; other bridges
   * reach each other only through published ports (as Docker's userland
   * proxy allows) */
  "  chain forward {\n"
  "    type filter hook forward priority filter; policy accept;\n"
  "    iifname . oifname @same_bridge accept\n"
  "    iifname @internal drop\n"
  "    oifname @internal drop\n"
  "    ct status dnat accept\n"
  "    iifname @bridges oifname @bridges drop\n"
  "  }\n"
  "}\n";

/* --------------------------------------------------------------- helpers */

/* Names go into nft commands: only characters that need no quoting. */
static bool safe_name (const char *s, size_t max)
{
  size_t n = s ? strlen (s) : 0;
  return n > 0 && n < max && strspn (s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == n;
}

/* The first line of nft's error output ("Error: ...: File exists"). */
static int nft_failure (struct net_fw *fw, const char *what, berth_err *err)
{
  const char *out = nft_ctx_get_error_buffer (fw->nft);
  size_t len = out ? strcspn (out, "\n") : 0;
  int errnum = EIO;
  if (out && strstr (out, "File exists"))
    errnum = EEXIST;
  else if (out && strstr (out, "No such file or directory"))
    errnum = ENOENT;
  return berth_fail_as (err, errnum, "nftables: %s: %.*s", what, (int) len, len ? out : "failed");
}

/* Run the commands in CMDS as one transaction; the caller holds the lock. */
static int nft_run (struct net_fw *fw, const char *cmds, const char *what, berth_err *err)
{
  if (nft_run_cmd_from_buffer (fw->nft, cmds) != 0)
    return nft_failure (fw, what, err);
  return 0;
}

/* A growing command buffer. */
struct cmdbuf
{
  char *text;
  size_t len;
  FILE *f;
};

static int cmd_open (struct cmdbuf *c, berth_err *err)
{
  c->text = NULL;
  c->f = open_memstream (&c->text, &c->len);
  return c->f ? 0 : berth_fail_errno (err, "nftables command buffer");
}

/* Finish the buffer; its text stays in C->TEXT (the caller frees it). */
static int cmd_close (struct cmdbuf *c, berth_err *err)
{
  if (fclose (c->f) != 0)
    return berth_fail (err, ENOMEM, "nftables command buffer");
  return 0;
}

/* ----------------------------------------------------------------- table */

int net_fw_open (const char *table, struct net_fw **out, berth_err *err)
{
  if (!safe_name (table, sizeof ((struct net_fw *) 0)->table))
    return berth_fail_as (err, EINVAL, "invalid nftables table name \"%s\"", table ? table : "");
  cleanup_free struct net_fw *fw = calloc (1, sizeof *fw);
  if (fw == NULL)
    return berth_fail (err, ENOMEM, "firewall");
  fw->nft = nft_ctx_new (NFT_CTX_DEFAULT);
  if (fw->nft == NULL)
    return berth_fail (err, ENOMEM, "nftables context");
  /* errors and listings go to buffers, never to berthd's stdout/stderr */
  nft_ctx_buffer_output (fw->nft);
  nft_ctx_buffer_error (fw->nft);
  snprintf (fw->table, sizeof fw->table, "%s", table);
  pthread_mutex_init (&fw->lock, NULL);

  cleanup_free char *cmds = NULL;
  if (asprintf (&cmds, ruleset, table) < 0)
    cmds = NULL;
  int r = cmds ? nft_run (fw, cmds, "create table", err) : berth_fail (err, ENOMEM, "nftables table");
  if (r < 0)
    {
      net_fw_close (take_ptr (fw));
      return r;
    }
  *out = take_ptr (fw);
  return 0;
}

int net_fw_destroy (struct net_fw *fw, berth_err *err)
{
  cleanup_free char *cmds = NULL;
  if (asprintf (&cmds, "delete table ip %s\n", fw->table) < 0)
    return berth_fail (err, ENOMEM, "nftables command");
  pthread_mutex_lock (&fw->lock);
  int r = nft_run (fw, cmds, "delete table", err);
  if (r == -ENOENT)
    {
      berth_error_free (err);   /* already gone: what was asked for */
      r = 0;
    }
  if (r == 0)
    fw->n_networks = 0;
  pthread_mutex_unlock (&fw->lock);
  return r;
}

void net_fw_close (struct net_fw *fw)
{
  if (fw == NULL)
    return;
  if (fw->nft)
    nft_ctx_free (fw->nft);
  pthread_mutex_destroy (&fw->lock);
  free (fw->networks);
  free (fw);
}

/* -------------------------------------------------------------- networks */

static struct fw_network *find_network (struct net_fw *fw, const char *bridge)
{
  for (size_t i = 0; i < fw->n_networks; i++)
    if (strcmp (fw->networks[i].bridge, bridge) == 0)
      return &fw->networks[i];
  return NULL;
}

static void network_elements (FILE *f, const char *verb, const char *table, const struct fw_network *n)
{
  char cidr[NET_CIDR_STRLEN];
  fprintf (f, "%s element ip %s bridges { \"%s\" }\n", verb, table, n->bridge);
  fprintf (f, "%s element ip %s same_bridge { \"%s\" . \"%s\" }\n", verb, table, n->bridge, n->bridge);
  fprintf (f, "%s element ip %s hairpin { %s . \"%s\" }\n", verb, table, net_cidr_format (&n->subnet, cidr),
           n->bridge);
  if (n->internal)
    fprintf (f, "%s element ip %s internal { \"%s\" }\n", verb, table, n->bridge);
  else
    fprintf (f, "%s element ip %s masq { %s }\n", verb, table, net_cidr_format (&n->subnet, cidr));
}

static int remember_network (struct net_fw *fw, const struct fw_network *n, berth_err *err)
{
  struct fw_network *old = find_network (fw, n->bridge);
  if (old)
    {
      *old = *n;
      return 0;
    }
  struct fw_network *grown = realloc (fw->networks, (fw->n_networks + 1) * sizeof *grown);
  if (grown == NULL)
    return berth_fail (err, ENOMEM, "firewall networks");
  fw->networks = grown;
  fw->networks[fw->n_networks++] = *n;
  return 0;
}

static void forget_network (struct net_fw *fw, struct fw_network *n)
{
  size_t i = (size_t) (n - fw->networks);
  memmove (n, n + 1, (fw->n_networks - i - 1) * sizeof *n);
  fw->n_networks--;
}

static int add_network_locked (struct net_fw *fw, const struct fw_network *n, berth_err *err)
{
  struct cmdbuf c;
  int r = cmd_open (&c, err);
  if (r < 0)
    return r;
  const struct fw_network *old = find_network (fw, n->bridge);
  if (old)
    network_elements (c.f, "delete", fw->table, old);   /* replaced in the same transaction */
  network_elements (c.f, "add", fw->table, n);
  r = cmd_close (&c, err);
  cleanup_free char *cmds = c.text;
  if (r < 0)
    return r;
  r = nft_run (fw, cmds, "add network", err);
  if (r < 0)
    return berth_error_prefix (err, "bridge %s", n->bridge);
  return remember_network (fw, n, err);
}

int net_fw_add_network (struct net_fw *fw, const char *bridge, const struct net_cidr *subnet, bool internal,
                        berth_err *err)
{
  if (!safe_name (bridge, IF_NAMESIZE))
    return berth_fail_as (err, EINVAL, "invalid bridge name \"%s\"", bridge ? bridge : "");
  struct fw_network n = { .subnet = *subnet, .internal = internal };
  snprintf (n.bridge, sizeof n.bridge, "%s", bridge);
  pthread_mutex_lock (&fw->lock);
  int r = add_network_locked (fw, &n, err);
  pthread_mutex_unlock (&fw->lock);
  return r;
}

static int remove_network_locked (struct net_fw *fw, const char *bridge, berth_err *err)
{
  struct fw_network *n = find_network (fw, bridge);
  if (n == NULL)
    return 0;
  struct cmdbuf c;
  int r = cmd_open (&c, err);
  if (r < 0)
    return r;
  network_elements (c.f, "delete", fw->table, n);
  r = cmd_close (&c, err);
  cleanup_free char *cmds = c.text;
  if (r < 0)
    return r;
  r = nft_run (fw, cmds, "remove network", err);
  if (r < 0)
    return berth_error_prefix (err, "bridge %s", bridge);
  forget_network (fw, n);
  return 0;
}

int net_fw_remove_network (struct net_fw *fw, const char *bridge, berth_err *err)
{
  pthread_mutex_lock (&fw->lock);
  int r = remove_network_locked (fw, bridge, err);
  pthread_mutex_unlock (&fw->lock);
  return r;
}

/* ----------------------------------------------------------------- ports */

/* "add element ip T tcp_any { 8080 : 10.1.0.2 . 80 }" and its kin. */
static int port_command (const struct net_fw *fw, const struct net_port_map *m, bool add, char **out, berth_err *err)
{
  char host[INET_ADDRSTRLEN], ct[INET_ADDRSTRLEN], key[INET_ADDRSTRLEN + 8], value[INET_ADDRSTRLEN + 12] = "";
  inet_ntop (AF_INET, &m->host_ip, host, sizeof host);
  inet_ntop (AF_INET, &m->ct_ip, ct, sizeof ct);
  bool any = m->host_ip.s_addr == htonl (INADDR_ANY);
  if (any)
    snprintf (key, sizeof key, "%u", (unsigned) m->host_port);
  else
    snprintf (key, sizeof key, "%s . %u", host, (unsigned) m->host_port);
  if (add)
    snprintf (value, sizeof value, " : %s . %u", ct, (unsigned) m->ct_port);
  if (asprintf (out, "%s element ip %s %s_%s { %s%s }\n", add ? "add" : "delete", fw->table,
                net_proto_name (m->proto), any ? "any" : "ip", key, value) < 0)
    return berth_fail (err, ENOMEM, "nftables command");
  return 0;
}

static int port_change (struct net_fw *fw, const struct net_port_map *m, bool add, berth_err *err)
{
  if ((unsigned) m->proto > NET_SCTP)
    return berth_fail_as (err, EINVAL, "unknown protocol %d", (int) m->proto);
  cleanup_free char *cmds = NULL;
  int r = port_command (fw, m, add, &cmds, err);
  if (r < 0)
    return r;
  pthread_mutex_lock (&fw->lock);
  r = nft_run (fw, cmds, add ? "publish port" : "unpublish port", err);
  pthread_mutex_unlock (&fw->lock);
  return r;
}

int net_fw_add_port (struct net_fw *fw, const struct net_port_map *m, berth_err *err)
{
  char host[INET_ADDRSTRLEN];
  int r = port_change (fw, m, true, err);
  if (r == -EEXIST)
    {
      /* the same key with another target: the port is someone else's */
      berth_error_free (err);
      inet_ntop (AF_INET, &m->host_ip, host, sizeof host);
      return berth_fail_as (err, EADDRINUSE, "Bind for %s:%u failed: port is already allocated", host,
                            (unsigned) m->host_port);
    }
  return r;
}

int net_fw_remove_port (struct net_fw *fw, const struct net_port_map *m, berth_err *err)
{
  int r = port_change (fw, m, false, err);
  if (r == -ENOENT)
    {
      berth_error_free (err);   /* not published: nothing to undo */
      return 0;
    }
  return r;
}
