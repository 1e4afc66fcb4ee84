/* The VMM core's life cycle (vmm.h): build, start, wait, stop. */
#include "vmm/vmm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "vmm/boot.h"
#include "vmm/cpuid.h"
#include "vmm/virtio/devices.h"
#include "vmm/vmm-internal.h"

#define MIN_MEM_MIB 16
/* After the guest's panic message, how long to wait for it to reboot or
 * for the end of its report before ending the VM anyway. */
#define PANIC_GRACE_MS 2000
#define DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"

/* ---------------------------------------------------------------- config copy */

static int dup_str (char **dst, const char *src)
{
  *dst = NULL;
  if (src && (*dst = strdup (src)) == NULL)
    return -ENOMEM;
  return 0;
}

/* A deep copy of SRC: vmm_create keeps its own config. */
static int config_copy (struct vm_config *dst, const struct vm_config *src, berth_err *err)
{
  *dst = *src;
  int r = dup_str (&dst->boot.kernel_image_path, src->boot.kernel_image_path)
          | dup_str (&dst->boot.initrd_path, src->boot.initrd_path)
          | dup_str (&dst->boot.boot_args, src->boot.boot_args)
          | dup_str (&dst->machine.cpu_template, src->machine.cpu_template)
          | dup_str (&dst->vsock.vsock_id, src->vsock.vsock_id) | dup_str (&dst->vsock.uds_path, src->vsock.uds_path)
          | dup_str (&dst->serial_path, src->serial_path);
  for (unsigned i = 0; i < src->ndrives; i++)
    r |= dup_str (&dst->drives[i].drive_id, src->drives[i].drive_id)
         | dup_str (&dst->drives[i].path_on_host, src->drives[i].path_on_host)
         | dup_str (&dst->drives[i].partuuid, src->drives[i].partuuid);
  for (unsigned i = 0; i < src->nnets; i++)
    r |= dup_str (&dst->nets[i].iface_id, src->nets[i].iface_id)
         | dup_str (&dst->nets[i].host_dev_name, src->nets[i].host_dev_name);
  if (r != 0)
    return berth_fail (err, ENOMEM, "copy the VM configuration");
  return 0;
}

/* ---------------------------------------------------------------- the end */

/* Any thread: the guest (or the VMM) ended the VM with STATUS.  The first
 * report wins; a reboot after the guest's panic message is the panic. */
static void vmm_exit (void *opaque, int status)
{
  struct vmm *vm = opaque;
  pthread_mutex_lock (&vm->lock);
  if (vm->exit_status < 0)
    vm->exit_status = (vm->panic_seen && status == VMM_EXIT_REBOOT) ? VMM_EXIT_PANIC : status;
  pthread_cond_broadcast (&vm->cond);
  pthread_mutex_unlock (&vm->lock);
}

/* Serial lines: Linux's panic report starts with "Kernel panic - not
 * syncing" and ends with "---[ end Kernel panic". */
static void watch_console (void *opaque, const char *line)
{
  struct vmm *vm = opaque;
  if (strstr (line, "Kernel panic - not syncing"))
    {
      pthread_mutex_lock (&vm->lock);
      vm->panic_seen = true;
      pthread_cond_broadcast (&vm->cond);
      pthread_mutex_unlock (&vm->lock);
    }
  else if (strstr (line, "---[ end Kernel panic"))
    vmm_exit (vm, VMM_EXIT_PANIC);
}

/* ---------------------------------------------------------------- build */

static int check_config (const struct vm_config *c, berth_err *err)
{
  if (c->boot.kernel_image_path == NULL)
    return berth_fail (err, 0, "no kernel image (boot-source kernel_image_path / --kernel)");
  if (c->machine.vcpu_count < 1 || c->machine.vcpu_count > VM_MAX_VCPUS)
    return berth_fail (err, 0, "vcpu_count %u is out of range 1..%u", c->machine.vcpu_count, VM_MAX_VCPUS);
  if (c->machine.mem_size_mib < MIN_MEM_MIB)
    return berth_fail (err, 0, "mem_size_mib %llu is below the minimum of %u MiB",
                       (unsigned long long) c->machine.mem_size_mib, MIN_MEM_MIB);
  uint64_t host = vm_host_mem_limit_mib ();
  if (host > 0 && c->machine.mem_size_mib > host)
    return berth_fail (err, 0, "mem_size_mib %llu is more than this host allows (%llu MiB)",
                       (unsigned long long) c->machine.mem_size_mib, (unsigned long long) host);
  return cpuid_template_check (c->machine.cpu_template, err);
}

