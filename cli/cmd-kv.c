/*
 * cmd-kv.c -- the key commands: put, get, del, cas and list.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base64.h"
#include "client.h"
#include "cmd.h"
#include "output.h"
#include "pct.h"
#include "xmalloc.h"

#define LIST_PAGE	1000

static enum cmd_status	cmd_put_exec(struct cmd_ctx *, const struct cmd_args *);
static enum cmd_status	cmd_get_exec(struct cmd_ctx *, const struct cmd_args *);
static enum cmd_status	cmd_del_exec(struct cmd_ctx *, const struct cmd_args *);
static enum cmd_status	cmd_cas_exec(struct cmd_ctx *, const struct cmd_args *);
static enum cmd_status	cmd_list_exec(struct cmd_ctx *, const struct cmd_args *);

static const struct cmd_opt put_opts[] = {
	{ "cas", 0, "INDEX", "write only if the key's modification index is "
	    "INDEX; 0 means only if the key does not exist" },
	{ "create", 'c', NULL, "write only if the key does not exist (the "
	    "same as --cas 0)" },
	{ "literal", 'l', NULL, "take VALUE as it is, even when it is - or "
	    "starts with @" },
	{ NULL, 0, NULL, NULL },
};

const struct cmd_entry cmd_put_entry = {
	.name = "put",
	.usage = "[--cas INDEX | --create] [--literal] KEY VALUE",
	.opts = put_opts,
	.min_args = 2,
	.max_args = 2,
	.summary = "set a key to a value",
	.help = "Sets KEY to VALUE through the leader.  VALUE - reads the "
	    "value from standard input,\nand @FILE reads it from FILE.  "
	    "Prints the modification index of the write.\nExits 4 when a "
	    "--cas or --create condition fails.",
	.exec = cmd_put_exec,
};

static const struct cmd_opt get_opts[] = {
	{ "stale", 's', NULL, "read from any node without confirming "
	    "leadership; the value may be stale" },
	{ NULL, 0, NULL, NULL },
};

const struct cmd_entry cmd_get_entry = {
	.name = "get",
	.usage = "[--stale] KEY",
	.opts = get_opts,
	.min_args = 1,
	.max_args = 1,
	.summary = "print the value of a key",
	.help = "Prints the value of KEY, read linearizably through the "
	    "leader.  On a terminal,\nnon-printable bytes are escaped as \\xHH; "
	    "otherwise the bytes are written alone.\nExits 5 when the key "
	    "does not exist.",
	.exec = cmd_get_exec,
};

static const struct cmd_opt del_opts[] = {
	{ "cas", 0, "INDEX", "delete only if the key's modification index is "
	    "INDEX" },
	{ NULL, 0, NULL, NULL },
};

const struct cmd_entry cmd_del_entry = {
	.name = "del",
	.usage = "[--cas INDEX] KEY",
	.opts = del_opts,
	.min_args = 1,
	.max_args = 1,
	.summary = "delete a key",
	.help = "Deletes KEY through the leader.  Exits 5 when the key does "
	    "not exist and 4 when\na --cas condition fails.",
	.exec = cmd_del_exec,
};

static const struct cmd_opt cas_opts[] = {
	{ "literal", 'l', NULL, "take VALUE as it is, even when it is - or "
	    "starts with @" },
	{ NULL, 0, NULL, NULL },
};

const struct cmd_entry cmd_cas_entry = {
	.name = "cas",
	.usage = "[--literal] KEY INDEX VALUE",
	.opts = cas_opts,
	.min_args = 3,
	.max_args = 3,
	.summary = "compare-and-set a key on its modification index",
	.help = "Sets KEY to VALUE only if the key's modification index is "
	    "INDEX; INDEX 0 means\nonly if the key does not exist (create "
	    "only).  The same as put --cas INDEX.\nExits 4, printing the "
	    "current modification index, when the comparison fails.",
	.exec = cmd_cas_exec,
};

static const struct cmd_opt list_opts[] = {
	{ "limit", 'n', "N", "print at most N keys (default: all)" },
	{ "start-after", 0, "KEY", "list only keys after KEY" },
	{ "keys-only", 'k', NULL, "print keys and indexes, not values" },
	{ "stale", 's', NULL, "read from any node without confirming "
	    "leadership" },
	{ NULL, 0, NULL, NULL },
};

const struct cmd_entry cmd_list_entry = {
	.name = "list",
	.usage = "[--limit N] [--start-after KEY] [--keys-only] [--stale] "
	    "[PREFIX]",
	.opts = list_opts,
	.min_args = 0,
	.max_args = 1,
	.summary = "list keys (and values) by prefix",
	.help = "Lists the keys that start with PREFIX (all keys without "
	    "one) in byte order,\nwith their values and indexes, fetching "
	    "them page by page.",
	.exec = cmd_list_exec,
};

/* Returns a new "/v1/kv/<pct key>" path, with query (borrowed) if any. */
static char *
key_path(const struct lex_word *key, const char *query)
{
	size_t	 n = pct_encoded_len((const uint8_t *)key->data, key->len);
	char	*enc = xmalloc(n + 1);
	char	*path;

	pct_encode((const uint8_t *)key->data, key->len, enc);
	path = xasprintf("/v1/kv/%s%s", enc, query != NULL ? query : "");
	free(enc);
	return path;
}

