package io.statesync.node.statesync;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.discovery.Discovery;
import io.statesync.discovery.card.NodeCard;
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

    private final LoaderConfig config;
    private final Discovery discovery;
    private final MeterRegistry registry;
    private final Map<ThreadId, LedgerSync> strategies = new LinkedHashMap<>();
    /** Advertised snapshots by manifest, so that pruned ones can be withdrawn. Guarded by this. */
    private final Set<Cid> advertised = new HashSet<>();

    /** @param discovery gossip, or null when the node runs without it */
    public StateSyncService(LoaderConfig config, Discovery discovery, MeterRegistry registry) {
        this.config = config;
        this.discovery = discovery;
        this.registry = registry;
    }

    /**
     * The catch-up strategy of a thread's group; one per thread, each with its own loader.
     * {@code expectInstall} hears which block an install must hold, right before it.
     */
    public synchronized LedgerSync strategyFor(ThreadId thread, java.util.function.Consumer<BlockId> expectInstall) {
        return strategies.computeIfAbsent(thread, t -> new LedgerSync(t, config, this::gossipSources, registry,
                expectInstall));
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

    /** Where the thread's running load stands, if one runs. */
    public synchronized Optional<LoadProgress> progress(ThreadId thread) {
        LedgerSync s = strategies.get(thread);
        return s == null ? Optional.empty() : s.loader().progress();
    }

    /** Trusted nodes that advertise the block's saved state (every card's signature was checked by discovery). */
    private List<PeerSources.Located> gossipSources(ThreadId thread, BlockId block) {
        if (discovery == null) {
            return List.of();
        }
        Map<Cid, List<Source>> found = new LinkedHashMap<>();
        for (NodeCard card : discovery.catalog().cards()) {
            if (card.id().equals(discovery.id()) || card.shareUrls().isEmpty()) {
                continue;
            }
            for (SnapshotAd ad : card.snapshots()) {
                if (thread.name().equals(ad.group()) && block.hex().equals(ad.metadata().get(SnapshotAd.BLOCK))
                        && ad.metadata().containsKey(SHARE_PATH)) {
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

    @Override
    public synchronized void close() {
        for (LedgerSync s : strategies.values()) {
            s.close();
        }
        strategies.clear();
    }
}
