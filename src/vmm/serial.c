/* 8250/16550A UART model (registers as in the National Semiconductor
 * PC16550D data sheet).  Written by hand: there is no Debian library for
 * device models; it follows vm-superio's (Firecracker's) behaviour. */
#include "vmm/serial.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "common/cleanup.h"

#define OUT_RING 65536
#define RX_FIFO 64
#define LINE_MAX_LEN 512

/* register offsets */
#define UART_RX 0  /* DLAB 0 read */
#define UART_IER 1
#define UART_IIR 2 /* read; FCR on write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_RDI 0x01
#define IER_THRI 0x02
#define IIR_NO_INT 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO_BITS 0xc0
#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_DEFAULT 0xb0 /* DCD, DSR, CTS */

struct serial {
  struct kvm_vm *kvm;
  struct evloop *loop;
  pthread_mutex_t lock;
  /* registers */
  uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
  bool thr_ipending;
  int irq_level;
  uint8_t rx[RX_FIFO];
  unsigned rx_head, rx_count;
  /* output ring, drained by the writer thread */
  uint8_t ring[OUT_RING];
  size_t ring_head, ring_len;
  uint64_t dropped;
  pthread_cond_t ring_cond;
  bool stopping;
  pthread_t writer;
  bool writer_started;
  /* host side */
  int in_fd, out_fd; /* stdio: 0 and 1; socket: the client (or -1) */
  int listen_fd;
  /* Input pauses while the guest has not read its FIFO; the vCPU that
   * empties it wakes the loop through this eventfd to resume. */
  int resume_fd;
  bool input_paused;
  bool socket_mode;
  bool tty_raw;
  struct termios saved_tty;
  char *socket_path;
  /* line watcher */
  serial_line_fn on_line;
  void *opaque;
  char line[LINE_MAX_LEN];
  size_t line_len;
};

/* ---------------------------------------------------------------- irq */

static void update_irq (struct serial *s)
{
  bool rx = (s->ier & IER_RDI) && s->rx_count > 0;
  bool tx = (s->ier & IER_THRI) && s->thr_ipending;
  int level = rx || tx;
  if (level != s->irq_level)
    {
      s->irq_level = level;
      (void) kvm_irq_line (s->kvm, SERIAL_COM1_GSI, level);
    }
}

static uint8_t iir (struct serial *s)
{
  uint8_t fifo = (s->fcr & 1) ? IIR_FIFO_BITS : 0;
  if ((s->ier & IER_RDI) && s->rx_count > 0)
    return IIR_RDI | fifo;
  if ((s->ier & IER_THRI) && s->thr_ipending)
    return IIR_THRI | fifo;
  return IIR_NO_INT | fifo;
}

/* ---------------------------------------------------------------- output */

static void watch_line (struct serial *s, uint8_t c)
{
  if (s->on_line == NULL)
    return;
  if (c == '\n')
    {
      s->line[s->line_len] = '\0';
      s->on_line (s->opaque, s->line);
      s->line_len = 0;
    }
  else if (c != '\r' && s->line_len < LINE_MAX_LEN - 1)
    s->line[s->line_len++] = (char) c;
}

static void emit (struct serial *s, uint8_t c)
{
  watch_line (s, c);
  if (s->ring_len == OUT_RING)
    {
      s->dropped++;
      return;
    }
  s->ring[(s->ring_head + s->ring_len) % OUT_RING] = c;
  s->ring_len++;
  pthread_cond_signal (&s->ring_cond);
}

static bool write_all (int fd, const uint8_t *p, size_t n)
{
  while (n > 0)
    {
      ssize_t w = write (fd, p, n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0 && errno == EAGAIN)
        {
          usleep (1000);
          continue;
        }
      if (w <= 0)
        return false;
      p += w;
      n -= (size_t) w;
    }
  return true;
}

