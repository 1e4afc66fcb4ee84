/* berthd's networks: the table, its persistence, create and remove. */
#include "daemon/network-internal.h"
#include "daemon/container.h"
#include "daemon/daemon.h"
#include "common/cleanup.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <stdint.h>
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>

#define BRIDGE_NAME_OPT "com.docker.network.bridge.name"

/* com.docker.network.driver.mtu, a string as all driver options are. */
static int parse_mtu (json_t *options, unsigned *mtu, berth_err *err)
{
  json_t *v = json_object_get (options, NETWORK_MTU_OPT);
  *mtu = 0;
  if (v == NULL)
    return 0;
  const char *s = json_string_value (v);
  char *end = NULL;
  long m = s ? strtol (s, &end, 10) : 0;
  if (s == NULL || *s == '\0' || *end || m < NETWORK_MIN_MTU || m > NETWORK_MAX_MTU)
    return berth_fail_as (err, EINVAL, "invalid MTU %s%s%s: must be between %d and %d", s ? "\"" : "", s ? s : "value",
                          s ? "\"" : "", NETWORK_MIN_MTU, NETWORK_MAX_MTU);
  *mtu = (unsigned) m;
  return 0;
}

unsigned network_mtu (const struct networks *ns, const struct network *n)
{
  return n->mtu ? n->mtu : ns->default_mtu;
}

#define DEFAULT_BIP "10.210.0.1/16"
#define DEFAULT_BRIDGE "berth0"

bool network_is_user_defined (const struct network *n)
{
  return !n->builtin;
}

static void network_free (struct network *n)
{
  if (n == NULL)
    return;
  free (n->name);
  free (n->created);
  free (n->bridge);
  json_decref (n->labels);
  json_decref (n->options);
  net_pool_free (n->pool);
  free (n);
}

/* ---- lookups ---- */

struct network *network_by_id_locked (struct networks *ns, const char *id)
{
  for (struct network *n = ns->list; n; n = n->next)
    if (strcmp (n->id, id) == 0)
      return n;
  return NULL;
}

/* Docker's order: an exact name, a full id, then a unique id prefix. */
struct network *network_find_locked (struct networks *ns, const char *name_or_id, berth_err *err)
{
  if (name_or_id == NULL || *name_or_id == '\0')
    return berth_fail_as (err, ENOENT, "network not found"), NULL;
  struct network *prefix_match = NULL;
  int prefix_matches = 0;
  for (struct network *n = ns->list; n; n = n->next)
    if (strcmp (n->name, name_or_id) == 0)
      return n;
  for (struct network *n = ns->list; n; n = n->next)
    {
      if (strcmp (n->id, name_or_id) == 0)
        return n;
      if (strncmp (n->id, name_or_id, strlen (name_or_id)) == 0)
        prefix_match = n, prefix_matches++;
    }
  if (prefix_matches == 1)
    return prefix_match;
  if (prefix_matches > 1)
    return berth_fail_as (err, EINVAL, "network %s is ambiguous (%d matches found based on ID prefix)", name_or_id,
                          prefix_matches),
           NULL;
  return berth_fail_as (err, ENOENT, "network %s not found", name_or_id), NULL;
}

int network_count_endpoints_locked (struct networks *ns, struct network *n)
{
  int count = 0;
  for (struct sandbox *sb = ns->sandboxes; sb; sb = sb->next)
    for (struct live_endpoint *e = sb->endpoints; e; e = e->next)
      if (strcmp (e->network_id, n->id) == 0)
        count++;
  return count;
}

/* ---- persistence ---- */

