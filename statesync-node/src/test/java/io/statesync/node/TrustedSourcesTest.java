package io.statesync.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.store.ContentStore;
import io.statesync.core.testing.Await;
import io.statesync.discovery.Discovery;
import io.statesync.discovery.Discovery.DiscoveryConfig;
import io.statesync.discovery.card.NodeIdentity;
import io.statesync.discovery.card.SnapshotAd;
import io.statesync.discovery.membership.MembershipConfig;
import io.statesync.discovery.membership.ScaleCubeMembership;
import io.statesync.groups.Group;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.node.ledger.ThreadId;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Trusted sources (the seed's block-keeper set) on a real three-node cluster with gossip: a load
 * takes bytes from gossip nodes only if they sign as a current member of the thread's group. An
 * outsider that joins the gossip with a valid signed card, advertising exactly the saved state a
 * node loads, with the right bytes behind it, is left out and counted.
 */
class TrustedSourcesTest {
    private static final ThreadId T0 = new ThreadId("t0");
    private static final int N3 = 2;

    @TempDir
    Path dir;

    @Test
    void anOutsiderWithAValidCardAndTheRightSnapshotIsNeverAskedForAByte() throws Exception {
        try (Cluster cluster = new Cluster(TestNodes.configure(dir, 3, List.of(T0), 10, true), T0)) {
            for (int i = 0; i < 3; i++) {
                cluster.start(i);
            }
            Await.until("a leader", Duration.ofSeconds(60), () -> cluster.leader() != null);
            cluster.produce(30);
            Node n1 = cluster.nodes[0];
            // The members learned each other's gossip keys from the URLs in the group's configuration.
            Await.until("n1 trusts every running member", Duration.ofSeconds(30),
                    () -> n1.stateSync().trusted(T0).members().containsAll(
                            cluster.running().stream().map(Node::gossipId).toList()));

            // Given n3 stopped far behind, and the saved state it will load held by the members ...
            cluster.stop(N3);
            cluster.produce(20);
            cluster.pushLogPast(300);
            Group g1 = cluster.group(n1);
            List<SnapshotRecord> offered = g1.snapshots();

            // ... and by an outsider: a copy of n1's store behind its own HTTP server, advertised
            // on a card its own key signs.
            Path copy = dir.resolve("outsider-store");
            copyTree(g1.store().root(), copy);
            AtomicInteger asked = new AtomicInteger();
            HttpServer server = serve(ContentStore.open(copy), asked);
            URI share = URI.create("http://127.0.0.1:" + server.getAddress().getPort());
            try (Discovery outsider = Discovery.start(DiscoveryConfig.serving(List.of(share), List.of("t0")),
                    NodeIdentity.generate(), ScaleCubeMembership.start(MembershipConfig.loopback().withSeeds(List.of(
                            new InetSocketAddress("127.0.0.1", n1.config().gossipPort()))), new SimpleMeterRegistry()),
                    new SimpleMeterRegistry())) {
                for (SnapshotRecord r : offered) {
                    Map<String, String> ad = new HashMap<>();
                    ad.put(SnapshotAd.GROUP, "t0");
                    ad.put(SnapshotAd.HEIGHT, r.metadata().get("height"));
                    ad.put(SnapshotAd.BLOCK, r.metadata().get("block"));
                    ad.put(SnapshotAd.STATE_ROOT, r.metadata().get("stateRoot"));
                    ad.put("sharePath", "groups/" + g1.id());
                    outsider.advertise(new SnapshotAd(r.manifest(), ad));
                }
                // The members hold the outsider's card: its signature checks out.
                Await.until("every running node holds the outsider's card", Duration.ofSeconds(30),
                        () -> cluster.running().stream().allMatch(n -> n.discovery().catalog().cards().stream()
                                .anyMatch(c -> c.id().equals(outsider.id())
                                        && c.snapshots().size() >= Math.min(4, offered.size()))));
                assertFalse(n1.stateSync().trusted(T0).contains(outsider.id()));

                // When n3 comes back and loads the offered state:
                cluster.start(N3);
                cluster.awaitLevel(N3, 120);

                // Then the members served it; the outsider was left out, counted, and never asked.
                Node n3 = cluster.nodes[N3];
                assertTrue(Cluster.count(n3, "statesync.node.state.loads", Map.of("outcome", "loaded")) >= 1);
                assertTrue(Cluster.count(n3, "statesync.sync.sources.filtered", Map.of("reason", "untrusted_signer",
                        "thread", "t0")) >= 1, "the outsider's ad was filtered");
                assertTrue(n3.registry().scrape().lines().anyMatch(l -> l.startsWith(
                        "statesync_sync_sources_filtered_total{reason=\"untrusted_signer\",thread=\"t0\"}")));
                assertEquals(0, asked.get(), "requests to the outsider");
            } finally {
                server.stop(0);
            }
        }
    }

    /** A share that serves {@code /.../ipfs/<cid>} from {@code store} and counts every request. */
    private static HttpServer serve(ContentStore store, AtomicInteger asked) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", exchange -> {
            asked.incrementAndGet();
            String path = exchange.getRequestURI().getPath();
            int at = path.lastIndexOf("/ipfs/");
            byte[] body;
            int status;
            try {
                body = store.readAll(Cid.parse(path.substring(at + 6)));
                status = 200;
            } catch (RuntimeException | IOException e) {
                body = new byte[0];
                status = 404;
            }
            exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
        return server;
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else if (!p.getFileName().toString().endsWith(".tmp")) {
                    Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }
}
