/*
 * `capsule inspect` of a group image (image/group.h): the group's header,
 * its members, the table of caps between members (one line each in text,
 * "members" and "refs" in JSON), then every member's image as
 * inspect_model prints one image ("images" in JSON, in member order).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "image/group.h"
#include "tools/inspect.h"

/* s as a JSON string (control bytes and non-ASCII escaped). */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	fputc('"', f);
}

static void print_head(FILE *f, int json, const struct image_group *g)
{
	const struct image_group_header *h = &g->h;

	if (!json) {
		fprintf(
		    f,
		    "group: name=%s id=0x%llx node=\"%s\" created_ns=%llu paused_ns=%llu "
		    "members=%u refs=%u\n",
		    h->name, (unsigned long long)h->group_id, h->node,
		    (unsigned long long)h->created_ns, (unsigned long long)h->paused_ns,
		    h->nmembers, h->nrefs);
		return;
	}
	fprintf(f, "{\"schema\":%d,\"group\":{\"name\":", INSPECT_SCHEMA);
	json_str(f, h->name);
	fprintf(f, ",\"id\":\"0x%llx\",\"node\":", (unsigned long long)h->group_id);
	json_str(f, h->node);
	fprintf(f, ",\"created_ns\":\"%llu\",\"paused_ns\":%llu}",
		(unsigned long long)h->created_ns, (unsigned long long)h->paused_ns);
}

static void print_members(FILE *f, int json, const struct image_group *g)
{
	if (json)
		fputs(",\"members\":[", f);
	for (uint32_t k = 0; k < g->h.nmembers; k++) {
		const struct image_group_member *m = &g->member[k];
		if (!json) {
			if (m->flags & IMAGE_GROUP_MEMBER_ENDED)
				fprintf(f, "member %u: name=%s ended exit_code=%d\n", k,
					m->name, m->exit_code);
			else
				fprintf(f,
					"member %u: name=%s binary=%s offset=%llu "
					"length=%llu image_id=0x%llx\n",
					k, m->name, m->binary,
					(unsigned long long)m->offset,
					(unsigned long long)m->length,
					(unsigned long long)m->image_id);
			continue;
		}
		fputs(k ? ",{\"name\":" : "{\"name\":", f);
		json_str(f, m->name);
		fputs(",\"binary\":", f);
		json_str(f, m->binary);
		fprintf(f,
			",\"offset\":%llu,\"length\":%llu,\"image_id\":\"0x%llx\","
			"\"ended\":%s,\"exit_code\":%d}",
			(unsigned long long)m->offset, (unsigned long long)m->length,
			(unsigned long long)m->image_id,
			m->flags & IMAGE_GROUP_MEMBER_ENDED ? "true" : "false",
			m->exit_code);
	}
	if (json)
		fputc(']', f);
}

static void print_refs(FILE *f, int json, const struct image_group *g)
{
	if (json)
		fputs(",\"refs\":[", f);
	for (uint32_t i = 0; i < g->h.nrefs; i++) {
		const struct image_member_ref *r = &g->ref[i];
		if (!json) {
			fprintf(f,
				"ref %u: holder=%s kcap=0x%llx badge=0x%llx -> owner=%s "
				"kind=\"%s\" object=0x%llx%s\n",
				i, g->member[r->holder].name, (unsigned long long)r->kcap,
				(unsigned long long)r->badge, g->member[r->owner].name,
				image_member_kind_name(r->kind),
				(unsigned long long)r->object,
				r->flags & IMAGE_MEMBER_F_REVOKED ? " revoked" : "");
			continue;
		}
		fprintf(
		    f,
		    "%s{\"holder\":%u,\"owner\":%u,\"kcap\":\"0x%llx\",\"badge\":"
		    "\"0x%llx\",\"kind\":\"%s\",\"object\":\"0x%llx\",\"revoked\":%s}",
		    i ? "," : "", r->holder, r->owner, (unsigned long long)r->kcap,
		    (unsigned long long)r->badge, image_member_kind_name(r->kind),
		    (unsigned long long)r->object,
		    r->flags & IMAGE_MEMBER_F_REVOKED ? "true" : "false");
	}
	if (json)
		fputc(']', f);
}

int inspect_group(const char *path, int json, const char *section, FILE *out, char *err,
		  size_t errlen)
{
	struct image_group *g;
	char name[4200];
	int rc;

	if (section) {
		snprintf(err, errlen,
			 "%s: a group image is inspected whole (no --section)", path);
		return -EINVAL;
	}
	if ((rc = image_group_read(path, &g, err, errlen)))
		return rc;
	print_head(out, json, g);
	print_members(out, json, g);
	print_refs(out, json, g);
	if (json)
		fputs(",\"images\":[", out);
	for (uint32_t k = 0; !rc && k < g->h.nmembers; k++) {
		snprintf(name, sizeof name, "%s (member '%s')", path, g->member[k].name);
		if (json)
			fputs(k ? "," : "", out);
		else
			fprintf(out, "=== member %s%s\n", g->member[k].name,
				g->image[k] ? "" : ": ended, no image");
		if (!g->image[k])
			fputs(json ? "null" : "", out);
		else
			rc = inspect_model(name, g->image[k], g->member[k].length, json,
					   NULL, out, err, errlen);
	}
	if (json)
		fputs("]}\n", out);
	image_group_free(g);
	if (!rc && (fflush(out) == EOF || ferror(out))) {
		snprintf(err, errlen, "inspect: write error: %s", strerror(errno));
		return -EIO;
	}
	return rc;
}
