#!/usr/bin/env bash
# nginx-iot: install what the project needs, build the module, run it,
# test it, benchmark it.  See README.md.
#
#   ./build.sh [build]   install dependencies and build build/ngx_iot_module.so
#   ./build.sh build 1.26  build nginx 1.26.3 and the module for it
#                        (build/nginx-1.26.3/, docs/building.md)
#   ./build.sh run       build if needed, start nginx on the embedded defaults
#   ./build.sh stop      stop what `run` started
#   ./build.sh test      build both and run the whole test suite (prove)
#                        against Debian's nginx 1.22, then nginx 1.26.3;
#                        `./build.sh test 1.22` or `test 1.26`: only one
#   ./build.sh bench     build and run the benchmarks (bench/RESULTS.md)
#   IOT_SANITIZE=1 ./build.sh test
#                        the suite against nginx 1.26.3 and the module built
#                        with ASan and UBSan (build/nginx-1.26.3-san/)
#   ./build.sh deb       build the Debian package build/libnginx-mod-iot_*.deb
#                        (docs/operations.md)
#   ./build.sh fuzz [TARGET|all] [SECONDS]
#                        build the libFuzzer targets of fuzz/ with clang and
#                        run one or all, each SECONDS (60) (docs/fuzzing.md)
set -euo pipefail

top=$(cd "$(dirname "$0")" && pwd)
build="$top/build"
nginx_src=${NGINX_SRC:-/usr/share/nginx/src}
nginx_bin=${NGINX_BIN:-/usr/sbin/nginx}
stream_module=${NGINX_STREAM_MODULE:-/usr/lib/nginx/modules/ngx_stream_module.so}

packages=(nginx nginx-dev libnginx-mod-stream libjansson-dev libsqlite3-dev
          libssl-dev libcurl4-openssl-dev libmosquitto-dev libcoap3-dev
          mosquitto-clients libcoap3-bin sqlite3 curl freeradius-utils
          wrk libprotocol-websocket-perl libwww-perl libjson-xs-perl
          libhttp-daemon-perl
          libtest-base-perl python3-websocket libnginx-mod-nchan mosquitto
          valgrind gdb gcc make
          libpcre2-dev zlib1g-dev debian-archive-keyring    # nginx 1.26.3
          nodejs        # npm with it: the Huawei Cloud SDK core for t/npm
          python3-pytest python3-pytest-asyncio python3-websockets
          python3-requests      # nbiot-python's own suite (t/95)
          python3-prometheus-client)    # t/25: Prometheus' own parser

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

# configure_tree TREE SOURCE LOG DATE FLAGS...: copy SOURCE to TREE (again
# when SOURCE, FLAGS or the addon's config changed) and configure it with
# our module; DATE is the build date as a C string for NGX_IOT_BUILD_DATE
configure_tree() {
    local tree=$1 source=$2 log=$3 date=$4 stamp
    shift 4
    stamp=$(printf '%s\n%s\n%s' "$source" "$*" "$san_cc")
    if [ -f "$tree/objs/Makefile" ] && [ ! "$top/config" -nt "$tree/objs/Makefile" ] \
       && [ "$(cat "$tree/.iot-source" 2>/dev/null)" = "$stamp" ]; then
        return 0
    fi
    rm -rf "$tree"
    cp -r "$source" "$tree"
    printf '%s\n' "$stamp" > "$tree/.iot-source"
    (cd "$tree" && ./configure "$@" --with-stream=dynamic \
        --with-cc-opt="-Wall -Wextra -Werror -Wno-unused-parameter -g -O2 -fPIC -DNGX_IOT_BUILD_DATE=$date${san_cc:+ $san_cc}" \
        ${san_ld:+--with-ld-opt="$san_ld"} \
        --add-dynamic-module="$top" >"$log" 2>&1) || {
        tail -n 30 "$log" >&2; exit 1; }
}

# make_tree TREE LOG TARGETS...: make in a configured tree
make_tree() {
    local tree=$1 log=$2
    shift 2
    (cd "$tree" && make -f objs/Makefile "$@" >"$log" 2>&1) || {
        grep -E 'error|warning' "$log" | head -n 40 >&2
        tail -n 5 "$log" >&2; exit 1; }
}

