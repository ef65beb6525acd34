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
import java.util.ArrayList;
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
    /** This node's advertised snapshots, by root, in advertising order; guarded by this. */
    private final Map<Cid, SnapshotAd> advertised = new LinkedHashMap<>();
    private long version;

    /**
     * What a node says about itself and whom it believes.
     *
     * @param shareUrls where this node serves blobs
     * @param groups the groups or threads it serves
     * @param cardTtl how long a published card stays valid; it is refreshed at a third of that
     * @param acceptedKeys if not null, only cards signed by these nodes are accepted at all
     * @param maxCardBytes larger cards are dropped
     */
    public record DiscoveryConfig(List<URI> shareUrls, List<String> groups, Duration cardTtl, Set<NodeId> acceptedKeys,
                                  int maxCardBytes) {
        public DiscoveryConfig {
            shareUrls = List.copyOf(shareUrls);
            groups = List.copyOf(groups);
            acceptedKeys = acceptedKeys == null ? null : Set.copyOf(acceptedKeys);
            if (cardTtl.compareTo(Duration.ofSeconds(3)) < 0) {
                throw new IllegalArgumentException("card TTL must be at least 3s, got " + cardTtl);
            }
        }

        /** A node serving at {@code shareUrls}: 10 minute cards, any signer accepted, 16 KiB cards. */
        public static DiscoveryConfig serving(List<URI> shareUrls, List<String> groups) {
            return new DiscoveryConfig(shareUrls, groups, Duration.ofMinutes(10), null, CardCodec.DEFAULT_MAX_BYTES);
        }

        public DiscoveryConfig withCardTtl(Duration ttl) {
            return new DiscoveryConfig(shareUrls, groups, ttl, acceptedKeys, maxCardBytes);
        }

        public DiscoveryConfig withAcceptedKeys(Set<NodeId> keys) {
            return new DiscoveryConfig(shareUrls, groups, cardTtl, keys, maxCardBytes);
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
            d.publish();
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

    /** Adds (or replaces) a snapshot this node serves, and republishes the card at once. */
    public void advertise(SnapshotAd snapshot) {
        requireIdentity();
        synchronized (this) {
            advertised.put(snapshot.root(), snapshot);
        }
        publish();
    }

    /** Stops advertising a snapshot (e.g. pruned), and republishes the card. */
    public void withdraw(Cid root) {
        requireIdentity();
        synchronized (this) {
            advertised.remove(root);
        }
        publish();
    }

    /** The card this node publishes now. */
    public synchronized NodeCard card() {
        requireIdentity();
        return new NodeCard(identity.id(), identity.publicKey(), config.shareUrls(), config.groups(),
                new ArrayList<>(advertised.values()), version, clock.instant().plus(config.cardTtl()));
    }

    private void publish() {
        byte[] bytes;
        synchronized (this) {
            // Versions never go back, even across restarts, because they start from the clock.
            version = Math.max(version + 1, clock.millis());
            bytes = CardCodec.encode(card(), identity);
        }
        if (bytes.length > config.maxCardBytes()) {
            throw new IllegalStateException("this node's card is " + bytes.length + " bytes, over the limit of "
                    + config.maxCardBytes() + "; advertise fewer snapshots");
        }
        membership.publish(bytes);
    }

    private void tick() {
        try {
            if (identity != null) {
                publish();
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
