/*
 * kv.c -- the key-value state machine: commands, sessions, state hash and
 * snapshots.  See kv.h for the contract and docs/kv.md for the semantics.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "hash64.h"
#include "kv.h"
#include "kvmap.h"

/*
 * Fixed SipHash keys, one per kind of hashed item so that a record can never
 * cancel a session.  They are public: the state hash detects divergence and
 * corruption, not a deliberate forger (see docs/kv.md).
 */
#define KV_HK1		0x7261667466766b76ULL	/* shared second key word */
#define KV_HK_RECORD	0x5245434f52440001ULL
#define KV_HK_SESSION	0x53455353494f0002ULL
#define KV_HK_TOMB	0x544f4d4253540003ULL
#define KV_HK_META	0x4d45544144410004ULL
#define KV_HK_CHECKSUM	0x434845434b530005ULL
#define KV_HK_TABLE	0x5441424c45530006ULL
/* At most this many records size the key index when loading a snapshot. */
#define KV_RESERVE_MAX	(16u << 20)

#define KV_SNAP_MAGIC		"RAFTKVSN"
#define KV_SNAP_END		"RKVSNEND"
#define KV_SNAP_VERSION		1
#define KV_SNAP_HEADER_LEN	96
#define KV_SNAP_RECORD_LEN	24	/* fixed part of a record */
#define KV_SNAP_SESSION_LEN	42
#define KV_SNAP_TOMB_LEN	16
#define KV_IO_BUF		65536

enum kv_session_kind {
	KV_SESSION_LIVE = 1,
	KV_SESSION_TOMB,
};

/* A live session or a tombstone; both sit in the same hash table. */
struct kv_session {
	uint64_t		 client_id;
	enum kv_session_kind	 kind;
	uint64_t		 last_seq;	/* live only */
	uint64_t		 last_index;	/* live only */
	uint64_t		 ordinal;	/* tombstone only: FIFO position */
	struct kv_result	 result;	/* live only: reply to last_seq */
	struct kv_session	*hnext;		/* hash chain */
	struct kv_session	*prev, *next;	/* LRU list or tombstone FIFO */
};

struct kv_list_head {
	struct kv_session	*first, *last;
	size_t			 count;
};

struct kv {
	struct kv_config	 cfg;
	struct kvmap		 map;
	uint64_t		 applied_index;
	uint64_t		 hash_sum;	/* records + sessions + tombs */
	struct kv_session	**buckets;
	size_t			 nbuckets;	/* a power of two */
	struct kv_list_head	 lru;		/* live, by last_index */
	struct kv_list_head	 tombs;		/* tombstones, oldest first */
	uint64_t		 next_ordinal;	/* next tombstone's ordinal */
};

