/* TLS with OpenSSL in front of libmicrohttpd.
 *
 * Debian's libmicrohttpd does TLS only through GnuTLS, and berth links
 * OpenSSL everywhere else (one TLS stack, one set of certificate formats
 * and bugs to follow), so MHD runs without a listen socket
 * (MHD_USE_NO_LISTEN_SOCKET) and this file owns it: an accept thread takes
 * each TCP connection, and a terminator thread per connection does the TLS
 * handshake and then relays plaintext between the TLS session and one end
 * of a socketpair whose other end is handed to MHD with MHD_add_connection.
 * MHD sees an ordinary (plaintext) connection; the HTTP code is shared.
 *
 * The relay is a single-threaded non-blocking loop (an SSL object must not
 * be used from two threads at once, and SSL_read/SSL_write may each need
 * the socket readable or writable), with one buffer per direction so a
 * slow side never blocks the other. */
#include "registry/registry.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_BUF (64 * 1024)
#define HANDSHAKE_TIMEOUT_S 15
#define IDLE_TIMEOUT_MS (600 * 1000)

struct reg_tls
{
  SSL_CTX *ctx;
  int listen_fd;
  int stop_pipe[2];
  pthread_t acceptor;
  pthread_mutex_t lock;
  bool stopping;
  struct registry *reg;
};

struct relay
{
  struct reg_tls *tls;
  int tcp;
  struct sockaddr_storage peer;
  socklen_t peer_len;
};

static void set_nonblock (int fd)
{
  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
}

/* What an SSL call that did not complete waits for. */
static short ssl_wants (SSL *ssl, int r, bool *dead)
{
  switch (SSL_get_error (ssl, r))
    {
    case SSL_ERROR_WANT_READ:
      return POLLIN;
    case SSL_ERROR_WANT_WRITE:
      return POLLOUT;
    default:
      *dead = true;
      return 0;
    }
}

static void relay_loop (SSL *ssl, int tcp, int sv)
{
  static __thread char in[RELAY_BUF], out[RELAY_BUF];
  size_t in_len = 0, in_off = 0, out_len = 0, out_off = 0;
  bool client_eof = false, server_eof = false, dead = false;
  while (!dead)
    {
      short tcp_ev = 0, sv_ev = 0;
      bool progress = false;
      /* client → MHD */
      if (in_len == 0 && !client_eof)
        {
          int r = SSL_read (ssl, in, sizeof in);
          if (r > 0)
            in_len = r, in_off = 0, progress = true;
          else
            {
              bool gone = false;
              tcp_ev |= ssl_wants (ssl, r, &gone);
              if (gone)
                {
                  client_eof = true;
                  shutdown (sv, SHUT_WR);
                }
            }
        }
      if (in_len > 0)
        {
          ssize_t n = write (sv, in + in_off, in_len);
          if (n > 0)
            in_off += n, in_len -= n, progress = true;
          else if (n < 0 && (errno == EAGAIN || errno == EINTR))
            sv_ev |= POLLOUT;
          else
            dead = true;
        }
      /* MHD → client */
      if (out_len == 0 && !server_eof)
        {
          ssize_t n = read (sv, out, sizeof out);
          if (n > 0)
            out_len = n, out_off = 0, progress = true;
          else if (n < 0 && (errno == EAGAIN || errno == EINTR))
            sv_ev |= POLLIN;
          else
            server_eof = true;
        }
      if (out_len > 0)
        {
          int r = SSL_write (ssl, out + out_off, out_len);
          if (r > 0)
            out_off += r, out_len -= r, progress = true;
          else
            tcp_ev |= ssl_wants (ssl, r, &dead);
        }
      if (server_eof && out_len == 0)
        {
          SSL_shutdown (ssl);
          return;
        }
      if (client_eof && in_len == 0 && server_eof)
        return;
      if (progress || dead)
        continue;
      struct pollfd p[2] = { { .fd = tcp, .events = tcp_ev }, { .fd = sv, .events = sv_ev } };
      int r = poll (p, 2, IDLE_TIMEOUT_MS);
      if (r == 0)
        return;
      if (r < 0 && errno != EINTR)
        return;
    }
}

