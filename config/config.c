/*
 * The node's config reader (config/config.h): libxml2 parses (no
 * network, no entities), this file walks the tree and rejects anything it
 * does not know, so that a config that loads is one init can run
 * entirely.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include <capsule/abi.h>
#include "config/config.h"
#include "config/xml_walk.h"

/* <service name="S"/> lists (parent-provides, provides) */
static int parse_service_list(struct parse *p, xmlNode *n, char (*names)[CONFIG_NAME_MAX],
			      int *count)
{
	static const char *const attrs[] = {"name", NULL};
	xmlNode *c;
	int rc;

	if ((rc = walk_attrs(p, n, (const char *const[]){NULL})))
		return rc;
	WALK_EACH(p, n, c, rc)
	{
		char name[CONFIG_NAME_MAX];
		if (!walk_is(c, "service"))
			return walk_unknown(p, c, n);
		if ((rc = walk_attrs(p, c, attrs)) ||
		    (rc = walk_attr_name(p, c, "name", name)) || (rc = walk_empty(p, c)))
			return rc;
		for (int i = 0; i < *count; i++)
			if (!strcmp(names[i], name))
				return walk_fail(p, walk_line(c),
						 "service '%s' listed twice", name);
		if (*count == CONFIG_MAX_SERVICES)
			return walk_fail(p, walk_line(c), "more than %d services",
					 CONFIG_MAX_SERVICES);
		strcpy(names[(*count)++], name);
	}
	return rc;
}

/* The targets inside a <service> or <any-service> route entry. */
static int parse_targets(struct parse *p, xmlNode *n, struct route_entry *e)
{
	static const char *const child_attrs[] = {"name", NULL};
	xmlNode *c;
	int rc;

	WALK_EACH(p, n, c, rc)
	{
		struct route_target *t = &e->target[e->ntargets];
		if (e->ntargets == CONFIG_MAX_TARGETS)
			return walk_fail(p, walk_line(c), "more than %d route targets",
					 CONFIG_MAX_TARGETS);
		memset(t, 0, sizeof *t);
		if (walk_is(c, "parent")) {
			t->kind = ROUTE_PARENT;
			rc = walk_attrs(p, c, (const char *const[]){NULL});
		} else if (walk_is(c, "any-child")) {
			t->kind = ROUTE_ANY_CHILD;
			rc = walk_attrs(p, c, (const char *const[]){NULL});
		} else if (walk_is(c, "child")) {
			t->kind = ROUTE_CHILD;
			if (!(rc = walk_attrs(p, c, child_attrs)))
				rc = walk_attr_name(p, c, "name", t->child);
		} else {
			return walk_unknown(p, c, n);
		}
		if (rc || (rc = walk_empty(p, c)))
			return rc;
		e->ntargets++;
	}
	if (rc)
		return rc;
	if (!e->ntargets)
		return walk_fail(p, walk_line(n), "<%s> without a target",
				 (const char *)n->name);
	return 0;
}

/* <route> or <default-route> */
static int parse_route(struct parse *p, xmlNode *n, struct route_table *rt)
{
	static const char *const attrs[] = {"name", NULL};
	xmlNode *c;
	int rc;

	if ((rc = walk_attrs(p, n, (const char *const[]){NULL})))
		return rc;
	WALK_EACH(p, n, c, rc)
	{
		struct route_entry *e = &rt->entry[rt->nentries];
		if (rt->nentries == CONFIG_MAX_ROUTES)
			return walk_fail(p, walk_line(c), "more than %d route entries",
					 CONFIG_MAX_ROUTES);
		memset(e, 0, sizeof *e);
		e->line = (int)walk_line(c);
		if (walk_is(c, "service")) {
			if ((rc = walk_attrs(p, c, attrs)) ||
			    (rc = walk_attr_name(p, c, "name", e->service)))
				return rc;
		} else if (walk_is(c, "any-service")) {
			if ((rc = walk_attrs(p, c, (const char *const[]){NULL})))
				return rc;
		} else {
			return walk_unknown(p, c, n);
		}
		if ((rc = parse_targets(p, c, e)))
			return rc;
		rt->nentries++;
	}
	return rc;
}

static int parse_resource(struct parse *p, xmlNode *n, struct start_config *s)
{
	static const char *const attrs[] = {"name", "quantum", NULL};
	char name[CONFIG_NAME_MAX], quantum[32];
	int rc;

	if ((rc = walk_attrs(p, n, attrs)) || (rc = walk_attr_name(p, n, "name", name)))
		return rc;
	if (strcmp(name, "RAM"))
		return walk_fail(p, walk_line(n), "unknown resource '%s' (only RAM)",
				 name);
	rc = walk_attr(p, n, "quantum", quantum, sizeof quantum);
	if (rc < 0)
		return rc;
	if (rc == 1)
		return walk_fail(p, walk_line(n),
				 "<resource>: missing attribute 'quantum'");
	if (config_parse_size(quantum, &s->ram) || s->ram == 0)
		return walk_fail(p, walk_line(n), "<resource>: invalid quantum '%s'",
				 quantum);
	return walk_empty(p, n);
}

