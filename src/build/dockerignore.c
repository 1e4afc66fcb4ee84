/* .dockerignore: Docker's rules (the docker CLI's ReadAll +
 * moby/patternmatcher), by hand: fnmatch(3) has no `**`, and Docker's
 * patterns are its own dialect compiled to a regexp:
 *  - each line: a line starting with '#' is a comment; blanks around are
 *    trimmed; '!' makes an exception; the pattern is filepath.Clean'ed
 *    and a leading '/' dropped;
 *  - `*` any run of non-'/' characters, `?` one non-'/' character,
 *    `[...]` a class (filepath.Match syntax: `^` negates, `a-z`, `\x`),
 *    `\x` the literal x, `**` (with the following '/') any number of
 *    directories, `**` at the end anything;
 *  - a literal pattern after a leading `**` is a suffix match ("**.txt"
 *    matches every path ending in ".txt", as patternmatcher's fast path);
 *  - last match wins; a path is excluded when it or one of its parent
 *    directories matches. */
#include "build/dockerfile.h"
#include "build/strbuf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"

enum match_type { MATCH_EXACT, MATCH_PREFIX, MATCH_SUFFIX, MATCH_REGEXP };

enum tok_kind { T_LIT, T_STAR, T_QMARK, T_CLASS, T_DSTAR_DIRS, T_DSTAR_ALL };

struct range {
  uint32_t lo, hi;
};

struct tok {
  enum tok_kind kind;
  char c;              /* T_LIT */
  bool negated;        /* T_CLASS */
  struct range *ranges; /* T_CLASS */
  size_t nranges;
};

struct pattern {
  char *cleaned; /* without the '!' */
  bool exclusion;
  enum match_type type;
  struct tok *toks;
  size_t ntoks;
};

struct dockerignore {
  struct pattern *pats;
  size_t n;
  bool exclusions;
};

/* ---- Go's filepath.Clean ---- */

static char *path_clean (const char *path)
{
  size_t n = strlen (path);
  if (n == 0)
    return strdup (".");
  char *out = malloc (n + 2);
  if (out == NULL)
    return NULL;
  bool rooted = path[0] == '/';
  size_t r = 0, w = 0, dotdot = 0;
  if (rooted)
    {
      out[w++] = '/';
      r = 1;
      dotdot = 1;
    }
  while (r < n)
    {
      if (path[r] == '/')
        r++;
      else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/'))
        r++;
      else if (path[r] == '.' && path[r + 1] == '.' && (r + 2 == n || path[r + 2] == '/'))
        {
          r += 2;
          if (w > dotdot)
            {
              w--;
              while (w > dotdot && out[w] != '/')
                w--;
            }
          else if (!rooted)
            {
              if (w > 0)
                out[w++] = '/';
              out[w++] = '.';
              out[w++] = '.';
              dotdot = w;
            }
        }
      else
        {
          if ((rooted && w != 1) || (!rooted && w != 0))
            out[w++] = '/';
          while (r < n && path[r] != '/')
            out[w++] = path[r++];
        }
    }
  if (w == 0)
    out[w++] = '.';
  out[w] = '\0';
  return out;
}

/* ---- UTF-8 ---- */

/* The rune at S (N bytes left) and its length; a bad byte is one rune. */
static size_t rune_at (const unsigned char *s, size_t n, uint32_t *r)
{
  unsigned c = s[0];
  size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
  if (len > n)
    len = 1;
  if (len == 1)
    {
      *r = c;
      return 1;
    }
  uint32_t v = c & (0x7f >> len);
  for (size_t i = 1; i < len; i++)
    {
      if ((s[i] & 0xc0) != 0x80)
        {
          *r = c;
          return 1;
        }
      v = (v << 6) | (s[i] & 0x3f);
    }
  *r = v;
  return len;
}

/* ---- compiling a pattern ---- */

static void tok_push (struct pattern *p, struct tok t)
{
  struct tok *v = realloc (p->toks, (p->ntoks + 1) * sizeof *v);
  if (v == NULL)
    abort ();
  p->toks = v;
  v[p->ntoks++] = t;
}

/* One class char (filepath.Match's getEsc): `\x` or any char but '-' and
 * ']'. */
static bool class_char (const char **s, uint32_t *r)
{
  const unsigned char *p = (const unsigned char *) *s;
  if (*p == '\0' || *p == '-' || *p == ']')
    return false;
  if (*p == '\\')
    {
      p++;
      if (*p == '\0')
        return false;
    }
  size_t len = rune_at (p, strlen ((const char *) p), r);
  *s = (const char *) p + len;
  return true;
}

