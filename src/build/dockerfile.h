/* Dockerfiles: the parser, the shell-word expander and .dockerignore.
 *
 * The parser follows Docker's classic builder (moby/buildkit's
 * frontend/dockerfile/parser and instructions packages): parser directives
 * (`# escape=`, `# syntax=` ignored), comments, line continuations with
 * the escape character, empty continuation lines, heredocs (`<<EOF`,
 * `<<-EOF`, quoted delimiters disable expansion) in RUN, COPY and ADD,
 * JSON (exec) forms, and flags (`--from=`, `--chown=`, `--chmod=`,
 * `--platform=`, `--link`, HEALTHCHECK's `--interval=` ...).
 *
 * It does no variable expansion: words are kept raw (quotes and escapes
 * intact) and the builder expands them with dockerfile_expand_word() as it
 * walks the stage, because the environment changes from one instruction
 * to the next. */
#ifndef BERTH_BUILD_DOCKERFILE_H
#define BERTH_BUILD_DOCKERFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

enum df_kind {
  DF_FROM,
  DF_RUN,
  DF_CMD,
  DF_ENTRYPOINT,
  DF_COPY,
  DF_ADD,
  DF_ENV,
  DF_ARG,
  DF_WORKDIR,
  DF_USER,
  DF_EXPOSE,
  DF_LABEL,
  DF_VOLUME,
  DF_STOPSIGNAL,
  DF_HEALTHCHECK,
  DF_ONBUILD,
  DF_SHELL,
  DF_MAINTAINER,
};

struct df_flag {
  char *name;  /* without the dashes: "from", "chown", "chmod", "platform", "link", "interval" ... */
  char *value; /* raw; NULL for a boolean flag given without a value */
};

struct df_heredoc {
  char *name;    /* the delimiter word, e.g. "EOF" */
  char *content; /* the body, lines joined with '\n', final newline kept */
  bool expand;   /* false when the delimiter was quoted ('EOF' or "EOF") */
  bool chomp;    /* <<- : leading tabs were stripped */
};

/* One instruction.  ARGS depend on the kind:
 *  - json_form (exec form) RUN/CMD/ENTRYPOINT/SHELL/VOLUME/COPY/ADD: the
 *    decoded JSON strings;
 *  - shell form RUN/CMD/ENTRYPOINT: one arg, the command text as written
 *    (continuations joined, comments inside the continuation dropped);
 *  - ENV and LABEL: pairs, args[2k] the raw key, args[2k+1] the raw value
 *    (the legacy `ENV KEY value words` form gives one pair whose value is
 *    the rest of the line);
 *  - ARG: raw words `name` or `name=default`;
 *  - FROM: the raw image word, then "AS" and the stage name if given (the
 *    name is also in struct df_stage);
 *  - HEALTHCHECK: "NONE", or "CMD" followed by the command in exec form
 *    (json_form) or one shell-form string;
 *  - ONBUILD: args[0] is the trigger text as written, and onbuild the
 *    parsed trigger;
 *  - every other kind: the raw whitespace-separated words (quotes kept).
 * Heredoc bodies named in the arguments are in heredocs, in order. */
struct df_instr {
  enum df_kind kind;
  int line;        /* 1-based line where the instruction starts */
  char *original;  /* the instruction as written, continuations joined */
  bool json_form;
  char **args;     /* NULL-terminated */
  size_t nargs;
  struct df_flag *flags;
  size_t nflags;
  struct df_heredoc *heredocs;
  size_t nheredocs;
  struct df_instr *onbuild;
};

struct df_stage {
  char *name;     /* AS name (lower-cased, as Docker does), or NULL */
  char *base;     /* the raw FROM word, e.g. "busybox:${TAG}" or "scratch" */
  char *platform; /* raw --platform value or NULL */
  int line;       /* line of the FROM */
  struct df_instr *instrs; /* the instructions after FROM (FROM itself excluded) */
  size_t ninstrs;
};

struct dockerfile {
  char escape;            /* '\\' or '`' */
  struct df_instr *meta_args; /* ARGs before the first FROM */
  size_t nmeta_args;
  struct df_stage *stages;
  size_t nstages;
};

/* Parse TEXT.  A syntax error is "dockerfile parse error line N: ..." as
 * dockerd 20.10 words it (lower-case "dockerfile"), with -EINVAL; an
 * instruction before the first FROM other than ARG, an unknown
 * instruction, an unknown or malformed --flag, a wrong argument count, an
 * unterminated heredoc and a JSON form with non-strings are errors.  (Where
 * dockerd says "failed to parse Dockerfile: X" without a line, berth says
 * "dockerfile parse error line N: X"; an empty Dockerfile is "failed to
 * parse Dockerfile: file with no instructions".)  Heredoc bodies with
 * chomp set already have their leading tabs removed; an ONBUILD trigger's
 * heredocs are both in the ONBUILD instruction and in its onbuild. */
int dockerfile_parse (const char *text, size_t len, struct dockerfile **out, berth_err *err);
void dockerfile_free (struct dockerfile *df);
/* Lookup helpers: a flag's value (NULL if absent) and whether it is set. */
const char *df_flag_value (const struct df_instr *in, const char *name);
bool df_flag_present (const struct df_instr *in, const char *name);
/* A boolean flag (--link, --parents...): given without a value or "=true". */
bool df_flag_bool (const struct df_instr *in, const char *name);
const char *df_kind_name (enum df_kind k); /* "RUN", ... */

/* Docker's shell-word processing (ProcessWord): $VAR, ${VAR},
 * ${VAR:-word}, ${VAR-word}, ${VAR:+word}, ${VAR+word}, ${VAR:?msg},
 * single and double quotes, and ESCAPE, with quote removal.  ENV is a
 * NULL-terminated KEY=VALUE vector; unset variables expand to "".
 * dockerfile_expand_words also splits into words on unquoted whitespace
 * (for EXPOSE, VOLUME, COPY sources...). */
int dockerfile_expand_word (const char *word, char escape, const char *const *env, char **out, berth_err *err);
int dockerfile_expand_words (const char *text, char escape, const char *const *env, char ***out, berth_err *err);

/* .dockerignore (Docker's rules: fileutils/patternmatcher): comments, one
 * pattern per line, leading/trailing whitespace and a leading "/" dropped,
 * paths cleaned, `**` matching any number of directories, `!` exceptions,
 * last match wins; a directory that matches excludes its contents.  PATH
 * is a context-relative path without leading "/" ("a/b.txt"). */
struct dockerignore;
int dockerignore_parse (const char *text, size_t len, struct dockerignore **out, berth_err *err);
bool dockerignore_match (const struct dockerignore *di, const char *path);
/* Append one more pattern line (as if it were the last line of the file),
 * e.g. "!Dockerfile" to keep the Dockerfile as the docker CLI does. */
int dockerignore_add_pattern (struct dockerignore *di, const char *line, berth_err *err);
/* True if some exception pattern could re-include something under the
 * directory DIR (so a walker cannot skip an excluded directory whole). */
bool dockerignore_has_exceptions_under (const struct dockerignore *di, const char *dir);
void dockerignore_free (struct dockerignore *di);

#endif