static int parse_start_child(struct parse *p, xmlNode *c, struct start_config *s,
			     unsigned *seen)
{
	static const char *const name_attr[] = {"name", NULL};
	const char *const order[] = {"binary", "resource", "provides", "route"};
	int rc;

	for (unsigned i = 0; i < 4; i++) {
		if (!walk_is(c, order[i]))
			continue;
		if (*seen & (1u << i))
			return walk_fail(p, walk_line(c),
					 "<start name=\"%s\">: <%s> given twice", s->name,
					 order[i]);
		*seen |= 1u << i;
		switch (i) {
		case 0:
			if ((rc = walk_attrs(p, c, name_attr)) ||
			    (rc = walk_attr_name(p, c, "name", s->binary)))
				return rc;
			return walk_empty(p, c);
		case 1:
			return parse_resource(p, c, s);
		case 2:
			if (!(s->provides =
				  calloc(CONFIG_MAX_SERVICES, sizeof *s->provides)))
				return walk_fail(p, walk_line(c),
						 "out of memory for a <provides>");
			return parse_service_list(p, c, s->provides, &s->nprovides);
		default:
			if (!(s->route = calloc(1, sizeof *s->route)))
				return walk_fail(p, walk_line(c),
						 "out of memory for a <route>");
			return parse_route(p, c, s->route);
		}
	}
	if (walk_is(c, "config"))
		return 0; /* a native child's own config (init/native_child.c) */
	return walk_fail(p, walk_line(c), "unknown element <%s> in <start name=\"%s\">",
			 (const char *)c->name, s->name);
}

/* Room for one more <start> (doubling; p->nalloc counts the room). */
static int grow_starts(struct parse *p, xmlNode *n, struct init_config *cfg)
{
	struct start_config *a;
	int want;

	if (cfg->nstart < p->nalloc)
		return 0;
	want = p->nalloc ? 2 * p->nalloc : 8;
	a = realloc(cfg->start, (size_t)want * sizeof *a);
	if (!a)
		return walk_fail(p, walk_line(n), "out of memory for %d <start> nodes",
				 want);
	cfg->start = a;
	p->nalloc = want;
	return 0;
}

/* <start priority="-N">: 0 .. -(prio_levels - 1), as in Genode's init
 * (a child is never above its parent); absent: 0. */
static int parse_priority(struct parse *p, xmlNode *n, const struct init_config *cfg,
			  struct start_config *s)
{
	char v[32], *end;
	long prio;
	int rc = walk_attr(p, n, "priority", v, sizeof v);

	if (rc)
		return rc < 0 ? rc : 0;
	errno = 0;
	prio = strtol(v, &end, 10);
	if (errno || end == v || *end || prio > 0 || prio <= -(long)cfg->prio_levels)
		return walk_fail(
		    p, s->line,
		    "<start name=\"%s\">: invalid priority '%s' (0 .. -%u with "
		    "prio_levels=\"%u\")",
		    s->name, v, cfg->prio_levels - 1, cfg->prio_levels);
	s->priority = (unsigned)-prio;
	return 0;
}

static int parse_start(struct parse *p, xmlNode *n, struct init_config *cfg)
{
	static const char *const attrs[] = {"name", "caps", "priority", NULL};
	struct start_config *s;
	char caps[32];
	unsigned seen = 0;
	xmlNode *c;
	int rc;

	if ((rc = grow_starts(p, n, cfg)))
		return rc;
	s = &cfg->start[cfg->nstart];
	memset(s, 0, sizeof *s);
	s->line = walk_line(n);
	s->ram = CONFIG_DEFAULT_RAM;
	s->caps = CONFIG_DEFAULT_CAPS;
	if ((rc = walk_attrs(p, n, attrs)) ||
	    (rc = walk_attr_name(p, n, "name", s->name)))
		return rc;
	if (config_find_start(cfg, s->name))
		return walk_fail(p, s->line, "duplicate <start> name '%s'", s->name);
	cfg->nstart++; /* from here config_free frees what s holds */
	rc = walk_attr(p, n, "caps", caps, sizeof caps);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		char *end;
		errno = 0;
		s->caps = strtoull(caps, &end, 10);
		if (errno || end == caps || *end || caps[0] == '-' || s->caps == 0)
			return walk_fail(p, s->line,
					 "<start name=\"%s\">: invalid caps '%s'",
					 s->name, caps);
	}
	if ((rc = parse_priority(p, n, cfg, s)))
		return rc;
	strcpy(s->binary, s->name);
	WALK_EACH(p, n, c, rc)
	if ((rc = parse_start_child(p, c, s, &seen)))
		return rc;
	return rc;
}