static json_t *network_to_disk (struct network *n)
{
  char subnet[NET_CIDR_STRLEN], range[NET_CIDR_STRLEN], gw[INET_ADDRSTRLEN] = "";
  static const char *const drivers[] = { "bridge", "host", "null" };
  json_t *j = json_pack ("{s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:O, s:O}", "Id", n->id, "Name", n->name, "Driver",
                         drivers[n->driver], "Created", n->created, "Builtin", n->builtin, "Internal", n->internal,
                         "Attachable", n->attachable, "Labels", n->labels, "Options", n->options);
  if (j && n->driver == NET_DRIVER_BRIDGE)
    {
      inet_ntop (AF_INET, &n->gateway, gw, sizeof gw);
      json_object_set_new (j, "Bridge", json_string (n->bridge));
      json_object_set_new (j, "Subnet", json_string (net_cidr_format (&n->subnet, subnet)));
      json_object_set_new (j, "Gateway", json_string (gw));
      json_object_set_new (j, "UserSubnet", json_boolean (n->user_subnet));
      if (n->has_range)
        json_object_set_new (j, "IPRange", json_string (net_cidr_format (&n->range, range)));
    }
  return j;
}

static int network_save (struct networks *ns, struct network *n, berth_err *err)
{
  cleanup_json json_t *j = network_to_disk (n);
  cleanup_free char *path = NULL;
  if (j == NULL || asprintf (&path, "%s/%s.json", ns->dir, n->id) < 0)
    return berth_fail (err, ENOMEM, "network %s", n->name);
  return berth_json_write_file (path, j, err);
}

static void network_unlink (struct networks *ns, struct network *n)
{
  cleanup_free char *path = NULL;
  if (asprintf (&path, "%s/%s.json", ns->dir, n->id) >= 0)
    unlink (path);
}

static int parse_driver (const char *s, enum network_driver *out)
{
  if (s == NULL || *s == '\0' || strcmp (s, "bridge") == 0)
    *out = NET_DRIVER_BRIDGE;
  else if (strcmp (s, "host") == 0)
    *out = NET_DRIVER_HOST;
  else if (strcmp (s, "null") == 0)
    *out = NET_DRIVER_NULL;
  else
    return -ENOENT;
  return 0;
}

static int network_pool_init (struct network *n, berth_err *err)
{
  net_pool_free (n->pool);
  n->pool = NULL;
  return net_pool_new (&n->subnet, n->has_range ? &n->range : NULL, n->gateway, &n->pool, err);
}

static struct network *network_from_disk (json_t *j, berth_err *err)
{
  cleanup_free struct network *n = calloc (1, sizeof *n);
  const char *id = berth_json_str (j, "Id"), *name = berth_json_str (j, "Name");
  if (n == NULL || id == NULL || strlen (id) != 64 || name == NULL
      || parse_driver (berth_json_str (j, "Driver"), &n->driver) < 0)
    return berth_fail (err, 0, "malformed network record"), NULL;
  snprintf (n->id, sizeof n->id, "%s", id);
  n->name = strdup (name);
  n->created = strdup (berth_json_str (j, "Created") ?: "0001-01-01T00:00:00Z");
  n->builtin = berth_json_bool (j, "Builtin", false);
  n->internal = berth_json_bool (j, "Internal", false);
  n->attachable = berth_json_bool (j, "Attachable", false);
  n->labels = json_is_object (json_object_get (j, "Labels")) ? json_incref (json_object_get (j, "Labels")) : json_object ();
  n->options = json_is_object (json_object_get (j, "Options")) ? json_incref (json_object_get (j, "Options"))
                                                                : json_object ();
  if (n->driver == NET_DRIVER_BRIDGE)
    {
      const char *bridge = berth_json_str (j, "Bridge"), *range = berth_json_str (j, "IPRange");
      if (bridge == NULL || net_cidr_parse (berth_json_str (j, "Subnet") ?: "", false, &n->subnet, err) < 0
          || net_ip_parse (berth_json_str (j, "Gateway") ?: "", &n->gateway, err) < 0
          || (range && net_cidr_parse (range, false, &n->range, err) < 0))
        {
          struct network *tmp = take_ptr (n);
          network_free (tmp);
          return berth_fail (err, 0, "malformed network record"), NULL;
        }
      n->bridge = strdup (bridge);
      berth_err ignored = NULL;
      if (parse_mtu (n->options, &n->mtu, &ignored) < 0)
        berth_error_free (&ignored); /* a record from an older berthd: the daemon's MTU */
      n->has_range = range != NULL;
      n->user_subnet = berth_json_bool (j, "UserSubnet", false);
    }
  return take_ptr (n);
}

