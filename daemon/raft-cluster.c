/* raft-cluster.c -- encoding of cluster configurations. */
#include "config.h"
#include "raft.h"
