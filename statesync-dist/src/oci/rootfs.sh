#!/usr/bin/env bash
# Builds the file system the container image runs on (the OCI profile, see docs/operations.md):
# a Java runtime cut to the modules Statesync uses (jlink), the C libraries it and the native
# parts of RocksDB and Netty link against (copied from this machine, found by ldd), and the
# directories the node writes. The image has no shell and no package manager: only these.
#
# usage: rootfs.sh LIB_DIR OUT_DIR   (the JDK: the first >= 21 that scripts/find-java.sh finds)
set -euo pipefail

lib_dir=$1 out=$2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../../scripts/find-java.sh
source "$here/../../../scripts/find-java.sh"
java="$(statesync_find_java)"
java_home="$(dirname "$(dirname "$(readlink -f "$java")")")"
major="$(statesync_jdk_major "$java_home")"
modules=java.base,java.logging,java.management,java.naming,java.net.http,java.sql,java.xml,jdk.management,jdk.unsupported,jdk.crypto.ec,jdk.zipfs

rm -rf "$out"
mkdir -p "$out/opt" "$out/tmp" "$out/var/lib/statesync" "$out/etc/statesync" "$out/lib64" "$out/lib/x86_64-linux-gnu"
"$java_home/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages \
    --output "$out/opt/java"

# The native libraries RocksDB and Netty unpack at run time, to learn what they link against.
natives=$(mktemp -d)
trap 'rm -rf "$natives"' EXIT
for jar in "$lib_dir"/rocksdbjni-*.jar "$lib_dir"/netty-transport-native-epoll-*-linux-x86_64.jar; do
    [ -f "$jar" ] || continue
    (cd "$natives" && "$java_home/bin/jar" xf "$jar" $("$java_home/bin/jar" tf "$jar" | grep -E 'linux.*\.so$|x86_64\.so$' | grep -v musl | grep -vi aarch64 || true))
done

# Every shared library the runtime and those natives need, resolved on this machine.
mapfile -t objects < <(find "$out/opt/java" "$natives" -name '*.so' -o -path "$out/opt/java/bin/*" -type f)
libs=$(for o in "${objects[@]}"; do ldd "$o" 2>/dev/null || true; done \
    | awk '/=> \// { print $3 } /^\t\/lib64\// { print $1 }' | sort -u)
for l in $libs; do
    case "$l" in
        "$out"/* | "$natives"/*) ;;  # the runtime's own, found beside it
        */ld-linux-x86-64.so.2) cp -L "$l" "$out/lib64/ld-linux-x86-64.so.2" ;;
        *) cp -L "$l" "$out/lib/x86_64-linux-gnu/" ;;
    esac
done
# glibc loads these by name at run time (name service, DNS), not through ldd's list.
for extra in libnss_files.so.2 libnss_dns.so.2 libresolv.so.2; do
    for d in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu; do
        if [ -f "$d/$extra" ]; then cp -L "$d/$extra" "$out/lib/x86_64-linux-gnu/"; break; fi
    done
done
# The JVM's options, by the runtime's version: Ratis's shaded Netty reads memory through
# sun.misc.Unsafe, which JDK 23 and later warn about unless told it is expected.
{
    echo "--enable-native-access=ALL-UNNAMED"
    echo "-Djava.io.tmpdir=/tmp"
    if [ "$major" -ge 23 ]; then echo "--sun-misc-unsafe-memory-access=allow"; fi
} > "$out/etc/statesync/jvm.options"
printf 'root:x:0:0:root:/root:/sbin/nologin\nstatesync:x:10001:10001:statesync:/var/lib/statesync:/sbin/nologin\n' > "$out/etc/passwd"
printf 'root:x:0:\nstatesync:x:10001:\n' > "$out/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$out/etc/nsswitch.conf"
echo "rootfs: $(du -sh "$out" | cut -f1) in $out ($(ls "$out/lib/x86_64-linux-gnu" | wc -l) libraries)"
