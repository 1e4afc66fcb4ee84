/* The VM configuration: Firecracker's JSON shapes in and out, and the
 * checks that can be made before a VM is built.
 *
 * Every parser reads into a copy and swaps it in only when the whole body
 * was good, so a bad request leaves the configuration as it was. */
#include "vmm/vm-config.h"
#include "vmm/cpuid.h"
#include "common/cleanup.h"

#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Guest memory is at least this big (the kernel, initrd and page tables
 * must fit) and at most this big before the host limit is even asked. */
#define VM_MIN_MEM_MIB 16
#define VM_MAX_MEM_MIB (UINT64_C (1) << 22) /* 4 TiB */
/* What the VMM process needs besides guest RAM, for the RLIMIT_AS check. */
#define VMM_OWN_AS_MIB 256


/* ---- field readers ----
 * Each reads KEY of OBJ if present (null counts as absent), checks its
 * type and range, and names "WHERE.KEY" in its error. */

static void field_name (char *buf, size_t n, const char *where, const char *key)
{
  if (where && *where)
    snprintf (buf, n, "%s.%s", where, key);
  else
    snprintf (buf, n, "%s", key);
}

static int check_keys (json_t *obj, const char *where, const char *const *allowed, berth_err *err)
{
  if (!json_is_object (obj))
    return berth_fail (err, 0, "%s: expected a JSON object", where && *where ? where : "body");
  const char *key;
  json_t *v;
  json_object_foreach (obj, key, v)
    {
      bool known = false;
      for (const char *const *a = allowed; *a && !known; a++)
        known = strcmp (*a, key) == 0;
      if (!known)
        {
          char name[256];
          field_name (name, sizeof name, where, key);
          return berth_fail (err, 0, "%s: unknown field", name);
        }
    }
  return 0;
}

static json_t *field (json_t *obj, const char *key)
{
  json_t *v = json_object_get (obj, key);
  return json_is_null (v) ? NULL : v;
}

static int missing (const char *where, const char *key, berth_err *err)
{
  char name[256];
  field_name (name, sizeof name, where, key);
  return berth_fail (err, 0, "%s: missing required field", name);
}

/* A string; replaces *OUT (heap) when present.  Empty strings are refused:
 * every string field names something. */
static int get_str (json_t *obj, const char *key, const char *where, bool required, char **out, berth_err *err)
{
  json_t *v = field (obj, key);
  char name[256];
  field_name (name, sizeof name, where, key);
  if (v == NULL)
    return required ? missing (where, key, err) : 0;
  if (!json_is_string (v))
    return berth_fail (err, 0, "%s: expected a string", name);
  if (json_string_length (v) == 0)
    return berth_fail (err, 0, "%s: must not be empty", name);
  if (strlen (json_string_value (v)) != json_string_length (v))
    return berth_fail (err, 0, "%s: contains a NUL character", name);
  char *s = strdup (json_string_value (v));
  if (s == NULL)
    return berth_fail (err, ENOMEM, "%s", name);
  free (*out);
  *out = s;
  return 0;
}

static int get_bool (json_t *obj, const char *key, const char *where, bool required, bool *out, berth_err *err)
{
  json_t *v = field (obj, key);
  if (v == NULL)
    return required ? missing (where, key, err) : 0;
  if (!json_is_boolean (v))
    {
      char name[256];
      field_name (name, sizeof name, where, key);
      return berth_fail (err, 0, "%s: expected a boolean", name);
    }
  *out = json_is_true (v);
  return 0;
}

static int get_u64 (json_t *obj, const char *key, const char *where, bool required, uint64_t min, uint64_t max,
                    uint64_t *out, berth_err *err)
{
  json_t *v = field (obj, key);
  char name[256];
  field_name (name, sizeof name, where, key);
  if (v == NULL)
    return required ? missing (where, key, err) : 0;
  if (!json_is_integer (v))
    return berth_fail (err, 0, "%s: expected an integer", name);
  json_int_t i = json_integer_value (v);
  if (i < 0 || (uint64_t) i < min || (uint64_t) i > max)
    return berth_fail (err, 0, "%s: %" JSON_INTEGER_FORMAT " is out of range (%" PRIu64 "..%" PRIu64 ")", name, i,
                       min, max);
  *out = (uint64_t) i;
  return 0;
}

static int get_u32 (json_t *obj, const char *key, const char *where, bool required, uint32_t min, uint32_t max,
                    uint32_t *out, berth_err *err)
{
  uint64_t v = *out;
  int r = get_u64 (obj, key, where, required, min, max, &v, err);
  if (r == 0)
    *out = (uint32_t) v;
  return r;
}

static int get_unsigned (json_t *obj, const char *key, const char *where, bool required, unsigned min,
                         unsigned max, unsigned *out, berth_err *err)
{
  uint64_t v = *out;
  int r = get_u64 (obj, key, where, required, min, max, &v, err);
  if (r == 0)
    *out = (unsigned) v;
  return r;
}

/* ---- rate limiters ---- */

