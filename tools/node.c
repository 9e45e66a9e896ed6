#include <stdio.h>
#include "tools/node.h"

int node_run(const char *config, const char **rom_dirs, int nrom)
{
	fprintf(stderr, "capsule run: %s: node runtime not built yet\n", config);
	return 2;
}
