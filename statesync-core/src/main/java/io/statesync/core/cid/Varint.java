package io.statesync.core.cid;

/** Unsigned LEB128 varints as multiformats uses them (minimal encoding, at most 9 bytes). */
final class Varint {
    private Varint() {
    }

    static long read(byte[] in, int[] pos) {
        long value = 0;
        for (int shift = 0, i = 0; i < 9; i++, shift += 7) {
            if (pos[0] >= in.length) {
                throw new CidFormatException("truncated CID: varint runs past the end");
            }
            int b = in[pos[0]++] & 0xff;
            value |= (long) (b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                if (b == 0 && i > 0) {
                    throw new CidFormatException("non-minimal varint in CID");
                }
                return value;
            }
        }
        throw new CidFormatException("varint in CID longer than 9 bytes");
    }

    static int size(long value) {
        int n = 1;
        while ((value >>>= 7) != 0) {
            n++;
        }
        return n;
    }

    static int write(long value, byte[] out, int pos) {
        while ((value & ~0x7fL) != 0) {
            out[pos++] = (byte) ((value & 0x7f) | 0x80);
            value >>>= 7;
        }
        out[pos++] = (byte) value;
        return pos;
    }
}
