/* berth build: docker build's options and behaviour (classic builder
 * API): the context is tarred honoring .dockerignore (libarchive), the tar
 * is streamed into the POST /build body by libcurl while a child process
 * writes it into a pipe, and the daemon's JSON messages are printed as
 * they arrive, as the docker CLI prints them. */
#include "client.h"
#include "build/dockerfile.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct build_opts {
  const char **tags;
  size_t ntags;
  const char *file;   /* -f, NULL: Dockerfile in the context */
  json_t *buildargs;  /* object */
  json_t *labels;     /* object */
  const char *target;
  const char *network;  /* --network, NULL: the daemon's default */
  const char *iidfile;
  bool no_cache, pull, quiet, rm, force_rm;
  const char *context;
};

static int usage_error (const char *fmt, const char *arg)
{
  fprintf (stderr, "berth build: ");
  fprintf (stderr, fmt, arg);
  fputc ('\n', stderr);
  return 1;
}

/* ---- the context tar (written by a child into a pipe) ---- */

struct tar_job {
  const char *dir;             /* the context folder, or NULL */
  struct dockerignore *ignore; /* may be NULL */
  const char *extra_name;      /* a file added at the end (the Dockerfile from stdin), or NULL */
  const char *extra_data;
  size_t extra_len;
};

static int tar_fail (struct archive *a, const char *what, const char *path)
{
  fprintf (stderr, "error checking context: %s '%s': %s\n", what, path, a ? archive_error_string (a) : strerror (errno));
  return -1;
}

static int write_file_data (struct archive *a, int fd, const char *rel)
{
  char buf[65536];
  for (;;)
    {
      ssize_t n = read (fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          fprintf (stderr, "error checking context: can't read '%s': %s\n", rel, strerror (errno));
          return -1;
        }
      if (n == 0)
        return 0;
      if (archive_write_data (a, buf, n) != n)
        return tar_fail (a, "can't write", rel);
    }
}

static struct archive_entry *entry_for (const char *rel, const struct stat *st)
{
  struct archive_entry *e = archive_entry_new ();
  archive_entry_set_pathname (e, rel);
  archive_entry_set_mode (e, st->st_mode);
  archive_entry_set_mtime (e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
  /* as the docker CLI: owned by root in the context */
  archive_entry_set_uid (e, 0);
  archive_entry_set_gid (e, 0);
  if (S_ISREG (st->st_mode))
    archive_entry_set_size (e, st->st_size);
  return e;
}

static int name_cmp (const void *a, const void *b) { return strcmp (*(char *const *) a, *(char *const *) b); }

static int walk (struct archive *a, const struct tar_job *job, int dirfd, const char *prefix);

static int add_one (struct archive *a, const struct tar_job *job, int dirfd, const char *name, const char *rel)
{
  struct stat st;
  if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      fprintf (stderr, "error checking context: can't stat '%s': %s\n", rel, strerror (errno));
      return -1;
    }
  bool excluded = dockerignore_match (job->ignore, rel);
  if (S_ISDIR (st.st_mode))
    {
      /* an excluded folder is skipped whole unless an exception may
       * re-include something in it (Docker's walker) */
      if (excluded && !dockerignore_has_exceptions_under (job->ignore, rel))
        return 0;
      cleanup_close int sub = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0)
        {
          fprintf (stderr, "error checking context: can't open '%s': %s\n", rel, strerror (errno));
          return -1;
        }
      if (!excluded)
        {
          struct archive_entry *e = entry_for (rel, &st);
          int r = archive_write_header (a, e);
          archive_entry_free (e);
          if (r != ARCHIVE_OK)
            return tar_fail (a, "can't write", rel);
        }
      return walk (a, job, sub, rel);
    }
  if (excluded)
    return 0;
  if (!S_ISREG (st.st_mode) && !S_ISLNK (st.st_mode))
    return 0; /* sockets, fifos and devices are not sent */
  struct archive_entry *e = entry_for (rel, &st);
  cleanup_close int fd = -1;
  if (S_ISLNK (st.st_mode))
    {
      char target[PATH_MAX];
      ssize_t n = readlinkat (dirfd, name, target, sizeof target - 1);
      if (n < 0)
        {
          archive_entry_free (e);
          fprintf (stderr, "error checking context: can't readlink '%s': %s\n", rel, strerror (errno));
          return -1;
        }
      target[n] = '\0';
      archive_entry_set_symlink (e, target);
    }
  else
    {
      fd = openat (dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0)
        {
          archive_entry_free (e);
          fprintf (stderr, "error checking context: no permission to read from '%s'\n", rel);
          return -1;
        }
    }
  int r = archive_write_header (a, e);
  archive_entry_free (e);
  if (r != ARCHIVE_OK)
    return tar_fail (a, "can't write", rel);
  return fd >= 0 ? write_file_data (a, fd, rel) : 0;
}

