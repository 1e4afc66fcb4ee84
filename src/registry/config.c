/* Flags and the JSON config file.  The file (--config) holds the same
 * keys as the long flags without their dashes prefix, e.g.
 *   {"listen": "127.0.0.1:5000", "root": "/srv/reg", "auth": "basic",
 *    "htpasswd": "/etc/berth/htpasswd"}
 * and flags given on the command line win over it. */
#include "registry/registry.h"
#include "common/cleanup.h"
#include "common/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct key
{
  const char *name;
  size_t offset;
};

#define KEY(n, field) { n, offsetof (struct reg_config, field) }
static const struct key keys[] = {
  KEY ("listen", listen),       KEY ("root", root),           KEY ("htpasswd", htpasswd),
  KEY ("token-realm", token_realm), KEY ("token-service", token_service), KEY ("token-issuer", token_issuer),
  KEY ("token-key", token_key), KEY ("tls-cert", tls_cert),   KEY ("tls-key", tls_key),
  KEY ("log-level", log_level), KEY ("max-page", max_page),
};

void reg_usage (void)
{
  printf ("usage: berth-registry [options]\n"
          "       berth-registry garbage-collect --root DIR [--dry-run] [--delete-untagged]\n\n"
          "An OCI distribution-spec 1.1 registry.\n\n"
          "  --listen ADDR:PORT     address to serve (default " REG_DEFAULT_LISTEN ")\n"
          "  --root DIR             storage root (default " REG_DEFAULT_ROOT ")\n"
          "  --auth MODE            none, basic or token (default none; basic when\n"
          "                         --htpasswd is given)\n"
          "  --htpasswd FILE        users (htpasswd -B: bcrypt)\n"
          "  --token-realm URL      where clients get tokens (default: this\n"
          "                         registry's /token, which checks --htpasswd)\n"
          "  --token-service NAME   the token audience (default berth-registry)\n"
          "  --token-issuer NAME    the token issuer (default berth-registry)\n"
          "  --token-key FILE       HS256 signing secret, at least 32 bytes\n"
          "  --tls-cert FILE        serve HTTPS with this PEM certificate chain\n"
          "  --tls-key FILE         and this PEM private key\n"
          "  --config FILE          JSON file with the same keys (\"listen\", ...)\n"
          "  --log-level LEVEL      error, warn, info or debug (default info)\n"
          "  --max-page N           most tags or repositories in one tags/list or\n"
          "                         catalog page; a Link header points to the next\n"
          "                         (default 1000)\n"
          "  --help, --version\n");
}

static char **field (struct reg_config *cfg, const char *name)
{
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (strcmp (keys[i].name, name) == 0)
      return (char **) ((char *) cfg + keys[i].offset);
  return NULL;
}

static int set_auth (struct reg_config *cfg, const char *v, berth_err *err)
{
  if (strcmp (v, "none") == 0)
    cfg->auth = REG_AUTH_NONE;
  else if (strcmp (v, "basic") == 0)
    cfg->auth = REG_AUTH_BASIC;
  else if (strcmp (v, "token") == 0)
    cfg->auth = REG_AUTH_TOKEN;
  else
    return berth_fail (err, EINVAL, "--auth: expected none, basic or token, not '%s'", v);
  return 0;
}

static int load_file (struct reg_config *cfg, const char *path, bool *auth_set, berth_err *err)
{
  cleanup_json json_t *j = berth_json_load_file (path, err);
  if (j == NULL)
    return berth_error_prefix (err, "--config");
  if (!json_is_object (j))
    return berth_fail (err, EINVAL, "%s: expected a JSON object", path);
  const char *k;
  json_t *v;
  json_object_foreach (j, k, v)
    {
      if (!json_is_string (v))
        return berth_fail (err, EINVAL, "%s: %s: expected a string", path, k);
      if (strcmp (k, "auth") == 0)
        {
          if (set_auth (cfg, json_string_value (v), err) < 0)
            return -EINVAL;
          *auth_set = true;
          continue;
        }
      char **f = field (cfg, k);
      if (f == NULL)
        return berth_fail (err, EINVAL, "%s: unknown key '%s'", path, k);
      free (*f);
      *f = strdup (json_string_value (v));
    }
  return 0;
}

