/*
 * The help texts of `capsule`, all rendered from the command table
 * (tools/capsule.c): `capsule help CMD`, the overview, the man page
 * (`capsule help --man`, installed as capsule.1) and the word lists
 * the bash completion asks for (`capsule help --list [CMD]`).
 */
#include <string.h>

#include "tools/cli.h"

static const char cli_exit_text[] =
    "0 done; 1 the node or the tool refused (the reason is "
    "printed);\n2 bad arguments, or no node at the socket; "
    "130 cancelled with Ctrl-C.";

static const char cli_common_text[] =
    "  -q, --quiet           print only errors\n"
    "  -v, --verbose         print what the node reports "
    "on the way\n"
    "  -h, --help            this text\n";

/* "--node SOCK" or "[--force]" as the synopsis shows it into buf. */
static const char *cli_opt_synopsis(const struct cli_opt *o, char *buf, size_t size)
{
	int req = o->flags & CLI_REQUIRED;

	snprintf(buf, size, "%s%s%s%s%s%s", req ? "" : "[", o->name, o->arg ? " " : "",
		 o->arg ? o->arg : "", req ? "" : "]",
		 o->flags & CLI_REPEAT ? "..." : "");
	return buf;
}

static void cli_synopsis(FILE *f, const struct cli_cmd *c)
{
	char buf[96];

	fprintf(f, "capsule %s", c->name);
	for (int i = 0; i < CLI_MAX_OPTS && c->opts[i].name; i++)
		fprintf(f, " %s", cli_opt_synopsis(&c->opts[i], buf, sizeof buf));
	if (c->args && c->args[0])
		fprintf(f, " %s", c->args);
	fputc('\n', f);
}

/* The option's left column ("-o, --output IMAGE"). */
static void cli_opt_left(const struct cli_opt *o, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s%s%s", o->alias ? o->alias : "", o->alias ? ", " : "",
		 o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

void cli_help_cmd(FILE *f, const struct cli_cmd *c)
{
	char left[96];

	fprintf(f, "usage: ");
	cli_synopsis(f, c);
	fprintf(f, "\n%s\n\n%s\n\noptions:\n", c->summary, c->text);
	for (int i = 0; i < CLI_MAX_OPTS && c->opts[i].name; i++) {
		cli_opt_left(&c->opts[i], left, sizeof left);
		fprintf(f, "  %-21s %s%s\n", left, c->opts[i].help,
			c->opts[i].flags & CLI_REQUIRED ? " (required)" : "");
	}
	fprintf(f, "%s\nexample:\n%s\n\nexit status:\n%s\n", cli_common_text, c->example,
		cli_exit_text);
}

void cli_help_all(FILE *f, const struct cli_cmd *cmds, int n)
{
	fprintf(f,
		"capsule %s: run components on a capability microkernel node;\n"
		"checkpoint, restore and migrate them with their capabilities.\n\n"
		"usage: capsule COMMAND [OPTION]... [ARGUMENT]...\n\ncommands:\n",
		cli_version);
	for (int i = 0; i < n; i++)
		fprintf(f, "  %-11s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f,
		"\n  capsule help COMMAND    a command's options and an example\n"
		"  capsule --version       the version, image format and ABI\n"
		"\nOptions take --opt VALUE or --opt=VALUE.\nexit status:\n%s\n",
		cli_exit_text);
}

/* Text for roff: a leading '.' or '\'' escaped, '\' doubled, '-' as \-. */
static void roff(FILE *f, const char *s)
{
	int bol = 1;

	for (; *s; s++) {
		if (bol && (*s == '.' || *s == '\''))
			fputs("\\&", f);
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
		bol = *s == '\n';
	}
}

static void cli_man_cmd(FILE *f, const struct cli_cmd *c)
{
	char left[96];

	fprintf(f, ".SS ");
	roff(f, c->name);
	fprintf(f, "\n.B ");
	cli_synopsis(f, c);
	fprintf(f, ".PP\n");
	roff(f, c->text);
	fprintf(f, "\n");
	for (int i = 0; i < CLI_MAX_OPTS && c->opts[i].name; i++) {
		cli_opt_left(&c->opts[i], left, sizeof left);
		fprintf(f, ".TP\n.B ");
		roff(f, left);
		fprintf(f, "\n");
		roff(f, c->opts[i].help);
		fprintf(f, "%s\n", c->opts[i].flags & CLI_REQUIRED ? " (required)" : "");
	}
	fprintf(f, ".PP\nExample:\n.PP\n.nf\n.RS\n");
	roff(f, c->example);
	fprintf(f, "\n.RE\n.fi\n");
}

void cli_man(FILE *f, const struct cli_cmd *cmds, int n)
{
	fprintf(f,
		".TH CAPSULE 1 \"\" \"capsule %s\" \"User Commands\"\n"
		".SH NAME\ncapsule \\- run, checkpoint, restore and migrate "
		"components of a capability microkernel node\n"
		".SH SYNOPSIS\n.B capsule\n.I command\n[\\fIoption\\fR]... "
		"[\\fIargument\\fR]...\n.SH DESCRIPTION\n",
		cli_version);
	roff(f, "A node is one Linux process running a kernel, core, init and the "
		"components its config names.  A component under a monitor can be "
		"checkpointed to an image, restored from it on the same or another "
		"node, or migrated to another node; its capabilities come back intact "
		"and it goes on where it stopped.  Options take --opt VALUE or "
		"--opt=VALUE.  Every command also takes -q (only errors), -v (what the "
		"node reports on the way) and -h (its help).");
	fprintf(f, "\n.SH COMMANDS\n");
	for (int i = 0; i < n; i++)
		cli_man_cmd(f, &cmds[i]);
	fprintf(f, ".SH EXIT STATUS\n");
	roff(f, cli_exit_text);
	fprintf(f, "\n.SH SEE ALSO\nThe README and docs/ of the capsule source tree.\n");
}

void cli_list(FILE *f, const struct cli_cmd *cmds, int n, const char *cmd)
{
	for (int i = 0; i < n; i++) {
		if (!cmd) {
			fprintf(f, "%s\n", cmds[i].name);
			continue;
		}
		if (strcmp(cmds[i].name, cmd))
			continue;
		for (int k = 0; k < CLI_MAX_OPTS && cmds[i].opts[k].name; k++) {
			const struct cli_opt *o = &cmds[i].opts[k];
			fprintf(f, "%s%s%s\n", o->name, o->arg ? " " : "",
				o->arg ? o->arg : "");
			if (o->alias)
				fprintf(f, "%s%s%s\n", o->alias, o->arg ? " " : "",
					o->arg ? o->arg : "");
		}
		fprintf(f, "--quiet\n--verbose\n--help\n");
	}
	if (!cmd)
		fprintf(f, "help\n");
}
