#!/usr/bin/env bash
# nginx-iot benchmarks. Entry point (./build.sh bench calls it after the
# build). Installs nothing; needs wrk, sqlite3, curl, perl and the built
# module. See bench/README.md for what is measured and the knobs.
#
#   bench/run.sh                 all six benchmarks (~12 minutes)
#   BENCH_ONLY="1 3" bench/run.sh
#   BENCH_ONLY="4 5 6" bench/run.sh   the data plane only (~10 minutes)
#   BENCH_QUICK=1 bench/run.sh   smoke run: small numbers, short runs
#
# Benchmarks 4-6 also need gcc and radclient (freeradius-utils); 5 needs
# nchan (libnginx-mod-nchan) and mosquitto; perf (linux-perf) is used when
# it is there.
#
# Results: the generated part of bench/RESULTS.md (between the GENERATED
# markers; the notes around it are kept), raw output in bench/out/<stamp>/.

set -u -o pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

MODULE_SO=${MODULE_SO:-$ROOT/build/ngx_iot_module.so}
DUR=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
ZONE=${BENCH_ZONE:-512m}
B1_DEVICES=${B1_DEVICES:-100000}
B1_PATHS=${B1_PATHS:-1000}
B1_WRK=${B1_WRK:--t2 -c50}
B2_CREATE_WRK=${B2_CREATE_WRK:--t2 -c32}
# the creation load that runs alongside the reads is paced (ms between the
# requests of each connection) so that it runs at B2_MIXED_SHARE of the
# saturated rate of the `normal` run (the target asks for at least 0.8):
# short calibration runs find the pace; B2_MIXED_PACE fixes it instead
B2_MIXED_SHARE=${B2_MIXED_SHARE:-0.9}
B2_MIXED_PACE=${B2_MIXED_PACE:-}
B2_CAL_S=${B2_CAL_S:-3}
B2_READ_WRK=${B2_READ_WRK:--t1 -c10}
B2_READ_DELAY_MS=${B2_READ_DELAY_MS:-2}
# 1: each read connection waits a random 0..2*B2_READ_DELAY_MS ms (whole
# ms, mean B2_READ_DELAY_MS) instead of exactly that long: with one fixed
# wait the connections answered together ask again together, and each
# read of such a burst waits for the others of its own client
B2_READ_SPREAD=${B2_READ_SPREAD:-1}
# reads alone, then with creation: this many times in turn
B2_PAIRS=${B2_PAIRS:-2}
# 1: benchmark 2's nginx with iot_event_loop_realtime on, and its read
# client in the same class (chrt -r 1): on a 2-core machine the clients
# share the CPUs with nginx, and a client elsewhere would not wait for one
# (bench/README.md); 0: both in the normal class
B2_REALTIME=${B2_REALTIME:-1}
B2_READ_PRIO=()
if [ "$B2_REALTIME" = 1 ]; then
    if [ "$(id -u)" = 0 ] && command -v chrt > /dev/null; then
        B2_READ_PRIO=(chrt -r 1)
    else
        B2_REALTIME=0
    fi
fi
B3_DEVICES=${B3_DEVICES:-1000000}
# benchmarks 4 to 6 (the data plane), see bench/README.md
B4_DEVICES=${B4_DEVICES:-1000}
B4_SIZE=${B4_SIZE:-64}
B4_LADDER=${B4_LADDER:-10000 20000 30000 40000 50000 60000 70000 80000 100000 120000 150000 200000}
B4_STEP_S=${B4_STEP_S:-4}
B4_P50_OK_MS=${B4_P50_OK_MS:-50}
B4_HALF_S=${B4_HALF_S:-15}
B4_LAT_RATE=${B4_LAT_RATE:-10000}
B4_LAT_S=${B4_LAT_S:-10}
B4_LAT_RUNS=${B4_LAT_RUNS:-2}
B4_RCVBUF=${B4_RCVBUF-4m}
B4_PROFILE=${B4_PROFILE:-1}
B5_CONNS=${B5_CONNS:-4}
B5_WINDOW=${B5_WINDOW:-64}
B6_CONNS=${B6_CONNS:-10000}
B6_HOLD_S=${B6_HOLD_S:-60}
B6_SHORT=${B6_SHORT:-1s}
# benchmark 9: CoAP through the sidecar
B9_DEVICES=${B9_DEVICES:-1000}
B9_WINDOW=${B9_WINDOW:-1}
B9_SIZE=${B9_SIZE:-64}
B9_DTLS_PAR=${B9_DTLS_PAR:-4}
# benchmark 7: the things dialect
B7_DEVICES=${B7_DEVICES:-1000000}
B7_LIST_S=${B7_LIST_S:-5}
B7_ROUNDS=${B7_ROUNDS:-3}
B7_WRK=${B7_WRK:--t1 -c4}
B7_SORTS=${B7_SORTS:-id createdAt -createdAt modifiedAt -modifiedAt name -name}
B7_SENML_DEVICES=${B7_SENML_DEVICES:-50}
B7_SENML_WRK=${B7_SENML_WRK:--t2 -c32}
# benchmark 8: the iotda dialect
B8_WRK=${B8_WRK:--t2 -c32}
B8_GET_WRK=${B8_GET_WRK:--t2 -c50}
B8_PATHS=${B8_PATHS:-200}
ALL="1 2 3 4 5 6 7 8 9 10"
# benchmark 10: uplink to outputs (webhook, MQTT)
B10_LADDER=${B10_LADDER:-2000 5000 10000 20000 30000 40000 60000 80000}
B10_STEP_S=${B10_STEP_S:-4}
B10_HALF_S=${B10_HALF_S:-15}
B10_P50_OK_MS=${B10_P50_OK_MS:-1000}
ONLY=${BENCH_ONLY:-$ALL}
RESULTS=${BENCH_RESULTS:-$BENCH_DIR/RESULTS.md}

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    DUR=${BENCH_DURATION:-3}
    WARMUP=1
    B1_DEVICES=${B1_DEVICES_QUICK:-5000}
    B3_DEVICES=${B3_DEVICES_QUICK:-50000}
    B4_STEP_S=${B4_STEP_S_QUICK:-2}
    B4_LADDER=${B4_LADDER_QUICK:-10000 30000 60000}
    B4_HALF_S=3
    B4_LAT_S=3
    B4_LAT_RUNS=1
    B6_CONNS=${B6_CONNS_QUICK:-1000}
    B6_HOLD_S=${B6_HOLD_S_QUICK:-5}
    B7_DEVICES=${B7_DEVICES_QUICK:-50000}
    B7_LIST_S=${B7_LIST_S_QUICK:-2}
    B10_LADDER=${B10_LADDER_QUICK:-2000 10000}
    B10_HALF_S=3
fi

# a list page run is never longer than the other runs
[ "$DUR" -lt "$B7_LIST_S" ] && B7_LIST_S=$DUR

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${BENCH_OUT:-$BENCH_DIR/out/$STAMP}
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/iot-bench.XXXXXX)
chmod 0755 "$TMP"
exec 2> >(tee -a "$OUT/run.log" >&2)

declare -A R
R[date]=$(date -u '+%Y-%m-%d %H:%M UTC')

