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
struct events;

struct berthd_config
{
  char *data_root;   /* --data-root, "data-root"; default /var/lib/berth */
  char *exec_root;   /* --exec-root, "exec-root"; default /run/berth */
  char *host;        /* --host / -H, "hosts"[0]; default unix:///run/berth/berth.sock */
  char *log_level;   /* --log-level, "log-level": error, warn, info, debug */
  json_t *runtimes;  /* "runtimes": {name: {"path": ...}} */
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
  struct events *events;  /* what `docker events` shows (events.h) */
};

/* Defaults, then /etc/berth/daemon.json (or --config-file), then flags.
 * Unknown keys in daemon.json are errors, as with dockerd. */
int berthd_config_load (struct berthd_config *cfg, int argc, char **argv, berth_err *err);
void berthd_config_free (struct berthd_config *cfg);

int berthd_open (struct berthd *d, berth_err *err);
void berthd_close (struct berthd *d);

/* An unlinked, close-on-exec temp file under the data root; -1 on error. */
int berthd_temp_file (struct berthd *d);

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

#endif
