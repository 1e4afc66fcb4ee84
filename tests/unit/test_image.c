/* Unit tests of the image store (src/image).  They need root (layers are
 * unpacked in a chroot, whiteouts are device nodes, the opaque marker is a
 * trusted.* xattr).  Every test works in its own /tmp/berth-image-XXXXXX:
 *   store/    the store root
 *   outside/  a sentinel folder the hostile archives try to reach
 *   work/     the cwd, where the test archives are built
 * Archives are built here with libarchive from contents whose digests the
 * test computes itself (with EVP, not with the code under test).
 *
 * test_image_hostile.c includes this file with IMAGE_FIXTURE_ONLY defined
 * to share the fixture without its tests. */
#include "image/image.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "unit.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

/* Run an image call that must succeed; print its error otherwise. */
#define CHECK_OK(call)                                                                         \
  do                                                                                           \
    {                                                                                          \
      berth_err e_ = NULL;                                                                     \
      berth_err *err_ = &e_;                                                                   \
      (void) err_;                                                                             \
      if ((call) < 0)                                                                          \
        {                                                                                      \
          fprintf (stdout, "  %s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,             \
                   e_ ? e_->msg : "(no message)");                                             \
          fflush (stdout);                                                                     \
          _exit (1);                                                                           \
        }                                                                                      \
    }                                                                                          \
  while (0)

/* ------------------------------------------------------------------ */
/* small helpers                                                       */
/* ------------------------------------------------------------------ */

static char *xasprintf (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
static char *xasprintf (const char *fmt, ...)
{
  va_list ap;
  char *s = NULL;
  va_start (ap, fmt);
  int n = vasprintf (&s, fmt, ap);
  va_end (ap);
  CHECK (n >= 0);
  return s;
}

/* "sha256:<hex>" of a buffer, computed independently of the library. */
static void sha256 (const void *buf, size_t len, char out[72])
{
  unsigned char md[32];
  unsigned int n = 0;
  CHECK (EVP_Digest (buf, len, md, &n, EVP_sha256 (), NULL) == 1 && n == 32);
  strcpy (out, "sha256:");
  for (int i = 0; i < 32; i++)
    sprintf (out + 7 + 2 * i, "%02x", md[i]);
}

static char *slurp (const char *path, size_t *len)
{
  char *buf = NULL;
  size_t n = 0;
  CHECK (berth_read_file (path, 64 << 20, &buf, &n, NULL) == 0);
  if (len)
    *len = n;
  return buf;
}

static void spit (const char *path, const void *buf, size_t len)
{
  CHECK (berth_write_file (path, buf, len, NULL) == 0);
}

static bool exists (const char *path)
{
  struct stat st;
  return lstat (path, &st) == 0;
}

static size_t count_dir (const char *path)
{
  cleanup_dir DIR *d = opendir (path);
  struct dirent *de;
  size_t n = 0;
  CHECK (d != NULL);
  while ((de = readdir (d)) != NULL)
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
      n++;
  return n;
}

/* ------------------------------------------------------------------ */
/* tar building                                                        */
/* ------------------------------------------------------------------ */

/* One archive member.  type: 'f' file, 'd' dir, 'l' symlink, 'h'
 * hardlink, 'c'/'b' device (major:minor in mode's place), 'p' fifo. */
struct ent
{
  const char *name;
  const void *data;
  size_t len;
  char type;
  const char *link;
  mode_t mode;
  int uid, gid;
  time_t mtime;
  int major, minor;
};

#define F(n, d) { .name = (n), .data = (d), .len = strlen (d), .type = 'f' }
#define D(n) { .name = (n), .type = 'd' }
#define L(n, t) { .name = (n), .type = 'l', .link = (t) }
#define H(n, t) { .name = (n), .type = 'h', .link = (t) }

static void tar_entry (struct archive *a, const struct ent *e)
{
  struct archive_entry *ae = archive_entry_new ();
  archive_entry_set_pathname (ae, e->name);
  archive_entry_set_uid (ae, e->uid);
  archive_entry_set_gid (ae, e->gid);
  archive_entry_set_mtime (ae, e->mtime ? e->mtime : 1700000000, 0);
  mode_t type = e->type == 'd' ? AE_IFDIR : e->type == 'l' ? AE_IFLNK : e->type == 'c' ? AE_IFCHR
                : e->type == 'b' ? AE_IFBLK : e->type == 'p' ? AE_IFIFO : AE_IFREG;
  archive_entry_set_filetype (ae, type);
  archive_entry_set_perm (ae, e->mode ? e->mode : (e->type == 'd' ? 0755 : 0644));
  if (e->type == 'l')
    archive_entry_set_symlink (ae, e->link);
  if (e->type == 'h')
    archive_entry_set_hardlink (ae, e->link);
  if (e->type == 'c' || e->type == 'b')
    archive_entry_set_rdev (ae, makedev (e->major, e->minor));
  archive_entry_set_size (ae, e->type == 'f' ? (la_int64_t) e->len : 0);
  CHECK (archive_write_header (a, ae) == ARCHIVE_OK);
  if (e->type == 'f' && e->len)
    CHECK (archive_write_data (a, e->data, e->len) == (la_ssize_t) e->len);
  archive_entry_free (ae);
}

/* Write a tar (FILTER: NULL, "gzip" or "zstd") to PATH. */
static void write_tar (const char *path, const char *filter, const struct ent *ents, size_t n)
{
  struct archive *a = archive_write_new ();
  archive_write_set_format_pax_restricted (a);
  if (filter)
    CHECK (archive_write_add_filter_by_name (a, filter) == ARCHIVE_OK);
  CHECK (archive_write_open_filename (a, path) == ARCHIVE_OK);
  for (size_t i = 0; i < n; i++)
    tar_entry (a, &ents[i]);
  CHECK (archive_write_close (a) == ARCHIVE_OK);
  archive_write_free (a);
}

/* The names in a tar, one per line. */
static char *tar_names (const char *path)
{
  struct archive *a = archive_read_new ();
  struct archive_entry *ae;
  archive_read_support_format_tar (a);
  archive_read_support_filter_all (a);
  CHECK (archive_read_open_filename (a, path, 65536) == ARCHIVE_OK);
  char *names = strdup ("\n");
  while (archive_read_next_header (a, &ae) == ARCHIVE_OK)
    {
      char *n = xasprintf ("%s%s\n", names, archive_entry_pathname (ae));
      free (names);
      names = n;
    }
  archive_read_free (a);
  return names;
}

/* One member of a tar, read into memory. */
static char *tar_member (const char *path, const char *name, size_t *len)
{
  struct archive *a = archive_read_new ();
  struct archive_entry *ae;
  archive_read_support_format_tar (a);
  CHECK (archive_read_open_filename (a, path, 65536) == ARCHIVE_OK);
  char *buf = NULL;
  while (buf == NULL && archive_read_next_header (a, &ae) == ARCHIVE_OK)
    if (strcmp (archive_entry_pathname (ae), name) == 0)
      {
        size_t n = (size_t) archive_entry_size (ae);
        buf = malloc (n + 1);
        CHECK (archive_read_data (a, buf, n) == (la_ssize_t) n);
        buf[n] = '\0';
        *len = n;
      }
  archive_read_free (a);
  CHECK (buf != NULL);
  return buf;
}

/* ------------------------------------------------------------------ */
/* fixture                                                             */
/* ------------------------------------------------------------------ */

struct fx
{
  char dir[64];
  char *root, *outside, *work, *tmp;
  struct image_store *s;
};

static void fx_open_store (struct fx *fx)
{
  CHECK_OK (image_store_open (fx->root, &fx->s, err_));
}

static void fx_init (struct fx *fx)
{
  strcpy (fx->dir, "/tmp/berth-image-XXXXXX");
  CHECK (mkdtemp (fx->dir) != NULL);
  fx->root = xasprintf ("%s/store", fx->dir);
  fx->outside = xasprintf ("%s/outside", fx->dir);
  fx->work = xasprintf ("%s/work", fx->dir);
  fx->tmp = xasprintf ("%s/tmp", fx->root);
  CHECK (mkdir (fx->outside, 0755) == 0 && mkdir (fx->work, 0755) == 0);
  char *marker = xasprintf ("%s/marker", fx->outside);
  spit (marker, "untouched", 9);
  free (marker);
  CHECK (chdir (fx->work) == 0);
  fx_open_store (fx);
}

/* The test runs in a forked child: the folder goes when it ends well, and
 * stays for a look when a CHECK fails. */
static void fx_done (struct fx *fx)
{
  image_store_close (fx->s);
  CHECK (chdir ("/") == 0);
  berth_rm_rf (fx->dir);
}

__attribute__ ((unused)) static char *fx_path (struct fx *fx, const char *rel)
{
  return xasprintf ("%s/%s", fx->work, rel);
}

/* Nothing escaped: outside/ holds only its untouched marker, the test
 * folder holds only what the fixture made, and tmp/ is empty. */
static void check_contained (struct fx *fx)
{
  char *marker = xasprintf ("%s/marker", fx->outside);
  size_t n = 0;
  char *content = slurp (marker, &n);
  CHECK (n == 9 && memcmp (content, "untouched", 9) == 0);
  CHECK (count_dir (fx->outside) == 1);
  CHECK (count_dir (fx->dir) == 3);
  CHECK (count_dir (fx->tmp) == 0);
  CHECK (!exists ("/pwned") && !exists ("/tmp/pwned"));
  free (content);
  free (marker);
}

/* The store holds nothing: no image, no blob, no layer. */
static void check_store_empty (struct fx *fx)
{
  char *blobs = xasprintf ("%s/blobs/sha256", fx->root);
  char *layers = xasprintf ("%s/layers/sha256", fx->root);
  struct image_info **list = NULL;
  size_t n = 0;
  CHECK_OK (image_list (fx->s, &list, &n, err_));
  CHECK (n == 0);
  image_list_free (list, n);
  CHECK (count_dir (blobs) == 0);
  CHECK (count_dir (layers) == 0);
  free (blobs);
  free (layers);
}

/* Load the archive at PATH; returns the lines (the caller frees). */
static char **load_file (struct fx *fx, const char *path)
{
  char **lines = NULL;
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  CHECK (fd >= 0);
  CHECK_OK (image_load (fx->s, fd, &lines, err_));
  CHECK (lines != NULL);
  return lines;
}

/* Load that must fail; returns the message (the caller frees). */
__attribute__ ((unused)) static char *load_fails (struct fx *fx, const char *path)
{
  char **lines = NULL;
  berth_err err = NULL;
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  CHECK (fd >= 0);
  int r = image_load (fx->s, fd, &lines, &err);
  if (r >= 0)
    {
      fprintf (stdout, "  load of %s succeeded, expected a failure\n", path);
      fflush (stdout);
      _exit (1);
    }
  CHECK (err != NULL && err->msg != NULL);
  char *msg = strdup (err->msg);
  berth_error_free (&err);
  return msg;
}

/* Stream FILE into the store through a pipe (no seeking possible). */
static char **load_pipe (struct fx *fx, const char *path)
{
  int p[2];
  CHECK (pipe (p) == 0);
  pid_t pid = fork ();
  CHECK (pid >= 0);
  if (pid == 0)
    {
      close (p[0]);
      size_t n = 0;
      char *buf = slurp (path, &n);
      _exit (berth_write_all (p[1], buf, n) == 0 ? 0 : 1);
    }
  close (p[1]);
  char **lines = NULL;
  berth_err err = NULL;
  int r = image_load (fx->s, p[0], &lines, &err);
  if (r < 0)
    printf ("  load from a pipe: %s\n", err ? err->msg : "?");
  close (p[0]);
  int st = 0;
  waitpid (pid, &st, 0);
  CHECK (r == 0);
  return lines;
}

static void free_strv (char **v)
{
  cleanup_strvp (&v);
}

static char *join_lines (char **v)
{
  char *out = strdup ("");
  for (size_t i = 0; v && v[i]; i++)
    {
      char *n = xasprintf ("%s%s\n", out, v[i]);
      free (out);
      out = n;
    }
  return out;
}

/* ------------------------------------------------------------------ */
/* a test image: two layers, built from the entries below              */
/* ------------------------------------------------------------------ */

/* Layer 1: a tiny root file system. */
static const struct ent layer1_ents[] = {
  D ("bin"),
  { .name = "bin/hello", .data = "#!/bin/sh\necho hello\n", .len = 21, .type = 'f', .mode = 0755, .uid = 1000,
    .gid = 1001, .mtime = 1234567890 },
  L ("bin/sh", "hello"),
  L ("lib", "/usr/lib"),
  D ("etc"),
  F ("etc/passwd", "root:x:0:0::/root:/bin/sh\n"),
  F ("gone", "bye"),
  D ("opq"),
  F ("opq/old", "old"),
  D ("run"),
  { .name = "run/fifo", .type = 'p', .mode = 0600 },
};

/* Layer 2: a whiteout, an opaque folder, a hardlink. */
static const struct ent layer2_ents[] = {
  F (".wh.gone", ""),
  D ("opq"),
  F ("opq/.wh..wh..opq", ""),
  F ("opq/new", "new"),
  D ("bin"),
  F ("bin/a", "aaaa"),
  H ("bin/b", "bin/a"),
};

struct test_image
{
  char *l1, *l2, *config;       /* layer1 tar, layer2 tar.gz, config JSON */
  size_t l1_len, l2_len, config_len;
  char d1[72], d2[72];          /* diff ids */
  char b2[72];                  /* digest of the gzip blob */
  char id[72];                  /* config digest = image id */
};

static const char *config_fmt
    = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-01-02T03:04:05.123456789Z\","
      "\"author\":\"%s\",\"config\":{\"Cmd\":[\"/bin/hello\"]},"
      "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\",\"%s\"]},"
      "\"history\":[{\"created\":\"2024-01-01T00:00:00Z\",\"created_by\":\"ADD rootfs /\"},"
      "{\"created\":\"2024-01-01T00:00:01Z\",\"created_by\":\"ENV X=1\",\"empty_layer\":true},"
      "{\"created\":\"2024-01-02T03:04:05Z\",\"created_by\":\"RUN change\",\"comment\":\"c\"}]}";

static void set_config (struct test_image *ti, const char *author, const char *d1, const char *d2)
{
  free (ti->config);
  ti->config = xasprintf (config_fmt, author, d1, d2);
  ti->config_len = strlen (ti->config);
  sha256 (ti->config, ti->config_len, ti->id);
}

static void make_test_image (struct test_image *ti)
{
  char plain2[72];
  memset (ti, 0, sizeof *ti);
  write_tar ("layer1.tar", NULL, layer1_ents, sizeof layer1_ents / sizeof layer1_ents[0]);
  write_tar ("layer2.tar", NULL, layer2_ents, sizeof layer2_ents / sizeof layer2_ents[0]);
  write_tar ("layer2.tar.gz", "gzip", layer2_ents, sizeof layer2_ents / sizeof layer2_ents[0]);
  size_t p2_len = 0;
  ti->l1 = slurp ("layer1.tar", &ti->l1_len);
  char *p2 = slurp ("layer2.tar", &p2_len);
  ti->l2 = slurp ("layer2.tar.gz", &ti->l2_len);
  sha256 (ti->l1, ti->l1_len, ti->d1);
  sha256 (p2, p2_len, plain2);
  strcpy (ti->d2, plain2);
  sha256 (ti->l2, ti->l2_len, ti->b2);
  free (p2);
  set_config (ti, "test", ti->d1, ti->d2);
}

static void free_test_image (struct test_image *ti)
{
  free (ti->l1);
  free (ti->l2);
  free (ti->config);
}

/* A docker-archive as Docker < 25 writes it. */
static void write_docker_archive (const char *path, struct test_image *ti, const char *repo_tags)
{
  char *config_name = xasprintf ("%s.json", ti->id + 7);
  char *manifest = xasprintf ("[{\"Config\":\"%s\",\"RepoTags\":%s,\"Layers\":[\"l1/layer.tar\",\"l2/layer.tar\"]}]",
                              config_name, repo_tags);
  struct ent ents[] = {
    D ("l1"),
    F ("l1/VERSION", "1.0"),
    { .name = "l1/layer.tar", .data = ti->l1, .len = ti->l1_len, .type = 'f' },
    D ("l2"),
    { .name = "l2/layer.tar", .data = ti->l2, .len = ti->l2_len, .type = 'f' },
    { .name = config_name, .data = ti->config, .len = ti->config_len, .type = 'f' },
    F ("manifest.json", manifest),
    F ("repositories", "{}"),
  };
  write_tar (path, NULL, ents, sizeof ents / sizeof ents[0]);
  free (config_name);
  free (manifest);
}

/* Load the test image tagged busybox:latest and example.com:5000/x/y:1. */
static void load_test_image (struct fx *fx, struct test_image *ti)
{
  make_test_image (ti);
  write_docker_archive ("image.tar", ti, "[\"busybox:latest\",\"example.com:5000/x/y:1\"]");
  free_strv (load_file (fx, "image.tar"));
}

#ifndef IMAGE_FIXTURE_ONLY

/* ------------------------------------------------------------------ */
/* references                                                          */
/* ------------------------------------------------------------------ */

static const char *hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST (ref_parse_good)
{
  struct
  {
    const char *in, *name, *tag, *digest, *familiar;
  } cases[] = {
    { "busybox", "docker.io/library/busybox", "latest", NULL, "busybox:latest" },
    { "busybox:1.36", "docker.io/library/busybox", "1.36", NULL, "busybox:1.36" },
    { "library/busybox", "docker.io/library/busybox", "latest", NULL, "busybox:latest" },
    { "docker.io/busybox", "docker.io/library/busybox", "latest", NULL, "busybox:latest" },
    { "index.docker.io/library/busybox:x", "docker.io/library/busybox", "x", NULL, "busybox:x" },
    { "user/repo", "docker.io/user/repo", "latest", NULL, "user/repo:latest" },
    { "docker.io/user/repo:v_1.0-rc", "docker.io/user/repo", "v_1.0-rc", NULL, "user/repo:v_1.0-rc" },
    { "example.com/x/y:1", "example.com/x/y", "1", NULL, "example.com/x/y:1" },
    { "example.com:5000/x/y:1", "example.com:5000/x/y", "1", NULL, "example.com:5000/x/y:1" },
    { "localhost/foo", "localhost/foo", "latest", NULL, "localhost/foo:latest" },
    { "localhost:5000/foo", "localhost:5000/foo", "latest", NULL, "localhost:5000/foo:latest" },
    { "Registry.Example/foo", "Registry.Example/foo", "latest", NULL, "Registry.Example/foo:latest" },
    { "[::1]:5000/foo:bar", "[::1]:5000/foo", "bar", NULL, "[::1]:5000/foo:bar" },
    { "a__b/c-d/e--f/g.h", "docker.io/a__b/c-d/e--f/g.h", "latest", NULL, "a__b/c-d/e--f/g.h:latest" },
    { "x:_Tag", "docker.io/library/x", "_Tag", NULL, "x:_Tag" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      struct image_ref r;
      CHECK_OK (image_ref_parse (cases[i].in, &r, err_));
      CHECK_STR (r.name, cases[i].name);
      CHECK_STR (r.tag, cases[i].tag);
      CHECK (r.digest == NULL);
      char *f = image_ref_familiar (&r);
      CHECK_STR (f, cases[i].familiar);
      free (f);
      image_ref_free (&r);
    }
}

TEST (ref_parse_digest)
{
  struct image_ref r;
  char *in = xasprintf ("busybox@sha256:%s", hex64);
  CHECK_OK (image_ref_parse (in, &r, err_));
  CHECK_STR (r.name, "docker.io/library/busybox");
  CHECK (r.tag == NULL);
  CHECK (r.digest && strcmp (r.digest + 7, hex64) == 0);
  char *f = image_ref_familiar (&r);
  CHECK_STR (f, in);
  free (f);
  image_ref_free (&r);
  free (in);

  in = xasprintf ("example.com:5000/x:1@sha256:%s", hex64);
  CHECK_OK (image_ref_parse (in, &r, err_));
  CHECK_STR (r.name, "example.com:5000/x");
  CHECK_STR (r.tag, "1");
  CHECK (r.digest != NULL);
  f = image_ref_familiar (&r);
  CHECK_STR (f, in);
  free (f);
  image_ref_free (&r);
  free (in);
}

TEST (ref_parse_bad)
{
  char *long_tag = xasprintf ("x:%0129d", 0);
  char *long_name = xasprintf ("example.com/%0250d", 0);
  char *bare_hex = strdup (hex64);
  char *short_digest = strdup ("busybox@sha256:0123");
  char *md5 = xasprintf ("busybox@md5:%s", hex64);
  char *upper_digest = xasprintf ("busybox@sha256:%.63sA", hex64);
  struct
  {
    const char *in, *msg;
  } cases[] = {
    { "", "at least one component" },
    { "Busybox", "must be lowercase" },
    { "library/Busybox", "repository name (library/Busybox) must be lowercase" },
    { "busybox:", "invalid reference format" },
    { ":tag", "invalid reference format" },
    { "busybox::a", "invalid reference format" },
    { "a/", "invalid reference format" },
    { "/a", "invalid reference format" },
    { "a//b", "invalid reference format" },
    { "-a", "invalid reference format" },
    { "a-", "invalid reference format" },
    { "a..b", "invalid reference format" },
    { "a___b", "invalid reference format" },
    { "a b", "invalid reference format" },
    { "busybox:-tag", "invalid reference format" },
    { "busybox:ta/g", "invalid reference format" },
    { "exa_mple.com/x", "invalid reference format" },
    { "example.com:/x", "invalid reference format" },
    { "example.com:50a/x", "invalid reference format" },
    { "a@b@c", "invalid reference format" },
    { long_tag, "invalid reference format" },
    { long_name, "255 characters" },
    { bare_hex, "64-byte hexadecimal" },
    { short_digest, "digest" },
    { md5, "digest" },
    { upper_digest, "digest" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      struct image_ref r;
      berth_err err = NULL;
      int ret = image_ref_parse (cases[i].in, &r, &err);
      if (ret >= 0)
        printf ("  \"%s\" parsed\n", cases[i].in);
      CHECK (ret < 0 && err != NULL);
      CHECK_CONTAINS (err->msg, cases[i].msg);
      berth_error_free (&err);
    }
  free (long_tag);
  free (long_name);
  free (bare_hex);
  free (short_digest);
  free (md5);
  free (upper_digest);
}

TEST (ref_familiar)
{
  struct image_ref r = { .name = "docker.io/library/a/b", .tag = "t" };
  char *f = image_ref_familiar (&r);
  CHECK_STR (f, "library/a/b:t"); /* only one-component official names drop library/ */
  free (f);
  struct image_ref r2 = { .name = "docker.io/u/x", .tag = "latest" };
  f = image_ref_familiar (&r2);
  CHECK_STR (f, "u/x:latest");
  free (f);
  struct image_ref r3 = { .name = "docker.iox/library/x", .tag = "latest" };
  f = image_ref_familiar (&r3);
  CHECK_STR (f, "docker.iox/library/x:latest");
  free (f);
}

/* ------------------------------------------------------------------ */
/* load, lookup, layers                                                */
/* ------------------------------------------------------------------ */

TEST (load_docker_archive)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  make_test_image (&ti);
  write_docker_archive ("image.tar", &ti, "[\"busybox:latest\",\"example.com:5000/x/y:1\"]");
  char **lines = load_pipe (&fx, "image.tar");
  char *all = join_lines (lines);
  CHECK_STR (all, "Loaded image: busybox:latest\nLoaded image: example.com:5000/x/y:1\n");
  free (all);
  free_strv (lines);

  struct image_info **list = NULL;
  size_t n = 0;
  CHECK_OK (image_list (fx.s, &list, &n, err_));
  CHECK (n == 1);
  CHECK_STR (list[0]->id, ti.id);
  CHECK_STR (list[0]->repo_tags[0], "busybox:latest");
  CHECK_STR (list[0]->repo_tags[1], "example.com:5000/x/y:1");
  CHECK (list[0]->repo_tags[2] == NULL);
  CHECK (list[0]->repo_digests[0] && list[0]->repo_digests[1] && !list[0]->repo_digests[2]);
  CHECK (strncmp (list[0]->repo_digests[0], "busybox@sha256:", 15) == 0);
  CHECK_STR (list[0]->diff_ids[0], ti.d1);
  CHECK_STR (list[0]->diff_ids[1], ti.d2);
  CHECK (list[0]->diff_ids[2] == NULL);
  CHECK (list[0]->created == 1704164645);
  /* file contents + symlink targets: 21+5+8+26+3+3 (layer 1) + 3+4 (layer 2) */
  CHECK (list[0]->size == 21 + 5 + 8 + 26 + 3 + 3 + 3 + 4);
  CHECK_STR (json_string_value (json_array_get (berth_json_path (list[0]->config, "config.Cmd"), 0)), "/bin/hello");
  image_list_free (list, n);
  check_contained (&fx);
  free_test_image (&ti);
  fx_done (&fx);
}

static void check_lookup (struct fx *fx, const char *what, const char *id)
{
  struct image_info *info = NULL;
  berth_err err = NULL;
  if (image_lookup (fx->s, what, &info, &err) < 0)
    printf ("  lookup %s: %s\n", what, err->msg);
  CHECK (info != NULL);
  CHECK_STR (info->id, id);
  image_info_free (info);
}

static void check_no_image (struct fx *fx, const char *what, const char *msg)
{
  struct image_info *info = NULL;
  berth_err err = NULL;
  int r = image_lookup (fx->s, what, &info, &err);
  CHECK (r < 0 && info == NULL && err != NULL);
  if (strcmp (msg, "No such image") == 0)
    {
      char *want = xasprintf ("No such image: %s", what);
      CHECK (r == -ENOENT);
      CHECK_STR (err->msg, want);
      free (want);
    }
  else
    CHECK_CONTAINS (err->msg, msg);
  berth_error_free (&err);
}

TEST (lookup)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  load_test_image (&fx, &ti);
  struct image_info *info = NULL;
  CHECK_OK (image_lookup (fx.s, "busybox", &info, err_));
  char *by_digest = strdup (info->repo_digests[0]);
  char *by_full_digest = xasprintf ("docker.io/library/%s", info->repo_digests[0]);
  image_info_free (info);
  char *short12 = strndup (ti.id + 7, 12);
  char *short4 = xasprintf ("sha256:%.4s", ti.id + 7);

  const char *ok[] = { "busybox", "busybox:latest", "docker.io/library/busybox:latest", "library/busybox",
                       "example.com:5000/x/y:1", ti.id, ti.id + 7, short12, short4, by_digest, by_full_digest };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    check_lookup (&fx, ok[i], ti.id);

  check_no_image (&fx, "busybox:nope", "No such image");
  check_no_image (&fx, "example.com:5000/x/y", "No such image");
  check_no_image (&fx, "sha256:0000000000000000000000000000000000000000000000000000000000000000", "No such image");
  check_no_image (&fx, "abc", "No such image"); /* too short for an id prefix */
  char *other_digest = xasprintf ("busybox@sha256:%s", hex64);
  check_no_image (&fx, other_digest, "No such image");
  check_no_image (&fx, "Busybox", "must be lowercase");
  free (other_digest);
  free (by_digest);
  free (by_full_digest);
  free (short12);
  free (short4);
  free_test_image (&ti);
  fx_done (&fx);
}

static void check_file (const char *dir, const char *rel, const char *content, mode_t mode)
{
  char *p = xasprintf ("%s/%s", dir, rel);
  struct stat st;
  size_t n = 0;
  CHECK (lstat (p, &st) == 0 && S_ISREG (st.st_mode));
  CHECK ((st.st_mode & 07777) == mode);
  char *c = slurp (p, &n);
  CHECK (n == strlen (content) && memcmp (c, content, n) == 0);
  free (c);
  free (p);
}

static void check_whiteout (const char *dir, const char *rel)
{
  char *p = xasprintf ("%s/%s", dir, rel);
  struct stat st;
  CHECK (lstat (p, &st) == 0 && S_ISCHR (st.st_mode) && st.st_rdev == makedev (0, 0));
  free (p);
}

static bool opaque (const char *dir, const char *rel)
{
  char *p = xasprintf ("%s/%s", dir, rel);
  char v[8] = "";
  ssize_t n = lgetxattr (p, "trusted.overlay.opaque", v, sizeof v);
  free (p);
  return n == 1 && v[0] == 'y';
}

TEST (layer_dirs)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  load_test_image (&fx, &ti);
  char **dirs = NULL;
  CHECK_OK (image_layer_dirs (fx.s, ti.id, &dirs, err_));
  char *want2 = xasprintf ("%s/layers/sha256/%s/diff", fx.root, ti.d2 + 7);
  char *want1 = xasprintf ("%s/layers/sha256/%s/diff", fx.root, ti.d1 + 7);
  CHECK (dirs[0] && dirs[1] && dirs[2] == NULL);
  CHECK_STR (dirs[0], want2); /* top first */
  CHECK_STR (dirs[1], want1);

  /* layer 1: files with their modes, owners, times; symlinks intact; fifo */
  check_file (dirs[1], "bin/hello", "#!/bin/sh\necho hello\n", 0755);
  check_file (dirs[1], "etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0644);
  struct stat st;
  char *p = xasprintf ("%s/bin/hello", dirs[1]);
  CHECK (lstat (p, &st) == 0 && st.st_uid == 1000 && st.st_gid == 1001 && st.st_mtime == 1234567890);
  free (p);
  char buf[64] = "";
  p = xasprintf ("%s/bin/sh", dirs[1]);
  CHECK (readlink (p, buf, sizeof buf) == 5 && memcmp (buf, "hello", 5) == 0);
  free (p);
  p = xasprintf ("%s/lib", dirs[1]);
  memset (buf, 0, sizeof buf);
  CHECK (readlink (p, buf, sizeof buf) == 8 && strcmp (buf, "/usr/lib") == 0);
  free (p);
  p = xasprintf ("%s/run/fifo", dirs[1]);
  CHECK (lstat (p, &st) == 0 && S_ISFIFO (st.st_mode) && (st.st_mode & 0777) == 0600);
  free (p);
  CHECK (!opaque (dirs[1], "opq"));

  /* layer 2: overlayfs whiteouts, opaque folder, hardlink */
  check_whiteout (dirs[0], "gone");
  p = xasprintf ("%s/.wh.gone", dirs[0]);
  CHECK (!exists (p));
  free (p);
  CHECK (opaque (dirs[0], "opq"));
  p = xasprintf ("%s/opq/.wh..wh..opq", dirs[0]);
  CHECK (!exists (p));
  free (p);
  check_file (dirs[0], "opq/new", "new", 0644);
  p = xasprintf ("%s/bin/b", dirs[0]);
  CHECK (lstat (p, &st) == 0 && st.st_nlink == 2);
  free (p);

  /* layer.json records the unpacked size */
  char *meta = xasprintf ("%s/layers/sha256/%s/layer.json", fx.root, ti.d2 + 7);
  json_t *j = berth_json_load_file (meta, NULL);
  CHECK (j && berth_json_int (j, "size", -1) == 7);
  json_decref (j);
  free (meta);

  /* the blobs are stored as given: the gzip layer stays gzip */
  char *blob = xasprintf ("%s/blobs/sha256/%s", fx.root, ti.b2 + 7);
  size_t n = 0;
  char *c = slurp (blob, &n);
  CHECK (n == ti.l2_len && memcmp (c, ti.l2, n) == 0);
  free (c);
  free (blob);

  free_strv (dirs);
  free (want1);
  free (want2);
  free_test_image (&ti);
  fx_done (&fx);
}

/* Docker < 25 saves a repeated layer as a symlink to the first copy. */
TEST (load_repeated_layer_symlink)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  make_test_image (&ti);
  set_config (&ti, "repeat", ti.d1, ti.d1);
  char *config_name = xasprintf ("%s.json", ti.id + 7);
  char *manifest = xasprintf ("[{\"Config\":\"%s\",\"RepoTags\":[\"rep:1\"],"
                              "\"Layers\":[\"aaa/layer.tar\",\"bbb/layer.tar\"]}]",
                              config_name);
  struct ent ents[] = {
    { .name = "aaa/layer.tar", .data = ti.l1, .len = ti.l1_len, .type = 'f' },
    L ("bbb/layer.tar", "../aaa/layer.tar"),
    { .name = config_name, .data = ti.config, .len = ti.config_len, .type = 'f' },
    F ("manifest.json", manifest),
  };
  write_tar ("rep.tar", NULL, ents, sizeof ents / sizeof ents[0]);
  char **lines = load_file (&fx, "rep.tar");
  CHECK_STR (lines[0], "Loaded image: rep:1");
  free_strv (lines);
  char **dirs = NULL;
  CHECK_OK (image_layer_dirs (fx.s, "rep:1", &dirs, err_));
  CHECK (dirs[0] != NULL && dirs[1] == NULL); /* overlayfs wants each folder once */
  free_strv (dirs);
  check_contained (&fx);
  free (config_name);
  free (manifest);
  free_test_image (&ti);
  fx_done (&fx);
}

TEST (store_reopen)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  load_test_image (&fx, &ti);
  image_store_close (fx.s);
  /* what a crash leaves in tmp/ goes at the next open */
  char *junk = xasprintf ("%s/load-junk", fx.tmp);
  CHECK (mkdir (junk, 0700) == 0);
  char *junk_file = xasprintf ("%s/x", junk);
  spit (junk_file, "x", 1);
  fx_open_store (&fx);
  CHECK (count_dir (fx.tmp) == 0);
  check_lookup (&fx, "busybox", ti.id);
  int64_t usage = 0;
  CHECK_OK (image_store_usage (fx.s, &usage, err_));
  CHECK (usage >= (int64_t) (ti.l1_len + ti.l2_len + ti.config_len) + 40);
  free (junk);
  free (junk_file);
  free_test_image (&ti);
  fx_done (&fx);
}

/* ------------------------------------------------------------------ */
/* tag, remove, prune, history                                         */
/* ------------------------------------------------------------------ */

static char *report_str (json_t *report)
{
  char *s = json_dumps (report, JSON_COMPACT);
  CHECK (s != NULL);
  json_decref (report);
  return s;
}

static bool always_used (const char *id, void *opaque)
{
  return opaque == NULL || strcmp (id, opaque) == 0;
}

static char *remove_fails (struct fx *fx, const char *what, bool force, void *used_id, int want)
{
  json_t *report = NULL;
  berth_err err = NULL;
  int r = image_remove (fx->s, what, force, used_id ? always_used : NULL, used_id, &report, &err);
  CHECK (r == want && report == NULL && err != NULL);
  char *msg = strdup (err->msg);
  berth_error_free (&err);
  return msg;
}

TEST (tag_and_remove)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  load_test_image (&fx, &ti);
  char short_id[13];
  snprintf (short_id, sizeof short_id, "%.12s", ti.id + 7);

  CHECK_OK (image_tag (fx.s, "busybox", "mine:v1", err_));
  CHECK_OK (image_tag (fx.s, short_id, "docker.io/library/mine:v2", err_));
  check_lookup (&fx, "mine:v1", ti.id);
  check_lookup (&fx, "mine:v2", ti.id);
  berth_err err = NULL;
  char *digest_target = xasprintf ("mine@sha256:%s", hex64);
  CHECK (image_tag (fx.s, "busybox", digest_target, &err) < 0);
  berth_error_free (&err);
  CHECK (image_tag (fx.s, "nope", "x:y", &err) == -ENOENT);
  berth_error_free (&err);
  free (digest_target);

  json_t *report = NULL;
  CHECK_OK (image_remove (fx.s, "mine:v1", false, NULL, NULL, &report, err_));
  char *s = report_str (report);
  CHECK_STR (s, "[{\"Untagged\":\"mine:v1\"}]");
  free (s);

  /* by id, with tags in several repositories: refused without force */
  char *msg = remove_fails (&fx, ti.id, false, NULL, -EBUSY);
  char *want = xasprintf ("conflict: unable to delete %s (must be forced) - image is referenced in multiple "
                          "repositories",
                          short_id);
  CHECK_STR (msg, want);
  free (msg);
  free (want);

  /* the last tag of a repository takes its digest reference along */
  CHECK_OK (image_remove (fx.s, "example.com:5000/x/y:1", false, NULL, NULL, &report, err_));
  s = report_str (report);
  CHECK_CONTAINS (s, "{\"Untagged\":\"example.com:5000/x/y:1\"},{\"Untagged\":\"example.com:5000/x/y@sha256:");
  free (s);
  CHECK_OK (image_remove (fx.s, "mine:v2", false, NULL, NULL, &report, err_));
  json_decref (report);

  /* the last reference, with a container using the image */
  msg = remove_fails (&fx, "busybox", false, ti.id, -EBUSY);
  CHECK_CONTAINS (msg, "conflict: unable to remove repository reference \"busybox\" (must force)");
  free (msg);
  msg = remove_fails (&fx, short_id, false, ti.id, -EBUSY);
  want = xasprintf ("conflict: unable to delete %s (must be forced) - image is being used by a container", short_id);
  CHECK_STR (msg, want);
  free (msg);
  free (want);
  check_lookup (&fx, "busybox", ti.id);

  /* the last reference without a container: untag and delete it all */
  CHECK_OK (image_remove (fx.s, "busybox:latest", false, NULL, NULL, &report, err_));
  s = report_str (report);
  want = xasprintf ("[{\"Untagged\":\"busybox:latest\"},{\"Untagged\":\"busybox@sha256:");
  CHECK (strncmp (s, want, strlen (want)) == 0);
  free (want);
  want = xasprintf ("{\"Deleted\":\"%s\"},{\"Deleted\":\"%s\"},{\"Deleted\":\"%s\"}]", ti.id, ti.d1, ti.d2);
  CHECK_CONTAINS (s, want);
  free (want);
  free (s);
  check_store_empty (&fx);
  check_no_image (&fx, "busybox", "No such image");
  free_test_image (&ti);
  fx_done (&fx);
}

/* Force-deleting an image a container uses hides it, keeps its layers
 * for the container, and prune reclaims it once it is unused. */
TEST (remove_force_in_use)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  load_test_image (&fx, &ti);
  json_t *report = NULL;
  CHECK_OK (image_remove (fx.s, ti.id, true, always_used, ti.id, &report, err_));
  char *s = report_str (report);
  char *want = xasprintf ("[{\"Untagged\":\"busybox:latest\"},{\"Untagged\":\"busybox@sha256:");
  CHECK (strncmp (s, want, strlen (want)) == 0);
  free (want);
  want = xasprintf ("{\"Deleted\":\"%s\"}]", ti.id);
  CHECK_CONTAINS (s, want);
  free (want);
  free (s);
  check_no_image (&fx, ti.id, "No such image");
  struct image_info **list = NULL;
  size_t n = 0;
  CHECK_OK (image_list (fx.s, &list, &n, err_));
  CHECK (n == 0);
  image_list_free (list, n);
  char **dirs = NULL;
  CHECK_OK (image_layer_dirs (fx.s, ti.id, &dirs, err_));
  CHECK (dirs[0] && exists (dirs[0]) && dirs[1] && exists (dirs[1]));
  free_strv (dirs);

  /* still used: prune keeps it */
  CHECK_OK (image_prune (fx.s, true, 0, always_used, ti.id, &report, err_));
  CHECK (json_integer_value (json_object_get (report, "SpaceReclaimed")) == 0);
  json_decref (report);
  CHECK_OK (image_layer_dirs (fx.s, ti.id, &dirs, err_));
  free_strv (dirs);
  /* unused: gone */
  CHECK_OK (image_prune (fx.s, false, 0, NULL, NULL, &report, err_));
  CHECK (json_integer_value (json_object_get (report, "SpaceReclaimed")) > 0);
  json_decref (report);
  check_store_empty (&fx);
  free_test_image (&ti);
  fx_done (&fx);
}

