package io.statesync.node.ledger;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * The name of a thread (one parallel chain): 1 to 32 characters, lower-case letters, digits and
 * dashes, not starting with a dash. Names travel inside transactions and blocks, so a signature
 * made for one thread is never valid on another.
 */
public record ThreadId(String name) implements Comparable<ThreadId> {
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,31}");

    /** Longest name in bytes (names are ASCII). */
    static final int MAX_LENGTH = 32;

    public ThreadId {
        Objects.requireNonNull(name, "thread name");
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("thread name \"" + Bytes.abbreviate(name)
                    + "\" must match [a-z0-9][a-z0-9-]{0,31}");
        }
    }

    public static ThreadId of(String name) {
        return new ThreadId(name);
    }

    @Override
    public int compareTo(ThreadId o) {
        return name.compareTo(o.name);
    }

    @Override
    public String toString() {
        return name;
    }
}
