/*
 * The option parser and the dispatcher of `capsule` (see tools/cli.h).
 * Every command also takes -h/--help, -q/--quiet and -v/--verbose; those
 * are not in the tables.
 */
#include <stdarg.h>
#include <string.h>

#include "image/image.h"
#include <capsule/checkpoint_abi.h>
#include "tools/cli.h"

#ifndef CAPSULE_VERSION
#define CAPSULE_VERSION "unknown"
#endif

const char cli_version[] = CAPSULE_VERSION;

int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "capsule %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see capsule help %s)\n", cmd->name);
	return CLI_USAGE;
}

/* The index of the option spelled s (up to len bytes) in cmd, or -1. */
static int cli_find(const struct cli_cmd *cmd, const char *s, size_t len)
{
	for (int i = 0; i < CLI_MAX_OPTS && cmd->opts[i].name; i++) {
		const struct cli_opt *o = &cmd->opts[i];
		if ((strlen(o->name) == len && !strncmp(o->name, s, len)) ||
		    (o->alias && strlen(o->alias) == len && !strncmp(o->alias, s, len)))
			return i;
	}
	return -1;
}

/* The common flags; 1 if s was one of them, -1 for help. */
static int cli_common(struct cli_args *a, const char *s)
{
	if (!strcmp(s, "-h") || !strcmp(s, "--help"))
		return -1;
	if (!strcmp(s, "-q") || !strcmp(s, "--quiet"))
		return a->quiet = 1;
	if (!strcmp(s, "-v") || !strcmp(s, "--verbose"))
		return a->verbose = 1;
	return 0;
}

/* One option at argv[*i]; 0 or CLI_USAGE. */
static int cli_option(const struct cli_cmd *cmd, struct cli_args *a, int argc,
		      char **argv, int *i)
{
	const char *s = argv[*i], *eq = strchr(s, '=');
	size_t len = eq && s[1] == '-' ? (size_t)(eq - s) : strlen(s);
	int k = cli_find(cmd, s, len);
	const struct cli_opt *o = k < 0 ? NULL : &cmd->opts[k];
	const char *v;

	if (!o)
		return cli_usage_error(cmd, "unknown option '%.*s'", (int)len, s);
	if (!o->arg) {
		if (len != strlen(s))
			return cli_usage_error(cmd, "%s takes no value", o->name);
		v = "";
	} else if (len != strlen(s)) {
		v = eq + 1;
	} else if (*i + 1 < argc) {
		v = argv[++*i];
	} else {
		return cli_usage_error(cmd, "%s needs a value (%s)", o->name, o->arg);
	}
	if (o->arg && !v[0])
		return cli_usage_error(cmd, "%s: the %s is empty", o->name, o->arg);
	if (o->flags & CLI_REPEAT) {
		if (a->nrep == CLI_MAX_REPEAT)
			return cli_usage_error(cmd, "%s given more than %d times",
					       o->name, CLI_MAX_REPEAT);
		a->rep_opt[a->nrep] = k;
		a->rep[a->nrep++] = v;
	}
	a->val[k] = v;
	return 0;
}

int cli_parse(const struct cli_cmd *cmd, int argc, char **argv, struct cli_args *a)
{
	int only_pos = 0, rc;

	memset(a, 0, sizeof *a);
	a->cmd = cmd;
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];
		if (!only_pos && !strcmp(s, "--")) {
			only_pos = 1;
		} else if (!only_pos && s[0] == '-' && s[1]) {
			if ((rc = cli_common(a, s)) < 0)
				return -1;
			if (!rc && (rc = cli_option(cmd, a, argc, argv, &i)))
				return rc;
		} else if (a->npos == cmd->max_pos) {
			return cli_usage_error(cmd, "unexpected argument '%s'", s);
		} else {
			a->pos[a->npos++] = s;
		}
	}
	for (int i = 0; i < CLI_MAX_OPTS && cmd->opts[i].name; i++)
		if ((cmd->opts[i].flags & CLI_REQUIRED) && !a->val[i])
			return cli_usage_error(cmd, "missing %s %s", cmd->opts[i].name,
					       cmd->opts[i].arg ? cmd->opts[i].arg : "");
	if (a->npos < cmd->min_pos)
		return cli_usage_error(cmd, "missing %s", cmd->args);
	return 0;
}

const char *cli_get(const struct cli_args *a, const char *name)
{
	int k = cli_find(a->cmd, name, strlen(name));

	return k < 0 ? NULL : a->val[k];
}

int cli_all(const struct cli_args *a, const char *name, const char **out, int max)
{
	int k = cli_find(a->cmd, name, strlen(name)), n = 0;

	for (int i = 0; k >= 0 && i < a->nrep && n < max; i++)
		if (a->rep_opt[i] == k)
			out[n++] = a->rep[i];
	return n;
}

static const struct cli_cmd *cli_cmd_find(const struct cli_cmd *cmds, int n,
					  const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

static int cli_unknown(const struct cli_cmd *cmds, int n, const char *name)
{
	fprintf(stderr, "capsule: unknown command '%s' (", name);
	for (int i = 0; i < n; i++)
		fprintf(stderr, "%s%s", i ? ", " : "", cmds[i].name);
	fprintf(stderr, "; see capsule --help)\n");
	return CLI_USAGE;
}

/* `capsule help [CMD | --man | --list [CMD]]` */
static int cli_help(const struct cli_cmd *cmds, int n, int argc, char **argv)
{
	const struct cli_cmd *c;

	if (argc == 0) {
		cli_help_all(stdout, cmds, n);
		return 0;
	}
	if (argc == 1 && !strcmp(argv[0], "--man")) {
		cli_man(stdout, cmds, n);
		return 0;
	}
	if (argc <= 2 && !strcmp(argv[0], "--list")) {
		if (argc == 2 && !cli_cmd_find(cmds, n, argv[1]))
			return cli_unknown(cmds, n, argv[1]);
		cli_list(stdout, cmds, n, argc == 2 ? argv[1] : NULL);
		return 0;
	}
	if (argc != 1 || argv[0][0] == '-') {
		fprintf(stderr, "capsule help: usage: capsule help [COMMAND]\n");
		return CLI_USAGE;
	}
	if (!(c = cli_cmd_find(cmds, n, argv[0])))
		return cli_unknown(cmds, n, argv[0]);
	cli_help_cmd(stdout, c);
	return 0;
}

int cli_main(const struct cli_cmd *cmds, int n, int argc, char **argv)
{
	const struct cli_cmd *c;
	struct cli_args a;
	int rc;

	if (argc < 2) {
		cli_help_all(stderr, cmds, n);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("capsule %s (image format %u, checkpoint ABI %u)\n", cli_version,
		       IMAGE_VERSION, CR_ABI_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h"))
		return cli_help(cmds, n, argc - 2, argv + 2);
	if (!(c = cli_cmd_find(cmds, n, argv[1])))
		return cli_unknown(cmds, n, argv[1]);
	rc = cli_parse(c, argc - 2, argv + 2, &a);
	if (rc < 0) {
		cli_help_cmd(stdout, c);
		return 0;
	}
	return rc ? rc : c->run(&a);
}
