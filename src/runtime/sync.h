/* Messages between the runtime and the container's init or exec process
 * over a SOCK_SEQPACKET socketpair.  Each message is one packet: a type
 * byte and an optional payload (error text, pid), with an optional fd
 * attached (the pty master). */
#ifndef BERTH_SYNC_H
#define BERTH_SYNC_H

#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"

enum sync_type
{
  SYNC_MAPPED = 7,      /* parent -> child: uid/gid maps written */
  SYNC_GO = 1,          /* parent -> child: in the cgroup, resources applied */
  SYNC_HOOKS = 2,       /* child -> parent: mounts done, run prestart/createRuntime */
  SYNC_HOOKS_DONE = 3,  /* parent -> child: continue to pivot_root */
  SYNC_PTY = 4,         /* child -> parent: the pty master, attached as an fd */
  SYNC_READY = 5,       /* child -> parent: set up, waiting for start / about to exec */
  SYNC_ERROR = 6,       /* child -> parent: payload is the error text */
};

struct sync_msg
{
  enum sync_type type;
  int fd;              /* -1 when no fd was attached */
  char payload[4096];  /* NUL-terminated */
};

int sync_send (int sock, enum sync_type type, const char *payload, int fd);
/* Receive one message; returns 0, or -EPIPE on EOF (the peer closed or
 * exec'd: both ends are close-on-exec). */
int sync_recv (int sock, struct sync_msg *msg);
/* Receive and require TYPE; an SYNC_ERROR message becomes *err. */
int sync_expect (int sock, enum sync_type type, struct sync_msg *msg, berth_err *err);

/* The child reports ERR to the parent and exits(1).  Never returns. */
void __attribute__ ((noreturn)) sync_child_fail (int sock, berth_err *err);

/* Send FD over a Unix socket at PATH with NAME as the data (runc's
 * --console-socket protocol). */
int sync_send_fd_to_path (const char *path, int fd, const char *name, berth_err *err);

#endif
