#!/bin/sh
# tests/sim-7.sh -- 200 seeds of the 7-node chaos simulator (TAP).
# RAFTKV_SIM_SEEDS=N runs N seeds instead (soak); see docs/simulator.md.
exec ./tests/raftsim --tap --nodes 7 --seed 300001 \
    --seeds "${RAFTKV_SIM_SEEDS:-200}"
