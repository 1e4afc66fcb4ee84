/* Translation of the OCI linux.seccomp object into a BPF program.
 *
 * The filter is compiled with libseccomp in the runtime before the
 * container process is created, so errors in the profile surface before
 * anything exists, and the container process only has to install ready
 * bytes (no allocation or file access after pivot_root). */
#ifndef BERTH_SECCOMP_H
#define BERTH_SECCOMP_H

#include <linux/filter.h>
#include <stdbool.h>

#include "common/json.h"

struct berth_seccomp
{
  struct sock_fprog prog;  /* prog.filter is heap memory */
  unsigned int flags;      /* SECCOMP_FILTER_FLAG_* from the profile */
};

/* Compile SECCOMP (may be NULL or JSON null: *out = NULL, returns 0).
 * Supports defaultAction, defaultErrnoRet, architectures (SCMP_ARCH_*),
 * flags (SECCOMP_FILTER_FLAG_LOG, _SPEC_ALLOW, _WAIT_KILLABLE_RECV),
 * syscalls[].names/action/errnoRet/args (index, value, valueTwo, op).
 * Actions: SCMP_ACT_KILL, KILL_PROCESS, KILL_THREAD, TRAP, ERRNO, TRACE,
 * ALLOW, LOG.  Unknown syscall names are skipped (as runc does, so one
 * profile serves several kernels); unknown actions, ops or architectures
 * and listenerPath / SCMP_ACT_NOTIFY fail clearly. */
int berth_seccomp_compile (json_t *seccomp, struct berth_seccomp **out, berth_err *err);

/* Install in the calling thread.  Needs no_new_privs or CAP_SYS_ADMIN. */
int berth_seccomp_install (const struct berth_seccomp *s, berth_err *err);

void berth_seccomp_free (struct berth_seccomp *s);

/* For `features`: the names this build knows. */
json_t *berth_seccomp_features (void);

#endif
