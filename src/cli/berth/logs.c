/* berth logs: GET /containers/NAME/logs, framed unless the container has
 * a TTY (docker asks the container first, as here), streamed as it comes
 * (with -f until the container stops). */
#include "containers.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERROR_BODY_MAX 65536

struct log_sink
{
  CURL *curl;
  bool tty;
  struct frame_decoder dec;
  long status;
  char err_body[ERROR_BODY_MAX + 1];   /* the body of an error reply */
  size_t err_len;
};

static size_t on_log_data (char *data, size_t size, size_t n, void *opaque)
{
  struct log_sink *s = opaque;
  size_t total = size * n;
  if (s->status == 0)
    curl_easy_getinfo (s->curl, CURLINFO_RESPONSE_CODE, &s->status);
  if (s->status / 100 != 2)
    {
      size_t room = ERROR_BODY_MAX - s->err_len, k = total < room ? total : room;
      memcpy (s->err_body + s->err_len, data, k);
      s->err_len += k;
      s->err_body[s->err_len] = '\0';
      return total;
    }
  if (s->tty)
    return berth_write_all (1, data, total) == 0 ? total : 0;
  return frame_decoder_feed (&s->dec, data, total) == 0 ? total : 0;
}

static int stream_logs (struct client *c, const char *path, bool tty, berth_err *err)
{
  cleanup_free struct log_sink *s = calloc (1, sizeof *s);
  cleanup_free char *url = NULL;
  if (s == NULL || asprintf (&url, "http://berthd/v%s%s", client_api_version (c), path) < 0 || (s->curl = curl_easy_init ()) == NULL)
    return berth_fail (err, ENOMEM, "logs");
  s->tty = tty;
  curl_easy_setopt (s->curl, CURLOPT_UNIX_SOCKET_PATH, c->socket);
  curl_easy_setopt (s->curl, CURLOPT_URL, url);
  curl_easy_setopt (s->curl, CURLOPT_WRITEFUNCTION, on_log_data);
  curl_easy_setopt (s->curl, CURLOPT_WRITEDATA, s);
  CURLcode rc = curl_easy_perform (s->curl);
  if (s->status == 0)
    curl_easy_getinfo (s->curl, CURLINFO_RESPONSE_CODE, &s->status);
  curl_easy_cleanup (s->curl);
  if (s->status != 0 && s->status / 100 != 2)
    return raw_reply_error ((int) s->status, s->err_body, err);
  if (rc == CURLE_WRITE_ERROR)
    return berth_fail (err, 0, "malformed log stream from the daemon");
  if (rc != CURLE_OK)
    return berth_fail (err, 0, "cannot reach berthd at %s: %s (is it running?)", c->socket, curl_easy_strerror (rc));
  return 0;
}

static const char logs_usage[] = "usage: berth logs [-f] [-t] [--tail N] CONTAINER";

int cmd_logs (struct client *c, int argc, char **argv)
{
  static const struct option opts[] = { { "follow", no_argument, NULL, 'f' },
                                        { "timestamps", no_argument, NULL, 't' },
                                        { "tail", required_argument, NULL, 'n' },
                                        { NULL, 0, NULL, 0 } };
  bool follow = false, timestamps = false;
  const char *tail = "all";
  int opt;
  optind = 1;
  while ((opt = getopt_long (argc, argv, "+ftn:", opts, NULL)) != -1)
    switch (opt)
      {
      case 'f': follow = true; break;
      case 't': timestamps = true; break;
      case 'n': tail = optarg; break;
      default: return cli_usage (logs_usage);
      }
  if (argc - optind != 1)
    return cli_usage (logs_usage);
  berth_err err = NULL;
  cleanup_free char *ipath = container_path (argv[optind], "/json");
  cleanup_json json_t *info = client_json (c, "GET", ipath, NULL, &err);
  if (info == NULL)
    return cli_fail (&err);
  bool tty = berth_json_bool (berth_json_obj (info, "Config"), "Tty", false);
  cleanup_free char *base = container_path (argv[optind], "/logs"), *etail = client_escape (tail), *path = NULL;
  if (base == NULL || etail == NULL
      || asprintf (&path, "%s?stdout=1&stderr=1&follow=%d&timestamps=%d&tail=%s", base, follow, timestamps, etail) < 0)
    return 1;
  return stream_logs (c, path, tty, &err) < 0 ? cli_fail (&err) : 0;
}
