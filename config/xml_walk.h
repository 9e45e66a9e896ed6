/*
 * Walking libxml2's tree for the config reader (config.c): each step
 * checks what it finds and, on anything unexpected, leaves one line
 * "path:line: what is wrong" in the load's error buffer.  Only the
 * config reader uses this (it is not part of config.h's interface).
 */
#ifndef CAPSULE_CONFIG_XML_WALK_H
#define CAPSULE_CONFIG_XML_WALK_H

#include <stddef.h>

#include <libxml/tree.h>
#include <libxml/xmlerror.h>

/* State of one load: where errors go. */
struct parse {
	const char *path;
	char *err;
	size_t errlen;
	int failed; /* an error message is in err */
	int nalloc; /* room in cfg->start */
	/* config_parse_element: root elements its caller reads itself
	 * (NULL-terminated; NULL: none) */
	const char *const *foreign;
};

#define WALK_EACH(p, parent, n, rc)                                                      \
	for (xmlNode *cur_ = (parent)->children;                                         \
	     ((rc) = walk_next((p), &cur_, &(n))) == 1;)

/* Record the load's first error as "path:line: message"; always -EINVAL. */
int walk_fail(struct parse *p, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
long walk_line(xmlNode *n);
/* libxml2's structured error handler (ctx: the struct parse). */
void walk_xml_error(void *ctx, xmlErrorPtr e);
/* Names end up in labels and session arguments: [A-Za-z0-9_.-]+ only. */
int walk_name_ok(const char *s);
int walk_is(xmlNode *n, const char *name);
/* Every attribute of n must be one of allowed (NULL-terminated). */
int walk_attrs(struct parse *p, xmlNode *n, const char *const *allowed);
/* 1 if absent, 0 if copied, -EINVAL (with message) if too long. */
int walk_attr(struct parse *p, xmlNode *n, const char *name, char *buf, size_t size);
/* A required attribute that must pass walk_name_ok(). */
int walk_attr_name(struct parse *p, xmlNode *n, const char *attr, char *buf);
/* The next child element: 1 with *out set, 0 at the end, -EINVAL on
 * stray content. */
int walk_next(struct parse *p, xmlNode **cur, xmlNode **out);
int walk_unknown(struct parse *p, xmlNode *n, xmlNode *in);
/* n must have no child element. */
int walk_empty(struct parse *p, xmlNode *n);

#endif