TEST (prune)
{
  struct fx fx;
  struct test_image a, b, c;
  fx_init (&fx);
  make_test_image (&a);
  make_test_image (&b);
  make_test_image (&c);
  set_config (&b, "dangling", b.d1, b.d2);
  set_config (&c, "used", c.d1, c.d2);
  write_docker_archive ("a.tar", &a, "[\"keep:1\"]");
  write_docker_archive ("b.tar", &b, "null");
  write_docker_archive ("c.tar", &c, "[]");
  free_strv (load_file (&fx, "a.tar"));
  char **lines = load_file (&fx, "b.tar");
  char *want = xasprintf ("Loaded image ID: %s", b.id);
  CHECK_STR (lines[0], want);
  CHECK (lines[1] == NULL);
  free (want);
  free_strv (lines);
  free_strv (load_file (&fx, "c.tar"));

  /* dangling only, c is used by a container */
  json_t *report = NULL;
  CHECK_OK (image_prune (fx.s, false, 0, always_used, c.id, &report, err_));
  char *s = json_dumps (json_object_get (report, "ImagesDeleted"), JSON_COMPACT);
  want = xasprintf ("[{\"Deleted\":\"%s\"}]", b.id);
  CHECK_STR (s, want);
  /* its config and manifest blobs; the layers are shared with a and c */
  CHECK (json_integer_value (json_object_get (report, "SpaceReclaimed")) > (json_int_t) b.config_len);
  free (want);
  free (s);
  json_decref (report);
  check_no_image (&fx, b.id, "No such image");
  check_lookup (&fx, "keep:1", a.id);
  check_lookup (&fx, c.id, c.id);

  /* all unused: a goes (with its tag), c stays */
  CHECK_OK (image_prune (fx.s, true, 0, always_used, c.id, &report, err_));
  s = json_dumps (json_object_get (report, "ImagesDeleted"), JSON_COMPACT);
  want = xasprintf ("[{\"Untagged\":\"keep:1\"},{\"Untagged\":\"keep@sha256:");
  CHECK (strncmp (s, want, strlen (want)) == 0);
  free (want);
  want = xasprintf ("{\"Deleted\":\"%s\"}]", a.id);
  CHECK_CONTAINS (s, want);
  free (want);
  free (s);
  json_decref (report);
  check_lookup (&fx, c.id, c.id);
  char **dirs = NULL;
  CHECK_OK (image_layer_dirs (fx.s, c.id, &dirs, err_));
  CHECK (exists (dirs[0]) && exists (dirs[1]));
  free_strv (dirs);

  CHECK_OK (image_prune (fx.s, true, 0, NULL, NULL, &report, err_));
  json_decref (report);
  check_store_empty (&fx);
  free_test_image (&a);
  free_test_image (&b);
  free_test_image (&c);
  fx_done (&fx);
}