cleanup() {
    local d
    for d in "$TMP"/*/; do
        [ -d "$d" ] || continue
        ngx_stop "${d%/}"
        mosq_stop "${d%/}"
        [ -f "${d}logs/error.log" ] &&
            cp "${d}logs/error.log" "$OUT/$(basename "$d")-error.log"
    done
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        log "kept prefixes in $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# fail BENCH MESSAGE: record why a benchmark stopped
fail() {
    R[$1_error]=$2
    log "benchmark $1 FAILED: $2"
    return 1
}

# problems BENCH DIR: remember worrying error log lines of a prefix
problems() {
    local p
    p=$(log_problems "$2")
    R[$1_log_$(basename "$2")]=$p
    if [ -f "$2/anomalies" ]; then
        R[$1_anomalies]="${R[$1_anomalies]:-}$(tr '\n' ';' < "$2/anomalies")"
    fi
    grep -E '\[(error|crit|alert|emerg)\]|exited on signal' \
        "$2/logs/error.log" 2>/dev/null | head -n 20 \
        > "$OUT/$(basename "$2")-problems.txt"
}

# wrk_cmd_str ARGS... -> the command as text, the token replaced by $TOKEN
wrk_cmd_str() {
    local a s=
    for a in "$@"; do
        case $a in
            "$CUR_TOKEN") a='$TOKEN' ;;
            "$BENCH_DIR"/*) a=bench/${a#"$BENCH_DIR"/} ;;
            "$OUT"/*) a=bench/out/STAMP/${a#"$OUT"/} ;;
        esac
        s="$s $a"
    done
    echo "${s# }"
}

# perf_start DIR NAME SECONDS [PID...]: record the profile of the workers
# (and of the PIDs) in the background
PERF_PID=
perf_start() {
    PERF_PID=
    [ "${BENCH_PROFILE:-0}" = 1 ] || return 0
    command -v perf >/dev/null || return 0
    local pids
    pids=$(echo $(worker_pids "$1") "${@:4}" | tr ' ' ',' | sed 's/,$//')
    [ -n "$pids" ] || return 0
    perf record -q ${BENCH_PROFILE_CG:--g} -p "$pids" -o "$OUT/perf-$2.data" -- sleep "$3" \
        > "$OUT/perf-$2.log" 2>&1 &
    PERF_PID=$!
}

perf_finish() {
    [ -n "$PERF_PID" ] || return 0
    wait "$PERF_PID" 2>/dev/null
    perf report -i "$OUT/perf-$1.data" --stdio --no-children -g none \
        --sort dso,symbol --percent-limit 0.3 2>/dev/null |
        grep -v '^$' > "$OUT/perf-$1.txt"
    perf report -i "$OUT/perf-$1.data" --stdio --no-children \
        --sort dso,symbol --percent-limit 2 2>/dev/null |
        grep -v '^$' | head -n 400 > "$OUT/perf-$1-callgraph.txt"
    R[profile_$1]=bench/out/$STAMP/perf-$1.txt
    PERF_PID=
}

# ---------------------------------------------------------------------------
# 1. GET one device, 100,000 registered, against stock nginx `return 200`

bench1() {
    local P=$TMP/b1-iot Q=$TMP/b1-ref cid tok n=$B1_DEVICES nd ls used tot
    local code size sz p port_a port_b i url_a url_b f cmd ratio side url
    local sum_a=0 sum_b=0

    mk_iot_prefix "$P" "$(free_port)" normal "$ZONE"
    ngx_start "$P" > /dev/null || { fail b1 "nginx with the module did not start"; return 1; }
    cid=$(create_collection "$P") || { fail b1 "POST /collections failed"; return 1; }
    ngx_stop "$P"

    log "b1: bulk loading $n devices"
    R[b1_devices]=$n
    R[b1_load_method]="sqlite3 CLI bulk load (one transaction, recursive CTE)"
    R[b1_load_s]=$(bulk_load "$P" "$n") || { fail b1 "bulk load failed"; return 1; }
    ngx_start "$P" > /dev/null || { fail b1 "nginx did not start on the loaded store"; return 1; }
    read -r nd ls used tot < <(notice "$P")
    R[b1_loaded]=${nd:-?}
    if [ "${nd:-}" != "$n" ]; then
        fail b1 "start notice says ${nd:-nothing} devices, expected $n"
        return 1
    fi
    tok=$(admin_token "$P")
    CUR_TOKEN=$tok
    port_a=$(cat "$P/port")

    device_paths "$P" "$cid" "$B1_PATHS" "$OUT/b1-paths.txt" ||
        { fail b1 "could not list device ids of the collection"; return 1; }
    R[b1_paths]=$(wc -l < "$OUT/b1-paths.txt")
    code=$(curl -s -o "$OUT/b1-device.json" -w '%{http_code}' \
           -H "X-API-Token: $tok" \
           "http://127.0.0.1:$port_a$(head -n1 "$OUT/b1-paths.txt")")
    if [ "$code" != 200 ]; then
        fail b1 "GET device: $code $(head -c 200 "$OUT/b1-device.json")"
        return 1
    fi
    size=$(stat -c %s "$OUT/b1-device.json")
    R[b1_body_bytes]=$size
    # every device of the rotation should have the same body size
    R[b1_size_mismatch]=0
    for p in $(shuf -n 20 "$OUT/b1-paths.txt"); do
        sz=$(curl -s -o /dev/null -w '%{size_download}' \
             -H "X-API-Token: $tok" "http://127.0.0.1:$port_a$p")
        [ "$sz" = "$size" ] || R[b1_size_mismatch]=$((R[b1_size_mismatch] + 1))
    done

    # the full streamed listing of 100,000 devices, once (extra figure)
    local lsec
    read -r code sz lsec < <(curl -s -o /dev/null \
        -w '%{http_code} %{size_download} %{time_total}\n' \
        -H "X-API-Token: $tok" "http://127.0.0.1:$port_a/collections/$cid/devices")
    R[b1_list]="$code, $sz bytes"
    R[b1_list_s]=$lsec

    mk_ref_prefix "$Q" "$(free_port)" "$OUT/b1-device.json" ||
        { fail b1 "reference config"; return 1; }
    ngx_start "$Q" > /dev/null || { fail b1 "reference nginx did not start"; return 1; }
    port_b=$(cat "$Q/port")
    sz=$(curl -s -o /dev/null -w '%{size_download}' "http://127.0.0.1:$port_b/x")
    R[b1_ref_body_bytes]=$sz

    url_a=http://127.0.0.1:$port_a
    url_b=http://127.0.0.1:$port_b
    log "b1: warm-up ${WARMUP}s each"
    # shellcheck disable=SC2086
    wrk $B1_WRK -d"${WARMUP}s" -s "$BENCH_DIR/lua/get.lua" "$url_a" -- \
        "$tok" "$OUT/b1-paths.txt" > "$OUT/b1-warmup-A.txt" 2>&1
    # shellcheck disable=SC2086
    wrk $B1_WRK -d"${WARMUP}s" -s "$BENCH_DIR/lua/get.lua" "$url_b" -- \
        "$tok" "$OUT/b1-paths.txt" > "$OUT/b1-warmup-B.txt" 2>&1

    # A B, then B A: a machine that drifts faster or slower over the four
    # runs weighs on both sides alike
    for i in 1 2; do
        for side in $([ $i = 1 ] && echo A B || echo B A); do
            if [ $side = A ]; then url=$url_a; else url=$url_b; fi
            f=$OUT/b1-$side$i.txt
            # shellcheck disable=SC2086
            cmd=(wrk $B1_WRK -d"${DUR}s" -s "$BENCH_DIR/lua/get.lua" "$url"
                 -- "$tok" "$OUT/b1-paths.txt")
            [ $side = A ] && R[b1_cmd]=$(wrk_cmd_str "${cmd[@]}")
            log "b1: run $side$i: $(wrk_cmd_str "${cmd[@]}")"
            [ $side$i = A1 ] && perf_start "$P" b1-get "$DUR"
            "${cmd[@]}" > "$f" 2>&1
            [ $side$i = A1 ] && perf_finish b1-get
            R[b1_${side}${i}_rps]=$(rv "$f" rps)
            R[b1_${side}${i}_p99]=$(rv "$f" lat_p99_us)
            R[b1_${side}${i}_non2xx]=$(rv "$f" non2xx)
            R[b1_${side}${i}_sockerr]=$(( $(rv "$f" err_connect) + $(rv "$f" err_read) \
                + $(rv "$f" err_write) + $(rv "$f" err_timeout) ))
        done
        R[b1_ratio$i]=$(calc "${R[b1_A${i}_rps]} / ${R[b1_B${i}_rps]}")
    done
    sum_a=$(calc "(${R[b1_A1_rps]} + ${R[b1_A2_rps]}) / 2" %.1f)
    sum_b=$(calc "(${R[b1_B1_rps]} + ${R[b1_B2_rps]}) / 2" %.1f)
    R[b1_A_mean]=$sum_a
    R[b1_B_mean]=$sum_b
    ratio=$(calc "$sum_a / $sum_b")
    R[b1_ratio]=$ratio
    R[b1_pass]=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.9) ? "PASS" : "FAIL" }')
    R[b1_ref_cmd]=$(wrk_cmd_str wrk $B1_WRK -d"${DUR}s" -s "$BENCH_DIR/lua/get.lua" \
        "$url_b" -- "$tok" "$OUT/b1-paths.txt")
    ngx_stop "$Q"
    ngx_stop "$P"
    problems b1 "$P"
    problems b1 "$Q"
    R[b1_done]=1
}

# ---------------------------------------------------------------------------
# 2. Device creation over HTTP; with a concurrent read load; durability

# b2_create DIR CID RUNID NAME: one creation run; results under b2_NAME_*
b2_create() {
    local P=$1 cid=$2 runid=$3 name=$4 pace=${5:-0} f cmd
    f=$OUT/b2-$name.txt
    # shellcheck disable=SC2086
    cmd=(wrk $B2_CREATE_WRK -d"${DUR}s" -s "$BENCH_DIR/lua/create.lua"
         "http://127.0.0.1:$(cat "$P/port")" -- "$CUR_TOKEN"
         "/collections/$cid/devices" "$runid" "$pace")
    R[b2_${name}_cmd]=$(wrk_cmd_str "${cmd[@]}")
    log "b2: $name: ${R[b2_${name}_cmd]}"
    "${cmd[@]}" > "$f" 2>&1
    b2_collect "$name" "$f"
}

b2_collect() {
    local name=$1 f=$2 k
    for k in s201 sent answered created_per_s non201 non201_by_status \
             first_error lat_p50_us lat_p99_us; do
        R[b2_${name}_$k]=$(rv "$f" $k)
    done
    R[b2_${name}_sockerr]=$(( $(rv "$f" err_connect) + $(rv "$f" err_read) \
        + $(rv "$f" err_write) + $(rv "$f" err_timeout) ))
}

# b2_durable DIR CID NAME PRE: stop, count rows, restart, compare with the
# 201s of run NAME (PRE devices existed before it). Leaves nginx stopped
# and the row count in B2_DB.
b2_durable() {
    local P=$1 cid=$2 name=$3 pre=$4 db nd ls used tot listed lo hi
    ngx_stop "$P"
    db=$(db_count "$P")
    ngx_start "$P" > /dev/null || { fail b2 "restart after $name failed"; return 1; }
    read -r nd ls used tot < <(notice "$P")
    listed=$(count_listed "$P" "$cid")
    ngx_stop "$P"
    lo=$((pre + R[b2_${name}_s201]))
    hi=$((lo + R[b2_${name}_sent] - R[b2_${name}_answered]))
    R[b2_${name}_pre]=$pre
    R[b2_${name}_db]=$db
    R[b2_${name}_loaded]=${nd:-?}
    R[b2_${name}_listed]=$listed
    R[b2_${name}_expect]="$lo..$hi"
    if [ "$db" -ge "$lo" ] && [ "$db" -le "$hi" ] &&
       [ "${nd:-x}" = "$db" ] && [ "$listed" = "$db" ]; then
        R[b2_${name}_durable]=PASS
    else
        R[b2_${name}_durable]=FAIL
    fi
    B2_DB=$db
}

# b2_pace DIR CID: find the pace (ms between the requests of a creation
# connection) at which creation runs at B2_MIXED_SHARE of the saturated
# `normal` rate while the read load runs too (as in the measured run), by
# short runs that each correct the pace by the rate they reached; sets
# B2_PACE and B2_CAL (the runs, for the report)
b2_pace() {
    local P=$1 cid=$2 target pace conns i f got rpid
    target=$(awk -v s="${R[b2_normal_created_per_s]}" -v k="$B2_MIXED_SHARE" \
        'BEGIN { printf "%.0f", s * k }')
    conns=$(sed -n 's/.*-c *\([0-9]*\).*/\1/p' <<< "$B2_CREATE_WRK")
    conns=${conns:-32}
    # a closed loop with a wait: rate = conns / (wait + latency)
    pace=$(awk -v c="$conns" -v t="$target" 'BEGIN { p = c * 1000 / t; printf "%.2f", p }')
    B2_CAL=""
    for i in 1 2 3 4; do
        f=$OUT/b2-cal-$i.txt
        # shellcheck disable=SC2086
        WRK_DELAY_MS="$B2_READ_DELAY_MS" "${B2_READ_PRIO[@]}" \
            wrk $B2_READ_WRK -d"${B2_CAL_S}s" \
            -s "$BENCH_DIR/lua/get.lua" "http://127.0.0.1:$(cat "$P/port")" \
            -- "$CUR_TOKEN" "$OUT/b2-paths.txt" > "$OUT/b2-cal-reads-$i.txt" 2>&1 &
        rpid=$!
        # shellcheck disable=SC2086
        wrk $B2_CREATE_WRK -d"${B2_CAL_S}s" -s "$BENCH_DIR/lua/create.lua" \
            "http://127.0.0.1:$(cat "$P/port")" -- "$CUR_TOKEN" \
            "/collections/$cid/devices" $((3 + i)) "$pace" > "$f" 2>&1
        wait "$rpid"
        got=$(rv "$f" created_per_s)
        B2_CAL="$B2_CAL${B2_CAL:+, }pace $pace ms: ${got:-?}/s"
        log "b2: calibration $i: pace $pace ms -> ${got:-?}/s (want $target/s)"
        [ -n "$got" ] || break
        awk -v g="$got" -v t="$target" 'BEGIN { exit !(g >= t * 0.97 && g <= t * 1.08) }' && break
        pace=$(awk -v p="$pace" -v g="$got" -v t="$target" -v c="$conns" \
            'BEGIN { lat = c * 1000 / g - p; if (lat < 0) lat = 0;
                     p = c * 1000 / t - lat; if (p < 0) p = 0; printf "%.2f", p }')
    done
    B2_PACE=$pace
}

# b2_reads NAME FILE: one read run's figures under b2_read_NAME_*
b2_reads() {
    local name=$1 f=$2 k
    R[b2_read_${name}_rps]=$(rv "$f" rps)
    for k in p50 p99 max; do
        R[b2_read_${name}_$k]=$(rv "$f" lat_${k}_us)
    done
    R[b2_read_${name}_non2xx]=$(rv "$f" non2xx)
}

# b2_mean FORMAT PREFIX SUFFIX: the mean of R[PREFIX<i>SUFFIX] over the
# pairs' runs (those that have a value)
b2_mean() {
    local fmt=$1 pre=$2 suf=$3 i
    for i in $(seq 1 "$B2_PAIRS"); do
        echo "${R[$pre$i$suf]:-}"
    done | awk -v f="$fmt" '$1 != "" { s += $1; n++ } END { if (n) printf f, s / n }'
}

bench2() {
    local P cid sync pre f g k cmd_r i
    for sync in normal full; do
        P=$TMP/b2-$sync
        IOT_MAIN_EXTRA=$([ "$B2_REALTIME" = 1 ] && echo "iot_event_loop_realtime on;") \
            mk_iot_prefix "$P" "$(free_port)" "$sync" "$ZONE"
        ngx_start "$P" > /dev/null || { fail b2 "nginx ($sync) did not start"; return 1; }
        CUR_TOKEN=$(admin_token "$P")
        cid=$(create_collection "$P") || { fail b2 "POST /collections failed"; return 1; }
        [ $sync = normal ] && perf_start "$P" b2-create "$DUR"
        b2_create "$P" "$cid" 1 "$sync"
        [ $sync = normal ] && perf_finish b2-create
        b2_durable "$P" "$cid" "$sync" 0 || return 1
        pre=$B2_DB

        [ $sync = normal ] || { problems b2 "$P"; continue; }

        # the same creation load, paced, with a concurrent GET load
        ngx_start "$P" > /dev/null || { fail b2 "restart failed"; return 1; }
        device_paths "$P" "$cid" 1000 "$OUT/b2-paths.txt" ||
            { fail b2 "could not list devices"; return 1; }
        if [ -n "$B2_MIXED_PACE" ]; then
            B2_PACE=$B2_MIXED_PACE
            B2_CAL="fixed by B2_MIXED_PACE"
        else
            b2_pace "$P" "$cid"
            # the calibration created devices too: count them in
            ngx_stop "$P"
            pre=$(db_count "$P")
            ngx_start "$P" > /dev/null || { fail b2 "restart failed"; return 1; }
        fi
        R[b2_pace]=$B2_PACE
        R[b2_cal]=$B2_CAL
        # shellcheck disable=SC2086
        cmd_r=(env WRK_DELAY_MS="$B2_READ_DELAY_MS" WRK_DELAY_SPREAD="$B2_READ_SPREAD"
               "${B2_READ_PRIO[@]}"
               wrk $B2_READ_WRK -d"${DUR}s" --latency -s "$BENCH_DIR/lua/get.lua"
               "http://127.0.0.1:$(cat "$P/port")" -- "$CUR_TOKEN" "$OUT/b2-paths.txt")
        R[b2_read_cmd]="WRK_DELAY_MS=$B2_READ_DELAY_MS WRK_DELAY_SPREAD=$B2_READ_SPREAD $(wrk_cmd_str "${cmd_r[@]:3}")"
        R[b2_realtime]=$B2_REALTIME
        R[b2_pairs]=$B2_PAIRS
        # the reads alone, then with creation, B2_PAIRS times in turn: the
        # ratio is that of the means, so that a slower stretch of a shared
        # machine falls on both sides
        for i in $(seq 1 "$B2_PAIRS"); do
            if [ "$i" -gt 1 ]; then
                ngx_start "$P" > /dev/null || { fail b2 "restart failed"; return 1; }
            fi
            g=$OUT/b2-read-alone$i.txt
            log "b2: reads alone ($i): ${R[b2_read_cmd]}"
            "${cmd_r[@]}" > "$g" 2>&1
            b2_reads alone$i "$g"

            g=$OUT/b2-read-mixed$i.txt
            log "b2: creation + reads together ($i)"
            "${cmd_r[@]}" > "$g" 2>&1 &
            local rpid=$!
            b2_create "$P" "$cid" $((7 + i)) mixed$i "$B2_PACE"
            wait "$rpid"
            b2_reads mixed$i "$g"
            b2_durable "$P" "$cid" mixed$i "$pre" || return 1
            pre=$B2_DB
        done
        for g in alone mixed; do
            for k in rps p50 p99 max non2xx; do
                R[b2_read_${g}_$k]=$(b2_mean %.0f "b2_read_$g" "_$k")
            done
        done
        # the targets are ratios within this run: creation alongside the
        # reads at >= 0.8 of its saturated rate, read p99 <= 2x alone
        R[b2_mixed_created_per_s]=$(b2_mean %.1f b2_mixed _created_per_s)
        R[b2_mixed_share]=$(awk -v m="${R[b2_mixed_created_per_s]:-0}" \
            -v s="${R[b2_normal_created_per_s]:-0}" \
            'BEGIN { if (s > 0) printf "%.3f", m / s }')
        R[b2_read_ratio]=$(awk -v m="${R[b2_read_mixed_p99]:-}" \
            -v a="${R[b2_read_alone_p99]:-}" \
            'BEGIN { if (a > 0 && m != "") printf "%.2f", m / a }')
        R[b2_read_pass]=$(awk -v r="${R[b2_read_ratio]:-}" -v k="${R[b2_mixed_share]:-0}" \
            'BEGIN { print (r != "" && r <= 2 && k >= 0.8) ? "PASS" : "FAIL" }')
        problems b2 "$P"
    done
    R[b2_full_ratio]=$(awk -v f="${R[b2_full_created_per_s]:-0}" \
        -v n="${R[b2_normal_created_per_s]:-0}" \
        'BEGIN { if (n > 0) printf "%.3f", f / n }')
    R[b2_full_pass]=$(awk -v r="${R[b2_full_ratio]:-0}" \
        'BEGIN { print (r >= 0.5) ? "PASS" : "FAIL" }')
    R[b2_done]=1
}

