# shellcheck shell=bash
# Helpers for bench/run.sh: temporary nginx prefixes, start/stop, the
# module's start notice, the HTTP API, bulk loading the SQLite store.
# Sourced, not run. Everything listens on 127.0.0.1 only.

NGINX=${NGINX:-/usr/sbin/nginx}
STREAM_SO=${STREAM_SO:-/usr/lib/nginx/modules/ngx_stream_module.so}

log() {
    printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

now() {
    date +%s.%N
}

# elapsed START [END] -> seconds with 3 decimals
elapsed() {
    awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.3f", b - a }'
}

# calc EXPR -> awk arithmetic, 3 decimals unless the format says otherwise
calc() {
    awk "BEGIN { printf \"${2:-%.3f}\", $1 }"
}

need_tools() {
    local t missing=
    for t in "$NGINX" wrk sqlite3 curl awk perl shuf; do
        command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
    done
    if [ -n "$missing" ]; then
        echo "bench: missing tools:$missing" >&2
        echo "bench: on Debian: apt-get install -y wrk sqlite3 curl" >&2
        return 1
    fi
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port -> the first port from $NEXT_PORT on that nothing listens on
NEXT_PORT=${BENCH_PORT:-18480}
free_port() {
    while port_in_use "$NEXT_PORT"; do
        NEXT_PORT=$((NEXT_PORT + 1))
    done
    echo "$NEXT_PORT"
    NEXT_PORT=$((NEXT_PORT + 1))
}

_prefix_dirs() {
    mkdir -p "$1/conf" "$1/logs" "$1/var"
    chmod 0755 "$1" "$1/conf" "$1/logs" "$1/var"
}

_stream_line() {
    if [ -f "$STREAM_SO" ]; then
        echo "load_module $STREAM_SO;"
    fi
}

# mk_iot_prefix DIR PORT SYNC ZONE_SIZE
mk_iot_prefix() {
    local dir=$1 port=$2 sync=$3 zone=$4
    _prefix_dirs "$dir"
    echo "$port" > "$dir/port"
    cat > "$dir/conf/nginx.conf" <<EOF
$(_stream_line)
load_module $MODULE_SO;
worker_processes ${BENCH_WORKERS:-2};
daemon off;
master_process on;
pid logs/nginx.pid;
error_log logs/error.log notice;
events { worker_connections 4096; }
iot_zone iot:$zone;
iot_store var/iot.db;
iot_admin_token_file var/admin.token;
iot_store_sync $sync;
${IOT_MAIN_EXTRA:-}
http {
    access_log off;
    server {
        listen 127.0.0.1:$port;
        location / { iot_api collections; }
    }
}
EOF
}

# mk_things_prefix DIR PORT ZONE_SIZE: the module with both dialects on one
# server (the things dialect's paths by a regular expression location) and
# no history limit, so that ingested messages can be counted
mk_things_prefix() {
    local dir=$1 port=$2 zone=$3
    _prefix_dirs "$dir"
    echo "$port" > "$dir/port"
    cat > "$dir/conf/nginx.conf" <<EOF
$(_stream_line)
load_module $MODULE_SO;
worker_processes ${BENCH_WORKERS:-2};
daemon off;
master_process on;
pid logs/nginx.pid;
error_log logs/error.log notice;
events { worker_connections 4096; }
iot_zone iot:$zone;
iot_store var/iot.db;
iot_admin_token_file var/admin.token;
iot_store_sync normal;
iot_history_max_count 0;
http {
    access_log off;
    server {
        listen 127.0.0.1:$port;
        location ~ ^/(devices|device-groups|ingestion)(/|\$) {
            iot_api things;
        }
        location / { iot_api collections; }
    }
}
EOF
}

# mk_iotda_prefix DIR PORT ZONE: the three dialects, as
# conf/nginx.conf.example mounts them (benchmark 8)
mk_iotda_prefix() {
    local dir=$1 port=$2 zone=$3
    _prefix_dirs "$dir"
    echo "$port" > "$dir/port"
    cat > "$dir/conf/nginx.conf" <<EOF
$(_stream_line)
load_module $MODULE_SO;
worker_processes ${BENCH_WORKERS:-2};
daemon off;
master_process on;
pid logs/nginx.pid;
error_log logs/error.log notice;
events { worker_connections 4096; }
iot_zone iot:$zone;
iot_store var/iot.db;
iot_admin_token_file var/admin.token;
iot_store_sync normal;
iot_history_max_count 0;
http {
    access_log off;
    server {
        listen 127.0.0.1:$port;
        location /v5/iot/ { iot_api iotda; }
        location ~ ^/(devices|device-groups|ingestion)(/|\$) {
            iot_api things;
        }
        location / { iot_api collections; }
    }
}
EOF
}

# things_cursor SORT ID CREATED MODIFIED NAME -> the things dialect's cursor
# for the page after that row (its bytes: docs/things.md, "Lists"), made
# here so that a page deep in a list of 1,000,000 can be asked for without
# walking to it
things_cursor() {
    perl -MMIME::Base64 -e '
        my ($sort, $id, $c, $m, $name) = @ARGV;
        my %f = (createdAt => 1, modifiedAt => 2, name => 3);
        my @s = map { /^(-?)(.*)/; $f{$2} | ($1 ? 128 : 0) }
                grep { length } split /,/, $sort;
        my $has_name = grep { ($_ & 127) == 3 } @s;
        $name = "" unless $has_name;
        my $b = pack("CCC", 1, 0, scalar @s)
              . pack("C3", @s, (0) x (3 - @s))
              . pack("Q>Q>Q>n", $id, $c, $m, length $name) . $name;
        my $t = encode_base64($b, "");
        $t =~ tr{+/}{-_}; $t =~ s/=+$//;
        print $t;' -- "$@"
}

# mk_ref_prefix DIR PORT BODY_FILE: stock nginx (same binary and worker
# count, no module) answering every request with the bytes of BODY_FILE.
mk_ref_prefix() {
    local dir=$1 port=$2 body=$3 esc
    _prefix_dirs "$dir"
    echo "$port" > "$dir/port"
    if grep -q '\$' "$body"; then
        echo "mk_ref_prefix: body contains '\$', cannot be a literal" >&2
        return 1
    fi
    # nginx quoted strings: escape \ and ', keep control characters
    esc=$(perl -0777 -pe 's/\\/\\\\/g; s/\x27/\\\x27/g; s/\n/\\n/g;
                          s/\r/\\r/g; s/\t/\\t/g' "$body")
    cat > "$dir/conf/nginx.conf" <<EOF
$(_stream_line)
worker_processes ${BENCH_WORKERS:-2};
daemon off;
master_process on;
pid logs/nginx.pid;
error_log logs/error.log notice;
events { worker_connections 4096; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$port;
        default_type application/json;
        location / { return 200 '$esc'; }
    }
}
EOF
}

# http_code PORT -> the status of GET / or 000 when nothing answers
http_code() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
        "http://127.0.0.1:$1/" 2>/dev/null
}

# ngx_start DIR -> prints seconds from launch to the port answering.
# Remembers the master pid in DIR/master.pid and the error log size at
# launch in DIR/log.offset (for ngx_new_log).
ngx_start() {
    local dir=$1 port t0 pid code timeout=${BENCH_START_TIMEOUT:-120}
    port=$(cat "$dir/port")
    if port_in_use "$port"; then
        echo "ngx_start: port $port already in use" >&2
        return 1
    fi
    touch "$dir/logs/error.log"
    stat -c %s "$dir/logs/error.log" > "$dir/log.offset"
    t0=$(now)
    "$NGINX" -p "$dir/" -c "$dir/conf/nginx.conf" -e "$dir/logs/error.log" \
        >> "$dir/logs/stdout.log" 2>&1 &
    pid=$!
    echo "$pid" > "$dir/master.pid"
    while :; do
        code=$(http_code "$port")
        if [ "$code" != "000" ]; then
            elapsed "$t0"
            echo
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "ngx_start: nginx exited during start; error log:" >&2
            ngx_new_log "$dir" | tail -n 20 >&2
            tail -n 5 "$dir/logs/stdout.log" >&2
            rm -f "$dir/master.pid"
            return 1
        fi
        if [ "$(elapsed "$t0" | cut -d. -f1)" -ge "$timeout" ]; then
            echo "ngx_start: no answer on port $port after ${timeout}s" >&2
            ngx_stop "$dir"
            return 1
        fi
        sleep 0.01
    done
}

# ngx_stop DIR: graceful stop (QUIT), then TERM, then KILL
ngx_stop() {
    local dir=$1 pid i
    [ -f "$dir/master.pid" ] || return 0
    pid=$(cat "$dir/master.pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill -QUIT "$pid" 2>/dev/null
        for i in $(seq 1 300); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "ngx_stop: $dir: no exit 30 s after QUIT, sending TERM" >&2
            echo "stop: QUIT did not stop nginx within 30 s" >> "$dir/anomalies"
            kill -TERM "$pid" 2>/dev/null
            sleep 5
            kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
    fi
    rm -f "$dir/master.pid"
}

# worker_pids DIR -> pids of the running master's children
worker_pids() {
    local dir=$1
    [ -f "$dir/master.pid" ] || return 0
    pgrep -P "$(cat "$dir/master.pid")" | tr '\n' ' '
}

# ngx_new_log DIR -> the error log lines written since the last ngx_start
ngx_new_log() {
    local dir=$1 off=0
    [ -f "$dir/log.offset" ] && off=$(cat "$dir/log.offset")
    tail -c +$((off + 1)) "$dir/logs/error.log" 2>/dev/null
}

# notice DIR -> "devices seconds used total" from the module's start notice
# (the first one since the last start), or nothing
notice() {
    ngx_new_log "$1" | perl -ne '
        if (/loaded (\d+) devices/) {
            my $n = $1;
            my $s = /in ([\d.]+) s/ ? $1 : "?";
            my ($u, $t) = /(\d+) of (\d+) bytes used/ ? ($1, $2) : ("?", "?");
            print "$n $s $u $t\n";
            exit;
        }'
}

# notice_raw DIR -> the start notice line itself
notice_raw() {
    ngx_new_log "$1" | grep -m1 'loaded [0-9]* devices'
}

# log_problems DIR -> counts of worrying error log lines over the whole log
log_problems() {
    local f=$1/logs/error.log
    perl -ne '
        $e++ if /\[error\]/; $c++ if /\[crit\]/; $a++ if /\[alert\]/;
        $m++ if /\[emerg\]/; $s++ if /exited on signal/;
        END { printf "error=%d crit=%d alert=%d emerg=%d signal=%d\n",
              $e, $c, $a, $m, $s }' "$f" 2>/dev/null
}

admin_token() {
    tr -d ' \n\r' < "$1/var/admin.token"
}

# api DIR METHOD PATH [BODY] -> body on stdout, status in $API_STATUS file
api() {
    local dir=$1 method=$2 path=$3 body=${4-} port tok
    port=$(cat "$dir/port")
    tok=$(admin_token "$dir")
    if [ -n "$body" ]; then
        curl -s --max-time 120 -X "$method" -H "X-API-Token: $tok" \
            -H 'Content-Type: application/json' --data-binary "$body" \
            -w '\n%{http_code}' "http://127.0.0.1:$port$path"
    else
        curl -s --max-time 120 -X "$method" -H "X-API-Token: $tok" \
            -w '\n%{http_code}' "http://127.0.0.1:$port$path"
    fi
}

# create_collection DIR -> the new collection's id
create_collection() {
    local out status cid
    out=$(api "$1" POST /collections '{"tags":{"name":"bench"}}')
    status=${out##*$'\n'}
    cid=$(printf '%s' "$out" | grep -o '"collectionId":"[0-9a-v]*"' |
          head -n1 | cut -d'"' -f4)
    if [ "$status" != 201 ] || [ -z "$cid" ]; then
        echo "create_collection: status $status: ${out%$'\n'*}" >&2
        return 1
    fi
    echo "$cid"
}

# device_paths DIR CID COUNT FILE -> writes COUNT device paths to FILE
device_paths() {
    local dir=$1 cid=$2 count=$3 file=$4 tmp
    tmp=$file.json
    api "$dir" GET "/collections/$cid/devices?limit=$count" > "$tmp"
    grep -o '"deviceId":"[0-9a-v]*"' "$tmp" | cut -d'"' -f4 | head -n "$count" |
        sed "s|^|/collections/$cid/devices/|" > "$file"
    if [ ! -s "$file" ]; then
        # paging not there? take the first COUNT of the full list
        api "$dir" GET "/collections/$cid/devices" > "$tmp"
        grep -o '"deviceId":"[0-9a-v]*"' "$tmp" | cut -d'"' -f4 |
            head -n "$count" |
            sed "s|^|/collections/$cid/devices/|" > "$file"
    fi
    rm -f "$tmp"
    [ -s "$file" ]
}

# count_listed DIR CID -> number of devices in the full (streamed) listing
count_listed() {
    api "$1" GET "/collections/$2/devices" |
        grep -o '"deviceId":"[0-9a-v]*"' | wc -l
}

# db_count DIR -> rows in devices (nginx must be stopped)
db_count() {
    sqlite3 "$1/var/iot.db" 'select count(*) from devices'
}

# a random (version 4) UUID in SQL, as the store makes them
SQL_UUID="lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4'
 || substr(hex(randomblob(2)), 2) || '-'
 || substr('89ab', 1 + (abs(random()) % 4), 1)
 || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))"

# bulk_load DIR N [things]: insert N devices into the only collection of a
# stopped store, in one transaction (recursive CTE). Prints seconds taken.
# Every device has a UUID and times (schema 4); with "things" it also has
# what the things dialect lists and filters (benchmark 7): a name (tags,
# "dev NNNNNNN", a permutation of n, so that name order is not creation
# order), a barcode, one of four device types (n mod 4: the UUIDs
# 0000000K-0000-4000-8000-000000000000), createdAt = 2026-01-01 + n ms,
# modifiedAt later by another permutation of n.
bulk_load() {
    local dir=$1 n=$2 kind=${3-} db=$1/var/iot.db owner cid t0 cols vals
    owner=$(stat -c %u:%g "$db")
    cid=$(sqlite3 "$db" 'select id from collections limit 1')
    if [ -z "$cid" ]; then
        echo "bulk_load: no collection in $db" >&2
        return 1
    fi
    cols="id, collection_id, imsi, imei, uuid, created_at, modified_at"
    vals="abs(random() % 9223372036854775807) + 1, $cid,
       printf('%015d', n), printf('35%013d', n), $SQL_UUID,
       1767225600000 + n, 1767225600000 + n"
    if [ "$kind" = things ]; then
        cols="$cols, tags, barcode, spec, status"
        vals="abs(random() % 9223372036854775807) + 1, $cid,
       printf('%015d', n), printf('35%013d', n), $SQL_UUID,
       1767225600000 + n, 1767225600000 + n + (n * 104729) % $n,
       json_object('name', printf('dev %07d', (n * 7919) % $n)),
       printf('%012d', (n * 31) % 1000000000000),
       '0000000' || (n % 4) || '-0000-4000-8000-000000000000', 1"
    fi
    t0=$(now)
    sqlite3 "$db" > /dev/null <<EOF || return 1
PRAGMA cache_size = -262144;
BEGIN;
WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $n)
INSERT INTO devices ($cols)
SELECT $vals FROM s;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
EOF
    chown "$owner" "$dir"/var/iot.db* 2>/dev/null
    elapsed "$t0"
    echo
}

