package io.statesync.transfer.fetch;

import io.statesync.core.concurrent.Uninterruptibly;
import io.micrometer.core.instrument.MeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.snapshot.Manifest;
import io.statesync.core.store.ContentStore;
import io.statesync.transfer.tls.Tls;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
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
    private final HttpBlobClient client;

    /** A fetcher into {@code store} with its own source scores. */
    public SnapshotFetcher(ContentStore store, MeterRegistry registry) {
        this(store, registry, new SourceScores());
    }

    /** A fetcher sharing process-wide source scores (see {@link SourceScores}). */
    public SnapshotFetcher(ContentStore store, MeterRegistry registry, SourceScores scores) {
        this(store, registry, scores, null);
    }

    /**
     * A fetcher whose https sources are checked against {@code tls}'s CA bundle (and must hold a
     * certificate for the host name dialled), presenting {@code tls}'s certificate to a source
     * that asks for one; null for the JDK's default CAs and no client certificate.
     */
    public SnapshotFetcher(ContentStore store, MeterRegistry registry, SourceScores scores, Tls tls) {
        this.client = new HttpBlobClient(tls);
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
     * the store, or fails. Interrupting the calling thread cancels the fetch: it returns by
     * throwing {@link InterruptedException} once every thread of the fetch has ended.
     *
     * @param progress told of progress about twice a second and once at the end, on the
     *                 fetch's own thread; may be null
     */
    public FetchResult fetch(Cid root, List<Source> sources, FetchOptions options, Consumer<FetchProgress> progress)
            throws FetchException, InterruptedException {
        return fetch(root, SourceResolver.of(sources), options, progress);
    }

    /**
     * Fetches with sources that may change while the fetch runs: new ones get work, vanished ones
     * get no new requests, and with none usable the fetch waits for more until its deadline.
     */
    public FetchResult fetch(Cid root, SourceResolver sources, FetchOptions options, Consumer<FetchProgress> progress)
            throws FetchException, InterruptedException {
        return run(new FetchRun(client, store, scores, metrics, root, sources, null, options, progress));
    }

    /**
     * As {@link #fetch(Cid, List, FetchOptions, Consumer)}, where {@code justVerified} names chunks
     * the caller put into this store after verifying them against their CIDs moments ago in this
     * process (say, linked from another store whose fetch just landed them): those are taken as
     * they are, where any other chunk found in the store is re-hashed first. Only for bytes this
     * process verified itself: after a restart nothing is "just verified".
     */
    public FetchResult fetch(Cid root, List<Source> sources, FetchOptions options, Consumer<FetchProgress> progress,
                             java.util.Set<Cid> justVerified) throws FetchException, InterruptedException {
        return run(new FetchRun(client, store, scores, metrics, root, SourceResolver.of(sources), null, options,
                progress).trusting(justVerified));
    }

    /**
     * Gets and checks the manifest of the snapshot {@code root} without its chunks, and keeps it
     * in the store: the root block and, for a manifest over 1 MiB, its parts, each from the store
     * when it holds an intact copy, else from the sources (verified, with the options' tries and
     * deadline). For a caller that decides on the manifest before it fetches the chunks; a later
     * {@link #fetch} of the same root finds the manifest in the store.
     */
    public Manifest fetchManifest(Cid root, List<Source> sources, FetchOptions options)
            throws FetchException, InterruptedException {
        return new FetchRun(client, store, scores, metrics, root, SourceResolver.of(sources), null, options, null)
                .manifestOnly();
    }

    /**
     * Fetches the snapshot {@code root} straight into its files under {@code outDir}: each
     * verified chunk is written once, at its offsets in the file being assembled, and never to
     * the store (which still supplies chunks it holds, and keeps the manifest). Files already
     * under {@code outDir} lend the chunks they share with the snapshot, so fetching a new
     * version over an old one downloads only what changed. A rerun after a crash resumes (see
     * {@link io.statesync.core.snapshot.SnapshotAssembly}).
     */
    public FetchResult fetchInto(Cid root, SourceResolver sources, Path outDir, FetchOptions options,
                                 Consumer<FetchProgress> progress) throws FetchException, InterruptedException {
        return run(new FetchRun(client, store, scores, metrics, root, sources, outDir, options, progress));
    }

    /**
     * As {@link #fetchInto(Cid, SourceResolver, Path, FetchOptions, Consumer)}, with the deadline
     * counted from {@code startedNanos} (a {@link System#nanoTime()} reading): a command's
     * preparation before the fetch (cleaning the output directory, opening the store) counts too.
     */
    public FetchResult fetchInto(Cid root, SourceResolver sources, Path outDir, FetchOptions options,
                                 Consumer<FetchProgress> progress, long startedNanos) throws FetchException, InterruptedException {
        return run(new FetchRun(client, store, scores, metrics, root, sources, outDir, options, progress)
                .countingFrom(startedNanos));
    }

    private FetchResult run(FetchRun run) throws FetchException, InterruptedException {
        Cid root = run.root();
        metrics.started();
        String outcome = "cancelled";
        // The fetch runs on a virtual thread of its own, where an interrupt also breaks a blocked
        // socket read; the caller may be a platform thread, whose reads ignore interrupts.
        FutureTask<FetchResult> task = new FutureTask<>(run::run);
        Thread thread = Thread.ofVirtual().name("statesync-fetch-" + root.toString().substring(0, 16)).start(task);
        try {
            FetchResult result = task.get();
            outcome = "ok";
            return result;
        } catch (InterruptedException e) {
            thread.interrupt();
            Uninterruptibly.join(thread);
            throw e;
        } catch (ExecutionException e) {
            switch (e.getCause()) {
                case FetchException f -> {
                    outcome = f.reason().name().toLowerCase(Locale.ROOT);
                    throw f;
                }
                case InterruptedException i -> throw i;
                case RuntimeException r -> throw r;
                case Error err -> throw err;
                default -> throw new IllegalStateException("fetch failed unexpectedly", e.getCause());
            }
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