# ---------------------------------------------------------------------------
# 3. Start with 1,000,000 devices in the store; shared memory per device

bench3() {
    local P=$TMP/b3 n=$B3_DEVICES cid nd ls used tot i wall code

    mk_iot_prefix "$P" "$(free_port)" normal "$ZONE"
    ngx_start "$P" > /dev/null || { fail b3 "nginx did not start"; return 1; }
    cid=$(create_collection "$P") || { fail b3 "POST /collections failed"; return 1; }
    ngx_stop "$P"
    # baseline: the same store with no device
    wall=$(ngx_start "$P") || { fail b3 "restart failed"; return 1; }
    read -r nd ls used tot < <(notice "$P")
    R[b3_base_wall]=$wall
    R[b3_base_devices]=${nd:-?}
    R[b3_base_load_s]=${ls:-?}
    R[b3_base_used]=${used:-?}
    R[b3_zone]=${tot:-?}
    R[b3_base_notice]=$(notice_raw "$P")
    ngx_stop "$P"

    log "b3: bulk loading $n devices"
    R[b3_devices]=$n
    R[b3_load_s]=$(bulk_load "$P" "$n") || { fail b3 "bulk load failed"; return 1; }
    R[b3_db_bytes]=$(stat -c %s "$P/var/iot.db")

    for i in 1 2; do
        wall=$(ngx_start "$P") || { fail b3 "start $i with $n devices failed"; return 1; }
        read -r nd ls used tot < <(notice "$P")
        R[b3_${i}_wall]=$wall
        R[b3_${i}_devices]=${nd:-?}
        R[b3_${i}_load_s]=${ls:-?}
        R[b3_${i}_used]=${used:-?}
        R[b3_${i}_notice]=$(notice_raw "$P")
        R[b3_${i}_rss]=$(for p in $(cat "$P/master.pid") $(worker_pids "$P"); do
            awk '/^VmRSS/ { printf "%.0f\n", $2 / 1024 }' "/proc/$p/status"; done |
            paste -sd, | sed 's/,/, /g')
        # sanity: a device answers
        device_paths "$P" "$cid" 1 "$OUT/b3-path.txt" &&
            code=$(api "$P" GET "$(cat "$OUT/b3-path.txt")" | tail -n1)
        R[b3_${i}_get]=${code:-none}
        ngx_stop "$P"
    done
    if [ "${R[b3_1_devices]}" = "$n" ] && [ "${R[b3_base_used]}" != "?" ] &&
       [ "${R[b3_1_used]}" != "?" ]; then
        R[b3_per_device]=$(calc "(${R[b3_1_used]} - ${R[b3_base_used]}) / $n" %.1f)
    else
        R[b3_per_device]=?
    fi
    problems b3 "$P"
    R[b3_done]=1
}

# ---------------------------------------------------------------------------
# 4-6. The data plane: UDP uplink -> history + WebSocket fan-out; the same
# fan-out through nchan and mosquitto; 10,000 idle WebSocket subscribers.
# The load generator, the subscriber and the idle clients are C programs in
# bench/dataplane/, compiled into $OUT/bin by dp_setup.

DPB=
DP_RUN=0
DP_SECRET=bench-radius-secret

# dp_setup: compile the tools once per run
dp_setup() {
    local missing
    [ -n "$DPB" ] && return 0
    missing=$(need_dp_tools)
    if [ -n "$missing" ]; then
        echo "missing tools: $missing (apt-get install -y gcc freeradius-utils)"
        return 1
    fi
    dp_build "$OUT/bin" || { echo "bench/dataplane/*.c do not compile"; return 1; }
    DPB=$OUT/bin
}

# dp_iot_prefix DIR [KEEPALIVE]: a data-plane prefix, started, with one
# collection and B4_DEVICES devices attached over RADIUS. Sets DP_CID,
# DP_TOKEN, DP_HTTP, DP_UDP, DP_DEVFILE. Returns 1 with a reason on stdout.
dp_iot_prefix() {
    local P=$1 ka=${2:-} n=$B4_DEVICES sessions
    take_ports 3
    DP_RCVBUF=$B4_RCVBUF mk_dp_prefix "$P" "${PORTS[0]}" "${PORTS[1]}" \
        "${PORTS[2]}" "$DP_SECRET" "$ka"
    ngx_start "$P" > /dev/null || { echo "nginx with the module did not start"; return 1; }
    DP_CID=$(create_collection "$P") || { echo "POST /collections failed"; return 1; }
    ngx_stop "$P"
    DP_DEVFILE=$P/devices.txt
    dp_devices "$P" "$n" "$DP_DEVFILE" || { echo "bulk load of $n devices failed"; return 1; }
    ngx_start "$P" > /dev/null || { echo "nginx did not start on the loaded store"; return 1; }
    sessions=$(dp_attach "$P" "$DP_SECRET" "$DP_DEVFILE")
    if [ "${sessions:-0}" != "$n" ]; then
        echo "RADIUS attach: ${sessions:-no} sessions for $n devices ($(tail -n 2 "$P/attach.out" | tr '\n' ' '))"
        return 1
    fi
    DP_TOKEN=$(admin_token "$P")
    CUR_TOKEN=$DP_TOKEN
    DP_HTTP=$(cat "$P/port")
    DP_UDP=$(cat "$P/udp_port")
    DP_IOT_DIR=$P
}

# dp_step SYS RATE SECONDS TAG: one paced run of dpload into SYS (iot,
# nchan, mosq) with one dpsub subscribed; results under R[TAG_*], and
# R[TAG_pass] = PASS when the rate was sustained (see bench/README.md)
dp_step() {
    local sys=$1 rate=$2 secs=$3 tag=$4 run f g ready sp i d0=0 d1=0 k
    local sub load ok lost h0= h1= hl=0
    DP_RUN=$((DP_RUN + 1))
    run=$DP_RUN
    f=$OUT/$tag-load.txt
    g=$OUT/$tag-sub.txt
    ready=$TMP/ready.$run
    case $sys in
        iot)
            sub=(-m ws -a "127.0.0.1:$DP_HTTP" -P "/collections/$DP_CID/from"
                 -H "X-API-Token: $DP_TOKEN" -F iot)
            load=(-m udp -a "127.0.0.1:$DP_UDP" -f "$DP_DEVFILE") ;;
        nchan)
            sub=(-m ws -a "127.0.0.1:$DP_NCHAN" -P "/sub?id=r$run" -F raw)
            load=(-m http -a "127.0.0.1:$DP_NCHAN" -P "/pub?id=r$run"
                  -c "$B5_CONNS" -w "$B5_WINDOW") ;;
        mosq)
            sub=(-m mqtt -a "127.0.0.1:$DP_MOSQ" -t "bench/r$run")
            load=(-m mqtt -a "127.0.0.1:$DP_MOSQ" -t "bench/r$run"
                  -c "$B5_CONNS") ;;
    esac
    "$DPB/dpsub" "${sub[@]}" -R "$run" -n "$B4_DEVICES" -o "$ready" \
        -T "$((secs + 20))" -i 1000 > "$g" 2>&1 &
    sp=$!
    for i in $(seq 1 100); do
        [ -f "$ready" ] && break
        kill -0 "$sp" 2>/dev/null || break
        sleep 0.05
    done
    if [ ! -f "$ready" ]; then
        kill "$sp" 2>/dev/null
        wait "$sp" 2>/dev/null
        R[${tag}_pass]=FAIL
        R[${tag}_why]="subscriber did not start: $(grep -m1 -v '^RESULT' "$g" | head -c 200)"
        log "$tag: ${R[${tag}_why]}"
        return 1
    fi
    if [ "$sys" = iot ]; then
        d0=$(udp_drops "$DP_UDP")
        # a history still catching up with the step before: wait for it
        # (the rows stop changing for 0.5 s; 30 s at most)
        h0=$(hist_rows "$DP_IOT_DIR")
        for i in $(seq 1 60); do
            sleep 0.5
            h1=$(hist_rows "$DP_IOT_DIR")
            [ "$h1" = "$h0" ] && break
            h0=$h1
        done
        h1=
    fi
    "$DPB/dpload" "${load[@]}" -R "$run" -n "$B4_DEVICES" -s "$B4_SIZE" \
        -r "$rate" -d "$secs" -g 5 > "$f" 2>&1
    kill -USR1 "$sp" 2>/dev/null
    wait "$sp"
    if [ "$sys" = iot ]; then
        d1=$(udp_drops "$DP_UDP")
        # the history is written within ~10 ms; the subscriber has waited
        # 1 s after the last frame already
        h1=$(hist_rows "$DP_IOT_DIR")
        if [ -n "$h0" ] && [ -n "$h1" ]; then
            R[${tag}_hist]=$((h1 - h0))
        fi
    fi
    R[${tag}_rate]=$rate
    R[${tag}_secs]=$secs
    for k in sent due behind rate errors answers_other unanswered first_bad; do
        R[${tag}_load_$k]=$(rv "$f" "$k")
    done
    for k in received unique dup ooo foreign bad keepalives gaps lat_p50_us \
             lat_p90_us lat_p99_us lat_p999_us lat_max_us rx_rate close error; do
        R[${tag}_$k]=$(rv "$g" "$k")
    done
    R[${tag}_udp_drops]=$((d1 - d0))
    lost=$(( ${R[${tag}_load_sent]:-0} - ${R[${tag}_unique]:-0} ))
    R[${tag}_lost]=$lost
    if [ "$sys" = iot ]; then
        # messages sent that are not in the history
        hl=$(( ${R[${tag}_load_sent]:-0} - ${R[${tag}_hist]:--1000000000} ))
        R[${tag}_hist_lost]=$hl
    fi
    # sustained: the sender kept to the rate (at most 1% behind), every
    # message arrived exactly once (and, nginx-iot, is in the history), the
    # stream stayed open, no HTTP error (nchan) and the median latency
    # stayed under B4_P50_OK_MS
    ok=$(awk -v s="${R[${tag}_load_sent]:-0}" -v d="${R[${tag}_load_due]:-1}" \
             -v l="$((lost > hl ? lost : (hl < 0 ? -hl : hl)))" -v u="${R[${tag}_dup]:-1}" -v c="${R[${tag}_close]:--2}" \
             -v e="${R[${tag}_load_answers_other]:-0}" \
             -v p="${R[${tag}_lat_p50_us]:-999999999}" -v m="$B4_P50_OK_MS" \
             'BEGIN { print (s >= 0.99 * d && s > 0 && l == 0 && u == 0 &&
                             c == -1 && e == 0 && p < m * 1000) ? "PASS" : "FAIL" }')
    R[${tag}_pass]=$ok
    R[${tag}_line]="$rate|${R[${tag}_load_rate]:-}|${R[${tag}_load_sent]:-}|${R[${tag}_unique]:-}|$lost|${R[${tag}_dup]:-}|${R[${tag}_ooo]:-}|${R[${tag}_lat_p50_us]:-}|${R[${tag}_lat_p99_us]:-}|${R[${tag}_lat_max_us]:-}|${R[${tag}_close]:-}|${R[${tag}_udp_drops]}|${R[${tag}_hist]:-}|$ok"
    log "$tag: $rate/s: sent ${R[${tag}_load_sent]:-?} ($(printf '%.0f' "${R[${tag}_load_rate]:-0}")/s), got ${R[${tag}_unique]:-?}, lost $lost, dup ${R[${tag}_dup]:-?}, ooo ${R[${tag}_ooo]:-?}, p50/p99 ${R[${tag}_lat_p50_us]:-?}/${R[${tag}_lat_p99_us]:-?} us, close ${R[${tag}_close]:-?}, udp drops ${R[${tag}_udp_drops]}, history +${R[${tag}_hist]:-n/a}: $ok"
    [ "$ok" = PASS ]
}

