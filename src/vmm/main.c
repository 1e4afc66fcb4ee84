/* berth-vmm: run one microVM from command-line flags, a Firecracker-style
 * config file, or (with --api-sock) the REST API.  Exit statuses: vmm.h. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "common/log.h"
#include "vmm/api/api.h"
#include "vmm/vm-config.h"
#include "vmm/vmm.h"

static const char usage_text[] =
  "Usage: berth-vmm --kernel PATH [options]\n"
  "       berth-vmm --config-file FILE\n"
  "       berth-vmm --api-sock PATH\n"
  "\n"
  "Boot a microVM on KVM.\n"
  "\n"
  "  --kernel PATH          bzImage or ELF vmlinux (64-bit entry)\n"
  "  --boot-protocol auto|linux64|pvh\n"
  "                         kernel entry: auto (default) and linux64 the 64-bit\n"
  "                         Linux entry, pvh the ELF's Xen PVH note (32-bit)\n"
  "  --initrd PATH          initial ramdisk\n"
  "  --cmdline STR          kernel command line (default: console=ttyS0 reboot=k panic=1 ...)\n"
  "  --mem SIZE             guest memory, e.g. 256M, 2G (plain number: MiB; default 128M)\n"
  "  --cpus N               vCPUs, 1..32 (default 1)\n"
  "  --smt                  two threads per core in the CPU topology\n"
  "  --cpu-template NAME    None (default), T2, C3\n"
  "  --drive PATH[,ro][,root][,id=ID]\n"
  "                         virtio-blk disk from a raw image (repeatable)\n"
  "  --net TAP[,mac=MAC][,id=ID]\n"
  "                         virtio-net on a tap device (repeatable)\n"
  "  --vsock CID,UDS        virtio-vsock, host side on Unix socket UDS\n"
  "  --balloon MIB[,deflate-on-oom][,stats=SECONDS]\n"
  "                         virtio-balloon with a target size\n"
  "  --rng                  virtio-rng\n"
  "  --transport mmio|pci   how virtio devices attach (default mmio)\n"
  "  --serial PATH          serial console on a Unix socket (default: stdio)\n"
  "  --config-file FILE     Firecracker-style JSON configuration (flags override it)\n"
  "  --api-sock PATH        serve the Firecracker-style REST API on PATH\n"
  "  --help, --version\n"
  "\n"
  "Exit status: 0 guest powered off, 1 VMM error, 2 bad usage or configuration,\n"
  "3 guest rebooted (reset or triple fault), 4 guest kernel panic.\n";

enum {
  OPT_KERNEL = 256, OPT_BOOT_PROTOCOL, OPT_INITRD, OPT_CMDLINE, OPT_MEM, OPT_CPUS, OPT_SMT, OPT_TEMPLATE,
  OPT_DRIVE, OPT_NET, OPT_VSOCK, OPT_BALLOON, OPT_RNG, OPT_TRANSPORT, OPT_SERIAL, OPT_CONFIG, OPT_API, OPT_HELP,
  OPT_VERSION,
};

static const struct option options[] = {
  { "kernel", required_argument, NULL, OPT_KERNEL },
  { "boot-protocol", required_argument, NULL, OPT_BOOT_PROTOCOL },
  { "initrd", required_argument, NULL, OPT_INITRD },
  { "cmdline", required_argument, NULL, OPT_CMDLINE },
  { "mem", required_argument, NULL, OPT_MEM },
  { "cpus", required_argument, NULL, OPT_CPUS },
  { "smt", no_argument, NULL, OPT_SMT },
  { "cpu-template", required_argument, NULL, OPT_TEMPLATE },
  { "drive", required_argument, NULL, OPT_DRIVE },
  { "net", required_argument, NULL, OPT_NET },
  { "vsock", required_argument, NULL, OPT_VSOCK },
  { "balloon", required_argument, NULL, OPT_BALLOON },
  { "rng", no_argument, NULL, OPT_RNG },
  { "transport", required_argument, NULL, OPT_TRANSPORT },
  { "serial", required_argument, NULL, OPT_SERIAL },
  { "config-file", required_argument, NULL, OPT_CONFIG },
  { "api-sock", required_argument, NULL, OPT_API },
  { "help", no_argument, NULL, OPT_HELP },
  { "version", no_argument, NULL, OPT_VERSION },
  { NULL, 0, NULL, 0 },
};

/* ---------------------------------------------------------------- values */

