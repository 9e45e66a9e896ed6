/*
 * capsule: the command line.  Each command is one entry of the table
 * below: its options, positional arguments, help text and example
 * (tools/cli.h); tools/cli.c parses argv against it and renders the
 * help, the man page and the completion lists from it.  An option is
 * one line here plus cli_get() in the command's function.
 */
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/control.h"
#include "tools/inspect.h"
#include "tools/inspect_dot.h"
#include "tools/node.h"
#include "transport/transport.h"

#define MAX_ROM_DIRS 8

#define OPT_NODE                                                                         \
	{                                                                                \
		"--node", NULL, "SOCK",                                                  \
		    "the node's control socket (capsule node --control)", CLI_REQUIRED   \
	}
#define OPT_ROM                                                                          \
	{                                                                                \
		"--rom", NULL, "DIR",                                                    \
		    "look for component binaries in DIR (before the defaults)",          \
		    CLI_REPEAT                                                           \
	}

#define OPT_REALTIME                                                                     \
	{                                                                                \
		"--realtime", NULL, NULL,                                                \
		    "run the node's thread SCHED_RR 10 and its watchdog SCHED_FIFO 11 "  \
		    "(needs CAP_SYS_NICE)"                                               \
	}

/* --realtime: refused in one line if the process may not use it. */
static int realtime_opt(const struct cli_args *a)
{
	char err[160];

	if (!cli_get(a, "--realtime"))
		return 0;
	if (node_realtime_check(err, sizeof err)) {
		fprintf(stderr, "capsule %s: %s\n", a->cmd->name, err);
		return 2; /* as a node that cannot boot */
	}
	node_set_realtime(1);
	return 0;
}

static int cmd_run(const struct cli_args *a)
{
	const char *rom[MAX_ROM_DIRS];
	int nrom = cli_all(a, "--rom", rom, MAX_ROM_DIRS);
	int rc = realtime_opt(a);

	return rc ? rc : node_run(a->pos[0], rom, nrom);
}

static int cmd_node(const struct cli_args *a)
{
	int rc = realtime_opt(a);

	return rc ? rc : control_node_cli(a);
}

/* `capsule keygen FILE`: a new pre-shared key for node-to-node links. */
static int cmd_keygen(const struct cli_args *a)
{
	char err[TRANSPORT_ERR_MAX];

	if (key_generate(a->pos[0], err, sizeof err)) {
		fprintf(stderr, "capsule keygen: %s\n", err);
		return CLI_FAILED;
	}
	return 0;
}

/* inspect keeps its own argument reader (tools/inspect.c): it gets the
 * options given, as given, then the image. */
static int cmd_inspect(const struct cli_args *a)
{
	char *argv[2 * CLI_MAX_OPTS + CLI_MAX_POS];
	int argc = 0;

	if (cli_get(a, "--dot") || cli_get(a, "--svg")) /* the caps' graph */
		return inspect_dot_main(a->pos[0], a->npos > 1 ? a->pos[1] : NULL,
					cli_get(a, "--svg"));
	if (a->npos > 1)
		return cli_usage_error(a->cmd,
				       "a second image (%s) only with --dot: the badges "
				       "before and after a restore",
				       a->pos[1]);

	for (int i = 0; i < CLI_MAX_OPTS && a->cmd->opts[i].name; i++) {
		if (!a->val[i] || !strcmp(a->cmd->opts[i].name, "--svg"))
			continue;
		argv[argc++] = (char *)a->cmd->opts[i].name;
		if (a->cmd->opts[i].arg)
			argv[argc++] = (char *)a->val[i];
	}
	for (int i = 0; i < a->npos; i++)
		argv[argc++] = (char *)a->pos[i];
	return inspect_main(argc, argv);
}