/* ---- bring a bridge network up on the host ---- */

/* The firewall table is made with the first bridge network: a daemon
 * without any (--bridge none) never loads nftables' state. */
static int firewall_ensure (struct networks *ns, berth_err *err)
{
  if (ns->fw)
    return 0;
  return net_fw_open (ns->fw_table, &ns->fw, err);
}

static int network_realize (struct networks *ns, struct network *n, berth_err *err)
{
  if (n->driver != NET_DRIVER_BRIDGE)
    return 0;
  int r = firewall_ensure (ns, err);
  if (r == 0)
    r = network_pool_init (n, err);
  if (r == 0)
    r = net_bridge_ensure (n->bridge, n->gateway, n->subnet.prefix, err);
  if (r == 0)
    r = net_fw_add_network (ns->fw, n->bridge, &n->subnet, n->internal, err);
  return r < 0 ? berth_error_prefix (err, "network %s", n->name) : 0;
}

static void network_unrealize (struct networks *ns, struct network *n)
{
  berth_err err = NULL;
  if (n->driver != NET_DRIVER_BRIDGE)
    return;
  if ((ns->fw && net_fw_remove_network (ns->fw, n->bridge, &err) < 0) || net_link_delete (n->bridge, &err) < 0)
    {
      berth_log (BERTH_LOG_WARNING, "network %s: %s", n->name, err->msg);
      berth_error_free (&err);
    }
}

static void network_insert (struct networks *ns, struct network *n)
{
  struct network **tail = &ns->list;
  while (*tail)
    tail = &(*tail)->next;
  *tail = n;
}

static void network_detach_from_list (struct networks *ns, struct network *n)
{
  for (struct network **p = &ns->list; *p; p = &(*p)->next)
    if (*p == n)
      {
        *p = n->next;
        return;
      }
}

/* ---- built-in networks ---- */

static struct network *builtin_new (const char *name, enum network_driver driver)
{
  struct network *n = calloc (1, sizeof *n);
  if (n == NULL || berthd_new_id (n->id) < 0)
    {
      free (n);
      return NULL;
    }
  n->name = strdup (name);
  n->driver = driver;
  n->builtin = true;
  n->created = berth_rfc3339_now ();
  n->labels = json_object ();
  n->options = json_object ();
  return n;
}

/* The default bridge follows the daemon's options at every start. */
static int configure_default_bridge (struct network *n, const struct network_options *opt, berth_err *err)
{
  const char *bip = opt->bip && *opt->bip ? opt->bip : DEFAULT_BIP;
  const char *name = opt->bridge_name && *opt->bridge_name ? opt->bridge_name : DEFAULT_BRIDGE;
  struct net_cidr with_host;
  if (net_cidr_parse (bip, true, &with_host, err) < 0)
    return berth_error_prefix (err, "bip");
  if (net_cidr_parse (bip, true, &n->subnet, err) < 0)
    return -EINVAL;
  n->subnet.addr.s_addr &= n->subnet.prefix ? htonl (~0u << (32 - n->subnet.prefix)) : 0;
  n->gateway = with_host.addr;
  if (n->gateway.s_addr == n->subnet.addr.s_addr)
    n->gateway.s_addr = htonl (ntohl (n->subnet.addr.s_addr) + 1);
  n->has_range = false;
  free (n->bridge);
  n->bridge = strdup (name);
  json_object_set_new (n->options, BRIDGE_NAME_OPT, json_string (name));
  json_object_set_new (n->options, "com.docker.network.bridge.default_bridge", json_string ("true"));
  json_object_set_new (n->options, "com.docker.network.bridge.enable_icc", json_string ("true"));
  json_object_set_new (n->options, "com.docker.network.bridge.enable_ip_masquerade", json_string ("true"));
  char mtu[16];
  snprintf (mtu, sizeof mtu, "%u", opt->mtu ? opt->mtu : NETWORK_DEFAULT_MTU);
  json_object_set_new (n->options, NETWORK_MTU_OPT, json_string (mtu));
  n->mtu = 0; /* the daemon's, which is what the option shows */
  return n->bridge ? 0 : berth_fail (err, ENOMEM, "bridge");
}

