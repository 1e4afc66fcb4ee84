/* Docker's shell-word processing (buildkit frontend/dockerfile/shell,
 * ProcessWord/ProcessWords), written by hand: it is not POSIX sh
 * (wordexp(3) would run command substitutions and knows no escape
 * directive), and the exact quirks matter for compatibility:
 *  - outside quotes, ESCAPE takes the next character literally (an ESCAPE
 *    at the end is dropped);
 *  - '...' is literal; "..." expands $ and lets ESCAPE escape only
 *    '"', '$' and ESCAPE itself;
 *  - $NAME, ${NAME}, ${NAME:-w} ${NAME-w} ${NAME:+w} ${NAME+w}
 *    ${NAME:?msg} ${NAME?msg}, ${NAME#pat} ${NAME##pat} ${NAME%pat}
 *    ${NAME%%pat}; a '$' not followed by a name is literal;
 *  - a name starting with a digit takes all the digits; the special
 *    parameters @ * # ? - $ ! are one-character names (normally unset);
 *  - values of $-expansions are split into words, quoted text is not. */
#include "build/dockerfile.h"
#include "build/shell-word.h"
#include "build/strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>

#include "common/cleanup.h"

struct lexer {
  const struct shell_lex *opt;
  const char *s;
  size_t pos, len;
  const char *error; /* static message, or msg_buf */
  char msg_buf[512];
};

/* Words being collected (wordsStruct in buildkit). */
struct words {
  struct strbuf word;
  bool in_word;
  struct strvec words;
};

#define LEX_EOF (-1)

static int peek (struct lexer *lx) { return lx->pos < lx->len ? (unsigned char) lx->s[lx->pos] : LEX_EOF; }
static int next (struct lexer *lx) { return lx->pos < lx->len ? (unsigned char) lx->s[lx->pos++] : LEX_EOF; }

