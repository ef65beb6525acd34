package io.statesync.groups;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.snapshot.FileEntry;
import io.statesync.core.snapshot.ManifestLimits;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.store.ContentStore;
import io.statesync.core.testing.Await;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.groups.sync.StateSync;
import io.statesync.groups.sync.replay.LogReplaySync;
import io.statesync.groups.sync.snapshot.SnapshotSync;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Catch-up under faults, on four real members (n0..n3): one lags, the others provide. Providers
 * misbehave through {@link FaultySync}, which keeps the real strategy and signature.
 */
class FaultTest {
    @TempDir
    Path tmp;

    private FaultySync[] faulty(StateSync inner) {
        FaultySync[] f = new FaultySync[4];
        for (int i = 0; i < 4; i++) {
            f[i] = new FaultySync(inner);
        }
        return f;
    }

    private static void setAll(FaultySync[] f, FaultySync.Mode mode) {
        for (FaultySync s : f) {
            s.mode = mode;
        }
    }

    /** A member that is neither the leader nor {@code not}. */
    private static int follower(TestCluster c, int... not) throws InterruptedException {
        int leader = c.leader().index;
        outer:
        for (int i = 0; i < c.nodes.length; i++) {
            if (i == leader) {
                continue;
            }
            for (int n : not) {
                if (i == n) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("no such follower");
    }

    private static void awaitSessionStarted(TestCluster c, int i) throws InterruptedException {
        Await.until(() -> "a session started on " + c.nodes[i].member.id() + c.describe(), Duration.ofSeconds(30),
                () -> c.nodes[i].group.syncMetrics().count("started") >= 1);
    }

    @Test
    void providerServingCorruptEntriesIsBannedAndNothingCorruptLands() throws Exception {
        FaultySync[] f = faulty(LogReplaySync.DEFAULT.withBatchSize(200));
        try (TestCluster c = new TestCluster(tmp, 4, i -> f[i], UnaryOperator.identity()).startAll()) {
            c.write("a", 500);
            int lagging = follower(c);
            int bad = follower(c, lagging);
            c.stop(lagging);
            c.write("b", 3000);
            f[bad].mode = FaultySync.Mode.CORRUPT_ENTRIES;

            c.start(lagging);
            c.awaitConverged(Duration.ofSeconds(60));
            assertTrue(f[bad].served.get() > 0, "the corrupt provider was asked");
            assertEquals(3500, c.nodes[lagging].machine.size());
        }
    }

    @Test
    void providerAnsweringAnotherRangeIsBanned() throws Exception {
        FaultySync[] f = faulty(LogReplaySync.DEFAULT.withBatchSize(200));
        try (TestCluster c = new TestCluster(tmp, 4, i -> f[i], UnaryOperator.identity()).startAll()) {
            c.write("a", 500);
            int lagging = follower(c);
            int bad = follower(c, lagging);
            c.stop(lagging);
            c.write("b", 3000);
            f[bad].mode = FaultySync.Mode.WRONG_RANGE;

            c.start(lagging);
            c.awaitConverged(Duration.ofSeconds(60));
            assertEquals(3500, c.nodes[lagging].machine.size());
        }
    }

    @Test
    void corruptSnapshotChunkOnOneProviderIsCaughtAndFetchedElsewhere() throws Exception {
        try (TestCluster c = new TestCluster(tmp, 4, SnapshotSync.DEFAULT, cfg -> cfg.withSnapshotEvery(1000))
                .startAll()) {
            c.write("a", 500);
            int lagging = follower(c);
            int bad = follower(c, lagging);
            c.stop(lagging);
            c.write("b", 3000);
            // Flip a byte in every chunk of the bad provider's newest snapshot, on disk.
            SnapshotRecord newest = c.nodes[bad].group.snapshots().getLast();
            ContentStore store = storeOf(c, bad);
            for (FileEntry fe : SnapshotImporter.loadManifest(store, newest.manifest(), ManifestLimits.DEFAULT)
                    .files()) {
                for (Cid chunk : fe.chunks()) {
                    flipByte(store.pathOf(chunk));
                }
            }

            c.start(lagging);
            c.awaitConverged(Duration.ofSeconds(60));
            assertEquals(3500, c.nodes[lagging].machine.size());
        }
    }

    @Test
    void providerKilledMidSync() throws Exception {
        FaultySync[] f = faulty(LogReplaySync.DEFAULT.withBatchSize(100));
        try (TestCluster c = new TestCluster(tmp, 4, i -> f[i], UnaryOperator.identity()).startAll()) {
            c.write("a", 500);
            int lagging = follower(c);
            int victim = follower(c, lagging);
            c.stop(lagging);
            c.write("b", 4000);
            setAll(f, FaultySync.Mode.SLOW);

            c.start(lagging);
            awaitSessionStarted(c, lagging);
            // Progress of the running attempt shows in the status
            Await.until(() -> "the session's progress in the status" + c.describe(), Duration.ofSeconds(20), () -> {
                var p = c.nodes[lagging].group.status().syncProgress();
                return p != null && p.unit().equals("entries") && p.done() > 0 && p.total() >= 4000;
            });
            c.stop(victim);
            setAll(f, FaultySync.Mode.NORMAL);
            c.awaitConverged(Duration.ofSeconds(90));
            assertEquals(4500, c.nodes[lagging].machine.size());
        }
    }

    @Test
    void aReplayOutlastingItsLeaseTermKeepsItsLeasesRenewed() throws Exception {
        // Leases are renewed on a clock of their own: a replay that runs for several lease terms
        // (here slowed to many small batches) still holds them at its providers, which would
        // otherwise prune entries the rest of the replay needs.
        Duration ttl = Duration.ofMillis(600);
        FaultySync[] f = faulty(LogReplaySync.DEFAULT.withBatchSize(10).withLeaseTtl(ttl));
        try (TestCluster c = new TestCluster(tmp, 4, i -> f[i], UnaryOperator.identity()).startAll()) {
            c.write("a", 200);
            int lagging = follower(c);
            c.stop(lagging);
            c.write("b", 1500);
            setAll(f, FaultySync.Mode.SLOW);

            c.start(lagging);
            awaitSessionStarted(c, lagging);
            long started = System.nanoTime();
            int heldLate = 0;
            // Sample until, three lease terms in, a provider still holds a lease (or the session ends).
            boolean over = false;
            while (heldLate == 0 && !(over = c.nodes[lagging].group.syncMetrics().count("completed") > 0)
                    && System.nanoTime() - started < Duration.ofSeconds(60).toNanos()) {
                if (System.nanoTime() - started > ttl.multipliedBy(3).toNanos()) {
                    int leases = 0;
                    for (int i = 0; i < c.nodes.length; i++) {
                        if (i != lagging && c.nodes[i].group != null) {
                            leases += c.nodes[i].group.leases();
                        }
                    }
                    if (leases > 0) {
                        heldLate++;
                    }
                }
                Thread.sleep(50);
            }
            boolean longEnough = System.nanoTime() - started > ttl.multipliedBy(3).toNanos();
            assertTrue(heldLate > 0, over && !longEnough ? "the replay ended within three lease terms; slow it more"
                    : "no provider held a lease after three lease terms");
            setAll(f, FaultySync.Mode.NORMAL);
            c.awaitConverged(Duration.ofSeconds(90));
            assertEquals(1700, c.nodes[lagging].machine.size());
        }
    }

    @Test
    void leaderKilledMidSync() throws Exception {
        FaultySync[] f = faulty(LogReplaySync.DEFAULT.withBatchSize(100));
        try (TestCluster c = new TestCluster(tmp, 4, i -> f[i], UnaryOperator.identity()).startAll()) {
            c.write("a", 500);
            int lagging = follower(c);
            c.stop(lagging);
            c.write("b", 4000);
            setAll(f, FaultySync.Mode.SLOW);

            c.start(lagging);
            awaitSessionStarted(c, lagging);
            Thread.sleep(500);
            c.stop(c.leader().index);
            setAll(f, FaultySync.Mode.NORMAL);
            c.awaitConverged(Duration.ofSeconds(90));
            assertEquals(4500, c.nodes[lagging].machine.size());
        }
    }

    @Test
    void everyProviderGoneFailsClearlyThenSucceedsWhenTheyReturn() throws Exception {
        FaultySync[] f = faulty(LogReplaySync.DEFAULT.withBatchSize(500));
        try (TestCluster c = new TestCluster(tmp, 4, i -> f[i], UnaryOperator.identity()).startAll()) {
            c.write("a", 500);
            int lagging = follower(c);
            c.stop(lagging);
            c.write("b", 3000);
            for (int i = 0; i < 4; i++) {
                if (i != lagging) {
                    f[i].mode = FaultySync.Mode.DOWN;
                }
            }

            c.start(lagging);
            Await.until(() -> "a sync error on the lagging member" + c.describe(), Duration.ofSeconds(30),
                    () -> c.nodes[lagging].group.status().lastSyncError() != null);
            String error = c.nodes[lagging].group.status().lastSyncError();
            assertTrue(error.contains("no peer holds committed entries"), error);
            assertTrue(c.nodes[lagging].group.syncMetrics().count("failed") >= 1);

            setAll(f, FaultySync.Mode.NORMAL);
            c.awaitConverged(Duration.ofSeconds(60));
            assertEquals(3500, c.nodes[lagging].machine.size());
        }
    }

    @Test
    void memberWithAnotherSyncStrategyCannotJoinAndIsToldWhy() throws Exception {
        try (TestCluster c = new TestCluster(tmp, 4, LogReplaySync.DEFAULT, UnaryOperator.identity())) {
            for (int i = 0; i < 4; i++) {
                c.startHttp(i);
            }
            for (int i = 0; i < 3; i++) {
                c.startGroup(i);
            }
            GroupConfig other = c.config(3).withSync(SnapshotSync.DEFAULT);
            GroupMismatchException e = assertThrows(GroupMismatchException.class,
                    () -> c.startGroup(3, other, new KvMachine()));
            assertTrue(e.getMessage().contains("LogReplaySync") && e.getMessage().contains("SnapshotSync"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("cannot join group 'test'"), e.getMessage());
        }
    }

    @Test
    void pruningDuringASessionKeepsWhatTheSessionNeeds() throws Exception {
        FaultySync[] f = faulty(LogReplaySync.DEFAULT.withBatchSize(100));
        // Providers keep no entries beyond what leases and the newest snapshot demand.
        try (TestCluster c = new TestCluster(tmp, 4, i -> f[i], cfg -> cfg.withRetention(1, 0)).startAll()) {
            c.write("a", 500);
            int lagging = follower(c);
            c.stop(lagging);
            c.write("b", 4000);
            setAll(f, FaultySync.Mode.SLOW);
            c.start(lagging);
            awaitSessionStarted(c, lagging);
            int provider = follower(c, lagging);
            Await.until(() -> "a lease on the provider" + c.describe(), Duration.ofSeconds(10),
                    () -> c.nodes[provider].group.leases() > 0);
            long needed = c.nodes[lagging].group.applied().index() + 1;

            // When the provider snapshots and prunes while the session runs
            c.write("c", 1000);
            c.nodes[provider].group.snapshotNow();
            c.nodes[provider].group.prune();

            // Then the entries the session still needs are kept
            assertTrue(c.nodes[provider].group.committedLog().base().index() < needed,
                    "pruned past the session's lease: " + c.describe());
            setAll(f, FaultySync.Mode.NORMAL);
            c.awaitConverged(Duration.ofSeconds(90));
        }
    }

    private static ContentStore storeOf(TestCluster c, int i) throws Exception {
        try (var dirs = Files.list(c.nodes[i].dir.resolve("data"))) {
            Path groupDir = dirs.filter(p -> p.getFileName().toString().startsWith("test-")).findFirst().orElseThrow();
            return ContentStore.open(groupDir.resolve("store"));
        }
    }

    private static void flipByte(Path file) throws Exception {
        file.toFile().setWritable(true);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, 0);
            b.flip();
            byte x = (byte) (b.get() ^ 0x55);
            ch.write(ByteBuffer.wrap(new byte[] {x}), 0);
        }
    }
}
