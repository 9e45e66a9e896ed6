/* The "Sig" service of sig_consumer: a session is the consumer's signal
 * context cap itself (ROOT_SESSION answers with it). */
#ifndef SIG_H
#define SIG_H

#define SIG_ROUNDS 10 /* signals the producer submits */

#endif
