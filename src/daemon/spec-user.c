/* Config.User -> uid, gid and supplementary groups, read from the
 * container's own /etc/passwd and /etc/group with runc's rules (which
 * Docker uses).  The files are opened with RESOLVE_IN_ROOT: an image whose
 * /etc/passwd is a symlink to ../../../etc/passwd gets its own root's file
 * (or none), never the host's. */
#include "daemon/spec-internal.h"

#include "common/cleanup.h"
#include "common/fs.h"
#include "runtime/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Larger account files are not something an image should have. */
#define ACCOUNT_FILE_MAX (4 * 1024 * 1024)
/* The kernel's uid_t is 32 bits; (uid_t) -1 means "unchanged". */
#define MAX_ID ((long long) UINT32_MAX - 1)

void spec_user_clear (struct spec_user *u)
{
  json_decref (u->additional_gids);
  free (u->home);
  memset (u, 0, sizeof *u);
}

/* Read PATH of the root ROOTFD; a missing file or one that is not a
 * regular file reads as empty (*out = NULL). */
static int read_in_root (int rootfd, const char *path, char **out, berth_err *err)
{
  *out = NULL;
  berth_err open_err = NULL;
  cleanup_close int fd = rootfs_open_in_root (rootfd, path, ROOTFS_NO_CREATE, &open_err);
  if (fd < 0)
    {
      if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
        {
          berth_error_free (&open_err);
          return 0;
        }
      *err = open_err;
      return fd;
    }
  struct stat st;
  if (fstat (fd, &st) < 0)
    return berth_fail_errno (err, "stat %s in the container root", path);
  if (!S_ISREG (st.st_mode))
    return 0;
  char proc[64];
  snprintf (proc, sizeof proc, "/proc/self/fd/%d", fd);
  size_t len;
  int ret = berth_read_file (proc, ACCOUNT_FILE_MAX, out, &len, err);
  return ret < 0 ? berth_error_prefix (err, "read %s in the container root", path) : 0;
}

static bool parse_id (const char *s, long long *out)
{
  if (*s < '0' || *s > '9')
    return false;
  char *end;
  errno = 0;
  long long v = strtoll (s, &end, 10);
  if (errno || *end || v > MAX_ID)
    return false;
  *out = v;
  return true;
}

/* Split LINE at ':' into at most N fields (the rest stay in the last). */
static size_t split_fields (char *line, char **fields, size_t n)
{
  size_t count = 0;
  while (count < n)
    {
      fields[count++] = line;
      char *colon = strchr (line, ':');
      if (colon == NULL)
        break;
      *colon = '\0';
      line = colon + 1;
    }
  return count;
}

struct passwd_entry
{
  char *name;
  long long uid, gid;
  char *home;
};

/* First passwd entry accepted by MATCH, copied into *out. */
static bool find_passwd (char *text, bool (*match) (const struct passwd_entry *, const void *), const void *arg,
                         struct passwd_entry *out)
{
  char *save = NULL;
  for (char *line = text ? strtok_r (text, "\n", &save) : NULL; line; line = strtok_r (NULL, "\n", &save))
    {
      char *f[7] = { NULL };
      size_t n = split_fields (line, f, 7);
      struct passwd_entry e = { .name = f[0], .home = n > 5 ? f[5] : NULL };
      if (n < 4 || !parse_id (f[2], &e.uid) || !parse_id (f[3], &e.gid))
        continue;
      if (match (&e, arg))
        {
          *out = e;
          return true;
        }
    }
  return false;
}

struct user_query
{
  const char *name;
  bool numeric;
  long long uid;
};

static bool passwd_matches (const struct passwd_entry *e, const void *arg)
{
  const struct user_query *q = arg;
  return q->numeric ? e->uid == q->uid : strcmp (e->name, q->name) == 0;
}

struct group_entry
{
  const char *name;
  long long gid;
  char *members;  /* comma-separated */
};

static bool group_has_member (const struct group_entry *g, const char *user)
{
  if (g->members == NULL)
    return false;
  size_t n = strlen (user);
  for (const char *p = g->members; *p;)
    {
      size_t len = strcspn (p, ",");
      if (len == n && strncmp (p, user, n) == 0)
        return true;
      p += len;
      p += *p == ',';
    }
  return false;
}

/* Call FN for every well-formed line of the group file TEXT (not changed);
 * FN returns true to stop. */
