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
    bin=$(cargo bench --bench wire --no-run --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
    files=$(ls tests/data/messages/*.bin | wc -l)
    bytes=$(cat tests/data/messages/*.bin | wc -c)
    # Instructions executed inside one benchmark body, per round.
    count() { # what lib fn rounds
        local c
        c=$(WIRE_PASSES="$1:$2:$4" valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            --toggle-collect="wire::$3" "$bin" 2>&1 | sed -n 's/.*Collected : *\([0-9]*\).*/\1/p')
        echo $((c / $4))
    }
    echo "instructions (valgrind Ir), per parse+walk pass over $files messages ($bytes bytes) and per built message:"
    printf '  %-22s %12s %10s %10s\n' library parse+walk query response
    declare -A p q r
    for lib in dnstcp hickory domain; do
        p[$lib]=$(count parse $lib "walk_$lib" 200)
        q[$lib]=$(count query $lib "build_query_$lib" 2000)
        r[$lib]=$(count response $lib "build_response_$lib" 2000)
        printf '  %-22s %12d %10d %10d\n' "$lib" "${p[$lib]}" "${q[$lib]}" "${r[$lib]}"
    done
    for peer in hickory domain; do
        awk -v peer="$peer" -v p="${p[$peer]}" -v q="${q[$peer]}" -v r="${r[$peer]}" \
            -v P="${p[dnstcp]}" -v Q="${q[dnstcp]}" -v R="${r[dnstcp]}" 'BEGIN {
            printf "  %-22s %11.2fx %9.2fx %9.2fx\n", "peer/dnstcp " peer, p / P, q / Q, r / R }'
    done
    exit 0
fi

log=target/wire-bench.log
mkdir -p target
cargo bench --bench wire -- "$@" 2>&1 | tee "$log" | grep -E '^agreement' || true
echo
sed -n '/^==== dnstcp wire benchmark summary ====/,$p' "$log"
echo
echo "(full criterion output: $log)"