# install_file FROM TO: a new file moved into place, so that a running
# nginx keeps its mapping of the old one
install_file() {
    cp "$1" "$2.new"
    mv -f "$2.new" "$2"
}

build_module() {
    local so="$build/ngx_iot_module.so" tree="$build/nginx"
    if [ -f "$so" ] && ! sources_newer_than "$so" \
       && [ "$(head -n 1 "$tree/.iot-source" 2>/dev/null)" = "$nginx_src" ]
    then
        return 0
    fi
    mkdir -p "$build"
    local flags=()
    if [ -f "$nginx_src/conf_flags" ]; then
        # Debian's nginx-dev records the stock binary's configure flags.
        # shellcheck disable=SC1091
        . "$nginx_src/conf_flags"
        flags=("${NGX_CONF_FLAGS[@]}")
    else
        flags=(--with-compat --with-threads)
    fi
    # never with the sanitizers: Debian's nginx binary is not instrumented
    san_cc="" san_ld="" configure_tree "$tree" "$nginx_src" "$build/configure.log" \
        "'\"$(date -u +%Y-%m-%d)\"'" "${flags[@]}"
    make_tree "$tree" "$build/make.log" objs/ngx_iot_module.so
    install_file "$tree/objs/ngx_iot_module.so" "$so"
    say "built $so"
}

# the CoAP sidecar (coap_sidecar/, docs/coap.md): libcoap 3 with OpenSSL
build_sidecar() {
    local bin="$build/iot-coap-sidecar" src="$top/coap_sidecar/iot-coap-sidecar.c"
    if [ -x "$bin" ] && [ ! "$src" -nt "$bin" ]; then
        return 0
    fi
    mkdir -p "$build"
    # shellcheck disable=SC2046
    gcc -Wall -Wextra -Wno-unused-parameter -Werror -O2 -g -o "$bin.new" "$src" \
        $(pkg-config --cflags --libs libcoap-3-openssl) -lcrypto || exit 1
    mv -f "$bin.new" "$bin"
    say "built $bin"
}

# ---------------------------------------------------------- nginx 1.26.3
#
# Debian 13's nginx, built here from Debian's upstream tarball, so that the
# suite also runs against the stream "virtual servers" of nginx >= 1.25.5.
# The tarball comes from Debian's archive through a private apt
# configuration under build/apt/ (the system's /etc/apt is never touched);
# docs/building.md.

next_version=1.26.3
next_dir="$build/nginx-$next_version"
next_nginx="$next_dir/sbin/nginx"
next_stream_module="$next_dir/modules/ngx_stream_module.so"
next_module="$next_dir/ngx_iot_module.so"
next_suite=trixie

# IOT_SANITIZE=1: nginx 1.26.3 and the module compiled with AddressSanitizer
# and UndefinedBehaviorSanitizer (gcc's), in a tree of their own; nginx's
# pools give each allocation its own malloc (NGX_DEBUG_PALLOC) so that
# ASan sees their bounds.  Only against nginx 1.26.3: Debian's nginx
# binary is not instrumented.  docs/building.md.
san_cc=""
san_ld=""
if [ -n "${IOT_SANITIZE:-}" ]; then
    san_cc="-fsanitize=address,undefined -fno-omit-frame-pointer -DNGX_DEBUG_PALLOC=1"
    san_ld="-fsanitize=address,undefined"
    next_dir="$build/nginx-$next_version-san"
    next_nginx="$next_dir/sbin/nginx"
    next_stream_module="$next_dir/modules/ngx_stream_module.so"
    next_module="$next_dir/ngx_iot_module.so"
fi
apt_dir="$build/apt"
next_tarball="$apt_dir/archives/nginx_$next_version.orig.tar.gz"

# the Debian mirror of the system's own apt sources
debian_mirror() {
    local uri
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
              /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | sed -n -e 's/^deb\(-src\)\{0,1\}[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\).*/\3/p' \
                   -e 's/^URIs:[[:space:]]*//p' \
          | tr ' ' '\n' | awk '/^https?:\/\/[^ ]*\/debian\/?$/ && !u { u = $0 }
                                END { print u }')
    printf '%s\n' "${NGINX_NEXT_MIRROR:-${uri:-http://deb.debian.org/debian}}"
}

