package io.statesync.discovery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.snapshot.Materializer;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.snapshot.SnapshotRef;
import io.statesync.core.store.ContentStore;
import io.statesync.core.testing.Await;
import io.statesync.core.testing.TestTrees;
import io.statesync.discovery.Discovery.DiscoveryConfig;
import io.statesync.discovery.card.CardCodec;
import io.statesync.discovery.card.NodeCard;
import io.statesync.discovery.card.NodeIdentity;
import io.statesync.discovery.card.SnapshotAd;
import io.statesync.discovery.catalog.DiscoveryResolver;
import io.statesync.discovery.catalog.TrustedSet;
import io.statesync.discovery.membership.MembershipConfig;
import io.statesync.discovery.membership.ScaleCubeMembership;
import io.statesync.transfer.fetch.FetchOptions;
import io.statesync.transfer.fetch.FetchResult;
import io.statesync.transfer.fetch.SnapshotFetcher;
import io.statesync.transfer.fetch.Source;
import io.statesync.transfer.fetch.SourceScores;
import io.statesync.transfer.fetch.SourceStats;
import io.statesync.transfer.server.FileShareServer;
import io.statesync.transfer.server.ServerConfig;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Discovery on real gossip nodes on loopback: cards, catalog, trust and a download that follows the cluster. */
@Timeout(120)
class DiscoveryTest {
    @TempDir
    Path tmp;
    final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    final List<AutoCloseable> closeLater = new ArrayList<>();
    InetSocketAddress seed;

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closeLater.size() - 1; i >= 0; i--) {
            closeLater.get(i).close();
        }
    }

    private ScaleCubeMembership member() {
        MembershipConfig c = MembershipConfig.loopback();
        if (seed != null) {
            c = c.withSeeds(List.of(seed));
        }
        ScaleCubeMembership m = ScaleCubeMembership.start(c, registry);
        if (seed == null) {
            seed = m.self().address();
        }
        return m;
    }

    private Discovery node(NodeIdentity id, String url) {
        Discovery d = Discovery.start(DiscoveryConfig.serving(List.of(URI.create(url)), List.of("t0")), id, member(), registry);
        closeLater.add(d);
        return d;
    }

    private static SnapshotAd ad(Cid root, long height) {
        return new SnapshotAd(root, Map.of(SnapshotAd.GROUP, "t0", SnapshotAd.HEIGHT, Long.toString(height)));
    }

    private static Cid cid(String s) {
        return Cid.compute(Codec.DAG_JSON, s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void fiveNodesConvergeOnEachOthersCardsAndANewSnapshotReachesThemAll() throws Exception {
        List<Discovery> nodes = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            Discovery d = node(NodeIdentity.generate(), "http://127.0.0.1:" + (9100 + i));
            d.advertise(ad(cid("snap-" + i), 10 + i));
            nodes.add(d);
        }

        long t0 = System.nanoTime();
        Await.until("every node holds the 4 other cards", Duration.ofSeconds(20),
                () -> nodes.stream().allMatch(d -> d.catalog().cards().size() == 4));
        System.out.printf("5 nodes converged on cards in %d ms%n", (System.nanoTime() - t0) / 1_000_000);

        Cid fresh = cid("snap-new");
        nodes.get(2).advertise(ad(fresh, 99));

        Await.until("the new snapshot reached the other 4", Duration.ofSeconds(20),
                () -> nodes.stream().filter(d -> d != nodes.get(2))
                        .allMatch(d -> d.catalog().holders(fresh).size() == 1
                                && d.catalog().newest("t0").map(s -> s.root().equals(fresh)).orElse(false)));
    }

    @Test
    void aNodeThatLeavesDropsOutOfTheCatalogAndReturnsWhenRestarted() throws Exception {
        NodeIdentity stayingId = NodeIdentity.generate(), leavingId = NodeIdentity.generate();
        Discovery staying = node(stayingId, "http://127.0.0.1:9201");
        Discovery leaving = node(leavingId, "http://127.0.0.1:9202");
        Await.until("they see each other", Duration.ofSeconds(20), () -> staying.catalog().cards().size() == 1);

        leaving.close();
        Await.until("the leaver is gone", Duration.ofSeconds(20), () -> staying.catalog().cards().isEmpty());

        node(leavingId, "http://127.0.0.1:9202");
        Await.until("the restarted node is back, same id", Duration.ofSeconds(20),
                () -> staying.catalog().cards().size() == 1 && staying.catalog().cards().get(0).id().equals(leavingId.id()));
    }

    private double rejected(String reason) {
        var c = registry.find("statesync.discovery.cards.rejected").tag("reason", reason).counter();
        return c == null ? 0 : c.count();
    }

    @Test
    void onlyTrustedLiveHoldersAndStaticStoragesAreSources() throws Exception {
        NodeIdentity a = NodeIdentity.generate(), b = NodeIdentity.generate();
        Cid root = cid("shared");
        node(a, "http://127.0.0.1:9401").advertise(ad(root, 5));
        node(b, "http://127.0.0.1:9402").advertise(ad(root, 5));
        Discovery client = node(NodeIdentity.generate(), "http://127.0.0.1:9403");
        Await.until("the client sees both", Duration.ofSeconds(20), () -> client.catalog().holders(root).size() == 2);
        TrustedSet trusted = TrustedSet.of(List.of(a.id()));
        Source storage = Source.parse("http://127.0.0.1:9999/store");

        DiscoveryResolver resolver = client.resolver(trusted, List.of(storage), new SourceScores());

        assertEquals(List.of(storage, Source.parse("http://127.0.0.1:9401")), resolver.resolve(root));
        trusted.replace(List.of(a.id(), b.id()));
        assertEquals(3, resolver.resolve(root).size());
    }

    @Test
    void aDownloadWhoseSourcesLeaveFinishesFromANodeThatJoinsMidway() throws Exception {
        Path input = tmp.resolve("input");
        TestTrees.write(input, 11, 6, 8L << 20);
        ContentStore origin = ContentStore.open(tmp.resolve("origin"));
        SnapshotRef snap = SnapshotImporter.importPaths(origin, List.of(input), 256 * 1024, Map.of());
        PrometheusMeterRegistry prom = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        // Slow first sources (1 MiB/s each), so the download is still running when they leave.
        ServerConfig slow = ServerConfig.loopback().withMaxBytesPerSecond(1L << 20);
        // The client starts first: it is the gossip seed, and it stays while the others come and go.
        Discovery client = node(NodeIdentity.generate(), "http://127.0.0.1:9503");
        FileShareServer sa = FileShareServer.start(slow, origin, prom);
        FileShareServer sb = FileShareServer.start(slow, origin, prom);
        Discovery a = node(NodeIdentity.generate(), sa.uri().toString());
        Discovery b = node(NodeIdentity.generate(), sb.uri().toString());
        a.advertise(ad(snap.root(), 1));
        b.advertise(ad(snap.root(), 1));
        Await.until("the client sees two holders", Duration.ofSeconds(20),
                () -> client.catalog().holders(snap.root()).size() == 2);
        DiscoveryResolver resolver = client.resolver(TrustedSet.everyone(), List.of(), new SourceScores());
        ContentStore local = ContentStore.open(tmp.resolve("local"));
        FileShareServer[] late = new FileShareServer[1];
        // The first two leave once each has delivered (seen in the fetch's progress), not after a
        // fixed time: on a loaded machine the fetch may not have started by then.
        java.util.concurrent.CountDownLatch bothDelivered = new java.util.concurrent.CountDownLatch(1);
        java.util.function.Consumer<io.statesync.transfer.fetch.FetchProgress> progress = p -> {
            if (p.sources().size() >= 2 && p.sources().stream().filter(s -> s.chunks() > 0).count() >= 2) {
                bothDelivered.countDown();
            }
        };

        Thread churn = Thread.ofVirtual().name("test-churn").start(() -> {
            try {
                bothDelivered.await(30, java.util.concurrent.TimeUnit.SECONDS);
                sa.close();
                sb.close();
                a.close();
                b.close();
                Thread.sleep(500);
                late[0] = FileShareServer.start(ServerConfig.loopback(), origin, prom);
                node(NodeIdentity.generate(), late[0].uri().toString()).advertise(ad(snap.root(), 1));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        FetchResult r;
        try (SnapshotFetcher fetcher = new SnapshotFetcher(local, registry)) {
            r = fetcher.fetch(snap.root(), resolver, FetchOptions.DEFAULT.withDeadline(Duration.ofSeconds(60))
                    .withChunkDeadline(Duration.ofSeconds(5)).withRetryWait(Duration.ofMillis(100)).withMaxTries(20), progress);
        } finally {
            churn.join();
            if (late[0] != null) {
                closeLater.add(late[0]);
            }
        }

        SourceStats third = r.sources().stream().filter(s -> s.source().equals(new Source(late[0].uri()))).findFirst().orElseThrow();
        assertTrue(third.chunks() > 0, third.summary());
        assertTrue(r.sources().stream().filter(s -> !s.source().equals(third.source())).allMatch(s -> s.chunks() > 0),
                "the first two had delivered before they left: " + r.sources());
        Path out = tmp.resolve("out");
        Materializer.materialize(r.manifest(), local, out, true, null);
        TestTrees.assertSameTree(input, out);
    }

    /** An ad shaped like a node's saved state (block, state root, share path), about 320 bytes on the card. */
    private static SnapshotAd savedState(String group, long height) throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        String block = HexFormat.of().formatHex(sha.digest((group + "/block/" + height).getBytes(StandardCharsets.UTF_8)));
        String state = HexFormat.of().formatHex(sha.digest((group + "/state/" + height).getBytes(StandardCharsets.UTF_8)));
        return new SnapshotAd(cid(group + "/" + height), Map.of(SnapshotAd.GROUP, group, SnapshotAd.HEIGHT, Long.toString(height),
                SnapshotAd.BLOCK, block, SnapshotAd.STATE_ROOT, state, "sharePath", "groups/6f1c0e2a9b7d4c358e0a1f2b3c4d5e6f"));
    }

    private static boolean listed(Discovery peer, NodeIdentity node) {
        return peer.catalog().cards().stream().anyMatch(c -> c.id().equals(node.id()));
    }

    private static List<Cid> roots(List<SnapshotAd> ads) {
        return ads.stream().map(SnapshotAd::root).toList();
    }

    @Test
    void twoHundredSavesWithManyLeasesKeepTheCardUnderTheLimitAndTheNodeInItsPeersCatalog() throws Exception {
        Discovery peer = node(NodeIdentity.generate(), "http://127.0.0.1:9601");
        NodeIdentity saverId = NodeIdentity.generate();
        ScaleCubeMembership saverGossip = member();
        Discovery saver = Discovery.start(DiscoveryConfig.serving(List.of(URI.create("http://127.0.0.1:9602")),
                List.of("t0", "t1")), saverId, saverGossip, registry);
        closeLater.add(saver);
        Await.until("the peer lists the saver", Duration.ofSeconds(20), () -> listed(peer, saverId));
        int k = DiscoveryConfig.DEFAULT_ADS_PER_GROUP;
        int limit = CardCodec.DEFAULT_MAX_BYTES;
        Map<String, List<SnapshotAd>> saved = new TreeMap<>(); // per group, oldest first
        Set<Cid> leased = new HashSet<>();
        int cutSaves = 0;
        long t0 = System.nanoTime();

        // Nothing is ever withdrawn, and a peer leases every third save and never lets go: the
        // worst case, which once grew the card to 125 KB.
        for (int i = 0; i < 200; i++) {
            String group = "t" + (i % 2);
            SnapshotAd ad = savedState(group, 10L * (i / 2 + 1));
            saved.computeIfAbsent(group, g -> new ArrayList<>()).add(ad);
            saver.advertise(ad);
            if (i % 3 == 0) {
                leased.add(ad.root());
            }
            saver.pin(leased);

            byte[] published = saverGossip.self().metadata();
            assertTrue(published.length < limit, "save " + i + ": card of " + published.length + " bytes");
            NodeCard card = CardCodec.decode(published, limit, null, Instant.now());
            assertEquals(saver.card(), card, "what the node holds as its card is what it published");
            List<Cid> shown = roots(card.snapshots());
            int eligible = 0;
            for (List<SnapshotAd> ofGroup : saved.values()) {
                List<SnapshotAd> newestFirst = new ArrayList<>(ofGroup.reversed());
                List<Cid> newest = roots(newestFirst.subList(0, Math.min(k, newestFirst.size())));
                assertTrue(shown.containsAll(newest), "save " + i + ": the newest " + k + " are shown: " + newest);
                boolean gap = false;
                for (SnapshotAd older : newestFirst.subList(newest.size(), newestFirst.size())) {
                    boolean pinned = leased.contains(older.root());
                    eligible += pinned ? 1 : 0;
                    if (shown.contains(older.root())) {
                        assertTrue(pinned, "save " + i + ": an old ad is shown only while leased: " + older);
                        assertFalse(gap, "save " + i + ": the oldest leased are left off first");
                    } else if (pinned) {
                        gap = true;
                    }
                }
                eligible += newest.size();
            }
            cutSaves += shown.size() < eligible ? 1 : 0;
            assertTrue(listed(peer, saverId), "save " + i + ": the peer still lists the saver");
        }

        assertTrue(cutSaves > 50, "the leases outgrew the byte budget in the later saves: " + cutSaves);
        long t1 = System.nanoTime();
        NodeCard last = saver.card();
        Await.until("the peer holds the saver's last card", Duration.ofSeconds(20),
                () -> peer.catalog().cards().stream()
                        .anyMatch(c -> c.id().equals(saverId.id()) && c.version() == last.version()));
        System.out.printf("200 saves in %d ms (%d cut to the budget), the peer had the last card %d ms later%n",
                (t1 - t0) / 1_000_000, cutSaves, (System.nanoTime() - t1) / 1_000_000);
        assertEquals(last.snapshots().stream().filter(a -> "t1".equals(a.group())).mapToLong(SnapshotAd::height).max()
                .orElseThrow(), peer.catalog().newest("t1").orElseThrow().height());
        assertEquals(0, rejected("oversize"));
    }

    @Test
    void aPublishTheGossipRefusesIsUndoneSoNoAdIsLeftBehind() throws Exception {
        Discovery peer = node(NodeIdentity.generate(), "http://127.0.0.1:9701");
        NodeIdentity id = NodeIdentity.generate();
        // The gossip takes less than the card limit allows: every publish past 2 KiB fails.
        ScaleCubeMembership small = ScaleCubeMembership.start(MembershipConfig.loopback().withSeeds(List.of(seed))
                .withMaxMetadataBytes(2048), registry);
        Discovery d = Discovery.start(DiscoveryConfig.serving(List.of(URI.create("http://127.0.0.1:9702")), List.of("t0"))
                .withAdsPerGroup(1), id, small, registry);
        closeLater.add(d);
        List<SnapshotAd> ads = new ArrayList<>();
        for (int h = 1; h <= 10; h++) {
            ads.add(savedState("t0", h));
            d.advertise(ads.getLast());
        }
        assertEquals(List.of(ads.get(9)), d.card().snapshots(), "one ad per group: the newest");

        // Pinning older ones grows the card until the gossip refuses it.
        List<SnapshotAd> pinned = new ArrayList<>();
        SnapshotAd refusedPin = null;
        for (int i = 8; i >= 0 && refusedPin == null; i--) {
            NodeCard before = d.card();
            List<SnapshotAd> more = new ArrayList<>(pinned);
            more.add(ads.get(i));
            try {
                d.pin(Set.copyOf(roots(more)));
                pinned = more;
            } catch (IllegalArgumentException refused) {
                refusedPin = ads.get(i);
                assertEquals(before, d.card(), "the card stays the last published one");
                assertEquals(before, CardCodec.decode(small.self().metadata(), 2048, null, Instant.now()));
            }
        }
        assertTrue(refusedPin != null && pinned.size() >= 2, "a few pins fit, then one did not: " + pinned);

        // The refused pin was undone: a new save shows the earlier pins and itself, and fits.
        SnapshotAd next = savedState("t0", 11);
        d.advertise(next);
        List<Cid> expected = new ArrayList<>(roots(pinned).reversed());
        expected.add(next.root());
        assertEquals(expected, roots(d.card().snapshots()));

        // One more pinned ad than fits: the advertise is refused and undone.
        Set<Cid> keep = new HashSet<>(roots(pinned));
        keep.add(next.root());
        d.pin(keep); // the newest is shown anyway: no change, nothing published

        NodeCard before = d.card();
        SnapshotAd refused = savedState("t0", 12);
        assertThrows(IllegalArgumentException.class, () -> d.advertise(refused));
        assertEquals(before, d.card());
        assertEquals(before, CardCodec.decode(small.self().metadata(), 2048, null, Instant.now()));

        // Nothing of it is left behind: once there is room, the card shows what it should and not the refused ad.
        d.withdraw(pinned.getFirst().root());
        assertFalse(roots(d.card().snapshots()).contains(refused.root()), d.card().snapshots().toString());
        assertEquals(before.snapshots().size() - 1, d.card().snapshots().size());
        d.advertise(refused);
        assertTrue(roots(d.card().snapshots()).contains(refused.root()));
        Await.until("the peer holds the last card", Duration.ofSeconds(20), () -> peer.catalog().cards().stream()
                .anyMatch(c -> c.id().equals(id.id()) && c.version() == d.card().version()));
    }
}