int vmm_cmdline_append (struct vmm *vm, const char *arg, berth_err *err)
{
  char *n;
  if (asprintf (&n, "%s%s%s", vm->cmdline ? vm->cmdline : "", vm->cmdline && *vm->cmdline ? " " : "", arg) < 0)
    return berth_fail (err, ENOMEM, "kernel command line");
  free (vm->cmdline);
  vm->cmdline = n;
  return 0;
}

static int build_cmdline (struct vmm *vm, berth_err *err)
{
  const char *base = vm->cfg.boot.boot_args ? vm->cfg.boot.boot_args : DEFAULT_CMDLINE;
  int r = vmm_cmdline_append (vm, base, err);
  /* Without a PCI bus, spare the guest the probe. */
  if (r == 0 && vm->cfg.boot.boot_args == NULL && vm->cfg.transport == VM_TRANSPORT_MMIO)
    r = vmm_cmdline_append (vm, "pci=off", err);
  return r;
}

static int build_legacy_devices (struct vmm *vm, berth_err *err)
{
  bus_init (&vm->pio, "pio");
  bus_init (&vm->mmio, "mmio");
  int r = serial_new (&vm->kvm, vm->loop, &vm->pio, vm->cfg.serial_path, watch_console, vm, &vm->serial, err);
  if (r == 0)
    r = i8042_new (&vm->kvm, &vm->pio, vmm_exit, vm, &vm->i8042, err);
  vm->ports = (struct platform_ports) { .exit_fn = vmm_exit, .opaque = vm };
  if (r == 0)
    r = platform_ports_register (&vm->ports, &vm->pio, err);
  return r;
}

/* The kernel, the initrd and the boot state of the chosen protocol
 * (boot.h); the MP table for both. */
static int load_guest (struct vmm *vm, struct boot_entry *entry, berth_err *err)
{
  struct boot_image img;
  uint64_t initrd_addr = 0, initrd_size = 0;
  int r = boot_load_kernel (&vm->mem, vm->cfg.boot.kernel_image_path, &img, err);
  if (r == 0 && (r = boot_select_entry (&img, vm->cfg.boot.boot_protocol == VM_BOOT_PVH, entry, err)) < 0)
    berth_error_prefix (err, "kernel %s", vm->cfg.boot.kernel_image_path);
  if (r == 0 && vm->cfg.boot.initrd_path)
    r = boot_load_initrd (&vm->mem, vm->cfg.boot.initrd_path, &img, &initrd_addr, &initrd_size, err);
  if (r == 0 && entry->pvh)
    r = boot_write_pvh (&vm->mem, &img, vm->cmdline, initrd_addr, initrd_size, err);
  else if (r == 0)
    {
      r = boot_write_page_tables (&vm->mem, err);
      if (r == 0)
        r = boot_write_zero_page (&vm->mem, &img, vm->cmdline, initrd_addr, initrd_size, err);
    }
  if (r == 0)
    r = mptable_write (&vm->mem, vm->cfg.machine.vcpu_count, vm->pci_irqs, vm->npci_irqs, err);
  return r;
}

static int build_vcpus (struct vmm *vm, const struct boot_entry *entry, berth_err *err)
{
  int r = cpuid_get_supported (vm->kvm.kvm_fd, &vm->cpuid, err);
  if (r == 0)
    r = cpuid_apply_template (vm->cpuid, vm->cfg.machine.cpu_template, err);
  vm->env = (struct vcpu_env) { .kvm = &vm->kvm, .pio = &vm->pio, .mmio = &vm->mmio, .exit_fn = vmm_exit,
                                .opaque = vm };
  for (unsigned i = 0; r == 0 && i < vm->cfg.machine.vcpu_count; i++)
    {
      r = vcpu_create (&vm->vcpus[i], &vm->env, i, vm->cfg.machine.vcpu_count, vm->cfg.machine.smt, vm->cpuid,
                       entry, err);
      vm->nvcpus = i + 1;
    }
  return r;
}

