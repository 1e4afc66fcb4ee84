/* berthd's networks: the container network model (network, endpoint,
 * sandbox) on top of the kernel-facing library src/net/net.h.
 *
 *   network   a bridge (driver "bridge"), or the built-in "host" and "none"
 *             (drivers "host", "null").  The default network "bridge" is
 *             berth's own bridge device (--bridge-name, default berth0)
 *             and subnet (--bip, default 10.210.0.1/16); --bridge none
 *             turns it off, as with dockerd.  User networks get bridges
 *             named br-<id12> unless com.docker.network.bridge.name says.
 *             Saved in <data-root>/network/<id>.json (atomically).
 *   endpoint  a container on a network: the container's
 *             NetworkSettings.Networks[name] entry (persisted with the
 *             container); while the container runs it has an address, a
 *             veth pair (host end "vb" + 10 hex of the endpoint id) and
 *             DNS names.
 *   sandbox   the container's network namespace, made by berthd at start
 *             and bind-mounted at <exec-root>/netns/<id>, given to the
 *             runtime as the namespace path, destroyed when the container
 *             stops.
 *
 * Published ports (HostConfig.PortBindings, PublishAllPorts) are DNATed by
 * nftables in berth's own table (ip berth, or ip berth-<bridge-name>) and
 * their host ports are held by bound sockets while the container runs.
 * Names on user networks are served by the embedded DNS server (127.0.0.11
 * in each sandbox).
 *
 * Locking: one mutex for all networks and live endpoints (networks_lock);
 * it is taken inside a container's op_lock, never the other way round, and
 * never held across calls into the DNS server. */
#ifndef BERTH_NETWORK_H
#define BERTH_NETWORK_H

#include <stdbool.h>

#include "common/json.h"

struct berthd;
struct container;
struct networks;

/* Daemon options of the default network (daemon.json "bip",
 * "bridge-name", "bridge"). */
struct network_options
{
  const char *bip;          /* "10.210.0.1/16" */
  const char *bridge_name;  /* "berth0" */
  bool default_bridge;      /* false with --bridge none */
  unsigned mtu;             /* --mtu; 0: NETWORK_DEFAULT_MTU */
};

/* The MTU of bridge endpoints (veth pairs; the bridge follows its ports)
 * when neither --mtu nor the network's com.docker.network.driver.mtu says
 * otherwise.  Docker uses 1500; berth uses 65520, as slirp4netns and pasta
 * do for rootless containers: traffic between containers and between the
 * host and published ports never leaves the machine, and large frames cut
 * the per-packet cost of the veth and bridge path (with 1500, a bridge
 * carries about 0.7 of loopback's TCP throughput; with 65520, about as
 * much as loopback).  Traffic that leaves through a physical interface is
 * unaffected for TCP (the peer's MSS) and fragmented or refused with
 * ICMP "fragmentation needed" by the host for larger datagrams, as on any
 * router between links of different MTUs. */
#define NETWORK_DEFAULT_MTU 65520
#define NETWORK_MIN_MTU 68
#define NETWORK_MAX_MTU 65535
#define NETWORK_MTU_OPT "com.docker.network.driver.mtu"

int networks_open (struct berthd *d, const struct network_options *opt, struct networks **out, berth_err *err);
void networks_close (struct networks *ns);

/* ---- API ---- */

/* POST /networks/create: BODY is Docker's NetworkCreateRequest. */
int network_create (struct berthd *d, json_t *body, char **id, berth_err *err);
/* NAME_OR_ID: full id, unique id prefix or name.  -ENOENT "network X not found". */
int network_inspect (struct berthd *d, const char *name_or_id, json_t **out, berth_err *err);
int network_list (struct berthd *d, json_t *filters, json_t **out, berth_err *err);
int network_remove (struct berthd *d, const char *name_or_id, berth_err *err);
/* UNTIL_NS (0: no limit): only networks created before it. */
int network_prune (struct berthd *d, json_t *filters, int64_t until_ns, json_t **deleted, berth_err *err);
/* docker network connect / disconnect: CONFIG is an EndpointSettings
 * object (IPAMConfig.IPv4Address, Aliases), may be NULL. */
int network_connect (struct berthd *d, const char *net, const char *container, json_t *config, berth_err *err);
int network_disconnect (struct berthd *d, const char *net, const char *container, bool force, berth_err *err);

/* ---- containers ---- */

/* At create: resolve HostConfig.NetworkMode ("default" -> "bridge" or
 * "none") and NetworkingConfig.EndpointsConfig into the container's
 * initial NetworkSettings (*settings, new).  Checks that the networks
 * exist, --ip is inside a user-configured subnet, ports parse. */
int network_container_prepare (struct berthd *d, json_t *host_config, json_t *networking_config,
                               json_t **settings, berth_err *err);

/* At start, before the spec is written: make the sandbox, attach every
 * endpoint, publish ports, register DNS; fills c's settings with the live
 * addresses.  *netns_path gets the sandbox path (heap), or NULL for
 * host/none/container: modes.  On failure everything is undone. */
int network_container_up (struct berthd *d, struct container *c, char **netns_path, berth_err *err);
/* When the container has stopped (or a start failed): undo all of it.
 * Idempotent. */
void network_container_down (struct berthd *d, struct container *c);
/* At daemon start, for a container found running: take its addresses
 * and ports again and re-add its firewall and DNS state. */
void network_container_adopt (struct berthd *d, struct container *c);
/* At berthd's start, after the running containers were adopted: remove
 * the sandboxes (and their veths) that no container owns, which a start
 * or a build's RUN step cut short by berthd's death left. */
void network_sandboxes_sweep (struct berthd *d);
/* After docker rename: peers resolve the running container ID by NAME
 * (without the leading "/") instead of its old name. */
void network_container_renamed (struct berthd *d, const char *id, const char *name);

/* Lines for /etc/hosts ("IP\tname alias..." for each live endpoint), heap. */
char *network_hosts_lines (struct berthd *d, struct container *c);
/* Does the container use a user-defined network (resolv.conf then points
 * at the embedded DNS server)? */
bool network_container_uses_dns (struct berthd *d, struct container *c);

/* NetworkSettings for inspect (new reference), the {"Networks": ...}
 * summary of the container list, and its Ports list ([{IP, PrivatePort,
 * PublicPort, Type}]).  Callers hold the containers lock. */
json_t *network_settings_json (struct berthd *d, struct container *c);
json_t *network_settings_summary (struct container *c);
json_t *network_ports_list (struct container *c);

#endif
