/* cb_server and cb_client: the calls a client makes (one every
 * CB_PERIOD_US), each followed by a callback. */
#ifndef CB_H
#define CB_H

#define CB_ROUNDS    1500
#define CB_PERIOD_US 2000

#endif
