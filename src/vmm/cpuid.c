#include "vmm/cpuid.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>

#define KVM_CPUID_SIGNATURE 0x40000000u
#define KVM_CPUID_FEATURES 0x40000001u
#define KVM_FEATURE_CLOCKSOURCE2 3
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT 24

enum reg { EAX, EBX, ECX, EDX };

/* One change of a template: in leaf FUNCTION (subleaf INDEX, or every
 * subleaf if ANY_INDEX), clear CLEAR then set SET in register REG. */
struct cpuid_edit {
  uint32_t function, index;
  bool any_index;
  enum reg reg;
  uint32_t clear, set;
};

#define BIT(n) (1u << (n))

static const struct cpuid_edit t2_edits[] = {
  /* leaf 1 ecx: DTES64, MONITOR, DS_CPL, VMX, SMX, EIST, TM2, CNXT_ID,
   * SDBG, xTPR, PDCM, DCA */
  { 1, 0, true, ECX,
    BIT (2) | BIT (3) | BIT (4) | BIT (5) | BIT (6) | BIT (7) | BIT (8) | BIT (10) | BIT (11) | BIT (14) | BIT (15)
        | BIT (18),
    0 },
  /* leaf 1 edx: PSN, DS, ACPI, SS, TM, PBE */
  { 1, 0, true, EDX, BIT (18) | BIT (21) | BIT (22) | BIT (27) | BIT (29) | BIT (31), 0 },
  /* leaf 7.0 ebx: SGX, HLE, RTM, MPX, RDT-A, AVX512F/DQ, AVX512_IFMA,
   * PCOMMIT, CLWB, PT, AVX512PF/ER/CD, SHA, AVX512BW/VL */
  { 7, 0, false, EBX,
    BIT (2) | BIT (4) | BIT (11) | BIT (14) | BIT (15) | BIT (16) | BIT (17) | BIT (21) | BIT (22) | BIT (24) | BIT (25)
        | BIT (26) | BIT (27) | BIT (28) | BIT (29) | BIT (30) | BIT (31),
    0 },
  /* leaf 7.0 ecx: PREFETCHWT1, AVX512_VBMI, UMIP, PKU, OSPKE, WAITPKG,
   * AVX512_VBMI2, GFNI, VAES, VPCLMULQDQ, AVX512_VNNI/BITALG/VPOPCNTDQ,
   * LA57, RDPID, SGX_LC */
  { 7, 0, false, ECX,
    BIT (0) | BIT (1) | BIT (2) | BIT (3) | BIT (4) | BIT (5) | BIT (6) | BIT (8) | BIT (9) | BIT (10) | BIT (11)
        | BIT (12) | BIT (14) | BIT (16) | BIT (22) | BIT (30),
    0 },
  /* leaf 7.0 edx: AVX512_4VNNIW/4FMAPS, FSRM, AVX512_VP2INTERSECT,
   * SERIALIZE, TSXLDTRK, AMX, AVX512_FP16 */
  { 7, 0, false, EDX, BIT (2) | BIT (3) | BIT (4) | BIT (8) | BIT (14) | BIT (16) | BIT (22) | BIT (23) | BIT (24), 0 },
  /* leaf 0xd.0 eax: XSAVE components past x87/SSE/AVX (MPX, AVX-512, PKRU) */
  { 0xd, 0, false, EAX, BIT (3) | BIT (4) | BIT (5) | BIT (6) | BIT (7) | BIT (9), 0 },
  /* leaf 0xd.1 eax: XSAVEC, XGETBV1, XSAVES */
  { 0xd, 1, false, EAX, BIT (1) | BIT (2) | BIT (3), 0 },
  /* 0x80000001 ecx: MWAITX, PERFCTR_CORE... (AMD only bits, harmless on
   * Intel); edx: PDPE1GB stays, RDTSCP stays */
  { 0x80000001, 0, true, ECX, BIT (29), 0 },
};

/* C3 (after Firecracker's C3, an Intel Cascade Lake baseline): as T2 but
 * AVX-512 F/DQ/CD/BW/VL, CLWB and their XSAVE state stay. */
