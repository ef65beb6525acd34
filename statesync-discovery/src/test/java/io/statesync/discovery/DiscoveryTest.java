package io.statesync.discovery;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
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

    static void await(String what, Duration limit, BooleanSupplier condition) throws InterruptedException {
        long until = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > until) {
                throw new AssertionError("timed out after " + limit + " waiting until " + what);
            }
            Thread.sleep(20);
        }
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
        await("every node holds the 4 other cards", Duration.ofSeconds(20),
                () -> nodes.stream().allMatch(d -> d.catalog().cards().size() == 4));
        System.out.printf("5 nodes converged on cards in %d ms%n", (System.nanoTime() - t0) / 1_000_000);

        Cid fresh = cid("snap-new");
        nodes.get(2).advertise(ad(fresh, 99));

        await("the new snapshot reached the other 4", Duration.ofSeconds(20),
                () -> nodes.stream().filter(d -> d != nodes.get(2))
                        .allMatch(d -> d.catalog().holders(fresh).size() == 1
                                && d.catalog().newest("t0").map(s -> s.root().equals(fresh)).orElse(false)));
    }

    @Test
    void aNodeThatLeavesDropsOutOfTheCatalogAndReturnsWhenRestarted() throws Exception {
        NodeIdentity stayingId = NodeIdentity.generate(), leavingId = NodeIdentity.generate();
        Discovery staying = node(stayingId, "http://127.0.0.1:9201");
        Discovery leaving = node(leavingId, "http://127.0.0.1:9202");
        await("they see each other", Duration.ofSeconds(20), () -> staying.catalog().cards().size() == 1);

        leaving.close();
        await("the leaver is gone", Duration.ofSeconds(20), () -> staying.catalog().cards().isEmpty());

        node(leavingId, "http://127.0.0.1:9202");
        await("the restarted node is back, same id", Duration.ofSeconds(20),
                () -> staying.catalog().cards().size() == 1 && staying.catalog().cards().get(0).id().equals(leavingId.id()));
    }

    @Test
    void forgedAndExpiredCardsOnTheWireAreDroppedAndCounted() throws Exception {
        Discovery honest = node(NodeIdentity.generate(), "http://127.0.0.1:9301");
        NodeIdentity mallory = NodeIdentity.generate();
        byte[] expired = CardCodec.encode(new NodeCard(mallory.id(), mallory.publicKey(), List.of(URI.create("http://evil:1")),
                List.of(), List.of(), 1, Instant.now().minusSeconds(5)), mallory);
        byte[] forged = CardCodec.encode(new NodeCard(mallory.id(), mallory.publicKey(), List.of(URI.create("http://evil:1")),
                List.of(), List.of(), 2, Instant.now().plusSeconds(600)), mallory);
        forged[forged.length - 5] ^= 0x40;
        ScaleCubeMembership rogue = member();
        closeLater.add(rogue);

        rogue.publish(expired);
        await("the expired card was dropped", Duration.ofSeconds(20), () -> rejected("expired") >= 1);
        rogue.publish(forged);
        await("the forged card was dropped", Duration.ofSeconds(20), () -> rejected("bad_signature") >= 1);
        rogue.publish("garbage, not a card".getBytes(StandardCharsets.UTF_8));
        await("garbage was dropped", Duration.ofSeconds(20), () -> rejected("malformed") >= 1);

        assertEquals(List.of(), honest.catalog().cards());
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
        await("the client sees both", Duration.ofSeconds(20), () -> client.catalog().holders(root).size() == 2);
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
        await("the client sees two holders", Duration.ofSeconds(20), () -> client.catalog().holders(snap.root()).size() == 2);
        DiscoveryResolver resolver = client.resolver(TrustedSet.everyone(), List.of(), new SourceScores());
        ContentStore local = ContentStore.open(tmp.resolve("local"));
        FileShareServer[] late = new FileShareServer[1];

        Thread churn = Thread.ofVirtual().name("test-churn").start(() -> {
            try {
                Thread.sleep(1500);
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
                    .withChunkDeadline(Duration.ofSeconds(5)).withRetryWait(Duration.ofMillis(100)).withMaxTries(20), null);
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
}
