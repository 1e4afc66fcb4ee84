/* The VM configuration: Firecracker's JSON in and out, bad input, and the
 * checks made before a VM is built. */
#include "unit.h"

#include "common/cleanup.h"
#include "vmm/vm-config.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

static json_t *parse (const char *text)
{
  json_t *j = json_loads (text, 0, NULL);
  if (j == NULL)
    {
      printf ("  bad test JSON: %s\n", text);
      _exit (1);
    }
  return j;
}

/* Parse TEXT as a full config; return the error message or NULL. */
static char *config_error (const char *text)
{
  struct vm_config c;
  vm_config_init (&c);
  berth_err err = NULL;
  json_t *j = parse (text);
  int r = vm_config_from_json (&c, j, &err);
  json_decref (j);
  vm_config_free (&c);
  if (r == 0)
    return NULL;
  char *msg = strdup (err->msg);
  berth_error_free (&err);
  return msg;
}

/* A scratch file under a fresh folder (the test runs in its own child). */
static char *scratch_file (const char *name, mode_t mode)
{
  static char dir[64];
  if (dir[0] == '\0')
    {
      snprintf (dir, sizeof dir, "/tmp/test_vmm_config.XXXXXX");
      CHECK (mkdtemp (dir) != NULL);
    }
  char *p = NULL;
  CHECK (asprintf (&p, "%s/%s", dir, name) > 0);
  int fd = open (p, O_CREAT | O_WRONLY | O_TRUNC, mode);
  CHECK (fd >= 0);
  CHECK (write (fd, "data", 4) == 4);
  close (fd);
  chmod (p, mode);
  return p;
}

#define FULL \
  "{\"boot-source\":{\"kernel_image_path\":\"/k\",\"initrd_path\":\"/i\",\"boot_args\":\"console=ttyS0\",\"boot_protocol\":\"pvh\"}," \
  "\"machine-config\":{\"vcpu_count\":2,\"mem_size_mib\":256,\"smt\":true,\"cpu_template\":\"T2\",\"track_dirty_pages\":true}," \
  "\"drives\":[{\"drive_id\":\"rootfs\",\"path_on_host\":\"/r\",\"is_root_device\":true,\"is_read_only\":true," \
  "\"partuuid\":\"abc-1\",\"rate_limiter\":{\"bandwidth\":{\"size\":1000,\"one_time_burst\":50,\"refill_time\":100}," \
  "\"ops\":{\"size\":10,\"refill_time\":1000}}},{\"drive_id\":\"data\",\"path_on_host\":\"/d\",\"is_root_device\":false}]," \
  "\"network-interfaces\":[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":\"AA:FC:00:00:00:01\"," \
  "\"rx_rate_limiter\":{\"ops\":{\"size\":5,\"refill_time\":10}}}]," \
  "\"vsock\":{\"vsock_id\":\"v\",\"guest_cid\":3,\"uds_path\":\"/tmp/v.sock\"}," \
  "\"balloon\":{\"amount_mib\":64,\"deflate_on_oom\":true,\"stats_polling_interval_s\":1}," \
  "\"entropy\":{},\"transport\":\"pci\",\"serial\":{\"uds_path\":\"/tmp/s.sock\"}}"

TEST (defaults)
{
  struct vm_config c;
  vm_config_init (&c);
  CHECK (c.machine.vcpu_count == 1);
  CHECK (c.machine.mem_size_mib == 128);
  CHECK (c.ndrives == 0 && c.nnets == 0 && !c.vsock.present && !c.balloon.present && !c.rng);
  CHECK (c.transport == VM_TRANSPORT_MMIO);
  CHECK (c.serial_path == NULL && c.boot.kernel_image_path == NULL);
  CHECK (c.boot.boot_protocol == VM_BOOT_AUTO);
  vm_config_free (&c);
}

