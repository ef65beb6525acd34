package io.statesync.groups.log;

/**
 * A position in a group's log: an entry's term and index. Index 0 with term 0 is the position
 * before the first entry.
 */
public record LogPosition(long term, long index) implements Comparable<LogPosition> {
    public static final LogPosition ORIGIN = new LogPosition(0, 0);

    public LogPosition {
        if (term < 0 || index < 0) {
            throw new IllegalArgumentException("negative term or index: " + term + "/" + index);
        }
    }

    @Override
    public int compareTo(LogPosition o) {
        return Long.compare(index, o.index);
    }

    @Override
    public String toString() {
        return "(t:" + term + ", i:" + index + ")";
    }
}
