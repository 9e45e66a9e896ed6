/*
 * The monitor's model -> image/'s struct image_model (seed 004's plain-C
 * format), so that checkpoint -> file -> restore works.  Objects are named
 * in the image by ids: a session by its proxy's badge, a dataspace by its
 * badge at checkpoint time, a thread by its number; badges are kept in
 * the cap records, which is what a restore on the same monitor needs to
 * find its proxies and records again.  The memory's part is
 * memory_convert.c; the way back, for a restore, is image_to_model.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/image.h"
#include "image/group.h"
#include "monitor/group.h"
#include "monitor/image_convert.h"
#include "monitor/restore.h"

#define PAGE 4096ULL

static uint32_t session_type(const struct monitor *mon, uint64_t proxy_index)
{
	const struct proxy_type *t =
	    proxy_index < MON_MAX_PROXIES ? mon->proxy[proxy_index].type : NULL;

	if (t == &pd_proxy_type)
		return IMAGE_SESSION_PD;
	if (t == &cpu_proxy_type)
		return IMAGE_SESSION_CPU;
	if (t == &log_proxy_type)
		return IMAGE_SESSION_LOG;
	if (t == &rom_proxy_type)
		return IMAGE_SESSION_ROM;
	if (t == &timer_proxy_type)
		return IMAGE_SESSION_TIMER;
	if (t == &rm_proxy_type)
		return IMAGE_SESSION_RM;
	return 0;
}

static int add_session(struct image_model *im, uint64_t id, uint32_t type, uint32_t flags,
		       const char *service, const char *args)
{
	struct image_session *s;

	for (uint32_t i = 0; i < im->nsessions; i++)
		if (im->sessions[i].id == id)
			return 0;
	s = &im->sessions[im->nsessions++];
	memset(s, 0, sizeof *s);
	s->id = id;
	s->type = type;
	s->flags = flags;
	snprintf(s->service, sizeof s->service, "%s", service);
	snprintf(s->args, sizeof s->args, "%s", args ? args : "");
	return 0;
}

static int add_ds(struct image_model *im, uint64_t id, uint64_t size, uint32_t kind,
		  const char *rom)
{
	struct image_dataspace *d;

	for (uint32_t i = 0; i < im->ndataspaces; i++)
		if (im->dataspaces[i].id == id)
			return 0;
	if (!size)
		return -EINVAL;
	d = &im->dataspaces[im->ndataspaces++];
	memset(d, 0, sizeof *d);
	d->id = id;
	d->size = (size + PAGE - 1) & ~(PAGE - 1);
	d->kind = kind;
	snprintf(d->rom, sizeof d->rom, "%s", rom ? rom : "");
	return 0;
}

static uint64_t thread_nr_of_badge(const struct mon_model *m, uint64_t badge)
{
	for (unsigned i = 0; i < m->nthreads; i++)
		if (m->thread[i].badge == badge || m->thread[i].obj_badge == badge)
			return m->thread[i].nr;
	return THREAD_AREA_THREADS; /* none: the image check refuses it */
}

static uint64_t pending_of(const struct mon_model *m, uint64_t imprint)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < m->npending; i++)
		if (m->pending[i].imprint == imprint)
			n += m->pending[i].count;
	return n;
}

/* A Timer session's state as its timer record (once per session). */
static int timer_to_image(struct proxy *p, uint64_t id, struct image_model *im)
{
	struct image_timer *t = &im->timers[im->ntimers];

	for (uint32_t i = 0; i < im->ntimers; i++)
		if (im->timers[i].session == id)
			return 0;
	memset(t, 0, sizeof *t);
	t->session = id;
	int rc = timer_state_save(p, t);
	if (!rc)
		im->ntimers++;
	return rc;
}

/* A session the monitor serves: its type, the args it was opened with at
 * the monitor's parent (what a restore on another node opens again) and,
 * for a timer, its timer record (timer_state_save). */
