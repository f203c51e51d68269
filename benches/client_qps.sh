#!/usr/bin/env bash
# Client throughput: dnstcp's blocking client (examples/query +repeat, all
# questions pipelined on one connection) against dnsperf -m tcp -c 1 -q 100, both
# driving examples/serve on loopback (server on CPU 0, client on CPU 1).
#   ROUNDS=3 REPEAT=20000 benches/client_qps.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-3}
REPEAT=${REPEAT:-20000}
(cd "$ROOT" && cargo build --release --example serve --example query --quiet)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dnstcp-client.XXXXXX")
SPID=""
trap '[[ -n "$SPID" ]] && kill "$SPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
grep -v '^;' "$ROOT/benches/queries.txt" >"$WORK/q.txt"
taskset -c 0 "$ROOT/target/release/examples/serve" --listen 127.0.0.1:0 >"$WORK/out" 2>/dev/null &
SPID=$!
for _ in $(seq 50); do grep -q listening "$WORK/out" && break; sleep 0.1; done
ADDR=$(awk '/^listening on/ { print $3; exit }' "$WORK/out")
n=$(( $(wc -l <"$WORK/q.txt") * REPEAT ))
printf '%-6s %14s %14s %8s\n' round dnstcp_qps dnsperf_qps ratio
for r in $(seq "$ROUNDS"); do
    ours=$(taskset -c 1 "$ROOT/target/release/examples/query" "@$ADDR" +short "+repeat=$REPEAT" \
        -f "$WORK/q.txt" 2>&1 >/dev/null | awk '/qps/ { print $(NF - 1) }')
    theirs=$(taskset -c 1 dnsperf -m tcp -s 127.0.0.1 -p "${ADDR##*:}" -d "$WORK/q.txt" -c 1 -q 100 \
        -l 3 2>&1 | awk '/Queries per second:/ { printf "%.0f", $4 }')
    printf '%-6s %14s %14s %8s\n' "$r" "$ours" "$theirs" \
        "$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')"
done
echo "($n queries per dnstcp round, one connection, 128 in flight; dnsperf: 3 s, 100 outstanding)"
