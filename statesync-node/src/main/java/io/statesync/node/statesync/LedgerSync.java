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
import io.statesync.groups.sync.replay.LogReplaySync;
import io.statesync.groups.sync.snapshot.SnapshotOffers;
import io.statesync.groups.sync.snapshot.SnapshotSync;
import io.statesync.node.statesync.StateRepository.Decision;
import io.statesync.transfer.server.RouteException;
import io.statesync.transfer.server.RouteRequest;
import io.statesync.transfer.server.RouteResponse;
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
 * <p>Before it loads, the session asks the ledger's repository whether the offer is worth it
 * ({@link StateRepository#decide}). An offer that is not on the agreed chain ({@code Invalidated})
 * is passed over for the next newest. When the node's own head is already at the offered block
 * ({@code AlreadyCovered}) or close to it ({@code TooClose}), the session replays the missing
 * committed entries from the peers' logs instead, as {@link LogReplaySync} does; only if the
 * peers no longer hold them does it import the offer after all. So a skip never leaves the
 * consensus engine waiting for an install that no one makes.
 *
 * <p>Peers serve offers and leases exactly as {@code SnapshotSync}'s provider does, and their
 * committed entries as {@code LogReplaySync}'s does.
 */
public final class LedgerSync implements StateSync, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LedgerSync.class);
    private static final Duration OFFER_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration LEASE_TTL = Duration.ofSeconds(30);
    private static final Duration PROGRESS_EVERY = Duration.ofMillis(250);

    /** How a catch-up replays entries when it does not import (and how peers serve them). */
    private static final LogReplaySync REPLAY = LogReplaySync.DEFAULT;

    /**
     * What a thread's catch-up works with besides its loader.
     *
     * @param gossip nodes that advertise a thread's saved states by gossip; {@link PeerSources#NONE} without gossip
     * @param chain the thread's ledger: told which block an install must hold
     * @param ledger the ledger's repository: judges offers ({@link StateRepository#decide}) and prunes
     * @param members told a session's peers (the group's members by id and URL) before it decides,
     *     so that trust in their gossip cards is current
     * @param timeline where the loads mark their phases (first chunk, fetched, installed), or null
     * @param prefetch a new node's head start, whose chunks the loads take, or null
     */
    public record Parts(PeerSources gossip, LocalChain chain, StateRepository ledger, MembersSeen members,
                        SyncTimeline timeline, JoinPrefetch prefetch) {
    }

    /** Hears the members a catch-up session works with. */
    @FunctionalInterface
    public interface MembersSeen {
        void seen(ThreadId thread, String self, List<Peer> peers) throws InterruptedException;
    }

    private final ThreadId thread;
    private final StateLoader loader;
    private final Parts parts;
    /** The running session's chosen offer: its block and the group peers that offer it. */
    private volatile PeerSources.Located offered;
    private volatile BlockId offeredBlock;

    public LedgerSync(ThreadId thread, LoaderConfig config, Parts parts, MeterRegistry registry) {
        this.thread = thread;
        this.parts = parts;
        this.loader = new StateLoader(config, this::locate, registry, thread.name(), parts.timeline(),
                parts.prefetch());
    }

    /** The thread's state loader: load tasks, progress and reset. */
    public StateLoader loader() {
        return loader;
    }

    /**
     * Where a block's saved state is: the offering group peers of the running session, sources
     * named for the block by whoever queued a load of it ({@link #hint}), and gossip's.
     */
    private List<PeerSources.Located> locate(ThreadId t, BlockId block) {
        List<PeerSources.Located> out = new ArrayList<>();
        PeerSources.Located o = offered;
        if (o != null && block.equals(offeredBlock)) {
            out.add(o);
        }
        PeerSources.Located h = hints.get(new Hint(t, block));
        if (h != null) {
            out.add(h);
        }
        out.addAll(parts.gossip().locate(t, block));
        return out;
    }

    private record Hint(ThreadId thread, BlockId block) {
    }

    /** Sources named for a block of a load task queued outside a catch-up session (an operator's load). */
    private final Map<Hint, PeerSources.Located> hints = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * Names where the saved state of {@code block} of {@code thread} is, for loads this loader
     * runs; {@code null} forgets it. Used for the group members that offer a state an operator
     * asked for, which no session has collected.
     */
    public void hint(ThreadId thread, BlockId block, PeerSources.Located where) {
        if (where == null) {
            hints.remove(new Hint(thread, block));
        } else {
            hints.put(new Hint(thread, block), where);
        }
    }

    @Override
    public void close() {
        loader.close();
    }

    @Override
    public SyncSignature signature() {
        return new SyncSignature("LedgerSync(offerTimeout=" + OFFER_TIMEOUT.toMillis() + "ms,leaseTtl="
                + LEASE_TTL.toMillis() + "ms,replay=" + REPLAY.signature().description() + ")");
    }

    /** Serves both: snapshot offers ({@code sync/snapshots}) and committed entries ({@code sync/log/...}). */
    @Override
    public SyncProvider provider(ProviderContext context) {
        SyncProvider snapshots = SnapshotSync.DEFAULT.provider(context);
        SyncProvider entries = REPLAY.provider(context);
        return new SyncProvider() {
            @Override
            public RouteResponse handle(RouteRequest request) throws RouteException {
                return request.route().startsWith("log/") ? entries.handle(request) : snapshots.handle(request);
            }

            @Override
            public long safeToPruneLog() {
                return Math.min(snapshots.safeToPruneLog(), entries.safeToPruneLog());
            }

            @Override
            public void committed(LogPosition position) {
                snapshots.committed(position);
                entries.committed(position);
            }

            @Override
            public boolean maySnapshotBeDropped(SnapshotRecord snapshot) {
                return snapshots.maySnapshotBeDropped(snapshot) && entries.maySnapshotBeDropped(snapshot);
            }
        };
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
            if (ctx.applied().index() >= ctx.target().index() - 1 && ctx.logEmptyPastState()) {
                // Already there (a state loaded before the consensus log reached it): the log goes on
                // from here. Never for a voting member (see SessionContext#logEmptyPastState): its
                // log may hold older-term entries past the state, so it loads a newer one below.
                return ctx.applied();
            }
            long need = Math.max(ctx.target().index() - 1, ctx.applied().index() + 1);
            Map<String, String> reasons = new LinkedHashMap<>();
            List<Offer> offers = SnapshotOffers.collect(ctx, OFFER_TIMEOUT, reasons).values().stream()
                    .flatMap(o -> Offer.of(o).stream()).toList();
            // Newest first; one whose load failed lately after all the others (tried only when
            // nothing else will do).
            List<Offer> usable = offers.stream().filter(o -> o.record().index() >= need)
                    .sorted(Comparator.comparing((Offer o) -> ctx.failedOffers().recent(o.record().manifest()))
                            .thenComparing(Comparator.comparingLong((Offer o) -> o.record().index())
                                    .thenComparingInt(o -> o.peers().size()).reversed()))
                    .toList();
            if (usable.isEmpty()) {
                throw new SyncException("no peer offers a saved state of thread " + thread.name()
                        + " at or after log index " + need + " (offers: " + describe(offers)
                        + (reasons.isEmpty() ? "" : "; " + reasons) + ")");
            }
            parts.members().seen(thread, ctx.memberId(), ctx.peers());
            // The newest offer on the agreed chain; one that is not is passed over, not loaded.
            Offer chosen = null;
            Decision decision = null;
            List<String> invalidated = new ArrayList<>();
            for (Offer o : usable) {
                Decision d = parts.ledger().decide(thread, o.block(), o.height());
                if (d instanceof Decision.Invalidated i) {
                    invalidated.add("block " + o.block().hex() + " (height " + o.height() + ") from "
                            + o.peers().stream().map(Peer::id).toList() + ": " + i.reason());
                    continue;
                }
                chosen = o;
                decision = d;
                break;
            }
            if (chosen == null) {
                throw new SyncException("every saved state of thread " + thread.name() + " offered at or after log index "
                        + need + " is off the agreed chain: " + String.join("; ", invalidated));
            }
            if (!invalidated.isEmpty()) {
                log.warn("thread {}: passed over offers off the agreed chain: {}", thread.name(),
                        String.join("; ", invalidated));
            }
            boolean replayFailed = false;
            if (decision instanceof Decision.AlreadyCovered || decision instanceof Decision.TooClose) {
                if (ctx.applied().index() >= ctx.target().index() - 1) {
                    if (!ctx.logEmptyPastState()) {
                        // The state reaches the target, yet the leader asked: this voting member's
                        // consensus log disagrees past its state. Only an install of a newer saved
                        // state resets that log (see SessionContext#logEmptyPastState).
                        log.info("thread {}: {} for block {}, but the consensus log needs a newer state than log "
                                + "index {}: loading it", thread.name(), decision, chosen.block().hex(),
                                ctx.applied().index());
                        return load(chosen, true);
                    }
                    log.info("thread {}: {} for block {}; the state already reaches log index {}", thread.name(),
                            decision, chosen.block().hex(), ctx.applied().index());
                    return ctx.applied();
                }
                log.info("thread {}: {} for block {} (height {}): replaying the log from index {} instead of loading",
                        thread.name(), decision, chosen.block().hex(), chosen.height(), ctx.applied().index() + 1);
                try {
                    return REPLAY.session(ctx).run();
                } catch (SyncException e) {
                    // The peers no longer hold the entries: the offer is the only way left.
                    log.info("thread {}: cannot replay ({}); loading block {} after all", thread.name(),
                            e.getMessage(), chosen.block().hex());
                    replayFailed = true;
                }
            }
            return load(chosen, replayFailed);
        }

        /**
         * Loads the chosen offer through the loader; {@code mustImport} (the log cannot be replayed, or
         * the consensus log needs a newer state): its decide answers import whatever is near.
         */
        private LogPosition load(Offer chosen, boolean mustImport) throws Exception {
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
                        new GroupRepository(chosen, mustImport), output);
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
                    // The state moved between the session's decision and the load's: the next attempt decides again.
                    case LoadResult.Skipped s -> throw new SyncException("load skipped: " + s.reason());
                    case LoadResult.Failed f -> {
                        ctx.failedOffers().failed(chosen.record().manifest());
                        throw new SyncException(f.reason());
                    }
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

        /**
         * The group as the load's repository: chunks go to its store; the install goes through its
         * replica; decisions and pruning are the ledger's.
         */
        private final class GroupRepository implements StateRepository {
            private final Offer offer;
            /** Nearness is no reason to skip: the log cannot be replayed, or the consensus log needs a newer state. */
            private final boolean mustImport;

            GroupRepository(Offer offer, boolean mustImport) {
                this.offer = offer;
                this.mustImport = mustImport;
            }

            @Override
            public ContentStore store(ThreadId t) {
                return ctx.store();
            }

            @Override
            public Decision decide(ThreadId t, BlockId block, long height) {
                Decision d = parts.ledger().decide(t, block, height);
                // Unless the state moved past the offer meanwhile: then the next attempt decides again.
                if (mustImport && ctx.applied().index() < offer.record().index()) {
                    return switch (d) {
                        case Decision.TooClose c -> new Decision.ImportNeeded(c.distance());
                        case Decision.AlreadyCovered c -> new Decision.ImportNeeded(c.distance());
                        default -> d;
                    };
                }
                return d;
            }

            @Override
            public void install(ThreadId t, BlockId block, Cid manifest) throws IOException {
                if (!manifest.equals(offer.record().manifest())) {
                    throw new IOException("loaded " + manifest + ", not the offered " + offer.record().manifest());
                }
                parts.chain().expectInstallOf(offer.block());
                ctx.install(offer.record());
            }

            @Override
            public void pruneBelow(ThreadId t, long height) {
                parts.ledger().pruneBelow(t, height);
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
