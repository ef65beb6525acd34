package io.statesync.node.statesync;

import io.statesync.core.cid.Cid;
import io.statesync.core.store.ContentStore;
import io.micrometer.core.instrument.MeterRegistry;
import io.statesync.groups.log.LogPosition;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.groups.sync.Peer;
import io.statesync.groups.sync.ProviderContext;
import io.statesync.groups.sync.SessionContext;
import io.statesync.groups.sync.StateSync;
import io.statesync.groups.sync.SyncException;
import io.statesync.groups.sync.SyncProgress;
import io.statesync.groups.sync.SyncProvider;
import io.statesync.groups.sync.SyncSession;
import io.statesync.groups.sync.SyncSignature;
import io.statesync.groups.sync.snapshot.SnapshotOffers;
import io.statesync.groups.sync.snapshot.SnapshotSync;
import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.ThreadId;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The catch-up strategy of a thread's group: the node's state-sync service. A lagging member
 * asks its peers which saved states they hold (the snapshot offers of {@link SnapshotSync}, with
 * block id and height), picks the newest one the leader's log continues from, and hands
 * {@code {thread -> block}} to the thread's {@link StateLoader} as a load task. The loader finds
 * the snapshot on the group's peers, on nodes that advertise it by gossip and on static
 * storages, downloads it from all of them at once (verified chunk by chunk, resumable), and
 * installs it through the group, where the ledger recomputes the state root and compares it
 * with the block's before it replaces anything.
 *
 * <p>Peers serve offers and leases exactly as {@code SnapshotSync}'s provider does; the two
 * strategies differ in where bytes come from and in the load-task semantics (queue, tries,
 * retry wait, deadline, reset).
 */
