/*
 * Printable names of the image's enums (for `capsule inspect` and error
 * messages).
 */
#include "image/group.h"
#include "image/internal.h"

#define NAME_OF(table, v)                                                                \
	((v) < sizeof(table) / sizeof(table[0]) && table[(v)] ? table[(v)] : "?")

const char *image_cap_class_name(uint32_t class)
{
	static const char *const n[] = {
	    [IMAGE_CAP_FIXED] = "fixed",
	    [IMAGE_CAP_SESSION] = "session",
	    [IMAGE_CAP_DATASPACE] = "dataspace",
	    [IMAGE_CAP_REGION_MAP] = "region map",
	    [IMAGE_CAP_THREAD] = "thread",
	    [IMAGE_CAP_RPC_GATE] = "rpc gate",
	    [IMAGE_CAP_SIGNAL_SOURCE] = "signal source",
	    [IMAGE_CAP_SIGNAL_CONTEXT] = "signal context",
	    [IMAGE_CAP_SEMAPHORE_IRQ] = "semaphore irq",
	    [IMAGE_CAP_OUTSIDE] = "outside session",
	    [IMAGE_CAP_DEAD] = "dead",
	    [IMAGE_CAP_MEMBER] = "member object",
	};
	return NAME_OF(n, class);
}

const char *image_session_type_name(uint32_t type)
{
	static const char *const n[] = {
	    [IMAGE_SESSION_PD] = "PD",	       [IMAGE_SESSION_CPU] = "CPU",
	    [IMAGE_SESSION_RM] = "RM",	       [IMAGE_SESSION_ROM] = "ROM",
	    [IMAGE_SESSION_LOG] = "LOG",       [IMAGE_SESSION_TIMER] = "Timer",
	    [IMAGE_SESSION_PARENT] = "parent", [IMAGE_SESSION_OTHER] = "other",
	};
	return NAME_OF(n, type);
}

const char *image_ds_kind_name(uint32_t kind)
{
	static const char *const n[] = {
	    [IMAGE_DS_RAM] = "ram",
	    [IMAGE_DS_ROM] = "rom",
	    [IMAGE_DS_MANAGED] = "managed",
	    [IMAGE_DS_MEMBER] = "member",
	};
	return NAME_OF(n, kind);
}

const char *image_rm_kind_name(uint32_t kind)
{
	static const char *const n[] = {
	    [IMAGE_RM_ADDRESS_SPACE] = "address space",
	    [IMAGE_RM_STACK_AREA] = "stack area",
	    [IMAGE_RM_MANAGED] = "managed",
	};
	return NAME_OF(n, kind);
}

const char *image_thread_state_name(uint32_t state)
{
	static const char *const n[] = {
	    [TS_INACTIVE] = "inactive", [TS_READY] = "ready",
	    [TS_BLOCKED] = "blocked",	[TS_PAUSED] = "paused",
	    [TS_FAULTED] = "faulted",	[TS_DEAD] = "dead",
	};
	return NAME_OF(n, state);
}

const char *image_dead_reason_name(uint32_t reason)
{
	static const char *const n[] = {
	    [IMAGE_DEAD_CONSTRUCTOR] = "constructor",
	    [IMAGE_DEAD_REVOKED] = "revoked",
	};
	return NAME_OF(n, reason);
}

const char *image_member_kind_name(uint32_t kind)
{
	static const char *const n[] = {
	    [IMAGE_MEMBER_GATE] = "rpc object",
	    [IMAGE_MEMBER_SIGNAL_CONTEXT] = "signal context",
	    [IMAGE_MEMBER_DATASPACE] = "dataspace",
	    [IMAGE_MEMBER_REGION_MAP] = "region map",
	};

	return NAME_OF(n, kind);
}