static int start_provides(const struct start_config *s, const char *service)
{
	for (int i = 0; i < s->nprovides; i++)
		if (!strcmp(s->provides[i], service))
			return 1;
	return 0;
}

/* After all <start> nodes are known: every <child name=X/> must exist,
 * not be the child itself, and (in a <service name=S> entry) provide S. */
static int check_route_targets(struct parse *p, const struct init_config *cfg,
			       const struct route_table *rt, const char *self, long line)
{
	for (int i = 0; i < rt->nentries; i++)
		for (int j = 0; j < rt->entry[i].ntargets; j++) {
			const struct route_target *t = &rt->entry[i].target[j];
			if (t->kind != ROUTE_CHILD)
				continue;
			if (!config_find_start(cfg, t->child))
				return walk_fail(p, line, "route to unknown child '%s'",
						 t->child);
			if (self && !strcmp(self, t->child))
				return walk_fail(p, line, "child '%s' routes to itself",
						 self);
			if (rt->entry[i].service[0] &&
			    !start_provides(config_find_start(cfg, t->child),
					    rt->entry[i].service))
				return walk_fail(p, rt->entry[i].line,
						 "route of service '%s' to child '%s', "
						 "which does not provide it",
						 rt->entry[i].service, t->child);
		}
	return 0;
}

/* <config ram="2G" caps="40000">: the node's budget (absent: 0, core's
 * default).  Every cap of it is a slot of core's cap space, so more caps
 * than that space has could never be used. */
static int parse_budget(struct parse *p, xmlNode *root, struct init_config *cfg)
{
	char v[32], *end;
	int rc = walk_attr(p, root, "ram", v, sizeof v);

	if (rc < 0)
		return rc;
	if (rc == 0 && (config_parse_size(v, &cfg->ram) || cfg->ram == 0))
		return walk_fail(p, walk_line(root), "<config>: invalid ram '%s'", v);
	rc = walk_attr(p, root, "caps", v, sizeof v);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		errno = 0;
		cfg->caps = strtoull(v, &end, 10);
		if (errno || end == v || *end || v[0] == '-' || cfg->caps == 0 ||
		    cfg->caps > CAP_SLOTS_NATIVE)
			return walk_fail(
			    p, walk_line(root),
			    "<config>: invalid caps '%s' (1 .. %u, the slots of "
			    "core's cap space)",
			    v, CAP_SLOTS_NATIVE);
	}
	return 0;
}

/* <config prio_levels="N">: N priority bands for the children, a power
 * of two (absent: 1, every child at init's own priority). */
static int parse_prio_levels(struct parse *p, xmlNode *root, struct init_config *cfg)
{
	char v[32], *end;
	unsigned long levels;
	int rc = walk_attr(p, root, "prio_levels", v, sizeof v);

	cfg->prio_levels = 1;
	if (rc)
		return rc < 0 ? rc : 0;
	errno = 0;
	levels = strtoul(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || !levels ||
	    levels > CONFIG_PRIO_LEVELS_MAX || (levels & (levels - 1)))
		return walk_fail(
		    p, walk_line(root),
		    "<config>: invalid prio_levels '%s' (a power of two, 1 .. %u)", v,
		    CONFIG_PRIO_LEVELS_MAX);
	cfg->prio_levels = (unsigned)levels;
	return 0;
}

/* Is n one of the root elements the caller reads itself? */
static int is_foreign(const struct parse *p, xmlNode *n)
{
	for (const char *const *f = p->foreign; f && *f; f++)
		if (walk_is(n, *f))
			return 1;
	return 0;
}

static int parse_config(struct parse *p, xmlNode *root, struct init_config *cfg)
{
	unsigned seen = 0;
	long default_line = 0;
	xmlNode *c;
	int rc;

	if (!walk_is(root, "config"))
		return walk_fail(p, walk_line(root), "root element is <%s>, not <config>",
				 (const char *)root->name);
	if ((rc = walk_attrs(
		 p, root, (const char *const[]){"ram", "caps", "prio_levels", NULL})) ||
	    (rc = parse_budget(p, root, cfg)) || (rc = parse_prio_levels(p, root, cfg)))
		return rc;
	WALK_EACH(p, root, c, rc)
	{
		if (walk_is(c, "start")) {
			rc = parse_start(p, c, cfg);
		} else if (is_foreign(p, c)) {
			continue;
		} else if (walk_is(c, "parent-provides") && !(seen & 1)) {
			seen |= 1;
			cfg->has_parent_provides = 1;
			rc = parse_service_list(p, c, cfg->parent_provides,
						&cfg->nparent_provides);
		} else if (walk_is(c, "default-route") && !(seen & 2)) {
			seen |= 2;
			default_line = walk_line(c);
			rc = parse_route(p, c, &cfg->default_route);
		} else if (walk_is(c, "parent-provides") || walk_is(c, "default-route")) {
			rc = walk_fail(p, walk_line(c), "<%s> given twice",
				       (const char *)c->name);
		} else {
			rc = walk_unknown(p, c, root);
		}
		if (rc)
			return rc;
	}
	if (rc)
		return rc;
	if (!cfg->nstart)
		return walk_fail(p, walk_line(root), "no <start> node");
	if ((rc = check_route_targets(p, cfg, &cfg->default_route, NULL, default_line)))
		return rc;
	for (int i = 0; i < cfg->nstart; i++)
		if (cfg->start[i].route &&
		    (rc = check_route_targets(p, cfg, cfg->start[i].route,
					      cfg->start[i].name, cfg->start[i].line)))
			return rc;
	return 0;
}

