/* Which cgroup layout the host has (v1, v2, hybrid) and where each
 * hierarchy is mounted; cgroupsPath resolution. */
#include "runtime/cgroup.h"
#include "runtime/cgroup-internal.h"

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

/* cgroup.procs of a big cgroup can be long; stay well above it. */
#define CGROUP_FILE_MAX (16 * 1024 * 1024)

/* ------------------------------------------------------------------ */
/* layout discovery                                                    */

const char *cgroup_root (void)
{
  static char root[PATH_MAX];
  const char *r = getenv ("BERTH_CGROUP_ROOT");
  if (r == NULL || *r == '\0')
    return CGROUP_DEFAULT_ROOT;
  /* Paths are built as root + "/" + name: no trailing slash. */
  snprintf (root, sizeof root, "%s", r);
  for (size_t n = strlen (root); n > 1 && root[n - 1] == '/'; n--)
    root[n - 1] = '\0';
  return root;
}

static void hierarchy_clear (struct cgroup_hierarchy *h)
{
  free (h->mountpoint);
  free (h->name);
  free (h->options);
  cgroup_free_strv (h->controllers);
  free (h->path);
  memset (h, 0, sizeof *h);
}

void cgroup_hierarchies_free (struct cgroup_hierarchy *hiers, size_t n)
{
  for (size_t i = 0; i < n; i++)
    hierarchy_clear (&hiers[i]);
  free (hiers);
}

bool cgroup_hierarchy_has (const struct cgroup_hierarchy *h, const char *controller)
{
  return cgroup_strv_contains (h->controllers, controller);
}

struct cgroup_hierarchy *cgroup_find_v1 (struct cgroup_manager *m, const char *controller)
{
  for (size_t i = 0; i < m->n_hiers; i++)
    if (!m->hiers[i].v2 && cgroup_hierarchy_has (&m->hiers[i], controller))
      return &m->hiers[i];
  return NULL;
}

struct hier_list
{
  struct cgroup_hierarchy *v;
  size_t n;
};

static void hier_list_clear (struct hier_list *l)
{
  cgroup_hierarchies_free (l->v, l->n);
  l->v = NULL;
  l->n = 0;
}

/* Add a hierarchy; a later mount on the same point hides the earlier one. */
static int hier_list_add (struct hier_list *l, struct cgroup_hierarchy *h)
{
  for (size_t i = 0; i < l->n; i++)
    if (strcmp (l->v[i].mountpoint, h->mountpoint) == 0)
      {
        hierarchy_clear (&l->v[i]);
        l->v[i] = *h;
        return 0;
      }
  struct cgroup_hierarchy *v = realloc (l->v, (l->n + 1) * sizeof *v);
  if (v == NULL)
    return -ENOMEM;
  l->v = v;
  l->v[l->n++] = *h;
  return 0;
}

static char **read_v2_controllers (const char *mountpoint)
{
  cleanup_free char *s = NULL;
  berth_err err = NULL;
  if (cgroup_read (mountpoint, "cgroup.controllers", &s, &err) < 0)
    {
      berth_error_free (&err);
      return calloc (1, sizeof (char *));
    }
  return cgroup_split (s, " \n");
}

/* Options of a v1 super block minus the ones that do not name the
 * hierarchy; name=... stays, it is needed to mount it again. */
static char *v1_options (const char *superopts)
{
  static const char *const skip[] = { "rw", "ro", "noprefix", "clone_children", "xattr",
                                      "cpuset_v2_mode", "favordynmods", "none", NULL };
  cleanup_strv char **opts = cgroup_split (superopts, ",");
  if (opts == NULL)
    return NULL;
  char *out = calloc (1, strlen (superopts) + 1);
  if (out == NULL)
    return NULL;
  for (char **o = opts; *o; o++)
    {
      bool skipped = strncmp (*o, "release_agent=", 14) == 0;
      for (const char *const *s = skip; *s && !skipped; s++)
        skipped = strcmp (*o, *s) == 0;
      if (skipped)
        continue;
      if (*out)
        strcat (out, ",");
      strcat (out, *o);
    }
  return out;
}

