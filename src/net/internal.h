/* Helpers shared by the files of libberth-net; not part of its interface. */
#ifndef BERTH_NET_INTERNAL_H
#define BERTH_NET_INTERNAL_H

#include <libmnl/libmnl.h>
#include <stdint.h>

#include "common/error.h"

/* The netmask of PREFIX bits in host byte order (/0 -> 0). */
uint32_t net_prefix_mask (uint8_t prefix);

/* A NETLINK_ROUTE socket.  It stays bound to the network namespace it was
 * opened in, so one opened inside a sandbox configures the sandbox from
 * any thread. */
struct nl
{
  struct mnl_socket *sock;
  unsigned portid;
  unsigned seq;
};

/* Open in the calling thread's namespace / in the namespace at PATH. */
int nl_open (struct nl *nl, berth_err *err);
int nl_open_in (const char *netns_path, struct nl *nl, berth_err *err);
void nl_close (struct nl *nl);
#define cleanup_nl __attribute__ ((cleanup (nl_close)))

/* A message for REQ, with the next sequence number, in BUF (at least
 * MNL_SOCKET_BUFFER_SIZE bytes). */
struct nlmsghdr *nl_msg (struct nl *nl, char *buf, uint16_t type, uint16_t flags);
/* Send a request and wait for its acknowledgement: 0 or -errno (the caller
 * words the message). */
int nl_request (struct nl *nl, struct nlmsghdr *h);
/* Send a dump request and call CB for each answer: 0 or -errno. */
int nl_dump (struct nl *nl, struct nlmsghdr *h, mnl_cb_t cb, void *data);
/* The index of link NAME in the socket's namespace: > 0, or -ENODEV. */
int nl_link_index (struct nl *nl, const char *name);
int nl_link_set_up (struct nl *nl, int index);

/* Like net_sandbox_run, for a function that words its own errors. */
int net_sandbox_run_err (const char *path, int (*fn) (void *arg, berth_err *err), void *arg, berth_err *err);

#endif
