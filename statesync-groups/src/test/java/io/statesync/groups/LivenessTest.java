package io.statesync.groups;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.statesync.core.testing.Await;
import io.statesync.groups.log.LogEntry;
import io.statesync.groups.sync.replay.LogReplaySync;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A member that stops following its group says so, tries one recovery, and fails if that does
 * not help; and the snapshot position Ratis holds never moves backwards (the restart freeze).
 */
class LivenessTest {
    @TempDir
    Path tmp;

    /**
     * The root cause of the restart freeze: after a restart Ratis holds the durable position (past
     * the newest recorded snapshot) as its snapshot index; a snapshot answer below it made Ratis
     * close the division for good ("Failed to updateIncreasingly for snapshotIndex").
     */
    @Test
    void takeSnapshotNeverAnswersBelowThePositionRatisWasStartedWith() throws Exception {
        GroupConfig config = GroupConfig.of("test", "n0", new TestCluster(tmp, 1, LogReplaySync.DEFAULT,
                c -> c).members, tmp.resolve("data"), LogReplaySync.DEFAULT).withSnapshotEvery(50);
        try (Replica replica = Replica.open("0123456789abcdef", config, new KvMachine(), tmp.resolve("g"),
                new SimpleMeterRegistry())) {
            for (long i = 1; i <= 60; i++) {
                replica.apply(new LogEntry(i, 1, LogEntry.Kind.COMMAND, KvMachine.put("k" + i, "v")));
            }
            assertEquals(50, replica.latestSnapshot().orElseThrow().index());
            RatisMachine machine = new RatisMachine(replica, null, "n0", null);
            // Given Ratis restarted at the durable position 60 (Ratis's index 59)
            machine.resumeAt(replica.applied());
            assertEquals(59, machine.getLatestSnapshot().getIndex());

            // When Ratis asks for a snapshot before a newer one is recorded, then nothing new is
            // reported (the recorded one, Ratis's 49, would move its snapshot index back)
            assertEquals(-1, machine.takeSnapshot());

            // And once a newer snapshot is recorded it is reported, once
            for (long i = 61; i <= 100; i++) {
                replica.apply(new LogEntry(i, 1, LogEntry.Kind.COMMAND, KvMachine.put("k" + i, "v")));
            }
            // (Ratis has applied them too: its next no-op reaches the machine as entry 101)
            machine.notifyTermIndexUpdated(1, 100);
            assertEquals(99, machine.takeSnapshot());
            assertEquals(-1, machine.takeSnapshot());
        }
    }

    @Test
    void aMemberWhoseConsensusStopsIsReportedStalledRestartedAndFollowsAgain() throws Exception {
        try (TestCluster c = new TestCluster(tmp, 3, LogReplaySync.DEFAULT,
                g -> g.withStallTimeout(Duration.ofSeconds(2))).startAll()) {
            c.write("a", 100);
            int leader = c.leader().index;
            int victim = (leader + 1) % 3;
            Group g = c.nodes[victim].group;
            assertTrue(g.health().ok());

            // When Ratis closes the member's division while the group goes on
            g.division().close();
            AtomicBoolean sawStalled = new AtomicBoolean();
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    for (int i = 0; i < 40 && !Thread.currentThread().isInterrupted(); i++) {
                        c.write("b" + i + "-", 10);
                        if (g.health().status() == GroupHealth.Status.STALLED) {
                            sawStalled.set(true);
                        }
                        Thread.sleep(100);
                    }
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            // Then the status says so (not a healthy follower), with the reason
            Await.until(() -> "the victim reported stalled" + c.describe(), Duration.ofSeconds(30),
                    () -> sawStalled.get() || g.health().status() == GroupHealth.Status.STALLED);
            // And after the one restart the member follows again and is healthy
            writer.join(TimeUnit.SECONDS.toMillis(120));
            c.awaitConverged(Duration.ofSeconds(60));
            Await.until(() -> "the victim healthy again: " + g.health(), Duration.ofSeconds(30), () -> g.health().ok());
            assertEquals("RUNNING", g.status().consensus());
            // At least the stall made above (a busy machine can make a 2 s timeout see another)
            assertTrue(c.nodes[victim].registry.get("statesync.groups.stalls").counter().count() >= 1);
        }
    }

    @Test
    void aMemberThatNoRecoveryBringsBackFails() throws Exception {
        try (TestCluster c = new TestCluster(tmp, 3, LogReplaySync.DEFAULT,
                g -> g.withStallTimeout(Duration.ofSeconds(1))).startAll()) {
            c.write("a", 50);
            int victim = (c.leader().index + 1) % 3;
            Group g = c.nodes[victim].group;
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    while (!Thread.currentThread().isInterrupted()) {
                        c.write("w", 5);
                        Thread.sleep(50);
                    }
                } catch (InterruptedException e) {
                    // done
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            // Stops the member's division whenever it runs, so no recovery can bring it back
            Thread saboteur = Thread.ofVirtual().start(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    try {
                        if ("RUNNING".equals(g.status().consensus())) {
                            g.division().close();
                        }
                        Thread.sleep(20);
                    } catch (InterruptedException e) {
                        return;
                    } catch (Exception e) {
                        // the division is being replaced; try again
                    }
                }
            });
            try {
                Await.until(() -> "the victim unhealthy" + c.describe(), Duration.ofSeconds(30),
                        () -> !g.health().ok());
                Await.until(() -> "the victim FAILED: " + g.health(), Duration.ofSeconds(60),
                        () -> g.health().status() == GroupHealth.Status.FAILED);
                assertTrue(g.health().reason().contains("did not bring it back"), g.health().reason());
                assertEquals(StallWatch.MAX_ATTEMPTS,
                        c.nodes[victim].registry.get("statesync.groups.stall.recoveries").counter().count(),
                        "every recovery attempt, then FAILED");
                assertEquals(1.0, c.nodes[victim].registry.get("statesync.groups.stalls").counter().count());
            } finally {
                saboteur.interrupt();
                saboteur.join();
                writer.interrupt();
                writer.join();
            }
        }
    }

    @Test
    void aMemberWhoseMachineFailedIsFailedAtOnceWithTheReason() throws Exception {
        try (TestCluster c = new TestCluster(tmp, 3, LogReplaySync.DEFAULT,
                g -> g.withStallTimeout(Duration.ofSeconds(1)))) {
            c.machines(i -> i == 2 ? new FailStopTest.Brittle() : new KvMachine()).startAll();
            c.write("a", 20);
            c.nodes[c.leader().index == 2 ? 0 : c.leader().index].group.submit(KvMachine.put("boom", "x"));
            Group g = c.nodes[2].group;
            Await.until(() -> "the member FAILED: " + g.health(), Duration.ofSeconds(30),
                    () -> g.health().status() == GroupHealth.Status.FAILED);
            assertTrue(g.health().reason().contains("cannot apply this"), g.health().reason());
        }
    }
}