/* The entries of DIRFD in lexical order (as Go's filepath.Walk). */
static int walk (struct archive *a, const struct tar_job *job, int dirfd, const char *prefix)
{
  int dup_fd = dup (dirfd);
  if (dup_fd < 0)
    return -1;
  cleanup_dir DIR *d = fdopendir (dup_fd);
  if (d == NULL)
    {
      close (dup_fd);
      return -1;
    }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  int r = 0;
  while ((de = readdir (d)))
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (n == cap)
        {
          cap = cap ? cap * 2 : 32;
          char **nv = realloc (names, cap * sizeof *nv);
          if (nv == NULL)
            abort ();
          names = nv;
        }
      names[n] = strdup (de->d_name);
      if (names[n++] == NULL)
        abort ();
    }
  qsort (names, n, sizeof *names, name_cmp);
  for (size_t i = 0; i < n; i++)
    {
      if (r == 0)
        {
          cleanup_free char *rel = NULL;
          if (asprintf (&rel, "%s%s%s", prefix ? prefix : "", prefix ? "/" : "", names[i]) < 0)
            abort ();
          r = add_one (a, job, dirfd, names[i], rel);
        }
      free (names[i]);
    }
  free (names);
  return r;
}

static int write_tar (int out, const struct tar_job *job)
{
  struct archive *a = archive_write_new ();
  archive_write_set_format_pax_restricted (a);
  archive_write_set_bytes_in_last_block (a, 1);
  if (archive_write_open_fd (a, out) != ARCHIVE_OK)
    return tar_fail (a, "can't write", "-");
  int r = 0;
  if (job->dir)
    {
      cleanup_close int dfd = open (job->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd < 0)
        r = (fprintf (stderr, "error checking context: can't open '%s': %s\n", job->dir, strerror (errno)), -1);
      else
        r = walk (a, job, dfd, NULL);
    }
  if (r == 0 && job->extra_name)
    {
      struct stat st = { .st_mode = S_IFREG | 0600, .st_size = (off_t) job->extra_len };
      st.st_mtim.tv_sec = time (NULL);
      struct archive_entry *e = entry_for (job->extra_name, &st);
      if (archive_write_header (a, e) != ARCHIVE_OK
          || archive_write_data (a, job->extra_data, job->extra_len) != (la_ssize_t) job->extra_len)
        r = tar_fail (a, "can't write", job->extra_name);
      archive_entry_free (e);
    }
  if (r == 0 && archive_write_close (a) != ARCHIVE_OK)
    r = tar_fail (a, "can't write", "-");
  archive_write_free (a);
  return r;
}

/* ---- the upload: a prefix already read, then a file descriptor ---- */

struct upload {
  const char *prefix;
  size_t plen, ppos;
  int fd;
  pid_t child;      /* the tar writer, or 0 */
  bool child_failed;
  size_t total;
};

