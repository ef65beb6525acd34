package io.statesync.groups.log;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The committed log on real files: ranges, segments, pruning, reset, reopen and torn tails. */
class CommittedLogTest {
    /** Records of {@link #entry} are 21 + 2..3 + 32 bytes: two records fill a segment of this size. */
    private static final long TINY_SEGMENT = 100;
    private static final long BIG_SEGMENT = 64L << 20;

    @TempDir
    Path dir;

    /** Entry {@code i}: a command whose data names it, except every seventh, a no-op; term grows every four. */
    private static LogEntry entry(long i) {
        long term = 1 + (i - 1) / 4;
        return i % 7 == 0 ? LogEntry.noop(i, term) : new LogEntry(i, term, LogEntry.Kind.COMMAND, ("e" + i).getBytes(UTF_8));
    }

    /** Appends entries {@code from..to} with their chain values. */
    private static void append(CommittedLog log, long from, long to) throws IOException {
        byte[] chain = log.lastChain();
        for (long i = from; i <= to; i++) {
            LogEntry e = entry(i);
            chain = Chain.next(chain, e);
            log.append(e, chain);
        }
    }

    /** The chain value after entry {@code index} of a log holding {@code entry(1..)}, computed independently. */
    private static byte[] chainAt(long index) {
        byte[] c = Chain.GENESIS;
        for (long i = 1; i <= index; i++) {
            c = Chain.next(c, entry(i));
        }
        return c;
    }

