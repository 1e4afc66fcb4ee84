/* The Docker Engine API routes berthd serves.  Order matters only where
 * patterns overlap: literal routes come before captures. */
#include "daemon/daemon.h"

const struct route berthd_routes[] = {
  { "GET", "/_ping", api_ping, BODY_NONE },
  { "GET", "/version", api_version, BODY_NONE },
  { "GET", "/info", api_info, BODY_NONE },
  { "GET", "/system/df", api_system_df, BODY_NONE },
  { "GET", "/events", api_events, BODY_NONE },

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

  /* Containers are not implemented yet; these answer truthfully for an
   * engine that has none (`docker ps`, and `docker inspect NAME`, which
   * asks for a container first and must get a 404 to try images). */
  { "GET", "/containers/json", api_containers_list, BODY_NONE },
  { "GET", "/containers/{id}/json", api_container_inspect, BODY_NONE },
  { NULL, NULL, NULL, BODY_NONE },
};
