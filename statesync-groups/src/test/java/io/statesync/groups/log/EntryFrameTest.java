package io.statesync.groups.log;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The wire form of a range of entries: a round trip, and every malformed frame refused with its reason. */
class EntryFrameTest {
    /** Offsets in a frame: magic 0, from 4, count 12, first entry's term 16, kind 24, length 25, data 29. */
    private static final int COUNT = 12;
    private static final int FIRST_KIND = 24;
    private static final int FIRST_LENGTH = 25;

    /** Entries 5..7: two commands around a no-op, with their chain values. */
    private static List<CommittedLog.Stored> stored() {
        List<CommittedLog.Stored> out = new ArrayList<>();
        byte[] chain = new byte[Chain.SIZE];
        Arrays.fill(chain, (byte) 7);
        for (LogEntry e : List.of(new LogEntry(5, 2, LogEntry.Kind.COMMAND, "five".getBytes(UTF_8)),
                LogEntry.noop(6, 3), new LogEntry(7, 3, LogEntry.Kind.COMMAND, new byte[0]))) {
            chain = Chain.next(chain, e);
            out.add(new CommittedLog.Stored(e, chain));
        }
        return out;
    }

    private static IOException refused(byte[] frame) {
        return assertThrows(IOException.class, () -> EntryFrame.decode(frame, 100));
    }

    private static void assertMessage(String expected, IOException e) {
        assertTrue(e.getMessage().contains(expected), "'" + e.getMessage() + "' should say '" + expected + "'");
        assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }

    @Test
    void roundTrip() throws IOException {
        List<CommittedLog.Stored> stored = stored();
        EntryFrame f = EntryFrame.decode(EntryFrame.encode(stored), 3);
        assertEquals(5, f.from());
        assertEquals(7, f.to());
        assertEquals(3, f.entries().size());
        for (int i = 0; i < 3; i++) {
            LogEntry want = stored.get(i).entry();
            LogEntry got = f.entries().get(i);
            assertEquals(want.index(), got.index());
            assertEquals(want.term(), got.term());
            assertEquals(want.kind(), got.kind());
            assertArrayEquals(want.data(), got.data());
        }
        assertArrayEquals(stored.get(2).chain(), f.claimedChain(), "the chain after the last entry travels");
    }

    @Test
    void anEmptyFrameCannotBeEncoded() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> EntryFrame.encode(List.of()));
        assertEquals("an entry frame carries at least one entry", e.getMessage());
    }

    @Test
    void badMagicIsRefused() {
        byte[] f = EntryFrame.encode(stored());
        f[0] = 'X';
        assertMessage("bad magic", refused(f));
    }

    @Test
    void truncatedFramesAreRefused() {
        byte[] f = EntryFrame.encode(stored());
        assertMessage("truncated", refused(new byte[0]));
        assertMessage("truncated", refused(Arrays.copyOf(f, 3)));
        assertMessage("truncated", refused(Arrays.copyOf(f, FIRST_KIND)));
        // Cut inside the trailing chain value
        assertMessage("truncated", refused(Arrays.copyOf(f, f.length - 1)));
    }

    @Test
    void aFrameWithoutEntriesIsRefused() {
        byte[] f = EntryFrame.encode(stored());
        ByteBuffer.wrap(f).putInt(COUNT, 0);
        assertMessage("count=0", refused(f));
    }

    @Test
    void aFrameWithMoreEntriesThanAllowedIsRefused() throws IOException {
        byte[] f = EntryFrame.encode(stored());
        IOException e = assertThrows(IOException.class, () -> EntryFrame.decode(f, 2));
        assertMessage("count=3", e);
        assertMessage("at most 2", e);
        // A huge claimed count is refused before anything is allocated for it
        ByteBuffer.wrap(f).putInt(COUNT, Integer.MAX_VALUE);
        assertMessage("count=" + Integer.MAX_VALUE, refused(f));
        ByteBuffer.wrap(f).putInt(COUNT, -1);
        assertMessage("count=-1", refused(f));
    }

    @Test
    void aFrameStartingAtIndexZeroIsRefused() {
        byte[] f = EntryFrame.encode(stored());
        ByteBuffer.wrap(f).putLong(4, 0);
        assertMessage("from=0", refused(f));
    }

    @Test
    void aLengthLargerThanTheFrameIsRefused() {
        byte[] f = EntryFrame.encode(stored());
        ByteBuffer.wrap(f).putInt(FIRST_LENGTH, 1000);
        assertMessage("entry 5 claims 1000 bytes, more than the frame holds", refused(f));
        ByteBuffer.wrap(f).putInt(FIRST_LENGTH, Integer.MAX_VALUE);
        assertMessage("entry 5 claims " + Integer.MAX_VALUE + " bytes", refused(f));
        ByteBuffer.wrap(f).putInt(FIRST_LENGTH, -1);
        assertMessage("entry 5 claims -1 bytes", refused(f));
        // A length that reaches into the trailing chain value is too long as well
        byte[] g = EntryFrame.encode(stored());
        ByteBuffer.wrap(g).putInt(FIRST_LENGTH, 4 + (8 + 1 + 4) * 2 + 1);
        assertMessage("more than the frame holds", refused(g));
    }

    @Test
    void trailingBytesAreRefused() {
        byte[] f = EntryFrame.encode(stored());
        assertMessage("3 trailing bytes", refused(Arrays.copyOf(f, f.length + 3)));
    }

    @Test
    void anUnknownKindIsRefused() {
        byte[] f = EntryFrame.encode(stored());
        f[FIRST_KIND] = 7;
        assertMessage("unknown entry kind 7", refused(f));
    }

    @Test
    void aNoopWithDataIsRefused() {
        byte[] f = EntryFrame.encode(stored());
        f[FIRST_KIND] = 1; // entry 5 carries "five"
        assertMessage("a no-op entry carries no data", refused(f));
    }

    @Test
    void aNegativeTermIsRefused() {
        byte[] f = EntryFrame.encode(stored());
        ByteBuffer.wrap(f).putLong(16, -1);
        assertMessage("bad entry position", refused(f));
    }
}
