/* Kernel and initrd files into guest memory. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "vmm/boot.h"

#define PAGE_SIZE 4096ULL

static int open_regular (const char *path, const char *what, int *fd_out, uint64_t *size, berth_err *err)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (err, "open %s %s", what, path);
  struct stat st;
  if (fstat (fd, &st) < 0)
    return berth_fail_errno (err, "stat %s %s", what, path);
  if (!S_ISREG (st.st_mode))
    return berth_fail (err, 0, "%s %s is not a regular file", what, path);
  *size = (uint64_t) st.st_size;
  *fd_out = take_fd (&fd);
  return 0;
}

int boot_load_kernel (const struct guest_mem *m, const char *path, struct boot_image *img, berth_err *err)
{
  cleanup_close int fd = -1;
  uint64_t size;
  int r = open_regular (path, "kernel", &fd, &size, err);
  if (r < 0)
    return r;
  if (size < 64)
    return berth_fail (err, 0, "kernel %s: not a kernel (%llu bytes)", path, (unsigned long long) size);
  /* A private read-only mapping: the parsers check every offset against
   * SIZE, so a file shorter than its headers claim is an error. */
  void *buf = mmap (NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (buf == MAP_FAILED)
    return berth_fail_errno (err, "map kernel %s", path);
  const uint8_t *b = buf;
  if (memcmp (b, "\177ELF", 4) == 0)
    r = boot_load_elf (m, b, size, img, err);
  else if (size > 0x206 && memcmp (b + 0x202, "HdrS", 4) == 0)
    r = boot_load_bzimage (m, b, size, img, err);
  else
    r = berth_fail (err, 0, "not a kernel: neither an ELF vmlinux nor a bzImage");
  munmap (buf, size);
  if (r < 0)
    return berth_error_prefix (err, "kernel %s", path);
  return 0;
}

/* Read LEN bytes of FD into guest memory at GPA (one region). */
static int read_into_guest (const struct guest_mem *m, int fd, uint64_t gpa, uint64_t len, berth_err *err)
{
  uint8_t *dst = guest_mem_ptr (m, gpa, len);
  if (dst == NULL)
    return berth_fail (err, 0, "0x%llx+%llu is outside guest memory", (unsigned long long) gpa,
                       (unsigned long long) len);
  uint64_t done = 0;
  while (done < len)
    {
      ssize_t n = pread (fd, dst + done, len - done, (off_t) done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return berth_fail_errno (err, "read");
      if (n == 0)
        return berth_fail (err, 0, "file shrank while reading");
      done += (uint64_t) n;
    }
  return 0;
}

int boot_load_initrd (const struct guest_mem *m, const char *path, const struct boot_image *img, uint64_t *addr,
                      uint64_t *size, berth_err *err)
{
  cleanup_close int fd = -1;
  uint64_t len;
  int r = open_regular (path, "initrd", &fd, &len, err);
  if (r < 0)
    return r;
  if (len == 0)
    return berth_fail (err, 0, "initrd %s is empty", path);
  /* Top of the first region (low RAM), capped by initrd_addr_max. */
  uint64_t top = m->regions[0].gpa + m->regions[0].size;
  if (img->initrd_addr_max + 1 < top)
    top = img->initrd_addr_max + 1;
  uint64_t bottom = (img->kernel_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  if (len > top || ((top - len) & ~(PAGE_SIZE - 1)) < bottom)
    return berth_fail (err, 0, "initrd %s (%llu MiB) does not fit in guest memory above the kernel", path,
                       (unsigned long long) (len >> 20) + 1);
  uint64_t at = (top - len) & ~(PAGE_SIZE - 1);
  if ((r = read_into_guest (m, fd, at, len, err)) < 0)
    return berth_error_prefix (err, "initrd %s", path);
  *addr = at;
  *size = len;
  return 0;
}
