/* The capability graph of an image as Graphviz DOT (tools/inspect_dot.c). */
#ifndef TOOLS_INSPECT_DOT_H
#define TOOLS_INSPECT_DOT_H

#include <stdio.h>

struct image_model;
void inspect_dot(const struct image_model *m, FILE *f);
/* `capsule inspect --dot [--svg FILE] IMAGE`: the exit code. */
int inspect_dot_main(const char *path, const char *svg);

#endif
