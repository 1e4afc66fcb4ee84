/* The CPUID a guest sees: KVM's supported set (KVM_GET_SUPPORTED_CPUID),
 * narrowed by a CPU template and completed per vCPU with the topology
 * (APIC ids, logical processor counts) and the KVM paravirtual leaves
 * (0x40000000 "KVMKVMKVM", 0x40000001 features: kvmclock, ...).
 *
 * Templates hide features, as Firecracker's static CPU templates do, so a
 * guest sees the same CPU on different hosts or avoids what a host cannot
 * run:
 *   None  KVM's supported set unchanged
 *   T2    an Intel Haswell-like baseline (after Firecracker's T2): no
 *         AVX-512, MPX, SGX, PKU, TSX, monitor/mwait, VMX/SMX, perf/debug
 *         store; no XSAVE components past AVX
 *   C3    an Intel Cascade Lake-like baseline (after Firecracker's C3): as
 *         T2, but AVX-512 F/DQ/CD/BW/VL and CLWB stay
 *
 * A hypervisor that lets some CPUID bits through from the host (PVM shows
 * the guest the host's XSAVE, POPCNT, SMEP and SMAP whatever the VMM sets)
 * defeats a template for those bits; the guest's clearcpuid= then does
 * what the template cannot. */
#ifndef BERTH_VMM_CPUID_H
#define BERTH_VMM_CPUID_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

struct kvm_cpuid2;

#define CPUID_MAX_ENTRIES 256

/* KVM_GET_SUPPORTED_CPUID into a struct with room for CPUID_MAX_ENTRIES
 * (free()). */
int cpuid_get_supported (int kvm_fd, struct kvm_cpuid2 **out, berth_err *err);
/* 0 if NAME (NULL: None) is a known template, else an error naming them. */
int cpuid_template_check (const char *name, berth_err *err);
int cpuid_apply_template (struct kvm_cpuid2 *c, const char *name, berth_err *err);
/* Topology for vCPU INDEX of COUNT (SMT: two threads per core), the
 * hypervisor bit and the KVM leaves.  C must have room for two more
 * entries (the KVM leaves may be missing). */
void cpuid_for_vcpu (struct kvm_cpuid2 *c, unsigned index, unsigned count, bool smt);

#endif
