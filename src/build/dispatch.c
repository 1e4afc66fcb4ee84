/* The metadata instructions: each changes the stage's config and returns
 * the history text Docker's classic builder writes for it
 * ("/bin/sh -c #(nop)  ENV A=b"). */
#include "build/builder.h"
#include "common/cleanup.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*meta_fn) (struct build *b, struct stage *st, const struct df_instr *in, char **text, berth_err *err);

static int expand (struct build *b, struct stage *st, const char *word, char **out, berth_err *err)
{
  cleanup_strv char **env = stage_expand_env (st);
  return dockerfile_expand_word (word, b->df->escape, (const char *const *) env, out, err);
}

/* Go's %q of a []string: ["a" "b"]. */
static char *go_quote_list (json_t *arr)
{
  size_t i;
  json_t *e;
  char *s = strdup ("[");
  json_array_foreach (arr, i, e)
    {
      cleanup_free char *q = json_dumps (e, JSON_ENCODE_ANY);
      char *t = NULL;
      if (s == NULL || q == NULL || asprintf (&t, "%s%s%s", s, i ? " " : "", q) < 0)
        {
          free (s);
          return NULL;
        }
      free (s);
      s = t;
    }
  char *t = NULL;
  if (s == NULL || asprintf (&t, "%s]", s) < 0)
    t = NULL;
  free (s);
  return t;
}

/* The command of CMD/ENTRYPOINT/HEALTHCHECK: the exec form as is, the
 * shell form run by the stage's SHELL (default /bin/sh -c). */
json_t *build_command (struct stage *st, const struct df_instr *in, size_t from);
json_t *build_command (struct stage *st, const struct df_instr *in, size_t from)
{
  json_t *cmd = json_array ();
  if (in->json_form)
    {
      for (size_t i = from; i < in->nargs; i++)
        json_array_append_new (cmd, json_string (in->args[i]));
      return cmd;
    }
  json_t *shell = json_object_get (stage_config (st), "Shell");
  if (json_is_array (shell) && json_array_size (shell) > 0)
    json_array_extend (cmd, shell);
  else
    {
      json_array_append_new (cmd, json_string ("/bin/sh"));
      json_array_append_new (cmd, json_string ("-c"));
    }
  json_array_append_new (cmd, json_string (in->nargs > from ? in->args[from] : ""));
  return cmd;
}

static int with_list (const char *what, json_t *list, char **text)
{
  cleanup_free char *q = go_quote_list (list);
  return q && asprintf (text, "/bin/sh -c #(nop)  %s %s", what, q) >= 0 ? 0 : -ENOMEM;
}

static int do_cmd (struct build *b, struct stage *st, const struct df_instr *in, char **text, berth_err *err)
{
  (void) b;
  (void) err;
  json_t *cmd = build_command (st, in, 0);
  json_object_set_new (stage_config (st), "Cmd", cmd);
  st->cmd_set = true;
  return with_list ("CMD", cmd, text);
}

static int do_entrypoint (struct build *b, struct stage *st, const struct df_instr *in, char **text, berth_err *err)
{
  (void) b;
  (void) err;
  json_t *ep = build_command (st, in, 0);
  /* An empty exec form ENTRYPOINT [] clears it. */
  json_object_set_new (stage_config (st), "Entrypoint", json_array_size (ep) ? ep : json_null ());
  if (!st->cmd_set)
    json_object_set_new (stage_config (st), "Cmd", json_null ());
  int r = with_list ("ENTRYPOINT", json_array_size (ep) ? ep : json_array (), text);
  if (json_array_size (ep) == 0)
    json_decref (ep);
  return r;
}

static int do_shell (struct build *b, struct stage *st, const struct df_instr *in, char **text, berth_err *err)
{
  (void) b;
  if (!in->json_form)
    return berth_fail_as (err, EINVAL, "SHELL requires the arguments to be in JSON form");
  json_t *sh = build_command (st, in, 0);
  json_object_set_new (stage_config (st), "Shell", sh);
  return with_list ("SHELL", sh, text);
}