static int session_to_image(const struct monitor *mon, const struct mon_model *m,
			    const struct mon_model_cap *mc, struct image_model *im)
{
	struct proxy *p = (struct proxy *)&mon->proxy[mc->aux % MON_MAX_PROXIES];
	uint32_t type = session_type(mon, mc->aux);
	char args[MON_ARGS_MAX] = "";
	const struct mon_record *r;
	int rc;

	if (type == IMAGE_SESSION_LOG)
		snprintf(args, sizeof args, "ram_quota=0");
	else if (type == IMAGE_SESSION_ROM)
		snprintf(args, sizeof args, "label=\"%s\"", m->binary);
	else if (type == IMAGE_SESSION_TIMER || type == IMAGE_SESSION_RM) {
		r = record_find((struct monitor *)mon, cap_badge(p->real));
		snprintf(args, sizeof args, "%s", r ? record_args(mon, r) : "");
		if (type == IMAGE_SESSION_TIMER &&
		    (rc = timer_to_image(p, mc->badge, im)))
			return rc;
	}
	return add_session(im, mc->badge, type, 0, p->type->name, args);
}

/* A signal context as its signal record (once per context) with the
 * signals drained for it at the checkpoint. */
static void signal_to_image(const struct mon_model *m, const struct image_cap *c,
			    struct image_model *im)
{
	for (uint32_t i = 0; i < im->nsignals; i++)
		if (im->signals[i].badge == c->badge)
			return;
	im->signals[im->nsignals++] =
	    (struct image_signal){.badge = c->badge,
				  .pd_session = c->obj,
				  .imprint = c->arg,
				  .pending = pending_of(m, c->arg)};
}

/* Every drained signal belongs to a context of the image, or the
 * checkpoint would lose it. */
static int pending_kept(const struct mon_model *m, const struct image_model *im)
{
	for (unsigned i = 0; i < m->npending; i++) {
		uint32_t k = 0;
		while (k < im->nsignals &&
		       im->signals[k].imprint != m->pending[i].imprint)
			k++;
		if (k == im->nsignals)
			return -ESRCH;
	}
	return 0;
}

/* The dataspace id of the managed map whose proxy has badge, or 0. */
static uint64_t rmap_ds(const struct mon_model *m, uint64_t badge)
{
	for (unsigned i = 0; i < m->nrmaps; i++)
		if (m->rmap[i].badge == badge && m->rmap[i].kind == RM_CREATE)
			return m->rmap[i].ds_badge;
	return 0;
}

/* Each managed map as a managed dataspace naming its RM session (added
 * with its args) and its fault handler's context cap; the dataspace of
 * the PD's address space or stack area, if the target asked for it, as
 * one naming that map (pd_map). */
static int rmaps_to_image(const struct monitor *mon, const struct mon_model *m,
			  struct image_model *im)
{
	for (unsigned i = 0; i < m->nrmaps; i++) {
		const struct mon_model_rmap *mr = &m->rmap[i];
		struct image_dataspace *d = &im->dataspaces[im->ndataspaces];
		struct proxy *s = proxy_find((struct monitor *)mon, mr->session);
		const struct mon_record *r;
		int rc;

		if (mr->kind != RM_CREATE && mr->ds_badge) {
			if ((rc = add_ds(im, mr->ds_badge, mr->size, IMAGE_DS_MANAGED,
					 NULL)))
				return rc;
			d->managed.pd_map = mr->kind == PD_STACK_AREA
						? IMAGE_RM_STACK_AREA
						: IMAGE_RM_ADDRESS_SPACE;
			continue;
		}
		if (mr->kind != RM_CREATE)
			continue;
		if (!s || !mr->ds_badge)
			return -ESRCH;
		r = record_find((struct monitor *)mon, cap_badge(s->real));
		if ((rc = add_session(im, mr->session, IMAGE_SESSION_RM, 0, "RM",
				      r ? record_args(mon, r) : "")) ||
		    (rc = add_ds(im, mr->ds_badge, mr->size, IMAGE_DS_MANAGED, NULL)))
			return rc;
		d->managed.rm_session = mr->session;
		for (unsigned k = 0; mr->sigh && k < m->ncaps; k++)
			if (m->cap[k].badge == mr->sigh)
				d->managed.fault_kcap = m->cap[k].kcap;
		if (mr->sigh && !d->managed.fault_kcap)
			return -ENOENT; /* the target holds no cap of its handler */
	}
	return 0;
}

