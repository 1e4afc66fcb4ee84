/* Logging for all berth programs.  Messages go to stderr by default, or to
 * the file set with berth_log_open() (runc's --log).  In JSON format every
 * line is {"level":"...","msg":"...","time":"..."}, which is what containerd
 * and dockerd parse from runc's log file to show an error to the user. */
#ifndef BERTH_LOG_H
#define BERTH_LOG_H

enum berth_log_level
{
  BERTH_LOG_ERROR = 0,
  BERTH_LOG_WARNING = 1,
  BERTH_LOG_INFO = 2,
  BERTH_LOG_DEBUG = 3,
};

enum berth_log_format
{
  BERTH_LOG_TEXT = 0,
  BERTH_LOG_JSON = 1,
};

/* Program name used as the prefix of text lines. */
void berth_log_init (const char *progname);
/* Open PATH for appending (O_CLOEXEC) and log there instead of stderr.
 * Returns 0, or -errno. */
int berth_log_open (const char *path);
void berth_log_set_format (enum berth_log_format fmt);
void berth_log_set_level (enum berth_log_level level);
enum berth_log_level berth_log_get_level (void);
/* Duplicate the log fd to a fixed number so it survives fd closing; used by
 * processes that close everything else.  Returns the fd or -1. */
int berth_log_fd (void);

void berth_log (enum berth_log_level level, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

#define berth_debug(...) berth_log (BERTH_LOG_DEBUG, __VA_ARGS__)
#define berth_warn(...) berth_log (BERTH_LOG_WARNING, __VA_ARGS__)

#endif
