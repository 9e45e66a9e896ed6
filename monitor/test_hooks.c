/*
 * The restore's fault injection, a hook of test builds only:
 *
 *   <test fail_restore_at="STEP"/>   the named step fails (restore_fail.sh)
 *   <test fail_restore_nth="N"/>     the Nth point that can fail fails, once
 *                                    (restore_inject.sh)
 *
 * `make` builds this file twice: into the node binary (capsule) without
 * CAPSULE_TEST_HOOKS, where the attributes are refused with a one-line
 * message, and into capsule-test with it (the binary the injection tests
 * run).  restore_hooks.c acts on the parsed values under the same define.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/tree.h>

#include "monitor/monitor_config.h"

static const char *const hooks[] = {"fail_restore_at", "fail_restore_nth"};

#ifdef CAPSULE_TEST_HOOKS
static int parse(xmlNode *n, struct monitor_config *cfg, char *err, size_t errlen)
{
	xmlChar *at = xmlGetProp(n, (const xmlChar *)hooks[0]);
	xmlChar *nth = xmlGetProp(n, (const xmlChar *)hooks[1]);
	int rc = 0;

	if (at && snprintf(cfg->fail_restore_at, sizeof cfg->fail_restore_at, "%s",
			   (const char *)at) >= (int)sizeof cfg->fail_restore_at) {
		snprintf(err, errlen, "<test>: fail_restore_at too long");
		rc = -EINVAL;
	}
	if (nth && !rc) {
		const char *v = (const char *)nth;
		char *end;
		unsigned long long k = strtoull(v, &end, 10);

		if (end == v || *end || v[0] == '-' || !k || k > 1000000) {
			snprintf(err, errlen, "<test>: invalid fail_restore_nth '%.32s'",
				 v);
			rc = -EINVAL;
		} else {
			cfg->fail_restore_nth = (unsigned)k;
		}
	}
	xmlFree(at);
	xmlFree(nth);
	return rc;
}
#endif

int monitor_test_hooks_parse(const void *xml_node, struct monitor_config *cfg, char *err,
			     size_t errlen)
{
	xmlNode *n = (xmlNode *)xml_node;

#ifdef CAPSULE_TEST_HOOKS
	return parse(n, cfg, err, errlen);
#else
	(void)cfg;
	for (unsigned i = 0; i < sizeof hooks / sizeof hooks[0]; i++)
		if (xmlHasProp(n, (const xmlChar *)hooks[i])) {
			snprintf(err, errlen,
				 "<test>: %s is a fault-injection hook of the test build "
				 "only (capsule-test); this binary was built without it",
				 hooks[i]);
			return -EINVAL;
		}
	return 0;
#endif
}
