/* Docker's JSON shapes of networks, and of a container's NetworkSettings;
 * network filters and events. */
#include "daemon/network-internal.h"
#include "daemon/container.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "common/cleanup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *driver_name (enum network_driver d)
{
  static const char *const names[] = { "bridge", "host", "null" };
  return names[d];
}

static json_t *ipam_json (struct network *n)
{
  json_t *configs = json_array ();
  if (n->driver == NET_DRIVER_BRIDGE)
    {
      char subnet[NET_CIDR_STRLEN], range[NET_CIDR_STRLEN], gw[INET_ADDRSTRLEN];
      inet_ntop (AF_INET, &n->gateway, gw, sizeof gw);
      json_t *c = json_pack ("{s:s, s:s}", "Subnet", net_cidr_format (&n->subnet, subnet), "Gateway", gw);
      if (n->has_range)
        json_object_set_new (c, "IPRange", json_string (net_cidr_format (&n->range, range)));
      json_array_append_new (configs, c);
    }
  return json_pack ("{s:s, s:n, s:o}", "Driver", "default", "Options", "Config", configs);
}

/* Containers: {id: {Name, EndpointID, MacAddress, IPv4Address, IPv6Address}}
 * for the live endpoints on the network NAME. */
static json_t *containers_json (struct networks *ns, const char *name)
{
  json_t *out = json_object ();
  size_t count = 0;
  struct container **all = containers_all (ns->d->containers, &count);
  containers_lock (ns->d->containers);
  for (size_t i = 0; i < count; i++)
    {
      json_t *entry = json_object_get (json_object_get (all[i]->net_settings, "Networks"), name);
      const char *ip = berth_json_str (entry, "IPAddress");
      if (entry == NULL || ip == NULL || *ip == '\0')
        continue;
      char cidr[32];
      snprintf (cidr, sizeof cidr, "%s/%d", ip, (int) berth_json_int (entry, "IPPrefixLen", 0));
      json_object_set_new (out, all[i]->id,
                           json_pack ("{s:s, s:s, s:s, s:s, s:s}", "Name", all[i]->name + 1, "EndpointID",
                                      berth_json_str (entry, "EndpointID") ?: "", "MacAddress",
                                      berth_json_str (entry, "MacAddress") ?: "", "IPv4Address", cidr,
                                      "IPv6Address", ""));
    }
  containers_unlock (ns->d->containers);
  containers_put_all (ns->d->containers, all, count);
  return out;
}

json_t *network_to_json (struct network *n)
{
  json_t *j = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:b, s:b, s:b, s:{s:s}, s:b, s:O, s:O}", "Name",
                         n->name, "Id", n->id, "Created", n->created, "Scope", "local", "Driver",
                         driver_name (n->driver), "EnableIPv6", 0, "IPAM", ipam_json (n), "Internal", n->internal,
                         "Attachable", n->attachable, "Ingress", 0, "ConfigFrom", "Network", "", "ConfigOnly", 0,
                         "Options", n->options, "Labels", n->labels);
  if (j)
    json_object_set_new (j, "Containers", json_object ());
  return j;
}

int network_inspect (struct berthd *d, const char *name_or_id, json_t **out, berth_err *err)
{
  struct networks *ns = d->networks;
  pthread_mutex_lock (&ns->lock);
  struct network *n = network_find_locked (ns, name_or_id, err);
  json_t *j = n ? network_to_json (n) : NULL;
  pthread_mutex_unlock (&ns->lock);
  if (j == NULL)
    return n ? berth_fail (err, ENOMEM, "network") : -ENOENT;
  /* The containers come from the containers' side, outside our lock: the
   * container code nests the networks lock inside the containers lock. */
  json_object_set_new (j, "Containers", containers_json (ns, berth_json_str (j, "Name")));
  *out = j;
  return 0;
}

/* ---- filters ---- */

static bool any_value (json_t *filters, const char *key, bool (*match) (struct network *, const char *),
                       struct network *n)
{
  size_t i;
  json_t *v;
  cleanup_json json_t *values = api_filter_values (filters, key);
  if (json_array_size (values) == 0)
    return true;
  json_array_foreach (values, i, v)
    if (json_is_string (v) && match (n, json_string_value (v)))
      return true;
  return false;
}

static bool match_name (struct network *n, const char *v)
{
  return strstr (n->name, v) != NULL;
}

static bool match_id (struct network *n, const char *v)
{
  return strncmp (n->id, v, strlen (v)) == 0;
}

static bool match_driver (struct network *n, const char *v)
{
  return strcmp (driver_name (n->driver), v) == 0;
}

static bool match_type (struct network *n, const char *v)
{
  return strcmp (v, n->builtin ? "builtin" : "custom") == 0;
}

static bool match_scope (struct network *n, const char *v)
{
  return strcmp (v, "local") == 0;
}

static bool match_label (struct network *n, const char *v)
{
  const char *eq = strchr (v, '=');
  cleanup_free char *key = eq ? strndup (v, (size_t) (eq - v)) : strdup (v);
  const char *have = key ? berth_json_str (n->labels, key) : NULL;
  return have && (eq == NULL || strcmp (have, eq + 1) == 0);
}

/* Every "label" value must match; any value of the other keys. */
bool network_matches_filters (struct network *n, json_t *filters)
{
  size_t i;
  json_t *v;
  cleanup_json json_t *labels = api_filter_values (filters, "label");
  json_array_foreach (labels, i, v)
    if (!json_is_string (v) || !match_label (n, json_string_value (v)))
      return false;
  return any_value (filters, "name", match_name, n) && any_value (filters, "id", match_id, n)
         && any_value (filters, "driver", match_driver, n) && any_value (filters, "type", match_type, n)
         && any_value (filters, "scope", match_scope, n);
}