# dp_ladder SYS PREFIX: the rate ladder B4_LADDER; a failed step is tried
# once more; the ladder stops at the first rate that fails twice, then one
# step halfway between the last rate sustained and that one (if they are
# more than 10,000/s apart). Sets R[PREFIX_max], R[PREFIX_fail],
# R[PREFIX_ladder] (table lines).
dp_ladder() {
    local sys=$1 pre=$2 rate max=0 fail= lines= mid try tag
    for rate in $B4_LADDER; do
        for try in 1 2; do
            tag=$pre-r$rate-$try
            dp_step "$sys" "$rate" "$B4_STEP_S" "$tag"
            lines="$lines${R[${tag}_line]:-$rate|||||||||||||FAIL}|$try"$'\n'
            [ "${R[${tag}_pass]}" = PASS ] && break
        done
        if [ "${R[${tag}_pass]}" = PASS ]; then
            max=$rate
        else
            fail=$rate
            break
        fi
    done
    if [ -n "$fail" ] && [ "$max" -gt 0 ] && [ $((fail - max)) -gt 10000 ]; then
        mid=$(( (max + fail) / 2 / 5000 * 5000 ))
        if [ "$mid" -gt "$max" ]; then
            tag=$pre-r$mid-1
            dp_step "$sys" "$mid" "$B4_STEP_S" "$tag"
            lines="$lines${R[${tag}_line]:-$mid|||||||||||||FAIL}|1"$'\n'
            if [ "${R[${tag}_pass]}" = PASS ]; then
                max=$mid
            else
                fail=$mid
            fi
        fi
    fi
    R[${pre}_max]=$max
    R[${pre}_fail]=${fail:-none}
    R[${pre}_ladder]=$lines
}

# dp_latency SYS PREFIX: B4_LAT_RUNS runs at B4_LAT_RATE; R[PREFIX_p99]
# is the lowest p99 of the runs, R[PREFIX_p99s] all of them
dp_latency() {
    local sys=$1 pre=$2 i tag best= all=
    for i in $(seq 1 "$B4_LAT_RUNS"); do
        tag=$pre-lat$i
        dp_step "$sys" "$B4_LAT_RATE" "$B4_LAT_S" "$tag"
        all="$all${all:+ / }$(us2ms "${R[${tag}_lat_p99_us]:-}")"
        if [ -n "${R[${tag}_lat_p99_us]:-}" ] && [ "${R[${tag}_lost]}" = 0 ] &&
           { [ -z "$best" ] || [ "${R[${tag}_lat_p99_us]}" -lt "$best" ]; }; then
            best=${R[${tag}_lat_p99_us]}
        fi
    done
    R[${pre}_p99]=$best
    R[${pre}_p99s]=$all
}

# us2ms US -> milliseconds, 2 decimals
us2ms() {
    [ -n "$1" ] && calc "$1 / 1000" %.2f || echo "-"
}

# dp_profile PREFIX RATE: one step at RATE with `perf record -a -g`:
# how the CPU is shared (by command) and where nginx spends it
dp_profile() {
    local pre=$1 rate=$2 secs=5 pp
    command -v perf >/dev/null || { R[${pre}_profile]="perf is not installed"; return 0; }
    perf record -q -a -g -o "$OUT/perf-$pre.data" -- sleep "$((secs + 1))" \
        > "$OUT/perf-$pre.log" 2>&1 &
    pp=$!
    sleep 0.5
    dp_step iot "$rate" "$secs" "$pre-r$rate"
    wait "$pp"
    if [ ! -s "$OUT/perf-$pre.data" ]; then
        R[${pre}_profile]="perf record failed: $(head -c 200 "$OUT/perf-$pre.log")"
        return 0
    fi
    perf report -i "$OUT/perf-$pre.data" --stdio --no-children -g none \
        --sort comm --percent-limit 0.5 2>/dev/null | grep -v '^#' |
        grep -v '^$' > "$OUT/perf-$pre-by-command.txt"
    # inside nginx, percentages of nginx's own samples
    perf report -i "$OUT/perf-$pre.data" --stdio --no-children -g none \
        --comm nginx --percentage relative --sort dso,symbol \
        2>/dev/null | grep -v '^#' | awk '$1 ~ /%$/ { sub(/%/, "", $1); d[$2] += $1 }
            END { for (k in d) printf "%8.2f%%  %s\n", d[k], k }' |
        sort -rn > "$OUT/perf-$pre-nginx-dso.txt"
    perf report -i "$OUT/perf-$pre.data" --stdio --no-children -g none \
        --comm nginx --percentage relative --sort dso,symbol \
        --percent-limit 0.3 2>/dev/null | grep -v '^$' > "$OUT/perf-$pre-nginx.txt"
    # inclusive: the kernel's call chains are whole (user space ones are
    # not: no frame pointers), so the system calls show what costs
    perf report -i "$OUT/perf-$pre.data" --stdio --children -g none \
        --comm nginx --percentage relative --sort symbol --percent-limit 1 \
        2>/dev/null | grep -v '^$' | head -n 150 > "$OUT/perf-$pre-nginx-children.txt"
    rm -f "$OUT/perf-$pre.data"
    R[${pre}_profile]=bench/out/$STAMP/perf-$pre-nginx.txt
    R[${pre}_profile_rate]=$rate
    R[${pre}_by_command]=$(perf_lines "$OUT/perf-$pre-by-command.txt" 8)
    R[${pre}_dso_nginx]=$(perf_lines "$OUT/perf-$pre-nginx-dso.txt" 8)
    R[${pre}_top_nginx]=$(perf_lines "$OUT/perf-$pre-nginx.txt" 14)
    R[${pre}_sys_nginx]=$(grep -E '\] (__x64_sys_|__sys_|ngx_)' "$OUT/perf-$pre-nginx-children.txt" |
        awk '$1 ~ /%$/ { printf "%s%s %s", s, $4, $1; s = ", "; if (++n == 12) exit }')
}

# perf_lines FILE N -> "name share; ..." of the first N rows of a perf
# report (the sort keys joined, the trailing "-  -" columns dropped)
perf_lines() {
    grep -v '^#' "$1" | sed 's/[[:space:]]*-[[:space:]]*-[[:space:]]*$//' |
        awk -v n="$2" '$1 ~ /%$/ { p = $1; $1 = ""; sub(/^ +/, "");
                                   printf "%s%s %s", s, $0, p; s = "; ";
                                   if (++k == n) exit }'
}

# worrying lines of a data-plane error log, by kind
dp_log_notes() {
    local f=$1/logs/error.log
    perl -ne '
        $h++ if /history: writes fall behind/; $b++ if /fell behind the ring/;
        $l++ if /missed messages of the bus/; $s++ if /reads too slowly/;
        $u++ if /was not recorded/;
        $k++ if /database is locked/;
        END { printf "\"writes fall behind\" lines (one per 1000 messages not '\
'in the history)=%d, \"a message ... was not recorded\"=%d, \"database is '\
'locked\"=%d, bus fell behind=%d, streams closed for lost messages=%d, '\
'streams closed as too slow=%d\n", $h, $u, $k, $b, $l, $s }' "$f" 2>/dev/null
}

bench4() {
    local P=$TMP/b4-iot H=$TMP/b4-half half tag hc c0
    dp_setup > "$OUT/dp-setup.txt" || { fail b4 "$(cat "$OUT/dp-setup.txt")"; return 1; }
    dp_iot_prefix "$P" > "$OUT/b4-setup.txt" || { fail b4 "$(cat "$OUT/b4-setup.txt")"; return 1; }
    R[b4_devices]=$B4_DEVICES
    R[b4_cmd_sub]="dpsub -m ws -a 127.0.0.1:PORT -P /collections/\$CID/from -H 'X-API-Token: \$TOKEN' -F iot -R RUN -n $B4_DEVICES"
    R[b4_cmd_load]="dpload -m udp -a 127.0.0.1:UDP_PORT -f devices.txt -n $B4_DEVICES -s $B4_SIZE -r RATE -d $B4_STEP_S -R RUN"

    log "b4: rate ladder, nginx-iot"
    dp_ladder iot dp_iot
    R[b4_max]=${R[dp_iot_max]}
    R[b4_pass_max]=$(awk -v m="${R[b4_max]}" 'BEGIN { print (m >= 50000) ? "PASS" : "FAIL" }')

    if [ "$B4_PROFILE" = 1 ]; then
        # where the CPU goes at the first rate not sustained
        local prate=${R[dp_iot_fail]}
        [ "$prate" = none ] && prate=${R[dp_iot_max]}
        log "b4: profile at $prate/s"
        dp_profile b4-prof "$prate"
    fi
    # the same latency run on the big history the ladder left (compare
    # with the runs on a fresh store below)
    R[b4_big_rows]=$(sqlite3 "$P/var/iot.db-history" 'select count(*) from messages' 2>/dev/null)
    R[b4_big_bytes]=$(du -cb "$P/var/iot.db-history"* 2>/dev/null | tail -n1 | cut -f1)
    R[b4_big_wal]=$(stat -c %s "$P/var/iot.db-history-wal" 2>/dev/null)
    log "b4: latency at $B4_LAT_RATE/s with ${R[b4_big_rows]} messages in the history"
    dp_step iot "$B4_LAT_RATE" "$B4_LAT_S" dp_iot_lat-big
    ngx_stop "$P"
    problems b4 "$P"
    R[b4_notes_iot]=$(dp_log_notes "$P")
    R[b4_done]=1

    # a fresh store: the latency runs, then half the maximum (nothing
    # lost, every message in the history)
    dp_iot_prefix "$H" > "$OUT/b4-half-setup.txt" || { fail b4 "$(cat "$OUT/b4-half-setup.txt")"; return 1; }
    log "b4: latency at $B4_LAT_RATE/s, fresh store"
    dp_latency iot dp_iot_lat
    R[b4_pass_p99]=$(awk -v p="${R[dp_iot_lat_p99]:-}" \
        'BEGIN { print (p != "" && p < 2000) ? "PASS" : "FAIL" }')
    half=$(( R[b4_max] / 2 / 1000 * 1000 ))
    [ "$half" -gt 0 ] || half=$(( ${B4_LADDER%% *} / 2 ))
    R[b4_half_rate]=$half
    sleep 0.5
    c0=$(sqlite3 "$H/var/iot.db-history" 'select count(*) from messages' 2>/dev/null)
    log "b4: $half/s for ${B4_HALF_S}s ($c0 messages in the history before)"
    tag=b4-half
    dp_step iot "$half" "$B4_HALF_S" "$tag"
    sleep 0.5
    R[b4_half_wal]=$(stat -c %s "$H/var/iot.db-history-wal" 2>/dev/null)
    R[b4_half_db]=$(stat -c %s "$H/var/iot.db-history" 2>/dev/null)
    ngx_stop "$H"
    hc=$(history_count "$H")
    [ -n "$hc" ] && [ -n "$c0" ] && hc=$((hc - c0))
    R[b4_half_history]=${hc:-?}
    R[b4_half_pass]=$(awk -v s="${R[${tag}_load_sent]:-0}" -v u="${R[${tag}_unique]:-0}" \
        -v d="${R[${tag}_dup]:-1}" -v o="${R[${tag}_ooo]:-1}" -v h="${hc:-0}" \
        -v b="${R[${tag}_load_behind]:-1}" \
        'BEGIN { print (s > 0 && b == 0 && u == s && d == 0 && o == 0 && h == s) ? "PASS" : "FAIL" }')
    problems b4 "$H"
    R[b4_notes_half]=$(dp_log_notes "$H")
}

