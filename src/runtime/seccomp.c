/* OCI linux.seccomp -> BPF, with libseccomp doing the code generation.
 *
 * The semantics follow runc where the spec leaves room: unknown syscall
 * names are skipped, a rule whose action equals the default is dropped,
 * errnoRet defaults to EPERM, and several conditions on the same argument
 * turn into one rule per condition (libseccomp cannot AND two comparisons
 * on one argument, so runc ORs them instead). */
#include "runtime/seccomp.h"

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Older kernel headers lack the newest flags; the values are ABI. */
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

#define SECCOMP_WHERE "linux.seccomp"
#define ARCH_PREFIX "SCMP_ARCH_"
/* The kernel reads six syscall arguments. */
#define MAX_SYSCALL_ARG 5

struct action_name
{
  const char *name;
  uint32_t action;
  bool has_value; /* errnoRet is the errno (ERRNO) or the tracer's message (TRACE) */
};

static const struct action_name action_names[] = {
  { "SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD, false },
  { "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false },
  { "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false },
  { "SCMP_ACT_TRAP", SCMP_ACT_TRAP, false },
  { "SCMP_ACT_ERRNO", SCMP_ACT_ERRNO (0), true },
  { "SCMP_ACT_TRACE", SCMP_ACT_TRACE (0), true },
  { "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false },
  { "SCMP_ACT_LOG", SCMP_ACT_LOG, false },
};

struct operator_name
{
  const char *name;
  enum scmp_compare op;
};

static const struct operator_name operator_names[] = {
  { "SCMP_CMP_NE", SCMP_CMP_NE },
  { "SCMP_CMP_LT", SCMP_CMP_LT },
  { "SCMP_CMP_LE", SCMP_CMP_LE },
  { "SCMP_CMP_EQ", SCMP_CMP_EQ },
  { "SCMP_CMP_GE", SCMP_CMP_GE },
  { "SCMP_CMP_GT", SCMP_CMP_GT },
  { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

struct flag_name
{
  const char *name;
  unsigned int flag;
};

/* TSYNC is in the spec's list; the container process is single-threaded
 * when it installs the filter, so passing it on is harmless (crun does
 * the same, runc accepts it as a no-op). */
static const struct flag_name flag_names[] = {
  { "SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC },
  { "SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG },
  { "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW },
  { "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV },
};

/* Every SCMP_ARCH_* name some libseccomp release knows; `features` lists
 * the ones the linked libseccomp resolves.  Compilation does not use this
 * table, so a newer libseccomp works for profiles without a rebuild. */
static const char *const arch_names[] = {
  "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32",
  "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_LOONGARCH64",
  "SCMP_ARCH_M68K", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
  "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
  "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
  "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
  "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
  "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
};

#define N_ELEMENTS(a) (sizeof (a) / sizeof ((a)[0]))

static void cleanup_seccomp_ctxp (scmp_filter_ctx *ctx)
{
  if (*ctx)
    seccomp_release (*ctx);
}
#define cleanup_seccomp_ctx __attribute__ ((cleanup (cleanup_seccomp_ctxp)))

static void cleanup_seccompp (struct berth_seccomp **s)
{
  berth_seccomp_free (*s);
}
#define cleanup_seccomp __attribute__ ((cleanup (cleanup_seccompp)))

static const char *notify_unsupported = "seccomp notify is not supported";

/* The action value of NAME with VALUE folded in, or an error naming WHERE. */
static int action_from_name (const char *name, uint32_t value, uint32_t *out, const char *where,
                             berth_err *err)
{
  if (strcmp (name, "SCMP_ACT_NOTIFY") == 0)
    return berth_fail (err, 0, "%s: %s", where, notify_unsupported);
  for (size_t i = 0; i < N_ELEMENTS (action_names); i++)
    if (strcmp (action_names[i].name, name) == 0)
      {
        *out = action_names[i].action | (action_names[i].has_value ? value : 0);
        return 0;
      }
  return berth_fail (err, 0, "%s: unknown action `%s`", where, name);
}

/* Read an optional errno-style field: 16 bits of data in the BPF return. */
static int read_errno_field (json_t *obj, const char *key, const char *where, uint32_t *out,
                             berth_err *err)
{
  json_t *v = json_object_get (obj, key);
  if (v == NULL || json_is_null (v))
    {
      *out = EPERM;
      return 0;
    }
  if (!json_is_integer (v))
    return berth_fail (err, 0, "%s.%s: expected an integer", where, key);
  json_int_t n = json_integer_value (v);
  if (n < 0 || n > (json_int_t) SECCOMP_RET_DATA)
    return berth_fail (err, 0, "%s.%s: %lld out of range (0-%u)", where, key, (long long) n,
                       (unsigned) SECCOMP_RET_DATA);
  *out = (uint32_t) n;
  return 0;
}

/* Parse OBJ[ACTION_KEY] plus OBJ[VALUE_KEY] into a libseccomp action. */
static int parse_action (json_t *obj, const char *action_key, const char *value_key,
                         const char *where, uint32_t *out, berth_err *err)
{
  json_t *v = json_object_get (obj, action_key);
  if (v == NULL || json_is_null (v))
    return berth_fail (err, 0, "%s.%s: missing", where, action_key);
  if (!json_is_string (v))
    return berth_fail (err, 0, "%s.%s: expected a string", where, action_key);

  uint32_t value = 0;
  int ret = read_errno_field (obj, value_key, where, &value, err);
  if (ret < 0)
    return ret;

  cleanup_free char *action_where = NULL;
  if (asprintf (&action_where, "%s.%s", where, action_key) < 0)
    return berth_fail (err, ENOMEM, "%s", where);
  return action_from_name (json_string_value (v), value, out, action_where, err);
}

/* 0 if NAME is not a flag we accept. */
static unsigned int flag_from_name (const char *name)
{
  for (size_t i = 0; i < N_ELEMENTS (flag_names); i++)
    if (strcmp (flag_names[i].name, name) == 0)
      return flag_names[i].flag;
  return 0;
}

static int parse_flags (json_t *seccomp, unsigned int *out, berth_err *err)
{
  int ret = berth_json_check_type (seccomp, "flags", JSON_ARRAY, SECCOMP_WHERE, err);
  if (ret < 0)
    return ret;
  json_t *flags = berth_json_arr (seccomp, "flags");
  size_t i;
  json_t *v;

  *out = 0;
  json_array_foreach (flags, i, v)
    {
      if (!json_is_string (v))
        return berth_fail (err, 0, SECCOMP_WHERE ".flags[%zu]: expected a string", i);
      const char *name = json_string_value (v);
      unsigned int flag = flag_from_name (name);
      if (flag == 0 && strcmp (name, "SECCOMP_FILTER_FLAG_NEW_LISTENER") == 0)
        return berth_fail (err, 0, SECCOMP_WHERE ".flags[%zu]: %s", i, notify_unsupported);
      if (flag == 0)
        return berth_fail (err, 0, SECCOMP_WHERE ".flags[%zu]: unknown flag `%s`", i, name);
      *out |= flag;
    }
  return 0;
}

/* "SCMP_ARCH_X86_64" -> libseccomp's "x86_64" -> token; 0 if unknown. */
static uint32_t arch_token_from_name (const char *name)
{
  char lower[32];
  size_t prefix_len = strlen (ARCH_PREFIX);

  if (strncmp (name, ARCH_PREFIX, prefix_len) != 0)
    return 0;
  name += prefix_len;
  size_t len = strlen (name);
  if (len == 0 || len >= sizeof lower)
    return 0;
  for (size_t i = 0; i <= len; i++)
    lower[i] = (char) tolower ((unsigned char) name[i]);
  return seccomp_arch_resolve_name (lower);
}

static int add_architectures (scmp_filter_ctx ctx, json_t *seccomp, berth_err *err)
{
  int ret = berth_json_check_type (seccomp, "architectures", JSON_ARRAY, SECCOMP_WHERE, err);
  if (ret < 0)
    return ret;
  json_t *archs = berth_json_arr (seccomp, "architectures");
  size_t i;
  json_t *v;

  json_array_foreach (archs, i, v)
    {
      if (!json_is_string (v))
        return berth_fail (err, 0, SECCOMP_WHERE ".architectures[%zu]: expected a string", i);
      const char *name = json_string_value (v);
      uint32_t token = arch_token_from_name (name);
      if (token == 0)
        return berth_fail (err, 0, SECCOMP_WHERE ".architectures[%zu]: unknown architecture `%s`", i, name);

      ret = seccomp_arch_add (ctx, token);
      /* The native architecture is in every new filter already. */
      if (ret == -EEXIST)
        continue;
      if (ret == -EDOM)
        return berth_fail (err, 0, SECCOMP_WHERE ".architectures[%zu]: `%s` has a different byte order"
                           " than the native architecture", i, name);
      if (ret < 0)
        return berth_fail (err, -ret, SECCOMP_WHERE ".architectures[%zu]: add `%s`", i, name);
    }
  return 0;
}

/* Read an integer field as a 64-bit datum.  JSON numbers beyond
 * INT64_MAX do not survive jansson, so a negative value is taken as its
 * two's complement: -1 is the only way to write 0xffffffffffffffff. */
static int read_datum (json_t *arg, const char *key, bool required, const char *where,
                       scmp_datum_t *out, berth_err *err)
{
  json_t *v = json_object_get (arg, key);
  *out = 0;
  if (v == NULL || json_is_null (v))
    return required ? berth_fail (err, 0, "%s.%s: missing", where, key) : 0;
  if (!json_is_integer (v))
    return berth_fail (err, 0, "%s.%s: expected an integer", where, key);
  *out = (scmp_datum_t) json_integer_value (v);
  return 0;
}

static int parse_operator (json_t *arg, const char *where, enum scmp_compare *out, berth_err *err)
{
  json_t *v = json_object_get (arg, "op");
  if (v == NULL || json_is_null (v))
    return berth_fail (err, 0, "%s.op: missing", where);
  if (!json_is_string (v))
    return berth_fail (err, 0, "%s.op: expected a string", where);
  const char *name = json_string_value (v);
  for (size_t i = 0; i < N_ELEMENTS (operator_names); i++)
    if (strcmp (operator_names[i].name, name) == 0)
      {
        *out = operator_names[i].op;
        return 0;
      }
  return berth_fail (err, 0, "%s.op: unknown operator `%s`", where, name);
}

static int parse_arg (json_t *arg, const char *where, struct scmp_arg_cmp *out, berth_err *err)
{
  if (!json_is_object (arg))
    return berth_fail (err, 0, "%s: expected an object", where);

  json_t *index = json_object_get (arg, "index");
  if (index == NULL || json_is_null (index))
    return berth_fail (err, 0, "%s.index: missing", where);
  if (!json_is_integer (index))
    return berth_fail (err, 0, "%s.index: expected an integer", where);
  json_int_t n = json_integer_value (index);
  if (n < 0 || n > MAX_SYSCALL_ARG)
    return berth_fail (err, 0, "%s.index: %lld out of range (0-%d)", where, (long long) n, MAX_SYSCALL_ARG);
  out->arg = (unsigned int) n;

  int ret = parse_operator (arg, where, &out->op, err);
  if (ret < 0)
    return ret;
  ret = read_datum (arg, "value", true, where, &out->datum_a, err);
  if (ret < 0)
    return ret;
  return read_datum (arg, "valueTwo", false, where, &out->datum_b, err);
}

/* The conditions of one syscalls[] entry. */
struct rule_args
{
  struct scmp_arg_cmp *cmps;
  size_t count;
  bool split; /* one rule per condition, see the top of the file */
};

static int parse_args (json_t *rule, const char *where, struct rule_args *out, berth_err *err)
{
  int ret = berth_json_check_type (rule, "args", JSON_ARRAY, where, err);
  if (ret < 0)
    return ret;
  json_t *args = berth_json_arr (rule, "args");
  size_t count = json_array_size (args);
  unsigned int uses[MAX_SYSCALL_ARG + 1] = { 0 };

  if (count == 0)
    return 0;
  out->cmps = calloc (count, sizeof (*out->cmps));
  if (out->cmps == NULL)
    return berth_fail (err, ENOMEM, "%s.args", where);
  for (size_t i = 0; i < count; i++)
    {
      cleanup_free char *arg_where = NULL;
      if (asprintf (&arg_where, "%s.args[%zu]", where, i) < 0)
        return berth_fail (err, ENOMEM, "%s.args", where);
      ret = parse_arg (json_array_get (args, i), arg_where, &out->cmps[i], err);
      if (ret < 0)
        return ret;
      if (++uses[out->cmps[i].arg] > 1)
        out->split = true;
    }
  out->count = count;
  return 0;
}

static int add_syscall_rule (scmp_filter_ctx ctx, const char *name, uint32_t action,
                             const struct rule_args *args, const char *where, berth_err *err)
{
  int nr = seccomp_syscall_resolve_name (name);
  int ret = 0;

  /* Profiles list syscalls of newer kernels and other architectures. */
  if (nr == __NR_SCMP_ERROR)
    {
      berth_debug ("%s: unknown syscall `%s` skipped", where, name);
      return 0;
    }
  if (args->split)
    {
      for (size_t i = 0; i < args->count && ret == 0; i++)
        ret = seccomp_rule_add_array (ctx, action, nr, 1, &args->cmps[i]);
    }
  else
    ret = seccomp_rule_add_array (ctx, action, nr, args->count, args->cmps);
  if (ret < 0)
    return berth_fail (err, -ret, "%s: add rule for `%s`", where, name);
  return 0;
}

/* syscalls[INDEX].names must be a non-empty array of non-empty strings. */
static int check_names (json_t *names, const char *where, berth_err *err)
{
  if (names == NULL || json_is_null (names))
    return berth_fail (err, 0, "%s.names: missing", where);
  if (!json_is_array (names))
    return berth_fail (err, 0, "%s.names: expected an array", where);
  if (json_array_size (names) == 0)
    return berth_fail (err, 0, "%s.names: no syscall names", where);
  size_t i;
  json_t *v;
  json_array_foreach (names, i, v)
    {
      if (!json_is_string (v))
        return berth_fail (err, 0, "%s.names[%zu]: expected a string", where, i);
      if (json_string_length (v) == 0)
        return berth_fail (err, 0, "%s.names[%zu]: empty syscall name", where, i);
    }
  return 0;
}

static int add_syscalls_entry (scmp_filter_ctx ctx, json_t *rule, const char *where,
                               uint32_t default_action, berth_err *err)
{
  if (!json_is_object (rule))
    return berth_fail (err, 0, "%s: expected an object", where);

  json_t *names = json_object_get (rule, "names");
  int ret = check_names (names, where, err);
  if (ret < 0)
    return ret;

  uint32_t action;
  ret = parse_action (rule, "action", "errnoRet", where, &action, err);
  if (ret < 0)
    return ret;

  struct rule_args args = { NULL, 0, false };
  ret = parse_args (rule, where, &args, err);
  cleanup_free struct scmp_arg_cmp *cmps = args.cmps;
  if (ret < 0)
    return ret;

  /* libseccomp refuses such rules, and they change nothing. */
  if (action == default_action)
    return 0;

  size_t i;
  json_t *v;
  json_array_foreach (names, i, v)
    {
      ret = add_syscall_rule (ctx, json_string_value (v), action, &args, where, err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

static int add_syscalls (scmp_filter_ctx ctx, json_t *seccomp, uint32_t default_action, berth_err *err)
{
  int ret = berth_json_check_type (seccomp, "syscalls", JSON_ARRAY, SECCOMP_WHERE, err);
  if (ret < 0)
    return ret;
  json_t *syscalls = berth_json_arr (seccomp, "syscalls");
  size_t i;
  json_t *rule;

  json_array_foreach (syscalls, i, rule)
    {
      char where[64];
      snprintf (where, sizeof where, SECCOMP_WHERE ".syscalls[%zu]", i);
      ret = add_syscalls_entry (ctx, rule, where, default_action, err);
      if (ret < 0)
        return ret;
    }
  return 0;
}

/* libseccomp 2.5 can only write the program to a file descriptor; a memfd
 * has no size limit (unlike a pipe) and touches no file system. */
static int export_bpf (scmp_filter_ctx ctx, struct sock_fprog *prog, berth_err *err)
{
  cleanup_close int fd = memfd_create ("berth-seccomp", MFD_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (err, "memfd_create");

  int ret = seccomp_export_bpf (ctx, fd);
  if (ret < 0)
    return berth_fail (err, -ret, "export seccomp filter");

  struct stat st;
  if (fstat (fd, &st) < 0)
    return berth_fail_errno (err, "fstat seccomp filter");
  size_t size = (size_t) st.st_size;
  size_t count = size / sizeof (struct sock_filter);
  if (size == 0 || size % sizeof (struct sock_filter) != 0)
    return berth_fail (err, 0, "export seccomp filter: unexpected size %zu", size);
  /* Caught here, the error names the cause; the kernel only says EINVAL. */
  if (count > BPF_MAXINSNS)
    return berth_fail (err, 0, "seccomp filter too large: %zu instructions, the kernel accepts %d",
                       count, BPF_MAXINSNS);

  cleanup_free struct sock_filter *filter = malloc (size);
  if (filter == NULL)
    return berth_fail (err, ENOMEM, "seccomp filter");
  if (lseek (fd, 0, SEEK_SET) < 0)
    return berth_fail_errno (err, "lseek seccomp filter");
  ssize_t got = berth_read_all (fd, filter, size);
  if (got < 0)
    return berth_fail (err, (int) -got, "read seccomp filter");
  if ((size_t) got != size)
    return berth_fail (err, 0, "read seccomp filter: short read");

  prog->len = (unsigned short) count;
  prog->filter = take_ptr (filter);
  return 0;
}

static int compile_filter (json_t *seccomp, struct berth_seccomp *out, berth_err *err)
{
  uint32_t default_action;
  int ret = parse_action (seccomp, "defaultAction", "defaultErrnoRet", SECCOMP_WHERE, &default_action, err);
  if (ret < 0)
    return ret;
  ret = parse_flags (seccomp, &out->flags, err);
  if (ret < 0)
    return ret;

  cleanup_seccomp_ctx scmp_filter_ctx ctx = seccomp_init (default_action);
  if (ctx == NULL)
    return berth_fail (err, 0, SECCOMP_WHERE ".defaultAction: libseccomp rejected the action");

  /* Whether no_new_privs is set is process.noNewPrivileges' business. */
  ret = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_NNP, 0);
  if (ret < 0)
    return berth_fail (err, -ret, "seccomp: unset SCMP_FLTATR_CTL_NNP");

  ret = add_architectures (ctx, seccomp, err);
  if (ret < 0)
    return ret;
  ret = add_syscalls (ctx, seccomp, default_action, err);
  if (ret < 0)
    return ret;
  return export_bpf (ctx, &out->prog, err);
}

int berth_seccomp_compile (json_t *seccomp, struct berth_seccomp **out, berth_err *err)
{
  *out = NULL;
  if (seccomp == NULL || json_is_null (seccomp))
    return 0;
  if (!json_is_object (seccomp))
    return berth_fail (err, 0, SECCOMP_WHERE ": expected an object");

  int ret = berth_json_check_type (seccomp, "listenerPath", JSON_STRING, SECCOMP_WHERE, err);
  if (ret < 0)
    return ret;
  const char *listener = berth_json_str (seccomp, "listenerPath");
  if (listener != NULL && listener[0] != '\0')
    return berth_fail (err, 0, SECCOMP_WHERE ".listenerPath: %s", notify_unsupported);

  cleanup_seccomp struct berth_seccomp *s = calloc (1, sizeof (*s));
  if (s == NULL)
    return berth_fail (err, ENOMEM, SECCOMP_WHERE);
  ret = compile_filter (seccomp, s, err);
  if (ret < 0)
    return ret;
  *out = take_ptr (s);
  return 0;
}

int berth_seccomp_install (const struct berth_seccomp *s, berth_err *err)
{
  if (s == NULL)
    return 0;
  /* WAIT_KILLABLE_RECV only modifies a notify listener, and the kernel
   * rejects it without one; there is never a listener here. */
  unsigned int flags = s->flags & ~(unsigned int) SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;

  long ret = syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &s->prog);
  if (ret > 0)
    return berth_fail (err, 0, "install seccomp filter: thread %ld could not be synchronized", ret);
  if (ret == 0)
    return 0;
  if (errno == EACCES)
    return berth_fail_errno (err, "install seccomp filter (needs no_new_privs or CAP_SYS_ADMIN)");
  if (errno == EINVAL && flags != 0)
    return berth_fail_errno (err, "install seccomp filter with flags 0x%x (does the kernel know them?)",
                             flags);
  return berth_fail_errno (err, "install seccomp filter");
}

void berth_seccomp_free (struct berth_seccomp *s)
{
  if (s == NULL)
    return;
  free (s->prog.filter);
  free (s);
}

/* A NULL program makes the kernel check FLAGS (EINVAL) before it reads the
 * program (EFAULT), so EFAULT means the flag is known; runc probes alike. */
static bool kernel_knows_flag (unsigned int flag)
{
  if (flag & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
    flag |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
  return syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, flag, NULL) < 0 && errno == EFAULT;
}

json_t *berth_seccomp_features (void)
{
  json_t *actions = json_array ();
  for (size_t i = 0; i < N_ELEMENTS (action_names); i++)
    json_array_append_new (actions, json_string (action_names[i].name));

  json_t *operators = json_array ();
  for (size_t i = 0; i < N_ELEMENTS (operator_names); i++)
    json_array_append_new (operators, json_string (operator_names[i].name));

  json_t *archs = json_array ();
  for (size_t i = 0; i < N_ELEMENTS (arch_names); i++)
    if (arch_token_from_name (arch_names[i]) != 0)
      json_array_append_new (archs, json_string (arch_names[i]));

  json_t *known = json_array ();
  json_t *supported = json_array ();
  for (size_t i = 0; i < N_ELEMENTS (flag_names); i++)
    {
      json_array_append_new (known, json_string (flag_names[i].name));
      if (kernel_knows_flag (flag_names[i].flag))
        json_array_append_new (supported, json_string (flag_names[i].name));
    }

  return json_pack ("{s:b, s:o, s:o, s:o, s:o, s:o}", "enabled", 1, "actions", actions,
                    "operators", operators, "archs", archs, "knownFlags", known,
                    "supportedFlags", supported);
}
