/* The monitor's fixed limits: names, records, proxies, regions, threads. */
#ifndef MONITOR_LIMITS_H
#define MONITOR_LIMITS_H

#include <capsule/abi.h>

#define MON_NAME_MAX	64
#define MON_ARGS_MAX	256
#define MON_MAX_PROXIES 64
/* every cap the target can hold: its cap map's slots (records.c keeps
 * them in struct monitor, which is heap-allocated, with a badge index) */
#define MON_MAX_RECORDS	  CAP_SLOTS
#define MON_MAX_PENDING	  128 /* signals drained at one checkpoint */
#define MON_REC_HASH_BITS 13  /* index slots: twice MON_MAX_RECORDS */
#define MON_MAX_REGIONS	  256 /* attachments of a target (cr_regions.xml) */
#define MON_MAX_RMAPS	  8   /* managed region maps of a target */
#define MON_MAX_THREADS	  16
/* members of a group (group.h): each opens four sessions (PD, CPU, LOG,
 * ROM) at the monitor's parent, which init allows (INIT_MAX_SESSIONS);
 * the group's arrays are sized by it (scenario group_wide runs 16) */
#define MON_GROUP_MAX 16
/* RAM one restore may make the node allocate, whatever the quotas say */
#define MON_RESTORE_MAX_BYTES (4ULL << 30)

#endif