static int build (struct vmm *vm, berth_err *err)
{
  struct boot_entry entry = { 0 };
  int r;
  if ((r = guest_mem_alloc (&vm->mem, vm->cfg.machine.mem_size_mib << 20, err)) < 0)
    return r;
  if ((r = kvm_vm_open (&vm->kvm, "/dev/kvm", err)) < 0)
    return r;
  vm->kvm_open = true;
  if ((r = kvm_vm_set_memory (&vm->kvm, &vm->mem, err)) < 0)
    return r;
  if ((r = evloop_new (&vm->loop, err)) < 0)
    return r;
  kvm_virtio_host (&vm->kvm, &vm->host, &vm->mem, vm->loop);
  if ((r = build_cmdline (vm, err)) < 0 || (r = build_legacy_devices (vm, err)) < 0
      || (r = vmm_devices_create (vm, err)) < 0 || (r = load_guest (vm, &entry, err)) < 0)
    return r;
  return build_vcpus (vm, &entry, err);
}

int vmm_create (const struct vm_config *cfg, struct vmm **out, berth_err *err)
{
  int r = check_config (cfg, err);
  if (r < 0)
    return r;
  struct vmm *vm = calloc (1, sizeof *vm);
  if (vm == NULL)
    return berth_fail_errno (err, "calloc");
  pthread_mutex_init (&vm->lock, NULL);
  pthread_cond_init (&vm->cond, NULL);
  vm->exit_status = -1;
  if ((r = config_copy (&vm->cfg, cfg, err)) < 0 || (r = build (vm, err)) < 0)
    {
      vmm_destroy (vm);
      return r;
    }
  *out = vm;
  return 0;
}

/* ---------------------------------------------------------------- run */

static void *loop_main (void *arg)
{
  struct vmm *vm = arg;
  if (evloop_run (vm->loop) < 0)
    {
      berth_log (BERTH_LOG_ERROR, "device event loop failed");
      vmm_exit (vm, VMM_EXIT_ERROR);
    }
  return NULL;
}

static void stop_threads (struct vmm *vm)
{
  atomic_store (&vm->env.stopping, true);
  for (unsigned i = 0; i < vm->nvcpus; i++)
    vcpu_kick (&vm->vcpus[i]);
  for (unsigned i = 0; i < vm->nvcpus; i++)
    vcpu_join (&vm->vcpus[i]);
  if (vm->loop_started)
    {
      evloop_stop (vm->loop);
      pthread_join (vm->loop_thread, NULL);
      vm->loop_started = false;
    }
}

int vmm_start (struct vmm *vm, berth_err *err)
{
  if (vm->started)
    return berth_fail_as (err, EBUSY, "the VM is already running");
  int r = pthread_create (&vm->loop_thread, NULL, loop_main, vm);
  if (r != 0)
    return berth_fail (err, r, "event loop thread");
  vm->loop_started = true;
  for (unsigned i = 0; i < vm->nvcpus; i++)
    if ((r = vcpu_start (&vm->vcpus[i], err)) < 0)
      {
        /* the threads already running must be gone before vmm_destroy */
        vmm_exit (vm, VMM_EXIT_ERROR);
        stop_threads (vm);
        return r;
      }
  vm->started = true;
  return 0;
}

bool vmm_started (const struct vmm *vm)
{
  return vm->started;
}

int vmm_wait (struct vmm *vm)
{
  pthread_mutex_lock (&vm->lock);
  while (vm->exit_status < 0)
    {
      if (!vm->panic_seen)
        {
          pthread_cond_wait (&vm->cond, &vm->lock);
          continue;
        }
      /* the guest panicked: give it a moment to finish its report */
      struct timespec until;
      clock_gettime (CLOCK_REALTIME, &until);
      until.tv_sec += PANIC_GRACE_MS / 1000;
      while (vm->exit_status < 0 && pthread_cond_timedwait (&vm->cond, &vm->lock, &until) != ETIMEDOUT)
        ;
      if (vm->exit_status < 0)
        vm->exit_status = VMM_EXIT_PANIC;
    }
  int status = vm->exit_status;
  pthread_mutex_unlock (&vm->lock);
  stop_threads (vm);
  return status;
}

