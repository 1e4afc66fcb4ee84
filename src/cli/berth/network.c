/* `berth network ...` and `berth port`: the network commands of the berth
 * CLI, over the same Engine API routes as docker's. */
#include "client.h"
#include "common/cleanup.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int report (berth_err *err)
{
  fprintf (stderr, "%s\n", (*err)->msg);
  berth_error_free (err);
  return 1;
}

static int usage_error (const char *msg)
{
  fprintf (stderr, "berth network: %s (see berth network --help)\n", msg);
  return 1;
}

/* KEY=VALUE into OBJ; false if there is no '='. */
static bool set_pair (json_t *obj, const char *kv)
{
  const char *eq = strchr (kv, '=');
  if (eq == NULL || eq == kv)
    return false;
  cleanup_free char *key = strndup (kv, (size_t) (eq - kv));
  json_object_set_new (obj, key, json_string (eq + 1));
  return true;
}

/* POST PATH with BODY (stolen); prints nothing; 1 on error. */
static int post_json (struct client *c, const char *path, json_t *body, json_t **out)
{
  berth_err err = NULL;
  cleanup_free char *text = json_dumps (body, JSON_COMPACT);
  json_decref (body);
  json_t *reply = client_json (c, "POST", path, text, &err);
  if (reply == NULL && err)
    return report (&err);
  if (out)
    *out = reply;
  else
    json_decref (reply);
  return 0;
}

static int network_create (struct client *c, int argc, char **argv)
{
  static const struct option opts[] = {
    { "driver", required_argument, NULL, 'd' },   { "subnet", required_argument, NULL, 's' },
    { "gateway", required_argument, NULL, 'g' },  { "ip-range", required_argument, NULL, 'r' },
    { "internal", no_argument, NULL, 'i' },       { "label", required_argument, NULL, 'l' },
    { "opt", required_argument, NULL, 'o' },      { "attachable", no_argument, NULL, 'a' },
    { NULL, 0, NULL, 0 },
  };
  json_t *body = json_pack ("{s:s, s:{}, s:{}}", "Driver", "bridge", "Labels", "Options");
  json_t *ipam = json_object ();
  int o;
  optind = 1;
  while ((o = getopt_long (argc, argv, "d:o:", opts, NULL)) != -1)
    {
      bool ok = true;
      switch (o)
        {
        case 'd': json_object_set_new (body, "Driver", json_string (optarg)); break;
        case 's': json_object_set_new (ipam, "Subnet", json_string (optarg)); break;
        case 'g': json_object_set_new (ipam, "Gateway", json_string (optarg)); break;
        case 'r': json_object_set_new (ipam, "IPRange", json_string (optarg)); break;
        case 'i': json_object_set_new (body, "Internal", json_true ()); break;
        case 'a': json_object_set_new (body, "Attachable", json_true ()); break;
        case 'l': ok = set_pair (json_object_get (body, "Labels"), optarg); break;
        case 'o': ok = set_pair (json_object_get (body, "Options"), optarg); break;
        default: ok = false;
        }
      if (!ok)
        {
          json_decref (body);
          json_decref (ipam);
          return usage_error (o == 'l' || o == 'o' ? "--label and --opt take KEY=VALUE" : "bad option");
        }
    }
  if (optind + 1 != argc)
    {
      json_decref (body);
      json_decref (ipam);
      return usage_error ("create takes exactly one network name");
    }
  json_object_set_new (body, "Name", json_string (argv[optind]));
  json_t *config = json_array ();
  if (json_object_size (ipam))
    json_array_append (config, ipam);
  json_decref (ipam);
  json_object_set_new (body, "IPAM", json_pack ("{s:s, s:o}", "Driver", "default", "Config", config));
  json_t *reply = NULL;
  if (post_json (c, "/networks/create", body, &reply) != 0)
    return 1;
  printf ("%s\n", berth_json_str (reply, "Id") ?: "");
  json_decref (reply);
  return 0;
}