/* The writer thread: blocking writes to the host side, outside the lock. */
static void *writer_main (void *arg)
{
  struct serial *s = arg;
  uint8_t chunk[4096];
  pthread_mutex_lock (&s->lock);
  for (;;)
    {
      while ((s->ring_len == 0 || s->out_fd < 0) && !s->stopping)
        pthread_cond_wait (&s->ring_cond, &s->lock);
      if (s->ring_len == 0 || s->out_fd < 0)
        break; /* stopping and nothing (or nobody) left to write to */
      size_t n = s->ring_len < sizeof chunk ? s->ring_len : sizeof chunk;
      size_t first = OUT_RING - s->ring_head < n ? OUT_RING - s->ring_head : n;
      memcpy (chunk, s->ring + s->ring_head, first);
      memcpy (chunk + first, s->ring, n - first);
      s->ring_head = (s->ring_head + n) % OUT_RING;
      s->ring_len -= n;
      int fd = s->out_fd;
      pthread_mutex_unlock (&s->lock);
      bool ok = write_all (fd, chunk, n);
      pthread_mutex_lock (&s->lock);
      if (!ok && s->socket_mode && s->out_fd == fd)
        s->out_fd = -1; /* the client went away; the next one continues */
      else if (!ok && !s->socket_mode)
        s->out_fd = -1;
    }
  pthread_mutex_unlock (&s->lock);
  return NULL;
}

/* ---------------------------------------------------------------- input */

static void rx_push (struct serial *s, const uint8_t *p, size_t n)
{
  for (size_t i = 0; i < n && s->rx_count < RX_FIFO; i++)
    {
      s->rx[(s->rx_head + s->rx_count) % RX_FIFO] = p[i];
      s->rx_count++;
    }
  update_irq (s);
}

static void on_input (void *opaque, uint32_t events)
{
  struct serial *s = opaque;
  uint8_t buf[RX_FIFO];
  pthread_mutex_lock (&s->lock);
  size_t room = RX_FIFO - s->rx_count;
  int fd = s->in_fd;
  pthread_mutex_unlock (&s->lock);
  if (fd < 0)
    return;
  if (room == 0)
    {
      pthread_mutex_lock (&s->lock);
      s->input_paused = true;
      pthread_mutex_unlock (&s->lock);
      evloop_mod (s->loop, fd, 0);
      return;
    }
  ssize_t n = read (fd, buf, room);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  pthread_mutex_lock (&s->lock);
  if (n <= 0)
    {
      evloop_del (s->loop, fd);
      if (s->socket_mode)
        {
          close (fd);
          if (s->out_fd == fd)
            s->out_fd = -1;
        }
      s->in_fd = -1;
    }
  else
    rx_push (s, buf, (size_t) n);
  pthread_mutex_unlock (&s->lock);
}

static void on_resume (void *opaque, uint32_t events)
{
  struct serial *s = opaque;
  uint64_t v;
  if (read (s->resume_fd, &v, sizeof v) < 0)
    return;
  pthread_mutex_lock (&s->lock);
  int fd = s->input_paused ? s->in_fd : -1;
  s->input_paused = false;
  pthread_mutex_unlock (&s->lock);
  if (fd >= 0)
    evloop_mod (s->loop, fd, EPOLLIN);
}

