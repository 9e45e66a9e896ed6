/*
 * A group image's table against its members' images (image/group.h):
 * the image names no object it does not contain.  Each record's holder
 * has the member-object cap it describes; each member-object cap of an
 * image has exactly one record; and each record names an object of its
 * kind that its owner's image holds (an RPC gate, a signal context, a
 * dataspace or a region map with that badge).  Run by the writer before
 * it writes and by the reader after it has read every member's image.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/group.h"

static const struct image_cap *cap_at(const struct image_model *m, uint64_t kcap)
{
	for (uint32_t i = 0; i < m->ncaps; i++)
		if (m->caps[i].kcap == kcap)
			return &m->caps[i];
	return NULL;
}

static int cap_with(const struct image_model *m, uint32_t class, uint64_t badge)
{
	for (uint32_t i = 0; i < m->ncaps; i++)
		if (m->caps[i].class == class && m->caps[i].badge == badge)
			return 1;
	return 0;
}

/* The owner's image holds the object the record names. */
static int object_in(const struct image_model *m, const struct image_member_ref *r)
{
	switch (r->kind) {
	case IMAGE_MEMBER_GATE:
		return cap_with(m, IMAGE_CAP_RPC_GATE, r->object);
	case IMAGE_MEMBER_SIGNAL_CONTEXT:
		for (uint32_t i = 0; i < m->nsignals; i++)
			if (m->signals[i].badge == r->object)
				return 1;
		return 0;
	case IMAGE_MEMBER_DATASPACE:
		for (uint32_t i = 0; i < m->ndataspaces; i++)
			if (m->dataspaces[i].id == r->object)
				return 1;
		return 0;
	case IMAGE_MEMBER_REGION_MAP:
		return cap_with(m, IMAGE_CAP_REGION_MAP, r->object);
	}
	return 0;
}

/* Record i on its own: members, kind, the holder's cap, the object. */
static int ref_ok(const char *name, const struct image_group *g, uint32_t i, char *err,
		  size_t n)
{
	const struct image_member_ref *r = &g->ref[i];
	const struct image_cap *c;

	if (r->holder >= g->h.nmembers || r->owner >= g->h.nmembers ||
	    r->holder == r->owner || !r->kind || r->kind >= IMAGE_MEMBER_KIND_MAX_ ||
	    (r->flags & ~IMAGE_MEMBER_F_REVOKED) ||
	    (r->flags && r->kind != IMAGE_MEMBER_GATE)) {
		snprintf(err, n,
			 "group image %s: member ref %u: holder %u, owner %u, kind %u, "
			 "flags 0x%x (%u members; only a gate's record may be revoked)",
			 name, i, r->holder, r->owner, r->kind, r->flags, g->h.nmembers);
		return -EINVAL;
	}
	if (!g->image[r->holder] || !g->image[r->owner]) {
		snprintf(
		    err, n,
		    "group image %s: member ref %u names member '%s', which had ended",
		    name, i, g->member[g->image[r->holder] ? r->owner : r->holder].name);
		return -EINVAL;
	}
	c = cap_at(g->image[r->holder], r->kcap);
	if (!c || c->class != IMAGE_CAP_MEMBER || c->badge != r->badge ||
	    c->obj != r->owner || c->arg != r->object) {
		snprintf(
		    err, n,
		    "group image %s: member ref %u: member '%s' has no member-object "
		    "cap kcap 0x%llx badge 0x%llx -> '%s' 0x%llx",
		    name, i, g->member[r->holder].name, (unsigned long long)r->kcap,
		    (unsigned long long)r->badge, g->member[r->owner].name,
		    (unsigned long long)r->object);
		return -EINVAL;
	}
	if (!object_in(g->image[r->owner], r)) {
		snprintf(err, n,
			 "group image %s: member ref %u: member '%s' kcap 0x%llx refers "
			 "to member '%s' %s 0x%llx, which its image does not contain",
			 name, i, g->member[r->holder].name, (unsigned long long)r->kcap,
			 g->member[r->owner].name, image_member_kind_name(r->kind),
			 (unsigned long long)r->object);
		return -EINVAL;
	}
	return 0;
}

