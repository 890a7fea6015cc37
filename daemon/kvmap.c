/*
 * kvmap.c -- the AVL tree behind the key-value state machine.
 *
 * Insertion allocates the new record before touching the tree, so that an
 * allocation failure leaves the map as it was and the rest of the operation
 * cannot fail.  The recursion depth is the tree height (< 1.45 log2 n).
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash64.h"
#include "kvmap.h"

#define KVMAP_HK1	0x6b766d6170696478ULL	/* second key word of the index */
#define KVMAP_MIN_SLOTS	64

/* Makes an empty map. */
void
kvmap_init(struct kvmap *m)
{
	m->root = NULL;
	m->count = 0;
	m->data_bytes = 0;
	m->slots = NULL;
	m->n_slots = 0;
	m->seed = 0;
}

/* Keys the index; see kvmap.h. */
void
kvmap_set_seed(struct kvmap *m, uint64_t seed)
{
	assert(m->count == 0);
	m->seed = seed;
}

/* ------------------------------------------------------------------ */
/* The hash index.                                                     */

static uint64_t
kvmap_hash(const struct kvmap *m, const void *key, size_t key_len)
{
	return hash64_bytes(m->seed, KVMAP_HK1, key, key_len);
}

/*
 * Returns the slot holding key (hash h), or the empty slot where its probe
 * ends.  The index is never full, so the probe ends.
 */
static size_t
kvmap_slot_of(const struct kvmap *m, const void *key, size_t key_len,
    uint64_t h)
{
	size_t	 mask = m->n_slots - 1, i;
	const struct kvmap_slot *s;

	for (i = (size_t)h & mask;; i = (i + 1) & mask) {
		s = &m->slots[i];
		if (s->node == NULL || (s->hash == h &&
		    s->node->key_len == key_len && (key_len == 0 ||
		    memcmp(s->node->data, key, key_len) == 0)))
			return i;
	}
}

/* Puts node (hash h) into the first empty slot of its probe. */
static void
kvmap_slot_add(struct kvmap_slot *slots, size_t n_slots,
    struct kvmap_node *node, uint64_t h)
{
	size_t	 mask = n_slots - 1, i;

	for (i = (size_t)h & mask; slots[i].node != NULL; i = (i + 1) & mask)
		;
	slots[i].node = node;
	slots[i].hash = h;
}

/* Rehashes the index into n slots (a power of two).  0 or -ENOMEM. */
static int
kvmap_resize(struct kvmap *m, size_t n)
{
	struct kvmap_slot *grown;
	size_t	 i;

	if (n > SIZE_MAX / sizeof(*grown) ||
	    (grown = calloc(n, sizeof(*grown))) == NULL)
		return -ENOMEM;
	for (i = 0; i < m->n_slots; i++)
		if (m->slots[i].node != NULL)
			kvmap_slot_add(grown, n, m->slots[i].node,
			    m->slots[i].hash);
	free(m->slots);
	m->slots = grown;
	m->n_slots = n;
	return 0;
}

/*
 * Makes room for n records in all: doubles the index (from its size, or
 * KVMAP_MIN_SLOTS) until they fit 3/4 of it.  Returns 0 or -ENOMEM (the
 * index then unchanged); see kvmap.h.
 */
int
kvmap_reserve(struct kvmap *m, size_t n)
{
	size_t	 slots = m->n_slots > 0 ? m->n_slots : KVMAP_MIN_SLOTS;

	while (n > slots / 4 * 3) {
		if (slots > SIZE_MAX / 2 / sizeof(struct kvmap_slot))
			return -ENOMEM;
		slots *= 2;
	}
	return slots > m->n_slots ? kvmap_resize(m, slots) : 0;
}

/*
 * Empties slot i and moves later slots of its cluster back where a probe
 * still finds them (deletion without tombstones).
 */
