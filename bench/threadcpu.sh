#!/usr/bin/env bash
# CPU per created device, by thread kind: the workers' event loops
# ("loop") and their pool threads ("pool": the registry's writer), under
# the creation loads of benchmark 8 (iotda, A) and of benchmark 2
# (collections, B), A B A B, BENCH_DURATION seconds each (default 5).
# Ticks are read from /proc/<worker>/task/*/stat before and after each
# run. A diagnostic, not part of bench/run.sh; loopback only, bounded.
#
#   bench/threadcpu.sh          (MODULE_SO as bench/run.sh)

set -u

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

MODULE_SO=${MODULE_SO:-$ROOT/build/ngx_iot_module.so}
DUR=${BENCH_DURATION:-5}
TMP=$(mktemp -d /tmp/iot-threadcpu.XXXXXX)
chmod 0755 "$TMP"
D=$TMP/p
NEXT_PORT=${BENCH_PORT:-18990}
port=$(free_port)

finish() {
    [ -f "$D/logs/nginx.pid" ] && ngx_stop "$D" > /dev/null 2>&1
    rm -rf "$TMP"
}
trap finish EXIT

mk_iotda_prefix "$D" "$port" 512m
ngx_start "$D" > /dev/null || exit 1
cid=$(create_collection "$D") || exit 1
tok=$(admin_token "$D")
project=$(api "$D" GET "/collections/$cid" |
          grep -o '"teamId":"[0-9a-v]*"' | cut -d'"' -f4)
curl -s -o /dev/null -H "X-Auth-Token: $tok" \
    -H 'Content-Type: application/json' \
    --data-binary "{\"product_id\":\"bench\",\"name\":\"bench\",\"device_type\":\"meter\",\"protocol_type\":\"UDP\",\"data_format\":\"json\",\"app_id\":\"$cid\",\"service_capabilities\":[{\"service_id\":\"s\",\"properties\":[{\"property_name\":\"t\",\"data_type\":\"int\",\"default_value\":1}]}]}" \
    "http://127.0.0.1:$port/v5/iot/$project/products"
master=$(cat "$D/logs/nginx.pid")

# "kind tid ticks" of every thread of every worker
snap() {
    local w t k
    for w in $(pgrep -P "$master"); do
        for t in /proc/"$w"/task/*; do
            k=pool
            [ "$(basename "$t")" = "$w" ] && k=loop
            echo "$k $(basename "$t") $(awk '{ print $14 + $15 }' "$t/stat")"
        done
    done | sort -k2
}

run=1
for side in A B A B; do
    snap > "$TMP/s0"
    if [ $side = A ]; then
        wrk -t2 -c32 -d"${DUR}s" -s "$BENCH_DIR/lua/iotda-create.lua" \
            "http://127.0.0.1:$port" -- "$tok" "/v5/iot/$project/devices" \
            "$run" bench > "$TMP/w.txt"
    else
        wrk -t2 -c32 -d"${DUR}s" -s "$BENCH_DIR/lua/create.lua" \
            "http://127.0.0.1:$port" -- "$tok" "/collections/$cid/devices" \
            "$run" > "$TMP/w.txt"
    fi
    run=$((run + 1))
    snap > "$TMP/s1"
    n=$(rv "$TMP/w.txt" s201)
    echo "$side: created $n ($(rv "$TMP/w.txt" created_per_s)/s)"
    join -j2 "$TMP/s0" "$TMP/s1" | awk -v n="${n:-1}" -v hz="$(getconf CLK_TCK)" '
        { t[$2] += $5 - $3 }
        END { for (k in t) printf "  %-5s %5d ticks  %6.1f us per device\n",
                                  k, t[k], t[k] * 1e6 / hz / n }'
done
