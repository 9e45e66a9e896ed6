/* The "Revoke" service of the revocation example. */
#ifndef COMPONENTS_REVOKE_H
#define COMPONENTS_REVOKE_H

enum revoke_op {
	REVOKE_OBJECT = 1, /* session: -> caps[0] = the counter object */
	REVOKE_COPIES,	   /* session: revoke every copy of the counter's cap
			      given away (the server keeps its own) */
	REVOKE_FREE,	   /* session: free the counter's RPC cap; the next
			      REVOKE_OBJECT re-manages it under a new cap */
	REVOKE_DONE,	   /* session: the client is finished */
	COUNTER_INC = 1,   /* counter: -> w0 = count after the increment */
};

#endif