apt_private() {
    local tool=$1
    shift
    "$tool" -o Dir::Etc::SourceList="$apt_dir/sources.list" \
        -o Dir::Etc::SourceParts="$apt_dir/sources.list.d" \
        -o Dir::State::Lists="$apt_dir/lists" \
        -o Dir::Cache="$apt_dir/cache" \
        -o Acquire::Languages=none \
        -o APT::Sandbox::User=root \
        "$@"
}

# the sha256 of the orig tarball of source version $1 in the signed Sources
# index of the private configuration
indexed_sha256() {
    apt_private apt-cache showsrc nginx 2>/dev/null \
        | awk -v v="$1" -v f="nginx_$next_version.orig.tar.gz" '
            /^Package:/            { ver = ""; sums = 0 }
            /^Version:/            { ver = $2 }
            /^[^ ]/ && !/^Checksums-Sha256:/ { sums = 0 }
            /^Checksums-Sha256:/   { sums = 1; next }
            sums && ver == v && $3 == f && !h { h = $1 }
            END                    { print h }'
}

sha256_of() {
    sha256sum < "$1" | cut -d ' ' -f 1
}

fetch_next_source() {
    if [ -f "$next_tarball" ] && [ -f "$apt_dir/version" ]; then
        local want
        want=$(indexed_sha256 "$(cat "$apt_dir/version")")
        if [ -n "$want" ] && [ "$(sha256_of "$next_tarball")" = "$want" ]; then
            return 0
        fi
    fi
    say "fetching nginx $next_version from Debian $next_suite (private apt configuration in $apt_dir)"
    if [ ! -s /usr/share/keyrings/debian-archive-keyring.gpg ]; then
        say "need debian-archive-keyring"; exit 1
    fi
    rm -rf "$apt_dir"
    mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" \
             "$apt_dir/cache/archives/partial" "$apt_dir/archives"
    printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
        "$(debian_mirror)" "$next_suite" > "$apt_dir/sources.list"
    # apt checks the InRelease signature against the keyring (bookworm's
    # debian-archive-keyring has the trixie keys) and every file it fetches
    # against the signed Sources index
    apt_private apt-get update -q >"$apt_dir/update.log" 2>&1 || {
        cat "$apt_dir/update.log" >&2; exit 1; }
    local version
    version=$(apt_private apt-cache showsrc nginx 2>/dev/null \
        | awk -v v="$next_version-" '$1 == "Version:" && index($2, v) == 1 {
                                         print $2 }' | sort -V | tail -n 1)
    if [ -z "$version" ]; then
        say "Debian $next_suite has no nginx $next_version-*"; exit 1
    fi
    # only the upstream tarball: the build needs neither Debian's patches
    # nor its packaging
    (cd "$apt_dir/archives" && apt_private apt-get source -q \
        --download-only --tar-only "nginx=$version") \
        >"$apt_dir/source.log" 2>&1 || {
        cat "$apt_dir/source.log" >&2; exit 1; }
    local want
    want=$(indexed_sha256 "$version")
    if [ -z "$want" ] || [ "$(sha256_of "$next_tarball")" != "$want" ]; then
        say "nginx_$next_version.orig.tar.gz does not match the signed index"
        rm -f "$next_tarball"; exit 1
    fi
    printf '%s\n' "$version" > "$apt_dir/version"
    say "nginx_$next_version.orig.tar.gz of $version: sha256 $want (signed $next_suite Sources)"
}