static int parse_u64 (const char *s, uint64_t *out, char **end)
{
  if (*s < '0' || *s > '9')
    return -EINVAL;
  errno = 0;
  unsigned long long v = strtoull (s, end, 10);
  if (errno != 0)
    return -EINVAL;
  *out = v;
  return 0;
}

/* "256M", "2G", "1024" (MiB), "262144K" -> MiB */
static int parse_mem (const char *s, uint64_t *mib, berth_err *err)
{
  char *end;
  uint64_t v;
  if (parse_u64 (s, &v, &end) < 0)
    return berth_fail (err, 0, "--mem: not a size: '%s'", s);
  uint64_t shift_kib;
  switch (*end)
    {
    case '\0': case 'M': case 'm': shift_kib = 10; break;
    case 'G': case 'g': shift_kib = 20; break;
    case 'K': case 'k': shift_kib = 0; break;
    default: return berth_fail (err, 0, "--mem: unknown unit in '%s' (K, M, G)", s);
    }
  if (*end && end[1] != '\0' && strcmp (end + 1, "iB") != 0 && strcmp (end + 1, "B") != 0)
    return berth_fail (err, 0, "--mem: not a size: '%s'", s);
  if (v > (UINT64_MAX >> 30))
    return berth_fail (err, 0, "--mem: '%s' is too large", s);
  uint64_t kib = v << shift_kib;
  if (kib % 1024 != 0)
    return berth_fail (err, 0, "--mem: '%s' is not a whole number of MiB", s);
  *mib = kib >> 10;
  return 0;
}

static int parse_number (const char *flag, const char *s, uint64_t max, uint64_t *out, berth_err *err)
{
  char *end;
  if (parse_u64 (s, out, &end) < 0 || *end != '\0' || *out > max)
    return berth_fail (err, 0, "%s: not a number in 0..%llu: '%s'", flag, (unsigned long long) max, s);
  return 0;
}

static char *xstrdup (const char *s)
{
  char *d = strdup (s);
  if (d == NULL)
    abort ();
  return d;
}

static void set_str (char **dst, const char *s)
{
  free (*dst);
  *dst = xstrdup (s);
}

/* "PATH[,ro][,root][,id=ID]" */
static int parse_drive (struct vm_config *c, char *arg, berth_err *err)
{
  if (c->ndrives == VM_MAX_DRIVES)
    return berth_fail (err, 0, "--drive: at most %d drives", VM_MAX_DRIVES);
  struct vm_drive *d = &c->drives[c->ndrives];
  memset (d, 0, sizeof *d);
  char *save, *path = strtok_r (arg, ",", &save);
  if (path == NULL || *path == '\0')
    return berth_fail (err, 0, "--drive: no path");
  d->path_on_host = xstrdup (path);
  c->ndrives++; /* owned by the config from here on */
  for (char *o; (o = strtok_r (NULL, ",", &save));)
    if (strcmp (o, "ro") == 0)
      d->is_read_only = true;
    else if (strcmp (o, "root") == 0)
      d->is_root_device = true;
    else if (strncmp (o, "id=", 3) == 0 && o[3])
      set_str (&d->drive_id, o + 3);
    else
      return berth_fail (err, 0, "--drive: unknown option '%s' (ro, root, id=ID)", o);
  if (d->drive_id == NULL)
    {
      char id[32];
      snprintf (id, sizeof id, "drive%u", c->ndrives - 1);
      d->drive_id = xstrdup (id);
    }
  return 0;
}

