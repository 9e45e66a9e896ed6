/* Image format v1: every record round-trips, memory with zero, random and
 * compressible pages (also 64 MiB), incremental images, inspect output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sys/wait.h>

#include "test_image_model.h"
#include "tools/inspect.h"

static char path[64];

static int setup(void **state)
{
	strcpy(path, "/tmp/test_image_XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	return 0;
}

static struct image_model *write_read(const struct image_model *m, struct image_stats *st)
{
	char err[256] = "";
	struct image_model *out = NULL;
	int rc = image_write(path, m, st, err, sizeof(err));
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
	rc = image_read(path, &out, err, sizeof(err));
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(out);
	return out;
}

/* Every record of every subsystem comes back field for field. */
static void every_record_round_trips(void **state)
{
	for (int round = 0; round < 5; round++) {
		struct t_model t;
		struct image_stats st;
		t_model_init(&t);
		struct image_model *o = write_read(&t.m, &st);

		assert_int_equal(o->flags, 0);
		assert_int_equal(o->parent_id, 0);
		assert_true(o->image_id != 0);
		assert_string_equal(o->node, t.m.node);
		assert_memory_equal(&o->component, &t.m.component, sizeof(o->component));
		assert_string_equal(o->component.label, t.m.component.label);
		assert_int_equal(o->component.parent_badge, t.m.component.parent_badge);

		assert_int_equal(o->nsessions, t.m.nsessions);
		for (uint32_t i = 0; i < o->nsessions; i++) {
			assert_int_equal(o->sessions[i].id, t.s[i].id);
			assert_int_equal(o->sessions[i].type, t.s[i].type);
			assert_string_equal(o->sessions[i].args, t.s[i].args);
			assert_memory_equal(&o->sessions[i], &t.s[i], sizeof(t.s[i]));
		}
		assert_int_equal(o->nthreads, t.m.nthreads);
		for (uint32_t i = 0; i < o->nthreads; i++) {
			assert_int_equal(o->threads[i].nr, t.t[i].nr);
			assert_int_equal(o->threads[i].regs.rip, t.t[i].regs.rip);
			assert_int_equal(o->threads[i].regs.xmm[15][1],
					 t.t[i].regs.xmm[15][1]);
			assert_int_equal(o->threads[i].utcb.tcr[TCR_THREAD_KCAP],
					 t.t[i].utcb.tcr[TCR_THREAD_KCAP]);
			assert_memory_equal(&o->threads[i], &t.t[i], sizeof(t.t[i]));
		}
		assert_int_equal(o->ndataspaces, t.m.ndataspaces);
		assert_memory_equal(o->dataspaces, t.d, t.m.ndataspaces * sizeof(t.d[0]));
		assert_int_equal(o->nregions, t.m.nregions);
		assert_memory_equal(o->regions, t.g, sizeof(t.g));
		assert_int_equal(o->ncaps, t.m.ncaps);
		for (uint32_t i = 0; i < o->ncaps; i++) {
			assert_int_equal(o->caps[i].kcap, t.c[i].kcap);
			assert_int_equal(o->caps[i].badge, t.c[i].badge);
			assert_int_equal(o->caps[i].class, t.c[i].class);
			assert_memory_equal(&o->caps[i], &t.c[i], sizeof(t.c[i]));
		}
		assert_int_equal(o->nsignals, 2);
		assert_memory_equal(o->signals, t.sig, sizeof(t.sig));
		assert_true(o->signals[0].pending > 0);
		assert_int_equal(o->ntimers, 1);
		assert_memory_equal(o->timers, t.tim, sizeof(t.tim));
		assert_int_equal(o->timers[0].sigh, o->signals[0].badge);
		assert_int_equal(o->component.build_id_len, 20);
		assert_int_equal(o->nmemory, T_RAM_DS);
		for (uint32_t i = 0; i < o->nmemory; i++) {
			assert_int_equal(o->memory[i].ds_id, t.mem[i].ds_id);
			assert_int_equal(o->memory[i].size, t.mem[i].size);
			assert_memory_equal(o->memory[i].data, t.mem[i].data,
					    t.mem[i].size);
		}
		assert_memory_equal(&o->stats, &st, sizeof(st));
		assert_int_equal(o->stats.paused_ns, t.m.stats.paused_ns);
		image_model_free(o);
		t_model_free(&t);
	}
}

