/*
 * A peer that speaks no capsule protocol, for tests/migrate/loopback.sh:
 *   garbage serve PORT   accept one connection on 127.0.0.1:PORT, send
 *                        200 bytes of junk, read until the peer closes
 *   garbage send PORT    connect to 127.0.0.1:PORT, the same
 * Only ever the loopback address.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void junk(int fd)
{
	char buf[200];

	memset(buf, 'G', sizeof buf);
	if (send(fd, buf, sizeof buf, MSG_NOSIGNAL) < 0)
		perror("garbage: send");
	while (read(fd, buf, sizeof buf) > 0)
		;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd, one = 1;

	if (argc != 3 || (strcmp(argv[1], "serve") && strcmp(argv[1], "send"))) {
		fprintf(stderr, "usage: garbage serve|send PORT\n");
		return 2;
	}
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (!strcmp(argv[1], "send")) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
			perror("garbage: connect");
			return 1;
		}
		junk(fd);
		return 0;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 1)) {
		perror("garbage: listen");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	int c = accept(fd, NULL, NULL);
	if (c < 0) {
		perror("garbage: accept");
		return 1;
	}
	junk(c);
	return 0;
}
