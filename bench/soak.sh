#!/usr/bin/env bash
# The soak test (issue 12): SOAK_MINUTES (default 10) of REST writes and
# reads in every dialect, UDP uplinks from RADIUS-attached devices, SenML
# packs and WebSocket streams against one nginx on loopback, with
# `nginx -s reload` every SOAK_RELOAD_S (30) and `kill -9` of a worker
# every SOAK_KILL_S (120; the first at half the run when it is shorter);
# then the checks of bench/soak.pl. Not part of the suite or CI.
#
#   bench/soak.sh                    the full run (10 minutes + checks)
#   SOAK_MINUTES=1 bench/soak.sh     the short mode, to check that it works
#
# Needs the built module (./build.sh build), root (nginx's workers run as
# nobody, as in the suite), radclient (freeradius-utils) and sqlite3.
# Results: bench/SOAK.md (SOAK_RESULTS), raw data in bench/out/soak-<stamp>/
# (SOAK_OUT). Exit status 0 when every check passed.

set -u -o pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
cd "$ROOT" || exit 1
if [ ! -f "${IOT_TEST_MODULE:-build/ngx_iot_module.so}" ]; then
    echo "soak: build the module first (./build.sh build)" >&2
    exit 1
fi
exec perl "$BENCH_DIR/soak.pl"
