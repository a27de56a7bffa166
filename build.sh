#!/usr/bin/env bash
# nginx-iot: install what the project needs, build the module, run it,
# test it, benchmark it.  See README.md.
#
#   ./build.sh [build]   install dependencies and build build/ngx_iot_module.so
#   ./build.sh run       build if needed, start nginx on the embedded defaults
#   ./build.sh stop      stop what `run` started
#   ./build.sh test      build and run the whole test suite (prove)
#   ./build.sh bench     build and run the benchmarks (bench/RESULTS.md)
set -euo pipefail

top=$(cd "$(dirname "$0")" && pwd)
build="$top/build"
nginx_src=${NGINX_SRC:-/usr/share/nginx/src}
nginx_bin=${NGINX_BIN:-/usr/sbin/nginx}
stream_module=${NGINX_STREAM_MODULE:-/usr/lib/nginx/modules/ngx_stream_module.so}

packages=(nginx nginx-dev libnginx-mod-stream libjansson-dev libsqlite3-dev
          libssl-dev libcoap3-dev libcoap3-bin sqlite3 curl freeradius-utils
          wrk libprotocol-websocket-perl libwww-perl libjson-xs-perl
          libtest-base-perl python3-websocket libnginx-mod-nchan mosquitto
          valgrind gdb gcc make)

say() { printf '%s\n' "$*" >&2; }

install_deps() {
    local missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        say "need root to apt-get install: ${missing[*]}"; exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    # Debian's nginx package starts a server on port 80 when installed:
    # keep it from starting, we run our own.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
}

sources_newer_than() {
    [ -n "$(find "$top/ngx_iot_module" "$top/config" -newer "$1" \
            -print -quit 2>/dev/null)" ]
}

build_module() {
    local so="$build/ngx_iot_module.so" tree="$build/nginx"
    if [ -f "$so" ] && ! sources_newer_than "$so"; then
        return 0
    fi
    mkdir -p "$build"
    if [ ! -f "$tree/objs/Makefile" ] || [ "$top/config" -nt "$tree/objs/Makefile" ]
    then
        rm -rf "$tree"
        cp -r "$nginx_src" "$tree"
        local flags=()
        if [ -f "$tree/conf_flags" ]; then
            # Debian's nginx-dev records the stock binary's configure flags.
            # shellcheck disable=SC1091
            . "$tree/conf_flags"
            flags=("${NGX_CONF_FLAGS[@]}")
        else
            flags=(--with-compat --with-threads)
        fi
        (cd "$tree" && ./configure "${flags[@]}" --with-stream=dynamic \
            --with-cc-opt="-Wall -Wextra -Werror -Wno-unused-parameter -g -O2 -fPIC -DNGX_IOT_BUILD_DATE='\"$(date -u +%Y-%m-%d)\"'" \
            --add-dynamic-module="$top" >"$build/configure.log" 2>&1) || {
            tail -n 30 "$build/configure.log" >&2; exit 1; }
    fi
    (cd "$tree" && make -f objs/Makefile objs/ngx_iot_module.so \
        >"$build/make.log" 2>&1) || { grep -E 'error|warning' "$build/make.log" \
        | head -n 40 >&2; tail -n 5 "$build/make.log" >&2; exit 1; }
    # a new file moved into place: a running nginx keeps its mapping
    cp "$tree/objs/ngx_iot_module.so" "$so.new"
    mv -f "$so.new" "$so"
    say "built $so"
}

