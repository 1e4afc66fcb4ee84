/* The virtio device models.  Each create function makes a device (not yet
 * attached to a transport) from its configuration; the device's files
 * follow Firecracker's split: <dev>.c the request logic, and where it has
 * host I/O, the event handlers next to it.
 *
 * All devices are created before the vCPUs start and live until the VM
 * ends; their state is touched only on the event loop thread (virtio.h). */
#ifndef BERTH_VMM_VIRTIO_DEVICES_H
#define BERTH_VMM_VIRTIO_DEVICES_H

#include "common/json.h"
#include "vmm/virtio/virtio.h"
#include "vmm/vm-config.h"

/* virtio-blk: a raw image file; read-only, flush, token-bucket limiter. */
int virtio_blk_create (const struct vm_drive *cfg, const struct guest_mem *mem, struct evloop *loop,
                       struct virtio_dev **out, berth_err *err);
/* virtio-net: a tap device (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR), offloads,
 * rx/tx limiters. */
int virtio_net_create (const struct vm_net *cfg, const struct guest_mem *mem, struct evloop *loop,
                       struct virtio_dev **out, berth_err *err);
/* virtio-rng: reads getrandom(). */
int virtio_rng_create (const struct guest_mem *mem, struct evloop *loop, struct virtio_dev **out, berth_err *err);
/* virtio-balloon: inflate (MADV_DONTNEED the guest's pages), deflate,
 * statistics queue, deflate-on-oom. */
int virtio_balloon_create (const struct vm_balloon *cfg, const struct guest_mem *mem, struct evloop *loop,
                           struct virtio_dev **out, berth_err *err);
/* Loop-thread only (the VMM wraps them in evloop_call). */
int virtio_balloon_set_target (struct virtio_dev *d, uint32_t amount_mib, berth_err *err);
int virtio_balloon_set_stats_interval (struct virtio_dev *d, uint32_t seconds, berth_err *err);
/* Firecracker's BalloonStats JSON: target_pages, actual_pages,
 * target_mib, actual_mib, swap_in, ..., available_memory. */
int virtio_balloon_stats (struct virtio_dev *d, json_t **out, berth_err *err);
/* virtio-vsock: host side as Unix sockets, Firecracker's scheme (guest
 * connects to port P: the VMM connects to UDS_PATH_P; host connects to
 * UDS_PATH and writes "CONNECT P\n"). */
int virtio_vsock_create (const struct vm_vsock *cfg, const struct guest_mem *mem, struct evloop *loop,
                         struct virtio_dev **out, berth_err *err);
/* virtio-console (optional): one port on the given fds. */
int virtio_console_create (int in_fd, int out_fd, const struct guest_mem *mem, struct evloop *loop,
                           struct virtio_dev **out, berth_err *err);

/* Free a device made by any of the above (ops->destroy). */
void virtio_dev_destroy (struct virtio_dev *d);

#endif