build_next() {
    local tree="$next_dir/tree" source="$next_dir/nginx-$next_version"
    if [ -f "$next_module" ] && [ -x "$next_nginx" ] \
       && [ -f "$next_stream_module" ] && ! sources_newer_than "$next_module"
    then
        return 0
    fi
    fetch_next_source
    mkdir -p "$next_dir/sbin" "$next_dir/modules"
    if [ ! -f "$source/configure" ]; then
        rm -rf "$source"
        tar -xzf "$next_tarball" -C "$next_dir"
    fi
    # Debian's own module set (as in nginx-dev's conf_flags), the paths
    # under build/nginx-1.26.3/.  The whole of nginx is compiled here, and
    # nginx.c has the configure arguments in a C string: the date's quotes
    # are escaped for it.
    configure_tree "$tree" "$source" "$next_dir/configure.log" \
        "\\\"$(date -u +%Y-%m-%d)\\\"" \
        --prefix="$next_dir" --modules-path="$next_dir/modules" \
        --with-compat --with-debug --with-pcre-jit --with-threads \
        --with-http_ssl_module --with-http_stub_status_module \
        --with-http_realip_module --with-http_auth_request_module \
        --with-http_v2_module --with-http_dav_module \
        --with-http_slice_module
    if [ ! -x "$tree/objs/nginx" ] || [ ! -f "$tree/objs/ngx_stream_module.so" ]
    then
        say "building nginx $next_version in $tree (a minute or two)"
        make_tree "$tree" "$next_dir/make.log" -j"${IOT_MAKE_JOBS:-2}"
    else
        make_tree "$tree" "$next_dir/make.log" objs/ngx_iot_module.so
    fi
    install_file "$tree/objs/nginx" "$next_nginx"
    install_file "$tree/objs/ngx_stream_module.so" "$next_stream_module"
    install_file "$tree/objs/ngx_iot_module.so" "$next_module"
    say "built $next_module (nginx $next_version: $next_nginx)"
}

# ---------------------------------------------------------------- fuzzing
#
# libFuzzer targets (fuzz/*.c) linked against nginx 1.26.3 and the module
# built into it (--add-module) with clang's ASan, UBSan and coverage, in
# build/fuzz/; docs/fuzzing.md.

fuzz_dir="$build/fuzz"
fuzz_cflags="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -g -O1 -DNGX_DEBUG_PALLOC=1 -Wno-unused-parameter -Wno-conditional-uninitialized"

# build_fuzz_tree: nginx and the module, compiled for fuzzing; nginx.o
# with its main renamed, so that libFuzzer's main is the program's
build_fuzz_tree() {
    local tree="$fuzz_dir/tree" source="$fuzz_dir/nginx-$next_version" stamp
    command -v clang >/dev/null || { say "fuzzing needs clang (apt-get install clang)"; exit 1; }
    fetch_next_source
    mkdir -p "$fuzz_dir"
    if [ ! -f "$source/configure" ]; then
        rm -rf "$source"
        tar -xzf "$next_tarball" -C "$fuzz_dir"
    fi
    stamp=$(printf '%s\n%s' "$source" "$fuzz_cflags")
    if [ ! -f "$tree/objs/Makefile" ] || [ "$top/config" -nt "$tree/objs/Makefile" ] \
       || [ "$(cat "$tree/.iot-source" 2>/dev/null)" != "$stamp" ]; then
        rm -rf "$tree"
        cp -r "$source" "$tree"
        printf '%s\n' "$stamp" > "$tree/.iot-source"
        (cd "$tree" && ./configure --with-cc=clang --with-cc-opt="$fuzz_cflags" \
            --with-ld-opt="-fsanitize=address,undefined" \
            --with-stream --with-threads --add-module="$top" \
            >"$fuzz_dir/configure.log" 2>&1) || {
            tail -n 30 "$fuzz_dir/configure.log" >&2; exit 1; }
        say "building nginx $next_version and the module for fuzzing in $tree (a few minutes)"
    fi
    make_tree "$tree" "$fuzz_dir/make.log" -j"${IOT_MAKE_JOBS:-2}" objs/nginx
    objcopy --redefine-sym main=ngx_nginx_main "$tree/objs/src/core/nginx.o" \
        "$fuzz_dir/nginx-nomain.o"
}