/* Zero pages are elided and counted; random pages stored; data exact. */
static void zero_pages_elided_and_counted(void **state)
{
	struct t_model t;
	struct image_stats st;
	t_model_init(&t);
	struct image_model *o = write_read(&t.m, &st);
	uint64_t pages = 0, zero = 0;
	for (unsigned i = 0; i < T_RAM_DS; i++)
		for (uint64_t p = 0; p < t.mem[i].size / IMAGE_PAGE_SIZE; p++, pages++)
			zero += (p + i) % 4 == 0;
	assert_int_equal(st.pages_scanned, pages);
	assert_int_equal(st.pages_written, pages);
	assert_int_equal(st.zero_pages, zero);
	assert_int_equal(st.bytes_raw, (pages - zero) * IMAGE_PAGE_SIZE);
	assert_true(st.bytes_compressed < st.bytes_raw);
	assert_true(st.image_bytes > st.bytes_compressed);
	image_model_free(o);
	t_model_free(&t);
}

/* A 64 MiB dataspace, mostly zero with scattered random pages. */
static void big_dataspace_round_trips(void **state)
{
	struct t_model t;
	struct image_stats st;
	const uint64_t size = 64ull << 20;
	t_model_init(&t);
	t.d[0].size = size;
	t.mem[0].size = size;
	free(t.mem[0].data);
	t.mem[0].data = calloc(1, size);
	for (uint64_t p = 0; p < size / IMAGE_PAGE_SIZE; p += 1 + t_rand() % 97)
		t_fill(t.mem[0].data + p * IMAGE_PAGE_SIZE, IMAGE_PAGE_SIZE);
	struct image_model *o = write_read(&t.m, &st);
	assert_int_equal(o->memory[0].size, size);
	assert_memory_equal(o->memory[0].data, t.mem[0].data, size);
	assert_true(st.zero_pages > st.pages_written / 2);
	image_model_free(o);
	t_model_free(&t);
}

/* An incremental image carries only the present pages and names its parent. */
static void incremental_carries_present_pages(void **state)
{
	struct t_model t;
	struct image_stats st;
	t_model_init(&t);
	t.m.flags = IMAGE_F_INCREMENTAL;
	t.m.parent_id = 0xfeedull;
	t.m.parent = (struct image_parent){.id = 0xfeed, .hash = {1}, .depth = 1};
	strcpy(t.m.parent.path, "base.img");
	uint8_t *bits[T_RAM_DS];
	uint64_t present = 0;
	for (unsigned i = 0; i < T_RAM_DS; i++) {
		uint64_t pages = t.mem[i].size / IMAGE_PAGE_SIZE;
		bits[i] = calloc(pages / 8 + 8, 1);
		for (uint64_t p = 0; p < pages; p++)
			if (i != 1 && t_rand() % 3 == 0) { /* ds 1: nothing dirty */
				bits[i][p / 8] |= 1 << (p % 8);
				present++;
			}
		t.mem[i].present = bits[i];
	}
	struct image_model *o = write_read(&t.m, &st);
	assert_int_equal(o->flags, IMAGE_F_INCREMENTAL);
	assert_int_equal(o->parent_id, 0xfeed);
	assert_memory_equal(&o->parent, &t.m.parent, sizeof(o->parent));
	assert_int_equal(st.pages_written, present);
	assert_int_equal(o->nmemory, 2);
	for (unsigned k = 0; k < o->nmemory; k++) {
		unsigned i = k == 0 ? 0 : 2;
		const struct image_memory *e = &o->memory[k];
		assert_int_equal(e->ds_id, t.mem[i].ds_id);
		for (uint64_t p = 0; p < e->size / IMAGE_PAGE_SIZE; p++) {
			int in = (bits[i][p / 8] >> (p % 8)) & 1;
			assert_int_equal((e->present[p / 8] >> (p % 8)) & 1, in);
			if (in)
				assert_memory_equal(e->data + p * IMAGE_PAGE_SIZE,
						    t.mem[i].data + p * IMAGE_PAGE_SIZE,
						    IMAGE_PAGE_SIZE);
		}
	}
	image_model_free(o);
	for (unsigned i = 0; i < T_RAM_DS; i++)
		free(bits[i]);
	t_model_free(&t);
}

