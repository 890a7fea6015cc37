#!/bin/sh
# cli-shell.sh -- raftkvctl's interactive shell through a pseudo-terminal,
# against a live 3-node cluster: prompt, round trip, completion, history,
# Ctrl-C on a silent node, Ctrl-D.
srcdir=${srcdir:-.}
. "$srcdir/tests/cli-lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed"
[ -x "$RAFTKVD" ] || skip_all "raftkvd is not built"

start_cluster
if ! wait_leader >/dev/null; then
	echo "Bail out! no leader elected"
	exit 1
fi
# RAFTKVCTL may be relative (cli-lib.sh's default) or absolute (the
# harness's, from tests/daemon.am).
case $RAFTKVCTL in
/*)	CTL_PATH=$RAFTKVCTL ;;
*)	CTL_PATH=$PWD/${RAFTKVCTL#./} ;;
esac
timeout 120 python3 "$srcdir/tests/cli-pty.py" "$CTL_PATH" \
    "$ENDPOINTS" "$CLI_TMP"
