/* raft.c -- the pure Raft core (in progress). */
#include "config.h"
#include "raft.h"