/* KEY=VALUE pairs into an Env list (replacing a variable of the same
 * name) or a Labels object. */
static int pairs (struct build *b, struct stage *st, const struct df_instr *in, bool env, char **text,
                  berth_err *err)
{
  json_t *config = stage_config (st);
  cleanup_free char *msg = strdup (env ? "/bin/sh -c #(nop)  ENV" : "/bin/sh -c #(nop)  LABEL");
  /* Every word expands against the environment before the instruction. */
  cleanup_strv char **envv = stage_expand_env (st);
  for (size_t i = 0; i + 1 < in->nargs + 1 && i + 1 <= in->nargs; i += 2)
    {
      cleanup_free char *k = NULL, *v = NULL;
      int r = dockerfile_expand_word (in->args[i], b->df->escape, (const char *const *) envv, &k, err);
      if (r == 0)
        r = dockerfile_expand_word (i + 1 < in->nargs ? in->args[i + 1] : "", b->df->escape,
                                    (const char *const *) envv, &v, err);
      if (r < 0)
        return r;
      if (*k == '\0')
        return berth_fail_as (err, EINVAL, "%s names can not be blank", env ? "ENV" : "LABEL");
      char *t = NULL;
      if (msg == NULL || asprintf (&t, "%s %s=%s", msg, k, v) < 0)
        return berth_fail (err, ENOMEM, "ENV");
      free (msg);
      msg = t;
      if (!env)
        {
          if (!json_is_object (json_object_get (config, "Labels")))
            json_object_set_new (config, "Labels", json_object ());
          json_object_set_new (json_object_get (config, "Labels"), k, json_string (v));
          continue;
        }
      json_t *list = json_object_get (config, "Env");
      if (!json_is_array (list))
        json_object_set_new (config, "Env", list = json_array ());
      cleanup_free char *kv = NULL;
      if (asprintf (&kv, "%s=%s", k, v) < 0)
        return berth_fail (err, ENOMEM, "ENV");
      size_t idx, klen = strlen (k);
      json_t *e;
      bool replaced = false;
      json_array_foreach (list, idx, e)
        {
          const char *s = json_string_value (e);
          if (s && strncmp (s, k, klen) == 0 && (s[klen] == '=' || s[klen] == '\0'))
            {
              json_array_set_new (list, idx, json_string (kv));
              replaced = true;
              break;
            }
        }
      if (!replaced)
        json_array_append_new (list, json_string (kv));
    }
  *text = take_ptr (msg);
  return 0;
}

static int do_env (struct build *b, struct stage *st, const struct df_instr *in, char **text, berth_err *err)
{
  return pairs (b, st, in, true, text, err);
}

static int do_label (struct build *b, struct stage *st, const struct df_instr *in, char **text, berth_err *err)
{
  return pairs (b, st, in, false, text, err);
}

/* One string-valued config field from the instruction's words. */
static int one_word (struct build *b, struct stage *st, const struct df_instr *in, const char *field,
                     const char *what, char **text, berth_err *err)
{
  if (in->nargs != 1)
    return berth_fail_as (err, EINVAL, "%s requires exactly one argument", what);
  cleanup_free char *v = NULL;
  int r = expand (b, st, in->args[0], &v, err);
  if (r < 0)
    return r;
  json_object_set_new (stage_config (st), field, json_string (v));
  return asprintf (text, "/bin/sh -c #(nop)  %s %s", what, v) < 0 ? -ENOMEM : 0;
}

static int do_user (struct build *b, struct stage *st, const struct df_instr *in, char **text, berth_err *err)
{
  return one_word (b, st, in, "User", "USER", text, err);
}

static int do_stopsignal (struct build *b, struct stage *st, const struct df_instr *in, char **text, berth_err *err)
{
  return one_word (b, st, in, "StopSignal", "STOPSIGNAL", text, err);
}

