/* The configuration of one microVM, in Firecracker's shape.  The REST API
 * (api/), the --config-file JSON and the command-line flags all fill this
 * one struct; the VMM core builds the VM from it.  Field names follow
 * Firecracker's API so its users recognise them.
 *
 * Strings are heap-owned by the struct (vm_config_free). */
#ifndef BERTH_VMM_VM_CONFIG_H
#define BERTH_VMM_VM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/json.h"

#define VM_MAX_DRIVES 8
#define VM_MAX_NETS 4
#define VM_MAX_VCPUS 32

/* A token bucket (Firecracker's TokenBucket): SIZE tokens, refilled in
 * full every REFILL_TIME_MS; ONE_TIME_BURST extra tokens at start.  SIZE
 * 0 means unlimited. */
struct vm_token_bucket {
  uint64_t size;
  uint64_t one_time_burst;
  uint64_t refill_time_ms;
};

/* Bandwidth in bytes, ops in requests/frames. */
struct vm_rate_limiter {
  struct vm_token_bucket bandwidth, ops;
};

/* Which entry of the kernel the vCPU starts at: AUTO is the 64-bit Linux
 * entry (the one proven with Linux here, for bzImage and ELF alike);
 * PVH needs an ELF vmlinux with a Xen PVH note (boot.h). */
enum vm_boot_protocol { VM_BOOT_AUTO = 0, VM_BOOT_LINUX64 = 1, VM_BOOT_PVH = 2 };

struct vm_boot_source {
  char *kernel_image_path; /* bzImage or ELF vmlinux */
  char *initrd_path;       /* may be NULL */
  char *boot_args;         /* NULL: the default command line */
  enum vm_boot_protocol boot_protocol;
};

/* "auto", "linux64", "pvh" (the flag's and the JSON key's values); -EINVAL
 * for anything else. */
int vm_boot_protocol_parse (const char *s, enum vm_boot_protocol *out);
const char *vm_boot_protocol_name (enum vm_boot_protocol p);

struct vm_machine {
  unsigned vcpu_count;   /* 1..VM_MAX_VCPUS */
  uint64_t mem_size_mib; /* 16 .. host limit */
  bool smt;
  char *cpu_template;    /* NULL or "None", "T2", "C3", ... */
  bool track_dirty_pages;
};

struct vm_drive {
  char *drive_id;
  char *path_on_host;
  bool is_root_device;
  bool is_read_only;
  char *partuuid;
  struct vm_rate_limiter rate_limiter;
};

struct vm_net {
  char *iface_id;
  char *host_dev_name; /* tap device */
  bool has_mac;
  uint8_t guest_mac[6];
  struct vm_rate_limiter rx_rate_limiter, tx_rate_limiter;
};

struct vm_vsock {
  bool present;
  char *vsock_id;
  uint32_t guest_cid; /* >= 3 */
  char *uds_path;     /* host side: Firecracker's Unix socket scheme */
};

struct vm_balloon {
  bool present;
  uint32_t amount_mib;       /* target size of the balloon */
  bool deflate_on_oom;
  uint32_t stats_polling_interval_s; /* 0: statistics off */
};

/* Which transport virtio devices use: mmio (declared on the command line)
 * or pci (ports 0xCF8/0xCFC). */
enum vm_transport { VM_TRANSPORT_MMIO = 0, VM_TRANSPORT_PCI = 1 };

struct vm_config {
  struct vm_boot_source boot;
  struct vm_machine machine;
  struct vm_drive drives[VM_MAX_DRIVES];
  unsigned ndrives;
  struct vm_net nets[VM_MAX_NETS];
  unsigned nnets;
  struct vm_vsock vsock;
  struct vm_balloon balloon;
  bool rng;                 /* virtio-rng (entropy device) */
  enum vm_transport transport;
  char *serial_path;        /* NULL: stdio; else a Unix socket to listen on */
};

/* Defaults: 1 vCPU, 128 MiB, no devices, mmio. */
void vm_config_init (struct vm_config *c);
void vm_config_free (struct vm_config *c);

/* Firecracker's full-config JSON ("boot-source", "machine-config",
 * "drives", "network-interfaces", "vsock", "balloon", plus berth's
 * "entropy", "transport", "serial"); unknown keys are errors. */
int vm_config_from_json (struct vm_config *c, json_t *j, berth_err *err);
json_t *vm_config_to_json (const struct vm_config *c);
/* A deep copy into DST (initialized or not; overwritten). */
int vm_config_copy (struct vm_config *dst, const struct vm_config *src, berth_err *err);
/* Everything the VMM can check before building the VM: paths exist and
 * are readable, ids unique, memory within host limits, cid >= 3, ... */
int vm_config_validate (const struct vm_config *c, berth_err *err);

/* ---- one resource at a time (the REST API, api/) ----
 *
 * Each parser reads the body of one Firecracker request; unknown fields,
 * wrong types and out-of-range values fail with a message naming the
 * field (prefixed with WHERE when it is not NULL).  PUT replaces the
 * resource; PATCH changes only the fields the body names.  On failure the
 * config is unchanged. */

/* PUT /boot-source */
int vm_config_set_boot_source (struct vm_config *c, json_t *body, const char *where, berth_err *err);
/* PUT (PATCH false: vcpu_count and mem_size_mib required) or PATCH
 * /machine-config */
int vm_config_set_machine (struct vm_config *c, json_t *body, bool patch, const char *where, berth_err *err);
/* PUT /drives/{id}: ID (NULL in a config file) must match drive_id; a
 * drive with the same id is replaced, else one is added. */
int vm_config_put_drive (struct vm_config *c, const char *id, json_t *body, const char *where, berth_err *err);
/* PATCH /drives/{id}: drive_id, path_on_host, rate_limiter; -ENOENT if
 * there is no such drive. */
int vm_config_patch_drive (struct vm_config *c, const char *id, json_t *body, berth_err *err);
/* PUT /network-interfaces/{id}, as put_drive. */
int vm_config_put_net (struct vm_config *c, const char *id, json_t *body, const char *where, berth_err *err);
/* PUT /vsock */
int vm_config_set_vsock (struct vm_config *c, json_t *body, const char *where, berth_err *err);
/* PUT /balloon (amount_mib and deflate_on_oom required) */
int vm_config_set_balloon (struct vm_config *c, json_t *body, const char *where, berth_err *err);
/* Parse the bodies of PATCH /balloon ({"amount_mib"}) and PATCH
 * /balloon/statistics ({"stats_polling_interval_s"}). */
int vm_balloon_update_from_json (json_t *body, uint32_t *amount_mib, berth_err *err);
int vm_balloon_stats_update_from_json (json_t *body, uint32_t *interval_s, berth_err *err);

/* GET /machine-config, GET /balloon: the resource as Firecracker shows it. */
json_t *vm_machine_to_json (const struct vm_machine *m);
json_t *vm_balloon_to_json (const struct vm_balloon *b);

/* The largest guest memory this host allows, in MiB: MemTotal of
 * /proc/meminfo, lowered by RLIMIT_AS (less the VMM's own needs). */
uint64_t vm_host_mem_limit_mib (void);

#endif
