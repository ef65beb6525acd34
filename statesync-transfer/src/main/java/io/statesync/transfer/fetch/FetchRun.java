package io.statesync.transfer.fetch;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.snapshot.FileEntry;
import io.statesync.core.snapshot.Manifest;
import io.statesync.core.snapshot.SnapshotAssembly;
import io.statesync.core.store.ContentStore;
import io.statesync.transfer.fetch.ChunkDownload.Batch;
import io.statesync.transfer.fetch.ChunkDownload.Lease;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One fetch of one snapshot: the manifest first, then a pool of worker virtual threads that
 * pull (chunk, source) leases from a shared queue until every chunk is verified in the store,
 * the deadline passes, or a chunk runs out of tries. All scheduling state sits under one lock;
 * network and disk I/O happen outside it.
 */
final class FetchRun {
    private static final Logger log = LoggerFactory.getLogger(FetchRun.class);
    /** How often progress is reported and the deadline checked. */
    static final long TICK_NANOS = 500_000_000L;
    /** A duplicate request for a lagging tail chunk is sent after this many times its expected time. */
    private static final double HEDGE_FACTOR = 3.0;
    private static final long MIN_HEDGE_NANOS = 300_000_000L;
    /** Chunks up to this size are asked in batches from sources that serve {@code /blocks}. */
    private static final int BATCH_CHUNK_MAX = ChunkDownload.BATCH_CHUNK_MAX;
    /** A batch stops growing at this many chunks (the request line names each) ... */
    private static final int BATCH_MAX_CHUNKS = 48;
    /** ... or at this many bytes, enough to make the request's own cost vanish. */
    private static final long BATCH_TARGET_BYTES = 1L << 20;

    private final HttpBlobClient client;
    private final ContentStore store;
    private final SourceScores scores;
    private final FetchMetrics metrics;
    private final Cid root;
    private final FetchOptions options;
    private final Consumer<FetchProgress> progress;
    private final SourceResolver resolver;
    /** Where the files are assembled in place; null when the chunks go to the store. */
    private final Path outDir;
    /** Chunks the caller put into the store after verifying them moments ago: taken without a re-hash. */
    private java.util.Set<Cid> justVerified = java.util.Set.of();
    private SnapshotAssembly assembly;
    /** The manifest's longest chunk: the size of each worker's body buffer. */
    private int maxChunk;
    /** Every source this fetch has known; guarded by lock. */
    private final SourcePool peers;
    /** When the fetch's clock started: now, or earlier when the caller's work before it counts. */
    private long startNanos = System.nanoTime();
    private long deadlineNanos;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    // Guarded by lock:
    private final ChunkQueue queue = new ChunkQueue(System::nanoTime);
    private long bytesFetched;
    private long chunksFetched;
    private FetchException failure;
    private boolean finished;

    private long bytesTotal;
    private long bytesLocal;
    private long chunksLocal;
    private final RateWindow rate = new RateWindow();
    /** The requests; made once the manifest is planned (it writes where the plan says). */
    private ChunkDownload downloads;

    FetchRun(HttpBlobClient client, ContentStore store, SourceScores scores, FetchMetrics metrics, Cid root,
             SourceResolver resolver, Path outDir, FetchOptions options, Consumer<FetchProgress> progress) {
        this.resolver = resolver;
        this.outDir = outDir;
        this.client = client;
        this.store = store;
        this.scores = scores;
        this.metrics = metrics;
        this.root = root;
        this.options = options;
        this.progress = progress;
        this.deadlineNanos = startNanos + Math.min(options.deadline().toNanos(), Long.MAX_VALUE / 4);
        this.peers = new SourcePool(scores, options.perSourceParallelism(), resolver.resolve(root));
    }

    /** Names chunks the caller verified into the store moments ago, which {@link #plan} then does not re-hash. */
    /** Counts the deadline (and the elapsed time reported) from {@code startedNanos}, a {@link System#nanoTime()} reading. */
    FetchRun countingFrom(long startedNanos) {
        this.startNanos = startedNanos;
        this.deadlineNanos = startedNanos + Math.min(options.deadline().toNanos(), Long.MAX_VALUE / 4);
        return this;
    }

