#include "common/log.h"
#include "common/json.h"
#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_progname = "berth";
static int log_fd = 2;
static enum berth_log_format log_format = BERTH_LOG_TEXT;
static enum berth_log_level log_level = BERTH_LOG_WARNING;

static const char *level_names[] = { "error", "warning", "info", "debug" };

void berth_log_init (const char *progname) { log_progname = progname; }
void berth_log_set_format (enum berth_log_format fmt) { log_format = fmt; }
void berth_log_set_level (enum berth_log_level level) { log_level = level; }
enum berth_log_level berth_log_get_level (void) { return log_level; }
int berth_log_fd (void) { return log_fd; }

int berth_log_open (const char *path)
{
  int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  if (log_fd > 2)
    close (log_fd);
  log_fd = fd;
  return 0;
}

static void write_all (int fd, const char *buf, size_t len)
{
  while (len > 0)
    {
      ssize_t w = write (fd, buf, len);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return;
      buf += w;
      len -= (size_t) w;
    }
}


static void emit_json (enum berth_log_level level, const char *msg)
{
  char *now = berth_rfc3339_now ();
  json_t *o = json_pack ("{s:s, s:s, s:s?}", "level", level_names[level], "msg", msg, "time", now);
  free (now);
  if (o == NULL)
    return;
  char *line = json_dumps (o, JSON_COMPACT);
  json_decref (o);
  if (line == NULL)
    return;
  size_t n = strlen (line);
  write_all (log_fd, line, n);
  write_all (log_fd, "\n", 1);
  free (line);
}

void berth_log (enum berth_log_level level, const char *fmt, ...)
{
  if (level > log_level)
    return;
  int saved = errno;
  char *msg = NULL;
  va_list ap;
  va_start (ap, fmt);
  int r = vasprintf (&msg, fmt, ap);
  va_end (ap);
  if (r < 0)
    {
      errno = saved;
      return;
    }
  if (log_format == BERTH_LOG_JSON)
    emit_json (level, msg);
  else
    {
      char *line = NULL;
      if (level == BERTH_LOG_DEBUG)
        {
          /* Debug lines carry a monotonic timestamp: they are how set-up
           * latency is profiled. */
          struct timespec ts;
          clock_gettime (CLOCK_MONOTONIC, &ts);
          char *stamped = NULL;
          if (asprintf (&stamped, "[%ld.%06ld pid %d] %s", (long) ts.tv_sec, ts.tv_nsec / 1000, (int) getpid (), msg) >= 0)
            {
              free (msg);
              msg = stamped;
            }
        }
      int n = level == BERTH_LOG_ERROR
                  ? asprintf (&line, "%s: %s\n", log_progname, msg)
                  : asprintf (&line, "%s: %s: %s\n", log_progname, level_names[level], msg);
      if (n > 0)
        write_all (log_fd, line, (size_t) n);
      free (line);
    }
  free (msg);
  errno = saved;
}
