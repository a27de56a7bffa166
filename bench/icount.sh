#!/bin/bash
# Instructions per request (a diagnostic, not part of bench/run.sh): one
# worker under valgrind's callgrind serves GETs of one kind, once 200 and
# once 200 + REQUESTS of them, each time from a fresh start to its exit;
# the difference of the worker's instructions (Ir) between the two runs,
# divided by REQUESTS, is what a request costs (start and exit cancel
# out). Unlike requests per second, the count does not depend on what else
# the machine is doing, so a change to a request's path can be compared
# before and after on a shared machine.
#
#   bench/icount.sh [REQUESTS]        (default 2000; needs valgrind, curl,
#                                      sqlite3; MODULE_SO as bench/run.sh)
#
# Kinds: the things dialect's GET /devices/imei:<imei> (Bearer), the
# collections dialect's GET /collections/{cid}/devices/{did} (X-API-Token),
# both over 1,000 of 10,000 bulk-loaded devices (bulk_load ... things),
# the collections dialect's creation of a device with an IMSI and an IMEI
# (benchmark 2's request; each run from the same store), the iotda
# dialect's creation (benchmark 8's request and product),
# an unknown path of the collections dialect (404: what every request
# costs before its resource), and nginx's own return 200 of a body of a
# device's size in the same server (the reference of benchmarks 1 and 7). Requests go one at a time over keep-alive
# connections (curl with the URLs in a config file). Prints one line per
# kind: requests, Ir of the two runs, Ir per request; the callgrind files
# stay in ICOUNT_DIR (default a temporary directory; callgrind.KIND.RUNS)
# for callgrind_annotate (the difference of two: --diff in valgrind 3.21,
# or compare the inclusive counts of the functions by hand).

set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=$ROOT/bench
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

MODULE_SO=${MODULE_SO:-$ROOT/build/ngx_iot_module.so}
N=${1:-2000}
DEVICES=${ICOUNT_DEVICES:-10000}
DIR=${ICOUNT_DIR:-$(mktemp -d /tmp/iot-icount.XXXXXX)}
mkdir -p "$DIR/cg"
chmod 0755 "$DIR"
chmod 1777 "$DIR/cg"       # the worker (nobody) writes its file there

for t in valgrind curl sqlite3; do
    command -v "$t" > /dev/null || { echo "icount: $t is needed" >&2; exit 1; }
done

NEXT_PORT=${BENCH_PORT:-18780}
port=$(free_port)
BENCH_WORKERS=1 mk_iotda_prefix "$DIR" "$port" 64m

# the reference of benchmarks 1 and 7: nginx's return 200 of a body of a
# device's size (352 bytes), in the same server
body=$(head -c 352 /dev/zero | tr '\0' 'x')
sed -i "s|^        location / { iot_api collections; }|&\\
        location = /ref { default_type application/json; return 200 '$body'; }|" \
    "$DIR/conf/nginx.conf"

ngx_start "$DIR" > /dev/null || exit 1
cid=$(create_collection "$DIR") || { ngx_stop "$DIR"; exit 1; }
ngx_stop "$DIR"
bulk_load "$DIR" "$DEVICES" things > /dev/null || exit 1

tok=$(admin_token "$DIR")
ptr=$DIR/things.curl
pcol=$DIR/collections.curl
p404=$DIR/404.curl
: > "$ptr"; : > "$pcol"; : > "$p404"

# the things dialect: devices n = 1, 11, 21, ... by their IMEI
awk -v n="$N" -v port="$port" 'BEGIN {
    for (i = 0; i < n + 200; i++)
        printf "url = \"http://127.0.0.1:%d/devices/imei:35%013d\"\n" \
               "output = \"/dev/null\"\n", port, (i % 1000) * 10 + 1
}' > "$ptr"
awk -v n="$N" -v port="$port" 'BEGIN {
    for (i = 0; i < n + 200; i++)
        printf "url = \"http://127.0.0.1:%d/nothing/here\"\n" \
               "output = \"/dev/null\"\n", port
}' > "$p404"
awk -v n="$N" -v port="$port" 'BEGIN {
    for (i = 0; i < n + 200; i++)
        printf "url = \"http://127.0.0.1:%d/ref\"\n" \
               "output = \"/dev/null\"\n", port
}' > "$DIR/ref.curl"

# the collections dialect: the first 1,000 devices it lists
ngx_start "$DIR" > /dev/null || exit 1
device_paths "$DIR" "$cid" 1000 "$DIR/paths.txt" || { ngx_stop "$DIR"; exit 1; }
# the iotda dialect's creation (benchmark 8's request and product)
project=$(api "$DIR" GET "/collections/$cid" |
          grep -o '"teamId":"[0-9a-v]*"' | cut -d'"' -f4)
