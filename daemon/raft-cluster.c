/*
 * raft-cluster.c -- the encoding of cluster configurations.
 *
 * A configuration travels in RAFT_ENTRY_CONFIG log entries, so that the log,
 * not the command line, decides who the members are.  Layout (little-endian):
 *
 *	u8  version (1)
 *	u8  member count
 *	per member:
 *		u64 id (nonzero, unique)
 *		u8  flags (bit 0: voter; other bits must be zero)
 *		u8  peer URL length, then the bytes (no NUL)
 *		u8  client URL length, then the bytes (no NUL)
 *
 * Part of the pure core: libc only.
 */
#include "config.h"

#include <string.h>

#include "raft.h"

#define CLUSTER_VERSION		1
#define CLUSTER_FLAG_VOTER	0x01

/* Appends a little-endian u64 at *pos if it fits. */
static int
put_u64(uint8_t *buf, size_t cap, size_t *pos, uint64_t v)
{
	int	 i;

	if (cap - *pos < 8)
		return -RAFT_ETOOBIG;
	for (i = 0; i < 8; i++)
		buf[(*pos)++] = (uint8_t)(v >> (8 * i));
	return 0;
}

/* Appends a length-prefixed string at *pos if it fits. */
static int
put_str(uint8_t *buf, size_t cap, size_t *pos, const char *s)
{
	size_t	 len = strnlen(s, RAFT_MAX_URL + 1);

	if (len > RAFT_MAX_URL || cap - *pos < 1 + len)
		return -RAFT_ETOOBIG;
	buf[(*pos)++] = (uint8_t)len;
	memcpy(buf + *pos, s, len);
	*pos += len;
	return 0;
}

int
raft_cluster_encode(const struct raft_cluster *cfg, uint8_t *buf, size_t cap)
{
	size_t	 pos = 0;
	uint32_t i;
	int	 rc;

	if (cfg->n > RAFT_MAX_MEMBERS || cap < 2)
		return -RAFT_ETOOBIG;
	buf[pos++] = CLUSTER_VERSION;
	buf[pos++] = (uint8_t)cfg->n;
	for (i = 0; i < cfg->n; i++) {
		const struct raft_member *m = &cfg->members[i];

		if ((rc = put_u64(buf, cap, &pos, m->id)) != 0)
			return rc;
		if (pos >= cap)
			return -RAFT_ETOOBIG;
		buf[pos++] = m->voter ? CLUSTER_FLAG_VOTER : 0;
		if ((rc = put_str(buf, cap, &pos, m->peer_url)) != 0 ||
		    (rc = put_str(buf, cap, &pos, m->client_url)) != 0)
			return rc;
	}
	return (int)pos;
}

/* Reads a length-prefixed string into out (capacity RAFT_MAX_URL + 1). */
static int
get_str(const uint8_t *buf, size_t len, size_t *pos, char *out)
{
	size_t	 n, i;

	if (*pos >= len)
		return -RAFT_EINVAL;
	n = buf[(*pos)++];
	if (len - *pos < n)
		return -RAFT_EINVAL;
	for (i = 0; i < n; i++) {
		/* URLs are printable ASCII; anything else is a lie. */
		if (buf[*pos + i] < 0x21 || buf[*pos + i] > 0x7e)
			return -RAFT_EINVAL;
	}
	memcpy(out, buf + *pos, n);
	out[n] = '\0';
	*pos += n;
	return 0;
}

int
raft_cluster_decode(const uint8_t *buf, size_t len, struct raft_cluster *cfg)
{
	size_t	 pos = 0;
	uint32_t i, j;
	int	 k;

	memset(cfg, 0, sizeof(*cfg));
	if (buf == NULL || len < 2 || buf[0] != CLUSTER_VERSION)
		return -RAFT_EINVAL;
	cfg->n = buf[1];
	pos = 2;
	if (cfg->n == 0 || cfg->n > RAFT_MAX_MEMBERS)
		return -RAFT_EINVAL;
	for (i = 0; i < cfg->n; i++) {
		struct raft_member *m = &cfg->members[i];

		if (len - pos < 9)
			return -RAFT_EINVAL;
		m->id = 0;
		for (k = 0; k < 8; k++)
			m->id |= (uint64_t)buf[pos++] << (8 * k);
		if (m->id == 0 || (buf[pos] & ~CLUSTER_FLAG_VOTER) != 0)
			return -RAFT_EINVAL;
		m->voter = (buf[pos++] & CLUSTER_FLAG_VOTER) != 0;
		if (get_str(buf, len, &pos, m->peer_url) != 0 ||
		    get_str(buf, len, &pos, m->client_url) != 0)
			return -RAFT_EINVAL;
		for (j = 0; j < i; j++)
			if (cfg->members[j].id == m->id)
				return -RAFT_EINVAL;
	}
	if (pos != len || raft_cluster_voters(cfg) == 0)
		return -RAFT_EINVAL;
	return 0;
}

const struct raft_member *
raft_cluster_find(const struct raft_cluster *cfg, raft_id_t id)
{
	uint32_t i;

	for (i = 0; i < cfg->n; i++)
		if (cfg->members[i].id == id)
			return &cfg->members[i];
	return NULL;
}

uint32_t
raft_cluster_voters(const struct raft_cluster *cfg)
{
	uint32_t i, n = 0;

	for (i = 0; i < cfg->n; i++)
		if (cfg->members[i].voter)
			n++;
	return n;
}

int
raft_bootstrap_entry(const struct raft_cluster *cluster, uint8_t *buf,
    size_t cap, struct raft_entry *entry)
{
	struct raft_cluster check;
	int	 len;

	len = raft_cluster_encode(cluster, buf, cap);
	if (len < 0)
		return len;
	/* Refuse to bootstrap from a configuration we could not read back. */
	if (raft_cluster_decode(buf, (size_t)len, &check) != 0)
		return -RAFT_EINVAL;
	entry->term = 1;
	entry->index = 1;
	entry->type = RAFT_ENTRY_CONFIG;
	entry->len = (uint32_t)len;
	entry->data = buf;
	return 0;
}
