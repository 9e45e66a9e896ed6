/*
 * transport/stream.c: AES-256-GCM records over a socket.  A writer
 * thread records what one stream puts on the wire; the test then alters
 * the recording (a flipped byte, a cut, two frames swapped, a frame sent
 * twice or dropped, a FINAL flag set or cleared, a frame that claims too
 * much, a frame of another stream of the same key) and feeds it to a
 * reader, which must refuse it.  The untouched recording must read back
 * exactly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "transport/transport.h"

#define REC_MAX (512 * 1024)

static unsigned char key[32];

struct rec {
	unsigned char *buf;
	size_t len;
};

struct feed {
	int fd;
	const unsigned char *buf;
	size_t len;
};

/* Messages of the stream: sizes, the last one FINAL. */
static const size_t msg_sizes[] = {100, TRANSPORT_MSG_MAX, 7, 0, 3000};
#define NMSG (sizeof msg_sizes / sizeof msg_sizes[0])

static unsigned char pattern(size_t msg, size_t i)
{
	return (unsigned char)(msg * 31 + i * 7);
}

struct writer {
	int fd, nmsg, final; /* final: the last message is FINAL */
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct stream s;
	char err[TRANSPORT_ERR_MAX];
	unsigned char *buf = malloc(TRANSPORT_MSG_MAX);

	assert_int_equal(stream_push_init(&s, w->fd, key, err, sizeof err), 0);
	for (int m = 0; m < w->nmsg; m++) {
		for (size_t i = 0; i < msg_sizes[m]; i++)
			buf[i] = pattern((size_t)m, i);
		assert_int_equal(stream_send(&s, buf, msg_sizes[m],
					     w->final && m == w->nmsg - 1, err,
					     sizeof err),
				 0);
	}
	free(buf);
	stream_end(&s);
	close(w->fd);
	return NULL;
}

/* Everything a stream of nmsg messages puts on the wire; with final,
 * the last one is FINAL. */
static struct rec record_stream(int nmsg, int final)
{
	int sv[2];
	struct writer w;
	pthread_t t;
	struct rec r = {.buf = malloc(REC_MAX)};
	ssize_t n;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	w = (struct writer){.fd = sv[0], .nmsg = nmsg, .final = final};
	pthread_create(&t, NULL, writer_main, &w);
	while ((n = read(sv[1], r.buf + r.len, REC_MAX - r.len)) > 0)
		r.len += (size_t)n;
	pthread_join(t, NULL);
	close(sv[1]);
	return r;
}

static struct rec record(int nmsg)
{
	return record_stream(nmsg, 1);
}

static void *feed_main(void *arg)
{
	struct feed *f = arg;

	(void)!send(f->fd, f->buf, f->len, MSG_NOSIGNAL);
	close(f->fd);
	return NULL;
}

/* Read buf as a stream: the number of messages read in full and in
 * order before the reader stopped; *ok = 1 if it ended at FINAL. */
static int play(const unsigned char *buf, size_t len, int *ok, char *err, size_t size)
{
	int sv[2], n = 0;
	struct feed f;
	struct stream s;
	pthread_t t;
	unsigned char *msg = malloc(TRANSPORT_MSG_MAX);
	size_t got;

	*ok = 0;
	err[0] = 0;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f = (struct feed){.fd = sv[0], .buf = buf, .len = len};
	pthread_create(&t, NULL, feed_main, &f);
	if (!stream_pull_init(&s, sv[1], key, err, size)) {
		while (!s.final && !stream_recv(&s, msg, &got, err, size)) {
			int good = n < (int)NMSG && got == msg_sizes[n];
			for (size_t i = 0; good && i < got; i++)
				good = msg[i] == pattern((size_t)n, i);
			if (!good)
				break;
			n++;
		}
		*ok = s.final;
		stream_end(&s);
	}
	close(sv[1]);
	pthread_join(t, NULL);
	free(msg);
	return n;
}