/* Reads all of f into a new buffer.  Returns 0 or -errno. */
static int
read_all(FILE *f, uint8_t **data, size_t *len)
{
	size_t	 cap = 4096, got = 0, n;
	uint8_t	*buf = xmalloc(cap);

	while ((n = fread(buf + got, 1, cap - got, f)) > 0) {
		got += n;
		if (got == cap)
			buf = xrealloc(buf, cap *= 2);
	}
	if (ferror(f)) {
		free(buf);
		return -EIO;
	}
	*data = buf;
	*len = got;
	return 0;
}

/*
 * Resolves a VALUE argument: "-" is stdin, "@FILE" a file, unless literal.
 * Stores a new buffer in *data.  Returns 0 or -1 after a diagnostic.
 */
static int
load_value(const struct cmd_ctx *ctx, const struct lex_word *arg,
    bool literal, uint8_t **data, size_t *len)
{
	FILE	*f;
	int	 rc;

	if (literal || (strcmp(arg->data, "-") != 0 && arg->data[0] != '@')) {
		*data = xmalloc(arg->len + 1);
		memcpy(*data, arg->data, arg->len);
		*len = arg->len;
		return 0;
	}
	if (strcmp(arg->data, "-") == 0) {
		if ((rc = read_all(stdin, data, len)) != 0)
			cmd_error(ctx, "cannot read the value from standard "
			    "input: %s", strerror(-rc));
		return rc != 0 ? -1 : 0;
	}
	if ((f = fopen(arg->data + 1, "rb")) == NULL) {
		cmd_error(ctx, "cannot open %s: %s", arg->data + 1,
		    strerror(errno));
		return -1;
	}
	rc = read_all(f, data, len);
	fclose(f);
	if (rc != 0)
		cmd_error(ctx, "cannot read %s: %s", arg->data + 1,
		    strerror(-rc));
	return rc != 0 ? -1 : 0;
}

/* Returns a new escaped, quoted description of key for messages. */
static char *
key_name(const struct lex_word *key)
{
	char	*esc = output_escape((const uint8_t *)key->data, key->len);
	char	*s = xasprintf("key \"%s\"", esc);

	free(esc);
	return s;
}

/*
 * Sends a PUT (value non-NULL) or DELETE of key with an optional cas
 * (borrowed text) and prints the result.
 */
