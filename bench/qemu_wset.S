/*
 * QEMU's guest for bench/bench_migrate.c: the same work as capsule's
 * components/bench_wset, as a multiboot kernel (32-bit protected mode,
 * no paging) that QEMU boots with -kernel.  It writes every 4-byte word
 * of WSET_MB MiB from 4 MiB up with a non-zero pattern, says so with one
 * byte 'T' on the debug port 0xe9 (-debugcon), then rewrites one word of
 * each of 1% of those pages (655 of 65536 at 256 MiB), spread evenly,
 * continuously, the pass count in it.  WSET_MB is given at assembly
 * (-DWSET_MB=256).
 */
#ifndef WSET_MB
#define WSET_MB 256
#endif
#define BASE	  0x400000
#define PAGES	  (WSET_MB * 256)
#define WSET	  (PAGES * 10 / 1000)
#define STRIDE	  (PAGES / WSET * 4096)
#define MB_MAGIC  0x1badb002
#define MB_FLAGS  0x00010000 /* the load addresses below */

	.code32
	.section .text
	.globl _start
	.align 4
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)
	.long mb_header /* header_addr */
	.long mb_header /* load_addr */
	.long 0		/* load_end_addr: the whole file */
	.long 0		/* bss_end_addr: none */
	.long _start	/* entry_addr */

_start:
	cli
	mov $0x90000, %esp
	/* touch: word i = i * 2654435761 + 1 (never zero for these i) */
	mov $BASE, %edi
	mov $(BASE + WSET_MB * 1024 * 1024), %ecx
	xor %eax, %eax
1:	mov %eax, %edx
	imul $2654435761, %edx, %edx
	or $1, %edx
	mov %edx, (%edi)
	add $4, %edi
	inc %eax
	cmp %ecx, %edi
	jb 1b
	mov $0xe9, %dx
	mov $'T', %al
	outb %al, %dx
	/* rewrite the working set, pass after pass */
	mov $1, %eax
2:	mov $BASE, %edi
	mov $WSET, %ecx
3:	mov %eax, (%edi)
	add $STRIDE, %edi
	dec %ecx
	jnz 3b
	inc %eax
	jmp 2b
