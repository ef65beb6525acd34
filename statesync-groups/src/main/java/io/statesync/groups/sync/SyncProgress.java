package io.statesync.groups.sync;

/**
 * How far a running catch-up attempt is: {@code done} of {@code total} {@code unit}s (bytes of a
 * snapshot, or log entries), for status pages and logs.
 */
public record SyncProgress(long done, long total, String unit) {
    public double fraction() {
        return total <= 0 ? 0 : Math.min(1.0, (double) done / total);
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT, "%d/%d %s (%.0f%%)", done, total, unit, 100 * fraction());
    }
}
