package io.statesync.core.cid;

/** RFC 4648 base32, lower-case alphabet, no padding: the multibase 'b' encoding. */
final class Base32 {
    private static final char[] ALPHABET = "abcdefghijklmnopqrstuvwxyz234567".toCharArray();
    private static final int[] VALUES = new int[128];

    static {
        java.util.Arrays.fill(VALUES, -1);
        for (int i = 0; i < ALPHABET.length; i++) {
            VALUES[ALPHABET[i]] = i;
        }
    }

    private Base32() {
    }

    static String encode(byte[] data) {
        StringBuilder sb = new StringBuilder((data.length * 8 + 4) / 5);
        int buffer = 0;
        int bits = 0;
        for (byte b : data) {
            buffer = (buffer << 8) | (b & 0xff);
            bits += 8;
            while (bits >= 5) {
                sb.append(ALPHABET[(buffer >>> (bits - 5)) & 31]);
                bits -= 5;
            }
        }
        if (bits > 0) {
            sb.append(ALPHABET[(buffer << (5 - bits)) & 31]);
        }
        return sb.toString();
    }

    /** Decodes {@code text} from index {@code from}; rejects foreign characters and non-zero pad bits. */
    static byte[] decode(String text, int from) {
        int chars = text.length() - from;
        byte[] out = new byte[chars * 5 / 8];
        int buffer = 0;
        int bits = 0;
        int p = 0;
        for (int i = from; i < text.length(); i++) {
            char c = text.charAt(i);
            int v = c < 128 ? VALUES[c] : -1;
            if (v < 0) {
                throw new CidFormatException("invalid base32 character '" + (c < 0x20 || c > 0x7e
                        ? String.format("\\u%04x", (int) c) : String.valueOf(c)) + "' at position " + i);
            }
            buffer = (buffer << 5) | v;
            bits += 5;
            if (bits >= 8) {
                out[p++] = (byte) (buffer >>> (bits - 8));
                bits -= 8;
            }
        }
        if (bits >= 5 || (buffer & ((1 << bits) - 1)) != 0) {
            throw new CidFormatException("non-canonical base32: the CID text has a bad length or trailing bits");
        }
        return out;
    }
}