static size_t on_read (char *buf, size_t size, size_t n, void *opaque)
{
  struct upload *u = opaque;
  size_t want = size * n;
  if (u->ppos < u->plen)
    {
      size_t k = u->plen - u->ppos < want ? u->plen - u->ppos : want;
      memcpy (buf, u->prefix + u->ppos, k);
      u->ppos += k;
      u->total += k;
      return k;
    }
  ssize_t r;
  do
    r = read (u->fd, buf, want);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return CURL_READFUNC_ABORT;
  if (r == 0 && u->child > 0)
    {
      int st = 0;
      waitpid (u->child, &st, 0);
      u->child = 0;
      if (!WIFEXITED (st) || WEXITSTATUS (st) != 0)
        {
          u->child_failed = true;
          return CURL_READFUNC_ABORT; /* never send a truncated context */
        }
    }
  u->total += r;
  return r;
}

/* ---- the reply: JSON messages, one a line ---- */

struct reply {
  CURL *curl;
  bool quiet;
  long status;
  struct { char *s; size_t len; } pending, err_body, quiet_out;
  char *image_id;
  char *error;
  long error_code;
  bool announced;
  struct upload *up;
};

static void buf_add (char **s, size_t *len, const char *p, size_t n)
{
  char *nb = realloc (*s, *len + n + 1);
  if (nb == NULL)
    abort ();
  memcpy (nb + *len, p, n);
  *len += n;
  nb[*len] = '\0';
  *s = nb;
}

static void out_text (struct reply *rp, const char *s)
{
  if (rp->quiet)
    buf_add (&rp->quiet_out.s, &rp->quiet_out.len, s, strlen (s));
  else
    {
      fputs (s, stdout);
      fflush (stdout);
    }
}

/* Docker's units.HumanSize: 4 significant digits, decimal units. */
static void human_size (double bytes, char *buf, size_t len)
{
  static const char *units[] = { "B", "kB", "MB", "GB", "TB", "PB" };
  int u = 0;
  while (bytes >= 1000 && u < 5)
    {
      bytes /= 1000;
      u++;
    }
  snprintf (buf, len, "%.4g%s", bytes, units[u]);
}

static void announce_context (struct reply *rp)
{
  /* with -q the docker CLI keeps this progress out of stdout */
  if (rp->announced || rp->quiet)
    return;
  rp->announced = true;
  char size[32];
  human_size ((double) rp->up->total, size, sizeof size);
  char line[96];
  snprintf (line, sizeof line, "Sending build context to Docker daemon  %s\n", size);
  out_text (rp, line);
}

static void handle_message (struct reply *rp, json_t *m)
{
  json_t *detail = json_object_get (m, "errorDetail");
  const char *error = berth_json_str (m, "error");
  if (detail || error)
    {
      const char *msg = berth_json_str (detail, "message");
      free (rp->error);
      rp->error = strdup (msg ? msg : error ? error : "unknown error");
      json_t *code = json_object_get (detail, "code");
      rp->error_code = json_is_integer (code) ? (long) json_integer_value (code) : 0;
      return;
    }
  const char *stream = berth_json_str (m, "stream");
  if (stream)
    out_text (rp, stream);
  const char *status = berth_json_str (m, "status");
  if (status)
    {
      const char *id = berth_json_str (m, "id");
      cleanup_free char *line = NULL;
      if (asprintf (&line, "%s%s%s\n", id ? id : "", id ? ": " : "", status) > 0)
        out_text (rp, line);
    }
  json_t *aux = json_object_get (m, "aux");
  const char *id = berth_json_str (aux, "ID");
  if (id)
    {
      free (rp->image_id);
      rp->image_id = strdup (id);
    }
}

