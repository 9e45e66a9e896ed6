/* The "Calc" service: the protocol shared by rpc_server and rpc_client. */
#ifndef CALC_H
#define CALC_H

enum calc_op {
	CALC_ADD = 1,	   /* w0, w1 -> w0 = w0 + w1 */
	CALC_CALLBACK = 2, /* caps[0] = callback object: the server calls it
			      (CALLBACK_PING) after replying */
};

enum callback_op {
	CALLBACK_PING = 1, /* w0 = value -> w0 = answer (value * 2) */
};

#define CALC_PING_VALUE 21

#endif
