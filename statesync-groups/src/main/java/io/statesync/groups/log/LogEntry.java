package io.statesync.groups.log;

import java.util.Objects;

/**
 * One committed log entry as Statesync keeps it: a user command, or a no-op standing for an entry
 * the consensus engine keeps for itself (a configuration or metadata entry), so that every index
 * has an entry and a range of entries is contiguous.
 */
public record LogEntry(long index, long term, Kind kind, byte[] data) {
    public enum Kind {
        COMMAND, NOOP;

        static Kind ofCode(int code) {
            return switch (code) {
                case 0 -> COMMAND;
                case 1 -> NOOP;
                default -> throw new IllegalArgumentException("unknown entry kind " + code);
            };
        }

        int code() {
            return ordinal();
        }
    }

    public LogEntry {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(data, "data");
        if (index < 1 || term < 0) {
            throw new IllegalArgumentException("bad entry position (t:" + term + ", i:" + index + ")");
        }
        if (kind == Kind.NOOP && data.length != 0) {
            throw new IllegalArgumentException("a no-op entry carries no data");
        }
    }

    public static LogEntry noop(long index, long term) {
        return new LogEntry(index, term, Kind.NOOP, new byte[0]);
    }

    public LogPosition position() {
        return new LogPosition(term, index);
    }
}
