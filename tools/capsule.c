/*
 * capsule: the command line.  `capsule run CONFIG` boots a node in the
 * foreground and exits when all of init's children have exited.
 */
#include <stdio.h>
#include <string.h>

#include "tools/control.h"
#include "tools/inspect.h"
#include "tools/node.h"

#define MAX_ROM_DIRS 8

static int usage(void)
{
	fprintf(stderr, "usage: capsule run [--rom DIR]... CONFIG\n"
			"       capsule node [--rom DIR]... CONFIG --control SOCK\n"
			"       capsule ps --node SOCK\n"
			"       capsule checkpoint --node SOCK NAME -o IMAGE\n"
			"       capsule restore --node SOCK IMAGE [NAME]\n");
	return 2;
}

static int cmd_run(int argc, char **argv)
{
	const char *rom[MAX_ROM_DIRS];
	int nrom = 0;
	const char *config = NULL;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--rom")) {
			if (i + 1 >= argc || nrom == MAX_ROM_DIRS)
				return usage();
			rom[nrom++] = argv[++i];
		} else if (argv[i][0] == '-' || config) {
			fprintf(stderr, "capsule run: unexpected argument '%s'\n",
				argv[i]);
			return usage();
		} else {
			config = argv[i];
		}
	}
	if (!config)
		return usage();
	return node_run(config, rom, nrom);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 2, argv + 2);
	if (!strcmp(argv[1], "inspect"))
		return inspect_main(argc - 2, argv + 2);
	if (!strcmp(argv[1], "node"))
		return control_node_cli(argc - 2, argv + 2);
	if (!strcmp(argv[1], "ps") || !strcmp(argv[1], "checkpoint") ||
	    !strcmp(argv[1], "restore"))
		return control_cli(argv[1], argc - 2, argv + 2);
	fprintf(stderr,
		"capsule: unknown command '%s' (run, node, ps, checkpoint, restore, "
		"inspect)\n",
		argv[1]);
	return 2;
}