    FetchRun trusting(java.util.Set<Cid> verified) {
        this.justVerified = java.util.Set.copyOf(verified);
        return this;
    }

    /** Only the manifest step: gets, checks and stores the manifest (see {@link ManifestFetch}). */
    Manifest manifestOnly() throws FetchException, InterruptedException {
        if (root.codec() != Codec.DAG_JSON) {
            throw manifestFailure(FetchException.Reason.MANIFEST, root + " is a raw block, not a snapshot manifest (dag-json)", null);
        }
        return new ManifestFetch(client, store, root, options, deadlineNanos, manifestSources()).fetch();
    }

    FetchResult run() throws FetchException, InterruptedException {
        if (root.codec() != Codec.DAG_JSON) {
            throw manifestFailure(FetchException.Reason.MANIFEST, root + " is a raw block, not a snapshot manifest (dag-json)", null);
        }
        Manifest manifest;
        try (AutoCloseable watch = resolver.watch(root, this::refreshPeers)) {
            manifest = new ManifestFetch(client, store, root, options, deadlineNanos, manifestSources()).fetch();
            try {
                plan(manifest);
                if (queue.remaining() > 0) {
                    fetchChunks();
                }
                if (assembly != null) {
                    assembly.finish();
                }
            } finally {
                if (assembly != null) {
                    assembly.close();
                }
            }
        } catch (FetchException | InterruptedException | RuntimeException e) {
            throw e;
        } catch (IOException e) {
            throw failure(FetchException.Reason.LOCAL_IO, "cannot write the snapshot's files into " + outDir + ": "
                    + describe(e), e);
        } catch (Exception e) {
            throw new IllegalStateException("closing the source watch failed", e);
        }
        FetchProgress last = snapshotProgress();
        report(last);
        return new FetchResult(root, manifest, bytesFetched, chunksFetched, chunksLocal,
                Duration.ofNanos(System.nanoTime() - startNanos), last.sources());
    }

    // ---- manifest ------------------------------------------------------------------------

    /** The fetch's sources as the manifest step sees them, each call under the lock. */
    private ManifestFetch.Sources manifestSources() {
        return new ManifestFetch.Sources() {
            @Override
            public List<Peer> ranked() {
                return locked(peers::ranked);
            }

            @Override
            public boolean fixed() {
                return resolver.isFixed();
            }

            @Override
            public boolean isEmpty() {
                return locked(peers::isEmpty);
            }

            @Override
            public int size() {
                return locked(peers::size);
            }

            @Override
            public boolean allBanned() {
                return locked(peers::allBanned);
            }

            @Override
            public void refresh() {
                refreshPeers();
            }

            @Override
            public void succeeded(Peer p, long bytes, long nanos) {
                locked(() -> {
                    peers.succeeded(p, bytes, nanos);
                    return null;
                });
            }

            @Override
            public void failed(Peer p, String why) {
                locked(() -> {
                    peers.failed(p, why);
                    return null;
                });
            }

            @Override
            public void ban(Peer p, String why) {
                locked(() -> {
                    if (!p.banned) {
                        metrics.banned(p.source, "corrupt_manifest");
                    }
                    peers.ban(p, why);
                    return null;
                });
            }

            @Override
            public List<SourceStats> stats() {
                return locked(() -> peers.stats(System.nanoTime()));
            }
        };
    }

    private <T> T locked(java.util.function.Supplier<T> f) {
        lock.lock();
        try {
            return f.get();
        } finally {
            lock.unlock();
        }
    }

    // ---- chunks --------------------------------------------------------------------------