int network_list (struct berthd *d, json_t *filters, json_t **out, berth_err *err)
{
  struct networks *ns = d->networks;
  json_t *list = json_array ();
  cleanup_json json_t *dangling = api_filter_values (filters, "dangling");
  bool want_dangling = json_array_size (dangling) > 0
                       && (strcmp (json_string_value (json_array_get (dangling, 0)) ?: "", "true") == 0
                           || strcmp (json_string_value (json_array_get (dangling, 0)) ?: "", "1") == 0);
  pthread_mutex_lock (&ns->lock);
  for (struct network *n = ns->list; n; n = n->next)
    {
      if (!network_matches_filters (n, filters))
        continue;
      if (json_array_size (dangling) > 0 && want_dangling != (!n->builtin && network_count_endpoints_locked (ns, n) == 0))
        continue;
      json_array_append_new (list, network_to_json (n));
    }
  pthread_mutex_unlock (&ns->lock);
  *out = list;
  (void) err;
  return 0;
}

/* ---- events ---- */

void network_event (struct berthd *d, const char *id, const char *name, const char *action)
{
  events_emit (d->events, "network", action, id, json_pack ("{s:s, s:s}", "name", name, "type", "bridge"));
}

void network_event_container (struct berthd *d, const char *id, const char *name, const char *action,
                              const char *container_id)
{
  events_emit (d->events, "network", action, id,
               json_pack ("{s:s, s:s, s:s}", "container", container_id, "name", name, "type", "bridge"));
}

/* ---- a container's NetworkSettings ---- */

static json_t *full_endpoint (json_t *entry)
{
  json_t *e = json_pack ("{s:n, s:n, s:n, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:n, s:n}", "IPAMConfig",
                         "Links", "Aliases", "MacAddress", "", "NetworkID", "", "EndpointID", "", "Gateway", "",
                         "IPAddress", "", "IPPrefixLen", 0, "IPv6Gateway", "", "GlobalIPv6Address", "",
                         "GlobalIPv6PrefixLen", 0, "DriverOpts", "DNSNames");
  json_object_update_existing (e, entry);
  return e;
}

json_t *network_settings_summary (struct container *c)
{
  json_t *nets = json_object ();
  const char *name;
  json_t *entry;
  json_object_foreach (json_object_get (c->net_settings, "Networks"), name, entry)
    json_object_set_new (nets, name, full_endpoint (entry));
  return json_pack ("{s:o}", "Networks", nets);
}

json_t *network_settings_json (struct berthd *d, struct container *c)
{
  cleanup_json json_t *summary = network_settings_summary (c);
  json_t *nets = json_incref (json_object_get (summary, "Networks"));
  json_t *bridge = json_object_get (nets, "bridge");
  json_t *ports = json_object_get (c->net_settings, "Ports");
  bool live = c->status == CT_RUNNING || c->status == CT_PAUSED;
  cleanup_free char *key = NULL;
  const char *mode = json_string_value (json_object_get (c->host_config, "NetworkMode")) ?: "";
  if (live && strncmp (mode, "container:", 10) != 0 && strcmp (mode, "host") != 0
      && asprintf (&key, "%s/netns/%s", d->cfg.exec_root, c->id) < 0)
    key = NULL;
  json_t *s = json_pack ("{s:s, s:s, s:s, s:b, s:O, s:s, s:i, s:n, s:n}", "Bridge", "", "SandboxID",
                         live ? c->id : "", "SandboxKey", key ? key : "", "HairpinMode", 0, "Ports",
                         json_is_object (ports) ? ports : json_object (), "LinkLocalIPv6Address", "",
                         "LinkLocalIPv6PrefixLen", 0, "SecondaryIPAddresses", "SecondaryIPv6Addresses");
  static const char *const copied[] = { "EndpointID", "Gateway", "IPAddress", "IPPrefixLen", "MacAddress", NULL };
  for (const char *const *k = copied; *k; k++)
    {
      json_t *v = json_object_get (bridge, *k);
      json_object_set (s, *k, v ? v : (strcmp (*k, "IPPrefixLen") == 0 ? json_integer (0) : json_string ("")));
    }
  json_object_set_new (s, "GlobalIPv6Address", json_string (""));
  json_object_set_new (s, "GlobalIPv6PrefixLen", json_integer (0));
  json_object_set_new (s, "IPv6Gateway", json_string (""));
  json_object_set_new (s, "Networks", nets);
  return s;
}

json_t *network_ports_list (struct container *c)
{
  json_t *out = json_array ();
  const char *key;
  json_t *list;
  json_object_foreach (json_object_get (c->net_settings, "Ports"), key, list)
    {
      int port = atoi (key);
      const char *slash = strchr (key, '/');
      const char *proto = slash ? slash + 1 : "tcp";
      if (!json_is_array (list) || json_array_size (list) == 0)
        {
          json_array_append_new (out, json_pack ("{s:i, s:s}", "PrivatePort", port, "Type", proto));
          continue;
        }
      size_t i;
      json_t *b;
      json_array_foreach (list, i, b)
        json_array_append_new (out, json_pack ("{s:s, s:i, s:i, s:s}", "IP", berth_json_str (b, "HostIp") ?: "",
                                               "PrivatePort", port, "PublicPort",
                                               atoi (berth_json_str (b, "HostPort") ?: "0"), "Type", proto));
    }
  return out;
}
