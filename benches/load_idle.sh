#!/usr/bin/env bash
# Load test (issue 8): examples/serve holds 10,000 idle connections with bounded
# memory, keeps answering active clients meanwhile, and evicts an idle connection
# when a new client needs room. Loopback only, bounded in time (about a minute),
# stops by itself. The idle clients live in a separate process (examples/load).
#
#   benches/load_idle.sh
#   CONNS=5000 SERVE_FLAGS="--rx-buffer 512 --tx-buffer 2048" benches/load_idle.sh
#
# Phase 1, hold: serve --max-conns 12000; CONNS idle connections (each asked one
# question, then silent); RSS of serve before/after (VmRSS); dnsperf -c 20 -q 200
# while they are held; then every idle connection must still be open.
# Phase 2, evict: serve --max-conns CONNS --evict-idle; CONNS idle connections,
# then one more client: it must be answered and exactly one idle connection
# closed; dnsperf -c 1 -q 100 meanwhile (its connection evicts one more).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONNS=${CONNS:-10000}
DURATION=${DURATION:-5}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
LIMIT=$((CONNS * 2 > 20000 ? 20000 : CONNS * 2 + 100))
ulimit -n "$LIMIT" 2>/dev/null || ulimit -n "$(ulimit -Hn)"

(cd "$ROOT" && cargo build --release --example serve --example load --quiet)
SERVE="$ROOT/target/release/examples/serve"
LOAD="$ROOT/target/release/examples/load"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dnstcp-load.XXXXXX")
SPID=""
LPID=""
cleanup() {
    [[ -n "$LPID" ]] && kill "$LPID" 2>/dev/null || true
    [[ -n "$SPID" ]] && kill -KILL "$SPID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Everything below is bounded: the whole run is killed after 110 s.
(
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    sleep 110 &
    s=$!
    wait "$s"
    echo "load_idle: time limit reached" >&2
    kill -TERM $$
) &
WATCHDOG=$!
trap 'kill $WATCHDOG 2>/dev/null || true; cleanup' EXIT

cat >"$WORK/q.txt" <<'EOF'
www.example.test A
example.test SOA
example.test NS
mail.example.test MX
nope.example.test A
foo.wild.example.test TXT
EOF

cpu_ticks() { # utime + stime of process $1
    local rest
    rest=$(cat "/proc/$1/stat")
    rest=${rest##*) }
    # shellcheck disable=SC2086
    set -- $rest
    echo $((${12} + ${13}))
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

start_serve() { # extra flags...
    taskset -c "$SERVER_CPU" "$SERVE" --listen 127.0.0.1:0 --max-conns-per-ip 20000 \
        --initial-timeout-ms 120000 --idle-timeout-ms 120000 --high-water 40000 \
        ${SERVE_FLAGS:-} "$@" >"$WORK/serve.out" 2>"$WORK/serve.err" &
    SPID=$!
    for _ in $(seq 50); do
        grep -q '^listening on' "$WORK/serve.out" 2>/dev/null && break
        sleep 0.1
    done
    ADDR=$(awk '/^listening on/ { print $3; exit }' "$WORK/serve.out")
    PORT=${ADDR##*:}
}

stop_serve() {
    kill -TERM "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
    SPID=""
    grep '^stats:' "$WORK/serve.err" || true
}

start_load() {
    local q=--query
    [[ "${IDLE_QUERY:-1}" == 0 ]] && q=""
    coproc LOADP { taskset -c "$CLIENT_CPU" "$LOAD" --server "$ADDR" --conns "$CONNS" $q; }
    LPID=$LOADP_PID
    local t0 line
    t0=$(date +%s.%N)
    read -r -t 60 line <&"${LOADP[0]}" || { echo "load: no answer" >&2; exit 1; }
    echo "$line in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }')"
}

cmd() { # command -> its output line
    echo "$1" >&"${LOADP[1]}"
    local line
    read -r -t 30 line <&"${LOADP[0]}"
    echo "$line"
}

stop_load() {
    echo quit >&"${LOADP[1]}" 2>/dev/null || true
    wait "$LPID" 2>/dev/null || true
    LPID=""
}

perf_run() { # clients outstanding -> "qps Q lost L"
    taskset -c "$CLIENT_CPU" dnsperf -m tcp -s 127.0.0.1 -p "$PORT" -d "$WORK/q.txt" \
        -c "$1" -q "$2" -l "$DURATION" -t 2 2>&1 |
        awk '/Queries per second:/ { q = $4 } /Queries lost:/ { l = $3 }
             END { printf "qps %.0f lost %s", q, l }'
}

echo "## phase 1: hold $CONNS idle connections (serve --max-conns 12000 ${SERVE_FLAGS:-})"
start_serve --max-conns 12000
rss0=$(rss_kib "$SPID")
start_load
rss1=$(rss_kib "$SPID")
echo "serve RSS: before ${rss0} KiB, holding ${rss1} KiB," \
    "$(awk -v a="$rss0" -v b="$rss1" -v n="$CONNS" 'BEGIN { printf "%.2f KiB per idle connection", (b - a) / n }')"
sleep 2.5
rss2=$(rss_kib "$SPID")
echo "serve RSS after 2.5 s of silence (buffers of idle connections given back): ${rss2} KiB," \
    "$(awk -v a="$rss0" -v b="$rss2" -v n="$CONNS" 'BEGIN { printf "%.2f KiB per idle connection", (b - a) / n }')"
t0=$(cpu_ticks "$SPID")
sleep 4
t1=$(cpu_ticks "$SPID")
echo "serve CPU while only holding them (4 s): $(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.2f %% of a core", t / hz / 4 * 100 }')"
echo "dnsperf -c 20 -q 200 -l $DURATION while holding: $(perf_run 20 200)"
echo "dnsperf -c 1 -q 100 -l $DURATION while holding: $(perf_run 1 100)"
echo "idle connections after: $(cmd check)"
echo "serve RSS after the active load: $(rss_kib "$SPID") KiB"
stop_load
stop_serve

echo
echo "## phase 2: evict (serve --max-conns $CONNS --evict-idle ${SERVE_FLAGS:-})"
start_serve --max-conns "$CONNS" --evict-idle
start_load
echo "before: $(cmd check)"
echo "new client: $(cmd extra)"
echo "after the new client: $(cmd check)"
echo "dnsperf -c 1 -q 100 -l $DURATION at the limit: $(perf_run 1 100)"
echo "after dnsperf: $(cmd check)"
stop_load
stop_serve
