/*
 * The migrations this node sends, by the name of their target, so that
 * `capsule migrate`'s Ctrl-C ("cancel NAME" on the control socket, on
 * another connection) reaches the one running on the control thread of
 * its own connection.  migrate_send looks at its flag before each step
 * and between the messages of an image; until the commit, a cancelled
 * migration ends as a failed one: the target runs on here and the
 * destination is told to drop what it has ("abort").
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "tools/migrate.h"

#define MIGRATE_RUNNING 8 /* migrations sent at once, at most */

static pthread_mutex_t mc_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char name[CONTROL_NAME_MAX];
	atomic_int *flag;
} mc_slot[MIGRATE_RUNNING];

int migrate_cancel_enter(const char *name, atomic_int *flag)
{
	int free_slot = -1, rc = 0;

	pthread_mutex_lock(&mc_lock);
	for (int i = 0; i < MIGRATE_RUNNING; i++) {
		if (!mc_slot[i].flag && free_slot < 0)
			free_slot = i;
		if (mc_slot[i].flag && !strcmp(mc_slot[i].name, name))
			rc = -EBUSY;
	}
	if (!rc && free_slot < 0)
		rc = -EAGAIN;
	if (!rc) {
		snprintf(mc_slot[free_slot].name, sizeof mc_slot[free_slot].name, "%s",
			 name);
		mc_slot[free_slot].flag = flag;
	}
	pthread_mutex_unlock(&mc_lock);
	return rc;
}

void migrate_cancel_leave(atomic_int *flag)
{
	pthread_mutex_lock(&mc_lock);
	for (int i = 0; i < MIGRATE_RUNNING; i++)
		if (mc_slot[i].flag == flag)
			mc_slot[i].flag = NULL;
	pthread_mutex_unlock(&mc_lock);
}

int migrate_cancel(const char *name)
{
	int rc = -ESRCH;

	pthread_mutex_lock(&mc_lock);
	for (int i = 0; i < MIGRATE_RUNNING; i++)
		if (mc_slot[i].flag && !strcmp(mc_slot[i].name, name)) {
			atomic_store(mc_slot[i].flag, 1);
			rc = 0;
		}
	pthread_mutex_unlock(&mc_lock);
	return rc;
}
