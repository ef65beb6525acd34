package io.statesync.groups.log;

import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The wire form of a range of committed entries: {@code "SSE1" [from u64] [count u32]}, then per
 * entry {@code [term u64][kind u8][length u32][data]}, then the 32-byte chain value the sender
 * holds after the last entry. Indices are implied ({@code from, from+1, ...}), so a frame cannot
 * carry a hole. Decoding checks every length against the bytes actually present.
 *
 * @param claimedChain the sender's chain value after the last entry, to be checked by the receiver
 */
public record EntryFrame(long from, List<LogEntry> entries, byte[] claimedChain) {
    private static final int MAGIC = 0x53534531; // "SSE1"

    public EntryFrame {
        entries = List.copyOf(entries);
    }

    public static byte[] encode(List<CommittedLog.Stored> stored) {
        if (stored.isEmpty()) {
            throw new IllegalArgumentException("an entry frame carries at least one entry");
        }
        int size = 4 + 8 + 4 + Chain.SIZE;
        for (CommittedLog.Stored s : stored) {
            size += 8 + 1 + 4 + s.entry().data().length;
        }
        ByteBuffer b = ByteBuffer.allocate(size);
        b.putInt(MAGIC).putLong(stored.get(0).entry().index()).putInt(stored.size());
        for (CommittedLog.Stored s : stored) {
            LogEntry e = s.entry();
            b.putLong(e.term()).put((byte) e.kind().code()).putInt(e.data().length).put(e.data());
        }
        b.put(stored.get(stored.size() - 1).chain());
        return b.array();
    }

    /** Decodes a frame; any inconsistency is an IOException naming it. */
    public static EntryFrame decode(byte[] bytes, int maxEntries) throws IOException {
        try {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            if (b.getInt() != MAGIC) {
                throw new IOException("not an entry frame (bad magic)");
            }
            long from = b.getLong();
            int count = b.getInt();
            if (from < 1) {
                throw new IOException("entry frame with from=" + from + ": log indices start at 1");
            }
            if (count < 1 || count > maxEntries) {
                throw new IOException("entry frame with count=" + count + ": a frame holds at least 1 and at most "
                        + maxEntries + " entries");
            }
            List<LogEntry> entries = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                long term = b.getLong();
                int kind = b.get();
                int len = b.getInt();
                if (b.remaining() < Chain.SIZE) {
                    // Not even the trailing chain value fits: the frame was cut, whatever len says.
                    throw new BufferUnderflowException();
                }
                if (len < 0 || len > b.remaining() - Chain.SIZE) {
                    throw new IOException("entry " + (from + i) + " claims " + len + " bytes, more than the frame holds");
                }
                byte[] data = new byte[len];
                b.get(data);
                entries.add(new LogEntry(from + i, term, LogEntry.Kind.ofCode(kind), data));
            }
            byte[] chain = new byte[Chain.SIZE];
            b.get(chain);
            if (b.hasRemaining()) {
                throw new IOException("entry frame has " + b.remaining() + " trailing bytes");
            }
            return new EntryFrame(from, entries, chain);
        } catch (BufferUnderflowException e) {
            throw new IOException("entry frame is truncated");
        } catch (IllegalArgumentException e) {
            throw new IOException("entry frame is malformed: " + e.getMessage());
        }
    }

    public long to() {
        return from + entries.size() - 1;
    }
}
