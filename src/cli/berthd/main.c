/* berthd: the Docker Engine API daemon of berth. */
#include "daemon/daemon.h"
#include "daemon/image-worker.h"
#include "common/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <malloc.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage (void)
{
  printf ("usage: berthd [options]\n\n"
          "  --data-root DIR     persistent state (default /var/lib/berth)\n"
          "  --exec-root DIR     runtime state (default /run/berth)\n"
          "  -H, --host URL      socket to serve (default unix:///run/berth/berth.sock)\n"
          "  --log-level LEVEL   error, warn, info or debug (default info)\n"
          "  --config-file FILE  daemon configuration (default /etc/berth/daemon.json)\n"
          "  --version           print the version\n");
}

static void set_log_level (const char *level)
{
  if (strcmp (level, "debug") == 0)
    berth_log_set_level (BERTH_LOG_DEBUG);
  else if (strcmp (level, "info") == 0)
    berth_log_set_level (BERTH_LOG_INFO);
  else if (strncmp (level, "warn", 4) == 0)
    berth_log_set_level (BERTH_LOG_WARNING);
  else
    berth_log_set_level (BERTH_LOG_ERROR);
}

/* Wait for SIGINT/SIGTERM while the server threads work. */
static int wait_for_signal (void)
{
  sigset_t set;
  int sig = 0;
  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  sigwait (&set, &sig);
  return sig;
}

int main (int argc, char **argv)
{
  struct berthd d = { 0 };
  berth_err err = NULL;
  berth_log_init ("berthd");
  if (argc > 1 && strcmp (argv[1], "image-worker") == 0)
    return image_worker_main (argc - 1, argv + 1);
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
        return usage (), 0;
      if (strcmp (argv[i], "--version") == 0 || strcmp (argv[i], "-v") == 0)
        return printf ("berthd version %s, commit %s, API %s\n", BERTH_VERSION, BERTH_COMMIT, BERTHD_API_VERSION), 0;
    }
  if (berthd_config_load (&d.cfg, argc, argv, &err) < 0)
    return berth_error_report (&err);
  set_log_level (d.cfg.log_level);
  /* Block the signals before any thread starts, so only sigwait sees them. */
  sigset_t set;
  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  pthread_sigmask (SIG_BLOCK, &set, NULL);
  signal (SIGPIPE, SIG_IGN);
  /* Monitors detach from berthd (they must outlive it), which would leave
   * their exit for pid 1 to reap; as a subreaper berthd reaps those it
   * started itself (container-reaper.c). */
  prctl (PR_SET_CHILD_SUBREAPER, 1);
  /* One thread per connection would otherwise get up to 8 malloc arenas
   * per core, each keeping its freed pages resident. */
  mallopt (M_ARENA_MAX, 2);
  if (berthd_open (&d, &err) < 0)
    return berth_error_report (&err);
  const char *sock = d.cfg.host + strlen ("unix://");
  int fd = http_listen_unix (sock, 0660, &err);
  if (fd < 0)
    return berth_error_report (&err);
  struct http_server *srv = http_server_start (fd, berthd_routes, &d, &err);
  if (srv == NULL)
    return berth_error_report (&err);
  berth_log (BERTH_LOG_INFO, "API listening on %s (data root %s)", sock, d.cfg.data_root);
  int sig = wait_for_signal ();
  berth_log (BERTH_LOG_INFO, "signal %d: shutting down", sig);
  berthd_begin_shutdown (&d);
  http_server_stop (srv);
  close (fd);
  unlink (sock);
  berthd_close (&d);
  return 0;
}
