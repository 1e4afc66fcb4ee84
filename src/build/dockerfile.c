/* The Dockerfile parser: Docker's (moby/buildkit frontend/dockerfile
 * parser + instructions) rules, by hand since no C library parses
 * Dockerfiles.  Two passes in one:
 *  1. physical lines → logical instructions: parser directives at the top,
 *     comments, continuations with the escape character (blank and comment
 *     lines inside a continuation skipped), heredoc bodies after the line;
 *  2. each instruction: the keyword, the `--flags`, then the arguments as
 *     Docker splits them for that keyword (JSON form, whitespace words,
 *     quoted words, key=value pairs...), checked as Docker checks them.
 * Error messages are Docker's (dockerd 20.10's classic builder), always
 * with the line: "dockerfile parse error line N: ...". */
#include "build/dockerfile.h"
#include "build/shell-word.h"
#include "build/strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"

/* ---- the keyword table ---- */

enum flag_type { FLAG_BOOL, FLAG_STRING, FLAG_STRINGS };

struct flag_def {
  const char *name;
  enum flag_type type;
};

static const struct flag_def from_flags[] = { { "platform", FLAG_STRING }, { NULL, 0 } };
static const struct flag_def run_flags[] = {
  { "mount", FLAG_STRINGS }, { "network", FLAG_STRING }, { "security", FLAG_STRING }, { NULL, 0 }
};
static const struct flag_def copy_flags[] = {
  { "from", FLAG_STRING }, { "chown", FLAG_STRING }, { "chmod", FLAG_STRING }, { "link", FLAG_BOOL },
  { "parents", FLAG_BOOL }, { "exclude", FLAG_STRINGS }, { NULL, 0 }
};
static const struct flag_def add_flags[] = {
  { "chown", FLAG_STRING }, { "chmod", FLAG_STRING }, { "link", FLAG_BOOL }, { "keep-git-dir", FLAG_BOOL },
  { "checksum", FLAG_STRING }, { "exclude", FLAG_STRINGS }, { "unpack", FLAG_BOOL }, { NULL, 0 }
};
static const struct flag_def health_flags[] = {
  { "interval", FLAG_STRING }, { "timeout", FLAG_STRING }, { "start-period", FLAG_STRING },
  { "start-interval", FLAG_STRING }, { "retries", FLAG_STRING }, { NULL, 0 }
};
static const struct flag_def no_flags[] = { { NULL, 0 } };

static const struct keyword {
  const char *name;
  enum df_kind kind;
  const struct flag_def *flags;
} keywords[] = {
  { "FROM", DF_FROM, from_flags },
  { "RUN", DF_RUN, run_flags },
  { "CMD", DF_CMD, no_flags },
  { "ENTRYPOINT", DF_ENTRYPOINT, no_flags },
  { "COPY", DF_COPY, copy_flags },
  { "ADD", DF_ADD, add_flags },
  { "ENV", DF_ENV, no_flags },
  { "ARG", DF_ARG, no_flags },
  { "WORKDIR", DF_WORKDIR, no_flags },
  { "USER", DF_USER, no_flags },
  { "EXPOSE", DF_EXPOSE, no_flags },
  { "LABEL", DF_LABEL, no_flags },
  { "VOLUME", DF_VOLUME, no_flags },
  { "STOPSIGNAL", DF_STOPSIGNAL, no_flags },
  { "HEALTHCHECK", DF_HEALTHCHECK, health_flags },
  { "ONBUILD", DF_ONBUILD, no_flags },
  { "SHELL", DF_SHELL, no_flags },
  { "MAINTAINER", DF_MAINTAINER, no_flags },
};

const char *df_kind_name (enum df_kind k)
{
  for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
    if (keywords[i].kind == k)
      return keywords[i].name;
  return "?";
}

static const struct keyword *keyword_lookup (const char *word, size_t n)
{
  for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
    if (strlen (keywords[i].name) == n && strncasecmp (keywords[i].name, word, n) == 0)
      return &keywords[i];
  return NULL;
}

/* ---- errors ---- */