# b5: nchan and mosquitto, the same ladder and latency runs
bench5() {
    local P N=$TMP/b5-nchan M=$TMP/b5-mosq
    dp_setup > "$OUT/dp-setup.txt" || { fail b5 "$(cat "$OUT/dp-setup.txt")"; return 1; }
    [ -x "$NCHAN_SO" ] || [ -f "$NCHAN_SO" ] || { fail b5 "$NCHAN_SO not found (apt-get install -y libnginx-mod-nchan)"; return 1; }
    command -v "$MOSQUITTO" > /dev/null || { fail b5 "$MOSQUITTO not found (apt-get install -y mosquitto)"; return 1; }

    if [ -z "${R[dp_iot_max]:-}" ]; then
        # benchmark 4 did not run: the nginx-iot side here
        P=$TMP/b5-iot
        dp_iot_prefix "$P" > "$OUT/b5-setup.txt" || { fail b5 "$(cat "$OUT/b5-setup.txt")"; return 1; }
        # as in benchmark 4: the latency runs on the fresh store
        dp_latency iot dp_iot_lat
        log "b5: rate ladder, nginx-iot"
        dp_ladder iot dp_iot
        ngx_stop "$P"
        problems b5 "$P"
        R[b5_iot_here]=1
    fi

    take_ports 1
    mk_nchan_prefix "$N" "${PORTS[0]}"
    ngx_start "$N" > /dev/null || { fail b5 "nginx with nchan did not start: $(tail -n 2 "$N/logs/error.log" | tr '\n' ' ')"; return 1; }
    DP_NCHAN=${PORTS[0]}
    log "b5: rate ladder, nchan"
    dp_ladder nchan dp_nchan
    dp_latency nchan dp_nchan_lat
    ngx_stop "$N"
    problems b5 "$N"
    R[b5_nchan_missed]=$(grep -c 'Missed message' "$N/logs/error.log")

    take_ports 1
    mosq_start "$M" "${PORTS[0]}" || { fail b5 "mosquitto did not start"; return 1; }
    DP_MOSQ=${PORTS[0]}
    log "b5: rate ladder, mosquitto"
    dp_ladder mosq dp_mosq
    dp_latency mosq dp_mosq_lat
    mosq_stop "$M"
    cp "$M/mosquitto.log" "$OUT/b5-mosquitto.log" 2>/dev/null
    R[b5_mosq_log]=$(grep -ciE 'error|warning' "$M/mosquitto.log" 2>/dev/null)
    R[b5_mosq_version]=$("$MOSQUITTO" -h 2>/dev/null | head -n1 | awk '{ print $3 }')
    R[b5_nchan_version]=$(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null)

    local s
    for s in nchan mosq; do
        if [ "${R[dp_${s}_max]:-0}" -gt 0 ]; then
            R[b5_ratio_max_$s]=$(calc "${R[dp_iot_max]} / ${R[dp_${s}_max]}" %.2f)
        fi
        if [ -n "${R[dp_${s}_lat_p99]:-}" ] && [ -n "${R[dp_iot_lat_p99]:-}" ]; then
            R[b5_ratio_p99_$s]=$(calc "${R[dp_iot_lat_p99]} / ${R[dp_${s}_lat_p99]}" %.2f)
        fi
    done
    R[b5_done]=1
}

# b6_one KEEPALIVE TAG: a fresh prefix, B6_CONNS idle subscribers held for
# B6_HOLD_S seconds; dpidle's results under R[b6_TAG_*]
b6_one() {
    local ka=$1 tag=$2 P=$TMP/b6-$2 cid tok f k pids
    take_ports 3
    mk_dp_prefix "$P" "${PORTS[0]}" "${PORTS[1]}" "${PORTS[2]}" "$DP_SECRET" "$ka"
    ngx_start "$P" > /dev/null || { fail b6 "nginx ($tag) did not start"; return 1; }
    cid=$(create_collection "$P") || { fail b6 "POST /collections failed"; return 1; }
    tok=$(admin_token "$P")
    CUR_TOKEN=$tok
    pids=$(worker_pids "$P" | tr ' ' ',' | sed 's/,$//')
    f=$OUT/b6-$tag.txt
    log "b6: $B6_CONNS idle subscribers, iot_ws_keepalive ${ka:-default (30s)}, ${B6_HOLD_S}s"
    (ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
     exec "$DPB/dpidle" -a "127.0.0.1:$(cat "$P/port")" \
        -P "/collections/$cid/from" -H "X-API-Token: $tok" -c "$B6_CONNS" \
        -d "$B6_HOLD_S" -s 3 -p "$pids") > "$f" 2>&1
    for k in connect_s opened failed first_fail open_now before_vmrss_kb \
             before_rssanon_kb open_vmrss_kb open_rssanon_kb \
             before_tcp_mem_pages open_tcp_mem_pages hold_s cpu_ms frames \
             text_frames server_closed still_open open_fds_0 open_fds_1; do
        R[b6_${tag}_$k]=$(rv "$f" "$k")
    done
    R[b6_${tag}_workers]=$(echo "$pids" | tr ',' ' ' | wc -w)
    ngx_stop "$P"
    problems b6 "$P"
    [ -n "${R[b6_${tag}_opened]:-}" ] || { fail b6 "dpidle: $(head -c 300 "$f")"; return 1; }
}

bench6() {
    local t
    dp_setup > "$OUT/dp-setup.txt" || { fail b6 "$(cat "$OUT/dp-setup.txt")"; return 1; }
    b6_one "" default || return 1
    b6_one "$B6_SHORT" short || return 1
    for t in default short; do
        R[b6_${t}_rss_per_conn]=$(calc "(${R[b6_${t}_open_vmrss_kb]:-0} - ${R[b6_${t}_before_vmrss_kb]:-0}) * 1024 / ${R[b6_${t}_opened]:-1}" %.0f)
        R[b6_${t}_anon_per_conn]=$(calc "(${R[b6_${t}_open_rssanon_kb]:-0} - ${R[b6_${t}_before_rssanon_kb]:-0}) * 1024 / ${R[b6_${t}_opened]:-1}" %.0f)
        R[b6_${t}_kmem_per_conn]=$(calc "(${R[b6_${t}_open_tcp_mem_pages]:-0} - ${R[b6_${t}_before_tcp_mem_pages]:-0}) * 4096 / ${R[b6_${t}_opened]:-1}" %.0f)
        # CPU per connection per minute, and per keep-alive frame
        R[b6_${t}_cpu_us_per_conn_min]=$(calc "${R[b6_${t}_cpu_ms]:-0} * 1000 / ${R[b6_${t}_opened]:-1} * 60 / ${R[b6_${t}_hold_s]:-1}" %.2f)
        if [ "${R[b6_${t}_text_frames]:-0}" -gt 0 ]; then
            R[b6_${t}_cpu_us_per_frame]=$(calc "${R[b6_${t}_cpu_ms]} * 1000 / ${R[b6_${t}_text_frames]}" %.2f)
        fi
        R[b6_${t}_cpu_pct]=$(calc "${R[b6_${t}_cpu_ms]:-0} / 10 / ${R[b6_${t}_hold_s]:-1}" %.2f)
    done
    # the keep-alive's own cost: the difference between the two, per frame
    if [ "${R[b6_short_text_frames]:-0}" -gt "${R[b6_default_text_frames]:-0}" ]; then
        R[b6_ka_us_per_frame]=$(calc "(${R[b6_short_cpu_ms]} - ${R[b6_default_cpu_ms]}) * 1000 / (${R[b6_short_text_frames]} - ${R[b6_default_text_frames]})" %.2f)
    fi
    R[b6_done]=1
}

# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# 7. The things dialect: list pages at the start, middle and end of each
# sort order in 1,000,000 devices (keyset pages); GET /devices/imei:<imei>
# against nginx's return 200 of the same body; SenML ingestion per second

# a device's name as the store indexes it (NGX_IOT_SQL_DEVICE_NAME in
# ngx_iot_store_sqlite.h, schema 11): its tags.name, or its id's 13
# characters (base32hex: each 5 bits as '0' to '9', 'a' to 'v')
b7_name_sql() {
    local i s=
    for i in 60 55 50 45 40 35 30 25 20 15 10 5 0; do
        s="$s${s:+, }(id >> $i & 31) + 48 + (id >> $i & 31 > 9) * 39"
    done
    echo "coalesce(nullif(json_extract(tags, '\$.name'), ''), char($s))"
}

# b7_order SORT -> the SQL order of the things dialect's sort (the store's
# own, docs/things.md): "id" is the default order
b7_order() {
    case $1 in
        id) echo "id" ;;
        createdAt) echo "created_at, id" ;;
        -createdAt) echo "created_at DESC, id DESC" ;;
        modifiedAt) echo "modified_at, id" ;;
        -modifiedAt) echo "modified_at DESC, id DESC" ;;
        name) echo "$(b7_name_sql) COLLATE NOCASE, id" ;;
        -name) echo "$(b7_name_sql) COLLATE NOCASE DESC, id DESC" ;;
    esac
}

