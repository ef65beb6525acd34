package io.statesync.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.testing.Await;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.Head;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.statesync.Anchor;
import io.statesync.node.statesync.LoadOutput;
import io.statesync.node.statesync.LoadResult;
import io.statesync.node.statesync.PushResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The import decision on a real three-node cluster (Ratis, RocksDB, gossip on loopback): one
 * scenario per outcome. Node n3 is stopped, the cluster moves on until its leader's consensus log
 * no longer reaches n3, and n3 comes back: the catch-up it is asked for either replays the
 * missed entries from its peers' committed logs (the offered state is its own head, or close to
 * it) or loads the offered saved state. A block that is not on the node's chain is refused.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ImportDecisionTest {
    private static final ThreadId T0 = new ThreadId("t0");
    private static final String DECISIONS = "statesync.node.import.decisions";
    private static final int N3 = 2;

    @TempDir
    static Path dir;
    private static Cluster cluster;

    @BeforeAll
    static void start() throws Exception {
        cluster = new Cluster(TestNodes.configure(dir, 3, List.of(T0), 10, true), T0);
        for (int i = 0; i < 3; i++) {
            cluster.start(i);
        }
        Await.until("a leader", Duration.ofSeconds(60), () -> cluster.leader() != null);
        cluster.produce(30);
    }

    @AfterAll
    static void stop() {
        cluster.close();
    }

    @Test
    @Order(1)
    void aBlockOffTheNodesOwnChainIsInvalidatedAndNeverFetched() throws Exception {
        Node n1 = cluster.nodes[0];
        Head head = cluster.head(n1);
        long height = head.height() - 2;
        BlockId forged = BlockId.of(new byte[32]);

        LoadOutput out = new LoadOutput();
        PushResult pushed = n1.stateSync().addLoadStateTask(new TreeMap<>(Map.of(T0, forged)), new Anchor(T0, height),
                n1.stateSync().repository(), out);

        assertEquals(PushResult.PUSHED, pushed);
        LoadResult.Failed failed = assertInstanceOf(LoadResult.Failed.class,
                out.poll(Duration.ofSeconds(30)).orElseThrow());
        assertTrue(failed.reason().contains("this node's chain has block " + n1.thread("t0").orElseThrow().machine()
                .blockAt(height).orElseThrow().hex()), failed.reason());
        assertEquals(1, Cluster.count(n1, DECISIONS, Map.of("decision", "invalidated")));
        assertEquals(0, Cluster.count(n1, "statesync.node.state.load.fetched", Map.of()), "not a byte fetched");
    }

    @Test
    @Order(2)
    void aNodeBackAtTheOfferedBlockReplaysTheEntriesItMissedInsteadOfLoading() throws Exception {
        // Given n3 stopped at the cluster's head, and the cluster committing only entries that are no block:
        cluster.pauseAndSettle();
        Head before = cluster.head(cluster.nodes[N3]);
        cluster.stop(N3);
        cluster.pushLogPast(300);
        assertEquals(before, cluster.head(cluster.nodes[0]), "no block since n3 stopped");

        // When n3 comes back, the leader's log no longer reaches it: it must catch up.
        cluster.start(N3);
        cluster.awaitLevel(N3, 120);

        // Then the offered state is the block it holds: covered, so it replayed the entries.
        Node n3 = cluster.nodes[N3];
        assertTrue(Cluster.count(n3, DECISIONS, Map.of("decision", "already_covered")) >= 1, decisions(n3));
        assertEquals(0, Cluster.count(n3, DECISIONS, Map.of("decision", "import_needed")), decisions(n3));
        assertEquals(0, Cluster.count(n3, "statesync.node.state.loads", Map.of("outcome", "loaded")));
        assertTrue(replayed(n3) > 0, "entries came from the peers' logs");
        assertEquals(before, cluster.head(n3));
    }

    @Test
    @Order(3)
    void aNodeCloseToTheOfferedBlockReplaysTheLog() throws Exception {
        // Given n3 stopped a few blocks behind what the cluster will offer:
        cluster.stop(N3);
        cluster.produce(3);
        cluster.pushLogPast(300);
        Head target = cluster.head(cluster.nodes[0]);

        // When it comes back with an import distance larger than its gap:
        NodeConfig config = cluster.configs.get(N3);
        cluster.start(N3, config.withSync(config.sync().withImportMinDistance(1_000_000)));
        cluster.awaitLevel(N3, 120);

        // Then it judged the offer too close and replayed the blocks it missed.
        Node n3 = cluster.nodes[N3];
        assertTrue(Cluster.count(n3, DECISIONS, Map.of("decision", "too_close")) >= 1, decisions(n3));
        assertEquals(0, Cluster.count(n3, "statesync.node.state.loads", Map.of("outcome", "loaded")));
        assertTrue(replayed(n3) > 0, "entries came from the peers' logs");
        assertEquals(target, cluster.head(n3));
    }

    @Test
    @Order(4)
    void aNodeFarBehindLoadsTheOfferedStateAndDropsItsOlderSavedStates() throws Exception {
        // Given n3 stopped well behind (more than the default import distance of 5 blocks):
        Head stoppedAt = cluster.head(cluster.nodes[N3]);
        cluster.stop(N3);
        cluster.produce(20);
        cluster.pushLogPast(300);
        Head target = cluster.head(cluster.nodes[0]);

        // When it comes back:
        cluster.start(N3);
        cluster.awaitLevel(N3, 120);

        // Then it loaded the offered saved state ...
        Node n3 = cluster.nodes[N3];
        assertTrue(Cluster.count(n3, DECISIONS, Map.of("decision", "import_needed")) >= 1, decisions(n3));
        assertTrue(Cluster.count(n3, "statesync.node.state.loads", Map.of("outcome", "loaded")) >= 1);
        assertEquals(target, cluster.head(n3));
        // ... and, once installed, dropped its own saved states below it, with their pointer files.
        List<SnapshotRecord> held = cluster.group(n3).snapshots();
        assertTrue(held.stream().allMatch(r -> Long.parseLong(r.metadata().get("height")) > stoppedAt.height()),
                "none of the states saved before it stopped is kept: " + held);
        Set<Cid> heldCids = held.stream().map(SnapshotRecord::manifest).collect(Collectors.toSet());
        Path pointers = cluster.group(n3).store().root().resolve("blocks").resolve("t0");
        try (Stream<Path> s = Files.exists(pointers) ? Files.list(pointers) : Stream.empty()) {
            for (Path p : s.filter(p -> !p.getFileName().toString().startsWith(".")).toList()) {
                assertTrue(heldCids.contains(Cid.parse(Files.readString(p).strip())), "stale pointer " + p);
            }
        }
    }

    private static double replayed(Node n) {
        return n.registry().find("statesync.groups.sync.entries").counters().stream()
                .mapToDouble(io.micrometer.core.instrument.Counter::count).sum();
    }

    private static String decisions(Node n) {
        return n.registry().find(DECISIONS).counters().stream()
                .map(c -> c.getId().getTag("decision") + "=" + c.count()).toList().toString();
    }
}
