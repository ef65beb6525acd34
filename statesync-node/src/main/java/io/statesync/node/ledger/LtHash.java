package io.statesync.node.ledger;

import java.security.DigestException;
import java.security.MessageDigest;

/**
 * A homomorphic hash of a multiset of byte strings: 1024 lanes of unsigned 16-bit integers,
 * added lane-wise modulo 2^16. An element is expanded to 2048 bytes as
 * {@code SHA-256(SHA-256(element) || c)} for the one-byte counter c = 0..63, read as 1024
 * little-endian uint16 lanes; adding an element adds its lanes, removing subtracts them. The
 * hash of a set therefore does not depend on the order elements were added, and a state change
 * costs a remove of the old element and an add of the new one, not a rescan.
 *
 * <p>Not thread-safe: each instance reuses one digest and scratch buffers so that the per-element
 * cost is 65 SHA-256 compressions and no allocation.
 */
public final class LtHash {
    /** Number of 16-bit lanes. */
    public static final int LANES = 1024;
    /** Length of {@link #toBytes()}. */
    public static final int BYTES = LANES * 2;
    private static final int BLOCKS = BYTES / 32;

    private final char[] lanes;
    private final MessageDigest digest = Bytes.newSha256();
    /** SHA-256(element) followed by the counter byte. */
    private final byte[] seed = new byte[33];
    private final byte[] block = new byte[32];

    public LtHash() {
        this.lanes = new char[LANES];
    }

    private LtHash(char[] lanes) {
        this.lanes = lanes;
    }

    /** Adds one occurrence of {@code element}. */
    public void add(byte[] element) {
        mix(element, 0, element.length, true);
    }

    /** Removes one occurrence of {@code element}; removing what was never added still subtracts. */
    public void remove(byte[] element) {
        mix(element, 0, element.length, false);
    }

    void add(byte[] element, int offset, int length) {
        mix(element, offset, length, true);
    }

    /** Adds every lane of {@code other} (the union of the two multisets). */
    public void add(LtHash other) {
        for (int i = 0; i < LANES; i++) {
            lanes[i] = (char) (lanes[i] + other.lanes[i]);
        }
    }

    private void mix(byte[] element, int offset, int length, boolean add) {
        try {
            digest.reset();
            digest.update(element, offset, length);
            digest.digest(seed, 0, 32);
            for (int c = 0; c < BLOCKS; c++) {
                seed[32] = (byte) c;
                digest.update(seed, 0, 33);
                digest.digest(block, 0, 32);
                int base = c * 16;
                for (int j = 0; j < 16; j++) {
                    char v = (char) ((block[2 * j] & 0xff) | ((block[2 * j + 1] & 0xff) << 8));
                    lanes[base + j] = (char) (add ? lanes[base + j] + v : lanes[base + j] - v);
                }
            }
        } catch (DigestException e) {
            throw new IllegalStateException("SHA-256 refused a 32-byte output buffer", e);
        }
    }

    /** SHA-256 of the lanes in little-endian order. */
    public StateRoot root() {
        digest.reset();
        return StateRoot.of(digest.digest(toBytes()));
    }

    /** The lanes, little-endian: 2048 bytes. */
    public byte[] toBytes() {
        byte[] out = new byte[BYTES];
        for (int i = 0; i < LANES; i++) {
            out[2 * i] = (byte) lanes[i];
            out[2 * i + 1] = (byte) (lanes[i] >>> 8);
        }
        return out;
    }

    /** The hash whose lanes {@link #toBytes()} gave. */
    public static LtHash fromBytes(byte[] bytes) {
        if (bytes == null || bytes.length != BYTES) {
            throw new IllegalArgumentException("LtHash state must be " + BYTES + " bytes, got "
                    + (bytes == null ? "null" : bytes.length));
        }
        char[] lanes = new char[LANES];
        for (int i = 0; i < LANES; i++) {
            lanes[i] = (char) ((bytes[2 * i] & 0xff) | ((bytes[2 * i + 1] & 0xff) << 8));
        }
        return new LtHash(lanes);
    }

    /** An independent copy (with its own digest, so it may go to another thread). */
    public LtHash copy() {
        return new LtHash(lanes.clone());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LtHash other && java.util.Arrays.equals(lanes, other.lanes);
    }

    @Override
    public int hashCode() {
        return java.util.Arrays.hashCode(lanes);
    }

    @Override
    public String toString() {
        return "LtHash[" + root().hex() + "]";
    }
}
