/* The one error contract of berth (after crun's libcrun_error_t).
 *
 * A function that can fail returns a negative errno-style value and, when it
 * does, fills *err with a heap-allocated error that carries a human message.
 * Callers add context on the way up with berth_error_prefix() and the
 * outermost caller prints it once.  A function that returns >= 0 never
 * touches *err.
 */
#ifndef BERTH_ERROR_H
#define BERTH_ERROR_H

#include <stdio.h>

struct berth_error {
  int errnum;     /* errno value that caused it, 0 for a logical error */
  char *msg;      /* full message, including strerror(errnum) if set */
};

typedef struct berth_error *berth_err;

/* Fill *err (if err is not NULL and *err is NULL) and return a negative value:
 * -errnum, or -EINVAL when errnum is 0.  The message gets ": strerror(errnum)"
 * appended when errnum != 0. */
int berth_fail (berth_err *err, int errnum, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Like berth_fail, but the message is used as is: ERRNUM only classifies
 * the error (ENOENT "not found", EEXIST/EBUSY "conflict"...), for messages
 * that must read exactly as the user expects ("No such image: x"). */
int berth_fail_as (berth_err *err, int errnum, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Shortcut for the common case of failing with the current errno. */
#define berth_fail_errno(err, ...) berth_fail ((err), errno, __VA_ARGS__)

/* Prepend "context: " to an existing error.  Returns the error's negative
 * value so it can be used as `return berth_error_prefix (err, "...")`. */
int berth_error_prefix (berth_err *err, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

/* Value a function should return for this error (negative). */
int berth_error_ret (berth_err err);

void berth_error_free (berth_err *err);

/* Log the error at error level (text or json, see log.h) and free it.
 * Returns the process exit code to use (1). */
int berth_error_report (berth_err *err);

#endif
