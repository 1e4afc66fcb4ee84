/* timeit: runs a command and reports its wall time precisely.
 *
 *   timeit [-t SECONDS] [-o FILE] COMMAND [ARGS...]
 *
 * Forks, execs COMMAND (PATH lookup), waits for it and writes the elapsed
 * time in microseconds (CLOCK_MONOTONIC, from just before fork to just
 * after the wait) as one line to FILE (default: stderr). If SECONDS (default
 * 60) pass first, the command is killed with SIGKILL. Exits with the
 * command's status (128+N if killed by signal N, 127 if it could not be
 * started). Used by bench/runtime; static like the other helpers. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child;

static void on_alarm (int sig)
{
  (void) sig;
  if (child > 0)
    kill (child, SIGKILL);
}

int main (int argc, char **argv)
{
  double limit = 60;
  const char *outfile = NULL;
  int opt;
  while ((opt = getopt (argc, argv, "+t:o:")) != -1)
    switch (opt)
      {
      case 't': limit = atof (optarg); break;
      case 'o': outfile = optarg; break;
      default:
        fprintf (stderr, "usage: timeit [-t SECONDS] [-o FILE] COMMAND [ARGS...]\n");
        return 2;
      }
  if (optind >= argc)
    {
      fprintf (stderr, "usage: timeit [-t SECONDS] [-o FILE] COMMAND [ARGS...]\n");
      return 2;
    }
  struct timespec t0, t1;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  child = fork ();
  if (child < 0)
    {
      perror ("timeit: fork");
      return 127;
    }
  if (child == 0)
    {
      execvp (argv[optind], argv + optind);
      fprintf (stderr, "timeit: %s: %s\n", argv[optind], strerror (errno));
      _exit (127);
    }
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction (SIGALRM, &sa, NULL);
  alarm ((unsigned) (limit + 0.999));
  int status;
  while (waitpid (child, &status, 0) < 0)
    if (errno != EINTR)
      {
        perror ("timeit: waitpid");
        return 127;
      }
  clock_gettime (CLOCK_MONOTONIC, &t1);
  long long us = (t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000;
  FILE *f = outfile ? fopen (outfile, "w") : stderr;
  if (!f)
    {
      perror ("timeit: output file");
      return 127;
    }
  fprintf (f, "%lld\n", us);
  if (outfile)
    fclose (f);
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return WEXITSTATUS (status);
}
