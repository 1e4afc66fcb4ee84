/* Image commands of the berth CLI. */
#include "client.h"
#include "common/cleanup.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int fail (berth_err *err)
{
  fprintf (stderr, "%s\n", (*err)->msg);
  berth_error_free (err);
  return 1;
}

static int usage_error (const char *msg)
{
  fprintf (stderr, "berth: %s\n", msg);
  return 1;
}

/* Docker's decimal sizes with three significant digits: "4.26MB". */
static void human_size (double bytes, char *buf, size_t len)
{
  static const char *units[] = { "B", "kB", "MB", "GB", "TB" };
  int u = 0;
  while (bytes >= 1000 && u < 4)
    {
      bytes /= 1000;
      u++;
    }
  snprintf (buf, len, "%.3g%s", bytes, units[u]);
}

static void human_age (int64_t created, char *buf, size_t len)
{
  int64_t s = (int64_t) time (NULL) - created;
  if (s < 60)
    snprintf (buf, len, "%lld seconds ago", (long long) (s < 0 ? 0 : s));
  else if (s < 3600)
    snprintf (buf, len, "%lld minutes ago", (long long) (s / 60));
  else if (s < 86400 * 2)
    snprintf (buf, len, "%lld hours ago", (long long) (s / 3600));
  else
    snprintf (buf, len, "%lld days ago", (long long) (s / 86400));
}

static const char *short_id (const char *id)
{
  static char buf[13];
  const char *hex = strncmp (id, "sha256:", 7) == 0 ? id + 7 : id;
  snprintf (buf, sizeof buf, "%.12s", hex);
  return buf;
}

static void print_image_row (json_t *img, const char *tag)
{
  char size[32], age[64];
  human_size ((double) berth_json_int (img, "Size", 0), size, sizeof size);
  human_age (berth_json_int (img, "Created", 0), age, sizeof age);
  cleanup_free char *repo = strdup (tag ? tag : "<none>:<none>");
  char *colon = strrchr (repo, ':');
  const char *t = "<none>";
  if (colon && !strchr (colon, '/'))
    {
      *colon = '\0';
      t = colon + 1;
    }
  printf ("%-32s %-12s %-14s %-16s %s\n", repo, t, short_id (berth_json_str (img, "Id")), age, size);
}

