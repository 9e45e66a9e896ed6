/*
 * The command line's option tables: every command of `capsule` is one
 * struct cli_cmd (tools/capsule.c) listing its options, positional
 * arguments, help text and example.  One parser (tools/cli.c) reads
 * argv against it ("--opt VALUE", "--opt=VALUE", "-o VALUE", "--" ends
 * the options), and the same table prints `capsule help CMD`, the
 * overview, the man page and what bash completion offers.  Adding an
 * option is one line in the table plus cli_get() where it is used.
 */
#ifndef TOOLS_CLI_H
#define TOOLS_CLI_H

#include <stdio.h>

#define CLI_MAX_OPTS   16
#define CLI_MAX_POS    4
#define CLI_MAX_REPEAT 16

/* Exit codes of every command (documented in `capsule help`). */
enum cli_exit {
	CLI_OK = 0,	    /* done */
	CLI_FAILED = 1,	    /* the node or the tool refused: the reason is printed */
	CLI_USAGE = 2,	    /* bad arguments, or no node at the socket */
	CLI_CANCELLED = 130 /* Ctrl-C: the operation was cancelled */
};

enum cli_opt_flags {
	CLI_REQUIRED = 1, /* the command needs it */
	CLI_REPEAT = 2,	  /* may be given several times (cli_all) */
};

struct cli_opt {
	const char *name;  /* "--node" */
	const char *alias; /* another spelling ("-o" for "--output"), or NULL */
	const char *arg;   /* its value's name ("SOCK"); NULL: a flag */
	const char *help;  /* one line */
	unsigned flags;
};

struct cli_args;

struct cli_cmd {
	const char *name;
	const char *args; /* the positional arguments ("NAME", "IMAGE [NAME]") */
	int min_pos, max_pos;
	const char *summary; /* one line for the overview */
	const char *text;    /* what it does: a paragraph, lines of ~72 columns */
	const char *example; /* one or more command lines */
	struct cli_opt opts[CLI_MAX_OPTS];
	int (*run)(const struct cli_args *a);
};

/* A parsed command line: values by the option's index in cmd->opts. */
struct cli_args {
	const struct cli_cmd *cmd;
	const char *val[CLI_MAX_OPTS];	 /* the last value; "" for a given flag */
	const char *rep[CLI_MAX_REPEAT]; /* values of CLI_REPEAT options, in order */
	int rep_opt[CLI_MAX_REPEAT];
	int nrep;
	const char *pos[CLI_MAX_POS];
	int npos;
	int quiet, verbose; /* -q, -v: every command has them */
};

/* Parse argv (after the command's name) against cmd into a: 0, CLI_USAGE
 * after one line on stderr, or -1 when --help was asked (help printed). */
int cli_parse(const struct cli_cmd *cmd, int argc, char **argv, struct cli_args *a);
/* The value of option name ("--node"; an alias works too), or NULL. */
const char *cli_get(const struct cli_args *a, const char *name);
/* Every value of a CLI_REPEAT option into out[max]: how many. */
int cli_all(const struct cli_args *a, const char *name, const char **out, int max);
/* One line "capsule CMD: MESSAGE (see capsule help CMD)" on stderr; CLI_USAGE. */
int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* `capsule` with cmds[n]: dispatch, help, --version.  The exit code. */
int cli_main(const struct cli_cmd *cmds, int n, int argc, char **argv);

/* Help renderings (tools/cli_help.c). */
void cli_help_cmd(FILE *f, const struct cli_cmd *c);
void cli_help_all(FILE *f, const struct cli_cmd *cmds, int n);
void cli_man(FILE *f, const struct cli_cmd *cmds, int n);
/* For completion: the commands, or one command's options, one a line. */
void cli_list(FILE *f, const struct cli_cmd *cmds, int n, const char *cmd);

extern const char cli_version[];

#endif