static void *relay_thread (void *arg)
{
  struct relay *rl = arg;
  struct reg_tls *tls = rl->tls;
  struct timeval tv = { .tv_sec = HANDSHAKE_TIMEOUT_S };
  setsockopt (rl->tcp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt (rl->tcp, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  SSL *ssl = SSL_new (tls->ctx);
  int sv[2] = { -1, -1 };
  if (ssl == NULL || SSL_set_fd (ssl, rl->tcp) != 1 || SSL_accept (ssl) != 1)
    {
      berth_debug ("TLS handshake failed: %s", ERR_reason_error_string (ERR_peek_last_error ()));
      ERR_clear_error ();
      goto out;
    }
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    goto out;
  pthread_mutex_lock (&tls->lock);
  enum MHD_Result added = tls->stopping ? MHD_NO
                                        : MHD_add_connection (tls->reg->mhd, sv[0], (struct sockaddr *) &rl->peer,
                                                              rl->peer_len);
  pthread_mutex_unlock (&tls->lock);
  if (added != MHD_YES)
    {
      close (sv[0]); /* MHD closes it itself only on success */
      goto out;
    }
  set_nonblock (rl->tcp);
  set_nonblock (sv[1]);
  relay_loop (ssl, rl->tcp, sv[1]);
out:
  if (sv[1] >= 0)
    close (sv[1]);
  SSL_free (ssl);
  close (rl->tcp);
  free (rl);
  ERR_clear_error ();
  return NULL;
}

static void *accept_thread (void *arg)
{
  struct reg_tls *tls = arg;
  for (;;)
    {
      struct pollfd p[2] = { { .fd = tls->listen_fd, .events = POLLIN }, { .fd = tls->stop_pipe[0], .events = POLLIN } };
      if (poll (p, 2, -1) < 0 && errno != EINTR)
        break;
      if (p[1].revents)
        break;
      if (!(p[0].revents & POLLIN))
        continue;
      struct relay *rl = calloc (1, sizeof *rl);
      if (rl == NULL)
        continue;
      rl->tls = tls;
      rl->peer_len = sizeof rl->peer;
      rl->tcp = accept4 (tls->listen_fd, (struct sockaddr *) &rl->peer, &rl->peer_len, SOCK_CLOEXEC);
      pthread_t t;
      pthread_attr_t attr;
      pthread_attr_init (&attr);
      pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
      if (rl->tcp < 0 || pthread_create (&t, &attr, relay_thread, rl) != 0)
        {
          if (rl->tcp >= 0)
            close (rl->tcp);
          free (rl);
        }
      pthread_attr_destroy (&attr);
    }
  return NULL;
}

int reg_tls_start (struct registry *reg, int listen_fd, berth_err *err)
{
  struct reg_tls *tls = calloc (1, sizeof *tls);
  if (tls == NULL)
    return berth_fail (err, ENOMEM, "out of memory");
  tls->reg = reg;
  tls->listen_fd = listen_fd;
  pthread_mutex_init (&tls->lock, NULL);
  reg->tls = tls;
  tls->ctx = SSL_CTX_new (TLS_server_method ());
  if (tls->ctx == NULL)
    return berth_fail (err, ENOMEM, "cannot create the TLS context");
  SSL_CTX_set_min_proto_version (tls->ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode (tls->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file (tls->ctx, reg->cfg.tls_cert) != 1)
    return berth_fail (err, EINVAL, "--tls-cert %s: %s", reg->cfg.tls_cert,
                       ERR_reason_error_string (ERR_get_error ()));
  if (SSL_CTX_use_PrivateKey_file (tls->ctx, reg->cfg.tls_key, SSL_FILETYPE_PEM) != 1
      || SSL_CTX_check_private_key (tls->ctx) != 1)
    return berth_fail (err, EINVAL, "--tls-key %s: %s", reg->cfg.tls_key, ERR_reason_error_string (ERR_get_error ()));
  if (pipe2 (tls->stop_pipe, O_CLOEXEC) < 0)
    return berth_fail_errno (err, "pipe");
  if (pthread_create (&tls->acceptor, NULL, accept_thread, tls) != 0)
    return berth_fail (err, EAGAIN, "cannot start the TLS accept thread");
  return 0;
}

void reg_tls_stop (struct registry *reg)
{
  struct reg_tls *tls = reg->tls;
  if (tls == NULL)
    return;
  pthread_mutex_lock (&tls->lock);
  tls->stopping = true;
  pthread_mutex_unlock (&tls->lock);
  if (tls->stop_pipe[1] > 0)
    {
      if (write (tls->stop_pipe[1], "x", 1) < 0)
        berth_debug ("cannot wake the accept thread");
      pthread_join (tls->acceptor, NULL);
    }
  close (tls->listen_fd);
  /* relay threads may still hold the context: it is freed with the process */
  reg->tls = NULL;
}
