/* /init of berth's test initramfs (scripts/build-guest-initrd.sh): say that
 * user space runs, show the first bytes of the virtio disk, power off.
 * tests/integration/vmm-linux.sh and bench/vmm look for the markers:
 *
 *   BERTH-INIT-OK
 *   BERTH-DISK: <the first 64 bytes of /dev/vda, NULs and newlines dropped>
 *               (or "none" without a disk)
 *   BERTH-POWEROFF
 *
 * Then one 16-bit write of SLP_EN (bit 13) to berth-vmm's shutdown port
 * 0x604, as ACPI would write PM1a_CNT (the test kernel has no ACPI, so its
 * own poweroff only halts), and reboot(POWER_OFF) for a VMM without the
 * port.
 *
 * Why freestanding (no libc, raw system calls) rather than a shell script
 * on busybox: the initramfs is then a few KiB instead of 1.3 MB of gzip.
 * Where the guest kernel's ring-0 code is emulated (PVM), unpacking
 * busybox took 200 of the 250 seconds to /init and measured gunzip, not
 * the VMM; on real hardware it is a few milliseconds either way.
 *
 * "berth.init-dry-run" among the arguments (tests/unit/guest-init.sh runs
 * it on the host) skips the mount and the poweroff. */

#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_exit 60
#define SYS_sync 162
#define SYS_mount 165
#define SYS_reboot 169
#define SYS_ioperm 173

#define O_RDONLY 0
#define LINUX_REBOOT_MAGIC1 0xfee1dead
#define LINUX_REBOOT_MAGIC2 672274793
#define LINUX_REBOOT_CMD_POWER_OFF 0x4321fedc
#define SHUTDOWN_PORT 0x604
#define SLP_EN 0x2000

static long syscall6 (long n, long a, long b, long c, long d, long e)
{
  long ret;
  register long r10 __asm__ ("r10") = d;
  register long r8 __asm__ ("r8") = e;
  __asm__ volatile ("syscall"
                    : "=a"(ret)
                    : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                    : "rcx", "r11", "memory");
  return ret;
}

static unsigned long length (const char *s)
{
  unsigned long n = 0;
  while (s[n])
    n++;
  return n;
}

static void say (const char *s)
{
  syscall6 (SYS_write, 1, (long) s, (long) length (s), 0, 0);
}

static int same (const char *a, const char *b)
{
  while (*a && *a == *b)
    a++, b++;
  return *a == *b;
}

/* "BERTH-DISK: ..." with the disk's first bytes, NULs and newlines dropped
 * (what `dd bs=64 count=1 | tr -d '\000\n'` printed). */
static void show_disk (void)
{
  static const char prefix[] = "BERTH-DISK: ";
  char buf[64], line[sizeof prefix + sizeof buf + 1];
  long fd = syscall6 (SYS_open, (long) "/dev/vda", O_RDONLY, 0, 0, 0);
  if (fd < 0)
    {
      say ("BERTH-DISK: none\n");
      return;
    }
  long n = syscall6 (SYS_read, fd, (long) buf, sizeof buf, 0, 0);
  syscall6 (SYS_close, fd, 0, 0, 0, 0);
  unsigned long at = 0;
  for (; prefix[at]; at++)
    line[at] = prefix[at];
  for (long i = 0; i < n; i++)
    if (buf[i] != '\0' && buf[i] != '\n')
      line[at++] = buf[i];
  line[at++] = '\n';
  line[at] = '\0';
  say (line);
}

static void power_off (void)
{
  syscall6 (SYS_sync, 0, 0, 0, 0, 0);
  if (syscall6 (SYS_ioperm, SHUTDOWN_PORT, 2, 1, 0, 0) == 0)
    __asm__ volatile ("outw %w0, %w1" : : "a"((unsigned short) SLP_EN), "Nd"((unsigned short) SHUTDOWN_PORT));
  syscall6 (SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_POWER_OFF, 0, 0);
}

int init_main (long argc, char **argv)
{
  int dry_run = 0;
  for (long i = 1; i < argc; i++)
    if (same (argv[i], "berth.init-dry-run"))
      dry_run = 1;
  if (!dry_run)
    syscall6 (SYS_mount, (long) "dev", (long) "/dev", (long) "devtmpfs", 0, 0);
  say ("BERTH-INIT-OK\n");
  show_disk ();
  say ("BERTH-POWEROFF\n");
  if (!dry_run)
    power_off ();
  return 0;
}

/* The kernel enters with argc at (%rsp) and argv after it. */
__asm__ (".globl _start\n"
         "_start:\n"
         "  mov (%rsp), %rdi\n"
         "  lea 8(%rsp), %rsi\n"
         "  and $-16, %rsp\n"
         "  call init_main\n"
         "  mov %eax, %edi\n"
         "  mov $60, %eax\n"
         "  syscall\n");
