package io.statesync.node.statesync;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.concurrent.Uninterruptibly;
import io.statesync.core.files.FileTrees;
import io.statesync.core.snapshot.FileEntry;
import io.statesync.core.snapshot.Manifest;
import io.statesync.core.store.ContentStore;
import io.statesync.node.ledger.ThreadId;
import io.statesync.transfer.fetch.FetchException;
import io.statesync.transfer.fetch.FetchOptions;
import io.statesync.transfer.fetch.SnapshotFetcher;
import io.statesync.transfer.fetch.Source;
import io.statesync.transfer.fetch.SourceScores;
import io.statesync.transfer.tls.Tls;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A new node's head start: on its first start, as soon as its API runs, it asks the nodes it
 * was told to join through for the newest saved state of each thread ({@code GET /node/cluster},
 * {@code savedStates}) and fetches that state's chunks into a store of its own
 * ({@code <data>/prefetch}), while its gossip and its groups are still starting. The group's load,
 * when it comes, takes every chunk the head start holds (hard links, no copy; not hashed again,
 * since this process verified them moments before) and downloads only the rest; when it
 * wants the very snapshot the head start is fetching, it waits for that fetch instead of downloading the same chunks twice.
 *
 * <p>Trust: only the {@code join} URLs the operator configured are asked, and only they serve
 * the bytes (the group's members are not known yet). Every byte is still checked against its
 * content address, and what is installed is decided by the group's load as before: a head start
 * from a wrong snapshot costs bandwidth, never correctness.
 *
 * <p>One virtual thread ({@code statesync-prefetch}) asks the join nodes every 250 ms until each
 * thread has a saved state to fetch, or gives up after {@link #LOOK_FOR}; each thread's fetch runs
 * on its own ({@code statesync-prefetch-<thread>}). All end at {@link #close()}, which also deletes
 * the store (chunks the groups adopted live on in their stores).
 */
public final class JoinPrefetch implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(JoinPrefetch.class);
    /** How long a thread's head start asks for a saved state before it gives up. */
    static final Duration LOOK_FOR = Duration.ofSeconds(30);
    private static final Duration POLL = Duration.ofMillis(250);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The most of a {@code /node/cluster} answer read (it lists genesis balances: generous, but bounded). */
    private static final long MAX_CLUSTER_BYTES = 4L << 20;
    private static final Duration ASK_TIMEOUT = Duration.ofSeconds(3);

    private final Path dir;
    private final ContentStore store;
    private final SnapshotFetcher fetcher;
    private final List<URI> joinVia;
    /** The node's fetch settings ({@code sync:}); the head start fetches like the load it feeds. */
    private final FetchOptions options;
    /** Bounded GETs of the join nodes' {@code /node/cluster}. */
    private final SmallGets http;
    private final SyncTimeline timeline;
    private final MeterRegistry registry;
    /** Per thread, the snapshot its head start fetches and how that ends; guarded by this. */
    private final Map<ThreadId, Running> running = new LinkedHashMap<>();
    private final List<Thread> workers = new ArrayList<>();
    private boolean closed;

    private record Running(Cid manifest, CompletableFuture<Void> done) {
    }

    private JoinPrefetch(Path dir, ContentStore store, List<URI> joinVia, FetchOptions options, Tls tls,
                         SyncTimeline timeline, MeterRegistry registry) {
        this.dir = dir;
        this.store = store;
        this.http = new SmallGets(tls);
        this.fetcher = new SnapshotFetcher(store, registry, new SourceScores(), tls);
        this.joinVia = List.copyOf(joinVia);
        this.options = options;
        this.timeline = timeline;
        this.registry = registry;
    }

    /** A head start with its store at {@code dir} (emptied first: what an earlier run left is stale). */
    public static JoinPrefetch open(Path dir, List<URI> joinVia, SyncTimeline timeline, MeterRegistry registry)
            throws IOException {
        return open(dir, joinVia, FetchOptions.DEFAULT, null, timeline, registry);
    }

    /** A head start that fetches with {@code options} (the node's {@code sync:} knobs). */
    public static JoinPrefetch open(Path dir, List<URI> joinVia, FetchOptions options, SyncTimeline timeline,
                                    MeterRegistry registry) throws IOException {
        return open(dir, joinVia, options, null, timeline, registry);
    }

    /** As {@link #open(Path, List, FetchOptions, SyncTimeline, MeterRegistry)}, reaching https join nodes with {@code tls}. */
    public static JoinPrefetch open(Path dir, List<URI> joinVia, FetchOptions options, Tls tls, SyncTimeline timeline,
                                    MeterRegistry registry) throws IOException {
        FileTrees.deleteRecursively(dir);
        return new JoinPrefetch(dir, ContentStore.open(dir), joinVia, options, tls, timeline, registry);
    }

    /**
     * Starts looking, on one virtual thread ({@code statesync-prefetch}) that asks the join nodes
     * for all threads at once, and fetches each thread's state on a thread of its own
     * ({@code statesync-prefetch-<thread>}) as soon as one is named.
     */
    public synchronized void start(List<ThreadId> threads) {
        if (closed) {
            return;
        }
        workers.add(Thread.ofVirtual().name("statesync-prefetch").start(() -> look(threads)));
    }

    private void look(List<ThreadId> threads) {
        Set<ThreadId> waiting = new java.util.LinkedHashSet<>(threads);
        long giveUp = System.nanoTime() + LOOK_FOR.toNanos();
        try {
            while (true) {
                newestOffers(waiting).forEach((thread, offer) -> {
                    waiting.remove(thread);
                    startFetch(thread, offer);
                });
                if (waiting.isEmpty()) {
                    return;
                }
                if (System.nanoTime() > giveUp) {
                    log.info("no head start for threads {}: no node joined through named a saved state within {} s",
                            waiting.stream().map(ThreadId::name).toList(), LOOK_FOR.toSeconds());
                    return;
                }
                Thread.sleep(POLL);
            }
        } catch (InterruptedException stop) {
            // closed
        }
    }

    private synchronized void startFetch(ThreadId thread, Offer offer) {
        if (closed) {
            return;
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        running.put(thread, new Running(offer.manifest(), done));
        workers.add(Thread.ofVirtual().name("statesync-prefetch-" + thread.name()).start(() -> fetch(thread, offer, done)));
    }

    private void fetch(ThreadId thread, Offer offer, CompletableFuture<Void> done) {
        log.info("thread {}: head start: fetching the saved state of height {} ({}) from {} while the groups start",
                thread.name(), offer.height(), offer.manifest(), offer.sources());
        timeline.mark(SyncTimeline.Phase.FIRST_CHUNK);
        long started = System.nanoTime();
        try {
            var r = fetcher.fetch(offer.manifest(), offer.sources(), options, null);
            double seconds = (System.nanoTime() - started) / 1e9;
            double mib = r.bytesFetched() / 1048576.0;
            log.info("thread {}: head start done: {} MiB in {} s ({} MiB/s)", thread.name(),
                    String.format(Locale.ROOT, "%.1f", mib), String.format(Locale.ROOT, "%.1f", seconds),
                    String.format(Locale.ROOT, "%.1f", mib / seconds));
            count("statesync.node.prefetch.fetched.bytes", "bytes a new node's head start downloaded",
                    r.bytesFetched());
            done.complete(null);
        } catch (FetchException | RuntimeException e) {
            log.info("thread {}: head start of {} failed, the group's load fetches it: {}", thread.name(),
                    offer.manifest(), e.getMessage());
            done.completeExceptionally(e);
        } catch (InterruptedException e) {
            done.cancel(false);
        }
    }

    private record Offer(Cid manifest, long height, List<Source> sources) {
    }

    /**
     * Per thread of {@code threads} that a join node names a saved state of, the newest such
     * state with every join node that holds it: one {@code GET /node/cluster} per join node.
     */
    private Map<ThreadId, Offer> newestOffers(Set<ThreadId> threads) throws InterruptedException {
        Map<ThreadId, Map<Cid, List<Source>>> sources = new LinkedHashMap<>();
        Map<ThreadId, Map<Cid, Long>> heights = new LinkedHashMap<>();
        for (URI via : joinVia) {
            JsonNode saved;
            try {
                saved = JSON.readTree(http.get(SmallGets.below(via, "node/cluster"), MAX_CLUSTER_BYTES, ASK_TIMEOUT))
                        .path("savedStates");
            } catch (IOException e) {
                log.debug("{} did not say its saved states: {}", via, e.toString());
                continue;
            }
            for (ThreadId thread : threads) {
                JsonNode s = saved.path(thread.name());
                try {
                    Cid manifest = Cid.parse(s.path("manifest").asText());
                    long height = Long.parseLong(s.path("height").asText());
                    String path = s.path("sharePath").asText();
                    if (!path.matches("[A-Za-z0-9/_-]+")) {
                        continue;
                    }
                    sources.computeIfAbsent(thread, t -> new LinkedHashMap<>())
                            .computeIfAbsent(manifest, c -> new ArrayList<>()).add(new Source(SmallGets.below(via, path)));
                    heights.computeIfAbsent(thread, t -> new LinkedHashMap<>()).put(manifest, height);
                } catch (RuntimeException notThere) {
                    // No saved state of the thread there yet, or an answer of another version.
                }
            }
        }
        Map<ThreadId, Offer> out = new LinkedHashMap<>();
        heights.forEach((thread, byCid) -> byCid.entrySet().stream().max(Comparator.comparingLong(Map.Entry::getValue))
                .ifPresent(e -> out.put(thread, new Offer(e.getKey(), e.getValue(), sources.get(thread).get(e.getKey())))));
        return out;
    }

    /**
     * Lends a load the chunks of {@code manifest} that the head start holds: if the thread's head
     * start fetches this very snapshot, waits for it (up to {@code wait}); then links every chunk
     * it holds into {@code into}. Returns the chunks lent: the head start's fetch verified each
     * of them moments ago, so the load need not hash them again.
     */
    public Set<Cid> lend(ThreadId thread, Cid manifestCid, Manifest manifest, ContentStore into, Duration wait)
            throws InterruptedException {
        Running r;
        synchronized (this) {
            r = running.get(thread);
        }
        if (r != null && r.manifest().equals(manifestCid)) {
            try {
                r.done().get(wait.toMillis(), TimeUnit.MILLISECONDS);
            } catch (ExecutionException | java.util.concurrent.CancellationException failed) {
                // lend what arrived
            } catch (TimeoutException slow) {
                log.info("thread {}: the head start of {} is still running; the load goes on with what it holds",
                        thread.name(), manifestCid);
            }
        }
        Set<Cid> lent = new HashSet<>();
        try {
            for (FileEntry f : manifest.files()) {
                for (Cid c : f.chunks()) {
                    // Only chunks this head start landed itself (its store starts empty every run).
                    if (!into.has(c) && store.has(c) && into.adopt(store, c)) {
                        lent.add(c);
                    }
                }
            }
        } catch (IOException e) {
            log.info("thread {}: cannot take chunks from the head start: {}", thread.name(), e.toString());
        }
        if (!lent.isEmpty()) {
            count("statesync.node.prefetch.lent.chunks", "chunks a new node's head start lent to loads", lent.size());
        }
        return lent;
    }

    private void count(String name, String description, long n) {
        Counter.builder(name).description(description).register(registry).increment(n);
    }

    @Override
    public void close() {
        List<Thread> toStop;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            toStop = List.copyOf(workers);
        }
        toStop.forEach(Thread::interrupt);
        toStop.forEach(Uninterruptibly::join);
        http.close();
        fetcher.close();
        try {
            FileTrees.deleteRecursively(dir);
        } catch (IOException e) {
            log.warn("cannot remove the head start's store {}: {}", dir, e.toString());
        }
    }

}
