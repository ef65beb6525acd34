package io.statesync.groups;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.statesync.core.testing.Await;
import io.statesync.groups.log.Chain;
import io.statesync.groups.log.LogEntry;
import io.statesync.groups.sync.SessionContext;
import io.statesync.groups.sync.snapshot.SnapshotSync;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A replica's readings while entries are being applied. */
class ReplicaTest {
    @TempDir
    Path tmp;

    /**
     * Issue 4's review, item b: a catch-up session checks a fetched batch against the position and
     * the chain value there. Ratis's updater may apply entries meanwhile, so the two must come from
     * one moment, never from either side of an apply. Here an apply is held inside the machine; a
     * reading taken meanwhile must wait for it and then show the entry's position with its chain.
     */
    @Test
    void aReadingOfPositionAndChainWaitsForAnApplyInProgress() throws Exception {
        CountDownLatch inApply = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        KvMachine holding = new KvMachine() {
            @Override
            public byte[] apply(long index, byte[] command) {
                if (index == 2) {
                    inApply.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                return super.apply(index, command);
            }
        };
        GroupConfig config = GroupConfig.of("test", "n0", new TestCluster(tmp, 1, SnapshotSync.DEFAULT, c -> c).members,
                tmp.resolve("data"), SnapshotSync.DEFAULT);
        LogEntry first = new LogEntry(1, 1, LogEntry.Kind.COMMAND, KvMachine.put("a", "1"));
        LogEntry second = new LogEntry(2, 1, LogEntry.Kind.COMMAND, KvMachine.put("b", "2"));
        try (Replica replica = Replica.open("0123456789abcdef", config, holding, tmp.resolve("g"),
                new SimpleMeterRegistry())) {
            replica.apply(first);
            byte[] afterFirst = Chain.next(Chain.GENESIS, first);
            assertArrayEquals(afterFirst, replica.appliedNow().chain());

            Thread applier = Thread.ofPlatform().name("test-applier").daemon().start(() -> {
                try {
                    replica.apply(second);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            CompletableFuture<SessionContext.Applied> reading = new CompletableFuture<>();
            try {
                assertEquals(true, inApply.await(10, TimeUnit.SECONDS), "the apply of entry 2 began");
                Thread reader = Thread.ofPlatform().name("test-reader").daemon()
                        .start(() -> reading.complete(replica.appliedNow()));
                // Either the reader returns (no exclusion: this test fails) or it blocks on the
                // replica's lock: whichever happens first, no sleep decides it.
                Await.until("the reading returned or waits on the apply", Duration.ofSeconds(10),
                        () -> reading.isDone() || reader.getState() == Thread.State.BLOCKED);
                assertFalse(reading.isDone(), () -> "a reading during an apply returned " + reading.join().position());
            } finally {
                release.countDown();
            }
            SessionContext.Applied now = reading.get(10, TimeUnit.SECONDS);
            assertEquals(second.position(), now.position());
            assertArrayEquals(Chain.next(afterFirst, second), now.chain());
            applier.join(10_000);
        }
    }
}
