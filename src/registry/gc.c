/* berth-registry garbage-collect --root DIR [--dry-run] [--delete-untagged]
 *
 * Mark and sweep, like distribution's: every manifest revision of every
 * repository is a root (with --delete-untagged only tagged manifests, the
 * children of kept indexes and the referrers of kept manifests, and the
 * other revisions are removed first); a kept manifest marks its own blob,
 * its config, layers and child manifests.  Blobs nobody marked are
 * deleted, and so are repository links to them.
 * Run it while the registry is stopped (or read-only): a blob uploaded
 * but not yet referenced by a manifest would be taken for garbage. */
#include "registry/registry.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct strset
{
  char **v;
  size_t n, cap;
};

static void set_add (struct strset *s, const char *str)
{
  for (size_t i = 0; i < s->n; i++)
    if (strcmp (s->v[i], str) == 0)
      return;
  if (s->n == s->cap)
    {
      size_t cap = s->cap ? s->cap * 2 : 64;
      char **nv = realloc (s->v, cap * sizeof *nv);
      if (nv == NULL)
        return;
      s->v = nv;
      s->cap = cap;
    }
  s->v[s->n] = strdup (str);
  if (s->v[s->n])
    s->n++;
}

static bool set_has (struct strset *s, const char *str)
{
  for (size_t i = 0; i < s->n; i++)
    if (strcmp (s->v[i], str) == 0)
      return true;
  return false;
}

static void set_free (struct strset *s)
{
  for (size_t i = 0; i < s->n; i++)
    free (s->v[i]);
  free (s->v);
}

struct gc
{
  struct registry reg;
  bool dry_run;
  bool delete_untagged;
  struct strset marked;   /* digests in use */
  struct strset repos;
};

static void find_repos (struct gc *gc, const char *prefix, int depth)
{
  cleanup_free char *dir = NULL;
  if (depth > 64 || asprintf (&dir, "repositories%s%s", prefix[0] ? "/" : "", prefix) < 0)
    return;
  char **entries = reg_list_dir (&gc->reg, dir);
  for (char **e = entries; e && *e; e++)
    {
      cleanup_free char *name = NULL;
      cleanup_free char *mdir = NULL;
      if ((*e)[0] == '_' || asprintf (&name, "%s%s%s", prefix, prefix[0] ? "/" : "", *e) < 0)
        continue;
      if (asprintf (&mdir, "repositories/%s/_manifests", name) >= 0 && reg_path_exists (&gc->reg, mdir))
        set_add (&gc->repos, name);
      find_repos (gc, name, depth + 1);
    }
  reg_strv_free (entries);
}

static json_t *load_manifest (struct gc *gc, const char *digest)
{
  cleanup_free char *path = reg_blob_path (digest);
  cleanup_free char *text = path ? reg_link_read (&gc->reg, path, REG_MANIFEST_MAX) : NULL;
  return text ? json_loads (text, 0, NULL) : NULL;
}

static void mark_descriptor (struct gc *gc, json_t *d)
{
  const char *digest = json_is_object (d) ? berth_json_str (d, "digest") : NULL;
  if (reg_digest_valid (digest))
    set_add (&gc->marked, digest);
}

static void mark_manifest (struct gc *gc, const char *digest)
{
  set_add (&gc->marked, digest);
  cleanup_json json_t *m = load_manifest (gc, digest);
  if (m == NULL)
    return;
  mark_descriptor (gc, json_object_get (m, "config"));
  size_t i;
  json_t *d;
  json_array_foreach (berth_json_arr (m, "layers"), i, d)
    mark_descriptor (gc, d);
  json_array_foreach (berth_json_arr (m, "manifests"), i, d)
    mark_descriptor (gc, d);
}

/* The revisions of NAME to keep with --delete-untagged. */
static void untagged_closure (struct gc *gc, const char *name, char **revs, struct strset *keep)
{
  cleanup_free char *tdir = reg_repo_path (name, "_manifests/tags");
  char **tags = tdir ? reg_list_dir (&gc->reg, tdir) : NULL;
  for (char **t = tags; t && *t; t++)
    {
      cleanup_free char *link = reg_repo_path (name, "_manifests/tags/%s/current/link", *t);
      cleanup_free char *d = link ? reg_link_read (&gc->reg, link, REG_DIGEST_LEN + 1) : NULL;
      if (reg_digest_valid (d))
        set_add (keep, d);
    }
  reg_strv_free (tags);
  for (bool changed = true; changed;)
    {
      changed = false;
      for (char **r = revs; r && *r; r++)
        {
          char digest[REG_DIGEST_LEN + 1];
          snprintf (digest, sizeof digest, "sha256:%s", *r);
          if (!set_has (keep, digest))
            {
              cleanup_json json_t *m = load_manifest (gc, digest);
              json_t *subject = berth_json_obj (m, "subject");
              const char *sd = subject ? berth_json_str (subject, "digest") : NULL;
              if (sd && set_has (keep, sd))
                {
                  set_add (keep, digest);
                  changed = true;
                }
              continue;
            }
          cleanup_json json_t *m = load_manifest (gc, digest);
          size_t i;
          json_t *c;
          json_array_foreach (berth_json_arr (m, "manifests"), i, c)
            {
              const char *cd = berth_json_str (c, "digest");
              if (reg_digest_valid (cd) && !set_has (keep, cd))
                {
                  set_add (keep, cd);
                  changed = true;
                }
            }
        }
    }
}

