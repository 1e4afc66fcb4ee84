/* Container endpoints.  berthd does not run containers yet (the next part
 * of the engine issue): the list is empty and every name is unknown. */
#include "daemon/daemon.h"

void api_containers_list (struct request *req, struct reply *rep)
{
  (void) req;
  reply_json (rep, 200, json_array ());
}

void api_container_inspect (struct request *req, struct reply *rep)
{
  reply_error (rep, 404, "No such container: %s", req->params[0]);
}
