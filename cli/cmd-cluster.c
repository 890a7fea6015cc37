/*
 * cmd-cluster.c -- the cluster and shell commands: status, leader, help
 * and quit.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client.h"
#include "cmd.h"
#include "output.h"
#include "xmalloc.h"

static enum cmd_status	cmd_status_exec(struct cmd_ctx *,
			    const struct cmd_args *);
static enum cmd_status	cmd_leader_exec(struct cmd_ctx *,
			    const struct cmd_args *);
static enum cmd_status	cmd_help_exec(struct cmd_ctx *,
			    const struct cmd_args *);
static enum cmd_status	cmd_quit_exec(struct cmd_ctx *,
			    const struct cmd_args *);

const struct cmd_entry cmd_status_entry = {
	.name = "status",
	.usage = "",
	.opts = NULL,
	.min_args = 0,
	.max_args = 0,
	.summary = "show every node: role, term, leader, indexes, health",
	.help = "Asks every endpoint for its status and health at once and "
	    "prints a table:\nid, URL, role, term, leader, commit, applied "
	    "and last index, and health.\nAn endpoint that does not answer "
	    "is shown as unreachable, with the reason.\nA second table shows "
	    "each node's snapshots: the latest one's index, term\nand size, "
	    "where its log starts, snapshots taken and failed, the last\none's "
	    "duration and event-loop pause, whether one is running, and the\n"
	    "snapshots (and bytes) sent to and installed from peers.\nExits 3 "
	    "when no endpoint answers.",
	.exec = cmd_status_exec,
};

const struct cmd_entry cmd_leader_entry = {
	.name = "leader",
	.usage = "",
	.opts = NULL,
	.min_args = 0,
	.max_args = 0,
	.summary = "print the leader's id and URL",
	.help = "Finds the current leader by asking the nodes, and prints "
	    "its id and URL.\nExits 3 when no leader is found before the "
	    "timeout.",
	.exec = cmd_leader_exec,
};

const struct cmd_entry cmd_help_entry = {
	.name = "help",
	.usage = "[COMMAND]",
	.opts = NULL,
	.min_args = 0,
	.max_args = 1,
	.summary = "show the commands, or one command's usage",
	.help = "Without an argument, lists the commands.  With COMMAND (or "
	    "a unique prefix\nof one), shows its usage and options.",
	.exec = cmd_help_exec,
};

const struct cmd_entry cmd_quit_entry = {
	.name = "quit",
	.usage = "",
	.opts = NULL,
	.min_args = 0,
	.max_args = 0,
	.summary = "leave the shell (as does Ctrl-D)",
	.help = "Leaves the interactive shell.  In one-shot mode it does "
	    "nothing.",
	.exec = cmd_quit_exec,
};

/* Returns integer field name of obj as text in buf. */
static const char *
int_text(json_t *obj, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%" JSON_INTEGER_FORMAT,
	    json_integer_value(json_object_get(obj, name)));
	return buf;
}

/* Returns the health word for a node. */
static const char *
health_word(const struct client_node *node)
{
	if (!node->reachable)
		return "unreachable";
	return node->health == 200 ? "healthy" : "unhealthy";
}

/*
 * Prints the snapshot fields of every node that answered with them, as a
 * second table (the status table stays narrow).
 */
static void
print_snapshots(const struct cmd_ctx *ctx, const struct client_node *nodes,
    size_t n)
{
	static const char *const headers[] = { "ID", "SNAP-INDEX", "TERM",
	    "BYTES", "LOG-FROM", "TAKEN", "FAILED", "LAST-MS", "PAUSE-US",
	    "RUNNING", "SENT", "INSTALLED", "BYTES-SENT", "BYTES-RECV" };
	static const char *const fields[] = { "index", "term", "file_bytes",
	    "log_first_index", "taken", "failed", "last_duration_ms",
	    "last_pause_us", "running", "sent", "installed", "bytes_sent",
	    "bytes_received" };
	struct output_table t;
	size_t		 i, k, rows = 0;

	for (i = 0; i < n; i++)
		rows += nodes[i].reachable && json_is_object(json_object_get(
		    nodes[i].status, "snapshot"));
	if (rows == 0)
		return;
	output_table_init(&t, 14, headers);
	for (i = 0; i < n; i++) {
		json_t	*snap = nodes[i].reachable ? json_object_get(
		    nodes[i].status, "snapshot") : NULL;
		char	 num[14][24];
		const char *row[14];

		if (!json_is_object(snap))
			continue;
		row[0] = int_text(nodes[i].status, "id", num[0], 24);
		for (k = 0; k < 13; k++) {
			json_t *v = json_object_get(snap, fields[k]);

			if (json_is_boolean(v))
				row[1 + k] = json_is_true(v) ? "yes" : "no";
			else
				row[1 + k] = int_text(snap, fields[k],
				    num[1 + k], 24);
		}
		output_table_row(&t, row);
	}
	fputc('\n', ctx->out);
	output_table_print(ctx->out, &t);
}

