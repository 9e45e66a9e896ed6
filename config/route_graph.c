/*
 * The graph of routes among the <start> nodes of a config
 * (config_route_cycle, config/config.h): which child may send session
 * requests to which, and whether that comes back to where it started.
 * A group the monitor checkpoints as one is started and restored servers
 * first, which needs an order without cycles.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

static int provides(const struct start_config *s, const char *service)
{
	for (int i = 0; i < s->nprovides; i++)
		if (!service[0] || !strcmp(s->provides[i], service))
			return 1;
	return 0;
}

/* Does an entry of table rt send a request of a's to b? */
static int table_edge(const struct route_table *rt, const struct start_config *b)
{
	for (int i = 0; i < rt->nentries; i++) {
		const struct route_entry *e = &rt->entry[i];
		for (int j = 0; j < e->ntargets; j++) {
			const struct route_target *t = &e->target[j];
			if (t->kind == ROUTE_CHILD && !strcmp(t->child, b->name))
				return 1;
			if (t->kind == ROUTE_ANY_CHILD && provides(b, e->service))
				return 1;
		}
	}
	return 0;
}

static int edge(const struct init_config *cfg, int a, int b)
{
	if (a == b)
		return 0;
	return (cfg->start[a].route && table_edge(cfg->start[a].route, &cfg->start[b])) ||
	       table_edge(&cfg->default_route, &cfg->start[b]);
}

int config_route_edge(const struct init_config *cfg, int a, int b)
{
	return a >= 0 && b >= 0 && a < cfg->nstart && b < cfg->nstart && edge(cfg, a, b);
}

/* Depth-first search from v; colour 0 unseen, 1 on the path, 2 done.
 * path[0, depth) is the current path.  1 with the cycle's start index in
 * *from when v reaches a node on the path. */
static int visit(const struct init_config *cfg, int v, char *colour, int *path, int depth,
		 int *from, int *len)
{
	colour[v] = 1;
	path[depth] = v;
	for (int w = 0; w < cfg->nstart; w++) {
		if (!edge(cfg, v, w))
			continue;
		if (colour[w] == 1) {
			for (int k = 0; k <= depth; k++)
				if (path[k] == w)
					*from = k;
			*len = depth + 1;
			path[depth + 1] = w;
			return 1;
		}
		if (!colour[w] && visit(cfg, w, colour, path, depth + 1, from, len))
			return 1;
	}
	colour[v] = 2;
	return 0;
}

int config_route_cycle(const struct init_config *cfg, char *out, size_t size)
{
	char *colour = calloc((size_t)cfg->nstart + 1, 1);
	int *path = calloc((size_t)cfg->nstart + 2, sizeof *path);
	int found = 0, from = 0, len = 0;

	if (!colour || !path) {
		free(colour);
		free(path);
		snprintf(out, size, "out of memory");
		return 1;
	}
	for (int v = 0; v < cfg->nstart && !found; v++)
		if (!colour[v])
			found = visit(cfg, v, colour, path, 0, &from, &len);
	if (found) {
		size_t n = 0;
		out[0] = 0;
		for (int k = from; k <= len && n < size; k++)
			n += (size_t)snprintf(out + n, size - n, "%s%s",
					      k > from ? " -> " : "",
					      cfg->start[path[k]].name);
	}
	free(colour);
	free(path);
	return found;
}
