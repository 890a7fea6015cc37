#!/bin/sh
# tests/sim-3.sh -- 650 seeds of the 3-node chaos simulator (TAP).
# RAFTKV_SIM_SEEDS=N runs N seeds instead (soak); see docs/simulator.md.
exec ./tests/raftsim --tap --nodes 3 --seed 1 \
    --seeds "${RAFTKV_SIM_SEEDS:-650}"