TEST (boot_protocol_values)
{
  enum vm_boot_protocol p = VM_BOOT_PVH;
  CHECK (vm_boot_protocol_parse ("auto", &p) == 0 && p == VM_BOOT_AUTO);
  CHECK (vm_boot_protocol_parse ("linux64", &p) == 0 && p == VM_BOOT_LINUX64);
  CHECK (vm_boot_protocol_parse ("pvh", &p) == 0 && p == VM_BOOT_PVH);
  CHECK (vm_boot_protocol_parse ("PVH", &p) < 0 && p == VM_BOOT_PVH);
  CHECK (vm_boot_protocol_parse ("", &p) < 0);
  CHECK (vm_boot_protocol_parse ("pvh ", &p) < 0);
  CHECK_STR (vm_boot_protocol_name (VM_BOOT_LINUX64), "linux64");
  CHECK_STR (vm_boot_protocol_name ((enum vm_boot_protocol) 9), "unknown");
  CHECK_CONTAINS (config_error ("{\"boot-source\":{\"kernel_image_path\":\"/k\",\"boot_protocol\":\"xen\"}}"),
                  "boot-source.boot_protocol: expected \"auto\", \"linux64\" or \"pvh\"");
  CHECK_CONTAINS (config_error ("{\"boot-source\":{\"kernel_image_path\":\"/k\",\"boot_protocol\":2}}"),
                  "boot-source.boot_protocol: expected");
}

TEST (full_config_parses_every_field)
{
  struct vm_config c;
  vm_config_init (&c);
  berth_err err = NULL;
  json_t *j = parse (FULL);
  CHECK (vm_config_from_json (&c, j, &err) == 0);
  CHECK_STR (c.boot.kernel_image_path, "/k");
  CHECK_STR (c.boot.initrd_path, "/i");
  CHECK_STR (c.boot.boot_args, "console=ttyS0");
  CHECK (c.boot.boot_protocol == VM_BOOT_PVH);
  CHECK (c.machine.vcpu_count == 2 && c.machine.mem_size_mib == 256 && c.machine.smt && c.machine.track_dirty_pages);
  CHECK_STR (c.machine.cpu_template, "T2");
  CHECK (c.ndrives == 2);
  CHECK_STR (c.drives[0].drive_id, "rootfs");
  CHECK (c.drives[0].is_root_device && c.drives[0].is_read_only);
  CHECK_STR (c.drives[0].partuuid, "abc-1");
  CHECK (c.drives[0].rate_limiter.bandwidth.size == 1000 && c.drives[0].rate_limiter.bandwidth.one_time_burst == 50
         && c.drives[0].rate_limiter.bandwidth.refill_time_ms == 100);
  CHECK (c.drives[0].rate_limiter.ops.size == 10 && c.drives[0].rate_limiter.ops.refill_time_ms == 1000);
  CHECK (!c.drives[1].is_root_device && !c.drives[1].is_read_only);
  CHECK (c.nnets == 1 && c.nets[0].has_mac && c.nets[0].guest_mac[0] == 0xaa && c.nets[0].guest_mac[5] == 1);
  CHECK_STR (c.nets[0].host_dev_name, "tap0");
  CHECK (c.nets[0].rx_rate_limiter.ops.size == 5 && c.nets[0].tx_rate_limiter.ops.size == 0);
  CHECK (c.vsock.present && c.vsock.guest_cid == 3);
  CHECK_STR (c.vsock.uds_path, "/tmp/v.sock");
  CHECK (c.balloon.present && c.balloon.amount_mib == 64 && c.balloon.deflate_on_oom
         && c.balloon.stats_polling_interval_s == 1);
  CHECK (c.rng && c.transport == VM_TRANSPORT_PCI);
  CHECK_STR (c.serial_path, "/tmp/s.sock");
  json_decref (j);
  vm_config_free (&c);
}