# rv FILE KEY -> the value of "RESULT KEY=value" in a wrk output file
rv() {
    grep -m1 "^RESULT $2=" "$1" 2>/dev/null | cut -d= -f2-
}

# ---------------------------------------------------------------------------
# The data plane (benchmarks 4 to 6): RADIUS-attached devices, UDP uplink,
# WebSocket subscribers; nchan and mosquitto for comparison.

NCHAN_SO=${NCHAN_SO:-/usr/lib/nginx/modules/ngx_nchan_module.so}
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
RADCLIENT=${RADCLIENT:-/usr/bin/radclient}

# need_dp_tools -> missing tools of benchmarks 4 to 6 on stdout, or nothing
need_dp_tools() {
    local t missing=
    for t in gcc "$RADCLIENT"; do
        command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
    done
    echo "${missing# }"
}

# dp_build OUTDIR: compile bench/dataplane/*.c into OUTDIR
dp_build() {
    local out=$1 src
    mkdir -p "$out"
    for src in "$BENCH_DIR"/dataplane/*.c; do
        gcc -O2 -Wall -Wextra -o "$out/$(basename "$src" .c)" "$src" \
            2> "$out/$(basename "$src" .c).gcc.txt" || {
            echo "dp_build: $(basename "$src") does not compile:" >&2
            head -n 20 "$out/$(basename "$src" .c).gcc.txt" >&2
            return 1
        }
    done
}

# mk_dp_prefix DIR HTTP_PORT RADIUS_PORT UDP_PORT SECRET [KEEPALIVE]
# nginx with the module, RADIUS accounting and a reuseport UDP uplink (its
# socket buffer: rcvbuf=$DP_RCVBUF when set); no history count limit (the
# benchmarks count the rows); room for 10,000 WebSocket connections in
# either worker (16384 connections, 20000 files each).
mk_dp_prefix() {
    local dir=$1 port=$2 rport=$3 uport=$4 secret=$5 ka=${6:-}
    _prefix_dirs "$dir"
    echo "$port" > "$dir/port"
    echo "$rport" > "$dir/radius_port"
    echo "$uport" > "$dir/udp_port"
    cat > "$dir/conf/nginx.conf" <<EOC
$(_stream_line)
load_module $MODULE_SO;
worker_processes ${BENCH_WORKERS:-2};
worker_rlimit_nofile 20000;
daemon off;
master_process on;
pid logs/nginx.pid;
error_log logs/error.log notice;
events { worker_connections 16384; }
iot_zone iot:${BENCH_DP_ZONE:-256m};
iot_store var/iot.db;
iot_admin_token_file var/admin.token;
iot_history_max_count 0;
${DP_MAIN_EXTRA:-}
stream {
    iot_radius_gateway name=bench from=127.0.0.0/8 secret=$secret pool=10.64.0.0/16;
    server { listen 127.0.0.1:$rport udp; iot_radius; }
    server { listen 127.0.0.1:$uport udp reuseport${DP_RCVBUF:+ rcvbuf=$DP_RCVBUF}; iot_uplink; }
    ${DP_STREAM_EXTRA:-}
}
http {
    access_log off;
${ka:+    iot_ws_keepalive $ka;}
    # one token holds every subscriber (benchmark 6: 10,000 of them), which
    # the default limits exist to refuse
    iot_ws_streams_per_token 100000;
    iot_ws_streams_per_collection 100000;
    iot_ws_streams_per_worker 90%;
    server {
        listen 127.0.0.1:$port;
        location / { iot_api collections; }
    }
}
EOC
}

# mk_nchan_prefix DIR PORT: stock nginx with nchan, same worker count;
# publish: POST /pub?id=CHANNEL, subscribe (WebSocket): /sub?id=CHANNEL
mk_nchan_prefix() {
    local dir=$1 port=$2
    _prefix_dirs "$dir"
    echo "$port" > "$dir/port"
    cat > "$dir/conf/nginx.conf" <<EOC
load_module $NCHAN_SO;
worker_processes ${BENCH_WORKERS:-2};
daemon off;
master_process on;
pid logs/nginx.pid;
error_log logs/error.log notice;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path var/client_body_temp;
    # the publishers are a few pipelined keep-alive connections
    keepalive_requests 100000000;
    nchan_shared_memory_size 256m;
    server {
        listen 127.0.0.1:$port;
        location = /pub {
            nchan_publisher;
            nchan_channel_id \$arg_id;
            # the default, 10, loses messages for a subscriber that is a
            # few messages behind ("Missed message ... Try increasing the
            # message buffer length")
            nchan_message_buffer_length ${B5_NCHAN_BUFFER:-10000};
            nchan_message_timeout 5m;
        }
        location = /sub {
            nchan_subscriber websocket;
            nchan_channel_id \$arg_id;
            nchan_subscriber_first_message newest;
        }
        location / { return 404; }
    }
}
EOC
}

# mosq_start DIR PORT: mosquitto on 127.0.0.1:PORT (not the system
# service), anonymous, no persistence; pid in DIR/mosquitto.pid
mosq_start() {
    local dir=$1 port=$2 pid i
    mkdir -p "$dir"
    chmod 0755 "$dir"
    echo "$port" > "$dir/port"
    cat > "$dir/mosquitto.conf" <<EOC
listener $port 127.0.0.1
allow_anonymous true
persistence false
log_dest file $dir/mosquitto.log
log_type error
log_type warning
log_type notice
EOC
    : > "$dir/mosquitto.log"
    chmod 0666 "$dir/mosquitto.log"
    "$MOSQUITTO" -c "$dir/mosquitto.conf" > "$dir/stdout.log" 2>&1 &
    pid=$!
    echo "$pid" > "$dir/mosquitto.pid"
    for i in $(seq 1 100); do
        port_in_use "$port" && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "mosq_start: mosquitto did not listen on $port" >&2
    cat "$dir/stdout.log" "$dir/mosquitto.log" >&2
    return 1
}

mosq_stop() {
    local pid
    [ -f "$1/mosquitto.pid" ] || return 0
    pid=$(cat "$1/mosquitto.pid")
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rm -f "$1/mosquitto.pid"
}

# udp_in_use PORT: something is bound to the UDP port (any address)
udp_in_use() {
    local hex
    hex=$(printf ':%04X ' "$1")
    grep -q "$hex" /proc/net/udp 2>/dev/null
}

# take_ports N: sets the array PORTS to N ports free for TCP and UDP, from
# $NEXT_PORT on (call it directly, not in $(...): it advances NEXT_PORT)
take_ports() {
    PORTS=()
    while [ ${#PORTS[@]} -lt "$1" ]; do
        if ! port_in_use "$NEXT_PORT" && ! udp_in_use "$NEXT_PORT"; then
            PORTS+=("$NEXT_PORT")
        fi
        NEXT_PORT=$((NEXT_PORT + 1))
    done
}

# dp_addr K -> the address of device K (0-based): 127.1.x.y, y in 1..250
dp_addr() {
    echo "127.1.$(($1 / 250)).$(($1 % 250 + 1))"
}

# dp_devices DIR N FILE: N devices in the store's only collection (bulk
# load; IMSI = n as 15 digits, n = 1..N), FILE gets "ADDRESS IMSI" lines,
# device k (0-based) on line k+1. nginx must be stopped.
dp_devices() {
    local dir=$1 n=$2 file=$3
    bulk_load "$dir" "$n" > /dev/null || return 1
    awk -v n="$n" 'BEGIN {
        for (k = 0; k < n; k++)
            printf "127.1.%d.%d %015d\n", int(k / 250), k % 250 + 1, k + 1
    }' > "$file"
}

# dp_attach DIR SECRET FILE: Accounting Start for every line of FILE
# (radclient, 50 in parallel); prints the number of sessions in the store
dp_attach() {
    local dir=$1 secret=$2 file=$3 rport in
    rport=$(cat "$dir/radius_port")
    in=$dir/attach.in
    awk '{ printf "Acct-Status-Type = Start\nFramed-IP-Address = %s\n" \
                  "3GPP-IMSI = \"%s\"\nAcct-Session-Id = \"bench-%d\"\n\n",
                  $1, $2, NR }' "$file" > "$in"
    "$RADCLIENT" -q -p 50 -r 3 -t 2 "127.0.0.1:$rport" acct "$secret" \
        < "$in" > "$dir/attach.out" 2>&1
    sqlite3 "$dir/var/iot.db" 'select count(*) from sessions' 2>/dev/null
}

# udp_drops PORT -> datagrams the kernel dropped at the UDP sockets bound
# to 127.0.0.1:PORT (full receive buffers; /proc/net/udp "drops")
udp_drops() {
    local hex
    hex=$(printf '0100007F:%04X' "$1")
    awk -v a="$hex" '$2 == a { s += $NF } END { print s + 0 }' /proc/net/udp
}

# hist_rows DIR -> rows in the history of a running nginx (a reader of the
# WAL database, beside the writers)
hist_rows() {
    sqlite3 "$1/var/iot.db-history" 'select count(*) from messages' 2>/dev/null
}

# history_count DIR -> rows in the history (nginx must be stopped)
history_count() {
    sqlite3 "$1/var/iot.db-history" 'select count(*) from messages'
}

# proc_rss PID -> "VmRSS RssAnon RssFile RssShmem" in kB
proc_rss() {
    awk '/^(VmRSS|RssAnon|RssFile|RssShmem):/ { v[$1] = $2 }
         END { print v["VmRSS:"] + 0, v["RssAnon:"] + 0, v["RssFile:"] + 0,
                     v["RssShmem:"] + 0 }' "/proc/$1/status" 2>/dev/null
}

# cpu_ms PID... -> CPU time (user + system) of the processes, in ms
cpu_ms() {
    local p tck
    tck=$(getconf CLK_TCK)
    for p in "$@"; do
        awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null
    done | awk -v t="$tck" '{ s += $1 } END { printf "%.0f\n", s * 1000 / t }'
}