/* A root the target announced: "announce=NAME" in its gate's note, so
 * that a restore on another node announces it there (restore_image.c). */
static int announce_note(const struct monitor *mon, uint64_t badge, struct image_cap *c)
{
	for (int i = 0; i < mon->nannounced; i++) {
		if (mon->announced[i].badge != badge)
			continue;
		if (strlen(mon->announced[i].name) + sizeof IMAGE_NOTE_ANNOUNCE >
		    sizeof c->note)
			return -ENAMETOOLONG;
		snprintf(c->note, sizeof c->note, IMAGE_NOTE_ANNOUNCE "%s",
			 mon->announced[i].name);
	}
	return 0;
}

/* Member owner of mon's group has ended (or its target exited): its
 * objects are gone with it. */
static int owner_gone(const struct monitor *mon, int owner)
{
	return mon->group && owner >= 0 && owner < mon->group->n &&
	       group_member_gone(mon->group, owner, NULL);
}

/* A cap to member owner's object (a group's member image,
 * image/group.h): the owner and the object's badge there; the kind's
 * name as the note.  An ended owner's object is gone: the cap is dead,
 * as the holder finds it when it calls (a cut that let the members run
 * on to settle may see the owner end; its object was no longer found,
 * and the holder's image failed). */
static int member_to_image(const struct monitor *mon, uint64_t badge, int owner,
			   struct image_cap *c)
{
	uint64_t object;
	uint32_t kind;
	int rc;

	if (owner_gone(mon, owner)) {
		c->class = IMAGE_CAP_DEAD;
		c->arg = IMAGE_DEAD_REVOKED;
		snprintf(c->note, sizeof c->note, "member ended");
		return 0;
	}
	if ((rc = group_member_ref((struct monitor *)mon, owner, badge, &object, &kind)))
		return rc;
	c->class = IMAGE_CAP_MEMBER;
	c->obj = (uint64_t)owner;
	c->arg = object;
	snprintf(c->note, sizeof c->note, "%s", image_member_kind_name(kind));
	return 0;
}

/* A session opened at another member r->member - 1: a member cap, and
 * its session record with the args (flag IMAGE_SESSION_F_MEMBER). */
static int member_session(const struct monitor *mon, const struct mon_record *r,
			  struct image_cap *c, struct image_model *im)
{
	int rc = member_to_image(mon, c->badge, r->member - 1, c);

	if (rc || c->class == IMAGE_CAP_DEAD) /* its server ended: no session */
		return rc;
	return add_session(im, c->badge, IMAGE_SESSION_OTHER, IMAGE_SESSION_F_MEMBER,
			   record_what(mon, r), record_args(mon, r));
}

/* One cap of the model as an image cap (sessions and dataspaces it
 * names are added on the way). */
static int cap_to_image(const struct monitor *mon, const struct mon_model *m,
			const struct mon_model_cap *mc, struct image_model *im,
			struct image_cap *c)
{
	uint64_t pd = mon->pd_proxy ? mon->pd_proxy->obj.badge : 0, nr;
	const struct mon_record *r;
	int rc;

