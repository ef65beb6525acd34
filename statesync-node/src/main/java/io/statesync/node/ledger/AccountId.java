package io.statesync.node.ledger;

import java.util.Arrays;

/** An account: the raw 32-byte Ed25519 public key of its owner. Compares by content. */
public final class AccountId implements Comparable<AccountId> {
    /** Length of a raw Ed25519 public key. */
    public static final int LENGTH = 32;

    private final byte[] key;

    private AccountId(byte[] key) {
        this.key = key;
    }

    /** The account of a raw 32-byte public key. */
    public static AccountId of(byte[] rawPublicKey) {
        if (rawPublicKey == null || rawPublicKey.length != LENGTH) {
            throw new IllegalArgumentException("account id must be " + LENGTH + " bytes, got "
                    + (rawPublicKey == null ? "null" : rawPublicKey.length));
        }
        return new AccountId(rawPublicKey.clone());
    }

    /** Parses 64 hex digits. */
    public static AccountId fromHex(String hex) {
        return new AccountId(Bytes.fromHex("account id", hex, LENGTH));
    }

    /** A copy of the raw key. */
    public byte[] bytes() {
        return key.clone();
    }

    /** The raw key itself, for encoders in this package; never hand it out. */
    byte[] raw() {
        return key;
    }

    public String hex() {
        return Bytes.hex(key);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AccountId other && Arrays.equals(key, other.key);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(key);
    }

    @Override
    public int compareTo(AccountId o) {
        return Arrays.compareUnsigned(key, o.key);
    }

    @Override
    public String toString() {
        return hex();
    }
}
