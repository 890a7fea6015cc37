#!/bin/sh
# tests/sim-5.sh -- 500 seeds of the 5-node chaos simulator (TAP).
# RAFTKV_SIM_SEEDS=N runs N seeds instead (soak); see docs/simulator.md.
exec ./tests/raftsim --tap --nodes 5 --seed 200001 \
    --seeds "${RAFTKV_SIM_SEEDS:-500}"