/* Loading twice changes nothing; a tag that moves says so, as in Docker. */
TEST (load_again_and_retag)
{
  struct fx fx;
  struct test_image a, b;
  fx_init (&fx);
  load_test_image (&fx, &a);
  char **lines = load_file (&fx, "image.tar");
  char *all = join_lines (lines);
  CHECK_STR (all, "Loaded image: busybox:latest\nLoaded image: example.com:5000/x/y:1\n");
  free (all);
  free_strv (lines);
  CHECK (count_dir (fx.tmp) == 0);

  make_test_image (&b);
  set_config (&b, "newer", b.d1, b.d2);
  write_docker_archive ("b.tar", &b, "[\"busybox\"]");
  lines = load_file (&fx, "b.tar");
  char *want = xasprintf ("The image busybox:latest already exists, renaming the old one with ID %s to empty "
                          "string\nLoaded image: busybox:latest\n",
                          a.id);
  all = join_lines (lines);
  CHECK_STR (all, want);
  free (want);
  free (all);
  free_strv (lines);
  check_lookup (&fx, "busybox", b.id);
  check_lookup (&fx, "example.com:5000/x/y:1", a.id);
  struct image_info **list = NULL;
  size_t n = 0;
  CHECK_OK (image_list (fx.s, &list, &n, err_));
  CHECK (n == 2);
  image_list_free (list, n);
  check_contained (&fx);
  free_test_image (&a);
  free_test_image (&b);
  fx_done (&fx);
}