# b7_cursor DIR SORT OFFSET -> the cursor of the page after the row at
# OFFSET in SORT's order (read from the live store by the sqlite3 CLI)
b7_cursor() {
    local dir=$1 sort=$2 off=$3 id c m name
    IFS=$'\t' read -r id c m name < <(sqlite3 -separator $'\t' \
        "$dir/var/iot.db" "SELECT id, created_at, modified_at, $(b7_name_sql)
         FROM devices ORDER BY $(b7_order "$sort") LIMIT 1 OFFSET $off")
    [ -n "$id" ] || return 1
    [ "$sort" = id ] && sort=
    things_cursor "$sort" "$id" "$c" "$m" "$name"
}

# b7_wrk NAME URL PATHS_FILE [WRK ARGS]: one GET run (Bearer); results under
# b7_NAME_*
b7_wrk() {
    local name=$1 url=$2 paths=$3 f=$OUT/b7-$1.txt
    shift 3
    # shellcheck disable=SC2068
    WRK_AUTH=bearer wrk $@ -s "$BENCH_DIR/lua/get.lua" "$url" -- \
        "$CUR_TOKEN" "$paths" > "$f" 2>&1
    R[b7_${name}_rps]=$(rv "$f" rps)
    R[b7_${name}_p99]=$(rv "$f" lat_p99_us)
    R[b7_${name}_p50]=$(rv "$f" lat_p50_us)
    R[b7_${name}_non2xx]=$(rv "$f" non2xx)
}

bench7() {
    local P=$TMP/b7-iot Q=$TMP/b7-ref n=$B7_DEVICES nd ls used tot tok port
    local url sort filt pos off cur q path f items client project code i
    local side sum_a sum_b worst base r body secret token uuid did before rep k

    mk_things_prefix "$P" "$(free_port)" "$ZONE"
    ngx_start "$P" > /dev/null || { fail b7 "nginx with the module did not start"; return 1; }
    create_collection "$P" > /dev/null || { fail b7 "POST /collections failed"; return 1; }
    ngx_stop "$P"
    log "b7: bulk loading $n devices (things fields)"
    R[b7_devices]=$n
    R[b7_load_s]=$(bulk_load "$P" "$n" things) || { fail b7 "bulk load failed"; return 1; }
    ngx_start "$P" > /dev/null || { fail b7 "nginx did not start on the loaded store"; return 1; }
    read -r nd ls used tot < <(notice "$P")
    if [ "${nd:-}" != "$n" ]; then
        fail b7 "start notice says ${nd:-nothing} devices, expected $n"
        return 1
    fi
    tok=$(admin_token "$P")
    CUR_TOKEN=$tok
    port=$(cat "$P/port")
    url=http://127.0.0.1:$port

    # list pages: each sort, unfiltered and filtered (one device type of
    # four: a page reads about 4 rows per row it sends), at the start, the
    # middle and the end (the page after the row 400 before the last)
    R[b7_sorts]=$B7_SORTS
    R[b7_cmd_list]="WRK_AUTH=bearer wrk $B7_WRK -d${B7_LIST_S}s -s bench/lua/get.lua URL -- \$TOKEN PAGE_PATH"
    for sort in $B7_SORTS; do
        for filt in all spec; do
            for pos in start middle end; do
                case $pos in
                    start) cur= ;;
                    middle) off=$((n / 2)) ;;
                    end) off=$((n - 400)) ;;
                esac
                if [ "$pos" != start ]; then
                    cur=$(b7_cursor "$P" "$sort" "$off") ||
                        { fail b7 "no row at $off in order $sort"; return 1; }
                fi
                q="limit=50"
                [ "$sort" != id ] && q="$q&sort=$sort"
                [ "$filt" = spec ] &&
                    q="$q&deviceSpecificationId=00000001-0000-4000-8000-000000000000"
                [ -n "$cur" ] && q="$q&cursor=$cur"
                path="/devices?$q"
                f=$OUT/b7-page-$sort-$filt-$pos
                echo "$path" > "$f.path"
                code=$(curl -s -o "$f.json" -w '%{http_code}' \
                       -H "Authorization: Bearer $tok" "$url$path")
                items=$(grep -o '"createdAt"' "$f.json" | wc -l)
                if [ "$code" != 200 ] || [ "$items" != 50 ]; then
                    fail b7 "GET $path: $code, $items items: $(head -c 200 "$f.json")"
                    return 1
                fi
                log "b7: page $sort $filt $pos"
                # shellcheck disable=SC2086
                b7_wrk warm "$url" "$f.path" $B7_WRK -d1s
            done
            # B7_ROUNDS rounds, the positions taking turns; the best p99
            # of each position counts (the machine's noise comes and goes)
            for rep in $(seq 1 "$B7_ROUNDS"); do
                for pos in start middle end; do
                    k=${sort}_${filt}_${pos}
                    # shellcheck disable=SC2086
                    b7_wrk "${k}_$rep" "$url" \
                        "$OUT/b7-page-$sort-$filt-$pos.path" \
                        $B7_WRK -d"${B7_LIST_S}s"
                    if [ $rep = 1 ] || [ "${R[b7_${k}_${rep}_p99]:-0}" -lt \
                         "${R[b7_${k}_p99]:-0}" ]; then
                        R[b7_${k}_p99]=${R[b7_${k}_${rep}_p99]}
                        R[b7_${k}_p50]=${R[b7_${k}_${rep}_p50]}
                        R[b7_${k}_rps]=${R[b7_${k}_${rep}_rps]}
                    fi
                done
            done
            base=${R[b7_${sort}_${filt}_start_p99]:-0}
            worst=${R[b7_${sort}_${filt}_middle_p99]:-0}
            [ "${R[b7_${sort}_${filt}_end_p99]:-0}" -gt "$worst" ] &&
                worst=${R[b7_${sort}_${filt}_end_p99]}
            r=$(calc "$worst / $base")
            R[b7_${sort}_${filt}_ratio]=$r
            R[b7_${sort}_${filt}_pass]=$(awk -v r="$r" \
                'BEGIN { print (r <= 1.5) ? "PASS" : "FAIL" }')
        done
    done

    # GET /devices/imei:<imei> (1,000 devices spread over the store)
    # against stock nginx answering the same requests with one device's body
    for i in $(shuf -i 1-"$n" -n "$B1_PATHS"); do
        printf '/devices/imei:35%013d\n' "$i"
    done > "$OUT/b7-imei-paths.txt"
    code=$(curl -s -o "$OUT/b7-device.json" -w '%{http_code}' \
           -H "Authorization: Bearer $tok" "$url$(head -n1 "$OUT/b7-imei-paths.txt")")
    [ "$code" = 200 ] || { fail b7 "GET by IMEI: $code $(head -c 200 "$OUT/b7-device.json")"; return 1; }
    R[b7_body_bytes]=$(stat -c %s "$OUT/b7-device.json")
    mk_ref_prefix "$Q" "$(free_port)" "$OUT/b7-device.json" ||
        { fail b7 "reference config"; return 1; }
    ngx_start "$Q" > /dev/null || { fail b7 "reference nginx did not start"; return 1; }
    R[b7_cmd_get]="WRK_AUTH=bearer wrk $B1_WRK -d${DUR}s -s bench/lua/get.lua URL -- \$TOKEN b7-imei-paths.txt"
    # shellcheck disable=SC2086
    b7_wrk warm_A "$url" "$OUT/b7-imei-paths.txt" $B1_WRK -d"${WARMUP}s"
    # shellcheck disable=SC2086
    b7_wrk warm_B "http://127.0.0.1:$(cat "$Q/port")" "$OUT/b7-imei-paths.txt" \
        $B1_WRK -d"${WARMUP}s"
    for i in 1 2; do
        for side in A B; do
            log "b7: GET by IMEI, run $side$i"
            if [ $side = A ]; then
                # shellcheck disable=SC2086
                b7_wrk "imei_A$i" "$url" "$OUT/b7-imei-paths.txt" $B1_WRK -d"${DUR}s"
            else
                # shellcheck disable=SC2086
                b7_wrk "imei_B$i" "http://127.0.0.1:$(cat "$Q/port")" \
                    "$OUT/b7-imei-paths.txt" $B1_WRK -d"${DUR}s"
            fi
        done
    done
    ngx_stop "$Q"
    problems b7 "$Q"
    sum_a=$(calc "(${R[b7_imei_A1_rps]} + ${R[b7_imei_A2_rps]}) / 2" %.1f)
    sum_b=$(calc "(${R[b7_imei_B1_rps]} + ${R[b7_imei_B2_rps]}) / 2" %.1f)
    R[b7_imei_A]=$sum_a
    R[b7_imei_B]=$sum_b
    R[b7_imei_ratio]=$(calc "$sum_a / $sum_b")
    R[b7_imei_pass]=$(awk -v r="${R[b7_imei_ratio]}" \
        'BEGIN { print (r >= 0.8) ? "PASS" : "FAIL" }')

    # SenML ingestion: devices with a generic adapter, packs signed ahead
    client=$(grep -o '"clientId":"[^"]*"' "$OUT/b7-device.json" | cut -d'"' -f4)
    project=$(grep -o '"projectId":"[^"]*"' "$OUT/b7-device.json" | cut -d'"' -f4)
    : > "$OUT/b7-packs.txt"
    for i in $(seq 1 "$B7_SENML_DEVICES"); do
        body=$(curl -s -X POST -H "Authorization: Bearer $tok" \
            -H 'Content-Type: application/json' --data-binary \
            "{\"name\":\"senml $i\",\"clientId\":\"$client\",\"projectId\":\"$project\",\"deviceSpecificationId\":\"00000000-0000-4000-8000-000000000000\"}" \
            "$url/devices")
        did=$(printf '%s' "$body" | grep -o '"id":"[^"]*"' | head -n1 | cut -d'"' -f4)
        uuid=$(cat /proc/sys/kernel/random/uuid)
        secret=$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)
        code=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
            -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
            --data-binary "{\"type\":\"generic\",\"dvnUuid\":\"$uuid\",\"sharedSecret\":\"$secret\"}" \
            "$url/devices/$did/network-adapters")
        [ "$code" = 201 ] || { fail b7 "generic adapter: $code"; return 1; }
        body="[{\"bn\":\"urn:dev:DVNUUID:$uuid:\",\"n\":\"temperature\",\"u\":\"Cel\",\"v\":21.5}]"
        token=$(printf '%s%s' "$body" "$secret" | sha256sum | cut -d' ' -f1)
        echo "$token $body" >> "$OUT/b7-packs.txt"
    done
    ngx_stop "$P"
    before=$(history_count "$P")
    ngx_start "$P" > /dev/null || { fail b7 "restart before ingestion failed"; return 1; }
    R[b7_senml_devices]=$B7_SENML_DEVICES
    R[b7_cmd_senml]="wrk $B7_SENML_WRK -d${DUR}s -s bench/lua/senml.lua URL -- b7-packs.txt"
    log "b7: SenML ingestion"
    # shellcheck disable=SC2086
    wrk $B7_SENML_WRK -d"${DUR}s" -s "$BENCH_DIR/lua/senml.lua" "$url" -- \
        "$OUT/b7-packs.txt" > "$OUT/b7-senml.txt" 2>&1
    f=$OUT/b7-senml.txt
    R[b7_senml_rate]=$(rv "$f" taken_per_s)
    R[b7_senml_taken]=$(rv "$f" s204)
    R[b7_senml_other]=$(rv "$f" non204_by_status)
    R[b7_senml_first_error]=$(rv "$f" first_error)
    R[b7_senml_p99]=$(rv "$f" lat_p99_us)
    ngx_stop "$P"
    R[b7_senml_stored]=$(( $(history_count "$P") - before ))
    if [ -n "${R[b4_max]:-}" ]; then
        R[b7_senml_vs_udp]=$(calc "${R[b7_senml_rate]} / ${R[b4_max]}")
    fi
    problems b7 "$P"
    R[b7_done]=1
}

# ---------------------------------------------------------------------------
# 8. The iotda dialect: create and list next to the collections dialect,
#    signed GET next to X-Auth-Token

# b8_run NAME FILE CMD...: one wrk run into FILE
b8_run() {
    local name=$1 f=$2
    shift 2
    log "b8: $name: $(wrk_cmd_str "$@")"
    "$@" > "$f" 2>&1
}

# b8_mean KEY: the mean of runs 1 and 2 of A and B, their ratio and result
b8_mean() {
    local k=$1 a b
    a=$(calc "(${R[${k}_A1]} + ${R[${k}_A2]}) / 2" %.1f)
    b=$(calc "(${R[${k}_B1]} + ${R[${k}_B2]}) / 2" %.1f)
    R[${k}_A]=$a
    R[${k}_B]=$b
    R[${k}_ratio]=$(calc "$a / $b")
    R[${k}_pass]=$(awk -v r="${R[${k}_ratio]}" \
                   'BEGIN { print (r >= 0.8) ? "PASS" : "FAIL" }')
}