static int network_ls (struct client *c, int argc, char **argv)
{
  bool quiet = argc > 1 && strcmp (argv[1], "-q") == 0;
  berth_err err = NULL;
  cleanup_json json_t *list = client_json (c, "GET", "/networks", NULL, &err);
  if (list == NULL)
    return report (&err);
  if (!quiet)
    printf ("%-14s %-24s %-10s %s\n", "NETWORK ID", "NAME", "DRIVER", "SCOPE");
  size_t i;
  json_t *n;
  json_array_foreach (list, i, n)
    if (quiet)
      printf ("%.12s\n", berth_json_str (n, "Id") ?: "");
    else
      printf ("%-14.12s %-24s %-10s %s\n", berth_json_str (n, "Id") ?: "", berth_json_str (n, "Name") ?: "",
              berth_json_str (n, "Driver") ?: "", berth_json_str (n, "Scope") ?: "");
  return 0;
}

/* /networks/NAME (escaped) + SUFFIX, heap; NULL when out of memory. */
static char *network_path (const char *name, const char *suffix)
{
  cleanup_free char *id = client_escape (name);
  char *path = NULL;
  if (id == NULL || asprintf (&path, "/networks/%s%s", id, suffix) < 0)
    return NULL;
  return path;
}

static int network_inspect (struct client *c, int argc, char **argv)
{
  if (argc < 2)
    return usage_error ("inspect takes one or more networks");
  cleanup_json json_t *all = json_array ();
  int status = 0;
  for (int i = 1; i < argc; i++)
    {
      berth_err err = NULL;
      cleanup_free char *path = network_path (argv[i], "");
      if (path == NULL)
        return 1;
      json_t *n = client_json (c, "GET", path, NULL, &err);
      if (n == NULL)
        status = report (&err);
      else
        json_array_append_new (all, n);
    }
  cleanup_free char *text = json_dumps (all, JSON_INDENT (4));
  printf ("%s\n", text);
  return status;
}

static int network_rm (struct client *c, int argc, char **argv)
{
  if (argc < 2)
    return usage_error ("rm takes one or more networks");
  int status = 0;
  for (int i = 1; i < argc; i++)
    {
      berth_err err = NULL;
      cleanup_free char *path = network_path (argv[i], "");
      if (path == NULL)
        return 1;
      json_t *r = client_json (c, "DELETE", path, NULL, &err);
      if (r == NULL && err)
        status = report (&err);
      else
        printf ("%s\n", argv[i]);
      json_decref (r);
    }
  return status;
}

static int network_prune (struct client *c, int argc, char **argv)
{
  berth_err err = NULL;
  cleanup_json json_t *r = client_json (c, "POST", "/networks/prune", NULL, &err);
  if (r == NULL)
    return report (&err);
  json_t *deleted = json_object_get (r, "NetworksDeleted");
  if (json_array_size (deleted))
    printf ("Deleted Networks:\n");
  size_t i;
  json_t *v;
  json_array_foreach (deleted, i, v)
    printf ("%s\n", json_string_value (v) ?: "");
  return 0;
}

/* connect [--alias A]... [--ip IP] NETWORK CONTAINER */
static int network_connect (struct client *c, int argc, char **argv)
{
  static const struct option opts[] = {
    { "alias", required_argument, NULL, 'a' },
    { "ip", required_argument, NULL, 'i' },
    { NULL, 0, NULL, 0 },
  };
  json_t *aliases = json_array ();
  const char *ip = NULL;
  int o;
  optind = 1;
  while ((o = getopt_long (argc, argv, "", opts, NULL)) != -1)
    if (o == 'a')
      json_array_append_new (aliases, json_string (optarg));
    else if (o == 'i')
      ip = optarg;
    else
      {
        json_decref (aliases);
        return usage_error ("bad option");
      }
  if (optind + 2 != argc)
    {
      json_decref (aliases);
      return usage_error ("connect takes a network and a container");
    }
  json_t *endpoint = json_pack ("{s:o}", "Aliases", aliases);
  if (ip)
    json_object_set_new (endpoint, "IPAMConfig", json_pack ("{s:s}", "IPv4Address", ip));
  json_t *body = json_pack ("{s:s, s:o}", "Container", argv[optind + 1], "EndpointConfig", endpoint);
  cleanup_free char *path = network_path (argv[optind], "/connect");
  if (path == NULL)
    {
      json_decref (body);
      return 1;
    }
  return post_json (c, path, body, NULL);
}

