/*
 * Booting a node in this process: the config is read and validated first
 * (a bad config never boots), then the kernel runs core, which starts
 * init with the config and the native components a node offers (the
 * monitor), registered here so that init knows none of them.
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/core.h"
#include "init/init.h"
#include "init/native_registry.h"
#include "monitor/monitor.h"
#include "tools/node.h"

#define NODE_MAX_ROM_DIRS 16

static int monitor_parse(const void *xml, void *arg, char *err, size_t errlen)
{
	return monitor_config_parse(xml, arg, err, errlen);
}

/* The native binaries a <start> of a node's config may name. */
static const struct native_entry node_natives[] = {
    {"monitor", sizeof(struct monitor_config), monitor_parse, monitor_construct},
};

static int register_natives(struct native_registry *r)
{
	int rc;

	for (size_t i = 0; i < sizeof node_natives / sizeof node_natives[0]; i++)
		if ((rc = native_registry_add(r, &node_natives[i]))) {
			fprintf(stderr, "capsule run: native component '%s': %s\n",
				node_natives[i].binary, strerror(-rc));
			return rc;
		}
	return 0;
}

static int node_rt; /* --realtime */

void node_set_realtime(int on)
{
	node_rt = on;
}

int node_run(const char *config, const char **rom_dirs, int nrom)
{
	return node_boot(config, rom_dirs, nrom, 0);
}

int node_boot(const char *config, const char **rom_dirs, int nrom, int serve)
{
	const char *dirs[NODE_MAX_ROM_DIRS];
	char err[CONFIG_ERR_MAX], *copy = NULL;
	struct core_config core = {0};
	struct native_registry natives = {0};
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
	if (register_natives(&natives)) {
		code = 2;
		goto out;
	}
	in->cfg = cfg;
	in->natives = &natives;
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
	core.ram_total = cfg->ram;
	core.cap_total = cfg->caps;
	core.rom_dirs = dirs;
	core.nrom = n;
	core.init_construct = init_construct;
	core.init_arg = in;
	core.serve = serve;
	if (node_rt && node_realtime_enter(err, sizeof err)) {
		fprintf(stderr, "capsule run: %s\n", err);
		code = 2;
		goto out;
	}
	fflush(stdout);
	code = kernel_boot(core_main, &core);
	fflush(stdout);
	if (node_rt)
		node_realtime_leave();
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
	init_release(in);
	free(in);
	config_free(cfg);
	free(cfg);
	return code;
}
