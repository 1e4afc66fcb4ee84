/* Small helpers of the runtime's public API: signal names and ids. */
#include "runtime/runtime.h"

#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct { const char *name; int sig; } signal_names[] = {
  { "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "ILL", SIGILL },
  { "TRAP", SIGTRAP }, { "ABRT", SIGABRT }, { "IOT", SIGIOT }, { "BUS", SIGBUS },
  { "FPE", SIGFPE }, { "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },
  { "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
  { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
  { "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU }, { "URG", SIGURG },
  { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
  { "WINCH", SIGWINCH }, { "IO", SIGIO }, { "POLL", SIGPOLL }, { "PWR", SIGPWR },
  { "SYS", SIGSYS },
};

static int parse_number (const char *s)
{
  char *end = NULL;
  long v = strtol (s, &end, 10);
  if (*s == '\0' || *end != '\0' || v <= 0 || v > SIGRTMAX)
    return -1;
  return (int) v;
}

/* "RTMIN+3", "RTMAX-1" */
static int parse_realtime (const char *s)
{
  int base = strncasecmp (s, "RTMIN", 5) == 0 ? SIGRTMIN : strncasecmp (s, "RTMAX", 5) == 0 ? SIGRTMAX : -1;
  if (base < 0)
    return -1;
  s += 5;
  if (*s == '\0')
    return base;
  int off = parse_number (s + 1);
  if (off < 0)
    return -1;
  int sig = *s == '+' ? base + off : *s == '-' ? base - off : -1;
  return sig >= SIGRTMIN && sig <= SIGRTMAX ? sig : -1;
}

int berth_parse_signal (const char *s)
{
  if (s == NULL || *s == '\0')
    return -1;
  if (isdigit ((unsigned char) *s))
    return parse_number (s);
  if (strncasecmp (s, "SIG", 3) == 0)
    s += 3;
  for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
    if (strcasecmp (s, signal_names[i].name) == 0)
      return signal_names[i].sig;
  return parse_realtime (s);
}

int berth_validate_id (const char *id, berth_err *err)
{
  if (id == NULL || *id == '\0')
    return berth_fail (err, 0, "container id cannot be empty");
  if (strlen (id) > 1024)
    return berth_fail (err, 0, "container id `%.32s...` is too long", id);
  if (strcmp (id, ".") == 0 || strcmp (id, "..") == 0)
    return berth_fail (err, 0, "invalid container id `%s`", id);
  for (const char *p = id; *p; p++)
    if (!isalnum ((unsigned char) *p) && strchr ("_+-.", *p) == NULL)
      return berth_fail (err, 0, "invalid container id `%s`: only [A-Za-z0-9_+.-] allowed", id);
  return 0;
}