static char **v1_controllers (const char *options)
{
  char **v = cgroup_split (options, ",");
  if (v == NULL)
    return NULL;
  /* name=systemd is a named hierarchy, not a controller. */
  size_t j = 0;
  for (size_t i = 0; v[i]; i++)
    {
      if (strchr (v[i], '='))
        free (v[i]);
      else
        v[j++] = v[i];
    }
  v[j] = NULL;
  return v;
}

static int make_hierarchy (const char *root, const char *mountpoint, bool v2, const char *options,
                           struct cgroup_hierarchy *h)
{
  memset (h, 0, sizeof *h);
  h->v2 = v2;
  h->mountpoint = strdup (mountpoint);
  const char *name = strcmp (mountpoint, root) == 0 ? "" : mountpoint + strlen (root) + 1;
  h->name = strdup (name);
  h->options = strdup (options ? options : "");
  h->controllers = v2 ? read_v2_controllers (mountpoint) : v1_controllers (h->options);
  if (!h->mountpoint || !h->name || !h->options || !h->controllers)
    {
      hierarchy_clear (h);
      return -ENOMEM;
    }
  return 0;
}

/* mountinfo escapes blanks as \040. */
static void unescape_octal (char *s)
{
  char *w = s;
  for (char *r = s; *r;)
    {
      if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] && r[3])
        {
          *w++ = (char) (((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
          r += 4;
        }
      else
        *w++ = *r++;
    }
  *w = '\0';
}

/* Parse one mountinfo line ("id parent dev root mountpoint opts
 * [optional...] - fstype source superopts"); true for a cgroup mount at
 * ROOT or directly below it. */
static bool parse_mountinfo_line (char *line, const char *root, char **mountpoint, bool *v2, char **superopts)
{
  char *f[64];
  size_t n = 0;
  char *save = NULL;
  for (char *t = strtok_r (line, " \n", &save); t && n < 64; t = strtok_r (NULL, " \n", &save))
    f[n++] = t;
  size_t dash = 6;
  while (dash < n && strcmp (f[dash], "-") != 0)
    dash++;
  if (n < 5 || dash + 3 >= n)
    return false;
  const char *fstype = f[dash + 1];
  if (strcmp (fstype, "cgroup") != 0 && strcmp (fstype, "cgroup2") != 0)
    return false;
  char *mp = f[4];
  unescape_octal (mp);
  size_t rl = strlen (root);
  bool at_root = strcmp (mp, root) == 0;
  bool below = strncmp (mp, root, rl) == 0 && mp[rl] == '/' && mp[rl + 1] && strchr (mp + rl + 1, '/') == NULL;
  if (!at_root && !below)
    return false;
  *mountpoint = mp;
  *v2 = strcmp (fstype, "cgroup2") == 0;
  *superopts = f[dash + 3];
  return true;
}

static int discover_mountinfo (const char *root, struct hier_list *l, berth_err *err)
{
  cleanup_file FILE *f = fopen ("/proc/self/mountinfo", "re");
  if (f == NULL)
    return berth_fail_errno (err, "open `/proc/self/mountinfo`");
  cleanup_free char *line = NULL;
  size_t cap = 0;
  while (getline (&line, &cap, f) > 0)
    {
      char *mp, *opts;
      bool v2;
      if (!parse_mountinfo_line (line, root, &mp, &v2, &opts))
        continue;
      cleanup_free char *options = v2 ? strdup ("") : v1_options (opts);
      struct cgroup_hierarchy h;
      if (options == NULL || make_hierarchy (root, mp, v2, options, &h) < 0 || hier_list_add (l, &h) < 0)
        return berth_fail (err, ENOMEM, "read cgroup mounts");
    }
  return 0;
}

/* BERTH_CGROUP_ROOT pointing at a plain folder (tests): a top-level
 * cgroup.controllers means v2; otherwise every subfolder is a v1
 * hierarchy named after its controllers, and "unified" with a
 * cgroup.controllers is the hybrid's v2 part. */
static int discover_folder (const char *root, struct hier_list *l, berth_err *err)
{
  struct cgroup_hierarchy h;
  if (cgroup_file_exists (root, "cgroup.controllers"))
    {
      if (make_hierarchy (root, root, true, NULL, &h) < 0 || hier_list_add (l, &h) < 0)
        return berth_fail (err, ENOMEM, "read cgroup folders");
      return 0;
    }
  cleanup_dir DIR *d = opendir (root);
  if (d == NULL)
    return berth_fail_errno (err, "open `%s`", root);
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      if (de->d_type != DT_DIR || de->d_name[0] == '.')
        continue;
      cleanup_free char *mp = cgroup_join_path (root, de->d_name);
      if (mp == NULL)
        return berth_fail (err, ENOMEM, "read cgroup folders");
      bool v2 = strcmp (de->d_name, "unified") == 0 && cgroup_file_exists (mp, "cgroup.controllers");
      const char *opts = strcmp (de->d_name, "systemd") == 0 ? "name=systemd" : de->d_name;
      if (make_hierarchy (root, mp, v2, v2 ? NULL : opts, &h) < 0 || hier_list_add (l, &h) < 0)
        return berth_fail (err, ENOMEM, "read cgroup folders");
    }
  return 0;
}

