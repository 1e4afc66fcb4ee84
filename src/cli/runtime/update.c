#include "cli.h"
#include "common/fs.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum
{
  O_RESOURCES = 1, O_MEMORY, O_MEMSWAP, O_MEMRES, O_KMEM, O_KMEMTCP, O_SHARES, O_PERIOD, O_QUOTA,
  O_RT_PERIOD, O_RT_RUNTIME, O_CPUS, O_MEMS, O_PIDS, O_BLKIO,
};

static const struct cli_opt update_opts[] = {
  { "resources", 'r', true, O_RESOURCES },
  { "memory", 0, true, O_MEMORY },
  { "memory-swap", 0, true, O_MEMSWAP },
  { "memory-reservation", 0, true, O_MEMRES },
  { "kernel-memory", 0, true, O_KMEM },
  { "kernel-memory-tcp", 0, true, O_KMEMTCP },
  { "cpu-shares", 0, true, O_SHARES },
  { "cpu-period", 0, true, O_PERIOD },
  { "cpu-quota", 0, true, O_QUOTA },
  { "cpu-rt-period", 0, true, O_RT_PERIOD },
  { "cpu-rt-runtime", 0, true, O_RT_RUNTIME },
  { "cpuset-cpus", 0, true, O_CPUS },
  { "cpuset-mems", 0, true, O_MEMS },
  { "pids-limit", 0, true, O_PIDS },
  { "blkio-weight", 0, true, O_BLKIO },
  { NULL, 0, false, 0 },
};

static json_t *section (json_t *res, const char *name)
{
  json_t *s = json_object_get (res, name);
  if (!json_is_object (s))
    json_object_set_new (res, name, s = json_object ());
  return s;
}

static int set_number (json_t *res, const char *sec, const char *key, const char *arg, bool size)
{
  long long v;
  if ((size ? cli_parse_size (arg, &v) : cli_parse_int (arg, &v)) < 0)
    return cli_usage_error ("invalid value `%s` for %s.%s", arg, sec, key);
  json_object_set_new (section (res, sec), key, json_integer (v));
  return 0;
}

static int apply_flag (json_t *res, int id, const char *arg)
{
  switch (id)
    {
    case O_MEMORY: return set_number (res, "memory", "limit", arg, true);
    case O_MEMSWAP: return set_number (res, "memory", "swap", arg, true);
    case O_MEMRES: return set_number (res, "memory", "reservation", arg, true);
    case O_KMEM: case O_KMEMTCP: return 0; /* gone from the kernel; runc ignores them too */
    case O_SHARES: return set_number (res, "cpu", "shares", arg, false);
    case O_PERIOD: return set_number (res, "cpu", "period", arg, false);
    case O_QUOTA: return set_number (res, "cpu", "quota", arg, false);
    case O_RT_PERIOD: return set_number (res, "cpu", "realtimePeriod", arg, false);
    case O_RT_RUNTIME: return set_number (res, "cpu", "realtimeRuntime", arg, false);
    case O_CPUS: json_object_set_new (section (res, "cpu"), "cpus", json_string (arg)); return 0;
    case O_MEMS: json_object_set_new (section (res, "cpu"), "mems", json_string (arg)); return 0;
    case O_PIDS: return set_number (res, "pids", "limit", arg, false);
    case O_BLKIO: return set_number (res, "blockIO", "weight", arg, false);
    default: return 0;
    }
}

static json_t *load_resources (const char *file, berth_err *err)
{
  if (strcmp (file, "-") != 0)
    return berth_json_load_file (file, err);
  cleanup_free char *buf = NULL;
  size_t len = 0;
  if (berth_read_file ("/dev/stdin", BERTH_JSON_MAX_SIZE, &buf, &len, err) < 0)
    return NULL;
  return berth_json_load_buffer (buf, len, "stdin", err);
}

int cmd_update (struct berth_global *g, int argc, char **argv)
{
  struct cli_parser p = { .argc = argc, .argv = argv, .i = 1 };
  const char *arg, *file = NULL, *id;
  int opt;
  berth_err err = NULL;
  cleanup_json json_t *res = json_object ();
  while ((opt = cli_next (&p, update_opts, &arg)) > 0)
    {
      if (opt == O_RESOURCES)
        file = arg;
      else if (apply_flag (res, opt, arg) < 0)
        return 1;
    }
  if (opt < 0 || (id = cli_one_id (&p, "update")) == NULL)
    return 1;
  if (file)
    {
      json_decref (res);
      res = load_resources (file, &err);
      if (res == NULL)
        return cli_fail (&err);
    }
  if (berth_container_update (g, id, res, &err) < 0)
    return cli_fail (&err);
  return 0;
}