static void handle_lines (struct reply *rp, bool final)
{
  char *s = rp->pending.s;
  size_t len = rp->pending.len, start = 0;
  for (size_t i = 0; i <= len; i++)
    {
      if (i < len ? s[i] != '\n' : !final)
        continue;
      size_t n = i - start;
      while (n > 0 && (s[start + n - 1] == '\r' || s[start + n - 1] == ' '))
        n--;
      if (n > 0)
        {
          json_t *m = json_loadb (s + start, n, 0, NULL);
          if (m)
            handle_message (rp, m);
          else
            {
              /* not JSON: shown as is */
              fwrite (s + start, 1, n, stdout);
              fputc ('\n', stdout);
            }
          json_decref (m);
        }
      start = i + 1;
    }
  if (start > len)
    start = len;
  memmove (s, s + start, len - start);
  rp->pending.len = len - start;
  if (s)
    s[rp->pending.len] = '\0';
}

static size_t on_write (char *data, size_t size, size_t n, void *opaque)
{
  struct reply *rp = opaque;
  size_t total = size * n;
  if (rp->status == 0)
    curl_easy_getinfo (rp->curl, CURLINFO_RESPONSE_CODE, &rp->status);
  if (rp->status / 100 != 2)
    {
      buf_add (&rp->err_body.s, &rp->err_body.len, data, total);
      return total;
    }
  announce_context (rp);
  buf_add (&rp->pending.s, &rp->pending.len, data, total);
  handle_lines (rp, false);
  return total;
}

/* ---- options ---- */

static int parse_kv (json_t *obj, const char *arg, bool from_env)
{
  const char *eq = strchr (arg, '=');
  if (eq == NULL)
    {
      /* --build-arg KEY takes the value from the environment, if set (else
       * null, as the docker CLI); --label KEY is "" */
      const char *v = from_env ? getenv (arg) : "";
      return json_object_set_new (obj, arg, v ? json_string (v) : json_null ());
    }
  cleanup_free char *key = strndup (arg, eq - arg);
  return json_object_set_new (obj, key, json_string (eq + 1));
}

enum { OPT_BUILD_ARG = 256, OPT_TARGET, OPT_NO_CACHE, OPT_PULL, OPT_LABEL, OPT_IIDFILE, OPT_RM, OPT_FORCE_RM, OPT_NETWORK };