static bool is_fs (const char *path, unsigned long magic)
{
  struct statfs s;
  return statfs (path, &s) == 0 && (unsigned long) s.f_type == magic;
}

static enum cgroup_mode mode_of (const char *root, struct hier_list *l)
{
  if (is_fs (root, CGROUP2_SUPER_MAGIC))
    return CGROUP_MODE_V2;
  for (size_t i = 0; i < l->n; i++)
    {
      if (l->v[i].v2 && l->v[i].name[0] == '\0')
        return CGROUP_MODE_V2;
      if (l->v[i].v2)
        return CGROUP_MODE_HYBRID;
    }
  return CGROUP_MODE_V1;
}

/* Keep only what the mode uses: pure v2 has one hierarchy at the root;
 * v1 has no v2 part. */
static void keep_mode_hierarchies (enum cgroup_mode mode, struct hier_list *l)
{
  size_t j = 0;
  for (size_t i = 0; i < l->n; i++)
    {
      struct cgroup_hierarchy *h = &l->v[i];
      bool keep = mode == CGROUP_MODE_V2 ? h->v2 && h->name[0] == '\0'
                  : mode == CGROUP_MODE_V1 ? !h->v2
                                           : !h->v2 || strcmp (h->name, "unified") == 0;
      if (keep)
        l->v[j++] = *h;
      else
        hierarchy_clear (h);
    }
  l->n = j;
}

int cgroup_discover (const char *root, enum cgroup_mode *mode, struct cgroup_hierarchy **hiers, size_t *n,
                     berth_err *err)
{
  struct hier_list l = { 0 };
  int r = discover_mountinfo (root, &l, err);
  if (r == 0 && l.n == 0 && getenv ("BERTH_CGROUP_ROOT"))
    r = discover_folder (root, &l, err);
  if (r < 0)
    {
      hier_list_clear (&l);
      return r;
    }
  *mode = mode_of (root, &l);
  keep_mode_hierarchies (*mode, &l);
  if (l.n == 0)
    {
      hier_list_clear (&l);
      return berth_fail (err, ENOENT, "cgroup: no cgroup hierarchy mounted at `%s`", root);
    }
  *hiers = l.v;
  *n = l.n;
  return 0;
}

