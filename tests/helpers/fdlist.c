/* fdlist: prints one line "N -> TARGET" for each open file descriptor of
 * the calling process (the directory fd used for listing is left out).
 *   fdlist            list fds
 *   fdlist -r N       also print the contents of fd N (read from offset 0
 *                     via pread, else plain read) after a line "--- fd N" */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main (int argc, char **argv)
{
  int readfd = -1;
  if (argc == 3 && strcmp (argv[1], "-r") == 0)
    readfd = atoi (argv[2]);
  DIR *d = opendir ("/proc/self/fd");
  if (!d)
    {
      perror ("fdlist: opendir /proc/self/fd");
      return 1;
    }
  int self = dirfd (d);
  struct dirent *e;
  while ((e = readdir (d)))
    {
      if (e->d_name[0] == '.')
        continue;
      int fd = atoi (e->d_name);
      if (fd == self)
        continue;
      char link[4096];
      char path[64];
      snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
      ssize_t n = readlink (path, link, sizeof link - 1);
      if (n < 0)
        snprintf (link, sizeof link, "? (%s)", strerror (errno));
      else
        link[n] = 0;
      printf ("%d -> %s\n", fd, link);
    }
  closedir (d);
  if (readfd >= 0)
    {
      printf ("--- fd %d\n", readfd);
      fflush (stdout);
      char buf[4096];
      off_t off = 0;
      ssize_t n;
      int use_pread = 1;
      for (;;)
        {
          n = use_pread ? pread (readfd, buf, sizeof buf, off) : read (readfd, buf, sizeof buf);
          if (n < 0 && use_pread && errno == ESPIPE)
            {
              use_pread = 0;
              continue;
            }
          if (n <= 0)
            break;
          off += n;
          fwrite (buf, 1, n, stdout);
        }
      if (n < 0)
        {
          printf ("fdlist: read fd %d: %s\n", readfd, strerror (errno));
          return 1;
        }
    }
  return 0;
}
