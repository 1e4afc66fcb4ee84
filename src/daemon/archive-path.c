/* The path logic of the container archive API (container-archive.h):
 * Docker's path forms, tar entry names, Go file modes and the path-stat
 * header.  Pure functions, apart from archive_follow_in_scope's readlinks. */
#include "daemon/container-archive.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Go's os.FileMode type bits. */
#define GO_MODE_DIR (1u << 31)
#define GO_MODE_SYMLINK (1u << 27)
#define GO_MODE_DEVICE (1u << 26)
#define GO_MODE_NAMED_PIPE (1u << 25)
#define GO_MODE_SOCKET (1u << 24)
#define GO_MODE_SETUID (1u << 23)
#define GO_MODE_SETGID (1u << 22)
#define GO_MODE_CHAR_DEVICE (1u << 21)
#define GO_MODE_STICKY (1u << 20)

/* How many symlinks one resolution follows before ELOOP (as Go's). */
#define MAX_SYMLINKS 255

uint32_t archive_go_mode (mode_t mode)
{
  uint32_t m = mode & 0777;
  switch (mode & S_IFMT)
    {
    case S_IFBLK: m |= GO_MODE_DEVICE; break;
    case S_IFCHR: m |= GO_MODE_DEVICE | GO_MODE_CHAR_DEVICE; break;
    case S_IFDIR: m |= GO_MODE_DIR; break;
    case S_IFIFO: m |= GO_MODE_NAMED_PIPE; break;
    case S_IFLNK: m |= GO_MODE_SYMLINK; break;
    case S_IFSOCK: m |= GO_MODE_SOCKET; break;
    default: break;
    }
  if (mode & S_ISUID)
    m |= GO_MODE_SETUID;
  if (mode & S_ISGID)
    m |= GO_MODE_SETGID;
  if (mode & S_ISVTX)
    m |= GO_MODE_STICKY;
  return m;
}

/* Go's filepath.Clean of "/" + PATH: one slash between components, "."
 * gone, ".." applied (never above the root).  Heap string. */
static char *clean_rooted (const char *path)
{
  char *out = malloc (strlen (path) + 2);
  if (out == NULL)
    return NULL;
  size_t n = 0;
  for (const char *p = path; *p;)
    {
      while (*p == '/')
        p++;
      size_t len = strcspn (p, "/");
      if (len == 2 && p[0] == '.' && p[1] == '.')
        {
          while (n > 0 && out[n - 1] != '/')
            n--;
          if (n > 0)
            n--; /* the slash before the dropped component */
        }
      else if (len > 0 && !(len == 1 && p[0] == '.'))
        {
          out[n++] = '/';
          memcpy (out + n, p, len);
          n += len;
        }
      p += len;
    }
  if (n == 0)
    out[n++] = '/';
  out[n] = '\0';
  return out;
}

/* Go's filepath.Base. */
static char *base_of (const char *path)
{
  size_t len = strlen (path);
  while (len > 0 && path[len - 1] == '/')
    len--;
  if (len == 0)
    return strdup (*path ? "/" : ".");
  size_t start = len;
  while (start > 0 && path[start - 1] != '/')
    start--;
  return strndup (path + start, len - start);
}

char *archive_base_name (const char *abs_path)
{
  return base_of (abs_path);
}

char *archive_abs_path (const char *path)
{
  char *clean = clean_rooted (path);
  cleanup_free char *orig_base = base_of (path), *clean_base = clean ? base_of (clean) : NULL;
  if (clean == NULL || orig_base == NULL || clean_base == NULL)
    {
      free (clean);
      return NULL;
    }
  size_t len = strlen (clean);
  char *out = malloc (len + 4); /* "/." and "/" may be added */
  if (out == NULL)
    {
      free (clean);
      return NULL;
    }
  memcpy (out, clean, len + 1);
  free (clean);
  /* "x/." asks for the content of x: Docker keeps the dot. */
  if (strcmp (clean_base, ".") != 0 && strcmp (orig_base, ".") == 0)
    {
      if (out[len - 1] != '/')
        out[len++] = '/';
      out[len++] = '.';
      out[len] = '\0';
    }
  if (out[len - 1] != '/' && *path && path[strlen (path) - 1] == '/')
    {
      out[len++] = '/';
      out[len] = '\0';
    }
  return out;
}

char *archive_entry_name (const char *rebase, const char *rel)
{
  char *out = NULL;
  bool root = strcmp (rebase, "/") == 0;
  int r;
  if (*rel == '\0')
    r = asprintf (&out, "%s", rebase);
  else
    r = asprintf (&out, "%s/%s", root ? "" : rebase, rel);
  return r < 0 ? NULL : out;
}

/* Docker cleans lexically first: "a/../b" is "b"; only a ".." that climbs
 * above the folder is refused. */
