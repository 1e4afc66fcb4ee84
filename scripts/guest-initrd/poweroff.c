/* Power the guest off through berth-vmm's shutdown port: one 16-bit write
 * of SLP_EN (bit 13) to port 0x604, as ACPI would write PM1a_CNT.  The
 * test kernel has no ACPI, so the kernel's own poweroff only halts. */
#include <stdio.h>
#include <sys/io.h>
#include <sys/reboot.h>
#include <unistd.h>

int main (void)
{
  sync ();
  if (ioperm (0x604, 2, 1) != 0)
    {
      perror ("ioperm");
      return 1;
    }
  outw (0x2000, 0x604);
  /* A VMM without the port: let the kernel halt. */
  reboot (RB_POWER_OFF);
  return 1;
}