static void each_group (const char *text, bool (*fn) (const struct group_entry *, void *), void *arg)
{
  if (text == NULL)
    return;
  cleanup_free char *copy = strdup (text);
  char *save = NULL;
  for (char *line = copy ? strtok_r (copy, "\n", &save) : NULL; line; line = strtok_r (NULL, "\n", &save))
    {
      char *f[4] = { NULL, NULL, NULL, NULL };
      if (split_fields (line, f, 4) < 3)
        continue;
      struct group_entry g = { .name = f[0], .members = f[3] };
      if (parse_id (f[2], &g.gid) && fn (&g, arg))
        return;
    }
}

struct group_lookup
{
  const char *arg;   /* name or number */
  bool found;
  long long gid;
};

static bool group_lookup_fn (const struct group_entry *g, void *opaque)
{
  struct group_lookup *l = opaque;
  char num[32];
  snprintf (num, sizeof num, "%lld", g->gid);
  if (strcmp (g->name, l->arg) == 0 || strcmp (num, l->arg) == 0)
    {
      l->found = true;
      l->gid = g->gid;
      return true;
    }
  return false;
}

/* A group named or numbered ARG: from the file, else the number itself. */
static int lookup_group (const char *groups, const char *arg, long long *gid, berth_err *err)
{
  struct group_lookup l = { .arg = arg };
  each_group (groups, group_lookup_fn, &l);
  if (l.found)
    {
      *gid = l.gid;
      return 0;
    }
  if (parse_id (arg, gid))
    return 0;
  return berth_fail (err, 0, "unable to find group %s: no matching entries in group file", arg);
}

struct member_lookup
{
  const char *user;
  json_t *gids;
};

static bool member_lookup_fn (const struct group_entry *g, void *opaque)
{
  struct member_lookup *l = opaque;
  if (group_has_member (g, l->user))
    json_array_append_new (l->gids, json_integer (g->gid));
  return false;
}

int spec_resolve_user (const char *rootfs, const char *user, json_t *group_add, struct spec_user *out,
                       berth_err *err)
{
  memset (out, 0, sizeof *out);
  cleanup_close int rootfd = open (rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return berth_fail_errno (err, "open the container root %s", rootfs);
  cleanup_free char *passwd = NULL;
  cleanup_free char *groups = NULL;
  int ret;
  if ((ret = read_in_root (rootfd, "/etc/passwd", &passwd, err)) < 0
      || (ret = read_in_root (rootfd, "/etc/group", &groups, err)) < 0)
    return ret;

  cleanup_free char *user_arg = strdup (user ? user : "");
  if (user_arg == NULL)
    return berth_fail (err, ENOMEM, "user");
  char *group_arg = strchr (user_arg, ':');
  if (group_arg)
    *group_arg++ = '\0';

  /* No user: whatever passwd says about uid 0. */
  struct user_query q = { .name = user_arg, .numeric = true, .uid = 0 };
  if (user_arg[0])
    q.numeric = parse_id (user_arg, &q.uid);
  struct passwd_entry found;
  bool matched = find_passwd (passwd, passwd_matches, &q, &found);
  out->uid = 0;
  out->gid = 0;
  if (matched)
    {
      out->uid = (uid_t) found.uid;
      out->gid = (gid_t) found.gid;
    }
  else if (user_arg[0] && !q.numeric)
    return berth_fail (err, 0, "unable to find user %s: no matching entries in passwd file", user_arg);
  else
    out->uid = (uid_t) q.uid;
  out->home = strdup (matched && found.home && found.home[0] ? found.home : "/");
  out->additional_gids = json_array ();
  if (out->home == NULL || out->additional_gids == NULL)
    {
      spec_user_clear (out);
      return berth_fail (err, ENOMEM, "user");
    }

  if (group_arg && group_arg[0])
    {
      long long gid;
      if ((ret = lookup_group (groups, group_arg, &gid, err)) < 0)
        {
          spec_user_clear (out);
          return ret;
        }
      out->gid = (gid_t) gid;
    }
  else if (matched)
    {
      /* Supplementary groups only in the implicit form, as runc does. */
      struct member_lookup l = { .user = found.name, .gids = out->additional_gids };
      each_group (groups, member_lookup_fn, &l);
    }

  size_t i;
  json_t *g;
  json_array_foreach (group_add, i, g)
    {
      long long gid;
      if (!json_is_string (g))
        {
          spec_user_clear (out);
          return berth_fail (err, 0, "HostConfig.GroupAdd[%zu]: expected a string", i);
        }
      if ((ret = lookup_group (groups, json_string_value (g), &gid, err)) < 0)
        {
          spec_user_clear (out);
          return ret;
        }
      json_array_append_new (out->additional_gids, json_integer (gid));
    }
  return 0;
}
