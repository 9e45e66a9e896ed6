/*
 * Booting a node in this process: the config is read and validated first
 * (a bad config never boots), then the kernel runs core, which starts
 * init with the config.
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "init/config.h"
#include "init/init.h"
#include "tools/node.h"

#define NODE_MAX_ROM_DIRS 16

int node_run(const char *config, const char **rom_dirs, int nrom)
{
	return node_boot(config, rom_dirs, nrom, 0);
}

int node_boot(const char *config, const char **rom_dirs, int nrom, int serve)
{
	const char *dirs[NODE_MAX_ROM_DIRS];
	char err[CONFIG_ERR_MAX], *copy = NULL;
	struct core_config core = {0};
	struct init_config *cfg;
	struct init *in;
	int n = 0, code;

	/* this node's own config and init state: nothing is shared with
	 * another node this process may run */
	cfg = calloc(1, sizeof *cfg);
	in = calloc(1, sizeof *in);
	if (!cfg || !in) {
		fprintf(stderr, "capsule run: out of memory\n");
		free(cfg);
		free(in);
		return 2;
	}
	in->cfg = cfg;
	if (config_load(config, cfg, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		code = 2;
		goto out;
	}
	for (int i = 0; i < nrom && n < NODE_MAX_ROM_DIRS - 2; i++)
		dirs[n++] = rom_dirs[i];
	if (!nrom)
		dirs[n++] = "build/components";
	copy = strdup(config);
	if (copy)
		dirs[n++] = dirname(copy);
	core.rom_dirs = dirs;
	core.nrom = n;
	core.init_construct = init_construct;
	core.init_arg = in;
	core.serve = serve;
	fflush(stdout);
	code = kernel_boot(core_main, &core);
	fflush(stdout);
	if (core.status) {
		code = 2;
	} else if (code < 0) {
		fprintf(stderr,
			"capsule run: %s: node stopped without a result "
			"(every thread blocked)\n",
			config);
		code = 2;
	}
out:
	free(copy);
	free(in);
	free(cfg);
	return code;
}
