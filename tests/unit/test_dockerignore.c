/* .dockerignore: Docker's pattern rules (moby/patternmatcher's own test
 * table and the documented examples). */
#include "unit.h"

#include "build/dockerfile.h"

static struct dockerignore *di_parse (const char *text)
{
  struct dockerignore *di = NULL;
  berth_err err = NULL;
  if (dockerignore_parse (text, strlen (text), &di, &err) < 0)
    {
      printf ("  unexpected error for %s: %s\n", text, err->msg);
      fflush (stdout);
      _exit (1);
    }
  return di;
}

static bool excluded (const char *patterns, const char *path)
{
  struct dockerignore *di = di_parse (patterns);
  bool r = dockerignore_match (di, path);
  dockerignore_free (di);
  return r;
}

struct mcase {
  const char *pattern, *path;
  bool excluded;
};

/* patternmatcher's TestMatches table (the cases that apply to cleaned,
 * relative Linux paths). */
static const struct mcase match_cases[] = {
  { "**", "file", true },
  { "**", "dir/file", true },
  { "**/", "dir/file", true },
  { "**/**", "dir/file", true },
  { "dir/**", "dir/file", true },
  { "dir/**", "dir/dir2/file", true },
  { "**/dir", "dir", true },
  { "**/dir", "dir/file", true },
  { "**/dir2/*", "dir/dir2/file", true },
  { "**/dir2/**", "dir/dir2/dir3/file", true },
  { "**file", "file", true },
  { "**file", "dir/file", true },
  { "**/file", "dir/file", true },
  { "**file", "dir/dir/file", true },
  { "**/file", "dir/dir/file", true },
  { "**/file*", "dir/dir/file", true },
  { "**/file*", "dir/dir/file.txt", true },
  { "**/file*txt", "dir/dir/file.txt", true },
  { "**/file*.txt", "dir/dir/file.txt", true },
  { "**/file*.txt*", "dir/dir/file.txt", true },
  { "**/**/*.txt", "dir/dir/file.txt", true },
  { "**/**/*.txt2", "dir/dir/file.txt", false },
  { "**/*.txt", "file.txt", true },
  { "**/**/*.txt", "file.txt", true },
  { "a**/*.txt", "a/file.txt", true },
  { "a**/*.txt", "a/dir/file.txt", true },
  { "a**/*.txt", "a/dir/dir/file.txt", true },
  { "a/*.txt", "a/dir/file.txt", false },
  { "a/*.txt", "a/file.txt", true },
  { "a/*.txt**", "a/file.txt", true },
  { "a[b-d]e", "ae", false },
  { "a[b-d]e", "ace", true },
  { "a[b-d]e", "aae", false },
  { "a[^b-d]e", "aze", true },
  { ".*", ".foo", true },
  { ".*", "foo", false },
  { "abc.def", "abcdef", false },
  { "abc.def", "abc.def", true },
  { "abc.def", "abcZdef", false },
  { "abc?def", "abcZdef", true },
  { "abc?def", "abcdef", false },
  { "a\\\\", "a\\", true },
  { "**/foo/bar", "foo/bar", true },
  { "**/foo/bar", "dir/foo/bar", true },
  { "**/foo/bar", "dir/dir2/foo/bar", true },
  { "abc/**", "abc", false },
  { "abc/**", "abc/def", true },
  { "abc/**", "abc/def/ghi", true },
  { "**/.foo", ".foo", true },
  { "**/.foo", "bar.foo", false },
  { "a(b)c/def", "a(b)c/def", true },
  { "a(b)c/def", "a(b)c/xyz", false },
  { "a.|)$(}+{bc", "a.|)$(}+{bc", true },
  { "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
    "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true },
  { "dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true },
  /* more: single stars stay in one directory, ? is one character */
  { "*", "a", true },
  { "*", "a/b", true }, /* the parent "a" matches */
  { "*/b", "a/b", true },
  { "*/b", "a/c/b", false },
  { "a?c", "a/c", false },
  { "a?c", "aéc", true },
  { "[é]", "é", true },
  { "\\*", "*", true },
  { "\\*", "x", false },
  { "a\\?", "ab", false },
  { "a\\?", "a?", true },
  { "[a-c]/x", "b/x", true },
  { "[a-c]/x", "d/x", false },
  { "[\\]]", "]", true },
  { "**.txt", "a/b/c.txt", true }, /* patternmatcher's suffix match */
  { "**.txt", "c.txt", true },
  { "**.txt", "c.txt2", false },
};

TEST (patternmatcher_table)
{
  for (size_t i = 0; i < sizeof match_cases / sizeof match_cases[0]; i++)
    {
      const struct mcase *c = &match_cases[i];
      if (excluded (c->pattern, c->path) != c->excluded)
        {
          printf ("  pattern \"%s\" path \"%s\": expected %s\n", c->pattern, c->path,
                  c->excluded ? "excluded" : "included");
          fflush (stdout);
          _exit (1);
        }
    }
}

TEST (documented_examples)
{
  /* docs.docker.com "Dockerignore files" */
  const char *doc = "# comment\n*/temp*\n*/*/temp*\ntemp?\n";
  CHECK (excluded (doc, "somedir/temporary.txt"));
  CHECK (excluded (doc, "somedir/temp"));
  CHECK (excluded (doc, "somedir/subdir/temporary.txt"));
  CHECK (excluded (doc, "tempa"));
  CHECK (!excluded (doc, "temp"));
  CHECK (!excluded (doc, "temporary.txt"));
  CHECK (!excluded (doc, "a/b/c/temp"));
  CHECK (!excluded (doc, "# comment"));
  CHECK (excluded ("**/*.go\n", "a/b/c.go"));
  CHECK (excluded ("**/*.go\n", "c.go"));
  CHECK (!excluded ("**/*.go\n", "c.got"));

  const char *md = "*.md\n!README.md\n";
  CHECK (excluded (md, "CHANGES.md"));
  CHECK (!excluded (md, "README.md"));
  CHECK (!excluded (md, "docs/x.md")); /* * does not cross '/' */

  const char *secret = "*.md\n!README*.md\nREADME-secret.md\n";
  CHECK (excluded (secret, "README-secret.md"));
  CHECK (!excluded (secret, "README-x.md"));
  CHECK (excluded (secret, "other.md"));
  /* last match wins */
  const char *secret2 = "*.md\nREADME-secret.md\n!README*.md\n";
  CHECK (!excluded (secret2, "README-secret.md"));
}

TEST (cleaning_and_blanks)
{
  CHECK (excluded ("/foo\n", "foo"));
  CHECK (excluded ("/foo\n", "foo/bar"));
  CHECK (excluded ("foo/\n", "foo/bar"));
  CHECK (excluded ("./foo//bar/\n", "foo/bar"));
  CHECK (excluded ("  foo  \n", "foo"));
  CHECK (excluded ("a/../b\n", "b"));
  CHECK (!excluded ("a/../b\n", "a"));
  CHECK (excluded ("foo\r\n", "foo"));
  CHECK (!excluded ("   # not a comment\n", "x"));
  CHECK (excluded ("\xEF\xBB\xBF" "foo\n", "foo"));
  CHECK (!excluded ("\n\n  \n", "foo"));
  CHECK (!excluded ("#foo\n", "#foo"));
  CHECK (excluded (" #foo\n", "#foo")); /* only a '#' in column 1 starts a comment */
  CHECK (excluded ("! foo\nfoo\n", "foo"));
  CHECK (!excluded ("foo\n! foo\n", "foo"));
  CHECK (!excluded ("foo", "foobar"));
  CHECK (excluded ("foo", "foo"));   /* no final newline */
  CHECK (!excluded (".\n", "x")); /* "." is no wildcard */
}

TEST (parent_directories_and_exceptions)
{
  const char *p = "dir\n!dir/keep\n";
  CHECK (excluded (p, "dir"));
  CHECK (excluded (p, "dir/other"));
  CHECK (excluded (p, "dir/sub/file"));
  CHECK (!excluded (p, "dir/keep"));
  CHECK (!excluded (p, "dir/keep/inside"));
  CHECK (!excluded (p, "dirx"));

  struct dockerignore *di = di_parse (p);
  CHECK (dockerignore_has_exceptions_under (di, "dir"));
  CHECK (!dockerignore_has_exceptions_under (di, "other"));
  CHECK (!dockerignore_has_exceptions_under (di, "di"));
  dockerignore_free (di);

  di = di_parse ("dir\n");
  CHECK (!dockerignore_has_exceptions_under (di, "dir"));
  /* the CLI keeps the Dockerfile and .dockerignore */
  berth_err err = NULL;
  CHECK (dockerignore_add_pattern (di, "!dir/Dockerfile", &err) == 0);
  CHECK (!dockerignore_match (di, "dir/Dockerfile"));
  CHECK (dockerignore_match (di, "dir/other"));
  CHECK (dockerignore_has_exceptions_under (di, "dir"));
  dockerignore_free (di);

  /* Docker's walker only looks at the pattern's text */
  di = di_parse ("*\n!**/keep\n");
  CHECK (!dockerignore_has_exceptions_under (di, "a"));
  CHECK (!dockerignore_match (di, "a/keep"));
  dockerignore_free (di);
  CHECK (!dockerignore_match (NULL, "x"));
}

static char *parse_error (const char *text)
{
  struct dockerignore *di = NULL;
  berth_err err = NULL;
  if (dockerignore_parse (text, strlen (text), &di, &err) == 0)
    {
      printf ("  %s parsed\n", text);
      fflush (stdout);
      _exit (1);
    }
  return err->msg;
}

TEST (bad_patterns)
{
  CHECK_STR (parse_error ("ok\n!\n"), ".dockerignore line 2: illegal exclusion pattern: \"!\"");
  CHECK_CONTAINS (parse_error ("[abc\n"), "syntax error in pattern");
  CHECK_CONTAINS (parse_error ("a\\\n"), "syntax error in pattern");
  CHECK_CONTAINS (parse_error ("[]\n"), "syntax error in pattern");
  CHECK_CONTAINS (parse_error ("[z-a]\n"), "syntax error in pattern");
  CHECK_CONTAINS (parse_error ("x\n[-a]\n"), ".dockerignore line 2");
}