static bool is_space (int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

static void words_flush (struct words *w)
{
  if (w->word.len > 0)
    strvec_push (&w->words, strbuf_take (&w->word));
  w->in_word = false;
}

static void words_add_raw_char (struct words *w, char c)
{
  strbuf_addc (&w->word, c);
  w->in_word = true;
}

static void words_add_char (struct words *w, char c)
{
  if (is_space ((unsigned char) c))
    {
      if (w->in_word)
        words_flush (w);
    }
  else
    words_add_raw_char (w, c);
}

static void words_add_string (struct words *w, const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    words_add_char (w, s[i]);
}

static void words_add_raw_string (struct words *w, const char *s, size_t n)
{
  strbuf_addn (&w->word, s, n);
  w->in_word = true;
}

static bool getenv_of (const struct lexer *lx, const char *name, const char **value)
{
  size_t n = strlen (name);
  if (lx->opt->env == NULL)
    return false;
  /* The first entry wins, as in Docker's lexer. */
  for (const char *const *e = lx->opt->env; *e; e++)
    {
      const char *eq = strchr (*e, '=');
      if (eq == NULL)
        {
          if (strcmp (*e, name) == 0)
            {
              *value = "";
              return true;
            }
          continue;
        }
      if ((size_t) (eq - *e) == n && strncmp (*e, name, n) == 0)
        {
          *value = eq + 1;
          return true;
        }
    }
  return false;
}

static bool fail_msg (struct lexer *lx, const char *fmt, const char *a, const char *b)
{
  snprintf (lx->msg_buf, sizeof lx->msg_buf, fmt, a, b);
  lx->error = lx->msg_buf;
  return false;
}

static bool process_stop_on (struct lexer *lx, int stop, bool raw_escapes, struct strbuf *result, struct words *w);

static bool process_single_quote (struct lexer *lx, struct strbuf *out)
{
  int ch = next (lx);
  if (lx->opt->raw_quotes)
    strbuf_addc (out, (char) ch);
  for (;;)
    {
      ch = next (lx);
      if (ch == LEX_EOF)
        {
          lx->error = "unexpected end of statement while looking for matching single-quote";
          return false;
        }
      if (ch == '\'')
        {
          if (lx->opt->raw_quotes)
            strbuf_addc (out, (char) ch);
          return true;
        }
      strbuf_addc (out, (char) ch);
    }
}

static bool process_dollar (struct lexer *lx, struct strbuf *out);

static bool process_double_quote (struct lexer *lx, struct strbuf *out)
{
  int ch = next (lx);
  if (lx->opt->raw_quotes)
    strbuf_addc (out, (char) ch);
  for (;;)
    {
      switch (peek (lx))
        {
        case LEX_EOF:
          lx->error = "unexpected end of statement while looking for matching double-quote";
          return false;
        case '"':
          ch = next (lx);
          if (lx->opt->raw_quotes)
            strbuf_addc (out, (char) ch);
          return true;
        case '$':
          if (!process_dollar (lx, out))
            return false;
          break;
        default:
          ch = next (lx);
          if (ch == lx->opt->escape)
            {
              if (lx->opt->raw_escapes)
                strbuf_addc (out, (char) ch);
              int p = peek (lx);
              if (p == LEX_EOF)
                continue; /* an escape at the end is dropped */
              if (p == '"' || p == '$' || p == lx->opt->escape)
                ch = next (lx);
            }
          strbuf_addc (out, (char) ch);
        }
    }
}

static bool is_special_param (int c)
{
  return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!' || c == '0';
}

static bool is_name_char (int c) { return c != LEX_EOF && (isalnum (c) || c == '_' || c >= 0x80); }

static void process_name (struct lexer *lx, struct strbuf *name)
{
  while (peek (lx) != LEX_EOF)
    {
      int ch = peek (lx);
      if (name->len == 0 && isdigit (ch))
        {
          while (peek (lx) != LEX_EOF && isdigit (peek (lx)))
            strbuf_addc (name, (char) next (lx));
          return;
        }
      if (name->len == 0 && is_special_param (ch))
        {
          strbuf_addc (name, (char) next (lx));
          return;
        }
      if (!is_name_char (ch))
        return;
      strbuf_addc (name, (char) next (lx));
    }
}

/* ${NAME#pat} and friends: the shortest (or, GREEDY, longest) prefix or
 * suffix of VALUE matching the glob PAT is removed. */
static void trim_pattern (const char *value, const char *pat, bool suffix, bool greedy, struct strbuf *out)
{
  size_t n = strlen (value);
  cleanup_free char *tmp = strdup (value);
  if (tmp == NULL)
    abort ();
  for (size_t k = 0; k <= n; k++)
    {
      size_t cut = greedy ? n - k : k; /* length of the part tested */
      if (suffix)
        {
          if (fnmatch (pat, value + (n - cut), 0) == 0)
            {
              strbuf_addn (out, value, n - cut);
              return;
            }
        }
      else
        {
          memcpy (tmp, value, cut);
          tmp[cut] = '\0';
          if (fnmatch (pat, tmp, 0) == 0)
            {
              strbuf_add (out, value + cut);
              return;
            }
        }
    }
  strbuf_add (out, value);
}

static bool process_modifier (struct lexer *lx, const char *name, int ch, bool null_is_unset, const char *mod,
                              struct strbuf *out)
{
  bool raw = ch == '#' || ch == '%';
  if (null_is_unset && raw)
    return fail_msg (lx, "unsupported modifier (%s) in substitution", mod, NULL);
  struct strbuf word = { 0 };
  if (!process_stop_on (lx, '}', raw, &word, NULL))
    {
      strbuf_release (&word);
      if (peek (lx) == LEX_EOF)
        lx->error = "syntax error: missing '}'";
      return false;
    }
  cleanup_free char *w = strbuf_take (&word);
  const char *value = "";
  bool set = getenv_of (lx, name, &value);
  if (lx->opt->skip_unset && !set)
    {
      strbuf_add (out, "${");
      strbuf_add (out, name);
      strbuf_add (out, mod);
      strbuf_add (out, w);
      strbuf_addc (out, '}');
      return true;
    }
  bool empty = !set || (null_is_unset && value[0] == '\0');
  switch (ch)
    {
    case '-':
      strbuf_add (out, empty ? w : value);
      return true;
    case '+':
      strbuf_add (out, empty ? "" : w);
      return true;
    case '?':
      if (!set)
        return fail_msg (lx, "%s: %s", name, w[0] ? w : "is not allowed to be unset");
      if (empty)
        return fail_msg (lx, "%s: %s", name, w[0] ? w : "is not allowed to be empty");
      strbuf_add (out, value);
      return true;
    default: /* '#', '%' */
      {
        const char *pat = w;
        bool greedy = pat[0] == ch;
        if (greedy)
          pat++;
        trim_pattern (value, pat, ch == '%', greedy, out);
        return true;
      }
    }
}

static bool process_dollar (struct lexer *lx, struct strbuf *out)
{
  next (lx);
  if (peek (lx) != '{')
    {
      struct strbuf nb = { 0 };
      process_name (lx, &nb);
      cleanup_free char *name = strbuf_take (&nb);
      if (name[0] == '\0')
        {
          strbuf_addc (out, '$');
          return true;
        }
      const char *value = "";
      if (!getenv_of (lx, name, &value) && lx->opt->skip_unset)
        {
          strbuf_addc (out, '$');
          strbuf_add (out, name);
          return true;
        }
      strbuf_add (out, value);
      return true;
    }
  next (lx);
  switch (peek (lx))
    {
    case LEX_EOF:
      lx->error = "syntax error: missing '}'";
      return false;
    case '{':
    case '}':
    case ':':
      lx->error = "syntax error: bad substitution";
      return false;
    }
  struct strbuf nb = { 0 };
  process_name (lx, &nb);
  cleanup_free char *name = strbuf_take (&nb);
  int ch = next (lx);
  char mod[3] = { (char) ch, 0, 0 };
  switch (ch)
    {
    case '}':
      {
        const char *value = "";
        if (!getenv_of (lx, name, &value) && lx->opt->skip_unset)
          {
            strbuf_add (out, "${");
            strbuf_add (out, name);
            strbuf_addc (out, '}');
            return true;
          }
        strbuf_add (out, value);
        return true;
      }
    case ':':
      ch = next (lx);
      mod[1] = ch == LEX_EOF ? 0 : (char) ch;
      if (ch != '+' && ch != '-' && ch != '?' && ch != '#' && ch != '%')
        return fail_msg (lx, "unsupported modifier (%s) in substitution", mod, NULL);
      return process_modifier (lx, name, ch, true, mod, out);
    case '+':
    case '-':
    case '?':
    case '#':
    case '%':
      return process_modifier (lx, name, ch, false, mod, out);
    case LEX_EOF:
      lx->error = "syntax error: missing '}'";
      return false;
    default:
      return fail_msg (lx, "unsupported modifier (%s) in substitution", mod, NULL);
    }
}

/* Process up to STOP (LEX_EOF: the end).  RESULT gets the text, W (if
 * not NULL) the words. */
static bool process_stop_on (struct lexer *lx, int stop, bool raw_escapes, struct strbuf *result, struct words *w)
{
  struct words local = { 0 };
  if (w == NULL)
    w = &local;
  bool ok = true;
  while (peek (lx) != LEX_EOF)
    {
      int ch = peek (lx);
      if (stop != LEX_EOF && ch == stop)
        {
          next (lx);
          goto out;
        }
      if (ch == '\'' || ch == '"' || ch == '$')
        {
          struct strbuf tmp = { 0 };
          bool r = ch == '\'' ? process_single_quote (lx, &tmp)
                   : ch == '"' ? process_double_quote (lx, &tmp)
                               : process_dollar (lx, &tmp);
          if (!r)
            {
              strbuf_release (&tmp);
              ok = false;
              goto out;
            }
          if (tmp.len > 0)
            {
              strbuf_addn (result, tmp.s, tmp.len);
              if (ch == '$')
                words_add_string (w, tmp.s, tmp.len);
              else
                words_add_raw_string (w, tmp.s, tmp.len);
            }
          else if (ch != '$')
            w->in_word = true; /* "" is an (empty) word part */
          strbuf_release (&tmp);
          continue;
        }
      ch = next (lx);
      if (ch == lx->opt->escape)
        {
          if (lx->opt->raw_escapes || raw_escapes)
            {
              words_add_raw_char (w, (char) ch);
              strbuf_addc (result, (char) ch);
            }
          ch = next (lx);
          if (ch == LEX_EOF)
            break;
          words_add_raw_char (w, (char) ch);
        }
      else
        words_add_char (w, (char) ch);
      strbuf_addc (result, (char) ch);
    }
  if (stop != LEX_EOF)
    {
      char stop_s[2] = { (char) stop, 0 };
      ok = fail_msg (lx, "unexpected end of statement while looking for matching %s%s", stop_s, "");
    }
out:
  if (w == &local)
    {
      strbuf_release (&local.word);
      strvec_release (&local.words);
    }
  return ok;
}

int shell_lex_process (const struct shell_lex *opt, const char *text, char **word, char ***words, berth_err *err)
{
  struct lexer lx = { .opt = opt, .s = text, .len = strlen (text) };
  struct strbuf result = { 0 };
  struct words w = { 0 };
  if (!process_stop_on (&lx, LEX_EOF, false, &result, &w))
    {
      strbuf_release (&result);
      strbuf_release (&w.word);
      strvec_release (&w.words);
      return berth_fail_as (err, EINVAL, "failed to process \"%s\": %s", text, lx.error);
    }
  words_flush (&w);
  if (word)
    *word = strbuf_take (&result);
  else
    strbuf_release (&result);
  if (words)
    *words = strvec_take (&w.words);
  else
    strvec_release (&w.words);
  return 0;
}

int dockerfile_expand_word (const char *word, char escape, const char *const *env, char **out, berth_err *err)
{
  struct shell_lex lx = { .escape = escape, .env = env };
  return shell_lex_process (&lx, word, out, NULL, err);
}

int dockerfile_expand_words (const char *text, char escape, const char *const *env, char ***out, berth_err *err)
{
  struct shell_lex lx = { .escape = escape, .env = env };
  return shell_lex_process (&lx, text, NULL, out, err);
}
