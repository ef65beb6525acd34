package io.statesync.node.statesync;

import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.ThreadId;
import io.statesync.transfer.fetch.Source;
import java.time.Duration;
import java.util.List;
import java.util.SortedMap;

/**
 * Where the running load stands, summed over its threads.
 *
 * @param bytesDone verified bytes present (fetched now or already held)
 * @param bytesTotal bytes of the snapshots whose manifests are known so far
 * @param bytesPerSecond recent fetch rate
 * @param sources sources the running fetches use
 * @param elapsed time since the load began
 */
public record LoadProgress(SortedMap<ThreadId, BlockId> address, Anchor anchor, long bytesDone, long bytesTotal,
                           double bytesPerSecond, List<Source> sources, Duration elapsed) {
    public LoadProgress {
        address = Addresses.copy(address);
        sources = List.copyOf(sources);
    }

    /** Fraction done in [0, 1]; 0 while no manifest is known. */
    public double fraction() {
        return bytesTotal == 0 ? 0.0 : Math.min(1.0, (double) bytesDone / bytesTotal);
    }
}