static struct network *find_builtin (struct networks *ns, const char *name)
{
  for (struct network *n = ns->list; n; n = n->next)
    if (n->builtin && strcmp (n->name, name) == 0)
      return n;
  return NULL;
}

static int ensure_builtins (struct networks *ns, const struct network_options *opt, berth_err *err)
{
  static const struct
  {
    const char *name;
    enum network_driver driver;
  } builtins[] = { { "bridge", NET_DRIVER_BRIDGE }, { "host", NET_DRIVER_HOST }, { "none", NET_DRIVER_NULL } };
  for (size_t i = 0; i < 3; i++)
    {
      struct network *n = find_builtin (ns, builtins[i].name);
      if (builtins[i].driver == NET_DRIVER_BRIDGE && !opt->default_bridge)
        {
          if (n)
            {
              network_detach_from_list (ns, n);
              network_free (n);
            }
          continue;
        }
      if (n == NULL)
        {
          if ((n = builtin_new (builtins[i].name, builtins[i].driver)) == NULL)
            return berth_fail (err, ENOMEM, "networks");
          network_insert (ns, n);
        }
      if (n->driver == NET_DRIVER_BRIDGE && configure_default_bridge (n, opt, err) < 0)
        return -EINVAL;
      if (network_save (ns, n, err) < 0)
        return -EIO;
    }
  ns->default_name = strdup (opt->default_bridge ? "bridge" : "none");
  ns->default_mtu = opt->mtu ? opt->mtu : NETWORK_DEFAULT_MTU;
  return 0;
}

static int load_networks (struct networks *ns, berth_err *err)
{
  cleanup_dir DIR *dir = opendir (ns->dir);
  if (dir == NULL)
    return berth_fail_errno (err, "open %s", ns->dir);
  struct dirent *de;
  while ((de = readdir (dir)))
    {
      size_t len = strlen (de->d_name);
      if (len != 69 || strcmp (de->d_name + 64, ".json") != 0)
        continue;
      cleanup_free char *path = NULL;
      berth_err e = NULL;
      if (asprintf (&path, "%s/%s", ns->dir, de->d_name) < 0)
        return berth_fail (err, ENOMEM, "networks");
      cleanup_json json_t *j = berth_json_load_file (path, &e);
      struct network *n = j ? network_from_disk (j, &e) : NULL;
      if (n == NULL)
        {
          berth_log (BERTH_LOG_WARNING, "skipping network record %s: %s", path, e ? e->msg : "?");
          berth_error_free (&e);
          continue;
        }
      network_insert (ns, n);
    }
  return 0;
}

/* berth's nftables table: "berth" for the default set-up, "berth-<bridge>"
 * for another default bridge name, else "berth-<hash of the exec root>",
 * so that daemons beside each other (tests) never share one. */
static const char *fw_table_name (struct berthd *d, const struct network_options *opt, char *buf, size_t size)
{
  const char *bridge = opt->bridge_name && *opt->bridge_name ? opt->bridge_name : DEFAULT_BRIDGE;
  if (strcmp (bridge, DEFAULT_BRIDGE) != 0)
    snprintf (buf, size, "berth-%s", bridge);
  else if (strcmp (d->cfg.exec_root, "/run/berth") == 0)
    snprintf (buf, size, "berth");
  else
    {
      uint32_t h = 2166136261u; /* FNV-1a */
      for (const char *p = d->cfg.exec_root; *p; p++)
        h = (h ^ (unsigned char) *p) * 16777619u;
      snprintf (buf, size, "berth-%08x", h);
    }
  return buf;
}