int cmd_images (struct client *c, int argc, char **argv)
{
  berth_err err = NULL;
  bool quiet = argc > 1 && strcmp (argv[1], "-q") == 0;
  cleanup_json json_t *list = client_json (c, "GET", "/images/json", NULL, &err);
  if (list == NULL)
    return fail (&err);
  size_t i;
  json_t *img;
  if (!quiet)
    printf ("%-32s %-12s %-14s %-16s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
  json_array_foreach (list, i, img)
    {
      json_t *tags = berth_json_arr (img, "RepoTags");
      if (quiet)
        {
          puts (short_id (berth_json_str (img, "Id")));
          continue;
        }
      if (json_array_size (tags) == 0)
        print_image_row (img, NULL);
      for (size_t k = 0; k < json_array_size (tags); k++)
        print_image_row (img, json_string_value (json_array_get (tags, k)));
    }
  return 0;
}

static char *image_path (const char *name, const char *suffix)
{
  cleanup_free char *e = client_escape (name);
  char *p = NULL;
  /* Slashes stay: the daemon's routes take references with slashes. */
  for (char *s = e; s && (s = strstr (s, "%2F")) != NULL;)
    {
      *s = '/';
      memmove (s + 1, s + 3, strlen (s + 3) + 1);
    }
  if (e == NULL || asprintf (&p, "/images/%s%s", e, suffix) < 0)
    return NULL;
  return p;
}

int cmd_image_inspect (struct client *c, int argc, char **argv)
{
  if (argc < 2)
    return usage_error ("usage: berth inspect IMAGE...");
  json_t *out = json_array ();
  int rc = 0;
  for (int i = 1; i < argc; i++)
    {
      berth_err err = NULL;
      cleanup_free char *path = image_path (argv[i], "/json");
      json_t *j = client_json (c, "GET", path, NULL, &err);
      if (j == NULL)
        rc = fail (&err);
      else
        json_array_append_new (out, j);
    }
  char *s = json_dumps (out, JSON_INDENT (4));
  puts (s ? s : "[]");
  free (s);
  json_decref (out);
  return rc;
}

int cmd_history (struct client *c, int argc, char **argv)
{
  berth_err err = NULL;
  if (argc != 2)
    return usage_error ("usage: berth history IMAGE");
  cleanup_free char *path = image_path (argv[1], "/history");
  cleanup_json json_t *h = client_json (c, "GET", path, NULL, &err);
  if (h == NULL)
    return fail (&err);
  size_t i;
  json_t *e;
  printf ("%-14s %-16s %-50s %s\n", "IMAGE", "CREATED", "CREATED BY", "SIZE");
  json_array_foreach (h, i, e)
    {
      char size[32], age[64];
      const char *id = berth_json_str (e, "Id");
      human_size ((double) berth_json_int (e, "Size", 0), size, sizeof size);
      human_age (berth_json_int (e, "Created", 0), age, sizeof age);
      printf ("%-14s %-16s %-50.50s %s\n", id && strcmp (id, "<missing>") != 0 ? short_id (id) : "<missing>", age,
              berth_json_str (e, "CreatedBy") ? berth_json_str (e, "CreatedBy") : "", size);
    }
  return 0;
}

int cmd_tag (struct client *c, int argc, char **argv)
{
  berth_err err = NULL;
  if (argc != 3)
    return usage_error ("usage: berth tag SOURCE TARGET");
  cleanup_free char *repo = strdup (argv[2]);
  char *colon = strrchr (repo, ':');
  const char *tag = "latest";
  if (colon && !strchr (colon, '/'))
    {
      *colon = '\0';
      tag = colon + 1;
    }
  cleanup_free char *erepo = client_escape (repo), *etag = client_escape (tag);
  cleanup_free char *base = image_path (argv[1], "/tag"), *path = NULL;
  if (asprintf (&path, "%s?repo=%s&tag=%s", base, erepo, etag) < 0)
    return 1;
  cleanup_json json_t *r = client_json (c, "POST", path, NULL, &err);
  return r ? 0 : fail (&err);
}

int cmd_rmi (struct client *c, int argc, char **argv)
{
  int first = 1, rc = 0;
  bool force = argc > 1 && strcmp (argv[1], "-f") == 0;
  first += force;
  if (argc <= first)
    return usage_error ("usage: berth rmi [-f] IMAGE...");
  for (int i = first; i < argc; i++)
    {
      berth_err err = NULL;
      cleanup_free char *base = image_path (argv[i], ""), *path = NULL;
      if (asprintf (&path, "%s%s", base, force ? "?force=1" : "") < 0)
        return 1;
      cleanup_json json_t *report = client_json (c, "DELETE", path, NULL, &err);
      if (report == NULL)
        {
          rc = fail (&err);
          continue;
        }
      size_t k;
      json_t *item;
      json_array_foreach (report, k, item)
        {
          const char *key = json_object_iter_key (json_object_iter (item));
          printf ("%s: %s\n", key, json_string_value (json_object_iter_value (json_object_iter (item))));
        }
    }
  return rc;
}

/* Print the "stream"/"status" lines of a JSON-lines progress body. */
static void print_progress (const char *body)
{
  cleanup_free char *copy = strdup (body ? body : "");
  char *save = NULL;
  for (char *line = strtok_r (copy, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      json_t *j = json_loads (line, 0, NULL);
      const char *s = berth_json_str (j, "stream") ? berth_json_str (j, "stream") : berth_json_str (j, "status");
      if (s)
        printf ("%s%s", s, s[strlen (s) - 1] == '\n' ? "" : "\n");
      if (j)
        json_decref (j);
    }
}

static int upload (struct client *c, const char *path, int fd)
{
  berth_err err = NULL;
  struct client_reply r = { 0 };
  if (client_call (c, "POST", path, NULL, fd, -1, &r, &err) < 0)
    return fail (&err);
  if (r.status / 100 != 2)
    {
      cleanup_json json_t *j = json_loads (r.body ? r.body : "", 0, NULL);
      fprintf (stderr, "Error response from daemon: %s\n", berth_json_str (j, "message") ? berth_json_str (j, "message") : "?");
      client_reply_free (&r);
      return 1;
    }
  print_progress (r.body);
  client_reply_free (&r);
  return 0;
}

int cmd_load (struct client *c, int argc, char **argv)
{
  int fd = 0;
  if (argc == 3 && strcmp (argv[1], "-i") == 0)
    fd = open (argv[2], O_RDONLY | O_CLOEXEC);
  else if (argc != 1)
    return usage_error ("usage: berth load [-i FILE]");
  if (fd < 0)
    return usage_error ("cannot open the input file");
  return upload (c, "/images/load", fd);
}

int cmd_import (struct client *c, int argc, char **argv)
{
  cleanup_free char *changes = strdup ("");
  int i = 1;
  for (; i + 1 < argc && strcmp (argv[i], "-c") == 0; i += 2)
    {
      cleanup_free char *e = client_escape (argv[i + 1]);
      char *n = NULL;
      if (asprintf (&n, "%s&changes=%s", changes, e) < 0)
        return 1;
      free (changes);
      changes = n;
    }
  if (argc - i < 1 || argc - i > 2)
    return usage_error ("usage: berth import [-c CHANGE]... FILE|- [REPOSITORY[:TAG]]");
  int fd = strcmp (argv[i], "-") == 0 ? 0 : open (argv[i], O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return usage_error ("cannot open the input file");
  cleanup_free char *repo = strdup (argc - i == 2 ? argv[i + 1] : ""), *path = NULL;
  char *colon = strrchr (repo, ':');
  const char *tag = "";
  if (colon && !strchr (colon, '/'))
    {
      *colon = '\0';
      tag = colon + 1;
    }
  cleanup_free char *erepo = client_escape (repo), *etag = client_escape (tag);
  if (asprintf (&path, "/images/create?fromSrc=-&repo=%s&tag=%s%s", erepo, etag, changes) < 0)
    return 1;
  return upload (c, path, fd);
}

int cmd_save (struct client *c, int argc, char **argv)
{
  int i = 1, fd = 1;
  if (argc > 2 && strcmp (argv[1], "-o") == 0)
    {
      fd = open (argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0)
        return usage_error ("cannot create the output file");
      i = 3;
    }
  if (i >= argc)
    return usage_error ("usage: berth save [-o FILE] IMAGE...");
  if (fd == 1 && isatty (1))
    return usage_error ("refusing to write a tar archive to a terminal: use -o FILE or a redirection");
  cleanup_free char *path = strdup ("/images/get?");
  for (; i < argc; i++)
    {
      cleanup_free char *e = client_escape (argv[i]);
      char *n = NULL;
      if (asprintf (&n, "%s%snames=%s", path, path[strlen (path) - 1] == '?' ? "" : "&", e) < 0)
        return 1;
      free (path);
      path = n;
    }
  berth_err err = NULL;
  struct client_reply r = { 0 };
  int tmp = open ("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (tmp < 0)
    return usage_error ("cannot create a temp file");
  if (client_call (c, "GET", path, NULL, -1, tmp, &r, &err) < 0)
    return fail (&err);
  lseek (tmp, 0, SEEK_SET);
  if (r.status / 100 != 2)
    {
      char buf[4096];
      ssize_t n = read (tmp, buf, sizeof buf - 1);
      buf[n > 0 ? n : 0] = '\0';
      cleanup_json json_t *j = json_loads (buf, 0, NULL);
      fprintf (stderr, "Error response from daemon: %s\n", berth_json_str (j, "message") ? berth_json_str (j, "message") : buf);
      return 1;
    }
  char buf[65536];
  ssize_t n;
  while ((n = read (tmp, buf, sizeof buf)) > 0)
    if (write (fd, buf, (size_t) n) != n)
      return usage_error ("write failed");
  close (tmp);
  return 0;
}