static int parse_mac (const char *s, uint8_t mac[6])
{
  unsigned v[6];
  char tail;
  if (sscanf (s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
    return -EINVAL;
  for (int i = 0; i < 6; i++)
    mac[i] = (uint8_t) v[i];
  return 0;
}

/* "TAP[,mac=MAC][,id=ID]" */
static int parse_net (struct vm_config *c, char *arg, berth_err *err)
{
  if (c->nnets == VM_MAX_NETS)
    return berth_fail (err, 0, "--net: at most %d interfaces", VM_MAX_NETS);
  struct vm_net *n = &c->nets[c->nnets];
  memset (n, 0, sizeof *n);
  char *save, *tap = strtok_r (arg, ",", &save);
  if (tap == NULL || *tap == '\0')
    return berth_fail (err, 0, "--net: no tap device name");
  n->host_dev_name = xstrdup (tap);
  c->nnets++;
  for (char *o; (o = strtok_r (NULL, ",", &save));)
    if (strncmp (o, "mac=", 4) == 0)
      {
        if (parse_mac (o + 4, n->guest_mac) < 0)
          return berth_fail (err, 0, "--net: bad MAC address '%s'", o + 4);
        n->has_mac = true;
      }
    else if (strncmp (o, "id=", 3) == 0 && o[3])
      set_str (&n->iface_id, o + 3);
    else
      return berth_fail (err, 0, "--net: unknown option '%s' (mac=MAC, id=ID)", o);
  if (n->iface_id == NULL)
    {
      char id[32];
      snprintf (id, sizeof id, "eth%u", c->nnets - 1);
      n->iface_id = xstrdup (id);
    }
  return 0;
}

/* "CID,UDS" */
static int parse_vsock (struct vm_config *c, char *arg, berth_err *err)
{
  char *comma = strchr (arg, ',');
  uint64_t cid;
  if (comma == NULL || comma[1] == '\0')
    return berth_fail (err, 0, "--vsock: expected CID,UDS_PATH");
  *comma = '\0';
  if (parse_number ("--vsock CID", arg, UINT32_MAX, &cid, err) < 0)
    return -EINVAL;
  c->vsock.present = true;
  c->vsock.guest_cid = (uint32_t) cid;
  set_str (&c->vsock.uds_path, comma + 1);
  if (c->vsock.vsock_id == NULL)
    c->vsock.vsock_id = xstrdup ("vsock0");
  return 0;
}

/* "MIB[,deflate-on-oom][,stats=S]" */
static int parse_balloon (struct vm_config *c, char *arg, berth_err *err)
{
  char *save, *mib = strtok_r (arg, ",", &save);
  uint64_t v;
  if (mib == NULL || parse_number ("--balloon", mib, UINT32_MAX, &v, err) < 0)
    return berth_fail (err, 0, "--balloon: expected MIB[,deflate-on-oom][,stats=SECONDS]");
  c->balloon.present = true;
  c->balloon.amount_mib = (uint32_t) v;
  for (char *o; (o = strtok_r (NULL, ",", &save));)
    if (strcmp (o, "deflate-on-oom") == 0)
      c->balloon.deflate_on_oom = true;
    else if (strncmp (o, "stats=", 6) == 0)
      {
        if (parse_number ("--balloon stats", o + 6, UINT32_MAX, &v, err) < 0)
          return -EINVAL;
        c->balloon.stats_polling_interval_s = (uint32_t) v;
      }
    else
      return berth_fail (err, 0, "--balloon: unknown option '%s' (deflate-on-oom, stats=SECONDS)", o);
  return 0;
}

static int load_config_file (struct vm_config *c, const char *path, berth_err *err)
{
  json_t *j = berth_json_load_file (path, err);
  if (j == NULL)
    return -EINVAL;
  int r = vm_config_from_json (c, j, err);
  json_decref (j);
  if (r < 0)
    return berth_error_prefix (err, "%s", path);
  return 0;
}

/* ---------------------------------------------------------------- flags */

struct cli {
  const char *config_file, *api_sock;
  bool help, version;
};

static int apply_flag (struct vm_config *c, struct cli *cli, int opt, char *arg, berth_err *err)
{
  uint64_t v;
  switch (opt)
    {
    case OPT_KERNEL: set_str (&c->boot.kernel_image_path, arg); return 0;
    case OPT_BOOT_PROTOCOL:
      if (vm_boot_protocol_parse (arg, &c->boot.boot_protocol) < 0)
        return berth_fail (err, 0, "--boot-protocol: expected auto, linux64 or pvh, got '%s'", arg);
      return 0;
    case OPT_INITRD: set_str (&c->boot.initrd_path, arg); return 0;
    case OPT_CMDLINE: set_str (&c->boot.boot_args, arg); return 0;
    case OPT_MEM: return parse_mem (arg, &c->machine.mem_size_mib, err);
    case OPT_CPUS:
      if (parse_number ("--cpus", arg, VM_MAX_VCPUS, &v, NULL) < 0 || v == 0)
        return berth_fail (err, 0, "--cpus: expected 1..%d, got '%s'", VM_MAX_VCPUS, arg);
      c->machine.vcpu_count = (unsigned) v;
      return 0;
    case OPT_SMT: c->machine.smt = true; return 0;
    case OPT_TEMPLATE: set_str (&c->machine.cpu_template, arg); return 0;
    case OPT_DRIVE: return parse_drive (c, arg, err);
    case OPT_NET: return parse_net (c, arg, err);
    case OPT_VSOCK: return parse_vsock (c, arg, err);
    case OPT_BALLOON: return parse_balloon (c, arg, err);
    case OPT_RNG: c->rng = true; return 0;
    case OPT_TRANSPORT:
      if (strcmp (arg, "mmio") == 0)
        c->transport = VM_TRANSPORT_MMIO;
      else if (strcmp (arg, "pci") == 0)
        c->transport = VM_TRANSPORT_PCI;
      else
        return berth_fail (err, 0, "--transport: expected mmio or pci, got '%s'", arg);
      return 0;
    case OPT_SERIAL: set_str (&c->serial_path, arg); return 0;
    case OPT_HELP: cli->help = true; return 0;
    case OPT_VERSION: cli->version = true; return 0;
    default: return berth_fail (err, 0, "unknown option (see --help)");
    }
}

/* Two passes: the config file first (wherever it is on the line), then
 * the other flags on top of it. */
static int parse_args (int argc, char **argv, struct vm_config *c, struct cli *cli, berth_err *err)
{
  int opt;
  opterr = 0;
  while ((opt = getopt_long (argc, argv, "", options, NULL)) != -1)
    {
      if (opt == '?')
        return berth_fail (err, 0, "unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
      if (opt == OPT_CONFIG)
        cli->config_file = optarg;
      else if (opt == OPT_API)
        cli->api_sock = optarg;
    }
  if (optind < argc)
    return berth_fail (err, 0, "unexpected argument '%s' (see --help)", argv[optind]);
  if (cli->config_file && load_config_file (c, cli->config_file, err) < 0)
    return -EINVAL;
  optind = 1;
  while ((opt = getopt_long (argc, argv, "", options, NULL)) != -1)
    if (opt != OPT_CONFIG && opt != OPT_API && apply_flag (c, cli, opt, optarg, err) < 0)
      return -EINVAL;
  return 0;
}

static int run_vm (const struct vm_config *c)
{
  berth_err err = NULL;
  struct vmm *vm = NULL;
  if (vm_config_validate (c, &err) < 0 || vmm_create (c, &vm, &err) < 0)
    {
      berth_error_report (&err);
      return VMM_EXIT_USAGE;
    }
  if (vmm_start (vm, &err) < 0)
    {
      berth_error_report (&err);
      vmm_destroy (vm);
      return VMM_EXIT_ERROR;
    }
  int status = vmm_wait (vm);
  vmm_destroy (vm);
  return status;
}

/* --api-sock: the flags and --config-file give the starting configuration;
 * the API may change it and starts the VM (InstanceStart). */
static int serve_api (const char *sock, const struct vm_config *c)
{
  berth_err err = NULL;
  int status = VMM_EXIT_ERROR;
  if (vmm_api_serve (sock, c, &status, &err) < 0)
    {
      berth_error_report (&err);
      return VMM_EXIT_USAGE;
    }
  return status;
}

int main (int argc, char **argv)
{
  berth_log_init ("berth-vmm");
  struct vm_config c;
  vm_config_init (&c);
  struct cli cli = { 0 };
  berth_err err = NULL;
  int status;
  if (parse_args (argc, argv, &c, &cli, &err) < 0)
    {
      berth_error_report (&err);
      status = VMM_EXIT_USAGE;
    }
  else if (cli.help)
    {
      fputs (usage_text, stdout);
      status = 0;
    }
  else if (cli.version)
    {
      printf ("berth-vmm version %s\ncommit: %s\n", BERTH_VERSION, BERTH_COMMIT);
      status = 0;
    }
  else if (cli.api_sock)
    status = serve_api (cli.api_sock, &c);
  else
    status = run_vm (&c);
  vm_config_free (&c);
  return status;
}
