/* The registry of native components init can start (init/native_registry.h). */
#include <errno.h>
#include <string.h>

#include "init/native_registry.h"

int native_registry_add(struct native_registry *r, const struct native_entry *e)
{
	if (!e->binary || !e->binary[0] || !e->parse || !e->construct)
		return -EINVAL;
	if (e->arg_size > NATIVE_ARG_MAX)
		return -E2BIG;
	if (native_registry_find(r, e->binary))
		return -EEXIST;
	if (r->n >= NATIVE_MAX_ENTRIES)
		return -ENOSPC;
	r->entry[r->n++] = *e;
	return 0;
}

const struct native_entry *native_registry_find(const struct native_registry *r,
						const char *binary)
{
	for (int i = 0; r && i < r->n; i++)
		if (!strcmp(r->entry[i].binary, binary))
			return &r->entry[i];
	return NULL;
}