/* Offset of frame i (0 = the first message) in a recording. */
static size_t frame_at(const struct rec *r, int i)
{
	size_t off = TRANSPORT_STREAM_HEADER;

	while (i-- > 0)
		off += 4 + ((size_t)(r->buf[off] & 0x7f) << 24 |
			    (size_t)r->buf[off + 1] << 16 | (size_t)r->buf[off + 2] << 8 |
			    r->buf[off + 3]);
	return off;
}

static void roundtrip(void **state)
{
	struct rec r = record(NMSG);
	char err[TRANSPORT_ERR_MAX];
	int ok;

	assert_int_equal(play(r.buf, r.len, &ok, err, sizeof err), NMSG);
	assert_true(ok);
	free(r.buf);
}

static void tampered_byte_refused(void **state)
{
	struct rec r = record(NMSG);
	char err[TRANSPORT_ERR_MAX];
	int ok;

	/* every frame, header and body: one flipped bit is refused there */
	for (int i = 0; i < (int)NMSG; i++) {
		size_t off = frame_at(&r, i) + 4 + 3;
		r.buf[off] ^= 0x10;
		assert_int_equal(play(r.buf, r.len, &ok, err, sizeof err), i);
		assert_false(ok);
		assert_non_null(strstr(err, "failed authentication"));
		r.buf[off] ^= 0x10;
	}
	r.buf[5] ^= 1; /* the stream header: the first message fails */
	assert_int_equal(play(r.buf, r.len, &ok, err, sizeof err), 0);
	assert_false(ok);
	free(r.buf);
}

static void truncated_refused(void **state)
{
	struct rec r = record(NMSG);
	char err[TRANSPORT_ERR_MAX];
	int ok;

	/* cut inside the last frame, and exactly before it */
	assert_int_equal(play(r.buf, r.len - 1, &ok, err, sizeof err), NMSG - 1);
	assert_false(ok);
	assert_non_null(strstr(err, "closed the connection in mid-message"));
	assert_int_equal(play(r.buf, frame_at(&r, NMSG - 1), &ok, err, sizeof err),
			 NMSG - 1);
	assert_false(ok);
	assert_non_null(strstr(err, "closed"));
	free(r.buf);
}

static void reordered_refused(void **state)
{
	struct rec r = record(NMSG);
	unsigned char *x = malloc(r.len);
	size_t a = frame_at(&r, 2), b = frame_at(&r, 3), c = frame_at(&r, 4);
	char err[TRANSPORT_ERR_MAX];
	int ok;

	/* frames 2 and 3 swapped */
	memcpy(x, r.buf, a);
	memcpy(x + a, r.buf + b, c - b);
	memcpy(x + a + (c - b), r.buf + a, b - a);
	memcpy(x + c, r.buf + c, r.len - c);
	assert_int_equal(play(x, r.len, &ok, err, sizeof err), 2);
	assert_false(ok);
	assert_non_null(strstr(err, "failed authentication"));
	free(x);
	free(r.buf);
}

static void repeated_frame_refused(void **state)
{
	struct rec r = record(NMSG);
	size_t a = frame_at(&r, 0), b = frame_at(&r, 1);
	unsigned char *x = malloc(r.len + (b - a));
	char err[TRANSPORT_ERR_MAX];
	int ok;

	/* frame 0 twice */
	memcpy(x, r.buf, b);
	memcpy(x + b, r.buf + a, b - a);
	memcpy(x + b + (b - a), r.buf + b, r.len - b);
	assert_int_equal(play(x, r.len + (b - a), &ok, err, sizeof err), 1);
	assert_false(ok);
	assert_non_null(strstr(err, "failed authentication"));
	free(x);
	free(r.buf);
}

