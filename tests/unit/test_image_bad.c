/* Image format v2: corrupt, truncated and forged images are refused with
 * one clear line naming the image, the section and what is wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_image_model.h"

/* A small valid image: one RAM dataspace of 16 pages. */
static uint8_t *small_image(size_t *len, struct t_model *t)
{
	t_model_init(t);
	t->d[0].size = t->mem[0].size = 16 * IMAGE_PAGE_SIZE;
	t->m.nmemory = 1;
	uint8_t *buf = t_write(&t->m, len);
	assert_non_null(buf);
	return buf;
}

/* Read buf; expect refusal with a message containing `want` (if any). */
static void refused(const uint8_t *buf, size_t len, const char *want)
{
	char err[512] = "";
	struct image_model *m = (void *)1;
	int rc = image_read_mem("x.img", buf, len, &m, err, sizeof(err));
	if (rc != -EINVAL || (want && !strstr(err, want)))
		fprintf(stderr, "rc %d, err '%s', wanted '%s'\n", rc, err,
			want ? want : "");
	assert_int_equal(rc, -EINVAL);
	assert_null(m);
	assert_true(!strncmp(err, "image x.img: ", 13));
	assert_null(strchr(err, '\n'));
	if (want)
		assert_non_null(strstr(err, want));
}

/* Any single flipped bit anywhere in the file is caught. */
static void every_flipped_byte_refused(void **state)
{
	struct t_model t;
	size_t len;
	uint8_t *buf = small_image(&len, &t);
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= (uint8_t)(1u << (i % 8));
		refused(buf, len, NULL);
		buf[i] ^= (uint8_t)(1u << (i % 8));
	}
	struct image_model *m;
	char err[256];
	assert_int_equal(image_read_mem("x.img", buf, len, &m, err, sizeof(err)), 0);
	image_model_free(m);
	free(buf);
	t_model_free(&t);
}

/* Every prefix of an image is refused; at section boundaries as truncated. */
static void every_truncation_refused(void **state)
{
	struct t_model t;
	size_t len;
	uint8_t *buf = small_image(&len, &t);
	for (size_t n = 0; n < len; n++) {
		uint8_t *p = malloc(n + 1); /* exact size, for ASan */
		memcpy(p, buf, n);
		refused(p, n, NULL);
		free(p);
	}
	for (unsigned i = 1; t_section(buf, len, i); i++)
		refused(buf, t_section(buf, len, i), "section");
	refused(buf, 100, "truncated header");
	free(buf);
	t_model_free(&t);
}

static void set_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}
static void set_u64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Header and framing: magic, version, counts, lengths, types, order. */
static void bad_framing_refused(void **state)
{
	struct t_model t;
	size_t len;
	uint8_t *buf = small_image(&len, &t), *b = malloc(len + 16);
	const size_t hv = offsetof(struct image_header, version);
	const size_t hc = offsetof(struct image_header, section_count);
	size_t s2 = t_section(buf, len, 2);
#define FRESH() memcpy(b, buf, len)
	FRESH();
	set_u32(b + hv, 3);
	t_reseal_header(b);
	refused(b, len, "unsupported version 3");
	FRESH(); /* v1 kept timers and signals as text: refused, not misread */
	set_u32(b + hv, 1);
	t_reseal_header(b);
	refused(b, len, "format version 1 is older than this reader's 2");
	FRESH(); /* an incremental image that names itself as its parent */
	set_u32(b + offsetof(struct image_header, flags), IMAGE_F_INCREMENTAL);
	memcpy(b + offsetof(struct image_header, parent_id),
	       b + offsetof(struct image_header, image_id), 8);
	t_reseal_header(b);
	refused(b, len, "names itself as its parent");
	FRESH(); /* incremental, but no parent record says which file it is */
	set_u32(b + offsetof(struct image_header, flags), IMAGE_F_INCREMENTAL);
	set_u64(b + offsetof(struct image_header, parent_id), 77);
	t_reseal_header(b);
	refused(b, len, "an incremental image without its parent record");
	FRESH();
	b[0] ^= 1;
	refused(b, len, "bad magic");
	FRESH();
	set_u32(b + hc, 0xffffffffu);
	t_reseal_header(b);
	refused(b, len, "cannot fit");
	FRESH();
	set_u32(b + hc, 3);
	t_reseal_header(b);
	refused(b, len, "trailing bytes");
	FRESH();
	memset(b + len, 0, 16);
	refused(b, len + 16, "16 trailing bytes");
	FRESH();
	set_u32(b + s2, 0x55);
	t_reseal(b, s2);
	refused(b, len, "section 2 at offset");
	refused(b, len, "unknown type 0x55");
	FRESH();
	set_u64(b + s2 + 8, 1ull << 62);
	refused(b, len, "truncated: length 4611686018427387904");
	FRESH();
	set_u64(b + s2 + 8, ~0ull);
	refused(b, len, "truncated");
	FRESH();
	set_u32(b + s2, IMAGE_SEC_dataspace); /* thread records as dataspaces */
	t_reseal(b, s2);
	refused(b, len, "not a multiple");
	FRESH();
	set_u32(b + s2 + 4, 1); /* section flags */
	t_reseal(b, s2);
	refused(b, len, "unknown flags");
	FRESH();
	set_u32(b + t_section(buf, len, 1), 1); /* a second component section */
	t_reseal(b, t_section(buf, len, 1));
	refused(b, len, "second component section");
	FRESH();
	set_u32(b + t_section(buf, len, 3), IMAGE_SEC_session); /* after thread */
	t_reseal(b, t_section(buf, len, 3));
	refused(b, len, "wrong order");
	free(b);
	free(buf);
	t_model_free(&t);
}

