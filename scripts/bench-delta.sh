#!/usr/bin/env bash
# ./bench delta: a node holding version 1 of a 64 MiB file fetches version 2, for fixed 1 MiB
# chunks and content-defined chunks of several averages; version 2 differs by 1 % changed in
# place at 8 spots, or by 4 KiB inserted in the middle. Prints the share of the state downloaded.
# Then the ledger's row (./bench delta-ledger): a node holding one save of a thread fetches the
# next after 1 % of the accounts changed, layered (what nodes write) and as a flat dump.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
S="$root/statesync"
bench=()
for chunking in fixed:--chunking=fixed cdc64k:--chunk-size=64KiB cdc128k:--chunk-size=128KiB cdc256k:--chunk-size=256KiB; do
  name="${chunking%%:*}"; arg="${chunking#*:}"
  for kind in spots insert; do
    work="$(mktemp -d -t statesync-delta-XXXXXX)"; cd "$work" || exit 1; mkdir v1 v2
    head -c 64M /dev/urandom > v1/state.bin
    python3 - "$kind" <<'P'
import os, sys
d = bytearray(open('v1/state.bin', 'rb').read())
if sys.argv[1] == 'spots':
    n = len(d) // 100 // 8
    for k in range(8):
        at = (2 * k + 1) * len(d) // 16
        d[at:at + n] = os.urandom(n)
else:
    d[len(d) // 2:len(d) // 2] = os.urandom(4096)
open('v2/state.bin', 'wb').write(d)
P
    r1=$("$S" share --store origin "$arg" v1 2>/dev/null | tail -1); r2=$("$S" share --store origin "$arg" v2 2>/dev/null | tail -1)
    "$S" serve --store origin --port 18299 >/dev/null 2>&1 & pid=$!
    for _ in $(seq 60); do curl -sf -o /dev/null http://127.0.0.1:18299/health && break; sleep 0.5; done
    "$S" fetch "$r1" --source http://127.0.0.1:18299 --store client --out out >/dev/null 2>&1 \
      || { echo "$name/$kind: the fetch of version 1 failed" >&2; exit 1; }
    line=$("$S" fetch "$r2" --source http://127.0.0.1:18299 --store client --out out 2>&1 | grep '^fetched')
    [[ -n "$line" ]] || { echo "$name/$kind: the fetch of version 2 failed" >&2; exit 1; }
    kill $pid; wait $pid 2>/dev/null
    cmp -s out/state.bin v2/state.bin || { echo "delta fetch of $name/$kind differs" >&2; exit 1; }
    mib=$(echo "$line" | sed -E 's/^fetched ([0-9.]+) MiB.*/\1/')
    echo "$name $kind: $line" >&2
    bench+=("BENCH delta_${name}_${kind}_percent $(echo "scale=2; $mib * 100 / 64" | bc) percent")
    cd /; rm -rf "$work"
  done
done
ledger=$("$root/bench" delta-ledger) || { echo "the ledger delta bench failed" >&2; exit 1; }
printf '%s\n' "${bench[@]}" "$ledger"
