/*
 * The monitor's <config>:
 *
 *   <config>
 *     <target binary="counter" ram="1M" caps="100"/>
 *     <test checkpoint_after_ms="30" restore="none|same-node" [image="FILE"]
 *           [then="exit"]/>
 *     (fail_restore_at="STEP", fail_restore_nth="N": the test build's
 *     fault injection, monitor/test_hooks.c;
 *     checkpoint_every_ms="MS" [restore_every="N"]: a checkpoint every MS
 *     ms, every Nth of them restored (restore="same-node"), the soak)
 *     (or checkpoint_after_log="N": after the target's Nth LOG line;
 *     then="hold": the target stays paused there until a migration)
 *   </config>
 *   or <config><restore [image="/abs/FILE"]/></config>: an empty monitor
 *   that restores FILE at start, or waits for the control plane's restore.
 *   or a group instead of the <target>: <start> nodes (and a
 *   <default-route>) in the syntax of a node's config, read by the same
 *   reader (config_parse_element), whose routes may name each other but
 *   must not form a cycle:
 *     <start name="server"> <provides> <service name="Calc"/> </provides>
 *       <route> <any-service> <parent/> </any-service> </route> </start>
 *     <start name="client"> <binary name="rpc_client"/>
 *       <route> <service name="Calc"> <child name="server"/> </service>
 *               <any-service> <parent/> </any-service> </route> </start>
 *
 * Sizes and their defaults are the node config reader's (config/config.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/tree.h>

#include "config/config.h"
#include "monitor/monitor_config.h"

static int attr(xmlNode *n, const char *name, char *buf, size_t size)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	int rc = v ? 0 : -ENOENT;

	if (v) {
		if (snprintf(buf, size, "%s", (const char *)v) >= (int)size)
			rc = -E2BIG;
		xmlFree(v);
	}
	return rc;
}

/* The elements of a group the node config reader reads. */
static int group_element(xmlNode *n)
{
	return !strcmp((const char *)n->name, "start") ||
	       !strcmp((const char *)n->name, "default-route") ||
	       !strcmp((const char *)n->name, "parent-provides");
}

