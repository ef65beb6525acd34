# Sourced by ./statesync and ./bench: finds a JDK >= 21 wherever one is usually installed.
#
#   source scripts/find-java.sh
#   java="$(statesync_find_java)"    # the path of a java executable, or a message and status 1
#
# Looked for in this order: $STATESYNC_JAVA_HOME, $JAVA_HOME, `java` on PATH, /usr/lib/jvm/*,
# ~/.jdks/*, ~/.sdkman/candidates/java/*, /Library/Java/JavaVirtualMachines/*/Contents/Home.
# An explicit $STATESYNC_JAVA_HOME that is not a JDK >= 21 is an error, not skipped.

STATESYNC_MIN_JAVA=21

# The major version of the JDK at $1 (a JAVA_HOME-like directory), or nothing.
statesync_jdk_major() {
    local java="$1/bin/java" line version
    [[ -x "$java" ]] || return 0
    # Every JDK since 9 names its version in $JAVA_HOME/release: reading it costs no JVM start
    # (running `java -version` on each candidate took about 0.5 s of every command's start).
    if [[ -r "$1/release" ]]; then
        line="$(grep -m1 '^JAVA_VERSION=' "$1/release" 2>/dev/null || true)"
        line="${line/JAVA_VERSION=/version }"
    fi
    if [[ -z "${line:-}" ]]; then
        line="$("$java" -version 2>&1 | grep -m1 -E 'version "[^"]+"' || true)"
    fi
    [[ -n "$line" ]] || return 0
    version="${line#*version \"}"
    version="${version%%\"*}"
    # "1.8.0_392" is Java 8; "21.0.2", "21-ea" and "25" are what they say.
    if [[ "$version" == 1.* ]]; then
        version="${version#1.}"
    fi
    version="${version%%[.+-]*}"
    if [[ "$version" =~ ^[0-9]+$ ]]; then
        echo "$version"
    fi
    return 0
}

statesync_find_java() {
    local candidates=() dir major on_path
    if [[ -n "${STATESYNC_JAVA_HOME:-}" ]]; then
        major="$(statesync_jdk_major "$STATESYNC_JAVA_HOME")"
        if [[ -z "$major" ]] || (( major < STATESYNC_MIN_JAVA )); then
            echo "statesync: STATESYNC_JAVA_HOME=$STATESYNC_JAVA_HOME is not a JDK $STATESYNC_MIN_JAVA or later" >&2
            return 1
        fi
        candidates+=("$STATESYNC_JAVA_HOME")
    fi
    if [[ -n "${JAVA_HOME:-}" ]]; then
        candidates+=("$JAVA_HOME")
    fi
    if on_path="$(command -v java 2>/dev/null)"; then
        on_path="$(readlink -f "$on_path" 2>/dev/null || echo "$on_path")"
        candidates+=("$(dirname "$(dirname "$on_path")")")
    fi
    for dir in /usr/lib/jvm/* "$HOME"/.jdks/* "$HOME"/.sdkman/candidates/java/* \
               /Library/Java/JavaVirtualMachines/*/Contents/Home; do
        if [[ -d "$dir" ]]; then
            candidates+=("$dir")
        fi
    done
    for dir in ${candidates[@]+"${candidates[@]}"}; do
        major="$(statesync_jdk_major "$dir")"
        if [[ -n "$major" ]] && (( major >= STATESYNC_MIN_JAVA )); then
            echo "$dir/bin/java"
            return 0
        fi
    done
    echo "statesync: no JDK $STATESYNC_MIN_JAVA or later found; install one (e.g. Temurin $STATESYNC_MIN_JAVA)" \
        "or set STATESYNC_JAVA_HOME to it" >&2
    return 1
}