static void remove_revision (struct gc *gc, const char *name, const char *digest)
{
  printf ("%s manifest %s@%s\n", gc->dry_run ? "would delete untagged" : "deleting untagged", name, digest);
  if (gc->dry_run)
    return;
  cleanup_json json_t *m = load_manifest (gc, digest);
  json_t *subject = berth_json_obj (m, "subject");
  const char *sd = subject ? berth_json_str (subject, "digest") : NULL;
  if (reg_digest_valid (sd))
    {
      cleanup_free char *ref = reg_repo_path (name, "_manifests/referrers/sha256/%s/%s", sd + 7, digest + 7);
      if (ref)
        unlinkat (gc->reg.root_fd, ref, 0);
    }
  cleanup_free char *rev = reg_repo_path (name, "_manifests/revisions/sha256/%s", digest + 7);
  if (rev)
    unlinkat (gc->reg.root_fd, rev, 0);
}

static void mark_repo (struct gc *gc, const char *name)
{
  cleanup_free char *dir = reg_repo_path (name, "_manifests/revisions/sha256");
  char **revs = dir ? reg_list_dir (&gc->reg, dir) : NULL;
  struct strset keep = { 0 };
  if (gc->delete_untagged)
    untagged_closure (gc, name, revs, &keep);
  for (char **r = revs; r && *r; r++)
    {
      char digest[REG_DIGEST_LEN + 1];
      snprintf (digest, sizeof digest, "sha256:%s", *r);
      if (!reg_digest_valid (digest))
        continue;
      if (gc->delete_untagged && !set_has (&keep, digest))
        remove_revision (gc, name, digest);
      else
        mark_manifest (gc, digest);
    }
  set_free (&keep);
  reg_strv_free (revs);
}

static void sweep_blobs (struct gc *gc, unsigned long *count, unsigned long long *bytes)
{
  char **prefixes = reg_list_dir (&gc->reg, "blobs/sha256");
  for (char **p = prefixes; p && *p; p++)
    {
      cleanup_free char *dir = NULL;
      if (asprintf (&dir, "blobs/sha256/%s", *p) < 0)
        continue;
      char **blobs = reg_list_dir (&gc->reg, dir);
      for (char **b = blobs; b && *b; b++)
        {
          char digest[REG_DIGEST_LEN + 1];
          snprintf (digest, sizeof digest, "sha256:%s", *b);
          if (!reg_digest_valid (digest) || set_has (&gc->marked, digest))
            continue;
          cleanup_free char *path = reg_blob_path (digest);
          struct stat st;
          if (path == NULL || fstatat (gc->reg.root_fd, path, &st, 0) < 0)
            continue;
          printf ("%s blob %s (%lld bytes)\n", gc->dry_run ? "would delete" : "deleting", digest,
                  (long long) st.st_size);
          if (!gc->dry_run && unlinkat (gc->reg.root_fd, path, 0) < 0)
            continue;
          (*count)++;
          *bytes += st.st_size;
        }
      reg_strv_free (blobs);
    }
  reg_strv_free (prefixes);
}

/* Repository links to blobs that are gone. */
static void sweep_links (struct gc *gc, const char *name)
{
  cleanup_free char *dir = reg_repo_path (name, "_layers/sha256");
  char **links = dir ? reg_list_dir (&gc->reg, dir) : NULL;
  for (char **l = links; l && *l; l++)
    {
      char digest[REG_DIGEST_LEN + 1];
      snprintf (digest, sizeof digest, "sha256:%s", *l);
      if (reg_digest_valid (digest) && reg_blob_exists (&gc->reg, digest, NULL))
        continue;
      cleanup_free char *path = NULL;
      if (asprintf (&path, "%s/%s", dir, *l) >= 0)
        unlinkat (gc->reg.root_fd, path, 0);
    }
  reg_strv_free (links);
}

int reg_gc_main (int argc, char **argv)
{
  struct gc gc = { .reg.root_fd = -1 };
  const char *root = NULL;
  for (int i = 0; i < argc; i++)
    {
      if (strcmp (argv[i], "--root") == 0 && i + 1 < argc)
        root = argv[++i];
      else if (strncmp (argv[i], "--root=", 7) == 0)
        root = argv[i] + 7;
      else if (strcmp (argv[i], "--dry-run") == 0)
        gc.dry_run = true;
      else if (strcmp (argv[i], "--delete-untagged") == 0)
        gc.delete_untagged = true;
      else if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
        {
          printf ("usage: berth-registry garbage-collect --root DIR [--dry-run] [--delete-untagged]\n\n"
                  "Deletes blobs no manifest references; with --delete-untagged, first\n"
                  "deletes manifests no tag reaches.  Run it with the registry stopped.\n");
          return 0;
        }
      else
        {
          fprintf (stderr, "berth-registry garbage-collect: unexpected argument '%s'\n", argv[i]);
          return 2;
        }
    }
  gc.reg.cfg.root = (char *) (root ? root : REG_DEFAULT_ROOT);
  gc.reg.root_fd = open (gc.reg.cfg.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (gc.reg.root_fd < 0)
    {
      fprintf (stderr, "berth-registry garbage-collect: %s: %s\n", gc.reg.cfg.root, strerror (errno));
      return 1;
    }
  find_repos (&gc, "", 0);
  for (size_t i = 0; i < gc.repos.n; i++)
    mark_repo (&gc, gc.repos.v[i]);
  unsigned long count = 0;
  unsigned long long bytes = 0;
  sweep_blobs (&gc, &count, &bytes);
  if (!gc.dry_run)
    for (size_t i = 0; i < gc.repos.n; i++)
      sweep_links (&gc, gc.repos.v[i]);
  printf ("%lu blobs %s, %llu bytes, %zu blobs in use\n", count, gc.dry_run ? "eligible for deletion" : "deleted",
          bytes, gc.marked.n);
  set_free (&gc.marked);
  set_free (&gc.repos);
  close (gc.reg.root_fd);
  return 0;
}
