package io.statesync.node.ledger;

import java.util.Arrays;

/** A 32-byte SHA-256 value with a name: equal by content within one kind, printed as hex. */
abstract class Digest32 {
    static final int LENGTH = 32;

    private final byte[] digest;

    Digest32(byte[] digest) {
        this.digest = digest;
    }

    /** A copy of {@code digest}, checked to be 32 bytes; {@code what} names it in the error. */
    static byte[] checked(String what, byte[] digest) {
        if (digest == null || digest.length != LENGTH) {
            throw new IllegalArgumentException(what + " must be " + LENGTH + " bytes, got "
                    + (digest == null ? "null" : digest.length));
        }
        return digest.clone();
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
        return o != null && o.getClass() == getClass() && Arrays.equals(digest, ((Digest32) o).digest);
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