/* `[...]` at *S (after the '['); false on a syntax error. */
static bool compile_class (const char **s, struct pattern *p)
{
  struct tok t = { .kind = T_CLASS };
  const char *c = *s;
  if (*c == '^')
    {
      t.negated = true;
      c++;
    }
  for (;;)
    {
      if (*c == ']' && t.nranges > 0)
        {
          c++;
          break;
        }
      struct range rg;
      if (!class_char (&c, &rg.lo))
        goto bad;
      rg.hi = rg.lo;
      if (*c == '-')
        {
          c++;
          if (!class_char (&c, &rg.hi) || rg.hi < rg.lo)
            goto bad;
        }
      struct range *v = realloc (t.ranges, (t.nranges + 1) * sizeof *v);
      if (v == NULL)
        abort ();
      t.ranges = v;
      t.ranges[t.nranges++] = rg;
    }
  tok_push (p, t);
  *s = c;
  return true;
bad:
  free (t.ranges);
  return false;
}

/* patternmatcher's compile(): the tokens and the match type. */
static bool compile (struct pattern *p)
{
  const char *s = p->cleaned;
  p->type = MATCH_EXACT;
  for (size_t i = 0; *s; i++)
    {
      char ch = *s++;
      if (ch == '*' && *s == '*')
        {
          s++;
          if (*s == '/')
            s++;
          if (*s == '\0')
            {
              if (p->type == MATCH_EXACT)
                p->type = MATCH_PREFIX;
              else
                p->type = MATCH_REGEXP;
              tok_push (p, (struct tok){ .kind = T_DSTAR_ALL });
            }
          else
            {
              p->type = MATCH_REGEXP;
              tok_push (p, (struct tok){ .kind = T_DSTAR_DIRS });
            }
          if (i == 0)
            p->type = MATCH_SUFFIX;
        }
      else if (ch == '*')
        {
          p->type = MATCH_REGEXP;
          tok_push (p, (struct tok){ .kind = T_STAR });
        }
      else if (ch == '?')
        {
          p->type = MATCH_REGEXP;
          tok_push (p, (struct tok){ .kind = T_QMARK });
        }
      else if (ch == '\\')
        {
          if (*s == '\0')
            return false; /* filepath.Match: a trailing '\' is bad */
          p->type = MATCH_REGEXP;
          tok_push (p, (struct tok){ .kind = T_LIT, .c = *s++ });
        }
      else if (ch == '[')
        {
          p->type = MATCH_REGEXP;
          if (!compile_class (&s, p))
            return false;
        }
      else
        tok_push (p, (struct tok){ .kind = T_LIT, .c = ch });
    }
  return true;
}

static void pattern_clear (struct pattern *p)
{
  for (size_t i = 0; i < p->ntoks; i++)
    free (p->toks[i].ranges);
  free (p->toks);
  free (p->cleaned);
}

/* ---- matching ---- */

struct matcher {
  const struct pattern *p;
  const char *s;
  size_t n;
  unsigned char *memo; /* (ntoks+1) x (n+1): 0 unknown, 1 no, 2 yes */
};

static bool class_matches (const struct tok *t, uint32_t r)
{
  bool in = false;
  for (size_t i = 0; i < t->nranges && !in; i++)
    in = r >= t->ranges[i].lo && r <= t->ranges[i].hi;
  return in != t->negated;
}

static bool match_at (struct matcher *m, size_t ti, size_t si)
{
  unsigned char *memo = &m->memo[ti * (m->n + 1) + si];
  if (*memo)
    return *memo == 2;
  bool ok = false;
  if (ti == m->p->ntoks)
    ok = si == m->n;
  else
    {
      const struct tok *t = &m->p->toks[ti];
      uint32_t r;
      switch (t->kind)
        {
        case T_LIT:
          ok = si < m->n && m->s[si] == t->c && match_at (m, ti + 1, si + 1);
          break;
        case T_STAR:
          for (size_t k = si; !ok && k <= m->n; k++)
            {
              ok = match_at (m, ti + 1, k);
              if (k < m->n && m->s[k] == '/')
                break;
            }
          break;
        case T_QMARK:
          if (si < m->n && m->s[si] != '/')
            ok = match_at (m, ti + 1, si + rune_at ((const unsigned char *) m->s + si, m->n - si, &r));
          break;
        case T_CLASS:
          if (si < m->n)
            {
              size_t len = rune_at ((const unsigned char *) m->s + si, m->n - si, &r);
              ok = class_matches (t, r) && match_at (m, ti + 1, si + len);
            }
          break;
        case T_DSTAR_DIRS: /* regexp (.*\/)? */
          ok = match_at (m, ti + 1, si);
          for (size_t k = si + 1; !ok && k <= m->n; k++)
            if (m->s[k - 1] == '/')
              ok = match_at (m, ti + 1, k);
          break;
        case T_DSTAR_ALL:
          ok = true;
          break;
        }
    }
  *memo = ok ? 2 : 1;
  return ok;
}