# build_fuzz_target NAME: build/fuzz/bin/NAME from fuzz/NAME.c; a module
# file the target includes (for its static functions) is left out of the
# link
build_fuzz_target() {
    local name=$1 tree="$fuzz_dir/tree" src="$top/fuzz/$1.c" objs=() o inc libs
    mkdir -p "$fuzz_dir/bin"
    inc=$(sed -n 's/^#include "\(ngx_[a-z0-9_]*\.c\)"$/\1/p' "$src" \
          | sed 's/\.c$/.o/')
    for o in $(awk '/^objs\/nginx:/ { f = 1 } f && /^$/ { exit }
                    f { for (i = 1; i <= NF; i++) if ($i ~ /\.o$/) print $i }' \
                   "$tree/objs/Makefile"); do
        case "$o" in
            objs/src/core/nginx.o) objs+=("$fuzz_dir/nginx-nomain.o"); continue ;;
        esac
        if printf '%s\n' $inc | grep -qx "$(basename "$o")"; then
            continue
        fi
        objs+=("$tree/$o")
    done
    # the libraries of nginx's own link line
    libs=$(awk '/^objs\/nginx:/ { f = 1 } f && /-lpthread/ { print; exit }' \
               "$tree/objs/Makefile" | sed 's/-fsanitize=[^ ]*//; s/\\$//')
    (cd "$tree" && clang -fsanitize=fuzzer,address,undefined -g -O1 \
        -fno-omit-frame-pointer -Wall -Wextra -Werror -Wno-unused-parameter \
        -Wno-unused-function \
        $(awk '/^ALL_INCS/ { f = 1 } f { print } f && !/\\$/ { exit }' \
              objs/Makefile | tr -d '\\' | sed 's/^ALL_INCS *=//') \
        -I src/stream -I "$top/ngx_iot_module" -I "$top/fuzz" \
        -o "$fuzz_dir/bin/$name" "$src" "${objs[@]}" $libs) \
        >"$fuzz_dir/$name.build.log" 2>&1 || {
        tail -n 30 "$fuzz_dir/$name.build.log" >&2; exit 1; }
}

