/* berthd configuration and shared state. */
#include "daemon/daemon.h"
#include "build/builder.h"
#include "daemon/network.h"
#include "image/image.h"
#include "daemon/container.h"
#include "daemon/events.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CONFIG_FILE "/etc/berth/daemon.json"

static int set_str (char **dst, const char *value)
{
  free (*dst);
  *dst = strdup (value);
  return *dst ? 0 : -ENOMEM;
}

/* dockerd's --bridge: "none" turns the default network off; a name is
 * the device of the default bridge (made by berthd if missing). */
static int bridge_option (struct berthd_config *cfg, const char *v, berth_err *err)
{
  if (*v == '\0')
    return berth_fail (err, 0, "--bridge: empty value");
  cfg->no_bridge = strcmp (v, "none") == 0;
  if (!cfg->no_bridge)
    set_str (&cfg->bridge_name, v);
  return 0;
}

/* Docker's --mtu: the MTU of containers' bridge interfaces.  0 (unset)
 * leaves berth's default (network.h). */
static int mtu_option (struct berthd_config *cfg, long long v, berth_err *err)
{
  if (v != 0 && (v < NETWORK_MIN_MTU || v > NETWORK_MAX_MTU))
    return berth_fail (err, 0, "--mtu %lld: must be between %d and %d", v, NETWORK_MIN_MTU, NETWORK_MAX_MTU);
  cfg->mtu = (unsigned) v;
  return 0;
}

static int apply_file (struct berthd_config *cfg, const char *path, bool required, berth_err *err)
{
  if (!required && access (path, F_OK) < 0)
    return 0;
  cleanup_json json_t *j = berth_json_load_file (path, err);
  if (j == NULL)
    return -EINVAL;
  if (!json_is_object (j))
    return berth_fail (err, 0, "%s: expected a JSON object", path);
  const char *key;
  json_t *v;
  json_object_foreach (j, key, v)
    {
      if (strcmp (key, "data-root") == 0 && json_is_string (v))
        set_str (&cfg->data_root, json_string_value (v));
      else if (strcmp (key, "exec-root") == 0 && json_is_string (v))
        set_str (&cfg->exec_root, json_string_value (v));
      else if (strcmp (key, "log-level") == 0 && json_is_string (v))
        set_str (&cfg->log_level, json_string_value (v));
      else if (strcmp (key, "hosts") == 0 && json_is_array (v) && json_is_string (json_array_get (v, 0)))
        set_str (&cfg->host, json_string_value (json_array_get (v, 0)));
      else if (strcmp (key, "runtimes") == 0 && json_is_object (v))
        json_object_update (cfg->runtimes, v);
      else if (strcmp (key, "bip") == 0 && json_is_string (v))
        set_str (&cfg->bip, json_string_value (v));
      else if (strcmp (key, "bridge-name") == 0 && json_is_string (v))
        set_str (&cfg->bridge_name, json_string_value (v));
      else if (strcmp (key, "mtu") == 0 && json_is_integer (v))
        {
          if (mtu_option (cfg, json_integer_value (v), err) < 0)
            return -EINVAL;
        }
      else if (strcmp (key, "bridge") == 0 && json_is_string (v) && bridge_option (cfg, json_string_value (v), err) < 0)
        return -EINVAL;
      else if (strcmp (key, "bridge") == 0 && json_is_string (v))
        continue;
      else if (strcmp (key, "insecure-registries") == 0 && json_is_array (v))
        {
          size_t i;
          json_t *e;
          json_array_foreach (v, i, e)
            if (!json_is_string (e))
              return berth_fail (err, 0, "%s: insecure-registries: expected strings", path);
          json_array_extend (cfg->insecure_registries, v);
        }
      else
        return berth_fail (err, 0, "%s: unknown or invalid option `%s`", path, key);
    }
  return 0;
}

static const char *flag_value (int argc, char **argv, int *i, const char *name)
{
  size_t n = strlen (name);
  const char *a = argv[*i];
  if (strncmp (a, name, n) == 0 && a[n] == '=')
    return a + n + 1;
  if (strcmp (a, name) == 0 && *i + 1 < argc)
    return argv[++*i];
  return NULL;
}

