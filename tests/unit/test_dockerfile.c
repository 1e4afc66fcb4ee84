/* The Dockerfile parser and the shell-word expander: Docker's rules and
 * error messages (checked against dockerd 20.10's classic builder). */
#include "unit.h"

#include "build/dockerfile.h"

#include <errno.h>

static struct dockerfile *parse_ok (const char *text)
{
  struct dockerfile *df = NULL;
  berth_err err = NULL;
  if (dockerfile_parse (text, strlen (text), &df, &err) < 0)
    {
      printf ("  unexpected parse error: %s\n", err->msg);
      fflush (stdout);
      _exit (1);
    }
  return df;
}

/* The error message of parsing TEXT (which must fail). */
static char *parse_err (const char *text)
{
  struct dockerfile *df = NULL;
  berth_err err = NULL;
  if (dockerfile_parse (text, strlen (text), &df, &err) == 0)
    {
      printf ("  parse of \"%s\" succeeded\n", text);
      fflush (stdout);
      _exit (1);
    }
  return err->msg;
}

static struct df_instr *instr (struct dockerfile *df, size_t stage, size_t i)
{
  CHECK (stage < df->nstages);
  CHECK (i < df->stages[stage].ninstrs);
  return &df->stages[stage].instrs[i];
}

TEST (from_forms)
{
  struct dockerfile *df = parse_ok ("FROM busybox\n"
                                    "from --platform=linux/amd64 alpine:3.19 AS Build-1\n"
                                    "FROM scratch as final\n"
                                    "FROM busybox:${TAG}\n");
  CHECK (df->nstages == 4);
  CHECK_STR (df->stages[0].base, "busybox");
  CHECK (df->stages[0].name == NULL && df->stages[0].platform == NULL);
  CHECK (df->stages[0].line == 1);
  CHECK_STR (df->stages[1].base, "alpine:3.19");
  CHECK_STR (df->stages[1].name, "build-1");
  CHECK_STR (df->stages[1].platform, "linux/amd64");
  CHECK (df->stages[1].line == 2);
  CHECK_STR (df->stages[2].base, "scratch");
  CHECK_STR (df->stages[2].name, "final");
  CHECK_STR (df->stages[3].base, "busybox:${TAG}");
  CHECK (df->escape == '\\');
  dockerfile_free (df);
}

TEST (meta_args_and_no_stage)
{
  struct dockerfile *df = parse_ok ("# comment\nARG TAG=1.36\nARG OTHER\nFROM busybox:$TAG\nARG TAG\n");
  CHECK (df->nmeta_args == 2);
  CHECK_STR (df->meta_args[0].args[0], "TAG=1.36");
  CHECK (df->meta_args[0].line == 2);
  CHECK (df->nstages == 1 && df->stages[0].ninstrs == 1);
  CHECK (instr (df, 0, 0)->kind == DF_ARG);
  dockerfile_free (df);
  CHECK_STR (parse_err ("RUN true\n"), "dockerfile parse error line 1: no build stage in current context");
  CHECK_STR (parse_err ("\n\n# nothing\n"), "failed to parse Dockerfile: file with no instructions");
  CHECK_STR (parse_err (""), "failed to parse Dockerfile: file with no instructions");
}

