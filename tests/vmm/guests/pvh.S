/* The PVH test guest (tests/integration/vmm-boot.sh): an ELF with a Xen
 * PVH note (XEN_ELFNOTE_PHYS32_ENTRY) whose entry, pvh_start, runs in
 * 32-bit protected mode as the PVH ABI starts it, checks EBX's
 * hvm_start_info and prints on the 8250 (port I/O works in any mode):
 *
 *   pvh magic=ok version=V ebx=0x... paging=off cs=0x8
 *   cmdline: <the command line>
 *   modules=N initrd=0x<addr> size=<bytes> bytes=<up to 32 bytes of it>
 *   memmap entries=N
 *   memmap 0x<addr> 0x<size> <type>        (one line per entry)
 *
 * then powers off through the VMM's shutdown port.  The ELF entry
 * (_start) is a 64-bit stub that prints "linux64 entry" and powers off, so
 * a test sees which entry the VMM took.  Ring-0 code is emulated on PVM
 * hosts: a few thousand instructions, nothing exotic. */
#define COM1 0x3f8
#define SHUTDOWN_PORT 0x604
#define SLP_EN 0x2000
#define HVM_START_MAGIC 0x336ec578
#define XEN_ELFNOTE_PHYS32_ENTRY 18

        .section .note.Xen, "a"
        .p2align 2
        .long 4, 4, XEN_ELFNOTE_PHYS32_ENTRY
        .asciz "Xen"
        .long pvh_start

/* ---------------------------------------------------- 64-bit Linux entry */
        .section .text.start, "ax"
        .code64
        .globl _start
_start:
        lea msg_linux64(%rip), %rsi
        mov $COM1, %dx
1:      lodsb
        test %al, %al
        jz 2f
        out %al, (%dx)
        jmp 1b
2:      mov $SHUTDOWN_PORT, %dx
        mov $SLP_EN, %ax
        out %ax, (%dx)
3:      cli
        hlt
        jmp 3b

/* ---------------------------------------------------- 32-bit PVH entry */
        .text
        .code32
        .globl pvh_start
pvh_start:
        mov $stack_top, %esp
        mov %ebx, %ebp                  /* struct hvm_start_info */
        cmpl $HVM_START_MAGIC, (%ebp)
        je 1f
        mov $msg_bad_magic, %esi
        call puts
        jmp poweroff
1:      mov $msg_magic_ok, %esi
        call puts
        mov 4(%ebp), %eax               /* version */
        call putdec
        mov $msg_ebx, %esi
        call puts
        mov %ebp, %eax
        call puthex
        mov $msg_paging, %esi
        call puts
        mov %cr0, %eax
        mov $msg_off, %esi
        test $0x80000000, %eax
        jz 2f
        mov $msg_on, %esi
2:      call puts
        mov $msg_cs, %esi
        call puts
        mov %cs, %eax
        movzwl %ax, %eax
        call puthex
        call newline

        mov $msg_cmdline, %esi          /* cmdline_paddr (below 4 GiB) */
        call puts
        mov 24(%ebp), %esi
        call puts
        call newline

        mov $msg_modules, %esi
        call puts
        mov 12(%ebp), %eax              /* nr_modules */
        call putdec
        cmpl $0, 12(%ebp)
        je 4f
        mov 16(%ebp), %edi              /* modlist_paddr: the first module */
        mov $msg_initrd, %esi
        call puts
        mov 4(%edi), %edx
        mov (%edi), %eax
        call puthex64
        mov $msg_size, %esi
        call puts
        mov 8(%edi), %eax
        call putdec
        mov $msg_bytes, %esi
        call puts
        mov 8(%edi), %ecx               /* at most 32 of its bytes */
        cmp $32, %ecx
        jbe 3f
        mov $32, %ecx
3:      mov (%edi), %esi
        mov $COM1, %dx
        rep outsb
4:      call newline

        mov $msg_memmap, %esi
        call puts
        mov 48(%ebp), %eax              /* memmap_entries */
        call putdec
        call newline
        mov 40(%ebp), %edi              /* memmap_paddr */
        mov 48(%ebp), %ebx
5:      test %ebx, %ebx
        jz poweroff
        mov $msg_entry, %esi
        call puts
        mov (%edi), %eax
        mov 4(%edi), %edx
        call puthex64
        call space
        mov 8(%edi), %eax
        mov 12(%edi), %edx
        call puthex64
        call space
        mov 16(%edi), %eax
        call putdec
        call newline
        add $24, %edi
        dec %ebx
        jmp 5b

poweroff:
        mov $SHUTDOWN_PORT, %dx
        mov $SLP_EN, %ax
        out %ax, (%dx)
6:      cli
        hlt
        jmp 6b

/* putc: AL.  Clobbers EDX. */
putc:
        mov $COM1, %dx
        out %al, (%dx)
        ret
space:
        mov $' ', %al
        jmp putc
newline:
        mov $'\n', %al
        jmp putc

/* puts: the NUL-terminated string at ESI.  Clobbers EAX, EDX, ESI. */
puts:
        lodsb
        test %al, %al
        jz 1f
        call putc
        jmp puts
1:      ret

/* putdec: EAX in decimal.  Clobbers EAX, ECX, EDX, ESI. */
putdec:
        mov $numbuf_end, %esi
        movb $0, (%esi)
        mov $10, %ecx
1:      xor %edx, %edx
        div %ecx
        add $'0', %dl
        dec %esi
        mov %dl, (%esi)
        test %eax, %eax
        jnz 1b
        jmp puts

/* puthex: "0x" and EAX in hex without leading zeros; puthex64: EDX:EAX.
 * Clobber EAX, ECX, EDX, ESI. */
puthex:
        xor %edx, %edx
puthex64:
        push %eax
        push %edx
        mov $'0', %al
        call putc
        mov $'x', %al
        call putc
        pop %eax                        /* the high half */
        test %eax, %eax
        jz 1f
        xor %ecx, %ecx                  /* no padding: its leading digit is nonzero */
        call hex32
        mov $8, %ecx                    /* the low half then in full */
        jmp 2f
1:      mov $1, %ecx
2:      pop %eax
/* hex32: EAX in hex, at least ECX digits. */
hex32:
        mov $numbuf_end, %esi
        movb $0, (%esi)
1:      mov %eax, %edx
        and $15, %edx
        movb hexdigits(%edx), %dl
        dec %esi
        mov %dl, (%esi)
        shr $4, %eax
        dec %ecx
        jg 1b
        test %eax, %eax
        jnz 1b
        jmp puts

        .section .rodata
hexdigits:      .ascii "0123456789abcdef"
msg_linux64:    .asciz "linux64 entry\n"
msg_bad_magic:  .asciz "pvh magic=bad\n"
msg_magic_ok:   .asciz "pvh magic=ok version="
msg_ebx:        .asciz " ebx="
msg_paging:     .asciz " paging="
msg_off:        .asciz "off"
msg_on:         .asciz "on"
msg_cs:         .asciz " cs="
msg_cmdline:    .asciz "cmdline: "
msg_modules:    .asciz "modules="
msg_initrd:     .asciz " initrd="
msg_size:       .asciz " size="
msg_bytes:      .asciz " bytes="
msg_memmap:     .asciz "memmap entries="
msg_entry:      .asciz "memmap "

        .bss
        .p2align 4
numbuf:         .skip 24
numbuf_end:     .skip 8
stack:          .skip 1024
stack_top:
