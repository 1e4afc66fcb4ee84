/* Capabilities and security options of a Docker container. */
#include "daemon/spec-internal.h"

#include "common/cleanup.h"
#include "runtime/caps.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

const char *const spec_default_caps[] = {
  "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",           "CAP_MKNOD",
  "CAP_NET_RAW", "CAP_SETGID",       "CAP_SETUID", "CAP_SETFCAP",          "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",            "CAP_SYS_CHROOT", "CAP_KILL",         "CAP_AUDIT_WRITE",
  NULL,
};

bool spec_json_array_has (json_t *arr, const char *s)
{
  size_t i;
  json_t *v;
  json_array_foreach (arr, i, v)
    if (json_is_string (v) && strcmp (json_string_value (v), s) == 0)
      return true;
  return false;
}

int spec_capability_name (const char *name, char **out, berth_err *err)
{
  *out = NULL;
  size_t len = strlen (name);
  cleanup_free char *upper = malloc (len + 5);
  if (upper == NULL)
    return berth_fail (err, ENOMEM, "capability");
  for (size_t i = 0; i <= len; i++)
    upper[i] = (char) toupper ((unsigned char) name[i]);
  if (strcmp (upper, "ALL") == 0)
    {
      *out = take_ptr (upper);
      return 0;
    }
  if (strncmp (upper, "CAP_", 4) != 0)
    {
      memmove (upper + 4, upper, len + 1);
      memcpy (upper, "CAP_", 4);
    }
  cleanup_json json_t *known = berth_caps_known ();
  if (!spec_json_array_has (known, upper))
    return berth_fail (err, 0, "unknown capability: \"%s\"", upper);
  *out = take_ptr (upper);
  return 0;
}

json_t *spec_all_capabilities (void)
{
  json_t *known = berth_caps_known ();
  for (size_t i = json_array_size (known); i-- > 0;)
    {
      cap_value_t cap;
      if (cap_from_name (json_string_value (json_array_get (known, i)), &cap) < 0
          || prctl (PR_CAPBSET_READ, cap, 0, 0, 0) != 1)
        json_array_remove (known, i);
    }
  return known;
}

/* CapAdd/CapDrop as normalized names. */
static int capability_list (json_t *host_config, const char *key, json_t **out, berth_err *err)
{
  *out = NULL;
  cleanup_json json_t *list = json_array ();
  json_t *arr = json_object_get (host_config, key);
  if (arr && !json_is_null (arr) && !json_is_array (arr))
    return berth_fail (err, 0, "HostConfig.%s: expected an array of strings", key);
  size_t i;
  json_t *v;
  json_array_foreach (arr, i, v)
    {
      if (!json_is_string (v))
        return berth_fail (err, 0, "HostConfig.%s[%zu]: expected a string", key, i);
      cleanup_free char *name = NULL;
      int ret = spec_capability_name (json_string_value (v), &name, err);
      if (ret < 0)
        return ret;
      if (!spec_json_array_has (list, name))
        json_array_append_new (list, json_string (name));
    }
  *out = take_ptr (list);
  return 0;
}

static void append_unique (json_t *arr, const char *name)
{
  if (!spec_json_array_has (arr, name))
    json_array_append_new (arr, json_string (name));
}

int spec_capabilities (json_t *host_config, json_t **caps, berth_err *err)
{
  *caps = NULL;
  if (berth_json_bool (host_config, "Privileged", false))
    {
      *caps = spec_all_capabilities ();
      return *caps ? 0 : berth_fail (err, ENOMEM, "capabilities");
    }
  cleanup_json json_t *add = NULL;
  cleanup_json json_t *drop = NULL;
  int ret;
  if ((ret = capability_list (host_config, "CapAdd", &add, err)) < 0
      || (ret = capability_list (host_config, "CapDrop", &drop, err)) < 0)
    return ret;
  cleanup_json json_t *out = json_array ();
  size_t i;
  json_t *v;
  if (spec_json_array_has (add, "ALL"))
    {
      cleanup_json json_t *all = spec_all_capabilities ();
      json_array_foreach (all, i, v)
        if (!spec_json_array_has (drop, json_string_value (v)))
          append_unique (out, json_string_value (v));
    }
  else
    {
      if (!spec_json_array_has (drop, "ALL"))
        for (const char *const *c = spec_default_caps; *c; c++)
          if (!spec_json_array_has (drop, *c))
            append_unique (out, *c);
      json_array_foreach (add, i, v)
        append_unique (out, json_string_value (v));
    }
  *caps = take_ptr (out);
  return 0;
}

/* Go's strconv.ParseBool, which Docker uses for no-new-privileges. */
static int parse_go_bool (const char *s, bool *out)
{
  static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True", NULL };
  static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False", NULL };
  for (const char *const *p = yes; *p; p++)
    if (strcmp (*p, s) == 0)
      return *out = true, 0;
  for (const char *const *p = no; *p; p++)
    if (strcmp (*p, s) == 0)
      return *out = false, 0;
  return -1;
}

static int parse_security_opt (const char *opt, struct spec_security *out, berth_err *err)
{
  if (strcmp (opt, "no-new-privileges") == 0)
    return out->no_new_privileges = true, 0;
  /* "key=value", or the deprecated "key:value". */
  size_t klen = strchr (opt, '=') ? strcspn (opt, "=") : strcspn (opt, ":");
  if (opt[klen] == '\0')
    return berth_fail (err, 0, "unknown security option: %s", opt);
  const char *value = opt + klen + 1;
#define KEY_IS(k) (klen == strlen (k) && strncmp (opt, k, klen) == 0)
  if (KEY_IS ("no-new-privileges"))
    {
      if (parse_go_bool (value, &out->no_new_privileges) < 0)
        return berth_fail (err, 0, "invalid value for no-new-privileges: %s", value);
      return 0;
    }
  if (KEY_IS ("seccomp"))
    {
      out->seccomp_unconfined = strcmp (value, "unconfined") == 0;
      out->seccomp_profile = NULL;
      if (!out->seccomp_unconfined && strcmp (value, "builtin") != 0 && value[0] != '\0')
        out->seccomp_profile = value;
      return 0;
    }
  /* Neither AppArmor nor SELinux labels exist on berth's hosts; the
   * docker CLI sends these only when the user asks, and Docker too ignores
   * them where the LSM is missing. */
  if (KEY_IS ("apparmor") || KEY_IS ("label"))
    return 0;
  if (KEY_IS ("systempaths") && strcmp (value, "unconfined") == 0)
    return 0;
#undef KEY_IS
  return berth_fail (err, 0, "unknown security option: %s", opt);
}

int spec_parse_security_opts (json_t *security_opt, struct spec_security *out, berth_err *err)
{
  memset (out, 0, sizeof *out);
  if (security_opt && !json_is_null (security_opt) && !json_is_array (security_opt))
    return berth_fail (err, 0, "HostConfig.SecurityOpt: expected an array of strings");
  size_t i;
  json_t *v;
  json_array_foreach (security_opt, i, v)
    {
      if (!json_is_string (v))
        return berth_fail (err, 0, "HostConfig.SecurityOpt[%zu]: expected a string", i);
      int ret = parse_security_opt (json_string_value (v), out, err);
      if (ret < 0)
        return ret;
    }
  return 0;
}
