/*
 * Group checkpoint (docs/cr.md "Groups"): one node runs, side by side,
 *
 *   grp    a group of 8 slow_counters under one monitor,
 *   s1-s8  8 monitors with one slow_counter each,
 *   soak   a group of a soak_server and 7 soak_clients (caps between the
 *          members: each client's session and both ways' signal contexts).
 *
 * Each round checkpoints grp, then s1..s8 one after the other, then soak,
 * all through the CLI while they run.  Printed, medians of ROUNDS:
 *
 *   - the group's pause (its answer's "paused": from the start of the cut
 *     to the resume of all 8) against the 8 separate pauses added up, and
 *     the wall time of the one command against the 8 commands;
 *   - the soak group's pause and its caps between members.
 *
 * Then the last round's images are restored, ROUNDS times, each time on a
 * fresh node B whose monitors wait for a restore (<restore/>): grp's one
 * group image against s1..s8's 8 images (the wall time of the commands),
 * and soak's (twice: the second replaces the running members), whose log
 * line gives the time spent on the caps between members: printed per cap
 * (the target for one component is <= 2 us).  Exactly: the group's
 * log line's "caps between members" phase of the second restore (the
 * monitor's clock in whole us, from every member built to every cap of
 * the table mapped and the regions of other members' dataspaces
 * attached) divided by the caps of its table (21).  A member cap's
 * share of the ready step (its cap map entry rebadged, its verify) is
 * not in it: that step's time is per member and per cap alike, where
 * bench_cr's slope for one component is over its whole restore.  That
 * average carries the
 * phase's fixed part (its core calls: the gates, the PD_MAP_OUTs).  So
 * each round also runs a fresh node D, B's config with soak3 (a
 * soak_server and 3 soak_clients, 9 caps, its image taken on a node C of
 * its own before A starts) in soak's place, which restores the same
 * images and then soak3's the same way; the slope between the two
 * groups' caps phases is printed as the cost per additional cap.  (With
 * soak3 beside soak in node B, soak's figure rose by about 0.2 us per
 * cap: the two nodes differ in nothing but the soak group.)
 */
#include "bench/bench_node.h"

#define MEMBERS 8
#define ROUNDS	5
#define SMALL	3 /* soak3's clients */

static struct bench_node bn;

static const char head[] =
    "<config><parent-provides><service name=\"PD\"/><service name=\"CPU\"/>"
    "<service name=\"LOG\"/><service name=\"ROM\"/><service name=\"RM\"/>"
    "<service name=\"Timer\"/><service name=\"IRQ\"/></parent-provides>"
    "<default-route><any-service><parent/></any-service></default-route>\n";

#define PUT(...) (o += (size_t)snprintf(buf + o, size - o, __VA_ARGS__))

/* A monitor NAME of a soak_server and CLIENTS soak_clients (waiting for a
 * restore: wait "<restore/>") at buf + o; the new o. */
static size_t soak_group(char *buf, size_t size, size_t o, const char *name, int clients,
			 const char *wait)
{
	PUT("<start name=\"%s\" caps=\"3000\"><binary name=\"monitor\"/>"
	    "<resource name=\"RAM\" quantum=\"64M\"/><config>%s\n"
	    "<start name=\"server\" caps=\"400\"><binary name=\"soak_server\"/>"
	    "<resource name=\"RAM\" quantum=\"4M\"/><provides><service "
	    "name=\"Soak\"/></provides></start>\n",
	    name, wait);
	for (int k = 1; k <= clients; k++)
		PUT("<start name=\"k%d\" caps=\"100\"><binary name=\"soak_client\"/>"
		    "<resource name=\"RAM\" quantum=\"2M\"/><route><service "
		    "name=\"Soak\"><child name=\"server\"/></service><any-service>"
		    "<parent/></any-service></route></start>\n",
		    k);
	PUT("</config></start>\n");
	return o;
}

