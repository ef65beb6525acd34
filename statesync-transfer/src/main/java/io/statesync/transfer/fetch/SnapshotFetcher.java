package io.statesync.transfer.fetch;

import io.micrometer.core.instrument.MeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.store.ContentStore;
import java.util.List;
import java.util.function.Consumer;

/**
 * Fetches a snapshot (manifest and chunks) from many sources at once into a store, verifying
 * every chunk against its CID as it arrives. Chunks the store already holds are not fetched,
 * so a rerun after a crash resumes and a node with an older snapshot fetches only the delta.
 * One instance serves many fetches; it owns pooled connections and is closed by its creator.
 */
public final class SnapshotFetcher implements AutoCloseable {
    private final ContentStore store;
    private final FetchMetrics metrics;
    private final SourceScores scores;
    private final HttpBlobClient client = new HttpBlobClient();

    /** A fetcher into {@code store} with its own source scores. */
    public SnapshotFetcher(ContentStore store, MeterRegistry registry) {
        this(store, registry, new SourceScores());
    }

    /** A fetcher sharing process-wide source scores (see {@link SourceScores}). */
    public SnapshotFetcher(ContentStore store, MeterRegistry registry, SourceScores scores) {
        this.store = store;
        this.metrics = new FetchMetrics(registry);
        this.scores = scores;
    }

    /** The scores this fetcher records and schedules by. */
    public SourceScores scores() {
        return scores;
    }

    /**
     * Fetches the snapshot {@code root} into the store. Blocks until every chunk is verified in
     * the store, or fails. Interrupting the calling thread cancels the fetch.
     *
     * @param progress told of progress about twice a second and once at the end; may be null
     */
    public FetchResult fetch(Cid root, List<Source> sources, FetchOptions options, Consumer<FetchProgress> progress)
            throws FetchException, InterruptedException {
        FetchRun run = new FetchRun(client, store, scores, metrics, root, sources, options, progress);
        metrics.started();
        String outcome = "cancelled";
        try {
            FetchResult result = run.run();
            outcome = "ok";
            return result;
        } catch (FetchException e) {
            outcome = e.reason().name().toLowerCase(java.util.Locale.ROOT);
            throw e;
        } finally {
            metrics.finished(outcome, run.elapsedNanos());
        }
    }

    /** Closes pooled connections. Fetches still running fail. */
    @Override
    public void close() {
        client.close();
    }
}
