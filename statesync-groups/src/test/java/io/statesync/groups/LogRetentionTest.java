package io.statesync.groups;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.groups.log.CommittedLog;
import io.statesync.groups.log.LogEntry;
import io.statesync.groups.sync.replay.LogReplaySync;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The committed log's byte bound, on a real member: real Ratis, real segment files. */
@Timeout(300)
class LogRetentionTest {
    private static final long BUDGET = 1L << 20;
    private static final int VALUE = 32 * 1024;

    @TempDir
    Path tmp;

    @Test
    void largeEntriesArePrunedByBytesLongBeforeTheEntryCountBoundIsReached() throws Exception {
        // Given a member that keeps up to a million entries but only 1 MiB of log, snapshotting every 20
        try (TestCluster c = new TestCluster(tmp, 1, LogReplaySync.DEFAULT, cfg -> cfg.withSnapshotEvery(20)
                .withRetention(2, 1_000_000).withRetainLogBytes(BUDGET)).startAll()) {
            Group g = c.nodes[0].group;
            List<Long> bytesAtSnapshots = new CopyOnWriteArrayList<>();
            g.onSnapshot(r -> bytesAtSnapshots.add(g.committedLog().bytes()));

            // When 300 entries of 32 KiB (over 9 MiB) are committed, overwriting a few keys
            byte[] value = new byte[VALUE];
            for (int i = 0; i < 300; i++) {
                value[0] = (byte) i;
                g.submitBlocking(KvMachine.put("k" + (i % 4), value));
            }
            g.snapshotNow();

            // Then right after every snapshot the log held at most the budget
            assertTrue(bytesAtSnapshots.size() >= 14, "snapshots seen: " + bytesAtSnapshots.size());
            for (long b : bytesAtSnapshots) {
                assertTrue(b <= BUDGET, "log bytes after a snapshot: " + bytesAtSnapshots);
            }
            // And the files on disk agree; far less than what was written is kept, yet not nothing.
            // Ratis appends its own small metadata entries after a commit on its own schedule, so
            // compare once the log has gone quiet (seen on CI: one 53-byte entry landed in between).
            long onDisk = settledSegmentBytes(g, c.nodes[0].dir);
            assertEquals(g.committedLog().bytes(), onDisk);
            assertTrue(onDisk <= BUDGET && onDisk > BUDGET / 2, "kept " + onDisk + " bytes");
            // (about 30 of the 32 KiB commands fit; Ratis's own small entries sit between them)
            List<CommittedLog.Stored> kept = g.committedLog().read(0, Long.MAX_VALUE, Long.MAX_VALUE);
            assertEquals(g.committedLog().last().index() - g.committedLog().base().index(), kept.size(),
                    "the member still serves every entry it kept");
            long commands = kept.stream().filter(e -> e.entry().kind() == LogEntry.Kind.COMMAND).count();
            assertTrue(commands > 10 && commands < 40, "commands kept: " + commands);
            assertEquals(4, c.nodes[0].machine.size(), "and its state is whole");
        }
    }

    private static long settledSegmentBytes(Group g, Path memberDir) throws Exception {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
        while (true) {
            long before = g.committedLog().bytes();
            long onDisk;
            try {
                onDisk = segmentBytes(memberDir);
            } catch (java.io.UncheckedIOException e) {
                // Ratis removed one of its own files while the walk passed by: not settled yet.
                Thread.sleep(100);
                continue;
            }
            if (before == onDisk && g.committedLog().bytes() == before || System.nanoTime() > deadline) {
                return onDisk;
            }
            Thread.sleep(100);
        }
    }

    private static long segmentBytes(Path memberDir) throws Exception {
        try (Stream<Path> s = Files.walk(memberDir)) {
            return s.filter(p -> p.getFileName().toString().matches("seg-\\d+\\.log")
                    && p.getParent().getFileName().toString().equals("log")).mapToLong(p -> {
                        try {
                            return Files.size(p);
                        } catch (java.io.IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    }).sum();
        }
    }
}