TEST (history)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  load_test_image (&fx, &ti);
  json_t *h = NULL;
  CHECK_OK (image_history (fx.s, "busybox", &h, err_));
  CHECK (json_array_size (h) == 3);
  json_t *top = json_array_get (h, 0), *mid = json_array_get (h, 1), *bottom = json_array_get (h, 2);
  CHECK_STR (berth_json_str (top, "Id"), ti.id);
  CHECK_STR (berth_json_str (top, "CreatedBy"), "RUN change");
  CHECK_STR (berth_json_str (top, "Comment"), "c");
  CHECK (berth_json_int (top, "Created", 0) == 1704164645);
  CHECK (berth_json_int (top, "Size", -1) == 7);
  json_t *tags = json_object_get (top, "Tags");
  CHECK (json_array_size (tags) == 2);
  CHECK_STR (json_string_value (json_array_get (tags, 0)), "busybox:latest");
  CHECK_STR (berth_json_str (mid, "Id"), "<missing>");
  CHECK_STR (berth_json_str (mid, "CreatedBy"), "ENV X=1");
  CHECK (berth_json_int (mid, "Size", -1) == 0);
  CHECK (json_is_null (json_object_get (mid, "Tags")));
  CHECK_STR (berth_json_str (bottom, "Id"), "<missing>");
  CHECK (berth_json_int (bottom, "Size", -1) == 21 + 5 + 8 + 26 + 3 + 3);
  CHECK (berth_json_int (bottom, "Created", 0) == 1704067200);
  json_decref (h);
  free_test_image (&ti);
  fx_done (&fx);
}

