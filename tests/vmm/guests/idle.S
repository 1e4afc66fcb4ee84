/* The idle test guest (tests/integration/vmm-api.sh, bench/vmm): its
 * first instructions write "BERTH-IDLE\n" to the 8250 at 0x3f8, which is
 * the first exit to the VMM and the first byte the VMM prints; then it
 * halts with interrupts off, so it runs until the VMM is stopped.  Built
 * with guest.ld (one segment at 1 MiB, 64-bit entry). */
        .section .text.start, "ax"
        .globl _start
_start:
        mov $0x3f8, %dx
        lea msg(%rip), %rsi
1:      lodsb
        test %al, %al
        jz 2f
        out %al, (%dx)
        jmp 1b
2:      cli
        hlt
        jmp 2b
msg:    .asciz "BERTH-IDLE\n"
        .section .note.GNU-stack, "", @progbits
