/*
 * lincheck.c -- per-key Wing-Gong/Lowe linearizability search with
 * memoisation on (linearized set, state), and the durability check.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lincheck.h"

#define EXPLAIN_TAIL	6	/* linearized ops shown before the failure */
#define EXPLAIN_CANDS	10	/* refused candidates shown */

/* The model of one key. */
struct kstate {
	uint64_t	 idx;	/* mod index (exists) or last write index; a
				   lower bound when !known */
	uint32_t	 value;	/* value id, 0 when absent */
	uint8_t		 exists;
	uint8_t		 known;
};

/* One call or return event in the doubly linked list of the search. */
struct entry {
	int	 op;		/* index into the key's ops */
	int	 is_call;
	int	 match;		/* call: its return entry, or -1 (info) */
	int	 prev;
	int	 next;
};

struct frame {
	int		 entry;
	struct kstate	 state;
};

/* A growable string. */
struct sbuf {
	char	*s;
	size_t	 len;
	size_t	 cap;
	int	 oom;
};

/* The memo: an open-addressed set of (bitset, state) records. */
struct memo {
	uint64_t	*arena;		/* records of rec_words words */
	size_t		 n;
	size_t		 arena_cap;	/* in records */
	uint32_t	*slots;		/* record number + 1; 0 empty */
	size_t		 nslots;
	size_t		 rec_words;
};

struct search {
	const struct lincheck_op **ops;	/* borrowed */
	uint32_t	*vals;		/* value id of each op's value */
	size_t		 n;
	struct entry	*e;		/* e[0] is the head sentinel */
	size_t		 ne;
	uint64_t	*bits;
	size_t		 words;
	struct memo	 memo;
	struct frame	*stack;
	size_t		 depth;
	/* The deepest failure seen, for the explanation. */
	int		*best_order;
	size_t		 best_depth;
	int		 best_block;	/* op whose return could not be passed */
	struct kstate	 best_state;
	int		 best_cands[EXPLAIN_CANDS];
	size_t		 best_ncands;
	int		 have_best;
};

/* The budget and the steps spent, shared by all keys. */
struct spend {
	const struct lincheck_budget *budget;
	uint64_t	 steps;
	struct timespec	 start;
	int		 exhausted;
};

static const char *const kind_names[] = { "put", "get", "del" };
static const char *const status_names[] = {
	"ok", "casfail", "notfound", "fail", "info"
};