static int parse_target(xmlNode *n, struct monitor_config *cfg, char *err, size_t errlen)
{
	char v[32];

	if (attr(n, "binary", cfg->binary, sizeof cfg->binary) || !cfg->binary[0]) {
		snprintf(err, errlen, "<target>: missing or invalid 'binary'");
		return -EINVAL;
	}
	if (!attr(n, "ram", v, sizeof v) &&
	    (config_parse_size(v, &cfg->ram) || !cfg->ram)) {
		snprintf(err, errlen, "<target>: invalid ram '%s'", v);
		return -EINVAL;
	}
	if (!attr(n, "caps", v, sizeof v)) {
		char *end;
		cfg->caps = strtoull(v, &end, 10);
		if (end == v || *end || !cfg->caps || v[0] == '-') {
			snprintf(err, errlen, "<target>: invalid caps '%s'", v);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_test(xmlNode *n, struct monitor_config *cfg, char *err, size_t errlen)
{
	char v[32];
	char *end;
	int rc;

	if (!attr(n, "checkpoint_after_ms", v, sizeof v)) {
		cfg->checkpoint_after_ms = strtoull(v, &end, 10);
		if (end == v || *end || v[0] == '-' ||
		    cfg->checkpoint_after_ms > 3600000) {
			snprintf(err, errlen, "<test>: invalid checkpoint_after_ms '%s'",
				 v);
			return -EINVAL;
		}
	}
	if (!attr(n, "checkpoint_after_log", v, sizeof v)) {
		cfg->checkpoint_after_log = strtoull(v, &end, 10);
		if (end == v || *end || v[0] == '-' || !cfg->checkpoint_after_log ||
		    cfg->checkpoint_after_log > 1000000 || cfg->checkpoint_after_ms) {
			snprintf(err, errlen,
				 "<test>: invalid checkpoint_after_log '%s' (1..1000000, "
				 "not with checkpoint_after_ms)",
				 v);
			return -EINVAL;
		}
	}
	if (attr(n, "image", cfg->image, sizeof cfg->image) == -E2BIG) {
		snprintf(err, errlen, "<test>: image path too long");
		return -EINVAL;
	}
	cfg->restore = MON_RESTORE_NONE;
	if (!attr(n, "then", v, sizeof v)) {
		if (!strcmp(v, "hold") && !cfg->image[0]) {
			cfg->then_hold = 1;
		} else if (strcmp(v, "exit") || !cfg->image[0]) {
			snprintf(err, errlen,
				 "<test>: then='%s': only then=\"exit\" with an image, "
				 "or then=\"hold\" without",
				 v);
			return -EINVAL;
		} else {
			cfg->then_exit = 1;
		}
	}
	if ((rc = monitor_test_hooks_parse(n, cfg, err, errlen)))
		return rc;
	if (!attr(n, "checkpoint_every_ms", v, sizeof v)) {
		cfg->checkpoint_every_ms = strtoull(v, &end, 10);
		if (end == v || *end || v[0] == '-' || !cfg->checkpoint_every_ms ||
		    cfg->checkpoint_every_ms > 3600000 || cfg->checkpoint_after_ms ||
		    cfg->checkpoint_after_log || cfg->image[0]) {
			snprintf(err, errlen,
				 "<test>: invalid checkpoint_every_ms '%s' (1..3600000, "
				 "without checkpoint_after_ms/_log or image)",
				 v);
			return -EINVAL;
		}
		cfg->checkpoint_after_ms = cfg->checkpoint_every_ms;
	}
	if (!attr(n, "restore_every", v, sizeof v)) {
		unsigned long long k = strtoull(v, &end, 10);
		if (end == v || *end || v[0] == '-' || !k || k > 1000000 ||
		    !cfg->checkpoint_every_ms) {
			snprintf(err, errlen,
				 "<test>: invalid restore_every '%s' (1..1000000, with "
				 "checkpoint_every_ms)",
				 v);
			return -EINVAL;
		}
		cfg->restore_every = (unsigned)k;
	}
	if (!attr(n, "restore", v, sizeof v)) {
		if (!strcmp(v, "same-node"))
			cfg->restore = MON_RESTORE_SAME_NODE;
		else if (strcmp(v, "none")) {
			snprintf(err, errlen, "<test>: invalid restore '%s'", v);
			return -EINVAL;
		}
	}
	return 0;
}

/* The <start> nodes of a group: read by the node config reader, no
 * cycle of routes among them. */
static int parse_group(xmlNode *root, struct monitor_config *cfg, char *err,
		       size_t errlen)
{
	static const char *const own[] = {"target", "test", "restore", NULL};
	char cycle[200];
	int rc;

	if (!(cfg->group = calloc(1, sizeof *cfg->group)))
		return -ENOMEM;
	if ((rc = config_parse_element(root, own, cfg->group, err, errlen)))
		goto fail;
	rc = -EINVAL;
	if (cfg->group->ram || cfg->group->caps) {
		snprintf(err, errlen,
			 "the monitor's <config>: no ram or caps attribute "
			 "(each member's <start> has its own)");
		goto fail;
	}
	if (config_route_cycle(cfg->group, cycle, sizeof cycle)) {
		snprintf(err, errlen, "the monitor's group: its routes form a cycle: %s",
			 cycle);
		goto fail;
	}
	/* a restore's fault injection is a group's too (counted across its
	 * members, restore_hooks.c); its test checkpoint is group_test.c's */
	/* (then="hold": the members stay paused after the line, for a
	 * migration of the group: group_test.c) */
	if (cfg->checkpoint_after_ms || cfg->checkpoint_every_ms ||
	    cfg->restore == MON_RESTORE_SAME_NODE ||
	    (cfg->then_hold ? !cfg->checkpoint_after_log
			    : !cfg->checkpoint_after_log != !cfg->image[0] ||
				  (cfg->checkpoint_after_log && !cfg->then_exit))) {
		snprintf(
		    err, errlen,
		    "the monitor's group: its <test> takes only checkpoint_after_log "
		    "with image and then=\"exit\", or with then=\"hold\"");
		goto fail;
	}
	if (cfg->group->nstart > MON_GROUP_MAX) {
		snprintf(err, errlen, "the monitor's group: %d members, at most %d",
			 cfg->group->nstart, MON_GROUP_MAX);
		goto fail;
	}
	return 0;
fail:
	monitor_config_free(cfg);
	return rc;
}

static int has_start(xmlNode *root)
{
	for (xmlNode *n = root ? root->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE &&
		    !strcmp((const char *)n->name, "start"))
			return 1;
	return 0;
}

void monitor_config_free(struct monitor_config *cfg)
{
	if (cfg->group)
		config_free(cfg->group);
	free(cfg->group);
	cfg->group = NULL;
}

int monitor_config_parse(const void *xml_node, struct monitor_config *cfg, char *err,
			 size_t errlen)
{
	xmlNode *root = (xmlNode *)xml_node;
	int have_target = 0, have_restore = 0, rc;

	memset(cfg, 0, sizeof *cfg);
	cfg->ram = CONFIG_DEFAULT_RAM;
	cfg->caps = CONFIG_DEFAULT_CAPS;
	for (xmlNode *n = root ? root->children : NULL; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (!strcmp((const char *)n->name, "target")) {
			if ((rc = parse_target(n, cfg, err, errlen)))
				return rc;
			have_target = 1;
		} else if (!strcmp((const char *)n->name, "restore")) {
			/* no image: wait for the control plane's restore */
			rc = attr(n, "image", cfg->restore_image,
				  sizeof cfg->restore_image);
			if ((rc && rc != -ENOENT) ||
			    (!rc && cfg->restore_image[0] != '/')) {
				snprintf(err, errlen,
					 "<restore>: 'image' must be an absolute path");
				return -EINVAL;
			}
			have_restore = 1;
		} else if (!strcmp((const char *)n->name, "test")) {
			if ((rc = parse_test(n, cfg, err, errlen)))
				return rc;
		} else if (group_element(n)) {
			continue; /* parse_group reads them */
		} else {
			snprintf(err, errlen,
				 "unknown element <%s> in the monitor's <config>",
				 (const char *)n->name);
			return -EINVAL;
		}
	}
	if (has_start(root) && have_target) {
		snprintf(err, errlen,
			 "the monitor's <config>: a group of <start> nodes or a "
			 "<target>, not both");
		return -EINVAL;
	}
	if (has_start(root)) {
		cfg->group_restore = have_restore;
		if (have_restore && cfg->checkpoint_after_log) {
			snprintf(err, errlen,
				 "the monitor's group: a <restore> and a <test> "
				 "checkpoint, not both");
			return -EINVAL;
		}
		return parse_group(root, cfg, err, errlen);
	}
	if (have_target == have_restore) {
		snprintf(err, errlen,
			 "the monitor's <config> needs a <target>, <start> nodes or a "
			 "<restore>");
		return -EINVAL;
	}
	return 0;
}
