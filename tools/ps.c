/*
 * `capsule ps --node SOCK [--json | --raw]`: core's "ps" answer (one
 * "pd ..." line per component with its "  thread ..." lines, then the
 * node's "budget: ..." line and the "kernel: ..." counts;
 * core/core_control.c) as a table, or JSON.  Each
 * name is also asked "status NAME": a monitor answers with its target's
 * state and its checkpoint and restore counts, which tells its own PD
 * (native) from its target's (same name, a guest).  --raw prints core's
 * lines as they come.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/control.h"

#define PS_MAX 128

struct ps_row {
	char name[CONTROL_NAME_MAX];
	unsigned caps, threads, state_bits;
	uint64_t ram_used, ram_quota;
	int native, has_ram;
	char monitor[160]; /* the monitor's "status" answer, "" if none */
};

struct ps {
	struct ps_row row[PS_MAX];
	int n;
	char kernel[CONTROL_LINE_MAX];
	char budget[CONTROL_LINE_MAX]; /* "ram=N caps=N (...)" */
};

enum { PS_READY = 1, PS_BLOCKED = 2, PS_PAUSED = 4, PS_FAULTED = 8 };

static void ps_line(const char *line, void *arg)
{
	struct ps *ps = arg;
	struct ps_row *r = ps->n ? &ps->row[ps->n - 1] : NULL;
	const char *p;

	if (!strncmp(line, "pd \"", 4) && ps->n < PS_MAX) {
		r = &ps->row[ps->n++];
		memset(r, 0, sizeof *r);
		sscanf(line + 4, "%63[^\"]", r->name);
		if ((p = strstr(line, " caps=")))
			r->caps = (unsigned)strtoul(p + 6, NULL, 10);
		if ((p = strstr(line, " ram=")))
			r->has_ram = sscanf(p + 5, "%" SCNu64 "/%" SCNu64, &r->ram_used,
					    &r->ram_quota) == 2;
		r->native = strstr(line, " native=1") != NULL || !strcmp(r->name, "core");
	} else if (!strncmp(line, "  thread ", 9) && r) {
		r->threads++;
		r->state_bits |= strstr(line, " ready")	    ? PS_READY
				 : strstr(line, " paused")  ? PS_PAUSED
				 : strstr(line, " faulted") ? PS_FAULTED
							    : PS_BLOCKED;
	} else if (!strncmp(line, "budget: ", 8)) {
		snprintf(ps->budget, sizeof ps->budget, "%s", line + 8);
	} else if (!strncmp(line, "kernel: ", 8)) {
		snprintf(ps->kernel, sizeof ps->kernel, "%s", line + 8);
	}
}

static const char *ps_state(const struct ps_row *r)
{
	if (r->state_bits & PS_FAULTED)
		return "faulted";
	if (r->state_bits & PS_PAUSED)
		return "paused";
	if (r->state_bits & PS_READY)
		return "running";
	return r->threads ? "blocked" : "-";
}

/* A monitor's field ("checkpoints") from its status answer, or NULL. */
static const char *ps_field(const struct ps_row *r, const char *key, char *buf,
			    size_t size)
{
	char pat[40];
	const char *p;

	snprintf(pat, sizeof pat, " %s=", key);
	if (!r->monitor[0] || !(p = strstr(r->monitor, pat)))
		return NULL;
	snprintf(buf, size, "%.*s", (int)strcspn(p + strlen(pat), " "), p + strlen(pat));
	return buf;
}

/* Ask every name once whether a monitor answers to it. */
static void ps_monitors(struct ps *ps, const char *sock)
{
	char req[CONTROL_NAME_MAX + 8], final[CONTROL_LINE_MAX];

	for (int i = 0; i < ps->n; i++) {
		struct ps_row *r = &ps->row[i];
		int seen = 0;
		for (int k = 0; k < i && !seen; k++)
			if (!strcmp(ps->row[k].name, r->name)) {
				memcpy(r->monitor, ps->row[k].monitor, sizeof r->monitor);
				seen = 1;
			}
		if (seen || !strcmp(r->name, "core") || !strcmp(r->name, "init"))
			continue;
		snprintf(req, sizeof req, "status %s", r->name);
		if (!control_lines("ps", sock, req, NULL, NULL, final, sizeof final) &&
		    !strncmp(final, "ok ", 3))
			snprintf(r->monitor, sizeof r->monitor, "%.150s", final + 2);
		else if (strstr(final, "busy"))
			snprintf(r->monitor, sizeof r->monitor, " state=busy");
	}
}