int networks_open (struct berthd *d, const struct network_options *opt, struct networks **out, berth_err *err)
{
  struct networks *ns = calloc (1, sizeof *ns);
  if (ns == NULL)
    return berth_fail (err, ENOMEM, "networks");
  ns->d = d;
  pthread_mutex_init (&ns->lock, NULL);
  *out = ns;
  if (asprintf (&ns->dir, "%s/network", d->cfg.data_root) < 0
      || asprintf (&ns->netns_dir, "%s/netns", d->cfg.exec_root) < 0)
    return berth_fail (err, ENOMEM, "networks");
  int r;
  if ((r = berth_mkdir_p (ns->dir, 0700, err)) < 0 || (r = berth_mkdir_p (ns->netns_dir, 0700, err)) < 0
      || (r = load_networks (ns, err)) < 0 || (r = ensure_builtins (ns, opt, err)) < 0)
    return r;
  fw_table_name (d, opt, ns->fw_table, sizeof ns->fw_table);
  for (struct network *n = ns->list; n; n = n->next)
    if ((r = network_realize (ns, n, err)) < 0)
      return r;
  return network_dns_start (ns, err);
}

void networks_close (struct networks *ns)
{
  if (ns == NULL)
    return;
  if (ns->dns)
    net_dns_stop (ns->dns);
  /* Running containers keep their networking (live restore): the bridges,
   * rules and sandboxes stay; a restarted berthd adopts them.  With none
   * running, the firewall table goes (it is rebuilt at start anyway). */
  berth_err err = NULL;
  if (ns->fw && ns->sandboxes == NULL && net_fw_destroy (ns->fw, &err) < 0)
    {
      berth_log (BERTH_LOG_WARNING, "networks: %s", err->msg);
      berth_error_free (&err);
    }
  net_fw_close (ns->fw);
  network_sandboxes_free (ns);
  for (struct network *n = ns->list, *next; n; n = next)
    {
      next = n->next;
      network_free (n);
    }
  free (ns->dir);
  free (ns->netns_dir);
  free (ns->default_name);
  pthread_mutex_destroy (&ns->lock);
  free (ns);
}

/* ---- create ---- */

static bool valid_bridge_name (const char *s)
{
  size_t len = strlen (s);
  if (len == 0 || len >= IFNAMSIZ)
    return false;
  for (const char *p = s; *p; p++)
    if (*p == '/' || *p == ':' || *p <= ' ')
      return false;
  return true;
}

static int check_overlaps_locked (struct networks *ns, const struct net_cidr *c, berth_err *err)
{
  for (struct network *n = ns->list; n; n = n->next)
    if (n->driver == NET_DRIVER_BRIDGE && net_cidr_overlaps (&n->subnet, c))
      return berth_fail_as (err, EEXIST, "Pool overlaps with other one on this address space");
  return net_check_host_routes (c, err);
}

static int pick_subnet_locked (struct networks *ns, struct net_cidr *out, berth_err *err)
{
  struct net_cidr taken[256];
  size_t n_taken = 0;
  for (struct network *n = ns->list; n && n_taken < 256; n = n->next)
    if (n->driver == NET_DRIVER_BRIDGE)
      taken[n_taken++] = n->subnet;
  return net_pick_subnet (24, taken, n_taken, out, err);
}