int config_load(const char *path, struct init_config *cfg, char *err, size_t errlen)
{
	struct parse p = {.path = path, .err = err, .errlen = errlen};
	xmlDoc *doc;
	FILE *f;
	int rc;

	if (errlen)
		err[0] = 0;
	config_free(cfg);
	if (!(f = fopen(path, "r"))) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return rc;
	}
	fclose(f);
	snprintf(cfg->path, sizeof cfg->path, "%s", path);
	xmlSetStructuredErrorFunc(&p, walk_xml_error);
	doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
	xmlSetStructuredErrorFunc(NULL, NULL);
	if (!doc || !xmlDocGetRootElement(doc)) {
		rc = p.failed ? -EINVAL : walk_fail(&p, 1, "cannot parse config");
		goto out;
	}
	rc = parse_config(&p, xmlDocGetRootElement(doc), cfg);
out:
	if (doc)
		xmlFreeDoc(doc);
	if (rc)
		config_free(cfg);
	return rc;
}

int config_parse_element(const void *xml_node, const char *const *foreign,
			 struct init_config *cfg, char *err, size_t errlen)
{
	xmlNode *root = (xmlNode *)xml_node;
	const char *url = root && root->doc && root->doc->URL
			      ? (const char *)root->doc->URL
			      : "<config>";
	struct parse p = {.path = url, .err = err, .errlen = errlen, .foreign = foreign};
	int rc;

	if (errlen)
		err[0] = 0;
	config_free(cfg);
	if (!root)
		return walk_fail(&p, 0, "no <config> element");
	snprintf(cfg->path, sizeof cfg->path, "%s", url);
	if ((rc = parse_config(&p, root, cfg)))
		config_free(cfg);
	return rc;
}

void config_free(struct init_config *cfg)
{
	for (int i = 0; i < cfg->nstart; i++) {
		free(cfg->start[i].route);
		free(cfg->start[i].provides);
	}
	free(cfg->start);
	memset(cfg, 0, sizeof *cfg);
}

const struct start_config *config_find_start(const struct init_config *cfg,
					     const char *name)
{
	for (int i = 0; i < cfg->nstart; i++)
		if (!strcmp(cfg->start[i].name, name))
			return &cfg->start[i];
	return NULL;
}

static const struct route_entry *route_match(const struct route_table *rt,
					     const char *service)
{
	for (int i = 0; i < rt->nentries; i++)
		if (!rt->entry[i].service[0] || !strcmp(rt->entry[i].service, service))
			return &rt->entry[i];
	return NULL;
}

const struct route_entry *config_route(const struct init_config *cfg,
				       const struct start_config *s, const char *service)
{
	const struct route_entry *e = s->route ? route_match(s->route, service) : NULL;

	return e ? e : route_match(&cfg->default_route, service);
}

int config_parent_provides(const struct init_config *cfg, const char *service)
{
	if (!cfg->has_parent_provides)
		return 1;
	for (int i = 0; i < cfg->nparent_provides; i++)
		if (!strcmp(cfg->parent_provides[i], service))
			return 1;
	return 0;
}

int config_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mul = 1;
	const char *c = s;

	if (*c < '0' || *c > '9')
		return -EINVAL;
	for (; *c >= '0' && *c <= '9'; c++) {
		if (v > (UINT64_MAX - (uint64_t)(*c - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*c - '0');
	}
	switch (*c) {
	case 0:
		break;
	case 'K':
		mul = 1ULL << 10;
		break;
	case 'M':
		mul = 1ULL << 20;
		break;
	case 'G':
		mul = 1ULL << 30;
		break;
	default:
		return -EINVAL;
	}
	if (*c && c[1])
		return -EINVAL;
	if (v > UINT64_MAX / mul)
		return -EINVAL;
	*out = v * mul;
	return 0;
}