/* ------------------------------------------------------------------ */
/* save                                                                */
/* ------------------------------------------------------------------ */

static void save_to (struct fx *fx, const char *const *names, const char *path)
{
  cleanup_close int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  CHECK (fd >= 0);
  CHECK_OK (image_save (fx->s, names, fd, err_));
}

TEST (save_and_load_roundtrip)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  load_test_image (&fx, &ti);
  struct image_info *before = NULL;
  CHECK_OK (image_lookup (fx.s, "busybox", &before, err_));

  const char *names[] = { "busybox", NULL };
  save_to (&fx, names, "saved.tar");
  char *members = tar_names ("saved.tar");
  char *config_member = xasprintf ("\nblobs/sha256/%s\n", ti.id + 7);
  char *layer1_member = xasprintf ("\nblobs/sha256/%s\n", ti.d1 + 7);
  char *layer2_member = xasprintf ("\nblobs/sha256/%s\n", ti.b2 + 7);
  CHECK_CONTAINS (members, "\nmanifest.json\n");
  CHECK_CONTAINS (members, "\nindex.json\n");
  CHECK_CONTAINS (members, "\noci-layout\n");
  CHECK_CONTAINS (members, "\nrepositories\n");
  CHECK_CONTAINS (members, config_member);
  CHECK_CONTAINS (members, layer1_member);
  CHECK_CONTAINS (members, layer2_member);
  size_t n = 0;
  char *m = tar_member ("saved.tar", "manifest.json", &n);
  char *want = xasprintf ("[{\"Config\":\"blobs/sha256/%s\",\"RepoTags\":[\"busybox:latest\"],\"Layers\":"
                          "[\"blobs/sha256/%s\",\"blobs/sha256/%s\"]}]",
                          ti.id + 7, ti.d1 + 7, ti.b2 + 7);
  CHECK_STR (m, want);
  free (m);
  free (want);
  m = tar_member ("saved.tar", "index.json", &n);
  CHECK_CONTAINS (m, "\"io.containerd.image.name\":\"docker.io/library/busybox:latest\"");
  CHECK_CONTAINS (m, "\"org.opencontainers.image.ref.name\":\"latest\"");
  CHECK_CONTAINS (m, strchr (before->repo_digests[0], '@') + 1);
  free (m);
  m = tar_member ("saved.tar", "oci-layout", &n);
  CHECK_STR (m, "{\"imageLayoutVersion\":\"1.0.0\"}");
  free (m);

  /* into a second store: same id, same repo digest */
  image_store_close (fx.s);
  free (fx.root);
  fx.root = xasprintf ("%s/store/second", fx.dir);
  fx_open_store (&fx);
  char **lines = load_pipe (&fx, "saved.tar");
  CHECK_STR (lines[0], "Loaded image: busybox:latest");
  CHECK (lines[1] == NULL);
  free_strv (lines);
  struct image_info *after = NULL;
  CHECK_OK (image_lookup (fx.s, "busybox", &after, err_));
  CHECK_STR (after->id, ti.id);
  CHECK_STR (after->repo_digests[0], before->repo_digests[0]);
  CHECK (after->size == before->size);
  image_info_free (after);
  image_info_free (before);

  /* by id: no tags in manifest.json, an index entry without a name */
  const char *by_id[] = { ti.id, NULL };
  save_to (&fx, by_id, "byid.tar");
  m = tar_member ("byid.tar", "manifest.json", &n);
  CHECK_CONTAINS (m, "\"RepoTags\":null");
  free (m);
  m = tar_member ("byid.tar", "index.json", &n);
  CHECK (strstr (m, "annotations") == NULL);
  free (m);

  berth_err err = NULL;
  const char *missing[] = { "busybox", "nope:1", NULL };
  cleanup_close int fd = open ("bad.tar", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  CHECK (image_save (fx.s, missing, fd, &err) == -ENOENT);
  CHECK_STR (err->msg, "No such image: nope:1");
  berth_error_free (&err);

  free (members);
  free (config_member);
  free (layer1_member);
  free (layer2_member);
  free_test_image (&ti);
  fx_done (&fx);
}

