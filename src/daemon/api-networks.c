/* /networks: Docker's network endpoints (the model is in network-*.c). */
#include "daemon/daemon.h"
#include "daemon/network.h"
#include "common/cleanup.h"

#include <errno.h>
#include <string.h>

static const char *const list_filters[] = { "dangling", "driver", "id", "label", "name", "scope", "type", NULL };
static const char *const prune_filters[] = { "label", "until", NULL };

void api_networks_list (struct request *req, struct reply *rep)
{
  cleanup_json json_t *filters = api_parse_filters (req, rep, list_filters);
  json_t *out = NULL;
  berth_err err = NULL;
  if (filters == NULL)
    return;
  if (network_list (req->daemon, filters, &out, &err) < 0)
    return reply_berth_error (rep, &err);
  reply_json (rep, 200, out);
}

void api_network_inspect (struct request *req, struct reply *rep)
{
  json_t *out = NULL;
  berth_err err = NULL;
  if (network_inspect (req->daemon, req->params[0], &out, &err) < 0)
    return reply_berth_error (rep, &err);
  reply_json (rep, 200, out);
}

void api_network_create (struct request *req, struct reply *rep)
{
  cleanup_json json_t *body = request_json (req, rep);
  cleanup_free char *id = NULL;
  berth_err err = NULL;
  if (body == NULL)
    return;
  if (!json_is_object (body))
    return reply_error (rep, 400, "the request body must be a JSON object");
  if (network_create (req->daemon, body, &id, &err) < 0)
    return reply_berth_error (rep, &err);
  reply_json (rep, 201, json_pack ("{s:s, s:s}", "Id", id, "Warning", ""));
}

void api_network_delete (struct request *req, struct reply *rep)
{
  berth_err err = NULL;
  if (network_remove (req->daemon, req->params[0], &err) < 0)
    return reply_berth_error (rep, &err);
  reply_text (rep, 204, NULL, "");
}

/* The "Container" of a connect or disconnect body; NULL after a 400. */
static const char *body_container (json_t *body, struct reply *rep)
{
  const char *container = json_string_value (json_object_get (body, "Container"));
  if (container == NULL || *container == '\0')
    reply_error (rep, 400, "no container given (Container)");
  return container && *container ? container : NULL;
}

void api_network_connect (struct request *req, struct reply *rep)
{
  cleanup_json json_t *body = request_json (req, rep);
  berth_err err = NULL;
  const char *container = body ? body_container (body, rep) : NULL;
  if (container == NULL)
    return;
  if (network_connect (req->daemon, req->params[0], container, json_object_get (body, "EndpointConfig"), &err) < 0)
    return reply_berth_error (rep, &err);
  reply_text (rep, 200, NULL, "");
}

void api_network_disconnect (struct request *req, struct reply *rep)
{
  cleanup_json json_t *body = request_json (req, rep);
  berth_err err = NULL;
  const char *container = body ? body_container (body, rep) : NULL;
  if (container == NULL)
    return;
  if (network_disconnect (req->daemon, req->params[0], container, json_is_true (json_object_get (body, "Force")), &err)
      < 0)
    return reply_berth_error (rep, &err);
  reply_text (rep, 200, NULL, "");
}

void api_networks_prune (struct request *req, struct reply *rep)
{
  cleanup_json json_t *filters = api_parse_filters (req, rep, prune_filters);
  json_t *deleted = NULL;
  berth_err err = NULL;
  int64_t until;
  if (filters == NULL || !api_filter_until (filters, rep, &until))
    return;
  if (network_prune (req->daemon, filters, until, &deleted, &err) < 0)
    return reply_berth_error (rep, &err);
  reply_json (rep, 200, json_pack ("{s:o}", "NetworksDeleted", deleted));
}