static int parse_error (berth_err *err, int line, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

static int parse_error (berth_err *err, int line, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  return berth_fail_as (err, EINVAL, "dockerfile parse error line %d: %s", line, msg);
}

/* ---- freeing ---- */

static void strv_free (char **v)
{
  if (v == NULL)
    return;
  for (char **p = v; *p; p++)
    free (*p);
  free (v);
}

static void instr_clear (struct df_instr *in)
{
  free (in->original);
  strv_free (in->args);
  for (size_t i = 0; i < in->nflags; i++)
    {
      free (in->flags[i].name);
      free (in->flags[i].value);
    }
  free (in->flags);
  for (size_t i = 0; i < in->nheredocs; i++)
    {
      free (in->heredocs[i].name);
      free (in->heredocs[i].content);
    }
  free (in->heredocs);
  if (in->onbuild)
    {
      instr_clear (in->onbuild);
      free (in->onbuild);
    }
  memset (in, 0, sizeof *in);
}

void dockerfile_free (struct dockerfile *df)
{
  if (df == NULL)
    return;
  for (size_t i = 0; i < df->nmeta_args; i++)
    instr_clear (&df->meta_args[i]);
  free (df->meta_args);
  for (size_t s = 0; s < df->nstages; s++)
    {
      struct df_stage *st = &df->stages[s];
      for (size_t i = 0; i < st->ninstrs; i++)
        instr_clear (&st->instrs[i]);
      free (st->instrs);
      free (st->name);
      free (st->base);
      free (st->platform);
    }
  free (df->stages);
  free (df);
}

/* ---- flag lookup ---- */

const char *df_flag_value (const struct df_instr *in, const char *name)
{
  const char *v = NULL;
  for (size_t i = 0; i < in->nflags; i++)
    if (strcmp (in->flags[i].name, name) == 0)
      v = in->flags[i].value; /* a repeated (list) flag: the last one */
  return v;
}

bool df_flag_present (const struct df_instr *in, const char *name)
{
  for (size_t i = 0; i < in->nflags; i++)
    if (strcmp (in->flags[i].name, name) == 0)
      return true;
  return false;
}

bool df_flag_bool (const struct df_instr *in, const char *name)
{
  for (size_t i = 0; i < in->nflags; i++)
    if (strcmp (in->flags[i].name, name) == 0)
      return in->flags[i].value == NULL || strcasecmp (in->flags[i].value, "true") == 0;
  return false;
}

/* ---- small string helpers (Go's strings.TrimSpace etc.) ---- */

static bool ws (int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
/* Docker's tokenWhitespace: [\t\v\f\r ]+ (no \n: lines are joined). */
static bool tok_ws (int c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'; }

static char *trim_dup (const char *s, size_t n)
{
  while (n > 0 && ws ((unsigned char) *s))
    s++, n--;
  while (n > 0 && ws ((unsigned char) s[n - 1]))
    n--;
  char *r = strndup (s, n);
  if (r == NULL)
    abort ();
  return r;
}

static char *xstrdup (const char *s)
{
  char *r = strdup (s);
  if (r == NULL)
    abort ();
  return r;
}

/* Docker's parseStringsWhitespaceDelimited: split on [\t\v\f\r ]+. */
static void split_whitespace (const char *rest, struct strvec *out)
{
  const char *p = rest;
  while (*p)
    {
      while (*p && tok_ws ((unsigned char) *p))
        p++;
      if (!*p)
        break;
      const char *start = p;
      while (*p && !tok_ws ((unsigned char) *p))
        p++;
      strvec_pushn (out, start, p - start);
    }
}

/* Docker's parseWords: words separated by whitespace, quotes and escapes
 * kept but quoted whitespace not splitting. */
static void parse_words (const char *rest, char escape, struct strvec *out)
{
  enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
  struct strbuf word = { 0 };
  bool blank_ok = false;
  char quote = 0;
  size_t len = strlen (rest);
  for (size_t pos = 0; pos <= len; pos++)
    {
      char ch = pos < len ? rest[pos] : 0;
      if (phase == IN_SPACES)
        {
          if (pos == len)
            break;
          if (ws ((unsigned char) ch))
            continue;
          phase = IN_WORD;
        }
      if (pos == len)
        {
          if (blank_ok || word.len > 0)
            strvec_push (out, strbuf_take (&word));
          break;
        }
      if (phase == IN_WORD)
        {
          if (ws ((unsigned char) ch))
            {
              phase = IN_SPACES;
              if (blank_ok || word.len > 0)
                strvec_push (out, strbuf_take (&word));
              strbuf_release (&word);
              blank_ok = false;
              continue;
            }
          if (ch == '\'' || ch == '"')
            {
              quote = ch;
              blank_ok = true;
              phase = IN_QUOTE;
            }
          if (ch == escape)
            {
              if (pos + 1 == len)
                continue; /* an escape at the end of the line is dropped */
              strbuf_addc (&word, ch);
              ch = rest[++pos];
            }
          strbuf_addc (&word, ch);
          continue;
        }
      /* IN_QUOTE */
      if (ch == quote)
        phase = IN_WORD;
      if (ch == escape && quote != '\'')
        {
          if (pos + 1 == len)
            {
              phase = IN_WORD;
              continue;
            }
          strbuf_addc (&word, ch);
          ch = rest[++pos];
        }
      strbuf_addc (&word, ch);
    }
  strbuf_release (&word);
}

/* Docker's extractBuilderFlags: leading `--name[=value]` words (quotes
 * and backslashes processed), up to the first other word or a lone "--".
 * *REST points into LINE after the flags. */
static void extract_flags (const char *line, struct strvec *flags, const char **rest)
{
  enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
  struct strbuf word = { 0 };
  bool blank_ok = false;
  char quote = 0;
  size_t len = strlen (line);
  *rest = line + len;
  for (size_t pos = 0; pos <= len; pos++)
    {
      char ch = pos < len ? line[pos] : 0;
      if (phase == IN_SPACES)
        {
          if (pos == len)
            break;
          if (ws ((unsigned char) ch))
            continue;
          if (ch != '-' || pos + 1 == len || line[pos + 1] != '-')
            {
              *rest = line + pos;
              break;
            }
          phase = IN_WORD;
        }
      if (pos == len)
        {
          if (!(word.len == 2 && strcmp (word.s, "--") == 0) && (blank_ok || word.len > 0))
            strvec_push (flags, strbuf_take (&word));
          break;
        }
      if (phase == IN_WORD)
        {
          if (ws ((unsigned char) ch))
            {
              phase = IN_SPACES;
              if (word.len == 2 && strcmp (word.s, "--") == 0)
                {
                  *rest = line + pos;
                  break;
                }
              if (blank_ok || word.len > 0)
                strvec_push (flags, strbuf_take (&word));
              strbuf_release (&word);
              blank_ok = false;
              continue;
            }
          if (ch == '\'' || ch == '"')
            {
              quote = ch;
              blank_ok = true;
              phase = IN_QUOTE;
              continue;
            }
          if (ch == '\\')
            {
              if (pos + 1 == len)
                continue;
              ch = line[++pos];
            }
          strbuf_addc (&word, ch);
          continue;
        }
      /* IN_QUOTE */
      if (ch == quote)
        {
          phase = IN_WORD;
          continue;
        }
      if (ch == '\\')
        {
          if (pos + 1 == len)
            {
              phase = IN_WORD;
              continue;
            }
          ch = line[++pos];
        }
      strbuf_addc (&word, ch);
    }
  strbuf_release (&word);
}

/* Docker's BFlags.Parse over the extracted words. */
static int check_flags (struct df_instr *in, char **words, const struct flag_def *defs, int line, berth_err *err)
{
  size_t n = 0;
  for (char **w = words; *w; w++)
    n++;
  in->flags = calloc (n ? n : 1, sizeof *in->flags);
  if (in->flags == NULL)
    abort ();
  for (char **w = words; *w; w++)
    {
      const char *arg = *w;
      if (strncmp (arg, "--", 2) != 0)
        return parse_error (err, line, "Arg \"%s\" must start with '--'", arg);
      arg += 2;
      const char *eq = strchr (arg, '=');
      size_t nlen = eq ? (size_t) (eq - arg) : strlen (arg);
      const struct flag_def *def = NULL;
      for (const struct flag_def *d = defs; d->name; d++)
        if (strlen (d->name) == nlen && strncmp (d->name, arg, nlen) == 0)
          def = d;
      if (def == NULL)
        return parse_error (err, line, "Unknown flag: %.*s", (int) nlen, arg);
      if (def->type != FLAG_STRINGS && df_flag_present (in, def->name))
        return parse_error (err, line, "Duplicate flag specified: %s", def->name);
      const char *value = eq ? eq + 1 : NULL;
      if (def->type == FLAG_BOOL)
        {
          if (eq && *value == '\0')
            return parse_error (err, line, "Missing a value on flag: %s", def->name);
          if (value && strcasecmp (value, "true") != 0 && strcasecmp (value, "false") != 0)
            return parse_error (err, line, "expecting boolean value for flag %s, not: %s", def->name, value);
        }
      else if (value == NULL)
        return parse_error (err, line, "Missing a value on flag: %s", def->name);
      in->flags[in->nflags].name = xstrdup (def->name);
      in->flags[in->nflags].value = value ? xstrdup (value) : NULL;
      in->nflags++;
    }
  return 0;
}

/* ---- argument shapes ---- */

#define NOT_JSON 1

/* Docker's parseJSON: REST (left-trimmed) starts with '[' and decodes as a
 * JSON array (trailing text ignored, as Go's json.Decoder does).  Returns
 * NOT_JSON if it is not one, an error if it is an array of non-strings. */
static int parse_json_array (const char *rest, struct strvec *out, int line, berth_err *err)
{
  while (ws ((unsigned char) *rest))
    rest++;
  if (*rest != '[')
    return NOT_JSON;
  json_error_t jerr;
  json_t *arr = json_loads (rest, JSON_DISABLE_EOF_CHECK, &jerr);
  if (arr == NULL || !json_is_array (arr))
    {
      json_decref (arr);
      return NOT_JSON;
    }
  size_t i;
  json_t *v;
  json_array_foreach (arr, i, v)
  {
    if (!json_is_string (v))
      {
        json_decref (arr);
        strvec_release (out);
        return parse_error (err, line, "when using JSON array syntax, arrays must be comprised of strings only");
      }
    strvec_pushn (out, json_string_value (v), json_string_length (v));
  }
  json_decref (arr);
  return 0;
}

/* parseMaybeJSON (RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK's command). */
static int parse_maybe_json (struct df_instr *in, const char *rest, struct strvec *args, int line, berth_err *err)
{
  if (*rest == '\0')
    return 0;
  int r = parse_json_array (rest, args, line, err);
  if (r < 0)
    return r;
  if (r == 0)
    {
      in->json_form = true;
      return 0;
    }
  strvec_push (args, xstrdup (rest));
  return 0;
}

/* parseMaybeJSONToList (COPY, ADD, VOLUME). */
static int parse_maybe_json_list (struct df_instr *in, const char *rest, struct strvec *args, int line,
                                  berth_err *err)
{
  int r = parse_json_array (rest, args, line, err);
  if (r < 0)
    return r;
  if (r == 0)
    {
      in->json_form = true;
      return 0;
    }
  split_whitespace (rest, args);
  return 0;
}

/* parseNameVal (ENV, LABEL): `KEY=VALUE ...` or the legacy `KEY value`. */
static int parse_name_val (const char *rest, const char *key, struct strvec *args, char escape, int line,
                           berth_err *err)
{
  struct strvec words = { 0 };
  parse_words (rest, escape, &words);
  if (words.n == 0)
    return 0;
  if (strchr (words.v[0], '=') == NULL)
    {
      strvec_release (&words);
      const char *p = rest;
      while (*p && !tok_ws ((unsigned char) *p))
        p++;
      const char *v = p;
      while (*v && tok_ws ((unsigned char) *v))
        v++;
      if (*p == '\0')
        return parse_error (err, line, "%s must have two arguments", key);
      strvec_pushn (args, rest, p - rest);
      strvec_push (args, xstrdup (v));
      return 0;
    }
  for (size_t i = 0; i < words.n; i++)
    {
      char *eq = strchr (words.v[i], '=');
      if (eq == NULL)
        {
          int r = parse_error (err, line, "Syntax error - can't find = in \"%s\". Must be of the form: name=value",
                               words.v[i]);
          strvec_release (&words);
          return r;
        }
      strvec_pushn (args, words.v[i], eq - words.v[i]);
      strvec_push (args, xstrdup (eq + 1));
    }
  strvec_release (&words);
  return 0;
}

/* ---- one instruction ---- */

static int parse_line (const char *line, int lineno, char escape, struct df_instr *in, bool in_onbuild,
                       berth_err *err);

static int nargs_error (struct df_instr *in, int line, const char *what, berth_err *err)
{
  return parse_error (err, line, "%s requires %s", df_kind_name (in->kind), what);
}

/* The per-keyword argument parsing and checks (Docker's parser dispatch
 * table and instructions.Parse*). */
static int parse_args (struct df_instr *in, const char *rest, struct strvec *args, char escape, int line,
                       bool in_onbuild, berth_err *err)
{
  int r;
  switch (in->kind)
    {
    case DF_FROM:
      split_whitespace (rest, args);
      if (args->n == 3 && strcasecmp (args->v[1], "as") == 0)
        {
          const char *name = args->v[2];
          bool ok = isalpha ((unsigned char) name[0]);
          for (const char *c = name; ok && *c; c++)
            ok = isalnum ((unsigned char) *c) || *c == '-' || *c == '_' || *c == '.';
          if (!ok)
            return parse_error (err, line,
                                "invalid name for build stage: \"%s\", name can't start with a number or contain symbols",
                                name);
        }
      else if (args->n != 1)
        return parse_error (err, line, "FROM requires either one or three arguments");
      return 0;
    case DF_RUN:
    case DF_CMD:
    case DF_ENTRYPOINT:
      return parse_maybe_json (in, rest, args, line, err);
    case DF_SHELL:
      r = parse_maybe_json (in, rest, args, line, err);
      if (r < 0)
        return r;
      if (args->n == 0)
        return nargs_error (in, line, "at least one argument", err);
      if (!in->json_form)
        return parse_error (err, line, "SHELL requires the arguments to be in JSON form");
      return 0;
    case DF_COPY:
    case DF_ADD:
      r = parse_maybe_json_list (in, rest, args, line, err);
      if (r < 0)
        return r;
      if (args->n < 2)
        return parse_error (err, line,
                            "%s requires at least two arguments, but only one was provided. Destination could not be determined",
                            df_kind_name (in->kind));
      return 0;
    case DF_VOLUME:
      r = parse_maybe_json_list (in, rest, args, line, err);
      if (r < 0)
        return r;
      return args->n == 0 ? nargs_error (in, line, "at least one argument", err) : 0;
    case DF_ENV:
    case DF_LABEL:
      r = parse_name_val (rest, df_kind_name (in->kind), args, escape, line, err);
      if (r < 0)
        return r;
      return args->n == 0 ? nargs_error (in, line, "at least one argument", err) : 0;
    case DF_ARG:
      parse_words (rest, escape, args);
      return args->n == 0 ? nargs_error (in, line, "at least one argument", err) : 0;
    case DF_EXPOSE:
      split_whitespace (rest, args);
      return args->n == 0 ? nargs_error (in, line, "at least one argument", err) : 0;
    case DF_WORKDIR:
    case DF_USER:
    case DF_STOPSIGNAL:
    case DF_MAINTAINER:
      if (*rest == '\0')
        return nargs_error (in, line, "exactly one argument", err);
      strvec_push (args, xstrdup (rest));
      return 0;
    case DF_HEALTHCHECK:
      {
        if (*rest == '\0')
          return nargs_error (in, line, "at least one argument", err);
        size_t sep = 0;
        while (rest[sep] && !ws ((unsigned char) rest[sep]))
          sep++;
        const char *cmd = rest + sep;
        while (*cmd && ws ((unsigned char) *cmd))
          cmd++;
        char *type = strndup (rest, sep);
        if (type == NULL)
          abort ();
        for (char *c = type; *c; c++)
          *c = (char) toupper ((unsigned char) *c);
        strvec_push (args, type);
        r = parse_maybe_json (in, cmd, args, line, err);
        if (r < 0)
          return r;
        if (strcmp (type, "NONE") == 0)
          return args->n > 1 ? parse_error (err, line, "HEALTHCHECK NONE takes no arguments") : 0;
        if (strcmp (type, "CMD") != 0)
          return parse_error (err, line, "Unknown type \"%s\" in HEALTHCHECK (try CMD)", type);
        return args->n < 2 ? parse_error (err, line, "Missing command after HEALTHCHECK CMD") : 0;
      }
    case DF_ONBUILD:
      {
        if (in_onbuild)
          return parse_error (err, line, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (*rest == '\0')
          return nargs_error (in, line, "at least one argument", err);
        struct df_instr *trigger = calloc (1, sizeof *trigger);
        if (trigger == NULL)
          abort ();
        in->onbuild = trigger;
        r = parse_line (rest, line, escape, trigger, true, err);
        if (r < 0)
          return r;
        if (trigger->kind == DF_FROM || trigger->kind == DF_MAINTAINER)
          return parse_error (err, line, "%s isn't allowed as an ONBUILD trigger", df_kind_name (trigger->kind));
        strvec_push (args, xstrdup (rest));
        return 0;
      }
    }
  return parse_error (err, line, "internal error: unhandled instruction");
}

/* Docker's newNodeFromLine + ParseInstruction for one logical LINE. */
static int parse_line (const char *line, int lineno, char escape, struct df_instr *in, bool in_onbuild,
                       berth_err *err)
{
  cleanup_free char *trimmed = trim_dup (line, strlen (line));
  in->line = lineno;
  in->original = xstrdup (trimmed);
  size_t klen = 0;
  while (trimmed[klen] && !tok_ws ((unsigned char) trimmed[klen]))
    klen++;
  const char *after = trimmed + klen;
  while (*after && tok_ws ((unsigned char) *after))
    after++;

  const struct keyword *kw = keyword_lookup (trimmed, klen);
  if (kw == NULL)
    {
      cleanup_free char *upper = strndup (trimmed, klen);
      if (upper == NULL)
        abort ();
      for (char *c = upper; *c; c++)
        *c = (char) toupper ((unsigned char) *c);
      return parse_error (err, lineno, "unknown instruction: %s", upper);
    }
  in->kind = kw->kind;

  struct strvec flag_words = { 0 };
  const char *rest_raw = after;
  extract_flags (after, &flag_words, &rest_raw);
  cleanup_free char *rest = trim_dup (rest_raw, strlen (rest_raw));
  char **fw = strvec_take (&flag_words);
  int r = check_flags (in, fw, kw->flags, lineno, err);
  strv_free (fw);
  if (r < 0)
    return r;

  struct strvec args = { 0 };
  r = parse_args (in, rest, &args, escape, lineno, in_onbuild, err);
  in->nargs = args.n;
  in->args = strvec_take (&args);
  return r;
}

/* ---- heredocs ---- */

/* Docker's parseHeredoc on one lexed word: `[digits]<<[-]NAME`. */
static int heredoc_of_word (const char *word, struct df_heredoc *hd, bool *is_heredoc, berth_err *err)
{
  *is_heredoc = false;
  const char *p = word;
  while (isdigit ((unsigned char) *p))
    p++;
  if (strncmp (p, "<<", 2) != 0)
    return 0;
  p += 2;
  bool chomp = *p == '-';
  if (chomp)
    p++;
  if (*p == '\0' || strchr (p, '<'))
    return 0;

  struct shell_lex lx = { .escape = '\\', .skip_unset = true };
  cleanup_strv char **words = NULL;
  cleanup_strv char **raw = NULL;
  int r = shell_lex_process (&lx, p, NULL, &words, err);
  if (r < 0)
    return r;
  if (words[0] == NULL || words[1] != NULL)
    return 0;
  lx.raw_quotes = true;
  r = shell_lex_process (&lx, p, NULL, &raw, err);
  if (r < 0)
    return r;
  if (raw[0] == NULL || raw[1] != NULL)
    return berth_fail_as (err, EINVAL, "internal lexing of heredoc produced inconsistent results: %s", p);
  size_t q1 = 0, q2 = 0;
  for (const char *c = words[0]; *c; c++)
    q1 += *c == '\'' || *c == '"';
  for (const char *c = raw[0]; *c; c++)
    q2 += *c == '\'' || *c == '"';
  hd->name = xstrdup (words[0]);
  hd->expand = q1 == q2;
  hd->chomp = chomp;
  *is_heredoc = true;
  return 0;
}

/* The heredocs a RUN/COPY/ADD line names, in order (Docker's
 * heredocsFromLine: the line lexed with quotes and escapes kept; a line
 * that does not lex has none). */
static int heredocs_of_line (const char *line, struct df_instr *in, int lineno, berth_err *err)
{
  struct shell_lex lx = { .escape = '\\', .raw_quotes = true, .raw_escapes = true };
  cleanup_strv char **words = NULL;
  berth_err ignored = NULL;
  if (shell_lex_process (&lx, line, NULL, &words, &ignored) < 0)
    {
      berth_error_free (&ignored);
      return 0;
    }
  for (char **w = words; *w; w++)
    {
      struct df_heredoc hd = { 0 };
      bool is = false;
      int r = heredoc_of_word (*w, &hd, &is, err);
      if (r < 0)
        return berth_error_prefix (err, "dockerfile parse error line %d", lineno);
      if (!is)
        continue;
      struct df_heredoc *v = realloc (in->heredocs, (in->nheredocs + 1) * sizeof *v);
      if (v == NULL)
        abort ();
      in->heredocs = v;
      in->heredocs[in->nheredocs++] = hd;
    }
  return 0;
}

static bool can_contain_heredoc (const struct df_instr *in)
{
  if (in->kind == DF_ONBUILD && in->onbuild)
    in = in->onbuild;
  return (in->kind == DF_RUN || in->kind == DF_COPY || in->kind == DF_ADD) && !in->json_form;
}

/* ---- physical lines ---- */

struct lines {
  const char *p, *end;
  int lineno; /* of the last line returned */
};

/* The next physical line, with its newline (the last may have none). */
static bool next_line (struct lines *ls, const char **line, size_t *len)
{
  if (ls->p >= ls->end)
    return false;
  const char *nl = memchr (ls->p, '\n', ls->end - ls->p);
  const char *stop = nl ? nl + 1 : ls->end;
  *line = ls->p;
  *len = stop - ls->p;
  ls->p = stop;
  ls->lineno++;
  return true;
}

static size_t trim_newline (const char *s, size_t n)
{
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
    n--;
  return n;
}

static bool line_is_comment (const char *s, size_t n)
{
  while (n > 0 && ws ((unsigned char) *s))
    s++, n--;
  return n > 0 && *s == '#';
}

/* A continuation: the escape character, then only [ \t] to the end. The
 * escape and the blanks are removed from *N. */
static bool trim_continuation (const char *s, size_t *n, char escape)
{
  size_t k = *n;
  while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t'))
    k--;
  if (k > 0 && s[k - 1] == escape)
    {
      *n = k - 1;
      return true;
    }
  return false;
}

/* ---- parser directives ---- */

struct directives {
  char escape;
  bool done;
  bool seen_escape, seen_syntax, seen_check;
};

/* Docker's directive regexp: ^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$ */
static int directive_line (struct directives *d, const char *s, size_t n, int lineno, berth_err *err)
{
  if (d->done)
    return 0;
  size_t i = 0;
  if (n == 0 || s[0] != '#')
    goto done;
  i = 1;
  while (i < n && ws ((unsigned char) s[i]))
    i++;
  size_t kstart = i;
  if (i >= n || !isalpha ((unsigned char) s[i]))
    goto done;
  while (i < n && isalnum ((unsigned char) s[i]))
    i++;
  size_t klen = i - kstart;
  while (i < n && ws ((unsigned char) s[i]))
    i++;
  if (i >= n || s[i] != '=')
    goto done;
  i++;
  while (i < n && ws ((unsigned char) s[i]))
    i++;
  size_t vend = n;
  while (vend > i && ws ((unsigned char) s[vend - 1]))
    vend--;
  if (vend == i)
    goto done;
  bool *seen;
  const char *key = s + kstart;
  if (klen == 6 && strncasecmp (key, "escape", 6) == 0)
    seen = &d->seen_escape;
  else if (klen == 6 && strncasecmp (key, "syntax", 6) == 0)
    seen = &d->seen_syntax;
  else if (klen == 5 && strncasecmp (key, "check", 5) == 0)
    seen = &d->seen_check;
  else
    goto done;
  if (*seen)
    return parse_error (err, lineno, "only one %.*s parser directive can be used", (int) klen, key);
  *seen = true;
  if (seen == &d->seen_escape)
    {
      if (vend - i != 1 || (s[i] != '`' && s[i] != '\\'))
        return parse_error (err, lineno, "invalid escape token '%.*s' does not match ` or \\", (int) (vend - i), s + i);
      d->escape = s[i];
    }
  return 0;
done:
  d->done = true;
  return 0;
}

/* ---- the document ---- */

static void add_instr (struct df_instr **v, size_t *n, struct df_instr *in)
{
  struct df_instr *nv = realloc (*v, (*n + 1) * sizeof *nv);
  if (nv == NULL)
    abort ();
  *v = nv;
  nv[(*n)++] = *in;
  memset (in, 0, sizeof *in);
}

static int add_stage (struct dockerfile *df, struct df_instr *from)
{
  struct df_stage *v = realloc (df->stages, (df->nstages + 1) * sizeof *v);
  if (v == NULL)
    abort ();
  df->stages = v;
  struct df_stage *st = &v[df->nstages++];
  memset (st, 0, sizeof *st);
  st->base = xstrdup (from->args[0]);
  if (from->nargs == 3)
    {
      st->name = xstrdup (from->args[2]);
      for (char *c = st->name; *c; c++)
        *c = (char) tolower ((unsigned char) *c);
    }
  const char *platform = df_flag_value (from, "platform");
  st->platform = platform ? xstrdup (platform) : NULL;
  st->line = from->line;
  instr_clear (from);
  return 0;
}

/* Reads the bodies of IN's heredocs from the lines after it. */
static int read_heredoc_bodies (struct lines *ls, struct df_instr *in, int start, berth_err *err)
{
  for (size_t h = 0; h < in->nheredocs; h++)
    {
      struct df_heredoc *hd = &in->heredocs[h];
      struct strbuf body = { 0 };
      bool terminated = false;
      const char *l;
      size_t n;
      while (next_line (ls, &l, &n))
        {
          size_t k = trim_newline (l, n);
          size_t tabs = 0;
          if (hd->chomp)
            while (tabs < k && l[tabs] == '\t')
              tabs++;
          if (k - tabs == strlen (hd->name) && memcmp (l + tabs, hd->name, k - tabs) == 0)
            {
              terminated = true;
              break;
            }
          /* <<- : the body's leading tabs go too */
          strbuf_addn (&body, l + tabs, n > tabs ? n - tabs : 0);
        }
      hd->content = strbuf_take (&body);
      if (!terminated)
        return parse_error (err, start, "unterminated heredoc");
    }
  /* The trigger of an ONBUILD gets its own copy. */
  if (in->kind == DF_ONBUILD && in->onbuild && in->nheredocs)
    {
      struct df_instr *t = in->onbuild;
      t->heredocs = calloc (in->nheredocs, sizeof *t->heredocs);
      if (t->heredocs == NULL)
        abort ();
      for (size_t h = 0; h < in->nheredocs; h++)
        {
          t->heredocs[h] = in->heredocs[h];
          t->heredocs[h].name = xstrdup (in->heredocs[h].name);
          t->heredocs[h].content = xstrdup (in->heredocs[h].content);
        }
      t->nheredocs = in->nheredocs;
    }
  return 0;
}

static int parse_document (struct dockerfile *df, const char *text, size_t len, berth_err *err)
{
  struct directives d = { .escape = '\\' };
  struct lines ls = { .p = text, .end = text + len };
  const char *l;
  size_t n;
  bool any = false;

  if (len >= 3 && memcmp (text, "\xEF\xBB\xBF", 3) == 0)
    ls.p += 3;
  while (next_line (&ls, &l, &n))
    {
      n = trim_newline (l, n);
      while (n > 0 && ws ((unsigned char) *l))
        l++, n--;
      int r = directive_line (&d, l, n, ls.lineno, err);
      if (r < 0)
        return r;
      if (line_is_comment (l, n))
        n = 0;
      int start = ls.lineno;
      struct strbuf line = { 0 };
      bool cont = trim_continuation (l, &n, d.escape);
      strbuf_addn (&line, l, n);
      if (!cont && line.len == 0)
        {
          strbuf_release (&line);
          continue;
        }
      while (cont && next_line (&ls, &l, &n))
        {
          if (line_is_comment (l, n))
            continue;
          n = trim_newline (l, n);
          size_t k = 0;
          while (k < n && ws ((unsigned char) l[k]))
            k++;
          if (k == n)
            continue; /* an empty continuation line */
          cont = trim_continuation (l, &n, d.escape);
          strbuf_addn (&line, l, n);
        }
      d.done = true;

      cleanup_free char *logical = strbuf_take (&line);
      struct df_instr in = { 0 };
      r = parse_line (logical, start, d.escape, &in, false, err);
      if (r == 0 && can_contain_heredoc (&in) && strstr (logical, "<<"))
        {
          r = heredocs_of_line (logical, &in, start, err);
          if (r == 0)
            r = read_heredoc_bodies (&ls, &in, start, err);
        }
      if (r < 0)
        {
          instr_clear (&in);
          return r;
        }
      any = true;
      if (in.kind == DF_FROM)
        add_stage (df, &in);
      else if (df->nstages == 0 && in.kind == DF_ARG)
        add_instr (&df->meta_args, &df->nmeta_args, &in);
      else if (df->nstages == 0)
        {
          instr_clear (&in);
          return parse_error (err, start, "no build stage in current context");
        }
      else
        {
          struct df_stage *st = &df->stages[df->nstages - 1];
          add_instr (&st->instrs, &st->ninstrs, &in);
        }
    }
  if (!any)
    return berth_fail_as (err, EINVAL, "failed to parse Dockerfile: file with no instructions");
  df->escape = d.escape;
  return 0;
}

int dockerfile_parse (const char *text, size_t len, struct dockerfile **out, berth_err *err)
{
  struct dockerfile *df = calloc (1, sizeof *df);
  if (df == NULL)
    return berth_fail (err, ENOMEM, "parse Dockerfile");
  df->escape = '\\';
  if (memchr (text, '\0', len))
    {
      dockerfile_free (df);
      return berth_fail_as (err, EINVAL, "failed to parse Dockerfile: the Dockerfile contains a NUL byte");
    }
  int r = parse_document (df, text, len, err);
  if (r < 0)
    {
      dockerfile_free (df);
      return r;
    }
  *out = df;
  return 0;
}