TEST (round_trip_is_identity)
{
  struct vm_config a, b;
  vm_config_init (&a);
  vm_config_init (&b);
  berth_err err = NULL;
  json_t *j = parse (FULL);
  CHECK (vm_config_from_json (&a, j, &err) == 0);
  json_t *out1 = vm_config_to_json (&a);
  CHECK (vm_config_from_json (&b, out1, &err) == 0);
  json_t *out2 = vm_config_to_json (&b);
  CHECK (json_equal (out1, out2));
  /* And the output is the input, key for key (the MAC lower-cased). */
  json_object_set_new (json_array_get (json_object_get (j, "network-interfaces"), 0), "guest_mac",
                       json_string ("aa:fc:00:00:00:01"));
  json_object_set_new (json_array_get (json_object_get (j, "drives"), 1), "is_read_only", json_false ());
  if (!json_equal (j, out1))
    {
      char *s = json_dumps (out1, JSON_SORT_KEYS);
      printf ("  out: %s\n", s);
      CHECK (0);
    }
  json_decref (j);
  json_decref (out1);
  json_decref (out2);
  vm_config_free (&a);
  vm_config_free (&b);
}

TEST (unknown_keys_are_errors_at_every_level)
{
  CHECK_CONTAINS (config_error ("{\"logger\":{}}"), "config.logger: unknown field");
  CHECK_CONTAINS (config_error ("{\"boot-source\":{\"kernel_image_path\":\"/k\",\"kernel\":\"x\"}}"),
                  "boot-source.kernel: unknown field");
  CHECK_CONTAINS (config_error ("{\"drives\":[{\"drive_id\":\"a\",\"path_on_host\":\"/a\",\"is_root_device\":false,"
                                "\"cache_type\":\"Unsafe\"}]}"),
                  "drives[0].cache_type: unknown field");
  CHECK_CONTAINS (config_error ("{\"drives\":[{\"drive_id\":\"a\",\"path_on_host\":\"/a\",\"is_root_device\":false,"
                                "\"rate_limiter\":{\"bandwidth\":{\"size\":1,\"refill_time\":1,\"x\":1}}}]}"),
                  "drives[0].rate_limiter.bandwidth.x: unknown field");
  CHECK_CONTAINS (config_error ("{\"entropy\":{\"rate_limiter\":{}}}"), "entropy.rate_limiter: unknown field");
}

TEST (wrong_types_and_ranges)
{
  CHECK_CONTAINS (config_error ("{\"machine-config\":{\"vcpu_count\":\"2\",\"mem_size_mib\":128}}"),
                  "machine-config.vcpu_count: expected an integer");
  CHECK_CONTAINS (config_error ("{\"machine-config\":{\"vcpu_count\":0,\"mem_size_mib\":128}}"),
                  "machine-config.vcpu_count: 0 is out of range");
  CHECK_CONTAINS (config_error ("{\"machine-config\":{\"vcpu_count\":33,\"mem_size_mib\":128}}"), "out of range");
  CHECK_CONTAINS (config_error ("{\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":8}}"),
                  "machine-config.mem_size_mib: 8 is out of range");
  CHECK_CONTAINS (config_error ("{\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":-1}}"), "out of range");
  CHECK_CONTAINS (config_error ("{\"machine-config\":{\"vcpu_count\":1}}"),
                  "machine-config.mem_size_mib: missing required field");
  CHECK_CONTAINS (config_error ("{\"machine-config\":{\"vcpu_count\":3,\"mem_size_mib\":128,\"smt\":true}}"),
                  "vcpu_count must be 1 or even");
  CHECK_CONTAINS (config_error ("{\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":128,\"cpu_template\":\"Z9\"}}"),
                  "unknown CPU template");
  CHECK_CONTAINS (config_error ("{\"drives\":[{\"drive_id\":\"a\",\"path_on_host\":\"/a\",\"is_root_device\":\"yes\"}]}"),
                  "drives[0].is_root_device: expected a boolean");
  CHECK_CONTAINS (config_error ("{\"drives\":{}}"), "drives: expected an array");
  CHECK_CONTAINS (config_error ("{\"boot-source\":{\"kernel_image_path\":\"\"}}"), "must not be empty");
  CHECK_CONTAINS (config_error ("{\"boot-source\":{}}"), "boot-source.kernel_image_path: missing required field");
  CHECK_CONTAINS (config_error ("{\"vsock\":{\"guest_cid\":2,\"uds_path\":\"/v\"}}"), "vsock.guest_cid: 2 is out of range");
  CHECK_CONTAINS (config_error ("{\"balloon\":{\"amount_mib\":1}}"), "balloon.deflate_on_oom: missing required field");
  CHECK_CONTAINS (config_error ("{\"transport\":\"virtio\"}"), "unknown transport");
  CHECK_CONTAINS (config_error ("[]"), "expected a JSON object");
  CHECK_CONTAINS (config_error ("{\"drives\":[{\"drive_id\":\"a\",\"path_on_host\":\"/a\",\"is_root_device\":false,"
                                "\"rate_limiter\":{\"ops\":{\"size\":5,\"refill_time\":0}}}]}"),
                  "refill_time: must be positive");
}

