/* GET /containers/{id}/changes (`docker diff`): what the container's
 * writable layer holds, against the image's layers. */
#include "daemon/container-internal.h"
#include "image/image.h"
#include "common/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

enum change_kind { CHANGE_MODIFIED = 0, CHANGE_ADDED = 1, CHANGE_DELETED = 2 };

/* The upper folder can be deep; an explicit bound keeps a hostile tree from
 * exhausting the stack of a connection thread. */
#define CHANGES_MAX_DEPTH 128

struct walk
{
  char **lower;  /* the image's layer folders */
  json_t *out;
};

static bool in_lower (struct walk *w, const char *rel)
{
  for (char **l = w->lower; *l; l++)
    {
      cleanup_free char *p = NULL;
      struct stat st;
      if (asprintf (&p, "%s/%s", *l, rel) >= 0 && lstat (p, &st) == 0)
        return true;
    }
  return false;
}

static void add_change (struct walk *w, const char *rel, enum change_kind kind)
{
  cleanup_free char *path = NULL;
  if (asprintf (&path, "/%s", rel) >= 0)
    json_array_append_new (w->out, json_pack ("{s:s, s:i}", "Path", path, "Kind", kind));
}

static void walk_dir (struct walk *w, int fd, const char *rel, int depth)
{
  cleanup_dir DIR *dir = fdopendir (fd);
  if (dir == NULL)
    {
      close (fd);
      return;
    }
  struct dirent *de;
  while ((de = readdir (dir)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      cleanup_free char *child = NULL;
      if (asprintf (&child, "%s%s%s", rel, *rel ? "/" : "", de->d_name) < 0)
        return;
      struct stat st;
      if (fstatat (dirfd (dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue;
      if (S_ISCHR (st.st_mode) && st.st_rdev == makedev (0, 0))
        {
          add_change (w, child, CHANGE_DELETED); /* an overlayfs whiteout */
          continue;
        }
      add_change (w, child, in_lower (w, child) ? CHANGE_MODIFIED : CHANGE_ADDED);
      if (S_ISDIR (st.st_mode) && depth < CHANGES_MAX_DEPTH)
        {
          int sub = openat (dirfd (dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (sub >= 0)
            walk_dir (w, sub, child, depth + 1);
        }
    }
}

static int by_path (const void *a, const void *b)
{
  json_t *x = *(json_t *const *) a, *y = *(json_t *const *) b;
  return strcmp (json_string_value (json_object_get (x, "Path")), json_string_value (json_object_get (y, "Path")));
}

void api_container_changes (struct request *req, struct reply *rep)
{
  struct berthd *d = req->daemon;
  struct container *c = api_container_lookup (req, rep);
  if (c == NULL)
    return;
  cleanup_free char *upper = NULL;
  cleanup_strv char **lower = NULL;
  berth_err err = NULL;
  pthread_mutex_lock (&d->image_lock);
  int r = image_layer_dirs (d->images, c->image_id, &lower, &err);
  pthread_mutex_unlock (&d->image_lock);
  if (r < 0 || asprintf (&upper, "%s/fs/upper", c->dir) < 0)
    {
      container_put (d->containers, c);
      return reply_berth_error (rep, &err);
    }
  struct walk w = { .lower = lower, .out = json_array () };
  int fd = open (upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0)
    walk_dir (&w, fd, "", 0);
  /* Sorted, as dockerd lists them. */
  size_t n = json_array_size (w.out);
  json_t **items = calloc (n + 1, sizeof *items);
  json_t *sorted = json_array ();
  for (size_t i = 0; items && i < n; i++)
    items[i] = json_array_get (w.out, i);
  if (items)
    qsort (items, n, sizeof *items, by_path);
  for (size_t i = 0; items && i < n; i++)
    json_array_append (sorted, items[i]);
  free (items);
  json_decref (w.out);
  container_put (d->containers, c);
  reply_json (rep, 200, n ? sorted : (json_decref (sorted), json_null ()));
}
