package io.statesync.groups.log;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The hash chain over a group's committed entries: {@code c(i) = SHA-256(c(i-1) || index || term
 * || kind || length || data)}, starting from 32 zero bytes before entry 1. Every member computes
 * the same value at the same index, so one 32-byte value vouches for a whole prefix of the log; a
 * snapshot records the value at its index, and a fetched range of entries is checked against the
 * value peers report at its end.
 */
public final class Chain {
    public static final int SIZE = 32;
    public static final byte[] GENESIS = new byte[SIZE];

    private Chain() {
    }

    /** The chain value after {@code entry}, given the value before it. */
    public static byte[] next(byte[] previous, LogEntry entry) {
        MessageDigest sha = sha256();
        sha.update(previous);
        ByteBuffer head = ByteBuffer.allocate(8 + 8 + 1 + 4);
        head.putLong(entry.index()).putLong(entry.term()).put((byte) entry.kind().code()).putInt(entry.data().length);
        sha.update(head.array());
        sha.update(entry.data());
        return sha.digest();
    }

    public static String hex(byte[] chain) {
        return HexFormat.of().formatHex(chain);
    }

    /** Parses 64 hex digits; IllegalArgumentException otherwise. */
    public static byte[] parse(String hex) {
        byte[] b = HexFormat.of().parseHex(hex);
        if (b.length != SIZE) {
            throw new IllegalArgumentException("a chain value has " + SIZE + " bytes, not " + b.length);
        }
        return b;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