int berthd_config_load (struct berthd_config *cfg, int argc, char **argv, berth_err *err)
{
  memset (cfg, 0, sizeof *cfg);
  cfg->data_root = strdup ("/var/lib/berth");
  cfg->exec_root = strdup ("/run/berth");
  cfg->host = strdup ("unix:///run/berth/berth.sock");
  cfg->log_level = strdup ("info");
  cfg->runtimes = json_object ();
  cfg->insecure_registries = json_array ();
  const char *config_file = NULL;
  for (int i = 1; i < argc; i++)
    if ((config_file = flag_value (argc, argv, &i, "--config-file")) != NULL)
      break;
  if (apply_file (cfg, config_file ? config_file : DEFAULT_CONFIG_FILE, config_file != NULL, err) < 0)
    return -EINVAL;
  for (int i = 1; i < argc; i++)
    {
      const char *v;
      if ((v = flag_value (argc, argv, &i, "--data-root")))
        set_str (&cfg->data_root, v);
      else if ((v = flag_value (argc, argv, &i, "--exec-root")))
        set_str (&cfg->exec_root, v);
      else if ((v = flag_value (argc, argv, &i, "--host")) || (v = flag_value (argc, argv, &i, "-H")))
        set_str (&cfg->host, v);
      else if ((v = flag_value (argc, argv, &i, "--log-level")) || (v = flag_value (argc, argv, &i, "-l")))
        set_str (&cfg->log_level, v);
      else if ((v = flag_value (argc, argv, &i, "--config-file")))
        continue;
      else if ((v = flag_value (argc, argv, &i, "--insecure-registry")))
        json_array_append_new (cfg->insecure_registries, json_string (v));
      else if ((v = flag_value (argc, argv, &i, "--bip")))
        set_str (&cfg->bip, v);
      else if ((v = flag_value (argc, argv, &i, "--mtu")))
        {
          char *end;
          errno = 0;
          long long m = strtoll (v, &end, 10);
          if (*v == '\0' || *end || errno)
            return berth_fail (err, 0, "--mtu `%s`: not a number", v);
          if (mtu_option (cfg, m, err) < 0)
            return -EINVAL;
        }
      else if ((v = flag_value (argc, argv, &i, "--bridge-name")))
        set_str (&cfg->bridge_name, v);
      else if ((v = flag_value (argc, argv, &i, "--bridge")) || (v = flag_value (argc, argv, &i, "-b")))
        {
          if (bridge_option (cfg, v, err) < 0)
            return -EINVAL;
        }
      else
        return berth_fail (err, 0, "unknown option `%s` (see --help)", argv[i]);
    }
  if (strncmp (cfg->host, "unix://", 7) != 0)
    return berth_fail (err, 0, "--host `%s`: only unix:// sockets are supported", cfg->host);
  if (cfg->data_root[0] != '/' || cfg->exec_root[0] != '/')
    return berth_fail (err, 0, "--data-root and --exec-root must be absolute paths");
  return 0;
}

void berthd_config_free (struct berthd_config *cfg)
{
  free (cfg->data_root);
  free (cfg->exec_root);
  free (cfg->host);
  free (cfg->log_level);
  free (cfg->bip);
  free (cfg->bridge_name);
  if (cfg->runtimes)
    json_decref (cfg->runtimes);
  if (cfg->insecure_registries)
    json_decref (cfg->insecure_registries);
}

/* A random id, made once and kept: `docker info` shows it as the ID. */
static int load_engine_id (struct berthd *d, berth_err *err)
{
  cleanup_free char *path = NULL;
  if (asprintf (&path, "%s/engine-id", d->cfg.data_root) < 0)
    return berth_fail (err, ENOMEM, "engine id");
  if (berth_read_file (path, 128, &d->engine_id, NULL, NULL) == 0 && strlen (d->engine_id) == 32)
    return 0;
  free (d->engine_id);
  unsigned char raw[16];
  if (getentropy (raw, sizeof raw) < 0)
    return berth_fail_errno (err, "getentropy");
  d->engine_id = malloc (33);
  if (d->engine_id == NULL)
    return berth_fail (err, ENOMEM, "engine id");
  for (size_t i = 0; i < sizeof raw; i++)
    snprintf (d->engine_id + 2 * i, 3, "%02x", raw[i]);
  return berth_write_file_atomic (path, d->engine_id, 32, 0644, err);
}

static bool executable (const char *path)
{
  return access (path, X_OK) == 0;
}

