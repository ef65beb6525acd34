package io.statesync.node.ledger;

import java.util.Arrays;

/** A block's content address: SHA-256 of its encoding ({@link BlockCodec}). */
public final class BlockId {
    public static final int LENGTH = 32;

    /** The parent of every genesis block. */
    public static final BlockId ZERO = new BlockId(new byte[LENGTH]);

    private final byte[] digest;

    private BlockId(byte[] digest) {
        this.digest = digest;
    }

    public static BlockId of(byte[] digest) {
        if (digest == null || digest.length != LENGTH) {
            throw new IllegalArgumentException("block id must be " + LENGTH + " bytes, got "
                    + (digest == null ? "null" : digest.length));
        }
        return new BlockId(digest.clone());
    }

    public static BlockId fromHex(String hex) {
        return new BlockId(Bytes.fromHex("block id", hex, LENGTH));
    }

    public byte[] bytes() {
        return digest.clone();
    }

    byte[] raw() {
        return digest;
    }

    public String hex() {
        return Bytes.hex(digest);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BlockId other && Arrays.equals(digest, other.digest);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(digest);
    }

    @Override
    public String toString() {
        return hex();
    }
}