/* Returns a constant name for status. */
const char *
kv_status_name(enum kv_status status)
{
	static const char *const names[] = {
		[KV_OK] = "OK",
		[KV_NOT_FOUND] = "NOT_FOUND",
		[KV_CAS_FAILED] = "CAS_FAILED",
		[KV_STALE] = "STALE",
		[KV_SESSION_EXPIRED] = "SESSION_EXPIRED",
		[KV_INVALID] = "INVALID",
	};

	if ((unsigned)status >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[status];
}

/* Fills cfg with the defaults. */
void
kv_config_default(struct kv_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_key_len = 4096;
	cfg->max_value_len = 1024 * 1024;
	cfg->session_window = 100000;
	cfg->max_sessions = 100000;
	cfg->tombstone_capacity = 100000;
	cfg->table_seed = 0;
}

/* Returns a record's contribution to the state hash. */
static uint64_t
kv_record_hash(const void *key, size_t key_len, const void *value,
    size_t value_len, uint64_t mod_index, uint64_t create_index)
{
	struct hash64	 h;

	hash64_init(&h, KV_HK_RECORD, KV_HK1);
	hash64_update_u64(&h, key_len);
	hash64_update(&h, key, key_len);
	hash64_update_u64(&h, value_len);
	hash64_update(&h, value, value_len);
	hash64_update_u64(&h, mod_index);
	hash64_update_u64(&h, create_index);
	return hash64_final(&h);
}

/*
 * Returns a stored node's contribution to the state hash: computed when the
 * record was stored and kept as its tag, so that an overwrite hashes only
 * the new record (a SipHash of the whole value, 2.5 % of a leader's
 * instructions per write when it hashed both).
 */
static uint64_t
kv_node_hash(const struct kvmap_node *n)
{
	return n->tag;
}

/* Returns a session's or tombstone's contribution to the state hash. */
static uint64_t
kv_session_hash(const struct kv_session *s)
{
	struct hash64	 h;

	if (s->kind == KV_SESSION_TOMB) {
		hash64_init(&h, KV_HK_TOMB, KV_HK1);
		hash64_update_u64(&h, s->client_id);
		hash64_update_u64(&h, s->ordinal);
		return hash64_final(&h);
	}
	hash64_init(&h, KV_HK_SESSION, KV_HK1);
	hash64_update_u64(&h, s->client_id);
	hash64_update_u64(&h, s->last_seq);
	hash64_update_u64(&h, s->last_index);
	hash64_update_u64(&h, (uint64_t)s->result.status);
	hash64_update_u64(&h, s->result.index);
	hash64_update_u64(&h, s->result.mod_index);
	hash64_update_u64(&h, s->result.existed ? 1 : 0);
	return hash64_final(&h);
}

/* Returns the state hash: the sums plus the scalars, in O(1). */
uint64_t
kv_state_hash(const struct kv *kv)
{
	struct hash64	 h;

	hash64_init(&h, KV_HK_META, KV_HK1);
	hash64_update_u64(&h, kv->applied_index);
	hash64_update_u64(&h, kv->next_ordinal);
	hash64_update_u64(&h, kv->cfg.session_window);
	hash64_update_u64(&h, kv->cfg.max_sessions);
	hash64_update_u64(&h, kv->cfg.tombstone_capacity);
	return kv->hash_sum + hash64_final(&h);
}

/* Returns the bucket of client_id. */
static size_t
kv_bucket(const struct kv *kv, uint64_t client_id)
{
	return (size_t)(hash64_u64(KV_HK_TABLE ^ kv->cfg.table_seed, KV_HK1,
	    client_id) & (kv->nbuckets - 1));
}

/* Returns the session or tombstone for client_id, or NULL. */
static struct kv_session *
kv_session_find(const struct kv *kv, uint64_t client_id)
{
	struct kv_session	*s;

	for (s = kv->buckets[kv_bucket(kv, client_id)]; s != NULL;
	    s = s->hnext)
		if (s->client_id == client_id)
			return s;
	return NULL;
}

/* Doubles the table when it gets full; failure only costs speed. */
static void
kv_table_grow(struct kv *kv)
{
	struct kv_session	**old = kv->buckets, **fresh, *s, *next;
	size_t			 oldn = kv->nbuckets, i, b;

	if (kv->lru.count + kv->tombs.count < oldn || oldn > SIZE_MAX / 4 /
	    sizeof(*fresh))
		return;
	if ((fresh = calloc(oldn * 2, sizeof(*fresh))) == NULL)
		return;
	kv->buckets = fresh;
	kv->nbuckets = oldn * 2;
	for (i = 0; i < oldn; i++) {
		for (s = old[i]; s != NULL; s = next) {
			next = s->hnext;
			b = kv_bucket(kv, s->client_id);
			s->hnext = fresh[b];
			fresh[b] = s;
		}
	}
	free(old);
}

/* Links s into the hash table. */
static void
kv_table_insert(struct kv *kv, struct kv_session *s)
{
	size_t	 b;

	kv_table_grow(kv);
	b = kv_bucket(kv, s->client_id);
	s->hnext = kv->buckets[b];
	kv->buckets[b] = s;
}

/* Unlinks s from the hash table. */
static void
kv_table_remove(struct kv *kv, struct kv_session *s)
{
	struct kv_session	**pp;

	for (pp = &kv->buckets[kv_bucket(kv, s->client_id)]; *pp != s;
	    pp = &(*pp)->hnext)
		assert(*pp != NULL);
	*pp = s->hnext;
}

/* Appends s at the tail of list l. */
static void
kv_list_append(struct kv_list_head *l, struct kv_session *s)
{
	s->next = NULL;
	s->prev = l->last;
	if (l->last != NULL)
		l->last->next = s;
	else
		l->first = s;
	l->last = s;
	l->count++;
}

/* Unlinks s from list l. */
static void
kv_list_remove(struct kv_list_head *l, struct kv_session *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		l->first = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	else
		l->last = s->prev;
	s->prev = s->next = NULL;
	l->count--;
}

/* Evicts the oldest tombstones beyond the capacity. */
static void
kv_tombs_trim(struct kv *kv)
{
	struct kv_session	*s;

	while (kv->tombs.count > kv->cfg.tombstone_capacity) {
		s = kv->tombs.first;
		kv_list_remove(&kv->tombs, s);
		kv_table_remove(kv, s);
		kv->hash_sum -= kv_session_hash(s);
		free(s);
	}
}

/* Turns the live session s into a tombstone (no allocation, cannot fail). */
static void
kv_session_expire(struct kv *kv, struct kv_session *s)
{
	assert(s->kind == KV_SESSION_LIVE);
	kv->hash_sum -= kv_session_hash(s);
	kv_list_remove(&kv->lru, s);
	s->kind = KV_SESSION_TOMB;
	s->last_seq = s->last_index = 0;
	memset(&s->result, 0, sizeof(s->result));
	s->ordinal = kv->next_ordinal++;
	kv->hash_sum += kv_session_hash(s);
	kv_list_append(&kv->tombs, s);
	kv_tombs_trim(kv);
}

/* Expires every session idle for more than the window at index. */
static void
kv_sessions_expire(struct kv *kv, uint64_t index)
{
	struct kv_session	*s;

	while ((s = kv->lru.first) != NULL &&
	    index - s->last_index > kv->cfg.session_window)
		kv_session_expire(kv, s);
}

/* Records activity of live session s at index (moves it to the LRU tail). */
static void
kv_session_touch(struct kv *kv, struct kv_session *s, uint64_t index)
{
	kv->hash_sum -= kv_session_hash(s);
	s->last_index = index;
	kv_list_remove(&kv->lru, s);
	kv_list_append(&kv->lru, s);
	kv->hash_sum += kv_session_hash(s);
}

/* Makes an empty state machine. */
int
kv_new(const struct kv_config *cfg, struct kv **out, char *err, size_t errlen)
{
	struct kv	*kv;

	if (cfg->max_key_len == 0 || cfg->max_key_len > UINT32_MAX ||
	    cfg->max_value_len > UINT32_MAX || cfg->session_window == 0 ||
	    cfg->max_sessions == 0) {
		errbuf_set(err, errlen, "kv: invalid configuration (key limit "
		    "%zu, value limit %zu, window %" PRIu64 ", max sessions "
		    "%zu)", cfg->max_key_len, cfg->max_value_len,
		    cfg->session_window, cfg->max_sessions);
		return -EINVAL;
	}
	if ((kv = calloc(1, sizeof(*kv))) == NULL)
		goto nomem;
	kv->cfg = *cfg;
	kvmap_init(&kv->map);
	kvmap_set_seed(&kv->map, cfg->table_seed ^ KV_HK_TABLE);
	kv->nbuckets = 64;
	if ((kv->buckets = calloc(kv->nbuckets, sizeof(*kv->buckets))) == NULL)
		goto nomem;
	*out = kv;
	return 0;
nomem:
	free(kv);
	errbuf_set(err, errlen, "kv: out of memory");
	return -ENOMEM;
}

/* Frees every session on list l. */
static void
kv_list_free(struct kv_list_head *l)
{
	struct kv_session	*s, *next;

	for (s = l->first; s != NULL; s = next) {
		next = s->next;
		free(s);
	}
	l->first = l->last = NULL;
	l->count = 0;
}

/* Frees kv and everything it owns. */
void
kv_free(struct kv *kv)
{
	if (kv == NULL)
		return;
	kvmap_clear(&kv->map);
	kv_list_free(&kv->lru);
	kv_list_free(&kv->tombs);
	free(kv->buckets);
	free(kv);
}

/* Checks that index advances the applied index. */
static int
kv_check_index(const struct kv *kv, uint64_t index, char *err, size_t errlen)
{
	if (index <= kv->applied_index) {
		errbuf_set(err, errlen, "kv: entry index %" PRIu64 " does not "
		    "follow applied index %" PRIu64, index, kv->applied_index);
		return -EINVAL;
	}
	return 0;
}

/* Applies a NOOP or CONFIG entry. */
int
kv_apply_noop(struct kv *kv, uint64_t index, char *err, size_t errlen)
{
	int	 rc;

	if ((rc = kv_check_index(kv, index, err, errlen)) != 0)
		return rc;
	kv_sessions_expire(kv, index);
	kv->applied_index = index;
	return 0;
}

/* Fills res with a fresh result produced at index. */
static void
kv_result_set(struct kv_result *res, enum kv_status status, uint64_t index,
    uint64_t mod_index, bool existed)
{
	memset(res, 0, sizeof(*res));
	res->status = status;
	res->index = index;
	res->mod_index = mod_index;
	res->existed = existed;
}

/* Runs a PUT or DELETE against the map, comparing cas here, at apply time. */
static int
kv_execute(struct kv *kv, uint64_t index, const struct kvcmd *cmd,
    struct kv_result *res, char *err, size_t errlen)
{
	const struct kvmap_node	*n;
	uint64_t		 cur_mod, old_hash = 0, new_hash, create;
	int			 rc;

	n = kvmap_find(&kv->map, cmd->key, cmd->key_len);
	cur_mod = n != NULL ? n->mod_index : 0;
	if (cmd->has_cas && (cmd->cas == 0 ? n != NULL : cur_mod != cmd->cas)) {
		kv_result_set(res, KV_CAS_FAILED, index, cur_mod, n != NULL);
		return 0;
	}
	if (n != NULL)
		old_hash = kv_node_hash(n);
	switch (cmd->op) {
	case KVCMD_PUT:
		create = n != NULL ? n->create_index : index;
		new_hash = kv_record_hash(cmd->key, cmd->key_len, cmd->value,
		    cmd->value_len, index, create);
		if (n != NULL && n->value_len == cmd->value_len) {
			/* Same size: in place, no allocation, cannot fail. */
			kvmap_overwrite(&kv->map, n, cmd->value, index,
			    new_hash);
			rc = 0;
		} else
			rc = kvmap_put(&kv->map, cmd->key, cmd->key_len,
			    cmd->value, cmd->value_len, index, create,
			    new_hash);
		if (rc != 0) {
			errbuf_set(err, errlen, "kv: index %" PRIu64 ": cannot "
			    "store a %zu-byte key and %zu-byte value: %s",
			    index, cmd->key_len, cmd->value_len, strerror(-rc));
			return rc;
		}
		kv->hash_sum += new_hash - old_hash;
		kv_result_set(res, KV_OK, index, index, n != NULL);
		return 0;
	case KVCMD_DELETE:
		if (n == NULL) {
			kv_result_set(res, KV_NOT_FOUND, index, 0, false);
			return 0;
		}
		kvmap_delete(&kv->map, cmd->key, cmd->key_len);
		kv->hash_sum -= old_hash;
		kv_result_set(res, KV_OK, index, cur_mod, true);
		return 0;
	}
	/* kvcmd_decode() and kv_apply_cmd() admit only the ops above. */
	abort();
}

/* Applies a decoded command at index. */
int
kv_apply_cmd(struct kv *kv, uint64_t index, const struct kvcmd *cmd,
    struct kv_result *res, char *err, size_t errlen)
{
	struct kv_session	*s, *fresh = NULL;
	int			 rc;

	if ((rc = kv_check_index(kv, index, err, errlen)) != 0)
		return rc;
	kv_sessions_expire(kv, index);
	if ((cmd->op != KVCMD_PUT && cmd->op != KVCMD_DELETE) ||
	    cmd->key_len == 0 || cmd->key_len > kv->cfg.max_key_len ||
	    cmd->value_len > kv->cfg.max_value_len ||
	    (cmd->client_id != 0 && cmd->seq == 0)) {
		errbuf_set(err, errlen, "kv: index %" PRIu64 ": %s with a %zu-byte "
		    "key and %zu-byte value exceeds the limits (%zu, %zu) or "
		    "is malformed", index, kvcmd_op_name(cmd->op),
		    cmd->key_len, cmd->value_len, kv->cfg.max_key_len,
		    kv->cfg.max_value_len);
		kv_result_set(res, KV_INVALID, index, 0, false);
		goto applied;
	}
	if (cmd->client_id == 0) {
		if ((rc = kv_execute(kv, index, cmd, res, err, errlen)) != 0)
			return rc;
		goto applied;
	}
	s = kv_session_find(kv, cmd->client_id);
	if (s != NULL && s->kind == KV_SESSION_LIVE) {
		if (cmd->seq == s->last_seq) {
			*res = s->result;
			res->duplicate = true;
		} else if (cmd->seq < s->last_seq)
			kv_result_set(res, KV_STALE, index, 0, false);
		else {
			rc = kv_execute(kv, index, cmd, res, err, errlen);
			if (rc != 0)
				return rc;
			kv->hash_sum -= kv_session_hash(s);
			s->last_seq = cmd->seq;
			s->result = *res;
			kv->hash_sum += kv_session_hash(s);
		}
		kv_session_touch(kv, s, index);
		goto applied;
	}
	if (s != NULL || cmd->seq != 1) {
		/* A tombstone, or a session this node never saw start. */
		kv_result_set(res, KV_SESSION_EXPIRED, index, 0, false);
		goto applied;
	}
	if ((fresh = calloc(1, sizeof(*fresh))) == NULL) {
		errbuf_set(err, errlen, "kv: index %" PRIu64 ": out of memory for "
		    "client %" PRIu64, index, cmd->client_id);
		return -ENOMEM;
	}
	if ((rc = kv_execute(kv, index, cmd, res, err, errlen)) != 0) {
		free(fresh);
		return rc;
	}
	if (kv->lru.count >= kv->cfg.max_sessions)
		kv_session_expire(kv, kv->lru.first);
	fresh->client_id = cmd->client_id;
	fresh->kind = KV_SESSION_LIVE;
	fresh->last_seq = cmd->seq;
	fresh->last_index = index;
	fresh->result = *res;
	kv_table_insert(kv, fresh);
	kv_list_append(&kv->lru, fresh);
	kv->hash_sum += kv_session_hash(fresh);
applied:
	kv->applied_index = index;
	return 0;
}

/* Decodes payload and applies it; undecodable payloads become no-ops. */
int
kv_apply(struct kv *kv, uint64_t index, const void *payload, size_t len,
    struct kv_result *res, char *err, size_t errlen)
{
	struct kvcmd	 cmd;
	int		 rc;

	if ((rc = kv_check_index(kv, index, err, errlen)) != 0)
		return rc;
	if (kvcmd_decode(payload, len, &cmd, err, errlen) != 0) {
		kv_sessions_expire(kv, index);
		kv->applied_index = index;
		kv_result_set(res, KV_INVALID, index, 0, false);
		return 0;
	}
	return kv_apply_cmd(kv, index, &cmd, res, err, errlen);
}

/* Copies a node into a reader's entry. */
static void
kv_entry_fill(struct kv_entry *e, const struct kvmap_node *n)
{
	e->key = kvmap_node_key(n);
	e->key_len = n->key_len;
	e->value = kvmap_node_value(n);
	e->value_len = n->value_len;
	e->mod_index = n->mod_index;
	e->create_index = n->create_index;
}

/* Looks key up. */
int
kv_get(const struct kv *kv, const void *key, size_t key_len,
    struct kv_entry *out)
{
	const struct kvmap_node	*n;

	if ((n = kvmap_find(&kv->map, key, key_len)) == NULL)
		return -ENOENT;
	kv_entry_fill(out, n);
	return 0;
}

/* Lists records under prefix after start_after, at most limit of them. */
size_t
kv_list(const struct kv *kv, const void *prefix, size_t prefix_len,
    const void *start_after, size_t start_after_len, struct kv_entry *out,
    size_t limit, bool *more)
{
	struct kvmap_iter	 it;
	const struct kvmap_node	*n;
	size_t			 count = 0;

	*more = false;
	if (start_after_len > 0 && kvmap_key_cmp(start_after, start_after_len,
	    prefix, prefix_len) >= 0)
		kvmap_iter_seek(&it, &kv->map, start_after, start_after_len,
		    false);
	else
		kvmap_iter_seek(&it, &kv->map, prefix, prefix_len, true);
	while ((n = kvmap_iter_next(&it)) != NULL) {
		if (n->key_len < prefix_len || (prefix_len > 0 &&
		    memcmp(kvmap_node_key(n), prefix, prefix_len) != 0))
			break;
		if (count == limit) {
			*more = true;
			break;
		}
		kv_entry_fill(&out[count++], n);
	}
	return count;
}

/* Returns the applied index. */
uint64_t
kv_applied_index(const struct kv *kv)
{
	return kv->applied_index;
}

/* Returns the number of records. */
size_t
kv_count(const struct kv *kv)
{
	return kv->map.count;
}

/* Returns the stored key and value bytes. */
uint64_t
kv_data_bytes(const struct kv *kv)
{
	return kv->map.data_bytes;
}

/* Returns the number of live sessions. */
size_t
kv_session_count(const struct kv *kv)
{
	return kv->lru.count;
}

/* Returns the number of tombstones. */
size_t
kv_tombstone_count(const struct kv *kv)
{
	return kv->tombs.count;
}

/* Looks a live session up. */
int
kv_session_get(const struct kv *kv, uint64_t client_id, uint64_t *last_seq,
    uint64_t *last_index)
{
	const struct kv_session	*s = kv_session_find(kv, client_id);

	if (s == NULL)
		return -ENOENT;
	if (s->kind == KV_SESSION_TOMB)
		return -ESTALE;
	*last_seq = s->last_seq;
	*last_index = s->last_index;
	return 0;
}

/*
 * Snapshots.  The layout is in docs/kv.md; every byte before the final
 * checksum word goes through the checksum.
 */

struct kv_writer {
	kv_write_fn	 fn;
	void		*arg;
	unsigned char	*buf;
	size_t		 len;
	struct hash64	 sum;
	int		 rc;		/* first error, sticky */
};

/* Hands the buffered bytes to the callback. */
static void
kv_writer_flush(struct kv_writer *w)
{
	if (w->rc == 0 && w->len > 0)
		w->rc = w->fn(w->arg, w->buf, w->len);
	w->len = 0;
}

/* Buffers len bytes, adding them to the checksum when sum is set. */
static void
kv_writer_put(struct kv_writer *w, const void *data, size_t len, bool sum)
{
	const unsigned char	*p = data;
	size_t			 n;

	if (sum)
		hash64_update(&w->sum, data, len);
	while (len > 0 && w->rc == 0) {
		if (w->len == KV_IO_BUF)
			kv_writer_flush(w);
		n = KV_IO_BUF - w->len;
		if (n > len)
			n = len;
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		p += n;
		len -= n;
	}
}

/* Writes v as size little-endian bytes. */
static void
kv_writer_int(struct kv_writer *w, uint64_t v, size_t size)
{
	unsigned char	 b[8];
	size_t		 i;

	for (i = 0; i < size; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	kv_writer_put(w, b, size, true);
}

/* Streams the whole state to fn. */
int
kv_snapshot_write(const struct kv *kv, kv_write_fn fn, void *arg, char *err,
    size_t errlen)
{
	struct kv_writer	 w;
	struct kvmap_iter	 it;
	const struct kvmap_node	*n;
	const struct kv_session	*s;
	unsigned char		 sum[8];
	uint64_t		 checksum;
	int			 i;

	memset(&w, 0, sizeof(w));
	w.fn = fn;
	w.arg = arg;
	if ((w.buf = malloc(KV_IO_BUF)) == NULL) {
		errbuf_set(err, errlen, "kv snapshot: out of memory");
		return -ENOMEM;
	}
	hash64_init(&w.sum, KV_HK_CHECKSUM, KV_HK1);
	kv_writer_put(&w, KV_SNAP_MAGIC, 8, true);
	kv_writer_int(&w, KV_SNAP_VERSION, 4);
	kv_writer_int(&w, 0, 4);
	kv_writer_int(&w, kv->applied_index, 8);
	kv_writer_int(&w, kv_state_hash(kv), 8);
	kv_writer_int(&w, kv->map.count, 8);
	kv_writer_int(&w, kv->lru.count, 8);
	kv_writer_int(&w, kv->tombs.count, 8);
	kv_writer_int(&w, kv->next_ordinal, 8);
	kv_writer_int(&w, kv->cfg.session_window, 8);
	kv_writer_int(&w, kv->cfg.max_sessions, 8);
	kv_writer_int(&w, kv->cfg.tombstone_capacity, 8);
	kv_writer_int(&w, kv->map.data_bytes, 8);
	kvmap_iter_seek(&it, &kv->map, NULL, 0, true);
	while ((n = kvmap_iter_next(&it)) != NULL && w.rc == 0) {
		kv_writer_int(&w, n->key_len, 4);
		kv_writer_int(&w, n->value_len, 4);
		kv_writer_int(&w, n->mod_index, 8);
		kv_writer_int(&w, n->create_index, 8);
		kv_writer_put(&w, n->data, (size_t)n->key_len + n->value_len,
		    true);
	}
	for (s = kv->lru.first; s != NULL; s = s->next) {
		kv_writer_int(&w, s->client_id, 8);
		kv_writer_int(&w, s->last_seq, 8);
		kv_writer_int(&w, s->last_index, 8);
		kv_writer_int(&w, (uint64_t)s->result.status, 1);
		kv_writer_int(&w, s->result.existed ? 1 : 0, 1);
		kv_writer_int(&w, s->result.index, 8);
		kv_writer_int(&w, s->result.mod_index, 8);
	}
	for (s = kv->tombs.first; s != NULL; s = s->next) {
		kv_writer_int(&w, s->client_id, 8);
		kv_writer_int(&w, s->ordinal, 8);
	}
	kv_writer_put(&w, KV_SNAP_END, 8, true);
	checksum = hash64_final(&w.sum);
	for (i = 0; i < 8; i++)
		sum[i] = (unsigned char)(checksum >> (8 * i));
	kv_writer_put(&w, sum, 8, false);
	kv_writer_flush(&w);
	free(w.buf);
	if (w.rc != 0)
		errbuf_set(err, errlen, "kv snapshot: write failed: %s",
		    strerror(w.rc < 0 ? -w.rc : w.rc));
	return w.rc;
}

struct kv_reader {
	kv_read_fn	 fn;
	void		*arg;
	unsigned char	*buf;
	size_t		 pos, len;
	uint64_t	 offset;	/* stream bytes consumed */
	struct hash64	 sum;
	char		*err;
	size_t		 errlen;
};

/* Reads exactly len bytes; short input is a truncation error. */
static int
kv_reader_get(struct kv_reader *r, void *data, size_t len, bool sum,
    const char *what)
{
	unsigned char	*p = data;
	ssize_t		 got;
	size_t		 n;

	while (len > 0) {
		if (r->pos == r->len) {
			got = r->fn(r->arg, r->buf, KV_IO_BUF);
			if (got < 0) {
				errbuf_set(r->err, r->errlen, "kv snapshot: offset "
				    "%" PRIu64 ": read error: %s", r->offset,
				    strerror((int)-got));
				return (int)got;
			}
			if (got == 0 || (size_t)got > KV_IO_BUF) {
				errbuf_set(r->err, r->errlen, "kv snapshot: offset "
				    "%" PRIu64 ": truncated in %s", r->offset,
				    what);
				return -EINVAL;
			}
			r->pos = 0;
			r->len = (size_t)got;
		}
		n = r->len - r->pos;
		if (n > len)
			n = len;
		memcpy(p, r->buf + r->pos, n);
		if (sum)
			hash64_update(&r->sum, p, n);
		r->pos += n;
		r->offset += n;
		p += n;
		len -= n;
	}
	return 0;
}

/* Reads a size-byte little-endian integer through the checksum. */
static int
kv_reader_int(struct kv_reader *r, uint64_t *v, size_t size, const char *what)
{
	unsigned char	 b[8];
	size_t		 i;
	int		 rc;

	if ((rc = kv_reader_get(r, b, size, true, what)) != 0)
		return rc;
	*v = 0;
	for (i = size; i > 0; i--)
		*v = (*v << 8) | b[i - 1];
	return 0;
}

/* Reports corrupt input at the reader's current offset. */
static int __attribute__((format(printf, 2, 3)))
kv_reader_bad(struct kv_reader *r, const char *fmt, ...)
{
	char	 msg[160];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	errbuf_set(r->err, r->errlen, "kv snapshot: offset %" PRIu64 ": %s",
	    r->offset, msg);
	return -EINVAL;
}

struct kv_snap_header {
	uint64_t	 version, flags, applied_index, state_hash;
	uint64_t	 records, sessions, tombs, next_ordinal;
	uint64_t	 window, max_sessions, tomb_capacity, data_bytes;
};

/* Reads and checks the fixed header. */
static int
kv_read_header(struct kv_reader *r, struct kv_snap_header *h)
{
	unsigned char	 magic[8];
	int		 rc;

	if ((rc = kv_reader_get(r, magic, 8, true, "the magic")) != 0)
		return rc;
	if (memcmp(magic, KV_SNAP_MAGIC, 8) != 0)
		return kv_reader_bad(r, "not a raftkv snapshot (bad magic)");
	if ((rc = kv_reader_int(r, &h->version, 4, "the header")) != 0 ||
	    (rc = kv_reader_int(r, &h->flags, 4, "the header")) != 0 ||
	    (rc = kv_reader_int(r, &h->applied_index, 8, "the header")) != 0 ||
	    (rc = kv_reader_int(r, &h->state_hash, 8, "the header")) != 0 ||
	    (rc = kv_reader_int(r, &h->records, 8, "the header")) != 0 ||
	    (rc = kv_reader_int(r, &h->sessions, 8, "the header")) != 0 ||
	    (rc = kv_reader_int(r, &h->tombs, 8, "the header")) != 0 ||
	    (rc = kv_reader_int(r, &h->next_ordinal, 8, "the header")) != 0 ||
	    (rc = kv_reader_int(r, &h->window, 8, "the header")) != 0 ||
	    (rc = kv_reader_int(r, &h->max_sessions, 8, "the header")) != 0 ||
	    (rc = kv_reader_int(r, &h->tomb_capacity, 8, "the header")) != 0 ||
	    (rc = kv_reader_int(r, &h->data_bytes, 8, "the header")) != 0)
		return rc;
	if (h->version != KV_SNAP_VERSION)
		return kv_reader_bad(r, "unsupported version %" PRIu64,
		    h->version);
	if (h->flags != 0)
		return kv_reader_bad(r, "unknown flags 0x%" PRIx64, h->flags);
	if (h->window == 0 || h->max_sessions == 0 ||
	    h->max_sessions > SIZE_MAX || h->tomb_capacity > SIZE_MAX)
		return kv_reader_bad(r, "invalid session parameters");
	if (h->sessions > h->max_sessions || h->tombs > h->tomb_capacity ||
	    h->tombs > h->next_ordinal)
		return kv_reader_bad(r, "%" PRIu64 " sessions and %" PRIu64
		    " tombstones exceed the limits", h->sessions, h->tombs);
	return 0;
}

/* Reads the records, checking order and indices, into kv's map. */
static int
kv_read_records(struct kv_reader *r, struct kv *kv,
    const struct kv_snap_header *h)
{
	unsigned char		*scratch = NULL, *prev = NULL;
	uint64_t		 i, key_len, value_len, mod, create, rh;
	size_t			 len, scratch_cap = 0, prev_len = 0;
	int			 rc = 0;

	/* The previous key, for the order check (no lookup per record). */
	if (h->records > 0 && (prev = malloc(kv->cfg.max_key_len)) == NULL) {
		errbuf_set(r->err, r->errlen, "kv snapshot: out of memory");
		return -ENOMEM;
	}

	/*
	 * One index of the right size rather than twenty doublings.  The
	 * count comes from the file: capped, and a failure only costs time.
	 */
	(void)kvmap_reserve(&kv->map, (size_t)(h->records < KV_RESERVE_MAX ?
	    h->records : KV_RESERVE_MAX));
	for (i = 0; i < h->records; i++) {
		if ((rc = kv_reader_int(r, &key_len, 4, "a record")) != 0 ||
		    (rc = kv_reader_int(r, &value_len, 4, "a record")) != 0 ||
		    (rc = kv_reader_int(r, &mod, 8, "a record")) != 0 ||
		    (rc = kv_reader_int(r, &create, 8, "a record")) != 0)
			goto out;
		if (key_len == 0 || key_len > kv->cfg.max_key_len ||
		    value_len > kv->cfg.max_value_len) {
			rc = kv_reader_bad(r, "record %" PRIu64 ": key length "
			    "%" PRIu64 " or value length %" PRIu64 " out of "
			    "range", i, key_len, value_len);
			goto out;
		}
		if (create == 0 || create > mod || mod > h->applied_index) {
			rc = kv_reader_bad(r, "record %" PRIu64 ": indices "
			    "create %" PRIu64 ", mod %" PRIu64 " invalid at "
			    "applied index %" PRIu64, i, create, mod,
			    h->applied_index);
			goto out;
		}
		len = (size_t)(key_len + value_len);
		if (len > scratch_cap) {
			/* Grows with the largest record seen, within limits. */
			unsigned char *bigger = realloc(scratch, len);

			if (bigger == NULL) {
				errbuf_set(r->err, r->errlen, "kv snapshot: out of "
				    "memory for a %zu-byte record", len);
				rc = -ENOMEM;
				goto out;
			}
			scratch = bigger;
			scratch_cap = len;
		}
		if ((rc = kv_reader_get(r, scratch, len, true, "a record")) !=
		    0)
			goto out;
		if (i > 0 && kvmap_key_cmp(prev, prev_len, scratch,
		    (size_t)key_len) >= 0) {
			rc = kv_reader_bad(r, "record %" PRIu64 ": keys out of "
			    "order", i);
			goto out;
		}
		rh = kv_record_hash(scratch, (size_t)key_len, scratch + key_len,
		    (size_t)value_len, mod, create);
		rc = kvmap_put(&kv->map, scratch, (size_t)key_len,
		    scratch + key_len, (size_t)value_len, mod, create, rh);
		if (rc != 0) {
			errbuf_set(r->err, r->errlen, "kv snapshot: record %"
			    PRIu64 ": %s", i, strerror(-rc));
			goto out;
		}
		kv->hash_sum += rh;
		memcpy(prev, scratch, (size_t)key_len);
		prev_len = (size_t)key_len;
	}
	if (kv->map.data_bytes != h->data_bytes)
		rc = kv_reader_bad(r, "records hold %" PRIu64 " bytes, header "
		    "says %" PRIu64, kv->map.data_bytes, h->data_bytes);
out:
	free(scratch);
	free(prev);
	return rc;
}

/* Reads the live sessions (oldest activity first) into kv. */
static int
kv_read_sessions(struct kv_reader *r, struct kv *kv,
    const struct kv_snap_header *h)
{
	struct kv_session	*s;
	uint64_t		 i, v[7], prev_index = 0;
	int			 rc;

	for (i = 0; i < h->sessions; i++) {
		if ((rc = kv_reader_int(r, &v[0], 8, "a session")) != 0 ||
		    (rc = kv_reader_int(r, &v[1], 8, "a session")) != 0 ||
		    (rc = kv_reader_int(r, &v[2], 8, "a session")) != 0 ||
		    (rc = kv_reader_int(r, &v[3], 1, "a session")) != 0 ||
		    (rc = kv_reader_int(r, &v[4], 1, "a session")) != 0 ||
		    (rc = kv_reader_int(r, &v[5], 8, "a session")) != 0 ||
		    (rc = kv_reader_int(r, &v[6], 8, "a session")) != 0)
			return rc;
		if (v[0] == 0 || kv_session_find(kv, v[0]) != NULL ||
		    v[1] == 0 || v[2] < prev_index ||
		    v[2] > h->applied_index ||
		    h->applied_index - v[2] > h->window ||
		    (v[3] != KV_OK && v[3] != KV_NOT_FOUND &&
		    v[3] != KV_CAS_FAILED) || v[4] > 1 || v[5] == 0 ||
		    v[5] > v[2] || v[6] > v[5])
			return kv_reader_bad(r, "session %" PRIu64 " (client %"
			    PRIu64 ") is inconsistent", i, v[0]);
		if ((s = calloc(1, sizeof(*s))) == NULL) {
			errbuf_set(r->err, r->errlen, "kv snapshot: out of memory");
			return -ENOMEM;
		}
		s->client_id = v[0];
		s->kind = KV_SESSION_LIVE;
		s->last_seq = v[1];
		s->last_index = v[2];
		kv_result_set(&s->result, (enum kv_status)v[3], v[5], v[6],
		    v[4] != 0);
		kv_table_insert(kv, s);
		kv_list_append(&kv->lru, s);
		kv->hash_sum += kv_session_hash(s);
		prev_index = v[2];
	}
	return 0;
}

/* Reads the tombstones (oldest first) into kv. */
static int
kv_read_tombs(struct kv_reader *r, struct kv *kv,
    const struct kv_snap_header *h)
{
	struct kv_session	*s;
	uint64_t		 i, id, ordinal, next = 0;
	int			 rc;

	for (i = 0; i < h->tombs; i++) {
		if ((rc = kv_reader_int(r, &id, 8, "a tombstone")) != 0 ||
		    (rc = kv_reader_int(r, &ordinal, 8, "a tombstone")) != 0)
			return rc;
		if (id == 0 || kv_session_find(kv, id) != NULL ||
		    ordinal < next || ordinal >= h->next_ordinal)
			return kv_reader_bad(r, "tombstone %" PRIu64 " (client "
			    "%" PRIu64 ") is inconsistent", i, id);
		if ((s = calloc(1, sizeof(*s))) == NULL) {
			errbuf_set(r->err, r->errlen, "kv snapshot: out of memory");
			return -ENOMEM;
		}
		s->client_id = id;
		s->kind = KV_SESSION_TOMB;
		s->ordinal = ordinal;
		kv_table_insert(kv, s);
		kv_list_append(&kv->tombs, s);
		kv->hash_sum += kv_session_hash(s);
		next = ordinal + 1;
	}
	return 0;
}

/* Reads the end marker, the checksum, and checks nothing follows. */
static int
kv_read_trailer(struct kv_reader *r)
{
	unsigned char	 magic[8], sum[8], extra;
	uint64_t	 want, got = 0;
	int		 rc, i;

	if ((rc = kv_reader_get(r, magic, 8, true, "the end marker")) != 0)
		return rc;
	if (memcmp(magic, KV_SNAP_END, 8) != 0)
		return kv_reader_bad(r, "bad end marker");
	want = hash64_final(&r->sum);
	if ((rc = kv_reader_get(r, sum, 8, false, "the checksum")) != 0)
		return rc;
	for (i = 7; i >= 0; i--)
		got = (got << 8) | sum[i];
	if (got != want)
		return kv_reader_bad(r, "checksum mismatch (stored %016" PRIx64
		    ", computed %016" PRIx64 ")", got, want);
	rc = kv_reader_get(r, &extra, 1, false, "trailing data");
	if (rc == 0)
		return kv_reader_bad(r, "trailing bytes after the checksum");
	if (rc != -EINVAL)
		return rc;
	/* The end of the stream, as wanted: drop the "truncated" message. */
	if (r->err != NULL && r->errlen > 0)
		r->err[0] = '\0';
	return 0;
}

/* Builds a new state machine from a snapshot stream. */
int
kv_snapshot_read(const struct kv_config *cfg, kv_read_fn fn, void *arg,
    struct kv **out, char *err, size_t errlen)
{
	struct kv_reader	 r;
	struct kv_snap_header	 h;
	struct kv		*kv = NULL;
	int			 rc;

	memset(&r, 0, sizeof(r));
	r.fn = fn;
	r.arg = arg;
	r.err = err;
	r.errlen = errlen;
	hash64_init(&r.sum, KV_HK_CHECKSUM, KV_HK1);
	if ((r.buf = malloc(KV_IO_BUF)) == NULL) {
		errbuf_set(err, errlen, "kv snapshot: out of memory");
		return -ENOMEM;
	}
	if ((rc = kv_read_header(&r, &h)) != 0)
		goto out;
	if ((rc = kv_new(cfg, &kv, err, errlen)) != 0)
		goto out;
	kv->applied_index = h.applied_index;
	kv->next_ordinal = h.next_ordinal;
	kv->cfg.session_window = h.window;
	kv->cfg.max_sessions = (size_t)h.max_sessions;
	kv->cfg.tombstone_capacity = (size_t)h.tomb_capacity;
	if ((rc = kv_read_records(&r, kv, &h)) != 0 ||
	    (rc = kv_read_sessions(&r, kv, &h)) != 0 ||
	    (rc = kv_read_tombs(&r, kv, &h)) != 0 ||
	    (rc = kv_read_trailer(&r)) != 0)
		goto out;
	if (kv_state_hash(kv) != h.state_hash) {
		rc = kv_reader_bad(&r, "state hash %016" PRIx64 " differs from "
		    "the recorded %016" PRIx64, kv_state_hash(kv),
		    h.state_hash);
		goto out;
	}
	*out = kv;
	kv = NULL;
out:
	kv_free(kv);
	free(r.buf);
	return rc;
}
