/* The lexer behind dockerfile_expand_word(s), with the options Docker's
 * parser also uses internally (buildkit's shell.Lex): the heredoc
 * detection lexes a whole instruction with raw quotes and escapes kept. */
#ifndef BERTH_BUILD_SHELL_WORD_H
#define BERTH_BUILD_SHELL_WORD_H

#include <stdbool.h>

#include "common/error.h"

struct shell_lex {
  char escape;        /* '\\' or '`' */
  bool raw_quotes;    /* keep the quote characters in the result */
  bool raw_escapes;   /* keep the escape characters in the result */
  bool skip_unset;    /* leave $VAR of an unset VAR as written */
  const char *const *env; /* KEY=VALUE, NULL-terminated; may be NULL */
};

/* Process TEXT: *WORD (if not NULL) gets the whole result, *WORDS (if not
 * NULL) the result split on unquoted whitespace.  Errors are Docker's
 * ("failed to process \"TEXT\": ..."). */
int shell_lex_process (const struct shell_lex *lx, const char *text, char **word, char ***words, berth_err *err);

#endif