/* node A: grp, s1..s8 and soak into buf; restore: node B's, the same
 * monitors waiting for a restore (<restore/>); small: node D's, B's with
 * soak3 in soak's place */
static void config(char *buf, size_t size, int restore, int small)
{
	const char *wait = restore ? "<restore/>" : "";
	const char *target = "<target binary=\"slow_counter\" ram=\"2M\" caps=\"100\"/>";
	size_t o = 0;

	PUT("%s<start name=\"grp\" caps=\"3000\"><binary name=\"monitor\"/>"
	    "<resource name=\"RAM\" quantum=\"64M\"/><config>%s\n",
	    head, wait);
	for (int k = 1; k <= MEMBERS; k++)
		PUT("<start name=\"c%d\" caps=\"100\"><binary name=\"slow_counter\"/>"
		    "<resource name=\"RAM\" quantum=\"2M\"/></start>\n",
		    k);
	PUT("</config></start>\n");
	for (int k = 1; k <= MEMBERS; k++)
		PUT("<start name=\"s%d\" caps=\"500\"><binary name=\"monitor\"/>"
		    "<resource name=\"RAM\" "
		    "quantum=\"16M\"/><config>%s</config></start>\n",
		    k, restore ? wait : target);
	o = small ? soak_group(buf, size, o, "soak3", SMALL, wait)
		  : soak_group(buf, size, o, "soak", MEMBERS - 1, wait);
	PUT("</config>\n");
}

/* node C: soak3 alone, running */
static void config_small(char *buf, size_t size)
{
	size_t o = 0;

	PUT("%s", head);
	o = soak_group(buf, size, o, "soak3", SMALL, "");
	PUT("</config>\n");
}
#undef PUT

/* "paused X ms" of an answer, in ms; -1 if none */
static double paused_ms(const char *line)
{
	const char *p = strstr(line, "paused ");
	return p ? atof(p + 7) : -1;
}

struct round {
	double grp_paused, grp_wall, sep_paused, sep_wall, soak_paused;
	int soak_caps;
};

/* One checkpoint of NAME at node NODE into NAME.img; its answer in line. */
static double checkpoint_at(const char *node, const char *name, char *line, size_t size)
{
	double t = bench_capsule(&bn, line, size,
				 "checkpoint --node %s/%s.sock -f -o %s/%s.img %s",
				 bn.tmpdir, node, bn.tmpdir, name, name);
	if (t < 0)
		fprintf(stderr, "bench_group: checkpoint of %s: %s", name, line);
	return t;
}

static double checkpoint(const char *name, char *line, size_t size)
{
	return checkpoint_at("A", name, line, size);
}

/* soak3.img: node C runs soak3 until its clients send, then it is
 * checkpointed once.  0 or -1. */
static int small_image(void)
{
	char line[1024];
	pid_t c = bench_node_start(&bn, "C", "c.xml", "");
	int rc = bench_node_wait_log(&bn, "C", "soak_client: sending for", SMALL) ||
		 checkpoint_at("C", "soak3", line, sizeof line) < 0;

	bench_node_kill(c);
	if (rc)
		fprintf(stderr, "bench_group: node C's log: %s/C.log\n", bn.tmpdir);
	return rc ? -1 : 0;
}

static int one_round(struct round *r)
{
	char line[1024], name[8];
	double t;
	const char *c;

	if ((r->grp_wall = checkpoint("grp", line, sizeof line)) < 0)
		return -1;
	r->grp_paused = paused_ms(line);
	r->sep_paused = r->sep_wall = 0;
	for (int k = 1; k <= MEMBERS; k++) {
		snprintf(name, sizeof name, "s%d", k);
		if ((t = checkpoint(name, line, sizeof line)) < 0)
			return -1;
		r->sep_wall += t;
		r->sep_paused += paused_ms(line);
	}
	if (checkpoint("soak", line, sizeof line) < 0)
		return -1;
	r->soak_paused = paused_ms(line);
	c = strstr(line, " ms, ");
	r->soak_caps = c ? atoi(c + 5) : -1;
	return 0;
}

