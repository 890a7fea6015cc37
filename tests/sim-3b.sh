#!/bin/sh
# tests/sim-3b.sh -- 650 seeds of the 3-node chaos simulator (TAP).
# RAFTKV_SIM_SEEDS=N runs N seeds instead (soak); see docs/simulator.md.
exec ./tests/raftsim --tap --nodes 3 --seed 100001 \
    --seeds "${RAFTKV_SIM_SEEDS:-650}"