static enum cmd_status
do_write(struct cmd_ctx *ctx, const struct cmd_args *args,
    const struct lex_word *key, const uint8_t *value, size_t value_len,
    const char *cas)
{
	struct client_request rq = { .target = TARGET_LEADER, .is_write = true };
	struct client_reply rep;
	enum out_format	 format;
	enum client_outcome outcome;
	enum cmd_status	 st = CMD_OK;
	unsigned long long cas_index;
	char		 err[2048], query[48] = "";
	char		*path, *name = key_name(key);

	if (cmd_format(ctx, args, &format, err, sizeof(err)) != 0) {
		cmd_error(ctx, "%s", err);
		free(name);
		return CMD_USAGE;
	}
	if (cas != NULL) {
		if (cmd_parse_u64(cas, 0, INT64_MAX, &cas_index) != 0) {
			cmd_error(ctx, "--cas needs a modification index, not "
			    "\"%s\"", cas);
			free(name);
			return CMD_USAGE;
		}
		snprintf(query, sizeof(query), "?cas=%llu", cas_index);
	}
	path = key_path(key, query);
	rq.method = value != NULL ? CLIENT_PUT : CLIENT_DELETE;
	rq.path = path;
	rq.body = value;
	rq.body_len = value_len;
	outcome = client_call(ctx->client, &rq, &rep, err, sizeof(err));
	if (outcome != CLIENT_OK) {
		st = cmd_report_outcome(ctx, outcome, err);
		goto out;
	}
	if (rep.status != 200) {
		st = cmd_report_http(ctx, &rep, name);
		if (format == OUT_JSON && st == CMD_CAS_FAILED)
			output_json(ctx->out, json_pack("{s:b, s:s, s:I}", "ok",
			    0, "error", "cas_failed", "mod_index",
			    json_integer_value(json_object_get(rep.json,
			    "mod_index"))));
		goto out;
	}
	if (format == OUT_JSON)
		output_json(ctx->out, json_pack("{s:b, s:I, s:I, s:b, s:b}",
		    "ok", 1, "index", json_integer_value(json_object_get(
		    rep.json, "index")), "mod_index", json_integer_value(
		    json_object_get(rep.json, "mod_index")), "existed",
		    json_is_true(json_object_get(rep.json, "existed")),
		    "duplicate", json_is_true(json_object_get(rep.json,
		    "duplicate"))));
	else if (format == OUT_TEXT)
		fprintf(ctx->out, "OK (mod_index %" JSON_INTEGER_FORMAT ")\n",
		    json_integer_value(json_object_get(rep.json,
		    "mod_index")));
out:
	client_reply_clear(&rep);
	free(path);
	free(name);
	return st;
}

/* Runs put or cas: key, value argument and the cas condition. */
static enum cmd_status
put_common(struct cmd_ctx *ctx, const struct cmd_args *args,
    const struct lex_word *key, const struct lex_word *value_arg,
    const char *cas)
{
	enum cmd_status	 st;
	uint8_t		*value;
	size_t		 value_len;

	if (load_value(ctx, value_arg, cmd_value(args, "literal") != NULL,
	    &value, &value_len) != 0)
		return CMD_ERROR;
	st = do_write(ctx, args, key, value, value_len, cas);
	free(value);
	return st;
}

/* put [--cas INDEX | --create] KEY VALUE */
static enum cmd_status
cmd_put_exec(struct cmd_ctx *ctx, const struct cmd_args *args)
{
	const char	*cas = cmd_value(args, "cas");

	if (cmd_value(args, "create") != NULL) {
		if (cas != NULL) {
			cmd_error(ctx, "put: --cas and --create exclude each "
			    "other");
			return CMD_USAGE;
		}
		cas = "0";
	}
	return put_common(ctx, args, args->argv[0], args->argv[1], cas);
}

/* cas KEY INDEX VALUE */
static enum cmd_status
cmd_cas_exec(struct cmd_ctx *ctx, const struct cmd_args *args)
{
	return put_common(ctx, args, args->argv[0], args->argv[2],
	    args->argv[1]->data);
}

/* del [--cas INDEX] KEY */
static enum cmd_status
cmd_del_exec(struct cmd_ctx *ctx, const struct cmd_args *args)
{
	return do_write(ctx, args, args->argv[0], NULL, 0,
	    cmd_value(args, "cas"));
}

