/* Raw HTTP/1.1 on the daemon's Unix socket, for the requests whose
 * connection outlives the reply: attach and exec (upgraded to a raw
 * stream) and wait (sent before the start, read after the exit). */
#include "containers.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define HEAD_MAX (64 * 1024)

void raw_head_free (struct raw_head *h)
{
  free (h->text);
  free (h->extra);
  memset (h, 0, sizeof *h);
}

int raw_connect (struct client *c, berth_err *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen (c->socket) >= sizeof addr.sun_path)
    return berth_fail (err, ENAMETOOLONG, "socket path `%s`", c->socket);
  strcpy (addr.sun_path, c->socket);
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return berth_fail_errno (err, "socket");
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      int e = errno;
      close (fd);
      return berth_fail (err, 0, "cannot reach berthd at %s: %s (is it running?)", c->socket, strerror (e));
    }
  return fd;
}

int raw_send (struct client *c, int fd, const char *method, const char *path, const char *body, const char *headers, berth_err *err)
{
  cleanup_free char *req = NULL;
  size_t blen = body ? strlen (body) : 0;
  int n = asprintf (&req,
                    "%s /v%s%s HTTP/1.1\r\nHost: berthd\r\nUser-Agent: berth/%s\r\n"
                    "Content-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n%s",
                    method, client_api_version (c), path, BERTH_VERSION, blen, headers ? headers : "", body ? body : "");
  if (n < 0)
    return berth_fail (err, ENOMEM, "request");
  if (berth_write_all (fd, req, (size_t) n) < 0)
    return berth_fail_errno (err, "send %s %s", method, path);
  return 0;
}

int raw_read_head (int fd, struct raw_head *h, berth_err *err)
{
  size_t cap = 4096, len = 0;
  cleanup_free char *buf = malloc (cap + 1);
  char *end = NULL;
  memset (h, 0, sizeof *h);
  while (buf && (end = memmem (buf, len, "\r\n\r\n", 4)) == NULL)
    {
      if (len == cap)
        {
          if (cap >= HEAD_MAX)
            return berth_fail (err, 0, "the daemon's reply head is too long");
          char *nb = realloc (buf, (cap *= 2) + 1);
          if (nb == NULL)
            break;
          buf = nb;
        }
      ssize_t r = read (fd, buf + len, cap - len);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        return berth_fail (err, r < 0 ? errno : 0, "the daemon closed the connection before replying");
      len += (size_t) r;
      buf[len] = '\0';
    }
  if (buf == NULL)
    return berth_fail (err, ENOMEM, "reply");
  int status = 0;
  if (sscanf (buf, "HTTP/1.%*d %d", &status) != 1 || status < 100)
    return berth_fail (err, 0, "malformed reply from the daemon: %.40s", buf);
  size_t head_len = (size_t) (end - buf);
  h->status = status;
  h->extra_len = len - head_len - 4;
  h->extra = malloc (h->extra_len + 1);
  h->text = strndup (buf, head_len);
  if (h->extra == NULL || h->text == NULL)
    return berth_fail (err, ENOMEM, "reply");
  memcpy (h->extra, end + 4, h->extra_len);
  h->extra[h->extra_len] = '\0';
  return 0;
}

char *raw_header (const struct raw_head *h, const char *name)
{
  size_t n = strlen (name);
  for (const char *line = strstr (h->text, "\r\n"); line; line = strstr (line + 2, "\r\n"))
    if (strncasecmp (line + 2, name, n) == 0 && line[2 + n] == ':')
      {
        const char *v = line + 3 + n;
        while (*v == ' ' || *v == '\t')
          v++;
        const char *e = strstr (v, "\r\n");
        return e ? strndup (v, (size_t) (e - v)) : strdup (v);
      }
  return NULL;
}

/* Undo "Transfer-Encoding: chunked" in place; false if malformed. */
static bool dechunk (char *buf, size_t *len)
{
  size_t in = 0, out = 0;
  for (;;)
    {
      char *end;
      if (in >= *len)
        return false;
      unsigned long size = strtoul (buf + in, &end, 16);
      char *crlf = strstr (buf + in, "\r\n");
      if (end == buf + in || crlf == NULL)
        return false;
      in = (size_t) (crlf - buf) + 2;
      if (size == 0)
        break;
      if (size > *len - in)
        return false;
      memmove (buf + out, buf + in, size);
      out += size;
      in += size + 2;
    }
  *len = out;
  buf[out] = '\0';
  return true;
}