/* One record field forged (and the section resealed) per case. */
struct forge {
	const char *intent;
	uint32_t type;
	size_t rec_size; /* 0 for memory chunks */
	size_t off;	 /* field offset in the record */
	uint32_t rec;	 /* record index */
	unsigned width;	 /* 4 or 8 */
	uint64_t value;
	const char *want; /* in the message */
};

#define CAPF(f) IMAGE_SEC_cap, sizeof(struct image_cap), offsetof(struct image_cap, f)
#define RGNF(f)                                                                          \
	IMAGE_SEC_region, sizeof(struct image_region), offsetof(struct image_region, f)
#define MEMF(f) IMAGE_SEC_memory, 0, offsetof(struct image_mem_chunk, f)
#define SIGF(f)                                                                          \
	IMAGE_SEC_signal, sizeof(struct image_signal), offsetof(struct image_signal, f)
#define TIMF(f)                                                                          \
	IMAGE_SEC_timer, sizeof(struct image_timer), offsetof(struct image_timer, f)
#define COMPF(f)                                                                         \
	IMAGE_SEC_component, sizeof(struct image_component),                             \
	    offsetof(struct image_component, f)

static const struct forge forges[] = {
    {"overlapping regions", RGNF(addr), 1, 8, 0x402000, "overlap"},
    {"region beyond its dataspace", RGNF(size), 1, 8, 0x100000, "beyond dataspace"},
    {"region of a dataspace not in the image", RGNF(ds_id), 1, 8, 999,
     "dataspace 999 not"},
    {"managed region outside its map", RGNF(addr), 5, 8, 0x100000,
     "beyond its region map"},
    {"kcap below 0x300, not fixed", CAPF(kcap), 5, 8, KCAP(5), "is not a fixed selector"},
    {"the factory selector", CAPF(kcap), 0, 8, KCAP(FIXED_FACTORY),
     "not a fixed selector"},
    {"session class below 0x300", CAPF(kcap), 14, 8, KCAP(0x20), "not a fixed selector"},
    {"thread slot of a thread not in the image", CAPF(kcap), 2, 8, KCAP_THREAD(1, 0),
     "thread 1 not in image"},
    {"thread-area vcpu slot", CAPF(kcap), 2, 8, KCAP_THREAD(0, 3), "unused thread-area"},
    {"fixed class above 0x300", CAPF(class), 14, 4, IMAGE_CAP_FIXED, "fixed class above"},
    {"kcap not a selector", CAPF(kcap), 14, 8, 0x300123, "not a kcap"},
    {"kcap twice", CAPF(kcap), 15, 8, KCAP(FIXED_USER_BASE), "appears twice"},
    {"cap of a dataspace not in the image", CAPF(obj), 22, 8, 999,
     "dataspace 999 not in"},
    {"cap of a session not in the image", CAPF(obj), 15, 8, 99,
     "session 99 not in image"},
    {"outside cap of a local session", CAPF(obj), 21, 8, 3, "local"},
    {"thread cap of a thread not in the image", CAPF(obj), 26, 8, 4, "thread 4 not in"},
    {"rpc gate of an entrypoint not in the image", CAPF(arg), 27, 8, 5,
     "thread 5 not in"},
    {"semaphore irq bound to no thread", CAPF(arg), 32, 8, 7, "thread 7 not in"},
    {"rpc gate of a non-PD session", CAPF(obj), 27, 8, 2, "CPU session"},
    {"managed region-map cap of a RAM dataspace", CAPF(obj), 25, 8, 100, "not in image"},
    {"unknown cap class", CAPF(class), 20, 4, 77, "unknown class 77"},
    {"live cap with badge 0", CAPF(badge), 20, 8, 0, "invalid badge"},
    {"parent cap with another badge", CAPF(badge), 1, 8, 42, "not the parent badge"},
    {"dead cap without reason", CAPF(arg), 34, 8, 0, "unknown dead reason"},
    {"signal context cap of another imprint", CAPF(arg), 30, 8, 5, "differ from cap"},
    {"pending count beyond 32 bits", SIGF(pending), 0, 8, 1ull << 32,
     "(signal) at offset"},
    {"pending count beyond 32 bits", SIGF(pending), 0, 8, 1ull << 32,
     "pending 4294967296 is beyond"},
    {"signal of a session not in the image", SIGF(pd_session), 1, 8, 99,
     "pd_session 99 not in image"},
    {"signal record no cap names", SIGF(badge), 1, 8, 0x999, "has no signal record"},
    {"signal imprint 0", SIGF(imprint), 1, 8, 0, "imprint 0"},
    {"signal record flags", SIGF(flags), 0, 4, 1, "unknown flags"},
    {"signal record with badge 0", SIGF(badge), 1, 8, 0, "invalid badge"},
    {"timer of a session that is no Timer", TIMF(session), 0, 8, 1, "(timer) at offset"},
    {"timer of a session that is no Timer", TIMF(session), 0, 8, 1,
     "session 1 is no Timer session"},
    {"timer signalling no context of the image", TIMF(sigh), 0, 8, 0x4444,
     "sigh 0x4444 is no signal"},
    {"timer reserved field", TIMF(reserved), 0, 4, 2, "unknown flags"},
    {"build-id longer than its field", COMPF(build_id_len), 0, 4, 33,
     "(component) at offset"},
    {"build-id longer than its field", COMPF(build_id_len), 0, 4, 33, "build_id_len 33"},
    {"build-id bytes beyond its length", COMPF(build_id) + 24, 0, 8, 7,
     "byte 24 beyond build_id_len 20"},
    {"thread number twice", IMAGE_SEC_thread, sizeof(struct image_thread),
     offsetof(struct image_thread, nr), 1, 4, 0, "thread 0 appears twice"},
    {"thread beyond the thread area", IMAGE_SEC_thread, sizeof(struct image_thread),
     offsetof(struct image_thread, nr), 1, 4, 500, "beyond the thread area"},
    {"dataspace size not in pages", IMAGE_SEC_dataspace, sizeof(struct image_dataspace),
     offsetof(struct image_dataspace, size), 1, 8, 12345, "bad size"},
    {"dataspace id twice", IMAGE_SEC_dataspace, sizeof(struct image_dataspace),
     offsetof(struct image_dataspace, id), 1, 8, 100, "appears twice"},
    {"session of unknown type", IMAGE_SEC_session, sizeof(struct image_session),
     offsetof(struct image_session, type), 3, 4, 99, "unknown type 99"},
    {"memory of a dataspace not in the image", MEMF(ds_id), 0, 8, 999, "not in image"},
    {"memory chunk beyond its dataspace", MEMF(first_page), 0, 8, 64,
     "bad chunk position"},
    {"zero bit set where data is", MEMF(nonzero), 0, 8, 0, "inconsistent lengths"},
    {"nonzero pages outside present", MEMF(present), 0, 8, 1, "bad page bitmaps"},
    {"stored data length lies", MEMF(raw_len), 0, 4, 4096, "inconsistent lengths"},
};

