/* The build: stages in order, one step per instruction, Docker's classic
 * builder output ("Step 2/5 : RUN ...", " ---> 1a2b3c4d5e6f"), the final
 * image made visible and tagged. */
#include "build/builder.h"
#include "daemon/image-pull.h"
#include "image/distribution.h"
#include "daemon/daemon.h"
#include "image/image.h"
#include "common/cleanup.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

/* Docker's predefined args: usable without an ARG, never in history. */
static const char *const proxy_args[] = { "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
                                          "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy",
                                          NULL };

bool build_arg_is_proxy (const char *name)
{
  for (const char *const *p = proxy_args; *p; p++)
    if (strcmp (*p, name) == 0)
      return true;
  return false;
}

static int strv_add (char ***v, const char *s)
{
  size_t n = 0;
  while (*v && (*v)[n])
    n++;
  char **nv = realloc (*v, (n + 2) * sizeof *nv);
  if (nv == NULL)
    return -ENOMEM;
  *v = nv;
  if ((nv[n] = strdup (s)) == NULL)
    {
      nv[n] = NULL;
      return -ENOMEM;
    }
  nv[n + 1] = NULL;
  return 0;
}

/* Set NAME=VALUE in the strv *V (replacing an entry of the same name). */
static int strv_set (char ***v, const char *name, const char *value)
{
  size_t len = strlen (name);
  cleanup_free char *kv = NULL;
  if (asprintf (&kv, "%s=%s", name, value ? value : "") < 0)
    return -ENOMEM;
  for (size_t i = 0; *v && (*v)[i]; i++)
    if (strncmp ((*v)[i], name, len) == 0 && (*v)[i][len] == '=')
      {
        free ((*v)[i]);
        (*v)[i] = take_ptr (kv);
        return 0;
      }
  return strv_add (v, kv);
}

static const char *strv_get (char **v, const char *name)
{
  size_t len = strlen (name);
  for (size_t i = 0; v && v[i]; i++)
    if (strncmp (v[i], name, len) == 0 && v[i][len] == '=')
      return v[i] + len + 1;
  return NULL;
}

json_t *stage_config (struct stage *st)
{
  json_t *c = json_object_get (st->image, "config");
  if (!json_is_object (c))
    {
      c = json_object ();
      json_object_set_new (st->image, "config", c);
    }
  return c;
}

const char *stage_arg (struct stage *st, const char *name)
{
  return strv_get (st->args, name);
}

static bool env_has (json_t *env, const char *name)
{
  size_t i, len = strlen (name);
  json_t *e;
  json_array_foreach (env, i, e)
    {
      const char *s = json_string_value (e);
      if (s && strncmp (s, name, len) == 0 && (s[len] == '=' || s[len] == '\0'))
        return true;
    }
  return false;
}

char **stage_expand_env (struct stage *st)
{
  char **v = calloc (1, sizeof *v);
  json_t *env = json_object_get (stage_config (st), "Env");
  size_t i;
  json_t *e;
  json_array_foreach (env, i, e)
    if (json_string_value (e) && v)
      strv_add (&v, json_string_value (e));
  for (size_t k = 0; v && st->args && st->args[k]; k++)
    {
      cleanup_free char *name = strndup (st->args[k], strcspn (st->args[k], "="));
      if (name && !env_has (env, name))
        strv_add (&v, st->args[k]);
    }
  return v;
}

char **stage_run_args (struct stage *st)
{
  char **v = calloc (1, sizeof *v);
  json_t *env = json_object_get (stage_config (st), "Env");
  for (size_t k = 0; v && st->args && st->args[k]; k++)
    {
      cleanup_free char *name = strndup (st->args[k], strcspn (st->args[k], "="));
      if (name && !env_has (env, name))
        strv_add (&v, st->args[k]);
    }
  return v;
}

/* ---- output ---- */

static int emit_stream (struct build *b, const char *text)
{
  json_t *msg = json_pack ("{s:s}", "stream", text);
  if (msg == NULL)
    return -ENOMEM;
  int r = b->req->emit (b->req->opaque, msg);
  json_decref (msg);
  return r;
}

