/*
 * wire-util.h -- shared by tests/test-wire.c and tests/fuzz-wire.c.
 */
#ifndef RAFTKV_TESTS_WIRE_UTIL_H
#define RAFTKV_TESTS_WIRE_UTIL_H

#include <stdbool.h>
#include <string.h>

#include "raft.h"
#include "wire.h"

/* True if two messages carry the same fields and entries. */
static inline bool
msg_equal(const struct raft_msg *a, const struct raft_msg *b)
{
	uint32_t i;

	if (a->type != b->type || a->cluster_id != b->cluster_id ||
	    a->from != b->from || a->to != b->to || a->term != b->term ||
	    a->last_log_index != b->last_log_index ||
	    a->last_log_term != b->last_log_term || a->reject != b->reject ||
	    a->prev_index != b->prev_index || a->prev_term != b->prev_term ||
	    a->commit != b->commit || a->n_entries != b->n_entries ||
	    a->seq != b->seq || a->match_index != b->match_index ||
	    a->hint_index != b->hint_index || a->hint_term != b->hint_term)
		return false;
	for (i = 0; i < a->n_entries; i++) {
		const struct raft_entry *x = &a->entries[i], *y = &b->entries[i];

		if (x->term != y->term || x->index != y->index ||
		    x->type != y->type || x->len != y->len ||
		    (x->len > 0 && memcmp(x->data, y->data, x->len) != 0))
			return false;
	}
	return true;
}

/*
 * Decodes body both ways, the fast path and jansson's, and returns false
 * if they disagree: the fast path accepted what jansson refuses, or
 * decoded it differently.  A batch if batch is set.
 */
static inline bool
wire_paths_agree(const char *body, size_t len, const struct wire_limits *lim,
    bool batch)
{
	struct wire_msg fast, slow;
	struct wire_batch fb, sb;
	bool	 took, good;
	size_t	 i;
	int	 rc;

	if (batch) {
		took = wire_decode_batch_fast(body, len, lim, &fb);
		rc = wire_decode_batch_json(body, len, lim, &sb, NULL);
		good = !took || (rc == 0 && fb.n == sb.n);
		for (i = 0; good && took && i < fb.n; i++)
			good = msg_equal(&fb.msgs[i].msg, &sb.msgs[i].msg);
		if (took)
			wire_batch_release(&fb);
		if (rc == 0)
			wire_batch_release(&sb);
		return good;
	}
	took = wire_decode_fast(body, len, lim, &fast);
	rc = wire_decode_json(body, len, lim, &slow, NULL);
	good = !took || (rc == 0 && msg_equal(&fast.msg, &slow.msg));
	if (took)
		wire_msg_release(&fast);
	if (rc == 0)
		wire_msg_release(&slow);
	return good;
}

#endif /* RAFTKV_TESTS_WIRE_UTIL_H */
