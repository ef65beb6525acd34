# Sourced by ./statesync (a source checkout) and by bin/statesync (the distribution): runs the
# command line on a JDK, with a class-data cache made on first need.
#
#   java=... program=(-jar the.jar | -cp CLASSPATH io.statesync.cli.Main)
#   stamp=FILE cache_dir=DIR lock=FILE
#   source run-cli.sh "$@"      # never returns
#
# A class-data cache cuts the JVM's start. There are two, each made once per build (the
# `stamp` file, the CLI jar, newer than the cache makes it stale) and JDK, under `lock`, by a
# training run, and only ever read afterwards (a cache written at the exit of concurrent commands
# could be read half-written):
# - the command line's (`cli`): `statesync warm-up --fetch`, a real 96 MiB fetch from three
#   shares in one JVM, then one that finds no source;
# - a node's (`node`, for `node`, `demo` and `soak`, whose nodes the demo launches with it):
#   `statesync warm-up` runs a one-node cluster for a few blocks; a node's start takes about
#   45 % less CPU (a joiner under load reached its API at 2.4 s instead of 5.1 s). Not used for
#   the other commands: mapping its five times more classes costs a plain fetch about 0.15 s.
# On JDK 25 and later it is an AOT cache (-XX:AOTCacheOutput), which also keeps the training's
# method profiles, so the JIT compiles the hot paths at once: a 1 GiB fetch took about 0.7 s
# (15-20 %) less than with the class archive alone. Before 25 it is a dynamic CDS archive
# (-XX:ArchiveClassesAtExit, classes only). A missing or stale cache is ignored, and
# STATESYNC_CLASS_CACHE=off turns caches off.

case "${1:-}" in
    node|demo|soak|warm-up) kind=node ;;
    *) kind=cli ;;
esac
jdk_home="$(dirname "$(dirname "$java")")"
jdk_feature="$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$jdk_home/release" 2>/dev/null)"
if [[ "${jdk_feature:-0}" -ge 25 ]]; then
    cache="$cache_dir/statesync-$kind-$(basename "$jdk_home").aot"
    record=(-XX:AOTCacheOutput="$cache.tmp" -Xlog:aot=off -Xlog:cds=off)
    use=(-XX:AOTCache="$cache" -Xlog:aot=off -Xlog:cds=off)
else
    cache="$cache_dir/statesync-$kind-$(basename "$jdk_home").jsa"
    record=(-XX:ArchiveClassesAtExit="$cache.tmp" -Xlog:cds=off -Xlog:cds+dynamic=off)
    use=(-XX:SharedArchiveFile="$cache" -Xshare:auto -Xlog:cds=off -Xlog:cds+dynamic=off)
fi
jvm_flags=()
if [[ "${STATESYNC_CLASS_CACHE:-on}" != off ]] && mkdir -p "$cache_dir" 2>/dev/null && [[ -w "$cache_dir" ]]; then
    if [[ ! -f "$cache" || "$stamp" -nt "$cache" ]] && command -v flock >/dev/null 2>&1; then
        exec 9>"$lock"
        flock 9
        if [[ ! -f "$cache" || "$stamp" -nt "$cache" ]]; then
            if [[ "$kind" == node ]]; then  # about 10 s; the command line's (a few seconds) is made silently
                echo "statesync: preparing the node class-data cache (once per build) ..." >&2
            fi
            train="$(mktemp -d)"
            training=(--enable-native-access=ALL-UNNAMED "${record[@]}" "${program[@]}" warm-up --work "$train/work")
            if [[ "$kind" == node ]]; then
                timeout 120 "$java" "${training[@]}" >/dev/null 2>&1 || true
            else
                timeout 120 "$java" "${training[@]}" --fetch >/dev/null 2>&1 || true
            fi
            rm -rf "$train"
            if [[ -s "$cache.tmp" ]]; then mv -f "$cache.tmp" "$cache"; else rm -f "$cache.tmp"; fi
        fi
        flock -u 9
        exec 9>&-
    fi
    if [[ -f "$cache" ]]; then
        jvm_flags=("${use[@]}")
    fi
fi

# Ratis's shaded Netty still uses sun.misc.Unsafe's memory access, which JDK 24 and later warn
# about on every start (JEP 471/498); allowing it explicitly (a flag JDK 23 introduced) keeps
# those warnings out of every log. The demo passes it on to the nodes it launches.
if [[ "${jdk_feature:-0}" -ge 23 ]]; then
    jvm_flags+=(--sun-misc-unsafe-memory-access=allow)
fi

# STATESYNC_JAVA_OPTS holds several options: word splitting is intended.
# shellcheck disable=SC2086
exec "$java" --enable-native-access=ALL-UNNAMED ${jvm_flags[@]+"${jvm_flags[@]}"} ${STATESYNC_JAVA_OPTS:-} "${program[@]}" "$@"
