#include "runtime/caps.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

int berth_caps_last_cap (void)
{
  static int last = -1;
  if (last < 0)
    {
      last = (int) cap_max_bits () - 1;
      if (last < 0 || last > 63)
        last = CAP_LAST_CAP;
    }
  return last;
}

static int parse_set (json_t *arr, uint64_t *mask, const char *where, berth_err *err)
{
  *mask = 0;
  if (arr == NULL || json_is_null (arr))
    return 0;
  if (!json_is_array (arr))
    return berth_fail (err, 0, "process.capabilities.%s: expected an array of strings", where);
  size_t i;
  json_t *v;
  json_array_foreach (arr, i, v)
    {
      const char *name = json_string_value (v);
      cap_value_t cap;
      if (name == NULL)
        return berth_fail (err, 0, "process.capabilities.%s[%zu]: expected a string", where, i);
      if (cap_from_name (name, &cap) < 0 || cap > berth_caps_last_cap ())
        {
          berth_warn ("capability `%s` is not known to this kernel, ignoring it", name);
          continue;
        }
      *mask |= 1ULL << cap;
    }
  return 0;
}

int berth_caps_parse (json_t *c, struct berth_caps *caps, bool *present, berth_err *err)
{
  memset (caps, 0, sizeof (*caps));
  *present = json_is_object (c);
  if (!*present)
    return 0;
  int r;
  if ((r = parse_set (json_object_get (c, "bounding"), &caps->bounding, "bounding", err)) < 0
      || (r = parse_set (json_object_get (c, "effective"), &caps->effective, "effective", err)) < 0
      || (r = parse_set (json_object_get (c, "inheritable"), &caps->inheritable, "inheritable", err)) < 0
      || (r = parse_set (json_object_get (c, "permitted"), &caps->permitted, "permitted", err)) < 0
      || (r = parse_set (json_object_get (c, "ambient"), &caps->ambient, "ambient", err)) < 0)
    return r;
  return 0;
}

int berth_caps_drop_bounding (const struct berth_caps *caps, berth_err *err)
{
  for (int cap = 0; cap <= berth_caps_last_cap (); cap++)
    {
      if (caps->bounding & (1ULL << cap))
        continue;
      if (prctl (PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
        return berth_fail_errno (err, "drop capability %d from the bounding set", cap);
    }
  return 0;
}

int berth_caps_apply (const struct berth_caps *caps, berth_err *err)
{
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[2];
  memset (data, 0, sizeof data);
  for (int i = 0; i < 2; i++)
    {
      data[i].effective = (uint32_t) (caps->effective >> (32 * i));
      data[i].permitted = (uint32_t) (caps->permitted >> (32 * i));
      data[i].inheritable = (uint32_t) (caps->inheritable >> (32 * i));
    }
  /* capset directly: libcap's cap_set_proc would need a heap object for
   * the same three masks. */
  if (capset (&hdr, data) < 0)
    return berth_fail_errno (err, "set capabilities");
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return berth_fail_errno (err, "clear ambient capabilities");
  for (int cap = 0; cap <= berth_caps_last_cap (); cap++)
    {
      if (!(caps->ambient & (1ULL << cap)))
        continue;
      /* Raising fails when the cap is not in permitted and inheritable;
       * runc ignores that, and so do we. */
      if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 && errno != EPERM && errno != EINVAL)
        return berth_fail_errno (err, "raise ambient capability %d", cap);
    }
  return 0;
}

json_t *berth_caps_known (void)
{
  json_t *arr = json_array ();
  for (int cap = 0; cap <= berth_caps_last_cap (); cap++)
    {
      char *name = cap_to_name (cap); /* libcap memory: cap_free */
      if (name == NULL)
        continue;
      /* libcap gives "cap_chown"; the spec uses "CAP_CHOWN". */
      for (char *p = name; *p; p++)
        *p = (char) (*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
      json_array_append_new (arr, json_string (name));
      cap_free (name);
    }
  return arr;
}