/* status */
static enum cmd_status
cmd_status_exec(struct cmd_ctx *ctx, const struct cmd_args *args)
{
	static const char *const headers[] = { "ID", "URL", "ROLE", "TERM",
	    "LEADER", "COMMIT", "APPLIED", "LAST", "HEALTH" };
	static const char *const fields[] = { "term", "leader",
	    "commit_index", "applied_index", "last_index" };
	size_t		 n = client_endpoint_count(ctx->client), i, k, up = 0;
	struct client_node *nodes = xcalloc(n, sizeof(*nodes));
	struct output_table t;
	enum out_format	 format;
	char		 err[256];
	json_t		*arr;

	if (cmd_format(ctx, args, &format, err, sizeof(err)) != 0) {
		cmd_error(ctx, "%s", err);
		free(nodes);
		return CMD_USAGE;
	}
	if (client_probe_all(ctx->client, nodes, 0) == CLIENT_INTERRUPTED) {
		client_nodes_clear(nodes, n);
		free(nodes);
		cmd_error(ctx, "status: interrupted");
		return CMD_ERROR;
	}
	for (i = 0; i < n; i++)
		up += nodes[i].reachable;
	if (format == OUT_JSON) {
		arr = json_array();
		for (i = 0; i < n; i++) {
			json_t *o = json_pack("{s:s, s:b, s:s}", "url",
			    nodes[i].url, "reachable", nodes[i].reachable,
			    "health", health_word(&nodes[i]));

			if (!nodes[i].reachable)
				json_object_set_new(o, "error",
				    json_string(nodes[i].error));
			else {
				json_object_set(o, "id", json_object_get(
				    nodes[i].status, "id"));
				json_object_set(o, "role", json_object_get(
				    nodes[i].status, "role"));
				for (k = 0; k < 5; k++)
					json_object_set(o, fields[k],
					    json_object_get(nodes[i].status,
					    fields[k]));
				if (json_object_get(nodes[i].status,
				    "snapshot") != NULL)
					json_object_set(o, "snapshot",
					    json_object_get(nodes[i].status,
					    "snapshot"));
			}
			json_array_append_new(arr, o);
		}
		output_json(ctx->out, json_pack("{s:o}", "nodes", arr));
	} else {
		output_table_init(&t, 9, headers);
		for (i = 0; i < n; i++) {
			char	 num[6][24], health[300];
			const char *row[9];
			json_t	*st = nodes[i].status;

			row[1] = nodes[i].url;
			if (!nodes[i].reachable) {
				snprintf(health, sizeof(health),
				    "unreachable: %s", nodes[i].error);
				row[0] = "-";
				for (k = 2; k < 8; k++)
					row[k] = "-";
				row[8] = health;
			} else {
				row[0] = int_text(st, "id", num[0], 24);
				row[2] = json_string_value(json_object_get(st,
				    "role"));
				for (k = 0; k < 5; k++)
					row[3 + k] = int_text(st, fields[k],
					    num[1 + k], 24);
				row[8] = health_word(&nodes[i]);
			}
			output_table_row(&t, row);
		}
		output_table_print(ctx->out, &t);
		print_snapshots(ctx, nodes, n);
	}
	client_nodes_clear(nodes, n);
	free(nodes);
	if (up == 0) {
		cmd_error(ctx, "no endpoint answered");
		return CMD_UNREACHABLE;
	}
	return CMD_OK;
}

/* leader */
static enum cmd_status
cmd_leader_exec(struct cmd_ctx *ctx, const struct cmd_args *args)
{
	enum out_format	 format;
	enum client_outcome outcome;
	size_t		 ep;
	uint64_t	 id;
	char		 err[2048];

	if (cmd_format(ctx, args, &format, err, sizeof(err)) != 0) {
		cmd_error(ctx, "%s", err);
		return CMD_USAGE;
	}
	outcome = client_find_leader(ctx->client, &ep, &id, err, sizeof(err));
	if (outcome != CLIENT_OK)
		return cmd_report_outcome(ctx, outcome, err);
	if (format == OUT_JSON)
		output_json(ctx->out, json_pack("{s:I, s:s}", "id",
		    (json_int_t)id, "url", client_endpoint_url_any(ctx->client,
		    ep)));
	else
		fprintf(ctx->out, "%" PRIu64 " %s\n", id,
		    client_endpoint_url_any(ctx->client, ep));
	return CMD_OK;
}

/* help [COMMAND] */
static enum cmd_status
cmd_help_exec(struct cmd_ctx *ctx, const struct cmd_args *args)
{
	const struct cmd_entry *ce = NULL;
	char		 err[256];

	if (args->argc > 0 && (ce = cmd_find(args->argv[0]->data, err,
	    sizeof(err))) == NULL) {
		cmd_error(ctx, "%s", err);
		return CMD_USAGE;
	}
	cmd_print_help(ctx->out, ce);
	return CMD_OK;
}

/* quit */
static enum cmd_status
cmd_quit_exec(struct cmd_ctx *ctx, const struct cmd_args *args)
{
	(void)args;
	ctx->quit = true;
	return CMD_OK;
}
