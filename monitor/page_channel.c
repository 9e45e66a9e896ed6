/*
 * The page channel of a post-copy destination (page_channel.h): a buffer
 * per dataspace, an arrived bitmap set with release order after a page's
 * bytes are written (so the fill, which loads it with acquire order,
 * never reads a half-written page), and a queue of wanted pages for the
 * sender, under a mutex with a condition variable.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include "image/image.h"
#include "monitor/page_channel.h"

struct pc_ds {
	uint64_t id, pages;
	uint8_t *buf; /* anonymous mapping: zero until written */
	uint64_t *arrived, *wanted;
};

struct page_channel {
	unsigned nds;
	int refs;
	struct pc_ds ds[PAGE_CHANNEL_MAX_DS];
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* a want queued, the channel failed or complete */
	pthread_cond_t arrival; /* pages arrived, failed, woken (the fill) */
	uint64_t wakes;
	struct {
		unsigned ds;
		uint64_t page;
	} want[PAGE_CHANNEL_WANT_MAX];
	unsigned head, len;
	int failed;
	char why[256];
	struct page_channel_stats st;
	struct image_model *skel; /* page_channel_set_skeleton, until taken */
	char skel_path[512];
};

static int bit(const uint64_t *map, uint64_t p)
{
	return __atomic_load_n(&map[p / 64], __ATOMIC_ACQUIRE) >> (p % 64) & 1;
}

struct page_channel *page_channel_new(unsigned nds, const uint64_t *ids,
				      const uint64_t *pages)
{
	struct page_channel *ch;

	if (!nds || nds > PAGE_CHANNEL_MAX_DS || !(ch = calloc(1, sizeof *ch)))
		return NULL;
	ch->refs = 1;
	pthread_mutex_init(&ch->lock, NULL);
	pthread_cond_init(&ch->cond, NULL);
	pthread_cond_init(&ch->arrival, NULL);
	for (unsigned i = 0; i < nds; i++) {
		struct pc_ds *d = &ch->ds[i];
		uint64_t words = (pages[i] + 63) / 64;
		void *m;

		ch->nds = i + 1;
		if (!pages[i] || pages[i] > (1ULL << 40) / PAGE_CHANNEL_PAGE)
			goto fail;
		m = mmap(NULL, pages[i] * PAGE_CHANNEL_PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m == MAP_FAILED)
			goto fail;
		d->buf = m;
		d->pages = pages[i];
		d->id = ids ? ids[i] : i + 1;
		d->arrived = calloc(words, sizeof *d->arrived);
		d->wanted = calloc(words, sizeof *d->wanted);
		if (!d->arrived || !d->wanted)
			goto fail;
		ch->st.total += pages[i];
	}
	return ch;
fail:
	page_channel_free(ch);
	return NULL;
}