int build_say (struct build *b, const char *fmt, ...)
{
  if (b->req->quiet)
    return 0;
  va_list ap;
  cleanup_free char *text = NULL;
  va_start (ap, fmt);
  int n = vasprintf (&text, fmt, ap);
  va_end (ap);
  return n < 0 ? -ENOMEM : emit_stream (b, text);
}

int build_output (struct build *b, const char *buf, size_t len)
{
  if (b->req->quiet)
    return b->req->emit (b->req->opaque, NULL); /* only: is the client still there? */
  /* Invalid UTF-8 would make jansson refuse the string: keep it printable. */
  cleanup_free char *text = strndup (buf, len);
  if (text == NULL)
    return -ENOMEM;
  json_t *msg = json_pack ("{s:s%}", "stream", text, len);
  if (msg == NULL)
    {
      for (char *p = text; *p; p++)
        if ((unsigned char) *p >= 0x80)
          *p = '?';
      msg = json_pack ("{s:s}", "stream", text);
    }
  if (msg == NULL)
    return -ENOMEM;
  int r = b->req->emit (b->req->opaque, msg);
  json_decref (msg);
  return r;
}

static const char *short_id (const char *id)
{
  static __thread char buf[13];
  const char *hex = id && strncmp (id, "sha256:", 7) == 0 ? id + 7 : (id ? id : "");
  snprintf (buf, sizeof buf, "%.12s", hex);
  return buf;
}

/* ---- commits ---- */

int build_commit (struct build *b, struct stage *st, const char *created_by, struct step_root *layer, berth_err *err)
{
  cleanup_free char *now = berth_rfc3339_now ();
  cleanup_free char *diff_id = NULL;
  cleanup_free char *id = NULL;
  if (now == NULL)
    return berth_fail (err, ENOMEM, "commit");
  json_t *img = st->image;
  json_t *rootfs = json_object_get (img, "rootfs");
  if (!json_is_object (rootfs))
    json_object_set_new (img, "rootfs", rootfs = json_pack ("{s:s,s:[]}", "type", "layers", "diff_ids"));
  json_t *hist = json_object_get (img, "history");
  if (!json_is_array (hist))
    json_object_set_new (img, "history", hist = json_array ());
  json_t *entry = json_pack ("{s:s,s:s}", "created", now, "created_by", created_by);
  pthread_mutex_lock (&b->d->image_lock);
  int r = 0;
  /* The step's upper folder becomes the store's layer folder (no second
   * unpack) unless it holds what the store's unpacker decides about. */
  if (layer && layer->adoptable)
    r = image_layer_add_dir (b->d->images, layer->tar, layer->diff_id, layer->upper, layer->size, &diff_id, err);
  else if (layer)
    r = image_layer_add (b->d->images, layer->tar, &diff_id, err);
  if (r == 0 && diff_id)
    json_array_append_new (json_object_get (rootfs, "diff_ids"), json_string (diff_id));
  else if (r == 0)
    json_object_set_new (entry, "empty_layer", json_true ());
  json_array_append_new (hist, entry);
  json_object_set_new (img, "created", json_string (now));
  if (r == 0)
    r = image_commit (b->d->images, img, true, &id, err);
  pthread_mutex_unlock (&b->d->image_lock);
  if (r < 0)
    return r;
  free (st->image_id);
  st->image_id = take_ptr (id);
  return 0;
}

int build_cache_hit (struct build *b, struct stage *st, const char *key, berth_err *err)
{
  if (b->req->no_cache)
    return 0;
  cleanup_free char *id = cache_get (b, key);
  if (id == NULL)
    return 0;
  json_t *image = NULL;
  pthread_mutex_lock (&b->d->image_lock);
  int r = image_config_read (b->d->images, id, &image, err);
  pthread_mutex_unlock (&b->d->image_lock);
  if (r < 0)
    return r;
  json_decref (st->image);
  st->image = image;
  free (st->image_id);
  st->image_id = take_ptr (id);
  r = build_say (b, " ---> Using cache\n");
  return r < 0 ? r : 1;
}

