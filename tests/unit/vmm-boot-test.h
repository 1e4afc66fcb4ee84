/* What the boot loader tests (test_vmm_boot.c, test_vmm_pvh.c) share: a
 * 16 MiB guest memory in a malloc()ed buffer (no KVM) and a check that a
 * call failed with a given message. */
#ifndef BERTH_TEST_VMM_BOOT_TEST_H
#define BERTH_TEST_VMM_BOOT_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "vmm/boot.h"

#define MEM_SIZE (16u << 20)

static struct guest_mem mem;
static uint8_t *ram;

/* A fresh, zeroed guest memory (the previous one is freed). */
static inline void fake_mem (void)
{
  free (ram);
  ram = calloc (1, MEM_SIZE);
  CHECK (ram != NULL);
  guest_mem_init_fake (&mem, 0, ram, MEM_SIZE);
}

/* R is a failure whose message holds NEEDLE; frees the error. */
static inline int expect_fail (int r, berth_err *err, const char *needle)
{
  if (r >= 0)
    {
      printf ("  expected a failure with \"%s\"\n", needle);
      return 0;
    }
  int ok = *err && strstr ((*err)->msg, needle) != NULL;
  if (!ok)
    printf ("  error \"%s\" lacks \"%s\"\n", *err ? (*err)->msg : "(none)", needle);
  berth_error_free (err);
  return ok;
}

#endif