TEST (ids_macs_and_duplicates)
{
  CHECK_CONTAINS (config_error ("{\"drives\":[{\"drive_id\":\"a\",\"path_on_host\":\"/a\",\"is_root_device\":false},"
                                "{\"drive_id\":\"a\",\"path_on_host\":\"/b\",\"is_root_device\":false}]}"),
                  "drives[1]: duplicate id");
  CHECK_CONTAINS (config_error ("{\"drives\":[{\"drive_id\":\"a\",\"path_on_host\":\"/a\",\"is_root_device\":true},"
                                "{\"drive_id\":\"b\",\"path_on_host\":\"/b\",\"is_root_device\":true}]}"),
                  "root block device already exists");
  CHECK_CONTAINS (config_error ("{\"drives\":[{\"drive_id\":\"a/../b\",\"path_on_host\":\"/a\",\"is_root_device\":false}]}"),
                  "may hold only");
  CHECK_CONTAINS (config_error ("{\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"tap0\",\"guest_mac\":\"zz\"}]}"),
                  "is not a MAC address");
  CHECK_CONTAINS (config_error ("{\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"tap0\","
                                "\"guest_mac\":\"01:00:00:00:00:01\"}]}"),
                  "multicast");
  CHECK_CONTAINS (config_error ("{\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"a-very-long-tap-name0\"}]}"),
                  "not a valid interface name");
  CHECK_CONTAINS (config_error ("{\"network-interfaces\":[{\"iface_id\":\"e\",\"host_dev_name\":\"tap0\"},"
                                "{\"iface_id\":\"f\",\"host_dev_name\":\"tap0\"}]}"),
                  "host_dev_name of f is already in use");
}

TEST (failed_parse_leaves_config_unchanged)
{
  struct vm_config c;
  vm_config_init (&c);
  berth_err err = NULL;
  json_t *good = parse (FULL);
  CHECK (vm_config_from_json (&c, good, &err) == 0);
  json_t *bad = parse ("{\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":64},\"bogus\":1}");
  CHECK (vm_config_from_json (&c, bad, &err) < 0);
  berth_error_free (&err);
  CHECK (c.machine.mem_size_mib == 256 && c.ndrives == 2);
  /* Per resource too: a bad drive PUT keeps the old drive. */
  json_t *d = parse ("{\"drive_id\":\"data\",\"path_on_host\":\"/new\",\"is_root_device\":false,\"x\":1}");
  CHECK (vm_config_put_drive (&c, "data", d, NULL, &err) < 0);
  berth_error_free (&err);
  CHECK_STR (c.drives[1].path_on_host, "/d");
  json_t *m = parse ("{\"vcpu_count\":4,\"mem_size_mib\":\"lots\"}");
  CHECK (vm_config_set_machine (&c, m, true, NULL, &err) < 0);
  berth_error_free (&err);
  CHECK (c.machine.vcpu_count == 2);
  json_decref (good);
  json_decref (bad);
  json_decref (d);
  json_decref (m);
  vm_config_free (&c);
}

