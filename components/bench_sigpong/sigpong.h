/* The "SigPong" service of the signal benchmark. */
#ifndef SIGPONG_H
#define SIGPONG_H

enum {
	SIGPONG_REGISTER = 1, /* caps[0] = the caller's context -> caps[0] = pong's */
	SIGPONG_QUIT = 2,
};

#endif
