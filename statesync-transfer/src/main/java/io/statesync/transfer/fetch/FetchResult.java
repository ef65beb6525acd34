package io.statesync.transfer.fetch;

import io.statesync.core.cid.Cid;
import io.statesync.core.snapshot.Manifest;
import java.time.Duration;
import java.util.List;

/**
 * A finished fetch: every chunk of {@code manifest} is now verified in the store.
 *
 * @param root the snapshot's root CID
 * @param manifest its validated manifest
 * @param bytesFetched bytes downloaded and verified in this fetch
 * @param chunksFetched chunks downloaded in this fetch
 * @param chunksLocal chunks the store already held, so not downloaded
 * @param elapsed wall time of the fetch
 * @param sources what each source did
 */
public record FetchResult(Cid root, Manifest manifest, long bytesFetched, long chunksFetched, long chunksLocal,
                          Duration elapsed, List<SourceStats> sources) {
    public FetchResult {
        sources = List.copyOf(sources);
    }

    /** Downloaded bytes per second over the whole fetch. */
    public double bytesPerSecond() {
        double s = elapsed.toNanos() / 1e9;
        return s <= 0 ? 0 : bytesFetched / s;
    }
}