static bool pattern_match (const struct pattern *p, const char *path, size_t n)
{
  size_t plen = strlen (p->cleaned);
  switch (p->type)
    {
    case MATCH_EXACT:
      return n == plen && memcmp (path, p->cleaned, n) == 0;
    case MATCH_PREFIX:
      return n >= plen - 2 && memcmp (path, p->cleaned, plen - 2) == 0;
    case MATCH_SUFFIX:
      {
        const char *suffix = p->cleaned + 2;
        size_t sl = plen - 2;
        if (n >= sl && memcmp (path + n - sl, suffix, sl) == 0)
          return true;
        /* "**" "/foo" also matches "foo" */
        return sl > 0 && suffix[0] == '/' && n == sl - 1 && memcmp (path, suffix + 1, n) == 0;
      }
    case MATCH_REGEXP:
      break;
    }
  struct matcher m = { .p = p, .s = path, .n = n };
  m.memo = calloc ((p->ntoks + 1) * (n + 1), 1);
  if (m.memo == NULL)
    abort ();
  bool ok = match_at (&m, 0, 0);
  free (m.memo);
  return ok;
}

/* ---- the public API ---- */

int dockerignore_add_pattern (struct dockerignore *di, const char *line, berth_err *err)
{
  /* trim blanks (Go's strings.TrimSpace) */
  size_t n = strlen (line);
  while (n > 0 && strchr (" \t\r\n\v\f", *line))
    line++, n--;
  while (n > 0 && strchr (" \t\r\n\v\f", line[n - 1]))
    n--;
  if (n == 0)
    return 0;
  bool exclusion = line[0] == '!';
  if (exclusion)
    {
      line++, n--;
      while (n > 0 && strchr (" \t\r\n\v\f", *line))
        line++, n--;
      if (n == 0)
        return berth_fail_as (err, EINVAL, "illegal exclusion pattern: \"!\"");
    }
  cleanup_free char *raw = strndup (line, n);
  if (raw == NULL)
    return berth_fail (err, ENOMEM, "dockerignore");
  cleanup_free char *once = path_clean (raw);
  if (once == NULL)
    return berth_fail (err, ENOMEM, "dockerignore");
  const char *rel = strlen (once) > 1 && once[0] == '/' ? once + 1 : once;
  struct pattern p = { .exclusion = exclusion, .cleaned = path_clean (rel) };
  if (p.cleaned == NULL)
    return berth_fail (err, ENOMEM, "dockerignore");
  if (!compile (&p))
    {
      int r = berth_fail_as (err, EINVAL, "syntax error in pattern: %s%s", exclusion ? "!" : "", p.cleaned);
      pattern_clear (&p);
      return r;
    }
  struct pattern *v = realloc (di->pats, (di->n + 1) * sizeof *v);
  if (v == NULL)
    abort ();
  di->pats = v;
  v[di->n++] = p;
  di->exclusions |= exclusion;
  return 0;
}

int dockerignore_parse (const char *text, size_t len, struct dockerignore **out, berth_err *err)
{
  struct dockerignore *di = calloc (1, sizeof *di);
  if (di == NULL)
    return berth_fail (err, ENOMEM, "dockerignore");
  const char *p = text, *end = text + len;
  if (len >= 3 && memcmp (p, "\xEF\xBB\xBF", 3) == 0)
    p += 3;
  for (int lineno = 1; p < end; lineno++)
    {
      const char *nl = memchr (p, '\n', end - p);
      const char *stop = nl ? nl : end;
      cleanup_free char *line = strndup (p, stop - p);
      p = nl ? nl + 1 : end;
      if (line == NULL)
        {
          dockerignore_free (di);
          return berth_fail (err, ENOMEM, "dockerignore");
        }
      if (line[0] == '#')
        continue;
      int r = dockerignore_add_pattern (di, line, err);
      if (r < 0)
        {
          dockerignore_free (di);
          return berth_error_prefix (err, ".dockerignore line %d", lineno);
        }
    }
  *out = di;
  return 0;
}

bool dockerignore_match (const struct dockerignore *di, const char *path)
{
  if (di == NULL)
    return false;
  size_t n = strlen (path);
  /* the parent directories: every prefix ending before a '/' */
  bool matched = false;
  for (size_t i = 0; i < di->n; i++)
    {
      const struct pattern *p = &di->pats[i];
      if (p->exclusion != matched)
        continue;
      bool m = pattern_match (p, path, n);
      for (size_t k = 0; !m && k < n; k++)
        if (path[k] == '/')
          m = pattern_match (p, path, k);
      if (m)
        matched = !p->exclusion;
    }
  return matched;
}

bool dockerignore_has_exceptions_under (const struct dockerignore *di, const char *dir)
{
  if (di == NULL || !di->exclusions)
    return false;
  size_t dl = strlen (dir);
  for (size_t i = 0; i < di->n; i++)
    {
      const struct pattern *p = &di->pats[i];
      if (!p->exclusion)
        continue;
      /* Docker's walker: strings.HasPrefix(pattern + "/", dir + "/") */
      size_t pl = strlen (p->cleaned);
      if (pl + 1 >= dl + 1 && memcmp (p->cleaned, dir, dl) == 0 && (pl == dl ? true : p->cleaned[dl] == '/'))
        return true;
    }
  return false;
}

void dockerignore_free (struct dockerignore *di)
{
  if (di == NULL)
    return;
  for (size_t i = 0; i < di->n; i++)
    pattern_clear (&di->pats[i]);
  free (di->pats);
  free (di);
}
