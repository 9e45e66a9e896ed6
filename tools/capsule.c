/*
 * capsule: the command line.  `capsule run CONFIG` boots a node in the
 * foreground and exits when all of init's children have exited.
 */
#include <stdio.h>
#include <string.h>

#include "tools/control.h"
#include "tools/inspect.h"
#include "tools/node.h"
#include "transport/transport.h"

#define MAX_ROM_DIRS 8

static int usage(void)
{
	fprintf(stderr,
		"usage: capsule run [--rom DIR]... CONFIG\n"
		"       capsule node [--rom DIR]... CONFIG --control SOCK\n"
		"                    [--listen HOST:PORT] [--key FILE]\n"
		"       capsule ps --node SOCK\n"
		"       capsule checkpoint --node SOCK NAME -o IMAGE [--parent IMAGE]\n"
		"                          [--stop|--leave-running]\n"
		"       capsule resume|discard --node SOCK NAME\n"
		"       capsule restore --node SOCK IMAGE [NAME]\n"
		"       capsule migrate --node SOCK NAME --to HOST:PORT "
		"[--timeout SECONDS]\n"
		"       capsule keygen FILE\n"
		"       capsule inspect IMAGE [--json]\n");
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

/* `capsule keygen FILE`: a new pre-shared key for node-to-node links. */
static int cmd_keygen(int argc, char **argv)
{
	char err[TRANSPORT_ERR_MAX];

	if (argc != 1 || argv[0][0] == '-') {
		fprintf(stderr, "usage: capsule keygen FILE\n");
		return 2;
	}
	if (key_generate(argv[0], err, sizeof err)) {
		fprintf(stderr, "capsule keygen: %s\n", err);
		return 1;
	}
	return 0;
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
	if (!strcmp(argv[1], "keygen"))
		return cmd_keygen(argc - 2, argv + 2);
	if (!strcmp(argv[1], "ps") || !strcmp(argv[1], "checkpoint") ||
	    !strcmp(argv[1], "restore") || !strcmp(argv[1], "migrate") ||
	    !strcmp(argv[1], "resume") || !strcmp(argv[1], "discard"))
		return control_cli(argv[1], argc - 2, argv + 2);
	fprintf(stderr,
		"capsule: unknown command '%s' (run, node, ps, checkpoint, restore, "
		"migrate, resume, discard, keygen, inspect)\n",
		argv[1]);
	return 2;
}