static void forged_records_refused(void **state)
{
	struct t_model t;
	size_t len;
	uint8_t *buf = small_image(&len, &t), *b = malloc(len);
	for (size_t i = 0; i < sizeof(forges) / sizeof(forges[0]); i++) {
		const struct forge *f = &forges[i];
		memcpy(b, buf, len);
		size_t s = t_section_of(b, len, f->type);
		assert_true(s != 0);
		size_t at =
		    s + sizeof(struct image_section) + f->rec * f->rec_size + f->off;
		if (f->width == 4)
			set_u32(b + at, (uint32_t)f->value);
		else
			set_u64(b + at, f->value);
		t_reseal(b, s);
		fprintf(stderr, "case: %s\n", f->intent);
		refused(b, len, f->want);
	}
	memcpy(b, buf, len); /* a string without its NUL */
	size_t s = t_section_of(b, len, IMAGE_SEC_cap);
	memset(b + s + sizeof(struct image_section) + offsetof(struct image_cap, note),
	       'A', sizeof(t.c[0].note));
	t_reseal(b, s);
	refused(b, len, "unterminated note");
	free(b);
	free(buf);
	t_model_free(&t);
}

/* Garbage inside a zstd frame (checksum fixed up) is refused, not trusted. */
static void corrupt_zstd_refused(void **state)
{
	struct t_model t;
	size_t len;
	t_model_init(&t);
	t.d[0].size = t.mem[0].size = 16 * IMAGE_PAGE_SIZE;
	for (unsigned p = 0; p < 16; p++) /* compressible, not zero */
		memset(t.mem[0].data + p * IMAGE_PAGE_SIZE, 'a' + p, IMAGE_PAGE_SIZE);
	t.m.nmemory = 1;
	uint8_t *buf = t_write(&t.m, &len);
	size_t s = t_section_of(buf, len, IMAGE_SEC_memory);
	struct image_mem_chunk c;
	memcpy(&c, buf + s + sizeof(struct image_section), sizeof(c));
	assert_int_equal(c.flags, 0);
	for (uint32_t k = 0; k < c.data_len; k++) {
		uint8_t *p = buf + s + sizeof(struct image_section) + sizeof(c) + k;
		uint8_t old = *p;
		*p ^= 0x5a;
		t_reseal(buf, s);
		char err[512];
		struct image_model *m;
		int rc = image_read_mem("x.img", buf, len, &m, err, sizeof(err));
		if (rc == 0) { /* a change zstd cannot see must still give 16 pages */
			image_model_free(m);
		} else {
			assert_int_equal(rc, -EINVAL);
			assert_non_null(strstr(err, "zstd"));
		}
		*p = old;
	}
	t_reseal(buf, s);
	free(buf);
	t_model_free(&t);
}

