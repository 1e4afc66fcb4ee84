/* COPY and ADD.  The sources (the context, another stage, an image, an
 * ADD's URL) are read through a root folder descriptor with
 * openat2(RESOLVE_IN_ROOT), so symlinks in them never lead outside that
 * root; below a source folder nothing is followed.  The files go into a
 * tar (owners 0:0 unless --chown, modes from --chmod), which the chrooted
 * extractor of `docker cp` (container-archive.h) writes into the step's
 * root; the upper folder then is the layer.
 *
 * Cache: a first pass hashes what would be copied (names, modes, owners,
 * link targets, contents; not times, as Docker's tarsum), and the hash is
 * part of the history text ("COPY dir:<hash> in /app "), so a rebuild with
 * unchanged sources is a cache hit without a second pass. */
#include "build/builder.h"
#include "daemon/container-archive.h"
#include "daemon/daemon.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "image/image.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct sink
{
  EVP_MD_CTX *md;        /* pass 1: hash */
  struct archive *a;     /* pass 2: tar */
  struct archive_entry *e;
  bool chmod_set;
  mode_t chmod;
  bool keep_owner;       /* ADD of an archive: the archive's owners */
  const struct dockerignore *ignore; /* context sources only */
  int nfiles;
  char buf[1 << 16];
};

