/* The "Echo" service of cr_server (checkpoint/restore tests). */
#ifndef CR_ECHO_H
#define CR_ECHO_H

#define ECHO_CALL    1 /* w0 = n -> w0 = n + 1000, w1 = calls served so far */
#define ECHO_SLOW    2 /* the same, answered after ECHO_SLOW_US */
#define ECHO_KEEP    3 /* caps[0] = any cap: the session keeps it (not counted) */
#define ECHO_CALLS   3 /* the server exits after this many */
#define ECHO_SLOW_US 100000

#endif
