/*
 * test-lincheck.c -- the linearizability checker on hand-made legal and
 * illegal histories, so that it is itself proven able to fail (TAP).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck.h"
#include "tap.h"

/* Loads the NULL-terminated lines into h; returns 0 or the parse error. */
static int
load(struct lincheck_history *h, const char *const *lines)
{
	char	 err[200];
	int	 rc;

	lincheck_history_init(h);
	for (; *lines != NULL; lines++)
		if ((rc = lincheck_parse_line(h, *lines, err,
		    sizeof(err))) != 0) {
			diag("parse: %s: %s", *lines, err);
			return rc;
		}
	return 0;
}

/*
 * Checks the history given by lines under a step budget (0: none); returns
 * the verdict, and a copy of the explanation in *explain when not NULL.
 */
static int
verdict(const char *const *lines, uint64_t max_steps, char **explain)
{
	struct lincheck_history	 h;
	struct lincheck_result	 res;
	struct lincheck_budget	 b = { max_steps, 0 };
	int			 v;

	if (load(&h, lines) != 0) {
		lincheck_history_free(&h);
		return -1;
	}
	if (lincheck_check(&h, &b, &res) != 0)
		v = -2;
	else
		v = (int)res.verdict;
	if (res.explain != NULL && v == LINCHECK_ILLEGAL)
		diag("%s", res.explain);
	if (explain != NULL)
		*explain = res.explain != NULL ? strdup(res.explain) : NULL;
	lincheck_result_free(&res);
	lincheck_history_free(&h);
	return v;
}

/* Runs the durability check on lines; returns the number of problems. */
static size_t
durability(const char *const *lines)
{
	struct lincheck_history	 h;
	char			*explain = NULL;
	size_t			 n;

	if (load(&h, lines) != 0) {
		lincheck_history_free(&h);
		return 999;
	}
	n = lincheck_durability(&h, &explain);
	if (explain != NULL)
		diag("%s", explain);
	free(explain);
	lincheck_history_free(&h);
	return n;
}

static const char *const empty[] = { NULL };

static const char *const sequential[] = {
	"op id=1 c=1 key=a f=get inv=0 ret=5 st=notfound",
	"op id=2 c=1 key=a f=put v=x inv=10 ret=20 st=ok idx=3 ex=0",
	"op id=3 c=2 key=a f=get inv=30 ret=40 st=ok v=x mod=3",
	"op id=4 c=2 key=a f=put v=y cas=3 inv=50 ret=60 st=ok idx=7",
	"op id=5 c=1 key=a f=put v=z cas=3 inv=70 ret=80 st=casfail mod=7",
	"op id=6 c=1 key=a f=del inv=90 ret=95 st=ok idx=9 mod=7",
	"op id=7 c=1 key=a f=get inv=100 ret=110 st=notfound",
	"op id=8 c=2 key=a f=put v=w cas=0 inv=120 ret=130 st=ok idx=12",
	"op id=9 c=2 key=a f=put v=q cas=0 inv=140 ret=150 st=casfail mod=12",
	NULL
};

/* The classic stale read: a read after a completed write sees the old value. */
static const char *const stale_read[] = {
	"op id=1 c=1 key=k f=put v=a inv=0 ret=10 st=ok idx=1",
	"op id=2 c=1 key=k f=put v=b inv=20 ret=30 st=ok idx=2",
	"op id=3 c=2 key=k f=get inv=40 ret=50 st=ok v=a mod=1",
	NULL
};

/* The same read concurrent with the second write is legal either way. */
static const char *const concurrent_read[] = {
	"op id=1 c=1 key=k f=put v=a inv=0 ret=10 st=ok idx=1",
	"op id=2 c=1 key=k f=put v=b inv=20 ret=60 st=ok idx=2",
	"op id=3 c=2 key=k f=get inv=30 ret=40 st=ok v=a mod=1",
	"op id=4 c=3 key=k f=get inv=30 ret=45 st=ok v=b mod=2",
	"op id=5 c=4 key=k f=get inv=50 ret=55 st=ok v=b mod=2",
	NULL
};