/* WORKDIR: relative paths continue from the current one. */
static int do_workdir (struct build *b, struct stage *st, const struct df_instr *in, char **text, berth_err *err)
{
  if (in->nargs != 1)
    return berth_fail_as (err, EINVAL, "WORKDIR requires exactly one argument");
  cleanup_free char *v = NULL, *joined = NULL;
  int r = expand (b, st, in->args[0], &v, err);
  if (r < 0)
    return r;
  const char *cur = json_string_value (json_object_get (stage_config (st), "WorkingDir"));
  if (asprintf (&joined, "%s/%s", v[0] == '/' ? "" : (cur && *cur ? cur : ""), v) < 0)
    return berth_fail (err, ENOMEM, "WORKDIR");
  /* Clean: drop "." and "//", resolve ".." lexically. */
  cleanup_free char *clean = calloc (1, strlen (joined) + 2);
  if (clean == NULL)
    return berth_fail (err, ENOMEM, "WORKDIR");
  char *save = NULL;
  for (char *c = strtok_r (joined, "/", &save); c; c = strtok_r (NULL, "/", &save))
    {
      if (strcmp (c, ".") == 0)
        continue;
      if (strcmp (c, "..") == 0)
        {
          char *slash = strrchr (clean, '/');
          if (slash)
            *slash = '\0';
          continue;
        }
      strcat (clean, "/");
      strcat (clean, c);
    }
  if (*clean == '\0')
    strcpy (clean, "/");
  json_object_set_new (stage_config (st), "WorkingDir", json_string (clean));
  return asprintf (text, "/bin/sh -c #(nop) WORKDIR %s", clean) < 0 ? -ENOMEM : 0;
}

/* EXPOSE 80 443/tcp 53/udp 8000-8002 */
static int do_expose (struct build *b, struct stage *st, const struct df_instr *in, char **text, berth_err *err)
{
  json_t *config = stage_config (st);
  if (!json_is_object (json_object_get (config, "ExposedPorts")))
    json_object_set_new (config, "ExposedPorts", json_object ());
  json_t *ports = json_object_get (config, "ExposedPorts");
  cleanup_free char *msg = strdup ("/bin/sh -c #(nop)  EXPOSE");
  for (size_t i = 0; i < in->nargs; i++)
    {
      cleanup_free char *v = NULL;
      int r = expand (b, st, in->args[i], &v, err);
      if (r < 0)
        return r;
      char *slash = strchr (v, '/');
      const char *proto = slash ? slash + 1 : "tcp";
      if (slash)
        *slash = '\0';
      for (char *p = slash ? slash + 1 : NULL; p && *p; p++)
        *p = (char) tolower ((unsigned char) *p);
      char *end = NULL;
      long lo = strtol (v, &end, 10), hi = lo;
      if (end && *end == '-')
        hi = strtol (end + 1, &end, 10);
      if (end == v || *end || lo < 0 || hi > 65535 || hi < lo
          || (strcmp (proto, "tcp") && strcmp (proto, "udp") && strcmp (proto, "sctp")))
        return berth_fail_as (err, EINVAL, "Invalid containerPort: %s", in->args[i]);
      for (long p = lo; p <= hi; p++)
        {
          char key[32];
          snprintf (key, sizeof key, "%ld/%s", p, proto);
          json_object_set_new (ports, key, json_object ());
          char *t = NULL;
          if (asprintf (&t, "%s %s", msg, key) < 0)
            return berth_fail (err, ENOMEM, "EXPOSE");
          free (msg);
          msg = t;
        }
    }
  *text = take_ptr (msg);
  return 0;
}