static const char *ps_role(const struct ps_row *r)
{
	if (!strcmp(r->name, "core") || !strcmp(r->name, "init"))
		return r->name;
	if (!r->monitor[0])
		return "component";
	return r->native ? "monitor" : "target";
}

static void ps_mib(char *buf, size_t size, uint64_t bytes)
{
	snprintf(buf, size, "%.1fM", bytes / 1048576.0);
}

static void ps_table(const struct ps *ps)
{
	char used[24], quota[24], ram[56], ck[24], rs[24], cr[56];

	printf("%-20s %-9s %-8s %-15s %7s %5s %s\n", "NAME", "ROLE", "STATE", "RAM",
	       "THREADS", "CAPS", "CHECKPOINTS/RESTORES");
	for (int i = 0; i < ps->n; i++) {
		const struct ps_row *r = &ps->row[i];
		int target = r->monitor[0] && !r->native;
		ps_mib(used, sizeof used, r->ram_used);
		ps_mib(quota, sizeof quota, r->ram_quota);
		snprintf(ram, sizeof ram, "%s/%s", used, quota);
		if (target && ps_field(r, "checkpoints", ck, sizeof ck) &&
		    ps_field(r, "restores", rs, sizeof rs))
			snprintf(cr, sizeof cr, "%s/%s", ck, rs);
		else /* a monitor serving a request does not answer status */
			snprintf(cr, sizeof cr, "%s",
				 strstr(r->monitor, "state=busy") ? "busy" : "-");
		printf("%-20s %-9s %-8s %-15s %7u %5u %s\n", r->name, ps_role(r),
		       ps_state(r), r->has_ram ? ram : "-", r->threads, r->caps, cr);
	}
	if (ps->budget[0])
		printf("budget: %s\n", ps->budget);
	if (ps->kernel[0])
		printf("kernel: %s\n", ps->kernel);
}

static void ps_json(const struct ps *ps)
{
	char ck[24] = "", rs[24] = "", st[24] = "", members[160] = "";

	printf("{\n  \"components\": [");
	for (int i = 0; i < ps->n; i++) {
		const struct ps_row *r = &ps->row[i];
		int mon = r->monitor[0] != 0;
		printf("%s\n    {\"name\": \"%s\", \"role\": \"%s\", \"state\": \"%s\", "
		       "\"threads\": %u, \"caps\": %u",
		       i ? "," : "", r->name, ps_role(r), ps_state(r), r->threads,
		       r->caps);
		if (r->has_ram)
			printf(", \"ram_used\": %" PRIu64 ", \"ram_quota\": %" PRIu64,
			       r->ram_used, r->ram_quota);
		if (mon && ps_field(r, "state", st, sizeof st))
			printf(", \"monitor_state\": \"%s\"", st);
		if (mon && ps_field(r, "checkpoints", ck, sizeof ck) &&
		    ps_field(r, "restores", rs, sizeof rs))
			printf(", \"checkpoints\": %s, \"restores\": %s", ck, rs);
		if (mon && ps_field(r, "members", members, sizeof members))
			printf(", \"members\": \"%s\"", members); /* "a,b(ended)" */
		printf("}");
	}
	printf("\n  ],\n");
	if (ps->budget[0])
		printf("  \"budget\": \"%s\",\n", ps->budget);
	printf("  \"kernel\": \"%s\"\n}\n", ps->kernel);
}

int control_ps_cli(const struct cli_args *a)
{
	const char *sock = cli_get(a, "--node");
	char final[CONTROL_LINE_MAX];
	struct ps *ps;
	int rc;

	if (cli_get(a, "--raw"))
		return control_ps_raw_cli(a);
	if (!(ps = calloc(1, sizeof *ps))) {
		fprintf(stderr, "capsule ps: out of memory\n");
		return CLI_FAILED;
	}
	rc = control_lines("ps", sock, "ps", ps_line, ps, final, sizeof final);
	if (!rc && strncmp(final, "ok", 2)) {
		fprintf(stderr, "%s\n", final);
		rc = CLI_FAILED;
	}
	if (!rc) {
		ps_monitors(ps, sock);
		if (cli_get(a, "--json"))
			ps_json(ps);
		else
			ps_table(ps);
	}
	free(ps);
	return rc;
}