/* Appends formatted text to b, noting allocation failure in b->oom. */
static void __attribute__((format(printf, 2, 3)))
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 need;
	char	*grown;
	size_t	 ncap;

	if (b->oom)
		return;
	va_start(ap, fmt);
	need = vsnprintf(b->s != NULL ? b->s + b->len : NULL,
	    b->s != NULL ? b->cap - b->len : 0, fmt, ap);
	va_end(ap);
	if (need < 0)
		return;
	if (b->s == NULL || b->len + (size_t)need + 1 > b->cap) {
		ncap = (b->cap + (size_t)need + 1) * 2;
		if ((grown = realloc(b->s, ncap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->s = grown;
		b->cap = ncap;
		va_start(ap, fmt);
		vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)need;
}

/* Initialises an empty history. */
void
lincheck_history_init(struct lincheck_history *h)
{
	memset(h, 0, sizeof(*h));
}

/* Frees every operation of h and its strings. */
void
lincheck_history_free(struct lincheck_history *h)
{
	size_t	 i;

	for (i = 0; i < h->n; i++) {
		free(h->ops[i].key);
		free(h->ops[i].value);
	}
	free(h->ops);
	memset(h, 0, sizeof(*h));
}

/* Appends a copy of op, with copies of its strings. */
int
lincheck_history_add(struct lincheck_history *h, const struct lincheck_op *op)
{
	struct lincheck_op	*grown, *dst;

	if (h->n == h->cap) {
		size_t ncap = h->cap == 0 ? 256 : h->cap * 2;

		if ((grown = realloc(h->ops, ncap * sizeof(*grown))) == NULL)
			return -ENOMEM;
		h->ops = grown;
		h->cap = ncap;
	}
	dst = &h->ops[h->n];
	*dst = *op;
	dst->key = strdup(op->key != NULL ? op->key : "");
	dst->value = op->value != NULL ? strdup(op->value) : NULL;
	if (dst->key == NULL || (op->value != NULL && dst->value == NULL)) {
		free(dst->key);
		free(dst->value);
		return -ENOMEM;
	}
	if (dst->status == LINCHECK_INFO)
		dst->ret = LINCHECK_NEVER;
	h->n++;
	return 0;
}

/* Returns the index of name in names[n], or -1. */
static int
lookup(const char *const *names, int n, const char *name)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/* Parses an unsigned decimal token; returns 0 or -EINVAL. */
static int
parse_u64(const char *s, uint64_t *out)
{
	char	*end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno != 0 || *end != '\0' ? -EINVAL : 0;
}

/* Parses one history line and appends it. */
int
lincheck_parse_line(struct lincheck_history *h, const char *line, char *err,
    size_t errlen)
{
	struct lincheck_op	 op;
	char			*copy, *tok, *save = NULL, *eq;
	uint64_t		 u;
	int			 rc = 0, k, have_kind = 0, have_st = 0;
	int			 have_inv = 0, have_ret = 0;

	while (*line == ' ' || *line == '\t')
		line++;
	if (*line == '#' || *line == '\0' || *line == '\n')
		return 0;
	if ((copy = strdup(line)) == NULL)
		return -ENOMEM;
	memset(&op, 0, sizeof(op));
	op.existed = -1;
	op.ret = LINCHECK_NEVER;
	tok = strtok_r(copy, " \t\r\n", &save);
	if (tok == NULL || strcmp(tok, "op") != 0) {
		snprintf(err, errlen, "a line must start with \"op\"");
		rc = -EINVAL;
		goto out;
	}
	while ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
		if ((eq = strchr(tok, '=')) == NULL) {
			snprintf(err, errlen, "token \"%.40s\" is not key=value",
			    tok);
			rc = -EINVAL;
			goto out;
		}
		*eq++ = '\0';
		if (strcmp(tok, "key") == 0)
			op.key = eq;
		else if (strcmp(tok, "v") == 0)
			op.value = eq;
		else if (strcmp(tok, "f") == 0) {
			if ((k = lookup(kind_names, 3, eq)) < 0)
				goto bad;
			op.kind = (enum lincheck_kind)k;
			have_kind = 1;
		} else if (strcmp(tok, "st") == 0) {
			if ((k = lookup(status_names, 5, eq)) < 0)
				goto bad;
			op.status = (enum lincheck_status)k;
			have_st = 1;
		} else if (strcmp(tok, "ret") == 0 && strcmp(eq, "-") == 0) {
			op.ret = LINCHECK_NEVER;
		} else {
			if (parse_u64(eq, &u) != 0)
				goto bad;
			if (strcmp(tok, "id") == 0)
				op.id = u;
			else if (strcmp(tok, "c") == 0)
				op.client = (int)u;
			else if (strcmp(tok, "cas") == 0) {
				op.has_cas = 1;
				op.cas = u;
			} else if (strcmp(tok, "inv") == 0) {
				op.inv = u;
				have_inv = 1;
			} else if (strcmp(tok, "ret") == 0) {
				op.ret = u;
				have_ret = 1;
			} else if (strcmp(tok, "idx") == 0)
				op.index = u;
			else if (strcmp(tok, "mod") == 0)
				op.mod = u;
			else if (strcmp(tok, "ex") == 0)
				op.existed = u != 0;
			else if (strcmp(tok, "final") == 0)
				op.final = u != 0;
			/* Unknown numeric tokens are kept for humans. */
		}
	}
	if (op.key == NULL || !have_kind || !have_st || !have_inv) {
		snprintf(err, errlen, "key=, f=, st= and inv= are required");
		rc = -EINVAL;
		goto out;
	}
	if (op.status != LINCHECK_INFO && op.status != LINCHECK_FAIL &&
	    (!have_ret || op.ret < op.inv)) {
		snprintf(err, errlen, "a completed op needs ret >= inv");
		rc = -EINVAL;
		goto out;
	}
	if (op.kind == LINCHECK_PUT && op.value == NULL) {
		snprintf(err, errlen, "a put needs v=");
		rc = -EINVAL;
		goto out;
	}
	if (op.kind == LINCHECK_GET && op.status == LINCHECK_OK &&
	    op.value == NULL) {
		snprintf(err, errlen, "a successful get needs v=");
		rc = -EINVAL;
		goto out;
	}
	rc = lincheck_history_add(h, &op);
	goto out;
bad:
	snprintf(err, errlen, "bad value for %.20s: \"%.40s\"", tok, eq);
	rc = -EINVAL;
out:
	free(copy);
	return rc;
}

/* Reads a whole history file. */
int
lincheck_load(struct lincheck_history *h, FILE *fp, char *err, size_t errlen)
{
	char	*line = NULL, msg[200];
	size_t	 cap = 0, lineno = 0;
	int	 rc = 0;

	while (getline(&line, &cap, fp) != -1) {
		lineno++;
		if ((rc = lincheck_parse_line(h, line, msg, sizeof(msg))) != 0) {
			snprintf(err, errlen, "line %zu: %s", lineno,
			    rc == -ENOMEM ? "out of memory" : msg);
			break;
		}
	}
	free(line);
	return rc;
}

/* Writes op as one history line into buf. */
void
lincheck_format_op(const struct lincheck_op *op, char *buf, size_t len)
{
	char	 cas[32] = "", ret[32] = "-", ex[16] = "";

	if (op->has_cas)
		snprintf(cas, sizeof(cas), " cas=%" PRIu64, op->cas);
	if (op->ret != LINCHECK_NEVER)
		snprintf(ret, sizeof(ret), "%" PRIu64, op->ret);
	if (op->existed >= 0)
		snprintf(ex, sizeof(ex), " ex=%d", op->existed);
	snprintf(buf, len, "op id=%" PRIu64 " c=%d key=%s f=%s%s%s%s inv=%"
	    PRIu64 " ret=%s st=%s idx=%" PRIu64 " mod=%" PRIu64 "%s%s",
	    op->id, op->client, op->key, kind_names[op->kind],
	    op->value != NULL ? " v=" : "", op->value != NULL ? op->value : "",
	    cas, op->inv, ret, status_names[op->status], op->index, op->mod,
	    ex, op->final ? " final=1" : "");
}

/* Whether op takes part in the search (failures and lost reads do not). */
static bool
relevant(const struct lincheck_op *op)
{
	if (op->status == LINCHECK_FAIL)
		return false;
	if (op->kind == LINCHECK_GET && op->status == LINCHECK_INFO)
		return false;
	return true;
}

/* Describes a state for humans. */
static void
state_text(const struct search *s, const struct kstate *st, char *buf,
    size_t len)
{
	const char	*v = "?";
	size_t		 i;

	for (i = 0; i < s->n && st->exists; i++)
		if (s->vals[i] == st->value && s->ops[i]->value != NULL) {
			v = s->ops[i]->value;
			break;
		}
	if (st->exists)
		snprintf(buf, len, "holds %s at mod index %s%" PRIu64, v,
		    st->known ? "" : "> ", st->idx);
	else
		snprintf(buf, len, "is absent (last write index %s%" PRIu64 ")",
		    st->known ? "" : "> ", st->idx);
}

/* Whether the key's current mod index can be m (0 when absent). */
static bool
mod_can_be(const struct kstate *st, uint64_t m)
{
	if (!st->exists)
		return m == 0;
	return st->known ? st->idx == m : m > st->idx;
}

/* Records that the current mod index is m (it was possible). */
static void
mod_learn(struct kstate *st, uint64_t m)
{
	if (st->exists && !st->known) {
		st->idx = m;
		st->known = 1;
	}
}

/*
 * The model: applies op i to st.  Returns true with the new state in *out,
 * or false with the reason in why (when why is not NULL).
 */
static bool
step(const struct search *s, size_t i, const struct kstate *st,
    struct kstate *out, char *why, size_t wlen)
{
	const struct lincheck_op *op = s->ops[i];
	struct kstate	 ns = *st;
	bool		 pre;
	bool		 info = op->status == LINCHECK_INFO;
	char		 now[160] = "";

	if (why != NULL)
		state_text(s, st, now, sizeof(now));
	if (op->has_cas)
		pre = op->cas == 0 ? !st->exists : mod_can_be(st, op->cas);
	else
		pre = op->kind != LINCHECK_DEL || st->exists;
	switch (op->kind) {
	case LINCHECK_GET:
		if (op->status == LINCHECK_NOTFOUND) {
			if (st->exists)
				goto refuse_get;
			break;
		}
		if (!st->exists || st->value != s->vals[i] ||
		    !mod_can_be(st, op->mod))
			goto refuse_get;
		mod_learn(&ns, op->mod);
		break;
	case LINCHECK_PUT:
	case LINCHECK_DEL:
		if (op->status == LINCHECK_CASFAIL) {
			if (pre && (!st->exists || st->known || op->cas == 0)) {
				snprintf(why, wlen, "412 cas_failed, but the "
				    "key %s so cas=%" PRIu64 " would match",
				    now, op->cas);
				return false;
			}
			if (!mod_can_be(st, op->mod) || op->mod == op->cas) {
				snprintf(why, wlen, "412 reported mod index %"
				    PRIu64 ", but the key %s", op->mod, now);
				return false;
			}
			mod_learn(&ns, op->mod);
			break;
		}
		if (op->kind == LINCHECK_DEL &&
		    op->status == LINCHECK_NOTFOUND) {
			if (st->exists) {
				snprintf(why, wlen, "delete got 404, but the "
				    "key %s", now);
				return false;
			}
			break;
		}
		if (!pre) {
			snprintf(why, wlen, "%s, but the key %s",
			    op->has_cas ? "its cas precondition must hold" :
			    "a delete that found the key", now);
			return false;
		}
		if (op->has_cas && op->cas != 0)
			mod_learn(&ns, op->cas);
		if (op->kind == LINCHECK_DEL && !info) {
			if (!mod_can_be(&ns, op->mod)) {
				snprintf(why, wlen, "delete reported the "
				    "record's mod index %" PRIu64 ", but the "
				    "key %s", op->mod, now);
				return false;
			}
			mod_learn(&ns, op->mod);
		}
		if (!info && (op->index <= ns.idx)) {
			snprintf(why, wlen, "applied at index %" PRIu64
			    ", not after the key's last write (%s%" PRIu64 ")",
			    op->index, ns.known ? "" : "> ", ns.idx);
			return false;
		}
		if (!info && op->kind == LINCHECK_PUT && op->existed >= 0 &&
		    op->existed != st->exists) {
			snprintf(why, wlen, "reply says existed=%d, but the "
			    "key %s", op->existed, now);
			return false;
		}
		ns.exists = op->kind == LINCHECK_PUT;
		ns.value = op->kind == LINCHECK_PUT ? s->vals[i] : 0;
		if (info)
			ns.known = 0;	/* idx stays a lower bound */
		else {
			ns.idx = op->index;
			ns.known = 1;
		}
		break;
	}
	*out = ns;
	return true;
refuse_get:
	if (op->status == LINCHECK_NOTFOUND)
		snprintf(why, wlen, "read 404, but the key %s", now);
	else
		snprintf(why, wlen, "read %s at mod index %" PRIu64
		    ", but the key %s", op->value, op->mod, now);
	return false;
}

/* Mixes a 64-bit word into a hash. */
static uint64_t
mix(uint64_t h, uint64_t w)
{
	h ^= w + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h;
}

/* Builds the memo record for (bits, st) into rec. */
static void
memo_record(const struct search *s, const struct kstate *st, uint64_t *rec)
{
	memcpy(rec, s->bits, s->words * sizeof(uint64_t));
	rec[s->words] = st->idx;
	rec[s->words + 1] = (uint64_t)st->value << 2 |
	    (uint64_t)st->exists << 1 | st->known;
}

/* Hashes a memo record. */
static uint64_t
memo_hash(const struct memo *m, const uint64_t *rec)
{
	uint64_t	 h = 0x12345;
	size_t		 i;

	for (i = 0; i < m->rec_words; i++)
		h = mix(h, rec[i]);
	return h;
}

/* Rebuilds the slot table at twice the size.  Returns 0 or -ENOMEM. */
static int
memo_grow(struct memo *m)
{
	size_t		 nslots = m->nslots == 0 ? 1024 : m->nslots * 2, i, j;
	uint32_t	*slots;

	if ((slots = calloc(nslots, sizeof(*slots))) == NULL)
		return -ENOMEM;
	for (i = 0; i < m->n; i++) {
		j = memo_hash(m, m->arena + i * m->rec_words) & (nslots - 1);
		while (slots[j] != 0)
			j = (j + 1) & (nslots - 1);
		slots[j] = (uint32_t)(i + 1);
	}
	free(m->slots);
	m->slots = slots;
	m->nslots = nslots;
	return 0;
}

/*
 * Adds rec to the memo unless present.  Returns 1 when added, 0 when it
 * was there, -ENOMEM.
 */
static int
memo_add(struct memo *m, const uint64_t *rec)
{
	size_t		 j;
	uint64_t	*grown;

	if ((m->n + 1) * 2 > m->nslots && memo_grow(m) != 0)
		return -ENOMEM;
	j = memo_hash(m, rec) & (m->nslots - 1);
	while (m->slots[j] != 0) {
		if (memcmp(m->arena + (m->slots[j] - 1) * m->rec_words, rec,
		    m->rec_words * sizeof(uint64_t)) == 0)
			return 0;
		j = (j + 1) & (m->nslots - 1);
	}
	if (m->n == m->arena_cap) {
		size_t ncap = m->arena_cap == 0 ? 1024 : m->arena_cap * 2;

		grown = realloc(m->arena, ncap * m->rec_words *
		    sizeof(uint64_t));
		if (grown == NULL)
			return -ENOMEM;
		m->arena = grown;
		m->arena_cap = ncap;
	}
	memcpy(m->arena + m->n * m->rec_words, rec,
	    m->rec_words * sizeof(uint64_t));
	m->slots[j] = (uint32_t)(++m->n);
	return 1;
}

/* Unlinks entry x from the list (its own links stay for relinking). */
static void
unlink_entry(struct search *s, int x)
{
	s->e[s->e[x].prev].next = s->e[x].next;
	if (s->e[x].next >= 0)
		s->e[s->e[x].next].prev = s->e[x].prev;
}

/* Puts entry x back where it was. */
static void
relink_entry(struct search *s, int x)
{
	s->e[s->e[x].prev].next = x;
	if (s->e[x].next >= 0)
		s->e[s->e[x].next].prev = x;
}

/* Orders events by time, calls before returns at equal times. */
static int
event_cmp(const void *a, const void *b)
{
	const uint64_t	*x = a, *y = b;

	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	if (x[1] != y[1])
		return x[1] < y[1] ? -1 : 1;
	return x[2] < y[2] ? -1 : x[2] > y[2];
}

/* A value string and the op it came from, for interning. */
struct valref {
	const char	*value;
	size_t		 op;
};

/* Orders value references by their strings (NULLs first). */
static int
value_cmp(const void *a, const void *b)
{
	const char	*x = ((const struct valref *)a)->value;
	const char	*y = ((const struct valref *)b)->value;

	if (x == NULL || y == NULL)
		return (x != NULL) - (y != NULL);
	return strcmp(x, y);
}

/* Gives every distinct value string a small id (0 for none). */
static int
intern_values(struct search *s)
{
	struct valref	*refs;
	size_t		 i;
	uint32_t	 next = 0;

	if ((refs = malloc((s->n + 1) * sizeof(*refs))) == NULL)
		return -ENOMEM;
	for (i = 0; i < s->n; i++) {
		refs[i].value = s->ops[i]->value;
		refs[i].op = i;
	}
	qsort(refs, s->n, sizeof(*refs), value_cmp);
	for (i = 0; i < s->n; i++) {
		if (refs[i].value == NULL) {
			s->vals[refs[i].op] = 0;
			continue;
		}
		if (i == 0 || value_cmp(&refs[i - 1], &refs[i]) != 0)
			next++;
		s->vals[refs[i].op] = next;
	}
	free(refs);
	return 0;
}

/* Builds the event list of the key's ops.  Returns 0 or -ENOMEM. */
static int
build_events(struct search *s)
{
	uint64_t	*ev;
	size_t		 i, k = 0, nev = 0;
	int		*call_of;

	ev = malloc(2 * s->n * 3 * sizeof(*ev) + 1);
	call_of = malloc((s->n + 1) * sizeof(*call_of));
	s->e = malloc((2 * s->n + 1) * sizeof(*s->e));
	if (ev == NULL || call_of == NULL || s->e == NULL) {
		free(ev);
		free(call_of);
		return -ENOMEM;
	}
	for (i = 0; i < s->n; i++) {
		ev[3 * nev] = s->ops[i]->inv;
		ev[3 * nev + 1] = 0;
		ev[3 * nev + 2] = i;
		nev++;
		if (s->ops[i]->status != LINCHECK_INFO) {
			ev[3 * nev] = s->ops[i]->ret;
			ev[3 * nev + 1] = 1;
			ev[3 * nev + 2] = i;
			nev++;
		}
	}
	qsort(ev, nev, 3 * sizeof(*ev), event_cmp);
	s->e[0] = (struct entry){ -1, 0, -1, -1, nev > 0 ? 1 : -1 };
	for (k = 0; k < nev; k++) {
		struct entry *x = &s->e[k + 1];

		x->op = (int)ev[3 * k + 2];
		x->is_call = ev[3 * k + 1] == 0;
		x->match = -1;
		x->prev = (int)k;
		x->next = k + 1 < nev ? (int)k + 2 : -1;
		if (x->is_call)
			call_of[x->op] = (int)k + 1;
		else
			s->e[call_of[x->op]].match = (int)k + 1;
	}
	s->ne = nev + 1;
	free(ev);
	free(call_of);
	return 0;
}

/* Remembers the state of the search at a dead end, if it is the deepest. */
static void
note_failure(struct search *s, int ret_entry, const struct kstate *st)
{
	int	 x;
	size_t	 i;

	if (s->have_best && s->depth < s->best_depth)
		return;
	s->have_best = 1;
	s->best_depth = s->depth;
	for (i = 0; i < s->depth; i++)
		s->best_order[i] = s->e[s->stack[i].entry].op;
	s->best_state = *st;
	s->best_block = s->e[ret_entry].op;
	s->best_ncands = 0;
	for (x = s->e[0].next; x >= 0 && x != ret_entry; x = s->e[x].next)
		if (s->e[x].is_call && s->best_ncands < EXPLAIN_CANDS)
			s->best_cands[s->best_ncands++] = s->e[x].op;
}

/* Whether the budget is spent (checks the clock every 4096 steps). */
static bool
spent(struct spend *sp)
{
	struct timespec	 now;
	uint64_t	 ms;

	sp->steps++;
	if (sp->budget == NULL)
		return false;
	if (sp->budget->max_steps != 0 && sp->steps > sp->budget->max_steps)
		sp->exhausted = 1;
	if (sp->budget->max_ms != 0 && (sp->steps & 4095) == 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (uint64_t)(now.tv_sec - sp->start.tv_sec) * 1000 +
		    (uint64_t)((now.tv_nsec - sp->start.tv_nsec) / 1000000);
		if (ms > sp->budget->max_ms)
			sp->exhausted = 1;
	}
	return sp->exhausted;
}

/*
 * The search proper.  Returns LINCHECK_LINEARIZABLE, LINCHECK_ILLEGAL,
 * LINCHECK_UNKNOWN, or -ENOMEM.
 */
static int
search_run(struct search *s, struct spend *sp)
{
	struct kstate	 st = { 0, 0, 0, 1 }, ns;
	uint64_t	*rec;
	size_t		 remaining = 0, i;
	int		 x, r, op, verdict = LINCHECK_LINEARIZABLE;

	if ((rec = malloc(s->memo.rec_words * sizeof(*rec))) == NULL)
		return -ENOMEM;
	for (i = 0; i < s->n; i++)
		if (s->ops[i]->status != LINCHECK_INFO)
			remaining++;
	x = s->e[0].next;
	while (remaining > 0) {
		if (spent(sp)) {
			verdict = LINCHECK_UNKNOWN;
			break;
		}
		if (x < 0) {
			/* Only unplaceable info ops are left: a dead end. */
			verdict = LINCHECK_ILLEGAL;
			break;
		}
		if (s->e[x].is_call) {
			op = s->e[x].op;
			if (step(s, (size_t)op, &st, &ns, NULL, 0)) {
				s->bits[op / 64] |= 1ULL << (op % 64);
				memo_record(s, &ns, rec);
				if ((r = memo_add(&s->memo, rec)) < 0) {
					verdict = r;
					break;
				}
				if (r == 1) {
					s->stack[s->depth].entry = x;
					s->stack[s->depth].state = st;
					s->depth++;
					st = ns;
					unlink_entry(s, x);
					if (s->e[x].match >= 0) {
						unlink_entry(s, s->e[x].match);
						remaining--;
					}
					x = s->e[0].next;
					continue;
				}
				s->bits[op / 64] &= ~(1ULL << (op % 64));
			}
			x = s->e[x].next;
			continue;
		}
		/* A return: its op must already be placed; backtrack. */
		note_failure(s, x, &st);
		if (s->depth == 0) {
			verdict = LINCHECK_ILLEGAL;
			break;
		}
		s->depth--;
		x = s->stack[s->depth].entry;
		st = s->stack[s->depth].state;
		op = s->e[x].op;
		s->bits[op / 64] &= ~(1ULL << (op % 64));
		if (s->e[x].match >= 0) {
			relink_entry(s, s->e[x].match);
			remaining++;
		}
		relink_entry(s, x);
		x = s->e[x].next;
	}
	free(rec);
	return verdict;
}

/* Formats time t relative to t0 in seconds. */
static void
time_text(uint64_t t, uint64_t t0, char *buf, size_t len)
{
	if (t == LINCHECK_NEVER)
		snprintf(buf, len, "never");
	else
		snprintf(buf, len, "%.6f", (double)(t - t0) / 1e9);
}

/* Describes one op for the explanation. */
static void
explain_op(struct sbuf *b, const struct lincheck_op *op, uint64_t t0)
{
	char	 inv[32], ret[32], out[96] = "";

	time_text(op->inv, t0, inv, sizeof(inv));
	time_text(op->ret, t0, ret, sizeof(ret));
	switch (op->status) {
	case LINCHECK_OK:
		if (op->kind == LINCHECK_GET)
			snprintf(out, sizeof(out), "%s@%" PRIu64, op->value,
			    op->mod);
		else if (op->kind == LINCHECK_DEL)
			snprintf(out, sizeof(out), "ok idx=%" PRIu64
			    " (deleted @%" PRIu64 ")", op->index, op->mod);
		else
			snprintf(out, sizeof(out), "ok idx=%" PRIu64,
			    op->index);
		break;
	case LINCHECK_CASFAIL:
		snprintf(out, sizeof(out), "412 (mod %" PRIu64 ")", op->mod);
		break;
	default:
		snprintf(out, sizeof(out), "%s", status_names[op->status]);
		break;
	}
	sb_printf(b, "#%" PRIu64 " c%d %s", op->id, op->client,
	    kind_names[op->kind]);
	if (op->kind == LINCHECK_PUT)
		sb_printf(b, "(%s)", op->value);
	if (op->has_cas)
		sb_printf(b, " cas=%" PRIu64, op->cas);
	sb_printf(b, " -> %s  [%s .. %s]", out, inv, ret);
}

/* Writes why the key has no linearization (from the deepest dead end). */
static void
explain_failure(struct sbuf *b, struct search *s, const char *key,
    uint64_t t0)
{
	char		 why[320], now[160];
	struct kstate	 ns;
	size_t		 i, from;

	sb_printf(b, "key %s: NOT linearizable (%zu ops)\n", key, s->n);
	if (!s->have_best)
		return;
	from = s->best_depth > EXPLAIN_TAIL ? s->best_depth - EXPLAIN_TAIL : 0;
	sb_printf(b, "  the longest consistent order places %zu ops%s\n",
	    s->best_depth, s->best_depth > 0 ? "; it ends with:" : "");
	for (i = from; i < s->best_depth; i++) {
		sb_printf(b, "    ");
		explain_op(b, s->ops[s->best_order[i]], t0);
		sb_printf(b, "\n");
	}
	state_text(s, &s->best_state, now, sizeof(now));
	sb_printf(b, "  then the key %s, and this op must take effect before "
	    "it returns:\n    ", now);
	explain_op(b, s->ops[s->best_block], t0);
	sb_printf(b, "\n  but no pending op can go next:\n");
	for (i = 0; i < s->best_ncands; i++) {
		int op = s->best_cands[i];

		sb_printf(b, "    ");
		explain_op(b, s->ops[op], t0);
		if (step(s, (size_t)op, &s->best_state, &ns, why, sizeof(why)))
			sb_printf(b, "\n      allowed here, but every order "
			    "that continues from it fails later\n");
		else
			sb_printf(b, "\n      refused: %s\n", why);
	}
}

/* Orders op pointers by key, then by invocation. */
static int
op_key_cmp(const void *a, const void *b)
{
	const struct lincheck_op *x = *(const struct lincheck_op *const *)a;
	const struct lincheck_op *y = *(const struct lincheck_op *const *)b;
	int	 c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	if (x->inv != y->inv)
		return x->inv < y->inv ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Frees what a search owns. */
static void
search_free(struct search *s)
{
	free(s->vals);
	free(s->e);
	free(s->bits);
	free(s->stack);
	free(s->best_order);
	free(s->memo.arena);
	free(s->memo.slots);
}

/* Checks one key's ops (a slice of sorted op pointers). */
static int
check_key(const struct lincheck_op **ops, size_t n, struct spend *sp,
    struct sbuf *b, uint64_t t0, uint64_t *steps)
{
	struct search	 s;
	uint64_t	 before = sp->steps;
	int		 v;

	memset(&s, 0, sizeof(s));
	s.ops = ops;
	s.n = n;
	s.words = (n + 63) / 64 + 1;
	s.memo.rec_words = s.words + 2;
	s.vals = calloc(n + 1, sizeof(*s.vals));
	s.bits = calloc(s.words, sizeof(*s.bits));
	s.stack = calloc(n + 1, sizeof(*s.stack));
	s.best_order = calloc(n + 1, sizeof(*s.best_order));
	if (s.vals == NULL || s.bits == NULL || s.stack == NULL ||
	    s.best_order == NULL || intern_values(&s) != 0 ||
	    build_events(&s) != 0) {
		v = -ENOMEM;
		goto out;
	}
	v = search_run(&s, sp);
	if (v == LINCHECK_ILLEGAL)
		explain_failure(b, &s, ops[0]->key, t0);
	else if (v == LINCHECK_UNKNOWN)
		sb_printf(b, "key %s: unknown (budget exhausted after %"
		    PRIu64 " steps; %zu ops, %zu states memoised)\n",
		    ops[0]->key, sp->steps - before, n, s.memo.n);
out:
	*steps += sp->steps - before;
	search_free(&s);
	return v;
}

/* Checks every key of h for linearizability within budget. */
int
lincheck_check(const struct lincheck_history *h,
    const struct lincheck_budget *budget, struct lincheck_result *res)
{
	const struct lincheck_op **ops;
	struct spend	 sp;
	struct sbuf	 b = { NULL, 0, 0, 0 };
	size_t		 i, j, n = 0;
	uint64_t	 t0 = UINT64_MAX;
	int		 v, rc = 0;

	memset(res, 0, sizeof(*res));
	memset(&sp, 0, sizeof(sp));
	sp.budget = budget;
	clock_gettime(CLOCK_MONOTONIC, &sp.start);
	if ((ops = malloc((h->n + 1) * sizeof(*ops))) == NULL)
		return -ENOMEM;
	for (i = 0; i < h->n; i++) {
		const struct lincheck_op *op = &h->ops[i];

		if (op->status == LINCHECK_FAIL)
			res->ops_fail++;
		else if (op->status == LINCHECK_INFO)
			res->ops_info++;
		else
			res->ops_ok++;
		if (op->inv < t0)
			t0 = op->inv;
		if (relevant(op))
			ops[n++] = op;
	}
	qsort(ops, n, sizeof(*ops), op_key_cmp);
	res->verdict = LINCHECK_LINEARIZABLE;
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && strcmp(ops[j]->key, ops[i]->key) == 0;
		    j++)
			;
		res->keys++;
		v = check_key(ops + i, j - i, &sp, &b, t0, &res->steps);
		if (v < 0) {
			rc = v;
			break;
		}
		if (v == LINCHECK_ILLEGAL) {
			res->keys_illegal++;
			res->verdict = LINCHECK_ILLEGAL;
		} else if (v == LINCHECK_UNKNOWN) {
			res->keys_unknown++;
			if (res->verdict == LINCHECK_LINEARIZABLE)
				res->verdict = LINCHECK_UNKNOWN;
			/* A spent budget stays spent: the rest is unknown. */
		}
	}
	free(ops);
	res->explain = b.s;
	if (b.oom && rc == 0)
		rc = -ENOMEM;
	return rc;
}

