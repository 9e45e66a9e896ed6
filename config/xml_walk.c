/*
 * Steps of the config reader's walk over libxml2's tree (xml_walk.h):
 * attribute and child checks that turn anything unexpected into one
 * error line naming the file and line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libxml/tree.h>

#include "config/config.h"
#include "config/xml_walk.h"

int walk_fail(struct parse *p, long line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->failed)
		return -EINVAL;
	p->failed = 1;
	n = snprintf(p->err, p->errlen, "%s:%ld: ", p->path, line);
	if (n < 0 || (size_t)n >= p->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

long walk_line(xmlNode *n)
{
	return xmlGetLineNo(n);
}

/* libxml2's structured error handler: keep the first error as one line. */
void walk_xml_error(void *ctx, xmlErrorPtr e)
{
	struct parse *p = ctx;
	char msg[256];
	size_t len;

	if (!e || p->failed)
		return;
	snprintf(msg, sizeof msg, "%s", e->message ? e->message : "malformed XML");
	len = strlen(msg);
	while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		msg[--len] = 0;
	walk_fail(p, e->line, "%s", msg);
}

/* Names of children, services and binaries end up in labels and session
 * arguments: keep them to a plain character set. */
int walk_name_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

int walk_is(xmlNode *n, const char *name)
{
	return !xmlStrcmp(n->name, (const xmlChar *)name);
}

/* Every attribute of n must be one of allowed (NULL-terminated). */
int walk_attrs(struct parse *p, xmlNode *n, const char *const *allowed)
{
	for (xmlAttr *a = n->properties; a; a = a->next) {
		int ok = 0;
		for (const char *const *x = allowed; *x; x++)
			ok |= !xmlStrcmp(a->name, (const xmlChar *)*x);
		if (!ok)
			return walk_fail(p, walk_line(n), "<%s>: unknown attribute '%s'",
					 (const char *)n->name, (const char *)a->name);
	}
	return 0;
}

/* Copy attribute name of n into buf.  1 if absent, 0 if present and it
 * fits, -EINVAL (with message) if too long. */
int walk_attr(struct parse *p, xmlNode *n, const char *name, char *buf, size_t size)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	int rc = 0;

	if (!v)
		return 1;
	if (strlen((const char *)v) >= size)
		rc = walk_fail(p, walk_line(n), "<%s>: attribute '%s' is too long",
			       (const char *)n->name, name);
	else
		strcpy(buf, (const char *)v);
	xmlFree(v);
	return rc;
}

/* A required name attribute that must pass walk_name_ok(). */
int walk_attr_name(struct parse *p, xmlNode *n, const char *attr, char *buf)
{
	int rc = walk_attr(p, n, attr, buf, CONFIG_NAME_MAX);

	if (rc < 0)
		return rc;
	if (rc == 1)
		return walk_fail(p, walk_line(n), "<%s>: missing attribute '%s'",
				 (const char *)n->name, attr);
	if (!walk_name_ok(buf))
		return walk_fail(p, walk_line(n), "<%s>: invalid %s '%s'",
				 (const char *)n->name, attr, buf);
	return 0;
}

/* Step to the next child element of a node, rejecting stray content.
 * Returns 1 with *out set, 0 at the end, -EINVAL on stray content. */
int walk_next(struct parse *p, xmlNode **cur, xmlNode **out)
{
	for (xmlNode *n = *cur; n; n = n->next) {
		if (n->type == XML_ELEMENT_NODE) {
			*cur = n->next;
			*out = n;
			return 1;
		}
		if (n->type == XML_COMMENT_NODE)
			continue;
		if (n->type == XML_TEXT_NODE) {
			const xmlChar *t = n->content;
			while (t && (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r'))
				t++;
			if (!t || !*t)
				continue;
		}
		return walk_fail(p, walk_line(n), "unexpected content in <%s>",
				 n->parent ? (const char *)n->parent->name : "?");
	}
	return 0;
}

int walk_unknown(struct parse *p, xmlNode *n, xmlNode *in)
{
	return walk_fail(p, walk_line(n), "unknown element <%s> in <%s>",
			 (const char *)n->name, (const char *)in->name);
}

int walk_empty(struct parse *p, xmlNode *n)
{
	xmlNode *c;
	int rc;

	WALK_EACH(p, n, c, rc)
	return walk_unknown(p, c, n);
	return rc;
}
