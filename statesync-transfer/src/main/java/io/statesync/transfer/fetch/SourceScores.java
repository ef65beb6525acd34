package io.statesync.transfer.fetch;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the process has learned about each source across fetches: recent per-request
 * throughput and error counts. Fetches start from these scores so a known-fast source gets work
 * first; discovery orders sources by them. Thread-safe.
 */
public final class SourceScores {
    /** Weight of the newest sample in the moving average. */
    private static final double ALPHA = 0.3;

    private final Map<Source, Score> scores = new ConcurrentHashMap<>();

    /**
     * @param bytesPerSecond moving average of verified bytes per second of one request, 0 if unknown
     * @param successes requests that delivered verified bytes
     * @param failures requests that failed or delivered bad bytes
     */
    public record Score(double bytesPerSecond, long successes, long failures) {
        static final Score UNKNOWN = new Score(0, 0, 0);

        /** Share of failed requests, 0 when nothing is known. */
        public double errorRate() {
            long n = successes + failures;
            return n == 0 ? 0 : (double) failures / n;
        }
    }

    /** The score of a source; {@code bytesPerSecond == 0} when never measured. */
    public Score get(Source source) {
        return scores.getOrDefault(source, Score.UNKNOWN);
    }

    /** Records a request that delivered {@code bytes} verified bytes in {@code nanos}. */
    public void recordSuccess(Source source, long bytes, long nanos) {
        double rate = bytes / Math.max(1e-6, nanos / 1e9);
        scores.merge(source, new Score(rate, 1, 0), (old, s) -> new Score(
                old.bytesPerSecond() == 0 ? rate : old.bytesPerSecond() * (1 - ALPHA) + rate * ALPHA,
                old.successes() + 1, old.failures()));
    }

    /** Records a request that failed or delivered bad bytes. */
    public void recordFailure(Source source) {
        scores.merge(source, new Score(0, 0, 1), (old, s) -> new Score(
                old.bytesPerSecond() * (1 - ALPHA), old.successes(), old.failures() + 1));
    }
}