static const struct cpuid_edit c3_edits[] = {
  { 1, 0, true, ECX,
    BIT (2) | BIT (3) | BIT (4) | BIT (5) | BIT (6) | BIT (7) | BIT (8) | BIT (10) | BIT (11) | BIT (14) | BIT (15)
        | BIT (18),
    0 },
  { 1, 0, true, EDX, BIT (18) | BIT (21) | BIT (22) | BIT (27) | BIT (29) | BIT (31), 0 },
  /* leaf 7.0 ebx: SGX, HLE, RTM, MPX, RDT-A, AVX512_IFMA, PCOMMIT, PT,
   * AVX512PF/ER, SHA */
  { 7, 0, false, EBX,
    BIT (2) | BIT (4) | BIT (11) | BIT (14) | BIT (15) | BIT (21) | BIT (22) | BIT (25) | BIT (26) | BIT (27) | BIT (29),
    0 },
  { 7, 0, false, ECX,
    BIT (0) | BIT (1) | BIT (2) | BIT (3) | BIT (4) | BIT (5) | BIT (6) | BIT (8) | BIT (9) | BIT (10) | BIT (12)
        | BIT (14) | BIT (16) | BIT (22) | BIT (30),
    0 },
  { 7, 0, false, EDX, BIT (2) | BIT (3) | BIT (4) | BIT (8) | BIT (14) | BIT (16) | BIT (22) | BIT (23) | BIT (24), 0 },
  /* XSAVE: MPX and PKRU state go, AVX-512 state (5-7) stays */
  { 0xd, 0, false, EAX, BIT (3) | BIT (4) | BIT (9), 0 },
  { 0xd, 1, false, EAX, BIT (1) | BIT (2) | BIT (3), 0 },
  { 0x80000001, 0, true, ECX, BIT (29), 0 },
};

struct cpuid_template {
  const char *name;
  const struct cpuid_edit *edits;
  size_t n;
};

static const struct cpuid_template templates[] = {
  { "None", NULL, 0 },
  { "T2", t2_edits, sizeof t2_edits / sizeof t2_edits[0] },
  { "C3", c3_edits, sizeof c3_edits / sizeof c3_edits[0] },
};

static const struct cpuid_template *find_template (const char *name)
{
  if (name == NULL || *name == '\0')
    return &templates[0];
  for (size_t i = 0; i < sizeof templates / sizeof templates[0]; i++)
    if (strcasecmp (name, templates[i].name) == 0)
      return &templates[i];
  return NULL;
}

int cpuid_template_check (const char *name, berth_err *err)
{
  if (find_template (name) == NULL)
    return berth_fail (err, 0, "unknown CPU template '%s' (known: None, T2, C3)", name);
  return 0;
}