/* ---------------------------------------------------------------- API calls */

int vmm_send_ctrl_alt_del (struct vmm *vm, berth_err *err)
{
  if (!vm->started)
    return berth_fail_as (err, EBUSY, "the VM is not running");
  if (i8042_ctrl_alt_del (vm->i8042) < 0)
    return berth_fail_as (err, EBUSY, "the keyboard buffer is full");
  return 0;
}

struct balloon_call {
  struct virtio_dev *dev;
  uint32_t value;
  json_t *stats;
  int ret;
  berth_err err;
  int (*fn) (struct balloon_call *c);
};

static int call_target (struct balloon_call *c) { return virtio_balloon_set_target (c->dev, c->value, &c->err); }
static int call_interval (struct balloon_call *c)
{
  return virtio_balloon_set_stats_interval (c->dev, c->value, &c->err);
}
static int call_stats (struct balloon_call *c) { return virtio_balloon_stats (c->dev, &c->stats, &c->err); }

static void on_loop (void *opaque, uint32_t events)
{
  struct balloon_call *c = opaque;
  c->ret = c->fn (c);
}

/* Run a balloon operation on the loop thread (device state lives there);
 * before the VM starts, nothing else touches it. */
static int balloon_call (struct vmm *vm, struct balloon_call *c, berth_err *err)
{
  if (vm->balloon == NULL)
    return berth_fail_as (err, ENOENT, "no balloon device is configured");
  c->dev = vm->balloon;
  pthread_mutex_lock (&vm->lock);
  bool ended = vm->exit_status >= 0;
  pthread_mutex_unlock (&vm->lock);
  /* the loop stops with the guest: nobody would run the call */
  if (ended)
    return berth_fail_as (err, ESRCH, "the VM has stopped");
  if (vm->started)
    {
      int r = evloop_call (vm->loop, on_loop, c);
      if (r < 0)
        return berth_fail (err, -r, "balloon request");
    }
  else
    c->ret = c->fn (c);
  if (c->ret < 0)
    {
      *err = c->err;
      return c->ret;
    }
  return 0;
}

int vmm_balloon_set_target (struct vmm *vm, uint32_t amount_mib, berth_err *err)
{
  struct balloon_call c = { .value = amount_mib, .fn = call_target };
  return balloon_call (vm, &c, err);
}

int vmm_balloon_set_stats_interval (struct vmm *vm, uint32_t seconds, berth_err *err)
{
  struct balloon_call c = { .value = seconds, .fn = call_interval };
  return balloon_call (vm, &c, err);
}

int vmm_balloon_stats (struct vmm *vm, json_t **out, berth_err *err)
{
  struct balloon_call c = { .fn = call_stats };
  int r = balloon_call (vm, &c, err);
  if (r == 0)
    *out = c.stats;
  return r;
}

/* ---------------------------------------------------------------- destroy */

void vmm_destroy (struct vmm *vm)
{
  if (vm == NULL)
    return;
  if (vm->started)
    {
      vmm_exit (vm, VMM_EXIT_POWEROFF);
      stop_threads (vm);
    }
  for (unsigned i = 0; i < vm->nvcpus; i++)
    vcpu_destroy (&vm->vcpus[i]);
  vmm_devices_free (vm);
  serial_free (vm->serial);
  i8042_free (vm->i8042);
  if (vm->loop)
    evloop_free (vm->loop);
  if (vm->kvm_open)
    kvm_vm_close (&vm->kvm);
  guest_mem_free (&vm->mem);
  free (vm->cpuid);
  free (vm->cmdline);
  vm_config_free (&vm->cfg);
  pthread_cond_destroy (&vm->cond);
  pthread_mutex_destroy (&vm->lock);
  free (vm);
}
