/* berth-init: the init of `docker run --init` (like tini / docker-init).
 *
 *   berth-init [--] COMMAND [ARG...]
 *
 * Runs COMMAND as its child, in its own process group (and the terminal's
 * foreground group when stdin is a terminal), forwards the signals it gets
 * to it, reaps every zombie that is reparented to it, and exits with the
 * child's status: its exit code, or 128+N when signal N killed it.  As
 * pid 1 of a container this is what makes `docker stop` reach a shell
 * script and keeps orphaned processes from piling up as zombies.  Outside
 * pid 1 it makes itself a child subreaper, so it works the same way.
 *
 * Static and libc-only: it is bind-mounted into containers, whatever
 * their libraries. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Signals raised by a fault of the process itself: they are not blocked
 * (a fault in berth-init must kill it) and so not forwarded. */
static const int synchronous_signals[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS };

static void fail (const char *what)
{
  fprintf (stderr, "berth-init: %s: %s\n", what, strerror (errno));
  exit (1);
}

static void forwardable_signals (sigset_t *set)
{
  sigfillset (set);
  for (size_t i = 0; i < sizeof synchronous_signals / sizeof synchronous_signals[0]; i++)
    sigdelset (set, synchronous_signals[i]);
}

/* The child: its own process group, the terminal's foreground if there is
 * one (so ^C reaches it), the signal mask it would have had, then exec. */
static void run_child (char **argv, const sigset_t *old_mask)
{
  setpgid (0, 0);
  if (isatty (STDIN_FILENO))
    {
      /* A background group writing to the terminal's settings gets
       * SIGTTOU: ignore it for the moment of the switch. */
      struct sigaction ign = { .sa_handler = SIG_IGN }, old;
      sigaction (SIGTTOU, &ign, &old);
      tcsetpgrp (STDIN_FILENO, getpgrp ());
      sigaction (SIGTTOU, &old, NULL);
    }
  sigprocmask (SIG_SETMASK, old_mask, NULL);
  execvp (argv[0], argv);
  int e = errno;
  fprintf (stderr, "berth-init: exec `%s`: %s\n", argv[0], strerror (e));
  _exit (e == ENOENT ? 127 : 126);
}

static int status_code (int status)
{
  return WIFSIGNALED (status) ? 128 + WTERMSIG (status) : WEXITSTATUS (status);
}

/* Reap every child that has exited; returns true once CHILD was among
 * them, with its status in *code. */
static int reap (pid_t child, int *code)
{
  int status, done = 0;
  pid_t p;
  while ((p = waitpid (-1, &status, WNOHANG)) > 0)
    if (p == child)
      {
        *code = status_code (status);
        done = 1;
      }
  return done;
}

int main (int argc, char **argv)
{
  int first = 1;
  if (first < argc && strcmp (argv[first], "--") == 0)
    first++;
  if (first >= argc)
    {
      fprintf (stderr, "usage: berth-init [--] COMMAND [ARG...]\n");
      return 1;
    }
  if (getpid () != 1 && prctl (PR_SET_CHILD_SUBREAPER, 1) < 0)
    fail ("become a subreaper");

  /* Blocked before the fork, so no signal is lost in between: they wait
   * in sigwaitinfo below. */
  sigset_t set, old_mask;
  forwardable_signals (&set);
  if (sigprocmask (SIG_BLOCK, &set, &old_mask) < 0)
    fail ("block signals");
  pid_t child = fork ();
  if (child < 0)
    fail ("fork");
  if (child == 0)
    run_child (argv + first, &old_mask);

  int code = 0;
  for (;;)
    {
      siginfo_t info;
      int sig = sigwaitinfo (&set, &info);
      if (sig < 0)
        {
          if (errno == EINTR)
            continue;
          fail ("wait for signals");
        }
      if (sig == SIGCHLD)
        {
          if (reap (child, &code))
            break;
          continue;
        }
      /* To the child only, as tini does by default: a process group kill
       * would also hit what the child wants to shut down itself. */
      if (kill (child, sig) < 0 && errno != ESRCH)
        fail ("forward a signal");
    }
  /* The child is gone; collect whatever else already exited. */
  int ignored;
  reap (-1, &ignored);
  return code;
}