    private List<Path> segments() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("seg-")).sorted().toList();
        }
    }

    /** Checks that {@code read} returned exactly {@code from..to} with the right contents and chain values. */
    private static void assertEntries(List<CommittedLog.Stored> read, long from, long to) {
        List<Long> indices = new ArrayList<>();
        read.forEach(s -> indices.add(s.entry().index()));
        List<Long> expected = new ArrayList<>();
        for (long i = from; i <= to; i++) {
            expected.add(i);
        }
        assertEquals(expected, indices);
        for (CommittedLog.Stored s : read) {
            LogEntry want = entry(s.entry().index());
            assertEquals(want.term(), s.entry().term());
            assertEquals(want.kind(), s.entry().kind());
            assertArrayEquals(want.data(), s.entry().data());
            assertArrayEquals(chainAt(s.entry().index()), s.chain(), "chain at " + s.entry().index());
        }
    }

    @Test
    void freshLogIsEmptyAtTheOrigin() throws IOException {
        try (CommittedLog log = CommittedLog.open(dir, TINY_SEGMENT)) {
            assertEquals(LogPosition.ORIGIN, log.base());
            assertEquals(LogPosition.ORIGIN, log.last());
            assertArrayEquals(Chain.GENESIS, log.lastChain());
            assertTrue(log.read(1, 100, Long.MAX_VALUE).isEmpty());
            CommittedLog.Point origin = log.at(0).orElseThrow();
            assertEquals(LogPosition.ORIGIN, origin.position());
            assertArrayEquals(Chain.GENESIS, origin.chain());
            assertTrue(log.at(1).isEmpty());
        }
    }

    @Test
    void readsRangesAcrossSegments() throws IOException {
        // Given ten entries in segments of two entries each
        try (CommittedLog log = CommittedLog.open(dir, TINY_SEGMENT)) {
            append(log, 1, 10);
            assertEquals(5, segments().size(), "segments: " + segments());
            assertEquals(entry(10).position(), log.last());
            assertArrayEquals(chainAt(10), log.lastChain());

            // Then any range reads back in order, across segment boundaries, clipped to what is kept
            assertEntries(log.read(1, 10, Long.MAX_VALUE), 1, 10);
            assertEntries(log.read(3, 8, Long.MAX_VALUE), 3, 8);
            assertEntries(log.read(2, 3, Long.MAX_VALUE), 2, 3);
            assertEntries(log.read(10, 10, Long.MAX_VALUE), 10, 10);
            assertEntries(log.read(0, 1000, Long.MAX_VALUE), 1, 10);
            assertTrue(log.read(11, 20, Long.MAX_VALUE).isEmpty());
            assertTrue(log.read(6, 5, Long.MAX_VALUE).isEmpty(), "from > to reads nothing");
        }
    }

    @Test
    void readsInsideALongSegmentThroughTheSparseIndex() throws IOException {
        // Given 300 entries in one segment (an offset is remembered every 64 entries)
        try (CommittedLog log = CommittedLog.open(dir, BIG_SEGMENT)) {
            append(log, 1, 300);
            assertEquals(1, segments().size());

            // Then ranges starting between and on remembered offsets read correctly
            assertEntries(log.read(130, 135, Long.MAX_VALUE), 130, 135);
            assertEntries(log.read(129, 129, Long.MAX_VALUE), 129, 129);
            assertEntries(log.read(64, 66, Long.MAX_VALUE), 64, 66);
            assertEntries(log.read(250, 400, Long.MAX_VALUE), 250, 300);
        }
    }

    @Test
    void readStopsAtMaxBytesButReturnsAtLeastOneEntry() throws IOException {
        try (CommittedLog log = CommittedLog.open(dir, BIG_SEGMENT)) {
            byte[] chain = Chain.GENESIS;
            for (long i = 1; i <= 10; i++) {
                LogEntry e = new LogEntry(i, 1, LogEntry.Kind.COMMAND, new byte[100]);
                chain = Chain.next(chain, e);
                log.append(e, chain);
            }
            // When reads are capped below the range's size
            // Then they stop once the cap is reached (the entry crossing it included)
            assertEquals(3, log.read(1, 10, 250).size());
            assertEquals(2, log.read(4, 10, 200).size());
            assertEquals(10, log.read(1, 10, 1000).size());
            // And a cap below one entry still returns that entry, never nothing
            assertEquals(1, log.read(1, 10, 1).size());
            assertEquals(1, log.read(5, 10, 0).size());
            assertEquals(5, log.read(5, 10, 0).get(0).entry().index());
        }
    }

    @Test
    void atAnswersForTheBaseAndKeptEntriesOnly() throws IOException {
        try (CommittedLog log = CommittedLog.open(dir, TINY_SEGMENT)) {
            append(log, 1, 10);
            CommittedLog.Point p = log.at(5).orElseThrow();
            assertEquals(entry(5).position(), p.position());
            assertArrayEquals(chainAt(5), p.chain());
            assertArrayEquals(chainAt(0), log.at(0).orElseThrow().chain());
            assertEquals(Optional.empty(), log.at(11));

            // After pruning, the new base answers and entries before it do not
            assertEquals(4, log.prune(4));
            CommittedLog.Point base = log.at(4).orElseThrow();
            assertEquals(entry(4).position(), base.position());
            assertArrayEquals(chainAt(4), base.chain());
            assertEquals(Optional.empty(), log.at(3));
            assertEquals(Optional.empty(), log.at(0));
        }
    }

    @Test
    void pruneDropsOnlyWholeSegmentsAndNeverTheLast() throws IOException {
        // Given segments [1,2] [3,4] [5,6] [7,8] [9,10]
        try (CommittedLog log = CommittedLog.open(dir, TINY_SEGMENT)) {
            append(log, 1, 10);

            // When pruning up to 4: the first two segments go, the base moves to 4
            assertEquals(4, log.prune(4));
            assertEquals(entry(4).position(), log.base());
            assertEquals(3, segments().size());
            assertEntries(log.read(1, 10, Long.MAX_VALUE), 5, 10);

            // When pruning up to 5: entry 6 shares a segment with 5, so nothing goes
            assertEquals(4, log.prune(5));
            assertEquals(3, segments().size());

            // When pruning far past the end: everything but the segment holding the last entry goes
            assertEquals(8, log.prune(1000));
            assertEquals(entry(8).position(), log.base());
            assertEquals(List.of(dir.resolve(String.format("seg-%020d.log", 9))), segments());
            assertEntries(log.read(1, 10, Long.MAX_VALUE), 9, 10);
            assertEquals(entry(10).position(), log.last());

            // And appends continue after a prune
            append(log, 11, 12);
            assertEntries(log.read(9, 12, Long.MAX_VALUE), 9, 12);
        }
        // And the base survives a reopen
        try (CommittedLog log = CommittedLog.open(dir, TINY_SEGMENT)) {
            assertEquals(entry(8).position(), log.base());
            assertEquals(entry(12).position(), log.last());
            assertArrayEquals(chainAt(12), log.lastChain());
            assertEntries(log.read(1, 100, Long.MAX_VALUE), 9, 12);
        }
    }

    @Test
    void pruneKeepsASingleSegment() throws IOException {
        try (CommittedLog log = CommittedLog.open(dir, BIG_SEGMENT)) {
            append(log, 1, 20);
            assertEquals(0, log.prune(1000));
            assertEquals(LogPosition.ORIGIN, log.base());
            assertEntries(log.read(1, 20, Long.MAX_VALUE), 1, 20);
        }
    }

    @Test
    void pruneIndexForBytesKeepsTheNewestSegmentsThatFitTheBudget() throws IOException {
        // Given 20 entries of 1000 bytes (records of 21 + 1000 + 32 bytes), two to a segment
        long record = 21 + 1000 + 32;
        try (CommittedLog log = CommittedLog.open(dir, 2000)) {
            byte[] chain = Chain.GENESIS;
            for (long i = 1; i <= 20; i++) {
                LogEntry e = new LogEntry(i, 1, LogEntry.Kind.COMMAND, new byte[1000]);
                chain = Chain.next(chain, e);
                log.append(e, chain);
            }
            assertEquals(10, segments().size());
            assertEquals(20 * record, log.bytes());
            long onDisk = 0;
            for (Path p : segments()) {
                onDisk += Files.size(p);
            }
            assertEquals(onDisk, log.bytes(), "bytes() is what the segment files take");

            // Then everything fits a budget of all of it: nothing to prune
            assertEquals(0, log.pruneIndexForBytes(20 * record));
            // A budget of two and a half segments keeps the newest two
            assertEquals(16, log.pruneIndexForBytes(5 * record));
            assertEquals(16, log.prune(log.pruneIndexForBytes(5 * record)));
            assertEquals(4 * record, log.bytes());
            assertEntries(log, 17, 20);
            // A budget smaller than one segment keeps the newest, which holds the last entry
            assertEquals(18, log.pruneIndexForBytes(100));
            assertEquals(18, log.prune(log.pruneIndexForBytes(100)));
            assertEquals(2 * record, log.bytes());
            assertEquals(18, log.pruneIndexForBytes(0), "nothing more can go");
        }
    }

    private static void assertEntries(CommittedLog log, long from, long to) throws IOException {
        List<CommittedLog.Stored> read = log.read(0, Long.MAX_VALUE, Long.MAX_VALUE);
        assertEquals(from, read.get(0).entry().index());
        assertEquals(to, read.get(read.size() - 1).entry().index());
        assertEquals(to - from + 1, read.size());
    }

    @Test
    void resetToForgetsEverythingAndContinuesAfterThePosition() throws IOException {
        byte[] snapshotChain = Chain.next(Chain.GENESIS, LogEntry.noop(1, 9));
        LogPosition snapshot = new LogPosition(3, 50);
        try (CommittedLog log = CommittedLog.open(dir, TINY_SEGMENT)) {
            append(log, 1, 10);

            // When the log is reset to a snapshot's position
            log.resetTo(snapshot, snapshotChain);

            // Then it holds nothing, starts and ends there, and the entries' files are gone
            assertEquals(snapshot, log.base());
            assertEquals(snapshot, log.last());
            assertArrayEquals(snapshotChain, log.lastChain());
            assertTrue(segments().isEmpty());
            assertTrue(log.read(1, 100, Long.MAX_VALUE).isEmpty());
            assertArrayEquals(snapshotChain, log.at(50).orElseThrow().chain());

            // And the next append is 51; anything else is refused
            assertThrows(IllegalStateException.class, () -> log.append(entry(11), Chain.GENESIS));
            LogEntry e51 = new LogEntry(51, 3, LogEntry.Kind.COMMAND, "x".getBytes(UTF_8));
            log.append(e51, Chain.next(snapshotChain, e51));
        }
        try (CommittedLog log = CommittedLog.open(dir, TINY_SEGMENT)) {
            assertEquals(snapshot, log.base());
            assertEquals(new LogPosition(3, 51), log.last());
            List<CommittedLog.Stored> read = log.read(1, 100, Long.MAX_VALUE);
            assertEquals(1, read.size());
            assertEquals(51, read.get(0).entry().index());
        }
    }

    @Test
    void reopenAfterCloseKeepsEverything() throws IOException {
        try (CommittedLog log = CommittedLog.open(dir, TINY_SEGMENT)) {
            append(log, 1, 9);
        }
        try (CommittedLog log = CommittedLog.open(dir, TINY_SEGMENT)) {
            assertEquals(LogPosition.ORIGIN, log.base());
            assertEquals(entry(9).position(), log.last());
            assertArrayEquals(chainAt(9), log.lastChain());
            assertEntries(log.read(1, 9, Long.MAX_VALUE), 1, 9);
            // The last segment had room for one more record: the reopened log appends to it
            append(log, 10, 11);
        }
        try (CommittedLog log = CommittedLog.open(dir, TINY_SEGMENT)) {
            assertEntries(log.read(1, 100, Long.MAX_VALUE), 1, 11);
        }
    }

    @Test
    void reopenCutsATruncatedTailAndKeepsTheEntriesBefore() throws IOException {
        // Given ten entries, the last record torn by a crash (its last 5 bytes missing)
        try (CommittedLog log = CommittedLog.open(dir, TINY_SEGMENT)) {
            append(log, 1, 10);
        }
        Path lastSegment = segments().get(segments().size() - 1);
        long size = Files.size(lastSegment);
        try (FileChannel ch = FileChannel.open(lastSegment, StandardOpenOption.WRITE)) {
            ch.truncate(size - 5);
        }

        // When the log is reopened
        try (CommittedLog log = CommittedLog.open(dir, TINY_SEGMENT)) {
            // Then the torn record is cut and the entries before it are kept with their chain
            assertEquals(entry(9).position(), log.last());
            assertArrayEquals(chainAt(9), log.lastChain());
            assertEntries(log.read(1, 100, Long.MAX_VALUE), 1, 9);
            assertEquals(size - (21 + entry(10).data().length + 32), Files.size(lastSegment),
                    "the file is cut at the end of entry 9");

            // And entry 10 can be appended again
            append(log, 10, 10);
        }
        try (CommittedLog log = CommittedLog.open(dir, TINY_SEGMENT)) {
            assertEntries(log.read(1, 100, Long.MAX_VALUE), 1, 10);
        }
    }

    @Test
    void reopenCutsGarbageAfterTheLastRecord() throws IOException {
        try (CommittedLog log = CommittedLog.open(dir, TINY_SEGMENT)) {
            append(log, 1, 10);
        }
        Path lastSegment = segments().get(segments().size() - 1);
        long size = Files.size(lastSegment);
        // Garbage that reads like the header of entry 11 claiming more bytes than follow, then noise
        ByteBuffer junk = ByteBuffer.allocate(21 + 5).putLong(11).putLong(3).put((byte) 0).putInt(1000)
                .put(new byte[] {1, 2, 3, 4, 5});
        Files.write(lastSegment, junk.array(), StandardOpenOption.APPEND);

        try (CommittedLog log = CommittedLog.open(dir, TINY_SEGMENT)) {
            assertEquals(entry(10).position(), log.last());
            assertArrayEquals(chainAt(10), log.lastChain());
            assertEntries(log.read(1, 100, Long.MAX_VALUE), 1, 10);
            assertEquals(size, Files.size(lastSegment));
            append(log, 11, 11);
            assertEntries(log.read(10, 11, Long.MAX_VALUE), 10, 11);
        }
    }

    @Test
    void reopenCutsAtACorruptRecordAndDropsTheSegmentsAfterIt() throws IOException {
        // Given entry 5's data damaged on disk (its stored chain value no longer matches)
        try (CommittedLog log = CommittedLog.open(dir, TINY_SEGMENT)) {
            append(log, 1, 10);
        }
        Path third = dir.resolve(String.format("seg-%020d.log", 5));
        byte[] bytes = Files.readAllBytes(third);
        bytes[21] ^= 0x01; // the first data byte of entry 5
        Files.write(third, bytes);

        // When the log is reopened
        try (CommittedLog log = CommittedLog.open(dir, TINY_SEGMENT)) {
            // Then it ends before the damage: what follows cannot be vouched for
            assertEquals(entry(4).position(), log.last());
            assertArrayEquals(chainAt(4), log.lastChain());
            assertEntries(log.read(1, 100, Long.MAX_VALUE), 1, 4);
            assertEquals(2, segments().size(), "segments: " + segments());
            append(log, 5, 6);
            assertEntries(log.read(1, 100, Long.MAX_VALUE), 1, 6);
        }
    }

    @Test
    void appendOfANonNextIndexThrows() throws IOException {
        try (CommittedLog log = CommittedLog.open(dir, TINY_SEGMENT)) {
            append(log, 1, 3);
            IllegalStateException gap = assertThrows(IllegalStateException.class,
                    () -> log.append(entry(5), Chain.GENESIS));
            assertEquals("append of entry 5 after 3", gap.getMessage());
            IllegalStateException again = assertThrows(IllegalStateException.class,
                    () -> log.append(entry(3), Chain.GENESIS));
            assertEquals("append of entry 3 after 3", again.getMessage());
            // Nothing changed
            assertEntries(log.read(1, 100, Long.MAX_VALUE), 1, 3);
            assertArrayEquals(chainAt(3), log.lastChain());
        }
    }

    @Test
    void anOversizedEntryIsRefused() throws IOException {
        try (CommittedLog log = CommittedLog.open(dir, BIG_SEGMENT)) {
            append(log, 1, 1);
            LogEntry huge = new LogEntry(2, 1, LogEntry.Kind.COMMAND, new byte[CommittedLog.MAX_ENTRY_BYTES + 1]);
            IOException e = assertThrows(IOException.class, () -> log.append(huge, Chain.GENESIS));
            assertTrue(e.getMessage().contains("entry 2 has " + (CommittedLog.MAX_ENTRY_BYTES + 1) + " bytes"),
                    e.getMessage());
            assertEquals(entry(1).position(), log.last());
            append(log, 2, 2);
        }
    }

    @Test
    void aCorruptBaseFileIsAnError() throws IOException {
        Files.createDirectories(dir);
        Files.write(dir.resolve("base"), new byte[7]);
        IOException e = assertThrows(IOException.class, () -> CommittedLog.open(dir, TINY_SEGMENT));
        assertTrue(e.getMessage().startsWith("corrupt committed-log base file"), e.getMessage());
    }
}
