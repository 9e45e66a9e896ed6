/*
 * Guest code for the unit tests that run a Unicorn engine: SNIPPET(name,
 * body) puts the assembly `body` into .rodata between the symbols name
 * and name_end, to be copied into a guest code page.
 */
#ifndef TESTS_GUEST_SNIPPET_H
#define TESTS_GUEST_SNIPPET_H

#include <stdint.h>

#define SNIPPET(name, body)                                                              \
	__asm__(".pushsection .rodata\n.globl " #name "\n" #name ":\n" body              \
		"\n.globl " #name "_end\n" #name "_end:\n.popsection\n");                \
	extern const uint8_t name[], name##_end[]

#endif