static void on_accept (void *opaque, uint32_t events)
{
  struct serial *s = opaque;
  int c = accept4 (s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (c < 0)
    return;
  pthread_mutex_lock (&s->lock);
  if (s->in_fd >= 0)
    {
      /* one console client at a time */
      pthread_mutex_unlock (&s->lock);
      close (c);
      return;
    }
  s->in_fd = s->out_fd = c;
  pthread_cond_signal (&s->ring_cond);
  pthread_mutex_unlock (&s->lock);
  evloop_add (s->loop, c, EPOLLIN, on_input, s);
}

/* ---------------------------------------------------------------- registers */

static void serial_read (void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
  struct serial *s = opaque;
  memset (data, 0, len);
  pthread_mutex_lock (&s->lock);
  bool dlab = s->lcr & LCR_DLAB;
  switch (off)
    {
    case UART_RX:
      if (dlab)
        data[0] = s->dll;
      else if (s->rx_count > 0)
        {
          data[0] = s->rx[s->rx_head];
          s->rx_head = (s->rx_head + 1) % RX_FIFO;
          s->rx_count--;
          update_irq (s);
          if (s->rx_count == 0 && s->input_paused)
            {
              uint64_t one = 1;
              if (write (s->resume_fd, &one, sizeof one) < 0)
                s->input_paused = false; /* cannot happen with a fresh eventfd */
            }
        }
      break;
    case UART_IER:
      data[0] = dlab ? s->dlm : s->ier;
      break;
    case UART_IIR:
      data[0] = iir (s);
      /* reading IIR acknowledges a THR-empty interrupt */
      if ((data[0] & 0x0f) == IIR_THRI)
        {
          s->thr_ipending = false;
          update_irq (s);
        }
      break;
    case UART_LCR: data[0] = s->lcr; break;
    case UART_MCR: data[0] = s->mcr; break;
    case UART_LSR: data[0] = LSR_THRE | LSR_TEMT | (s->rx_count > 0 ? LSR_DR : 0); break;
    case UART_MSR:
      if (s->mcr & MCR_LOOP)
        /* DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD */
        data[0] = (uint8_t) (((s->mcr & 0x01) << 5) | ((s->mcr & 0x02) << 3) | ((s->mcr & 0x04) << 4)
                             | ((s->mcr & 0x08) << 4));
      else
        data[0] = MSR_DEFAULT;
      break;
    case UART_SCR: data[0] = s->scr; break;
    }
  pthread_mutex_unlock (&s->lock);
}

static void serial_write (void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
  struct serial *s = opaque;
  uint8_t v = data[0];
  pthread_mutex_lock (&s->lock);
  bool dlab = s->lcr & LCR_DLAB;
  switch (off)
    {
    case UART_RX:
      if (dlab)
        s->dll = v;
      else
        {
          if (s->mcr & MCR_LOOP)
            rx_push (s, &v, 1);
          else
            emit (s, v);
          s->thr_ipending = true; /* sent at once: the THR is empty again */
          update_irq (s);
        }
      break;
    case UART_IER:
      if (dlab)
        s->dlm = v;
      else
        {
          /* enabling THRI with an empty THR raises it at once */
          if ((v & IER_THRI) && !(s->ier & IER_THRI))
            s->thr_ipending = true;
          s->ier = v & 0x0f;
          update_irq (s);
        }
      break;
    case UART_IIR:
      s->fcr = v;
      if (v & 0x02) /* clear the receive FIFO */
        {
          s->rx_count = 0;
          update_irq (s);
        }
      break;
    case UART_LCR: s->lcr = v; break;
    case UART_MCR: s->mcr = v & 0x1f; break;
    case UART_SCR: s->scr = v; break;
    default: break; /* LSR, MSR are read-only */
    }
  pthread_mutex_unlock (&s->lock);
}

static const struct bus_ops serial_ops = { .read = serial_read, .write = serial_write };

/* ---------------------------------------------------------------- set-up */

static int listen_socket (struct serial *s, const char *path, berth_err *err)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (strlen (path) >= sizeof sa.sun_path)
    return berth_fail (err, 0, "serial socket path too long: %s", path);
  strcpy (sa.sun_path, path);
  struct stat st;
  /* a stale socket from an earlier run; never remove anything else */
  if (lstat (path, &st) == 0 && S_ISSOCK (st.st_mode))
    unlink (path);
  s->listen_fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s->listen_fd < 0)
    return berth_fail_errno (err, "serial socket");
  if (bind (s->listen_fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen (s->listen_fd, 1) < 0)
    return berth_fail_errno (err, "serial socket %s", path);
  s->socket_path = strdup (path);
  if (evloop_add (s->loop, s->listen_fd, EPOLLIN, on_accept, s) < 0)
    return berth_fail (err, 0, "serial socket: cannot watch it");
  return 0;
}