/* ------------------------------------------------------------------ */
/* OCI layout                                                          */
/* ------------------------------------------------------------------ */

struct blob
{
  char digest[72];
  char *name;
  const void *data;
  size_t len;
};

static void blob_of (struct blob *b, const void *data, size_t len)
{
  b->data = data;
  b->len = len;
  sha256 (data, len, b->digest);
  b->name = xasprintf ("blobs/sha256/%s", b->digest + 7);
}

/* An OCI archive with a multi-platform index: only the linux/amd64
 * manifest's blobs are in it, as `docker save --platform` writes. */
TEST (load_oci_layout)
{
  struct fx fx;
  struct test_image ti;
  fx_init (&fx);
  make_test_image (&ti);
  struct blob cfg, l1, l2, man, idx;
  blob_of (&cfg, ti.config, ti.config_len);
  blob_of (&l1, ti.l1, ti.l1_len);
  blob_of (&l2, ti.l2, ti.l2_len);
  char *manifest = xasprintf (
      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
      "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
      "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%zu},"
      "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\",\"size\":%zu}]}",
      cfg.digest, cfg.len, l1.digest, l1.len, l2.digest, l2.len);
  blob_of (&man, manifest, strlen (manifest));
  char *index = xasprintf (
      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
      "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:%s\",\"size\":100,"
      "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}},"
      "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu,"
      "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}",
      hex64, man.digest, man.len);
  blob_of (&idx, index, strlen (index));
  char *top = xasprintf ("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                         "\"application/vnd.oci.image.index.v1+json\",\"digest\":\"%s\",\"size\":%zu,"
                         "\"annotations\":{\"io.containerd.image.name\":\"docker.io/library/ocitest:1.0\","
                         "\"org.opencontainers.image.ref.name\":\"1.0\"}}]}",
                         idx.digest, idx.len);
  struct ent ents[] = {
    F ("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"),
    F ("index.json", top),
    D ("blobs"),
    D ("blobs/sha256"),
    { .name = idx.name, .data = idx.data, .len = idx.len, .type = 'f' },
    { .name = man.name, .data = man.data, .len = man.len, .type = 'f' },
    { .name = cfg.name, .data = cfg.data, .len = cfg.len, .type = 'f' },
    { .name = l1.name, .data = l1.data, .len = l1.len, .type = 'f' },
    { .name = l2.name, .data = l2.data, .len = l2.len, .type = 'f' },
  };
  write_tar ("oci.tar.zst", "zstd", ents, sizeof ents / sizeof ents[0]);
  char **lines = load_pipe (&fx, "oci.tar.zst");
  CHECK_STR (lines[0], "Loaded image: ocitest:1.0");
  free_strv (lines);
  struct image_info *info = NULL;
  CHECK_OK (image_lookup (fx.s, "ocitest:1.0", &info, err_));
  CHECK_STR (info->id, ti.id);
  char *rd = xasprintf ("ocitest@%s", man.digest);
  CHECK_STR (info->repo_digests[0], rd);
  image_info_free (info);
  check_lookup (&fx, rd, ti.id);
  free (rd);
  char **dirs = NULL;
  CHECK_OK (image_layer_dirs (fx.s, "ocitest:1.0", &dirs, err_));
  check_whiteout (dirs[0], "gone");
  free_strv (dirs);

  /* the same layout with only a tag in ref.name: untagged */
  char *top2 = xasprintf ("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                          "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu,"
                          "\"annotations\":{\"org.opencontainers.image.ref.name\":\"v2\"}}]}",
                          man.digest, man.len);
  ents[1].data = top2;
  ents[1].len = strlen (top2);
  write_tar ("oci2.tar", NULL, ents, sizeof ents / sizeof ents[0]);
  lines = load_file (&fx, "oci2.tar");
  char *want = xasprintf ("Loaded image ID: %s", ti.id);
  CHECK_STR (lines[0], want);
  free (want);
  free_strv (lines);
  check_contained (&fx);

  free (manifest);
  free (index);
  free (top);
  free (top2);
  struct blob *all[] = { &cfg, &l1, &l2, &man, &idx };
  for (size_t i = 0; i < 5; i++)
    free (all[i]->name);
  free_test_image (&ti);
  fx_done (&fx);
}