static int parse_options (int argc, char **argv, struct build_opts *o)
{
  static const struct option longopts[] = {
    { "tag", required_argument, NULL, 't' },
    { "file", required_argument, NULL, 'f' },
    { "quiet", no_argument, NULL, 'q' },
    { "build-arg", required_argument, NULL, OPT_BUILD_ARG },
    { "target", required_argument, NULL, OPT_TARGET },
    { "no-cache", optional_argument, NULL, OPT_NO_CACHE },
    { "pull", optional_argument, NULL, OPT_PULL },
    { "label", required_argument, NULL, OPT_LABEL },
    { "iidfile", required_argument, NULL, OPT_IIDFILE },
    { "rm", optional_argument, NULL, OPT_RM },
    { "force-rm", optional_argument, NULL, OPT_FORCE_RM },
    { "network", required_argument, NULL, OPT_NETWORK },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int ch;
  optind = 1;
  while ((ch = getopt_long (argc, argv, "+t:f:qh", longopts, NULL)) != -1)
    {
      bool flag = optarg == NULL || strcmp (optarg, "true") == 0 || strcmp (optarg, "1") == 0;
      switch (ch)
        {
        case 't':
          o->tags = realloc (o->tags, (o->ntags + 1) * sizeof *o->tags);
          if (o->tags == NULL)
            abort ();
          o->tags[o->ntags++] = optarg;
          break;
        case 'f':
          o->file = optarg;
          break;
        case 'q':
          o->quiet = true;
          break;
        case OPT_BUILD_ARG:
          parse_kv (o->buildargs, optarg, true);
          break;
        case OPT_LABEL:
          parse_kv (o->labels, optarg, false);
          break;
        case OPT_TARGET:
          o->target = optarg;
          break;
        case OPT_NO_CACHE:
          o->no_cache = flag;
          break;
        case OPT_PULL:
          o->pull = flag;
          break;
        case OPT_IIDFILE:
          o->iidfile = optarg;
          break;
        case OPT_RM:
          o->rm = flag;
          break;
        case OPT_FORCE_RM:
          o->force_rm = flag;
          break;
        case OPT_NETWORK:
          o->network = optarg;
          break;
        case 'h':
          printf ("usage: berth build [OPTIONS] PATH | -\n"
                  "  -t, --tag NAME[:TAG]    name the image (repeatable)\n"
                  "  -f, --file FILE         the Dockerfile (default PATH/Dockerfile; - reads stdin)\n"
                  "      --build-arg K[=V]   a build argument (repeatable)\n"
                  "      --target STAGE      build up to this stage\n"
                  "      --label K=V         a label on the image (repeatable)\n"
                  "      --no-cache          do not use the layer cache\n"
                  "      --pull              always pull the base images\n"
                  "      --network MODE      RUN's network: default, bridge, host, none or a network\n"
                  "  -q, --quiet             print only the image id\n"
                  "      --iidfile FILE      write the image id to FILE\n"
                  "      --rm[=false], --force-rm  remove intermediate containers\n");
          exit (0);
        default:
          return -1;
        }
    }
  if (argc - optind != 1)
    return usage_error ("%s", "requires exactly 1 argument: berth build [OPTIONS] PATH | -"), -1;
  o->context = argv[optind];
  return 0;
}

/* ---- the request ---- */

static void query_add (char **q, const char *key, const char *value)
{
  cleanup_free char *e = client_escape (value);
  char *n = NULL;
  if (asprintf (&n, "%s%s%s=%s", *q, (*q)[0] ? "&" : "?", key, e ? e : "") < 0)
    abort ();
  free (*q);
  *q = n;
}

static char *build_query (const struct build_opts *o, const char *dockerfile)
{
  char *q = strdup ("");
  for (size_t i = 0; i < o->ntags; i++)
    query_add (&q, "t", o->tags[i]);
  query_add (&q, "dockerfile", dockerfile);
  if (o->quiet)
    query_add (&q, "q", "1");
  if (o->no_cache)
    query_add (&q, "nocache", "1");
  query_add (&q, "rm", o->rm ? "1" : "0");
  if (o->force_rm)
    query_add (&q, "forcerm", "1");
  if (o->pull)
    query_add (&q, "pull", "1");
  if (o->target)
    query_add (&q, "target", o->target);
  query_add (&q, "networkmode", o->network ? o->network : "default");
  cleanup_free char *args = json_dumps (o->buildargs, JSON_COMPACT);
  cleanup_free char *labels = json_dumps (o->labels, JSON_COMPACT);
  query_add (&q, "buildargs", args ? args : "{}");
  query_add (&q, "labels", labels ? labels : "{}");
  query_add (&q, "version", "1");
  return q;
}

static int post_build (struct client *c, const struct build_opts *o, const char *dockerfile, struct upload *up)
{
  cleanup_free char *query = build_query (o, dockerfile);
  cleanup_free char *url = NULL;
  if (asprintf (&url, "http://berthd/v%s/build%s", client_api_version (c), query) < 0)
    abort ();
  CURL *curl = curl_easy_init ();
  if (curl == NULL)
    return usage_error ("%s", "cannot initialize libcurl");
  struct reply rp = { .curl = curl, .quiet = o->quiet, .up = up };
  struct curl_slist *headers = curl_slist_append (NULL, "Content-Type: application/x-tar");
  headers = curl_slist_append (headers, "Expect:");
  curl_easy_setopt (curl, CURLOPT_UNIX_SOCKET_PATH, c->socket);
  curl_easy_setopt (curl, CURLOPT_URL, url);
  curl_easy_setopt (curl, CURLOPT_POST, 1L);
  curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt (curl, CURLOPT_READFUNCTION, on_read);
  curl_easy_setopt (curl, CURLOPT_READDATA, up);
  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt (curl, CURLOPT_WRITEDATA, &rp);
  CURLcode rc = curl_easy_perform (curl);
  if (rp.status == 0)
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &rp.status);
  curl_slist_free_all (headers);
  curl_easy_cleanup (curl);

  int ret = 0;
  if (up->child_failed)
    ret = 1; /* the child said why */
  else if (rc != CURLE_OK && rp.status == 0)
    {
      fprintf (stderr, "berth: cannot reach berthd at %s: %s (is it running?)\n", c->socket, curl_easy_strerror (rc));
      ret = 1;
    }
  else if (rp.status / 100 != 2)
    {
      cleanup_json json_t *j = rp.err_body.s ? json_loadb (rp.err_body.s, rp.err_body.len, 0, NULL) : NULL;
      const char *msg = berth_json_str (j, "message");
      fprintf (stderr, "Error response from daemon: %s\n", msg ? msg : rp.err_body.s ? rp.err_body.s : "(no message)");
      ret = 1;
    }
  else
    {
      handle_lines (&rp, true);
      if (rp.error)
        {
          if (o->quiet && rp.quiet_out.s)
            fputs (rp.quiet_out.s, stderr);
          fprintf (stderr, "%s\n", rp.error);
          ret = rp.error_code > 0 && rp.error_code < 256 ? (int) rp.error_code : 1;
        }
      else if (rc != CURLE_OK)
        {
          fprintf (stderr, "berth: the build's output broke off: %s\n", curl_easy_strerror (rc));
          ret = 1;
        }
      else
        {
          /* as the docker CLI: with -q the daemon's output is only the
           * image id, printed as is and also what --iidfile gets */
          const char *iid = rp.image_id;
          if (o->quiet)
            {
              iid = rp.quiet_out.s;
              fputs (rp.quiet_out.s ? rp.quiet_out.s : "", stdout);
            }
          berth_err werr = NULL;
          if (o->iidfile && (iid == NULL || *iid == '\0'))
            {
              fprintf (stderr, "Server did not provide an image ID. Cannot write %s\n", o->iidfile);
              ret = 1;
            }
          else if (o->iidfile && berth_write_file (o->iidfile, iid, strlen (iid), &werr) < 0)
            {
              fprintf (stderr, "berth: cannot write the image id: %s\n", werr->msg);
              berth_error_free (&werr);
              ret = 1;
            }
        }
    }
  free (rp.pending.s);
  free (rp.err_body.s);
  free (rp.quiet_out.s);
  free (rp.image_id);
  free (rp.error);
  return ret;
}