static int bucket_from_json (json_t *obj, const char *where, struct vm_token_bucket *b, berth_err *err)
{
  static const char *const keys[] = { "size", "one_time_burst", "refill_time", NULL };
  struct vm_token_bucket nb = { 0 };
  if (check_keys (obj, where, keys, err) < 0
      || get_u64 (obj, "size", where, true, 0, INT64_MAX, &nb.size, err) < 0
      || get_u64 (obj, "one_time_burst", where, false, 0, INT64_MAX, &nb.one_time_burst, err) < 0
      || get_u64 (obj, "refill_time", where, true, 0, INT64_MAX, &nb.refill_time_ms, err) < 0)
    return -EINVAL;
  if (nb.size > 0 && nb.refill_time_ms == 0)
    return berth_fail (err, 0, "%s.refill_time: must be positive when size is", where);
  *b = nb;
  return 0;
}

static int limiter_from_json (json_t *obj, const char *key, const char *where, struct vm_rate_limiter *out,
                              berth_err *err)
{
  static const char *const keys[] = { "bandwidth", "ops", NULL };
  json_t *v = field (obj, key);
  if (v == NULL)
    return 0;
  char name[256], sub[300];
  field_name (name, sizeof name, where, key);
  struct vm_rate_limiter rl = { 0 };
  if (check_keys (v, name, keys, err) < 0)
    return -EINVAL;
  json_t *bw = field (v, "bandwidth"), *ops = field (v, "ops");
  snprintf (sub, sizeof sub, "%s.bandwidth", name);
  if (bw && bucket_from_json (bw, sub, &rl.bandwidth, err) < 0)
    return -EINVAL;
  snprintf (sub, sizeof sub, "%s.ops", name);
  if (ops && bucket_from_json (ops, sub, &rl.ops, err) < 0)
    return -EINVAL;
  *out = rl;
  return 0;
}

static json_t *bucket_to_json (const struct vm_token_bucket *b)
{
  json_t *j = json_pack ("{s:I,s:I}", "size", (json_int_t) b->size, "refill_time", (json_int_t) b->refill_time_ms);
  if (j && b->one_time_burst)
    json_object_set_new (j, "one_time_burst", json_integer ((json_int_t) b->one_time_burst));
  return j;
}

static bool limiter_set (const struct vm_rate_limiter *rl)
{
  return rl->bandwidth.size || rl->ops.size;
}

static void limiter_to_json (json_t *parent, const char *key, const struct vm_rate_limiter *rl)
{
  if (!limiter_set (rl))
    return;
  json_t *j = json_object ();
  if (rl->bandwidth.size)
    json_object_set_new (j, "bandwidth", bucket_to_json (&rl->bandwidth));
  if (rl->ops.size)
    json_object_set_new (j, "ops", bucket_to_json (&rl->ops));
  json_object_set_new (parent, key, j);
}

/* ---- MAC addresses ---- */