/* get [--stale] KEY */
static enum cmd_status
cmd_get_exec(struct cmd_ctx *ctx, const struct cmd_args *args)
{
	const struct lex_word *key = args->argv[0];
	bool		 stale = cmd_value(args, "stale") != NULL;
	struct client_request rq = { .method = CLIENT_GET,
	    .target = stale ? TARGET_ANY : TARGET_LEADER };
	struct client_reply rep;
	enum out_format	 format;
	enum client_outcome outcome;
	enum cmd_status	 st = CMD_OK;
	char		 err[2048];
	char		*path, *name;
	json_t		*obj;

	if (cmd_format(ctx, args, &format, err, sizeof(err)) != 0) {
		cmd_error(ctx, "%s", err);
		return CMD_USAGE;
	}
	if (format == OUT_TEXT && !ctx->stdout_tty &&
	    cmd_value(args, "write-out") == NULL && !ctx->format_set)
		format = OUT_RAW;
	path = key_path(key, stale ? "?stale" : NULL);
	name = key_name(key);
	rq.path = path;
	outcome = client_call(ctx->client, &rq, &rep, err, sizeof(err));
	if (outcome != CLIENT_OK) {
		st = cmd_report_outcome(ctx, outcome, err);
		goto out;
	}
	if (rep.status != 200) {
		st = cmd_report_http(ctx, &rep, name);
		goto out;
	}
	switch (format) {
	case OUT_RAW:
		fwrite(rep.body, 1, rep.body_len, ctx->out);
		break;
	case OUT_TEXT:
		output_write_escaped(ctx->out, rep.body, rep.body_len);
		fputc('\n', ctx->out);
		break;
	case OUT_JSON:
		obj = json_object();
		output_json_bytes(obj, "key", (const uint8_t *)key->data,
		    key->len);
		output_json_bytes(obj, "value", rep.body, rep.body_len);
		json_object_set_new(obj, "mod_index",
		    json_integer((json_int_t)rep.mod_index));
		json_object_set_new(obj, "create_index",
		    json_integer((json_int_t)rep.create_index));
		output_json(ctx->out, obj);
		break;
	}
out:
	client_reply_clear(&rep);
	free(path);
	free(name);
	return st;
}

/* Decodes base64 field of obj into a new buffer.  Returns 0 or -1. */
static int
json_b64_field(json_t *obj, const char *field, uint8_t **data, size_t *len)
{
	const char	*s = json_string_value(json_object_get(obj, field));
	size_t		 n;

	if (s == NULL)
		return -1;
	n = strlen(s);
	*data = xmalloc(base64_decoded_max(n) + 1);
	if (base64_decode(s, n, *data, base64_decoded_max(n) + 1, len,
	    NULL) != 0) {
		free(*data);
		*data = NULL;
		return -1;
	}
	return 0;
}

/* Returns a new pct-encoded copy of len bytes. */
static char *
pct_dup(const uint8_t *data, size_t len)
{
	char	*s = xmalloc(pct_encoded_len(data, len) + 1);

	pct_encode(data, len, s);
	return s;
}

/* One listed pair, kept until the listing is printed. */
struct list_item {
	uint8_t		*key;		/* owned */
	size_t		 key_len;
	uint8_t		*value;		/* owned; NULL with --keys-only */
	size_t		 value_len;
	json_int_t	 mod_index;
	json_int_t	 create_index;
};

/* Prints the collected items in format. */
static void
print_list(struct cmd_ctx *ctx, enum out_format format,
    const struct list_item *items, size_t n, bool more, bool keys_only)
{
	static const char *const headers[] = { "KEY", "MOD", "CREATE",
	    "VALUE" };
	struct output_table t;
	json_t		*arr, *obj;
	char		 mod[24], create[24];
	size_t		 i;

	switch (format) {
	case OUT_JSON:
		arr = json_array();
		for (i = 0; i < n; i++) {
			obj = json_object();
			output_json_bytes(obj, "key", items[i].key,
			    items[i].key_len);
			if (!keys_only)
				output_json_bytes(obj, "value", items[i].value,
				    items[i].value_len);
			json_object_set_new(obj, "mod_index",
			    json_integer(items[i].mod_index));
			json_object_set_new(obj, "create_index",
			    json_integer(items[i].create_index));
			json_array_append_new(arr, obj);
		}
		output_json(ctx->out, json_pack("{s:o, s:I, s:b}", "kvs", arr,
		    "count", (json_int_t)n, "more", more));
		break;
	case OUT_RAW:
		for (i = 0; i < n; i++) {
			fwrite(items[i].key, 1, items[i].key_len, ctx->out);
			if (!keys_only) {
				fputc('\t', ctx->out);
				fwrite(items[i].value, 1, items[i].value_len,
				    ctx->out);
			}
			fputc('\n', ctx->out);
		}
		break;
	case OUT_TEXT:
		output_table_init(&t, keys_only ? 3 : 4, headers);
		for (i = 0; i < n; i++) {
			char *k = output_escape(items[i].key, items[i].key_len);
			char *v = keys_only ? NULL : output_escape(
			    items[i].value, items[i].value_len);
			const char *row[4] = { k, mod, create, v };

			snprintf(mod, sizeof(mod), "%" JSON_INTEGER_FORMAT,
			    items[i].mod_index);
			snprintf(create, sizeof(create), "%"
			    JSON_INTEGER_FORMAT, items[i].create_index);
			output_table_row(&t, row);
			free(k);
			free(v);
		}
		output_table_print(ctx->out, &t);
		if (more)
			fprintf(ctx->out, "(more keys follow; raise --limit)\n");
		break;
	}
}