static int do_volume (struct build *b, struct stage *st, const struct df_instr *in, char **text, berth_err *err)
{
  json_t *config = stage_config (st);
  if (!json_is_object (json_object_get (config, "Volumes")))
    json_object_set_new (config, "Volumes", json_object ());
  json_t *list = json_array ();
  for (size_t i = 0; i < in->nargs; i++)
    {
      cleanup_strv char **words = NULL;
      cleanup_strv char **env = stage_expand_env (st);
      int r = in->json_form ? 0
                            : dockerfile_expand_words (in->args[i], b->df->escape, (const char *const *) env,
                                                       &words, err);
      if (r < 0)
        {
          json_decref (list);
          return r;
        }
      if (in->json_form)
        json_array_append_new (list, json_string (in->args[i]));
      for (char **w = words; w && *w; w++)
        json_array_append_new (list, json_string (*w));
    }
  size_t i;
  json_t *v;
  json_array_foreach (list, i, v)
    {
      if (*json_string_value (v) == '\0')
        {
          json_decref (list);
          return berth_fail_as (err, EINVAL, "VOLUME specified can not be an empty string");
        }
      json_object_set_new (json_object_get (config, "Volumes"), json_string_value (v), json_object ());
    }
  int r = with_list ("VOLUME", list, text);
  json_decref (list);
  return r;
}

/* Go durations as HEALTHCHECK takes them: "30s", "1m30s", "500ms". */
static int parse_duration (const char *s, int64_t *ns)
{
  int64_t total = 0;
  if (*s == '\0')
    return -EINVAL;
  while (*s)
    {
      char *end = NULL;
      double v = strtod (s, &end);
      if (end == s)
        return -EINVAL;
      s = end;
      double unit;
      if (strncmp (s, "ns", 2) == 0)
        unit = 1, s += 2;
      else if (strncmp (s, "us", 2) == 0)
        unit = 1e3, s += 2;
      else if (strncmp (s, "ms", 2) == 0)
        unit = 1e6, s += 2;
      else if (*s == 's')
        unit = 1e9, s++;
      else if (*s == 'm')
        unit = 60e9, s++;
      else if (*s == 'h')
        unit = 3600e9, s++;
      else if (v == 0 && *s == '\0')
        unit = 0;
      else
        return -EINVAL;
      total += (int64_t) (v * unit);
    }
  *ns = total;
  return 0;
}

static int do_healthcheck (struct build *b, struct stage *st, const struct df_instr *in, char **text, berth_err *err)
{
  (void) b;
  json_t *config = stage_config (st);
  if (in->nargs >= 1 && strcasecmp (in->args[0], "NONE") == 0)
    {
      json_object_set_new (config, "Healthcheck", json_pack ("{s:[s]}", "Test", "NONE"));
      return asprintf (text, "/bin/sh -c #(nop)  HEALTHCHECK NONE") < 0 ? -ENOMEM : 0;
    }
  json_t *test = json_array ();
  json_array_append_new (test, json_string (in->json_form ? "CMD" : "CMD-SHELL"));
  for (size_t i = 1; i < in->nargs; i++)
    json_array_append_new (test, json_string (in->args[i]));
  json_t *hc = json_pack ("{s:o}", "Test", test);
  static const struct
  {
    const char *flag, *field;
  } durations[] = { { "interval", "Interval" },
                    { "timeout", "Timeout" },
                    { "start-period", "StartPeriod" },
                    { "start-interval", "StartInterval" } };
  for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++)
    {
      const char *v = df_flag_value (in, durations[i].flag);
      int64_t ns = 0;
      if (v == NULL)
        continue;
      if (parse_duration (v, &ns) < 0 || (ns != 0 && ns < 1000000))
        {
          json_decref (hc);
          return berth_fail_as (err, EINVAL, "Interval \"%s\" cannot be less than 1ms", durations[i].flag);
        }
      json_object_set_new (hc, durations[i].field, json_integer (ns));
    }
  const char *retries = df_flag_value (in, "retries");
  if (retries)
    {
      char *end = NULL;
      long n = strtol (retries, &end, 10);
      if (*end || n < 0)
        {
          json_decref (hc);
          return berth_fail_as (err, EINVAL, "--retries cannot be negative (%s)", retries);
        }
      json_object_set_new (hc, "Retries", json_integer (n));
    }
  json_object_set_new (config, "Healthcheck", hc);
  cleanup_free char *dump = json_dumps (hc, JSON_COMPACT | JSON_SORT_KEYS);
  return dump && asprintf (text, "/bin/sh -c #(nop)  HEALTHCHECK %s", dump) >= 0 ? 0 : -ENOMEM;
}

