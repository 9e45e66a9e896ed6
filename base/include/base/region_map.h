/*
 * Region maps (RM sessions) and managed dataspaces.
 *
 * A region map is an address range into which dataspaces are attached.
 * Its own dataspace (REGION_DATASPACE) can be attached inside another
 * region map — a managed dataspace.  An access to a part of a managed
 * dataspace where nothing is attached is a fault: core halts the thread,
 * records the fault in the region map (REGION_STATE) and submits to its
 * fault handler; a pager component then attaches something there and the
 * thread continues.  The PD's address space and its stack area are region
 * maps of this kind (PD_ADDRESS_SPACE, PD_STACK_AREA).
 */
#ifndef BASE_REGION_MAP_H
#define BASE_REGION_MAP_H

#include <base/capability.h>

struct region_fault {
	uint64_t state; /* enum region_fault_state */
	uint64_t addr;	/* offset inside the region map */
	uint64_t kind;	/* enum fault_kind */
};

int rm_create(cap_t rm_session, uint64_t size, cap_t *region_map);
int rm_destroy(cap_t rm_session, cap_t region_map);
int region_attach(cap_t rm, cap_t ds, uint64_t addr, uint64_t off, uint64_t size,
		  unsigned perm, uint64_t *at);
int region_detach(cap_t rm, uint64_t addr);
int region_fault_handler(cap_t rm, cap_t context);
int region_state(cap_t rm, struct region_fault *f);
int region_dataspace(cap_t rm, cap_t *ds);

#endif
