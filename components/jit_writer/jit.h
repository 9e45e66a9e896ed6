/* The "Jit" service of jit_writer and jit_runner: code in a dataspace
 * that one component writes and the other runs (kernel/guest/code_shared.c). */
#ifndef JIT_H
#define JIT_H

enum jit_op {
	JIT_DS = 1,    /* -> caps[0] = the code dataspace, w0 = its size */
	JIT_WRITE = 2, /* w0 = k: the chain again, every block adding k */
	JIT_DONE = 3,  /* the writer exits after its reply */
};

#define JIT_SIZE   0x2000 /* two pages */
#define JIT_STRIDE 16	  /* bytes per block */
#define JIT_BLOCKS (JIT_SIZE / JIT_STRIDE)
#define JIT_PASSES 20

#endif
