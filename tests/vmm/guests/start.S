/* Entry of the test guest: the VMM has set up long mode, paging, a stack
 * and RSI = the zero page. */
        .section .text.start, "ax"
        .globl _start
_start:
        mov %rsi, %rdi
        call guest_main
1:      cli
        hlt
        jmp 1b
