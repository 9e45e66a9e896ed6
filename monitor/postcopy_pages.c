/*
 * Binding a post-copy restore's model to its page channel
 * (postcopy_pages.h).  A read of the model before the commit that needs a
 * page not yet there asks for it and waits: the target does not run yet,
 * so only the monitor's entrypoint waits, and only for the few pages the
 * restore reads (the report, the cap map, the entrypoints and their
 * object pools), each about one round trip to the source.
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "monitor/checkpoint.h"
#include "monitor/model.h"
#include "monitor/monitor.h"
#include "monitor/page_channel.h"
#include "monitor/postcopy_pages.h"

static int page_in(void *ctx, uint64_t ds_badge, uint64_t off, uint64_t size)
{
	struct page_channel *ch = ctx;
	int ds = page_channel_index(ch, ds_badge);
	uint64_t first = off / PAGE_CHANNEL_PAGE, end, p, t0 = mon_now_us() / 1000;

	if (ds < 0 || !size)
		return ds < 0 ? -EFAULT : 0;
	end = (off + size + PAGE_CHANNEL_PAGE - 1) / PAGE_CHANNEL_PAGE;
	if (end > page_channel_pages(ch, (unsigned)ds))
		return -EFAULT;
	for (p = first; p < end; p++)
		if (page_channel_want(ch, (unsigned)ds, p))
			return -EFAULT;
	for (p = first; p < end;) {
		if (page_channel_arrived(ch, (unsigned)ds, p)) {
			p++;
			continue;
		}
		if (page_channel_failed(ch, NULL, 0) ||
		    mon_now_us() / 1000 - t0 > POSTCOPY_PAGE_WAIT_MS)
			return -EFAULT;
		usleep(20);
	}
	return 0;
}

int postcopy_bind(struct monitor *mon, struct mon_model *model, struct page_channel **out)
{
	struct page_channel *ch = page_channel_claim();

	if (!ch) {
		env_log(mon->env, "monitor: post-copy restore: no page channel (not a "
				  "migration's restore)");
		return -EINVAL;
	}
	for (unsigned i = 0; i < model->nregions; i++) {
		struct mon_model_region *r = &model->region[i];
		int ds;

		if (!r->from_src)
			continue;
		ds = page_channel_index(ch, r->ds_badge);
		if (ds < 0 ||
		    r->off > page_channel_pages(ch, (unsigned)ds) * PAGE_CHANNEL_PAGE ||
		    r->size > page_channel_pages(ch, (unsigned)ds) * PAGE_CHANNEL_PAGE -
				  r->off) {
			env_log(mon->env,
				"monitor: post-copy restore: dataspace %llu is not in "
				"the page channel",
				(unsigned long long)r->ds_badge);
			page_channel_free(ch);
			return -EINVAL;
		}
		r->data = page_channel_buf(ch, (unsigned)ds) + r->off;
		r->from_src = 0;
	}
	model->fill = NULL;
	model->fill_src = NULL;
	model->page_in = page_in;
	model->page_ctx = ch;
	*out = ch;
	return 0;
}

void postcopy_restore_wants(struct monitor *mon, const struct mon_model *model)
{
	struct page_channel_stats st;

	if (model->page_in != page_in)
		return;
	page_channel_stats(model->page_ctx, &st);
	env_log(mon->env, "monitor: post-copy restore: %llu pages asked of the source",
		(unsigned long long)st.wants);
}
