#include "vmm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/boot.h"
#include "vmm/cpuid.h"
#include "vmm/vmm.h"

#define VCPU_KICK_SIGNAL SIGUSR1

#define CR0_PE 0x1ULL
#define CR0_MP 0x2ULL
#define CR0_ET 0x10ULL
#define CR0_NE 0x20ULL
#define CR0_WP 0x10000ULL
#define CR0_PG 0x80000000ULL
#define CR4_PAE 0x20ULL
#define CR4_OSFXSR 0x200ULL
#define CR4_OSXMMEXCPT 0x400ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL

#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_IA32_TSC 0x10
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MISC_ENABLE_FAST_STRING 0x1

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

/* A kvm_segment described by a GDT entry (boot-paging.c's flags). */
static struct kvm_segment segment (uint16_t flags, uint16_t selector)
{
  return (struct kvm_segment) {
    .base = 0,
    .limit = 0xffffffff, /* 0xfffff in 4 KiB units */
    .selector = selector,
    .type = flags & 0xf,
    .present = (flags >> 7) & 1,
    .dpl = (flags >> 5) & 3,
    .db = (flags >> 14) & 1,
    .s = (flags >> 4) & 1,
    .l = (flags >> 13) & 1,
    .g = (flags >> 15) & 1,
  };
}

/* The PVH ABI's state: 32-bit protected mode, paging off; CR0 has PE
 * and no other writable bit (ET is fixed to 1 on every CPU KVM runs
 * on), CR4 and EFER clear; flat 32-bit CS, flat DS/ES/SS (and FS/GS);
 * TR a 32-bit TSS at 0 with limit 0x67. */
static void pvh_sregs (struct kvm_sregs *s)
{
  s->cs = segment (BOOT_GDT_CODE32, BOOT_CS);
  s->ds = s->es = s->fs = s->gs = s->ss = segment (BOOT_GDT_DATA, BOOT_DS);
  s->tr = segment (BOOT_GDT_TSS32, BOOT_TSS);
  s->tr.limit = BOOT_PVH_TSS_LIMIT;
  s->cr0 = CR0_PE | CR0_ET;
  s->cr3 = 0;
  s->cr4 = 0;
  s->efer = 0;
}

/* The Linux 64-bit entry's state: long mode with boot-paging.c's
 * identity map. */
static void linux64_sregs (struct kvm_sregs *s)
{
  s->cs = segment (BOOT_GDT_CODE64, BOOT_CS);
  s->ds = s->es = s->fs = s->gs = s->ss = segment (BOOT_GDT_DATA, BOOT_DS);
  s->tr = segment (BOOT_GDT_TSS, BOOT_TSS);
  s->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
  s->cr3 = BOOT_PML4;
  s->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
  s->efer = EFER_LME | EFER_LMA;
}

static int setup_sregs (struct vcpu *v, bool pvh, berth_err *err)
{
  struct kvm_sregs s;
  if (ioctl (v->fd, KVM_GET_SREGS, &s) < 0)
    return berth_fail_errno (err, "KVM_GET_SREGS");
  s.gdt.base = BOOT_GDT_ADDR;
  s.gdt.limit = 4 * 8 - 1;
  s.idt.base = BOOT_IDT_ADDR;
  s.idt.limit = 7;
  if (pvh)
    pvh_sregs (&s);
  else
    linux64_sregs (&s);
  if (ioctl (v->fd, KVM_SET_SREGS, &s) < 0)
    return berth_fail_errno (err, "KVM_SET_SREGS");
  return 0;
}

