#include "common/json.h"
#include "common/cleanup.h"
#include "common/fs.h"

#include <errno.h>
#include <string.h>

json_t *berth_json_load_buffer (const char *buf, size_t len, const char *what, berth_err *err)
{
  json_error_t jerr;
  if (len > BERTH_JSON_MAX_SIZE)
    {
      berth_fail (err, EFBIG, "%s: JSON document too large (%zu bytes)", what, len);
      return NULL;
    }
  json_t *j = json_loadb (buf, len, JSON_REJECT_DUPLICATES, &jerr);
  if (j == NULL)
    berth_fail (err, 0, "%s: invalid JSON at line %d column %d: %s", what, jerr.line, jerr.column, jerr.text);
  return j;
}

json_t *berth_json_load_file (const char *path, berth_err *err)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  if (berth_read_file (path, BERTH_JSON_MAX_SIZE, &buf, &len, err) < 0)
    return NULL;
  return berth_json_load_buffer (buf, len, path, err);
}

json_t *berth_json_path (json_t *root, const char *dotted)
{
  const char *p = dotted;
  json_t *cur = root;
  while (cur && *p)
    {
      const char *dot = strchr (p, '.');
      size_t n = dot ? (size_t) (dot - p) : strlen (p);
      if (!json_is_object (cur))
        return NULL;
      cur = json_object_getn (cur, p, n);
      p += n + (dot ? 1 : 0);
    }
  return cur;
}

const char *berth_json_str (json_t *obj, const char *key)
{
  json_t *v = json_is_object (obj) ? json_object_get (obj, key) : NULL;
  return json_is_string (v) ? json_string_value (v) : NULL;
}

bool berth_json_bool (json_t *obj, const char *key, bool fallback)
{
  json_t *v = json_is_object (obj) ? json_object_get (obj, key) : NULL;
  return json_is_boolean (v) ? json_is_true (v) : fallback;
}

json_int_t berth_json_int (json_t *obj, const char *key, json_int_t fallback)
{
  json_t *v = json_is_object (obj) ? json_object_get (obj, key) : NULL;
  return json_is_integer (v) ? json_integer_value (v) : fallback;
}

json_t *berth_json_obj (json_t *obj, const char *key)
{
  json_t *v = json_is_object (obj) ? json_object_get (obj, key) : NULL;
  return json_is_object (v) ? v : NULL;
}

json_t *berth_json_arr (json_t *obj, const char *key)
{
  json_t *v = json_is_object (obj) ? json_object_get (obj, key) : NULL;
  return json_is_array (v) ? v : NULL;
}

static const char *type_name (json_type t)
{
  switch (t)
    {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

int berth_json_check_type (json_t *obj, const char *key, json_type type, const char *where, berth_err *err)
{
  json_t *v = json_is_object (obj) ? json_object_get (obj, key) : NULL;
  if (v == NULL || json_is_null (v))
    return 0;
  json_type t = json_typeof (v);
  if (t == type || ((type == JSON_TRUE || type == JSON_FALSE) && json_is_boolean (v)))
    return 0;
  if (type == JSON_REAL && t == JSON_INTEGER)
    return 0;
  return berth_fail (err, 0, "%s.%s: expected %s", where, key, type_name (type));
}

int berth_json_strv (json_t *arr, char ***out, const char *where, berth_err *err)
{
  *out = NULL;
  if (arr == NULL || json_is_null (arr))
    {
      *out = calloc (1, sizeof (char *));
      return *out ? 0 : berth_fail (err, ENOMEM, "%s", where);
    }
  if (!json_is_array (arr))
    return berth_fail (err, 0, "%s: expected an array of strings", where);
  size_t n = json_array_size (arr);
  cleanup_strv char **v = calloc (n + 1, sizeof (char *));
  if (v == NULL)
    return berth_fail (err, ENOMEM, "%s", where);
  for (size_t i = 0; i < n; i++)
    {
      json_t *s = json_array_get (arr, i);
      if (!json_is_string (s))
        return berth_fail (err, 0, "%s[%zu]: expected a string", where, i);
      v[i] = strdup (json_string_value (s));
      if (v[i] == NULL)
        return berth_fail (err, ENOMEM, "%s", where);
    }
  *out = take_ptr (v);
  return 0;
}

int berth_json_write_file (const char *path, json_t *j, berth_err *err)
{
  cleanup_free char *s = json_dumps (j, JSON_COMPACT);
  if (s == NULL)
    return berth_fail (err, ENOMEM, "serialize %s", path);
  return berth_write_file_atomic (path, s, strlen (s), 0600, err);
}

int berth_json_replace_file (const char *path, json_t *j, berth_err *err)
{
  cleanup_free char *s = json_dumps (j, JSON_COMPACT);
  if (s == NULL)
    return berth_fail (err, ENOMEM, "serialize %s", path);
  return berth_write_file_replace (path, s, strlen (s), 0600, err);
}
