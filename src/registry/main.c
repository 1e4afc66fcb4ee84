/* berth-registry: serve the OCI distribution API, or garbage-collect. */
#include "registry/registry.h"
#include "common/log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static bool is_loopback (const char *listen)
{
  return strncmp (listen, "127.", 4) == 0 || strncmp (listen, "[::1]:", 6) == 0 || strncmp (listen, "localhost:", 10) == 0;
}

static int serve (struct registry *reg, berth_err *err)
{
  if (reg_storage_open (reg, err) < 0)
    return -1;
  if (reg->cfg.htpasswd && reg_htpasswd_load (reg->cfg.htpasswd, &reg->users, err) < 0)
    return -1;
  if (reg->cfg.auth == REG_AUTH_TOKEN && reg_token_load_key (reg, err) < 0)
    return -1;
  if (reg->cfg.auth == REG_AUTH_NONE && !is_loopback (reg->cfg.listen))
    berth_warn ("serving %s without authentication", reg->cfg.listen);
  /* Block the signals before any thread starts, so only sigwait sees them. */
  sigset_t set;
  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  pthread_sigmask (SIG_BLOCK, &set, NULL);
  signal (SIGPIPE, SIG_IGN);
  if (reg_http_start (reg, err) < 0)
    return -1;
  berth_log (BERTH_LOG_INFO, "listening on %s%s (root %s, auth %s)", reg->cfg.tls_cert ? "https://" : "http://",
             reg->cfg.listen, reg->cfg.root,
             reg->cfg.auth == REG_AUTH_NONE ? "none" : reg->cfg.auth == REG_AUTH_BASIC ? "basic" : "token");
  int sig = 0;
  sigwait (&set, &sig);
  berth_log (BERTH_LOG_INFO, "signal %d: shutting down", sig);
  reg_http_stop (reg);
  return 0;
}

int main (int argc, char **argv)
{
  berth_log_init ("berth-registry");
  if (argc > 1 && strcmp (argv[1], "garbage-collect") == 0)
    return reg_gc_main (argc - 2, argv + 2);
  if (argc > 1 && strcmp (argv[1], "serve") == 0)
    argc--, argv++;
  struct registry reg = { .root_fd = -1 };
  pthread_mutex_init (&reg.uploads_lock, NULL);
  berth_err err = NULL;
  int r = reg_config_parse (&reg.cfg, argc - 1, argv + 1, &err);
  if (r < 0)
    return berth_error_report (&err);
  if (r > 0)
    return 0;
  set_log_level (reg.cfg.log_level);
  if (serve (&reg, &err) < 0)
    return berth_error_report (&err);
  reg_htpasswd_free (reg.users);
  free (reg.token_secret);
  reg_config_free (&reg.cfg);
  return 0;
}
