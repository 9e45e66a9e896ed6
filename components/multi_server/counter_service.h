/* The "Counter" service of multi_server: each session is its own counter. */
#ifndef MULTI_SERVER_COUNTER_SERVICE_H
#define MULTI_SERVER_COUNTER_SERVICE_H

enum counter_op {
	COUNTER_INC = 1, /* -> w0 = the session's counter after adding one */
	COUNTER_STATS,	 /* -> w0 = live sessions, w1..w4 = the server's
			    PD_QUOTA (ram quota, used, cap quota, used) */
	COUNTER_QUIT,	 /* w0 = quorum, w1 = when idle: the server exits once
			    quorum QUIT requests came (counting this one),
			    right after the reply or, if w1, as soon as no
			    session is open any more */
	COUNTER_LABEL,	 /* -> str: the session's label as init gave it */
};

#endif