TEST (machine_put_resets_patch_keeps)
{
  struct vm_config c;
  vm_config_init (&c);
  berth_err err = NULL;
  json_t *put = parse ("{\"vcpu_count\":2,\"mem_size_mib\":512,\"smt\":true,\"cpu_template\":\"C3\"}");
  CHECK (vm_config_set_machine (&c, put, false, NULL, &err) == 0);
  json_t *patch = parse ("{\"mem_size_mib\":1024}");
  CHECK (vm_config_set_machine (&c, patch, true, NULL, &err) == 0);
  CHECK (c.machine.vcpu_count == 2 && c.machine.mem_size_mib == 1024 && c.machine.smt);
  CHECK_STR (c.machine.cpu_template, "C3");
  json_t *put2 = parse ("{\"vcpu_count\":1,\"mem_size_mib\":128}");
  CHECK (vm_config_set_machine (&c, put2, false, NULL, &err) == 0);
  CHECK (!c.machine.smt && c.machine.cpu_template == NULL);
  json_t *put3 = parse ("{\"vcpu_count\":1}");
  CHECK (vm_config_set_machine (&c, put3, false, NULL, &err) < 0);
  CHECK_CONTAINS (err->msg, "mem_size_mib: missing required field");
  berth_error_free (&err);
  json_t *got = vm_machine_to_json (&c.machine);
  CHECK (json_integer_value (json_object_get (got, "mem_size_mib")) == 128);
  CHECK (json_is_false (json_object_get (got, "smt")));
  json_decref (got);
  json_decref (put);
  json_decref (patch);
  json_decref (put2);
  json_decref (put3);
  vm_config_free (&c);
}

TEST (drive_put_patch_and_path_id)
{
  struct vm_config c;
  vm_config_init (&c);
  berth_err err = NULL;
  json_t *d = parse ("{\"drive_id\":\"rootfs\",\"path_on_host\":\"/a\",\"is_root_device\":true}");
  CHECK (vm_config_put_drive (&c, "other", d, NULL, &err) < 0);
  CHECK_CONTAINS (err->msg, "does not match the id from the body");
  berth_error_free (&err);
  CHECK (vm_config_put_drive (&c, "rootfs", d, NULL, &err) == 0);
  CHECK (vm_config_put_drive (&c, "rootfs", d, NULL, &err) == 0); /* replace, not add */
  CHECK (c.ndrives == 1);
  json_t *p = parse ("{\"drive_id\":\"rootfs\",\"path_on_host\":\"/b\"}");
  CHECK (vm_config_patch_drive (&c, "rootfs", p, &err) == 0);
  CHECK_STR (c.drives[0].path_on_host, "/b");
  CHECK (c.drives[0].is_root_device);
  CHECK (vm_config_patch_drive (&c, "nope", parse ("{\"drive_id\":\"nope\"}"), &err) == -ENOENT);
  berth_error_free (&err);
  CHECK (vm_config_patch_drive (&c, "rootfs", parse ("{\"drive_id\":\"rootfs\",\"is_read_only\":true}"), &err) < 0);
  CHECK_CONTAINS (err->msg, "is_read_only: unknown field");
  berth_error_free (&err);
  json_decref (d);
  json_decref (p);
  vm_config_free (&c);
}