int cpuid_get_supported (int kvm_fd, struct kvm_cpuid2 **out, berth_err *err)
{
  size_t sz = sizeof (struct kvm_cpuid2) + CPUID_MAX_ENTRIES * sizeof (struct kvm_cpuid_entry2);
  struct kvm_cpuid2 *c = calloc (1, sz);
  if (c == NULL)
    return berth_fail_errno (err, "calloc");
  /* Leave room for the two KVM leaves cpuid_for_vcpu may add. */
  c->nent = CPUID_MAX_ENTRIES - 2;
  if (ioctl (kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0)
    {
      int r = berth_fail_errno (err, "KVM_GET_SUPPORTED_CPUID");
      free (c);
      return r;
    }
  /* KVM never reports the TSC-deadline timer in the supported set: it is
   * offered through KVM_CAP_TSC_DEADLINE_TIMER, and the VMM sets the bit
   * (Documentation/virt/kvm/api.rst).  Without it KVM ignores the
   * deadline MSR, and a guest that sees the host's bit anyway (PVM) waits
   * forever for its first one-shot timer. */
  if (ioctl (kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0)
    for (uint32_t i = 0; i < c->nent; i++)
      if (c->entries[i].function == 1)
        c->entries[i].ecx |= BIT (24);
  *out = c;
  return 0;
}

static uint32_t *reg_of (struct kvm_cpuid_entry2 *e, enum reg r)
{
  switch (r)
    {
    case EAX: return &e->eax;
    case EBX: return &e->ebx;
    case ECX: return &e->ecx;
    default: return &e->edx;
    }
}

int cpuid_apply_template (struct kvm_cpuid2 *c, const char *name, berth_err *err)
{
  const struct cpuid_template *t = find_template (name);
  if (t == NULL)
    return cpuid_template_check (name, err);
  for (size_t k = 0; k < t->n; k++)
    {
      const struct cpuid_edit *ed = &t->edits[k];
      for (uint32_t i = 0; i < c->nent; i++)
        {
          struct kvm_cpuid_entry2 *e = &c->entries[i];
          if (e->function != ed->function || (!ed->any_index && e->index != ed->index))
            continue;
          uint32_t *v = reg_of (e, ed->reg);
          *v = (*v & ~ed->clear) | ed->set;
        }
    }
  return 0;
}

static struct kvm_cpuid_entry2 *find_or_add (struct kvm_cpuid2 *c, uint32_t function)
{
  for (uint32_t i = 0; i < c->nent; i++)
    if (c->entries[i].function == function)
      return &c->entries[i];
  if (c->nent >= CPUID_MAX_ENTRIES)
    return NULL;
  struct kvm_cpuid_entry2 *e = &c->entries[c->nent++];
  memset (e, 0, sizeof *e);
  e->function = function;
  return e;
}

static void kvm_leaves (struct kvm_cpuid2 *c)
{
  struct kvm_cpuid_entry2 *sig = find_or_add (c, KVM_CPUID_SIGNATURE);
  if (sig)
    {
      sig->eax = KVM_CPUID_FEATURES;
      memcpy (&sig->ebx, "KVMK", 4);
      memcpy (&sig->ecx, "VMKV", 4);
      memcpy (&sig->edx, "M\0\0\0", 4);
    }
  struct kvm_cpuid_entry2 *feat = find_or_add (c, KVM_CPUID_FEATURES);
  /* Keep what KVM offers; a kernel that lists no features still has the
   * kvmclock MSRs. */
  if (feat && feat->eax == 0)
    feat->eax = BIT (KVM_FEATURE_CLOCKSOURCE2) | BIT (KVM_FEATURE_CLOCKSOURCE_STABLE_BIT);
}

static unsigned order_of (unsigned n)
{
  unsigned o = 0;
  while ((1u << o) < n)
    o++;
  return o;
}

void cpuid_for_vcpu (struct kvm_cpuid2 *c, unsigned index, unsigned count, bool smt)
{
  unsigned threads = smt && count > 1 ? 2 : 1;
  for (uint32_t i = 0; i < c->nent; i++)
    {
      struct kvm_cpuid_entry2 *e = &c->entries[i];
      switch (e->function)
        {
        case 1:
          e->ebx = (e->ebx & 0x0000ffffu) | (index << 24) | ((count & 0xff) << 16);
          e->ecx |= BIT (31); /* running on a hypervisor */
          if (count > 1)
            e->edx |= BIT (28); /* HTT: ebx[23:16] is valid */
          break;
        case 4:
          if ((e->eax & 0x1f) != 0) /* a cache level (type 0: the end) */
            {
              unsigned sharing = ((e->eax >> 5) & 7) == 3 ? count : threads;
              e->eax = (e->eax & 0x3fffu) | (((sharing - 1) & 0xfffu) << 14) | (((count - 1) & 0x3fu) << 26);
            }
          break;
        case 0xb:
        case 0x1f:
          e->edx = index;
          if (e->index == 0)
            {
              e->eax = order_of (threads);
              e->ebx = threads;
              e->ecx = 0 | (1u << 8); /* level 0: SMT */
            }
          else if (e->index == 1)
            {
              e->eax = order_of (count);
              e->ebx = count;
              e->ecx = 1 | (2u << 8); /* level 1: core */
            }
          else
            {
              e->eax = e->ebx = 0;
              e->ecx = e->index; /* invalid level: the end */
            }
          break;
        case 0x80000008:
          e->ecx = (e->ecx & ~0xffu) | ((count - 1) & 0xffu);
          break;
        }
    }
  kvm_leaves (c);
}
