/*
 * The target's LOG and ROM sessions, intercepted.  LOG has no state
 * worth recording (lines already written are the past; they are counted
 * for the test hook); ROM dataspaces are recorded so a restore can fetch
 * them again.
 */
#include "monitor/group.h"
#include "monitor/monitor.h"

static void run_test(void *arg)
{
	monitor_test_now(arg);
}

/* <test checkpoint_after_log="N">: the checkpoint follows the target's
 * Nth line, once its reply is out (the target is not in a call then). */
static void log_after(struct proxy *p, const struct mon_req *req, struct msg *r)
{
	struct monitor *mon = p->mon;

	if (req->code == LOG_WRITE && mon->group)
		group_test_log_line(mon);
	else if (req->code == LOG_WRITE &&
		 ++mon->log_lines == mon->cfg.checkpoint_after_log)
		ep_defer(mon->env->ep, run_test, mon);
}

const struct proxy_type log_proxy_type = {
    .name = "LOG", .before = NULL, .after = log_after};

static void rom_after(struct proxy *p, const struct mon_req *req, struct msg *r)
{
	if (req->code == ROM_DATASPACE && r->ncaps >= 1 && cap_valid(r->caps[0]))
		record_add(p->mon, MON_CLASS_ROM_DS, r->caps[0], r->nwords ? r->w[0] : 0);
}

const struct proxy_type rom_proxy_type = {
    .name = "ROM", .before = NULL, .after = rom_after};
