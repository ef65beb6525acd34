package io.statesync.node.statesync;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.CidFormatException;
import io.statesync.core.store.ContentStore;
import io.statesync.groups.Group;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.Head;
import io.statesync.node.ledger.ThreadId;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's ledgers as the state loader's repository: the import decision (the seed's
 * {@code decide_snapshot_import}) and the pruning of saved states below an imported anchor.
 *
 * <p>The decision, for block {@code B} at height {@code H} of a thread whose head here is at
 * height {@code h} (distance {@code d = H - h}):
 * <ol>
 *   <li>This node's own chain has a block at {@code H}: {@code B} itself is {@code AlreadyCovered(d)};
 *       another block is {@code Invalidated} (every block here was committed by the group, and a
 *       committed log has one block per height).</li>
 *   <li>{@code d <= 0} below what the chain remembers: {@code AlreadyCovered(d)}; the state is
 *       past it, and an import would take it back.</li>
 *   <li>Trusted peers (the thread's group members, and configured keys) advertise saved states
 *       at {@code H} by gossip, none of them {@code B}: {@code Invalidated}.</li>
 *   <li>{@code d < importMinDistance}: {@code TooClose(d)}; replaying the log is cheaper.</li>
 *   <li>Otherwise {@code ImportNeeded(d)}.</li>
 * </ol>
 *
 * <p>States are installed only by the thread's group catch-up ({@link LedgerSync}), which moves
 * the consensus position together with the state; a load queued with this repository directly
 * fetches into the group's store and then stops at {@link #install}.
 */
public final class LedgerRepository implements StateRepository {
    private static final Logger log = LoggerFactory.getLogger(LedgerRepository.class);

    /** Where the repository finds a thread's parts; empty for a thread this node does not run (yet). */
    interface Threads {
        Optional<LocalChain> chain(ThreadId thread);

        Optional<Group> group(ThreadId thread);
    }

    private final long minDistance;
    private final Threads threads;
    /** (thread, height) → the blocks trusted peers advertise saved states of at that height. */
    private final BiFunction<ThreadId, Long, Set<BlockId>> advertised;
    private final MeterRegistry registry;

    LedgerRepository(long minDistance, Threads threads, BiFunction<ThreadId, Long, Set<BlockId>> advertised,
                     MeterRegistry registry) {
        if (minDistance < 1) {
            throw new IllegalArgumentException("minDistance must be at least 1, not " + minDistance);
        }
        this.minDistance = minDistance;
        this.threads = threads;
        this.advertised = advertised;
        this.registry = registry;
    }

    @Override
    public ContentStore store(ThreadId thread) {
        return group(thread).store();
    }

    @Override
    public Decision decide(ThreadId thread, BlockId block, long height) {
        LocalChain chain = threads.chain(thread).orElseThrow(() -> new IllegalArgumentException("thread "
                + thread.name() + " is not run by this node"));
        Decision d = judge(thread, chain, block, height);
        Counter.builder("statesync.node.import.decisions").description("import decisions on offered saved states")
                .tag("thread", thread.name()).tag("decision", metricName(d)).register(registry).increment();
        if (d instanceof Decision.Invalidated i) {
            log.warn("thread {}: block {} at height {} is off the agreed chain: {}", thread.name(), block.hex(), height,
                    i.reason());
        } else {
            log.debug("thread {}: block {} at height {}: {}", thread.name(), block.hex(), height, d);
        }
        return d;
    }

    private Decision judge(ThreadId thread, LocalChain chain, BlockId block, long height) {
        Head head = chain.head();
        long distance = height - head.height();
        Optional<BlockId> mine = chain.blockAt(height);
        if (mine.isPresent()) {
            return mine.get().equals(block) ? new Decision.AlreadyCovered(distance)
                    : new Decision.Invalidated("this node's chain has block " + mine.get().hex() + " at height " + height);
        }
        if (distance <= 0) {
            return new Decision.AlreadyCovered(distance);
        }
        Set<BlockId> peers = advertised.apply(thread, height);
        if (!peers.isEmpty() && !peers.contains(block)) {
            return new Decision.Invalidated("trusted peers advertise " + peers.stream().map(BlockId::hex).sorted().toList()
                    + " at height " + height);
        }
        return distance < minDistance ? new Decision.TooClose(distance) : new Decision.ImportNeeded(distance);
    }

    /** The metric tag of a decision: import_needed, already_covered, too_close, invalidated. */
    static String metricName(Decision d) {
        return switch (d) {
            case Decision.ImportNeeded n -> "import_needed";
            case Decision.AlreadyCovered c -> "already_covered";
            case Decision.TooClose c -> "too_close";
            case Decision.Invalidated i -> "invalidated";
        };
    }

    @Override
    public void install(ThreadId thread, BlockId block, Cid manifest) throws IOException {
        throw new IOException("thread " + thread.name() + ": a state is installed only by the thread's group catch-up,"
                + " which moves the consensus position with it; block " + block.hex() + " (snapshot " + manifest
                + ") stays fetched in the group's store");
    }

    /**
     * Drops this node's saved states of {@code thread} below {@code height} and the pointer files of
     * states it no longer holds, once the thread's state has reached {@code height}: before that
     * (the call before a download) they are still what a restart starts from, and their chunks
     * may serve the load. The group never drops its newest saved state, nor one a peer's session
     * leases, nor any while a save is being written.
     */
    @Override
    public void pruneBelow(ThreadId thread, long height) {
        Optional<LocalChain> chain = threads.chain(thread);
        Optional<Group> group = threads.group(thread);
        if (chain.isEmpty() || group.isEmpty() || chain.get().head().height() < height) {
            return;
        }
        try {
            List<SnapshotRecord> dropped = group.get().dropSnapshots(r -> heightOf(r).map(h -> h < height).orElse(false));
            int pointers = removeStalePointers(thread, group.get());
            if (!dropped.isEmpty() || pointers > 0) {
                log.info("thread {}: pruned {} saved state(s) below height {} and {} stale pointer(s)", thread.name(),
                        dropped.size(), height, pointers);
            }
        } catch (IOException | RuntimeException e) {
            // Pruning frees disk; the load it follows has done its work either way.
            log.warn("thread {}: cannot prune saved states below height {}: {}", thread.name(), height, e.toString());
        }
    }

    private static Optional<Long> heightOf(SnapshotRecord r) {
        try {
            return Optional.of(Long.parseLong(r.metadata().get("height")));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /**
     * Deletes the thread's pointer files whose snapshot the group no longer holds. The directory
     * is listed before the catalog is read: a pointer is written only after its snapshot was
     * recorded, so one listed here and missing from the catalog read after was pruned.
     */
    private static int removeStalePointers(ThreadId thread, Group group) throws IOException {
        Path dir = group.store().root().resolve("blocks").resolve(thread.name());
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        List<Path> listed;
        try (Stream<Path> s = Files.list(dir)) {
            listed = s.filter(p -> !p.getFileName().toString().startsWith(".")).toList();
        }
        Set<Cid> held = new HashSet<>();
        group.snapshots().forEach(r -> held.add(r.manifest()));
        int removed = 0;
        for (Path p : listed) {
            String text;
            try {
                text = Files.readString(p, StandardCharsets.US_ASCII).strip();
            } catch (IOException gone) {
                continue;
            }
            boolean stale;
            try {
                stale = !held.contains(Cid.parse(text));
            } catch (CidFormatException notAPointer) {
                stale = true;
            }
            if (stale && Files.deleteIfExists(p)) {
                removed++;
            }
        }
        return removed;
    }

    private Group group(ThreadId thread) {
        return threads.group(thread).orElseThrow(() -> new IllegalArgumentException("thread "
                + thread.name() + " is not run by this node"));
    }
}