# The embedded defaults of DESIGN.md; the environment overrides them.
run_env() {
    IOT_HTTP_PORT=${IOT_HTTP_PORT:-8080}
    IOT_UDP_PORT=${IOT_UDP_PORT:-31415}
    IOT_RADIUS_PORT=${IOT_RADIUS_PORT:-1812}
    IOT_COAP_PORT=${IOT_COAP_PORT:-5683}
    IOT_PREFIX=${IOT_PREFIX:-$top/var}
    IOT_RADIUS_POOL=${IOT_RADIUS_POOL:-10.64.0.0/16}
    mkdir -p "$IOT_PREFIX"
    IOT_PREFIX=$(cd "$IOT_PREFIX" && pwd)
    # the shared secret: the environment's, or one made at first run
    if [ -z "${IOT_RADIUS_SECRET:-}" ]; then
        if [ ! -s "$IOT_PREFIX/radius.secret" ]; then
            (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' \
                > "$IOT_PREFIX/radius.secret")
        fi
        IOT_RADIUS_SECRET=$(cat "$IOT_PREFIX/radius.secret")
    fi
}

run_server() {
    run_env
    mkdir -p "$IOT_PREFIX/logs" "$IOT_PREFIX/conf"
    chmod 0755 "$IOT_PREFIX"
    sed -e "s|@MODULE@|$build/ngx_iot_module.so|" \
        -e "s|@STREAM_MODULE@|$stream_module|" \
        -e "s|@HTTP_PORT@|$IOT_HTTP_PORT|" \
        -e "s|@UDP_PORT@|$IOT_UDP_PORT|" \
        -e "s|@RADIUS_PORT@|$IOT_RADIUS_PORT|" \
        -e "s|@RADIUS_ACCT_PORT@|$((IOT_RADIUS_PORT + 1))|" \
        -e "s|@RADIUS_SECRET@|$IOT_RADIUS_SECRET|" \
        -e "s|@RADIUS_POOL@|$IOT_RADIUS_POOL|" \
        "$top/conf/run.conf.in" > "$IOT_PREFIX/conf/nginx.conf"
    if [ -f "$IOT_PREFIX/logs/nginx.pid" ] \
       && kill -0 "$(cat "$IOT_PREFIX/logs/nginx.pid")" 2>/dev/null; then
        say "nginx-iot is already running (pid $(cat "$IOT_PREFIX/logs/nginx.pid")); ./build.sh stop first"
        exit 1
    fi
    "$nginx_bin" -p "$IOT_PREFIX/" -c "$IOT_PREFIX/conf/nginx.conf" \
        -e "$IOT_PREFIX/logs/error.log" -t -q || exit 1
    "$nginx_bin" -p "$IOT_PREFIX/" -c "$IOT_PREFIX/conf/nginx.conf" \
        -e "$IOT_PREFIX/logs/error.log"
    local i
    for i in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$IOT_HTTP_PORT/" && break
        sleep 0.1
    done
    local token
    token=$(cat "$IOT_PREFIX/admin.token")
    cat <<TEXT
nginx-iot is running (state in $IOT_PREFIX, log in $IOT_PREFIX/logs/error.log).
  HTTP API:       http://127.0.0.1:$IOT_HTTP_PORT/
  admin token:    $IOT_PREFIX/admin.token
  RADIUS:         udp $IOT_RADIUS_PORT (access), $((IOT_RADIUS_PORT + 1)) (accounting)
  RADIUS secret:  $IOT_RADIUS_SECRET   (IOT_RADIUS_SECRET; kept in $IOT_PREFIX/radius.secret)
  address pool:   $IOT_RADIUS_POOL   (IOT_RADIUS_POOL)
  UDP uplink:     udp $IOT_UDP_PORT

Try it:
  TOKEN=\$(cat $IOT_PREFIX/admin.token)
  curl -s -H "X-API-Token: \$TOKEN" http://127.0.0.1:$IOT_HTTP_PORT/collections
  curl -s -H "X-API-Token: \$TOKEN" -X POST -d '{"tags":{"name":"demo"}}' \\
       http://127.0.0.1:$IOT_HTTP_PORT/collections

Stop it with: ./build.sh stop
TEXT
}

stop_server() {
    run_env
    local pidfile="$IOT_PREFIX/logs/nginx.pid"
    if [ ! -f "$pidfile" ] || ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        say "nginx-iot is not running (no live $pidfile)"
        return 0
    fi
    local pid
    pid=$(cat "$pidfile")
    kill -QUIT "$pid"
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { say "stopped"; return 0; }
        sleep 0.1
    done
    kill -TERM "$pid" 2>/dev/null || true
    say "stopped (TERM)"
}

cmd=${1:-build}
case "$cmd" in
    build) install_deps; build_module ;;
    run)   install_deps; build_module; run_server ;;
    stop)  stop_server ;;
    test)  install_deps; build_module
           cd "$top" && prove -I t/lib -r ${IOT_PROVE_JOBS:+-j "$IOT_PROVE_JOBS"} t/ ;;
    bench) install_deps; build_module; exec "$top/bench/run.sh" ;;
    *)     say "usage: $0 [build|run|stop|test|bench]"; exit 2 ;;
esac
