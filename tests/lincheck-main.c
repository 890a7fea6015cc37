/*
 * lincheck-main.c -- `lincheck`: checks a history file written by
 * faults-client for linearizability per key and for durability, and
 * optionally a status-poll log for two leaders in one term.
 *
 * Exit status: 0 linearizable and nothing lost; 1 a violation; 2 unknown
 * (the budget ran out); 3 usage or unreadable input.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck.h"

#define MAX_TERMS_TRACKED	4096

struct term_leader {
	uint64_t	 term;
	uint64_t	 leader;
};

/* Prints the usage to fp. */
static void
usage(FILE *fp)
{
	fprintf(fp, "usage: lincheck [--max-steps N] [--max-ms MS] "
	    "[--status FILE] HISTORY\n"
	    "  checks HISTORY (faults-client format) per key for "
	    "linearizability,\n"
	    "  then that every acknowledged write survives in the final "
	    "reads;\n"
	    "  --status FILE: lines \"status node=N term=T role=R\" from "
	    "polling,\n"
	    "  checked for at most one leader per term.\n");
}

/*
 * Reads a status-poll log and counts terms with two leaders, printing
 * each.  Returns the count, or -1 when the file cannot be read.
 */
static int
check_leaders(const char *path)
{
	FILE			*fp;
	struct term_leader	*seen;
	size_t			 n = 0, i;
	char			*line = NULL, role[32];
	size_t			 cap = 0;
	uint64_t		 node, term;
	int			 bad = 0, polls = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "lincheck: %s: %s\n", path, strerror(errno));
		return -1;
	}
	seen = calloc(MAX_TERMS_TRACKED, sizeof(*seen));
	while (seen != NULL && getline(&line, &cap, fp) != -1) {
		char *p = strstr(line, "node=");

		if (strncmp(line, "status ", 7) != 0 || p == NULL ||
		    sscanf(p, "node=%" SCNu64 " term=%" SCNu64 " role=%31s",
		    &node, &term, role) != 3)
			continue;
		polls++;
		if (strcmp(role, "leader") != 0)
			continue;
		for (i = 0; i < n && seen[i].term != term; i++)
			;
		if (i == n) {
			if (n < MAX_TERMS_TRACKED) {
				seen[n].term = term;
				seen[n].leader = node;
				n++;
			}
		} else if (seen[i].leader != node) {
			printf("TWO LEADERS in term %" PRIu64 ": nodes %" PRIu64
			    " and %" PRIu64 "\n", term, seen[i].leader, node);
			bad++;
		}
	}
	printf("leaders: %d status polls, %zu terms with a leader, %d with "
	    "two\n", polls, n, bad);
	free(line);
	free(seen);
	fclose(fp);
	return bad;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "max-steps", required_argument, NULL, 's' },
		{ "max-ms", required_argument, NULL, 'm' },
		{ "status", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct lincheck_budget	 budget = { 200000000, 120000 };
	struct lincheck_history	 h;
	struct lincheck_result	 res;
	const char		*status_path = NULL;
	char			 err[256], *lost = NULL;
	size_t			 nlost;
	FILE			*fp;
	int			 c, rc = 3, leaders = 0;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			budget.max_steps = strtoull(optarg, NULL, 10);
			break;
		case 'm':
			budget.max_ms = strtoull(optarg, NULL, 10);
			break;
		case 'S':
			status_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 3;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 3;
	}
	lincheck_history_init(&h);
	memset(&res, 0, sizeof(res));
	if ((fp = fopen(argv[optind], "r")) == NULL) {
		fprintf(stderr, "lincheck: %s: %s\n", argv[optind],
		    strerror(errno));
		goto out;
	}
	if (lincheck_load(&h, fp, err, sizeof(err)) != 0) {
		fprintf(stderr, "lincheck: %s: %s\n", argv[optind], err);
		fclose(fp);
		goto out;
	}
	fclose(fp);
	if (lincheck_check(&h, &budget, &res) != 0) {
		fprintf(stderr, "lincheck: out of memory\n");
		goto out;
	}
	nlost = lincheck_durability(&h, &lost);
	if (status_path != NULL && (leaders = check_leaders(status_path)) < 0)
		goto out;
	printf("history: %zu ops (%zu ok, %zu failed, %zu indeterminate) on "
	    "%zu keys; %" PRIu64 " search steps\n", h.n, res.ops_ok,
	    res.ops_fail, res.ops_info, res.keys, res.steps);
	if (res.explain != NULL)
		printf("%s", res.explain);
	if (lost != NULL)
		printf("%s", lost);
	printf("linearizability: %s (%zu keys illegal, %zu unknown)\n",
	    lincheck_verdict_name(res.verdict), res.keys_illegal,
	    res.keys_unknown);
	printf("durability: %zu acknowledged writes lost or unchecked\n",
	    nlost);
	if (res.verdict == LINCHECK_ILLEGAL || nlost > 0 || leaders > 0)
		rc = 1;
	else if (res.verdict == LINCHECK_UNKNOWN)
		rc = 2;
	else
		rc = 0;
out:
	free(lost);
	lincheck_result_free(&res);
	lincheck_history_free(&h);
	return rc;
}
