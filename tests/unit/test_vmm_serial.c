/* The 8250/16550A model's registers as Linux's driver probes and uses
 * them, and the console line watcher, through the PIO bus (no KVM: the
 * interrupt line goes to a closed VM fd and is ignored). */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "vmm/serial.h"

static struct bus pio;
static struct serial *uart;
static char lines[4][128];
static int nlines;

static void on_line (void *opaque, const char *line)
{
  if (nlines < 4)
    snprintf (lines[nlines++], sizeof lines[0], "%s", line);
}

static void setup (void)
{
  static struct kvm_vm fake_kvm = { .vm_fd = -1, .kvm_fd = -1 };
  struct evloop *loop;
  berth_err err = NULL;
  CHECK (evloop_new (&loop, &err) == 0);
  bus_init (&pio, "pio");
  char path[] = "/tmp/test_vmm_serial.XXXXXX";
  CHECK (mkdtemp (path) != NULL);
  char sock[128];
  snprintf (sock, sizeof sock, "%s/console.sock", path);
  CHECK (serial_new (&fake_kvm, loop, &pio, sock, on_line, NULL, &uart, &err) == 0);
}

static uint8_t rd (unsigned reg)
{
  uint8_t v = 0;
  CHECK (bus_access (&pio, SERIAL_COM1_BASE + reg, &v, 1, false));
  return v;
}

static void wr (unsigned reg, uint8_t v)
{
  CHECK (bus_access (&pio, SERIAL_COM1_BASE + reg, &v, 1, true));
}

TEST (uart_probe_registers)
{
  setup ();
  CHECK (rd (5) == 0x60);           /* LSR: THR empty, transmitter empty */
  CHECK ((rd (2) & 0x0f) == 0x01);  /* IIR: no interrupt */
  wr (7, 0xa5);
  CHECK (rd (7) == 0xa5);           /* scratch */
  wr (3, 0x80);                     /* DLAB */
  wr (0, 0x01);
  wr (1, 0x00);
  CHECK (rd (0) == 0x01 && rd (1) == 0x00);
  wr (3, 0x03);                     /* 8N1, DLAB off */
  CHECK (rd (3) == 0x03);
  wr (2, 0x01);                     /* FIFO on: a 16550A */
  CHECK ((rd (2) & 0xc0) == 0xc0);
  /* loopback: MSR mirrors MCR (Linux's autoconfig checks 0x90) */
  wr (4, 0x10 | 0x0a);
  CHECK ((rd (6) & 0xf0) == 0x90);
  wr (0, 'Z');
  CHECK (rd (5) & 0x01);            /* data ready */
  CHECK (rd (0) == 'Z');
  CHECK (!(rd (5) & 0x01));
  wr (4, 0x08);
  CHECK ((rd (6) & 0xf0) == 0xb0);  /* DCD, DSR, CTS */
}

TEST (uart_interrupt_identification)
{
  setup ();
  wr (1, 0x02);                     /* enable THR-empty: raised at once */
  CHECK ((rd (2) & 0x0f) == 0x02);
  CHECK ((rd (2) & 0x0f) == 0x01);  /* reading IIR acknowledged it */
  wr (0, 'a');
  CHECK ((rd (2) & 0x0f) == 0x02);  /* sent: empty again */
  wr (1, 0x01);                     /* receive interrupts */
  wr (4, 0x10);
  wr (0, 'b');                      /* loopback: received */
  CHECK ((rd (2) & 0x0f) == 0x04);
  CHECK (rd (0) == 'b');
  CHECK ((rd (2) & 0x0f) == 0x01);
  /* 100 bytes into the 64-byte FIFO: the rest is dropped */
  for (int i = 0; i < 100; i++)
    wr (0, (uint8_t) i);
  int n = 0;
  while (rd (5) & 1)
    CHECK (rd (0) == (uint8_t) n++);
  CHECK (n == 64);
  wr (0, 'c');
  wr (2, 0x03);                     /* FCR: clear the receive FIFO */
  CHECK (!(rd (5) & 1));
}

TEST (uart_console_lines)
{
  setup ();
  const char *text = "first line\r\nKernel panic - not syncing: x\nno newline yet";
  for (const char *p = text; *p; p++)
    wr (0, (uint8_t) *p);
  CHECK (nlines == 2);
  CHECK_STR (lines[0], "first line");
  CHECK_STR (lines[1], "Kernel panic - not syncing: x");
  /* a line longer than the watcher's buffer is cut, not overflowed */
  for (int i = 0; i < 2000; i++)
    wr (0, 'x');
  wr (0, '\n');
  CHECK (nlines == 3);
  CHECK (strlen (lines[2]) == 127 && lines[2][0] == 'n');
  serial_free (uart);
}