	memset(c, 0, sizeof *c);
	c->kcap = mc->kcap;
	c->badge = mc->badge;
	c->rights = RIGHT_R | RIGHT_W;
	switch (mc->cls) {
	case MON_CLASS_TASK:
		c->class = IMAGE_CAP_FIXED;
		return 0;
	case MON_CLASS_PARENT:
		c->class = IMAGE_CAP_SESSION;
		c->obj = mc->badge;
		im->component.parent_badge = mc->badge;
		return add_session(im, mc->badge, IMAGE_SESSION_PARENT, 0, "parent",
				   NULL);
	case MON_CLASS_SKIPPED:
		c->class = IMAGE_CAP_DEAD;
		c->arg = IMAGE_DEAD_REVOKED;
		snprintf(c->note, sizeof c->note, "%s",
			 mc->aux ? "object destroyed" : "receive window");
		return 0;
	case MON_CLASS_SESSION:
		c->class = IMAGE_CAP_SESSION;
		c->obj = mc->badge;
		return session_to_image(mon, m, mc, im);
	case MON_CLASS_MEMBER:
		return member_to_image(mon, mc->badge, (int)mc->aux, c);
	case MON_CLASS_ROUTED:
		r = record_find((struct monitor *)mon, mc->badge);
		if (r && r->member) /* a session at a member: its object there */
			return member_session(mon, r, c, im);
		c->class = IMAGE_CAP_OUTSIDE;
		c->obj = mc->badge;
		return add_session(im, mc->badge, IMAGE_SESSION_OTHER,
				   IMAGE_SESSION_F_OUTSIDE, r ? record_what(mon, r) : "?",
				   r ? record_args(mon, r) : NULL);
	case MON_CLASS_DATASPACE:
	case MON_CLASS_ROM_DS:
		c->class = IMAGE_CAP_DATASPACE;
		c->obj = mc->badge;
		return add_ds(im, mc->badge, mc->aux,
			      mc->cls == MON_CLASS_ROM_DS ? IMAGE_DS_ROM : IMAGE_DS_RAM,
			      mc->cls == MON_CLASS_ROM_DS ? m->binary : NULL);
	case MON_CLASS_REGION_MAP:
		c->class = IMAGE_CAP_REGION_MAP;
		c->arg = mc->aux == PD_STACK_AREA ? IMAGE_RM_STACK_AREA
			 : mc->aux == RM_CREATE	  ? IMAGE_RM_MANAGED
						  : IMAGE_RM_ADDRESS_SPACE;
		c->obj = c->arg == IMAGE_RM_MANAGED ? rmap_ds(m, mc->badge) : 0;
		return c->arg == IMAGE_RM_MANAGED && !c->obj ? -ESRCH : 0;
	case MON_CLASS_MANAGED_DS: /* added by rmaps_to_image */
		c->class = IMAGE_CAP_DATASPACE;
		c->obj = mc->badge;
		return 0;
	case MON_CLASS_THREAD:
		nr = thread_nr_of_badge(m, mc->badge);
		c->class = KCAP_INDEX(mc->kcap) < FIXED_USER_BASE ? IMAGE_CAP_FIXED
								  : IMAGE_CAP_THREAD;
		c->obj = nr;
		return 0;
	case MON_CLASS_RPC_GATE:
		c->class = IMAGE_CAP_RPC_GATE;
		c->obj = pd;
		c->arg = thread_nr_of_badge(m, mc->aux);
		return announce_note(mon, mc->badge, c);
	case MON_CLASS_SIGNAL_SOURCE:
		c->class = IMAGE_CAP_SIGNAL_SOURCE;
		c->obj = pd;
		return 0;
	case MON_CLASS_SIGNAL_CONTEXT:
		c->class = IMAGE_CAP_SIGNAL_CONTEXT;
		c->obj = pd;
		c->arg = mc->aux;
		signal_to_image(m, c, im);
		return 0;
	case MON_CLASS_SEMAPHORE:
		c->class = IMAGE_CAP_SEMAPHORE_IRQ;
		c->obj = pd;
		rc = model_handler_thread_nr(m, &nr);
		c->arg = nr;
		return rc;
	default:
		return -ENOTSUP;
	}
}

/* What the target used when it was checkpointed: the bytes of its RAM
 * dataspaces, the caps it held; and the node that wrote the image
 * (host name and process id). */
static void image_usage(const struct monitor *mon, struct image_model *im)
{
	char host[32] = "";

	im->component.ram_used = 0;
	for (uint32_t i = 0; i < im->ndataspaces; i++)
		if (im->dataspaces[i].kind == IMAGE_DS_RAM)
			im->component.ram_used += im->dataspaces[i].size;
	im->component.cap_used = im->ncaps;
	gethostname(host, sizeof host - 1);
	snprintf(im->node, sizeof im->node, "%s pid %ld", host[0] ? host : "localhost",
		 (long)getpid());
	(void)mon;
}

int model_to_image_records(const struct monitor *mon, const struct mon_model *m,
			   struct image_model *im)
{
	struct image_component *comp = &im->component;
	int rc = -ENOMEM;