/* A short id that two images share is ambiguous. */
TEST (lookup_ambiguous_prefix)
{
  struct fx fx;
  struct test_image a, b;
  fx_init (&fx);
  make_test_image (&a);
  make_test_image (&b);
  for (int i = 0;; i++)
    {
      char author[32];
      snprintf (author, sizeof author, "try-%d", i);
      set_config (&b, author, b.d1, b.d2);
      if (strncmp (a.id, b.id, 7 + 4) == 0 && strcmp (a.id, b.id) != 0)
        break;
    }
  char *a_name = xasprintf ("%s.json", a.id + 7);
  char *b_name = xasprintf ("%s.json", b.id + 7);
  char *manifest = xasprintf ("[{\"Config\":\"%s\",\"RepoTags\":null,\"Layers\":[\"l1.tar\",\"l2.tar\"]},"
                              "{\"Config\":\"%s\",\"RepoTags\":null,\"Layers\":[\"l1.tar\",\"l2.tar\"]}]",
                              a_name, b_name);
  struct ent ents[] = {
    { .name = "l1.tar", .data = a.l1, .len = a.l1_len, .type = 'f' },
    { .name = "l2.tar", .data = a.l2, .len = a.l2_len, .type = 'f' },
    { .name = a_name, .data = a.config, .len = a.config_len, .type = 'f' },
    { .name = b_name, .data = b.config, .len = b.config_len, .type = 'f' },
    F ("manifest.json", manifest),
  };
  write_tar ("two.tar", "gzip", ents, sizeof ents / sizeof ents[0]);
  char **lines = load_file (&fx, "two.tar");
  CHECK (lines[0] && lines[1] && !lines[2]);
  free_strv (lines);
  char prefix[5];
  snprintf (prefix, sizeof prefix, "%.4s", a.id + 7);
  check_no_image (&fx, prefix, "ambiguous");
  check_lookup (&fx, a.id + 7, a.id);
  check_lookup (&fx, b.id, b.id);
  free (a_name);
  free (b_name);
  free (manifest);
  free_test_image (&a);
  free_test_image (&b);
  fx_done (&fx);
}

/* ------------------------------------------------------------------ */
/* import                                                              */
/* ------------------------------------------------------------------ */

static char *import_file (struct fx *fx, const char *path, const char *ref, json_t *changes)
{
  char *id = NULL;
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  CHECK (fd >= 0);
  CHECK_OK (image_import (fx->s, fd, ref, changes, "imported in a test", &id, err_));
  return id;
}

TEST (import_rootfs)
{
  struct fx fx;
  fx_init (&fx);
  write_tar ("rootfs.tar", NULL, layer1_ents, sizeof layer1_ents / sizeof layer1_ents[0]);
  write_tar ("rootfs.tar.gz", "gzip", layer1_ents, sizeof layer1_ents / sizeof layer1_ents[0]);
  size_t n = 0;
  char *plain = slurp ("rootfs.tar", &n);
  char diff_id[72];
  sha256 (plain, n, diff_id);
  free (plain);

  json_t *changes = json_pack ("{s:[s],s:[s],s:s,s:{s:{}}}", "Cmd", "/bin/hello", "Env", "A=b", "WorkingDir", "/bin",
                               "ExposedPorts", "80/tcp");
  char *id1 = import_file (&fx, "rootfs.tar", "imported:plain", changes);
  char *id2 = import_file (&fx, "rootfs.tar.gz", "example.com/imp", NULL);
  CHECK (strcmp (id1, id2) != 0); /* created differs */

  struct image_info *info = NULL;
  CHECK_OK (image_lookup (fx.s, "imported:plain", &info, err_));
  CHECK_STR (info->id, id1);
  CHECK_STR (info->diff_ids[0], diff_id);
  CHECK (info->diff_ids[1] == NULL);
  CHECK_STR (berth_json_str (info->config, "os"), "linux");
  CHECK_STR (berth_json_str (info->config, "architecture"), "amd64");
  CHECK_STR (berth_json_str (berth_json_path (info->config, "config"), "WorkingDir"), "/bin");
  CHECK_STR (json_string_value (json_array_get (berth_json_path (info->config, "config.Cmd"), 0)), "/bin/hello");
  CHECK_STR (berth_json_str (json_array_get (berth_json_arr (info->config, "history"), 0), "created_by"),
             "berth import");
  CHECK (info->created > 1700000000);
  image_info_free (info);

  CHECK_OK (image_lookup (fx.s, "example.com/imp:latest", &info, err_));
  CHECK_STR (info->id, id2);
  CHECK_STR (info->diff_ids[0], diff_id); /* the gzip input decompresses to the same layer */
  image_info_free (info);
  char **dirs = NULL;
  CHECK_OK (image_layer_dirs (fx.s, id2, &dirs, err_));
  check_file (dirs[0], "bin/hello", "#!/bin/sh\necho hello\n", 0755);
  free_strv (dirs);

  /* the stored layer blob is the plain tar: saving gives a loadable archive */
  const char *names[] = { "imported:plain", NULL };
  save_to (&fx, names, "imp-saved.tar");
  image_store_close (fx.s);
  free (fx.root);
  fx.root = xasprintf ("%s/store/second", fx.dir);
  fx_open_store (&fx);
  char **lines = load_file (&fx, "imp-saved.tar");
  CHECK_STR (lines[0], "Loaded image: imported:plain");
  free_strv (lines);
  check_lookup (&fx, "imported:plain", id1);

  berth_err err = NULL;
  json_t *bad = json_pack ("{s:s}", "Privileged", "yes");
  cleanup_close int fd = open ("rootfs.tar", O_RDONLY | O_CLOEXEC);
  char *id = NULL;
  CHECK (image_import (fx.s, fd, NULL, bad, NULL, &id, &err) < 0);
  CHECK_CONTAINS (err->msg, "unsupported change");
  berth_error_free (&err);
  json_decref (bad);

  json_decref (changes);
  free (id1);
  free (id2);
  fx_done (&fx);
}

