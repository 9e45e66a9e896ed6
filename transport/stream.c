/*
 * One direction of a connection as a libsodium secretstream
 * (XChaCha20-Poly1305): every message is authenticated and carries its
 * place in the stream, so an altered, dropped, repeated or reordered
 * frame fails to decrypt, and only the message tagged FINAL ends the
 * stream: a connection that ends before it is a truncated stream.
 *
 * Frame: 4-byte big-endian ciphertext length, then the ciphertext
 * (message + ABYTES).  A length out of range is refused before
 * anything is allocated for it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "transport/transport.h"

#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define HBYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES

int stream_push_init(struct stream *s, int fd, const unsigned char *key, char *err,
		     size_t size)
{
	unsigned char header[HBYTES];

	memset(s, 0, sizeof *s);
	s->fd = fd;
	crypto_secretstream_xchacha20poly1305_init_push(&s->st, header, key);
	if (io_write(fd, header, sizeof header, "stream header", err, size))
		return -1;
	s->wire = sizeof header;
	return 0;
}

int stream_pull_init(struct stream *s, int fd, const unsigned char *key, char *err,
		     size_t size)
{
	unsigned char header[HBYTES];

	memset(s, 0, sizeof *s);
	s->fd = fd;
	if (io_read(fd, header, sizeof header, "stream header", err, size))
		return -1;
	s->wire = sizeof header;
	if (crypto_secretstream_xchacha20poly1305_init_pull(&s->st, header, key)) {
		snprintf(err, size, "stream header: refused");
		return -1;
	}
	return 0;
}

int stream_send(struct stream *s, const void *buf, size_t len, int final, char *err,
		size_t size)
{
	unsigned char *frame;
	unsigned long long clen;
	size_t n = 4 + len + ABYTES;
	int rc;

	if (s->final || len > TRANSPORT_MSG_MAX) {
		snprintf(err, size, "stream: %s",
			 s->final ? "already ended" : "message too long");
		return -1;
	}
	if (!(frame = malloc(n))) {
		snprintf(err, size, "stream: out of memory");
		return -1;
	}
	crypto_secretstream_xchacha20poly1305_push(
	    &s->st, frame + 4, &clen, buf, len, NULL, 0,
	    final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
		  : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
	frame[0] = (unsigned char)(clen >> 24);
	frame[1] = (unsigned char)(clen >> 16);
	frame[2] = (unsigned char)(clen >> 8);
	frame[3] = (unsigned char)clen;
	rc = io_write(s->fd, frame, n, "stream", err, size);
	free(frame);
	if (rc)
		return -1;
	s->wire += n;
	s->plain += len;
	s->final = final;
	return 0;
}

int stream_recv(struct stream *s, void *buf, size_t *len, char *err, size_t size)
{
	unsigned char hdr[4], *c, tag;
	unsigned long long mlen;
	uint32_t clen;
	int rc;

	if (s->final) {
		snprintf(err, size, "stream: already ended");
		return -1;
	}
	if (io_read(s->fd, hdr, 4, "stream", err, size))
		return -1;
	clen = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 |
	       hdr[3];
	if (clen < ABYTES || clen > TRANSPORT_MSG_MAX + ABYTES) {
		snprintf(err, size, "stream: a frame of %u bytes: not this protocol",
			 clen);
		return -1;
	}
	if (!(c = malloc(clen))) {
		snprintf(err, size, "stream: out of memory");
		return -1;
	}
	rc = io_read(s->fd, c, clen, "stream", err, size);
	if (!rc && crypto_secretstream_xchacha20poly1305_pull(&s->st, buf, &mlen, &tag, c,
							      clen, NULL, 0)) {
		snprintf(err, size,
			 "stream: a message failed authentication (altered, "
			 "reordered or replayed)");
		rc = -1;
	}
	free(c);
	if (rc)
		return -1;
	s->wire += 4 + clen;
	s->plain += mlen;
	*len = (size_t)mlen;
	s->final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
	return 0;
}

/* Read up to n bytes of fd (fewer only at its end); the count or -1. */
static ssize_t read_chunk(int fd, unsigned char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r == 0)
			break;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int stream_send_file(struct stream *s, int fd, char *err, size_t size)
{
	unsigned char *buf[2];
	ssize_t n[2];
	int cur = 0, rc = -1;

	buf[0] = malloc(TRANSPORT_MSG_MAX);
	buf[1] = malloc(TRANSPORT_MSG_MAX);
	if (!buf[0] || !buf[1]) {
		snprintf(err, size, "stream: out of memory");
		goto out;
	}
	/* one chunk ahead: the last one read is the one sent FINAL */
	n[cur] = read_chunk(fd, buf[cur], TRANSPORT_MSG_MAX);
	for (;;) {
		n[!cur] = 0;
		if (n[cur] == TRANSPORT_MSG_MAX)
			n[!cur] = read_chunk(fd, buf[!cur], TRANSPORT_MSG_MAX);
		if (n[cur] < 0 || n[!cur] < 0) {
			snprintf(err, size, "stream: reading the file: %s",
				 strerror(errno));
			goto out;
		}
		if (stream_send(s, buf[cur], (size_t)n[cur], n[!cur] == 0, err, size))
			goto out;
		if (n[!cur] == 0)
			break;
		cur = !cur;
	}
	rc = 0;
out:
	free(buf[0]);
	free(buf[1]);
	return rc;
}

int stream_recv_file(struct stream *s, int fd, uint64_t limit, char *err, size_t size)
{
	unsigned char *buf = malloc(TRANSPORT_MSG_MAX);
	uint64_t total = 0;
	size_t len;
	int rc = -1;

	if (!buf) {
		snprintf(err, size, "stream: out of memory");
		return -1;
	}
	while (!s->final) {
		if (stream_recv(s, buf, &len, err, size))
			goto out;
		total += len;
		if (total > limit) {
			snprintf(err, size, "stream: more than %llu bytes",
				 (unsigned long long)limit);
			goto out;
		}
		if (len && write(fd, buf, len) != (ssize_t)len) {
			snprintf(err, size, "stream: writing the file: %s",
				 strerror(errno ? errno : ENOSPC));
			goto out;
		}
	}
	rc = 0;
out:
	free(buf);
	return rc;
}
