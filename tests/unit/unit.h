/* A minimal unit-test harness.  Each TEST() registers itself; main() runs
 * them all, each in a forked child so that a crash fails only that test,
 * and prints "PASS: name" / "FAIL: name: why" lines that tests/run counts. */
#ifndef BERTH_UNIT_H
#define BERTH_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef void (*unit_fn) (void);
struct unit_test { const char *name; unit_fn fn; };

#define UNIT_MAX 256
static struct unit_test unit_tests[UNIT_MAX];
static int unit_count;

#define TEST(name)                                                        \
  static void test_##name (void);                                         \
  __attribute__ ((constructor)) static void register_##name (void)        \
  {                                                                       \
    if (unit_count < UNIT_MAX)                                            \
      unit_tests[unit_count++] = (struct unit_test){ #name, test_##name }; \
  }                                                                       \
  static void test_##name (void)

#define CHECK(cond)                                                       \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf (stdout, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      fflush (stdout);                                                    \
      _exit (1);                                                          \
    }                                                                     \
  } while (0)

/* HAYSTACK (may be NULL: a failure) contains NEEDLE. */
#define CHECK_CONTAINS(haystack, needle)                                                   \
  do                                                                                       \
    {                                                                                      \
      const char *h_ = (haystack);                                                         \
      if (h_ == NULL || strstr (h_, (needle)) == NULL)                                     \
        {                                                                                  \
          fprintf (stdout, "  %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, \
                   h_ ? h_ : "(null)", (needle));                                          \
          fflush (stdout);                                                                 \
          _exit (1);                                                                       \
        }                                                                                  \
    }                                                                                      \
  while (0)

#define CHECK_STR(a, b)                                                   \
  do {                                                                    \
    const char *a_ = (a), *b_ = (b);                                      \
    if (a_ == NULL || b_ == NULL || strcmp (a_, b_) != 0) {               \
      fprintf (stdout, "  %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
               a_ ? a_ : "(null)", b_ ? b_ : "(null)");                   \
      fflush (stdout);                                                    \
      _exit (1);                                                          \
    }                                                                     \
  } while (0)

int main (int argc, char **argv)
{
  int failed = 0;
  for (int i = 0; i < unit_count; i++)
    {
      if (argc > 1 && strcmp (argv[1], unit_tests[i].name) != 0)
        continue;
      fflush (stdout);
      pid_t pid = fork ();
      if (pid == 0)
        {
          unit_tests[i].fn ();
          fflush (stdout);
          _exit (0);
        }
      int st = 0;
      waitpid (pid, &st, 0);
      int ok = WIFEXITED (st) && WEXITSTATUS (st) == 0;
      if (ok)
        printf ("PASS: %s\n", unit_tests[i].name);
      else
        {
          printf ("FAIL: %s\n", unit_tests[i].name);
          failed++;
        }
    }
  return failed ? 1 : 0;
}

#endif