    /**
     * Every distinct chunk becomes a task. Chunks the store already holds are re-hashed before
     * they count as done: a blob corrupted on disk after it was stored (or by anything but our
     * writer) would otherwise be skipped here and fail the write step on every later run. A
     * mismatching one is deleted and fetched like a missing one. This costs one read of what is
     * local, spread over a few threads; it is what makes trusting the store on resume safe.
     */
    private void plan(Manifest m) throws FetchException, InterruptedException {
        if (outDir != null) {
            planAssembly(m);
            return;
        }
        List<ChunkTask> present = new ArrayList<>();
        for (FileEntry f : m.files()) {
            for (int i = 0; i < f.chunks().size(); i++) {
                Cid c = f.chunks().get(i);
                if (queue.contains(c)) {
                    continue;
                }
                int length = m.chunkLength(f, i);
                ChunkTask t = queue.register(c, length);
                bytesTotal += length;
                if (justVerified.contains(c) && store.has(c)) {
                    t.done = true;
                    bytesLocal += length;
                    chunksLocal++;
                } else if (store.has(c)) {
                    present.add(t);
                } else {
                    queue.enqueue(t);
                }
            }
        }
        boolean[] intact = verifyLocal(present);
        int corrupt = 0;
        for (int k = 0; k < present.size(); k++) {
            ChunkTask t = present.get(k);
            if (intact[k]) {
                t.done = true;
                bytesLocal += t.length;
                chunksLocal++;
            } else {
                queue.enqueue(t);
                corrupt++;
            }
        }
        if (corrupt > 0) {
            log.warn("store {}: {} chunk(s) of snapshot {} no longer matched their CIDs (corrupted on disk);"
                    + " deleted, fetching them again", store.root(), corrupt, root);
        }
    }

    /**
     * With an output directory the files are assembled in place ({@link SnapshotAssembly}):
     * what is already there, an earlier run's synced or re-verified writes, older versions of the
     * files and chunks in the store are put in place first; the rest becomes tasks.
     */
    private void planAssembly(Manifest m) throws FetchException, InterruptedException {
        try {
            assembly = SnapshotAssembly.open(m, root, outDir, store,
                    new SnapshotAssembly.Options(options.syncEvery(), options.maxExpansion(), deadlineNanos));
            maxChunk = m.chunkSize();
        } catch (SnapshotAssembly.DeadlinePassed e) {
            throw failure(FetchException.Reason.DEADLINE, "deadline of " + human(options.deadline()) + " passed while "
                    + e.doing(), e);
        } catch (IOException e) {
            throw failure(FetchException.Reason.LOCAL_IO, "cannot prepare the output directory " + outDir + ": "
                    + describe(e), e);
        }
        // Counted without a map of every distinct chunk beside the assembly's and the queue's:
        // with the largest manifests those maps are most of the heap a fetch needs.
        long needBytes = 0;
        for (SnapshotAssembly.Needed n : assembly.needed()) {
            queue.enqueue(queue.register(n.cid(), n.length()));
            needBytes += n.length();
        }
        java.util.Set<Cid> seen = new java.util.HashSet<>();
        long distinctCount = 0;
        for (FileEntry f : m.files()) {
            for (int i = 0; i < f.chunks().size(); i++) {
                Cid c = f.chunks().get(i);
                if (queue.contains(c) || !seen.add(c)) {
                    continue; // to fetch (counted above), or a local chunk seen before
                }
                distinctCount++;
                bytesTotal += m.chunkLength(f, i);
            }
        }
        bytesTotal += needBytes;
        bytesLocal = bytesTotal - needBytes;
        chunksLocal = distinctCount;
    }

