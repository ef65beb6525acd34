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
 * since this process verified them moments before) and downloads only the rest; when it wants the very snapshot the
 * head start is fetching, it waits for that fetch instead of downloading the same chunks twice.
 *
 * <p>Trust: only the {@code join} URLs the operator configured are asked, and only they serve
 * the bytes (the group's members are not known yet). Every byte is still checked against its
 * content address, and what is installed is decided by the group's load as before: a head start
 * from a wrong snapshot costs bandwidth, never correctness.
 *
 * <p>Each thread's head start runs on a virtual thread named {@code statesync-prefetch-<thread>},
 * gives up after {@link #LOOK_FOR} without a saved state to fetch, and ends at {@link #close()},
 * which also deletes the store (chunks the groups adopted live on in their stores).
 */
public final class JoinPrefetch implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(JoinPrefetch.class);
    /** How long a thread's head start asks for a saved state before it gives up. */
    static final Duration LOOK_FOR = Duration.ofSeconds(30);
    private static final Duration POLL = Duration.ofMillis(250);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final ContentStore store;
    private final SnapshotFetcher fetcher;
    private final List<URI> joinVia;
    private final java.util.concurrent.ExecutorService httpThreads;
    private final java.net.http.HttpClient http;
    private final SyncTimeline timeline;
    private final MeterRegistry registry;
    /** Per thread, the snapshot its head start fetches and how that ends; guarded by this. */
    private final Map<ThreadId, Running> running = new LinkedHashMap<>();
    private final List<Thread> workers = new ArrayList<>();
    private boolean closed;

    private record Running(Cid manifest, CompletableFuture<Void> done) {
    }

    private JoinPrefetch(Path dir, ContentStore store, List<URI> joinVia, SyncTimeline timeline,
                         MeterRegistry registry) {
        this.dir = dir;
        this.store = store;
        this.fetcher = new SnapshotFetcher(store, registry);
        this.joinVia = List.copyOf(joinVia);
        this.httpThreads = java.util.concurrent.Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("statesync-prefetch-http-", 0).factory());
        this.http = java.net.http.HttpClient.newBuilder().executor(httpThreads)
                .connectTimeout(Duration.ofSeconds(2)).build();
        this.timeline = timeline;
        this.registry = registry;
    }

    /** A head start with its store at {@code dir} (emptied first: what an earlier run left is stale). */
    public static JoinPrefetch open(Path dir, List<URI> joinVia, SyncTimeline timeline, MeterRegistry registry)
            throws IOException {
        FileTrees.deleteRecursively(dir);
        return new JoinPrefetch(dir, ContentStore.open(dir), joinVia, timeline, registry);
    }

    /** Starts each thread's head start. */
    public synchronized void start(List<ThreadId> threads) {
        if (closed) {
            return;
        }
        for (ThreadId t : threads) {
            workers.add(Thread.ofVirtual().name("statesync-prefetch-" + t.name()).start(() -> run(t)));
        }
    }

    private void run(ThreadId thread) {
        long giveUp = System.nanoTime() + LOOK_FOR.toNanos();
        try {
            Offer offer;
            while ((offer = newestOffer(thread)) == null) {
                if (System.nanoTime() > giveUp) {
                    log.info("thread {}: no head start: no node joined through named a saved state within {} s",
                            thread.name(), LOOK_FOR.toSeconds());
                    return;
                }
                Thread.sleep(POLL);
            }
            CompletableFuture<Void> done = new CompletableFuture<>();
            synchronized (this) {
                if (closed) {
                    return;
                }
                running.put(thread, new Running(offer.manifest(), done));
            }
            log.info("thread {}: head start: fetching the saved state of height {} ({}) from {} while the groups start",
                    thread.name(), offer.height(), offer.manifest(), offer.sources());
            timeline.mark(SyncTimeline.Phase.FIRST_CHUNK);
            long started = System.nanoTime();
            try {
                var r = fetcher.fetch(offer.manifest(), offer.sources(), FetchOptions.DEFAULT, null);
                double seconds = (System.nanoTime() - started) / 1e9;
                log.info("thread {}: head start done: {} MiB in {} s ({} MiB/s)", thread.name(),
                        String.format(java.util.Locale.ROOT, "%.1f", r.bytesFetched() / 1048576.0),
                        String.format(java.util.Locale.ROOT, "%.1f", seconds),
                        String.format(java.util.Locale.ROOT, "%.1f", r.bytesFetched() / 1048576.0 / seconds));
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
        } catch (InterruptedException stop) {
            // closed
        }
    }

    private record Offer(Cid manifest, long height, List<Source> sources) {
    }

    /** The newest saved state of the thread the join nodes name, with every join node that holds it; null if none does. */
    private Offer newestOffer(ThreadId thread) throws InterruptedException {
        Map<Cid, List<Source>> sources = new LinkedHashMap<>();
        Map<Cid, Long> heights = new LinkedHashMap<>();
        for (URI via : joinVia) {
            String base = via.toString().replaceAll("/+$", "");
            JsonNode saved;
            try {
                var res = http.send(java.net.http.HttpRequest.newBuilder(URI.create(base + "/node/cluster"))
                        .timeout(Duration.ofSeconds(3)).GET().build(), java.net.http.HttpResponse.BodyHandlers.ofByteArray());
                if (res.statusCode() != 200) {
                    continue;
                }
                saved = JSON.readTree(res.body()).path("savedStates").path(thread.name());
            } catch (IOException e) {
                log.debug("thread {}: {} did not say its saved states: {}", thread.name(), via, e.toString());
                continue;
            }
            try {
                Cid manifest = Cid.parse(saved.path("manifest").asText());
                long height = Long.parseLong(saved.path("height").asText());
                String path = saved.path("sharePath").asText();
                if (!path.matches("[A-Za-z0-9/_-]+")) {
                    continue;
                }
                sources.computeIfAbsent(manifest, c -> new ArrayList<>()).add(new Source(URI.create(base + "/" + path)));
                heights.put(manifest, height);
            } catch (RuntimeException notThere) {
                // No saved state of the thread there yet, or an answer of another version.
            }
        }
        return heights.entrySet().stream().max(Comparator.comparingLong(Map.Entry::getValue))
                .map(e -> new Offer(e.getKey(), e.getValue(), sources.get(e.getKey()))).orElse(null);
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
        httpThreads.close();
        fetcher.close();
        try {
            FileTrees.deleteRecursively(dir);
        } catch (IOException e) {
            log.warn("cannot remove the head start's store {}: {}", dir, e.toString());
        }
    }

}
