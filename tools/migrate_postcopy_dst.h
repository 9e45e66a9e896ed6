/*
 * A post-copy migration's destination (migrate_postcopy_receive.c): its
 * state, its two threads after the skeleton (migrate_postcopy_streams.c)
 * and its page channel (monitor/page_channel.h), made from the
 * pre-skeleton while the target still runs at the source, checked
 * against the skeleton's dataspaces in the pause, and the page messages
 * put into it (migrate_postcopy_channel.c).
 */
#ifndef TOOLS_MIGRATE_POSTCOPY_DST_H
#define TOOLS_MIGRATE_POSTCOPY_DST_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <capsule/control.h>

#include "transport/transport.h"

struct page_channel;
struct image_model;

/* The channel for the served dataspaces of the pre-skeleton at path,
 * the pages the restore will read touched (the cap map's, the
 * report's), or NULL if it is unusable. */
struct page_channel *postcopy_early_channel(const char *path);
/* The channel for the skeleton at path: early if it has exactly its
 * dataspaces, else a new one (the caller frees early), or NULL with err
 * (early untouched).  The skeleton as read into *skel (the caller's, for
 * the restore: page_channel_set_skeleton), NULL on failure. */
struct page_channel *postcopy_skeleton_channel(struct page_channel *early,
					       const char *path,
					       struct image_model **skel, char *err,
					       size_t size);
/* A page message (struct postcopy_pages and its pages, len bytes) into
 * ch: 0, or -1 if it is malformed or names what ch does not have. */
int postcopy_put_pages(struct page_channel *ch, const uint8_t *msg, size_t len);

/* A post-copy migration under way at its destination. */
struct pdst {
	struct transport_conn *c;
	const char *dir;
	char name[CONTROL_NAME_MAX], skel[512];
	char built[CONTROL_NAME_MAX]; /* the monitor that built from the
					 pre-skeleton ("": none) */
	int deadline_ms;
	struct page_channel *ch;
	struct image_model *skel_im; /* the skeleton as read, for the restore */
	int skel_fd;		     /* the skeleton in memory (memfd), or -1 */
	uint8_t *buf;		     /* receiver's, TRANSPORT_MSG_MAX + 1 */
	pthread_mutex_t lock;	     /* tx, and what follows */
	pthread_cond_t cond;	     /* a word arrived, or the receiver ended */
	char word[64];		     /* the source's last word (end) */
	int stop, rx_done, postcopy; /* postcopy: the silence rule applies */
	int go; /* the skeleton and the channel are here: the threads start */
	char why[TRANSPORT_ERR_MAX]; /* why the receiver ended */
	uint64_t last_ms;
	/* the pause's steps here (ms): the skeleton's first bytes (its
	 * pages), all here, the channel made, restored and started, the
	 * answer sent */
	double t_skel0, t_skel, t_chan, t_restored, t_started;
	/* "started" went back from the node's thread as its monitor
	 * answered the restore (started_at): 1, or -1 (lost), or 0 (not) */
	int answered;
};

/* A page message in d->buf (len bytes) into the channel: 0, or -1
 * (malformed). */
int pdst_put_pages(struct pdst *d, size_t len);
/* The threads' go (stop 0: the skeleton and the channel are here) or
 * their end (stop 1). */
void pdst_set_go(struct pdst *d, int stop);
/* The receiver and the want sender (pthread start routines, arg d). */
void *pdst_receiver(void *arg);
void *pdst_wanter(void *arg);

#endif