/* ---- preparing the context ---- */

static char *read_all_fd (int fd, size_t *len)
{
  char *buf = NULL;
  size_t n = 0, cap = 0;
  for (;;)
    {
      if (n + 65536 > cap)
        {
          cap = cap ? cap * 2 : 131072;
          char *nb = realloc (buf, cap + 1);
          if (nb == NULL)
            {
              free (buf);
              return NULL;
            }
          buf = nb;
        }
      ssize_t r = read (fd, buf + n, cap - n);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        {
          free (buf);
          return NULL;
        }
      if (r == 0)
        break;
      n += r;
    }
  buf[n] = '\0';
  *len = n;
  return buf;
}

static struct dockerignore *load_dockerignore (const char *dir, bool *failed)
{
  cleanup_free char *path = NULL;
  if (asprintf (&path, "%s/.dockerignore", dir) < 0)
    abort ();
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  struct dockerignore *di = NULL;
  berth_err err = NULL;
  if (fd < 0)
    {
      if (errno == ENOENT)
        {
          dockerignore_parse ("", 0, &di, &err);
          return di;
        }
      fprintf (stderr, "berth: cannot read %s: %s\n", path, strerror (errno));
      *failed = true;
      return NULL;
    }
  size_t len = 0;
  cleanup_free char *text = read_all_fd (fd, &len);
  if (text == NULL || dockerignore_parse (text, len, &di, &err) < 0)
    {
      fprintf (stderr, "berth: %s\n", err ? err->msg : "cannot read .dockerignore");
      berth_error_free (&err);
      *failed = true;
      return NULL;
    }
  return di;
}

