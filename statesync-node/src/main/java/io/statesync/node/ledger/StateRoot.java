package io.statesync.node.ledger;

import java.util.Arrays;

/** The 32-byte commitment to a thread's whole state: the digest of its {@link LtHash}. */
public final class StateRoot {
    public static final int LENGTH = 32;

    private final byte[] digest;

    private StateRoot(byte[] digest) {
        this.digest = digest;
    }

    public static StateRoot of(byte[] digest) {
        if (digest == null || digest.length != LENGTH) {
            throw new IllegalArgumentException("state root must be " + LENGTH + " bytes, got "
                    + (digest == null ? "null" : digest.length));
        }
        return new StateRoot(digest.clone());
    }

    public static StateRoot fromHex(String hex) {
        return new StateRoot(Bytes.fromHex("state root", hex, LENGTH));
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
        return o instanceof StateRoot other && Arrays.equals(digest, other.digest);
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
