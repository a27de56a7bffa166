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
http {
    access_log off;
    server {
        listen 127.0.0.1:$port;
        location / { iot_api collections; }
    }
}
EOF
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

# bulk_load DIR N: insert N devices into the only collection of a stopped
# store, in one transaction (recursive CTE). Prints seconds taken.
bulk_load() {
    local dir=$1 n=$2 db=$1/var/iot.db owner cid t0
    owner=$(stat -c %u:%g "$db")
    cid=$(sqlite3 "$db" 'select id from collections limit 1')
    if [ -z "$cid" ]; then
        echo "bulk_load: no collection in $db" >&2
        return 1
    fi
    t0=$(now)
    sqlite3 "$db" > /dev/null <<EOF || return 1
PRAGMA cache_size = -262144;
BEGIN;
WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $n)
INSERT INTO devices (id, collection_id, imsi, imei)
SELECT abs(random() % 9223372036854775807) + 1, $cid,
       printf('%015d', n), printf('35%013d', n) FROM s;
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
