package io.statesync.cli;

import io.statesync.core.units.Durations;
import io.statesync.core.units.Sizes;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.snapshot.Manifest;
import io.statesync.core.snapshot.ManifestException;
import io.statesync.core.snapshot.Materializer;
import io.statesync.core.store.ContentStore;
import io.statesync.transfer.fetch.FetchException;
import io.statesync.transfer.fetch.FetchOptions;
import io.statesync.transfer.fetch.FetchResult;
import io.statesync.transfer.fetch.SnapshotFetcher;
import io.statesync.transfer.fetch.SourceScores;
import io.statesync.transfer.tls.Tls;
import io.statesync.transfer.fetch.Source;
import io.statesync.transfer.fetch.SourceResolver;
import io.statesync.transfer.fetch.SourceStats;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * The two steps of a snapshot download as {@code fetch} and {@code demo-transfer} both run
 * them: fetch every chunk, verified, into the store (resuming from whatever it already holds),
 * then write the files out, re-verifying each chunk as it is copied. Both report progress.
 */
final class Transfer {
    private Transfer() {
    }

    /** Fetches {@code root} from {@code sources} into {@code store}. */
    static FetchResult fetch(ContentStore store, Cid root, List<Source> sources, FetchOptions options,
                             ProgressReporter progress) throws FetchException, InterruptedException {
        // The fetcher's meters matter to a long-lived node; a one-shot command reads the result instead.
        try (SnapshotFetcher fetcher = new SnapshotFetcher(store, new SimpleMeterRegistry())) {
            return fetcher.fetch(root, sources, options, progress::onFetch);
        } finally {
            progress.finish();
        }
    }

    /**
     * Fetches {@code root} straight into its files under {@code outDir}: one write per byte,
     * resumable, and only the chunks that neither the files already there nor the store hold.
     * {@code tls} checks https sources (null: the JDK's CAs, no client certificate).
     */
    static FetchResult fetchInto(ContentStore store, Cid root, List<Source> sources, Path outDir, FetchOptions options,
                                 ProgressReporter progress, Tls tls, long startedNanos) throws FetchException, InterruptedException {
        try (SnapshotFetcher fetcher = new SnapshotFetcher(store, new SimpleMeterRegistry(), new SourceScores(), tls)) {
            return fetcher.fetchInto(root, SourceResolver.of(sources), outDir, options, progress::onFetch, startedNanos);
        } finally {
            progress.finish();
        }
    }

    /**
     * Writes the files of {@code manifest}, whose chunks are all in {@code store}, under
     * {@code outDir}. Returns the time it took.
     */
    static Duration write(Manifest manifest, ContentStore store, Path outDir, ProgressReporter progress)
            throws IOException, ManifestException {
        long started = System.nanoTime();
        progress.startWrite(manifest.totalBytes());
        try {
            Materializer.materialize(manifest, store, outDir, true, progress::onWritten);
        } finally {
            progress.finish();
        }
        return Duration.ofNanos(System.nanoTime() - started);
    }

    /**
     * {@code fetched 256.0 MiB in 256 chunks, 0 chunks local (resumed), in 2.7s, 95.3 MiB/s},
     * then one line per source.
     */
    static void printFetchSummary(FetchResult r, PrintWriter err) {
        err.println(String.format(Locale.ROOT, "fetched %s in %s, %s local (resumed or already held), in %s, %.1f MiB/s",
                Sizes.mib(r.bytesFetched()), Sizes.count(r.chunksFetched(), "chunk"), Sizes.count(r.chunksLocal(), "chunk"),
                Durations.format(r.elapsed()),
                Sizes.toMib(r.bytesPerSecond())));
        for (SourceStats s : r.sources()) {
            err.println("  " + s.summary());
        }
        err.flush();
    }

    /** {@code wrote 4 files, 256.0 MiB to /out in 800ms}. */
    static void printWriteSummary(Manifest m, Path outDir, Duration took, PrintWriter err) {
        err.println(String.format(Locale.ROOT, "wrote %s, %s to %s in %s", Sizes.count(m.files().size(), "file"),
                Sizes.mib(m.totalBytes()), outDir, Durations.format(took)));
        err.flush();
    }
}