char *archive_clean_name (const char *in)
{
  return berth_clean_relative_path (in, BERTH_DOTDOT_RESOLVE);
}

bool archive_symlink_escapes (const char *name, const char *target)
{
  if (target[0] == '/')
    return false;
  /* Depth of the link's folder below the extraction folder. */
  long depth = 0;
  for (const char *p = name; *p; p++)
    if (*p == '/')
      depth++;
  for (const char *p = target; *p;)
    {
      while (*p == '/')
        p++;
      size_t len = strcspn (p, "/");
      if (len == 2 && p[0] == '.' && p[1] == '.')
        {
          if (--depth < 0)
            return true;
        }
      else if (len > 0 && !(len == 1 && p[0] == '.'))
        depth++;
      p += len;
    }
  return false;
}

/* Drop the last component of the absolute RESOLVED ("" is the root). */
static void drop_last (char *resolved)
{
  char *slash = strrchr (resolved, '/');
  if (slash)
    *slash = '\0';
}

int archive_follow_in_scope (int root_fd, const char *path, char **out)
{
  char resolved[PATH_MAX] = "";   /* "" or "/a/b": no trailing slash */
  char pending[2 * PATH_MAX + 2]; /* what is left to walk */
  int links = 0;
  if (snprintf (pending, sizeof pending, "%s", path) >= (int) sizeof pending)
    return -ENAMETOOLONG;
  char *p = pending;
  while (*p)
    {
      while (*p == '/')
        p++;
      size_t len = strcspn (p, "/");
      if (len == 0)
        break;
      char comp[NAME_MAX + 1];
      if (len > NAME_MAX)
        return -ENAMETOOLONG;
      memcpy (comp, p, len);
      comp[len] = '\0';
      p += len;
      if (strcmp (comp, ".") == 0)
        continue;
      if (strcmp (comp, "..") == 0)
        {
          drop_last (resolved);
          continue;
        }
      size_t rlen = strlen (resolved);
      if (rlen + 1 + len >= sizeof resolved)
        return -ENAMETOOLONG;
      resolved[rlen] = '/';
      memcpy (resolved + rlen + 1, comp, len + 1);
      char target[PATH_MAX];
      ssize_t n = readlinkat (root_fd, resolved + 1, target, sizeof target - 1);
      if (n < 0)
        continue; /* not a symlink, or missing: lexical from here */
      if (++links > MAX_SYMLINKS)
        return -ELOOP;
      target[n] = '\0';
      resolved[rlen] = '\0'; /* the link itself is replaced by its target */
      if (target[0] == '/')
        resolved[0] = '\0';
      char rest[2 * PATH_MAX + 2];
      if (snprintf (rest, sizeof rest, "%s/%s", target, p) >= (int) sizeof rest)
        return -ENAMETOOLONG;
      memcpy (pending, rest, strlen (rest) + 1);
      p = pending;
    }
  *out = strdup (*resolved ? resolved : "/");
  return *out ? 0 : -ENOMEM;
}

/* Go's RFC 3339 with nanoseconds, trailing zeros dropped, in UTC. */
static void format_mtime (const struct timespec *t, char *buf, size_t len)
{
  struct tm tm;
  time_t sec = t->tv_sec;
  gmtime_r (&sec, &tm);
  size_t n = strftime (buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  if (t->tv_nsec > 0 && n + 11 < len)
    {
      n += (size_t) snprintf (buf + n, len - n, ".%09ld", t->tv_nsec);
      while (buf[n - 1] == '0')
        buf[--n] = '\0';
    }
  snprintf (buf + n, len - n, "Z");
}

json_t *archive_path_stat_json (const char *name, int64_t size, uint32_t mode, const struct timespec *mtime,
                                const char *link_target)
{
  char when[64];
  format_mtime (mtime, when, sizeof when);
  return json_pack ("{s:s, s:I, s:I, s:s, s:s}", "name", name, "size", (json_int_t) size, "mode",
                    (json_int_t) mode, "mtime", when, "linkTarget", link_target ? link_target : "");
}

char *archive_base64 (const void *data, size_t len)
{
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char *in = data;
  char *out = malloc ((len + 2) / 3 * 4 + 1);
  if (out == NULL)
    return NULL;
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3)
    {
      uint32_t v = (uint32_t) in[i] << 16;
      if (i + 1 < len)
        v |= (uint32_t) in[i + 1] << 8;
      if (i + 2 < len)
        v |= in[i + 2];
      out[o++] = tbl[(v >> 18) & 63];
      out[o++] = tbl[(v >> 12) & 63];
      out[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
      out[o++] = i + 2 < len ? tbl[v & 63] : '=';
    }
  out[o] = '\0';
  return out;
}

char *archive_path_stat_header (json_t *stat)
{
  cleanup_free char *text = json_dumps (stat, JSON_COMPACT);
  return text ? archive_base64 (text, strlen (text)) : NULL;
}
