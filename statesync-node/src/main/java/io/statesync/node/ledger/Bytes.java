package io.statesync.node.ledger;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** Small byte helpers shared by the ledger's value types and codecs. */
final class Bytes {
    private static final HexFormat HEX = HexFormat.of();
    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(Bytes::newSha256);

    private Bytes() {}

    static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    /** SHA-256 of {@code data}, with this thread's reusable digest. */
    static byte[] sha256(byte[] data) {
        MessageDigest md = SHA256.get();
        md.reset();
        return md.digest(data);
    }

    static String hex(byte[] bytes) {
        return HEX.formatHex(bytes);
    }

    /** Parses exactly {@code length} bytes of lower- or upper-case hex; {@code what} names the value in errors. */
    static byte[] fromHex(String what, String text, int length) {
        if (text == null) {
            throw new IllegalArgumentException(what + ": null hex string");
        }
        if (text.length() != length * 2) {
            throw new IllegalArgumentException(
                    what + ": expected " + (length * 2) + " hex digits, got " + text.length());
        }
        try {
            return HEX.parseHex(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(what + ": not hex: \"" + abbreviate(text) + "\"");
        }
    }

    /** The first 12 hex digits and an ellipsis: enough to tell ids apart in a log line. */
    static String shortHex(byte[] bytes) {
        String h = hex(bytes);
        return h.length() <= 12 ? h : h.substring(0, 12) + "…";
    }

    static String abbreviate(String text) {
        return text.length() <= 80 ? text : text.substring(0, 77) + "...";
    }

    static void putLong(byte[] into, int offset, long value) {
        for (int i = 7; i >= 0; i--) {
            into[offset + i] = (byte) value;
            value >>>= 8;
        }
    }

    static long getLong(byte[] from, int offset) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (from[offset + i] & 0xff);
        }
        return v;
    }
}