/* Is this the start of an archive (tar, or compressed) rather than a
 * Dockerfile?  (docker build - accepts both.) */
static bool looks_like_archive (const unsigned char *b, size_t n)
{
  if (n >= 262 && memcmp (b + 257, "ustar", 5) == 0)
    return true;
  if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
    return true;
  if (n >= 3 && memcmp (b, "BZh", 3) == 0)
    return true;
  if (n >= 6 && memcmp (b, "\xfd" "7zXZ\0", 6) == 0)
    return true;
  if (n >= 4 && memcmp (b, "\x28\xb5\x2f\xfd", 4) == 0)
    return true;
  return false;
}

static pid_t spawn_tar_writer (const struct tar_job *job, int *read_fd)
{
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return -1;
  fflush (stdout);
  fflush (stderr);
  pid_t pid = fork ();
  if (pid < 0)
    {
      close (p[0]);
      close (p[1]);
      return -1;
    }
  if (pid == 0)
    {
      close (p[0]);
      signal (SIGPIPE, SIG_IGN);
      _exit (write_tar (p[1], job) == 0 ? 0 : 1);
    }
  close (p[1]);
  *read_fd = p[0];
  return pid;
}

/* The context's path of FILE (-f, relative to the current directory as
 * in the docker CLI), or NULL if it is outside the context. */
static char *dockerfile_in_context (const char *ctx_abs, const char *file)
{
  cleanup_free char *abs = realpath (file, NULL);
  if (abs == NULL)
    return NULL;
  size_t n = strlen (ctx_abs);
  if (strncmp (abs, ctx_abs, n) == 0 && abs[n] == '/')
    return strdup (abs + n + 1);
  if (strcmp (ctx_abs, "/") == 0)
    return strdup (abs + 1);
  return NULL;
}

static int build_from_dir (struct client *c, const struct build_opts *o)
{
  struct stat st;
  if (stat (o->context, &st) < 0 || !S_ISDIR (st.st_mode))
    return usage_error ("unable to prepare context: path \"%s\" not found", o->context);
  cleanup_free char *ctx = realpath (o->context, NULL);
  if (ctx == NULL)
    return usage_error ("unable to prepare context: path \"%s\" not found", o->context);

  struct tar_job job = { .dir = ctx };
  cleanup_free char *dockerfile = NULL, *stdin_df = NULL, *outside = NULL, *random_name = NULL;
  if (o->file && strcmp (o->file, "-") == 0)
    {
      stdin_df = read_all_fd (0, &job.extra_len);
      if (stdin_df == NULL)
        return usage_error ("%s", "cannot read the Dockerfile from stdin");
      job.extra_data = stdin_df;
    }
  else
    {
      cleanup_free char *given = NULL;
      if (o->file)
        given = strdup (o->file);
      else if (asprintf (&given, "%s/Dockerfile", ctx) >= 0 && access (given, F_OK) != 0)
        {
          /* as the docker CLI: "dockerfile" when there is no "Dockerfile" */
          free (given);
          if (asprintf (&given, "%s/dockerfile", ctx) < 0 || access (given, F_OK) != 0)
            return usage_error ("unable to prepare context: unable to evaluate symlinks in Dockerfile path: "
                                "lstat %s/Dockerfile: no such file or directory", ctx);
        }
      if (access (given, R_OK) != 0)
        return usage_error ("unable to prepare context: Cannot locate specified Dockerfile: %s", o->file);
      dockerfile = dockerfile_in_context (ctx, given);
      if (dockerfile == NULL)
        {
          /* outside the context: sent under a random name, as the CLI */
          cleanup_close int fd = open (given, O_RDONLY | O_CLOEXEC);
          outside = fd >= 0 ? read_all_fd (fd, &job.extra_len) : NULL;
          if (outside == NULL)
            return usage_error ("cannot read the Dockerfile %s", given);
          job.extra_data = outside;
        }
    }
  if (job.extra_data)
    {
      unsigned char rnd[10];
      if (getrandom (rnd, sizeof rnd, 0) != sizeof rnd)
        return usage_error ("%s", "getrandom failed");
      random_name = malloc (64);
      if (random_name == NULL)
        abort ();
      strcpy (random_name, ".dockerfile.");
      for (size_t i = 0; i < sizeof rnd; i++)
        sprintf (random_name + strlen (random_name), "%02x", rnd[i]);
      job.extra_name = random_name;
    }

  bool failed = false;
  job.ignore = load_dockerignore (ctx, &failed);
  if (failed)
    return 1;
  berth_err err = NULL;
  /* the docker CLI always sends .dockerignore and the Dockerfile */
  if (dockerignore_match (job.ignore, ".dockerignore"))
    dockerignore_add_pattern (job.ignore, "!.dockerignore", &err);
  if (dockerfile && dockerignore_match (job.ignore, dockerfile))
    {
      cleanup_free char *keep = NULL;
      if (asprintf (&keep, "!%s", dockerfile) < 0)
        abort ();
      if (dockerignore_add_pattern (job.ignore, keep, &err) < 0)
        berth_error_free (&err);
    }

  struct upload up = { 0 };
  up.child = spawn_tar_writer (&job, &up.fd);
  dockerignore_free (job.ignore);
  if (up.child < 0)
    return usage_error ("cannot start the context writer: %s", strerror (errno));
  int r = post_build (c, o, dockerfile ? dockerfile : job.extra_name, &up);
  close (up.fd);
  if (up.child > 0)
    {
      kill (up.child, SIGTERM);
      waitpid (up.child, NULL, 0);
    }
  return r;
}

