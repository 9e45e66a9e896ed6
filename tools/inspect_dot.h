/* The capability graph of an image as Graphviz DOT (tools/inspect_dot.c). */
#ifndef TOOLS_INSPECT_DOT_H
#define TOOLS_INSPECT_DOT_H

#include <stdio.h>

struct image_model;
/* after (may be NULL): the same component checkpointed after a restore:
 * each kcap shows its old badge and its new one. */
void inspect_dot(const struct image_model *m, const struct image_model *after, FILE *f);
/* `capsule inspect --dot [--svg FILE] IMAGE [AFTER]`: the exit code. */
int inspect_dot_main(const char *path, const char *after_path, const char *svg);

#endif
