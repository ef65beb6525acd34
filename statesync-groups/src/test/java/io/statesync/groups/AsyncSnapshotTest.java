package io.statesync.groups;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.Counter;
import io.statesync.core.snapshot.Manifest;
import io.statesync.core.snapshot.ManifestLimits;
import io.statesync.core.snapshot.Materializer;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.testing.Await;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.groups.sync.snapshot.SnapshotSync;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Snapshots of machines that capture their state are written off the apply thread. */
class AsyncSnapshotTest {
    @TempDir
    Path tmp;

    @Test
    void aSlowCaptureIsWrittenWhileEntriesGoOnBeingApplied() throws Exception {
        // Given three members whose snapshot writes take a second each
        try (TestCluster c = new TestCluster(tmp, 3, SnapshotSync.DEFAULT, cfg -> cfg.withSnapshotEvery(300))) {
            c.machines(i -> {
                CapturingKvMachine m = new CapturingKvMachine();
                m.writeDelay = at -> Duration.ofSeconds(1);
                return m;
            }).startAll();

            // When commands keep coming past snapshot points
            c.write("a", 900);
            c.awaitConverged(Duration.ofSeconds(30));

            // Then commands were applied while a snapshot was being written
            for (TestCluster.Node n : c.nodes) {
                CapturingKvMachine m = (CapturingKvMachine) n.machine;
                Await.until(() -> n.member.id() + " recorded a snapshot", Duration.ofSeconds(10),
                        () -> !n.group.snapshots().isEmpty());
                assertTrue(m.appliedDuringWrite.values().stream().anyMatch(v -> v > 0),
                        n.member.id() + ": applied during writes " + m.appliedDuringWrite);
            }
            // And each recorded snapshot holds the state as captured at its index, not as written
            for (TestCluster.Node n : c.nodes) {
                CapturingKvMachine m = (CapturingKvMachine) n.machine;
                for (SnapshotRecord r : n.group.snapshots()) {
                    assertEquals(m.capturedDigests.get(r.index()), digestOf(n.group, r), n.member.id() + " " + r);
                    assertEquals(String.valueOf(r.index()), r.metadata().get("height"));
                    Manifest manifest = SnapshotImporter.loadManifest(n.group.replica().store(), r.manifest(),
                            ManifestLimits.DEFAULT);
                    assertEquals(String.valueOf(r.index()), manifest.metadata().get(SnapshotRecord.META_INDEX),
                            "the group's own keys win");
                    assertEquals(m.capturedDigests.get(r.index()), manifest.metadata().get("digest"));
                }
            }
        }
    }

    @Test
    void snapshotsAtIndicesTheMachineAsksForHaveOneCidOnEveryMember() throws Exception {
        // Given members asking for snapshots at 40, 90 and 150 only (snapshotEvery is far away)
        Set<Long> due = Set.of(40L, 90L, 150L);
        try (TestCluster c = new TestCluster(tmp, 3, SnapshotSync.DEFAULT,
                cfg -> cfg.withSnapshotEvery(1_000_000).withRetention(10, 1_000_000))) {
            c.machines(i -> {
                CapturingKvMachine m = new CapturingKvMachine();
                m.dueAt = due;
                return m;
            }).startAll();
            List<List<SnapshotRecord>> heard = List.of(new CopyOnWriteArrayList<>(), new CopyOnWriteArrayList<>(),
                    new CopyOnWriteArrayList<>());
            for (TestCluster.Node n : c.nodes) {
                n.group.onSnapshot(heard.get(n.index)::add);
            }

            // When 200 commands are applied
            c.write("a", 200);
            c.awaitConverged(Duration.ofSeconds(30));

            // Then every member recorded snapshots at exactly those indices, with the same CIDs
            for (TestCluster.Node n : c.nodes) {
                Await.until(() -> n.member.id() + " has 3 snapshots: " + n.group.snapshots(), Duration.ofSeconds(10),
                        () -> n.group.snapshots().size() == 3);
            }
            List<SnapshotRecord> first = c.nodes[0].group.snapshots();
            assertEquals(List.of(40L, 90L, 150L), first.stream().map(SnapshotRecord::index).toList());
            for (TestCluster.Node n : c.nodes) {
                List<SnapshotRecord> mine = n.group.snapshots();
                assertEquals(first.stream().map(SnapshotRecord::manifest).toList(),
                        mine.stream().map(SnapshotRecord::manifest).toList(), n.member.id());
                assertEquals(first.stream().map(SnapshotRecord::metadata).toList(),
                        mine.stream().map(SnapshotRecord::metadata).toList(), n.member.id());
                // And the listener heard each one, and the meters counted them
                Await.until(() -> n.member.id() + " hears of 3 snapshots; heard " + heard.get(n.index),
                        Duration.ofSeconds(5), () -> heard.get(n.index).size() == 3);
                assertEquals(first.stream().map(SnapshotRecord::manifest).toList(),
                        heard.get(n.index).stream().map(SnapshotRecord::manifest).toList());
                assertEquals(3.0, counter(n, "statesync.groups.snapshots"));
                assertEquals(0.0, counter(n, "statesync.groups.snapshots.skipped"));
            }

            // And the metadata survives a restart (it is in the catalog)
            c.stop(0);
            c.start(0);
            assertEquals(first.stream().map(SnapshotRecord::metadata).toList(),
                    c.nodes[0].group.snapshots().stream().map(SnapshotRecord::metadata).toList());
            assertEquals("90", c.nodes[0].group.snapshots().get(1).metadata().get("height"));
        }
    }

