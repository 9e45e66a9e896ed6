/*
 * Image write and read of a 256 MiB memory model (a quarter zero pages, a
 * quarter random, half compressible), held against the zstd library on
 * the same bytes at the same level and chunk size, and against memcpy of
 * the same bytes, all in the same run.  Best of REPS for each.
 *
 * Prints MB/s (of the 256 MiB of memory) for each and the ratios.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <zstd.h>

#include "image/image.h"

#define SIZE  (256ull << 20)
#define CHUNK ((size_t)IMAGE_CHUNK_PAGES * IMAGE_PAGE_SIZE)
#define REPS  3

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* page kinds: 0 zero, 1 random, 2-3 compressible (words with counters) */
static void fill(uint8_t *mem)
{
	for (uint64_t p = 0; p < SIZE / IMAGE_PAGE_SIZE; p++) {
		uint8_t *q = mem + p * IMAGE_PAGE_SIZE;
		switch (next() % 4) {
		case 0:
			memset(q, 0, IMAGE_PAGE_SIZE);
			break;
		case 1:
			for (unsigned i = 0; i < IMAGE_PAGE_SIZE; i += 8) {
				uint64_t v = next();
				memcpy(q + i, &v, 8);
			}
			break;
		default:
			for (unsigned i = 0; i < IMAGE_PAGE_SIZE; i += 16)
				snprintf((char *)q + i, 17, "obj %06llx val ",
					 (unsigned long long)((p * 256 + i) % 4099));
		}
	}
}

static double mbs(double secs)
{
	return (double)SIZE / secs / 1e6;
}

int main(void)
{
	struct image_dataspace ds = {.id = 1, .size = SIZE, .kind = IMAGE_DS_RAM};
	struct image_memory mem = {.ds_id = 1, .size = SIZE};
	struct image_model m = {
	    .dataspaces = &ds, .ndataspaces = 1, .memory = &mem, .nmemory = 1};
	struct image_stats st;
	char err[512], path[64];
	double t_w = 1e9, t_r = 1e9, t_zc = 1e9, t_zd = 1e9, t_mc = 1e9;
	size_t zbytes = 0;

	strcpy(m.component.label, "bench");
	mem.data = malloc(SIZE);
	uint8_t *copy = malloc(SIZE),
		*zbuf = malloc(ZSTD_compressBound(SIZE) + SIZE / CHUNK * 64);
	size_t *zlen = malloc(SIZE / CHUNK * sizeof(*zlen));
	if (!mem.data || !copy || !zbuf || !zlen)
		return 1;
	fill(mem.data);
	memset(copy, 1, SIZE);
	int fd = memfd_create("bench_image", 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_DCtx *dc = ZSTD_createDCtx();

	for (int rep = 0; rep < REPS; rep++) {
		double t0 = now();
		if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0 ||
		    image_write_fd(fd, &m, &st, err, sizeof(err)) < 0) {
			fprintf(stderr, "bench_image: write: %s\n", err);
			return 1;
		}
		double t1 = now();
		struct image_model *o;
		if (image_read(path, &o, err, sizeof(err)) < 0) {
			fprintf(stderr, "bench_image: read: %s\n", err);
			return 1;
		}
		double t2 = now();
		if (memcmp(o->memory[0].data, mem.data, SIZE)) {
			fprintf(stderr, "bench_image: memory differs after read\n");
			return 1;
		}
		image_model_free(o);
		t_w = t1 - t0 < t_w ? t1 - t0 : t_w;
		t_r = t2 - t1 < t_r ? t2 - t1 : t_r;

		/* the library alone: same bytes, same chunks, same level */
		t0 = now();
		uint8_t *z = zbuf;
		for (size_t c = 0; c < SIZE / CHUNK; c++) {
			zlen[c] = ZSTD_compressCCtx(cc, z, ZSTD_compressBound(CHUNK),
						    mem.data + c * CHUNK, CHUNK,
						    IMAGE_ZSTD_LEVEL);
			if (ZSTD_isError(zlen[c]))
				return 1;
			z += zlen[c];
		}
		t1 = now();
		z = zbuf;
		for (size_t c = 0; c < SIZE / CHUNK; c++) {
			if (ZSTD_decompressDCtx(dc, copy + c * CHUNK, CHUNK, z,
						zlen[c]) != CHUNK)
				return 1;
			z += zlen[c];
		}
		t2 = now();
		zbytes = (size_t)(z - zbuf);
		t_zc = t1 - t0 < t_zc ? t1 - t0 : t_zc;
		t_zd = t2 - t1 < t_zd ? t2 - t1 : t_zd;

		t0 = now();
		memcpy(copy, mem.data, SIZE);
		t1 = now();
		if (copy[SIZE / 2] != mem.data[SIZE / 2])
			return 1;
		t_mc = t1 - t0 < t_mc ? t1 - t0 : t_mc;
	}
	printf(
	    "bench_image: 256 MiB, %llu pages, %llu zero, image %llu bytes (ratio %.2f), "
	    "zstd alone %zu bytes (ratio %.2f)\n",
	    (unsigned long long)st.pages_written, (unsigned long long)st.zero_pages,
	    (unsigned long long)st.image_bytes, (double)SIZE / (double)st.image_bytes,
	    zbytes, (double)SIZE / (double)zbytes);
	printf("bench_image: write %.0f MB/s, zstd compress %.0f MB/s: write/zstd %.2f\n",
	       mbs(t_w), mbs(t_zc), t_zc / t_w);
	printf(
	    "bench_image: read  %.0f MB/s, zstd decompress %.0f MB/s: read/zstd %.2f\n",
	    mbs(t_r), mbs(t_zd), t_zd / t_r);
	printf("bench_image: memcpy %.0f MB/s: write/memcpy %.3f, read/memcpy %.3f\n",
	       mbs(t_mc), t_mc / t_w, t_mc / t_r);
	ZSTD_freeCCtx(cc);
	ZSTD_freeDCtx(dc);
	close(fd);
	free(mem.data);
	free(copy);
	free(zbuf);
	free(zlen);
	return 0;
}
