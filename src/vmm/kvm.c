#include "vmm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/cleanup.h"

/* Below the 4 GiB boundary and out of the way of RAM and the MMIO devices
 * (Intel VT-x needs these pages for real-mode emulation; as Firecracker). */
#define KVM_TSS_ADDR 0xfffbd000ULL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL

static int check_cap (int kvm_fd, int cap, const char *name, berth_err *err)
{
  if (ioctl (kvm_fd, KVM_CHECK_EXTENSION, cap) <= 0)
    return berth_fail (err, 0, "KVM lacks a capability the VMM needs: %s", name);
  return 0;
}

#define CHECK_CAP(fd, cap, err) check_cap ((fd), (cap), #cap, (err))

static int create_vm (struct kvm_vm *k, berth_err *err)
{
  k->vm_fd = ioctl (k->kvm_fd, KVM_CREATE_VM, 0);
  if (k->vm_fd < 0)
    return berth_fail_errno (err, "KVM_CREATE_VM");
  if (ioctl (k->vm_fd, KVM_SET_TSS_ADDR, (unsigned long) KVM_TSS_ADDR) < 0)
    return berth_fail_errno (err, "KVM_SET_TSS_ADDR");
  uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
  /* Optional: PVM and AMD do not need it. */
  if (ioctl (k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0)
    (void) ioctl (k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
  if (ioctl (k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
    return berth_fail_errno (err, "KVM_CREATE_IRQCHIP");
  struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
  if (ioctl (k->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
    return berth_fail_errno (err, "KVM_CREATE_PIT2");
  return 0;
}

int kvm_vm_open (struct kvm_vm *k, const char *dev, berth_err *err)
{
  memset (k, 0, sizeof *k);
  k->kvm_fd = k->vm_fd = -1;
  for (unsigned i = 0; i < KVM_NR_GSIS; i++)
    k->irqfd[i] = -1;
  pthread_mutex_init (&k->irq_lock, NULL);
  k->kvm_fd = open (dev, O_RDWR | O_CLOEXEC);
  if (k->kvm_fd < 0)
    return berth_fail_errno (err, "open %s (is KVM available and may this user use it?)", dev);
  int version = ioctl (k->kvm_fd, KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION)
    return berth_fail (err, 0, "%s: KVM API version %d, the VMM needs %d", dev, version, KVM_API_VERSION);
  int r;
  if ((r = CHECK_CAP (k->kvm_fd, KVM_CAP_USER_MEMORY, err)) < 0
      || (r = CHECK_CAP (k->kvm_fd, KVM_CAP_IRQCHIP, err)) < 0
      || (r = CHECK_CAP (k->kvm_fd, KVM_CAP_EXT_CPUID, err)) < 0
      || (r = CHECK_CAP (k->kvm_fd, KVM_CAP_SET_TSS_ADDR, err)) < 0
      || (r = CHECK_CAP (k->kvm_fd, KVM_CAP_PIT2, err)) < 0)
    return r;
  k->has_irqfd = ioctl (k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD) > 0;
  k->has_ioeventfd = ioctl (k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD) > 0;
  k->has_immediate_exit = ioctl (k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) > 0;
  k->run_size = ioctl (k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (k->run_size < (int) sizeof (struct kvm_run))
    return berth_fail_errno (err, "KVM_GET_VCPU_MMAP_SIZE");
  return create_vm (k, err);
}

void kvm_vm_close (struct kvm_vm *k)
{
  for (unsigned i = 0; i < KVM_NR_GSIS; i++)
    if (k->irqfd[i] >= 0)
      close (k->irqfd[i]);
  if (k->vm_fd >= 0)
    close (k->vm_fd);
  if (k->kvm_fd >= 0)
    close (k->kvm_fd);
  pthread_mutex_destroy (&k->irq_lock);
  k->vm_fd = k->kvm_fd = -1;
}

int kvm_vm_set_memory (struct kvm_vm *k, const struct guest_mem *m, berth_err *err)
{
  for (unsigned i = 0; i < m->nregions; i++)
    {
      const struct guest_region *r = &m->regions[i];
      struct kvm_userspace_memory_region slot = {
        .slot = i,
        .guest_phys_addr = r->gpa,
        .memory_size = r->size,
        .userspace_addr = (uintptr_t) r->host,
      };
      if (ioctl (k->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
        return berth_fail_errno (err, "KVM_SET_USER_MEMORY_REGION (%llu MiB at 0x%llx)",
                                 (unsigned long long) (r->size >> 20), (unsigned long long) r->gpa);
    }
  return 0;
}

int kvm_irq_line (struct kvm_vm *k, uint32_t gsi, int level)
{
  struct kvm_irq_level l = { .irq = gsi, .level = level };
  return ioctl (k->vm_fd, KVM_IRQ_LINE, &l) < 0 ? -errno : 0;
}

/* The irqfd of GSI, registered on first use; -1 if KVM has none. */
static int gsi_irqfd (struct kvm_vm *k, uint32_t gsi)
{
  if (!k->has_irqfd || gsi >= KVM_NR_GSIS)
    return -1;
  pthread_mutex_lock (&k->irq_lock);
  int fd = k->irqfd[gsi];
  if (fd < 0)
    {
      fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
      struct kvm_irqfd req = { .fd = (uint32_t) fd, .gsi = gsi };
      if (fd >= 0 && ioctl (k->vm_fd, KVM_IRQFD, &req) < 0)
        {
          close (fd);
          fd = -1;
          k->has_irqfd = false;
        }
      k->irqfd[gsi] = fd;
    }
  pthread_mutex_unlock (&k->irq_lock);
  return fd;
}

int kvm_irq_pulse (struct kvm_vm *k, uint32_t gsi)
{
  int fd = gsi_irqfd (k, gsi);
  if (fd >= 0)
    {
      uint64_t one = 1;
      /* EAGAIN only when the counter is saturated: an edge is pending. */
      if (write (fd, &one, sizeof one) == sizeof one || errno == EAGAIN)
        return 0;
    }
  int r = kvm_irq_line (k, gsi, 1);
  return r < 0 ? r : kvm_irq_line (k, gsi, 0);
}

int kvm_ioeventfd (struct kvm_vm *k, uint64_t addr, uint32_t len, bool pio, uint64_t value, int fd)
{
  if (!k->has_ioeventfd)
    return -ENOTSUP;
  struct kvm_ioeventfd req = {
    .datamatch = value,
    .addr = addr,
    .len = len,
    .fd = fd,
    .flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (pio ? KVM_IOEVENTFD_FLAG_PIO : 0),
  };
  return ioctl (k->vm_fd, KVM_IOEVENTFD, &req) < 0 ? -errno : 0;
}

static int host_ioeventfd (struct virtio_host *h, uint64_t addr, uint32_t len, bool pio, uint64_t value, int fd)
{
  return kvm_ioeventfd (h->opaque, addr, len, pio, value, fd);
}

static void host_irq (struct virtio_host *h, uint32_t gsi)
{
  (void) kvm_irq_pulse (h->opaque, gsi);
}

void kvm_virtio_host (struct kvm_vm *k, struct virtio_host *h, const struct guest_mem *mem, struct evloop *loop)
{
  *h = (struct virtio_host) {
    .mem = mem,
    .loop = loop,
    .ioeventfd = k->has_ioeventfd ? host_ioeventfd : NULL,
    .irq = host_irq,
    .opaque = k,
  };
}
