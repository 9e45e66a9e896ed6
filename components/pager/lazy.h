/* The "Lazy" service of the pager example (components/pager, lazy). */
#ifndef COMPONENTS_PAGER_LAZY_H
#define COMPONENTS_PAGER_LAZY_H

#define LAZY_PAGES	 6 /* of the managed dataspace */
#define LAZY_PAGE	 0x1000ULL
#define LAZY_INNER_AT	 (2 * LAZY_PAGE) /* the inner map: pages 2..5 */
#define LAZY_USED	 4		 /* pages the client reads and writes */
#define LAZY_POISON_PAGE 5 /* touching it makes the pager drop the inner map */
/* word i of page p as the pager fills it */
#define LAZY_WORD(p, i) (0x1a2e000000ULL + ((unsigned long long)(p) << 16) + (i))

enum lazy_op {
	LAZY_DATASPACE = 1, /* -> caps[0] = the managed dataspace */
	LAZY_DONE,	    /* the client is finished: the pager exits */
};

#endif