/* disconnect [-f] NETWORK CONTAINER */
static int network_disconnect (struct client *c, int argc, char **argv)
{
  bool force = argc > 1 && (strcmp (argv[1], "-f") == 0 || strcmp (argv[1], "--force") == 0);
  int first = force ? 2 : 1;
  if (argc - first != 2)
    return usage_error ("disconnect takes a network and a container");
  cleanup_free char *path = network_path (argv[first], "/disconnect");
  if (path == NULL)
    return 1;
  return post_json (c, path, json_pack ("{s:s, s:b}", "Container", argv[first + 1], "Force", force), NULL);
}

static const struct
{
  const char *name;
  int (*fn) (struct client *c, int argc, char **argv);
  const char *help;
} subcommands[] = {
  { "create", network_create, "NAME: --subnet --gateway --ip-range --internal --label K=V -o K=V --driver" },
  { "ls", network_ls, "list networks (-q: ids only)" },
  { "inspect", network_inspect, "NETWORK...: details as JSON" },
  { "rm", network_rm, "NETWORK...: remove networks" },
  { "prune", network_prune, "remove networks no container uses" },
  { "connect", network_connect, "NETWORK CONTAINER: --alias A --ip IP" },
  { "disconnect", network_disconnect, "NETWORK CONTAINER: -f to force" },
  { NULL, NULL, NULL },
};

int cmd_network (struct client *c, int argc, char **argv)
{
  if (argc < 2 || strcmp (argv[1], "--help") == 0)
    {
      FILE *out = argc < 2 ? stderr : stdout;
      fprintf (out, "usage: berth network COMMAND [ARGS...]\n\ncommands:\n");
      for (size_t i = 0; subcommands[i].name; i++)
        fprintf (out, "  %-11s %s\n", subcommands[i].name, subcommands[i].help);
      return argc < 2 ? 1 : 0;
    }
  for (size_t i = 0; subcommands[i].name; i++)
    if (strcmp (subcommands[i].name, argv[1]) == 0)
      return subcommands[i].fn (c, argc - 1, argv + 1);
  fprintf (stderr, "berth network: unknown command `%s` (see berth network --help)\n", argv[1]);
  return 1;
}

/* One "80/tcp -> 0.0.0.0:8080" line per host binding of KEY. */
static void print_bindings (const char *key, json_t *bindings, bool with_key)
{
  size_t i;
  json_t *b;
  json_array_foreach (bindings, i, b)
    {
      const char *ip = berth_json_str (b, "HostIp");
      const char *port = berth_json_str (b, "HostPort") ?: "";
      if (with_key)
        printf ("%s -> %s:%s\n", key, ip && *ip ? ip : "0.0.0.0", port);
      else
        printf ("%s:%s\n", ip && *ip ? ip : "0.0.0.0", port);
    }
}

/* berth port CONTAINER [PRIVATE_PORT[/PROTO]] */
int cmd_port (struct client *c, int argc, char **argv)
{
  if (argc != 2 && argc != 3)
    {
      fprintf (stderr, "usage: berth port CONTAINER [PRIVATE_PORT[/PROTO]]\n");
      return 1;
    }
  berth_err err = NULL;
  cleanup_free char *id = client_escape (argv[1]);
  cleanup_free char *path = NULL;
  if (asprintf (&path, "/containers/%s/json", id) < 0)
    return 1;
  cleanup_json json_t *ct = client_json (c, "GET", path, NULL, &err);
  if (ct == NULL)
    return report (&err);
  json_t *ports = json_object_get (json_object_get (ct, "NetworkSettings"), "Ports");
  if (argc == 3)
    {
      cleanup_free char *key = NULL;
      if (asprintf (&key, strchr (argv[2], '/') ? "%s" : "%s/tcp", argv[2]) < 0)
        return 1;
      json_t *bindings = json_object_get (ports, key);
      if (!json_is_array (bindings) || json_array_size (bindings) == 0)
        {
          fprintf (stderr, "Error: No public port '%s' published for %s\n", key, argv[1]);
          return 1;
        }
      print_bindings (key, bindings, false);
      return 0;
    }
  const char *key;
  json_t *bindings;
  json_object_foreach (ports, key, bindings)
    print_bindings (key, bindings, true);
  return 0;
}
