/* Containers on networks: endpoints at create, sandboxes while they run,
 * connect and disconnect, the DNS records (see network.h). */
#include "daemon/network-internal.h"
#include "daemon/container.h"
#include "daemon/daemon.h"
#include "daemon/spec-gen.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <net/if.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DNS_NAMES_MAX 16

static const char *mode_of (json_t *hc)
{
  return json_string_value (json_object_get (hc, "NetworkMode")) ?: "";
}

static bool mode_is_special (const char *mode)
{
  return strcmp (mode, "host") == 0 || strcmp (mode, "none") == 0 || strncmp (mode, "container:", 10) == 0;
}

/* ---- create: the container's initial NetworkSettings ---- */

static int check_endpoint_config (struct network *n, json_t *cfg, berth_err *err)
{
  const char *ip = berth_json_str (berth_json_obj (cfg, "IPAMConfig"), "IPv4Address");
  json_t *aliases = json_object_get (cfg, "Aliases");
  if (aliases && !json_is_null (aliases) && !json_is_array (aliases))
    return berth_fail_as (err, EINVAL, "Aliases: expected an array");
  if (json_array_size (aliases) > 0 && !network_is_user_defined (n))
    return berth_fail_as (err, EINVAL, "network-scoped alias is supported only for containers in user defined networks");
  if (ip && *ip)
    {
      struct in_addr a;
      if (!network_is_user_defined (n) || !n->user_subnet)
        return berth_fail_as (err, EINVAL,
                              "user specified IP address is supported only when connecting to networks with user "
                              "configured subnets");
      if (net_ip_parse (ip, &a, err) < 0)
        return -EINVAL;
      if (!net_cidr_contains (&n->subnet, a))
        return berth_fail_as (err, EINVAL, "Address %s does not belong to network %s's subnet", ip, n->name);
    }
  return 0;
}

static json_t *endpoint_entry (struct network *n, json_t *cfg)
{
  json_t *aliases = json_object_get (cfg, "Aliases");
  json_t *ipam = berth_json_obj (cfg, "IPAMConfig");
  return json_pack ("{s:s, s:s, s:O, s:O, s:s, s:i, s:s, s:s, s:n}", "NetworkID", n->id, "EndpointID", "",
                    "Aliases", json_is_array (aliases) ? aliases : json_null (), "IPAMConfig",
                    ipam ? ipam : json_null (), "IPAddress", "", "IPPrefixLen", 0, "Gateway", "", "MacAddress", "",
                    "DNSNames");
}

/* Add NAME (a bridge network) with CFG to SETTINGS.Networks. */
static int add_endpoint_locked (struct networks *ns, json_t *settings, const char *name, json_t *cfg, berth_err *err)
{
  struct network *n = network_find_locked (ns, name, err);
  if (n == NULL)
    return -ENOENT;
  if (n->driver != NET_DRIVER_BRIDGE)
    return berth_fail_as (err, EINVAL, "container cannot be connected to network %s together with others", n->name);
  int r = check_endpoint_config (n, cfg, err);
  if (r < 0)
    return r;
  json_object_set_new (json_object_get (settings, "Networks"), n->name, endpoint_entry (n, cfg));
  return 0;
}

static int prepare_locked (struct networks *ns, json_t *hc, json_t *endpoints, json_t *settings, berth_err *err)
{
  const char *mode = mode_of (hc);
  /* The CLI names the primary network in EndpointsConfig as it was asked
   * for: "default" too. */
  json_t *primary_cfg = json_object_get (endpoints, mode);
  if (*mode == '\0' || strcmp (mode, "default") == 0)
    json_object_set_new (hc, "NetworkMode", json_string (mode = ns->default_name));
  if (strncmp (mode, "container:", 10) == 0)
    return 0;
  struct network *primary = network_find_locked (ns, mode, err);
  if (primary == NULL)
    return -ENOENT;
  if (primary->driver != NET_DRIVER_BRIDGE)
    {
      json_object_set_new (hc, "NetworkMode", json_string (primary->name));
      json_object_set_new (json_object_get (settings, "Networks"), primary->name,
                           endpoint_entry (primary, NULL));
      return json_object_size (endpoints) > 1 ? berth_fail_as (err, EINVAL, "conflicting options: %s network and "
                                                                           "other networks", primary->name)
                                              : 0;
    }
  json_t *cfg = primary_cfg ? primary_cfg : json_object_get (endpoints, primary->name);
  int r = add_endpoint_locked (ns, settings, primary->name, cfg, err);
  const char *key;
  json_t *v;
  json_object_foreach (endpoints, key, v)
    {
      if (r < 0)
        break;
      if (v == primary_cfg || strcmp (key, "default") == 0)
        continue;
      struct network *n = network_find_locked (ns, key, NULL);
      if (n != primary)
        r = add_endpoint_locked (ns, settings, key, v, err);
    }
  return r;
}

/* container:NAME becomes container:<full id>, as Docker stores it. */
static int resolve_container_mode (struct berthd *d, json_t *hc, berth_err *err)
{
  const char *mode = mode_of (hc);
  if (strncmp (mode, "container:", 10) != 0)
    return 0;
  struct container *other = NULL;
  int r = container_get (d->containers, mode + 10, &other, err);
  if (r < 0)
    return r;
  cleanup_free char *full = NULL;
  if (asprintf (&full, "container:%s", other->id) < 0)
    full = NULL;
  container_put (d->containers, other);
  if (full == NULL)
    return berth_fail (err, ENOMEM, "network mode");
  json_object_set_new (hc, "NetworkMode", json_string (full));
  return 0;
}