TEST (run_cmd_entrypoint_forms)
{
  struct dockerfile *df = parse_ok ("FROM x\n"
                                    "RUN echo  hi   there\n"
                                    "RUN [\"/bin/sh\", \"-c\", \"echo \\\"q\\\"\"]\n"
                                    "CMD [\"a\",\"b\"]\n"
                                    "ENTRYPOINT exec top -b\n"
                                    "CMD [ \"not\", json ]\n"
                                    "CMD []\n"
                                    "RUN\n");
  struct df_instr *in = instr (df, 0, 0);
  CHECK (in->kind == DF_RUN && !in->json_form && in->nargs == 1);
  CHECK_STR (in->args[0], "echo  hi   there");
  CHECK_STR (in->original, "RUN echo  hi   there");
  CHECK (in->line == 2);
  in = instr (df, 0, 1);
  CHECK (in->json_form && in->nargs == 3);
  CHECK_STR (in->args[2], "echo \"q\"");
  in = instr (df, 0, 2);
  CHECK (in->kind == DF_CMD && in->json_form && in->nargs == 2);
  in = instr (df, 0, 3);
  CHECK (in->kind == DF_ENTRYPOINT && !in->json_form);
  CHECK_STR (in->args[0], "exec top -b");
  in = instr (df, 0, 4); /* invalid JSON: shell form, as Docker */
  CHECK (!in->json_form && in->nargs == 1);
  CHECK_STR (in->args[0], "[ \"not\", json ]");
  in = instr (df, 0, 5);
  CHECK (in->json_form && in->nargs == 0 && in->args[0] == NULL);
  in = instr (df, 0, 6);
  CHECK (in->kind == DF_RUN && in->nargs == 0);
  dockerfile_free (df);
  CHECK_STR (parse_err ("FROM x\nCMD [\"a\", 1]\n"),
             "dockerfile parse error line 2: when using JSON array syntax, arrays must be comprised of strings only");
}

TEST (copy_add_flags)
{
  struct dockerfile *df = parse_ok ("FROM x\n"
                                    "COPY --from=build --chown=1000:1000 --chmod=0755 a b /dst/\n"
                                    "ADD --link --checksum=sha256:abc https://e.x/f /f\n"
                                    "COPY [\"a b\", \"/c d/\"]\n"
                                    "COPY --chown=\"user name\" \"x y\" z\n"
                                    "COPY --link=false a b\n");
  struct df_instr *in = instr (df, 0, 0);
  CHECK (in->kind == DF_COPY && in->nargs == 3 && in->nflags == 3);
  CHECK_STR (df_flag_value (in, "from"), "build");
  CHECK_STR (df_flag_value (in, "chown"), "1000:1000");
  CHECK_STR (df_flag_value (in, "chmod"), "0755");
  CHECK (df_flag_value (in, "link") == NULL && !df_flag_present (in, "link"));
  CHECK_STR (in->args[2], "/dst/");
  in = instr (df, 0, 1);
  CHECK (in->kind == DF_ADD && df_flag_present (in, "link") && df_flag_value (in, "link") == NULL);
  CHECK (df_flag_bool (in, "link"));
  CHECK_STR (df_flag_value (in, "checksum"), "sha256:abc");
  in = instr (df, 0, 2);
  CHECK (in->json_form && in->nargs == 2);
  CHECK_STR (in->args[0], "a b");
  in = instr (df, 0, 3); /* flags lose their quotes, arguments keep them */
  CHECK_STR (df_flag_value (in, "chown"), "user name");
  CHECK (in->nargs == 3);
  CHECK_STR (in->args[0], "\"x");
  in = instr (df, 0, 4);
  CHECK (df_flag_present (in, "link") && !df_flag_bool (in, "link"));
  dockerfile_free (df);

  CHECK_STR (parse_err ("FROM x\nCOPY a\n"), "dockerfile parse error line 2: COPY requires at least two arguments, "
                                             "but only one was provided. Destination could not be determined");
  CHECK_STR (parse_err ("FROM x\nADD a\n"), "dockerfile parse error line 2: ADD requires at least two arguments, "
                                            "but only one was provided. Destination could not be determined");
  CHECK_STR (parse_err ("FROM x\nCOPY --foo=1 a b\n"), "dockerfile parse error line 2: Unknown flag: foo");
  CHECK_STR (parse_err ("FROM x\nCOPY --from a b\n"), "dockerfile parse error line 2: Missing a value on flag: from");
  CHECK_STR (parse_err ("FROM x\nCOPY --chown=1 --chown=2 a b\n"),
             "dockerfile parse error line 2: Duplicate flag specified: chown");
  CHECK_STR (parse_err ("FROM x\nENV --foo=1 a b\n"), "dockerfile parse error line 2: Unknown flag: foo");
  CHECK_STR (parse_err ("FROM --platform a\n"), "dockerfile parse error line 1: Missing a value on flag: platform");
  CHECK_STR (parse_err ("FROM x\nCOPY --link=maybe a b\n"),
             "dockerfile parse error line 2: expecting boolean value for flag link, not: maybe");
}