static const struct cli_cmd commands[] = {
    {.name = "run",
     .args = "CONFIG",
     .min_pos = 1,
     .max_pos = 1,
     .summary = "boot a node in the foreground from an init config",
     .text = "Boots a node in this process: the kernel, core, and init with\n"
	     "CONFIG (an XML <config>).  Component output is prefixed by its\n"
	     "label.  When all of init's children have exited, init prints one\n"
	     "line per child and capsule exits: 0 if every child exited with 0,\n"
	     "1 if one failed or faulted, 2 for a bad config.  Binaries are looked\n"
	     "up in each --rom DIR in turn (with no --rom: build/components of\n"
	     "the current directory), then in CONFIG's directory.  --realtime\n"
	     "runs the node's thread under real-time scheduling, so that a busy\n"
	     "host does not delay its timers (docs/design.md, \"Priorities under\n"
	     "host load\": busy guests then hold a CPU at real-time priority).",
     .example = "  capsule run --rom build/components examples/demo.xml",
     .opts = {OPT_ROM, OPT_REALTIME},
     .run = cmd_run},
    {.name = "node",
     .args = "CONFIG",
     .min_pos = 1,
     .max_pos = 1,
     .summary = "run a node that takes requests on a control socket",
     .text = "Like run, but the node also serves the control socket SOCK for\n"
	     "ps, checkpoint, restore and migrate, and runs until SIGINT or\n"
	     "SIGTERM (it says when all of init's children have ended; with\n"
	     "--exit-when-done it exits then, with init's result as run does).\n"
	     "With --listen it takes migrations from other nodes holding the same\n"
	     "--key.",
     .example = "  capsule node --rom build/components examples/counter-node.xml \\\n"
		"      --control /tmp/a.sock &\n"
		"  capsule ps --node /tmp/a.sock",
     .opts = {OPT_ROM,
	      {"--control", NULL, "SOCK", "serve the control socket SOCK", CLI_REQUIRED},
	      {"--listen", NULL, "HOST:PORT",
	       "take migrations on HOST:PORT (needs --key)"},
	      {"--key", NULL, "FILE", "the pre-shared key of the node-to-node link"},
	      {"--log", NULL, "FILE", "write the node's log to FILE instead of stderr"},
	      {"--exit-when-done", NULL, NULL,
	       "exit when all of init's children have ended (0, 1 or 2 as run)"},
	      OPT_REALTIME},
     .run = cmd_node},
    {.name = "ps",
     .args = "",
     .summary = "list a node's components, threads and kernel objects",
     .text = "Asks the node at SOCK for its components: one line each with its\n"
	     "role (a monitor, the target it runs, or a plain component), state,\n"
	     "RAM used/quota, threads and capabilities, and for a target the\n"
	     "checkpoints and restores its monitor did; then the kernel's object\n"
	     "counts.  The control socket answers while a checkpoint, restore or\n"
	     "migration runs (a monitor that is busy shows state busy).",
     .example = "  capsule ps --node /tmp/a.sock\n  capsule ps --node /tmp/a.sock --json",
     .opts = {OPT_NODE,
	      {"--json", NULL, NULL, "print JSON instead of a table"},
	      {"--raw", NULL, NULL,
	       "print the node's lines as they come (pd, thread, kernel)"}},
     .run = control_ps_cli},
    {.name = "checkpoint",
     .args = "NAME",
     .min_pos = 1,
     .max_pos = 1,
     .summary = "write a component's state to an image file",
     .text = "Pauses component NAME (it must run under a monitor), writes its\n"
	     "threads, memory and capabilities to IMAGE and lets it run on.  The\n"
	     "image is written under a temporary name and renamed when complete;\n"
	     "an existing IMAGE is kept unless --force is given.  Ctrl-C cancels:\n"
	     "the component runs on and no file is left.  From then on the pages\n"
	     "it writes are tracked: --parent names that image, and only the pages\n"
	     "written since go into the new one (restore follows the chain).\n"
	     "--stop ends the component once its image is written; the default,\n"
	     "--leave-running, lets it go on.",
     .example = "  capsule checkpoint --node /tmp/a.sock counter -o base.img\n"
		"  capsule checkpoint --node /tmp/a.sock counter --parent base.img -o "
		"d1.img",
     .opts = {OPT_NODE,
	      {"--output", "-o", "IMAGE", "the image file to write", CLI_REQUIRED},
	      {"--force", "-f", NULL, "replace IMAGE if it exists"},
	      {"--parent", NULL, "IMAGE",
	       "an incremental image: the pages written since IMAGE"},
	      {"--stop", NULL, NULL, "end the component once its image is written"},
	      {"--leave-running", NULL, NULL, "let it run on (the default)"}},
     .run = control_checkpoint_cli},
    {.name = "resume",
     .args = "NAME",
     .min_pos = 1,
     .max_pos = 1,
     .summary = "start a component a migration left paused",
     .text = "A migration whose source vanished after the destination had\n"
	     "restored the component leaves it paused there (it cannot know\n"
	     "whether the source still runs it).  Resume it once you know the\n"
	     "source does not; discard ends it instead.",
     .example = "  capsule resume --node /tmp/b.sock counter",
     .opts = {OPT_NODE},
     .run = control_held_cli},
    {.name = "discard",
     .args = "NAME",
     .min_pos = 1,
     .max_pos = 1,
     .summary = "end a component a migration left paused",
     .text = "Ends the paused copy a failed migration left at this node (see\n"
	     "resume).",
     .example = "  capsule discard --node /tmp/b.sock counter",
     .opts = {OPT_NODE},
     .run = control_held_cli},
    {.name = "restore",
     .args = "IMAGE [NAME]",
     .min_pos = 1,
     .max_pos = 2,
     .summary = "bring a component back from an image",
     .text = "Restores IMAGE into the monitor NAME of the node at SOCK (by\n"
	     "default the component the image names).  That monitor must have\n"
	     "no target yet (a <start> of the monitor with no <target> binary\n"
	     "running).  The component goes on where it was checkpointed.\n"
	     "With --lazy it goes on as soon as its threads and capabilities are\n"
	     "back; its memory pages follow on first touch and in the background.\n"
	     "On a terminal it shows the phase, bytes done and rate.  Ctrl-C\n"
	     "cancels: what was built is undone, the monitor stays empty.",
     .example = "  capsule restore --node /tmp/b.sock counter.img\n"
		"  capsule restore --node /tmp/b.sock --lazy big.img",
     .opts = {OPT_NODE,
	      {"--lazy", NULL, NULL,
	       "resume before the memory is back; pages come on demand"}},
     .run = control_restore_cli},
    {.name = "migrate",
     .args = "NAME",
     .min_pos = 1,
     .max_pos = 1,
     .summary = "move a component to another node",
     .text = "Checkpoints NAME, sends the image to the node listening on\n"
	     "HOST:PORT (capsule node --listen, same --key), which restores it;\n"
	     "NAME ends here once the destination runs it, and runs on here if\n"
	     "the migration fails.  On a terminal it shows the image taken or\n"
	     "sent, bytes done and rate (with --postcopy, after the commit, the\n"
	     "pages that follow).  Ctrl-C before the commit cancels: NAME\n"
	     "runs on here and the destination drops what it has.",
     .example = "  capsule migrate --node /tmp/a.sock counter --to 127.0.0.1:7000",
     .opts = {OPT_NODE,
	      {"--to", NULL, "HOST:PORT", "the destination node's listener",
	       CLI_REQUIRED},
	      {"--timeout", NULL, "SECONDS", "give up after SECONDS (0.1 to 3600; 30)"},
	      {"--postcopy", NULL, NULL,
	       "resume at the destination first; the pages follow"}},
     .run = control_migrate_cli},
    {.name = "inspect",
     .args = "IMAGE [AFTER]",
     .min_pos = 1,
     .max_pos = 2,
     .summary = "print what an image file holds",
     .text = "Reads and checks IMAGE (checksums, sizes, references) and prints\n"
	     "its header, component, threads, memory regions and capabilities.\n"
	     "--dot draws the capabilities: each kcap with its badge, the object\n"
	     "it names (session, dataspace, region map, thread, the PD session\n"
	     "of a gate or signal), and each session's server; with AFTER, a\n"
	     "checkpoint of the component after its restore from IMAGE, each\n"
	     "kcap shows its old badge and the new one.  --section NAME\n"
	     "prints one section (image, component, threads, sessions,\n"
	     "dataspaces, regions, caps, signals, timers, memory, stats);\n"
	     "--page ADDR dumps the page of the target's memory at ADDR.",
     .example = "  capsule inspect counter.img\n  capsule inspect --json counter.img\n"
		"  capsule inspect --caps counter.img\n"
		"  capsule inspect --page 0x400000 counter.img\n"
		"  capsule inspect --caps --dot counter.img | dot -Tsvg -o caps.svg\n"
		"  capsule inspect --dot counter.img restored.img",
     .opts = {{"--json", NULL, NULL, "print JSON instead of text"},
	      {"--section", NULL, "NAME", "print only that section"},
	      {"--caps", NULL, NULL, "the capabilities only (--section caps)"},
	      {"--page", NULL, "ADDR", "hex dump of the page at ADDR"},
	      {"--dot", NULL, NULL, "print the capability graph as Graphviz DOT"},
	      {"--svg", NULL, "FILE",
	       "render the capability graph to FILE (needs Graphviz)"}},
     .run = cmd_inspect},
    {.name = "keygen",
     .args = "FILE",
     .min_pos = 1,
     .max_pos = 1,
     .summary = "make a key for node-to-node links",
     .text = "Writes a new random pre-shared key to FILE (mode 0600).  Nodes\n"
	     "that migrate to each other are started with the same --key FILE.",
     .example = "  capsule keygen /tmp/link.key",
     .run = cmd_keygen},
};

int main(int argc, char **argv)
{
	return cli_main(commands, (int)(sizeof commands / sizeof commands[0]), argc,
			argv);
}
