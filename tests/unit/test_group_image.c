/* The group image (image/group.h): a group of two members whose caps
 * refer to each other's objects round-trips, so does one whose member had
 * ended; a table that names an object
 * the owner's image does not contain, a member cap without its record, a
 * corrupt or truncated file are refused with one line naming the file and
 * what is wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "image/group.h"
#include "test_image_model.h"

struct t_group {
	struct t_model t[2];
	struct image_model *img[2];
	struct image_group_member mem[2];
	struct image_member_ref ref[3];
	struct image_group g;
	char path[64];
};

static uint64_t badge_of(const struct t_model *t, uint32_t class)
{
	for (uint32_t i = 0; i < t->m.ncaps; i++)
		if (t->c[i].class == class)
			return t->c[i].badge;
	return 0;
}

/* Member 1 ("client") holds member 0's ("server") gate and signal
 * context; member 0 holds member 1's signal context. */
static void member_cap(struct t_group *x, uint32_t holder, uint32_t owner, uint64_t kcap,
		       uint32_t kind, uint64_t object)
{
	struct t_model *t = &x->t[holder];
	struct image_member_ref *r = &x->ref[x->g.h.nrefs++];

	t_cap(t, kcap, IMAGE_CAP_MEMBER, owner, object);
	*r = (struct image_member_ref){holder, owner, kcap,  t->c[t->m.ncaps - 1].badge,
				       kind,   0,     object};
}

static void group_init(struct t_group *x)
{
	memset(x, 0, sizeof *x);
	for (int k = 0; k < 2; k++) {
		t_model_init(&x->t[k]);
		x->t[k].m.nmemory = 1; /* one dataspace's pages: small */
		/* a group member's binary name has 39 bytes at most */
		x->t[k].m.component.binary[39] = 0;
		x->img[k] = &x->t[k].m;
	}
	strcpy(x->mem[0].name, "server");
	strcpy(x->mem[1].name, "client");
	x->g.member = x->mem;
	x->g.image = x->img;
	x->g.ref = x->ref;
	x->g.h.nmembers = 2;
	strcpy(x->g.h.name, "grp");
	member_cap(x, 1, 0, KCAP(FIXED_USER_BASE + 50), IMAGE_MEMBER_GATE,
		   badge_of(&x->t[0], IMAGE_CAP_RPC_GATE));
	member_cap(x, 1, 0, KCAP(FIXED_USER_BASE + 51), IMAGE_MEMBER_SIGNAL_CONTEXT,
		   x->t[0].sig[0].badge);
	member_cap(x, 0, 1, KCAP(FIXED_USER_BASE + 50), IMAGE_MEMBER_SIGNAL_CONTEXT,
		   x->t[1].sig[1].badge);
	snprintf(x->path, sizeof x->path, "/tmp/test_group_%d.img", (int)getpid());
}

static void group_free(struct t_group *x)
{
	for (int k = 0; k < 2; k++)
		t_model_free(&x->t[k]);
	unlink(x->path);
}

static void write_ok(struct t_group *x)
{
	char err[512] = "";
	int rc = image_group_write(x->path, &x->g, err, sizeof err);

	if (rc)
		fprintf(stderr, "write: %s\n", err);
	assert_int_equal(rc, 0);
}

/* Reading path is refused with one line containing want. */
static void read_refused(const char *path, const char *want)
{
	char err[512] = "";
	struct image_group *g = (void *)1;
	int rc = image_group_read(path, &g, err, sizeof err);

	if (rc != -EINVAL || !strstr(err, want))
		fprintf(stderr, "rc %d, err '%s', wanted '%s'\n", rc, err, want);
	assert_int_equal(rc, -EINVAL);
	assert_null(g);
	assert_non_null(strstr(err, want));
	assert_null(strchr(err, '\n'));
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	rewind(f);
	buf = malloc(*len);
	assert_int_equal(fread(buf, 1, *len, f), *len);
	fclose(f);
	return buf;
}

