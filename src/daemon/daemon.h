/* berthd: the daemon's shared state and configuration. */
#ifndef BERTH_DAEMON_H
#define BERTH_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "common/json.h"
#include "daemon/server.h"

/* The Docker Engine API versions berthd speaks. */
#define BERTHD_API_VERSION "1.44"
#define BERTHD_MIN_API_VERSION "1.24"

struct image_store;
struct containers;
struct events;
struct networks;

struct berthd_config
{
  char *data_root;   /* --data-root, "data-root"; default /var/lib/berth */
  char *exec_root;   /* --exec-root, "exec-root"; default /run/berth */
  char *host;        /* --host / -H, "hosts"[0]; default unix:///run/berth/berth.sock */
  char *log_level;   /* --log-level, "log-level": error, warn, info, debug */
  json_t *runtimes;  /* "runtimes": {name: {"path": ...}} */
  char *bip;         /* --bip, "bip": the default bridge's address/prefix */
  char *bridge_name; /* --bridge-name, "bridge-name": its device (berth0) */
  unsigned mtu;      /* --mtu, "mtu": bridge endpoints' MTU, 0 = berth's default */
  bool no_bridge;    /* --bridge none, "bridge": "none": no default bridge */
  json_t *insecure_registries; /* --insecure-registry (repeatable), "insecure-registries":
                                  ["host:port", "CIDR"]: plain HTTP (src/image/distribution.h) */
};

struct berthd
{
  struct berthd_config cfg;
  struct image_store *images;
  /* One lock for the image store: image operations are rare and short,
   * while loads and saves stream through temp files outside the lock. */
  pthread_mutex_t image_lock;
  time_t started;
  char *tmp_dir;     /* <data-root>/tmp */
  char *engine_id;   /* random, kept in <data-root>/engine-id */
  struct containers *containers;
  struct events *events;
  struct networks *networks;
  char *monitor_path;  /* berth-monitor: next to berthd, else in PATH */
  char *init_path;     /* berth-init, for `run --init` (NULL if absent) */
  char *runtime_path;  /* berth-runtime (the runtime named "berth") */
  char *runc_path;     /* runc in PATH, or NULL (the runtime named "runc") */
  volatile bool stopping;
};

/* A helper program of berth: next to the berthd executable, else in
 * /usr/local/bin or PATH; heap string, NULL if not found. */
char *berthd_find_helper (const char *name);

/* posix_spawn ARGV (argv[0] a path) with stdin /dev/null and stdout
 * captured into *output (heap, may be NULL), stderr too unless STDERR_FD
 * >= 0 takes it; returns the exit status (128+signal), or -errno when it
 * could not run. */
int berthd_spawn_capture (const char *const *argv, int stderr_fd, char **output);

/* Defaults, then /etc/berth/daemon.json (or --config-file), then flags.
 * Unknown keys in daemon.json are errors, as with dockerd. */
int berthd_config_load (struct berthd_config *cfg, int argc, char **argv, berth_err *err);
void berthd_config_free (struct berthd_config *cfg);

int berthd_open (struct berthd *d, berth_err *err);
/* Wake every request that waits for something (wait, events, attach before
 * start) so that it ends: the first step of a shutdown. */
void berthd_begin_shutdown (struct berthd *d);
void berthd_close (struct berthd *d);

/* A random 64-hex id (containers, networks, endpoints); -errno when the
 * kernel gives no entropy. */
int berthd_new_id (char id[65]);

/* Everything FD gives until EOF, NUL-terminated, kept up to MAX bytes (the
 * rest is read and dropped, so a writer never blocks); NULL without
 * memory (container-fs.c). */
char *berthd_read_to_end (int fd, size_t max);

/* An unlinked, close-on-exec temp file under the data root; -1 on error. */
int berthd_temp_file (struct berthd *d);

/* The "filters" query parameter, its keys checked against ALLOWED
 * (NULL-terminated); on error replies 400 and returns NULL (api-filters.c). */