int raw_read_body (int fd, struct raw_head *h, char **body, size_t *len, berth_err *err)
{
  size_t cap = h->extra_len + 4096, n = h->extra_len;
  char *buf = malloc (cap + 1);
  if (buf == NULL)
    return berth_fail (err, ENOMEM, "reply");
  memcpy (buf, h->extra, n);
  for (;;)
    {
      if (n == cap)
        {
          char *nb = realloc (buf, (cap *= 2) + 1);
          if (nb == NULL)
            {
              free (buf);
              return berth_fail (err, ENOMEM, "reply");
            }
          buf = nb;
        }
      ssize_t r = read (fd, buf + n, cap - n);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        break;
      n += (size_t) r;
    }
  buf[n] = '\0';
  cleanup_free char *te = raw_header (h, "Transfer-Encoding");
  if (te && strcasecmp (te, "chunked") == 0 && !dechunk (buf, &n))
    {
      free (buf);
      return berth_fail (err, 0, "malformed chunked reply from the daemon");
    }
  *body = buf;
  *len = n;
  return 0;
}

int raw_reply_error (int status, const char *body, berth_err *err)
{
  cleanup_json json_t *j = body ? json_loads (body, 0, NULL) : NULL;
  const char *msg = berth_json_str (j, "message");
  int errnum = status == 404 ? ENOENT : status == 409 ? EEXIST : 0;
  return berth_fail_as (err, errnum, "Error response from daemon: %s",
                        msg ? msg : (body && *body ? body : "(no message)"));
}

/* An error reply on a raw connection: read its body for the message. */
static int head_error (int fd, struct raw_head *h, berth_err *err)
{
  cleanup_free char *body = NULL;
  size_t len = 0;
  berth_err ignored = NULL;
  if (raw_read_body (fd, h, &body, &len, &ignored) < 0)
    berth_error_free (&ignored);
  return raw_reply_error (h->status, body, err);
}

int client_hijack (struct client *c, const char *path, const char *body, int *out, struct raw_head *head,
                   berth_err *err)
{
  cleanup_close int fd = raw_connect (c, err);
  if (fd < 0)
    return -1;
  if (raw_send (c, fd, "POST", path, body, "Connection: Upgrade\r\nUpgrade: tcp\r\n", err) < 0
      || raw_read_head (fd, head, err) < 0)
    return -1;
  if (head->status != 101 && head->status != 200)
    {
      int r = head_error (fd, head, err);
      raw_head_free (head);
      return r;
    }
  *out = take_fd (&fd);
  return 0;
}

#define CLIENT_API_VERSION "1.44"

/* "1.41" -> 141, -1 if malformed. */
static int version_number (const char *v)
{
  int major, minor;
  char tail;
  if (v == NULL || sscanf (v, "%d.%d%c", &major, &minor, &tail) != 2 || major < 1 || minor < 0 || minor > 99)
    return -1;
  return major * 100 + minor;
}

const char *client_api_version (struct client *c)
{
  if (c->api_version[0])
    return c->api_version;
  snprintf (c->api_version, sizeof c->api_version, "%s", CLIENT_API_VERSION);
  berth_err err = NULL;
  struct raw_head h = { 0 };
  cleanup_close int fd = raw_connect (c, &err);
  static const char ping[] = "GET /_ping HTTP/1.1\r\nHost: berthd\r\nConnection: close\r\n\r\n";
  /* (when the daemon cannot be reached, the real request says so) */
  if (fd < 0 || berth_write_all (fd, ping, sizeof ping - 1) < 0 || raw_read_head (fd, &h, &err) < 0)
    {
      berth_error_free (&err);
      return c->api_version;
    }
  cleanup_free char *server = raw_header (&h, "Api-Version");
  int n = version_number (server);
  if (n > 0 && n < version_number (CLIENT_API_VERSION))
    snprintf (c->api_version, sizeof c->api_version, "%s", server);
  raw_head_free (&h);
  return c->api_version;
}

int wait_begin (struct client *c, const char *id, const char *condition, berth_err *err)
{
  cleanup_free char *base = container_path (id, "/wait"), *path = NULL;
  if (base == NULL || asprintf (&path, "%s?condition=%s", base, condition) < 0)
    return berth_fail (err, ENOMEM, "wait");
  cleanup_close int fd = raw_connect (c, err);
  if (fd < 0 || raw_send (c, fd, "POST", path, NULL, "Connection: close\r\n", err) < 0)
    return -1;
  return take_fd (&fd);
}

int wait_finish (int fd, long *code, berth_err *err)
{
  struct raw_head h = { 0 };
  cleanup_free char *body = NULL;
  size_t len = 0;
  int r = raw_read_head (fd, &h, err);
  if (r == 0)
    r = raw_read_body (fd, &h, &body, &len, err);
  if (r == 0 && h.status / 100 != 2)
    r = raw_reply_error (h.status, body, err);
  raw_head_free (&h);
  if (r < 0)
    return r;
  cleanup_json json_t *j = json_loads (body, 0, NULL);
  json_t *sc = json_object_get (j, "StatusCode");
  if (!json_is_integer (sc))
    return berth_fail (err, 0, "unexpected wait reply from the daemon: %.200s", body);
  const char *msg = berth_json_str (berth_json_obj (j, "Error"), "Message");
  if (msg && *msg)
    return berth_fail (err, 0, "%s", msg);
  *code = (long) json_integer_value (sc);
  return 0;
}