static void dropped_frame_refused(void **state)
{
	struct rec r = record(NMSG);
	size_t a = frame_at(&r, 1), b = frame_at(&r, 2);
	unsigned char *x = malloc(r.len);
	char err[TRANSPORT_ERR_MAX];
	int ok;

	/* frame 1 left out: frame 2 comes where 1 should (the counter) */
	memcpy(x, r.buf, a);
	memcpy(x + a, r.buf + b, r.len - b);
	assert_int_equal(play(x, r.len - (b - a), &ok, err, sizeof err), 1);
	assert_false(ok);
	assert_non_null(strstr(err, "failed authentication"));
	free(x);
	free(r.buf);
}

static void final_flag_forged_refused(void **state)
{
	struct rec r = record(NMSG);
	size_t f2 = frame_at(&r, 2), last = frame_at(&r, NMSG - 1);
	char err[TRANSPORT_ERR_MAX];
	int ok;

	/* frame 2 flagged FINAL: the stream would end early, complete */
	r.buf[f2] |= 0x80;
	assert_int_equal(play(r.buf, f2 + 4 + 7 + 16, &ok, err, sizeof err), 2);
	assert_false(ok);
	assert_non_null(strstr(err, "failed authentication"));
	r.buf[f2] &= 0x7f;
	/* the last one's FINAL cleared: refused, not read on */
	r.buf[last] &= 0x7f;
	assert_int_equal(play(r.buf, r.len, &ok, err, sizeof err), NMSG - 1);
	assert_false(ok);
	assert_non_null(strstr(err, "failed authentication"));
	free(r.buf);
}

static void other_streams_frame_refused(void **state)
{
	struct rec r = record(NMSG), o = record(NMSG);
	size_t a = frame_at(&r, 1), b = frame_at(&r, 2);
	char err[TRANSPORT_ERR_MAX];
	int ok;

	/* frame 1 of another stream of the same key, same length, in its
	 * place: its IV base is another (random, the stream header) */
	assert_int_equal(frame_at(&o, 2) - frame_at(&o, 1), b - a);
	memcpy(r.buf + a, o.buf + frame_at(&o, 1), b - a);
	assert_int_equal(play(r.buf, r.len, &ok, err, sizeof err), 1);
	assert_false(ok);
	assert_non_null(strstr(err, "failed authentication"));
	free(o.buf);
	free(r.buf);
}

static void no_final_no_end(void **state)
{
	/* a stream whose writer stopped before FINAL is incomplete */
	struct rec r = record_stream(NMSG - 1, 0);
	char err[TRANSPORT_ERR_MAX];
	int ok;

	assert_int_equal(play(r.buf, r.len, &ok, err, sizeof err), NMSG - 1);
	assert_false(ok);
	free(r.buf);
}

static void oversized_frame_refused(void **state)
{
	struct rec r = record(NMSG);
	size_t off = frame_at(&r, 0);
	char err[TRANSPORT_ERR_MAX];
	int ok;

	r.buf[off] = 0x7f; /* claims 2 GB */
	assert_int_equal(play(r.buf, r.len, &ok, err, sizeof err), 0);
	assert_false(ok);
	assert_non_null(strstr(err, "not this protocol"));
	free(r.buf);
}

static void wrong_key_refused(void **state)
{
	struct rec r = record(NMSG);
	char err[TRANSPORT_ERR_MAX];
	int ok;

	key[0] ^= 1;
	assert_int_equal(play(r.buf, r.len, &ok, err, sizeof err), 0);
	key[0] ^= 1;
	assert_false(ok);
	free(r.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(roundtrip),
	    cmocka_unit_test(tampered_byte_refused),
	    cmocka_unit_test(truncated_refused),
	    cmocka_unit_test(reordered_refused),
	    cmocka_unit_test(repeated_frame_refused),
	    cmocka_unit_test(dropped_frame_refused),
	    cmocka_unit_test(final_flag_forged_refused),
	    cmocka_unit_test(other_streams_frame_refused),
	    cmocka_unit_test(no_final_no_end),
	    cmocka_unit_test(oversized_frame_refused),
	    cmocka_unit_test(wrong_key_refused),
	};
	if (sodium_init() < 0)
		return 1;
	randombytes_buf(key, sizeof key);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