fuzz_targets() {
    local f
    for f in "$top"/fuzz/*.c; do
        basename "$f" .c
    done
}

# run_fuzz [TARGET|all] [SECONDS]: each target for SECONDS (default 60)
# from its shipped corpus (fuzz/corpus/TARGET) and what earlier runs found
# (build/fuzz/corpus/TARGET); a crash stops the run and leaves its input
# in build/fuzz/crash/
run_fuzz() {
    local which=${1:-all} secs=${2:-60} t targets=() failed=() log
    if [ "$which" = all ]; then
        mapfile -t targets < <(fuzz_targets)
    else
        [ -f "$top/fuzz/$which.c" ] || { say "no fuzz target $which ($(fuzz_targets | tr '\n' ' '))"; exit 2; }
        targets=("$which")
    fi
    build_fuzz_tree
    for t in "${targets[@]}"; do
        build_fuzz_target "$t"
    done
    mkdir -p "$fuzz_dir/crash" "$fuzz_dir/logs"
    for t in "${targets[@]}"; do
        mkdir -p "$fuzz_dir/corpus/$t" "$top/fuzz/corpus/$t"
        log="$fuzz_dir/logs/$t.log"
        say "== fuzz $t for ${secs}s (log: $log)"
        if (cd "$fuzz_dir" && ASAN_OPTIONS=detect_leaks=1:detect_odr_violation=0 \
            UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions="$top/t/sanitizers/ubsan.supp" \
            "$fuzz_dir/bin/$t" -max_total_time="$secs" -timeout=10 \
                -rss_limit_mb=2048 -print_final_stats=1 \
                -artifact_prefix="$fuzz_dir/crash/$t-" \
                ${IOT_FUZZ_ARGS:-} \
                "$fuzz_dir/corpus/$t" "$top/fuzz/corpus/$t") >"$log" 2>&1
        then
            say "   $(grep -E '^Done [0-9]+ runs' "$log" | tail -n 1) ($(grep -c . < <(ls "$fuzz_dir/corpus/$t")) inputs in build/fuzz/corpus/$t)"
        else
            failed+=("$t")
            grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -n 8 >&2
        fi
    done
    if [ ${#failed[@]} -ne 0 ]; then
        say "== fuzzing found something in: ${failed[*]} (inputs in $fuzz_dir/crash/)"
        exit 1
    fi
}

# the official clients the tests drive the server with, into t/npm (never
# globally): the Huawei Cloud SDK core signs the iotda dialect's requests
install_test_clients() {
    local dir="$top/t/npm"
    if [ -d "$dir/node_modules/@huaweicloud/huaweicloud-sdk-core" ] \
       && [ ! "$dir/package.json" -nt "$dir/node_modules" ]; then
        return 0
    fi
    if ! command -v npm >/dev/null && [ "$(id -u)" -eq 0 ]; then
        # Debian's nodejs comes without npm (NodeSource's has it)
        say "installing npm"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends npm >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null \
                 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                        --no-install-recommends npm >/dev/null; }
    fi
    if ! command -v npm >/dev/null; then
        say "no npm (Debian: apt-get install npm): t/61 skips the SDK core"
        return 0
    fi
    say "installing the test clients of t/npm/package.json into t/npm"
    (cd "$dir" && npm install --no-audit --no-fund --no-package-lock \
        >"$build/npm.log" 2>&1) || { tail -n 20 "$build/npm.log" >&2; exit 1; }
    touch "$dir/node_modules"
}

# run_suite VERSION NGINX MODULE STREAM_MODULE
run_suite() {
    say "== test suite against nginx $1 ($2)"
    (cd "$top" && IOT_TEST_NGINX=$2 IOT_TEST_MODULE=$3 \
        IOT_TEST_STREAM_MODULE=$4 IOT_TEST_SANITIZE=${IOT_SANITIZE:-} \
        prove -I t/lib -r ${IOT_PROVE_JOBS:+-j "$IOT_PROVE_JOBS"} t/)
}

# the versions to test: the argument of `test`, else IOT_TEST_VERSIONS,
# else both
test_versions() {
    local want=${1:-${IOT_TEST_VERSIONS:-all}} failed=() v
    case "$want" in
        all|both) want="1.22 1.26" ;;
    esac
    if [ -n "${IOT_SANITIZE:-}" ] && [ "$want" != 1.26 ]; then
        say "IOT_SANITIZE: only nginx 1.26.3 is built with the sanitizers"
        want=1.26
    fi
    for v in $want; do
        case "$v" in
            1.22|1.26) ;;
            *) say "no such nginx version to test: $v (1.22, 1.26 or all)"
               exit 2 ;;
        esac
    done
    for v in $want; do
        case "$v" in
            1.22) build_module
                  run_suite "1.22 (Debian's)" "$nginx_bin" \
                      "$build/ngx_iot_module.so" "$stream_module" \
                      || failed+=("$v") ;;
            1.26) build_next
                  run_suite "$next_version" "$next_nginx" "$next_module" \
                      "$next_stream_module" || failed+=("$v") ;;
        esac
    done
    if [ ${#failed[@]} -gt 0 ]; then
        say "== FAILED against nginx ${failed[*]}"
        return 1
    fi
    say "== passed against nginx $want"
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
    # the shared secret: the environment's (kept for the next runs), the
    # one kept from an earlier run, or one made now
    if [ -n "${IOT_RADIUS_SECRET:-}" ]; then
        case "$IOT_RADIUS_SECRET" in
            *[[:cntrl:]]*) say "IOT_RADIUS_SECRET may not hold control characters"
                           exit 2 ;;
        esac
        (umask 077; printf '%s\n' "$IOT_RADIUS_SECRET" \
            > "$IOT_PREFIX/radius.secret")
    elif [ ! -s "$IOT_PREFIX/radius.secret" ]; then
        (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' \
            > "$IOT_PREFIX/radius.secret")
    fi
    chmod 0600 "$IOT_PREFIX/radius.secret"
    IOT_RADIUS_SECRET=$(cat "$IOT_PREFIX/radius.secret")
    # the CoAP link's shared secret (docs/coap.md): made once, kept
    IOT_COAP_LINK_PORT=${IOT_COAP_LINK_PORT:-5690}
    if [ ! -s "$IOT_PREFIX/coap.secret" ]; then
        (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' \
            > "$IOT_PREFIX/coap.secret")
    fi
    chmod 0600 "$IOT_PREFIX/coap.secret"
}

# the CoAP sidecar beside nginx (docs/coap.md); nginx serves without it
start_sidecar() {
    local pidfile="$IOT_PREFIX/logs/coap-sidecar.pid"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        return 0
    fi
    "$build/iot-coap-sidecar" -s "$IOT_PREFIX/coap.secret" \
        -l "127.0.0.1:$IOT_COAP_LINK_PORT" -a "${IOT_LISTEN:-0.0.0.0}" \
        -p "$IOT_COAP_PORT" -P "$pidfile" -v 1 \
        </dev/null >>"$IOT_PREFIX/logs/coap-sidecar.log" 2>&1 &
    local i
    for i in $(seq 1 50); do
        [ -s "$pidfile" ] && return 0
        kill -0 $! 2>/dev/null || break
        sleep 0.1
    done
    say "the CoAP sidecar did not start: see $IOT_PREFIX/logs/coap-sidecar.log"
}

stop_sidecar() {
    local pidfile="$IOT_PREFIX/logs/coap-sidecar.pid" pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# conf/run.conf.in with its @NAME@s filled in, on stdout; values are taken
# as they are (perl, not sed: a "&" or "|" in the secret stays itself),
# the secret escaped for the quoted string it sits in
fill_conf() {
    MODULE="$build/ngx_iot_module.so" STREAM_MODULE="$stream_module" \
    LISTEN="${IOT_LISTEN:+$IOT_LISTEN:}" \
    HTTP_PORT="$IOT_HTTP_PORT" UDP_PORT="$IOT_UDP_PORT" \
    RADIUS_PORT="$IOT_RADIUS_PORT" \
    RADIUS_ACCT_PORT="$((IOT_RADIUS_PORT + 1))" \
    RADIUS_SECRET="$IOT_RADIUS_SECRET" RADIUS_POOL="$IOT_RADIUS_POOL" \
    COAP_LINK_PORT="$IOT_COAP_LINK_PORT" \
    perl -pe '
        BEGIN { ($q = $ENV{RADIUS_SECRET}) =~ s/(["\\])/\\$1/g;
                $ENV{RADIUS_SECRET} = $q }
        s/@([A-Z_]+)@/exists $ENV{$1} ? $ENV{$1} : "\@$1\@"/ge
    ' "$top/conf/run.conf.in"
}

run_server() {
    run_env
    mkdir -p "$IOT_PREFIX/logs" "$IOT_PREFIX/conf"
    chmod 0755 "$IOT_PREFIX"
    # it holds the RADIUS secret: for root (the master) only
    rm -f "$IOT_PREFIX/conf/nginx.conf.new"
    (umask 077; fill_conf > "$IOT_PREFIX/conf/nginx.conf.new") || exit 1
    mv -f "$IOT_PREFIX/conf/nginx.conf.new" "$IOT_PREFIX/conf/nginx.conf"
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
    start_sidecar
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
  CoAP:           udp $IOT_COAP_PORT, DTLS-PSK $((IOT_COAP_PORT + 1))   (IOT_COAP_PORT; the sidecar, link 127.0.0.1:$IOT_COAP_LINK_PORT)

Try it:
  TOKEN=\$(cat $IOT_PREFIX/admin.token)
  curl -s -H "X-API-Token: \$TOKEN" http://127.0.0.1:$IOT_HTTP_PORT/collections
  curl -s -H "X-API-Token: \$TOKEN" -X POST -d '{"tags":{"name":"demo"}}' \\
       http://127.0.0.1:$IOT_HTTP_PORT/collections
  curl -s -H "Authorization: Bearer \$TOKEN" \\
       http://127.0.0.1:$IOT_HTTP_PORT/devices      # KPN Things: docs/things.md

Stop it with: ./build.sh stop
TEXT
}

stop_server() {
    run_env
    stop_sidecar
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

# ------------------------------------------------------------- the package

# build_deb: build/libnginx-mod-iot_<version>_<arch>.deb, the module for
# Debian's nginx, laid out as Debian's libnginx-mod-* packages are
# (packaging/deb/, docs/operations.md)
build_deb() {
    local pkg="$build/deb" version arch abi deps=() lib p v so size
    build_module
    command -v dpkg-deb >/dev/null || { say "no dpkg-deb"; exit 1; }

    version=$(sed -n 's/^#define NGX_IOT_VERSION *"\(.*\)"/\1/p' \
              "$top/ngx_iot_module/ngx_iot.h")
    arch=$(dpkg --print-architecture)
    # Debian's nginx provides nginx-abi-<version>: the module loads into
    # that nginx only
    abi=$(dpkg-query -W -f='${Provides}' nginx 2>/dev/null \
          | tr ',' '\n' | sed -n 's/^ *\(nginx-abi-[^ ]*\).*/\1/p')
    [ -n "$abi" ] || { say "Debian's nginx is not installed"; exit 1; }
    deps+=("$abi" libnginx-mod-stream)

    # the libraries the module links: each one's package, at least the
    # version built against
    so="$build/ngx_iot_module.so"
    for lib in $(objdump -p "$so" | awk '/NEEDED/ { print $2 }'); do
        p=$(dpkg -S "*/$lib" 2>/dev/null | head -n 1 | cut -d: -f1)
        [ -n "$p" ] || continue
        v=$(dpkg-query -W -f='${Version}' "$p")
        deps+=("$p (>= ${v%%-*})")
    done

    rm -rf "$pkg"
    install -d -m 0755 "$pkg/DEBIAN" "$pkg/usr/lib/nginx/modules" \
        "$pkg/usr/share/nginx/modules-available" \
        "$pkg/usr/share/doc/libnginx-mod-iot/examples"
    install -m 0644 "$so" "$pkg/usr/lib/nginx/modules/ngx_iot_module.so"
    strip --strip-unneeded "$pkg/usr/lib/nginx/modules/ngx_iot_module.so"
    install -m 0644 "$top/packaging/deb/mod-iot.conf" \
        "$pkg/usr/share/nginx/modules-available/"
    install -m 0644 "$top/packaging/deb/copyright" "$top/README.md" \
        "$top"/docs/*.md "$pkg/usr/share/doc/libnginx-mod-iot/"
    install -m 0644 "$top/packaging/deb/iot.conf" \
        "$top/packaging/deb/iot-site.conf" \
        "$pkg/usr/share/doc/libnginx-mod-iot/examples/"
    install -m 0755 "$top/packaging/deb/postinst" \
        "$top/packaging/deb/prerm" "$top/packaging/deb/postrm" \
        "$pkg/DEBIAN/"

    size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
    sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" \
        -e "s/@SIZE@/$size/" \
        -e "s/@DEPENDS@/$(IFS=,; printf '%s' "${deps[*]}" | sed 's/,/, /g')/" \
        "$top/packaging/deb/control.in" > "$pkg/DEBIAN/control"
    (cd "$pkg" && find usr -type f -exec md5sum {} + > DEBIAN/md5sums)

    rm -f "$build"/libnginx-mod-iot_*.deb
    dpkg-deb --root-owner-group --build "$pkg" \
        "$build/libnginx-mod-iot_${version}_$arch.deb" >/dev/null
    say "built $build/libnginx-mod-iot_${version}_$arch.deb"
}

cmd=${1:-build}
case "$cmd" in
    build) install_deps
           build_sidecar
           case "${2:-1.22}" in
               1.22) build_module ;;
               1.26) build_next ;;
               all|both) build_module; build_next ;;
               *) say "usage: $0 build [1.22|1.26|all]"; exit 2 ;;
           esac ;;
    run)   install_deps; build_module; build_sidecar; run_server ;;
    stop)  stop_server ;;
    test)  install_deps; mkdir -p "$build"; install_test_clients; build_sidecar
           test_versions "${2:-}" ;;
    bench) install_deps; build_module; build_sidecar
           exec "$top/bench/run.sh" ;;
    deb)   install_deps; build_deb ;;
    fuzz)  install_deps; run_fuzz "${2:-all}" "${3:-60}" ;;
    *)     say "usage: $0 [build [1.22|1.26|all]|run|stop|test [1.22|1.26|all]|bench|deb|fuzz [TARGET|all] [SECONDS]]"
           exit 2 ;;
esac
