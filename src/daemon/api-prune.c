/* The prune endpoints of resources berthd does not have yet, which
 * `docker system prune` calls along with containers, images and networks.
 * berthd has no volumes or build cache (later issues add them), so there is
 * truthfully nothing to delete; the filters are still checked. */
#include "daemon/daemon.h"
#include "common/cleanup.h"

#include <string.h>

static const char *const prune_filters[] = { "label", "label!", "until", "all", "id", "parent", "type", NULL };

static void reply_nothing_pruned (struct request *req, struct reply *rep, const char *list_key)
{
  cleanup_json json_t *filters = api_parse_filters (req, rep, prune_filters);
  if (filters == NULL)
    return;
  json_t *body = json_pack ("{s:[], s:i}", list_key, "SpaceReclaimed", 0);
  reply_json (rep, 200, body);
}

void api_volumes_prune (struct request *req, struct reply *rep)
{
  reply_nothing_pruned (req, rep, "VolumesDeleted");
}

void api_build_prune (struct request *req, struct reply *rep)
{
  reply_nothing_pruned (req, rep, "CachesDeleted");
}
