/* JSON helpers over jansson.  Lookups return NULL (or the fallback) when a
 * key is missing or has the wrong type, so callers validate with one test. */
#ifndef BERTH_JSON_H
#define BERTH_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

static inline void cleanup_jsonp (json_t **j)
{
  if (*j)
    json_decref (*j);
}
#define cleanup_json __attribute__ ((cleanup (cleanup_jsonp)))

/* Largest JSON document berth reads from a file or a request body. */
#define BERTH_JSON_MAX_SIZE (16 * 1024 * 1024)

/* Parse a file; the error names the file, line and column. */
json_t *berth_json_load_file (const char *path, berth_err *err);
json_t *berth_json_load_buffer (const char *buf, size_t len, const char *what, berth_err *err);

/* Follow a dotted path ("linux.resources.memory") through objects. */
json_t *berth_json_path (json_t *root, const char *dotted);

const char *berth_json_str (json_t *obj, const char *key);          /* NULL if absent */
bool berth_json_bool (json_t *obj, const char *key, bool fallback);
json_int_t berth_json_int (json_t *obj, const char *key, json_int_t fallback);
json_t *berth_json_obj (json_t *obj, const char *key);              /* object or NULL */
json_t *berth_json_arr (json_t *obj, const char *key);              /* array or NULL */

/* Require KEY to be absent or of TYPE; fail with "FIELD: expected T". */
int berth_json_check_type (json_t *obj, const char *key, json_type type, const char *where, berth_err *err);

/* Copy an array of strings into a NULL-terminated vector. */
int berth_json_strv (json_t *arr, char ***out, const char *where, berth_err *err);

/* Serialize and write atomically (temp file, fsync, rename). */
int berth_json_write_file (const char *path, json_t *j, berth_err *err);
/* The same without fsync, for volatile state under /run. */
int berth_json_replace_file (const char *path, json_t *j, berth_err *err);

#endif
