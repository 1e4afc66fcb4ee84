/* A minimal i8042 keyboard controller (after Firecracker's devices/legacy
 * i8042): a command byte, an output buffer, self test, the reset pulse and
 * key injection.  No keyboard is attached beyond what SendCtrlAltDel
 * queues; keyboard commands are acknowledged (0xFA). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/platform.h"
#include "vmm/vmm.h"

#define OUTBUF 16
#define STATUS_OBF 0x01
#define STATUS_SYS 0x04
#define STATUS_CMD 0x08 /* last write went to the command port */
#define CB_KBD_INT 0x01
#define CB_SYS 0x04
#define CB_XLATE 0x40

#define CMD_READ_CB 0x20
#define CMD_WRITE_CB 0x60
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_RESET_CPU 0xfe
#define KBD_ACK 0xfa

struct i8042 {
  struct kvm_vm *kvm;
  platform_exit_fn exit_fn;
  void *opaque;
  pthread_mutex_t lock;
  uint8_t cb;       /* command byte */
  uint8_t status;
  bool expect_cb;   /* next data write is the command byte */
  uint8_t buf[OUTBUF];
  unsigned head, count;
};

static void push (struct i8042 *d, uint8_t v)
{
  if (d->count == OUTBUF)
    return;
  d->buf[(d->head + d->count) % OUTBUF] = v;
  d->count++;
}

/* One interrupt per byte: Linux's handler reads one byte per IRQ. */
static void kick (struct i8042 *d)
{
  if (d->count > 0 && (d->cb & CB_KBD_INT))
    (void) kvm_irq_pulse (d->kvm, I8042_GSI);
}

static void i8042_read (void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
  struct i8042 *d = opaque;
  memset (data, 0, len);
  pthread_mutex_lock (&d->lock);
  if (off == 0) /* 0x60 */
    {
      if (d->count > 0)
        {
          data[0] = d->buf[d->head];
          d->head = (d->head + 1) % OUTBUF;
          d->count--;
          kick (d);
        }
    }
  else if (off == 4) /* 0x64 */
    data[0] = d->status | (d->count > 0 ? STATUS_OBF : 0);
  pthread_mutex_unlock (&d->lock);
}

static void command (struct i8042 *d, uint8_t v)
{
  switch (v)
    {
    case CMD_READ_CB: push (d, d->cb); break;
    case CMD_WRITE_CB: d->expect_cb = true; break;
    case CMD_SELF_TEST: push (d, 0x55); break;
    case CMD_KBD_TEST: push (d, 0x00); break;
    case CMD_RESET_CPU:
      pthread_mutex_unlock (&d->lock);
      d->exit_fn (d->opaque, VMM_EXIT_REBOOT);
      pthread_mutex_lock (&d->lock);
      break;
    default: break; /* enable/disable keyboard or aux: nothing to do */
    }
}

static void i8042_write (void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
  struct i8042 *d = opaque;
  uint8_t v = data[0];
  pthread_mutex_lock (&d->lock);
  if (off == 4)
    {
      d->status |= STATUS_CMD;
      command (d, v);
    }
  else if (off == 0)
    {
      d->status &= ~STATUS_CMD;
      if (d->expect_cb)
        {
          d->cb = v;
          d->expect_cb = false;
        }
      else
        {
          push (d, KBD_ACK);
          if (v == 0xff) /* keyboard reset: ack, then self-test passed */
            push (d, 0xaa);
        }
    }
  kick (d);
  pthread_mutex_unlock (&d->lock);
}

static const struct bus_ops i8042_ops = { .read = i8042_read, .write = i8042_write };

int i8042_new (struct kvm_vm *k, struct bus *pio, platform_exit_fn exit_fn, void *opaque, struct i8042 **out,
               berth_err *err)
{
  struct i8042 *d = calloc (1, sizeof *d);
  if (d == NULL)
    return berth_fail_errno (err, "calloc");
  d->kvm = k;
  d->exit_fn = exit_fn;
  d->opaque = opaque;
  d->cb = CB_KBD_INT | CB_SYS | CB_XLATE;
  d->status = STATUS_SYS;
  pthread_mutex_init (&d->lock, NULL);
  /* 0x60..0x64 as one range: 0x61-0x63 (the PC speaker port 0x61 among
   * them) read as zero. */
  int r = bus_register (pio, I8042_DATA_PORT, 5, &i8042_ops, d, err);
  if (r < 0)
    {
      i8042_free (d);
      return r;
    }
  *out = d;
  return 0;
}

int i8042_ctrl_alt_del (struct i8042 *d)
{
  /* Set-2 make codes of Ctrl, Alt, Del (as Firecracker sends them). */
  static const uint8_t keys[] = { 0x14, 0x11, 0xe0, 0x71 };
  pthread_mutex_lock (&d->lock);
  if (OUTBUF - d->count < sizeof keys)
    {
      pthread_mutex_unlock (&d->lock);
      return -EBUSY;
    }
  for (size_t i = 0; i < sizeof keys; i++)
    push (d, keys[i]);
  kick (d);
  pthread_mutex_unlock (&d->lock);
  return 0;
}

void i8042_free (struct i8042 *d)
{
  if (d == NULL)
    return;
  pthread_mutex_destroy (&d->lock);
  free (d);
}
