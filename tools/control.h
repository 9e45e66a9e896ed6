/*
 * The host side of the control plane: the endpoint registry as the
 * socket server uses it (the component side is include/capsule/control.h),
 * the server itself and the CLI clients.
 */
#ifndef TOOLS_CONTROL_H
#define TOOLS_CONTROL_H

#include <capsule/control.h>

#define CONTROL_ENDPOINTS 32 /* lines 0..31 of the kernel's external lines */
#define CONTROL_LINE_MAX  (CONTROL_PATH_MAX + 2 * CONTROL_NAME_MAX)

/* Called with each line the endpoint produces (progress, reply, final). */
typedef void (*control_line_fn)(const char *line, void *arg);

/*
 * Post req to endpoint req->name, raise its line and wait until the
 * component completes, passing every line it writes to fn as it comes.
 * Any host thread but the node's.  0 once the final line was passed;
 * -ENOENT no such endpoint, -EOPNOTSUPP op not in its mask, -EBUSY a
 * request is already posted, -ENODEV its line is not bound (yet),
 * -ESHUTDOWN the endpoint or the node went away meanwhile.
 */
int control_call(const struct control_request *req, control_line_fn fn, void *arg);
/* control_call, and at(final line, at_arg) on the thread that answers
 * (the node's), right as the component answers and before this caller
 * is woken: what at does comes one hand-over between threads sooner
 * (a migration's "ready" and "started": tools/migrate_commit.c).  at
 * must not block nor call back into the node. */
int control_call_at(const struct control_request *req, control_line_fn fn, void *arg,
		    control_line_fn at, void *at_arg);
/* Cancel the request endpoint name serves: one not yet taken is
 * answered "cancelled" at once, one being served is marked (the component
 * looks at control_cancelled()).  0, -ENOENT no such endpoint, -ESRCH no
 * request. */
int control_cancel(const char *name);
/* true if an endpoint of that name is registered. */
int control_exists(const char *name);
/* The request's name ("ps", "checkpoint", ..., "freeze"). */
const char *control_op_name(enum control_op op);
/* The node ended: drop every endpoint, fail the calls waiting on them. */
void control_reset(void);

/* control_call, keeping only the final line in last (or the error line
 * for a request it could not deliver): 0 if it starts with "ok", else -1. */
int control_call_final(const struct control_request *req, char *last, size_t size);
/* The same, passing the other lines (progress) to fn. */
int control_call_final_lines(const struct control_request *req, char *last, size_t size,
			     control_line_fn fn, void *arg);
/* control_call_final with control_call_at's at. */
int control_call_final_at(const struct control_request *req, char *last, size_t size,
			  control_line_fn at, void *at_arg);
/* The target an image file names (tools/control_parse.c) (its header's label, last
 * element) into name[CONTROL_NAME_MAX]; 0, or -1 with an "error: ..." line in err. */
int control_image_target(const char *path, char *name, char *err, size_t size);

/* Parse a request line (changed in place) into req; 0, or -1 with the
 * answer line ("error: ...") in err (tools/control_parse.c). */
int control_parse(char *line, struct control_request *req, char *err, size_t size);

struct cli_args;
/* `capsule node CONFIG --control SOCK [--rom DIR]... [--listen HOST:PORT]
 * [--key FILE] [--log FILE]`: node_run plus the control socket and, with
 * --listen, the migration listener; runs until SIGINT/SIGTERM, then
 * removes the socket.  Exit code as node_run's (2 on a usage error). */
int control_node_cli(const struct cli_args *a);

/* `capsule ps|checkpoint|restore|migrate --node SOCK ...`
 * (tools/control_client.c): 0, 1 on an "error:" answer, 2 on a usage or
 * connection error, 130 when cancelled with Ctrl-C. */
int control_ps_cli(const struct cli_args *a); /* tools/ps.c */
int control_ps_raw_cli(const struct cli_args *a);
/* Send request to the node at sock, pass each reply line to fn and the
 * final one ("ok ..."/"error: ...") into final: 0, or CLI_USAGE after
 * one line on stderr (no node, or no answer). */
int control_lines(const char *cmd, const char *sock, const char *request,
		  control_line_fn fn, void *arg, char *final, size_t size);
int control_checkpoint_cli(const struct cli_args *a);
int control_restore_cli(const struct cli_args *a);
int control_migrate_cli(const struct cli_args *a);
/* resume|discard NAME: a copy a migration left paused */
int control_held_cli(const struct cli_args *a);

#endif
