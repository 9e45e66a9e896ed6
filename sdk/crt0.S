/*
 * Guest entry.  The parent starts the initial thread at _start with rsp
 * pointing at a struct startup_info (include/capsule/abi.h) on top of its
 * stack.  .bss is not cleared here: the loader maps it from zeroed RAM
 * (clearing a 160 KiB cap map with emulated stores would cost
 * milliseconds at every start).
 */
	.section .text.start, "ax", @progbits
	.globl	_start
	.type	_start, @function
_start:
	xorl	%ebp, %ebp		/* outermost frame for backtraces */
	movq	%rsp, %rdi		/* base_start(const struct startup_info *) */
	andq	$-16, %rsp		/* SysV: 16-aligned at the call */
	call	base_start
	/* base_start must not return; if it does, halt with a fault: a
	 * guest's only other way out is a syscall it cannot make here. */
1:	ud2
	jmp	1b
	.size	_start, . - _start

	.section .note.GNU-stack, "", @progbits