static void spill(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

/* The table's and the header's checksums again, after a forgery. */
static void reseal(uint8_t *buf)
{
	struct image_group_header h;
	size_t tb;

	memcpy(&h, buf, sizeof h);
	tb = h.nmembers * sizeof(struct image_group_member) +
	     h.nrefs * sizeof(struct image_member_ref);
	h.table_checksum = XXH3_64bits(buf + sizeof h, tb);
	h.checksum = XXH3_64bits(&h, offsetof(struct image_group_header, checksum));
	memcpy(buf, &h, sizeof h);
}

static void group_round_trips(void **state)
{
	struct t_group x;
	struct image_group *g;
	char err[512] = "";

	group_init(&x);
	write_ok(&x);
	assert_true(image_is_group(x.path));
	assert_int_equal(image_group_read(x.path, &g, err, sizeof err), 0);
	assert_int_equal(g->h.nmembers, 2);
	assert_int_equal(g->h.nrefs, 3);
	assert_string_equal(g->h.name, "grp");
	assert_string_equal(g->member[1].name, "client");
	assert_memory_equal(g->ref, x.ref, sizeof x.ref);
	assert_int_equal(g->image[1]->ncaps, x.t[1].m.ncaps);
	assert_memory_equal(g->image[0]->memory[0].data, x.t[0].mem[0].data,
			    x.t[0].mem[0].size);
	image_group_free(g);
	group_free(&x);
}

/* A record naming an object its owner's image does not contain: the
 * writer refuses it, and so does the reader of a file forged to say it. */
static void missing_object_refused(void **state)
{
	struct t_group x;
	struct image_member_ref r;
	char err[512] = "";
	uint8_t *buf;
	size_t len, at;

	group_init(&x);
	x.ref[1].object ^= 0x10;
	x.t[1].c[x.t[1].m.ncaps - 1].arg ^= 0x10; /* the cap says so too */
	assert_int_equal(image_group_write(x.path, &x.g, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "which its image does not contain"));
	assert_int_equal(access(x.path, F_OK), -1);
	group_free(&x);

	group_init(&x);
	write_ok(&x);
	buf = slurp(x.path, &len);
	at = sizeof(struct image_group_header) + 2 * sizeof(struct image_group_member);
	memcpy(&r, buf + at, sizeof r); /* the gate: now said to be a dataspace */
	r.kind = IMAGE_MEMBER_DATASPACE;
	memcpy(buf + at, &r, sizeof r);
	reseal(buf);
	spill(x.path, buf, len);
	read_refused(x.path, "member ref 0: member 'client' kcap 0x");
	read_refused(x.path, "refers to member 'server' dataspace");
	free(buf);
	group_free(&x);
}

/* Member 0 has a RAM dataspace 0x7700 of a page (ids are the same in
 * both test images otherwise); member 1 attached it: a dataspace of kind
 * member in its image, with id (0x7700: that one) and a page. */
static void member_ds(struct t_group *x, uint64_t id, uint32_t owner)
{
	struct image_dataspace *o = &x->t[0].d[x->t[0].m.ndataspaces++];
	struct image_dataspace *d = &x->t[1].d[x->t[1].m.ndataspaces++];

	memset(o, 0, sizeof *o);
	o->id = 0x7700;
	o->size = IMAGE_PAGE_SIZE;
	o->kind = IMAGE_DS_RAM;
	memset(d, 0, sizeof *d);
	d->id = id;
	d->size = IMAGE_PAGE_SIZE;
	d->kind = IMAGE_DS_MEMBER;
	d->member.owner = owner;
}

/* A member's dataspace of another member's round-trips; one whose id,
 * or owner, the image does not hold is refused by writer and reader. */
static void member_dataspace(void **state)
{
	struct t_group x;
	struct image_group *g;
	char err[512] = "";

	group_init(&x);
	member_ds(&x, 0x7700, 0);
	write_ok(&x);
	assert_int_equal(image_group_read(x.path, &g, err, sizeof err), 0);
	assert_int_equal(g->image[1]->dataspaces[T_RAM_DS + 2].kind, IMAGE_DS_MEMBER);
	assert_int_equal(g->image[1]->dataspaces[T_RAM_DS + 2].member.owner, 0);
	image_group_free(g);
	group_free(&x);

	group_init(&x);
	member_ds(&x, 0x7710, 0); /* none of the server's */
	assert_int_equal(image_group_write(x.path, &x.g, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "member 'client' dataspace 0x"));
	assert_non_null(strstr(err, "refers to member 'server' dataspace"));
	assert_null(strchr(err, '\n'));
	assert_int_equal(access(x.path, F_OK), -1);
	group_free(&x);

	group_init(&x);
	member_ds(&x, 0x7700, 1); /* its own member */
	assert_int_equal(image_group_write(x.path, &x.g, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "refers to member 1, which the image does not"));
	group_free(&x);
}

/* A member cap without its record, a record without its cap, a record
 * naming a member the group does not have. */
static void table_mismatch_refused(void **state)
{
	struct t_group x;
	char err[512] = "";

	group_init(&x);
	x.g.h.nrefs = 2;
	assert_int_equal(image_group_write(x.path, &x.g, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "3 member-object caps in the members' images, 2"));
	group_free(&x);

	group_init(&x);
	x.ref[0].kcap += KCAP(1);
	assert_int_equal(image_group_write(x.path, &x.g, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "has no member-object cap"));
	group_free(&x);

	group_init(&x);
	x.ref[2].owner = 2;
	assert_int_equal(image_group_write(x.path, &x.g, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "owner 2"));
	group_free(&x);
}

static void corrupt_file_refused(void **state)
{
	struct t_group x;
	uint8_t *buf;
	size_t len;

	group_init(&x);
	write_ok(&x);
	buf = slurp(x.path, &len);
	buf[sizeof(struct image_group_header) + 3] ^= 1; /* a member's name */
	spill(x.path, buf, len);
	read_refused(x.path, "table checksum mismatch");
	buf[sizeof(struct image_group_header) + 3] ^= 1;
	buf[len - 100] ^= 0x40; /* in the last member's image */
	spill(x.path, buf, len);
	read_refused(x.path, "(member 'client')");
	buf[len - 100] ^= 0x40;
	spill(x.path, buf, len - 1);
	read_refused(x.path, "member 'client': image at");
	buf[0] ^= 1;
	spill(x.path, buf, len);
	read_refused(x.path, "not a group image");
	free(buf);
	group_free(&x);
}

/* The revoked flag: on a gate's record it round-trips; on another kind's,
 * or an unknown bit, the writer refuses it. */
static void revoked_flag(void **state)
{
	struct t_group x;
	struct image_group *g;
	char err[512] = "";

	group_init(&x);
	x.ref[0].flags = IMAGE_MEMBER_F_REVOKED; /* ref 0: the server's gate */
	write_ok(&x);
	assert_int_equal(image_group_read(x.path, &g, err, sizeof err), 0);
	assert_int_equal(g->ref[0].flags, IMAGE_MEMBER_F_REVOKED);
	assert_int_equal(g->ref[1].flags, 0);
	image_group_free(g);
	group_free(&x);

	group_init(&x);
	x.ref[1].flags = IMAGE_MEMBER_F_REVOKED; /* a signal context */
	assert_int_equal(image_group_write(x.path, &x.g, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "member ref 1"));
	group_free(&x);

	group_init(&x);
	x.ref[0].flags = 2;
	assert_int_equal(image_group_write(x.path, &x.g, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "member ref 0"));
	group_free(&x);
}

/* Member 1 ("client") had ended at the cut: it has no image, only its
 * exit code; member 0 no longer holds its signal context.  Round-trips;
 * a record or a member cap naming the ended member, and a group of ended
 * members only, are refused. */
static void ended_init(struct t_group *x)
{
	group_init(x);
	x->t[0].m.ncaps--; /* the cap to member 1's signal context */
	x->g.h.nrefs = 0;
	x->img[1] = NULL;
	x->mem[1].exit_code = 3;
}

static void ended_member(void **state)
{
	struct t_group x;
	struct image_group *g;
	char err[512] = "";
	uint8_t *buf;
	size_t len;

	ended_init(&x);
	strcpy(x.mem[1].binary, "client_bin");
	write_ok(&x);
	assert_int_equal(image_group_read(x.path, &g, err, sizeof err), 0);
	assert_int_equal(g->h.version, IMAGE_GROUP_VERSION);
	assert_int_equal(g->member[1].flags, IMAGE_GROUP_MEMBER_ENDED);
	assert_int_equal(g->member[1].exit_code, 3);
	assert_string_equal(g->member[1].binary, "client_bin");
	assert_int_equal(g->member[1].length, 0);
	assert_null(g->image[1]);
	assert_non_null(g->image[0]);
	assert_int_equal(g->member[0].flags, 0);
	image_group_free(g);

	/* forged: the ended member said to have an image's bytes */
	buf = slurp(x.path, &len);
	((struct image_group_member *)(buf + sizeof(struct image_group_header)))[1]
	    .length = 8;
	reseal(buf);
	spill(x.path, buf, len);
	read_refused(x.path, "member 'client' ended: an image at 0, 8 bytes");
	free(buf);

	/* forged: a name with a line break (it would split a message) */
	buf = slurp(x.path, &len);
	memcpy(((struct image_group_member *)(buf + sizeof(struct image_group_header)))[1]
		   .name,
	       "cli\nent", 8);
	reseal(buf);
	spill(x.path, buf, len);
	read_refused(x.path, "member 1: bad name");
	free(buf);
	group_free(&x);

	ended_init(&x); /* a record still naming it */
	x.g.h.nrefs = 1;
	x.ref[0] = x.ref[2];
	x.t[0].m.ncaps++;
	assert_int_equal(image_group_write(x.path, &x.g, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "names member 'client', which had ended"));
	group_free(&x);

	ended_init(&x); /* every member ended */
	x.img[0] = NULL;
	assert_int_equal(image_group_write(x.path, &x.g, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "every member has ended"));
	assert_int_equal(access(x.path, F_OK), -1);
	group_free(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(group_round_trips),
	    cmocka_unit_test(missing_object_refused),
	    cmocka_unit_test(member_dataspace),
	    cmocka_unit_test(table_mismatch_refused),
	    cmocka_unit_test(corrupt_file_refused),
	    cmocka_unit_test(revoked_flag),
	    cmocka_unit_test(ended_member),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