/* IPAM.Config[0]: Subnet, IPRange, Gateway; checked against each other. */
static int parse_ipam (struct networks *ns, struct network *n, json_t *body, berth_err *err)
{
  json_t *configs = berth_json_obj (body, "IPAM") ? json_object_get (berth_json_obj (body, "IPAM"), "Config") : NULL;
  if (configs && !json_is_array (configs) && !json_is_null (configs))
    return berth_fail_as (err, EINVAL, "IPAM.Config: expected an array");
  if (json_array_size (configs) > 1)
    return berth_fail_as (err, EINVAL, "only one IPv4 address pool per network is supported");
  json_t *cfg = json_array_get (configs, 0);
  const char *subnet = berth_json_str (cfg, "Subnet"), *range = berth_json_str (cfg, "IPRange"),
             *gateway = berth_json_str (cfg, "Gateway");
  int r;
  if (subnet && *subnet)
    {
      if ((r = net_cidr_parse (subnet, false, &n->subnet, err)) < 0)
        return berth_fail_as (err, EINVAL, "invalid subnet %s: %s", subnet, (*err)->msg), -EINVAL;
      if (n->subnet.prefix > 30)
        return berth_fail_as (err, EINVAL, "invalid subnet %s: too small for a network", subnet);
      n->user_subnet = true;
    }
  else if (range || gateway)
    return berth_fail_as (err, EINVAL, "a --gateway or --ip-range needs a --subnet");
  else if ((r = pick_subnet_locked (ns, &n->subnet, err)) < 0)
    return r;
  if (range && *range)
    {
      if (net_cidr_parse (range, false, &n->range, err) < 0)
        return -EINVAL;
      if (n->range.prefix < n->subnet.prefix || !net_cidr_contains (&n->subnet, n->range.addr))
        return berth_fail_as (err, EINVAL, "no matching subnet for range %s", range);
      n->has_range = true;
    }
  if (gateway && *gateway)
    {
      if (net_ip_parse (gateway, &n->gateway, err) < 0)
        return -EINVAL;
      if (!net_cidr_contains (&n->subnet, n->gateway))
        return berth_fail_as (err, EINVAL, "no matching subnet for gateway %s", gateway);
    }
  else
    n->gateway.s_addr = htonl (ntohl (n->subnet.addr.s_addr) + 1);
  return check_overlaps_locked (ns, &n->subnet, err);
}

static int parse_create_body (struct networks *ns, json_t *body, struct network *n, berth_err *err)
{
  const char *name = berth_json_str (body, "Name");
  if (name == NULL || *name == '\0')
    return berth_fail_as (err, EINVAL, "network name is required");
  for (struct network *o = ns->list; o; o = o->next)
    if (strcmp (o->name, name) == 0)
      return berth_fail_as (err, EEXIST, "network with name %s already exists", name);
  const char *driver = berth_json_str (body, "Driver");
  if (parse_driver (driver, &n->driver) < 0)
    return berth_fail_as (err, ENOENT, "plugin \"%s\" not found", driver);
  if (n->driver != NET_DRIVER_BRIDGE)
    return berth_fail_as (err, EPERM, "only one instance of \"%s\" network is allowed", driver);
  if (berth_json_bool (body, "EnableIPv6", false))
    return berth_fail_as (err, EINVAL, "IPv6 networks are not supported by berthd yet");
  json_t *labels = json_object_get (body, "Labels"), *options = json_object_get (body, "Options");
  if ((labels && !json_is_object (labels) && !json_is_null (labels))
      || (options && !json_is_object (options) && !json_is_null (options)))
    return berth_fail_as (err, EINVAL, "Labels and Options must be objects");
  n->name = strdup (name);
  n->labels = json_is_object (labels) ? json_deep_copy (labels) : json_object ();
  n->options = json_is_object (options) ? json_deep_copy (options) : json_object ();
  if (parse_mtu (n->options, &n->mtu, err) < 0)
    return -EINVAL;
  n->internal = berth_json_bool (body, "Internal", false);
  n->attachable = berth_json_bool (body, "Attachable", false);
  n->created = berth_rfc3339_now ();
  if (berthd_new_id (n->id) < 0)
    return berth_fail_errno (err, "network id");
  const char *bridge = berth_json_str (n->options, BRIDGE_NAME_OPT);
  if (bridge && !valid_bridge_name (bridge))
    return berth_fail_as (err, EINVAL, "invalid bridge name %s", bridge);
  if (bridge)
    for (struct network *o = ns->list; o; o = o->next)
      if (o->bridge && strcmp (o->bridge, bridge) == 0)
        return berth_fail_as (err, EEXIST, "bridge name %s is used by network %s", bridge, o->name);
  if (bridge == NULL && asprintf (&n->bridge, "br-%.12s", n->id) < 0)
    return berth_fail (err, ENOMEM, "network");
  if (bridge && (n->bridge = strdup (bridge)) == NULL)
    return berth_fail (err, ENOMEM, "network");
  if (bridge && net_link_exists (bridge))
    return berth_fail_as (err, EEXIST, "bridge %s already exists on the host", bridge);
  return parse_ipam (ns, n, body, err);
}

