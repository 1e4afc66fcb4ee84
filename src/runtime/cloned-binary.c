/* CVE-2019-5736: a container that can reach /proc/<pid>/exe of a runtime
 * process (e.g. through `exec` of a "#!/proc/self/exe" script) could open
 * the runtime's binary for writing and replace it on the host.  We run from
 * a sealed memfd copy instead: the container can only see an anonymous
 * immutable file. */
#include "runtime/runtime.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REQUIRED_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

static int is_sealed_copy (int fd)
{
  int seals = fcntl (fd, F_GET_SEALS);
  return seals >= 0 && (seals & REQUIRED_SEALS) == REQUIRED_SEALS;
}

static int copy_to_memfd (int src, berth_err *err)
{
  struct stat st;
  if (fstat (src, &st) < 0)
    return berth_fail_errno (err, "stat /proc/self/exe");
  cleanup_close int memfd = memfd_create ("berth-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (memfd < 0)
    return berth_fail_errno (err, "memfd_create");
  off_t off = 0;
  while (off < st.st_size)
    {
      ssize_t n = sendfile (memfd, src, &off, (size_t) (st.st_size - off));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return berth_fail (err, n < 0 ? errno : EIO, "copy /proc/self/exe");
    }
  /* F_SEAL_WRITE fails with EBUSY while the kernel still holds a transient
   * reference to one of the file's pages (page migration, the copy's own
   * pipe buffers): that passes, so try again a few times. */
  int r;
  for (int attempt = 0; (r = fcntl (memfd, F_ADD_SEALS, REQUIRED_SEALS)) < 0 && errno == EBUSY && attempt < 50; attempt++)
    {
      struct timespec ts = { 0, 1000 * 1000 };
      nanosleep (&ts, NULL);
    }
  if (r < 0)
    return berth_fail_errno (err, "seal the runtime copy");
  return take_fd (&memfd);
}

bool berth_is_cloned_binary (void)
{
  cleanup_close int self = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  return self >= 0 && is_sealed_copy (self);
}

int berth_ensure_cloned_binary (char **argv, berth_err *err)
{
  cleanup_close int self = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0)
    return berth_fail_errno (err, "open /proc/self/exe");
  if (is_sealed_copy (self))
    return 0;
  cleanup_close int memfd = copy_to_memfd (self, err);
  if (memfd < 0)
    return memfd;
  fexecve (memfd, argv, environ);
  return berth_fail_errno (err, "re-execute from the sealed copy");
}