TEST (import_rejects_non_tar)
{
  struct fx fx;
  fx_init (&fx);
  spit ("junk", "this is not a tar archive at all, just some text that goes on", 62);
  berth_err err = NULL;
  char *id = NULL;
  cleanup_close int fd = open ("junk", O_RDONLY | O_CLOEXEC);
  CHECK (image_import (fx.s, fd, "x", NULL, NULL, &id, &err) < 0);
  CHECK_CONTAINS (err->msg, "unpack imported layer");
  berth_error_free (&err);
  check_store_empty (&fx);
  check_contained (&fx);
  fx_done (&fx);
}

/* ------------------------------------------------------------------ */
/* a real `docker save` (dockerd 20.10, legacy builder): made with      */
/*   docker import -c 'CMD ["/bin/true"]' rootfs.tar tiny:base          */
/*     (rootfs: etc/hostname "tiny\n", etc/name -> hostname)            */
/*   FROM tiny:base / ENV A=1 / COPY a /x / COPY a /x / LABEL l=v       */
/*   docker save tiny:built | gzip -9 | base64                          */
/* ------------------------------------------------------------------ */

static const char docker_save_b64[] =
  "H4sICCXqBGsCA3RpbnkudGFyAO2cW08bORSAed5fMZp92dVC4rvHkfrQC1IroVK1bFfbCiFfYbbJ"
  "TDQzQUUo/309E6CUtoQ2MBBxPkVh7HFsx8fHPufgjCU24MwHi2gIQSrKqVUoGEWRxiTQLAsyBMas"
  "QMwpJ1kIIniCuAwMc2IH/9VlsXE9CCMkGNtAC67+pSJeY04RxoKjthyhiOCNBG30wKxudBW7UpVl"
  "c125Zfevfrk14TTVlT3KG2+bWeXTUaonTrB0M7VlEfLDdHSavizrptCT9mbMf1FOdF58Sf9d+2px"
  "9bRptD1617i8SEdBj2t/Ka+cNd9m+qq6yNxrTi6ud6e++LqeLrVbWH+Rs10cp6OP6Zuney+fDGd1"
  "NRyXVo+HtcmL0aX0RfLLje5ikYxvbcef4HR/M30+cW2NbeawqWa+zXs10YftF62PNOFiZJlDRmVC"
  "u6C5z1ptURZZkknnlTJcaK5EJiSXmsVinjJpMmEkDzpYpVxs7H05nk18nY6K2Xi8mf5TVp/y4vBF"
  "fjaI20VTnUzLvGjOS+wWz2b52J0nd7Tx47qVyzh+4jidzztZNVEonSB0poVngmBjAyKMq0w7zSjn"
  "UYEFVsErjTQXjBieIaEIsdL7gLxDPDjEQnqpuoPvToLLLTyaCVEfxfwtG99+/6Mop38m8Wrn6bPt"
  "nWT85HiNZkrldeNjkZQgIrYw3iJsD+ERFfE1wArRuBBL/iHW70r7KU6BY1/VeVl0nxhgNCDsLxfq"
  "QxxLHOV1U1ZRSh9Pr62YDqQgTGaK4w/d9JpMfNvrOGbTsoqfSkJVTpKtdL65rCIlBKYUS9pVtCh6"
  "YGIXzqWUbNnkTELJ9uv3SSvKzdRPps3JwViftFOz1e1lLfFBXMM5Y5m6QUPPd9/8m4R87EcCBxa0"
  "95mjnAljuQoEBy+wyKLOEaMtklgyJDJKHMsyL6VxPIsTJt6XwSR5kQw/J0sHQrTdwwJReS/d+4UB"
  "vTK5lonui2p9r62obmWc2Ok4L2afY4l2bw7dTG9Opq0SdoXrdhLnIRzkrm71+EwzFfWS+cxnkjoW"
  "pxMhnthMBUesVczEdCAm04jGb82sEnFUBOZBRDPIMi1NrPWspnYUMTfBCOK9oFJrY7AmQWnLmEQS"
  "YZ8Jwr2x3vi4tBppVBxRrBQyRiKX7s/n973/WxPF4nWQmsblJ2M8fg+ijDUsrlHeS+WEYlnsrvBY"
  "xkGi3gpJMXaU6eC4Gd6gDYQYkpz/yP7rrr+2/wimYiPhYP89fPm/33777tXu6xXs/9YFuGr/x1UI"
  "7P8+wIO16SrwEPV/df+fUMq+8f8p+P89+f95a7CtOg2iUTTV1cKq90FxRqMRhElmrWXSRUcHY2SC"
  "cI4KTqJrpDPvhKHYG82c9dRGbzQKHWmCSfpTbgr4vuD73sz3Xe7QQsxrfaT5g7DlJb9wDrt7D/t/"
  "52oP2j30V/d/9q3/F9d22P974XMPbSz3/8gl+eNYHkebEOTfB/o3WAMBAAAeI6s663cU/0et/Qfx"
  "/zWQ/x3F/5EE+68PIP4P6/9K+r96/B8Jgq+u/5KB/98LZ/H/W43ZYyXRFsLxtYfQqHt9WB5af2hx"
  "1kXosQuQLi7P46K3GNBsU/N7DVqurP8rx//I9+J/QgjQ/z4YDO++jXY8bm7/45gvJeJ92v9JsrGq"
  "/NeUwdA3dvjA5I8REwjk35/82y33juUv5U/InyIR7T9ydGYdgPzvWP53O9CdjX+t/8+vyJ8Q3Ov5"
  "v8cr/yYvTuBfQAAAAAAAAAAAAAAAAAAAAAAAAAAAAACw3kx0kQdfNzd5juuvsuz8NyPsq7NACFOO"
  "4fcfvfDxNH1+dho7tbfxLOB0M33rp+WePuweuteeLxmZWT5u2kdL7Cyeyxfzb+/ccXuy/NYeYpDu"
  "z/cf1XGYKsqqzpuyyn29cU/6j4m4qv9MgP73wmmnoe1PMRZKeguPgprP4UAZAADAg+d/kJ/C2wBi"
  "AAA=";

static const char *docker_save_id = "sha256:c2cf18efc03fff79353c90fb930a12f388f7ff44c604d9d74ff6fe2057f4152c";

static void write_docker_save (const char *path)
{
  size_t len = strlen (docker_save_b64);
  unsigned char *out = malloc (len);
  int n = EVP_DecodeBlock (out, (const unsigned char *) docker_save_b64, (int) len);
  CHECK (n > 0);
  while (len > 0 && docker_save_b64[len - 1] == '=')
    {
      len--;
      n--; /* EVP_DecodeBlock counts the padding as zero bytes */
    }
  spit (path, out, (size_t) n);
  free (out);
}

TEST (load_real_docker_save)
{
  struct fx fx;
  fx_init (&fx);
  write_docker_save ("tiny.tar.gz");
  char **lines = load_pipe (&fx, "tiny.tar.gz");
  CHECK_STR (lines[0], "Loaded image: tiny:built");
  CHECK (lines[1] == NULL);
  free_strv (lines);
  check_lookup (&fx, "tiny:built", docker_save_id);
  char **dirs = NULL;
  CHECK_OK (image_layer_dirs (fx.s, "tiny:built", &dirs, err_));
  CHECK (dirs[0] && dirs[1] && !dirs[2]);
  check_file (dirs[0], "x", "a\n", 0644);
  check_file (dirs[1], "etc/hostname", "tiny\n", 0644);
  char *p = xasprintf ("%s/etc/name", dirs[1]);
  char buf[16] = "";
  CHECK (readlink (p, buf, sizeof buf) == 8 && strcmp (buf, "hostname") == 0);
  free (p);
  free_strv (dirs);

  json_t *h = NULL;
  CHECK_OK (image_history (fx.s, "tiny:built", &h, err_));
  CHECK (json_array_size (h) == 5);
  CHECK_STR (berth_json_str (json_array_get (h, 0), "Id"), docker_save_id);
  CHECK (berth_json_int (json_array_get (h, 2), "Size", -1) == 2);
  CHECK (berth_json_int (json_array_get (h, 4), "Size", -1) == 13);
  CHECK_STR (berth_json_str (json_array_get (h, 4), "Comment"), "Imported from -");
  json_decref (h);

  /* and back out: what `docker load` (verified with dockerd 20.10) reads */
  const char *names[] = { "tiny", NULL };
  save_to (&fx, names, "tiny-saved.tar");
  image_store_close (fx.s);
  free (fx.root);
  fx.root = xasprintf ("%s/store/second", fx.dir);
  fx_open_store (&fx);
  free_strv (load_file (&fx, "tiny-saved.tar"));
  check_lookup (&fx, "tiny:built", docker_save_id); /* "tiny" saved all its tags */
  check_contained (&fx);
  fx_done (&fx);
}

#endif /* IMAGE_FIXTURE_ONLY */