int network_container_prepare (struct berthd *d, json_t *host_config, json_t *networking_config, json_t **settings,
                               berth_err *err)
{
  struct networks *ns = d->networks;
  json_t *endpoints = berth_json_obj (networking_config, "EndpointsConfig");
  cleanup_json json_t *s = json_pack ("{s:{}, s:{}}", "Networks", "Ports");
  pthread_mutex_lock (&ns->lock);
  int r = prepare_locked (ns, host_config, endpoints, s, err);
  pthread_mutex_unlock (&ns->lock);
  if (r == 0)
    r = resolve_container_mode (d, host_config, err);
  /* Not a 404: the docker CLI would take it for a missing image and pull. */
  if (r == -ENOENT && err && *err)
    (*err)->errnum = EINVAL;
  if (r < 0)
    return r;
  *settings = take_ptr (s);
  return 0;
}

/* ---- the live sandbox of a running container ---- */

static struct sandbox *sandbox_find_locked (struct networks *ns, const char *id)
{
  for (struct sandbox *sb = ns->sandboxes; sb; sb = sb->next)
    if (strcmp (sb->container_id, id) == 0)
      return sb;
  return NULL;
}

void network_container_renamed (struct berthd *d, const char *id, const char *name)
{
  struct networks *ns = d->networks;
  if (ns == NULL)
    return;
  pthread_mutex_lock (&ns->lock);
  struct sandbox *sb = sandbox_find_locked (ns, id);
  /* names[0] is always the container's name (endpoint_names) */
  for (struct live_endpoint *e = sb ? sb->endpoints : NULL; e; e = e->next)
    {
      char *lower = e->names ? strdup (name) : NULL;
      if (lower == NULL)
        continue;
      for (char *p = lower; *p; p++)
        *p = (char) tolower ((unsigned char) *p);
      free (e->names[0]);
      e->names[0] = lower;
    }
  pthread_mutex_unlock (&ns->lock);
}

static void endpoint_free (struct live_endpoint *e)
{
  if (e == NULL)
    return;
  for (char **p = e->names; p && *p; p++)
    free (*p);
  free (e->names);
  free (e);
}

static void sandbox_free (struct sandbox *sb)
{
  if (sb == NULL)
    return;
  for (struct live_endpoint *e = sb->endpoints, *next; e; e = next)
    {
      next = e->next;
      endpoint_free (e);
    }
  for (size_t i = 0; i < sb->n_ports; i++)
    if (sb->port_fds[i] >= 0)
      close (sb->port_fds[i]);
  free (sb->ports);
  free (sb->port_fds);
  free (sb->path);
  free (sb);
}

void network_sandboxes_free (struct networks *ns)
{
  for (struct sandbox *sb = ns->sandboxes, *next; sb; sb = next)
    {
      next = sb->next;
      /* Only berthd's memory: the namespaces and rules stay for the live
       * containers, and a restarted berthd binds their ports again. */
      sandbox_free (sb);
    }
  ns->sandboxes = NULL;
}

static char *sandbox_path (struct networks *ns, const char *id)
{
  char *p = NULL;
  return asprintf (&p, "%s/%s", ns->netns_dir, id) < 0 ? NULL : p;
}

static void host_ifname_of (const char *endpoint_id, char out[16])
{
  snprintf (out, 16, "vb%.10s", endpoint_id);
}

/* The container's DNS names on a network: name, aliases, short id. */
static char **endpoint_names (struct container *c, json_t *entry)
{
  char **names = calloc (DNS_NAMES_MAX + 1, sizeof *names);
  size_t n = 0, i;
  json_t *v;
  if (names == NULL)
    return NULL;
  names[n++] = strdup (c->name[0] == '/' ? c->name + 1 : c->name);
  names[n++] = strndup (c->id, 12);
  json_array_foreach (json_object_get (entry, "Aliases"), i, v)
    if (json_is_string (v) && n < DNS_NAMES_MAX)
      names[n++] = strdup (json_string_value (v));
  for (size_t k = 0; k < n; k++)
    for (char *p = names[k]; p && *p; p++)
      *p = (char) tolower ((unsigned char) *p);
  return names;
}

static json_t *names_json (char **names)
{
  json_t *arr = json_array ();
  for (char **p = names; p && *p; p++)
    json_array_append_new (arr, json_string (*p));
  return arr;
}