static int parse_mac (const char *s, uint8_t mac[6])
{
  unsigned v[6];
  char tail;
  if (strlen (s) != 17 || sscanf (s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
    return -1;
  for (int i = 0; i < 6; i++)
    {
      if (s[i * 3] == ' ' || s[i * 3 + 1] == ' ' || (i < 5 && s[i * 3 + 2] != ':'))
        return -1;
      mac[i] = (uint8_t) v[i];
    }
  return 0;
}

static void format_mac (const uint8_t mac[6], char out[18])
{
  snprintf (out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

/* ---- defaults and freeing ---- */

void vm_config_init (struct vm_config *c)
{
  memset (c, 0, sizeof *c);
  c->machine.vcpu_count = 1;
  c->machine.mem_size_mib = 128;
  c->transport = VM_TRANSPORT_MMIO;
}

static void boot_free (struct vm_boot_source *b)
{
  free (b->kernel_image_path);
  free (b->initrd_path);
  free (b->boot_args);
  memset (b, 0, sizeof *b);
}

static void drive_free (struct vm_drive *d)
{
  free (d->drive_id);
  free (d->path_on_host);
  free (d->partuuid);
  memset (d, 0, sizeof *d);
}

static void net_free (struct vm_net *n)
{
  free (n->iface_id);
  free (n->host_dev_name);
  memset (n, 0, sizeof *n);
}

static void vsock_free (struct vm_vsock *v)
{
  free (v->vsock_id);
  free (v->uds_path);
  memset (v, 0, sizeof *v);
}

void vm_config_free (struct vm_config *c)
{
  boot_free (&c->boot);
  free (c->machine.cpu_template);
  for (unsigned i = 0; i < c->ndrives; i++)
    drive_free (&c->drives[i]);
  for (unsigned i = 0; i < c->nnets; i++)
    net_free (&c->nets[i]);
  vsock_free (&c->vsock);
  free (c->serial_path);
  vm_config_init (c);
}

/* Deep copies, so a PATCH can be applied to a copy. */
static char *dup_or_null (const char *s, bool *oom)
{
  if (s == NULL)
    return NULL;
  char *d = strdup (s);
  if (d == NULL)
    *oom = true;
  return d;
}

static int drive_copy (struct vm_drive *dst, const struct vm_drive *src)
{
  bool oom = false;
  *dst = *src;
  dst->drive_id = dup_or_null (src->drive_id, &oom);
  dst->path_on_host = dup_or_null (src->path_on_host, &oom);
  dst->partuuid = dup_or_null (src->partuuid, &oom);
  if (oom)
    drive_free (dst);
  return oom ? -ENOMEM : 0;
}

/* ---- boot-source ---- */

static const char *const boot_protocol_names[] = {
  [VM_BOOT_AUTO] = "auto",
  [VM_BOOT_LINUX64] = "linux64",
  [VM_BOOT_PVH] = "pvh",
};

int vm_boot_protocol_parse (const char *s, enum vm_boot_protocol *out)
{
  for (unsigned i = 0; i < sizeof boot_protocol_names / sizeof boot_protocol_names[0]; i++)
    if (strcmp (s, boot_protocol_names[i]) == 0)
      {
        *out = (enum vm_boot_protocol) i;
        return 0;
      }
  return -EINVAL;
}

const char *vm_boot_protocol_name (enum vm_boot_protocol p)
{
  return (unsigned) p < sizeof boot_protocol_names / sizeof boot_protocol_names[0] ? boot_protocol_names[p]
                                                                                   : "unknown";
}

static int get_boot_protocol (json_t *j, const char *where, enum vm_boot_protocol *out, berth_err *err)
{
  json_t *v = field (j, "boot_protocol");
  if (v == NULL)
    return 0;
  char name[256];
  field_name (name, sizeof name, where, "boot_protocol");
  if (!json_is_string (v) || strlen (json_string_value (v)) != json_string_length (v)
      || vm_boot_protocol_parse (json_string_value (v), out) < 0)
    return berth_fail (err, 0, "%s: expected \"auto\", \"linux64\" or \"pvh\"", name);
  return 0;
}

static int boot_from_json (struct vm_boot_source *out, json_t *j, const char *where, berth_err *err)
{
  static const char *const keys[] = { "kernel_image_path", "initrd_path", "boot_args", "boot_protocol", NULL };
  struct vm_boot_source b = { 0 };
  if (check_keys (j, where, keys, err) < 0 || get_str (j, "kernel_image_path", where, true, &b.kernel_image_path, err) < 0
      || get_str (j, "initrd_path", where, false, &b.initrd_path, err) < 0
      || get_boot_protocol (j, where, &b.boot_protocol, err) < 0)
    {
      boot_free (&b);
      return -EINVAL;
    }
  /* boot_args may be empty: an explicitly empty command line. */
  json_t *args = field (j, "boot_args");
  if (args && !json_is_string (args))
    {
      boot_free (&b);
      char name[256];
      field_name (name, sizeof name, where, "boot_args");
      return berth_fail (err, 0, "%s: expected a string", name);
    }
  if (args && (b.boot_args = strdup (json_string_value (args))) == NULL)
    {
      boot_free (&b);
      return berth_fail (err, ENOMEM, "boot_args");
    }
  boot_free (out);
  *out = b;
  return 0;
}

int vm_config_set_boot_source (struct vm_config *c, json_t *body, const char *where, berth_err *err)
{
  return boot_from_json (&c->boot, body, where, err);
}

static json_t *boot_to_json (const struct vm_boot_source *b)
{
  json_t *j = json_object ();
  if (b->kernel_image_path)
    json_object_set_new (j, "kernel_image_path", json_string (b->kernel_image_path));
  if (b->initrd_path)
    json_object_set_new (j, "initrd_path", json_string (b->initrd_path));
  if (b->boot_args)
    json_object_set_new (j, "boot_args", json_string (b->boot_args));
  if (b->boot_protocol != VM_BOOT_AUTO)
    json_object_set_new (j, "boot_protocol", json_string (vm_boot_protocol_name (b->boot_protocol)));
  return j;
}

/* ---- machine-config ---- */

int vm_config_set_machine (struct vm_config *c, json_t *body, bool patch, const char *where, berth_err *err)
{
  static const char *const keys[] = { "vcpu_count", "mem_size_mib", "smt", "cpu_template", "track_dirty_pages", NULL };
  struct vm_machine m = c->machine;
  m.cpu_template = NULL;
  if (!patch)
    {
      /* PUT replaces: what the body leaves out takes its default. */
      m.smt = false;
      m.track_dirty_pages = false;
    }
  else if (c->machine.cpu_template && (m.cpu_template = strdup (c->machine.cpu_template)) == NULL)
    return berth_fail (err, ENOMEM, "machine-config");
  if (check_keys (body, where, keys, err) < 0
      || get_unsigned (body, "vcpu_count", where, !patch, 1, VM_MAX_VCPUS, &m.vcpu_count, err) < 0
      || get_u64 (body, "mem_size_mib", where, !patch, VM_MIN_MEM_MIB, VM_MAX_MEM_MIB, &m.mem_size_mib, err) < 0
      || get_bool (body, "smt", where, false, &m.smt, err) < 0
      || get_bool (body, "track_dirty_pages", where, false, &m.track_dirty_pages, err) < 0
      || get_str (body, "cpu_template", where, false, &m.cpu_template, err) < 0)
    {
      free (m.cpu_template);
      return -EINVAL;
    }
  if (m.cpu_template && cpuid_template_check (m.cpu_template, NULL) < 0)
    {
      char name[256];
      field_name (name, sizeof name, where, "cpu_template");
      /* the VMM core's list (cpuid.h) is the one that counts */
      int r = berth_fail (err, 0, "%s: unknown CPU template \"%s\" (None, T2, C3)", name, m.cpu_template);
      free (m.cpu_template);
      return r;
    }
  /* Firecracker's rule: with SMT, vCPUs come in sibling pairs. */
  if (m.smt && m.vcpu_count > 1 && m.vcpu_count % 2)
    {
      free (m.cpu_template);
      return berth_fail (err, 0, "%s: with smt enabled, vcpu_count must be 1 or even", where ? where : "machine-config");
    }
  free (c->machine.cpu_template);
  c->machine = m;
  return 0;
}

json_t *vm_machine_to_json (const struct vm_machine *m)
{
  json_t *j = json_pack ("{s:i,s:I,s:b,s:b}", "vcpu_count", (int) m->vcpu_count, "mem_size_mib",
                         (json_int_t) m->mem_size_mib, "smt", m->smt, "track_dirty_pages", m->track_dirty_pages);
  if (j && m->cpu_template)
    json_object_set_new (j, "cpu_template", json_string (m->cpu_template));
  return j;
}

/* ---- drives ---- */

/* Ids name a resource in a URL path: keep them to a safe alphabet. */
static int check_id (const char *id, const char *what, berth_err *err)
{
  size_t n = strlen (id);
  if (n == 0 || n > 64)
    return berth_fail (err, 0, "%s: must be 1 to 64 characters", what);
  for (const char *p = id; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'
          || *p == '.'))
      return berth_fail (err, 0, "%s: \"%s\" may hold only letters, digits, '_', '-' and '.'", what, id);
  return 0;
}

static int check_path_id (const char *path_id, const char *body_id, berth_err *err)
{
  if (path_id && strcmp (path_id, body_id) != 0)
    return berth_fail (err, 0, "The id from the path (%s) does not match the id from the body (%s)", path_id, body_id);
  return 0;
}

static int drive_fields (struct vm_drive *d, json_t *j, const char *where, bool patch, berth_err *err)
{
  static const char *const put_keys[] = { "drive_id", "path_on_host", "is_root_device", "is_read_only", "partuuid",
                                          "rate_limiter", NULL };
  static const char *const patch_keys[] = { "drive_id", "path_on_host", "rate_limiter", NULL };
  char idname[256];
  field_name (idname, sizeof idname, where, "drive_id");
  if (check_keys (j, where, patch ? patch_keys : put_keys, err) < 0
      || get_str (j, "drive_id", where, true, &d->drive_id, err) < 0 || check_id (d->drive_id, idname, err) < 0
      || get_str (j, "path_on_host", where, !patch, &d->path_on_host, err) < 0
      || get_bool (j, "is_root_device", where, !patch, &d->is_root_device, err) < 0
      || get_bool (j, "is_read_only", where, false, &d->is_read_only, err) < 0
      || get_str (j, "partuuid", where, false, &d->partuuid, err) < 0
      || limiter_from_json (j, "rate_limiter", where, &d->rate_limiter, err) < 0)
    return -EINVAL;
  return 0;
}

static int find_drive (const struct vm_config *c, const char *id)
{
  for (unsigned i = 0; i < c->ndrives; i++)
    if (strcmp (c->drives[i].drive_id, id) == 0)
      return (int) i;
  return -1;
}

int vm_config_put_drive (struct vm_config *c, const char *id, json_t *body, const char *where, berth_err *err)
{
  struct vm_drive d = { 0 };
  if (drive_fields (&d, body, where, false, err) < 0 || check_path_id (id, d.drive_id, err) < 0)
    {
      drive_free (&d);
      return -EINVAL;
    }
  int i = find_drive (c, d.drive_id);
  if (d.is_root_device)
    for (unsigned k = 0; k < c->ndrives; k++)
      if ((int) k != i && c->drives[k].is_root_device)
        {
          int r = berth_fail (err, 0, "A root block device already exists (%s): only one drive can be the root device",
                              c->drives[k].drive_id);
          drive_free (&d);
          return r;
        }
  if (i < 0 && c->ndrives == VM_MAX_DRIVES)
    {
      drive_free (&d);
      return berth_fail (err, 0, "too many drives (at most %d)", VM_MAX_DRIVES);
    }
  if (i >= 0)
    drive_free (&c->drives[i]);
  else
    i = (int) c->ndrives++;
  c->drives[i] = d;
  return 0;
}

int vm_config_patch_drive (struct vm_config *c, const char *id, json_t *body, berth_err *err)
{
  int i = find_drive (c, id);
  if (i < 0)
    {
      /* The body may still be wrong; say so first, as a parse error. */
      struct vm_drive probe = { 0 };
      int r = drive_fields (&probe, body, NULL, true, err);
      drive_free (&probe);
      if (r < 0)
        return r;
      return berth_fail_as (err, ENOENT, "No drive with id \"%s\"", id);
    }
  struct vm_drive d;
  if (drive_copy (&d, &c->drives[i]) < 0)
    return berth_fail (err, ENOMEM, "drive %s", id);
  if (drive_fields (&d, body, NULL, true, err) < 0 || check_path_id (id, d.drive_id, err) < 0)
    {
      drive_free (&d);
      return -EINVAL;
    }
  drive_free (&c->drives[i]);
  c->drives[i] = d;
  return 0;
}

static json_t *drive_to_json (const struct vm_drive *d)
{
  json_t *j = json_pack ("{s:s?,s:s?,s:b,s:b}", "drive_id", d->drive_id, "path_on_host", d->path_on_host,
                         "is_root_device", d->is_root_device, "is_read_only", d->is_read_only);
  if (j == NULL)
    return NULL;
  if (d->partuuid)
    json_object_set_new (j, "partuuid", json_string (d->partuuid));
  limiter_to_json (j, "rate_limiter", &d->rate_limiter);
  return j;
}

/* ---- network interfaces ---- */

static int net_from_json (struct vm_net *n, json_t *j, const char *where, berth_err *err)
{
  static const char *const keys[] = { "iface_id", "host_dev_name", "guest_mac", "rx_rate_limiter", "tx_rate_limiter",
                                      NULL };
  char name[256];
  cleanup_free char *mac = NULL;
  field_name (name, sizeof name, where, "iface_id");
  if (check_keys (j, where, keys, err) < 0 || get_str (j, "iface_id", where, true, &n->iface_id, err) < 0
      || check_id (n->iface_id, name, err) < 0 || get_str (j, "host_dev_name", where, true, &n->host_dev_name, err) < 0
      || get_str (j, "guest_mac", where, false, &mac, err) < 0
      || limiter_from_json (j, "rx_rate_limiter", where, &n->rx_rate_limiter, err) < 0
      || limiter_from_json (j, "tx_rate_limiter", where, &n->tx_rate_limiter, err) < 0)
    return -EINVAL;
  field_name (name, sizeof name, where, "host_dev_name");
  if (strlen (n->host_dev_name) >= IFNAMSIZ || strchr (n->host_dev_name, '/'))
    return berth_fail (err, 0, "%s: \"%s\" is not a valid interface name", name, n->host_dev_name);
  if (mac)
    {
      field_name (name, sizeof name, where, "guest_mac");
      if (parse_mac (mac, n->guest_mac) < 0)
        return berth_fail (err, 0, "%s: \"%s\" is not a MAC address (xx:xx:xx:xx:xx:xx)", name, mac);
      if (n->guest_mac[0] & 1)
        return berth_fail (err, 0, "%s: %s is a multicast address", name, mac);
      n->has_mac = true;
    }
  return 0;
}

int vm_config_put_net (struct vm_config *c, const char *id, json_t *body, const char *where, berth_err *err)
{
  struct vm_net n = { 0 };
  if (net_from_json (&n, body, where, err) < 0 || check_path_id (id, n.iface_id, err) < 0)
    {
      net_free (&n);
      return -EINVAL;
    }
  int i = -1;
  for (unsigned k = 0; k < c->nnets; k++)
    {
      if (strcmp (c->nets[k].iface_id, n.iface_id) == 0)
        {
          i = (int) k;
          continue;
        }
      /* Two interfaces on one tap, or with one MAC, cannot both work. */
      const char *clash = strcmp (c->nets[k].host_dev_name, n.host_dev_name) == 0 ? "host_dev_name"
                          : (n.has_mac && c->nets[k].has_mac && memcmp (n.guest_mac, c->nets[k].guest_mac, 6) == 0)
                              ? "guest_mac"
                              : NULL;
      if (clash)
        {
          int r = berth_fail (err, 0, "The %s of %s is already in use by network interface %s", clash, n.iface_id,
                              c->nets[k].iface_id);
          net_free (&n);
          return r;
        }
    }
  if (i < 0 && c->nnets == VM_MAX_NETS)
    {
      net_free (&n);
      return berth_fail (err, 0, "too many network interfaces (at most %d)", VM_MAX_NETS);
    }
  if (i >= 0)
    net_free (&c->nets[i]);
  else
    i = (int) c->nnets++;
  c->nets[i] = n;
  return 0;
}

static json_t *net_to_json (const struct vm_net *n)
{
  json_t *j = json_pack ("{s:s?,s:s?}", "iface_id", n->iface_id, "host_dev_name", n->host_dev_name);
  if (j == NULL)
    return NULL;
  if (n->has_mac)
    {
      char mac[18];
      format_mac (n->guest_mac, mac);
      json_object_set_new (j, "guest_mac", json_string (mac));
    }
  limiter_to_json (j, "rx_rate_limiter", &n->rx_rate_limiter);
  limiter_to_json (j, "tx_rate_limiter", &n->tx_rate_limiter);
  return j;
}

/* ---- vsock ---- */

int vm_config_set_vsock (struct vm_config *c, json_t *body, const char *where, berth_err *err)
{
  static const char *const keys[] = { "vsock_id", "guest_cid", "uds_path", NULL };
  struct vm_vsock v = { .present = true };
  char name[256];
  if (check_keys (body, where, keys, err) < 0 || get_str (body, "vsock_id", where, false, &v.vsock_id, err) < 0
      || get_u32 (body, "guest_cid", where, true, 3, UINT32_MAX - 1, &v.guest_cid, err) < 0
      || get_str (body, "uds_path", where, true, &v.uds_path, err) < 0)
    {
      vsock_free (&v);
      return -EINVAL;
    }
  field_name (name, sizeof name, where, "uds_path");
  /* Guest-initiated connections go to UDS_PATH_<port>: leave room. */
  if (strlen (v.uds_path) + 12 > sizeof ((struct sockaddr_un *) 0)->sun_path)
    {
      vsock_free (&v);
      return berth_fail (err, 0, "%s: too long for a Unix socket path", name);
    }
  vsock_free (&c->vsock);
  c->vsock = v;
  return 0;
}

static json_t *vsock_to_json (const struct vm_vsock *v)
{
  json_t *j = json_pack ("{s:I,s:s?}", "guest_cid", (json_int_t) v->guest_cid, "uds_path", v->uds_path);
  if (j && v->vsock_id)
    json_object_set_new (j, "vsock_id", json_string (v->vsock_id));
  return j;
}

/* ---- balloon ---- */

int vm_config_set_balloon (struct vm_config *c, json_t *body, const char *where, berth_err *err)
{
  static const char *const keys[] = { "amount_mib", "deflate_on_oom", "stats_polling_interval_s", NULL };
  struct vm_balloon b = { .present = true };
  if (check_keys (body, where, keys, err) < 0
      || get_u32 (body, "amount_mib", where, true, 0, UINT32_MAX, &b.amount_mib, err) < 0
      || get_bool (body, "deflate_on_oom", where, true, &b.deflate_on_oom, err) < 0
      || get_u32 (body, "stats_polling_interval_s", where, false, 0, UINT32_MAX, &b.stats_polling_interval_s, err) < 0)
    return -EINVAL;
  c->balloon = b;
  return 0;
}

int vm_balloon_update_from_json (json_t *body, uint32_t *amount_mib, berth_err *err)
{
  static const char *const keys[] = { "amount_mib", NULL };
  if (check_keys (body, NULL, keys, err) < 0 || get_u32 (body, "amount_mib", NULL, true, 0, UINT32_MAX, amount_mib, err) < 0)
    return -EINVAL;
  return 0;
}

int vm_balloon_stats_update_from_json (json_t *body, uint32_t *interval_s, berth_err *err)
{
  static const char *const keys[] = { "stats_polling_interval_s", NULL };
  if (check_keys (body, NULL, keys, err) < 0
      || get_u32 (body, "stats_polling_interval_s", NULL, true, 0, UINT32_MAX, interval_s, err) < 0)
    return -EINVAL;
  return 0;
}

json_t *vm_balloon_to_json (const struct vm_balloon *b)
{
  return json_pack ("{s:I,s:b,s:I}", "amount_mib", (json_int_t) b->amount_mib, "deflate_on_oom", b->deflate_on_oom,
                    "stats_polling_interval_s", (json_int_t) b->stats_polling_interval_s);
}

/* ---- berth's keys: entropy, transport, serial ---- */

static int entropy_from_json (struct vm_config *c, json_t *j, berth_err *err)
{
  static const char *const keys[] = { NULL };
  if (check_keys (j, "entropy", keys, err) < 0)
    return -EINVAL;
  c->rng = true;
  return 0;
}

static int transport_from_json (struct vm_config *c, json_t *j, berth_err *err)
{
  const char *t = json_string_value (j);
  if (t == NULL)
    return berth_fail (err, 0, "transport: expected a string (\"mmio\" or \"pci\")");
  if (strcmp (t, "mmio") == 0)
    c->transport = VM_TRANSPORT_MMIO;
  else if (strcmp (t, "pci") == 0)
    c->transport = VM_TRANSPORT_PCI;
  else
    return berth_fail (err, 0, "transport: unknown transport \"%s\" (\"mmio\" or \"pci\")", t);
  return 0;
}

static int serial_from_json (struct vm_config *c, json_t *j, berth_err *err)
{
  static const char *const keys[] = { "uds_path", NULL };
  if (check_keys (j, "serial", keys, err) < 0 || get_str (j, "uds_path", "serial", false, &c->serial_path, err) < 0)
    return -EINVAL;
  if (c->serial_path && strlen (c->serial_path) >= sizeof ((struct sockaddr_un *) 0)->sun_path)
    return berth_fail (err, 0, "serial.uds_path: too long for a Unix socket path");
  return 0;
}

/* ---- the full document ---- */

static int array_from_json (struct vm_config *c, json_t *arr, const char *key,
                            int (*put) (struct vm_config *, const char *, json_t *, const char *, berth_err *),
                            berth_err *err)
{
  if (!json_is_array (arr))
    return berth_fail (err, 0, "%s: expected an array", key);
  size_t i;
  json_t *item;
  json_array_foreach (arr, i, item)
    {
      char where[64];
      snprintf (where, sizeof where, "%s[%zu]", key, i);
      /* put_* replace an entry with the same id; in a file that is a
       * duplicate, which is an error. */
      unsigned before = strcmp (key, "drives") == 0 ? c->ndrives : c->nnets;
      if (put (c, NULL, item, where, err) < 0)
        return -EINVAL;
      unsigned after = strcmp (key, "drives") == 0 ? c->ndrives : c->nnets;
      if (after == before)
        return berth_fail (err, 0, "%s: duplicate id", where);
    }
  return 0;
}

static int sections_from_json (struct vm_config *c, json_t *j, berth_err *err)
{
  static const char *const keys[] = { "boot-source", "machine-config", "drives", "network-interfaces", "vsock",
                                      "balloon", "entropy", "transport", "serial", NULL };
  json_t *v;
  if (check_keys (j, "config", keys, err) < 0)
    return -EINVAL;
  if ((v = field (j, "boot-source")) && vm_config_set_boot_source (c, v, "boot-source", err) < 0)
    return -EINVAL;
  if ((v = field (j, "machine-config")) && vm_config_set_machine (c, v, false, "machine-config", err) < 0)
    return -EINVAL;
  if ((v = field (j, "drives")) && array_from_json (c, v, "drives", vm_config_put_drive, err) < 0)
    return -EINVAL;
  if ((v = field (j, "network-interfaces")) && array_from_json (c, v, "network-interfaces", vm_config_put_net, err) < 0)
    return -EINVAL;
  if ((v = field (j, "vsock")) && vm_config_set_vsock (c, v, "vsock", err) < 0)
    return -EINVAL;
  if ((v = field (j, "balloon")) && vm_config_set_balloon (c, v, "balloon", err) < 0)
    return -EINVAL;
  if ((v = field (j, "entropy")) && entropy_from_json (c, v, err) < 0)
    return -EINVAL;
  if ((v = field (j, "transport")) && transport_from_json (c, v, err) < 0)
    return -EINVAL;
  if ((v = field (j, "serial")) && serial_from_json (c, v, err) < 0)
    return -EINVAL;
  return 0;
}

int vm_config_from_json (struct vm_config *c, json_t *j, berth_err *err)
{
  struct vm_config n;
  vm_config_init (&n);
  if (sections_from_json (&n, j, err) < 0)
    {
      vm_config_free (&n);
      return -EINVAL;
    }
  vm_config_free (c);
  *c = n;
  return 0;
}

json_t *vm_config_to_json (const struct vm_config *c)
{
  json_t *j = json_object ();
  if (j == NULL)
    return NULL;
  /* No kernel yet (an API server waiting for PUT /boot-source): no
   * boot-source, which would need kernel_image_path. */
  if (c->boot.kernel_image_path)
    json_object_set_new (j, "boot-source", boot_to_json (&c->boot));
  json_object_set_new (j, "machine-config", vm_machine_to_json (&c->machine));
  json_t *drives = json_array (), *nets = json_array ();
  for (unsigned i = 0; i < c->ndrives; i++)
    json_array_append_new (drives, drive_to_json (&c->drives[i]));
  for (unsigned i = 0; i < c->nnets; i++)
    json_array_append_new (nets, net_to_json (&c->nets[i]));
  json_object_set_new (j, "drives", drives);
  json_object_set_new (j, "network-interfaces", nets);
  if (c->vsock.present)
    json_object_set_new (j, "vsock", vsock_to_json (&c->vsock));
  if (c->balloon.present)
    json_object_set_new (j, "balloon", vm_balloon_to_json (&c->balloon));
  if (c->rng)
    json_object_set_new (j, "entropy", json_object ());
  json_object_set_new (j, "transport", json_string (c->transport == VM_TRANSPORT_PCI ? "pci" : "mmio"));
  if (c->serial_path)
    json_object_set_new (j, "serial", json_pack ("{s:s}", "uds_path", c->serial_path));
  return j;
}

/* The JSON form holds every field, so a round trip is a deep copy (the
 * unit tests check that it is the identity). */
int vm_config_copy (struct vm_config *dst, const struct vm_config *src, berth_err *err)
{
  vm_config_init (dst);
  cleanup_json json_t *j = vm_config_to_json (src);
  if (j == NULL)
    return berth_fail (err, ENOMEM, "copy the VM configuration");
  return vm_config_from_json (dst, j, err);
}

/* ---- validation ---- */

uint64_t vm_host_mem_limit_mib (void)
{
  uint64_t limit = VM_MAX_MEM_MIB;
  cleanup_file FILE *f = fopen ("/proc/meminfo", "re");
  char line[256];
  while (f && fgets (line, sizeof line, f))
    {
      unsigned long long kib;
      if (sscanf (line, "MemTotal: %llu kB", &kib) == 1)
        {
          limit = kib / 1024;
          break;
        }
    }
  struct rlimit rl;
  if (getrlimit (RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    {
      uint64_t as_mib = rl.rlim_cur / (1024 * 1024);
      uint64_t usable = as_mib > VMM_OWN_AS_MIB ? as_mib - VMM_OWN_AS_MIB : 0;
      if (usable < limit)
        limit = usable;
    }
  return limit;
}

/* A file the VMM will open: it must exist, be a regular file or a block
 * device, and be readable (and writable when WRITE). */
static int check_file (const char *what, const char *path, bool write, berth_err *err)
{
  struct stat st;
  if (stat (path, &st) < 0)
    return berth_fail (err, errno, "%s %s", what, path);
  if (!S_ISREG (st.st_mode) && !S_ISBLK (st.st_mode))
    return berth_fail (err, 0, "%s %s: not a regular file or block device", what, path);
  if (access (path, write ? R_OK | W_OK : R_OK) < 0)
    return berth_fail (err, errno, "%s %s", what, path);
  return 0;
}

static int validate_machine (const struct vm_config *c, berth_err *err)
{
  const struct vm_machine *m = &c->machine;
  if (m->vcpu_count < 1 || m->vcpu_count > VM_MAX_VCPUS)
    return berth_fail (err, 0, "machine-config.vcpu_count: %u is out of range (1..%d)", m->vcpu_count, VM_MAX_VCPUS);
  if (m->mem_size_mib < VM_MIN_MEM_MIB)
    return berth_fail (err, 0, "machine-config.mem_size_mib: %" PRIu64 " MiB is less than the minimum of %d MiB",
                       m->mem_size_mib, VM_MIN_MEM_MIB);
  uint64_t limit = vm_host_mem_limit_mib ();
  if (m->mem_size_mib > limit)
    return berth_fail_as (err, ENOMEM,
                          "machine-config.mem_size_mib: %" PRIu64 " MiB is more than this host allows (%" PRIu64
                          " MiB: its memory and RLIMIT_AS)",
                          m->mem_size_mib, limit);
  if (c->balloon.present && c->balloon.amount_mib > m->mem_size_mib)
    return berth_fail (err, 0, "balloon.amount_mib: %u MiB is more than the guest's memory (%" PRIu64 " MiB)",
                       c->balloon.amount_mib, m->mem_size_mib);
  return 0;
}

static int validate_devices (const struct vm_config *c, berth_err *err)
{
  unsigned roots = 0;
  for (unsigned i = 0; i < c->ndrives; i++)
    {
      const struct vm_drive *d = &c->drives[i];
      /* A struct filled by hand (flags) may lack what the parser requires. */
      if (d->drive_id == NULL || d->path_on_host == NULL)
        return berth_fail (err, 0, "drives[%u]: drive_id and path_on_host are required", i);
      char what[128];
      snprintf (what, sizeof what, "drive %s:", d->drive_id);
      if (check_file (what, d->path_on_host, !d->is_read_only, err) < 0)
        return -EINVAL;
      roots += d->is_root_device;
      for (unsigned k = 0; k < i; k++)
        if (strcmp (c->drives[k].drive_id, d->drive_id) == 0)
          return berth_fail (err, 0, "drives: the id %s is used twice", d->drive_id);
    }
  if (roots > 1)
    return berth_fail (err, 0, "drives: only one drive can be the root device");
  for (unsigned i = 0; i < c->nnets; i++)
    if (c->nets[i].iface_id == NULL || c->nets[i].host_dev_name == NULL)
      return berth_fail (err, 0, "network-interfaces[%u]: iface_id and host_dev_name are required", i);
  for (unsigned i = 0; i < c->nnets; i++)
    for (unsigned k = 0; k < i; k++)
      if (strcmp (c->nets[k].iface_id, c->nets[i].iface_id) == 0
          || strcmp (c->nets[k].host_dev_name, c->nets[i].host_dev_name) == 0)
        return berth_fail (err, 0, "network-interfaces: %s and %s use the same id or tap device", c->nets[k].iface_id,
                           c->nets[i].iface_id);
  if (c->vsock.present)
    {
      if (c->vsock.uds_path == NULL)
        return berth_fail (err, 0, "vsock.uds_path: required");
      if (c->vsock.guest_cid < 3)
        return berth_fail (err, 0, "vsock.guest_cid: must be at least 3 (0-2 are reserved)");
      /* The VMM binds uds_path: its folder must exist. */
      cleanup_free char *dir = strdup (c->vsock.uds_path);
      if (dir == NULL)
        return berth_fail (err, ENOMEM, "vsock");
      char *slash = strrchr (dir, '/');
      if (slash && slash != dir)
        {
          *slash = '\0';
          struct stat st;
          if (stat (dir, &st) < 0 || !S_ISDIR (st.st_mode))
            return berth_fail (err, errno ? errno : ENOTDIR, "vsock.uds_path: folder %s", dir);
        }
    }
  return 0;
}

int vm_config_validate (const struct vm_config *c, berth_err *err)
{
  if (c->boot.kernel_image_path == NULL)
    return berth_fail (err, 0, "boot-source.kernel_image_path: no kernel configured");
  if (check_file ("kernel", c->boot.kernel_image_path, false, err) < 0)
    return -EINVAL;
  if (c->boot.initrd_path && check_file ("initrd", c->boot.initrd_path, false, err) < 0)
    return -EINVAL;
  if (validate_machine (c, err) < 0 || validate_devices (c, err) < 0)
    return -EINVAL;
  return 0;
}
