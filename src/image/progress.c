/* Docker's JSON progress messages (the docker CLI's jsonmessage stream):
 * one compact JSON object and a newline per message, written with one
 * write() under a lock, so that layers reporting from several threads
 * never interleave and a pipe reader never sees half a line. */
#include "image/dist-internal.h"
#include "common/fs.h"

#include <stdlib.h>
#include <string.h>

void dist_progress_init (struct dist_progress *p, int fd)
{
  p->fd = fd;
  pthread_mutex_init (&p->lock, NULL);
}

void dist_progress_json (struct dist_progress *p, json_t *msg)
{
  if (msg == NULL)
    return;
  if (p == NULL || p->fd < 0)
    {
      json_decref (msg);
      return;
    }
  char *text = json_dumps (msg, JSON_COMPACT);
  json_decref (msg);
  if (text == NULL)
    return;
  size_t n = strlen (text);
  char *line = realloc (text, n + 2);
  if (line == NULL)
    {
      free (text);
      return;
    }
  line[n] = '\n';
  pthread_mutex_lock (&p->lock);
  (void) berth_write_all (p->fd, line, n + 1);
  pthread_mutex_unlock (&p->lock);
  free (line);
}

void dist_progress_status (struct dist_progress *p, const char *id, const char *status)
{
  json_t *m = json_pack ("{s:s}", "status", status);
  if (m && id)
    {
      json_object_set_new (m, "progressDetail", json_object ());
      json_object_set_new (m, "id", json_string (id));
    }
  dist_progress_json (p, m);
}

void dist_progress_bytes (struct dist_progress *p, const char *id, const char *status, int64_t cur, int64_t total)
{
  json_t *detail = json_pack ("{s:I}", "current", (json_int_t) cur);
  if (detail && total > 0)
    json_object_set_new (detail, "total", json_integer (total));
  dist_progress_json (p, json_pack ("{s:s,s:o,s:s}", "status", status, "progressDetail", detail, "id", id));
}
