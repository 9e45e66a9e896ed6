/*
 * Starting a native child (init/native_child.h), one init's registry
 * names (init/native_registry.h).  Like child_start for a guest, except:
 * its PD session is native (`native=1`, which init strips from any
 * child's own request, so only init can ask core for one), no
 * binary is loaded and no stack is made (the kernel runs the child's
 * first thread as a coroutine at native_component_main), and the child's
 * <config> element is handed to its entry's parser.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "init/init.h"
#include "init/native_child.h"
#include "init/native_registry.h"
#include <base/native_component.h>

/* The <config> element of <start name=name> in the file at path, parsed
 * with the entry's parser (NULL node if the start has no <config>). */
static int read_config(const char *path, const char *name, const struct native_entry *e,
		       void *arg, char *err, size_t errlen)
{
	xmlDoc *doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL, *cfg = NULL;
	int rc;

	if (!root) {
		snprintf(err, errlen, "cannot read %.200s", path);
		xmlFreeDoc(doc);
		return -EINVAL;
	}
	for (xmlNode *s = root->children; s && !cfg; s = s->next) {
		xmlChar *n;
		if (s->type != XML_ELEMENT_NODE || strcmp((const char *)s->name, "start"))
			continue;
		n = xmlGetProp(s, (const xmlChar *)"name");
		if (n && !strcmp((const char *)n, name))
			for (xmlNode *c = s->children; c; c = c->next)
				if (c->type == XML_ELEMENT_NODE &&
				    !strcmp((const char *)c->name, "config"))
					cfg = c;
		xmlFree(n);
	}
	rc = e->parse(cfg, arg, err, errlen);
	xmlFreeDoc(doc);
	return rc;
}

int native_child_start(struct child *c)
{
	const struct native_entry *e =
	    native_registry_find(c->init->natives, c->cfg->binary);
	struct native_slot *slot;
	char err[CONFIG_ERR_MAX] = "";
	uint64_t nr, utcb, tbadge;
	const char *what = "";
	int rc;

	if (!e)
		return 1;
	c->state = CHILD_RUNNING;
	what = "cannot hold its start";
	if (!(slot = c->native = calloc(1, sizeof *slot))) {
		rc = -ENOMEM;
		goto err;
	}
	slot->owner = c;
	what = err;
	if ((rc = read_config(c->init->cfg->path, c->cfg->name, e, slot->arg, err,
			      sizeof err)) ||
	    (rc = child_open_sessions(c, 1, &what)) ||
	    (rc = child_create_thread(c, &what, &nr, &utcb, &tbadge)))
		goto err;
	slot->start = (struct native_start){
	    .si = {STARTUP_MAGIC, c->parent_obj.badge, nr, tbadge, utcb},
	    .label = c->cfg->name,
	    .construct = e->construct,
	    .arg = slot->arg,
	};
	what = "cannot start its thread";
	if ((rc = cpu_start(c->cpu, c->thread, (uint64_t)(uintptr_t)native_component_main,
			    (uint64_t)(uintptr_t)&slot->start)))
		goto err;
	return 0;
err:
	if (rc == -EDQUOT && what != err)
		child_quota_error(c, what); /* which quota, not "Disk quota exceeded" */
	else
		env_log(c->init->env, "child '%s': %s%s%s", c->cfg->name, what,
			what == err ? "" : ": ", what == err ? "" : strerror(-rc));
	c->state = CHILD_FAILED;
	c->exit_code = rc;
	child_destroy(c);
	return rc;
}