json_t *api_parse_filters (struct request *req, struct reply *rep, const char *const *allowed);
/* The values given for KEY, as a new array of strings. */
json_t *api_filter_values (json_t *filters, const char *key);
/* The prune filter "until" (a time or a duration before now, as `docker
 * ... prune --filter until=24h` sends it) in ns since the epoch, 0 when
 * absent.  False, with a 400 replied, when it does not parse. */
bool api_filter_until (json_t *filters, struct reply *rep, int64_t *until_ns);
/* An object's "Created" (RFC 3339) is before UNTIL_NS (true when 0). */
bool api_created_before (const char *created, int64_t until_ns);

/* The route table of the Engine API (api.c). */
extern const struct route berthd_routes[];

/* Handlers, one file per API resource. */
void api_ping (struct request *req, struct reply *rep);
void api_version (struct request *req, struct reply *rep);
void api_info (struct request *req, struct reply *rep);
void api_system_df (struct request *req, struct reply *rep);
void api_images_list (struct request *req, struct reply *rep);
void api_image_inspect (struct request *req, struct reply *rep);
void api_image_history (struct request *req, struct reply *rep);
void api_image_tag (struct request *req, struct reply *rep);
void api_image_delete (struct request *req, struct reply *rep);
void api_images_load (struct request *req, struct reply *rep);
void api_images_get (struct request *req, struct reply *rep);
void api_image_get (struct request *req, struct reply *rep);
void api_images_create (struct request *req, struct reply *rep);
void api_images_prune (struct request *req, struct reply *rep);
void api_containers_list (struct request *req, struct reply *rep);
void api_container_inspect (struct request *req, struct reply *rep);
void api_events (struct request *req, struct reply *rep);
void api_container_create (struct request *req, struct reply *rep);
void api_container_start (struct request *req, struct reply *rep);
void api_container_stop (struct request *req, struct reply *rep);
void api_container_kill (struct request *req, struct reply *rep);
void api_container_restart (struct request *req, struct reply *rep);
void api_container_delete (struct request *req, struct reply *rep);
void api_container_wait (struct request *req, struct reply *rep);
void api_container_pause (struct request *req, struct reply *rep);
void api_container_unpause (struct request *req, struct reply *rep);
void api_container_rename (struct request *req, struct reply *rep);
void api_container_update (struct request *req, struct reply *rep);
void api_container_resize (struct request *req, struct reply *rep);
void api_container_attach (struct request *req, struct reply *rep);
void api_container_logs (struct request *req, struct reply *rep);
void api_container_top (struct request *req, struct reply *rep);
void api_container_changes (struct request *req, struct reply *rep);
void api_container_stats (struct request *req, struct reply *rep);
void api_container_archive_get (struct request *req, struct reply *rep);
void api_container_archive_head (struct request *req, struct reply *rep);
void api_container_archive_put (struct request *req, struct reply *rep);
void api_container_export (struct request *req, struct reply *rep);
void api_containers_prune (struct request *req, struct reply *rep);
void api_exec_create (struct request *req, struct reply *rep);
void api_exec_start (struct request *req, struct reply *rep);
void api_exec_inspect (struct request *req, struct reply *rep);
void api_exec_resize (struct request *req, struct reply *rep);
void api_networks_list (struct request *req, struct reply *rep);
void api_network_inspect (struct request *req, struct reply *rep);
void api_network_create (struct request *req, struct reply *rep);
void api_network_delete (struct request *req, struct reply *rep);
void api_network_connect (struct request *req, struct reply *rep);
void api_network_disconnect (struct request *req, struct reply *rep);
void api_networks_prune (struct request *req, struct reply *rep);
void api_volumes_prune (struct request *req, struct reply *rep);
void api_image_push (struct request *req, struct reply *rep);
void api_auth (struct request *req, struct reply *rep);
/* POST /images/create?fromImage=: `docker pull` (api-distribution.c). */
void api_images_pull (struct request *req, struct reply *rep);
void api_build_prune (struct request *req, struct reply *rep);
void api_build (struct request *req, struct reply *rep); /* api-build.c */

#endif