static int open_in_root (int root, const char *path, int flags)
{
  struct open_how how = { .flags = (uint64_t) flags | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  return (int) syscall (SYS_openat2, root, *path ? path : ".", &how, sizeof how);
}

static void hash_str (struct sink *s, const char *str)
{
  EVP_DigestUpdate (s->md, str, strlen (str) + 1);
}

/* One entry: NAME (tar name, relative to "/"), its stat, content from
 * FD (regular files), LINK (symlinks). */
static int put_entry (struct sink *s, const char *name, const struct stat *in, int fd, const char *link,
                      berth_err *err)
{
  struct stat st = *in;
  if (!s->keep_owner)
    st.st_uid = st.st_gid = 0;
  if (s->chmod_set && !S_ISLNK (st.st_mode))
    st.st_mode = (st.st_mode & S_IFMT) | s->chmod;
  s->nfiles++;
  if (s->md)
    {
      char meta[96];
      snprintf (meta, sizeof meta, "%o %u %u %lld", (unsigned) st.st_mode, (unsigned) st.st_uid,
                (unsigned) st.st_gid, S_ISREG (st.st_mode) ? (long long) st.st_size : 0LL);
      hash_str (s, name);
      hash_str (s, meta);
      hash_str (s, link ? link : "");
    }
  else
    {
      archive_entry_clear (s->e);
      archive_entry_copy_stat (s->e, &st);
      archive_entry_set_pathname (s->e, name);
      archive_entry_set_nlink (s->e, 1);
      if (link)
        archive_entry_set_symlink (s->e, link);
      if (!S_ISREG (st.st_mode))
        archive_entry_set_size (s->e, 0);
      if (archive_write_header (s->a, s->e) < ARCHIVE_WARN)
        return berth_fail (err, EIO, "copy: %s: %s", name, archive_error_string (s->a));
    }
  if (!S_ISREG (st.st_mode) || fd < 0)
    return 0;
  for (;;)
    {
      ssize_t n = read (fd, s->buf, sizeof s->buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return berth_fail_errno (err, "copy: read %s", name);
      if (n == 0)
        return 0;
      if (s->md)
        EVP_DigestUpdate (s->md, s->buf, (size_t) n);
      else if (archive_write_data (s->a, s->buf, (size_t) n) < 0)
        return berth_fail (err, EIO, "copy: %s", archive_error_string (s->a));
    }
}

static int cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static char *join (const char *a, const char *b)
{
  char *p = NULL;
  if (*a == '\0')
    return strdup (b);
  return asprintf (&p, "%s/%s", a, b) < 0 ? NULL : p;
}

/* The contents of folder DIRFD: SRC_REL its context path (for
 * .dockerignore), DST its tar name. */
static int put_tree (struct sink *s, int dirfd, const char *src_rel, const char *dst, berth_err *err)
{
  cleanup_close int scan = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = scan >= 0 ? fdopendir (scan) : NULL;
  if (d == NULL)
    return berth_fail_errno (err, "copy: list %s", src_rel);
  scan = -1;
  /* Sorted, so the hash does not depend on the folder's order. */
  char **names = NULL;
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir (d)))
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      char **nv = realloc (names, (n + 1) * sizeof *nv);
      if (nv == NULL)
        break;
      names = nv;
      names[n++] = strdup (de->d_name);
    }
  closedir (d);
  qsort (names, n, sizeof *names, cmp_str);
  int r = 0;
  for (size_t i = 0; i < n; i++)
    {
      const char *base = names[i];
      cleanup_free char *rel = base ? join (src_rel, base) : NULL;
      cleanup_free char *name = base ? join (dst, base) : NULL;
      struct stat st;
      if (r < 0)
        continue;
      if (rel == NULL || name == NULL)
        r = berth_fail (err, ENOMEM, "copy");
      else if (s->ignore && dockerignore_match (s->ignore, rel) && !dockerignore_has_exceptions_under (s->ignore, rel))
        continue;
      else if (fstatat (dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
        r = berth_fail_errno (err, "copy: stat %s", rel);
      else if (S_ISDIR (st.st_mode))
        {
          cleanup_close int sub = openat (dirfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (sub < 0)
            r = berth_fail_errno (err, "copy: open %s", rel);
          else if (!(s->ignore && dockerignore_match (s->ignore, rel)))
            r = put_entry (s, name, &st, -1, NULL, err);
          if (r == 0)
            r = put_tree (s, sub, rel, name, err);
        }
      else if (s->ignore && dockerignore_match (s->ignore, rel))
        continue;
      else if (S_ISLNK (st.st_mode))
        {
          char target[4096];
          ssize_t len = readlinkat (dirfd, base, target, sizeof target - 1);
          if (len < 0)
            r = berth_fail_errno (err, "copy: readlink %s", rel);
          else
            {
              target[len] = '\0';
              r = put_entry (s, name, &st, -1, target, err);
            }
        }
      else if (S_ISREG (st.st_mode))
        {
          cleanup_close int fd = openat (dirfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
          r = fd < 0 ? berth_fail_errno (err, "copy: open %s", rel) : put_entry (s, name, &st, fd, NULL, err);
        }
      /* Sockets, fifos and devices are not copied. */
    }
  for (size_t i = 0; i < n; i++)
    free (names[i]);
  free (names);
  return r;
}

/* ---- ADD: local archives ---- */

static struct archive *archive_reader (int fd)
{
  struct archive *a = archive_read_new ();
  if (a == NULL)
    return NULL;
  archive_read_support_format_tar (a);
  archive_read_support_filter_gzip (a);
  archive_read_support_filter_bzip2 (a);
  archive_read_support_filter_xz (a);
  if (archive_read_open_fd (a, fd, 1 << 16) != ARCHIVE_OK)
    {
      archive_read_free (a);
      return NULL;
    }
  return a;
}

static bool is_archive (int fd)
{
  struct archive *a = archive_reader (fd);
  struct archive_entry *e;
  bool ok = a && archive_read_next_header (a, &e) == ARCHIVE_OK;
  if (a)
    archive_read_free (a);
  lseek (fd, 0, SEEK_SET);
  return ok;
}

static int put_archive (struct sink *s, int fd, const char *dst, berth_err *err)
{
  struct archive *a = archive_reader (fd);
  struct archive_entry *e;
  int r = 0, ar;
  if (a == NULL)
    return berth_fail (err, EINVAL, "ADD: cannot read the archive");
  bool keep = s->keep_owner;
  s->keep_owner = true;
  while (r == 0 && (ar = archive_read_next_header (a, &e)) == ARCHIVE_OK)
    {
      cleanup_free char *clean = archive_clean_name (archive_entry_pathname (e));
      if (clean == NULL)
        {
          r = berth_fail_as (err, EINVAL, "ADD: archive entry %s leaves the destination", archive_entry_pathname (e));
          break;
        }
      if (*clean == '\0')
        continue;
      cleanup_free char *name = join (dst, clean);
      struct stat st = *archive_entry_stat (e);
      const char *link = archive_entry_symlink (e);
      if (archive_entry_hardlink (e))
        continue; /* hard links: not supported in ADD archives */
      if (s->md)
        r = put_entry (s, name, &st, -1, link, err);
      else
        {
          st.st_size = S_ISREG (st.st_mode) ? st.st_size : 0;
          r = put_entry (s, name, &st, -1, link, err);
        }
      if (r == 0 && S_ISREG (st.st_mode))
        {
          const void *buf;
          size_t len;
          la_int64_t off;
          while ((ar = archive_read_data_block (a, &buf, &len, &off)) == ARCHIVE_OK)
            if (s->md)
              EVP_DigestUpdate (s->md, buf, len);
            else if (archive_write_data (s->a, buf, len) < 0)
              break;
        }
    }
  s->keep_owner = keep;
  if (r == 0 && ar != ARCHIVE_EOF && ar != ARCHIVE_OK)
    r = berth_fail_as (err, EINVAL, "ADD: reading the archive: %s", archive_error_string (a));
  archive_read_free (a);
  return r;
}

/* ---- ADD: URLs ---- */

static size_t curl_write (char *p, size_t size, size_t n, void *fdp)
{
  return berth_write_all (*(int *) fdp, p, size * n) < 0 ? 0 : size * n;
}

static int download (struct build *b, const char *url, char **dir_out, char **base_out, berth_err *err)
{
  cleanup_free char *dir = NULL, *path = NULL;
  const char *slash = strrchr (url, '/');
  cleanup_free char *base = strndup (slash && slash[1] ? slash + 1 : "download", strcspn (slash && slash[1] ? slash + 1 : "download", "?#"));
  if (base == NULL || *base == '\0' || strcmp (base, "..") == 0 || strcmp (base, ".") == 0)
    {
      free (base);
      base = strdup ("download");
    }
  if (asprintf (&dir, "%s/download-%d", b->req->work_dir, ++b->mounts) < 0 || asprintf (&path, "%s/%s", dir, base) < 0)
    return berth_fail (err, ENOMEM, "ADD");
  if (build_work_dir (b, err) < 0 || berth_mkdir_p (dir, 0700, err) < 0)
    return -EIO;
  cleanup_close int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return berth_fail_errno (err, "ADD: %s", path);
  CURL *c = curl_easy_init ();
  if (c == NULL)
    return berth_fail (err, ENOMEM, "ADD: curl");
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt (c, CURLOPT_URL, url);
  curl_easy_setopt (c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt (c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt (c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, curl_write);
  curl_easy_setopt (c, CURLOPT_WRITEDATA, &fd);
  curl_easy_setopt (c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
  CURLcode cr = curl_easy_perform (c);
  curl_easy_cleanup (c);
  if (cr != CURLE_OK)
    return berth_fail_as (err, EIO, "failed to download %s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror (cr));
  *dir_out = take_ptr (dir);
  *base_out = take_ptr (base);
  return 0;
}

/* ---- sources and destinations ---- */

struct source
{
  int root;        /* the root the path is resolved in (not owned) */
  char *path;      /* relative to ROOT, cleaned */
  bool context;    /* .dockerignore applies */
  bool is_url;
};

static bool has_glob (const char *p)
{
  return strpbrk (p, "*?[") != NULL;
}

/* Expand a pattern one component at a time (names starting with "." match
 * only a pattern that does too, as filepath.Match). */
static int glob_in (int root, const char *dir, const char *pattern, char ***out, size_t *n)
{
  const char *slash = strchr (pattern, '/');
  cleanup_free char *part = strndup (pattern, slash ? (size_t) (slash - pattern) : strlen (pattern));
  cleanup_close int dfd = open_in_root (root, dir, O_RDONLY | O_DIRECTORY);
  if (part == NULL || dfd < 0)
    return 0;
  DIR *d = fdopendir (dfd);
  if (d == NULL)
    return 0;
  dfd = -1;
  struct dirent *de;
  while ((de = readdir (d)))
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0 || fnmatch (part, de->d_name, FNM_PERIOD) != 0)
        continue;
      cleanup_free char *p = join (dir, de->d_name);
      if (p == NULL)
        continue;
      if (slash)
        glob_in (root, p, slash + 1, out, n);
      else
        {
          char **nv = realloc (*out, (*n + 2) * sizeof *nv);
          if (nv == NULL)
            break;
          *out = nv;
          (*out)[(*n)++] = take_ptr (p);
          (*out)[*n] = NULL;
        }
    }
  closedir (d);
  return 0;
}

/* The tar name of the destination, and whether it names a folder. */
static int dest_name (struct stage *st, const char *dest, char **out, bool *is_dir)
{
  const char *wd = json_string_value (json_object_get (stage_config (st), "WorkingDir"));
  cleanup_free char *abs = NULL;
  size_t len = strlen (dest);
  *is_dir = len > 0 && (dest[len - 1] == '/' || (len >= 2 && strcmp (dest + len - 2, "/.") == 0) || strcmp (dest, ".") == 0);
  if (asprintf (&abs, "%s/%s", dest[0] == '/' ? "" : (wd ? wd : ""), dest) < 0)
    return -ENOMEM;
  *out = berth_clean_relative_path (abs, true);
  return *out ? 0 : -ENOMEM;
}

static bool target_is_dir (int root, const char *name)
{
  cleanup_close int fd = open_in_root (root, name, O_PATH);
  struct stat st;
  return fd >= 0 && fstat (fd, &st) == 0 && S_ISDIR (st.st_mode);
}

/* Both passes: every source into the sink. */
static int put_sources (struct sink *s, struct source *src, size_t nsrc, const char *dst, bool dst_dir, bool add,
                        const struct dockerignore *ignore, berth_err *err)
{
  for (size_t i = 0; i < nsrc; i++)
    {
      cleanup_close int fd = open_in_root (src[i].root, src[i].path, O_RDONLY);
      struct stat st;
      if (fd < 0 || fstat (fd, &st) < 0)
        return berth_fail_as (err, ENOENT, "COPY failed: file not found in build context or excluded by .dockerignore: stat %s: file does not exist", src[i].path);
      s->ignore = src[i].context ? ignore : NULL;
      int r;
      if (S_ISDIR (st.st_mode))
        r = put_tree (s, fd, src[i].path, dst, err);
      else if (add && !src[i].is_url && S_ISREG (st.st_mode) && is_archive (fd))
        r = put_archive (s, fd, dst, err);
      else
        {
          const char *base = strrchr (src[i].path, '/');
          base = base ? base + 1 : src[i].path;
          cleanup_free char *name = dst_dir ? join (dst, base) : strdup (dst);
          if (name == NULL)
            return berth_fail (err, ENOMEM, "copy");
          if (*name == '\0')
            return berth_fail_as (err, EINVAL, "cannot copy a file to the root folder itself");
          if (src[i].is_url)
            st.st_mode = S_IFREG | 0600;
          r = put_entry (s, name, &st, fd, NULL, err);
        }
      if (r < 0)
        return r;
    }
  return 0;
}

#define FROM_UNMOUNTED (-2) /* a --from source root not mounted yet */

struct copy
{
  struct build *b;
  struct stage *st;
  const struct df_instr *in;
  bool add;
  struct source *src;
  size_t nsrc;
  int context_root, from_root; /* from_root: FROM_UNMOUNTED until needed */
  char *from_id;               /* --from: the stage's or image's id */
  struct step_root from;
  char *dst;
  bool dst_dir;
  char *chown;
  bool chmod_set;
  mode_t chmod;
  char **dirs;        /* downloads, removed with the step */
  int *dir_fds;
};

static int add_source (struct copy *c, int root, const char *path, bool context, bool url)
{
  struct source *nv = realloc (c->src, (c->nsrc + 1) * sizeof *nv);
  if (nv == NULL)
    return -ENOMEM;
  c->src = nv;
  c->src[c->nsrc] = (struct source) { .root = root, .path = berth_clean_relative_path (path, true), .context = context, .is_url = url };
  if (c->src[c->nsrc].path == NULL)
    return -ENOMEM;
  c->nsrc++;
  return 0;
}

static int from_root (struct copy *c, const char *from, berth_err *err)
{
  struct build *b = c->b;
  cleanup_free char *name = NULL;
  cleanup_strv char **env = stage_expand_env (c->st);
  int r = dockerfile_expand_word (from, b->df->escape, (const char *const *) env, &name, err);
  if (r < 0)
    return r;
  const char *id = NULL;
  for (int i = 0; i < c->st->index; i++)
    if ((b->stages[i].name && strcasecmp (b->stages[i].name, name) == 0)
        || (strspn (name, "0123456789") == strlen (name) && atoi (name) == i))
      id = b->stages[i].image_id;
  cleanup_free char *looked = NULL;
  if (id == NULL)
    {
      if (strcasecmp (name, c->st->name ? c->st->name : "") == 0)
        return berth_fail_as (err, EINVAL, "COPY --from=%s: a stage cannot copy from itself", name);
      struct image_info *info = NULL;
      pthread_mutex_lock (&b->d->image_lock);
      r = image_lookup (b->d->images, name, &info, err);
      pthread_mutex_unlock (&b->d->image_lock);
      if (r < 0)
        return berth_fail_as (err, ENOENT, "invalid from flag value %s: no stage or image of that name (berthd builds from local images only)", name);
      looked = strdup (info->id);
      image_info_free (info);
      id = looked;
    }
  c->from_id = strdup (id);
  c->from_root = FROM_UNMOUNTED;
  return c->from_id ? 0 : berth_fail (err, ENOMEM, "COPY");
}

/* Mount the --from image (once) and point the sources at it. */
static int from_mount (struct copy *c, berth_err *err)
{
  if (c->from_root != FROM_UNMOUNTED)
    return 0;
  int r = step_root_mount (c->b, c->from_id, false, &c->from, err);
  if (r < 0)
    return r;
  c->from_root = open (c->from.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (c->from_root < 0)
    return berth_fail_errno (err, "open %s", c->from.rootfs);
  for (size_t i = 0; i < c->nsrc; i++)
    if (c->src[i].root == FROM_UNMOUNTED)
      c->src[i].root = c->from_root;
  return 0;
}

/* The sources' hash of a COPY --from without wildcards depends only on the
 * (content-addressed) image id, the source paths, the destination and
 * --chmod: it is kept in the cache folder ("from-<key>"), so a rebuild
 * neither mounts the image nor reads its files again. */
static char *from_memo_key (struct copy *c, char **words, size_t nwords)
{
  if (c->from_id == NULL)
    return NULL;
  cleanup_free char *text = NULL;
  if (asprintf (&text, "%s\n%s\n%d\n%d %o\n", c->from_id, c->dst, c->dst_dir, c->chmod_set, (unsigned) c->chmod) < 0)
    return NULL;
  for (size_t i = 0; i < nwords; i++)
    {
      char *t = NULL;
      if (has_glob (words[i]) || strncmp (words[i], "<<", 2) == 0 || asprintf (&t, "%s%s\n", text, words[i]) < 0)
        return NULL;
      free (text);
      text = t;
    }
  cleanup_free char *k = cache_key ("from-memo", text, NULL);
  char *key = NULL;
  return k && asprintf (&key, "from-%s", k) >= 0 ? key : NULL;
}

static int heredoc_source (struct copy *c, const char *word, berth_err *err)
{
  const struct df_instr *in = c->in;
  const char *name = word + 2 + (word[2] == '-');
  for (size_t i = 0; i < in->nheredocs; i++)
    {
      cleanup_free char *unq = strdup (name);
      if (unq == NULL)
        return berth_fail (err, ENOMEM, "COPY");
      size_t l = strlen (unq);
      if (l >= 2 && (unq[0] == '"' || unq[0] == '\'') && unq[l - 1] == unq[0])
        {
          memmove (unq, unq + 1, l - 2);
          unq[l - 2] = '\0';
        }
      if (strcmp (unq, in->heredocs[i].name) != 0)
        continue;
      cleanup_free char *dir = NULL, *path = NULL;
      if (asprintf (&dir, "%s/heredoc-%d", c->b->req->work_dir, ++c->b->mounts) < 0
          || asprintf (&path, "%s/%s", dir, in->heredocs[i].name) < 0)
        return berth_fail (err, ENOMEM, "COPY");
      if (build_work_dir (c->b, err) < 0 || berth_mkdir_p (dir, 0755, err) < 0
          || berth_write_file (path, in->heredocs[i].content, strlen (in->heredocs[i].content), err) < 0)
        return -EIO;
      chmod (path, 0644);
      int fd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0)
        return berth_fail_errno (err, "open %s", dir);
      size_t n = 0;
      while (c->dir_fds && c->dir_fds[n] >= 0)
        n++;
      int *nv = realloc (c->dir_fds, (n + 2) * sizeof *nv);
      if (nv == NULL)
        {
          close (fd);
          return berth_fail (err, ENOMEM, "COPY");
        }
      c->dir_fds = nv;
      nv[n] = fd;
      nv[n + 1] = -1;
      return add_source (c, fd, in->heredocs[i].name, false, false) < 0 ? berth_fail (err, ENOMEM, "COPY") : 0;
    }
  return berth_fail_as (err, EINVAL, "COPY: no heredoc named %s", name);
}

static int keep_fd (struct copy *c, int fd)
{
  size_t n = 0;
  while (c->dir_fds && c->dir_fds[n] >= 0)
    n++;
  int *nv = realloc (c->dir_fds, (n + 2) * sizeof *nv);
  if (nv == NULL)
    return -ENOMEM;
  c->dir_fds = nv;
  nv[n] = fd;
  nv[n + 1] = -1;
  return 0;
}

static int collect_sources (struct copy *c, char **words, size_t nwords, berth_err *err)
{
  bool context = c->from_id == NULL;
  for (size_t i = 0; !context && i < nwords; i++)
    if (has_glob (words[i]))
      {
        int r = from_mount (c, err); /* wildcards are matched in the image */
        if (r < 0)
          return r;
      }
  int root = context ? c->context_root : c->from_root;
  for (size_t i = 0; i < nwords; i++)
    {
      const char *w = words[i];
      int r = 0;
      if (strncmp (w, "<<", 2) == 0 && c->in->nheredocs > 0)
        r = heredoc_source (c, w, err);
      else if (strncmp (w, "http://", 7) == 0 || strncmp (w, "https://", 8) == 0)
        {
          if (!c->add)
            return berth_fail_as (err, EINVAL, "source can't be a URL for COPY");
          cleanup_free char *dir = NULL, *base = NULL;
          r = download (c->b, w, &dir, &base, err);
          int fd = r == 0 ? open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
          if (r == 0 && (fd < 0 || keep_fd (c, fd) < 0 || add_source (c, fd, base, false, true) < 0))
            r = berth_fail (err, ENOMEM, "ADD");
        }
      else if (has_glob (w))
        {
          cleanup_free char *pat = berth_clean_relative_path (w, true);
          char **list = NULL;
          size_t n = 0;
          if (pat)
            glob_in (root, "", pat, &list, &n);
          if (n == 0)
            {
              free (list);
              return berth_fail_as (err, ENOENT, "COPY failed: no source files were specified");
            }
          qsort (list, n, sizeof *list, cmp_str);
          for (size_t k = 0; k < n; k++)
            {
              if (r == 0 && !(context && c->b->ignore && dockerignore_match (c->b->ignore, list[k])))
                r = add_source (c, root, list[k], context, false) < 0 ? berth_fail (err, ENOMEM, "COPY") : 0;
              free (list[k]);
            }
          free (list);
          if (r == 0 && c->nsrc == 0)
            return berth_fail_as (err, ENOENT, "COPY failed: no source files were specified");
          c->dst_dir = c->dst_dir || n > 1; /* checked below */
        }
      else
        {
          cleanup_free char *clean = berth_clean_relative_path (w, true);
          if (clean && *clean && context && c->b->ignore && dockerignore_match (c->b->ignore, clean))
            return berth_fail_as (err, ENOENT,
                                  "COPY failed: file not found in build context or excluded by .dockerignore: stat %s: file does not exist",
                                  clean);
          r = add_source (c, root, w, context, false) < 0 ? berth_fail (err, ENOMEM, "COPY") : 0;
        }
      if (r < 0)
        return r;
    }
  return 0;
}

static int hash_pass (struct copy *c, char **created_by, berth_err *err)
{
  struct sink *s = calloc (1, sizeof *s);
  if (s == NULL)
    return berth_fail (err, ENOMEM, "COPY");
  s->md = EVP_MD_CTX_new ();
  s->chmod_set = c->chmod_set;
  s->chmod = c->chmod;
  EVP_DigestInit_ex (s->md, EVP_sha256 (), NULL);
  int r = put_sources (s, c->src, c->nsrc, c->dst, c->dst_dir, c->add, c->b->ignore, err);
  unsigned char md[32];
  unsigned len = 0;
  EVP_DigestFinal_ex (s->md, md, &len);
  EVP_MD_CTX_free (s->md);
  char hex[65];
  for (int i = 0; i < 32; i++)
    sprintf (hex + 2 * i, "%02x", md[i]);
  const char *kind = c->nsrc > 1 ? "multi" : (s->nfiles == 1 ? "file" : "dir");
  free (s);
  if (r < 0)
    return r;
  return asprintf (created_by, "/bin/sh -c #(nop) %s %s:%s in /%s ", c->add ? "ADD" : "COPY", kind, hex, c->dst) < 0
             ? berth_fail (err, ENOMEM, "COPY")
             : 0;
}

/* Pass 2: the sources as a tar written to FD (closed at the end).
 * *READER_GONE: a write failed with EPIPE (FD is a pipe nobody reads). */
static int tar_pass (struct copy *c, int fd, bool *reader_gone, berth_err *err)
{
  *reader_gone = false;
  struct sink *s = calloc (1, sizeof *s);
  if (s == NULL)
    {
      close (fd);
      return berth_fail (err, ENOMEM, "COPY");
    }
  s->chmod_set = c->chmod_set;
  s->chmod = c->chmod;
  s->a = archive_write_new ();
  s->e = archive_entry_new ();
  int r = 0;
  /* No blocking into 10 KiB records: data goes out in the 64 KiB reads. */
  if (s->a == NULL || s->e == NULL || archive_write_set_format_pax_restricted (s->a) != ARCHIVE_OK
      || archive_write_set_bytes_per_block (s->a, 0) != ARCHIVE_OK || archive_write_open_fd (s->a, fd) != ARCHIVE_OK)
    r = berth_fail (err, EIO, "COPY: %s", s->a ? archive_error_string (s->a) : "no memory");
  if (r == 0)
    r = put_sources (s, c->src, c->nsrc, c->dst, c->dst_dir, c->add, c->b->ignore, err);
  if (s->a && archive_write_close (s->a) != ARCHIVE_OK && r == 0)
    r = berth_fail (err, EIO, "COPY: %s", archive_error_string (s->a));
  *reader_gone = s->a && archive_errno (s->a) == EPIPE;
  if (s->a)
    archive_write_free (s->a);
  if (s->e)
    archive_entry_free (s->e);
  free (s);
  close (fd);
  return r;
}

struct tar_thread
{
  struct copy *c;
  int fd;
  int r;
  bool reader_gone;
  berth_err err;
};

static void *tar_thread_main (void *p)
{
  struct tar_thread *t = p;
  t->r = tar_pass (t->c, t->fd, &t->reader_gone, &t->err);
  return NULL;
}

/* Why a pipe: the tar of the sources was a file as large as the copy,
 * written and read back once (a quarter of a large COPY's time).  A
 * thread writes it into a pipe while the chrooted extractor (a child,
 * which closes the pipe's write end with its other descriptors) reads
 * it, so both halves run at once and nothing touches the disk. */
static int copy_into_root (struct copy *c, struct step_root *root, berth_err *err)
{
  cleanup_close int rootfd = open (root->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return berth_fail_errno (err, "COPY: open the step root");
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return berth_fail_errno (err, "COPY: pipe");
  (void) fcntl (p[1], F_SETPIPE_SZ, 1 << 20);
  const char *what = c->add ? "ADD failed" : "COPY failed";
  struct archive_child child;
  int r = archive_put_root_start (rootfd, p[0], c->chown, &child, err);
  close (p[0]); /* the child's now; a writer left alone gets EPIPE (SIGPIPE is blocked) */
  if (r < 0)
    {
      close (p[1]);
      return r;
    }
  struct tar_thread t = { .c = c, .fd = p[1] };
  pthread_t th;
  int e = pthread_create (&th, NULL, tar_thread_main, &t);
  if (e != 0)
    {
      close (p[1]); /* the child reads a truncated tar and fails */
      berth_err ignored = NULL;
      archive_put_root_finish (&child, what, 0, &ignored);
      berth_error_free (&ignored);
      return berth_fail (err, e, "COPY: start the tar thread");
    }
  berth_err put_err = NULL;
  r = archive_put_root_finish (&child, what, 0, &put_err);
  pthread_join (th, NULL);
  /* A source that could not be read explains the extractor's truncated
   * archive; a write into the pipe that a failed extractor closed does
   * not: the extractor's own error says why. */
  if (t.r < 0 && !(r < 0 && t.reader_gone))
    {
      berth_error_free (&put_err);
      *err = t.err;
      return t.r;
    }
  berth_error_free (&t.err);
  if (r < 0)
    *err = put_err;
  return r;
}

static int parse_flags (struct copy *c, berth_err *err)
{
  const struct df_instr *in = c->in;
  const char *chown = df_flag_value (in, "chown");
  const char *chmod_s = df_flag_value (in, "chmod");
  cleanup_strv char **env = stage_expand_env (c->st);
  if (chown && *chown)
    {
      int r = dockerfile_expand_word (chown, c->b->df->escape, (const char *const *) env, &c->chown, err);
      if (r < 0)
        return r;
      /* Docker: a user alone means the group of the same name / number. */
      if (strchr (c->chown, ':') == NULL && strspn (c->chown, "0123456789") == strlen (c->chown))
        {
          char *t = NULL;
          if (asprintf (&t, "%s:%s", c->chown, c->chown) < 0)
            return berth_fail (err, ENOMEM, "COPY");
          free (c->chown);
          c->chown = t;
        }
    }
  if (chmod_s)
    {
      char *end = NULL;
      unsigned long m = strtoul (chmod_s, &end, 8);
      if (*chmod_s == '\0' || *end || m > 07777)
        return berth_fail_as (err, EINVAL, "invalid chmod parameter %s: expected an octal mode", chmod_s);
      c->chmod_set = true;
      c->chmod = (mode_t) m;
    }
  for (size_t i = 0; i < in->nflags; i++)
    if (strcmp (in->flags[i].name, "from") && strcmp (in->flags[i].name, "chown") && strcmp (in->flags[i].name, "chmod")
        && strcmp (in->flags[i].name, "link") && strcmp (in->flags[i].name, "checksum")
        && strcmp (in->flags[i].name, "keep-git-dir"))
      return berth_fail_as (err, EINVAL, "Unknown flag: %s", in->flags[i].name);
  const char *from = df_flag_value (in, "from");
  if (from && c->add)
    return berth_fail_as (err, EINVAL, "ADD does not take --from");
  return from ? from_root (c, from, err) : 0;
}

static void copy_free (struct copy *c)
{
  for (size_t i = 0; i < c->nsrc; i++)
    free (c->src[i].path);
  free (c->src);
  for (size_t i = 0; c->dir_fds && c->dir_fds[i] >= 0; i++)
    close (c->dir_fds[i]);
  free (c->dir_fds);
  if (c->context_root >= 0)
    close (c->context_root);
  if (c->from_root >= 0)
    close (c->from_root);
  free (c->from_id);
  step_root_release (&c->from);
  free (c->dst);
  free (c->chown);
}

static int copy_step (struct copy *c, berth_err *err)
{
  struct build *b = c->b;
  const struct df_instr *in = c->in;
  if (in->nargs < 2)
    return berth_fail_as (err, EINVAL, "%s requires at least two arguments", c->add ? "ADD" : "COPY");
  cleanup_strv char **env = stage_expand_env (c->st);
  char **words = calloc (in->nargs + 1, sizeof *words);
  int r = words ? 0 : berth_fail (err, ENOMEM, "COPY");
  for (size_t i = 0; r == 0 && i < in->nargs; i++)
    r = strncmp (in->args[i], "<<", 2) == 0 ? ((words[i] = strdup (in->args[i])) ? 0 : -ENOMEM)
                                            : dockerfile_expand_word (in->args[i], b->df->escape,
                                                                      (const char *const *) env, &words[i], err);
  cleanup_strv char **owned = words;
  if (r < 0)
    return r;
  c->context_root = openat (b->req->context_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (c->context_root < 0)
    return berth_fail_errno (err, "open the context");
  if ((r = parse_flags (c, err)) < 0)
    return r;
  if (dest_name (c->st, words[in->nargs - 1], &c->dst, &c->dst_dir) < 0)
    return berth_fail (err, ENOMEM, "COPY");
  bool dst_slash = c->dst_dir;
  if ((r = collect_sources (c, words, in->nargs - 1, err)) < 0)
    return r;
  if ((c->nsrc > 1 || c->dst_dir != dst_slash) && !dst_slash)
    return berth_fail_as (err, EINVAL,
                          "When using %s with more than one source file, the destination must be a directory and end with a /",
                          c->add ? "ADD" : "COPY");
  cleanup_free char *created_by = NULL;
  cleanup_free char *memo = from_memo_key (c, words, in->nargs - 1);
  if (memo)
    created_by = cache_get_text (b, memo);
  if (created_by == NULL)
    {
      if ((r = from_mount (c, err)) < 0 || (r = hash_pass (c, &created_by, err)) < 0)
        return r;
      if (memo)
        cache_put_text (b, memo, created_by);
    }
  char inputs[256];
  snprintf (inputs, sizeof inputs, "chown=%s chmod=%o from=%s", c->chown ? c->chown : "",
            c->chmod_set ? (unsigned) c->chmod : 0u, df_flag_value (in, "from") ?: "");
  cleanup_free char *key = cache_key (c->st->image_id, created_by, inputs);
  r = build_cache_hit (b, c->st, key, err);
  if (r != 0)
    return r < 0 ? r : 0;
  if ((r = from_mount (c, err)) < 0)
    return r;
  struct step_root root;
  r = step_root_mount (b, c->st->image_id, false, &root, err);
  if (r == 0)
    {
      cleanup_close int rootfd = open (root.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (!c->dst_dir && c->nsrc == 1 && rootfd >= 0 && target_is_dir (rootfd, c->dst))
        c->dst_dir = true;
    }
  if (r == 0)
    r = copy_into_root (c, &root, err);
  if (r == 0)
    {
      umount2 (root.rootfs, MNT_DETACH);
      root.mounted = false;
      r = step_root_layer_tar (&root, err);
    }
  if (r == 0)
    r = build_commit (b, c->st, created_by, &root, err);
  if (r == 0)
    cache_put (b, key, c->st->image_id);
  step_root_release (&root);
  return r;
}

int build_copy_step (struct build *b, struct stage *st, const struct df_instr *in, berth_err *err)
{
  struct copy c = { .b = b, .st = st, .in = in, .add = in->kind == DF_ADD, .context_root = -1, .from_root = -1 };
  int r = copy_step (&c, err);
  copy_free (&c);
  return r;
}
