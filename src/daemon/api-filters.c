/* Docker's "filters" query parameter: {"key": {"value": true}} or the
 * legacy {"key": ["value"]}. */
#include "daemon/daemon.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "daemon/stream.h"

#include <string.h>
#include <time.h>

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


bool api_filter_until (json_t *filters, struct reply *rep, int64_t *until_ns)
{
  cleanup_json json_t *values = api_filter_values (filters, "until");
  *until_ns = 0;
  if (json_array_size (values) == 0)
    return true;
  const char *v = json_string_value (json_array_get (values, 0));
  struct timespec now;
  clock_gettime (CLOCK_REALTIME, &now);
  int64_t t = v ? stream_parse_time (v, (int64_t) now.tv_sec * 1000000000LL + now.tv_nsec) : -1;
  if (json_array_size (values) > 1 || t < 0)
    {
      reply_error (rep, 400, "invalid filter 'until=%s': expected unix seconds, RFC 3339 or a duration like 24h",
                   v ? v : "");
      return false;
    }
  *until_ns = t ? t : 1; /* until=0 is the epoch: nothing is older */
  return true;
}

bool api_created_before (const char *created, int64_t until_ns)
{
  if (until_ns == 0)
    return true;
  int64_t t = created ? stream_parse_time (created, 0) : -1;
  return t < until_ns; /* an unreadable time counts as old */
}
