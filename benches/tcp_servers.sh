#!/usr/bin/env bash
# DNS-over-TCP server benchmark: examples/serve (one thread) against Knot, NSD,
# Unbound and BIND (one worker each) on loopback, driven by dnsperf -m tcp.
#
#   benches/tcp_servers.sh                 # every server, every setting
#   SERVERS="serve knot" DURATION=3 benches/tcp_servers.sh
#   SERVE_BIN=path/to/serve benches/tcp_servers.sh   # skip the cargo build
#
# The server is pinned to CPU 0 and dnsperf to CPU 1 (SERVER_CPU / CLIENT_CPU).
# Per server and setting it prints qps, average latency, lost queries and the
# server's CPU seconds per 100k answered queries (utime+stime of every process
# in the daemon's process group, from /proc/PID/stat), then dnstcp/peer ratios.
# Missing peers are skipped with a line. Daemons are killed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-4}
SERVERS=${SERVERS:-"serve knot nsd unbound bind"}
SETTINGS=${SETTINGS:-"1:1 1:10 1:100 20:200"}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
ZONE_SRC="$ROOT/examples/zones/example.test.zone"
HZ=$(getconf CLK_TCK)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dnstcp-bench.XXXXXX")
PID=""
cleanup() {
    if [[ -n "$PID" ]]; then
        kill -TERM -- "-$PID" 2>/dev/null || true
        sleep 0.3
        kill -KILL -- "-$PID" 2>/dev/null || true
        PID=""
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v dnsperf >/dev/null || { echo "dnsperf not found: nothing to measure" >&2; exit 1; }

if [[ -n "${SERVE_BIN:-}" ]]; then
    SERVE_BIN=$(realpath "$SERVE_BIN")
else
    (cd "$ROOT" && cargo build --release --example serve --quiet)
    SERVE_BIN="$ROOT/target/release/examples/serve"
fi

# Mixed names and types from the zone: positive answers, NODATA, NXDOMAIN,
# CNAME chains, wildcard, referral, SRV, MX, TXT, PTR.
QUERIES="$WORK/queries.txt"
grep -v '^;' "$ROOT/benches/queries.txt" >"$QUERIES"
if [[ -n "${QUERY_FILE:-}" ]]; then cp "$QUERY_FILE" "$QUERIES"; fi

free_port() {
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    echo "no free port" >&2
    exit 1
}

# Unbound 1.17 rejects `owner CLASS TTL TYPE`: swap to `owner TTL CLASS TYPE`.
unbound_zone() {
    awk '{
        line = $0
        if (line ~ /^[ \t]*;/ || line ~ /^\$/ || NF < 3) { print line; next }
        i = (line ~ /^[ \t]/) ? 1 : 2
        if (toupper($i) ~ /^(IN|CH|HS|CS)$/ && $(i + 1) ~ /^[0-9]+$/) {
            t = $i; $i = $(i + 1); $(i + 1) = t
            if (i == 1) { $0 = "\t" $0 }
        }
        print
    }' "$1"
}

# Sum of utime+stime (ticks) of every process in process group $1.
group_ticks() {
    local pg=$1 sum=0 f rest
    for f in /proc/[0-9]*/stat; do
        rest=$(cat "$f" 2>/dev/null) || continue
        rest=${rest##*) }
        # shellcheck disable=SC2086
        set -- $rest
        # fields after comm: 1 state, 2 ppid, 3 pgrp, ... 12 utime, 13 stime
        if [[ "${3:-}" == "$pg" ]]; then
            sum=$((sum + ${12} + ${13}))
        fi
    done
    echo "$sum"
}

probe() { # port -> 0 when an SOA query over TCP is answered
    dnsperf -m tcp -s 127.0.0.1 -p "$1" -d <(echo "example.test SOA") -n 1 -t 1 2>/dev/null |
        grep -q 'Queries completed: *1 '
}

start_server() { # name port -> sets PID, or returns 1 when not installed
    local name=$1 port=$2 dir="$WORK/$1" bin
    mkdir -p "$dir"
    cp "$ZONE_SRC" "$dir/example.test.zone"
    case $name in
    serve)
        bin=$SERVE_BIN
        set -- "$bin" --listen "127.0.0.1:$port" --zone "$dir/example.test.zone" ${SERVE_FLAGS:-}
        ;;
    knot)
        bin=$(command -v knotd || echo /usr/sbin/knotd)
        cat >"$dir/knot.conf" <<EOF
server:
    rundir: "$dir"
    listen: 127.0.0.1@$port
    tcp-workers: 1
    udp-workers: 1
    background-workers: 1
database:
    storage: "$dir"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "$dir"
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: example.test.
    file: "$dir/example.test.zone"
EOF
        set -- "$bin" -c "$dir/knot.conf"
        ;;
    nsd)
        bin=$(command -v nsd || echo /usr/sbin/nsd)
        cat >"$dir/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$port
    port: $port
    do-ip4: yes
    do-ip6: no
    server-count: 1
    tcp-count: 1000
    username: ""
    chroot: ""
    zonesdir: "$dir"
    database: ""
    pidfile: "$dir/nsd.pid"
    xfrdfile: "$dir/xfrd.state"
    xfrdir: "$dir"
    zonelistfile: "$dir/zone.list"
    logfile: "$dir/daemon.log"
    verbosity: 0
