package io.statesync.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.testing.Await;
import io.statesync.discovery.Discovery;
import io.statesync.discovery.Discovery.DiscoveryConfig;
import io.statesync.discovery.card.SnapshotAd;
import io.statesync.discovery.membership.MembershipConfig;
import io.statesync.discovery.membership.ScaleCubeMembership;
import io.statesync.groups.Group;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.node.ledger.ThreadId;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Saving state for sharing on a one-node cluster: every save block is captured, written and
 * recorded off the block path, gets its pointer file, and retention keeps the newest ones plus
 * any a peer holds a lease on. A gossip observer (what {@code statesync peers} runs) sees the
 * node's card follow: the leased snapshot stays on it while newer saves come and go.
 */
class SavedStatesTest {
    private static final ThreadId T0 = new ThreadId("t0");

    @TempDir
    Path dir;

    @Test
    void savedStatesArePrunedByRetentionExceptOneAPeerIsFetching() throws Exception {
        NodeConfig config = TestNodes.configure(dir, 1, List.of(T0), 5, true).get(0);
        try (Node node = Node.start(config); HttpClient http = HttpClient.newHttpClient();
             Discovery observer = Discovery.start(DiscoveryConfig.serving(List.of(), List.of()), null,
                     ScaleCubeMembership.start(MembershipConfig.loopback().withSeeds(List.of(
                             new InetSocketAddress("127.0.0.1", config.gossipPort()))), new SimpleMeterRegistry()),
                     new SimpleMeterRegistry())) {
            Group group = node.thread("t0").orElseThrow().group();
            Await.until("two saves", Duration.ofSeconds(60), () -> group.snapshots().size() >= 2);

            // Every kept snapshot describes its block and has the pointer a static mirror needs.
            SnapshotRecord oldest = group.snapshots().get(0);
            for (SnapshotRecord r : group.snapshots()) {
                assertTrue(r.metadata().keySet().containsAll(List.of("block", "height", "stateRoot", "thread")),
                        r.metadata().toString());
                Path pointer = group.store().root().resolve("blocks/t0/" + r.metadata().get("block"));
                // The save listener writes it just after the group records the snapshot: a moment later.
                Await.until("the pointer of " + r.manifest(), Duration.ofSeconds(10), () -> Files.exists(pointer));
                assertEquals(r.manifest().toString(), Files.readString(pointer).strip());
            }

            // A hold (what a peer's session lease does) keeps the oldest; newer saves go on.
            AutoCloseable hold = group.holdSnapshot(oldest.manifest(), Duration.ofMinutes(1));
            // Anyone else asking for a lease is no member, and holds nothing.
            assertEquals(401, http.send(HttpRequest.newBuilder(URI.create(node.uri() + "/groups/" + group.id()
                    + "/leases?session=peer-1&snapshot=" + oldest.manifest() + "&ttlMs=60000"))
                    .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
            assertEquals(1, group.leases());
            long past = oldest.index();
            // Several saves later (a save is every 5 blocks, about 10 log entries): retention has run.
            Await.until("a save 40 past the oldest", Duration.ofSeconds(60),
                    () -> group.snapshots().stream().mapToLong(SnapshotRecord::index).max().orElse(0) > past + 40);

            List<Cid> kept = group.snapshots().stream().map(SnapshotRecord::manifest).toList();
            assertTrue(kept.contains(oldest.manifest()), "the leased snapshot is kept: " + kept);
            assertTrue(group.store().has(oldest.manifest()), "with its manifest");
            assertTrue(kept.size() <= 2 + 1 + 1, "retention 2, the leased one, one being written: " + kept);
            // The node's card still offers it to peers (gossip sources of a load by block), with the newest.
            Cid newest = group.snapshots().getLast().manifest();
            Await.until("the observer sees the oldest and the newest advertised", Duration.ofSeconds(30),
                    () -> advertised(observer).containsAll(List.of(oldest.manifest(), newest)));

            // Released, it goes with the next save.
            hold.close();
            Await.until("the oldest save pruned", Duration.ofSeconds(60),
                    () -> group.snapshots().stream().noneMatch(r -> r.manifest().equals(oldest.manifest())));
            // Pruning drops it from the catalog first, then deletes its blobs.
            Await.until("the oldest save's blobs deleted", Duration.ofSeconds(10),
                    () -> !group.store().has(oldest.manifest()));
            Await.until("the oldest save no longer advertised", Duration.ofSeconds(30),
                    () -> !advertised(observer).contains(oldest.manifest()));
            assertTrue(advertised(observer).size() <= DiscoveryConfig.DEFAULT_ADS_PER_GROUP,
                    "without leases the card shows at most the newest few: " + advertised(observer));
        }
    }

    /** The snapshots the observer's catalog says the (only) node advertises. */
    private static List<Cid> advertised(Discovery observer) {
        return observer.catalog().cards().stream().flatMap(c -> c.snapshots().stream()).map(SnapshotAd::root).toList();
    }
}