    /** Re-hashes the present chunks on up to one thread per core; false for each one found corrupt (now deleted). */
    private boolean[] verifyLocal(List<ChunkTask> present) throws FetchException, InterruptedException {
        boolean[] intact = new boolean[present.size()];
        if (present.isEmpty()) {
            return intact;
        }
        int threads = Math.min(present.size(), Math.max(1, Math.min(options.parallelism(),
                Runtime.getRuntime().availableProcessors())));
        AtomicInteger next = new AtomicInteger();
        List<Future<?>> verifiers = new ArrayList<>(threads);
        try (ExecutorService pool = Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("statesync-verify-" + root.toString().substring(0, 16) + "-", 0).factory())) {
            for (int i = 0; i < threads; i++) {
                verifiers.add(pool.submit(() -> {
                    for (int k; (k = next.getAndIncrement()) < present.size() && !Thread.currentThread().isInterrupted(); ) {
                        intact[k] = store.verify(present.get(k).cid);
                    }
                    return null;
                }));
            }
            try {
                for (Future<?> v : verifiers) {
                    v.get();
                }
            } catch (InterruptedException e) {
                pool.shutdownNow();
                throw e;
            } catch (ExecutionException e) {
                pool.shutdownNow();
                if (Thread.currentThread().isInterrupted()) {
                    throw new InterruptedException("fetch cancelled");
                }
                Throwable cause = e.getCause();
                if (cause instanceof RuntimeException r) {
                    throw r;
                }
                throw failure(FetchException.Reason.LOCAL_IO, "cannot read the local store " + store.root() + ": "
                        + describe(cause), cause);
            }
        }
        return intact;
    }

    private void fetchChunks() throws FetchException, InterruptedException {
        downloads = new ChunkDownload(client, store, assembly, outcomes());
        int workers = Math.min(options.parallelism(), queue.remaining());
        ExecutorService pool = Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("statesync-fetch-" + root.toString().substring(0, 16) + "-", 0).factory());
        long nextTick = System.nanoTime() + TICK_NANOS;
        try {
            for (int i = 0; i < workers; i++) {
                pool.execute(this::workerLoop);
            }
            while (true) {
                lock.lock();
                try {
                    while (queue.remaining() > 0 && failure == null) {
                        long now = System.nanoTime();
                        if (now >= deadlineNanos) {
                            failure = failure(FetchException.Reason.DEADLINE, "deadline of " + human(options.deadline())
                                    + " passed with " + queue.remaining() + " of " + queue.size() + " chunks missing", null);
                            break;
                        }
                        long wait = Math.min(deadlineNanos, nextTick) - now;
                        if (wait <= 0) {
                            break;
                        }
                        changed.awaitNanos(wait);
                    }
                    if (queue.remaining() == 0 || failure != null) {
                        break;
                    }
                } finally {
                    lock.unlock();
                }
                nextTick = System.nanoTime() + TICK_NANOS;
                refreshPeers();
                report(snapshotProgress());
            }
        } finally {
            lock.lock();
            try {
                finished = true;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
            if (assembly != null) {
                // A hedged duplicate counts a chunk done while the first copy may still be
                // writing it (or renaming the file it completed); interrupting that write would
                // leave the file short, so it ends first.
                assembly.awaitWrites();
            }
            pool.shutdownNow();
            pool.close();
        }
        if (failure != null) {
            throw failure;
        }
    }

    private void workerLoop() {
        // One body buffer and digest per worker for the whole fetch: a chunk's bytes are written
        // out before the next request, and allocating 1 GiB of arrays per GiB fetched showed up
        // as a quarter of the client's CPU samples with 64 KiB chunks.
        ChunkDownload.Buffers buffers = assembly != null
                ? new ChunkDownload.Buffers(new byte[maxChunk], Cid.newDigest()) : null;
        while (true) {
            Object work;
            try {
                work = next();
            } catch (InterruptedException e) {
                return;
            }
            if (work == null) {
                return;
            }
            long deadline = Math.min(System.nanoTime() + options.chunkDeadline().toNanos(), deadlineNanos);
            if (work instanceof Batch batch) {
                downloads.batch(batch, buffers, deadline);
            } else {
                downloads.one((Lease) work, buffers, deadline);
            }
        }
    }

    /**
     * Blocks until a chunk and a source to fetch it from are both available: a {@link Lease}, or
     * a {@link Batch} of small chunks for a source that serves {@code /blocks}; null when the
     * fetch is over.
     */
    private Object next() throws InterruptedException {
        lock.lock();
        try {
            while (true) {
                if (finished || failure != null || queue.remaining() == 0) {
                    return null;
                }
                long now = System.nanoTime();
                if (resolver.isFixed() && peers.noneUsable()) {
                    failure = failure(FetchException.Reason.SOURCES_EXHAUSTED, peers.isEmpty()
                            ? "no sources given; " + queue.remaining() + " chunks missing"
                            : "every source served corrupt data and is banned; " + queue.remaining() + " chunks missing", null);
                    changed.signalAll();
                    return null;
                }
                ChunkTask t = queue.peekDue();
                if (t != null && !peers.noneUsable() && !peers.anyEligible(t)) {
                    // Every source left served this chunk corrupt: it must not hold up the queue.
                    stranded(queue.pollDue());
                    continue;
                }
                if (t != null) {
                    Peer p = peers.pick(t, now, null);
                    if (p != null) {
                        queue.pollDue();
                        // Batches only when assembling files: into the store every chunk costs a
                        // file and an fsync anyway, and the node's saves use 1 MiB chunks.
                        if (assembly != null && p.batches != Boolean.FALSE && t.length <= BATCH_CHUNK_MAX) {
                            List<ChunkTask> more = takeBatch(t, p);
                            if (more.size() > 1) {
                                return leaseBatch(more, p, now);
                            }
                        }
                        return lease(t, p, now);
                    }
                } else {
                    Lease hedge = hedge(now);
                    if (hedge != null) {
                        return hedge;
                    }
                }
                long wake = now + TICK_NANOS;
                wake = Math.min(wake, Math.min(queue.nextRetryAt(), peers.nextBackoffEnd(now)));
                changed.awaitNanos(Math.max(1_000_000L, wake - now));
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Endgame: when nothing is queued, a chunk that has been in flight far longer than the best
     * source needs for it is requested again from another source; the first verified copy wins.
     */
    private Lease hedge(long now) {
        double best = peers.bestRate();
        for (ChunkTask t : queue.inFlight()) {
            if (t.done || t.active.size() != 1) {
                continue;
            }
            double expected = best > 0 ? t.length / best * 1e9 : 0;
            long after = Math.max(MIN_HEDGE_NANOS, (long) (HEDGE_FACTOR * expected));
            if (now - t.startedAt < after) {
                continue;
            }
            Peer p = peers.pick(t, now, t.active.get(0));
            if (p != null) {
                return lease(t, p, now);
            }
        }
        return null;
    }

    /** {@code first} and the ready chunks after it that {@code p} may serve, up to a batch's size. Caller holds the lock. */
    private List<ChunkTask> takeBatch(ChunkTask first, Peer p) {
        List<ChunkTask> out = new ArrayList<>();
        out.add(first);
        if (p.suspect()) {
            return out; // a last resort is asked one chunk at a time
        }
        out.addAll(queue.takeDue(t -> t.length <= BATCH_CHUNK_MAX && !t.failedAt.contains(p)
                && !t.corruptAt.contains(p), BATCH_MAX_CHUNKS - 1, BATCH_TARGET_BYTES, first.length));
        return out;
    }

    private Batch leaseBatch(List<ChunkTask> tasks, Peer p, long now) {
        for (ChunkTask t : tasks) {
            queue.started(t);
            t.active.add(p);
        }
        p.inflight++;
        return new Batch(tasks, p);
    }

    private Lease lease(ChunkTask t, Peer p, long now) {
        queue.started(t);
        t.active.add(p);
        p.inflight++;
        return new Lease(t, p);
    }

    /** What the downloads report lands here: the fetch's bookkeeping, under its lock. */
    private ChunkDownload.Outcomes outcomes() {
        return new ChunkDownload.Outcomes() {
            @Override
            public void done(Lease lease, long nanos) {
                chunkDone(lease, nanos);
            }

            @Override
            public void corrupt(Lease lease, String why) {
                chunkCorrupt(lease, why);
            }

            @Override
            public void failed(Lease lease, String why) {
                chunkFailed(lease, why);
            }

            @Override
            public void superseded(Lease lease) {
                chunkSuperseded(lease);
            }

            @Override
            public void localWriteFailed(Lease lease, IOException cause) {
                fatal(lease, failure(FetchException.Reason.LOCAL_IO, (assembly != null ? "cannot write into " + outDir
                        : "cannot write to the local store " + store.root()) + ": " + describe(cause), cause));
            }

            @Override
            public void interrupted(Lease lease) {
                release(lease);
            }

            @Override
            public void batchEnded(Batch batch, boolean[] settled, ChunkDownload.BatchEnd how, String why) {
                FetchRun.this.batchEnded(batch, settled, how, why);
            }
        };
    }

    /**
     * A batch request ended: the chunks no block settled go back to the queue unpenalized when
     * the source serves no batches (it is asked one chunk per request from now on) or the fetch
     * is being cancelled, else they failed at the source.
     */
    private void batchEnded(Batch batch, boolean[] settled, ChunkDownload.BatchEnd how, String why) {
        Peer p = batch.peer();
        List<ChunkTask> tasks = batch.tasks();
        boolean putBack = how == ChunkDownload.BatchEnd.NO_BATCH || how == ChunkDownload.BatchEnd.INTERRUPTED;
        lock.lock();
        try {
            // Backwards, so chunks put back at the queue's front keep their order.
            for (int i = tasks.size() - 1; i >= 0; i--) {
                if (settled[i]) {
                    continue;
                }
                ChunkTask t = tasks.get(i);
                if (putBack) {
                    release(new Lease(t, p, false));
                    if (t.active.isEmpty()) {
                        queue.retryNow(t);
                    }
                } else {
                    chunkFailed(new Lease(t, p, false), why);
                }
            }
            if (how == ChunkDownload.BatchEnd.SERVED) {
                p.batches = true;
            } else if (how == ChunkDownload.BatchEnd.NO_BATCH) {
                p.batches = false;
            }
            p.inflight--;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void chunkDone(Lease lease, long nanos) {
        ChunkTask t = lease.task();
        Peer p = lease.peer();
        scores.recordSuccess(p.source, t.length, nanos);
        metrics.chunk(p.source, "ok", t.length);
        metrics.chunkLatency(p.source, nanos);
        lock.lock();
        try {
            release(lease);
            p.consecutiveFailures = 0;
            p.bytes += t.length;
            p.chunks++;
            if (queue.done(t)) {
                bytesFetched += t.length;
                chunksFetched++;
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void chunkCorrupt(Lease lease, String why) {
        Peer p = lease.peer();
        metrics.chunk(p.source, "corrupt", 0);
        lock.lock();
        try {
            release(lease);
            if (peers.corrupt(p, lease.task(), why)) {
                metrics.banned(p.source, "corrupt_chunks");
            }
            retryOrFail(lease.task(), p, why);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void chunkFailed(Lease lease, String why) {
        Peer p = lease.peer();
        metrics.chunk(p.source, "failed", 0);
        lock.lock();
        try {
            release(lease);
            peers.failed(p, why);
            p.backoffUntil = System.nanoTime() + Math.min(retryWaitNanos(p.consecutiveFailures), Long.MAX_VALUE / 4);
            retryOrFail(lease.task(), p, why);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void chunkSuperseded(Lease lease) {
        metrics.chunk(lease.peer().source, "superseded", 0);
        lock.lock();
        try {
            release(lease);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void fatal(Lease lease, FetchException e) {
        lock.lock();
        try {
            release(lease);
            if (failure == null) {
                failure = e;
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Ends a request's hold on its source and chunk. Caller holds the lock (or it is taken here). */
    private void release(Lease lease) {
        lock.lock();
        try {
            if (lease.endsRequest()) {
                lease.peer().inflight--;
            }
            lease.task().active.remove(lease.peer());
            if (lease.task().active.isEmpty()) {
                queue.stopped(lease.task());
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * After a failed request: the chunk goes at once to a usable source it has not failed at in
     * this pass; when every usable source has failed it, the pass counts as one try and the
     * chunk waits its retry wait (doubling per try) before the next pass. After
     * {@code maxTries} passes the fetch gives up. Caller holds the lock.
     */
    private void retryOrFail(ChunkTask t, Peer failedAt, String why) {
        if (t.done) {
            return;
        }
        t.failedAt.add(failedAt);
        t.lastError = failedAt.source + ": " + why;
        if (!t.active.isEmpty()) {
            return; // A hedged copy is still in flight.
        }
        if (peers.anyFreshFor(t)) {
            queue.retryNow(t);
            return;
        }
        t.attempts++;
        if (t.attempts >= options.maxTries()) {
            if (failure == null) {
                failure = failure(FetchException.Reason.SOURCES_EXHAUSTED, "chunk " + t.cid + " failed " + t.attempts
                        + " tries (last: " + t.lastError + "); " + queue.remaining() + " chunks missing", null);
            }
            return;
        }
        t.failedAt.clear();
        queue.retryAt(t, queue.now() + retryWaitNanos(t.attempts));
    }

    /**
     * A chunk every usable source has served corrupt. With a fixed set of sources nothing can
     * bring an intact copy, so the fetch fails now; otherwise the chunk waits for new sources as
     * a failed pass would. Caller holds the lock.
     */
    private void stranded(ChunkTask t) {
        t.attempts++;
        if (resolver.isFixed() || t.attempts >= options.maxTries()) {
            if (failure == null) {
                failure = failure(FetchException.Reason.SOURCES_EXHAUSTED, "chunk " + t.cid + ": every source that "
                        + "served it served corrupt bytes (last: " + t.lastError + "); " + queue.remaining()
                        + " chunks missing", null);
                changed.signalAll();
            }
            return;
        }
        t.failedAt.clear();
        queue.retryAt(t, queue.now() + retryWaitNanos(t.attempts));
    }

    private long retryWaitNanos(int failures) {
        return retryWaitNanos(options.retryWait(), failures);
    }

    /** {@code retryWait × 2^(failures-1)}, capped far from overflow. */
    static long retryWaitNanos(Duration retryWait, int failures) {
        long base = retryWait.toNanos();
        int shift = Math.min(20, Math.max(0, failures - 1));
        long wait = base << shift;
        return wait < 0 || wait > Long.MAX_VALUE / 4 ? Long.MAX_VALUE / 4 : wait;
    }

    // ---- sources, progress, failures -------------------------------------------------------

    /** Asks the resolver again: new sources join the fetch, vanished ones get no new requests. */
    private void refreshPeers() {
        if (resolver.isFixed()) {
            return;
        }
        List<Source> now;
        try {
            now = resolver.resolve(root);
        } catch (RuntimeException e) {
            return; // A failing resolver leaves the current sources in place.
        }
        lock.lock();
        try {
            peers.update(now);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private FetchProgress snapshotProgress() {
        lock.lock();
        try {
            long now = System.nanoTime();
            long done = bytesLocal + bytesFetched;
            double bps = rate.sample(now, bytesFetched);
            Duration eta = bps > 0 ? Duration.ofMillis((long) ((bytesTotal - done) / bps * 1000)) : null;
            return new FetchProgress(done, bytesTotal, chunksLocal + chunksFetched, queue.size(), bps, eta,
                    Duration.ofNanos(now - startNanos), stats(now));
        } finally {
            lock.unlock();
        }
    }

    private List<SourceStats> stats(long now) {
        return peers.stats(now);
    }

    private void report(FetchProgress p) {
        if (progress != null) {
            progress.accept(p);
        }
    }

    private List<Cid> missing() {
        lock.lock();
        try {
            return queue.missing();
        } finally {
            lock.unlock();
        }
    }

    private FetchException failure(FetchException.Reason reason, String message, Throwable cause) {
        return new FetchException(reason, message, missing(), stats(System.nanoTime()), cause);
    }

    /** A failure before the manifest is in hand: the root itself is what is missing. */
    private FetchException manifestFailure(FetchException.Reason reason, String message, Throwable cause) {
        lock.lock();
        try {
            return new FetchException(reason, message, List.of(root), stats(System.nanoTime()), cause);
        } finally {
            lock.unlock();
        }
    }

    static String describe(Throwable e) {
        if (e instanceof SocketTimeoutException) {
            return "timed out (stalled or too slow for the chunk deadline)";
        }
        if (e instanceof java.net.ConnectException) {
            return "connection refused";
        }
        String m = e.getMessage();
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    }

    static String human(Duration d) {
        long ms = d.toMillis();
        if (ms % 3_600_000 == 0 && ms > 0) {
            return ms / 3_600_000 + "h";
        }
        if (ms % 60_000 == 0 && ms > 0) {
            return ms / 60_000 + "m";
        }
        if (ms % 1000 == 0) {
            return ms / 1000 + "s";
        }
        return ms + "ms";
    }

    Cid root() {
        return root;
    }

    long elapsedNanos() {
        return System.nanoTime() - startNanos;
    }

    /** Recent rate over a sliding window of progress samples. */
    private static final class RateWindow {
        private static final long WINDOW = 5_000_000_000L;
        private final ArrayDeque<long[]> samples = new ArrayDeque<>();

        double sample(long now, long bytes) {
            samples.addLast(new long[] {now, bytes});
            while (samples.size() > 2 && now - samples.peekFirst()[0] > WINDOW) {
                samples.pollFirst();
            }
            long[] first = samples.peekFirst();
            long dt = now - first[0];
            return dt <= 0 ? 0 : (bytes - first[1]) / (dt / 1e9);
        }
    }
}
