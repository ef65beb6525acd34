package io.statesync.transfer.blobsync;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.snapshot.FileEntry;
import io.statesync.core.snapshot.Manifest;
import io.statesync.core.snapshot.Materializer;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.snapshot.SnapshotRef;
import io.statesync.core.store.ContentStore;
import io.statesync.transfer.fetch.FetchOptions;
import io.statesync.transfer.fetch.FetchResult;
import io.statesync.transfer.fetch.SnapshotFetcher;
import io.statesync.transfer.fetch.Source;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Shares blobs into a content-addressed store (from which a file share serves them) and loads
 * blobs from many sources into {@code <baseDir>/<resourceId>}, verified. Commands run on the
 * service's own loop thread, fed by an instrumented queue; each command then works on a virtual
 * thread of its own so a slow load never blocks a share. Handles are shareable between threads.
 * {@link #close()} refuses new commands, drains the queue, waits for running commands and joins
 * the loop.
 */
public final class BlobSyncService implements AutoCloseable {
    private final Path baseDir;
    private final ContentStore store;
    private final SnapshotFetcher fetcher;
    private final FetchOptions baseOptions;
    private final InstrumentedQueue<Command> queue;
    private final Thread loop;
    private final Set<Thread> running = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closing = new AtomicBoolean();
    private final Counter shared;
    private final Counter loaded;
    private final Counter failed;

    private sealed interface Command permits Share, Load {
    }

    private record Share(ResourceId id, InputStream blob, CompletableFuture<Cid> result) implements Command {
    }

    private record Load(ResourceId id, Cid root, List<Source> sources, FetchOptions options, CompletableFuture<Path> result)
            implements Command {
    }

    private BlobSyncService(Path baseDir, ContentStore store, SnapshotFetcher fetcher, FetchOptions baseOptions,
                            MeterRegistry registry) {
        this.baseDir = baseDir;
        this.store = store;
        this.fetcher = fetcher;
        this.baseOptions = baseOptions;
        this.queue = new InstrumentedQueue<>("blob_sync_command", registry);
        this.shared = Counter.builder("statesync.blobsync.shared").description("blobs shared").register(registry);
        this.loaded = Counter.builder("statesync.blobsync.loaded").description("blobs loaded").register(registry);
        this.failed = Counter.builder("statesync.blobsync.failed").description("share or load commands that failed")
                .register(registry);
        this.loop = Thread.ofPlatform().name("statesync-blob-sync-loop").unstarted(this::runLoop);
    }

    /**
     * Starts the service. Loaded blobs land in {@code baseDir}; shared ones go into
     * {@code store}. The fetcher is the caller's and stays open after {@link #close()}.
     *
     * @param baseOptions parallelism, chunk deadline and limits for loads; tries, retry wait and
     *                    deadline come with each load
     */
    public static BlobSyncService start(Path baseDir, ContentStore store, SnapshotFetcher fetcher, FetchOptions baseOptions,
                                        MeterRegistry registry) throws IOException {
        Files.createDirectories(baseDir);
        BlobSyncService s = new BlobSyncService(baseDir, store, fetcher, baseOptions, registry);
        s.loop.start();
        return s;
    }

    /**
     * Imports {@code blob} into the store as a one-file snapshot named {@code id} and completes
     * with its root CID, which peers then load it by. The stream is read to its end and closed.
     */
    public CompletableFuture<Cid> shareBlob(ResourceId id, InputStream blob) {
        CompletableFuture<Cid> f = new CompletableFuture<>();
        submit(new Share(id, blob, f), f);
        return f;
    }

    /**
     * Loads the one-file snapshot {@code root} from {@code sources} (chunks the store already has
     * are not fetched) and completes with {@code <baseDir>/<id>}, which appears only complete
     * and verified. Cancelling the future cancels the download.
     *
     * @param maxTries attempts per chunk
     * @param retryWait pause before a failed chunk is tried again (it doubles per failure)
     * @param deadline the load fails if it has not completed by then
     */
    public CompletableFuture<Path> loadBlob(ResourceId id, Cid root, List<Source> sources, int maxTries, Duration retryWait,
                                            Instant deadline) {
        CompletableFuture<Path> f = new CompletableFuture<>();
        Duration left = Duration.between(Instant.now(), deadline);
        if (left.isNegative() || left.isZero()) {
            f.completeExceptionally(new IOException("load of " + id + ": deadline " + deadline + " has already passed"));
            return f;
        }
        FetchOptions options;
        try {
            options = baseOptions.withMaxTries(maxTries).withRetryWait(retryWait).withDeadline(left);
        } catch (IllegalArgumentException e) {
            f.completeExceptionally(e);
            return f;
        }
        submit(new Load(id, root, List.copyOf(sources), options, f), f);
        return f;
    }

    /** Commands queued and not yet picked up by the loop. */
    public int queueDepth() {
        return queue.depth();
    }

    private void submit(Command c, CompletableFuture<?> f) {
        // Under the lock so that no command slips in after close() has begun to drain.
        synchronized (closing) {
            if (closing.get()) {
                f.completeExceptionally(new IllegalStateException("blob sync service is closed"));
                return;
            }
            queue.put(c);
        }
    }

    private void runLoop() {
        try {
            while (true) {
                Command c = queue.poll(100, TimeUnit.MILLISECONDS);
                if (c == null) {
                    if (closing.get() && queue.depth() == 0) {
                        return;
                    }
                    continue;
                }
                dispatch(c);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void dispatch(Command c) {
        switch (c) {
            case Share s -> spawn("statesync-blob-share-" + s.id(), s.result(), () -> share(s));
            case Load l -> spawn("statesync-blob-load-" + l.id(), l.result(), () -> load(l));
        }
    }

    private interface Work<T> {
        T run() throws Exception;
    }

    private <T> void spawn(String name, CompletableFuture<T> result, Work<T> work) {
        Thread t = Thread.ofVirtual().name(name).unstarted(() -> {
            try {
                if (!result.isDone()) {
                    result.complete(work.run());
                }
            } catch (Throwable e) {
                failed.increment();
                result.completeExceptionally(e);
            } finally {
                running.remove(Thread.currentThread());
            }
        });
        running.add(t);
        // Cancelling the caller's future interrupts the work, which the fetcher treats as cancel.
        result.whenComplete((v, e) -> {
            if (result.isCancelled()) {
                t.interrupt();
            }
        });
        t.start();
    }

    private Cid share(Share s) throws Exception {
        try (InputStream in = s.blob()) {
            // Chunked straight from the stream into the store: no staging copy. If the stream fails
            // midway, the chunks already stored stay (verified, harmless) but no manifest names them.
            FileEntry file = SnapshotImporter.importStream(store, in, s.id().value(), SnapshotImporter.DEFAULT_CHUNK_SIZE, 0644);
            Manifest manifest = new Manifest(Manifest.VERSION, SnapshotImporter.DEFAULT_CHUNK_SIZE,
                    Map.of("resource", s.id().value()), List.of(file));
            SnapshotRef ref = SnapshotImporter.storeManifest(store, manifest);
            shared.increment();
            return ref.root();
        }
    }

    private Path load(Load l) throws Exception {
        FetchResult r = fetcher.fetch(l.root(), l.sources(), l.options(), null);
        Manifest m = r.manifest();
        if (m.files().size() != 1) {
            throw new IOException("snapshot " + l.root() + " has " + m.files().size() + " files; a blob is exactly one");
        }
        FileEntry only = m.files().get(0);
        // Land it under its resource id whatever name the sharer gave it; staged, then renamed.
        Manifest renamed = new Manifest(m.version(), m.chunking(), m.metadata(), List.of(only.withPath(l.id().value())));
        Path staging = baseDir.resolve(".load-" + UUID.randomUUID());
        try {
            Materializer.materialize(renamed, store, staging, true, null);
            Path target = baseDir.resolve(l.id().value());
            Files.move(staging.resolve(l.id().value()), target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            loaded.increment();
            return target;
        } finally {
            Files.deleteIfExists(staging.resolve(l.id().value()));
            Files.deleteIfExists(staging);
        }
    }

    /** Refuses new commands, runs every queued one, waits for all to finish and joins the loop. */
    @Override
    public void close() throws InterruptedException {
        synchronized (closing) {
            closing.set(true);
        }
        loop.join();
        for (Thread t : Set.copyOf(running)) {
            t.join();
        }
    }
}