static int checkpoints(void)
{
	double gp[ROUNDS], gw[ROUNDS], sp[ROUNDS], sw[ROUNDS], kp[ROUNDS];
	struct round r;
	int caps = 0;

	for (int i = 0; i < ROUNDS; i++) {
		if (one_round(&r))
			return -1;
		gp[i] = r.grp_paused, gw[i] = r.grp_wall * 1e3;
		sp[i] = r.sep_paused, sw[i] = r.sep_wall * 1e3;
		kp[i] = r.soak_paused, caps = r.soak_caps;
		usleep(200000);
	}
	double g = bench_median(gp, ROUNDS), s = bench_median(sp, ROUNDS);
	double w = bench_median(gw, ROUNDS), v = bench_median(sw, ROUNDS);
	printf("bench_group: checkpoint of 8 slow_counters: as one group paused %.2f ms, "
	       "8 separate checkpoints paused %.2f ms added up: ratio %.2f (median of "
	       "%d)\n",
	       g, s, g / s, ROUNDS);
	printf("bench_group: the same, wall time of the commands: group %.1f ms, 8 "
	       "separate %.1f ms: ratio %.2f\n",
	       w, v, w / v);
	printf("bench_group: checkpoint of a soak_server and 7 soak_clients as one "
	       "group: paused %.2f ms, %d caps between members (median of %d)\n",
	       bench_median(kp, ROUNDS), caps, ROUNDS);
	return 0;
}

/* From node NODE's log: group NAME's last restore, "caps between members
 * Y" us of its phases and the M caps it mapped.  0 or -1. */
static int caps_phase(const char *node, const char *name, double *us, double *caps)
{
	char cmd[PATH_MAX + 256], line[128] = "";
	FILE *p;

	snprintf(cmd, sizeof cmd,
		 "sed -n 's/^\\[%s\\] monitor: group restore: [0-9]* members, "
		 "\\([0-9]*\\) caps between.*caps between members \\([0-9]*\\),.*/\\1 "
		 "\\2/p' %s/%s.log | tail -n 1",
		 name, bn.tmpdir, node);
	if (!(p = popen(cmd, "r")))
		return -1;
	if (!fgets(line, sizeof line, p) || sscanf(line, "%lf %lf", caps, us) != 2)
		line[0] = 0;
	pclose(p);
	return line[0] ? 0 : -1;
}

/* Restore image NAME.img into monitor NAME of node NODE: wall time in
 * ms, < 0 with the answer on stderr. */
static double restore(const char *node, const char *name)
{
	char line[1024];
	double t = bench_capsule(&bn, line, sizeof line,
				 "restore --node %s/%s.sock %s/%s.img %s", bn.tmpdir,
				 node, bn.tmpdir, name, name);

	if (t < 0)
		fprintf(stderr, "bench_group: restore of %s: %s", name, line);
	return t * 1e3;
}

/* Group NAME restored twice at node NODE (the second replaces running
 * members, whose serving entrypoints exist: the first made one per
 * member, not a cost per cap): the caps phase of the second in us, and
 * its caps.  0 or -1. */
static int soak_restore(const char *node, const char *name, double *us, double *caps)
{
	if (restore(node, name) < 0 || restore(node, name) < 0 ||
	    caps_phase(node, name, us, caps) || *caps <= 0) {
		fprintf(stderr, "bench_group: no %s restore line in %s/%s.log\n", name,
			bn.tmpdir, node);
		return -1;
	}
	return 0;
}

/* One fresh node NODE (B, or D): the group image, the 8 images, then
 * soak's (B) or soak3's (D).  Wall times in ms; the caps phase in us,
 * its caps counted.  0 or -1. */