int network_create (struct berthd *d, json_t *body, char **id, berth_err *err)
{
  struct networks *ns = d->networks;
  struct network *n = calloc (1, sizeof *n);
  if (n == NULL)
    return berth_fail (err, ENOMEM, "network");
  pthread_mutex_lock (&ns->lock);
  int r = parse_create_body (ns, body, n, err);
  if (r == 0 && (r = network_realize (ns, n, err)) < 0)
    network_unrealize (ns, n);
  if (r == 0 && (r = network_save (ns, n, err)) < 0)
    network_unrealize (ns, n);
  if (r == 0)
    {
      network_insert (ns, n);
      *id = strdup (n->id);
    }
  pthread_mutex_unlock (&ns->lock);
  if (r < 0)
    {
      network_free (n);
      return r;
    }
  network_event (d, n->id, n->name, "create");
  return 0;
}

/* ---- remove ---- */

static int network_remove_locked (struct networks *ns, struct network *n, berth_err *err)
{
  if (n->builtin)
    return berth_fail_as (err, EPERM, "%s is a pre-defined network and cannot be removed", n->name);
  if (network_count_endpoints_locked (ns, n) > 0)
    return berth_fail_as (err, EBUSY, "error while removing network: network %s id %s has active endpoints",
                          n->name, n->id);
  network_unrealize (ns, n);
  network_unlink (ns, n);
  network_detach_from_list (ns, n);
  return 0;
}

int network_remove (struct berthd *d, const char *name_or_id, berth_err *err)
{
  struct networks *ns = d->networks;
  pthread_mutex_lock (&ns->lock);
  struct network *n = network_find_locked (ns, name_or_id, err);
  int r = n ? network_remove_locked (ns, n, err) : -ENOENT;
  char id[65] = "";
  cleanup_free char *name = NULL;
  if (r == 0)
    {
      snprintf (id, sizeof id, "%s", n->id);
      name = strdup (n->name);
      network_free (n);
    }
  pthread_mutex_unlock (&ns->lock);
  if (r == 0)
    network_event (d, id, name, "destroy");
  return r;
}

/* Names of the networks any container refers to (running or not). */
static json_t *networks_in_use (struct berthd *d)
{
  json_t *used = json_object ();
  size_t n = 0;
  struct container **all = containers_all (d->containers, &n);
  containers_lock (d->containers);
  for (size_t i = 0; i < n; i++)
    {
      const char *key;
      json_t *v;
      json_object_foreach (json_object_get (all[i]->net_settings, "Networks"), key, v)
        json_object_set_new (used, berth_json_str (v, "NetworkID") ?: key, json_true ());
    }
  containers_unlock (d->containers);
  containers_put_all (d->containers, all, n);
  return used;
}

int network_prune (struct berthd *d, json_t *filters, int64_t until_ns, json_t **deleted, berth_err *err)
{
  struct networks *ns = d->networks;
  cleanup_json json_t *used = networks_in_use (d);
  json_t *out = json_array ();
  json_t *events = json_array ();
  pthread_mutex_lock (&ns->lock);
  for (struct network *n = ns->list, *next; n; n = next)
    {
      next = n->next;
      if (n->builtin || json_object_get (used, n->id) || json_object_get (used, n->name)
          || !network_matches_filters (n, filters) || !api_created_before (n->created, until_ns))
        continue;
      berth_err e = NULL;
      if (network_remove_locked (ns, n, &e) < 0)
        {
          berth_error_free (&e);
          continue;
        }
      json_array_append_new (out, json_string (n->name));
      json_array_append_new (events, json_pack ("[s,s]", n->id, n->name));
      network_free (n);
    }
  pthread_mutex_unlock (&ns->lock);
  size_t i;
  json_t *v;
  json_array_foreach (events, i, v)
    network_event (d, json_string_value (json_array_get (v, 0)), json_string_value (json_array_get (v, 1)), "destroy");
  json_decref (events);
  *deleted = out;
  return 0;
}