static void
kvmap_slot_remove(struct kvmap *m, size_t i)
{
	size_t	 mask = m->n_slots - 1, j = i, home;

	m->slots[i].node = NULL;
	for (;;) {
		j = (j + 1) & mask;
		if (m->slots[j].node == NULL)
			return;
		home = (size_t)m->slots[j].hash & mask;
		/* Leave it if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		m->slots[i] = m->slots[j];
		m->slots[j].node = NULL;
		i = j;
	}
}

/* Frees a subtree without recursion deeper than its height. */
static void
kvmap_free_tree(struct kvmap_node *n)
{
	struct kvmap_node	*right;

	while (n != NULL) {
		kvmap_free_tree(n->left);
		right = n->right;
		free(n);
		n = right;
	}
}

/* Frees every record. */
void
kvmap_clear(struct kvmap *m)
{
	uint64_t	 seed = m->seed;

	kvmap_free_tree(m->root);
	free(m->slots);
	kvmap_init(m);
	m->seed = seed;
}

/* Compares two keys like memcmp(), the shorter first on a common prefix. */
int
kvmap_key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
	size_t	 n = alen < blen ? alen : blen;
	int	 c;

	c = n == 0 ? 0 : memcmp(a, b, n);
	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* Compares a search key with a node's key. */
static int
kvmap_cmp_node(const void *key, size_t key_len, const struct kvmap_node *n)
{
	return kvmap_key_cmp(key, key_len, n->data, n->key_len);
}

/* Returns the height of a possibly empty subtree. */
static int
kvmap_height(const struct kvmap_node *n)
{
	return n == NULL ? 0 : n->height;
}

/* Recomputes n's height from its children. */
static void
kvmap_fix_height(struct kvmap_node *n)
{
	int	 l = kvmap_height(n->left), r = kvmap_height(n->right);

	n->height = (uint8_t)(1 + (l > r ? l : r));
}

/* Rotates n's left child up; returns the new subtree root. */
static struct kvmap_node *
kvmap_rotate_right(struct kvmap_node *n)
{
	struct kvmap_node	*l = n->left;

	n->left = l->right;
	l->right = n;
	kvmap_fix_height(n);
	kvmap_fix_height(l);
	return l;
}

/* Rotates n's right child up; returns the new subtree root. */
static struct kvmap_node *
kvmap_rotate_left(struct kvmap_node *n)
{
	struct kvmap_node	*r = n->right;

	n->right = r->left;
	r->left = n;
	kvmap_fix_height(n);
	kvmap_fix_height(r);
	return r;
}

/* Restores the AVL balance at n; returns the new subtree root. */
static struct kvmap_node *
kvmap_balance(struct kvmap_node *n)
{
	int	 diff;

	kvmap_fix_height(n);
	diff = kvmap_height(n->left) - kvmap_height(n->right);
	if (diff > 1) {
		if (kvmap_height(n->left->left) < kvmap_height(n->left->right))
			n->left = kvmap_rotate_left(n->left);
		return kvmap_rotate_right(n);
	}
	if (diff < -1) {
		if (kvmap_height(n->right->right) <
		    kvmap_height(n->right->left))
			n->right = kvmap_rotate_right(n->right);
		return kvmap_rotate_left(n);
	}
	return n;
}

/* Returns the record for key, or NULL. */
const struct kvmap_node *
kvmap_find(const struct kvmap *m, const void *key, size_t key_len)
{
	if (m->n_slots == 0)
		return NULL;	/* never held a record */
	return m->slots[kvmap_slot_of(m, key, key_len,
	    kvmap_hash(m, key, key_len))].node;
}

/*
 * Inserts fresh (already filled in) under n, or swaps it for the record with
 * the same key, which goes to *old.  Returns the new subtree root.
 */
static struct kvmap_node *
kvmap_insert(struct kvmap_node *n, struct kvmap_node *fresh,
    struct kvmap_node **old)
{
	int	 c;

	if (n == NULL) {
		fresh->left = fresh->right = NULL;
		fresh->height = 1;
		return fresh;
	}
	c = kvmap_cmp_node(fresh->data, fresh->key_len, n);
	if (c == 0) {
		fresh->left = n->left;
		fresh->right = n->right;
		fresh->height = n->height;
		*old = n;
		return fresh;
	}
	if (c < 0)
		n->left = kvmap_insert(n->left, fresh, old);
	else
		n->right = kvmap_insert(n->right, fresh, old);
	return *old != NULL ? n : kvmap_balance(n);
}

/* Inserts or replaces the record for key. */
int
kvmap_put(struct kvmap *m, const void *key, size_t key_len, const void *value,
    size_t value_len, uint64_t mod_index, uint64_t create_index, uint64_t tag)
{
	struct kvmap_node	*fresh, *old = NULL;
	uint64_t		 h;

	if (key_len > UINT32_MAX || value_len > UINT32_MAX ||
	    key_len + value_len > SIZE_MAX - sizeof(*fresh))
		return -EINVAL;
	if (kvmap_reserve(m, m->count + 1) != 0)
		return -ENOMEM;
	fresh = malloc(sizeof(*fresh) + key_len + value_len);
	if (fresh == NULL)
		return -ENOMEM;
	fresh->mod_index = mod_index;
	fresh->create_index = create_index;
	fresh->tag = tag;
	fresh->key_len = (uint32_t)key_len;
	fresh->value_len = (uint32_t)value_len;
	if (key_len > 0)
		memcpy(fresh->data, key, key_len);
	if (value_len > 0)
		memcpy(fresh->data + key_len, value, value_len);
	m->root = kvmap_insert(m->root, fresh, &old);
	h = kvmap_hash(m, key, key_len);
	if (old != NULL) {
		/* The same key's slot now names the fresh node. */
		m->slots[kvmap_slot_of(m, key, key_len, h)].node = fresh;
		m->data_bytes -= (uint64_t)old->key_len + old->value_len;
		free(old);
	} else {
		kvmap_slot_add(m->slots, m->n_slots, fresh, h);
		m->count++;
	}
	m->data_bytes += (uint64_t)key_len + value_len;
	return 0;
}

/* Detaches the smallest node of subtree n into *min; returns the new root. */
static struct kvmap_node *
kvmap_remove_min(struct kvmap_node *n, struct kvmap_node **min)
{
	if (n->left == NULL) {
		*min = n;
		return n->right;
	}
	n->left = kvmap_remove_min(n->left, min);
	return kvmap_balance(n);
}

/* Removes key from subtree n into *gone; returns the new subtree root. */
static struct kvmap_node *
kvmap_remove(struct kvmap_node *n, const void *key, size_t key_len,
    struct kvmap_node **gone)
{
	struct kvmap_node	*min;
	int			 c;

	if (n == NULL)
		return NULL;
	c = kvmap_cmp_node(key, key_len, n);
	if (c < 0)
		n->left = kvmap_remove(n->left, key, key_len, gone);
	else if (c > 0)
		n->right = kvmap_remove(n->right, key, key_len, gone);
	else {
		*gone = n;
		if (n->left == NULL)
			return n->right;
		if (n->right == NULL)
			return n->left;
		n->right = kvmap_remove_min(n->right, &min);
		min->left = n->left;
		min->right = n->right;
		return kvmap_balance(min);
	}
	return *gone == NULL ? n : kvmap_balance(n);
}

/* Removes and frees the record for key. */
int
kvmap_delete(struct kvmap *m, const void *key, size_t key_len)
{
	struct kvmap_node	*gone = NULL;

	m->root = kvmap_remove(m->root, key, key_len, &gone);
	if (gone == NULL)
		return -ENOENT;
	kvmap_slot_remove(m, kvmap_slot_of(m, key, key_len,
	    kvmap_hash(m, key, key_len)));
	m->count--;
	m->data_bytes -= (uint64_t)gone->key_len + gone->value_len;
	free(gone);
	return 0;
}

/* Overwrites a record's value in place; see kvmap.h. */
void
kvmap_overwrite(struct kvmap *m, const struct kvmap_node *n, const void *value,
    uint64_t mod_index, uint64_t tag)
{
	/* n is m's own node: the map, not the caller, owns it. */
	struct kvmap_node *w = (struct kvmap_node *)(uintptr_t)n;

	(void)m;
	if (w->value_len > 0)
		memcpy(w->data + w->key_len, value, w->value_len);
	w->mod_index = mod_index;
	w->tag = tag;
}

/* Pushes a node on the iterator's stack. */
static void
kvmap_iter_push(struct kvmap_iter *it, const struct kvmap_node *n)
{
	assert(it->depth < KVMAP_MAX_HEIGHT);
	it->stack[it->depth++] = n;
}

/* Positions it before the first record >= key (> key when !inclusive). */
void
kvmap_iter_seek(struct kvmap_iter *it, const struct kvmap *m, const void *key,
    size_t key_len, bool inclusive)
{
	const struct kvmap_node	*n = m->root;
	int			 c;

	it->depth = 0;
	while (n != NULL) {
		c = kvmap_cmp_node(key, key_len, n);
		if (c < 0 || (c == 0 && inclusive)) {
			kvmap_iter_push(it, n);
			n = n->left;
		} else
			n = n->right;
	}
}

/* Returns the next record in key order, or NULL at the end. */
const struct kvmap_node *
kvmap_iter_next(struct kvmap_iter *it)
{
	const struct kvmap_node	*n, *c;

	if (it->depth == 0)
		return NULL;
	n = it->stack[--it->depth];
	for (c = n->right; c != NULL; c = c->left)
		kvmap_iter_push(it, c);
	return n;
}

/* Checks one subtree; returns its height or -1. */
static int
kvmap_check_tree(const struct kvmap_node *n, size_t *count)
{
	int	 l, r;

	if (n == NULL)
		return 0;
	(*count)++;
	if (n->left != NULL && kvmap_key_cmp(n->left->data, n->left->key_len,
	    n->data, n->key_len) >= 0)
		return -1;
	if (n->right != NULL && kvmap_key_cmp(n->right->data,
	    n->right->key_len, n->data, n->key_len) <= 0)
		return -1;
	if ((l = kvmap_check_tree(n->left, count)) < 0 ||
	    (r = kvmap_check_tree(n->right, count)) < 0)
		return -1;
	if (l - r > 1 || r - l > 1 || n->height != 1 + (l > r ? l : r))
		return -1;
	return n->height;
}

/* Checks the AVL and order invariants. */
int
kvmap_check(const struct kvmap *m)
{
	size_t			 count = 0;
	struct kvmap_iter	 it;
	const struct kvmap_node	*prev = NULL, *n;
	size_t			 used = 0, i;

	if (kvmap_check_tree(m->root, &count) < 0 || count != m->count)
		return -1;
	kvmap_iter_seek(&it, m, NULL, 0, true);
	while ((n = kvmap_iter_next(&it)) != NULL) {
		if (prev != NULL && kvmap_key_cmp(prev->data, prev->key_len,
		    n->data, n->key_len) >= 0)
			return -1;
		/* The index finds every node of the tree, and as itself. */
		if (kvmap_find(m, n->data, n->key_len) != n)
			return -1;
		prev = n;
	}
	/* ... and holds nothing else, with the right hashes. */
	for (i = 0; i < m->n_slots; i++) {
		if (m->slots[i].node == NULL)
			continue;
		used++;
		if (m->slots[i].hash != kvmap_hash(m, m->slots[i].node->data,
		    m->slots[i].node->key_len))
			return -1;
	}
	if (used != m->count || (m->n_slots > 0 && used * 4 > m->n_slots * 3))
		return -1;
	return 0;
}