/* Once a reader saw the new value, a later read may not see the old one. */
static const char *const read_goes_back[] = {
	"op id=1 c=1 key=k f=put v=a inv=0 ret=10 st=ok idx=1",
	"op id=2 c=1 key=k f=put v=b inv=20 ret=100 st=ok idx=2",
	"op id=3 c=3 key=k f=get inv=30 ret=40 st=ok v=b mod=2",
	"op id=4 c=2 key=k f=get inv=50 ret=60 st=ok v=a mod=1",
	NULL
};

/* The classic lost update: two read-modify-writes both succeed on index 1. */
static const char *const lost_update[] = {
	"op id=1 c=1 key=k f=put v=a inv=0 ret=10 st=ok idx=1",
	"op id=2 c=1 key=k f=get inv=20 ret=30 st=ok v=a mod=1",
	"op id=3 c=2 key=k f=get inv=20 ret=30 st=ok v=a mod=1",
	"op id=4 c=1 key=k f=put v=b cas=1 inv=40 ret=60 st=ok idx=2",
	"op id=5 c=2 key=k f=put v=c cas=1 inv=41 ret=61 st=ok idx=3",
	NULL
};

/* Concurrent CAS on the same index: exactly one wins, the other sees it. */
static const char *const cas_race[] = {
	"op id=1 c=1 key=k f=put v=a inv=0 ret=10 st=ok idx=1",
	"op id=2 c=1 key=k f=put v=b cas=1 inv=40 ret=60 st=ok idx=2",
	"op id=3 c=2 key=k f=put v=c cas=1 inv=41 ret=61 st=casfail mod=2",
	NULL
};

/* A 412 claiming a mod index that the key does not have. */
static const char *const cas_wrong_mod[] = {
	"op id=1 c=1 key=k f=put v=a inv=0 ret=10 st=ok idx=4",
	"op id=2 c=2 key=k f=put v=c cas=4 inv=20 ret=30 st=casfail mod=9",
	NULL
};

/* create-only must fail on an existing key. */
static const char *const create_twice[] = {
	"op id=1 c=1 key=k f=put v=a cas=0 inv=0 ret=10 st=ok idx=1",
	"op id=2 c=2 key=k f=put v=b cas=0 inv=20 ret=30 st=ok idx=2",
	NULL
};

/* An indeterminate write observed later took effect. */
static const char *const info_applied[] = {
	"op id=1 c=1 key=k f=put v=a inv=0 ret=10 st=ok idx=1",
	"op id=2 c=2 key=k f=put v=b inv=20 st=info",
	"op id=3 c=3 key=k f=get inv=100 ret=110 st=ok v=b mod=5",
	"op id=4 c=3 key=k f=put v=c cas=5 inv=120 ret=130 st=ok idx=6",
	NULL
};

/* An indeterminate write that never took effect. */
static const char *const info_never[] = {
	"op id=1 c=1 key=k f=put v=a inv=0 ret=10 st=ok idx=1",
	"op id=2 c=2 key=k f=put v=b inv=20 st=info",
	"op id=3 c=3 key=k f=get inv=100 ret=110 st=ok v=a mod=1",
	"op id=4 c=3 key=k f=get inv=120 ret=130 st=ok v=a mod=1",
	NULL
};

/* An indeterminate write seen, then unseen: it cannot un-happen. */
static const char *const info_flicker[] = {
	"op id=1 c=1 key=k f=put v=a inv=0 ret=10 st=ok idx=1",
	"op id=2 c=2 key=k f=put v=b inv=20 st=info",
	"op id=3 c=3 key=k f=get inv=100 ret=110 st=ok v=b mod=5",
	"op id=4 c=3 key=k f=get inv=120 ret=130 st=ok v=a mod=1",
	NULL
};

/* A read of a value before its write was even invoked. */
static const char *const read_from_future[] = {
	"op id=1 c=3 key=k f=get inv=0 ret=10 st=ok v=b mod=5",
	"op id=2 c=2 key=k f=put v=b inv=20 st=info",
	NULL
};