int cgroup_detect_mode (enum cgroup_mode *mode, berth_err *err)
{
  struct cgroup_hierarchy *hiers = NULL;
  size_t n = 0;
  int r = cgroup_discover (cgroup_root (), mode, &hiers, &n, err);
  if (r < 0)
    return r;
  cgroup_hierarchies_free (hiers, n);
  return 0;
}

const char *cgroup_mode_name (enum cgroup_mode mode)
{
  switch (mode)
    {
    case CGROUP_MODE_V1: return "v1";
    case CGROUP_MODE_V2: return "v2";
    case CGROUP_MODE_HYBRID: return "hybrid";
    }
  return "unknown";
}

/* ------------------------------------------------------------------ */
/* path resolution                                                     */

/* Lexically clean an absolute path; ".." may not climb above "/", and the
 * root itself is refused: the container must never own a hierarchy root. */
int cgroup_clean_path (const char *path, char **out, berth_err *err)
{
  errno = 0;
  cleanup_free char *rel = berth_clean_relative_path (path, BERTH_DOTDOT_RESOLVE);
  if (rel == NULL && errno == ENOMEM)
    return berth_fail (err, ENOMEM, "cgroup path");
  if (rel == NULL)
    return berth_fail (err, 0, "cgroup path `%s`: `..` escapes the cgroup root", path);
  if (*rel == '\0')
    return berth_fail (err, 0, "cgroup path `%s`: resolves to the root cgroup", path);
  if (asprintf (out, "/%s", rel) < 0)
    return berth_fail (err, ENOMEM, "cgroup path");
  return 0;
}

int cgroup_resolve_path_in (const char *own, const char *cgroups_path, const char *id, char **resolved,
                            berth_err *err)
{
  cleanup_free char *joined = NULL;
  int r;
  if (cgroups_path == NULL || *cgroups_path == '\0')
    {
      if (id == NULL || *id == '\0' || strchr (id, '/') || strcmp (id, "..") == 0 || strcmp (id, ".") == 0)
        return berth_fail (err, 0, "cgroup path: invalid container id `%s`", id ? id : "");
      r = asprintf (&joined, "/berth/%s", id);
    }
  else if (cgroups_path[0] == '/')
    r = asprintf (&joined, "%s", cgroups_path);
  else
    r = asprintf (&joined, "%s/%s", own && *own ? own : "/", cgroups_path);
  if (r < 0)
    return berth_fail (err, ENOMEM, "cgroup path");
  return cgroup_clean_path (joined, resolved, err);
}

/* Our own cgroup, the base of relative paths.  One string must serve every
 * hierarchy, so take the unified one ("0::") when there is one, else the
 * name=systemd one, else the first v1 line. */
static int own_cgroup (char **out, berth_err *err)
{
  cleanup_free char *content = NULL;
  int r = berth_read_file ("/proc/self/cgroup", CGROUP_FILE_MAX, &content, NULL, err);
  if (r < 0)
    return r;
  const char *best = NULL;
  int best_rank = 0;
  char *save = NULL;
  for (char *line = strtok_r (content, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      char *c1 = strchr (line, ':');
      char *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
      if (c2 == NULL)
        continue;
      *c2 = '\0';
      int rank = strcmp (c1 + 1, "") == 0 ? 3 : strstr (c1 + 1, "name=systemd") ? 2 : 1;
      if (rank > best_rank)
        {
          best = c2 + 1;
          best_rank = rank;
        }
    }
  *out = strdup (best ? best : "/");
  return *out ? 0 : berth_fail (err, ENOMEM, "cgroup path");
}

int cgroup_resolve_path (const char *cgroups_path, const char *id, char **resolved, berth_err *err)
{
  cleanup_free char *own = NULL;
  if (cgroups_path && *cgroups_path && cgroups_path[0] != '/')
    {
      int r = own_cgroup (&own, err);
      if (r < 0)
        return r;
    }
  return cgroup_resolve_path_in (own, cgroups_path, id, resolved, err);
}

