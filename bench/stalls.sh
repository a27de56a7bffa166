#!/usr/bin/env bash
# Where do the workers' event loops stall under a creation load?
#
#   bench/stalls.sh [normal|full]
#
# Starts nginx with the module under strace (the syscall filter runs in the
# kernel, --seccomp-bpf, so only the traced calls cost anything), runs the
# creation load of benchmark 2 (wrk -t2 -c32) together with the paced read
# load for BENCH_DURATION seconds (default 6), then prints the read latency
# and, per worker, every event-loop iteration (time between two epoll_wait
# calls) longer than 20 ms with the fdatasync calls and sleeps (SQLite's
# busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, ... ms) inside it.
# Diagnostic only: not called by run.sh; loopback only, bounded in time.

set -u -o pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

SYNC=${1:-normal}
DUR=${BENCH_DURATION:-6}
need_tools || exit 1
command -v strace >/dev/null || { echo "stalls.sh: needs strace" >&2; exit 1; }

TMP=$(mktemp -d /tmp/iot-stalls.XXXXXX)
chmod 0755 "$TMP"
MODULE_SO=$TMP/ngx_iot_module.so
cp "${MODULE_SO_SRC:-$ROOT/build/ngx_iot_module.so}" "$MODULE_SO" || exit 1
P=$TMP/p
SPID=

finish() {
    if [ -f "$P/logs/nginx.pid" ]; then
        kill -QUIT "$(cat "$P/logs/nginx.pid")" 2>/dev/null
    fi
    [ -n "$SPID" ] && wait "$SPID" 2>/dev/null
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$TMP"
}
trap finish EXIT

port=$(free_port)
mk_iot_prefix "$P" "$port" "$SYNC" 512m
strace -f --seccomp-bpf -T -tt -o "$TMP/strace.txt" \
    -e trace=epoll_wait,epoll_pwait,fdatasync,fsync,clock_nanosleep,nanosleep \
    "$NGINX" -p "$P/" -c "$P/conf/nginx.conf" -e "$P/logs/error.log" \
    > /dev/null 2>&1 &
SPID=$!
for _ in $(seq 1 300); do
    [ "$(http_code "$port")" != 000 ] && break
    sleep 0.1
done
tok=$(admin_token "$P") || exit 1
cid=$(create_collection "$P") || exit 1
for i in $(seq 1 200); do
    api "$P" POST "/collections/$cid/devices" \
        "{\"imsi\":\"77$i\",\"imei\":\"88$i\"}" > /dev/null
done
device_paths "$P" "$cid" 200 "$TMP/paths" || exit 1

wrk -t2 -c32 -d"${DUR}s" -s "$BENCH_DIR/lua/create.lua" \
    "http://127.0.0.1:$port" -- "$tok" "/collections/$cid/devices" 1 \
    > "$TMP/create.txt" 2>&1 &
cpid=$!
WRK_DELAY_MS=2 wrk -t1 -c10 -d"${DUR}s" --latency -s "$BENCH_DIR/lua/get.lua" \
    "http://127.0.0.1:$port" -- "$tok" "$TMP/paths" > "$TMP/read.txt" 2>&1
wait "$cpid"
kill -QUIT "$(cat "$P/logs/nginx.pid")"
wait "$SPID"
SPID=

echo "iot_store_sync $SYNC, ${DUR} s, under strace:"
echo "  creations/s $(rv "$TMP/create.txt" created_per_s)," \
     "non-201 $(rv "$TMP/create.txt" non201)"
echo "  reads/s $(rv "$TMP/read.txt" rps), read p50 $(rv "$TMP/read.txt" lat_p50_us) us," \
     "p99 $(rv "$TMP/read.txt" lat_p99_us) us, max $(rv "$TMP/read.txt" lat_max_us) us"

perl -ne '
    my ($pid, $ts, $rest) =
        /^(\d+)\s+(\d+):(\d+):([\d.]+)\s+(.*)$/
        ? ($1, $2 * 3600 + $3 * 60 + $4, $5) : next;
    if ($rest =~ /^epoll_p?wait\(.*unfinished/) { $st{$pid} = $ts; next }
    if ($rest =~ /^<\.\.\. epoll_p?wait resumed>.*<([\d.]+)>/) {
        $end{$pid} = $st{$pid} + $1; next }
    if ($rest =~ /^epoll_p?wait\(.*<([\d.]+)>/) {
        my $d = $1;
        if (defined $end{$pid}) {
            push @{$it{$pid}}, [$end{$pid}, $ts - $end{$pid},
                                $sync{$pid} // [0, 0], $slp{$pid} // [0, 0]];
        }
        $end{$pid} = $ts + $d; $sync{$pid} = [0, 0]; $slp{$pid} = [0, 0];
        next;
    }
    if ($rest =~ /^(?:<\.\.\. )?(fdatasync|fsync|clock_nanosleep|nanosleep)\b.*<([\d.]+)>$/) {
        my ($call, $secs) = ($1, $2);
        my $a = $call =~ /sleep/ ? ($slp{$pid} //= [0, 0])
                                 : ($sync{$pid} //= [0, 0]);
        $a->[0]++;
        $a->[1] += $secs;
    }
    END {
        for my $p (sort keys %it) {
            my @g = @{$it{$p}};
            next if @g < 100;     # the master, the cache manager
            my @big = grep { $_->[1] > 0.02 } @g;
            my ($t, $b) = (0, 0);
            $t += $_->[1], $b += $_->[2][1] + $_->[3][1] for @big;
            printf "worker %s: %d event-loop iterations; %d longer than"
                 . " 20 ms, %.2f s in all, %.2f s of it in fdatasync or"
                 . " sleep\n", $p, scalar @g, scalar @big, $t, $b;
            for (sort { $a->[0] <=> $b->[0] } @big) {
                printf "  +%6.3f s %5.0f ms: %3d fdatasync %5.0f ms,"
                     . " %3d sleeps %5.0f ms\n", $_->[0] - $g[0][0],
                     $_->[1] * 1000, $_->[2][0], $_->[2][1] * 1000,
                     $_->[3][0], $_->[3][1] * 1000;
            }
        }
    }' "$TMP/strace.txt"