/* Write indices must grow in real-time order. */
static const char *const index_backwards[] = {
	"op id=1 c=1 key=k f=put v=a inv=0 ret=10 st=ok idx=5",
	"op id=2 c=2 key=k f=put v=b inv=20 ret=30 st=ok idx=3",
	NULL
};

/* A read of a deleted key's old value. */
static const char *const read_after_delete[] = {
	"op id=1 c=1 key=k f=put v=a inv=0 ret=10 st=ok idx=1",
	"op id=2 c=1 key=k f=del inv=20 ret=30 st=ok idx=2 mod=1",
	"op id=3 c=2 key=k f=get inv=40 ret=50 st=ok v=a mod=1",
	NULL
};

/* Two keys: each legal on its own. */
static const char *const two_keys[] = {
	"op id=1 c=1 key=x f=put v=a inv=0 ret=10 st=ok idx=1",
	"op id=2 c=2 key=y f=put v=b inv=0 ret=10 st=ok idx=2",
	"op id=3 c=1 key=x f=get inv=20 ret=30 st=ok v=a mod=1",
	"op id=4 c=2 key=y f=get inv=20 ret=30 st=ok v=b mod=2",
	"op id=5 c=2 key=y f=get inv=20 ret=30 st=fail",
	NULL
};

/* The durability check: an acknowledged write missing at the end. */
static const char *const lost_at_end[] = {
	"op id=1 c=1 key=k f=put v=a inv=0 ret=10 st=ok idx=4",
	"op id=2 c=1 key=k f=get inv=100 ret=110 st=notfound final=1",
	NULL
};

/* ... superseded by a delete of unknown outcome: not lost. */
static const char *const deleted_at_end[] = {
	"op id=1 c=1 key=k f=put v=a inv=0 ret=10 st=ok idx=4",
	"op id=2 c=2 key=k f=del inv=20 st=info",
	"op id=3 c=1 key=k f=get inv=100 ret=110 st=notfound final=1",
	"op id=4 c=1 key=j f=put v=b inv=0 ret=10 st=ok idx=5",
	"op id=5 c=1 key=j f=put v=c inv=20 st=info",
	"op id=6 c=1 key=j f=get inv=100 ret=110 st=ok v=c mod=9 final=1",
	NULL
};

/* An older value at the end, while a newer write was acknowledged. */
static const char *const older_at_end[] = {
	"op id=1 c=1 key=k f=put v=a inv=0 ret=10 st=ok idx=4",
	"op id=2 c=1 key=k f=put v=b inv=20 ret=30 st=ok idx=6",
	"op id=3 c=1 key=k f=get inv=100 ret=110 st=ok v=a mod=4 final=1",
	NULL
};

/* Builds a hard history: many concurrent indeterminate writes, then reads. */
static char **
hard_history(int writers)
{
	char	**lines = calloc((size_t)writers + 3, sizeof(*lines));
	int	 i;

	for (i = 0; i < writers; i++) {
		lines[i] = malloc(128);
		snprintf(lines[i], 128, "op id=%d c=%d key=k f=put v=w%d "
		    "inv=%d st=info", i + 1, i + 1, i, i);
	}
	lines[writers] = strdup("op id=999 c=0 key=k f=get inv=1000 ret=1010 "
	    "st=ok v=nobody mod=77");
	return lines;
}

