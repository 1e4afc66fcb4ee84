/* Inside berthd's network model (network-*.c). */
#ifndef BERTH_NETWORK_INTERNAL_H
#define BERTH_NETWORK_INTERNAL_H

#include <pthread.h>

#include "daemon/network.h"
#include "net/net.h"

enum network_driver
{
  NET_DRIVER_BRIDGE,
  NET_DRIVER_HOST,
  NET_DRIVER_NULL,
};

struct network
{
  char id[65];
  char *name;
  enum network_driver driver;
  char *created;            /* RFC 3339 */
  bool builtin;             /* bridge, host, none */
  bool internal;
  bool attachable;
  json_t *labels;           /* object */
  json_t *options;          /* object */
  /* bridge driver: */
  char *bridge;             /* host device */
  struct net_cidr subnet;
  struct net_cidr range;    /* == subnet unless --ip-range */
  bool has_range;
  struct in_addr gateway;
  bool user_subnet;         /* --subnet given: --ip allowed */
  struct net_pool *pool;
  unsigned mtu;             /* com.docker.network.driver.mtu; 0: the daemon's */
  struct network *next;
};

/* A live endpoint: a running container's address on a network. */
struct live_endpoint
{
  char network_id[65];
  char endpoint_id[65];
  struct in_addr ip;
  char host_ifname[16];
  char **names;             /* DNS names: container name, aliases, short id */
  struct live_endpoint *next;
};

/* A running container's networking. */
struct sandbox
{
  char container_id[65];
  char *path;               /* <exec-root>/netns/<id> */
  struct live_endpoint *endpoints;
  struct net_port_map *ports;
  int *port_fds;
  size_t n_ports;
  bool dns;                 /* registered with the DNS server */
  struct sandbox *next;
};

struct networks
{
  struct berthd *d;
  pthread_mutex_t lock;
  char *dir;                /* <data-root>/network */
  char *netns_dir;          /* <exec-root>/netns */
  struct network *list;
  struct sandbox *sandboxes;
  struct net_fw *fw;         /* NULL until the first bridge network */
  char fw_table[64];
  struct net_dns *dns;
  char *default_name;       /* "bridge" or "none" */
  unsigned default_mtu;     /* --mtu or NETWORK_DEFAULT_MTU */
};

/* network-store.c (callers hold ns->lock) */
struct network *network_find_locked (struct networks *ns, const char *name_or_id, berth_err *err);
struct network *network_by_id_locked (struct networks *ns, const char *id);
int network_count_endpoints_locked (struct networks *ns, struct network *n);
bool network_is_user_defined (const struct network *n);
/* The MTU of N's endpoints. */
unsigned network_mtu (const struct networks *ns, const struct network *n);

/* network-container.c */
void network_sandboxes_free (struct networks *ns);
int network_dns_start (struct networks *ns, berth_err *err);

/* network-json.c */
bool network_matches_filters (struct network *n, json_t *filters);
void network_event (struct berthd *d, const char *id, const char *name, const char *action);
void network_event_container (struct berthd *d, const char *id, const char *name, const char *action,
                              const char *container_id);
json_t *network_to_json (struct network *n);

#endif
