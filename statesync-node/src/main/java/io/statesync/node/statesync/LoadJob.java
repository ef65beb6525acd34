package io.statesync.node.statesync;

import io.statesync.core.concurrent.Uninterruptibly;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.snapshot.Manifest;
import io.statesync.core.store.ContentStore;
import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.statesync.StateRepository.Decision;
import io.statesync.transfer.fetch.FetchException;
import io.statesync.transfer.fetch.FetchProgress;
import io.statesync.transfer.fetch.FetchResult;
import io.statesync.transfer.fetch.Source;
import io.statesync.transfer.fetch.SourceStats;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One claimed task, run on the loader's worker thread, in two phases:
 * <ol>
 *   <li>Fetch: every thread of the address at once, each on its own virtual thread named
 *       {@code statesync-load-<thread>}: locate the snapshot (pointers on static storages, peers),
 *       get and check its manifest, decide, fetch its chunks. The first thread to fail cancels
 *       the others (interrupting their transfers) and the task fails.</li>
 *   <li>Install: only when every thread's state is fetched, in two steps (see
 *       {@link StateRepository#stage}): every thread is staged (rebuilt and verified, not in use),
 *       in address order, and only when all are staged is each committed. Nothing is installed for
 *       a task whose fetch or any staging failed; a repository that cannot stage installs on
 *       commit, where a failure stops the rest (threads installed before it stay installed, each
 *       one atomically).</li>
 * </ol>
 * Repository calls never overlap (one lock).
 */
final class LoadJob {
    /** What the loader lends every job. */
    record Shared(LoaderConfig config, PeerSources peers, SmallGets http, Fetchers fetchers, LoaderMetrics metrics,
                  SyncTimeline timeline, JoinPrefetch prefetch) {
        void mark(SyncTimeline.Phase phase) {
            if (timeline != null) {
                timeline.mark(phase);
            }
        }
    }

    /** Gives the fetcher of a store; the loader keeps one per store. */
    interface Fetchers {
        io.statesync.transfer.fetch.SnapshotFetcher of(ContentStore store);
    }

    /** The state of one thread, fetched and ready to install, or judged covered. */
    private record Fetched(ThreadId thread, BlockId block, Cid manifest, FetchResult result, String skipped) {
    }

    /** A thread's fetch that cannot succeed; the message is the task's failure reason. */
    private static final class LoadFailure extends Exception {
        LoadFailure(String message) {
            super(message, null, false, false);
        }
    }

    /** One candidate snapshot of a thread: a manifest CID, who said so, and where to fetch it. */
    private record Option(Cid manifest, List<String> origins, Set<Source> sources) {
    }

    /** Notes kept per thread for a failure message; more are dropped. */
    private static final int MAX_NOTES = 6;
    /**
     * The longest a load waits for a head start fetching its very snapshot: that fetch does the
     * load's work, but one that stalls must not hold the load, which has the group's sources too.
     */
    private static final Duration PREFETCH_WAIT = Duration.ofMinutes(2);

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    private final StateLoader.Task task;
    private final boolean pruneNow;
    private final Shared shared;
    private final long startNanos = System.nanoTime();
    private final long deadlineNanos;
    /** Serializes repository calls made from the fetch threads and the worker. */
    private final ReentrantLock repositoryLock = new ReentrantLock();
    /** Latest progress of each thread's chunk fetch. */
    private final Map<ThreadId, FetchProgress> progress = new ConcurrentHashMap<>();
    /** Counted down when run() has returned and the repository is no longer touched. */
    private final CountDownLatch done = new CountDownLatch(1);
    /** Guarded by this. */
    private boolean cancelled;
    /** The fetch-phase tasks, guarded by this; cancelled with interrupts on cancel(). */
    private final List<FutureTask<Fetched>> fetches = new ArrayList<>();

    LoadJob(StateLoader.Task task, boolean pruneNow, Shared shared) {
        this.task = task;
        this.pruneNow = pruneNow;
        this.shared = shared;
        this.deadlineNanos = startNanos + Math.min(shared.config().deadline().toNanos(), Long.MAX_VALUE / 4);
    }

    StateLoader.Task task() {
        return task;
    }

    /** Stops the job: fetches in flight are interrupted; no install starts after this. */
    void cancel() {
        List<FutureTask<Fetched>> running;
        synchronized (this) {
            cancelled = true;
            running = List.copyOf(fetches);
        }
        for (FutureTask<Fetched> f : running) {
            f.cancel(true);
        }
    }

    synchronized boolean isCancelled() {
        return cancelled;
    }

    void markDone() {
        done.countDown();
    }

    /** Waits until the job no longer touches the repository. */
    void awaitDone() {
        Uninterruptibly.await(done);
    }

    Duration elapsed() {
        return Duration.ofNanos(System.nanoTime() - startNanos);
    }

    LoadProgress progress() {
        long doneBytes = 0;
        long total = 0;
        double rate = 0;
        Set<Source> sources = new LinkedHashSet<>();
        for (FetchProgress p : progress.values()) {
            doneBytes += p.bytesDone();
            total += p.bytesTotal();
            rate += p.bytesPerSecond();
            for (SourceStats s : p.sources()) {
                sources.add(s.source());
            }
        }
        return new LoadProgress(task.address(), task.anchor(), doneBytes, total, rate, List.copyOf(sources), elapsed());
    }

    /** Runs the task to its result. Never called twice. */
    LoadResult run() {
        var address = task.address();
        var anchor = task.anchor();
        if (isCancelled()) {
            return new LoadResult.Cancelled(address, anchor);
        }
        BlockId anchorBlock = address.get(anchor.thread());
        Decision decision = withRepository(() -> task.repository().decide(anchor.thread(), anchorBlock, anchor.height()));
        switch (decision) {
            case Decision.AlreadyCovered c -> {
                return new LoadResult.Skipped(address, anchor, "decision=" + c);
            }
            case Decision.TooClose c -> {
                return new LoadResult.Skipped(address, anchor, "decision=" + c);
            }
            case Decision.Invalidated i -> {
                return new LoadResult.Failed(address, anchor, "block " + anchorBlock.hex() + " of thread "
                        + anchor.thread().name() + " is not on the agreed chain (decision=" + i + ")");
            }
            case Decision.ImportNeeded n -> {
                // go on
            }
        }
        if (pruneNow) {
            withRepository(() -> {
                task.repository().pruneBelow(anchor.thread(), anchor.height());
                return null;
            });
        }

        // From the first fetch to the last install, chunks counted as present stay present.
        List<StateRepository.Hold> holds = new ArrayList<>();
        try {
            for (ThreadId t : address.keySet()) {
                try {
                    holds.add(withRepository(() -> task.repository().hold(t)));
                } catch (RuntimeException e) {
                    // A thread the repository does not have: its fetch fails below, with the reason.
                }
            }
            return fetchAndInstall(address, anchor);
        } finally {
            holds.forEach(StateRepository.Hold::close);
        }
    }

    private LoadResult fetchAndInstall(SortedMap<ThreadId, BlockId> address, Anchor anchor) {
        Map<ThreadId, Fetched> fetched = new LinkedHashMap<>();
        String failure = fetchAll(fetched);
        if (isCancelled()) {
            return new LoadResult.Cancelled(address, anchor);
        }
        if (failure != null) {
            return new LoadResult.Failed(address, anchor, failure);
        }
        shared.mark(SyncTimeline.Phase.FETCHED);

        List<String> skipped = new ArrayList<>();
        Set<Source> used = new LinkedHashSet<>();
        Map<Source, Long> bySource = new java.util.HashMap<>();
        long bytes = 0;
        List<Fetched> toInstall = new ArrayList<>();
        for (Map.Entry<ThreadId, BlockId> e : address.entrySet()) {
            Fetched f = fetched.get(e.getKey());
            if (f.skipped() != null) {
                skipped.add(f.skipped());
                continue;
            }
            bytes += f.result().bytesFetched();
            for (SourceStats s : f.result().sources()) {
                if (s.bytes() > 0) {
                    used.add(s.source());
                    bySource.merge(s.source(), s.bytes(), Long::sum);
                }
            }
            toInstall.add(f);
        }
        String failed = install(toInstall);
        if (failed != null) {
            return failed.isEmpty() ? new LoadResult.Cancelled(address, anchor)
                    : new LoadResult.Failed(address, anchor, failed);
        }
        if (!toInstall.isEmpty()) {
            shared.mark(SyncTimeline.Phase.INSTALLED);
        }
        if (pruneNow) {
            withRepository(() -> {
                task.repository().pruneBelow(anchor.thread(), anchor.height());
                return null;
            });
        }
        return new LoadResult.Loaded(address, anchor, List.copyOf(used), bytes, elapsed(), skipped, bySource);
    }

    /**
     * Installs the fetched threads, all or none: stages every one (in address order), and only if
     * all staged commits them. Returns null when done, "" when cancelled before any commit, else
     * the one-line failure.
     */
    private String install(List<Fetched> threads) {
        List<StateRepository.Staged> staged = new ArrayList<>();
        repositoryLock.lock();
        try {
            for (Fetched f : threads) {
                if (isCancelled()) {
                    staged.forEach(StateRepository.Staged::discard);
                    return "";
                }
                try {
                    staged.add(task.repository().stage(f.thread(), f.block(), f.manifest()));
                } catch (IOException | RuntimeException ex) {
                    staged.forEach(StateRepository.Staged::discard);
                    return "install of block " + f.block().hex() + " of thread " + f.thread().name()
                            + " failed, no thread of the task was installed: " + why(ex);
                }
            }
            if (isCancelled()) {
                staged.forEach(StateRepository.Staged::discard);
                return "";
            }
            // From here on the task is not cancelled half-way: committing is quick and a commit
            // failure is the only way a thread is left installed without the others.
            List<String> installed = new ArrayList<>();
            for (int i = 0; i < threads.size(); i++) {
                Fetched f = threads.get(i);
                try {
                    staged.get(i).commit();
                    installed.add(f.thread().name());
                } catch (IOException | RuntimeException ex) {
                    staged.subList(i + 1, staged.size()).forEach(StateRepository.Staged::discard);
                    return "install of block " + f.block().hex() + " of thread " + f.thread().name()
                            + " failed, its old state is kept: " + why(ex)
                            + (installed.isEmpty() ? "" : " (already installed: " + String.join(", ", installed) + ")");
                }
            }
            return null;
        } finally {
            repositoryLock.unlock();
        }
    }

    private static String why(Throwable t) {
        return t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
    }

    /** Fetches every thread at once; returns the first failure, or null. Returns after every fetch thread ended. */
    private String fetchAll(Map<ThreadId, Fetched> out) {
        BlockingQueue<FutureTask<Fetched>> finished = new LinkedBlockingQueue<>();
        List<Thread> threads = new ArrayList<>();
        List<FutureTask<Fetched>> mine = new ArrayList<>();
        synchronized (this) {
            if (cancelled) {
                return null;
            }
            for (Map.Entry<ThreadId, BlockId> e : task.address().entrySet()) {
                ThreadId t = e.getKey();
                BlockId b = e.getValue();
                FutureTask<Fetched> f = new FutureTask<>(() -> fetchThread(t, b)) {
                    @Override
                    protected void done() {
                        finished.add(this);
                    }
                };
                fetches.add(f);
                mine.add(f);
                threads.add(Thread.ofVirtual().name("statesync-load-" + t.name()).start(f));
            }
        }
        String failure = null;
        try {
            for (int left = mine.size(); left > 0; left--) {
                FutureTask<Fetched> f = finished.take();
                try {
                    Fetched r = f.get();
                    out.put(r.thread(), r);
                } catch (CancellationException e) {
                    // cancel() did it, or a sibling failed first
                } catch (ExecutionException e) {
                    if (failure == null) {
                        failure = describe(e.getCause());
                        for (FutureTask<Fetched> other : mine) {
                            other.cancel(true);
                        }
                    }
                }
            }
        } catch (InterruptedException e) {
            // Someone interrupted the worker itself: treat it as a cancel.
            cancel();
            Thread.currentThread().interrupt();
        } finally {
            for (Thread t : threads) {
                Uninterruptibly.join(t);
            }
        }
        return failure;
    }

    private static String describe(Throwable t) {
        if (t instanceof LoadFailure f) {
            return f.getMessage();
        }
        String why = t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
        return "internal error: " + t.getClass().getSimpleName() + ": " + why;
    }

    /** Locates, checks and fetches one thread's state. Runs on a fetch thread. */
    private Fetched fetchThread(ThreadId thread, BlockId block) throws LoadFailure, InterruptedException {
        LoaderConfig config = shared.config();
        boolean isAnchor = thread.equals(task.anchor().thread());
        String what = "block " + block.hex() + " of thread " + thread.name();
        ContentStore store = withRepository(() -> task.repository().store(thread));
        Set<String> notes = new LinkedHashSet<>();
        Set<Cid> rejected = new LinkedHashSet<>();
        for (int attempt = 1; attempt <= config.maxTries(); attempt++) {
            checkDeadline("locating " + what, notes);
            List<Option> options = locate(thread, block, notes);
            if (options.isEmpty() && config.staticStorages().isEmpty()) {
                throw new LoadFailure("no source holds " + what + ": no static storage is configured and no peer advertises it"
                        + notesSuffix(notes));
            }
            for (Option o : options) {
                if (rejected.contains(o.manifest())) {
                    continue;
                }
                Optional<Manifest> m = manifest(store, o, notes);
                if (m.isEmpty()) {
                    continue;
                }
                String mismatch = mismatch(m.get(), thread, block);
                if (mismatch != null) {
                    rejected.add(o.manifest());
                    note(notes, String.join(", ", o.origins()) + ": rejected, " + mismatch);
                    continue;
                }
                if (!isAnchor) {
                    String h = m.get().metadata().get("height");
                    long height;
                    try {
                        height = Long.parseLong(h);
                    } catch (NumberFormatException | NullPointerException e) {
                        rejected.add(o.manifest());
                        note(notes, String.join(", ", o.origins()) + ": rejected, manifest " + o.manifest()
                                + " has no valid height (" + h + ")");
                        continue;
                    }
                    Decision d = withRepository(() -> task.repository().decide(thread, block, height));
                    if (d instanceof Decision.Invalidated) {
                        throw new LoadFailure(what + " is not on the agreed chain (decision=" + d + ")");
                    }
                    if (!(d instanceof Decision.ImportNeeded)) {
                        return new Fetched(thread, block, o.manifest(), null, thread.name() + ": decision=" + d);
                    }
                }
                Set<Cid> lent = shared.prefetch() == null ? Set.of()
                        : shared.prefetch().lend(thread, o.manifest(), m.get(), store, min(remaining(), PREFETCH_WAIT));
                return new Fetched(thread, block, o.manifest(), fetchChunks(store, o, thread, what, lent), null);
            }
            if (attempt < config.maxTries()) {
                sleepBounded(config.retryWait());
            }
        }
        checkDeadline("locating " + what, notes);
        throw new LoadFailure("no source holds " + what + " after " + config.maxTries()
                + (config.maxTries() == 1 ? " try" : " tries") + notesSuffix(notes));
    }

    /** Fetches the option's chunks into the store; {@code justVerified}: chunks lent by the head start, not re-hashed. */
    private FetchResult fetchChunks(ContentStore store, Option o, ThreadId thread, String what, Set<Cid> justVerified)
            throws LoadFailure, InterruptedException {
        Duration left = remaining();
        if (left.isZero()) {
            throw new LoadFailure("deadline of " + human(shared.config().deadline()) + " passed before fetching " + what);
        }
        shared.mark(SyncTimeline.Phase.FIRST_CHUNK);
        try {
            FetchResult r = shared.fetchers().of(store).fetch(o.manifest(), List.copyOf(o.sources()),
                    shared.config().fetchOptions(left), p -> progress.put(thread, p), justVerified);
            shared.metrics().fetched(r.bytesFetched());
            return r;
        } catch (FetchException e) {
            throw new LoadFailure("fetching " + what + " (snapshot " + o.manifest() + ") failed: " + e.getMessage());
        }
    }

    /** Every candidate snapshot of the block: pointers on static storages first, then peers. */
    private List<Option> locate(ThreadId thread, BlockId block, Set<String> notes) throws InterruptedException {
        LoaderConfig config = shared.config();
        Set<Source> statics = new LinkedHashSet<>();
        for (URI base : config.staticStorages()) {
            statics.add(new Source(base));
        }
        Map<Cid, Option> byCid = new LinkedHashMap<>();
        for (URI base : config.staticStorages()) {
            try {
                Cid cid = Pointers.resolve(shared.http(), base, thread, block, requestTimeout());
                option(byCid, cid, statics).origins().add("pointer on " + base);
            } catch (SmallGets.NotFound e) {
                note(notes, base + ": no pointer to block " + block.hex() + " (404)");
            } catch (IOException e) {
                note(notes, e.getMessage());
            }
        }
        List<PeerSources.Located> located;
        try {
            located = shared.peers().locate(thread, block);
        } catch (RuntimeException e) {
            note(notes, "peer lookup failed: " + e);
            located = List.of();
        }
        for (PeerSources.Located l : located) {
            Option o = option(byCid, l.manifest(), statics);
            o.sources().addAll(l.sources());
            o.origins().add("peers " + l.sources());
        }
        return List.copyOf(byCid.values());
    }

    private static Option option(Map<Cid, Option> byCid, Cid cid, Set<Source> statics) {
        return byCid.computeIfAbsent(cid, c -> new Option(c, new ArrayList<>(), new LinkedHashSet<>(statics)));
    }

    /**
     * The manifest of the option, from the store or its sources, verified against its CID (the
     * root block and, for a manifest over 1 MiB, its parts; see {@code ManifestFetch}), and kept
     * in the store; empty if none gave it.
     */
    private Optional<Manifest> manifest(ContentStore store, Option o, Set<String> notes) throws InterruptedException {
        Cid cid = o.manifest();
        if (cid.codec() != Codec.DAG_JSON) {
            note(notes, String.join(", ", o.origins()) + ": " + cid + " is not a manifest CID (dag-json)");
            return Optional.empty();
        }
        Duration left = remaining();
        if (left.isZero()) {
            note(notes, "deadline passed before manifest " + cid);
            return Optional.empty();
        }
        try {
            return Optional.of(shared.fetchers().of(store).fetchManifest(cid, List.copyOf(o.sources()),
                    shared.config().fetchOptions(left)));
        } catch (FetchException e) {
            note(notes, "manifest " + cid + " from " + String.join(", ", o.origins()) + ": " + e.getMessage());
            return Optional.empty();
        }
    }

    /** Why the manifest is not the state of {@code block} of {@code thread}, or null if it is. */
    private static String mismatch(Manifest m, ThreadId thread, BlockId block) {
        String t = m.metadata().get("thread");
        String b = m.metadata().get("block");
        if (t == null || b == null) {
            return "its manifest has no thread or block metadata";
        }
        if (!t.equals(thread.name()) || !b.equalsIgnoreCase(block.hex())) {
            return "its manifest is of thread=" + t + " block=" + b + ", not block " + block.hex() + " of thread "
                    + thread.name();
        }
        return null;
    }

    private Duration requestTimeout() {
        Duration left = remaining();
        Duration chunk = shared.config().fetch().chunkDeadline();
        return left.compareTo(chunk) < 0 ? left : chunk;
    }

    private Duration remaining() {
        long left = deadlineNanos - System.nanoTime();
        return left <= 0 ? Duration.ZERO : Duration.ofNanos(left);
    }

    private void checkDeadline(String doing, Set<String> notes) throws LoadFailure {
        if (remaining().isZero()) {
            throw new LoadFailure("deadline of " + human(shared.config().deadline()) + " passed while " + doing
                    + notesSuffix(notes));
        }
    }

    private void sleepBounded(Duration d) throws InterruptedException {
        Duration left = remaining();
        Thread.sleep(d.compareTo(left) < 0 ? d : left);
    }

    private static void note(Set<String> notes, String note) {
        if (notes.size() < MAX_NOTES || notes.contains(note)) {
            notes.add(note);
        }
    }

    private static String notesSuffix(Set<String> notes) {
        return notes.isEmpty() ? "" : " (" + String.join("; ", notes) + ")";
    }

    static String human(Duration d) {
        if (d.toMillis() < 1000) {
            return d.toMillis() + " ms";
        }
        if (d.toSeconds() < 120) {
            long ms = d.toMillis();
            return ms % 1000 == 0 ? d.toSeconds() + " s" : String.format(java.util.Locale.ROOT, "%.1f s", ms / 1000.0);
        }
        return d.toMinutes() + " min";
    }

    private interface RepositoryCall<T> {
        T call();
    }

    private <T> T withRepository(RepositoryCall<T> call) {
        repositoryLock.lock();
        try {
            return call.call();
        } finally {
            repositoryLock.unlock();
        }
    }
}