static int restore_round(const char *node, double *grp, double *sep, double *us,
			 double *caps)
{
	char cfg[8], name[8];
	int small = !strcmp(node, "D");
	pid_t b;
	double t;
	int rc = -1;

	snprintf(cfg, sizeof cfg, "%s.xml", node);
	b = bench_node_start(&bn, node, cfg, "");
	if (bench_node_wait_log(&bn, node, "waiting for a restore", MEMBERS + 2) ||
	    (*grp = restore(node, "grp")) < 0)
		goto out;
	*sep = 0;
	for (int k = 1; k <= MEMBERS; k++) {
		snprintf(name, sizeof name, "s%d", k);
		if ((t = restore(node, name)) < 0)
			goto out;
		*sep += t;
	}
	if (soak_restore(node, small ? "soak3" : "soak", us, caps))
		goto out;
	rc = 0;
out:
	bench_node_kill(b);
	return rc;
}

static int restores(void)
{
	double g[ROUNDS], s[ROUNDS], c[ROUNDS], big[ROUNDS], small[ROUNDS], slope[ROUNDS];
	double us[2], caps[2];

	for (int i = 0; i < ROUNDS; i++) {
		double dg, ds;
		if (restore_round("B", &g[i], &s[i], &us[0], &caps[0]) ||
		    restore_round("D", &dg, &ds, &us[1], &caps[1]))
			return -1;
		if (caps[0] <= caps[1]) {
			fprintf(stderr, "bench_group: soak has %.0f caps, soak3 %.0f\n",
				caps[0], caps[1]);
			return -1;
		}
		c[i] = us[0] / caps[0];
		big[i] = us[0], small[i] = us[1];
		slope[i] = (us[0] - us[1]) / (caps[0] - caps[1]);
	}
	double gm = bench_median(g, ROUNDS), sm = bench_median(s, ROUNDS);
	printf("bench_group: restore of 8 slow_counters: one group image %.1f ms, 8 "
	       "separate images %.1f ms (wall time of the commands): ratio %.2f (median "
	       "of %d)\n",
	       gm, sm, gm / sm, ROUNDS);
	printf("bench_group: restore of the soak group: %.2f us per cap between members "
	       "(target <= 2 us per cap; median of %d)\n",
	       bench_median(c, ROUNDS), ROUNDS);
	printf(
	    "bench_group: the same, per additional cap: %.2f us (caps phases of soak "
	    "groups of %d and %d clients, %.0f and %.0f caps: %.1f and %.1f us; median "
	    "of %d slopes)\n",
	    bench_median(slope, ROUNDS), SMALL, MEMBERS - 1, caps[1], caps[0],
	    bench_median(small, ROUNDS), bench_median(big, ROUNDS), ROUNDS);
	return 0;
}

int main(void)
{
	static char cfg[32768];
	pid_t a;
	int rc;

	if (bench_node_init(&bn, "bench_group"))
		return 1;
	config(cfg, sizeof cfg, 0, 0);
	if (bench_node_file(&bn, "a.xml", cfg))
		return 1;
	config(cfg, sizeof cfg, 1, 1);
	if (bench_node_file(&bn, "D.xml", cfg))
		return 1;
	config(cfg, sizeof cfg, 1, 0);
	if (bench_node_file(&bn, "B.xml", cfg) ||
	    bench_node_file(&bn, "soak.cfg", "60 7 none\n"))
		return 1;
	config_small(cfg, sizeof cfg);
	if (bench_node_file(&bn, "c.xml", cfg) || small_image())
		return 1;
	a = bench_node_start(&bn, "A", "a.xml", "");
	rc = bench_node_wait_log(&bn, "A", "slow_counter: counting every", 2 * MEMBERS) ||
	     bench_node_wait_log(&bn, "A", "soak_client: sending for", MEMBERS - 1) ||
	     checkpoints();
	bench_node_kill(a);
	rc = rc || restores();
	if (rc)
		fprintf(stderr, "bench_group: node A's log: %s/A.log\n", bn.tmpdir);
	else
		system(strcat(strcpy(cfg, "rm -rf "), bn.tmpdir));
	return rc ? 1 : 0;
}