public final class LedgerSync implements StateSync, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LedgerSync.class);
    private static final Duration OFFER_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration LEASE_TTL = Duration.ofSeconds(30);
    private static final Duration PROGRESS_EVERY = Duration.ofMillis(250);

    private final ThreadId thread;
    private final StateLoader loader;
    /** Where else a saved state may be found: nodes advertising it by gossip. */
    private final PeerSources gossip;
    /** The running session's chosen offer: its block and the group peers that offer it. */
    private volatile PeerSources.Located offered;
    private final java.util.function.Consumer<BlockId> expectInstall;
    private volatile BlockId offeredBlock;

    /**
     * @param gossip nodes that advertise a thread's saved states by gossip; {@link PeerSources#NONE} without gossip
     */
    public LedgerSync(ThreadId thread, LoaderConfig config, PeerSources gossip, MeterRegistry registry) {
        this(thread, config, gossip, registry, block -> { });
    }

    /**
     * @param expectInstall told, right before an install, which block the installed state must
     *     hold (the ledger refuses a dump of any other block)
     */
    public LedgerSync(ThreadId thread, LoaderConfig config, PeerSources gossip, MeterRegistry registry,
                      java.util.function.Consumer<BlockId> expectInstall) {
        this.thread = thread;
        this.gossip = gossip;
        this.expectInstall = expectInstall;
        this.loader = new StateLoader(config, this::locate, registry, thread.name());
    }

    /** The thread's state loader: load tasks, progress and reset. */
    public StateLoader loader() {
        return loader;
    }

    /** Where a block's saved state is: the offering group peers of the running session, and gossip's. */
    private List<PeerSources.Located> locate(ThreadId t, BlockId block) {
        List<PeerSources.Located> out = new ArrayList<>();
        PeerSources.Located o = offered;
        if (o != null && block.equals(offeredBlock)) {
            out.add(o);
        }
        out.addAll(gossip.locate(t, block));
        return out;
    }

    @Override
    public void close() {
        loader.close();
    }

    @Override
    public SyncSignature signature() {
        return new SyncSignature("LedgerSync(offerTimeout=" + OFFER_TIMEOUT.toMillis() + "ms,leaseTtl="
                + LEASE_TTL.toMillis() + "ms)");
    }

    @Override
    public SyncProvider provider(ProviderContext context) {
        return SnapshotSync.DEFAULT.provider(context);
    }

    @Override
    public SyncSession session(SessionContext context) {
        return () -> new Session(context).run();
    }

    /** One offered saved state: a snapshot offer whose metadata names its block and height. */
    private record Offer(SnapshotRecord record, BlockId block, long height, List<Peer> peers) {
        static Optional<Offer> of(SnapshotOffers.Offer o) {
            Map<String, String> m = o.record().metadata();
            try {
                return Optional.of(new Offer(o.record(), BlockId.fromHex(m.get("block")),
                        Long.parseLong(m.get("height")), o.peers()));
            } catch (RuntimeException notALedgerSnapshot) {
                return Optional.empty();
            }
        }

        SnapshotOffers.Offer offer() {
            return new SnapshotOffers.Offer(record, peers);
        }
    }

    private final class Session {
        private final SessionContext ctx;

        Session(SessionContext ctx) {
            this.ctx = ctx;
        }

        LogPosition run() throws Exception {
            long need = Math.max(ctx.target().index() - 1, ctx.applied().index() + 1);
            Map<String, String> reasons = new LinkedHashMap<>();
            List<Offer> offers = SnapshotOffers.collect(ctx, OFFER_TIMEOUT, reasons).values().stream()
                    .flatMap(o -> Offer.of(o).stream()).toList();
            Offer chosen = offers.stream().filter(o -> o.record().index() >= need)
                    .max(Comparator.comparingLong((Offer o) -> o.record().index())
                            .thenComparingInt(o -> o.peers().size()))
                    .orElseThrow(() -> new SyncException("no peer offers a saved state of thread " + thread.name()
                            + " at or after log index " + need + " (offers: " + describe(offers)
                            + (reasons.isEmpty() ? "" : "; " + reasons) + ")"));
            log.info("thread {}: loading the state of block {} (height {}, log index {}) offered by {}", thread.name(),
                    chosen.block().hex(), chosen.height(), chosen.record().index(),
                    chosen.peers().stream().map(Peer::id).toList());

            Thread renewer = SnapshotOffers.holdLeases(ctx, chosen.offer(), LEASE_TTL, OFFER_TIMEOUT);
            LoadOutput output = new LoadOutput();
            offeredBlock = chosen.block();
            offered = new PeerSources.Located(chosen.record().manifest(), SnapshotOffers.sources(ctx, chosen.offer()));
            try {
                SortedMap<ThreadId, BlockId> address = new TreeMap<>(Map.of(thread, chosen.block()));
                PushResult pushed = loader.addLoadStateTask(address, new Anchor(thread, chosen.height()),
                        new GroupRepository(chosen), output);
                if (pushed != PushResult.PUSHED) {
                    throw new SyncException("the state loader did not take the load of block " + chosen.block().hex()
                            + ": " + pushed);
                }
                LoadResult result = await(output);
                return switch (result) {
                    case LoadResult.Loaded l -> {
                        l.bytesBySource().forEach((s, n) -> ctx.metrics().bytes(SnapshotOffers.peerOf(chosen.offer(), s), n));
                        yield chosen.record().position();
                    }
                    case LoadResult.Skipped s -> throw new SyncException("load skipped: " + s.reason());
                    case LoadResult.Failed f -> throw new SyncException(f.reason());
                    case LoadResult.Cancelled c -> throw new InterruptedException("load cancelled");
                };
            } finally {
                offered = null;
                output.close();
                renewer.interrupt();
                renewer.join();
                ctx.client().releaseLeases(chosen.peers(), ctx.sessionId());
            }
        }

        /** Waits for the load's result, reporting its progress; an interrupt (cancel, deadline) resets the load. */
        private LoadResult await(LoadOutput output) throws InterruptedException, SyncException {
            try {
                while (true) {
                    Optional<LoadResult> r = output.poll(PROGRESS_EVERY);
                    if (r.isPresent()) {
                        return r.get();
                    }
                    loader.progress().ifPresent(p -> ctx.progress(new SyncProgress(p.bytesDone(), p.bytesTotal(),
                            "bytes")));
                    if (Instant.now().isAfter(ctx.deadline())) {
                        throw new SyncException("the load did not finish before the session deadline");
                    }
                }
            } catch (InterruptedException | SyncException e) {
                loader.resetSync();
                throw e;
            }
        }

        /** The group as the load's repository: chunks go to its store; the install goes through its replica. */
        private final class GroupRepository implements StateRepository {
            private final Offer offer;

            GroupRepository(Offer offer) {
                this.offer = offer;
            }

            @Override
            public ContentStore store(ThreadId t) {
                return ctx.store();
            }

            @Override
            public Decision decide(ThreadId t, BlockId block, long height) {
                // The leader told this member it is behind its log: any offered state it chose is needed.
                return new Decision.ImportNeeded(height);
            }

            @Override
            public void install(ThreadId t, BlockId block, Cid manifest) throws IOException {
                if (!manifest.equals(offer.record().manifest())) {
                    throw new IOException("loaded " + manifest + ", not the offered " + offer.record().manifest());
                }
                expectInstall.accept(offer.block());
                ctx.install(offer.record());
            }
        }

    }

    private static String describe(List<Offer> offers) {
        if (offers.isEmpty()) {
            return "none";
        }
        StringBuilder b = new StringBuilder();
        offers.forEach(o -> b.append(b.isEmpty() ? "" : ", ").append("block ").append(o.height()).append(" at index ")
                .append(o.record().index()).append(" from ").append(o.peers().stream().map(Peer::id).toList()));
        return b.toString();
    }
}
