/* __attribute__((cleanup)) helpers.  A variable declared with one of these
 * is released when it goes out of scope; hand ownership on explicitly with
 * take_ptr()/take_fd(), which return the value and leave the variable empty. */
#ifndef BERTH_CLEANUP_H
#define BERTH_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_freep (void *p)
{
  void **pp = (void **) p;
  free (*pp);
}

static inline void cleanup_closep (int *fd)
{
  if (*fd >= 0)
    {
      int saved = errno;
      close (*fd);
      errno = saved;
    }
}

static inline void cleanup_filep (FILE **f)
{
  if (*f)
    fclose (*f);
}

static inline void cleanup_dirp (DIR **d)
{
  if (*d)
    closedir (*d);
}

/* NULL-terminated vector of heap strings. */
static inline void cleanup_strvp (char ***v)
{
  if (*v == NULL)
    return;
  for (char **s = *v; *s; s++)
    free (*s);
  free (*v);
}

#define cleanup_free __attribute__ ((cleanup (cleanup_freep)))
#define cleanup_close __attribute__ ((cleanup (cleanup_closep)))
#define cleanup_file __attribute__ ((cleanup (cleanup_filep)))
#define cleanup_dir __attribute__ ((cleanup (cleanup_dirp)))
#define cleanup_strv __attribute__ ((cleanup (cleanup_strvp)))

static inline void *take_ptr_impl (void **pp)
{
  void *p = *pp;
  *pp = NULL;
  return p;
}
#define take_ptr(p) take_ptr_impl ((void **) &(p))

static inline int take_fd (int *fd)
{
  int r = *fd;
  *fd = -1;
  return r;
}

#endif