void page_channel_free(struct page_channel *ch)
{
	if (!ch || __atomic_sub_fetch(&ch->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (unsigned i = 0; i < ch->nds; i++) {
		struct pc_ds *d = &ch->ds[i];
		if (d->buf)
			munmap(d->buf, d->pages * PAGE_CHANNEL_PAGE);
		free(d->arrived);
		free(d->wanted);
	}
	if (ch->skel)
		image_model_free(ch->skel);
	pthread_cond_destroy(&ch->cond);
	pthread_cond_destroy(&ch->arrival);
	pthread_mutex_destroy(&ch->lock);
	free(ch);
}

static pthread_mutex_t offered_lock = PTHREAD_MUTEX_INITIALIZER;
static struct page_channel *offered;

int page_channel_offer(struct page_channel *ch)
{
	int rc = -1;

	pthread_mutex_lock(&offered_lock);
	if (!offered) {
		__atomic_add_fetch(&ch->refs, 1, __ATOMIC_ACQ_REL);
		offered = ch;
		rc = 0;
	}
	pthread_mutex_unlock(&offered_lock);
	return rc;
}

struct page_channel *page_channel_claim(void)
{
	struct page_channel *ch;

	pthread_mutex_lock(&offered_lock);
	ch = offered;
	offered = NULL;
	pthread_mutex_unlock(&offered_lock);
	if (ch && ch->skel) { /* the restore that claims it read its own */
		image_model_free(ch->skel);
		ch->skel = NULL;
	}
	return ch;
}

void page_channel_withdraw(struct page_channel *ch)
{
	int mine;

	pthread_mutex_lock(&offered_lock);
	mine = offered == ch;
	if (mine)
		offered = NULL;
	pthread_mutex_unlock(&offered_lock);
	if (mine)
		page_channel_free(ch);
}

void page_channel_set_skeleton(struct page_channel *ch, const char *path,
			       struct image_model *im)
{
	if (!im)
		return;
	if (ch->skel || strlen(path) >= sizeof ch->skel_path) {
		image_model_free(im);
		return;
	}
	ch->skel = im;
	snprintf(ch->skel_path, sizeof ch->skel_path, "%s", path);
}

struct image_model *page_channel_take_skeleton(const char *path)
{
	struct image_model *im = NULL;

	pthread_mutex_lock(&offered_lock);
	if (offered && offered->skel && !strcmp(path, offered->skel_path)) {
		im = offered->skel;
		offered->skel = NULL;
	}
	pthread_mutex_unlock(&offered_lock);
	return im;
}

int page_channel_index(const struct page_channel *ch, uint64_t id)
{
	for (unsigned i = 0; i < ch->nds; i++)
		if (ch->ds[i].id == id)
			return (int)i;
	return -1;
}

uint64_t page_channel_id(const struct page_channel *ch, unsigned ds)
{
	return ds < ch->nds ? ch->ds[ds].id : 0;
}

unsigned page_channel_nds(const struct page_channel *ch)
{
	return ch->nds;
}

uint64_t page_channel_pages(const struct page_channel *ch, unsigned ds)
{
	return ds < ch->nds ? ch->ds[ds].pages : 0;
}

uint8_t *page_channel_buf(struct page_channel *ch, unsigned ds)
{
	return ds < ch->nds ? ch->ds[ds].buf : NULL;
}

long page_channel_put(struct page_channel *ch, unsigned ds, uint64_t page, uint64_t count,
		      const void *data, enum page_how how)
{
	struct pc_ds *d = ds < ch->nds ? &ch->ds[ds] : NULL;
	long fresh = 0;

	if (!d || page >= d->pages || count > d->pages - page)
		return -1;
	for (uint64_t k = 0; k < count; k++) {
		uint64_t p = page + k;
		if (bit(d->arrived, p))
			continue;
		if (data) /* else zero: the fresh buffer is */
			memcpy(d->buf + p * PAGE_CHANNEL_PAGE,
			       (const uint8_t *)data + k * PAGE_CHANNEL_PAGE,
			       PAGE_CHANNEL_PAGE);
		__atomic_fetch_or(&d->arrived[p / 64], 1ULL << (p % 64),
				  __ATOMIC_RELEASE);
		fresh++;
	}
	pthread_mutex_lock(&ch->lock);
	ch->st.arrived += (uint64_t)fresh;
	if (how == PAGE_EAGER)
		ch->st.eager += (uint64_t)fresh;
	else if (how == PAGE_DEMAND)
		ch->st.demand += (uint64_t)fresh;
	else
		ch->st.pushed += (uint64_t)fresh;
	if (ch->st.arrived == ch->st.total)
		pthread_cond_broadcast(&ch->cond);
	if (fresh) /* no system call unless the fill waits */
		pthread_cond_broadcast(&ch->arrival);
	pthread_mutex_unlock(&ch->lock);
	return fresh;
}

void page_channel_fail(struct page_channel *ch, const char *why)
{
	pthread_mutex_lock(&ch->lock);
	/* with every page there, nothing is lost with the source */
	if (!ch->failed && ch->st.arrived < ch->st.total) {
		ch->failed = 1;
		snprintf(ch->why, sizeof ch->why, "%s", why);
	}
	pthread_cond_broadcast(&ch->cond);
	pthread_cond_broadcast(&ch->arrival);
	pthread_mutex_unlock(&ch->lock);
}

/* Under the lock: the first queued want that has not arrived meanwhile. */
static int take_want(struct page_channel *ch, unsigned *ds, uint64_t *page)
{
	while (ch->len) {
		unsigned i = ch->head;
		ch->head = (ch->head + 1) % PAGE_CHANNEL_WANT_MAX;
		ch->len--;
		if (!bit(ch->ds[ch->want[i].ds].arrived, ch->want[i].page)) {
			*ds = ch->want[i].ds;
			*page = ch->want[i].page;
			return 1;
		}
	}
	return 0;
}

/* The absolute CLOCK_REALTIME time timeout_ms from now. */
static struct timespec deadline(int timeout_ms)
{
	struct timespec end;

	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	return end;
}

int page_channel_next_want(struct page_channel *ch, unsigned *ds, uint64_t *page,
			   int timeout_ms)
{
	struct timespec end = deadline(timeout_ms);
	int rc = 0;

	pthread_mutex_lock(&ch->lock);
	for (;;) {
		if (ch->failed || ch->st.arrived == ch->st.total) {
			rc = -1;
			break;
		}
		if ((rc = take_want(ch, ds, page)))
			break;
		if (pthread_cond_timedwait(&ch->cond, &ch->lock, &end) == ETIMEDOUT) {
			rc = take_want(ch, ds, page);
			break;
		}
	}
	pthread_mutex_unlock(&ch->lock);
	return rc;
}

int page_channel_arrived(const struct page_channel *ch, unsigned ds, uint64_t page)
{
	return ds < ch->nds && page < ch->ds[ds].pages && bit(ch->ds[ds].arrived, page);
}

int page_channel_want(struct page_channel *ch, unsigned ds, uint64_t page)
{
	struct pc_ds *d = ds < ch->nds ? &ch->ds[ds] : NULL;

	if (!d || page >= d->pages)
		return -1;
	if (bit(d->arrived, page))
		return 0;
	pthread_mutex_lock(&ch->lock);
	/* a page is queued once; one the queue has no room for is asked for
	 * again at the fill's next look (its thread still waits) */
	if (!(d->wanted[page / 64] >> (page % 64) & 1) &&
	    ch->len < PAGE_CHANNEL_WANT_MAX) {
		d->wanted[page / 64] |= 1ULL << (page % 64);
		ch->want[(ch->head + ch->len) % PAGE_CHANNEL_WANT_MAX].ds = ds;
		ch->want[(ch->head + ch->len) % PAGE_CHANNEL_WANT_MAX].page = page;
		ch->len++;
		ch->st.wants++;
		pthread_cond_broadcast(&ch->cond);
	}
	pthread_mutex_unlock(&ch->lock);
	return 0;
}

int page_channel_failed(struct page_channel *ch, char *why, size_t size)
{
	int failed;

	pthread_mutex_lock(&ch->lock);
	failed = ch->failed;
	if (failed && why && size)
		snprintf(why, size, "%s", ch->why);
	pthread_mutex_unlock(&ch->lock);
	return failed;
}

int page_channel_wait(struct page_channel *ch, uint64_t seen, int timeout_ms)
{
	struct timespec end = deadline(timeout_ms);
	int rc = 0;

	pthread_mutex_lock(&ch->lock);
	uint64_t wakes = ch->wakes;
	while (!(rc = ch->st.arrived != seen || ch->failed || ch->wakes != wakes))
		if (pthread_cond_timedwait(&ch->arrival, &ch->lock, &end) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&ch->lock);
	return rc;
}

void page_channel_wake(struct page_channel *ch)
{
	pthread_mutex_lock(&ch->lock);
	ch->wakes++;
	pthread_cond_broadcast(&ch->arrival);
	pthread_mutex_unlock(&ch->lock);
}

void page_channel_stats(struct page_channel *ch, struct page_channel_stats *st)
{
	pthread_mutex_lock(&ch->lock);
	*st = ch->st;
	pthread_mutex_unlock(&ch->lock);
}
