#!/usr/bin/env bash
# Footprint: machine sizes (host test and thumbv7em target) and .text of
# examples/no_std (opt-level "s", LTO, panic=abort) for client-only, server-only
# and both builds. Needs the thumbv7em-none-eabihf target and llvm-size/llvm-nm.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=thumbv7em-none-eabihf
SIZE=$(command -v llvm-size || ls /usr/bin/llvm-size-* 2>/dev/null | head -1)
NM=$(command -v llvm-nm || ls /usr/bin/llvm-nm-* 2>/dev/null | head -1)
LLD=$(ls "$(rustc --print sysroot)"/lib/rustlib/*/bin/rust-lld 2>/dev/null | head -1 || true)

echo "## machine state (host, x86_64)"
(cd "$ROOT" && cargo test --quiet --test core footprint -- --nocapture 2>/dev/null | grep -E '^(footprint|server|client)')

echo
echo "## $TARGET, opt-level s, LTO (examples/no_std)"
printf '%-14s %12s %12s %14s %14s\n' build lto_obj_text linked_text client_state server_state
for feat in "" client server client,server; do
    (cd "$ROOT/examples/no_std" && cargo build --quiet --release --target $TARGET ${feat:+--features $feat})
    lib="$ROOT/examples/no_std/target/$TARGET/release/libdnstcp_no_std_example.a"
    # .text of the LTO object (dnstcp + the demo; compiler builtins are separate members).
    obj_text=$("$SIZE" -A "$lib" 2>/dev/null | awk '
        /^dnstcp_no_std_example/ { mine = 1; next }
        /^[^ .]/ && /:/ { mine = 0 }
        mine && $1 ~ /^\.text/ { t += $2 }
        END { print t + 0 }')
    # Linked with --gc-sections from the exported entry point: only what is reachable,
    # compiler builtins (memcpy, division) included.
    linked="-"
    if [[ -n "$LLD" ]]; then
        elf=$(mktemp --suffix .elf)
        if "$LLD" -flavor gnu --gc-sections -e dnstcp_demo --undefined=dnstcp_demo \
            --undefined=DNSTCP_SIZEOF_CLIENT --undefined=DNSTCP_SIZEOF_SERVER \
            -o "$elf" "$lib" 2>/dev/null; then
            linked=$("$SIZE" -A "$elf" | awk '$1 ~ /^\.text/ { t += $2 } END { print t + 0 }')
        fi
        rm -f "$elf"
    fi
    csz=$("$NM" -S "$lib" 2>/dev/null | awk '/DNSTCP_SIZEOF_CLIENT/ { v = $2 } END { print v }' || true)
    ssz=$("$NM" -S "$lib" 2>/dev/null | awk '/DNSTCP_SIZEOF_SERVER/ { v = $2 } END { print v }' || true)
    if [[ -n "$csz" ]]; then csz=$((16#$csz)); fi
    if [[ -n "$ssz" ]]; then ssz=$((16#$ssz)); fi
    printf '%-14s %12s %12s %14s %14s\n' "${feat:-frame+parse}" "$obj_text" "$linked" "${csz:--}" "${ssz:--}"
done
echo
echo "client/server state on $TARGET: size_of::<Connection<&'static mut [u8], 8>>() (two 8-byte slice refs included), storage 2 x 1024 B on top"