TEST (env_label_arg)
{
  struct dockerfile *df = parse_ok ("FROM x\n"
                                    "ENV A=1 B=\"two words\" C=a\\ b\n"
                                    "ENV LEGACY value with  spaces\n"
                                    "LABEL \"com.x.y\"=\"v\" other=1\n"
                                    "ARG A B=2 C=\"x y\"\n"
                                    "ENV D=\n");
  struct df_instr *in = instr (df, 0, 0);
  CHECK (in->kind == DF_ENV && in->nargs == 6);
  CHECK_STR (in->args[0], "A");
  CHECK_STR (in->args[1], "1");
  CHECK_STR (in->args[3], "\"two words\"");
  CHECK_STR (in->args[4], "C");
  CHECK_STR (in->args[5], "a\\ b");
  in = instr (df, 0, 1);
  CHECK (in->nargs == 2);
  CHECK_STR (in->args[0], "LEGACY");
  CHECK_STR (in->args[1], "value with  spaces");
  in = instr (df, 0, 2);
  CHECK (in->kind == DF_LABEL && in->nargs == 4);
  CHECK_STR (in->args[0], "\"com.x.y\"");
  CHECK_STR (in->args[1], "\"v\"");
  in = instr (df, 0, 3);
  CHECK (in->kind == DF_ARG && in->nargs == 3);
  CHECK_STR (in->args[2], "C=\"x y\"");
  in = instr (df, 0, 4);
  CHECK (in->nargs == 2);
  CHECK_STR (in->args[1], "");
  dockerfile_free (df);
  CHECK_STR (parse_err ("FROM x\nENV\n"), "dockerfile parse error line 2: ENV requires at least one argument");
  CHECK_STR (parse_err ("FROM x\nENV A\n"), "dockerfile parse error line 2: ENV must have two arguments");
  CHECK_STR (parse_err ("FROM x\nLABEL a\n"), "dockerfile parse error line 2: LABEL must have two arguments");
  CHECK_STR (parse_err ("FROM x\nENV A=1 B\n"),
             "dockerfile parse error line 2: Syntax error - can't find = in \"B\". Must be of the form: name=value");
  CHECK_STR (parse_err ("FROM x\nARG\n"), "dockerfile parse error line 2: ARG requires at least one argument");
  CHECK_STR (parse_err ("FROM x\nLABEL\n"), "dockerfile parse error line 2: LABEL requires at least one argument");
}

TEST (single_arg_instructions)
{
  struct dockerfile *df = parse_ok ("FROM x\nWORKDIR /a b\nUSER 1000:1000\nSTOPSIGNAL SIGKILL\nMAINTAINER Jo <j@x>\n"
                                    "EXPOSE 80/tcp  443\nVOLUME /a /b\nVOLUME [\"/c\"]\n");
  CHECK_STR (instr (df, 0, 0)->args[0], "/a b");
  CHECK (instr (df, 0, 0)->kind == DF_WORKDIR);
  CHECK_STR (instr (df, 0, 1)->args[0], "1000:1000");
  CHECK_STR (instr (df, 0, 2)->args[0], "SIGKILL");
  CHECK_STR (instr (df, 0, 3)->args[0], "Jo <j@x>");
  CHECK (instr (df, 0, 4)->nargs == 2);
  CHECK_STR (instr (df, 0, 4)->args[1], "443");
  CHECK (instr (df, 0, 5)->nargs == 2 && !instr (df, 0, 5)->json_form);
  CHECK (instr (df, 0, 6)->nargs == 1 && instr (df, 0, 6)->json_form);
  dockerfile_free (df);
  CHECK_STR (parse_err ("FROM x\nWORKDIR\n"), "dockerfile parse error line 2: WORKDIR requires exactly one argument");
  CHECK_STR (parse_err ("FROM x\nUSER\n"), "dockerfile parse error line 2: USER requires exactly one argument");
  CHECK_STR (parse_err ("FROM x\nSTOPSIGNAL\n"), "dockerfile parse error line 2: STOPSIGNAL requires exactly one argument");
  CHECK_STR (parse_err ("FROM x\nMAINTAINER\n"), "dockerfile parse error line 2: MAINTAINER requires exactly one argument");
  CHECK_STR (parse_err ("FROM x\nEXPOSE\n"), "dockerfile parse error line 2: EXPOSE requires at least one argument");
  CHECK_STR (parse_err ("FROM x\nVOLUME\n"), "dockerfile parse error line 2: VOLUME requires at least one argument");
}

