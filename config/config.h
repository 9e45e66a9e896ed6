/*
 * A node's configuration: a Genode-style XML config read with libxml2 and
 * validated completely before anything is started.  init runs it; its
 * value syntax (sizes, defaults) also serves native components' own
 * <config> (the monitor's), which is why it lives outside init/.
 *
 *   <config ram="2G" caps="40000">              node budget, default: core's
 *   <config prio_levels="4">                    priority bands, power of 2
 *     <parent-provides> <service name="LOG"/> ... </parent-provides>
 *     <default-route> <any-service> <parent/> <any-child/> </any-service>
 *     </default-route>
 *     <start name="X" caps="N" priority="-1">  0 .. -(prio_levels - 1)
 *       <binary name="..."/>                    default: the start name
 *       <resource name="RAM" quantum="1M"/>     K/M/G suffixes
 *       <provides> <service name="S"/> </provides>
 *       <route> <service name="S"> <child name="Y"/> </service>
 *               <any-service> <parent/> </any-service> </route>
 *     </start>
 *   </config>
 */
#ifndef CONFIG_CONFIG_H
#define CONFIG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_NAME_MAX	       64  /* names of children, services, binaries */
#define CONFIG_MAX_SERVICES    16  /* per <parent-provides> / <provides> */
#define CONFIG_MAX_ROUTES      16  /* <service>/<any-service> per <route> */
#define CONFIG_MAX_TARGETS     4   /* targets per route entry */
#define CONFIG_ERR_MAX	       512 /* size of an error message buffer */
#define CONFIG_DEFAULT_CAPS    100
#define CONFIG_DEFAULT_RAM     (4ULL << 20)
#define CONFIG_PRIO_LEVELS_MAX 128

enum route_kind { ROUTE_PARENT = 1, ROUTE_CHILD, ROUTE_ANY_CHILD };

/* One target of a route entry; child is set only for ROUTE_CHILD and then
 * names a <start> of the same config (checked at load). */
struct route_target {
	enum route_kind kind;
	char child[CONFIG_NAME_MAX];
};

/* A <service name=S> (service non-empty) or <any-service> (service "")
 * entry: its targets are tried in order. ntargets >= 1. */
struct route_entry {
	char service[CONFIG_NAME_MAX];
	int line; /* of the <service>/<any-service> element */
	int ntargets;
	struct route_target target[CONFIG_MAX_TARGETS];
};

struct route_table {
	int nentries;
	struct route_entry entry[CONFIG_MAX_ROUTES];
};

/* One <start>: name unique in the config, binary non-empty, ram > 0. */
struct start_config {
	char name[CONFIG_NAME_MAX];
	char binary[CONFIG_NAME_MAX];
	uint64_t ram;
	uint64_t caps;
	/* -priority: 0 (the parent's own) .. prio_levels - 1 (lowest) */
	unsigned priority;
	/* its <provides>: CONFIG_MAX_SERVICES names, NULL without one (1 KB
	 * that every <start> kept, and most provide nothing) */
	int nprovides;
	char (*provides)[CONFIG_NAME_MAX];
	/* its <route>, NULL without one (the default route): a table is
	 * 5.5 KB, and a node of 400 children kept 2.6 MB of them for the
	 * few that have a route of their own */
	struct route_table *route;
	int line; /* of the <start> element */
};

/* A whole validated config.  has_parent_provides = 0: the parent may be
 * asked for any service. */
struct init_config {
	char path[512];
	uint64_t ram, caps;   /* <config ram= caps=>: the node's budget, 0: default */
	unsigned prio_levels; /* <config prio_levels=>: 1 (absent) .. 128 */
	int has_parent_provides;
	int nparent_provides;
	char parent_provides[CONFIG_MAX_SERVICES][CONFIG_NAME_MAX];
	struct route_table default_route;
	int nstart;
	struct start_config *start; /* nstart of them, allocated by config_load */
};

/*
 * Read and validate the config at path into *cfg, which is zeroed or holds
 * an earlier load (whose memory is reused or freed).  Returns 0, or
 * -EINVAL (-ENOENT if the file cannot be read, -ENOMEM) with a one-line
 * message "FILE:LINE: what is wrong" in err (size errlen).  On failure
 * *cfg holds no config and nothing allocated.  There is no limit on the
 * number of <start> nodes: the quota they ask for limits them.
 */
int config_load(const char *path, struct init_config *cfg, char *err, size_t errlen);
/*
 * The same for a <config> element already read (a libxml2 xmlNode *),
 * e.g. a native component's own <config> in a node's config: its
 * <start>, <default-route> and <parent-provides> children are read as
 * config_load reads a file's; the elements named in foreign
 * (NULL-terminated, or NULL) are left to the caller, any other is
 * refused.  Messages name the element's document and line.  Same
 * returns as config_load; *cfg is freed with config_free.
 */
int config_parse_element(const void *xml_node, const char *const *foreign,
			 struct init_config *cfg, char *err, size_t errlen);
/*
 * A cycle among the routes of cfg's <start> nodes: an edge a -> b where a
 * routes a service to b (a <child name=b/> target of its own <route> or
 * of <default-route>, or an <any-child/> target of an entry that b could
 * serve: b provides the entry's service, or any service for
 * <any-service>).  1 with the cycle written to out as "a -> b -> a", 0 if
 * there is none.  init accepts such configs (a session request simply
 * waits); a group that is checkpointed as one must not have one.
 */
int config_route_cycle(const struct init_config *cfg, char *out, size_t size);
/* 1 if <start> a may send a session request to <start> b (a route of a's,
 * or the default route, names b or reaches it by <any-child/>), else 0. */
int config_route_edge(const struct init_config *cfg, int a, int b);
/* Free what config_load allocated; cfg is zeroed. */
void config_free(struct init_config *cfg);

/* The <start> named name, or NULL. */
const struct start_config *config_find_start(const struct init_config *cfg,
					     const char *name);

/*
 * The route entry for a session request of service from child s: the
 * first matching entry of s's <route>, else of <default-route>; NULL if
 * none matches.
 */
const struct route_entry *config_route(const struct init_config *cfg,
				       const struct start_config *s, const char *service);

/* 1 if the parent may be asked for service (per <parent-provides>). */
int config_parent_provides(const struct init_config *cfg, const char *service);

/* Parse "123", "64K", "1M", "2G" into *out; -EINVAL if malformed or
 * overflowing. */
int config_parse_size(const char *s, uint64_t *out);

#endif