/* list [--limit N] [--start-after KEY] [--keys-only] [--stale] [PREFIX] */
static enum cmd_status
cmd_list_exec(struct cmd_ctx *ctx, const struct cmd_args *args)
{
	bool		 stale = cmd_value(args, "stale") != NULL;
	bool		 keys_only = cmd_value(args, "keys-only") != NULL;
	const char	*limit_text = cmd_value(args, "limit");
	const char	*start = cmd_value(args, "start-after");
	struct client_request rq = { .method = CLIENT_GET,
	    .target = stale ? TARGET_ANY : TARGET_LEADER };
	struct client_reply rep = { 0 };
	struct list_item *items = NULL;
	unsigned long long limit = UINT64_MAX;
	enum out_format	 format;
	enum cmd_status	 st = CMD_OK;
	size_t		 n = 0, i;
	bool		 more = true;
	char		 err[2048];
	char		*prefix = NULL, *after = NULL;

	if (cmd_format(ctx, args, &format, err, sizeof(err)) != 0) {
		cmd_error(ctx, "%s", err);
		return CMD_USAGE;
	}
	if (limit_text != NULL && cmd_parse_u64(limit_text, 1, UINT64_MAX,
	    &limit) != 0) {
		cmd_error(ctx, "list: --limit needs a positive number, not "
		    "\"%s\"", limit_text);
		return CMD_USAGE;
	}
	prefix = args->argc > 0 ? pct_dup((const uint8_t *)
	    args->argv[0]->data, args->argv[0]->len) : xstrdup("");
	if (start != NULL)
		after = pct_dup((const uint8_t *)start, strlen(start));
	while (more && n < limit) {
		unsigned long long page = limit - n < LIST_PAGE ? limit - n :
		    LIST_PAGE;
		enum client_outcome outcome;
		char	*path;
		json_t	*kv;
		size_t	 k;

		path = xasprintf("/v1/kv?prefix=%s&limit=%llu%s%s%s%s", prefix,
		    page, after != NULL ? "&start_after=" : "",
		    after != NULL ? after : "", keys_only ? "&keys_only" : "",
		    stale ? "&stale" : "");
		rq.path = path;
		outcome = client_call(ctx->client, &rq, &rep, err, sizeof(err));
		free(path);
		if (outcome != CLIENT_OK) {
			st = cmd_report_outcome(ctx, outcome, err);
			goto out;
		}
		if (rep.status != 200 || !json_is_object(rep.json)) {
			st = cmd_report_http(ctx, &rep, "list");
			goto out;
		}
		json_array_foreach(json_object_get(rep.json, "kvs"), k, kv) {
			struct list_item *it;

			items = xrealloc(items, (n + 1) * sizeof(*items));
			it = &items[n];
			memset(it, 0, sizeof(*it));
			if (json_b64_field(kv, "key", &it->key,
			    &it->key_len) != 0 || (!keys_only &&
			    json_b64_field(kv, "value", &it->value,
			    &it->value_len) != 0)) {
				free(it->key);
				cmd_error(ctx, "list: the server sent a bad "
				    "key or value");
				st = CMD_ERROR;
				goto out;
			}
			it->mod_index = json_integer_value(json_object_get(kv,
			    "mod_index"));
			it->create_index = json_integer_value(json_object_get(
			    kv, "create_index"));
			n++;
		}
		more = json_is_true(json_object_get(rep.json, "more"));
		if (more) {
			uint8_t	*next;
			size_t	 next_len;

			if (json_b64_field(rep.json, "next", &next,
			    &next_len) != 0) {
				cmd_error(ctx, "list: the server said more "
				    "keys follow but sent no valid \"next\"");
				st = CMD_ERROR;
				goto out;
			}
			free(after);
			after = pct_dup(next, next_len);
			free(next);
		}
		client_reply_clear(&rep);
	}
	print_list(ctx, format, items, n, more, keys_only);
out:
	client_reply_clear(&rep);
	for (i = 0; i < n; i++) {
		free(items[i].key);
		free(items[i].value);
	}
	free(items);
	free(prefix);
	free(after);
	return st;
}