code=$(curl -s -o "$DIR/product.json" -w '%{http_code}' \
    -H "X-Auth-Token: $tok" -H 'Content-Type: application/json' \
    --data-binary "{\"product_id\":\"bench\",\"name\":\"bench\",\"device_type\":\"meter\",\"protocol_type\":\"UDP\",\"data_format\":\"json\",\"app_id\":\"$cid\",\"service_capabilities\":[{\"service_id\":\"s\",\"properties\":[{\"property_name\":\"t\",\"data_type\":\"int\",\"default_value\":1}]}]}" \
    "http://127.0.0.1:$port/v5/iot/$project/products")
ngx_stop "$DIR"
[ "$code" = 201 ] || { echo "icount: POST products: $code" >&2; exit 1; }
awk -v n="$N" -v port="$port" '{ p[k++] = $0 } END {
    for (i = 0; i < n + 200; i++)
        printf "url = \"http://127.0.0.1:%d%s\"\n" \
               "output = \"/dev/null\"\n", port, p[i % k]
}' "$DIR/paths.txt" > "$pcol"

# the collections dialect's creation (benchmark 2's request): a device
# with a new IMSI and IMEI each, into the store as it was before the run
awk -v n="$N" -v port="$port" -v cid="$cid" -v tok="$tok" 'BEGIN {
    for (i = 0; i < n + 200; i++)
        printf "%s\nurl = \"http://127.0.0.1:%d/collections/%s/devices\"\n" \
               "output = \"/dev/null\"\n" \
               "header = \"X-API-Token: %s\"\n" \
               "header = \"Content-Type: application/json\"\n" \
               "data = \"{\\\"imsi\\\":\\\"24297%010d\\\"," \
               "\\\"imei\\\":\\\"35297%010d\\\"}\"\n", \
               i ? "next" : "# one request a group", port, cid, tok, i, i
}' > "$DIR/create.curl"
awk -v n="$N" -v port="$port" -v project="$project" -v tok="$tok" 'BEGIN {
    for (i = 0; i < n + 200; i++)
        printf "%s\nurl = \"http://127.0.0.1:%d/v5/iot/%s/devices\"\n" \
               "output = \"/dev/null\"\n" \
               "header = \"X-Auth-Token: %s\"\n" \
               "header = \"Content-Type: application/json\"\n" \
               "data = \"{\\\"node_id\\\":\\\"n%012d\\\"," \
               "\\\"product_id\\\":\\\"bench\\\"," \
               "\\\"device_name\\\":\\\"bench n%012d\\\"}\"\n", \
               i ? "next" : "# one request a group", port, project, tok, i, i
}' > "$DIR/iotda-create.curl"
cp -a "$DIR/var" "$DIR/var.before"

# one run: nginx under callgrind, the first M requests of FILE (LINES
# lines each), a stop; prints the worker's Ir (its threads included)
one() {
    local kind=$1 file=$2 hdr=$3 m=$4 lines=${5:-2} master worker i ir
    rm -rf "$DIR/var"
    cp -a "$DIR/var.before" "$DIR/var"
    valgrind --tool=callgrind --trace-children=yes \
        --callgrind-out-file="$DIR/cg/callgrind.%p" \
        "$NGINX" -p "$DIR/" -c "$DIR/conf/nginx.conf" \
        -e "$DIR/logs/error.log" > "$DIR/valgrind.out" 2>&1 &
    master=$!
    echo "$master" > "$DIR/master.pid"
    for i in $(seq 1 600); do
        [ "$(http_code "$port")" != 000 ] && break
        sleep 0.1
    done
    worker=$(pgrep -P "$master" | head -n1)
    curl -s -K <(head -n $((lines * m)) "$file") -H "$hdr" > /dev/null
    ngx_stop "$DIR"
    mv "$DIR/cg/callgrind.$worker" "$DIR/callgrind.$kind.$m"
    rm -f "$DIR"/cg/callgrind.[0-9]*
    ir=$(grep -m1 -E '^(summary|totals):' "$DIR/callgrind.$kind.$m" |
         awk '{ print $2 }')
    echo "${ir:-0}"
}

# run KIND FILE HEADER [LINES]
run() {
    local kind=$1 file=$2 hdr=$3 lines=${4:-2} a b
    a=$(one "$kind" "$file" "$hdr" 200 "$lines")
    b=$(one "$kind" "$file" "$hdr" $((200 + N)) "$lines")
    printf '%-12s %6d requests  Ir %12d - %12d  Ir/request %8d\n' \
        "$kind" "$N" "$b" "$a" $(((b - a) / N))
}

for kind in ${ICOUNT_KINDS:-things collections 404 return200 create iotda-create}; do
    case $kind in
        things) run things "$ptr" "Authorization: Bearer $tok" ;;
        collections) run collections "$pcol" "X-API-Token: $tok" ;;
        404) run 404 "$p404" "X-API-Token: $tok" ;;
        return200) run return200 "$DIR/ref.curl" "X-API-Token: $tok" ;;
        create) run create "$DIR/create.curl" "X-Nothing: 1" 6 ;;
        iotda-create) run iotda-create "$DIR/iotda-create.curl" "X-Nothing: 1" 6 ;;
    esac
done

echo "callgrind files: $DIR/callgrind.*"
