package io.statesync.node.statesync;

import io.statesync.core.concurrent.Uninterruptibly;
import io.micrometer.core.instrument.MeterRegistry;
import io.statesync.core.store.ContentStore;
import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.ThreadId;
import io.statesync.transfer.fetch.SnapshotFetcher;
import io.statesync.transfer.fetch.SourceScores;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.WeakHashMap;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The load side of the node's state-sync service: a bounded queue of load tasks (the seed's
 * candidate queue) and one worker, the virtual thread {@code statesync-state-loader}, that runs
 * them one at a time, newest first. The worker starts on the first task and ends when nothing
 * is queued; the next task starts it again.
 *
 * <p>A task loads one state per thread of its address, fetched from the configured static
 * storages (via pointer files, see {@link Pointers}) and the peers {@link PeerSources} names,
 * verified chunk by chunk, checked against the requested block and installed through the
 * task's {@link StateRepository}. Its result goes into its own {@link LoadOutput}.
 */
public final class StateLoader implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StateLoader.class);
    static final String WORKER_NAME = "statesync-state-loader";
    private final String workerName;

    /** One queued load. */
    record Task(SortedMap<ThreadId, BlockId> address, Anchor anchor, StateRepository repository, LoadOutput output) {
    }

    private final LoaderConfig config;
    private final LoadJob.Shared shared;
    private final LoaderMetrics metrics;
    private final SmallGets http;
    private final SourceScores scores = new SourceScores();
    private final MeterRegistry registry;
    private final CandidateQueue<Task> queue;

    private final ReentrantLock lock = new ReentrantLock();
    /** The worker while it runs; null when none does. Guarded by lock. */
    private Thread worker;
    /** The running job, or null. Guarded by lock. */
    private LoadJob current;
    /** Guarded by lock. */
    private boolean closed;
    /** Outputs whose close we listen to, weakly: the receiver owns them. Guarded by lock. */
    private final Set<LoadOutput> watched = Collections.newSetFromMap(new WeakHashMap<>());
    /** One fetcher per store root, so its connections and scores are reused. Guarded by itself. */
    private final Map<Path, SnapshotFetcher> fetchers = new HashMap<>();

    public StateLoader(LoaderConfig config, PeerSources peers, MeterRegistry registry) {
        this(config, peers, registry, "state", System::nanoTime, null, null);
    }

    /**
     * A loader with a name, for a node that runs one per thread: its meters carry the tag
     * {@code loader=<name>} and its worker is {@code statesync-state-loader-<name>}.
     */
    public StateLoader(LoaderConfig config, PeerSources peers, MeterRegistry registry, String name) {
        this(config, peers, registry, name, System::nanoTime, null, null);
    }

    /**
     * A named loader that marks its loads' phases on the node's {@code timeline} and takes the
     * chunks a new node's head start holds ({@code prefetch}, or null).
     */
    public StateLoader(LoaderConfig config, PeerSources peers, MeterRegistry registry, String name,
                       SyncTimeline timeline, JoinPrefetch prefetch) {
        this(config, peers, registry, name, System::nanoTime, timeline, prefetch);
    }

    /** With an injected monotonic clock for the failed-candidate back-off (tests). */
    StateLoader(LoaderConfig config, PeerSources peers, MeterRegistry registry, java.util.function.LongSupplier nanoClock) {
        this(config, peers, registry, "state", nanoClock, null, null);
    }

    private StateLoader(LoaderConfig config, PeerSources peers, MeterRegistry registry, String name,
                        java.util.function.LongSupplier nanoClock, SyncTimeline timeline, JoinPrefetch prefetch) {
        this.workerName = name.equals("state") ? WORKER_NAME : WORKER_NAME + "-" + name;
        this.config = Objects.requireNonNull(config, "config");
        this.http = new SmallGets(config.tls());
        this.registry = Objects.requireNonNull(registry, "registry");
        this.queue = new CandidateQueue<>(config.pendingCapacity(), config.failedBackoff(), nanoClock);
        this.metrics = new LoaderMetrics(registry, queue::pendingSize, name);
        this.shared = new LoadJob.Shared(config, Objects.requireNonNull(peers, "peers"), http, this::fetcherOf, metrics,
                timeline, prefetch);
    }

    /**
     * Queues a load of {@code address} (one block per thread) anchored at {@code anchor}, whose
     * thread must be in the address. Returns what the queue did; only a {@link PushResult#PUSHED}
     * task ever reports into {@code output}, exactly once.
     */
    public PushResult addLoadStateTask(SortedMap<ThreadId, BlockId> address, Anchor anchor,
                                       StateRepository repository, LoadOutput output) {
        Objects.requireNonNull(repository, "repository");
        Objects.requireNonNull(output, "output");
        if (address.isEmpty()) {
            throw new IllegalArgumentException("a load task needs at least one thread");
        }
        if (!address.containsKey(anchor.thread())) {
            throw new IllegalArgumentException("anchor thread " + anchor.thread().name() + " is not in the address "
                    + Addresses.describe(address));
        }
        Task task = new Task(Addresses.copy(address), anchor, repository, output);
        lock.lock();
        try {
            if (closed || output.isClosed()) {
                return PushResult.CLOSED;
            }
            PushResult r = queue.push(task.address(), anchor, task);
            if (r == PushResult.PUSHED) {
                if (watched.add(output) && !output.onClose(() -> dropOutput(output))) {
                    // Closed in between: the listener will not run, so drop it here.
                    queue.removePendingIf(t -> t.output() == output);
                    return PushResult.CLOSED;
                }
                if (worker == null) {
                    worker = Thread.ofVirtual().name(workerName).unstarted(this::work);
                    worker.start();
                }
            }
            log.debug("load task {} at {}: {}", Addresses.describe(address), anchor, r);
            return r;
        } finally {
            lock.unlock();
        }
    }

    /** Progress of the running load, if one runs. */
    public Optional<LoadProgress> progress() {
        lock.lock();
        try {
            return current == null ? Optional.empty() : Optional.of(current.progress());
        } finally {
            lock.unlock();
        }
    }

    /** Tasks queued and not yet started. */
    public int pendingTasks() {
        return queue.pendingSize();
    }

    /**
     * Cancels the running load (its transfers are interrupted) and drops every queued task; each
     * gets {@link LoadResult.Cancelled} in its output. Returns once the worker no longer touches
     * any repository and, if nothing new was queued meanwhile, has ended. Completed and failed
     * history is kept, as in the seed.
     */
    public void resetSync() {
        LoadJob job;
        Thread w;
        List<CandidateQueue.Candidate<Task>> dropped;
        lock.lock();
        try {
            dropped = queue.clearPending();
            job = current;
            w = worker;
            if (job != null) {
                job.cancel();
            }
        } finally {
            lock.unlock();
        }
        cancelAll(dropped);
        if (w == Thread.currentThread()) {
            return; // called from a repository callback on the worker: it ends the job itself
        }
        if (job != null) {
            job.awaitDone();
        }
        boolean idle;
        lock.lock();
        try {
            idle = queue.pendingSize() == 0 && current == null;
        } finally {
            lock.unlock();
        }
        if (idle && w != null) {
            Uninterruptibly.join(w);
        }
    }

    /** Cancels everything as {@link #resetSync()} does, refuses new tasks, and releases connections. */
    @Override
    public void close() {
        LoadJob job;
        Thread w;
        List<CandidateQueue.Candidate<Task>> dropped;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            dropped = queue.clearPending();
            job = current;
            w = worker;
            if (job != null) {
                job.cancel();
            }
        } finally {
            lock.unlock();
        }
        cancelAll(dropped);
        if (w != null && w != Thread.currentThread()) {
            Uninterruptibly.join(w);
        }
        synchronized (fetchers) {
            fetchers.values().forEach(SnapshotFetcher::close);
            fetchers.clear();
        }
        http.close();
    }

    /** The worker: claims and runs tasks until none is queued. */
    private void work() {
        while (true) {
            LoadJob job;
            lock.lock();
            try {
                Optional<CandidateQueue.Claim<Task>> claim = closed ? Optional.empty() : queue.claim();
                if (claim.isEmpty()) {
                    worker = null;
                    return;
                }
                var c = claim.get();
                job = new LoadJob(c.candidate().payload(), c.prune() instanceof CandidateQueue.Prune.PruneNow, shared);
                current = job;
            } finally {
                lock.unlock();
            }
            runJob(job);
        }
    }

    private void runJob(LoadJob job) {
        Task task = job.task();
        metrics.attempt();
        LoadResult result;
        try {
            result = job.run();
        } catch (Throwable t) {
            // An Error or a bug must not end the worker silently: the task reports it.
            log.error("state load {} failed unexpectedly", Addresses.describe(task.address()), t);
            result = new LoadResult.Failed(task.address(), task.anchor(),
                    "internal error: " + t.getClass().getSimpleName() + ": " + t.getMessage());
        }
        String outcome;
        lock.lock();
        try {
            switch (result) {
                case LoadResult.Loaded l -> {
                    queue.succeeded(task.address(), task.anchor());
                    outcome = "loaded";
                }
                case LoadResult.Skipped s -> {
                    queue.succeeded(task.address(), task.anchor());
                    outcome = "skipped";
                }
                case LoadResult.Failed f -> {
                    queue.failed(task.address());
                    outcome = "failed";
                }
                case LoadResult.Cancelled c -> {
                    queue.abandoned(task.address());
                    outcome = "cancelled";
                }
            }
            current = null;
        } finally {
            lock.unlock();
        }
        metrics.finished(outcome, job.elapsed());
        switch (result) {
            case LoadResult.Failed f -> log.warn("state load {} at {} failed: {}", Addresses.describe(task.address()),
                    task.anchor(), f.reason());
            case LoadResult.Skipped s -> log.info("state load {} at {} skipped: {}", Addresses.describe(task.address()),
                    task.anchor(), s.reason());
            default -> log.info("state load {} at {}: {}", Addresses.describe(task.address()), task.anchor(), outcome);
        }
        if (!task.output().deliver(result)) {
            log.debug("output of {} is closed; {} not delivered", Addresses.describe(task.address()), outcome);
        }
        job.markDone();
    }

    /** The output was closed: its queued tasks go, its running one is cancelled; nothing is delivered. */
    private void dropOutput(LoadOutput output) {
        lock.lock();
        try {
            queue.removePendingIf(t -> t.output() == output);
            watched.remove(output);
            if (current != null && current.task().output() == output) {
                current.cancel();
            }
        } finally {
            lock.unlock();
        }
    }

    private void cancelAll(List<CandidateQueue.Candidate<Task>> dropped) {
        for (var c : dropped) {
            Task t = c.payload();
            metrics.finished("cancelled", java.time.Duration.ZERO);
            t.output().deliver(new LoadResult.Cancelled(t.address(), t.anchor()));
        }
    }

    private SnapshotFetcher fetcherOf(ContentStore store) {
        synchronized (fetchers) {
            return fetchers.computeIfAbsent(store.root(), r -> new SnapshotFetcher(store, registry, scores, config.tls()));
        }
    }
}
