package io.statesync.node.statesync;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.discovery.Discovery;
import io.statesync.discovery.card.NodeCard;
import io.statesync.discovery.card.NodeId;
import io.statesync.discovery.card.SnapshotAd;
import io.statesync.groups.Group;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.ThreadId;
import io.statesync.transfer.fetch.Source;
import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's state-sync service (the seed's {@code StateSyncService}), over its threads' groups:
 * <ul>
 *   <li><b>save for sharing:</b> every replica captures the state after each save block (a
 *       RocksDB snapshot, on the apply path, in microseconds); the thread's group writes the
 *       canonical dump and imports it into its content store off the apply path; when the group
 *       has recorded it, {@link #saveStateForSharing} writes the block's pointer file next to it
 *       (so a static mirror of the store directory answers "which snapshot is block B") and
 *       advertises it by gossip. Retention is the group's: the newest {@code retainSnapshots}
 *       are kept, and never one a peer is fetching (leased). The gossip card shows the newest
 *       few per thread plus the leased ones, within its byte budget (see {@link Discovery}).
 *   <li><b>load:</b> {@link #addLoadStateTask} queues a load on the anchor thread's
 *       {@link StateLoader}; the same loaders serve the groups' catch-up ({@link LedgerSync}).
 *   <li><b>reset:</b> {@link #resetSync} cancels running loads and clears the queues.
 * </ul>
 */
public final class StateSyncService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StateSyncService.class);
    /** Metadata key of an advertisement: the path below the share URL where the thread's store is served. */
    static final String SHARE_PATH = "sharePath";

    /** How often the trusted sources are brought in line with the groups' membership. */
    private static final java.time.Duration TRUST_REFRESH = java.time.Duration.ofSeconds(1);

    /**
     * What the node decides by.
     *
     * @param importMinDistance blocks an offered state must be ahead of the head to be imported
     * @param trustedKeys gossip nodes trusted as sources on every thread, besides the members
     */
    public record Policy(long importMinDistance, List<NodeId> trustedKeys) {
        public static final Policy DEFAULT = new Policy(5, List.of()); // the seed's minimum import distance

        public Policy {
            trustedKeys = List.copyOf(trustedKeys);
        }
    }

    private final LoaderConfig config;
    private final SyncTimeline timeline;
    private final JoinPrefetch prefetch;
    private final Discovery discovery;
    private final MeterRegistry registry;
    private final Map<ThreadId, LedgerSync> strategies = new LinkedHashMap<>();
    /** Each thread's ledger, from its strategy's creation on. */
    private final Map<ThreadId, LocalChain> chains = new java.util.concurrent.ConcurrentHashMap<>();
    /** Each thread's group, once it runs, with this node's member id in it. */
    private final Map<ThreadId, Running> groups = new java.util.concurrent.ConcurrentHashMap<>();
    private record Running(Group group, String self) {
    }

    private final LedgerRepository repository;
    /** Which gossip nodes may be sources, per thread; null without gossip. */
    private final SourceTrust trust;
    /** Refreshes {@link #trust}; started with the first group. Guarded by this. */
    private Thread trustRefresher;
    private volatile boolean closed;
    /** Advertised snapshots by manifest, so that pruned ones can be withdrawn. Guarded by this. */
    private final Set<Cid> advertised = new HashSet<>();

    /** @param discovery gossip, or null when the node runs without it */
    public StateSyncService(LoaderConfig config, Discovery discovery, MeterRegistry registry) {
        this(config, Policy.DEFAULT, discovery, registry, SyncTimeline.ofThisProcess(registry), null);
    }

    /**
     * @param discovery gossip, or null when the node runs without it
     * @param timeline where the loads mark their phases
     * @param prefetch a new node's head start, whose chunks the loads take, or null
     */
    public StateSyncService(LoaderConfig config, Policy policy, Discovery discovery, MeterRegistry registry,
                            SyncTimeline timeline, JoinPrefetch prefetch) {
        this.config = config;
        this.timeline = timeline;
        this.prefetch = prefetch;
        this.discovery = discovery;
        this.registry = registry;
        this.trust = discovery == null ? null : new SourceTrust(policy.trustedKeys(), discovery.id(), config.tls());
        this.repository = new LedgerRepository(policy.importMinDistance(), new LedgerRepository.Threads() {
            @Override
            public Optional<LocalChain> chain(ThreadId thread) {
                return Optional.ofNullable(chains.get(thread));
            }

            @Override
            public Optional<Group> group(ThreadId thread) {
                return Optional.ofNullable(groups.get(thread)).map(Running::group);
            }
        }, this::advertisedAt, registry);
    }

    /** The catch-up strategy of a thread's group; one per thread, each with its own loader. */
    public synchronized LedgerSync strategyFor(ThreadId thread, LocalChain chain) {
        chains.put(thread, chain);
        return strategies.computeIfAbsent(thread, t -> new LedgerSync(t, config,
                new LedgerSync.Parts(this::gossipSources, chain, repository, this::membersSeen, timeline,
                        prefetch),
                registry));
    }

    /**
     * Tells the service that the thread's group runs: its saved states can be pruned, and its
     * members' gossip cards trusted as sources from now on.
     */
    public synchronized void attach(ThreadId thread, Group group) {
        groups.put(thread, new Running(group, group.status().member()));
        if (trust != null && trustRefresher == null && !closed) {
            trustRefresher = Thread.ofVirtual().name("statesync-source-trust").start(this::refreshTrust);
        }
    }

    /** When the node reached each phase of its start and first sync. */
    public SyncTimeline timeline() {
        return timeline;
    }

    /** The node's ledgers as a load repository: decisions and pruning (installs go through catch-up). */
    public StateRepository repository() {
        return repository;
    }

    /** The gossip nodes the thread's loads take bytes from (its group members' and the configured keys). */
    public io.statesync.discovery.catalog.TrustedSet trusted(ThreadId thread) {
        return trust == null ? io.statesync.discovery.catalog.TrustedSet.of(List.of()) : trust.of(thread);
    }

    /** A catch-up's peers are the thread's members now: trust their cards before it decides and loads. */
    private void membersSeen(ThreadId thread, String self, List<io.statesync.groups.sync.Peer> peers)
            throws InterruptedException {
        if (trust != null) {
            trust.refreshFrom(thread, self, peers.stream().filter(p -> p.http() != null)
                    .map(p -> new SourceTrust.MemberUrl(p.id(), p.http())).toList());
        }
    }

    private void refreshTrust() {
        while (!closed) {
            for (Map.Entry<ThreadId, Running> e : groups.entrySet()) {
                try {
                    var members = e.getValue().group().members();
                    // A joiner not yet in the configuration sees no members; its catch-up sessions
                    // refresh from the peers they were given instead (refreshing from nobody here
                    // flapped the set between the two every second).
                    if (members.isEmpty()) {
                        continue;
                    }
                    trust.refresh(e.getKey(), e.getValue().self(), members);
                } catch (InterruptedException stop) {
                    return;
                } catch (RuntimeException ex) {
                    log.warn("thread {}: cannot refresh the trusted sources: {}", e.getKey().name(), ex.toString());
                }
            }
            try {
                Thread.sleep(TRUST_REFRESH);
            } catch (InterruptedException stop) {
                return;
            }
        }
    }

    /**
     * Shares a saved state the thread's group has just recorded: writes its pointer file into the
     * group's store directory and advertises it by gossip.
     */
    public void saveStateForSharing(ThreadId thread, Group group, SnapshotRecord saved) {
        Map<String, String> meta = saved.metadata();
        String block = meta.get("block");
        if (block == null) {
            return;
        }
        try {
            Pointers.write(group.store().root(), thread, BlockId.fromHex(block), saved.manifest());
        } catch (IOException | RuntimeException e) {
            log.warn("thread {}: cannot write the pointer of block {}: {}", thread.name(), block, e.toString());
        }
        Counter.builder("statesync.node.states.shared").tag("thread", thread.name())
                .description("saved states shared (pointer written, advertised)").register(registry).increment();
        if (discovery != null) {
            Map<String, String> ad = new HashMap<>();
            ad.put(SnapshotAd.GROUP, thread.name());
            ad.put(SnapshotAd.HEIGHT, meta.get("height"));
            ad.put(SnapshotAd.BLOCK, block);
            ad.put(SnapshotAd.STATE_ROOT, meta.get("stateRoot"));
            ad.put(SHARE_PATH, "groups/" + group.id());
            try {
                discovery.advertise(new SnapshotAd(saved.manifest(), ad));
            } catch (RuntimeException e) {
                // Discovery undid the ad, so nothing is left to withdraw; the next save advertises
                // a newer one. One line: this runs at every save, a trace each time buries the log.
                log.warn("thread {}: cannot advertise the saved state of block {}: {}", thread.name(), block,
                        e.toString());
                return;
            }
            synchronized (this) {
                advertised.add(saved.manifest());
            }
        }
    }

    /**
     * Brings the gossip ads in line with what the groups hold: withdraws those of snapshots
     * retention has pruned, and pins every snapshot still held, so the card keeps showing one a
     * peer leases after newer saves have pushed it out of the newest few per thread.
     */
    public void withdrawPruned(List<Group> groups) {
        if (discovery == null) {
            return;
        }
        synchronized (this) {
            // Read under the lock: a snapshot enters the set (under it) only after its group
            // recorded it, so every one in the set now is in this read unless it was pruned.
            Set<Cid> held = new HashSet<>();
            for (Group g : groups) {
                g.snapshots().forEach(s -> held.add(s.manifest()));
            }
            for (Cid c : List.copyOf(advertised)) {
                if (!held.contains(c)) {
                    discovery.withdraw(c);
                    advertised.remove(c);
                }
            }
            // Past the newest few, a group holds a snapshot only while a peer leases it.
            held.retainAll(advertised);
            discovery.pin(held);
        }
    }

    /**
     * Queues a load of one saved state per thread of {@code address}, at {@code anchor}; the
     * result goes to {@code output}. See {@link StateLoader#addLoadStateTask}.
     */
    public PushResult addLoadStateTask(SortedMap<ThreadId, BlockId> address, Anchor anchor,
                                       StateRepository repository, LoadOutput output) {
        LedgerSync s;
        synchronized (this) {
            s = strategies.get(anchor.thread());
        }
        if (s == null) {
            throw new IllegalArgumentException("thread " + anchor.thread().name() + " is not run by this node");
        }
        return s.loader().addLoadStateTask(address, anchor, repository, output);
    }

    /** Cancels every running load and clears every queue; returns once no load touches a repository. */
    public void resetSync() {
        List<LedgerSync> all;
        synchronized (this) {
            all = List.copyOf(strategies.values());
        }
        for (LedgerSync s : all) {
            s.loader().resetSync();
        }
    }

    /**
     * Names where the saved state of {@code block} of {@code thread} is, for a load task anchored
     * at {@code anchor} (queued on that thread's loader); {@code null} forgets it. See
     * {@link LedgerSync#hint}.
     */
    public void hint(ThreadId anchor, ThreadId thread, BlockId block, PeerSources.Located where) {
        LedgerSync s;
        synchronized (this) {
            s = strategies.get(anchor);
        }
        if (s != null) {
            s.hint(thread, block, where);
        }
    }

    /** Whether a load runs or waits on the thread's loader. */
    public synchronized boolean loading(ThreadId thread) {
        LedgerSync s = strategies.get(thread);
        return s != null && (s.loader().progress().isPresent() || s.loader().pendingTasks() > 0);
    }

    /** Load tasks queued on the thread's loader and not yet started. */
    public synchronized int pendingTasks(ThreadId thread) {
        LedgerSync s = strategies.get(thread);
        return s == null ? 0 : s.loader().pendingTasks();
    }

    /** A locator of saved states for this service's static storages and gossip (the caller closes it). */
    public BlockLocator locator() {
        return new BlockLocator(config, this::gossipSources);
    }

    /** Where the thread's running load stands, if one runs. */
    public synchronized Optional<LoadProgress> progress(ThreadId thread) {
        LedgerSync s = strategies.get(thread);
        return s == null ? Optional.empty() : s.loader().progress();
    }

    /**
     * Nodes that advertise the block's saved state by gossip and are trusted on the thread (every
     * card's signature was checked by discovery; trust is the signer being a current member of the
     * thread's group, or a configured key). Cards of other signers are counted and left out.
     */
    private List<PeerSources.Located> gossipSources(ThreadId thread, BlockId block) {
        if (discovery == null) {
            return List.of();
        }
        io.statesync.discovery.catalog.TrustedSet trusted = trust.of(thread);
        Map<Cid, List<Source>> found = new LinkedHashMap<>();
        for (NodeCard card : discovery.catalog().cards()) {
            if (card.id().equals(discovery.id()) || card.shareUrls().isEmpty()) {
                continue;
            }
            for (SnapshotAd ad : card.snapshots()) {
                if (thread.name().equals(ad.group()) && block.hex().equals(ad.metadata().get(SnapshotAd.BLOCK))
                        && ad.metadata().containsKey(SHARE_PATH)) {
                    if (!trusted.contains(card.id())) {
                        filtered(thread, "untrusted_signer");
                        log.debug("thread {}: not a source of block {}: {} is not trusted on the thread", thread.name(),
                                block.hex(), card.id());
                        continue;
                    }
                    String base = card.shareUrls().get(0).toString().replaceAll("/+$", "");
                    found.computeIfAbsent(ad.root(), c -> new ArrayList<>())
                            .add(new Source(URI.create(base + "/" + ad.metadata().get(SHARE_PATH))));
                }
            }
        }
        List<PeerSources.Located> out = new ArrayList<>();
        found.forEach((cid, sources) -> out.add(new PeerSources.Located(cid, sources)));
        return out;
    }

    private void filtered(ThreadId thread, String reason) {
        Counter.builder("statesync.sync.sources.filtered")
                .description("gossip sources of a load left out, by reason (untrusted_signer: the card's signer is "
                        + "neither a member of the thread's group nor a configured trusted key)")
                .tag("thread", thread.name()).tag("reason", reason).register(registry).increment();
    }

    /** The blocks trusted peers advertise saved states of at {@code height} on the thread (what the group agrees on there). */
    private Set<BlockId> advertisedAt(ThreadId thread, long height) {
        if (discovery == null) {
            return Set.of();
        }
        io.statesync.discovery.catalog.TrustedSet trusted = trust.of(thread);
        Set<BlockId> out = new HashSet<>();
        String h = Long.toString(height);
        for (NodeCard card : discovery.catalog().cards()) {
            if (card.id().equals(discovery.id()) || !trusted.contains(card.id())) {
                continue;
            }
            for (SnapshotAd ad : card.snapshots()) {
                if (thread.name().equals(ad.group()) && h.equals(ad.metadata().get(SnapshotAd.HEIGHT))) {
                    try {
                        out.add(BlockId.fromHex(ad.metadata().get(SnapshotAd.BLOCK)));
                    } catch (RuntimeException malformed) {
                        // An ad without a block id says nothing about the chain.
                    }
                }
            }
        }
        return out;
    }

    @Override
    public void close() {
        Thread refresher;
        synchronized (this) {
            closed = true;
            refresher = trustRefresher;
            for (LedgerSync s : strategies.values()) {
                s.close();
            }
            strategies.clear();
        }
        if (refresher != null) {
            refresher.interrupt();
            io.statesync.core.concurrent.Uninterruptibly.join(refresher);
        }
        if (trust != null) {
            trust.close();
        }
    }
}