/* The terminal to restore if a signal ends the process while stdin is in
 * raw mode (tcsetattr is async-signal-safe). */
static struct termios saved_tty_for_signals;

static void restore_tty_and_die (int sig)
{
  tcsetattr (STDIN_FILENO, TCSANOW, &saved_tty_for_signals);
  signal (sig, SIG_DFL);
  raise (sig);
}

static void stdio_input (struct serial *s)
{
  s->out_fd = STDOUT_FILENO;
  if (isatty (STDIN_FILENO) && tcgetattr (STDIN_FILENO, &s->saved_tty) == 0)
    {
      struct termios raw = s->saved_tty;
      cfmakeraw (&raw);
      raw.c_oflag |= OPOST | ONLCR; /* keep the host's newline handling */
      saved_tty_for_signals = s->saved_tty;
      signal (SIGTERM, restore_tty_and_die);
      signal (SIGHUP, restore_tty_and_die);
      signal (SIGINT, restore_tty_and_die);
      if (tcsetattr (STDIN_FILENO, TCSANOW, &raw) == 0)
        s->tty_raw = true;
    }
  /* stdin may be a file or /dev/null, which epoll cannot watch: the
   * console is then output-only. */
  if (evloop_add (s->loop, STDIN_FILENO, EPOLLIN, on_input, s) == 0)
    s->in_fd = STDIN_FILENO;
}

int serial_new (struct kvm_vm *k, struct evloop *loop, struct bus *pio, const char *socket_path,
                serial_line_fn on_line, void *opaque, struct serial **out, berth_err *err)
{
  struct serial *s = calloc (1, sizeof *s);
  if (s == NULL)
    return berth_fail_errno (err, "calloc");
  s->kvm = k;
  s->loop = loop;
  s->in_fd = s->out_fd = s->listen_fd = -1;
  s->resume_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  s->on_line = on_line;
  s->opaque = opaque;
  s->mcr = 0x08; /* OUT2 */
  pthread_mutex_init (&s->lock, NULL);
  pthread_cond_init (&s->ring_cond, NULL);
  int r = 0;
  if (s->resume_fd < 0 || evloop_add (loop, s->resume_fd, EPOLLIN, on_resume, s) < 0)
    r = berth_fail_errno (err, "serial: eventfd");
  else if (socket_path)
    {
      s->socket_mode = true;
      r = listen_socket (s, socket_path, err);
    }
  else
    stdio_input (s);
  if (r == 0)
    r = bus_register (pio, SERIAL_COM1_BASE, 8, &serial_ops, s, err);
  if (r == 0)
    {
      r = -pthread_create (&s->writer, NULL, writer_main, s);
      if (r < 0)
        berth_fail (err, -r, "serial writer thread");
      else
        s->writer_started = true;
    }
  if (r < 0)
    {
      serial_free (s);
      return r;
    }
  *out = s;
  return 0;
}

void serial_free (struct serial *s)
{
  if (s == NULL)
    return;
  pthread_mutex_lock (&s->lock);
  s->stopping = true;
  pthread_cond_signal (&s->ring_cond);
  pthread_mutex_unlock (&s->lock);
  if (s->writer_started)
    pthread_join (s->writer, NULL);
  if (s->in_fd >= 0)
    evloop_del (s->loop, s->in_fd);
  if (s->listen_fd >= 0)
    {
      evloop_del (s->loop, s->listen_fd);
      close (s->listen_fd);
    }
  if (s->socket_mode && s->in_fd >= 0)
    close (s->in_fd);
  if (s->resume_fd >= 0)
    {
      evloop_del (s->loop, s->resume_fd);
      close (s->resume_fd);
    }
  if (s->socket_path)
    unlink (s->socket_path);
  if (s->tty_raw)
    tcsetattr (STDIN_FILENO, TCSANOW, &s->saved_tty);
  free (s->socket_path);
  pthread_cond_destroy (&s->ring_cond);
  pthread_mutex_destroy (&s->lock);
  free (s);
}
