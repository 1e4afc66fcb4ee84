/* What both test guests (guest.c, virtio-guest.c) need: port I/O, the
 * 8250 console at 0x3f8, the zero page's command line, the VMM's shutdown
 * port.  Freestanding ring-0 code; all static inline so each guest keeps
 * only what it calls. */
#ifndef BERTH_TEST_GUEST_LIB_H
#define BERTH_TEST_GUEST_LIB_H

#include <stdint.h>

#define COM1 0x3f8
#define ZP_CMDLINE_PTR 0x228

static inline void outb (uint16_t port, uint8_t v) { __asm__ volatile ("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw (uint16_t port, uint16_t v) { __asm__ volatile ("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb (uint16_t port)
{
  uint8_t v;
  __asm__ volatile ("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

static inline void putc (char c) { outb (COM1, (uint8_t) c); }
static inline void puts (const char *s)
{
  while (*s)
    putc (*s++);
}

static inline void putdec (uint64_t v)
{
  char buf[21];
  int i = 20;
  buf[i] = 0;
  do
    buf[--i] = (char) ('0' + v % 10);
  while ((v /= 10) && i > 0);
  puts (buf + i);
}

/* The VMM's shutdown port (SLP_EN): exit status 0. */
static inline void poweroff (void)
{
  outw (0x604, 0x2000);
  for (;;)
    __asm__ volatile ("cli; hlt");
}

static inline int starts_with (const char *s, const char *p)
{
  while (*p)
    if (*s++ != *p++)
      return 0;
  return 1;
}

/* The value of "test=" on the command line. */
static inline const char *test_name (const char *cmdline)
{
  for (const char *p = cmdline; *p; p++)
    if ((p == cmdline || p[-1] == ' ') && starts_with (p, "test="))
      return p + 5;
  return "";
}

#endif