static int do_onbuild (struct build *b, struct stage *st, const struct df_instr *in, char **text, berth_err *err)
{
  (void) b;
  if (in->nargs < 1)
    return berth_fail_as (err, EINVAL, "ONBUILD requires at least one argument");
  if (in->onbuild && (in->onbuild->kind == DF_ONBUILD || in->onbuild->kind == DF_FROM
                      || in->onbuild->kind == DF_MAINTAINER))
    return berth_fail_as (err, EINVAL, "%s isn't allowed as an ONBUILD trigger", df_kind_name (in->onbuild->kind));
  json_t *config = stage_config (st);
  if (!json_is_array (json_object_get (config, "OnBuild")))
    json_object_set_new (config, "OnBuild", json_array ());
  json_array_append_new (json_object_get (config, "OnBuild"), json_string (in->args[0]));
  return asprintf (text, "/bin/sh -c #(nop)  ONBUILD %s", in->args[0]) < 0 ? -ENOMEM : 0;
}

static int do_maintainer (struct build *b, struct stage *st, const struct df_instr *in, char **text, berth_err *err)
{
  cleanup_free char *v = NULL;
  int r = expand (b, st, in->nargs ? in->args[0] : "", &v, err);
  if (r < 0)
    return r;
  json_object_set_new (st->image, "author", json_string (v));
  return asprintf (text, "/bin/sh -c #(nop)  MAINTAINER %s", v) < 0 ? -ENOMEM : 0;
}

/* ARG (its scoping is done by the builder): the history text only. */
static int do_arg (struct build *b, struct stage *st, const struct df_instr *in, char **text, berth_err *err)
{
  (void) st;
  cleanup_free char *msg = strdup ("/bin/sh -c #(nop)  ARG");
  for (size_t i = 0; i < in->nargs; i++)
    {
      cleanup_free char *w = NULL;
      cleanup_strv char **none = calloc (1, sizeof (char *));
      int r = dockerfile_expand_word (in->args[i], b->df->escape, (const char *const *) none, &w, err);
      if (r < 0)
        return r;
      char *t = NULL;
      if (msg == NULL || asprintf (&t, "%s %s", msg, w) < 0)
        return berth_fail (err, ENOMEM, "ARG");
      free (msg);
      msg = t;
    }
  *text = take_ptr (msg);
  return 0;
}

int dispatch_meta (struct build *b, struct stage *st, const struct df_instr *in, char **created_by, berth_err *err)
{
  static const meta_fn fns[] = {
    [DF_CMD] = do_cmd,         [DF_ENTRYPOINT] = do_entrypoint, [DF_ENV] = do_env,
    [DF_ARG] = do_arg,         [DF_WORKDIR] = do_workdir,       [DF_USER] = do_user,
    [DF_EXPOSE] = do_expose,   [DF_LABEL] = do_label,           [DF_VOLUME] = do_volume,
    [DF_STOPSIGNAL] = do_stopsignal, [DF_HEALTHCHECK] = do_healthcheck, [DF_ONBUILD] = do_onbuild,
    [DF_SHELL] = do_shell,     [DF_MAINTAINER] = do_maintainer,
  };
  *created_by = NULL;
  if ((size_t) in->kind >= sizeof fns / sizeof fns[0] || fns[in->kind] == NULL)
    return berth_fail_as (err, EINVAL, "%s is not a metadata instruction", df_kind_name (in->kind));
  int r = fns[in->kind](b, st, in, created_by, err);
  if (r == -ENOMEM && err && *err == NULL)
    return berth_fail (err, ENOMEM, "%s", df_kind_name (in->kind));
  return r;
}
