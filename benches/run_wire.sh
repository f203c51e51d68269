#!/usr/bin/env bash
# Runs the wire benchmarks (benches/wire.rs) and prints the summary table:
# dnstcp vs hickory-proto 0.26.3 vs domain 0.12.3 for parse+walk of the corpus,
# building a query and a response, and frame decoding vs memcpy.
#
#   benches/run_wire.sh                 # criterion timings, ~1 minute
#   benches/run_wire.sh parse_walk      # only benchmarks matching a filter
#   benches/run_wire.sh --callgrind     # instructions per corpus pass (valgrind)
#
# Timings on a shared 2-core machine move with its load (printed below); the
# instruction counts from --callgrind do not.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ "${1:-}" == "--callgrind" ]]; then
    command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
    cargo bench --bench wire --no-run 2>/dev/null
    bin=$(cargo bench --bench wire --no-run --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
    n=200
    files=$(ls tests/data/messages/*.bin | wc -l)
    bytes=$(cat tests/data/messages/*.bin | wc -c)
    echo "instructions per parse+walk pass over $files messages ($bytes bytes), $n passes each:"
    declare -A ir
    for lib in dnstcp hickory domain; do
        out=$(WIRE_PASSES="$lib:$n" valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            --toggle-collect="wire::walk_$lib" "$bin" 2>&1 | sed -n 's/.*Collected : *\([0-9]*\).*/\1/p')
        ir[$lib]=$((out / n))
        printf '  %-8s %8d Ir/pass %7d Ir/message\n' "$lib" "${ir[$lib]}" $((ir[$lib] / files))
    done
    awk -v d="${ir[dnstcp]}" -v h="${ir[hickory]}" -v m="${ir[domain]}" 'BEGIN {
        printf "  dnstcp executes %.2fx fewer instructions than hickory-proto, %.2fx fewer than domain\n", h / d, m / d }'
    exit 0
fi

log=target/wire-bench.log
mkdir -p target
cargo bench --bench wire -- "$@" 2>&1 | tee "$log" | grep -E '^agreement' || true
echo
sed -n '/^==== dnstcp wire benchmark summary ====/,$p' "$log"
echo
echo "(full criterion output: $log)"