static int setup_regs (struct vcpu *v, const struct boot_entry *entry, berth_err *err)
{
  struct kvm_regs r = {
    .rflags = 0x2, /* bit 1 is reserved and always set; IF, TF, VM clear */
    .rip = entry->rip,
    .rsp = BOOT_STACK,
    .rbp = BOOT_STACK,
  };
  if (entry->pvh)
    r.rbx = BOOT_PVH_START_INFO; /* the PVH ABI's hvm_start_info */
  else
    r.rsi = BOOT_ZERO_PAGE; /* the 64-bit boot protocol's boot_params */
  if (ioctl (v->fd, KVM_SET_REGS, &r) < 0)
    return berth_fail_errno (err, "KVM_SET_REGS");
  struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
  if (ioctl (v->fd, KVM_SET_FPU, &fpu) < 0)
    return berth_fail_errno (err, "KVM_SET_FPU");
  return 0;
}

static int setup_msrs (struct vcpu *v, berth_err *err)
{
  static const uint32_t zero[] = { MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP, MSR_STAR,
                                   MSR_CSTAR, MSR_KERNEL_GS_BASE, MSR_SYSCALL_MASK, MSR_LSTAR, MSR_IA32_TSC };
  const unsigned n = sizeof zero / sizeof zero[0] + 1;
  struct {
    struct kvm_msrs hdr;
    struct kvm_msr_entry e[sizeof zero / sizeof zero[0] + 1];
  } m;
  memset (&m, 0, sizeof m);
  for (unsigned i = 0; i < n - 1; i++)
    m.e[i].index = zero[i];
  m.e[n - 1] = (struct kvm_msr_entry) { .index = MSR_IA32_MISC_ENABLE, .data = MISC_ENABLE_FAST_STRING };
  m.hdr.nmsrs = n;
  int r = ioctl (v->fd, KVM_SET_MSRS, &m);
  if (r < 0)
    return berth_fail_errno (err, "KVM_SET_MSRS");
  /* Some hypervisors (PVM) refuse a few of these; their reset values are
   * the same zeros, so a short count is not an error. */
  if ((unsigned) r < n)
    berth_debug ("vCPU %u: KVM set %d of %u boot MSRs", v->index, r, n);
  return 0;
}

static void set_lvt (struct kvm_lapic_state *l, unsigned reg, uint32_t mode)
{
  uint32_t v;
  memcpy (&v, &l->regs[reg], 4);
  v = (v & ~0x700u) | (mode << 8);
  memcpy (&l->regs[reg], &v, 4);
}

/* LINT0 ExtINT (the PIC), LINT1 NMI: what the MP table promises. */
static int setup_lapic (struct vcpu *v, berth_err *err)
{
  struct kvm_lapic_state l;
  if (ioctl (v->fd, KVM_GET_LAPIC, &l) < 0)
    return berth_fail_errno (err, "KVM_GET_LAPIC");
  set_lvt (&l, APIC_LVT0, APIC_MODE_EXTINT);
  set_lvt (&l, APIC_LVT1, APIC_MODE_NMI);
  if (ioctl (v->fd, KVM_SET_LAPIC, &l) < 0)
    return berth_fail_errno (err, "KVM_SET_LAPIC");
  return 0;
}

static int setup_cpuid (struct vcpu *v, unsigned count, bool smt, const struct kvm_cpuid2 *base, berth_err *err)
{
  size_t sz = sizeof (struct kvm_cpuid2) + CPUID_MAX_ENTRIES * sizeof (struct kvm_cpuid_entry2);
  struct kvm_cpuid2 *c = malloc (sz);
  if (c == NULL)
    return berth_fail_errno (err, "malloc");
  memcpy (c, base, sizeof *base + base->nent * sizeof base->entries[0]);
  cpuid_for_vcpu (c, v->index, count, smt);
  int r = 0;
  if (ioctl (v->fd, KVM_SET_CPUID2, c) < 0)
    r = berth_fail_errno (err, "KVM_SET_CPUID2");
  free (c);
  return r;
}

