package io.statesync.transfer.fetch;

import java.time.Duration;
import java.util.List;

/**
 * A progress report of a running fetch, sent periodically and once at the end.
 *
 * @param bytesDone bytes of the snapshot present and verified (fetched or already held)
 * @param bytesTotal bytes of all distinct chunks of the snapshot
 * @param chunksDone distinct chunks present
 * @param chunksTotal distinct chunks of the snapshot
 * @param bytesPerSecond recent fetch rate
 * @param eta estimated time left, or null when unknown
 * @param elapsed time since the fetch began
 * @param sources what each source did so far
 */
public record FetchProgress(long bytesDone, long bytesTotal, long chunksDone, long chunksTotal,
                            double bytesPerSecond, Duration eta, Duration elapsed, List<SourceStats> sources) {
    public FetchProgress {
        sources = List.copyOf(sources);
    }

    /** Fraction done in [0, 1]. */
    public double fraction() {
        return bytesTotal == 0 ? 1.0 : (double) bytesDone / bytesTotal;
    }
}
