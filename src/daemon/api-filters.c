/* Docker's "filters" query parameter: {"key": {"value": true}} or the
 * legacy {"key": ["value"]}. */
#include "daemon/daemon.h"
#include "common/json.h"

#include <string.h>

/* The filters query parameter, with its keys checked against ALLOWED. */
json_t *api_parse_filters (struct request *req, struct reply *rep, const char *const *allowed)
{
  const char *f = request_query (req, "filters");
  berth_err err = NULL;
  if (f == NULL || *f == '\0')
    return json_object ();
  json_t *j = berth_json_load_buffer (f, strlen (f), "filters", &err);
  if (j == NULL)
    {
      reply_berth_error (rep, &err);
      return NULL;
    }
  const char *key;
  json_t *v;
  json_object_foreach (j, key, v)
    {
      bool ok = false;
      for (const char *const *a = allowed; *a; a++)
        ok |= strcmp (*a, key) == 0;
      if (!ok || (!json_is_object (v) && !json_is_array (v)))
        {
          reply_error (rep, 400, "invalid filter '%s'", key);
          json_decref (j);
          return NULL;
        }
    }
  return j;
}

json_t *api_filter_values (json_t *filters, const char *key)
{
  json_t *v = json_object_get (filters, key), *out = json_array ();
  const char *k;
  json_t *x;
  size_t i;
  if (json_is_object (v))
    json_object_foreach (v, k, x)
      json_array_append_new (out, json_string (k));
  else if (json_is_array (v))
    json_array_foreach (v, i, x)
      json_array_append (out, x);
  return out;
}

