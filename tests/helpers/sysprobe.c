/* sysprobe: makes one raw system call and reports the result, so tests see
 * exactly what seccomp or the kernel answered (busybox applets may use other
 * system calls than the obvious one).
 *   sysprobe mkdir PATH            SYS_mkdir(PATH, 0755)
 *   sysprobe chmod PATH MODE       SYS_chmod(PATH, MODE) (MODE in octal)
 *   sysprobe personality           prints the current personality in hex
 *   sysprobe getpriority           SYS_getpriority(PRIO_PROCESS, 0)
 * Prints "ok" (or the value) and exits 0 on success; prints
 * "errno=NAME (message)" and exits 1 on failure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *ename (int e)
{
  switch (e)
    {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    case EROFS: return "EROFS";
    case ENOTDIR: return "ENOTDIR";
    default: return "E?";
    }
}

static int report (long r)
{
  if (r < 0)
    {
      int e = errno;
      printf ("errno=%s (%s) %d\n", ename (e), strerror (e), e);
      return 1;
    }
  printf ("ok %ld\n", r);
  return 0;
}

int main (int argc, char **argv)
{
  if (argc >= 3 && strcmp (argv[1], "mkdir") == 0)
    return report (syscall (SYS_mkdir, argv[2], 0755));
  if (argc >= 4 && strcmp (argv[1], "chmod") == 0)
    return report (syscall (SYS_chmod, argv[2], strtoul (argv[3], NULL, 8)));
  if (argc >= 2 && strcmp (argv[1], "personality") == 0)
    {
      long p = syscall (SYS_personality, 0xffffffffUL);
      if (p < 0)
        return report (p);
      printf ("personality=0x%lx\n", p);
      return 0;
    }
  if (argc >= 2 && strcmp (argv[1], "getpriority") == 0)
    return report (syscall (SYS_getpriority, PRIO_PROCESS, 0));
  fprintf (stderr, "usage: sysprobe mkdir PATH | chmod PATH MODE | personality | getpriority\n");
  return 2;
}