    @Test
    void aPointDuringAWriteIsSkippedAndCloseStopsARunningWrite() throws Exception {
        // Given one member whose write at 10 takes 3 s and whose write at 30 would take a minute
        try (TestCluster c = new TestCluster(tmp, 1, SnapshotSync.DEFAULT, cfg -> cfg.withSnapshotEvery(1_000_000))) {
            CapturingKvMachine m = new CapturingKvMachine();
            m.dueAt = Set.of(10L, 12L, 30L);
            m.writeDelay = at -> at == 10 ? Duration.ofSeconds(3) : at == 30 ? Duration.ofMinutes(1) : Duration.ZERO;
            c.startHttp(0);
            c.startGroup(0, c.config(0), m);
            Group g = c.nodes[0].group;

            // When 12 is reached while 10 is still being written
            submitUntil(g, 15);
            assertTrue(g.snapshots().isEmpty(), "10 is still being written");

            // Then 12 is skipped (its capture closed) and 10 is recorded
            Await.until(() -> "one snapshot: " + g, Duration.ofSeconds(10), () -> g.snapshots().size() == 1);
            assertEquals(10, g.snapshots().get(0).index());
            assertEquals(1.0, counter(c.nodes[0], "statesync.groups.snapshots.skipped"));
            assertEquals(List.of(10L), m.writesStarted);
            assertEquals(m.captures.get(), m.closes.get(), "every capture closed");

            // And when the group closes while 30 is being written
            submitUntil(g, 31);
            Await.until(() -> "30 is written", Duration.ofSeconds(10), () -> m.writesStarted.contains(30L));
            Thread writer = m.lastWriter;
            long started = System.nanoTime();
            c.stop(0);

            // Then the write is stopped at once: no thread, no temp directory, the capture closed, no record
            assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(10), "close did not wait for the write");
            assertFalse(writer.isAlive(), "the writer thread ended");
            assertEquals(m.captures.get(), m.closes.get(), "every capture closed");
            Path state = stateDir(c);
            assertEquals(List.of(), tempDirs(state));

            // And a temp directory left by a crash is removed when the member opens again
            Files.createDirectories(state.resolve("snapshot-77.tmp/sub"));
            Files.writeString(state.resolve("snapshot-77.tmp/sub/kv.bin"), "half written");
            c.machines(i -> new CapturingKvMachine()).start(0);
            assertEquals(List.of(), tempDirs(state));
            assertEquals(List.of(10L), c.nodes[0].group.snapshots().stream().map(SnapshotRecord::index).toList());
        }
    }

    @Test
    void aFailedWriteLosesOnlyTheSnapshot() throws Exception {
        // Given three members, one of which fails to write its snapshot at 50
        try (TestCluster c = new TestCluster(tmp, 3, SnapshotSync.DEFAULT,
                cfg -> cfg.withSnapshotEvery(1_000_000).withRetention(10, 1_000_000))) {
            c.machines(i -> {
                CapturingKvMachine m = new CapturingKvMachine();
                m.dueAt = Set.of(50L, 120L);
                if (i == 1) {
                    m.failAt = at -> at == 50;
                }
                return m;
            }).startAll();

            // When commands pass both points
            c.write("a", 150);

            // Then that member goes on applying with the others
            c.awaitConverged(Duration.ofSeconds(30));
            TestCluster.Node failing = c.nodes[1];
            Await.until(() -> "everyone recorded 120", Duration.ofSeconds(10), () -> Stream.of(c.nodes)
                    .allMatch(n -> n.group.snapshots().stream().anyMatch(r -> r.index() == 120)));
            // And only its snapshot at 50 is missing; the failure is counted and nothing is left behind
            assertEquals(List.of(120L), failing.group.snapshots().stream().map(SnapshotRecord::index).toList());
            assertEquals(List.of(50L, 120L), c.nodes[0].group.snapshots().stream().map(SnapshotRecord::index).toList());
            assertEquals(1.0, counter(failing, "statesync.groups.snapshots.failed"));
            assertEquals(List.of(), tempDirs(stateDir(c, 1)));
            CapturingKvMachine m = (CapturingKvMachine) failing.machine;
            assertEquals(m.captures.get(), m.closes.get(), "every capture closed");
            byte[] result = failing.group.submitBlocking(KvMachine.put("after", "failure"));
            assertEquals("ok", new String(result, java.nio.charset.StandardCharsets.UTF_8));
            c.awaitConverged(Duration.ofSeconds(30));
        }
    }

    @Test
    void snapshotNowWritesACaptureOnTheCallerThread() throws Exception {
        try (TestCluster c = new TestCluster(tmp, 1, SnapshotSync.DEFAULT, cfg -> cfg.withSnapshotEvery(1_000_000))) {
            c.machines(i -> new CapturingKvMachine()).startAll();
            Group g = c.nodes[0].group;
            for (int i = 0; i < 20; i++) {
                g.submitBlocking(KvMachine.put("k" + i, "v"));
            }
            // (Ratis's own entries may arrive at any time, so the index is only bounded)
            long before = g.applied().index();
            SnapshotRecord r = g.snapshotNow();
            CapturingKvMachine m = (CapturingKvMachine) c.nodes[0].machine;
            assertTrue(r.index() >= before && r.index() <= g.applied().index(), r + " vs " + before);
            assertEquals(Thread.currentThread(), m.lastWriter);
            assertEquals(m.capturedDigests.get(r.index()), digestOf(g, r));
            assertEquals(String.valueOf(r.index()), r.metadata().get("height"));
            assertTrue(g.snapshots().contains(r), "recorded when snapshotNow returns");
        }
    }

    private static void submitUntil(Group g, long index) throws Exception {
        for (int i = 0; g.applied().index() < index; i++) {
            g.submitBlocking(KvMachine.put("k" + i, "v" + i));
        }
    }

    /** The digest of the state a recorded snapshot holds, materialized from the member's store. */
    private String digestOf(Group g, SnapshotRecord r) throws Exception {
        Manifest manifest = SnapshotImporter.loadManifest(g.replica().store(), r.manifest(), ManifestLimits.DEFAULT);
        Path dir = tmp.resolve("check-" + System.nanoTime());
        Materializer.materialize(manifest, g.replica().store(), dir, true, null);
        KvMachine check = new KvMachine();
        check.installSnapshot(dir);
        return check.digest();
    }

    private static double counter(TestCluster.Node n, String name) {
        Counter counter = n.registry.find(name).tag("group", "test").counter();
        assertNotNull(counter, name);
        return counter.count();
    }

    private static Path stateDir(TestCluster c) throws Exception {
        return stateDir(c, 0);
    }

    private static Path stateDir(TestCluster c, int node) throws Exception {
        try (Stream<Path> groups = Files.list(c.nodes[node].dir.resolve("data"))) {
            return groups.filter(p -> p.getFileName().toString().startsWith("test-")).findFirst().orElseThrow()
                    .resolve("state");
        }
    }

    private static List<String> tempDirs(Path state) throws Exception {
        try (Stream<Path> files = Files.list(state)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("snapshot-")).toList();
        }
    }
}
