#include "client.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct sink
{
  int fd;
  char *buf;
  size_t len;
};

static size_t on_data (char *data, size_t size, size_t n, void *opaque)
{
  struct sink *s = opaque;
  size_t total = size * n;
  if (s->fd >= 0)
    return berth_write_all (s->fd, data, total) == 0 ? total : 0;
  char *nb = realloc (s->buf, s->len + total + 1);
  if (nb == NULL)
    return 0;
  memcpy (nb + s->len, data, total);
  s->len += total;
  nb[s->len] = '\0';
  s->buf = nb;
  return total;
}

static size_t on_read (char *buf, size_t size, size_t n, void *opaque)
{
  int fd = *(int *) opaque;
  ssize_t r = read (fd, buf, size * n);
  return r < 0 ? CURL_READFUNC_ABORT : (size_t) r;
}

int client_call (struct client *c, const char *method, const char *path, const char *body, int in_fd, int out_fd,
                 struct client_reply *reply, berth_err *err)
{
  CURL *curl = curl_easy_init ();
  if (curl == NULL)
    return berth_fail (err, ENOMEM, "curl");
  cleanup_free char *url = NULL;
  if (asprintf (&url, "http://berthd/v%s%s", client_api_version (c), path) < 0)
    {
      curl_easy_cleanup (curl);
      return berth_fail (err, ENOMEM, "url");
    }
  struct sink sink = { .fd = out_fd };
  struct curl_slist *headers = curl_slist_append (NULL, "Content-Type: application/json");
  curl_easy_setopt (curl, CURLOPT_UNIX_SOCKET_PATH, c->socket);
  curl_easy_setopt (curl, CURLOPT_URL, url);
  curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt (curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
  if (in_fd >= 0)
    {
      curl_easy_setopt (curl, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt (curl, CURLOPT_READFUNCTION, on_read);
      curl_easy_setopt (curl, CURLOPT_READDATA, &in_fd);
    }
  else if (body)
    curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
  else if (strcmp (method, "POST") == 0)
    curl_easy_setopt (curl, CURLOPT_POSTFIELDS, "");
  CURLcode rc = curl_easy_perform (curl);
  if (rc == CURLE_OK)
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &reply->status);
  curl_slist_free_all (headers);
  curl_easy_cleanup (curl);
  if (rc != CURLE_OK)
    {
      free (sink.buf);
      return berth_fail (err, 0, "cannot reach berthd at %s: %s (is it running?)", c->socket, curl_easy_strerror (rc));
    }
  reply->body = sink.buf;
  reply->len = sink.len;
  return 0;
}

void client_reply_free (struct client_reply *r)
{
  free (r->body);
  r->body = NULL;
}

static int daemon_error (struct client_reply *r, berth_err *err)
{
  berth_err ignored = NULL;
  cleanup_json json_t *j = r->body ? berth_json_load_buffer (r->body, r->len, "reply", &ignored) : NULL;
  berth_error_free (&ignored);
  const char *msg = berth_json_str (j, "message");
  int errnum = r->status == 404 ? ENOENT : r->status == 409 ? EEXIST : 0;
  return berth_fail_as (err, errnum, "Error response from daemon: %s",
                        msg ? msg : (r->body && *r->body ? r->body : "(no message)"));
}

json_t *client_json (struct client *c, const char *method, const char *path, const char *body, berth_err *err)
{
  struct client_reply r = { 0 };
  if (client_call (c, method, path, body, -1, -1, &r, err) < 0)
    return NULL;
  json_t *j = NULL;
  if (r.status / 100 != 2)
    daemon_error (&r, err);
  else
    j = r.len ? berth_json_load_buffer (r.body, r.len, "reply", err) : json_null ();
  client_reply_free (&r);
  return j;
}

char *client_escape (const char *s)
{
  char *e = curl_easy_escape (NULL, s, 0);
  char *copy = e ? strdup (e) : NULL;
  curl_free (e);
  return copy;
}
