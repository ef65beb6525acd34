#!/usr/bin/env bash
# ./bench transfer [SIZE] [share options...]: the end-to-end rows of the transfer table, one run, each
# command a separate process ending with `sync`: the disk's durable write (dd conv=fsync),
# curl from nginx + sha256sum, aria2c from 3 nginx ports with a sha-256 check, and
# `statesync fetch --out` from 3 `statesync serve` processes (warmed by one earlier fetch), the
# fetching JVM's start included.
# nginx and aria2c are installed with apt-get when missing; a row that cannot run says why.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
S="$root/statesync"
size="${1:-1G}"; shift || true
share_args=("$@")
work="$(mktemp -d -t statesync-e2e-XXXXXX)"; chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
cd "$work" || exit 1
mkdir input
head -c "$size" /dev/urandom > input/state.bin; sync
bytes=$(stat -c %s input/state.bin)
sum=$(sha256sum input/state.bin | cut -d' ' -f1)
now() { date +%s.%N; }
timed() { local s; s=$(now); "$@" || return 1; sync; echo "$(now) - $s" | bc; }
mibs() { echo "scale=3; $bytes / 1048576 / $1" | bc; }
need() {  # need PROGRAM PACKAGE: installs it when missing; false when that fails
  command -v "$1" >/dev/null && return 0
  echo "installing $2 with apt-get for the $1 row" >&2
  (apt-get install -y -qq "$2" >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$2" >/dev/null 2>&1; })
  command -v "$1" >/dev/null
}
bench=()
dd_s=$(timed dd if=input/state.bin of=dd.bin bs=1M conv=fsync status=none); rm -f dd.bin
bench+=("BENCH e2e_dd_fsync $(mibs "$dd_s") MiB/s")
# The other physical limit: SHA-256 on one core (the file is in the page cache by now), and on
# every core at once (one hasher per core over the same bytes, wall time for all). The hasher is
# openssl where installed: it uses the CPU's SHA instructions, as the JVM does (coreutils'
# sha256sum does not, and reaches about a quarter of that on a CPU that has them).
cat input/state.bin > /dev/null
if command -v openssl >/dev/null; then hasher="openssl dgst -sha256"; else hasher=sha256sum; fi
echo "hashing limit measured with: $hasher" >&2
sha_s=$(timed bash -c "$hasher input/state.bin >/dev/null")
bench+=("BENCH e2e_sha256_one_core $(mibs "$sha_s") MiB/s")
cores=$(nproc)
sha_all_s=$(timed bash -c "for i in \$(seq $cores); do $hasher input/state.bin >/dev/null & done; wait")
bench+=("BENCH e2e_sha256_all_${cores}_cores $(echo "scale=3; $cores * $(mibs "$sha_all_s")" | bc) MiB/s")

curl_s=""
if need nginx nginx-light; then
  cat > nginx.conf <<N
daemon off; worker_processes 2; pid $work/nginx.pid; error_log $work/nginx.err;
events {} http { access_log off; sendfile on;
  server { listen 127.0.0.1:18181; listen 127.0.0.1:18182; listen 127.0.0.1:18183; root $work/input; } }
N
  nginx -c "$work/nginx.conf" -p "$work" & pids+=($!); sleep 1
  curl_s=$(timed bash -c "curl -sf -o curl.bin http://127.0.0.1:18181/state.bin && sha256sum curl.bin | grep -q $sum") \
    && bench+=("BENCH e2e_curl_sha256sum $(mibs "$curl_s") MiB/s") || { echo "curl row failed" >&2; curl_s=""; }
  rm -f curl.bin
  if need aria2c aria2; then
    aria_s=$(timed aria2c -q --allow-overwrite=true --checksum=sha-256="$sum" -d "$work" -o aria.bin -s 3 -x 3 \
      http://127.0.0.1:18181/state.bin http://127.0.0.1:18182/state.bin http://127.0.0.1:18183/state.bin) \
      && bench+=("BENCH e2e_aria2c_3_mirrors $(mibs "$aria_s") MiB/s") || echo "aria2c row failed" >&2
    rm -f aria.bin
  else
    echo "skipping the aria2c row: aria2c is not installed and apt-get could not install it" >&2
  fi
else
  echo "skipping the curl and aria2c rows: nginx is not installed and apt-get could not install it" >&2
fi

cid=$("$S" share --store origin "${share_args[@]}" input 2>/dev/null | tail -1)
for p in 18191 18192 18193; do "$S" serve --store origin --port $p >/dev/null 2>&1 & pids+=($!); done
sleep 3
# The servers are long-lived in use (a node serves many fetches), as nginx is: warm their JIT with
# one throwaway fetch of other bytes first, so the timed row measures serving, not compiling.
mkdir warm; head -c 128M /dev/urandom > warm/warm.bin
warm_cid=$("$S" share --store origin "${share_args[@]}" warm 2>/dev/null | tail -1)
"$S" fetch "$warm_cid" --source http://127.0.0.1:18191,http://127.0.0.1:18192,http://127.0.0.1:18193 \
  --store warm-client --out warm-out >/dev/null 2>&1 || echo "warm-up fetch failed" >&2
rm -rf warm warm-out warm-client; sync
fetch_s=$(timed "$S" fetch "$cid" --source http://127.0.0.1:18191,http://127.0.0.1:18192,http://127.0.0.1:18193 \
  --store client --out out 2>fetch.log) || { cat fetch.log >&2; exit 1; }
cmp -s out/state.bin input/state.bin || { echo "fetched file differs" >&2; exit 1; }
grep -E "^(fetched|wrote)" fetch.log >&2
bench+=("BENCH e2e_statesync_fetch_3_sources $(mibs "$fetch_s") MiB/s")
bench+=("BENCH e2e_fetch_vs_dd_ratio $(echo "scale=3; $dd_s / $fetch_s" | bc) ratio")
[[ -n "$curl_s" ]] && bench+=("BENCH e2e_fetch_vs_curl_sha256sum_ratio $(echo "scale=3; $curl_s / $fetch_s" | bc) ratio")
bench+=("BENCH e2e_fetch_vs_sha256_all_cores_ratio $(echo "scale=3; $sha_all_s / $cores / $fetch_s" | bc) ratio")
printf '%s\n' "${bench[@]}"