/* The writer refuses an invalid model and leaves no file behind. */
static void writer_refuses_invalid_model(void **state)
{
	struct t_model t;
	char err[512] = "", path[] = "/tmp/test_image_bad_XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	t_model_init(&t);
	t.c[5].kcap = KCAP(7);
	assert_int_equal(image_write(path, &t.m, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a fixed selector"));
	assert_int_equal(access(path, F_OK), -1);
	t_model_free(&t);
	t_model_init(&t); /* a Timer session without its state */
	t.m.ntimers = 0;
	assert_int_equal(image_write(path, &t.m, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "Timer session 6 has no timer record"));
	t_model_free(&t);
	t_model_init(&t); /* a signal-context cap without its record */
	t.m.nsignals = 1;
	assert_int_equal(image_write(path, &t.m, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "has no signal record"));
	assert_int_equal(access(path, F_OK), -1);
	t_model_free(&t);
}

/* A missing file and a non-image give one line, no crash. */
static void not_an_image_refused(void **state)
{
	char err[512];
	struct image_model *m;
	assert_int_equal(image_read("/nonexistent/x.img", &m, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/x.img"));
	char path[] = "/tmp/test_image_txt_XXXXXX";
	int fd = mkstemp(path);
	char text[256];
	memset(text, 'x', sizeof(text)); /* text, long enough to hold a header */
	assert_int_equal(write(fd, text, sizeof(text)), (ssize_t)sizeof(text));
	close(fd);
	assert_int_equal(image_read(path, &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad magic"));
	unlink(path);
	assert_int_equal(image_read("/tmp", &m, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_flipped_byte_refused),
	    cmocka_unit_test(every_truncation_refused),
	    cmocka_unit_test(bad_framing_refused),
	    cmocka_unit_test(forged_records_refused),
	    cmocka_unit_test(corrupt_zstd_refused),
	    cmocka_unit_test(writer_refuses_invalid_model),
	    cmocka_unit_test(not_an_image_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