static int ref_cmp(const void *a, const void *b)
{
	const struct image_member_ref *x = a, *y = b;

	if (x->holder != y->holder)
		return x->holder < y->holder ? -1 : 1;
	return x->kcap < y->kcap ? -1 : x->kcap > y->kcap;
}

/* (holder, kcap) unique, and as many records as member-object caps: so
 * every such cap has exactly one. */
static int refs_cover(const char *name, const struct image_group *g, char *err, size_t n)
{
	struct image_member_ref *s = malloc(g->h.nrefs * sizeof *s + 1);
	uint64_t caps = 0;

	if (!s) {
		snprintf(err, n, "group image %s: out of memory", name);
		return -ENOMEM;
	}
	memcpy(s, g->ref, g->h.nrefs * sizeof *s);
	qsort(s, g->h.nrefs, sizeof *s, ref_cmp);
	for (uint32_t i = 1; i < g->h.nrefs; i++)
		if (!ref_cmp(&s[i - 1], &s[i])) {
			snprintf(err, n,
				 "group image %s: member '%s' kcap 0x%llx has two "
				 "member refs",
				 name, g->member[s[i].holder].name,
				 (unsigned long long)s[i].kcap);
			free(s);
			return -EINVAL;
		}
	free(s);
	for (uint32_t k = 0; k < g->h.nmembers; k++)
		for (uint32_t i = 0; g->image[k] && i < g->image[k]->ncaps; i++) {
			const struct image_cap *c = &g->image[k]->caps[i];
			if (c->class != IMAGE_CAP_MEMBER)
				continue;
			if (c->obj >= g->h.nmembers || c->obj == k || !g->image[c->obj]) {
				snprintf(err, n,
					 "group image %s: member '%s' kcap 0x%llx "
					 "refers to member %llu, which the image does "
					 "not contain",
					 name, g->member[k].name,
					 (unsigned long long)c->kcap,
					 (unsigned long long)c->obj);
				return -EINVAL;
			}
			caps++;
		}
	if (caps != g->h.nrefs) {
		snprintf(
		    err, n,
		    "group image %s: %llu member-object caps in the members' images, "
		    "%u member refs",
		    name, (unsigned long long)caps, g->h.nrefs);
		return -EINVAL;
	}
	return 0;
}

/* Member k's dataspace record of another member's dataspace (attached
 * in k, IMAGE_DS_MEMBER): that member's image holds it, of that size. */
static int member_ds_ok(const char *name, const struct image_group *g, uint32_t k,
			const struct image_dataspace *d, char *err, size_t n)
{
	uint32_t o = d->member.owner;
	const struct image_model *m = o < g->h.nmembers && o != k ? g->image[o] : NULL;

	for (uint32_t i = 0; m && i < m->ndataspaces; i++)
		if (m->dataspaces[i].id == d->id &&
		    m->dataspaces[i].kind != IMAGE_DS_MEMBER &&
		    m->dataspaces[i].size == d->size)
			return 0;
	if (!m)
		snprintf(err, n,
			 "group image %s: member '%s' dataspace 0x%llx refers to member "
			 "%u, which the image does not contain",
			 name, g->member[k].name, (unsigned long long)d->id, o);
	else
		snprintf(err, n,
			 "group image %s: member '%s' dataspace 0x%llx refers to member "
			 "'%s' dataspace 0x%llx (%llu bytes), which its image does not "
			 "contain",
			 name, g->member[k].name, (unsigned long long)d->id,
			 g->member[o].name, (unsigned long long)d->id,
			 (unsigned long long)d->size);
	return -EINVAL;
}

int image_group_check(const char *name, const struct image_group *g, char *err, size_t n)
{
	int rc;

	for (uint32_t i = 0; i < g->h.nrefs; i++)
		if ((rc = ref_ok(name, g, i, err, n)))
			return rc;
	for (uint32_t k = 0; k < g->h.nmembers; k++)
		for (uint32_t i = 0; g->image[k] && i < g->image[k]->ndataspaces; i++)
			if (g->image[k]->dataspaces[i].kind == IMAGE_DS_MEMBER &&
			    (rc = member_ds_ok(name, g, k, &g->image[k]->dataspaces[i],
					       err, n)))
				return rc;
	return refs_cover(name, g, err, n);
}