/* A model with no threads, caps, regions or memory is a valid image. */
static void empty_model_round_trips(void **state)
{
	struct image_model m = {0};
	strcpy(m.component.label, "empty");
	struct image_model *o = write_read(&m, NULL);
	assert_int_equal(o->nthreads + o->ncaps + o->nregions + o->nmemory, 0);
	assert_string_equal(o->component.label, "empty");
	image_model_free(o);
}

/* The writer streams: a pipe (not seekable) carries a valid image. */
static void writes_to_a_pipe(void **state)
{
	struct t_model t;
	int fds[2];
	t_model_init(&t);
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		_exit(image_write_fd(fds[1], &t.m, NULL, NULL, 0) ? 1 : 0);
	}
	close(fds[1]);
	size_t len = 0, cap = 1 << 20;
	uint8_t *buf = malloc(cap);
	ssize_t n;
	while ((n = read(fds[0], buf + len, cap - len)) > 0)
		if ((len += (size_t)n) == cap)
			buf = realloc(buf, cap *= 2);
	close(fds[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	struct image_model *o;
	char err[256];
	assert_int_equal(image_read_mem("pipe", buf, len, &o, err, sizeof(err)), 0);
	assert_int_equal(o->ncaps, t.m.ncaps);
	assert_memory_equal(o->memory[2].data, t.mem[2].data, t.mem[2].size);
	image_model_free(o);
	free(buf);
	t_model_free(&t);
}

static char *inspect_to_string(int json)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	char err[256];
	assert_int_equal(inspect_image(path, json, f, err, sizeof(err)), 0);
	fclose(f);
	return text;
}

/* inspect prints every section, and per cap its kcap, badge and class. */
static void inspect_text_and_json(void **state)
{
	struct t_model t;
	t_model_init(&t);
	image_model_free(write_read(&t.m, NULL));
	char *txt = inspect_to_string(0), *json = inspect_to_string(1);
	char want[128];
	snprintf(want, sizeof(want), "0x%llx", (unsigned long long)t.c[5].kcap);
	assert_non_null(strstr(txt, want));
	snprintf(want, sizeof(want), "%#llx", (unsigned long long)t.c[5].badge);
	assert_non_null(strstr(txt, want));
	assert_non_null(strstr(txt, "rpc gate"));
	assert_non_null(strstr(txt, "semaphore irq"));
	assert_non_null(strstr(json, "\"class\": \"outside session\""));
	assert_non_null(strstr(json, "\"zero_pages\": "));
	/* the signal and timer records, the binary's identity */
	snprintf(want, sizeof(want), "pending=%llu",
		 (unsigned long long)t.sig[0].pending);
	assert_non_null(strstr(txt, want));
	snprintf(want, sizeof(want), "\"period_us\": %llu",
		 (unsigned long long)t.tim[0].period);
	assert_non_null(strstr(json, want));
	snprintf(want, sizeof(want), "binary_xxh3_128: \"%02x%02x",
		 t.m.component.binary_hash[0], t.m.component.binary_hash[1]);
	assert_non_null(strstr(txt, want));
	assert_non_null(strstr(json, "\"build_id\": \""));
	/* a JSON string never contains a raw control char or an unescaped quote */
	for (char *p = json; *p; p++)
		assert_true((unsigned char)*p >= 0x20 || *p == '\n');
	assert_int_equal(json[0], '{');
	free(txt);
	free(json);
	t_model_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(every_record_round_trips, setup, teardown),
	    cmocka_unit_test_setup_teardown(zero_pages_elided_and_counted, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(big_dataspace_round_trips, setup, teardown),
	    cmocka_unit_test_setup_teardown(incremental_carries_present_pages, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(empty_model_round_trips, setup, teardown),
	    cmocka_unit_test_setup_teardown(inspect_text_and_json, setup, teardown),
	    cmocka_unit_test(writes_to_a_pipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
