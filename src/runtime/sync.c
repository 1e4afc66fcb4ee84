#include "runtime/sync.h"
#include "common/cleanup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int send_packet (int sock, const void *buf, size_t len, int fd)
{
  struct iovec iov = { .iov_base = (void *) buf, .iov_len = len };
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } control;
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
  if (fd >= 0)
    {
      memset (&control, 0, sizeof control);
      mh.msg_control = control.buf;
      mh.msg_controllen = sizeof control.buf;
      struct cmsghdr *c = CMSG_FIRSTHDR (&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN (sizeof (int));
      memcpy (CMSG_DATA (c), &fd, sizeof (int));
    }
  ssize_t r;
  do
    r = sendmsg (sock, &mh, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : 0;
}

int sync_send (int sock, enum sync_type type, const char *payload, int fd)
{
  char buf[1 + sizeof ((struct sync_msg *) 0)->payload];
  size_t n = payload ? strnlen (payload, sizeof buf - 2) : 0;
  buf[0] = (char) type;
  if (n)
    memcpy (buf + 1, payload, n);
  return send_packet (sock, buf, n + 1, fd);
}

int sync_recv (int sock, struct sync_msg *msg)
{
  char buf[1 + sizeof msg->payload];
  struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf - 1 };
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } control;
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf };
  ssize_t r;
  do
    r = recvmsg (sock, &mh, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return -errno;
  if (r == 0)
    return -EPIPE;
  msg->type = (enum sync_type) buf[0];
  msg->fd = -1;
  memcpy (msg->payload, buf + 1, (size_t) r - 1);
  msg->payload[r - 1] = '\0';
  for (struct cmsghdr *c = CMSG_FIRSTHDR (&mh); c; c = CMSG_NXTHDR (&mh, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      memcpy (&msg->fd, CMSG_DATA (c), sizeof (int));
  return 0;
}

int sync_expect (int sock, enum sync_type type, struct sync_msg *msg, berth_err *err)
{
  int r = sync_recv (sock, msg);
  if (r == -EPIPE)
    return berth_fail (err, 0, "container process exited during set-up");
  if (r < 0)
    return berth_fail (err, -r, "read from container process");
  if (msg->type == SYNC_ERROR)
    return berth_fail (err, 0, "%s", msg->payload);
  if (msg->type != type)
    {
      if (msg->fd >= 0)
        close (msg->fd);
      return berth_fail (err, 0, "protocol error: expected message %d, got %d", type, msg->type);
    }
  return 0;
}

void sync_child_fail (int sock, berth_err *err)
{
  sync_send (sock, SYNC_ERROR, (err && *err) ? (*err)->msg : "unknown error", -1);
  _exit (1);
}

int sync_send_fd_to_path (const char *path, int fd, const char *name, berth_err *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen (path) >= sizeof addr.sun_path)
    return berth_fail (err, ENAMETOOLONG, "console socket `%s`", path);
  strcpy (addr.sun_path, path);
  cleanup_close int s = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return berth_fail_errno (err, "socket");
  if (connect (s, (struct sockaddr *) &addr, sizeof addr) < 0)
    return berth_fail_errno (err, "connect to console socket `%s`", path);
  int r = send_packet (s, name, strlen (name), fd);
  if (r < 0)
    return berth_fail (err, -r, "send the terminal to `%s`", path);
  return 0;
}