/* Record the live address of ENTRY in the container's settings. */
static void settings_set_live (struct berthd *d, json_t *entry, struct network *n, struct live_endpoint *e,
                               const uint8_t mac[6])
{
  char ip[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN], macs[18];
  inet_ntop (AF_INET, &e->ip, ip, sizeof ip);
  inet_ntop (AF_INET, &n->gateway, gw, sizeof gw);
  snprintf (macs, sizeof macs, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  containers_lock (d->containers);
  json_object_set_new (entry, "NetworkID", json_string (n->id));
  json_object_set_new (entry, "EndpointID", json_string (e->endpoint_id));
  json_object_set_new (entry, "IPAddress", json_string (ip));
  json_object_set_new (entry, "IPPrefixLen", json_integer (n->subnet.prefix));
  json_object_set_new (entry, "Gateway", json_string (gw));
  json_object_set_new (entry, "MacAddress", json_string (macs));
  json_object_set_new (entry, "DNSNames", network_is_user_defined (n) ? names_json (e->names) : json_null ());
  containers_unlock (d->containers);
}

static void settings_clear_live (json_t *entry)
{
  json_object_set_new (entry, "EndpointID", json_string (""));
  json_object_set_new (entry, "IPAddress", json_string (""));
  json_object_set_new (entry, "IPPrefixLen", json_integer (0));
  json_object_set_new (entry, "Gateway", json_string (""));
  json_object_set_new (entry, "MacAddress", json_string (""));
  json_object_set_new (entry, "DNSNames", json_null ());
}

/* Take an address for ENTRY on N (its --ip, or the next free one). */
static int endpoint_address_locked (struct network *n, json_t *entry, struct in_addr *ip, berth_err *err)
{
  const char *want = berth_json_str (berth_json_obj (entry, "IPAMConfig"), "IPv4Address");
  if (want && *want)
    {
      if (net_ip_parse (want, ip, err) < 0)
        return -EINVAL;
      int r = net_pool_reserve (n->pool, *ip, err);
      if (r == -EADDRINUSE)
        return berth_fail_as (err, EEXIST, "Address already in use");
      return r;
    }
  return net_pool_alloc (n->pool, ip, err);
}

/* Bring up the endpoint of network entry NAME/ENTRY in SB as interface
 * IFINDEX (eth0, eth1...); default route only for the first one. */
static int endpoint_up (struct berthd *d, struct container *c, struct sandbox *sb, const char *name, json_t *entry,
                        int ifindex, bool *default_route_set, berth_err *err)
{
  struct networks *ns = d->networks;
  cleanup_free struct live_endpoint *e = calloc (1, sizeof *e);
  if (e == NULL)
    return berth_fail (err, ENOMEM, "endpoint");
  if (berthd_new_id (e->endpoint_id) < 0)
    return berth_fail_errno (err, "endpoint id");
  pthread_mutex_lock (&ns->lock);
  const char *nid = berth_json_str (entry, "NetworkID");
  struct network *n = nid ? network_by_id_locked (ns, nid) : NULL;
  if (n == NULL)
    n = network_find_locked (ns, name, NULL);
  if (n == NULL || n->driver != NET_DRIVER_BRIDGE)
    {
      pthread_mutex_unlock (&ns->lock);
      return berth_fail_as (err, ENOENT, "network %s not found", name);
    }
  int r = endpoint_address_locked (n, entry, &e->ip, err);
  struct network copy = *n; /* bridge name etc., for use outside the lock */
  char bridge[16];
  snprintf (bridge, sizeof bridge, "%s", n->bridge);
  pthread_mutex_unlock (&ns->lock);
  if (r < 0)
    return berth_error_prefix (err, "network %s", name);
  snprintf (e->network_id, sizeof e->network_id, "%s", copy.id);
  host_ifname_of (e->endpoint_id, e->host_ifname);
  e->names = endpoint_names (c, entry);
  char ct_ifname[16];
  snprintf (ct_ifname, sizeof ct_ifname, "eth%d", ifindex);
  struct net_endpoint_config cfg = {
    .sandbox = sb->path,
    .bridge = bridge,
    .host_ifname = e->host_ifname,
    .ct_ifname = ct_ifname,
    .addr = e->ip,
    .prefix = copy.subnet.prefix,
    .gateway = copy.gateway,
    .set_default_route = !copy.internal && !*default_route_set,
    .mtu = network_mtu (ns, &copy),
  };
  net_mac_from_ip (e->ip, cfg.mac);
  r = net_endpoint_attach (&cfg, err);
  if (r < 0)
    {
      pthread_mutex_lock (&ns->lock);
      struct network *again = network_by_id_locked (ns, copy.id);
      if (again)
        net_pool_release (again->pool, e->ip);
      pthread_mutex_unlock (&ns->lock);
      struct live_endpoint *dead = take_ptr (e);
      endpoint_free (dead);
      return berth_error_prefix (err, "network %s", name);
    }
  if (cfg.set_default_route)
    *default_route_set = true;
  settings_set_live (d, entry, &copy, e, cfg.mac);
  if (network_is_user_defined (&copy))
    sb->dns = true; /* registered below, once every endpoint is up */
  pthread_mutex_lock (&ns->lock);
  e->next = sb->endpoints;
  sb->endpoints = take_ptr (e);
  pthread_mutex_unlock (&ns->lock);
  return 0;
}

/* ---- ports ---- */

struct port_request
{
  enum net_proto proto;
  uint16_t ct_port;
  struct in_addr host_ip;
  uint16_t host_port;
};

/* "80/tcp" -> port and protocol. */
static int parse_port_key (const char *key, uint16_t *port, enum net_proto *proto, berth_err *err)
{
  char *end = NULL;
  long p = strtol (key, &end, 10);
  if (end == key || p <= 0 || p > 65535)
    return berth_fail_as (err, EINVAL, "invalid port specification: \"%s\"", key);
  *port = (uint16_t) p;
  *proto = NET_TCP;
  if (*end == '/' && net_proto_parse (end + 1, proto) < 0)
    return berth_fail_as (err, EINVAL, "invalid proto: %s", end + 1);
  if (*end != '\0' && *end != '/')
    return berth_fail_as (err, EINVAL, "invalid port specification: \"%s\"", key);
  return 0;
}

static int parse_binding (json_t *b, struct port_request *pr, berth_err *err)
{
  const char *ip = berth_json_str (b, "HostIp"), *port = berth_json_str (b, "HostPort");
  pr->host_ip.s_addr = INADDR_ANY;
  pr->host_port = 0;
  if (ip && *ip && net_ip_parse (ip, &pr->host_ip, err) < 0)
    return berth_fail_as (err, EINVAL, "invalid host IP %s for a published port", ip);
  if (port && *port)
    {
      char *end = NULL;
      long p = strtol (port, &end, 10);
      if (end == port || *end || p < 0 || p > 65535)
        return berth_fail_as (err, EINVAL, "invalid host port %s (port ranges are not supported yet)", port);
      pr->host_port = (uint16_t) p;
    }
  return 0;
}

/* Every requested publication: PortBindings, then with PublishAllPorts
 * each ExposedPort not bound yet, on a random host port. */
static int port_requests (struct container *c, struct port_request **out, size_t *n_out, berth_err *err)
{
  json_t *bindings = json_object_get (c->host_config, "PortBindings");
  size_t cap = 4, n = 0;
  cleanup_free struct port_request *reqs = calloc (cap, sizeof *reqs);
  const char *key;
  json_t *list;
  int r = 0;
  json_t *all = json_deep_copy (bindings && json_is_object (bindings) ? bindings : NULL) ?: json_object ();
  if (json_is_true (json_object_get (c->host_config, "PublishAllPorts")))
    json_object_foreach (json_object_get (c->config, "ExposedPorts"), key, list)
      if (json_array_size (json_object_get (all, key)) == 0)
        json_object_set_new (all, key, json_pack ("[{s:s, s:s}]", "HostIp", "", "HostPort", ""));
  json_object_foreach (all, key, list)
    {
      size_t i;
      json_t *b;
      uint16_t ct_port;
      enum net_proto proto;
      if ((r = parse_port_key (key, &ct_port, &proto, err)) < 0)
        break;
      json_array_foreach (list, i, b)
        {
          if (n == cap && (reqs = reallocarray (reqs, cap *= 2, sizeof *reqs)) == NULL)
            return json_decref (all), berth_fail (err, ENOMEM, "ports");
          reqs[n] = (struct port_request) { .proto = proto, .ct_port = ct_port };
          if ((r = parse_binding (b, &reqs[n], err)) < 0)
            break;
          n++;
        }
      if (r < 0)
        break;
    }
  json_decref (all);
  if (r < 0)
    return r;
  *out = take_ptr (reqs);
  *n_out = n;
  return 0;
}

static void ports_json_add (json_t *ports, const struct net_port_map *m)
{
  char key[32], ip[INET_ADDRSTRLEN], port[8];
  snprintf (key, sizeof key, "%u/%s", m->ct_port, net_proto_name (m->proto));
  inet_ntop (AF_INET, &m->host_ip, ip, sizeof ip);
  snprintf (port, sizeof port, "%u", m->host_port);
  json_t *list = json_object_get (ports, key);
  if (!json_is_array (list))
    json_object_set_new (ports, key, list = json_array ());
  json_array_append_new (list, json_pack ("{s:s, s:s}", "HostIp", ip, "HostPort", port));
}

static int publish_ports (struct berthd *d, struct container *c, struct sandbox *sb, struct in_addr ct_ip,
                          berth_err *err)
{
  cleanup_free struct port_request *reqs = NULL;
  size_t n = 0;
  int r = port_requests (c, &reqs, &n, err);
  if (r < 0 || n == 0)
    return r;
  sb->ports = calloc (n, sizeof *sb->ports);
  sb->port_fds = calloc (n, sizeof *sb->port_fds);
  if (sb->ports == NULL || sb->port_fds == NULL)
    return berth_fail (err, ENOMEM, "ports");
  json_t *ports = json_object ();
  for (size_t i = 0; i < n && r == 0; i++)
    {
      struct net_port_map m = { reqs[i].proto, reqs[i].host_ip, reqs[i].host_port, ct_ip, reqs[i].ct_port };
      int fd = net_port_reserve (m.proto, m.host_ip, &m.host_port, err);
      if (fd < 0)
        {
          r = fd;
          break;
        }
      sb->port_fds[sb->n_ports] = fd;
      sb->ports[sb->n_ports++] = m;
      r = net_fw_add_port (d->networks->fw, &m, err);
      if (r < 0)
        sb->ports[sb->n_ports - 1].host_port = 0; /* not in the firewall */
      else
        ports_json_add (ports, &m);
    }
  /* Exposed but unpublished ports show as null, as in Docker. */
  const char *key;
  json_t *v;
  json_object_foreach (json_object_get (c->config, "ExposedPorts"), key, v)
    if (json_object_get (ports, key) == NULL)
      json_object_set_new (ports, key, json_null ());
  containers_lock (d->containers);
  json_object_set_new (c->net_settings, "Ports", ports);
  containers_unlock (d->containers);
  return r;
}

static void unpublish_ports (struct networks *ns, struct sandbox *sb)
{
  for (size_t i = 0; i < sb->n_ports; i++)
    {
      berth_err err = NULL;
      if (sb->ports[i].host_port && net_fw_remove_port (ns->fw, &sb->ports[i], &err) < 0)
        {
          berth_log (BERTH_LOG_WARNING, "unpublish port %u: %s", sb->ports[i].host_port, err->msg);
          berth_error_free (&err);
        }
      close (sb->port_fds[i]);
      sb->port_fds[i] = -1;
    }
  sb->n_ports = 0;
}

/* Serve the sandbox's DNS; a container's --dns servers are its upstreams
 * (on user networks its resolv.conf names only 127.0.0.11). */
static int dns_register (struct networks *ns, struct container *c, const char *path, berth_err *err)
{
  cleanup_strv char **servers = NULL;
  if (berth_json_strv (json_object_get (c->host_config, "Dns"), &servers, "HostConfig.Dns", err) < 0)
    return -EINVAL;
  return net_dns_add_sandbox_upstreams (ns->dns, c->id, path, (const char *const *) servers, err);
}

/* ---- up and down ---- */

static struct sandbox *sandbox_new (struct networks *ns, const char *id)
{
  struct sandbox *sb = calloc (1, sizeof *sb);
  if (sb == NULL || (sb->path = sandbox_path (ns, id)) == NULL)
    {
      free (sb);
      return NULL;
    }
  snprintf (sb->container_id, sizeof sb->container_id, "%s", id);
  return sb;
}

static int endpoints_up (struct berthd *d, struct container *c, struct sandbox *sb, berth_err *err)
{
  json_t *nets = json_object_get (c->net_settings, "Networks");
  const char *name;
  json_t *entry;
  int index = 0, r = 0;
  bool route = false;
  struct in_addr primary = { 0 };
  json_object_foreach (nets, name, entry)
    {
      if ((r = endpoint_up (d, c, sb, name, entry, index++, &route, err)) < 0)
        return r;
      if (index == 1)
        primary = sb->endpoints->ip;
    }
  return publish_ports (d, c, sb, primary, err);
}

/* Docker's "network connect"/"disconnect" events for each of SB's
 * endpoints, as a container starts and stops (names looked up first, the
 * events sent without the lock). */
static void endpoint_events (struct berthd *d, struct sandbox *sb, const char *container_id, const char *action)
{
  struct networks *ns = d->networks;
  cleanup_json json_t *list = json_array ();
  pthread_mutex_lock (&ns->lock);
  for (struct live_endpoint *e = sb->endpoints; e; e = e->next)
    {
      struct network *n = network_by_id_locked (ns, e->network_id);
      if (n)
        json_array_append_new (list, json_pack ("[s,s]", n->id, n->name));
    }
  pthread_mutex_unlock (&ns->lock);
  size_t i;
  json_t *v;
  json_array_foreach (list, i, v)
    network_event_container (d, json_string_value (json_array_get (v, 0)), json_string_value (json_array_get (v, 1)),
                             action, container_id);
}

int network_container_up (struct berthd *d, struct container *c, char **netns_path, berth_err *err)
{
  struct networks *ns = d->networks;
  *netns_path = NULL;
  const char *mode = mode_of (c->host_config);
  bool none = strcmp (mode, "none") == 0;
  if ((mode_is_special (mode) && !none) || (!none && json_object_size (json_object_get (c->net_settings, "Networks")) == 0))
    return 0;
  network_container_down (d, c); /* leftovers of an earlier run */
  struct sandbox *sb = sandbox_new (ns, c->id);
  if (sb == NULL)
    return berth_fail (err, ENOMEM, "sandbox");
  int r = net_sandbox_create (sb->path, err);
  if (r < 0)
    {
      sandbox_free (sb);
      return berth_error_prefix (err, "network sandbox");
    }
  pthread_mutex_lock (&ns->lock);
  sb->next = ns->sandboxes;
  ns->sandboxes = sb;
  pthread_mutex_unlock (&ns->lock);
  /* "none": only lo, which the sandbox brings up (a namespace the
   * runtime made would have it down). */
  r = none ? 0 : endpoints_up (d, c, sb, err);
  if (r == 0 && sb->dns && ns->dns)
    r = dns_register (ns, c, sb->path, err);
  if (r < 0)
    {
      network_container_down (d, c);
      return r;
    }
  *netns_path = strdup (sb->path);
  endpoint_events (d, sb, c->id, "connect");
  return 0;
}

static struct sandbox *sandbox_take (struct networks *ns, const char *id)
{
  pthread_mutex_lock (&ns->lock);
  struct sandbox *found = NULL;
  for (struct sandbox **p = &ns->sandboxes; *p; p = &(*p)->next)
    if (strcmp ((*p)->container_id, id) == 0)
      {
        found = *p;
        *p = found->next;
        break;
      }
  pthread_mutex_unlock (&ns->lock);
  return found;
}

static void release_addresses (struct networks *ns, struct sandbox *sb)
{
  pthread_mutex_lock (&ns->lock);
  for (struct live_endpoint *e = sb->endpoints; e; e = e->next)
    {
      struct network *n = network_by_id_locked (ns, e->network_id);
      if (n && n->pool)
        net_pool_release (n->pool, e->ip);
    }
  pthread_mutex_unlock (&ns->lock);
}

/* Veths named after the endpoints in the settings (for a container whose
 * sandbox berthd did not track: it stopped while berthd was down). */
static void detach_from_settings (struct container *c)
{
  const char *name;
  json_t *entry;
  json_object_foreach (json_object_get (c->net_settings, "Networks"), name, entry)
    {
      const char *eid = berth_json_str (entry, "EndpointID");
      char ifname[16];
      if (eid == NULL || strlen (eid) < 10)
        continue;
      host_ifname_of (eid, ifname);
      net_endpoint_detach (ifname, NULL);
    }
}

void network_container_down (struct berthd *d, struct container *c)
{
  struct networks *ns = d->networks;
  if (ns == NULL)
    return;
  struct sandbox *sb = sandbox_take (ns, c->id);
  if (sb && sb->dns && ns->dns)
    net_dns_remove_sandbox (ns->dns, c->id);
  if (sb)
    {
      endpoint_events (d, sb, c->id, "disconnect");
      unpublish_ports (ns, sb);
      for (struct live_endpoint *e = sb->endpoints; e; e = e->next)
        net_endpoint_detach (e->host_ifname, NULL);
      release_addresses (ns, sb);
    }
  else
    detach_from_settings (c);
  cleanup_free char *path = sandbox_path (ns, c->id);
  berth_err err = NULL;
  if (path && net_sandbox_destroy (path, &err) < 0)
    {
      berth_log (BERTH_LOG_WARNING, "container %.12s: %s", c->id, err->msg);
      berth_error_free (&err);
    }
  sandbox_free (sb);
  containers_lock (d->containers);
  const char *name;
  json_t *entry;
  json_object_foreach (json_object_get (c->net_settings, "Networks"), name, entry)
    settings_clear_live (entry);
  if (c->net_settings)
    json_object_set_new (c->net_settings, "Ports", json_object ());
  containers_unlock (d->containers);
}

/* ---- adopt after a daemon restart ---- */

static int adopt_endpoint (struct berthd *d, struct container *c, struct sandbox *sb, json_t *entry)
{
  struct networks *ns = d->networks;
  const char *ip = berth_json_str (entry, "IPAddress"), *eid = berth_json_str (entry, "EndpointID");
  struct in_addr a;
  if (ip == NULL || eid == NULL || strlen (eid) != 64 || net_ip_parse (ip, &a, NULL) < 0)
    return -EINVAL;
  struct live_endpoint *e = calloc (1, sizeof *e);
  if (e == NULL)
    return -ENOMEM;
  e->ip = a;
  snprintf (e->endpoint_id, sizeof e->endpoint_id, "%s", eid);
  host_ifname_of (eid, e->host_ifname);
  e->names = endpoint_names (c, entry);
  pthread_mutex_lock (&ns->lock);
  struct network *n = network_by_id_locked (ns, berth_json_str (entry, "NetworkID") ?: "");
  if (n && n->pool)
    {
      net_pool_reserve (n->pool, a, NULL);
      snprintf (e->network_id, sizeof e->network_id, "%s", n->id);
      if (network_is_user_defined (n))
        sb->dns = true;
    }
  e->next = sb->endpoints;
  sb->endpoints = e;
  pthread_mutex_unlock (&ns->lock);
  return 0;
}

/* The published ports again: sockets bound anew, firewall elements
 * re-added (the table was rebuilt empty at start). */
static void adopt_ports (struct berthd *d, struct container *c, struct sandbox *sb)
{
  json_t *ports = json_object_get (c->net_settings, "Ports");
  size_t total = 0;
  const char *key;
  json_t *list;
  json_object_foreach (ports, key, list)
    total += json_array_size (list);
  if (total == 0 || sb->endpoints == NULL)
    return;
  sb->ports = calloc (total, sizeof *sb->ports);
  sb->port_fds = calloc (total, sizeof *sb->port_fds);
  if (sb->ports == NULL || sb->port_fds == NULL)
    return;
  struct live_endpoint *primary = sb->endpoints;
  while (primary->next)
    primary = primary->next; /* the list is newest first: the primary is last */
  json_object_foreach (ports, key, list)
    {
      size_t i;
      json_t *b;
      json_array_foreach (list, i, b)
        {
          struct port_request pr;
          struct net_port_map m;
          berth_err err = NULL;
          if (parse_port_key (key, &m.ct_port, &m.proto, &err) < 0 || parse_binding (b, &pr, &err) < 0)
            {
              berth_error_free (&err);
              continue;
            }
          m.host_ip = pr.host_ip;
          m.host_port = pr.host_port;
          m.ct_ip = primary->ip;
          int fd = net_port_reserve (m.proto, m.host_ip, &m.host_port, &err);
          if (fd >= 0 && net_fw_add_port (d->networks->fw, &m, &err) == 0)
            {
              sb->port_fds[sb->n_ports] = fd;
              sb->ports[sb->n_ports++] = m;
              continue;
            }
          berth_log (BERTH_LOG_WARNING, "container %.12s: port %s: %s", c->id, key, err ? err->msg : "?");
          berth_error_free (&err);
          if (fd >= 0)
            close (fd);
        }
    }
}

void network_container_adopt (struct berthd *d, struct container *c)
{
  struct networks *ns = d->networks;
  if (mode_is_special (mode_of (c->host_config)))
    return;
  pthread_mutex_lock (&ns->lock);
  bool known = sandbox_find_locked (ns, c->id) != NULL;
  pthread_mutex_unlock (&ns->lock);
  struct sandbox *sb = known ? NULL : sandbox_new (ns, c->id);
  if (sb == NULL)
    return;
  const char *name;
  json_t *entry;
  json_object_foreach (json_object_get (c->net_settings, "Networks"), name, entry)
    adopt_endpoint (d, c, sb, entry);
  adopt_ports (d, c, sb);
  pthread_mutex_lock (&ns->lock);
  sb->next = ns->sandboxes;
  ns->sandboxes = sb;
  pthread_mutex_unlock (&ns->lock);
  berth_err err = NULL;
  if (sb->dns && ns->dns && dns_register (ns, c, sb->path, &err) < 0)
    {
      berth_log (BERTH_LOG_WARNING, "container %.12s: DNS: %s", c->id, err->msg);
      berth_error_free (&err);
      sb->dns = false;
    }
}

/* ---- connect and disconnect ---- */

/* A running container joined its first user network: its resolv.conf now
 * names the embedded DNS server, as Docker rewrites it then.  Written in
 * place, since the file is bind-mounted into the container by inode. */
static void resolv_conf_use_dns (struct container *c)
{
  cleanup_free char *path = NULL;
  cleanup_free char *content = spec_resolv_conf (c->host_config, true);
  if (content == NULL || asprintf (&path, "%s/resolv.conf", c->dir) < 0)
    return;
  cleanup_close int fd = open (path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd >= 0 && berth_write_all (fd, content, strlen (content)) < 0)
    berth_log (BERTH_LOG_WARNING, "container %.12s: rewrite resolv.conf: %s", c->id, strerror (errno));
}

static int live_connect (struct berthd *d, struct container *c, const char *name, json_t *entry, berth_err *err)
{
  struct networks *ns = d->networks;
  pthread_mutex_lock (&ns->lock);
  struct sandbox *sb = sandbox_find_locked (ns, c->id);
  int index = 0;
  for (struct live_endpoint *e = sb ? sb->endpoints : NULL; e; e = e->next)
    index++;
  bool had_dns = sb && sb->dns;
  pthread_mutex_unlock (&ns->lock);
  if (sb == NULL)
    return berth_fail_as (err, EINVAL, "container %.12s has no network sandbox", c->id);
  bool route = true; /* the primary network keeps the default route */
  int r = endpoint_up (d, c, sb, name, entry, index, &route, err);
  if (r == 0 && sb->dns && !had_dns && ns->dns && (r = dns_register (ns, c, sb->path, err)) < 0)
    sb->dns = false;
  if (r == 0 && sb->dns && !had_dns)
    resolv_conf_use_dns (c);
  return r;
}

int network_connect (struct berthd *d, const char *net, const char *container, json_t *config, berth_err *err)
{
  struct container *c = NULL;
  int r = container_get (d->containers, container, &c, err);
  if (r < 0)
    return r;
  pthread_mutex_lock (&c->op_lock);
  const char *mode = mode_of (c->host_config);
  struct networks *ns = d->networks;
  cleanup_json json_t *staging = json_pack ("{s:{}}", "Networks");
  cleanup_free char *name = NULL, *nid = NULL;
  if (mode_is_special (mode))
    r = berth_fail_as (err, EINVAL, "container sharing network namespace with another container or host cannot be "
                                    "connected to any other network");
  if (r == 0)
    {
      pthread_mutex_lock (&ns->lock);
      struct network *n = network_find_locked (ns, net, err);
      r = n ? add_endpoint_locked (ns, staging, n->name, config, err) : -ENOENT;
      if (n && r == 0)
        name = strdup (n->name), nid = strdup (n->id);
      pthread_mutex_unlock (&ns->lock);
    }
  if (r == 0 && json_object_get (json_object_get (c->net_settings, "Networks"), name))
    r = berth_fail_as (err, EEXIST, "endpoint with name %s already exists in network %s", c->name + 1, name);
  json_t *entry = r == 0 ? json_object_get (json_object_get (staging, "Networks"), name) : NULL;
  if (r == 0)
    {
      containers_lock (d->containers);
      json_object_set (json_object_get (c->net_settings, "Networks"), name, entry);
      bool running = c->status == CT_RUNNING || c->status == CT_PAUSED;
      containers_unlock (d->containers);
      if (running && (r = live_connect (d, c, name, entry, err)) < 0)
        {
          containers_lock (d->containers);
          json_object_del (json_object_get (c->net_settings, "Networks"), name);
          containers_unlock (d->containers);
        }
    }
  if (r == 0)
    {
      containers_lock (d->containers);
      container_save (d->containers, c, NULL);
      containers_unlock (d->containers);
    }
  pthread_mutex_unlock (&c->op_lock);
  if (r == 0)
    network_event_container (d, nid, name, "connect", c->id);
  container_put (d->containers, c);
  return r;
}

static void live_disconnect (struct berthd *d, struct container *c, const char *nid)
{
  struct networks *ns = d->networks;
  struct live_endpoint *gone = NULL;
  pthread_mutex_lock (&ns->lock);
  struct sandbox *sb = sandbox_find_locked (ns, c->id);
  for (struct live_endpoint **p = sb ? &sb->endpoints : NULL; p && *p; p = &(*p)->next)
    if (strcmp ((*p)->network_id, nid) == 0)
      {
        gone = *p;
        *p = gone->next;
        struct network *n = network_by_id_locked (ns, nid);
        if (n && n->pool)
          net_pool_release (n->pool, gone->ip);
        break;
      }
  pthread_mutex_unlock (&ns->lock);
  if (gone)
    net_endpoint_detach (gone->host_ifname, NULL);
  endpoint_free (gone);
}

int network_disconnect (struct berthd *d, const char *net, const char *container, bool force, berth_err *err)
{
  struct container *c = NULL;
  int r = container_get (d->containers, container, &c, err);
  if (r < 0)
    return r;
  pthread_mutex_lock (&c->op_lock);
  struct networks *ns = d->networks;
  cleanup_free char *name = NULL, *nid = NULL;
  pthread_mutex_lock (&ns->lock);
  struct network *n = network_find_locked (ns, net, err);
  if (n)
    name = strdup (n->name), nid = strdup (n->id);
  pthread_mutex_unlock (&ns->lock);
  if (n == NULL)
    r = -ENOENT;
  else if (json_object_get (json_object_get (c->net_settings, "Networks"), name) == NULL)
    r = berth_fail_as (err, EINVAL, "container %s is not connected to network %s", c->id, name);
  else if (mode_is_special (mode_of (c->host_config)) && !force)
    r = berth_fail_as (err, EINVAL, "container cannot be disconnected from host network or connected to host network");
  if (r == 0)
    {
      live_disconnect (d, c, nid);
      containers_lock (d->containers);
      json_object_del (json_object_get (c->net_settings, "Networks"), name);
      container_save (d->containers, c, NULL);
      containers_unlock (d->containers);
    }
  pthread_mutex_unlock (&c->op_lock);
  if (r == 0)
    network_event_container (d, nid, name, "disconnect", c->id);
  container_put (d->containers, c);
  return r;
}

/* ---- DNS records ---- */

static bool endpoint_has_name (struct live_endpoint *e, const char *name)
{
  for (char **p = e->names; p && *p; p++)
    if (strcmp (*p, name) == 0)
      return true;
  return false;
}

static bool shares_network (struct sandbox *sb, const char *network_id)
{
  for (struct live_endpoint *e = sb->endpoints; e; e = e->next)
    if (strcmp (e->network_id, network_id) == 0)
      return true;
  return false;
}

int network_dns_lookup (void *ctx, const char *key, const char *name, struct in_addr *out, int max)
{
  struct networks *ns = ctx;
  int found = 0;
  pthread_mutex_lock (&ns->lock);
  struct sandbox *self = sandbox_find_locked (ns, key);
  for (struct sandbox *sb = ns->sandboxes; self && sb && found < max; sb = sb->next)
    for (struct live_endpoint *e = sb->endpoints; e && found < max; e = e->next)
      {
        struct network *n = network_by_id_locked (ns, e->network_id);
        if (n && network_is_user_defined (n) && shares_network (self, e->network_id) && endpoint_has_name (e, name))
          out[found++] = e->ip;
      }
  pthread_mutex_unlock (&ns->lock);
  return found;
}

int network_dns_reverse (void *ctx, const char *key, struct in_addr a, char *buf, size_t size)
{
  struct networks *ns = ctx;
  int r = -ENOENT;
  pthread_mutex_lock (&ns->lock);
  struct sandbox *self = sandbox_find_locked (ns, key);
  for (struct sandbox *sb = ns->sandboxes; self && sb && r < 0; sb = sb->next)
    for (struct live_endpoint *e = sb->endpoints; e && r < 0; e = e->next)
      {
        struct network *n = network_by_id_locked (ns, e->network_id);
        if (e->ip.s_addr == a.s_addr && n && network_is_user_defined (n) && shares_network (self, e->network_id)
            && e->names && e->names[0])
          {
            snprintf (buf, size, "%s.%s", e->names[0], n->name);
            r = 0;
          }
      }
  pthread_mutex_unlock (&ns->lock);
  return r;
}

int network_dns_start (struct networks *ns, berth_err *err)
{
  return net_dns_start (network_dns_lookup, network_dns_reverse, ns, &ns->dns, err);
}

/* ---- the container's files ---- */

char *network_hosts_lines (struct berthd *d, struct container *c)
{
  struct networks *ns = d->networks;
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&out, &len);
  if (f == NULL)
    return NULL;
  const char *hostname = json_string_value (json_object_get (c->config, "Hostname")) ?: "";
  pthread_mutex_lock (&ns->lock);
  struct sandbox *sb = sandbox_find_locked (ns, c->id);
  for (struct live_endpoint *e = sb ? sb->endpoints : NULL; e; e = e->next)
    {
      char ip[INET_ADDRSTRLEN];
      inet_ntop (AF_INET, &e->ip, ip, sizeof ip);
      fprintf (f, "%s\t%s\n", ip, hostname);
    }
  pthread_mutex_unlock (&ns->lock);
  fclose (f);
  return out;
}