bench8() {
    local P=$TMP/b8-iot port url tok cid project code i side f r
    local token p d h

    mk_iotda_prefix "$P" "$(free_port)" "$ZONE"
    ngx_start "$P" > /dev/null || { fail b8 "nginx with the module did not start"; return 1; }
    cid=$(create_collection "$P") || { fail b8 "POST /collections failed"; return 1; }
    tok=$(admin_token "$P")
    CUR_TOKEN=$tok
    port=$(cat "$P/port")
    url=http://127.0.0.1:$port
    project=$(api "$P" GET "/collections/$cid" |
              grep -o '"teamId":"[0-9a-v]*"' | cut -d'"' -f4)
    code=$(curl -s -o "$OUT/b8-product.json" -w '%{http_code}' \
        -H "X-Auth-Token: $tok" -H 'Content-Type: application/json' \
        --data-binary "{\"product_id\":\"bench\",\"name\":\"bench\",\"device_type\":\"meter\",\"protocol_type\":\"UDP\",\"data_format\":\"json\",\"app_id\":\"$cid\",\"service_capabilities\":[{\"service_id\":\"s\",\"properties\":[{\"property_name\":\"t\",\"data_type\":\"int\",\"default_value\":1}]}]}" \
        "$url/v5/iot/$project/products")
    [ "$code" = 201 ] || { fail b8 "POST products: $code $(head -c 200 "$OUT/b8-product.json")"; return 1; }

    # creation: runs A (iotda) B (collections) A B, each its own run id
    R[b8_cmd_create_a]="wrk $B8_WRK -d${DUR}s -s bench/lua/iotda-create.lua URL -- \$TOKEN /v5/iot/PROJECT/devices RUNID bench"
    R[b8_cmd_create_b]="wrk $B8_WRK -d${DUR}s -s bench/lua/create.lua URL -- \$TOKEN /collections/CID/devices RUNID"
    r=1
    for i in 1 2; do
        for side in A B; do
            f=$OUT/b8-create-$side$i.txt
            [ $i = 1 ] && perf_start "$P" "b8-create-$side" "$DUR"
            if [ $side = A ]; then
                # shellcheck disable=SC2086
                b8_run "create $side$i" "$f" wrk $B8_WRK -d"${DUR}s" \
                    -s "$BENCH_DIR/lua/iotda-create.lua" "$url" -- "$tok" \
                    "/v5/iot/$project/devices" "$r" bench
            else
                # shellcheck disable=SC2086
                b8_run "create $side$i" "$f" wrk $B8_WRK -d"${DUR}s" \
                    -s "$BENCH_DIR/lua/create.lua" "$url" -- "$tok" \
                    "/collections/$cid/devices" "$r"
            fi
            [ $i = 1 ] && perf_finish "b8-create-$side"
            r=$((r + 1))
            R[b8_create_${side}${i}]=$(rv "$f" created_per_s)
            R[b8_create_${side}${i}_other]=$(rv "$f" non201_by_status)
        done
    done
    b8_mean b8_create

    # lists: the first page of 50 of the devices made above
    R[b8_list_devices]=$(curl -s -H "X-Auth-Token: $tok" \
        "$url/v5/iot/$project/devices?limit=1" |
        grep -o '"count":[0-9]*' | cut -d: -f2)
    echo "/v5/iot/$project/devices?limit=50" > "$OUT/b8-list-A.path"
    echo "/collections/$cid/devices?limit=50" > "$OUT/b8-list-B.path"
    R[b8_cmd_list]="wrk $B8_GET_WRK -d${DUR}s -s bench/lua/get.lua URL -- \$TOKEN PAGE_PATH (A: WRK_AUTH=iotda)"
    for i in 1 2; do
        for side in A B; do
            f=$OUT/b8-list-$side$i.txt
            # shellcheck disable=SC2086
            WRK_AUTH=$([ $side = A ] && echo iotda || echo token) \
                b8_run "list $side$i" "$f" wrk $B8_GET_WRK -d"${DUR}s" \
                -s "$BENCH_DIR/lua/get.lua" "$url" -- "$tok" \
                "$OUT/b8-list-$side.path"
            R[b8_list_${side}${i}]=$(rv "$f" rps)
            R[b8_list_${side}${i}_non2xx]=$(rv "$f" non2xx)
        done
    done
    b8_mean b8_list

    # GET device: signed with an API token's access key (signed ahead:
    # the server checks each signature as a new one) against the same
    # GETs with that token as X-Auth-Token
    token=$(api "$P" POST /tokens '{"resource":"/","write":true}' |
            grep -o '"token":"[0-9a-f]*"' | cut -d'"' -f4)
    [ -n "$token" ] || { fail b8 "POST /tokens failed"; return 1; }
    CUR_TOKEN=$token
    device_paths "$P" "$cid" "$B8_PATHS" "$OUT/b8-paths.txt" ||
        { fail b8 "no device ids"; return 1; }
    sed -i "s|^/collections/$cid/devices/|/v5/iot/$project/devices/|" \
        "$OUT/b8-paths.txt"
    perl -I "$ROOT/t/lib" -MIoT::Iotda -MDigest::SHA=sha256_hex -e '
        my ($token, $host) = @ARGV;
        my ($ak, $sk) = IoT::Iotda::access_key($token);
        my $date = IoT::Iotda::sdk_date();
        while (my $path = <STDIN>) {
            chomp $path;
            my $c = IoT::Iotda::canonical_hash("GET", $path, "",
                "host;x-sdk-date", { host => $host, "x-sdk-date" => $date },
                sha256_hex(""));
            my ($sig) = IoT::Iotda::signature(algorithm => "SDK-HMAC-SHA256",
                date => $date, sk => $sk, canonical => $c);
            print "$path\t$date\tSDK-HMAC-SHA256 Access=$ak, "
                . "SignedHeaders=host;x-sdk-date, Signature=$sig\n";
        }' "$token" "127.0.0.1:$port" < "$OUT/b8-paths.txt" \
        > "$OUT/b8-signed.txt" || { fail b8 "signing failed"; return 1; }
    IFS=$'\t' read -r p d h < "$OUT/b8-signed.txt"
    code=$(curl -s -o "$OUT/b8-device.json" -w '%{http_code}' \
           -H "X-Sdk-Date: $d" -H "Authorization: $h" "$url$p")
    [ "$code" = 200 ] || { fail b8 "signed GET: $code $(head -c 200 "$OUT/b8-device.json")"; return 1; }
    R[b8_paths]=$(wc -l < "$OUT/b8-paths.txt")
    R[b8_cmd_signed]="wrk $B8_GET_WRK -d${DUR}s -s bench/lua/iotda-signed.lua URL -- b8-signed.txt"
    R[b8_cmd_token]="WRK_AUTH=iotda wrk $B8_GET_WRK -d${DUR}s -s bench/lua/get.lua URL -- \$TOKEN b8-paths.txt"
    for i in 1 2; do
        for side in A B; do
            f=$OUT/b8-get-$side$i.txt
            if [ $side = A ]; then
                # shellcheck disable=SC2086
                b8_run "get $side$i" "$f" wrk $B8_GET_WRK -d"${DUR}s" \
                    -s "$BENCH_DIR/lua/iotda-signed.lua" "$url" -- \
                    "$OUT/b8-signed.txt"
            else
                # shellcheck disable=SC2086
                WRK_AUTH=iotda b8_run "get $side$i" "$f" wrk $B8_GET_WRK \
                    -d"${DUR}s" -s "$BENCH_DIR/lua/get.lua" "$url" -- \
                    "$token" "$OUT/b8-paths.txt"
            fi
            R[b8_get_${side}${i}]=$(rv "$f" rps)
            R[b8_get_${side}${i}_non2xx]=$(rv "$f" non2xx)
        done
    done
    b8_mean b8_get
    ngx_stop "$P"
    problems b8 "$P"
    R[b8_done]=1
}

# ---------------------------------------------------------------------------
# 9. CoAP through the sidecar: confirmable uplinks per second into the
# history and a live subscriber, next to libcoap's own coap-server under
# the same client load; nothing lost at half that rate; DTLS-PSK
# handshakes per second, next to coap-server with the same key.

SIDECAR=${SIDECAR:-$ROOT/build/iot-coap-sidecar}
COAP_SERVER=${COAP_SERVER:-/usr/bin/coap-server-notls}
COAP_SERVER_DTLS=${COAP_SERVER_DTLS:-/usr/bin/coap-server-openssl}
COAP_CLIENT_DTLS=${COAP_CLIENT_DTLS:-/usr/bin/coap-client-openssl}

# b9_load TAG PORT RATE: one coapload run (closed loop when RATE is 0)
# with one dpsub subscribed when TAG starts with "iot"
b9_load() {
    local tag=$1 port=$2 rate=$3 f=$OUT/b9-$1.txt g=$OUT/b9-$1-sub.txt
    local sp= ready i h0 h1 run d0
    DP_RUN=$((DP_RUN + 1))
    run=$DP_RUN
    ready=$TMP/b9-ready.$run
    case $tag in
        iot*)
            "$DPB/dpsub" -m ws -a "127.0.0.1:$DP_HTTP" \
                -P "/collections/$DP_CID/from" -H "X-API-Token: $DP_TOKEN" \
                -F iot -R "$run" -n "$B9_DEVICES" -o "$ready" \
                -T "$((DUR + 20))" -i 1000 > "$g" 2>&1 &
            sp=$!
            for i in $(seq 1 100); do
                [ -f "$ready" ] && break
                sleep 0.05
            done
            h0=$(hist_rows "$DP_IOT_DIR") ;;
    esac
    d0=$(( $(udp_drops "$port") + $(udp_drops "$B9_LINK") ))
    "$DPB/coapload" -a "127.0.0.1:$port" -f "$DP_DEVFILE" -n "$B9_DEVICES" \
        -R "$run" -d "$DUR" -w "$B9_WINDOW" -s "$B9_SIZE" -m put \
        -r "$rate" > "$f" 2>&1
    for k in sent ok errors timeouts first_error rate lat_p50_us lat_p99_us; do
        R[b9_${tag}_$k]=$(rv "$f" "$k")
    done
    # datagrams the kernel dropped at the server's port and nginx's link
    R[b9_${tag}_drops]=$(( $(udp_drops "$port") + $(udp_drops "$B9_LINK") - d0 ))
    if [ -n "$sp" ]; then
        kill -USR1 "$sp" 2>/dev/null
        wait "$sp"
        sleep 0.5
        h1=$(hist_rows "$DP_IOT_DIR")
        R[b9_${tag}_hist]=$((h1 - h0))
        R[b9_${tag}_sub]=$(rv "$g" unique)
        R[b9_${tag}_dup]=$(rv "$g" dup)
    fi
    log "b9: $tag: ${R[b9_${tag}_rate]:-?}/s ok, sent ${R[b9_${tag}_sent]:-?}, errors ${R[b9_${tag}_errors]:-?}, timeouts ${R[b9_${tag}_timeouts]:-?}, udp drops ${R[b9_${tag}_drops]:-?}, p50/p99 ${R[b9_${tag}_lat_p50_us]:-?}/${R[b9_${tag}_lat_p99_us]:-?} us${sp:+, history +${R[b9_${tag}_hist]:-?}, subscriber ${R[b9_${tag}_sub]:-?}}"
}

# b9_handshakes TAG PORT IDENTITY KEY: B9_DTLS_PAR loops of
# coap-client-openssl (one handshake and one PUT each) for DUR seconds
b9_handshakes() {
    local tag=$1 port=$2 id=$3 key=$4 i n=0 end
    end=$(( $(date +%s) + DUR ))
    local pids=()
    for i in $(seq 1 "$B9_DTLS_PAR"); do
        (
            while [ "$(date +%s)" -lt "$end" ]; do
                "$COAP_CLIENT_DTLS" -B 5 -v 6 -u "$id" -k "$key" -m put \
                    -e hs "coaps://127.0.0.1:$port/bench" 2>&1 \
                    | grep -c 'c:2\.0[14]'
            done > "$TMP/b9-hs-$tag-$i"
        ) &
        pids+=($!)
    done
    wait "${pids[@]}"
    n=$(cat "$TMP"/b9-hs-"$tag"-* | awk '{ s += $1 } END { print s + 0 }')
    R[b9_hs_${tag}]=$n
    R[b9_hs_${tag}_rate]=$(calc "$n / $DUR" %.1f)
    log "b9: DTLS-PSK handshakes ($tag): $n in $DUR s"
}

bench9() {
    local P=$TMP/b9-iot link cport rport dport secret sc rs did key hl ok
    for t in "$SIDECAR" "$COAP_SERVER" "$COAP_SERVER_DTLS" "$COAP_CLIENT_DTLS"; do
        [ -x "$t" ] || { fail b9 "$t is missing (./build.sh build; libcoap3-bin)"; return 1; }
    done
    dp_setup > "$TMP/b9-setup" || { fail b9 "$(cat "$TMP/b9-setup")"; return 1; }
    mkdir -p "$P/var"
    secret=$P/var/coap.secret
    (umask 077; head -c 24 /dev/urandom | base64 > "$secret")
    # the link, CoAP and DTLS (the next port), the two coap-servers
    # (coap-server-openssl takes DTLS on the port after its -p too)
    while :; do
        take_ports 6
        [ "${PORTS[2]}" = "$((PORTS[1] + 1))" ] &&
            [ "${PORTS[5]}" = "$((PORTS[4] + 1))" ] && break
    done
    link=${PORTS[0]}
    B9_LINK=$link
    cport=${PORTS[1]}
    rport=${PORTS[3]}
    dport=${PORTS[4]}
    B4_DEVICES=$B9_DEVICES \
    DP_STREAM_EXTRA="server { listen 127.0.0.1:$link udp reuseport rcvbuf=4m; iot_coap_link secret_file=$secret; }" \
        dp_iot_prefix "$P" > "$TMP/b9-prefix" || { fail b9 "$(cat "$TMP/b9-prefix")"; return 1; }
    "$SIDECAR" -s "$secret" -l "127.0.0.1:$link" -a 127.0.0.1 -p "$cport" \
        -v 1 > "$OUT/b9-sidecar.log" 2>&1 &
    sc=$!
    sleep 0.5
    kill -0 "$sc" 2>/dev/null || { fail b9 "the sidecar did not start: $(head -c 200 "$OUT/b9-sidecar.log")"; return 1; }
    "$COAP_SERVER" -A 127.0.0.1 -p "$rport" -d 10 > "$OUT/b9-coap-server.log" 2>&1 &
    rs=$!
    R[b9_devices]=$B9_DEVICES
    R[b9_window]=$B9_WINDOW
    R[b9_cmd]="coapload -a ADDR -f devices.txt -n $B9_DEVICES -w $B9_WINDOW -s $B9_SIZE -d $DUR -m put"

    # warm-up, then A B A B
    DUR=$WARMUP b9_load warm_iot "$cport" 0
    DUR=$WARMUP b9_load warm_ref "$rport" 0
    perf_start "$P" b9-coap "$DUR" "$sc"
    b9_load iot1 "$cport" 0
    perf_finish b9-coap
    b9_load ref1 "$rport" 0
    b9_load iot2 "$cport" 0
    b9_load ref2 "$rport" 0
    R[b9_iot]=$(calc "(${R[b9_iot1_rate]:-0} + ${R[b9_iot2_rate]:-0}) / 2" %.1f)
    R[b9_ref]=$(calc "(${R[b9_ref1_rate]:-0} + ${R[b9_ref2_rate]:-0}) / 2" %.1f)
    R[b9_ratio]=$(calc "${R[b9_iot]} / ${R[b9_ref]}")
    R[b9_pass]=$(awk -v r="${R[b9_ratio]}" 'BEGIN { print (r >= 0.7) ? "PASS" : "FAIL" }')

    # half the highest rate: every acknowledged uplink in the history and
    # at the subscriber, none refused or timed out
    R[b9_half_rate]=$(calc "${R[b9_iot]} / 2" %.0f)
    b9_load iothalf "$cport" "${R[b9_half_rate]}"
    ok=${R[b9_iothalf_ok]:-0}
    R[b9_half_pass]=$(awk -v o="$ok" -v s="${R[b9_iothalf_sent]:-0}" \
        -v h="${R[b9_iothalf_hist]:-0}" -v u="${R[b9_iothalf_sub]:-0}" \
        -v e="${R[b9_iothalf_errors]:-1}" -v t="${R[b9_iothalf_timeouts]:-1}" \
        'BEGIN { print (o > 0 && o == s && h >= o && u >= o && e == 0 && t == 0) ? "PASS" : "FAIL" }')
    kill "$rs" 2>/dev/null
    wait "$rs" 2>/dev/null

    # DTLS-PSK: one device's key (collections dialect), the same key for
    # coap-server-openssl
    key=bench-psk-$RANDOM$RANDOM
    did=$(curl -s -H "X-API-Token: $DP_TOKEN" \
        "http://127.0.0.1:$DP_HTTP/collections/$DP_CID/devices?limit=1" \
        | grep -o '"deviceId":"[^"]*"' | head -n1 | cut -d'"' -f4)
    curl -s -o /dev/null -X PATCH -H "X-API-Token: $DP_TOKEN" \
        -d "{\"key\":\"$(printf '%s' "$key" | od -An -tx1 | tr -d ' \n')\"}" \
        "http://127.0.0.1:$DP_HTTP/collections/$DP_CID/devices/$did/psk"
    "$COAP_SERVER_DTLS" -A 127.0.0.1 -p "$dport" -k "$key" -d 10 \
        > "$OUT/b9-coap-server-dtls.log" 2>&1 &
    rs=$!
    sleep 0.3
    R[b9_hs_par]=$B9_DTLS_PAR
    b9_handshakes iot "$((cport + 1))" "$did" "$key"
    b9_handshakes ref "$((dport + 1))" "$did" "$key"
    kill "$rs" 2>/dev/null
    wait "$rs" 2>/dev/null
    R[b9_hs_ratio]=$(calc "${R[b9_hs_iot]:-0} / (${R[b9_hs_ref]:-0} + 0.000001)")

    kill "$sc" 2>/dev/null
    wait "$sc" 2>/dev/null
    ngx_stop "$P"
    problems b9 "$P"
    R[b9_done]=1
}

