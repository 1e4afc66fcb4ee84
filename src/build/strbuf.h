/* A growable string and a growable string vector for the Dockerfile code.
 * Allocation failure aborts (as strdup's unchecked uses elsewhere would
 * crash): these hold Dockerfile-sized text, never attacker-sized buffers
 * the caller did not already hold. */
#ifndef BERTH_BUILD_STRBUF_H
#define BERTH_BUILD_STRBUF_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct strbuf {
  char *s;
  size_t len, cap;
};

static inline void strbuf_grow (struct strbuf *b, size_t more)
{
  if (b->len + more + 1 <= b->cap)
    return;
  size_t cap = b->cap ? b->cap * 2 : 64;
  while (cap < b->len + more + 1)
    cap *= 2;
  char *s = realloc (b->s, cap);
  if (s == NULL)
    abort ();
  b->s = s;
  b->cap = cap;
}

static inline void strbuf_addn (struct strbuf *b, const char *p, size_t n)
{
  if (n > PTRDIFF_MAX / 2)
    abort ();
  strbuf_grow (b, n);
  memcpy (b->s + b->len, p, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static inline void strbuf_add (struct strbuf *b, const char *p) { strbuf_addn (b, p, strlen (p)); }
static inline void strbuf_addc (struct strbuf *b, char c) { strbuf_addn (b, &c, 1); }

/* The string (never NULL: "" when empty); the buffer is left empty. */
static inline char *strbuf_take (struct strbuf *b)
{
  char *s = b->s;
  if (s == NULL)
    s = strdup ("");
  if (s == NULL)
    abort ();
  *b = (struct strbuf){ 0 };
  return s;
}

static inline void strbuf_release (struct strbuf *b)
{
  free (b->s);
  *b = (struct strbuf){ 0 };
}

/* NULL-terminated vector of heap strings. */
struct strvec {
  char **v;
  size_t n, cap;
};

/* Takes ownership of S. */
static inline void strvec_push (struct strvec *sv, char *s)
{
  if (s == NULL)
    abort ();
  if (sv->n + 2 > sv->cap)
    {
      size_t cap = sv->cap ? sv->cap * 2 : 8;
      char **v = realloc (sv->v, cap * sizeof *v);
      if (v == NULL)
        abort ();
      sv->v = v;
      sv->cap = cap;
    }
  sv->v[sv->n++] = s;
  sv->v[sv->n] = NULL;
}

static inline void strvec_pushn (struct strvec *sv, const char *p, size_t n) { strvec_push (sv, strndup (p, n)); }

/* The vector (never NULL: an empty vector is {NULL}); SV is left empty. */
static inline char **strvec_take (struct strvec *sv)
{
  if (sv->v == NULL)
    {
      sv->v = calloc (1, sizeof *sv->v);
      if (sv->v == NULL)
        abort ();
    }
  char **v = sv->v;
  *sv = (struct strvec){ 0 };
  return v;
}

static inline void strvec_release (struct strvec *sv)
{
  for (size_t i = 0; i < sv->n; i++)
    free (sv->v[i]);
  free (sv->v);
  *sv = (struct strvec){ 0 };
}

#endif