static int build_from_stdin (struct client *c, const struct build_opts *o)
{
  if (o->file && strcmp (o->file, "-") == 0)
    return usage_error ("%s", "invalid argument: can't use stdin for both build context and dockerfile");
  unsigned char head[512];
  size_t n = 0;
  while (n < sizeof head)
    {
      ssize_t r = read (0, head + n, sizeof head - n);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        break;
      n += r;
    }
  if (looks_like_archive (head, n))
    {
      struct upload up = { .prefix = (const char *) head, .plen = n, .fd = 0 };
      return post_build (c, o, o->file ? o->file : "Dockerfile", &up);
    }
  /* a Dockerfile on stdin, with an empty context */
  size_t rest_len = 0;
  cleanup_free char *rest = read_all_fd (0, &rest_len);
  if (rest == NULL)
    return usage_error ("%s", "cannot read stdin");
  cleanup_free char *all = malloc (n + rest_len + 1);
  if (all == NULL)
    abort ();
  memcpy (all, head, n);
  memcpy (all + n, rest, rest_len);
  struct tar_job job = { .extra_name = "Dockerfile", .extra_data = all, .extra_len = n + rest_len };
  struct upload up = { 0 };
  up.child = spawn_tar_writer (&job, &up.fd);
  if (up.child < 0)
    return usage_error ("cannot start the context writer: %s", strerror (errno));
  int r = post_build (c, o, "Dockerfile", &up);
  close (up.fd);
  if (up.child > 0)
    waitpid (up.child, NULL, 0);
  return r;
}

int cmd_build (struct client *c, int argc, char **argv)
{
  struct build_opts o = { .buildargs = json_object (), .labels = json_object (), .rm = true };
  int r = parse_options (argc, argv, &o);
  if (r == 0)
    r = strcmp (o.context, "-") == 0 ? build_from_stdin (c, &o) : build_from_dir (c, &o);
  else
    r = 1;
  json_decref (o.buildargs);
  json_decref (o.labels);
  free (o.tags);
  return r;
}