int
main(void)
{
	struct tap			 t = { 0 };
	struct lincheck_history		 h;
	char				 err[200], *explain = NULL, **hard;
	int				 i;

	is_int(&t, verdict(empty, 0, NULL), LINCHECK_LINEARIZABLE,
	    "an empty history is linearizable");
	is_int(&t, verdict(sequential, 0, NULL), LINCHECK_LINEARIZABLE,
	    "a sequential history with puts, CAS, create-only and delete");
	is_int(&t, verdict(stale_read, 0, &explain), LINCHECK_ILLEGAL,
	    "the classic stale read is caught");
	ok(&t, explain != NULL && strstr(explain, "key k") != NULL &&
	    strstr(explain, "#3 c2 get") != NULL &&
	    strstr(explain, "refused: read a at mod index 1, but the key "
	    "holds b") != NULL,
	    "... and explained: the key, the op, why it cannot be placed");
	free(explain);
	explain = NULL;
	is_int(&t, verdict(concurrent_read, 0, NULL), LINCHECK_LINEARIZABLE,
	    "reads concurrent with a write may see either value");
	is_int(&t, verdict(read_goes_back, 0, NULL), LINCHECK_ILLEGAL,
	    "a read may not go back after another read saw the new value");
	is_int(&t, verdict(lost_update, 0, &explain), LINCHECK_ILLEGAL,
	    "the classic lost update (two CAS on the same index) is caught");
	ok(&t, explain != NULL && strstr(explain, "cas=1") != NULL,
	    "... and the explanation names the CAS");
	free(explain);
	is_int(&t, verdict(cas_race, 0, NULL), LINCHECK_LINEARIZABLE,
	    "a CAS race with one winner and one 412");
	is_int(&t, verdict(cas_wrong_mod, 0, NULL), LINCHECK_ILLEGAL,
	    "a 412 that reports a wrong mod index is caught");
	is_int(&t, verdict(create_twice, 0, NULL), LINCHECK_ILLEGAL,
	    "two successful create-only writes on one key are caught");
	is_int(&t, verdict(info_applied, 0, NULL), LINCHECK_LINEARIZABLE,
	    "an indeterminate write may take effect later");
	is_int(&t, verdict(info_never, 0, NULL), LINCHECK_LINEARIZABLE,
	    "an indeterminate write may never take effect");
	is_int(&t, verdict(info_flicker, 0, NULL), LINCHECK_ILLEGAL,
	    "an indeterminate write seen and then unseen is caught");
	is_int(&t, verdict(read_from_future, 0, NULL), LINCHECK_ILLEGAL,
	    "a read of a value before its write was invoked is caught");
	is_int(&t, verdict(index_backwards, 0, NULL), LINCHECK_ILLEGAL,
	    "write indices going backwards in real time are caught");
	is_int(&t, verdict(read_after_delete, 0, NULL), LINCHECK_ILLEGAL,
	    "a read of a deleted value is caught");
	is_int(&t, verdict(two_keys, 0, NULL), LINCHECK_LINEARIZABLE,
	    "keys are checked separately; failed ops are ignored");

	hard = hard_history(14);
	is_int(&t, verdict((const char *const *)hard, 50, &explain),
	    LINCHECK_UNKNOWN,
	    "a budget-exhausted search is unknown, never a pass");
	ok(&t, explain != NULL && strstr(explain, "unknown") != NULL,
	    "... and reported as such");
	free(explain);
	is_int(&t, verdict((const char *const *)hard, 0, NULL),
	    LINCHECK_ILLEGAL,
	    "the same history with no budget: the search completes (illegal)");
	for (i = 0; hard[i] != NULL; i++)
		free(hard[i]);
	free(hard);

	is_int(&t, durability(lost_at_end), 1,
	    "an acknowledged write missing at the end is reported lost");
	is_int(&t, durability(deleted_at_end), 0,
	    "a write superseded by an indeterminate delete or write is not");
	is_int(&t, durability(older_at_end), 1,
	    "an older value at the end means the newer write was lost");

	lincheck_history_init(&h);
	is_int(&t, lincheck_parse_line(&h, "op id=1 key=k f=put inv=0 "
	    "ret=1 st=ok", err, sizeof(err)), -EINVAL,
	    "a put without a value is refused");
	is_int(&t, lincheck_parse_line(&h, "op id=1 key=k f=frob v=a inv=0 "
	    "ret=1 st=ok", err, sizeof(err)), -EINVAL,
	    "an unknown kind is refused");
	ok(&t, strstr(err, "frob") != NULL, "... and named: %s", err);
	is_int(&t, lincheck_parse_line(&h, "# a comment", err, sizeof(err)),
	    0, "comments are skipped");
	is_int(&t, (int)h.n, 0, "nothing was added");
	lincheck_history_free(&h);
	return tap_done(&t);
}