int vcpu_create (struct vcpu *v, struct vcpu_env *env, unsigned index, unsigned count, bool smt,
                 const struct kvm_cpuid2 *cpuid, const struct boot_entry *entry, berth_err *err)
{
  memset (v, 0, sizeof *v);
  v->env = env;
  v->index = index;
  v->fd = ioctl (env->kvm->vm_fd, KVM_CREATE_VCPU, (unsigned long) index);
  if (v->fd < 0)
    return berth_fail_errno (err, "KVM_CREATE_VCPU %u", index);
  v->run_size = (size_t) env->kvm->run_size;
  v->run = mmap (NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
  if (v->run == MAP_FAILED)
    {
      v->run = NULL;
      return berth_fail_errno (err, "map vCPU %u's kvm_run", index);
    }
  int r;
  if ((r = setup_cpuid (v, count, smt, cpuid, err)) < 0 || (r = setup_msrs (v, err)) < 0
      || (r = setup_sregs (v, entry->pvh, err)) < 0 || (r = setup_regs (v, entry, err)) < 0
      || (r = setup_lapic (v, err)) < 0)
    return berth_error_prefix (err, "vCPU %u", index);
  return 0;
}

/* ---------------------------------------------------------------- exits */

static void handle_io (struct vcpu *v)
{
  struct kvm_run *run = v->run;
  uint8_t *data = (uint8_t *) run + run->io.data_offset;
  bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
  /* data_offset and count come from KVM; stay inside the mapping anyway */
  if (run->io.data_offset >= v->run_size
      || (uint64_t) run->io.size * run->io.count > v->run_size - run->io.data_offset)
    return;
  for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
    bus_access (v->env->pio, run->io.port, data, run->io.size, is_write);
}

static void handle_mmio (struct vcpu *v)
{
  struct kvm_run *run = v->run;
  uint32_t len = run->mmio.len <= 8 ? run->mmio.len : 8;
  bus_access (v->env->mmio, run->mmio.phys_addr, run->mmio.data, len, run->mmio.is_write);
}

static uint64_t guest_rip (struct vcpu *v)
{
  struct kvm_regs r;
  return ioctl (v->fd, KVM_GET_REGS, &r) == 0 ? r.rip : 0;
}

static const char *internal_error_name (uint32_t sub)
{
  switch (sub)
    {
    case KVM_INTERNAL_ERROR_EMULATION: return "emulation failure (an instruction KVM cannot emulate)";
    case KVM_INTERNAL_ERROR_SIMUL_EX: return "exception while delivering an exception";
    case KVM_INTERNAL_ERROR_DELIVERY_EV: return "event delivery failed";
    default: return "unknown suberror";
    }
}

static void report_internal_error (struct vcpu *v)
{
  struct kvm_run *run = v->run;
  char bytes[64] = "";
  /* the emulation failure carries the instruction bytes when KVM has them
   * (struct emulation_failure, an ABI overlay of "internal") */
  if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION && run->emulation_failure.ndata >= 3
      && (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES))
    {
      size_t len = 0;
      uint32_t n = run->emulation_failure.insn_size;
      for (uint32_t i = 0; i < n && i < sizeof run->emulation_failure.insn_bytes; i++)
        len += (size_t) snprintf (bytes + len, sizeof bytes - len, "%s%02x", i ? " " : " insn ",
                                  run->emulation_failure.insn_bytes[i]);
    }
  berth_log (BERTH_LOG_ERROR, "vCPU %u: KVM internal error %u: %s at RIP 0x%llx%s", v->index,
             run->internal.suberror, internal_error_name (run->internal.suberror),
             (unsigned long long) guest_rip (v), bytes);
}