TEST (healthcheck_shell_onbuild)
{
  struct dockerfile *df = parse_ok ("FROM x\n"
                                    "HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/\n"
                                    "HEALTHCHECK none\n"
                                    "HEALTHCHECK CMD [\"true\"]\n"
                                    "SHELL [\"/bin/bash\", \"-ec\"]\n"
                                    "ONBUILD RUN echo triggered\n"
                                    "ONBUILD COPY --chown=1 a /b\n");
  struct df_instr *in = instr (df, 0, 0);
  CHECK (in->kind == DF_HEALTHCHECK && in->nargs == 2 && !in->json_form);
  CHECK_STR (in->args[0], "CMD");
  CHECK_STR (in->args[1], "curl -f http://localhost/");
  CHECK_STR (df_flag_value (in, "interval"), "5s");
  CHECK_STR (df_flag_value (in, "retries"), "3");
  in = instr (df, 0, 1);
  CHECK (in->nargs == 1);
  CHECK_STR (in->args[0], "NONE");
  in = instr (df, 0, 2);
  CHECK (in->json_form && in->nargs == 2);
  CHECK_STR (in->args[1], "true");
  in = instr (df, 0, 3);
  CHECK (in->kind == DF_SHELL && in->json_form && in->nargs == 2);
  in = instr (df, 0, 4);
  CHECK (in->kind == DF_ONBUILD && in->onbuild && in->onbuild->kind == DF_RUN);
  CHECK_STR (in->args[0], "RUN echo triggered");
  CHECK_STR (in->onbuild->args[0], "echo triggered");
  in = instr (df, 0, 5);
  CHECK (in->onbuild->kind == DF_COPY);
  CHECK_STR (df_flag_value (in->onbuild, "chown"), "1");
  dockerfile_free (df);
  CHECK_STR (parse_err ("FROM x\nHEALTHCHECK\n"), "dockerfile parse error line 2: HEALTHCHECK requires at least one argument");
  CHECK_STR (parse_err ("FROM x\nHEALTHCHECK FOO\n"),
             "dockerfile parse error line 2: Unknown type \"FOO\" in HEALTHCHECK (try CMD)");
  CHECK_STR (parse_err ("FROM x\nHEALTHCHECK NONE x\n"), "dockerfile parse error line 2: HEALTHCHECK NONE takes no arguments");
  CHECK_STR (parse_err ("FROM x\nHEALTHCHECK CMD\n"), "dockerfile parse error line 2: Missing command after HEALTHCHECK CMD");
  CHECK_STR (parse_err ("FROM x\nHEALTHCHECK --bogus=1 CMD x\n"), "dockerfile parse error line 2: Unknown flag: bogus");
  CHECK_STR (parse_err ("FROM x\nONBUILD\n"), "dockerfile parse error line 2: ONBUILD requires at least one argument");
  CHECK_STR (parse_err ("FROM x\nONBUILD ONBUILD RUN x\n"),
             "dockerfile parse error line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  CHECK_STR (parse_err ("FROM x\nONBUILD FROM x\n"), "dockerfile parse error line 2: FROM isn't allowed as an ONBUILD trigger");
  CHECK_STR (parse_err ("FROM x\nONBUILD MAINTAINER x\n"),
             "dockerfile parse error line 2: MAINTAINER isn't allowed as an ONBUILD trigger");
  CHECK_STR (parse_err ("FROM x\nSHELL sh -c\n"), "dockerfile parse error line 2: SHELL requires the arguments to be in JSON form");
  CHECK_STR (parse_err ("FROM x\nSHELL []\n"), "dockerfile parse error line 2: SHELL requires at least one argument");
}

TEST (syntax_errors_name_their_line)
{
  CHECK_STR (parse_err ("FOO bar\n"), "dockerfile parse error line 1: unknown instruction: FOO");
  CHECK_STR (parse_err ("FROM scratch\n\n# c\nfoo bar\n"), "dockerfile parse error line 4: unknown instruction: FOO");
  CHECK_STR (parse_err ("FROM\n"), "dockerfile parse error line 1: FROM requires either one or three arguments");
  CHECK_STR (parse_err ("FROM a b\n"), "dockerfile parse error line 1: FROM requires either one or three arguments");
  CHECK_STR (parse_err ("FROM a as 1x\n"), "dockerfile parse error line 1: invalid name for build stage: \"1x\", "
                                           "name can't start with a number or contain symbols");
  CHECK_STR (parse_err ("FROM a as b$c\n"), "dockerfile parse error line 1: invalid name for build stage: \"b$c\", "
                                            "name can't start with a number or contain symbols");
  /* the line where the instruction starts */
  CHECK_STR (parse_err ("FROM x\nRUN a \\\n  b \\\n  c\nBAD \\\n x\n"),
             "dockerfile parse error line 5: unknown instruction: BAD");
  struct dockerfile *df = NULL;
  berth_err err = NULL;
  CHECK (dockerfile_parse ("FROM x\nRUN a\0b\n", 13, &df, &err) == -EINVAL);
  CHECK_STR (err->msg, "failed to parse Dockerfile: the Dockerfile contains a NUL byte");
}

TEST (continuations_comments_blank_lines)
{
  struct dockerfile *df = parse_ok ("FROM x\n"
                                    "RUN apt-get update && \\\n"
                                    "    # a comment inside\n"
                                    "\n"
                                    "    apt-get install -y foo \\  \n"
                                    "    && echo done\n"
                                    "   # indented comment\n"
                                    "  ENV A=1\r\n"
                                    "RUN echo a\\\\\n"
                                    "b\n");
  struct df_instr *in = instr (df, 0, 0);
  CHECK_STR (in->args[0], "apt-get update &&     apt-get install -y foo     && echo done");
  CHECK (in->line == 2);
  in = instr (df, 0, 1);
  CHECK (in->kind == DF_ENV && in->line == 8);
  CHECK_STR (in->args[1], "1");
  /* a line ending with the escape character continues, even when it is
   * itself escaped (as Docker) */
  in = instr (df, 0, 2);
  CHECK_STR (in->args[0], "echo a\\b");
  dockerfile_free (df);
  /* a continuation at the end of the file */
  df = parse_ok ("FROM x\nRUN a \\");
  CHECK_STR (instr (df, 0, 0)->args[0], "a");
  dockerfile_free (df);
  /* a byte order mark */
  df = parse_ok ("\xEF\xBB\xBF" "FROM x\n");
  CHECK (df->nstages == 1);
  dockerfile_free (df);
}

TEST (escape_directive)
{
  struct dockerfile *df = parse_ok ("# escape=`\n"
                                    "FROM x\n"
                                    "RUN dir c:\\ `\n"
                                    "    && echo\n"
                                    "# escape=\\\n"
                                    "RUN a\n");
  CHECK (df->escape == '`');
  CHECK_STR (instr (df, 0, 0)->args[0], "dir c:\\     && echo");
  CHECK (instr (df, 0, 1)->line == 6);
  dockerfile_free (df);
  /* directives: case-insensitive, blanks allowed, only at the top */
  df = parse_ok ("#  syntax = docker/dockerfile:1\n# ESCAPE = `\nFROM x\n");
  CHECK (df->escape == '`');
  dockerfile_free (df);
  df = parse_ok ("\n# escape=`\nFROM x\n");
  CHECK (df->escape == '\\');
  dockerfile_free (df);
  df = parse_ok ("# comment\n# escape=`\nFROM x\n");
  CHECK (df->escape == '\\');
  dockerfile_free (df);
  CHECK_STR (parse_err ("# escape=x\nFROM x\n"), "dockerfile parse error line 1: invalid escape token 'x' does not match ` or \\");
  CHECK_STR (parse_err ("# escape=`\n# escape=`\nFROM x\n"),
             "dockerfile parse error line 2: only one escape parser directive can be used");
}

TEST (heredocs)
{
  struct dockerfile *df = parse_ok ("FROM x\n"
                                    "RUN <<EOF\n"
                                    "echo $HOME\n"
                                    "  indented\n"
                                    "EOF\n"
                                    "COPY <<'A' <<\"B\" /dest/\n"
                                    "a $X\n"
                                    "A\n"
                                    "b\n"
                                    "B\n"
                                    "RUN <<-EOT bash\n"
                                    "\t\tone\n"
                                    "\ttwo\n"
                                    "\tEOT\n"
                                    "RUN 3<<E\"O\"F cat <&3\n"
                                    "x\n"
                                    "EOF\n"
                                    "RUN echo a<<b && cat <<'not' # cat<<x is not one\n"
                                    "not\n"
                                    "RUN [\"<<EOF\"]\n"
                                    "ENV A=<<EOF\n");
  struct df_instr *in = instr (df, 0, 0);
  CHECK (in->nheredocs == 1 && in->line == 2);
  CHECK_STR (in->args[0], "<<EOF");
  CHECK_STR (in->heredocs[0].name, "EOF");
  CHECK_STR (in->heredocs[0].content, "echo $HOME\n  indented\n");
  CHECK (in->heredocs[0].expand && !in->heredocs[0].chomp);
  in = instr (df, 0, 1);
  CHECK (in->kind == DF_COPY && in->nheredocs == 2 && in->line == 6);
  CHECK (in->nargs == 3);
  CHECK_STR (in->heredocs[0].name, "A");
  CHECK_STR (in->heredocs[0].content, "a $X\n");
  CHECK (!in->heredocs[0].expand);
  CHECK_STR (in->heredocs[1].name, "B");
  CHECK_STR (in->heredocs[1].content, "b\n");
  CHECK (!in->heredocs[1].expand);
  in = instr (df, 0, 2);
  CHECK (in->nheredocs == 1 && in->heredocs[0].chomp && in->line == 11);
  CHECK_STR (in->heredocs[0].content, "one\ntwo\n");
  in = instr (df, 0, 3);
  CHECK (in->nheredocs == 1 && !in->heredocs[0].expand);
  CHECK_STR (in->heredocs[0].name, "EOF");
  CHECK_STR (in->heredocs[0].content, "x\n");
  in = instr (df, 0, 4); /* "a<<b" is not a heredoc word; <<'not' is */
  CHECK (in->nheredocs == 1);
  CHECK_STR (in->heredocs[0].name, "not");
  CHECK_STR (in->heredocs[0].content, "");
  in = instr (df, 0, 5);
  CHECK (in->json_form && in->nheredocs == 0);
  in = instr (df, 0, 6);
  CHECK (in->kind == DF_ENV && in->nheredocs == 0);
  CHECK (df->stages[0].ninstrs == 7);
  dockerfile_free (df);

  /* ONBUILD triggers can have heredocs too */
  df = parse_ok ("FROM x\nONBUILD RUN <<EOF\nhi\nEOF\nRUN b\n");
  in = instr (df, 0, 0);
  CHECK (in->nheredocs == 1 && in->onbuild->nheredocs == 1);
  CHECK_STR (in->onbuild->heredocs[0].content, "hi\n");
  CHECK (instr (df, 0, 1)->line == 5);
  dockerfile_free (df);
  /* the last line without a newline */
  df = parse_ok ("FROM x\nRUN <<EOF\nlast\nEOF");
  CHECK_STR (instr (df, 0, 0)->heredocs[0].content, "last\n");
  dockerfile_free (df);

  CHECK_STR (parse_err ("FROM x\nRUN <<EOF\necho\n"), "dockerfile parse error line 2: unterminated heredoc");
  CHECK_STR (parse_err ("FROM x\nRUN <<A <<B\na\nA\nb\n"), "dockerfile parse error line 2: unterminated heredoc");
}

/* ---- the expander ---- */

static const char *const test_env[] = { "HOME=/root", "EMPTY=", "SP=a  b", "X=x", "FILE=archive.tar.gz", NULL };

static char *expand (const char *word)
{
  char *out = NULL;
  berth_err err = NULL;
  if (dockerfile_expand_word (word, '\\', test_env, &out, &err) < 0)
    {
      printf ("  expanding %s failed: %s\n", word, err->msg);
      fflush (stdout);
      _exit (1);
    }
  return out;
}

static char *expand_err (const char *word)
{
  char *out = NULL;
  berth_err err = NULL;
  if (dockerfile_expand_word (word, '\\', test_env, &out, &err) == 0)
    {
      printf ("  expanding %s gave \"%s\"\n", word, out);
      fflush (stdout);
      _exit (1);
    }
  return err->msg;
}

TEST (expand_variables)
{
  CHECK_STR (expand ("$HOME"), "/root");
  CHECK_STR (expand ("${HOME}/x"), "/root/x");
  CHECK_STR (expand ("$HOME/x$X"), "/root/xx");
  CHECK_STR (expand ("$UNSET"), "");
  CHECK_STR (expand ("a${UNSET}b"), "ab");
  CHECK_STR (expand ("$"), "$");
  CHECK_STR (expand ("a$ b"), "a$ b");
  CHECK_STR (expand ("$/"), "$/");
  CHECK_STR (expand ("$1x"), "x");
  CHECK_STR (expand ("$HOMEx"), "");
  CHECK_STR (expand ("${HOME}x"), "/rootx");
  CHECK_STR (expand ("${UNSET:-def}"), "def");
  CHECK_STR (expand ("${EMPTY:-def}"), "def");
  CHECK_STR (expand ("${HOME:-def}"), "/root");
  CHECK_STR (expand ("${UNSET-def}"), "def");
  CHECK_STR (expand ("${EMPTY-def}"), "");
  CHECK_STR (expand ("${HOME:+alt}"), "alt");
  CHECK_STR (expand ("${EMPTY:+alt}"), "");
  CHECK_STR (expand ("${EMPTY+alt}"), "alt");
  CHECK_STR (expand ("${UNSET+alt}"), "");
  CHECK_STR (expand ("${UNSET:-$HOME/y}"), "/root/y");
  CHECK_STR (expand ("${UNSET:-${X:+nested}}"), "nested");
  CHECK_STR (expand ("${HOME:?must be set}"), "/root");
  CHECK_STR (expand ("${FILE%.gz}"), "archive.tar");
  CHECK_STR (expand ("${FILE%.*}"), "archive.tar");
  CHECK_STR (expand ("${FILE%%.*}"), "archive");
  CHECK_STR (expand ("${FILE#*.}"), "tar.gz");
  CHECK_STR (expand ("${FILE##*.}"), "gz");
  CHECK_STR (expand_err ("${UNSET:?is required}"), "failed to process \"${UNSET:?is required}\": UNSET: is required");
  CHECK_STR (expand_err ("${UNSET?}"), "failed to process \"${UNSET?}\": UNSET: is not allowed to be unset");
  CHECK_STR (expand_err ("${EMPTY:?}"), "failed to process \"${EMPTY:?}\": EMPTY: is not allowed to be empty");
  CHECK_STR (expand ("${EMPTY?}"), "");
  CHECK_STR (expand_err ("${HOME"), "failed to process \"${HOME\": syntax error: missing '}'");
  CHECK_STR (expand_err ("${}"), "failed to process \"${}\": syntax error: bad substitution");
  CHECK_STR (expand_err ("${:x}"), "failed to process \"${:x}\": syntax error: bad substitution");
  CHECK_STR (expand_err ("${HOME:=x}"), "failed to process \"${HOME:=x}\": unsupported modifier (:=) in substitution");
  CHECK_STR (expand_err ("${HOME:-x"), "failed to process \"${HOME:-x\": syntax error: missing '}'");
}

TEST (expand_quotes_and_escapes)
{
  CHECK_STR (expand ("'$HOME'"), "$HOME");
  CHECK_STR (expand ("\"$HOME\""), "/root");
  CHECK_STR (expand ("\"a 'b' $X\""), "a 'b' x");
  CHECK_STR (expand ("'a \"b\"'"), "a \"b\"");
  CHECK_STR (expand ("\\$HOME"), "$HOME");
  CHECK_STR (expand ("a\\ b"), "a b");
  CHECK_STR (expand ("\\\\"), "\\");
  CHECK_STR (expand ("end\\"), "end");
  CHECK_STR (expand ("\"\\$X \\\" \\\\ \\n\""), "$X \" \\ \\n");
  CHECK_STR (expand ("'\\$X'"), "\\$X");
  CHECK_STR (expand ("c:\\path"), "c:path");
  CHECK_STR (expand ("a\"b\"c'd'"), "abcd");
  CHECK_STR (expand ("\"\""), "");
  CHECK_STR (expand_err ("'open"), "failed to process \"'open\": unexpected end of statement while looking for matching single-quote");
  CHECK_STR (expand_err ("\"open"), "failed to process \"\"open\": unexpected end of statement while looking for matching double-quote");

  /* the backtick escape */
  char *out = NULL;
  berth_err err = NULL;
  CHECK (dockerfile_expand_word ("c:\\dir `$HOME \"`\"\"", '`', test_env, &out, &err) == 0);
  CHECK_STR (out, "c:\\dir $HOME \"");
  free (out);
  /* no environment at all */
  CHECK (dockerfile_expand_word ("$HOME-${X:-d}", '\\', NULL, &out, &err) == 0);
  CHECK_STR (out, "-d");
  free (out);
}

static char *join_words (const char *text)
{
  char **words = NULL;
  berth_err err = NULL;
  if (dockerfile_expand_words (text, '\\', test_env, &words, &err) < 0)
    {
      printf ("  expanding words of %s failed: %s\n", text, err->msg);
      fflush (stdout);
      _exit (1);
    }
  static char buf[1024];
  buf[0] = 0;
  for (char **w = words; *w; w++)
    {
      strcat (buf, "[");
      strcat (buf, *w);
      strcat (buf, "]");
    }
  return buf;
}

TEST (expand_words)
{
  CHECK_STR (join_words ("a  b\tc"), "[a][b][c]");
  CHECK_STR (join_words ("\"a  b\" c"), "[a  b][c]");
  CHECK_STR (join_words ("$SP c"), "[a][b][c]");
  CHECK_STR (join_words ("\"$SP\" c"), "[a  b][c]");
  CHECK_STR (join_words ("a\\ b c"), "[a b][c]");
  CHECK_STR (join_words ("x$X'y z'"), "[xxy z]");
  CHECK_STR (join_words ("  "), "");
  CHECK_STR (join_words ("$UNSET a"), "[a]");
  CHECK_STR (join_words ("80/tcp ${PORT:-8080}"), "[80/tcp][8080]");
}
