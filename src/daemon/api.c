/* The Docker Engine API routes berthd serves.  Order matters only where
 * patterns overlap: literal routes come before captures. */
#include "daemon/daemon.h"

const struct route berthd_routes[] = {
  { "GET", "/_ping", api_ping, BODY_NONE },
  { "GET", "/version", api_version, BODY_NONE },
  { "GET", "/info", api_info, BODY_NONE },
  { "GET", "/system/df", api_system_df, BODY_NONE },

  { "GET", "/images/json", api_images_list, BODY_NONE },
  { "POST", "/images/load", api_images_load, BODY_FILE },
  { "GET", "/images/get", api_images_get, BODY_NONE },
  { "POST", "/images/create", api_images_create, BODY_FILE },
  { "POST", "/images/prune", api_images_prune, BODY_NONE },
  { "GET", "/images/{name*}/json", api_image_inspect, BODY_NONE },
  { "GET", "/images/{name*}/history", api_image_history, BODY_NONE },
  { "GET", "/images/{name*}/get", api_image_get, BODY_NONE },
  { "POST", "/images/{name*}/tag", api_image_tag, BODY_NONE },
  { "DELETE", "/images/{name*}", api_image_delete, BODY_NONE },

  { "GET", "/containers/json", api_containers_list, BODY_NONE },
  { "POST", "/containers/create", api_container_create, BODY_JSON },
  { "POST", "/containers/prune", api_containers_prune, BODY_NONE },
  { "GET", "/containers/{id}/json", api_container_inspect, BODY_NONE },
  { "POST", "/containers/{id}/start", api_container_start, BODY_NONE },
  { "POST", "/containers/{id}/stop", api_container_stop, BODY_NONE },
  { "POST", "/containers/{id}/kill", api_container_kill, BODY_NONE },
  { "POST", "/containers/{id}/restart", api_container_restart, BODY_NONE },
  { "POST", "/containers/{id}/wait", api_container_wait, BODY_NONE },
  { "POST", "/containers/{id}/pause", api_container_pause, BODY_NONE },
  { "POST", "/containers/{id}/unpause", api_container_unpause, BODY_NONE },
  { "POST", "/containers/{id}/rename", api_container_rename, BODY_NONE },
  { "POST", "/containers/{id}/update", api_container_update, BODY_JSON },
  { "POST", "/containers/{id}/resize", api_container_resize, BODY_NONE },
  { "POST", "/containers/{id}/attach", api_container_attach, BODY_NONE },
  { "GET", "/containers/{id}/logs", api_container_logs, BODY_NONE },
  { "POST", "/containers/{id}/exec", api_exec_create, BODY_JSON },
  { "DELETE", "/containers/{id}", api_container_delete, BODY_NONE },
  { "POST", "/exec/{id}/start", api_exec_start, BODY_JSON },
  { "POST", "/exec/{id}/resize", api_exec_resize, BODY_NONE },
  { "GET", "/exec/{id}/json", api_exec_inspect, BODY_NONE },
  { NULL, NULL, NULL, BODY_NONE },
};
