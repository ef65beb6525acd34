package io.statesync.discovery;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.discovery.card.CardCodec;
import io.statesync.discovery.card.CardException;
import io.statesync.discovery.card.NodeCard;
import io.statesync.discovery.card.NodeId;
import io.statesync.discovery.card.NodeIdentity;
import io.statesync.discovery.card.SnapshotAd;
import io.statesync.discovery.catalog.Catalog;
import io.statesync.discovery.catalog.DiscoveryResolver;
import io.statesync.discovery.catalog.TrustedSet;
import io.statesync.discovery.membership.Member;
import io.statesync.discovery.membership.Membership;
import io.statesync.discovery.membership.MembershipEvent;
import io.statesync.transfer.fetch.Source;
import io.statesync.transfer.fetch.SourceScores;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's view of the cluster: it publishes this node's signed card by gossip (refreshed
 * before it expires, re-versioned on every change) and turns the cards of others into the
 * {@link Catalog}, after checking each one. A forged, expired, oversize or garbled card is
 * dropped and counted, never fatal. An observer (no identity) publishes nothing.
 *
 * <p>This node's card is bounded: it shows the newest {@code adsPerGroup} snapshots of each
 * group plus the {@linkplain #pin pinned} older ones, and leaves the oldest off until it encodes
 * under {@code maxCardBytes}, so it can always be published. A card that could not be published
 * would expire on the others, and the node would drop out of their catalogs.
 */
public final class Discovery implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Discovery.class);

    private final DiscoveryConfig config;
    private final NodeIdentity identity;
    private final Membership membership;
    private final Catalog catalog;
    private final Clock clock;
    private final MeterRegistry registry;
    private final ScheduledExecutorService ticker;
    private final AutoCloseable subscription;
    /** Which node id each gossip member's card named, so a departure can be mapped back. */
    private final Map<String, NodeId> nodeOfMember = new ConcurrentHashMap<>();
    /**
     * The snapshots this node holds and serves, by root, in advertising order; guarded by this.
     * The card shows a bounded selection of them ({@link #selection}). A change whose publish
     * fails is undone, so this never holds an ad no card could carry and no caller knows of.
     */
    private final Map<Cid, SnapshotAd> advertised = new LinkedHashMap<>();
    /** Advertised roots kept on the card past the newest of their group (see {@link #pin}); guarded by this. */
    private Set<Cid> pinned = Set.of();
    /** The card last published, or null before the first; guarded by this. */
    private NodeCard published;
    private long version;

    /**
     * What a node says about itself and whom it believes.
     *
     * @param shareUrls where this node serves blobs
     * @param groups the groups or threads it serves
     * @param cardTtl how long a published card stays valid; it is refreshed at a third of that
     * @param acceptedKeys if not null, only cards signed by these nodes are accepted at all
     * @param maxCardBytes larger cards are dropped; this node's own card always encodes to fewer
     *     bytes (keep it no larger than the membership's {@code maxMetadataBytes})
     * @param adsPerGroup how many of each group's newest snapshots the card always shows; older
     *     ones only while {@linkplain #pin pinned}, and only as far as {@code maxCardBytes} allows
     */
    public record DiscoveryConfig(List<URI> shareUrls, List<String> groups, Duration cardTtl, Set<NodeId> acceptedKeys,
                                  int maxCardBytes, int adsPerGroup) {
        /**
         * Four: a node's groups retain two snapshots by default, a third may be being written,
         * and one more lets a peer that read the card a save ago still find what it read. Four
         * ads of about 320 bytes per group leave most of a 16 KiB card for pinned ones.
         */
        public static final int DEFAULT_ADS_PER_GROUP = 4;

        public DiscoveryConfig {
            shareUrls = List.copyOf(shareUrls);
            groups = List.copyOf(groups);
            acceptedKeys = acceptedKeys == null ? null : Set.copyOf(acceptedKeys);
            if (cardTtl.compareTo(Duration.ofSeconds(3)) < 0 || cardTtl.compareTo(CardCodec.MAX_LIFETIME) > 0) {
                // Past the longest life other nodes accept, every card of this node would be refused.
                throw new IllegalArgumentException("card TTL must be 3s .. " + CardCodec.MAX_LIFETIME.toHours()
                        + "h, got " + cardTtl);
            }
            if (adsPerGroup < 1) {
                throw new IllegalArgumentException("ads per group must be at least 1, got " + adsPerGroup);
            }
        }

        /** A node serving at {@code shareUrls}: 10 minute cards, any signer accepted, 16 KiB cards, 4 ads per group. */
        public static DiscoveryConfig serving(List<URI> shareUrls, List<String> groups) {
            return new DiscoveryConfig(shareUrls, groups, Duration.ofMinutes(10), null, CardCodec.DEFAULT_MAX_BYTES,
                    DEFAULT_ADS_PER_GROUP);
        }

        public DiscoveryConfig withCardTtl(Duration ttl) {
            return new DiscoveryConfig(shareUrls, groups, ttl, acceptedKeys, maxCardBytes, adsPerGroup);
        }

        public DiscoveryConfig withAcceptedKeys(Set<NodeId> keys) {
            return new DiscoveryConfig(shareUrls, groups, cardTtl, keys, maxCardBytes, adsPerGroup);
        }

        public DiscoveryConfig withAdsPerGroup(int ads) {
            return new DiscoveryConfig(shareUrls, groups, cardTtl, acceptedKeys, maxCardBytes, ads);
        }
    }

    private Discovery(DiscoveryConfig config, NodeIdentity identity, Membership membership, Clock clock, MeterRegistry registry) {
        this.config = config;
        this.identity = identity;
        this.membership = membership;
        this.clock = clock;
        this.registry = registry;
        this.catalog = new Catalog(clock);
        this.ticker = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("statesync-discovery-" + (identity == null ? "observer" : identity.id().value().substring(0, 8)))
                        .daemon(true).factory());
        this.subscription = membership.subscribe(this::onEvent);
    }

    /**
     * Starts publishing this node's card on {@code membership} and collecting the others'. Takes
     * ownership of {@code membership}: {@link #close()} leaves the cluster.
     *
     * @param identity this node's keys, or null for an observer that publishes nothing
     */
    public static Discovery start(DiscoveryConfig config, NodeIdentity identity, Membership membership, MeterRegistry registry) {
        Objects.requireNonNull(config, "config");
        Discovery d = new Discovery(config, identity, membership, Clock.systemUTC(), registry);
        for (Member m : membership.members()) {
            d.take(m);
        }
        if (identity != null) {
            synchronized (d) {
                d.publish(true);
            }
        }
        long period = Math.max(1000, config.cardTtl().toMillis() / 3);
        d.ticker.scheduleAtFixedRate(d::tick, period, period, TimeUnit.MILLISECONDS);
        return d;
    }

    /** This node's id, or null for an observer. */
    public NodeId id() {
        return identity == null ? null : identity.id();
    }

    /** The verified cards of the live nodes. */
    public Catalog catalog() {
        return catalog;
    }

    /** A resolver over this catalog for downloads. */
    public DiscoveryResolver resolver(TrustedSet trusted, List<Source> staticStorages, SourceScores scores) {
        return new DiscoveryResolver(catalog, trusted, staticStorages, scores);
    }

    /**
     * Adds (or replaces) a snapshot this node serves and republishes the card at once if that
     * changes it. The card shows it while it is among the newest of its group or {@linkplain
     * #pin pinned}; withdraw it once it is no longer held.
     *
     * @throws RuntimeException if the card cannot be published; the snapshot is then not advertised
     */
    public void advertise(SnapshotAd snapshot) {
        Objects.requireNonNull(snapshot, "snapshot");
        change(() -> advertised.put(snapshot.root(), snapshot));
    }

    /**
     * Stops advertising a snapshot (e.g. pruned), and republishes the card if it showed it.
     *
     * @throws RuntimeException if the card cannot be published; the snapshot then stays advertised
     */
    public void withdraw(Cid root) {
        change(() -> advertised.remove(root));
    }

    /**
     * Which advertised snapshots the card keeps showing after newer ones of their group have
     * pushed them out of the newest {@code adsPerGroup}: those this node keeps for its peers (a
     * node's groups keep an older snapshot only while a peer leases it). Replaces the previous
     * set; republishes only if the card changes. Pinned ads fill the card's byte budget newest
     * first; the oldest are left off when it is full.
     *
     * @throws RuntimeException if the card cannot be published; the previous set then stays
     */
    public void pin(Set<Cid> roots) {
        Set<Cid> copy = Set.copyOf(roots);
        change(() -> pinned = copy);
    }

    /** The card this node last published. */
    public synchronized NodeCard card() {
        requireIdentity();
        return published;
    }

    /** Applies a change to the ads and publishes its card, or undoes it if that fails. */
    private void change(Runnable edit) {
        requireIdentity();
        synchronized (this) {
            Map<Cid, SnapshotAd> adsBefore = new LinkedHashMap<>(advertised);
            Set<Cid> pinnedBefore = pinned;
            edit.run();
            if (advertised.equals(adsBefore) && pinned.equals(pinnedBefore)) {
                return; // Nothing new (the node re-pins the same set several times a second).
            }
            try {
                publish(false);
            } catch (RuntimeException e) {
                // Keeping the change would leave an ad no card carries and no caller tracks (the
                // caller saw this fail), stuck until restart; undone, the caller may try again.
                advertised.clear();
                advertised.putAll(adsBefore);
                pinned = pinnedBefore;
                throw e;
            }
        }
    }

    /**
     * Publishes the card of the current {@link #selection}, cut to the byte budget; unless
     * {@code refresh}, only if its ads differ from the last card's. Caller holds this.
     */
    private void publish(boolean refresh) {
        List<SnapshotAd> ranked = selection();
        if (!refresh && published != null && inAdvertisingOrder(ranked).equals(published.snapshots())) {
            return;
        }
        // Versions never go back, even across restarts, because they start from the clock.
        long next = Math.max(version + 1, clock.millis());
        Encoded card = fit(ranked, next);
        if (!refresh && published != null && card.card().snapshots().equals(published.snapshots())) {
            return;
        }
        membership.publish(card.bytes());
        version = next;
        published = card.card();
    }

    /** A signed card and its bytes. */
    private record Encoded(NodeCard card, byte[] bytes) {
    }

    /**
     * The card with the longest prefix of {@code ranked} that encodes to fewer than {@code
     * maxCardBytes} (and lists at most what a decoder takes). The encoded size grows with every
     * ad, so a binary search over the prefix length finds it in a few signatures.
     */
    private Encoded fit(List<SnapshotAd> ranked, long cardVersion) {
        int hi = Math.min(ranked.size(), CardCodec.MAX_LIST);
        Encoded all = encode(ranked.subList(0, hi), cardVersion);
        if (fits(all)) {
            return all;
        }
        Encoded best = encode(List.of(), cardVersion);
        if (!fits(best)) {
            throw new IllegalStateException("this node's card is " + best.bytes().length
                    + " bytes without any snapshot, not under the limit of " + config.maxCardBytes()
                    + "; list fewer share URLs or groups");
        }
        int lo = 0; // ranked[0, lo) fits, ranked[0, hi) does not
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            Encoded e = encode(ranked.subList(0, mid), cardVersion);
            if (fits(e)) {
                lo = mid;
                best = e;
            } else {
                hi = mid;
            }
        }
        log.debug("card cut to {} of {} snapshots to stay under {} bytes", lo, ranked.size(), config.maxCardBytes());
        return best;
    }

    private boolean fits(Encoded e) {
        return e.bytes().length < config.maxCardBytes();
    }

    private Encoded encode(List<SnapshotAd> ads, long cardVersion) {
        // Whole milliseconds, as on the wire, so card() equals the card the others decode.
        Instant expires = clock.instant().plus(config.cardTtl()).truncatedTo(ChronoUnit.MILLIS);
        NodeCard card = new NodeCard(identity.id(), identity.publicKey(), config.shareUrls(), config.groups(),
                inAdvertisingOrder(ads), cardVersion, expires);
        return new Encoded(card, CardCodec.encode(card, identity));
    }

    /** {@code ads} in the order they were advertised, so a card's list does not churn. Caller holds this. */
    private List<SnapshotAd> inAdvertisingOrder(List<SnapshotAd> ads) {
        Set<Cid> chosen = new HashSet<>();
        ads.forEach(a -> chosen.add(a.root()));
        return advertised.values().stream().filter(a -> chosen.contains(a.root())).toList();
    }

    /**
     * The ads the card may show, most important first, so a budget cut drops from the end: first
     * the newest {@code adsPerGroup} of every group, then the pinned older ones; within each,
     * by age in the group (every group's newest, then every group's second newest, ...). Newest
     * means highest height, the later advertised on a tie. Ads neither newest nor pinned are not
     * shown at all. Caller holds this.
     */
    private List<SnapshotAd> selection() {
        record Ranked(SnapshotAd ad, int tier, int age, int order) {
        }
        Map<String, List<Ranked>> byGroup = new LinkedHashMap<>();
        int order = 0;
        for (SnapshotAd ad : advertised.values()) {
            byGroup.computeIfAbsent(Objects.toString(ad.group(), ""), g -> new ArrayList<>())
                    .add(new Ranked(ad, 0, 0, order++));
        }
        List<Ranked> shown = new ArrayList<>();
        for (List<Ranked> group : byGroup.values()) {
            group.sort(Comparator.comparingLong((Ranked r) -> r.ad().height()).thenComparingInt(Ranked::order).reversed());
            for (int age = 0; age < group.size(); age++) {
                Ranked r = group.get(age);
                if (age < config.adsPerGroup()) {
                    shown.add(new Ranked(r.ad(), 0, age, r.order()));
                } else if (pinned.contains(r.ad().root())) {
                    shown.add(new Ranked(r.ad(), 1, age, r.order()));
                }
            }
        }
        shown.sort(Comparator.comparingInt(Ranked::tier).thenComparingInt(Ranked::age)
                .thenComparing(Comparator.comparingInt(Ranked::order).reversed()));
        return shown.stream().map(Ranked::ad).toList();
    }

    private void tick() {
        try {
            if (identity != null) {
                synchronized (this) {
                    publish(true);
                }
            }
            catalog.expire();
        } catch (RuntimeException e) {
            log.warn("discovery refresh failed: {}", e.toString());
        }
    }

    private void onEvent(MembershipEvent e) {
        switch (e) {
            case MembershipEvent.Joined j -> take(j.member());
            case MembershipEvent.Updated u -> take(u.member());
            case MembershipEvent.Left l -> drop(l.member());
            case MembershipEvent.Failed f -> drop(f.member());
        }
    }

    private void take(Member m) {
        byte[] meta = m.metadata();
        if (meta == null || meta.length == 0) {
            return; // An observer, or a node that has not published yet.
        }
        try {
            NodeCard card = CardCodec.decode(meta, config.maxCardBytes(), config.acceptedKeys(), clock.instant());
            if (identity != null && card.id().equals(identity.id())) {
                return;
            }
            NodeId previous = nodeOfMember.put(m.id(), card.id());
            if (previous != null && !previous.equals(card.id())) {
                catalog.remove(previous);
            }
            catalog.accept(card);
        } catch (CardException ex) {
            Counter.builder("statesync.discovery.cards.rejected").description("cards dropped, by reason")
                    .tag("reason", ex.reason().name().toLowerCase(java.util.Locale.ROOT)).register(registry).increment();
            log.debug("dropped the card of member {} at {}: {}", m.id(), m.address(), ex.getMessage());
        }
    }

    private void drop(Member m) {
        NodeId id = nodeOfMember.remove(m.id());
        if (id != null) {
            catalog.remove(id);
        }
    }

    private void requireIdentity() {
        if (identity == null) {
            throw new IllegalStateException("an observer has no card");
        }
    }

    /** Stops refreshing, leaves the cluster gracefully and closes the membership. */
    @Override
    public void close() throws Exception {
        ticker.shutdownNow();
        ticker.awaitTermination(5, TimeUnit.SECONDS);
        try (AutoCloseable s = subscription) {
            membership.close();
        }
    }
}
