/*
 * lincheck.h -- a linearizability checker for raftkv client histories.
 *
 * A history is a list of operations on keys, each with its invocation and
 * completion time (monotonic nanoseconds), its client, its input and its
 * output.  The check splits the history by key (linearizability is
 * compositional) and runs, for each key, the Wing-Gong search with Lowe's
 * improvements: an operation is linearized as soon as the model accepts it,
 * and the search never revisits a (set of linearized operations, state)
 * pair it has already explored.  The model of a key is (exists, value,
 * modification index); indices come from write acknowledgements and GET
 * replies and must grow in linearization order.
 *
 * Operations whose outcome is unknown ("info") may take effect at any point
 * after their invocation, or never.  Failed operations (known not applied)
 * and reads that got no answer are ignored.
 *
 * The history file is text, one operation per line, "key=value" tokens:
 *
 *	op id=7 c=3 key=k0-1 f=put v=c3-17 cas=5 inv=1200 ret=3400 st=ok idx=42 ex=0
 *
 *	f	put | get | del
 *	v	put: the value written; get (st=ok): the value read
 *	cas	optional compare-and-set index (0: create-only)
 *	st	ok | casfail | notfound | fail | info
 *	idx	put/del ok: the index at which the write was applied
 *	mod	get ok: the value's modification index; casfail: the key's
 *		current modification index (0 when absent); del ok: the
 *		deleted record's modification index
 *	ex	put ok: whether the key existed (optional)
 *	final	1 for the reads made after every fault healed
 *
 * Lines starting with '#' and blank lines are ignored.
 */
#ifndef RAFTKV_LINCHECK_H
#define RAFTKV_LINCHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LINCHECK_NEVER	UINT64_MAX	/* the return time of an info op */

enum lincheck_kind {
	LINCHECK_PUT,
	LINCHECK_GET,
	LINCHECK_DEL
};

enum lincheck_status {
	LINCHECK_OK,		/* done; for put/del: applied */
	LINCHECK_CASFAIL,	/* 412: the comparison failed, nothing applied */
	LINCHECK_NOTFOUND,	/* 404 on a get or a delete */
	LINCHECK_FAIL,		/* known not applied (or a read with no answer) */
	LINCHECK_INFO		/* outcome unknown: may apply later, or never */
};

enum lincheck_verdict {
	LINCHECK_LINEARIZABLE,
	LINCHECK_ILLEGAL,
	LINCHECK_UNKNOWN	/* the budget ran out: never a pass */
};

struct lincheck_op {
	uint64_t		 id;
	int			 client;
	char			*key;		/* owned by the history */
	enum lincheck_kind	 kind;
	char			*value;		/* owned by the history; or NULL */
	int			 has_cas;
	uint64_t		 cas;
	uint64_t		 inv;
	uint64_t		 ret;		/* LINCHECK_NEVER for info ops */
	enum lincheck_status	 status;
	uint64_t		 index;
	uint64_t		 mod;
	int			 existed;	/* -1 when not recorded */
	int			 final;
};

struct lincheck_history {
	struct lincheck_op	*ops;
	size_t			 n;
	size_t			 cap;
};

struct lincheck_budget {
	uint64_t	 max_steps;	/* search steps over all keys; 0: none */
	uint64_t	 max_ms;	/* wall time over all keys; 0: none */
};

struct lincheck_result {
	enum lincheck_verdict	 verdict;
	size_t			 keys;
	size_t			 keys_illegal;
	size_t			 keys_unknown;
	size_t			 ops_ok;	/* ok, casfail and notfound */
	size_t			 ops_fail;
	size_t			 ops_info;
	uint64_t		 steps;
	char			*explain;	/* new; free with lincheck_result_free() */
};

/* Initialises an empty history. */
void	lincheck_history_init(struct lincheck_history *h);
/* Frees every operation of h and its strings. */
void	lincheck_history_free(struct lincheck_history *h);
/*
 * Appends a copy of op (its key and value strings are copied).
 * Returns 0 or -ENOMEM.
 */
int	lincheck_history_add(struct lincheck_history *h,
	    const struct lincheck_op *op);
/*
 * Parses one history line (borrowed) and appends it; comments and blank
 * lines are skipped.  Returns 0 or -EINVAL with a message in err.
 */
int	lincheck_parse_line(struct lincheck_history *h, const char *line,
	    char *err, size_t errlen);
/*
 * Reads a whole history file (fp borrowed).  Returns 0, or -EINVAL with
 * the line number and the problem in err.
 */
int	lincheck_load(struct lincheck_history *h, FILE *fp, char *err,
	    size_t errlen);
/* Writes op as one history line (without the newline) into buf. */
void	lincheck_format_op(const struct lincheck_op *op, char *buf,
	    size_t len);
/*
 * Checks every key of h (borrowed) for linearizability within budget
 * (borrowed; NULL: no budget).  Fills res; its explain string (new) says,
 * for each illegal or unknown key, which operations are involved and why no
 * order fits.  Returns 0 or -ENOMEM.
 */
int	lincheck_check(const struct lincheck_history *h,
	    const struct lincheck_budget *budget, struct lincheck_result *res);
/*
 * The durability check: every acknowledged write of a key must be visible
 * in the key's last final read, or superseded by a later delete
 * (acknowledged with a higher index, or of unknown outcome).  Keys without
 * a final read are reported too.  Returns the number of problems; their
 * description is appended to *explain (new or grown; the caller frees).
 */
size_t	lincheck_durability(const struct lincheck_history *h,
	    char **explain);
/* Frees what res owns. */
void	lincheck_result_free(struct lincheck_result *res);
/* Returns "linearizable", "NOT linearizable" or "unknown". */
const char *lincheck_verdict_name(enum lincheck_verdict v);

#endif /* RAFTKV_LINCHECK_H */