machine() {
    R[nproc]=$(nproc)
    R[cpu]=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
    R[mem]=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    R[kernel]=$(uname -r)
    R[os]=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")
    R[nginx]=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')
    R[wrk]=$(wrk -v 2>&1 | head -n1 | awk '{ print $2 }')
    R[sqlite]=$(sqlite3 --version | awk '{ print $1 }')
    R[so_sha]=$(sha256sum "$MODULE_SO" | cut -c1-12)
    R[so_mtime]=$(date -u -r "$ROOT/build/ngx_iot_module.so" '+%Y-%m-%d %H:%M UTC' 2>/dev/null)
    R[git]=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "no commit yet")
    if [ -n "$(git -C "$ROOT" status --porcelain -- ngx_iot_module config 2>/dev/null)" ]; then
        R[git]="${R[git]} (module sources modified)"
    fi
}

# ---------------------------------------------------------------------------
# 10. Uplink -> outputs: a webhook (bench/outputs/hookrecv.py) and MQTT
# (mosquitto, read by dpsub -m mqtt -F iot), the same UDP load as 4; the
# uplink -> WebSocket ladder of the same prefix beside them.

# out_step SYS RATE SECONDS TAG: one paced run into the output SYS (hook,
# mqtt); the receiver counts as dpsub does; R[TAG_pass] = PASS when every
# message arrived once, in each device's order, the sender kept to the
# rate and the median latency stayed under B10_P50_OK_MS
out_step() {
    local sys=$1 rate=$2 secs=$3 tag=$4 run f g ready sp i ok lost k
    DP_RUN=$((DP_RUN + 1))
    run=$DP_RUN
    f=$OUT/$tag-load.txt
    g=$OUT/$tag-sub.txt
    ready=$TMP/ready.$run
    case $sys in
        hook)
            python3 "$BENCH_DIR/outputs/hookrecv.py" -p "$B10_HOOK" -R "$run" \
                -n "$B4_DEVICES" -o "$ready" -T "$((secs + 60))" -i 3000 \
                > "$g" 2>&1 & ;;
        mqtt)
            "$DPB/dpsub" -m mqtt -a "127.0.0.1:$B10_MOSQ" -t bench/out -F iot \
                -R "$run" -n "$B4_DEVICES" -o "$ready" -T "$((secs + 60))" \
                -i 3000 > "$g" 2>&1 & ;;
    esac
    sp=$!
    for i in $(seq 1 100); do
        [ -f "$ready" ] && break
        kill -0 "$sp" 2>/dev/null || break
        sleep 0.05
    done
    if [ ! -f "$ready" ]; then
        kill "$sp" 2>/dev/null
        wait "$sp" 2>/dev/null
        R[${tag}_pass]=FAIL
        log "$tag: the receiver did not start"
        return 1
    fi
    "$DPB/dpload" -m udp -a "127.0.0.1:$DP_UDP" -f "$DP_DEVFILE" -R "$run" \
        -n "$B4_DEVICES" -s "$B4_SIZE" -r "$rate" -d "$secs" -g 5 > "$f" 2>&1
    kill -USR1 "$sp" 2>/dev/null
    wait "$sp"
    for k in sent due behind rate; do
        R[${tag}_load_$k]=$(rv "$f" "$k")
    done
    for k in unique dup ooo lat_p50_us lat_p99_us rx_rate; do
        R[${tag}_$k]=$(rv "$g" "$k")
    done
    lost=$(( ${R[${tag}_load_sent]:-0} - ${R[${tag}_unique]:-0} ))
    R[${tag}_lost]=$lost
    ok=$(awk -v s="${R[${tag}_load_sent]:-0}" -v d="${R[${tag}_load_due]:-1}" \
             -v l="$lost" -v u="${R[${tag}_dup]:-1}" -v o="${R[${tag}_ooo]:-1}" \
             -v p="${R[${tag}_lat_p50_us]:-999999999}" -v m="$B10_P50_OK_MS" \
             'BEGIN { print (s >= 0.99 * d && s > 0 && l == 0 && u == 0 &&
                             o == 0 && p != "" && p < m * 1000) ? "PASS" : "FAIL" }')
    R[${tag}_pass]=$ok
    R[${tag}_line]="$rate|${R[${tag}_load_sent]:-}|${R[${tag}_unique]:-}|$lost|${R[${tag}_dup]:-}|${R[${tag}_ooo]:-}|${R[${tag}_lat_p50_us]:-}|${R[${tag}_lat_p99_us]:-}|${R[${tag}_rx_rate]:-}|$ok"
    log "$tag: $rate/s: sent ${R[${tag}_load_sent]:-?}, delivered ${R[${tag}_unique]:-?}, lost $lost, dup ${R[${tag}_dup]:-?}, ooo ${R[${tag}_ooo]:-?}, p50/p99 ${R[${tag}_lat_p50_us]:-?}/${R[${tag}_lat_p99_us]:-?} us: $ok"
    [ "$ok" = PASS ]
}

# out_enable DIR OID true|false
out_enable() {
    api "$1" PATCH "/collections/$DP_CID/outputs/$2" "{\"enabled\":$3}" > /dev/null
}

bench10() {
    local P=$TMP/b10 M=$TMP/b10-mosq sys oid pre rate max fail try tag lines half
    local out
    dp_setup > "$OUT/dp-setup.txt" || { fail b10 "$(cat "$OUT/dp-setup.txt")"; return 1; }
    command -v "$MOSQUITTO" > /dev/null || { fail b10 "$MOSQUITTO not found (apt-get install -y mosquitto)"; return 1; }
    command -v python3 > /dev/null || { fail b10 "python3 not found"; return 1; }
    DP_MAIN_EXTRA="iot_outputs_private_destinations on; iot_outputs_queue 10000000;" \
        dp_iot_prefix "$P" > "$OUT/b10-setup.txt" || { fail b10 "$(cat "$OUT/b10-setup.txt")"; return 1; }
    take_ports 2
    B10_HOOK=${PORTS[0]}
    B10_MOSQ=${PORTS[1]}
    mosq_start "$M" "$B10_MOSQ" || { fail b10 "mosquitto did not start"; return 1; }
    out=$(api "$P" POST "/collections/$DP_CID/outputs" "{\"type\":\"webhook\",\"enabled\":false,\"config\":{\"url\":\"http://127.0.0.1:$B10_HOOK/hook\"}}")
    R[b10_hook_oid]=$(printf '%s' "$out" | grep -o '"outputId":"[0-9a-v]*"' | cut -d'"' -f4)
    out=$(api "$P" POST "/collections/$DP_CID/outputs" "{\"type\":\"mqtt\",\"enabled\":false,\"config\":{\"endpoint\":\"tcp://127.0.0.1:$B10_MOSQ\",\"topicName\":\"bench/out\"}}")
    R[b10_mqtt_oid]=$(printf '%s' "$out" | grep -o '"outputId":"[0-9a-v]*"' | cut -d'"' -f4)
    if [ -z "${R[b10_hook_oid]}" ] || [ -z "${R[b10_mqtt_oid]}" ]; then
        fail b10 "POST .../outputs failed: $out"
        return 1
    fi
    R[b10_devices]=$B4_DEVICES

    # the WebSocket reference, outputs disabled
    log "b10: rate ladder, uplink -> WebSocket"
    dp_ladder iot b10ws
    R[b10_ws_max]=${R[b10ws_max]}

    for sys in hook mqtt; do
        oid=${R[b10_${sys}_oid]}
        out_enable "$P" "$oid" true
        sleep 2
        pre=b10$sys
        max=0
        fail=
        lines=
        log "b10: rate ladder, uplink -> $sys output"
        for rate in $B10_LADDER; do
            for try in 1 2; do
                tag=$pre-r$rate-$try
                out_step "$sys" "$rate" "$B10_STEP_S" "$tag"
                lines="$lines${R[${tag}_line]:-$rate|||||||||FAIL}|$try"$'\n'
                [ "${R[${tag}_pass]}" = PASS ] && break
            done
            if [ "${R[${tag}_pass]}" = PASS ]; then
                max=$rate
            else
                fail=$rate
                break
            fi
        done
        R[${pre}_max]=$max
        R[${pre}_fail]=${fail:-none}
        R[${pre}_ladder]=$lines
        # a failed step leaves a backlog: let it drain before half the max
        sleep 5
        half=$(( max / 2 / 1000 * 1000 ))
        [ "$half" -gt 0 ] || half=1000
        R[${pre}_half_rate]=$half
        log "b10: $sys output at $half/s for ${B10_HALF_S}s"
        out_step "$sys" "$half" "$B10_HALF_S" "$pre-half"
        R[${pre}_half_pass]=${R[$pre-half_pass]}
        R[${pre}_half_delivered]=${R[$pre-half_rx_rate]:-}
        R[${pre}_ratio]=$(awk -v a="$max" -v b="${R[b10_ws_max]:-0}" \
            'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        out_enable "$P" "$oid" false
        sleep 1
    done
    mosq_stop "$M"
    ngx_stop "$P"
    problems b10 "$P"
    R[b10_done]=1
}

main() {
    need_tools || exit 1
    if [ ! -f "$MODULE_SO" ]; then
        echo "bench: $MODULE_SO not found; build first (./build.sh build)" >&2
        exit 1
    fi
    # load a private copy: a rebuild during the run must not mix versions
    cp "$MODULE_SO" "$TMP/ngx_iot_module.so"
    chmod 0755 "$TMP/ngx_iot_module.so"
    MODULE_SO=$TMP/ngx_iot_module.so
    machine
    R[load_before]=$(cut -d' ' -f1-3 /proc/loadavg)
    R[command]="bench/run.sh"
    [ "${BENCH_QUICK:-0}" = 1 ] && R[command]="BENCH_QUICK=1 bench/run.sh"
    [ "$ONLY" != "$ALL" ] && R[command]="BENCH_ONLY=\"$ONLY\" ${R[command]}"
    local t0 b rc=0
    t0=$(now)
    for b in $ONLY; do
        case $b in
            1) bench1 || rc=1 ;;
            2) bench2 || rc=1 ;;
            3) bench3 || rc=1 ;;
            4) bench4 || rc=1 ;;
            5) bench5 || rc=1 ;;
            6) bench6 || rc=1 ;;
            7) bench7 || rc=1 ;;
            8) bench8 || rc=1 ;;
            9) bench9 || rc=1 ;;
            10) bench10 || rc=1 ;;
            *) echo "bench: unknown benchmark $b" >&2; rc=1 ;;
        esac
    done
    R[total_s]=$(elapsed "$t0" | cut -d. -f1)
    R[load_after]=$(cut -d' ' -f1-3 /proc/loadavg)
    for k in "${!R[@]}"; do printf '%s=%s\n' "$k" "${R[$k]}"; done | sort \
        > "$OUT/results.env"
    . "$BENCH_DIR/report.sh"
    write_results "$RESULTS"
    log "results: $RESULTS (raw: $OUT)"
    return $rc
}

main "$@"
