#!/usr/bin/env bash
# Checks the OCI image (target/statesync-image.tar) without a container runtime: unpacks its
# layers in order into a directory and runs the CLI in it with chroot, as the image's user, with
# /proc mounted in a mount namespace of its own: `--version`, then the demo (four node
# processes, a joiner that syncs from the others) on a small state. Needs root (chroot, mount).
#
# usage: check-image.sh [IMAGE_TAR]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
image="${1:-$here/../../target/statesync-image.tar}"
[ "$(id -u)" = 0 ] || { echo "check-image: needs root (chroot and mount)" >&2; exit 2; }
[ -f "$image" ] || { echo "check-image: no image at $image (build it: mvn -B -Poci -pl statesync-dist -am package -DskipTests)" >&2; exit 2; }

work="$(mktemp -d)"
trap 'umount "$work/rootfs/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/image" "$work/rootfs"
tar --warning=no-unknown-keyword -xf "$image" -C "$work/image"
# The layers in order: a docker-load tar names them in manifest.json, an OCI layout in its index.
mapfile -t layers < <(python3 - "$work/image" <<'PY'
import json, os, sys
d = sys.argv[1]
if os.path.exists(os.path.join(d, "manifest.json")):
    for layer in json.load(open(os.path.join(d, "manifest.json")))[0]["Layers"]:
        print(os.path.join(d, layer))
else:
    index = json.load(open(os.path.join(d, "index.json")))
    digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.load(open(os.path.join(d, "blobs", "sha256", digest)))
    for layer in manifest["layers"]:
        print(os.path.join(d, "blobs", "sha256", layer["digest"].split(":")[1]))
PY
)
for l in "${layers[@]}"; do
    tar --warning=no-unknown-keyword -xf "$l" -C "$work/rootfs"
done
echo "check-image: ${#layers[@]} layers, $(du -sh "$work/rootfs" | cut -f1) unpacked"
mkdir -p "$work/rootfs/proc"
# What a container runtime puts in every container: the host name and how to resolve it.
for f in hosts hostname resolv.conf; do
    [ -f "/etc/$f" ] && cp "/etc/$f" "$work/rootfs/etc/$f"
done

chroot="$(command -v chroot)"
# As the image's entry point and environment say (a runtime would apply them the same way).
run() {
    unshare --mount --fork bash -c 'mount -t proc proc "$0/proc" && exec env -i LD_LIBRARY_PATH=/lib/x86_64-linux-gnu \
        STATESYNC_HOME=/var/lib/statesync HOME=/var/lib/statesync "$1" --userspec=10001:10001 "$0" \
        /opt/java/bin/java @/etc/statesync/jvm.options -cp "/app/libs/*" io.statesync.cli.Main "${@:2}"' \
        "$work/rootfs" "$chroot" "$@"
}
run --version
run demo --state-size 8MiB --nodes 3 --threads 2 --work /var/lib/statesync/demo
echo "check-image: ok"