static void set_default (char **f, const char *v)
{
  if (*f == NULL)
    *f = strdup (v);
}

static int finish (struct reg_config *cfg, bool auth_set, berth_err *err)
{
  set_default (&cfg->listen, REG_DEFAULT_LISTEN);
  set_default (&cfg->root, REG_DEFAULT_ROOT);
  set_default (&cfg->log_level, "info");
  set_default (&cfg->token_service, "berth-registry");
  set_default (&cfg->token_issuer, "berth-registry");
  if (!auth_set && cfg->htpasswd)
    cfg->auth = REG_AUTH_BASIC;
  if (cfg->auth == REG_AUTH_BASIC && cfg->htpasswd == NULL)
    return berth_fail (err, EINVAL, "--auth basic needs --htpasswd");
  if (cfg->auth == REG_AUTH_TOKEN)
    {
      if (cfg->token_key == NULL)
        return berth_fail (err, EINVAL, "--auth token needs --token-key");
      if (cfg->token_realm == NULL && cfg->htpasswd == NULL)
        return berth_fail (err, EINVAL, "--auth token needs --token-realm, or --htpasswd to serve /token");
      if (cfg->token_realm == NULL
          && asprintf (&cfg->token_realm, "%s://%s/token", cfg->tls_cert ? "https" : "http", cfg->listen) < 0)
        return berth_fail (err, ENOMEM, "out of memory");
    }
  if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
    return berth_fail (err, EINVAL, "--tls-cert and --tls-key go together");
  cfg->max_page_n = REG_DEFAULT_MAX_PAGE;
  if (cfg->max_page)
    {
      char *end;
      errno = 0;
      long n = strtol (cfg->max_page, &end, 10);
      if (errno || end == cfg->max_page || *end || n < 1 || n > 1000000)
        return berth_fail (err, EINVAL, "--max-page: expected a number from 1 to 1000000, not '%s'", cfg->max_page);
      cfg->max_page_n = n;
    }
  return 0;
}

int reg_config_parse (struct reg_config *cfg, int argc, char **argv, berth_err *err)
{
  bool auth_set = false;
  for (int i = 0; i < argc; i++)
    {
      if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
        return reg_usage (), 1;
      if (strcmp (argv[i], "--version") == 0)
        return printf ("berth-registry version %s, commit %s\n", BERTH_VERSION, BERTH_COMMIT), 1;
      if (strcmp (argv[i], "--config") == 0 && i + 1 < argc && load_file (cfg, argv[i + 1], &auth_set, err) < 0)
        return -EINVAL;
    }
  for (int i = 0; i < argc; i++)
    {
      const char *a = argv[i];
      if (strncmp (a, "--", 2) != 0)
        return berth_fail (err, EINVAL, "unexpected argument '%s' (see --help)", a);
      const char *eq = strchr (a, '=');
      cleanup_free char *name = eq ? strndup (a + 2, eq - a - 2) : strdup (a + 2);
      const char *val = eq ? eq + 1 : NULL;
      if (val == NULL)
        {
          if (i + 1 >= argc)
            return berth_fail (err, EINVAL, "%s needs a value", a);
          val = argv[++i];
        }
      if (strcmp (name, "config") == 0)
        continue;
      if (strcmp (name, "auth") == 0)
        {
          if (set_auth (cfg, val, err) < 0)
            return -EINVAL;
          auth_set = true;
          continue;
        }
      char **f = field (cfg, name);
      if (f == NULL)
        return berth_fail (err, EINVAL, "unknown option --%s (see --help)", name);
      free (*f);
      *f = strdup (val);
    }
  return finish (cfg, auth_set, err);
}

void reg_config_free (struct reg_config *cfg)
{
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    free (*(char **) ((char *) cfg + keys[i].offset));
}