TEST (validate_files_and_limits)
{
  struct vm_config c;
  vm_config_init (&c);
  berth_err err = NULL;
  CHECK (vm_config_validate (&c, &err) < 0);
  CHECK_CONTAINS (err->msg, "no kernel configured");
  berth_error_free (&err);

  char *kernel = scratch_file ("vmlinux", 0644);
  c.boot.kernel_image_path = strdup ("/nonexistent/vmlinux");
  CHECK (vm_config_validate (&c, &err) < 0);
  CHECK_CONTAINS (err->msg, "kernel /nonexistent/vmlinux");
  berth_error_free (&err);
  free (c.boot.kernel_image_path);
  c.boot.kernel_image_path = strdup ("/tmp");
  CHECK (vm_config_validate (&c, &err) < 0);
  CHECK_CONTAINS (err->msg, "not a regular file");
  berth_error_free (&err);
  free (c.boot.kernel_image_path);
  c.boot.kernel_image_path = kernel;
  CHECK (vm_config_validate (&c, &err) == 0);

  /* A drive: writable unless read-only. */
  char *ro = scratch_file ("ro.img", 0444);
  json_t *d = json_pack ("{s:s,s:s,s:b}", "drive_id", "d", "path_on_host", ro, "is_root_device", 0);
  CHECK (vm_config_put_drive (&c, "d", d, NULL, &err) == 0);
  if (geteuid () != 0)
    {
      CHECK (vm_config_validate (&c, &err) < 0);
      berth_error_free (&err);
    }
  c.drives[0].is_read_only = true;
  CHECK (vm_config_validate (&c, &err) == 0);
  free (c.drives[0].path_on_host);
  c.drives[0].path_on_host = strdup ("/nonexistent.img");
  CHECK (vm_config_validate (&c, &err) < 0);
  CHECK_CONTAINS (err->msg, "drive d: /nonexistent.img");
  berth_error_free (&err);
  /* Filled by hand without an id: an error, not a crash. */
  free (c.drives[0].drive_id);
  c.drives[0].drive_id = NULL;
  CHECK (vm_config_validate (&c, &err) < 0);
  CHECK_CONTAINS (err->msg, "drives[0]: drive_id and path_on_host are required");
  berth_error_free (&err);
  free (c.drives[0].path_on_host);
  c.ndrives = 0;

  /* Memory: more than the host has, then more than RLIMIT_AS allows. */
  uint64_t limit = vm_host_mem_limit_mib ();
  CHECK (limit >= 16);
  c.machine.mem_size_mib = limit + 1;
  CHECK (vm_config_validate (&c, &err) < 0);
  CHECK_CONTAINS (err->msg, "more than this host allows");
  berth_error_free (&err);
  c.machine.mem_size_mib = 2048;
  CHECK (vm_config_validate (&c, &err) == 0 || limit < 2048);
  berth_error_free (&err);
  struct rlimit rl = { 1024UL << 20, RLIM_INFINITY };
  getrlimit (RLIMIT_AS, &rl);
  rl.rlim_cur = 1024UL << 20;
  CHECK (setrlimit (RLIMIT_AS, &rl) == 0);
  CHECK (vm_host_mem_limit_mib () == 1024 - 256);
  CHECK (vm_config_validate (&c, &err) < 0);
  CHECK_CONTAINS (err->msg, "RLIMIT_AS");
  berth_error_free (&err);

  /* The balloon cannot be bigger than the guest. */
  c.machine.mem_size_mib = 128;
  c.balloon.present = true;
  c.balloon.amount_mib = 129;
  CHECK (vm_config_validate (&c, &err) < 0);
  CHECK_CONTAINS (err->msg, "balloon.amount_mib");
  berth_error_free (&err);
  c.balloon.amount_mib = 64;

  /* vsock: the socket's folder must exist. */
  json_t *v = parse ("{\"guest_cid\":3,\"uds_path\":\"/nonexistent-dir/v.sock\"}");
  CHECK (vm_config_set_vsock (&c, v, "vsock", &err) == 0);
  CHECK (vm_config_validate (&c, &err) < 0);
  CHECK_CONTAINS (err->msg, "vsock.uds_path");
  berth_error_free (&err);
  json_decref (v);
  json_decref (d);
  vm_config_free (&c);
}

TEST (balloon_update_bodies)
{
  berth_err err = NULL;
  uint32_t v = 7;
  CHECK (vm_balloon_update_from_json (parse ("{\"amount_mib\":32}"), &v, &err) == 0 && v == 32);
  CHECK (vm_balloon_update_from_json (parse ("{\"amount_mib\":\"32\"}"), &v, &err) < 0);
  CHECK_CONTAINS (err->msg, "amount_mib: expected an integer");
  berth_error_free (&err);
  CHECK (vm_balloon_update_from_json (parse ("{\"deflate_on_oom\":true}"), &v, &err) < 0);
  CHECK_CONTAINS (err->msg, "deflate_on_oom: unknown field");
  berth_error_free (&err);
  CHECK (vm_balloon_stats_update_from_json (parse ("{\"stats_polling_interval_s\":5}"), &v, &err) == 0 && v == 5);
  CHECK (vm_balloon_stats_update_from_json (parse ("{}"), &v, &err) < 0);
  berth_error_free (&err);
}