	memset(im, 0, sizeof *im);
	im->sessions = calloc(m->ncaps + MON_MAX_RMAPS + 2, sizeof *im->sessions);
	im->threads = calloc(m->nthreads + 1, sizeof *im->threads);
	im->dataspaces =
	    calloc(m->ncaps + m->nregions + MON_MAX_RMAPS + 1, sizeof *im->dataspaces);
	im->regions = calloc(m->nregions + 1, sizeof *im->regions);
	im->caps = calloc(m->ncaps + 1, sizeof *im->caps);
	im->memory = calloc(m->ncaps + m->nregions + 1, sizeof *im->memory);
	im->signals = calloc(m->ncaps + 1, sizeof *im->signals);
	im->timers = calloc(m->ncaps + 1, sizeof *im->timers);
	if (!im->sessions || !im->threads || !im->dataspaces || !im->regions ||
	    !im->caps || !im->memory || !im->signals || !im->timers)
		goto err;
	snprintf(comp->label, sizeof comp->label, "%.47s",
		 mon->env && mon->env->label ? mon->env->label : m->binary);
	snprintf(comp->binary, sizeof comp->binary, "%.47s", m->binary);
	comp->ram_quota = mon->cfg.ram;
	comp->cap_quota = mon->cfg.caps;
	comp->cap_map_addr = m->cap_map_addr;
	comp->cap_map_entries = CAP_SLOTS;
	comp->cr_report_addr = m->report_addr;
	comp->cr_abi_version = (uint32_t)m->abi_version;
	memcpy(comp->binary_hash, mon->binary.hash, sizeof comp->binary_hash);
	memcpy(comp->build_id, mon->binary.build_id, sizeof comp->build_id);
	comp->build_id_len = mon->binary.build_id_len;
	if ((rc = rmaps_to_image(mon, m, im)))
		goto err;
	for (unsigned i = 0; i < m->ncaps; i++)
		if ((rc = cap_to_image(mon, m, &m->cap[i], im, &im->caps[im->ncaps++])))
			goto err;
	if ((rc = pending_kept(m, im)))
		goto err;
	for (unsigned i = 0; i < m->nthreads; i++) {
		struct image_thread *t = &im->threads[im->nthreads++];
		t->nr = (uint32_t)m->thread[i].nr;
		snprintf(t->name, sizeof t->name, "%s", thread_name_of(mon, t->nr));
		t->state = (uint32_t)m->thread[i].state;
		t->utcb_addr = m->thread[i].utcb;
		t->cpu_session = mon->cpu_proxy ? mon->cpu_proxy->obj.badge : 0;
		t->regs = m->thread[i].regs;
		t->utcb = m->thread[i].utcb_data;
	}
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct mon_model_region *r = &m->region[i];
		struct image_dataspace *d = &im->dataspaces[im->ndataspaces];
		uint32_t n = im->ndataspaces;

		if ((rc = add_ds(im, r->ds_badge, r->ds_size,
				 r->owner ? IMAGE_DS_MEMBER : IMAGE_DS_RAM, NULL)))
			goto err;
		if (r->owner && im->ndataspaces > n) /* another member's */
			d->member.owner = (uint32_t)(r->owner - 1);
		im->regions[im->nregions++] = (struct image_region){
		    r->rm ? IMAGE_RM_MANAGED : IMAGE_RM_ADDRESS_SPACE,
		    r->perm,
		    r->rm ? rmap_ds(m, r->rm) : 0,
		    r->at,
		    r->size,
		    r->ds_badge,
		    r->off};
	}
	image_usage(mon, im);
	return 0;
err:
	image_model_release(im);
	return rc ? rc : -ENOMEM;
}

void image_model_release(struct image_model *im)
{
	for (uint32_t i = 0; im->memory && i < im->nmemory; i++) {
		if (!im->memory[i].borrowed)
			free(im->memory[i].data);
		free(im->memory[i].present);
		free(im->memory[i].packed);
	}
	free(im->sessions);
	free(im->threads);
	free(im->dataspaces);
	free(im->regions);
	free(im->caps);
	free(im->memory);
	free(im->signals);
	free(im->timers);
	memset(im, 0, sizeof *im);
}