/* Handle one exit; returns -1 when the vCPU must stop (after exit_fn). */
static int handle_exit (struct vcpu *v)
{
  struct vcpu_env *env = v->env;
  struct kvm_run *run = v->run;
  switch (run->exit_reason)
    {
    case KVM_EXIT_IO: handle_io (v); return 0;
    case KVM_EXIT_MMIO: handle_mmio (v); return 0;
    case KVM_EXIT_HLT: env->exit_fn (env->opaque, VMM_EXIT_POWEROFF); return -1;
    case KVM_EXIT_SHUTDOWN: env->exit_fn (env->opaque, VMM_EXIT_REBOOT); return -1;
    case KVM_EXIT_SYSTEM_EVENT:
      switch (run->system_event.type)
        {
        case KVM_SYSTEM_EVENT_SHUTDOWN: env->exit_fn (env->opaque, VMM_EXIT_POWEROFF); break;
        case KVM_SYSTEM_EVENT_RESET: env->exit_fn (env->opaque, VMM_EXIT_REBOOT); break;
        case KVM_SYSTEM_EVENT_CRASH: env->exit_fn (env->opaque, VMM_EXIT_PANIC); break;
        default:
          berth_log (BERTH_LOG_ERROR, "vCPU %u: unknown system event %u", v->index, run->system_event.type);
          env->exit_fn (env->opaque, VMM_EXIT_ERROR);
        }
      return -1;
    case KVM_EXIT_INTERNAL_ERROR:
      report_internal_error (v);
      env->exit_fn (env->opaque, VMM_EXIT_ERROR);
      return -1;
    case KVM_EXIT_FAIL_ENTRY:
      berth_log (BERTH_LOG_ERROR, "vCPU %u: KVM could not enter the guest (hardware reason 0x%llx) at RIP 0x%llx",
                 v->index, (unsigned long long) run->fail_entry.hardware_entry_failure_reason,
                 (unsigned long long) guest_rip (v));
      env->exit_fn (env->opaque, VMM_EXIT_ERROR);
      return -1;
    case KVM_EXIT_INTR: return 0;
    default:
      berth_log (BERTH_LOG_ERROR, "vCPU %u: unexpected KVM exit reason %u at RIP 0x%llx", v->index,
                 run->exit_reason, (unsigned long long) guest_rip (v));
      env->exit_fn (env->opaque, VMM_EXIT_ERROR);
      return -1;
    }
}

static void *vcpu_main (void *arg)
{
  struct vcpu *v = arg;
  struct vcpu_env *env = v->env;
  while (!atomic_load (&env->stopping))
    {
      if (ioctl (v->fd, KVM_RUN, 0) < 0)
        {
          if (errno == EINTR || errno == EAGAIN)
            {
              v->run->immediate_exit = 0;
              continue;
            }
          berth_log (BERTH_LOG_ERROR, "vCPU %u: KVM_RUN: %s", v->index, strerror (errno));
          env->exit_fn (env->opaque, VMM_EXIT_ERROR);
          break;
        }
      if (handle_exit (v) < 0)
        break;
    }
  return NULL;
}

static void kick_handler (int sig)
{
  (void) sig;
}

int vcpu_start (struct vcpu *v, berth_err *err)
{
  /* The kick signal must interrupt KVM_RUN: a handler without SA_RESTART. */
  struct sigaction sa = { .sa_handler = kick_handler };
  sigemptyset (&sa.sa_mask);
  sigaction (VCPU_KICK_SIGNAL, &sa, NULL);
  int r = pthread_create (&v->thread, NULL, vcpu_main, v);
  if (r != 0)
    return berth_fail (err, r, "vCPU %u thread", v->index);
  v->thread_started = true;
  return 0;
}

void vcpu_kick (struct vcpu *v)
{
  if (!v->thread_started)
    return;
  if (v->run)
    v->run->immediate_exit = 1;
  pthread_kill (v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join (struct vcpu *v)
{
  if (v->thread_started)
    pthread_join (v->thread, NULL);
  v->thread_started = false;
}

void vcpu_destroy (struct vcpu *v)
{
  if (v->run)
    munmap (v->run, v->run_size);
  if (v->fd > 0)
    close (v->fd);
  v->run = NULL;
  v->fd = -1;
}
