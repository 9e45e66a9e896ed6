/*
 * ROM session: args `label="NAME"` (Genode style, a label "a -> b -> NAME"
 * names NAME): the file NAME from the first ROM directory that has it,
 * served as a read-only dataspace.  Names with '/' or ".." are refused, so
 * a component can read nothing outside the ROM directories.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/core_internal.h"
#include "core/session_args.h"

struct rom_session {
	struct core_session s;
	struct dataspace *ds;
	uint64_t size; /* file size; ds->size is page-rounded */
};

static void rom_dispatch(struct rpc_object *obj, struct msg *m)
{
	struct rom_session *rs = container_of(obj, struct rom_session, s.obj);

	if (m->code != ROM_DATASPACE) {
		msg_reset(m, RPC_INVALID_OPCODE);
		return;
	}
	core_reply_ok(m);
	msg_put_cap(m, rs->ds->obj.cap);
	msg_put(m, rs->size);
}

static const char *rom_name(const char *label)
{
	const char *p, *name = label;

	while ((p = strstr(name, " -> ")))
		name = p + 4;
	return name;
}

/* Length of the prefix of name without control characters: a name a
 * client chose must not forge lines of others in core's messages. */
static int rom_printable_len(const char *name)
{
	int n = 0;

	while (name[n] && (unsigned char)name[n] >= 0x20 && name[n] != 0x7f)
		n++;
	return n;
}

static int rom_name_ok(const char *name)
{
	return name[0] && !name[rom_printable_len(name)] && !strchr(name, '/') &&
	       !strstr(name, "..");
}

/* Read the whole regular file at fd into a fresh read-only dataspace. */
static int rom_load(struct core *c, int fd, struct dataspace **out, uint64_t *size)
{
	struct stat st;
	struct dataspace *ds;
	uint64_t done = 0;
	int err;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return -EINVAL;
	err = ds_create(c, st.st_size ? (uint64_t)st.st_size : 1, 0, &ds);
	if (err)
		return err;
	while (done < (uint64_t)st.st_size) {
		ssize_t n = read(fd, (char *)ds->host + done, st.st_size - done);
		if (n <= 0) {
			ds_release(c, ds);
			return -EIO;
		}
		done += (uint64_t)n;
	}
	*out = ds;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Open NAME in the first ROM directory that has it; -1 if none. */
static int rom_open(const struct core_config *cfg, const char *name)
{
	char path[4096];

	for (int i = 0; i < cfg->nrom; i++) {
		int fd;
		if (snprintf(path, sizeof(path), "%s/%s", cfg->rom_dirs[i], name) >=
		    (int)sizeof(path))
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	return -1;
}

int rom_session_create(struct core *c, const char *args, struct core_session **out)
{
	char label[CORE_LABEL_MAX];
	const char *name;
	struct rom_session *rs;
	int fd, err;

	if (session_arg_str(args, "label", label, sizeof(label)))
		return -EINVAL;
	name = rom_name(label);
	if (!rom_name_ok(name)) {
		fprintf(stderr, "core: ROM \"%.*s\": invalid name\n",
			rom_printable_len(name), name);
		return -EINVAL;
	}
	fd = rom_open(c->cfg, name);
	if (fd < 0) {
		fprintf(stderr, "core: ROM \"%s\": no such file in the ROM directories (",
			name);
		for (int i = 0; i < c->cfg->nrom; i++)
			fprintf(stderr, "%s%s", i ? ", " : "", c->cfg->rom_dirs[i]);
		fprintf(stderr, "; capsule run|node --rom DIR adds one)\n");
		return -ENOENT;
	}
	rs = calloc(1, sizeof(*rs));
	err = rs ? rom_load(c, fd, &rs->ds, &rs->size) : -ENOMEM;
	close(fd);
	if (err)
		goto err;
	if (!cap_valid(ep_manage(c->env->ep, &rs->s.obj, rom_dispatch))) {
		err = -ENOSPC;
		ds_release(c, rs->ds);
		goto err;
	}
	core_session_add(c, &rs->s, &rom_session_ops, label);
	*out = &rs->s;
	return 0;
err:
	fprintf(stderr, "core: ROM \"%s\": cannot load (error %d)\n", name, err);
	free(rs);
	return err;
}

void rom_session_destroy(struct core *c, struct core_session *s)
{
	struct rom_session *rs = container_of(s, struct rom_session, s);

	core_session_remove(c, s);
	ep_dissolve(c->env->ep, &s->obj);
	/* its memory is charged to nobody: it must not outlive the session
	 * in a client's attachments */
	ds_detach_all(rs->ds);
	ds_release(c, rs->ds);
	free(rs);
}

static void rom_session_forget(struct core_session *s)
{
	struct rom_session *rs = container_of(s, struct rom_session, s);

	ds_unref(rs->ds);
	free(rs);
}

static int rom_ops_create(struct core *c, const char *args, struct pd_session *donor,
			  struct core_session **out)
{
	return rom_session_create(c, args, out);
}

const struct core_session_ops rom_session_ops = {
    .name = "ROM",
    .create = rom_ops_create,
    .close = rom_session_destroy,
    .forget = rom_session_forget,
};
