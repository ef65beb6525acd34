package io.statesync.groups;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.management.HotSpotDiagnosticMXBean;
import io.statesync.groups.log.LogPosition;
import io.statesync.groups.sync.replay.LogReplaySync;
import io.statesync.groups.sync.snapshot.SnapshotSync;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A group leaves nothing running when closed, and a restarted member comes back from its own disk. */
class GroupLifecycleTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /**
     * Every live thread named {@code statesync-...}, platform and virtual, by thread id. {@link
     * Thread#getAllStackTraces} lists platform threads only; the JSON thread dump lists virtual
     * threads too.
     */
    private Map<Long, String> statesyncThreads() throws IOException {
        Path file = tmp.resolve("threads-" + System.nanoTime() + ".json");
        ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
                .dumpThreads(file.toAbsolutePath().toString(), HotSpotDiagnosticMXBean.ThreadDumpFormat.JSON);
        Map<Long, String> found = new TreeMap<>();
        collect(JSON.readTree(file.toFile()), found);
        Files.delete(file);
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.isAlive() && t.getName().startsWith("statesync-")) {
                found.put(t.threadId(), t.getName());
            }
        }
        return found;
    }

    private static void collect(JsonNode node, Map<Long, String> found) {
        if (node.isObject() && node.has("tid") && node.has("name")) {
            String name = node.get("name").asText();
            if (name.startsWith("statesync-")) {
                found.put(Long.parseLong(node.get("tid").asText()), name);
            }
        }
        node.forEach(child -> collect(child, found));
    }

    @Test
    void threadDumpSeesVirtualThreads() throws Exception {
        // The check below is only as good as the dump: make sure it lists a parked virtual thread
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        Thread v = Thread.ofVirtual().name("statesync-probe").start(() -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        try {
            assertEquals("statesync-probe", statesyncThreads().get(v.threadId()));
        } finally {
            release.countDown();
            v.join();
        }
    }

    @Test
    void closingTheGroupHostAndServerLeavesNoStatesyncThread() throws Exception {
        Map<Long, String> before = statesyncThreads();

        // Given a running group that served requests and took a snapshot
        TestCluster c = new TestCluster(tmp, 1, SnapshotSync.DEFAULT, cfg -> cfg).startAll();
        try {
            Group g = c.nodes[0].group;
            for (int i = 0; i < 5; i++) {
                g.submitBlocking(KvMachine.put("k" + i, "v"));
            }
            g.snapshotNow();
            try (HttpClient http = HttpClient.newHttpClient()) {
                for (String path : new String[] {"info", "sync/snapshots", "leases?session=s&from=1&ttlMs=1000"}) {
                    String method = path.startsWith("leases") ? "POST" : "GET";
                    HttpRequest.Builder request = HttpRequest.newBuilder(
                            URI.create(c.nodes[0].member.http() + "/groups/" + g.id() + "/" + path))
                            .method(method, HttpRequest.BodyPublishers.noBody());
                    // The lease is signed: checking it makes the host ask for a member's key.
                    c.nodes[0].host.hostKey().sign(c.nodes[0].member.id(), c.nodes[0].member.id(), method,
                            g.id().toString(), path)
                            .forEach(request::header);
                    HttpResponse<String> r = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
                    assertEquals(200, r.statusCode(), r.body());
                }
            }
            assertTrue(statesyncThreads().size() > before.size(), "the group runs statesync threads");
        } finally {
            // When the group, its host and the HTTP server are closed
            c.close();
        }

        // Then, within a few seconds, none of the threads they started is left
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        Map<Long, String> left;
        while (true) {
            left = statesyncThreads();
            left.keySet().removeAll(before.keySet());
            if (left.isEmpty()) {
                break;
            }
            if (System.nanoTime() > deadline) {
                fail("threads left after close: " + left.values());
            }
            Thread.sleep(100);
        }
    }

    @Test
    void aRaftPortInUseFailsTheStartAndTheJvmLivesOn() throws Exception {
        TestCluster c = new TestCluster(tmp, 1, LogReplaySync.DEFAULT, cfg -> cfg);
        try (java.net.ServerSocket taken = new java.net.ServerSocket()) {
            taken.bind(c.members.get(0).raft());

            Exception e = org.junit.jupiter.api.Assertions.assertThrows(Exception.class, c::startAll);

            // Reaching this line is the point: Ratis would have ended the JVM here.
            assertTrue(String.valueOf(e).length() > 0);
        } finally {
            c.close();
        }
    }

    @Test
    void aRestartedSingleMemberRestoresItsStateFromDisk() throws Exception {
        // Given a single member with snapshots at 5 and 10 and entries kept after them
        try (TestCluster c = new TestCluster(tmp, 1, LogReplaySync.DEFAULT, cfg -> cfg.withSnapshotEvery(5))
                .startAll()) {
            for (int i = 0; i < 12; i++) {
                c.nodes[0].group.submitBlocking(KvMachine.put("k" + i, "v" + i));
            }
            String digest = c.nodes[0].machine.digest();
            LogPosition applied = c.nodes[0].group.applied();
            assertTrue(c.nodes[0].group.snapshots().size() >= 1, "a snapshot was taken");

            // When it stops and starts again on the same data directory
            c.stop(0);
            c.start(0);

            // Then its state is back at once: the snapshot installed, the entries after it re-applied
            TestCluster.Node n = c.nodes[0];
            assertEquals(digest, n.machine.digest());
            assertTrue(n.group.applied().index() >= applied.index(), n.group.applied() + " < " + applied);
            assertEquals(1, n.machine.installs.get(), "the newest snapshot was loaded");
            assertEquals(0, n.group.syncMetrics().count("started"), "no catch-up");

            // And it keeps working
            n.group.submitBlocking(KvMachine.put("after", "restart"));
            assertEquals(13, n.machine.size());
            assertEquals(0, n.group.syncMetrics().count("started"), "no catch-up");
        }
    }

    /**
     * No snapshots here, so the leader never purges its log: a follower that is back needs no
     * catch-up, whatever the timing. (With snapshots, the leader purges its log up to each new
     * snapshot regardless of followers, so a follower still reconnecting when the leader passes a
     * snapshot index legitimately needs one; the single-member test covers restoring from a snapshot.)
     */
    @Test
    void aRestartedFollowerResumesWithoutCatchUp() throws Exception {
        try (TestCluster c = new TestCluster(tmp, 3, LogReplaySync.DEFAULT, cfg -> cfg.withSnapshotEvery(1_000_000))
                .startAll()) {
            // Given a follower that applied 250 commands
            c.write("a", 250);
            c.awaitConverged(Duration.ofSeconds(30));
            int follower = (c.leader().index + 1) % 3;
            TestCluster.Node n = c.nodes[follower];
            String digest = n.machine.digest();
            LogPosition applied = n.group.applied();

            // When it restarts on its data directory
            c.stop(follower);
            c.start(follower);

            // Then it holds the same state before it hears from anyone
            assertEquals(digest, n.machine.digest());
            assertTrue(n.group.applied().index() >= applied.index(), n.group.applied() + " < " + applied);

            // And it follows new writes through the consensus log, with no catch-up session
            c.write("b", 100);
            c.awaitConverged(Duration.ofSeconds(30));
            assertEquals(350, n.machine.size());
            assertEquals(0, n.group.syncMetrics().count("started"), c.describe());
        }
    }
}
