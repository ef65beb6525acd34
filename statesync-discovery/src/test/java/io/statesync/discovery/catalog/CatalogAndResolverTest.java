package io.statesync.discovery.catalog;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.discovery.card.NodeCard;
import io.statesync.discovery.card.NodeIdentity;
import io.statesync.discovery.card.SnapshotAd;
import io.statesync.transfer.fetch.Source;
import io.statesync.transfer.fetch.SourceScores;
import java.net.URI;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class CatalogAndResolverTest {
    static final Instant NOW = Instant.parse("2026-11-22T00:00:00Z");
    final Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);
    final Catalog catalog = new Catalog(clock);
    final SourceScores scores = new SourceScores();
    final Cid root = Cid.compute(Codec.DAG_JSON, "snapshot-100".getBytes());

    static SnapshotAd ad(Cid root, String group, long height) {
        return new SnapshotAd(root, Map.of(SnapshotAd.GROUP, group, SnapshotAd.HEIGHT, Long.toString(height)));
    }

    static NodeCard card(NodeIdentity who, String url, long version, Instant expires, SnapshotAd... ads) {
        return new NodeCard(who.id(), who.publicKey(), List.of(URI.create(url)), List.of("t0"), List.of(ads), version, expires);
    }

    @Test
    void aNewerCardReplacesAnOlderOneAndAReplayedOldCardChangesNothing() {
        NodeIdentity n = NodeIdentity.generate();
        Cid newer = Cid.compute(Codec.DAG_JSON, "snapshot-200".getBytes());
        assertTrue(catalog.accept(card(n, "http://a:1", 1, NOW.plusSeconds(60), ad(root, "t0", 100))));
        assertTrue(catalog.accept(card(n, "http://a:1", 2, NOW.plusSeconds(60), ad(newer, "t0", 200))));

        assertFalse(catalog.accept(card(n, "http://a:1", 1, NOW.plusSeconds(60), ad(root, "t0", 100))));

        assertEquals(List.of(), catalog.holders(root));
        assertEquals(newer, catalog.newest("t0").orElseThrow().root());
    }

    @Test
    void theNewestSnapshotPerGroupAndAHeightFloor() {
        NodeIdentity a = NodeIdentity.generate(), b = NodeIdentity.generate();
        Cid r200 = Cid.compute(Codec.DAG_JSON, "s200".getBytes());
        Cid other = Cid.compute(Codec.DAG_JSON, "other".getBytes());
        catalog.accept(card(a, "http://a:1", 1, NOW.plusSeconds(60), ad(root, "t0", 100), ad(other, "t1", 900)));
        catalog.accept(card(b, "http://b:1", 1, NOW.plusSeconds(60), ad(r200, "t0", 200)));

        assertEquals(r200, catalog.newest("t0").orElseThrow().root());
        assertEquals(other, catalog.newest("t1").orElseThrow().root());
        assertTrue(catalog.newest("t0", 201).isEmpty());
        assertTrue(catalog.newest("t9").isEmpty());
    }

    @Test
    void leavingAndExpiredNodesDropOutAndListenersHearIt() {
        NodeIdentity a = NodeIdentity.generate(), b = NodeIdentity.generate();
        List<Catalog.Change> changes = new ArrayList<>();
        catalog.subscribe(changes::add);
        catalog.accept(card(a, "http://a:1", 1, NOW.plusSeconds(60), ad(root, "t0", 1)));
        catalog.accept(card(b, "http://b:1", 1, NOW.minusSeconds(1), ad(root, "t0", 1)));

        assertEquals(1, catalog.holders(root).size(), "an expired card does not count");
        assertEquals(1, catalog.expire());
        catalog.remove(a.id());

        assertEquals(List.of(), catalog.cards());
        assertEquals(4, changes.size());
        assertTrue(changes.get(3) instanceof Catalog.Removed r && r.node().equals(a.id()));
    }

    @Test
    void staticStoragesAreAlwaysIncludedAndUntrustedNodesNever() {
        NodeIdentity trustedNode = NodeIdentity.generate(), stranger = NodeIdentity.generate();
        catalog.accept(card(trustedNode, "http://trusted:1", 1, NOW.plusSeconds(60), ad(root, "t0", 1)));
        catalog.accept(card(stranger, "http://stranger:1", 1, NOW.plusSeconds(60), ad(root, "t0", 1)));
        TrustedSet trusted = TrustedSet.of(List.of(trustedNode.id()));
        Source storage = Source.parse("https://storage.example/snapshots");
        DiscoveryResolver resolver = new DiscoveryResolver(catalog, trusted, List.of(storage), scores);

        List<Source> sources = resolver.resolve(root);

        assertEquals(List.of(storage, Source.parse("http://trusted:1")), sources);
        Cid unknown = Cid.compute(Codec.DAG_JSON, "nobody has it".getBytes());
        assertEquals(List.of(storage), resolver.resolve(unknown), "static storages even when no peer advertises");
        assertTrue(resolver.resolve("t0", 0).orElseThrow().sources().stream().noneMatch(s -> s.toString().contains("stranger")));
    }

    @Test
    void aChangeOfTheTrustedSetChangesTheSourcesAndNotifiesWatchers() throws Exception {
        NodeIdentity a = NodeIdentity.generate();
        catalog.accept(card(a, "http://a:1", 1, NOW.plusSeconds(60), ad(root, "t0", 1)));
        TrustedSet trusted = TrustedSet.of(List.of());
        DiscoveryResolver resolver = new DiscoveryResolver(catalog, trusted, List.of(), scores);
        AtomicInteger notified = new AtomicInteger();
        try (AutoCloseable w = resolver.watch(root, notified::incrementAndGet)) {
            assertEquals(List.of(), resolver.resolve(root));

            trusted.replace(List.of(a.id()));

            assertEquals(List.of(Source.parse("http://a:1")), resolver.resolve(root));
            assertEquals(1, notified.get());
        }
        trusted.replace(List.of());
        assertEquals(1, notified.get(), "a closed watch hears nothing");
    }

    @Test
    void sourcesAreOrderedGoodThenUnknownThenFailing() {
        Source fast = Source.parse("http://fast:1"), slow = Source.parse("http://slow:1");
        Source unknown = Source.parse("http://unknown:1"), failing = Source.parse("http://failing:1");
        scores.recordSuccess(slow, 1 << 20, 1_000_000_000L);
        scores.recordSuccess(fast, 1 << 20, 10_000_000L);
        scores.recordFailure(failing);
        scores.recordFailure(failing);
        DiscoveryResolver resolver = new DiscoveryResolver(catalog, TrustedSet.everyone(),
                List.of(failing, unknown, slow, fast), scores);

        assertEquals(List.of(fast, slow, unknown, failing), resolver.resolve(root));
    }

    @Test
    void duplicateUrlsAppearOnce() {
        NodeIdentity a = NodeIdentity.generate(), b = NodeIdentity.generate();
        catalog.accept(card(a, "http://shared:1/", 1, NOW.plusSeconds(60), ad(root, "t0", 1)));
        catalog.accept(card(b, "http://shared:1", 1, NOW.plusSeconds(60), ad(root, "t0", 1)));
        DiscoveryResolver resolver = new DiscoveryResolver(catalog, TrustedSet.everyone(), List.of(Source.parse("http://shared:1")), scores);

        assertEquals(List.of(Source.parse("http://shared:1")), resolver.resolve(root));
    }
}