char *berthd_find_helper (const char *name)
{
  char self[4096];
  ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
  char *p = NULL;
  if (n > 0)
    {
      self[n] = '\0';
      char *slash = strrchr (self, '/');
      if (slash)
        *slash = '\0';
      if (asprintf (&p, "%s/%s", self, name) >= 0 && executable (p))
        return p;
      free (p);
      p = NULL;
    }
  const char *path = getenv ("PATH");
  cleanup_free char *dirs = strdup (path && *path ? path : "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin");
  char *save = NULL;
  for (char *dir = dirs ? strtok_r (dirs, ":", &save) : NULL; dir; dir = strtok_r (NULL, ":", &save))
    {
      if (asprintf (&p, "%s/%s", dir, name) >= 0 && executable (p))
        return p;
      free (p);
      p = NULL;
    }
  if (asprintf (&p, "/usr/sbin/%s", name) >= 0 && executable (p))
    return p;
  free (p);
  return NULL;
}

/* berth-monitor and berth-runtime are required; berth-init and runc are
 * optional (without them, --init and --runtime runc are refused). */
static int find_helpers (struct berthd *d, berth_err *err)
{
  d->monitor_path = berthd_find_helper ("berth-monitor");
  d->runtime_path = berthd_find_helper ("berth-runtime");
  d->init_path = berthd_find_helper ("berth-init");
  d->runc_path = berthd_find_helper ("runc");
  if (d->monitor_path == NULL)
    return berth_fail_as (err, ENOENT, "berth-monitor not found next to berthd or in PATH");
  if (d->runtime_path == NULL)
    return berth_fail_as (err, ENOENT, "berth-runtime not found next to berthd or in PATH");
  return 0;
}

int berthd_open (struct berthd *d, berth_err *err)
{
  cleanup_free char *images = NULL;
  d->started = time (NULL);
  pthread_mutex_init (&d->image_lock, NULL);
  if (asprintf (&d->tmp_dir, "%s/tmp", d->cfg.data_root) < 0 || asprintf (&images, "%s/image", d->cfg.data_root) < 0)
    return berth_fail (err, ENOMEM, "paths");
  if (berth_mkdir_p (d->cfg.data_root, 0711, err) < 0 || berth_mkdir_p (d->tmp_dir, 0700, err) < 0
      || berth_mkdir_p (d->cfg.exec_root, 0711, err) < 0)
    return -EIO;
  if (load_engine_id (d, err) < 0)
    return -EIO;
  if (image_store_open (images, &d->images, err) < 0)
    return berth_error_prefix (err, "image store");
  if (find_helpers (d, err) < 0)
    return -ENOENT;
  build_leftovers_remove (d->cfg.data_root);
  d->events = events_new ();
  cleanup_free char *containers = NULL;
  if (d->events == NULL || asprintf (&containers, "%s/containers", d->cfg.data_root) < 0)
    return berth_fail (err, ENOMEM, "events");
  struct network_options net = {
    .bip = d->cfg.bip,
    .bridge_name = d->cfg.bridge_name,
    .mtu = d->cfg.mtu,
    .default_bridge = !d->cfg.no_bridge,
  };
  /* Networks first: recovering containers takes their addresses again. */
  if (networks_open (d, &net, &d->networks, err) < 0)
    return berth_error_prefix (err, "networks");
  if (containers_open (d, containers, &d->containers, err) < 0)
    return berth_error_prefix (err, "containers");
  network_sandboxes_sweep (d);
  return 0;
}

void berthd_begin_shutdown (struct berthd *d)
{
  d->stopping = true;
  if (d->events)
    events_shutdown (d->events);
  if (d->containers)
    {
      containers_lock (d->containers);
      containers_wake_all (d->containers);
      containers_unlock (d->containers);
    }
}

void berthd_close (struct berthd *d)
{
  d->stopping = true;
  if (d->events)
    events_shutdown (d->events);
  containers_close (d->containers);
  networks_close (d->networks);
  if (d->images)
    image_store_close (d->images);
  events_free (d->events);
  pthread_mutex_destroy (&d->image_lock);
  free (d->tmp_dir);
  free (d->engine_id);
  free (d->monitor_path);
  free (d->runtime_path);
  free (d->init_path);
  free (d->runc_path);
  berthd_config_free (&d->cfg);
}

int berthd_new_id (char id[65])
{
  unsigned char raw[32];
  if (getentropy (raw, sizeof raw) < 0)
    return -errno;
  for (size_t i = 0; i < sizeof raw; i++)
    snprintf (id + 2 * i, 3, "%02x", raw[i]);
  return 0;
}

int berthd_temp_file (struct berthd *d)
{
  return open (d->tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
}