/* Checks that every acknowledged write survives in the final reads. */
size_t
lincheck_durability(const struct lincheck_history *h, char **explain)
{
	const struct lincheck_op **ops, *fin;
	struct sbuf	 b = { NULL, 0, 0, 0 };
	size_t		 i, j, k, n = 0, problems = 0;
	bool		 superseded;
	char		 line[512];

	if (*explain != NULL) {
		b.s = *explain;
		b.len = strlen(b.s);
		b.cap = b.len + 1;
	}
	if ((ops = malloc((h->n + 1) * sizeof(*ops))) == NULL) {
		sb_printf(&b, "durability: out of memory\n");
		*explain = b.s;
		return 1;
	}
	for (i = 0; i < h->n; i++)
		ops[n++] = &h->ops[i];
	qsort(ops, n, sizeof(*ops), op_key_cmp);
	for (i = 0; i < n; i = j) {
		fin = NULL;
		for (j = i; j < n && strcmp(ops[j]->key, ops[i]->key) == 0;
		    j++)
			if (ops[j]->final && ops[j]->kind == LINCHECK_GET &&
			    (ops[j]->status == LINCHECK_OK ||
			    ops[j]->status == LINCHECK_NOTFOUND) &&
			    (fin == NULL || ops[j]->inv > fin->inv))
				fin = ops[j];
		if (fin == NULL) {
			sb_printf(&b, "key %s: no successful final read\n",
			    ops[i]->key);
			problems++;
			continue;
		}
		for (k = i; k < j; k++) {
			const struct lincheck_op *w = ops[k];

			if (w->kind != LINCHECK_PUT ||
			    w->status != LINCHECK_OK)
				continue;
			if (fin->status == LINCHECK_OK && fin->mod >= w->index)
				continue;
			superseded = false;
			if (fin->status == LINCHECK_NOTFOUND) {
				size_t d;

				for (d = i; d < j && !superseded; d++)
					superseded = ops[d]->kind ==
					    LINCHECK_DEL && ((ops[d]->status ==
					    LINCHECK_OK && ops[d]->index >
					    w->index) || (ops[d]->status ==
					    LINCHECK_INFO && ops[d]->inv <
					    fin->inv));
			}
			if (superseded)
				continue;
			lincheck_format_op(w, line, sizeof(line));
			sb_printf(&b, "key %s: acknowledged write LOST: %s\n"
			    "  final read: ", w->key, line);
			lincheck_format_op(fin, line, sizeof(line));
			sb_printf(&b, "%s\n", line);
			problems++;
		}
	}
	free(ops);
	*explain = b.s;
	return problems;
}

/* Frees what res owns. */
void
lincheck_result_free(struct lincheck_result *res)
{
	free(res->explain);
	res->explain = NULL;
}

/* Returns the verdict's name. */
const char *
lincheck_verdict_name(enum lincheck_verdict v)
{
	switch (v) {
	case LINCHECK_LINEARIZABLE:
		return "linearizable";
	case LINCHECK_ILLEGAL:
		return "NOT linearizable";
	case LINCHECK_UNKNOWN:
		break;
	}
	return "unknown";
}