remote-control:
    control-enable: no
zone:
    name: example.test
    zonefile: "$dir/example.test.zone"
EOF
        set -- "$bin" -d -c "$dir/nsd.conf"
        ;;
    unbound)
        bin=$(command -v unbound || echo /usr/sbin/unbound)
        unbound_zone "$ZONE_SRC" >"$dir/example.test.zone"
        cat >"$dir/unbound.conf" <<EOF
server:
    interface: 127.0.0.1@$port
    port: $port
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    num-threads: 1
    incoming-num-tcp: 100
    username: ""
    chroot: ""
    directory: "$dir"
    pidfile: "$dir/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 0
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
    local-zone: "test." nodefault
remote-control:
    control-enable: no
auth-zone:
    name: "example.test."
    zonefile: "$dir/example.test.zone"
    for-downstream: yes
    for-upstream: no
    fallback-enabled: no
EOF
        set -- "$bin" -d -c "$dir/unbound.conf"
        ;;
    bind)
        bin=$(command -v named || echo /usr/sbin/named)
        cat >"$dir/named.conf" <<EOF
options {
    directory "$dir";
    pid-file "$dir/named.pid";
    session-keyfile "$dir/session.key";
    managed-keys-directory "$dir";
    listen-on port $port { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion no;
    dnssec-validation no;
};
controls { };
zone "example.test" {
    type primary;
    file "$dir/example.test.zone";
};
EOF
        set -- "$bin" -g -4 -n 1 -U 1 -c "$dir/named.conf"
        ;;
    esac
    [[ -x "$bin" ]] || return 1
    # Own session and process group (pgid = pid), pinned to the server CPU.
    (cd "$dir" && exec setsid taskset -c "$SERVER_CPU" "$@" >"$dir/log" 2>&1 </dev/null) &
    PID=$!
    for _ in $(seq 100); do
        if probe "$port"; then return 0; fi
        if ! kill -0 "$PID" 2>/dev/null; then break; fi
        sleep 0.1
    done
    echo "# $name did not start; log:" >&2
    tail -5 "$dir/log" >&2 || true
    return 2
}

stop_server() {
    [[ -n "$PID" ]] || return 0
    kill -TERM -- "-$PID" 2>/dev/null || true
    for _ in $(seq 30); do
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=""
}

declare -A QPS LAT LOST CPU
printf '%-8s %-10s %10s %12s %8s %14s\n' server setting qps avg_lat_us lost cpu_s/100k
for s in $SERVERS; do
    port=$(free_port)
    rc=0
    start_server "$s" "$port" || rc=$?
    if [[ $rc -eq 1 ]]; then
        echo "# $s: not installed, skipped"
        continue
    elif [[ $rc -ne 0 ]]; then
        stop_server
        echo "# $s: failed to start, skipped"
        continue
    fi
    for setting in $SETTINGS; do
        c=${setting%%:*}
        q=${setting##*:}
        before=$(group_ticks "$PID")
        out=$(taskset -c "$CLIENT_CPU" dnsperf -m tcp -s 127.0.0.1 -p "$port" -d "$QUERIES" \
            -c "$c" -q "$q" -l "$DURATION" -t 2 2>&1 || true)
        after=$(group_ticks "$PID")
        completed=$(awk '/Queries completed:/ {print $3; exit}' <<<"$out")
        lost=$(awk '/Queries lost:/ {print $3; exit}' <<<"$out")
        qps=$(awk '/Queries per second:/ {printf "%.0f", $4; exit}' <<<"$out")
        lat=$(awk '/Average Latency/ {printf "%.1f", $4 * 1e6; exit}' <<<"$out")
        cpu=$(awk -v t=$((after - before)) -v hz="$HZ" -v n="${completed:-0}" \
            'BEGIN { if (n > 0) printf "%.3f", t / hz / n * 100000; else print "-" }')
        key="$s/$c:$q"
        QPS[$key]=${qps:-0} LAT[$key]=${lat:--} LOST[$key]=${lost:--} CPU[$key]=$cpu
        printf '%-8s %-10s %10s %12s %8s %14s\n' "$s" "-c$c -q$q" "${qps:-?}" "${lat:-?}" \
            "${lost:-?}" "$cpu"
    done
    stop_server
done

echo
echo "ratios dnstcp/peer (qps: higher is better; cpu per query: lower is better)"
printf '%-8s %-10s %10s %10s\n' peer setting qps_ratio cpu_ratio
for s in $SERVERS; do
    [[ $s == serve ]] && continue
    for setting in $SETTINGS; do
        c=${setting%%:*}
        q=${setting##*:}
        a="serve/$c:$q" b="$s/$c:$q"
        [[ -n "${QPS[$a]:-}" && -n "${QPS[$b]:-}" ]] || continue
        awk -v a="${QPS[$a]}" -v b="${QPS[$b]}" -v ca="${CPU[$a]}" -v cb="${CPU[$b]}" \
            -v s="$s" -v st="-c$c -q$q" 'BEGIN {
                r = (b > 0) ? sprintf("%.2f", a / b) : "-"
                cr = (cb + 0 > 0 && ca != "-") ? sprintf("%.2f", ca / cb) : "-"
                printf "%-8s %-10s %10s %10s\n", s, st, r, cr
            }'
    done
done
