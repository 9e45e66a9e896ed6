/*
 * init's top level: start every child of the config, and when the last
 * one has ended, print the summary and exit with the node's result.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "init/init.h"

void init_construct(struct env *env, void *arg)
{
	/* init's state belongs to its node: the launcher made it, with the
	 * config, and frees it after the node ended */
	struct init *in = arg;
	struct init_config *cfg = in->cfg;
	const struct native_registry *natives = in->natives;

	memset(in, 0, sizeof *in);
	in->env = env;
	in->cfg = cfg;
	in->natives = natives;
	in->child = calloc((size_t)cfg->nstart, sizeof *in->child);
	if (!in->child) {
		env_log(env, "init: no memory for %d children", cfg->nstart);
		env_exit(env, 2);
	}
	in->nchildren = cfg->nstart;
	for (int i = 0; i < cfg->nstart; i++) {
		in->child[i].init = in;
		in->child[i].cfg = &cfg->start[i];
		in->child[i].index = i;
	}
	for (int i = 0; i < in->nchildren; i++)
		child_start(&in->child[i]);
	init_child_ended(in);
}

/* 2 if a child could not be started, else 1 if one failed, else 0. */
static int node_result(const struct init *in)
{
	int code = 0;

	for (int i = 0; i < in->nchildren; i++) {
		const struct child *c = &in->child[i];
		if (c->state == CHILD_FAILED)
			return 2;
		if (c->state == CHILD_FAULTED || c->exit_code != 0)
			code = 1;
	}
	return code;
}

void init_child_ended(struct init *in)
{
	int code;

	if (in->done)
		return;
	for (int i = 0; i < in->nchildren; i++)
		if (in->child[i].state == CHILD_RUNNING)
			return;
	in->done = 1;
	for (int i = 0; i < in->nchildren; i++) {
		const struct child *c = &in->child[i];
		switch (c->state) {
		case CHILD_EXITED:
			env_log(in->env, "%s exited with %d", c->cfg->name, c->exit_code);
			break;
		case CHILD_FAULTED:
			env_log(in->env, "%s faulted (%s at ip=0x%llx)", c->cfg->name,
				child_fault_name(c), (unsigned long long)c->fault_ip);
			break;
		default:
			env_log(in->env, "%s failed to start", c->cfg->name);
		}
	}
	code = node_result(in);
	/* nothing of the children is needed any more: give back their
	 * records and the config's <start> nodes now, not when the node
	 * ends (a node that runs on serves its control socket for hours),
	 * so that a node whose children have all exited holds what a node
	 * with one child held (tests/kernel/components.sh) */
	init_release(in);
	config_free(in->cfg);
	env_exit(in->env, code);
}

void init_release(struct init *in)
{
	for (int i = 0; in->child && i < in->nchildren; i++) {
		free(in->child[i].session);
		free(in->child[i].service);
		free(in->child[i].native);
	}
	free(in->child);
	in->child = NULL;
	in->nchildren = 0;
}