bool network_container_uses_dns (struct berthd *d, struct container *c)
{
  struct networks *ns = d->networks;
  pthread_mutex_lock (&ns->lock);
  struct sandbox *sb = sandbox_find_locked (ns, c->id);
  bool dns = sb && sb->dns && ns->dns;
  pthread_mutex_unlock (&ns->lock);
  return dns;
}

/* ---- what an interrupted start or build step left ---- */

/* In a stale sandbox: delete every link but lo.  A veth's end in here
 * takes its host end off the bridge with it, even when a process left in
 * the namespace keeps the namespace itself alive. */
static int delete_sandbox_links (void *arg)
{
  (void) arg;
  struct if_nameindex *links = if_nameindex ();
  if (links == NULL)
    return -errno;
  for (struct if_nameindex *l = links; l->if_index != 0; l++)
    if (strcmp (l->if_name, "lo") != 0)
      (void) net_link_delete (l->if_name, NULL);
  if_freenameindex (links);
  return 0;
}

void network_sandboxes_sweep (struct berthd *d)
{
  struct networks *ns = d->networks;
  cleanup_dir DIR *dir = ns ? opendir (ns->netns_dir) : NULL;
  struct dirent *de;
  while (dir && (de = readdir (dir)))
    {
      if (de->d_name[0] == '.')
        continue;
      /* A container's own (a running one with --network none has a
       * sandbox but no record of it after a restart) stays. */
      struct container *c = NULL;
      berth_err err = NULL;
      bool owned = container_get (d->containers, de->d_name, &c, &err) == 0 && strcmp (c->id, de->d_name) == 0;
      berth_error_free (&err);
      if (c)
        container_put (d->containers, c);
      pthread_mutex_lock (&ns->lock);
      owned = owned || sandbox_find_locked (ns, de->d_name) != NULL;
      pthread_mutex_unlock (&ns->lock);
      cleanup_free char *path = owned ? NULL : sandbox_path (ns, de->d_name);
      if (path == NULL)
        continue;
      berth_debug ("networks: removing the stale sandbox %.12s", de->d_name);
      if (net_sandbox_run (path, delete_sandbox_links, NULL, &err) < 0)
        berth_error_free (&err);
      if (net_sandbox_destroy (path, &err) < 0)
        {
          berth_log (BERTH_LOG_WARNING, "networks: %s", err->msg);
          berth_error_free (&err);
        }
    }
}
