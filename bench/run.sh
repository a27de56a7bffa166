#!/usr/bin/env bash
# nginx-iot benchmarks. Entry point (./build.sh bench calls it after the
# build). Installs nothing; needs wrk, sqlite3, curl, perl and the built
# module. See bench/README.md for what is measured and the knobs.
#
#   bench/run.sh                 all three benchmarks (~2 minutes)
#   BENCH_ONLY="1 3" bench/run.sh
#   BENCH_QUICK=1 bench/run.sh   smoke run: small numbers, short runs
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
# requests of each of the 32 connections: 5 offers about 5,300-6,400/s,
# just above the target) so that it is the target rate, not a saturated
# CPU, that the reads share the workers with
B2_MIXED_PACE=${B2_MIXED_PACE:-5}
B2_READ_WRK=${B2_READ_WRK:--t1 -c10}
B2_READ_DELAY_MS=${B2_READ_DELAY_MS:-2}
B3_DEVICES=${B3_DEVICES:-1000000}
ONLY=${BENCH_ONLY:-1 2 3}
RESULTS=${BENCH_RESULTS:-$BENCH_DIR/RESULTS.md}

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    DUR=${BENCH_DURATION:-3}
    WARMUP=1
    B1_DEVICES=${B1_DEVICES_QUICK:-5000}
    B3_DEVICES=${B3_DEVICES_QUICK:-50000}
fi

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

# perf_start DIR NAME SECONDS: record the workers' profile in the background
PERF_PID=
perf_start() {
    PERF_PID=
    [ "${BENCH_PROFILE:-0}" = 1 ] || return 0
    command -v perf >/dev/null || return 0
    local pids
    pids=$(worker_pids "$1" | tr ' ' ',' | sed 's/,$//')
    [ -n "$pids" ] || return 0
    perf record -q -g -p "$pids" -o "$OUT/perf-$2.data" -- sleep "$3" \
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

    for i in 1 2; do
        for side in A B; do
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
    R[b1_pass]=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.75) ? "PASS" : "FAIL" }')
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

bench2() {
    local P cid sync pre f g cmd_r
    for sync in normal full; do
        P=$TMP/b2-$sync
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

        # the same creation load with a concurrent GET load
        ngx_start "$P" > /dev/null || { fail b2 "restart failed"; return 1; }
        device_paths "$P" "$cid" 1000 "$OUT/b2-paths.txt" ||
            { fail b2 "could not list devices"; return 1; }
        g=$OUT/b2-read-alone.txt
        # shellcheck disable=SC2086
        cmd_r=(env WRK_DELAY_MS="$B2_READ_DELAY_MS"
               wrk $B2_READ_WRK -d"${DUR}s" --latency -s "$BENCH_DIR/lua/get.lua"
               "http://127.0.0.1:$(cat "$P/port")" -- "$CUR_TOKEN" "$OUT/b2-paths.txt")
        R[b2_read_cmd]="WRK_DELAY_MS=$B2_READ_DELAY_MS $(wrk_cmd_str "${cmd_r[@]:2}")"
        log "b2: reads alone: ${R[b2_read_cmd]}"
        "${cmd_r[@]}" > "$g" 2>&1
        R[b2_read_alone_rps]=$(rv "$g" rps)
        R[b2_read_alone_p50]=$(rv "$g" lat_p50_us)
        R[b2_read_alone_p99]=$(rv "$g" lat_p99_us)
        R[b2_read_alone_max]=$(rv "$g" lat_max_us)
        R[b2_read_alone_non2xx]=$(rv "$g" non2xx)

        g=$OUT/b2-read-mixed.txt
        log "b2: creation + reads together"
        "${cmd_r[@]}" > "$g" 2>&1 &
        local rpid=$!
        b2_create "$P" "$cid" 2 mixed "$B2_MIXED_PACE"
        wait "$rpid"
        R[b2_read_mixed_rps]=$(rv "$g" rps)
        R[b2_read_mixed_p50]=$(rv "$g" lat_p50_us)
        R[b2_read_mixed_p99]=$(rv "$g" lat_p99_us)
        R[b2_read_mixed_max]=$(rv "$g" lat_max_us)
        R[b2_read_mixed_non2xx]=$(rv "$g" non2xx)
        R[b2_read_pass]=$(awk -v p="${R[b2_read_mixed_p99]}" \
            'BEGIN { print (p != "" && p < 5000) ? "PASS" : "FAIL" }')
        b2_durable "$P" "$cid" mixed "$pre" || return 1
        problems b2 "$P"
    done
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
    [ "$ONLY" != "1 2 3" ] && R[command]="BENCH_ONLY=\"$ONLY\" ${R[command]}"
    local t0 b rc=0
    t0=$(now)
    for b in $ONLY; do
        case $b in
            1) bench1 || rc=1 ;;
            2) bench2 || rc=1 ;;
            3) bench3 || rc=1 ;;
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
