package io.statesync.node.ledger;

import java.nio.charset.StandardCharsets;

/** A strict big-endian cursor over an encoding; every failure names the subject and the byte offset. */
final class Reader {
    private final String subject;
    private final byte[] data;
    private final int start;
    private final int end;
    private int pos;

    Reader(String subject, byte[] data) {
        this(subject, data, 0, data.length);
    }

    Reader(String subject, byte[] data, int offset, int length) {
        this.subject = subject;
        this.data = data;
        this.start = offset;
        this.pos = offset;
        this.end = offset + length;
    }

    /** Bytes read so far. */
    int position() {
        return pos - start;
    }

    int remaining() {
        return end - pos;
    }

    MalformedException error(String reason) {
        return new MalformedException(subject + ": " + reason);
    }

    private void need(int n) throws MalformedException {
        if (n > end - pos) {
            throw error("truncated at byte " + (pos - start) + " (" + n + " more needed, " + (end - pos) + " left)");
        }
    }

    int u8() throws MalformedException {
        need(1);
        return data[pos++] & 0xff;
    }

    int u16() throws MalformedException {
        need(2);
        int v = ((data[pos] & 0xff) << 8) | (data[pos + 1] & 0xff);
        pos += 2;
        return v;
    }

    /** An unsigned 32-bit length as a long, so a huge value cannot turn negative. */
    long u32() throws MalformedException {
        need(4);
        long v = 0;
        for (int i = 0; i < 4; i++) {
            v = (v << 8) | (data[pos + i] & 0xff);
        }
        pos += 4;
        return v;
    }

    long i64() throws MalformedException {
        need(8);
        long v = Bytes.getLong(data, pos);
        pos += 8;
        return v;
    }

    byte[] bytes(int n) throws MalformedException {
        need(n);
        byte[] out = new byte[n];
        System.arraycopy(data, pos, out, 0, n);
        pos += n;
        return out;
    }

    ThreadId thread() throws MalformedException {
        int len = u8();
        if (len < 1 || len > ThreadId.MAX_LENGTH) {
            throw error("thread name of " + len + " bytes, must be 1 to " + ThreadId.MAX_LENGTH);
        }
        String name = new String(bytes(len), StandardCharsets.ISO_8859_1);
        try {
            return new ThreadId(name);
        } catch (IllegalArgumentException e) {
            throw error(e.getMessage());
        }
    }

    void expectEnd() throws MalformedException {
        if (pos != end) {
            int extra = end - pos;
            throw error(extra + " trailing byte" + (extra == 1 ? "" : "s"));
        }
    }
}