/* WORKDIR creates its folder (root's, 0755) as Docker's classic builder
 * does, so the image has it even without a RUN: a layer when it was
 * missing, none when it existed.  Each component is looked up in the
 * step's root with RESOLVE_IN_ROOT, so a symlink never leads out. */
static int workdir_step (struct build *b, struct stage *st, const char *created_by, berth_err *err)
{
  const char *wd = json_string_value (json_object_get (stage_config (st), "WorkingDir"));
  struct step_root root;
  int r = step_root_mount (b, st->image_id, false, &root, err);
  cleanup_close int rootfd = r == 0 ? open (root.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
  if (r == 0 && rootfd < 0)
    r = berth_fail_errno (err, "WORKDIR: open the step root");
  cleanup_free char *path = wd ? strdup (wd) : NULL;
  bool made = false;
  for (char *p = path, *slash; r == 0 && p && *p; p = slash ? slash + 1 : p + strlen (p))
    {
      slash = strchr (p, '/');
      if (slash == p)
        continue;
      if (slash)
        *slash = '\0';
      struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
      const char *rel = *path == '/' ? path + 1 : path;
      int fd = (int) syscall (SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof how);
      if (fd < 0 && errno == ENOENT)
        {
          /* The parent resolved (the previous round); create the last part. */
          cleanup_free char *parent = strdup (rel);
          char *cut = parent ? strrchr (parent, '/') : NULL;
          if (cut)
            *cut = '\0';
          int pfd = parent ? (int) syscall (SYS_openat2, rootfd, cut ? parent : ".", &how, sizeof how) : -1;
          if (pfd < 0 || mkdirat (pfd, cut ? cut + 1 : rel, 0755) < 0)
            r = berth_fail_errno (err, "WORKDIR: mkdir %s", wd);
          made = true;
          if (pfd >= 0)
            close (pfd);
        }
      else if (fd < 0)
        r = berth_fail_errno (err, "WORKDIR: %s", wd);
      else
        close (fd);
      if (slash)
        *slash = '/';
    }
  if (r == 0 && made)
    {
      umount2 (root.rootfs, MNT_DETACH);
      root.mounted = false;
      r = step_root_layer_tar (&root, err);
    }
  if (r == 0)
    r = build_commit (b, st, created_by, made ? &root : NULL, err);
  step_root_release (&root);
  return r;
}

/* Metadata steps: the config changes, no layer.  The cache key is the
 * parent id (unchanged by dispatch_meta) and the history text. */
static int meta_step (struct build *b, struct stage *st, const struct df_instr *in, berth_err *err)
{
  cleanup_free char *created_by = NULL;
  int r = dispatch_meta (b, st, in, &created_by, err);
  if (r < 0 || created_by == NULL)
    return r;
  cleanup_free char *key = cache_key (st->image_id, created_by, NULL);
  r = build_cache_hit (b, st, key, err);
  if (r != 0)
    return r < 0 ? r : 0;
  /* dockerd's classic builder commits a metadata step through a created
   * (never started) container and says so; berth needs none, but prints
   * the same lines (with an id of its own) so the output reads the same. */
  char id[65];
  if (berthd_new_id (id) < 0)
    return berth_fail (err, EIO, "no random id");
  r = build_say (b, " ---> Running in %.12s\n", id);
  if (r == 0)
    r = in->kind == DF_WORKDIR ? workdir_step (b, st, created_by, err) : build_commit (b, st, created_by, NULL, err);
  if (r == 0)
    r = build_say (b, "Removing intermediate container %.12s\n", id);
  if (r == 0)
    cache_put (b, key, st->image_id);
  return r;
}

/* ---- stages ---- */

static struct stage *find_stage (struct build *b, const char *name, size_t before)
{
  for (size_t i = 0; i < before && i < b->nstages; i++)
    if (b->stages[i].name && strcasecmp (b->stages[i].name, name) == 0)
      return &b->stages[i];
  char *end = NULL;
  long n = strtol (name, &end, 10);
  if (*name && *end == '\0' && n >= 0 && (size_t) n < before)
    return &b->stages[n];
  return NULL;
}

static int new_scratch_image (struct stage *st)
{
  st->image = json_pack ("{s:s,s:s,s:{},s:{s:s,s:[]},s:[]}", "architecture", "amd64", "os", "linux", "config",
                         "rootfs", "type", "layers", "diff_ids", "history");
  free (st->image_id);
  st->image_id = NULL;
  return st->image ? 0 : -ENOMEM;
}

static char **meta_env (struct build *b)
{
  char **v = calloc (1, sizeof *v);
  for (size_t i = 0; v && b->meta_args && b->meta_args[i]; i++)
    strv_add (&v, b->meta_args[i]);
  return v;
}

/* ONBUILD triggers of the base image run first, as part of FROM. */
static int run_step (struct build *b, struct stage *st, const struct df_instr *in, berth_err *err);

static int run_triggers (struct build *b, struct stage *st, berth_err *err)
{
  json_t *config = stage_config (st);
  json_t *triggers = json_incref (json_object_get (config, "OnBuild"));
  if (!json_is_array (triggers) || json_array_size (triggers) == 0)
    {
      json_decref (triggers);
      return 0;
    }
  json_object_del (config, "OnBuild");
  size_t n = json_array_size (triggers), i;
  json_t *t;
  int r = build_say (b, "# Executing %zu build trigger%s\n", n, n == 1 ? "" : "s");
  json_array_foreach (triggers, i, t)
    {
      if (r < 0)
        break;
      cleanup_free char *text = NULL;
      struct dockerfile *df = NULL;
      if (asprintf (&text, "FROM scratch\n%s\n", json_string_value (t) ? json_string_value (t) : "") < 0)
        r = berth_fail (err, ENOMEM, "onbuild");
      else if ((r = dockerfile_parse (text, strlen (text), &df, err)) < 0)
        berth_error_prefix (err, "ONBUILD trigger");
      else
        {
          for (size_t k = 0; r == 0 && k < df->stages[0].ninstrs; k++)
            r = run_step (b, st, &df->stages[0].instrs[k], err);
          dockerfile_free (df);
        }
    }
  json_decref (triggers);
  return r;
}

/* Pull progress into the build's output, as dockerd streams it (the
 * registry's JSON messages as they are; nothing but the liveness check
 * with -q). */
static int pull_progress (void *opaque, json_t *msg)
{
  struct build *b = opaque;
  if (b->req->quiet)
    return b->req->emit (b->req->opaque, NULL);
  return b->req->emit (b->req->opaque, msg);
}

/* An image id ("sha256:<hex>" or 64 hex) names a local image only. */
static bool is_image_id (const char *name)
{
  if (strncmp (name, "sha256:", 7) == 0)
    return true;
  return strlen (name) == 64 && strspn (name, "0123456789abcdef") == 64;
}

static int lookup_local (struct build *b, const char *name, struct image_info **info, berth_err *err)
{
  pthread_mutex_lock (&b->d->image_lock);
  int r = image_lookup (b->d->images, name, info, err);
  pthread_mutex_unlock (&b->d->image_lock);
  return r;
}

/* The credentials for NAME's registry from the request's
 * X-Registry-Config, as the pull worker's secret (*SECRET NULL: none). */
static int pull_secret (struct build *b, const char *name, json_t **secret, berth_err *err)
{
  *secret = NULL;
  if (b->req->registry_config == NULL)
    return 0;
  struct image_ref ref;
  if (image_ref_parse (name, &ref, err) < 0)
    return -EINVAL;
  cleanup_free char *domain = strndup (ref.name, strcspn (ref.name, "/"));
  image_ref_free (&ref);
  struct dist_auth a;
  if (domain == NULL)
    return berth_fail (err, ENOMEM, "FROM");
  if (dist_auth_config_lookup (b->req->registry_config, domain, &a, err) < 0)
    return -EINVAL;
  if (a.username || a.password || a.identity_token)
    *secret = json_pack ("{s:s?,s:s?,s:s?}", "username", a.username, "password", a.password, "identitytoken",
                         a.identity_token);
  dist_auth_free (&a);
  return 0;
}

/* FROM's base image: the local one, pulled first when it is missing (or
 * with --pull, once per name and build, as dockerd's classic builder). */
static int base_image (struct build *b, const char *name, struct image_info **info, berth_err *err)
{
  bool pulled = false;
  for (char **p = b->pulled; p && *p; p++)
    pulled |= strcmp (*p, name) == 0;
  int r = 0;
  if (!b->req->pull || pulled || is_image_id (name))
    {
      r = lookup_local (b, name, info, err);
      if (r != -ENOENT || is_image_id (name) || pulled)
        return r;
      berth_error_free (err);
    }
  cleanup_json json_t *secret = NULL;
  if ((r = pull_secret (b, name, &secret, err)) < 0)
    return r;
  /* The registry client's error as it is ("manifest for X not found:
   * ..."), as dockerd reports it. */
  r = berthd_image_pull (b->d, name, secret, pull_progress, b, err);
  if (r < 0)
    return r;
  char **grown = realloc (b->pulled, (b->npulled + 2) * sizeof *grown);
  if (grown == NULL)
    return berth_fail (err, ENOMEM, "FROM");
  b->pulled = grown;
  b->pulled[b->npulled] = strdup (name);
  b->pulled[b->npulled + 1] = NULL;
  if (b->pulled[b->npulled])
    b->npulled++;
  return lookup_local (b, name, info, err);
}

static int from_step (struct build *b, struct stage *st, const struct df_stage *ds, berth_err *err)
{
  cleanup_strv char **env = meta_env (b);
  cleanup_free char *base = NULL;
  int r = dockerfile_expand_word (ds->base, b->df->escape, (const char *const *) env, &base, err);
  if (r < 0)
    return r;
  if (ds->platform)
    {
      cleanup_free char *plat = NULL;
      if (dockerfile_expand_word (ds->platform, b->df->escape, (const char *const *) env, &plat, err) < 0)
        return -EINVAL;
      if (strcmp (plat, "linux/amd64") != 0 && strcmp (plat, "linux") != 0 && strcmp (plat, "amd64") != 0)
        return berth_fail_as (err, EINVAL, "platform %s is not supported: berth builds for linux/amd64", plat);
    }
  if (*base == '\0')
    return berth_fail_as (err, EINVAL, "base name (%s) should not be blank", ds->base);
  if (strcasecmp (base, "scratch") == 0)
    {
      r = new_scratch_image (st) < 0 ? berth_fail (err, ENOMEM, "FROM") : 0;
      if (r == 0)
        r = build_say (b, " ---> \n");
      return r;
    }
  struct stage *prev = find_stage (b, base, (size_t) st->index);
  cleanup_free char *id = NULL;
  if (prev)
    {
      id = prev->image_id ? strdup (prev->image_id) : NULL;
      st->image = json_deep_copy (prev->image);
    }
  else
    {
      struct image_info *info = NULL;
      r = base_image (b, base, &info, err);
      if (r < 0)
        return r;
      id = strdup (info->id);
      st->image = json_deep_copy (info->config);
      image_info_free (info);
    }
  if (st->image == NULL)
    return berth_fail (err, ENOMEM, "FROM");
  st->image_id = take_ptr (id);
  r = build_say (b, " ---> %s\n", st->image_id ? short_id (st->image_id) : "");
  if (r == 0)
    r = run_triggers (b, st, err);
  return r;
}

/* ARG: scoped to the stage; the value from --build-arg, else the default,
 * else a meta ARG's of the same name (when declared again in the stage). */
static int arg_step (struct build *b, struct stage *st, const struct df_instr *in, berth_err *err)
{
  for (size_t i = 0; i < in->nargs; i++)
    {
      cleanup_strv char **env = stage_expand_env (st);
      cleanup_free char *word = NULL;
      int r = dockerfile_expand_word (in->args[i], b->df->escape, (const char *const *) env, &word, err);
      if (r < 0)
        return r;
      char *eq = strchr (word, '=');
      if (eq)
        *eq = '\0';
      const char *value = eq ? eq + 1 : NULL;
      if (!eq)
        value = strv_get (b->meta_args, word);
      json_t *given = json_object_get (b->req->build_args, word);
      if (json_is_string (given))
        value = json_string_value (given);
      if (given && strv_get (b->used_args, word) == NULL)
        strv_set (&b->used_args, word, "");
      if (value && strv_set (&st->args, word, value) < 0)
        return berth_fail (err, ENOMEM, "ARG");
    }
  return 0;
}

static int run_step (struct build *b, struct stage *st, const struct df_instr *in, berth_err *err)
{
  switch (in->kind)
    {
    case DF_RUN:
      return build_run_step (b, st, in, err);
    case DF_COPY:
    case DF_ADD:
      return build_copy_step (b, st, in, err);
    case DF_ARG:
      {
        int r = arg_step (b, st, in, err);
        return r < 0 ? r : meta_step (b, st, in, err);
      }
    case DF_FROM:
      return berth_fail_as (err, EINVAL, "FROM inside a stage");
    default:
      return meta_step (b, st, in, err);
    }
}

static double mono_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

/* Each step's time in the debug log (where a build's time goes). */
static int print_step (struct build *b, const char *text)
{
  double now = mono_ms ();
  if (b->step > 0)
    berth_debug ("build: step %d took %.1f ms", b->step, now - b->step_start);
  b->step_start = now;
  b->step++;
  return build_say (b, "Step %d/%d : %s\n", b->step, b->nsteps, text);
}

static int build_stage (struct build *b, size_t si, const struct df_instr *label_instr, berth_err *err)
{
  const struct df_stage *ds = &b->df->stages[si];
  struct stage *st = &b->stages[si];
  cleanup_free char *from_text = NULL;
  if (asprintf (&from_text, "FROM %s%s%s", ds->base, ds->name ? " AS " : "", ds->name ? ds->name : "") < 0)
    return berth_fail (err, ENOMEM, "FROM");
  int r = print_step (b, from_text);
  if (r == 0)
    r = from_step (b, st, ds, err);
  for (size_t i = 0; r == 0 && i < ds->ninstrs; i++)
    {
      r = print_step (b, ds->instrs[i].original);
      if (r == 0)
        r = run_step (b, st, &ds->instrs[i], err);
      if (r == 0)
        r = build_say (b, " ---> %s\n", short_id (st->image_id));
    }
  if (r == 0 && label_instr)
    {
      r = print_step (b, label_instr->original);
      if (r == 0)
        r = meta_step (b, st, label_instr, err);
      if (r == 0)
        r = build_say (b, " ---> %s\n", short_id (st->image_id));
    }
  st->done = true;
  return r;
}

/* A scratch stage with nothing in it has no image yet: commit one. */
static int ensure_image (struct build *b, struct stage *st, berth_err *err)
{
  if (st->image_id)
    return 0;
  return build_commit (b, st, "", NULL, err);
}

static int meta_args_step (struct build *b, berth_err *err)
{
  for (size_t i = 0; i < b->df->nmeta_args; i++)
    {
      const struct df_instr *in = &b->df->meta_args[i];
      int r = print_step (b, in->original);
      for (size_t k = 0; r == 0 && k < in->nargs; k++)
        {
          cleanup_strv char **env = meta_env (b);
          cleanup_free char *word = NULL;
          r = dockerfile_expand_word (in->args[k], b->df->escape, (const char *const *) env, &word, err);
          if (r < 0)
            break;
          char *eq = strchr (word, '=');
          if (eq)
            *eq = '\0';
          json_t *given = json_object_get (b->req->build_args, word);
          const char *value = json_is_string (given) ? json_string_value (given) : (eq ? eq + 1 : NULL);
          if (given)
            strv_set (&b->used_args, word, "");
          if (value && strv_set (&b->meta_args, word, value) < 0)
            r = berth_fail (err, ENOMEM, "ARG");
        }
      if (r < 0)
        return r;
    }
  return 0;
}

/* The LABEL step --label adds at the end (Docker appends one too). */
static int label_instr_make (struct build *b, struct df_instr *out, struct dockerfile **keep, berth_err *err)
{
  const char *k;
  json_t *v;
  size_t n = 0;
  json_object_foreach (b->req->labels, k, v)
    n++;
  if (n == 0)
    return 0;
  cleanup_free char *text = strdup ("FROM scratch\nLABEL");
  json_object_foreach (b->req->labels, k, v)
    {
      json_t *ks = json_string (k);
      cleanup_free char *kq = json_dumps (ks, JSON_ENCODE_ANY);
      cleanup_free char *vq = json_dumps (v, JSON_ENCODE_ANY);
      json_decref (ks);
      char *t = NULL;
      if (text == NULL || kq == NULL || vq == NULL || asprintf (&t, "%s %s=%s", text, kq, vq) < 0)
        return berth_fail (err, ENOMEM, "labels");
      free (text);
      text = t;
    }
  int r = dockerfile_parse (text, strlen (text), keep, err);
  if (r < 0)
    return berth_error_prefix (err, "--label");
  *out = (*keep)->stages[0].instrs[0];
  return 1;
}

static void build_free (struct build *b)
{
  for (size_t i = 0; i < b->nstages; i++)
    {
      free (b->stages[i].name);
      free (b->stages[i].image_id);
      json_decref (b->stages[i].image);
      cleanup_strvp (&b->stages[i].args);
    }
  free (b->stages);
  cleanup_strvp (&b->meta_args);
  cleanup_strvp (&b->used_args);
  cleanup_strvp (&b->pulled);
  if (b->ignore)
    dockerignore_free (b->ignore);
  if (b->df)
    dockerfile_free (b->df);
}

int build_work_dir (struct build *b, berth_err *err)
{
  if (b->work_dir_made)
    return 0;
  if (berth_mkdir_p (b->req->work_dir, 0700, err) < 0)
    return -EIO;
  b->work_dir_made = true;
  return 0;
}

static int load_dockerfile (struct build *b, berth_err *err)
{
  cleanup_free char *clean = berth_clean_relative_path (b->req->dockerfile, false);
  if (clean == NULL || strncmp (clean, "../", 3) == 0 || strcmp (clean, "..") == 0)
    return berth_fail_as (err, EINVAL, "the Dockerfile (%s) must be within the build context", b->req->dockerfile);
  cleanup_close int root = openat (b->req->context_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  cleanup_free char *text = NULL;
  size_t len = 0;
  berth_err e2 = NULL;
  if (root < 0 || berth_read_file_at (root, clean, 1 << 22, &text, &len, &e2) < 0)
    {
      berth_error_free (&e2);
      return berth_fail_as (err, EINVAL,
                            "Cannot locate specified Dockerfile: %s", b->req->dockerfile);
    }
  int r = dockerfile_parse (text, len, &b->df, err);
  if (r < 0)
    return r;
  cleanup_free char *ign = NULL;
  if (berth_read_file_at (root, ".dockerignore", 1 << 22, &ign, &len, &e2) == 0)
    r = dockerignore_parse (ign, len, &b->ignore, err);
  berth_error_free (&e2);
  return r;
}

static size_t target_index (struct build *b, berth_err *err)
{
  const char *t = b->req->target;
  if (t == NULL || *t == '\0')
    return b->df->nstages - 1;
  for (size_t i = 0; i < b->df->nstages; i++)
    if (b->df->stages[i].name && strcasecmp (b->df->stages[i].name, t) == 0)
      return i;
  berth_fail_as (err, EINVAL, "failed to reach build target %s in Dockerfile", t);
  return (size_t) -1;
}

static int finish (struct build *b, struct stage *st, char **image_id, berth_err *err)
{
  cleanup_free char *id = NULL;
  int r = ensure_image (b, st, err);
  if (r < 0)
    return r;
  pthread_mutex_lock (&b->d->image_lock);
  r = image_commit (b->d->images, st->image, false, &id, err);
  for (char **t = b->req->tags; r == 0 && t && *t; t++)
    r = image_tag (b->d->images, id, *t, err);
  pthread_mutex_unlock (&b->d->image_lock);
  if (r < 0)
    return r;
  json_t *aux = json_pack ("{s:{s:s}}", "aux", "ID", id);
  r = b->req->emit (b->req->opaque, aux);
  json_decref (aux);
  if (r == 0)
    r = build_say (b, "Successfully built %s\n", short_id (id));
  for (char **t = b->req->tags; r == 0 && t && *t; t++)
    {
      struct image_ref ref = { 0 };
      cleanup_free char *fam = NULL;
      if (image_ref_parse (*t, &ref, NULL) == 0)
        fam = image_ref_familiar (&ref);
      image_ref_free (&ref);
      r = build_say (b, "Successfully tagged %s\n", fam ? fam : *t);
    }
  if (r == 0 && b->req->quiet)
    {
      cleanup_free char *line = NULL;
      if (asprintf (&line, "%s\n", id) > 0)
        r = emit_stream (b, line);
    }
  *image_id = take_ptr (id);
  return r;
}

static int warn_unused_args (struct build *b)
{
  const char *k;
  json_t *v;
  cleanup_free char *list = NULL;
  json_object_foreach (b->req->build_args, k, v)
    {
      if (strv_get (b->used_args, k) || build_arg_is_proxy (k))
        continue;
      char *t = NULL;
      if (asprintf (&t, "%s%s%s", list ? list : "", list ? " " : "", k) < 0)
        return -ENOMEM;
      free (list);
      list = t;
    }
  if (list == NULL)
    return 0;
  return build_say (b, "[Warning] One or more build-args [%s] were not consumed\n", list);
}

int build_run (struct berthd *d, const struct build_request *req, char **image_id, berth_err *err)
{
  struct build b = { .d = d, .req = req };
  struct dockerfile *label_df = NULL;
  struct df_instr label_in;
  int r = load_dockerfile (&b, err);
  size_t target = r == 0 ? target_index (&b, err) : 0;
  if (r == 0 && target == (size_t) -1)
    r = -EINVAL;
  int has_label = r == 0 ? label_instr_make (&b, &label_in, &label_df, err) : 0;
  if (has_label < 0)
    r = has_label;
  if (r == 0)
    {
      b.nstages = target + 1;
      b.stages = calloc (b.nstages, sizeof *b.stages);
      if (b.stages == NULL)
        r = berth_fail (err, ENOMEM, "build");
      b.nsteps = (int) b.df->nmeta_args + (has_label > 0);
      for (size_t i = 0; r == 0 && i < b.nstages; i++)
        {
          b.stages[i].index = (int) i;
          b.stages[i].name = b.df->stages[i].name ? strdup (b.df->stages[i].name) : NULL;
          b.nsteps += 1 + (int) b.df->stages[i].ninstrs;
        }
    }
  if (r == 0)
    r = meta_args_step (&b, err);
  for (size_t i = 0; r == 0 && i < b.nstages; i++)
    r = build_stage (&b, i, i == target && has_label > 0 ? &label_in : NULL, err);
  if (r == 0)
    r = warn_unused_args (&b);
  if (r == 0)
    r = finish (&b, &b.stages[target], image_id, err);
  berth_debug ("build: step %d took %.1f ms", b.step, mono_ms () - b.step_start);
  if (r == -EPIPE && err && *err == NULL)
    berth_fail (err, EPIPE, "the client went away");
  if (label_df)
    dockerfile_free (label_df);
  build_free (&b);
  return r;
}
