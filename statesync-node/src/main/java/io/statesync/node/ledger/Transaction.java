package io.statesync.node.ledger;

import java.util.Arrays;
import java.util.Objects;

/**
 * A signed transaction on one thread. The sender signs the SHA-256 digest of
 * {@link #signingBytes()}, which include the thread, so a transaction is valid on exactly one
 * thread. (Signing the digest rather than the bytes keeps a 64 KiB write as cheap to sign and
 * verify as a transfer: Ed25519 hashes its whole message twice, SHA-256 once.) Every transaction of a sender
 * carries the sender's current nonce, which then increments.
 */
public sealed interface Transaction {
    /** Longest data key. */
    int MAX_KEY_LENGTH = 64;
    /** Largest data value; an empty value deletes the entry. */
    int MAX_VALUE_LENGTH = 65536;

    ThreadId thread();

    AccountId from();

    long nonce();

    /** A copy of the 64-byte Ed25519 signature. */
    byte[] signature();

    /** The encoding without the signature: what the sender signs. */
    default byte[] signingBytes() {
        return TransactionCodec.signingBytes(this);
    }

    /** The full binary encoding ({@link TransactionCodec}). */
    default byte[] encode() {
        return TransactionCodec.encode(this);
    }

    /** Hex SHA-256 of the encoding. */
    default String id() {
        return Bytes.hex(Bytes.sha256(encode()));
    }

    /** The message the sender signs: SHA-256 of {@link #signingBytes()}. */
    default byte[] signedDigest() {
        return Bytes.sha256(signingBytes());
    }

    /** Whether the signature is {@link #from()}'s signature of {@link #signedDigest()}. */
    default boolean signatureValid() {
        return Keys.verify(from(), signedDigest(), signature());
    }

    /** A transfer signed by {@code signer}. */
    static Transfer transfer(Signer signer, ThreadId thread, long nonce, AccountId to, long amount) {
        Transfer unsigned = new Transfer(thread, signer.account(), nonce, to, amount, new byte[Keys.SIGNATURE_LENGTH]);
        return new Transfer(thread, signer.account(), nonce, to, amount, signer.sign(unsigned.signedDigest()));
    }

    /** A data write signed by {@code signer}; an empty value deletes the key. */
    static Write write(Signer signer, ThreadId thread, long nonce, byte[] key, byte[] value) {
        Write unsigned = new Write(thread, signer.account(), nonce, key, value, new byte[Keys.SIGNATURE_LENGTH]);
        return new Write(thread, signer.account(), nonce, key, value, signer.sign(unsigned.signedDigest()));
    }

    /** Moves {@code amount} (positive) from the sender to {@code to}, creating {@code to} if it is new. */
    record Transfer(ThreadId thread, AccountId from, long nonce, AccountId to, long amount, byte[] signature)
            implements Transaction {
        public Transfer {
            Objects.requireNonNull(thread, "thread");
            Objects.requireNonNull(from, "from");
            Objects.requireNonNull(to, "to");
            checkNonce(nonce);
            if (amount <= 0) {
                throw new IllegalArgumentException("amount must be positive, got " + amount);
            }
            signature = checkSignature(signature);
        }

        @Override
        public byte[] signature() {
            return signature.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Transfer t && thread.equals(t.thread) && from.equals(t.from) && nonce == t.nonce
                    && to.equals(t.to) && amount == t.amount && Arrays.equals(signature, t.signature);
        }

        @Override
        public int hashCode() {
            return Objects.hash(thread, from, nonce, to, amount, Arrays.hashCode(signature));
        }

        @Override
        public String toString() {
            return "Transfer[" + thread + ", " + Bytes.shortHex(from.raw()) + "#" + nonce + " -> "
                    + Bytes.shortHex(to.raw()) + ", " + amount + "]";
        }
    }

    /** Stores {@code value} under ({@code from}, {@code key}); an empty value deletes it. */
    record Write(ThreadId thread, AccountId from, long nonce, byte[] key, byte[] value, byte[] signature)
            implements Transaction {
        public Write {
            Objects.requireNonNull(thread, "thread");
            Objects.requireNonNull(from, "from");
            Objects.requireNonNull(key, "key");
            Objects.requireNonNull(value, "value");
            checkNonce(nonce);
            if (key.length < 1 || key.length > MAX_KEY_LENGTH) {
                throw new IllegalArgumentException("key of " + key.length + " bytes, must be 1 to " + MAX_KEY_LENGTH);
            }
            if (value.length > MAX_VALUE_LENGTH) {
                throw new IllegalArgumentException(
                        "value of " + value.length + " bytes exceeds " + MAX_VALUE_LENGTH);
            }
            key = key.clone();
            value = value.clone();
            signature = checkSignature(signature);
        }

        @Override
        public byte[] key() {
            return key.clone();
        }

        @Override
        public byte[] value() {
            return value.clone();
        }

        /** The key without a copy, for the codec and execution in this package. */
        byte[] rawKey() {
            return key;
        }

        byte[] rawValue() {
            return value;
        }

        @Override
        public byte[] signature() {
            return signature.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Write w && thread.equals(w.thread) && from.equals(w.from) && nonce == w.nonce
                    && Arrays.equals(key, w.key) && Arrays.equals(value, w.value)
                    && Arrays.equals(signature, w.signature);
        }

        @Override
        public int hashCode() {
            return Objects.hash(thread, from, nonce, Arrays.hashCode(key), Arrays.hashCode(value),
                    Arrays.hashCode(signature));
        }

        @Override
        public String toString() {
            return "Write[" + thread + ", " + Bytes.shortHex(from.raw()) + "#" + nonce + ", key "
                    + Bytes.shortHex(key) + ", " + value.length + " bytes]";
        }
    }

    private static void checkNonce(long nonce) {
        if (nonce < 0) {
            throw new IllegalArgumentException("nonce must not be negative, got " + nonce);
        }
    }

    private static byte[] checkSignature(byte[] signature) {
        if (signature == null || signature.length != Keys.SIGNATURE_LENGTH) {
            throw new IllegalArgumentException("signature must be " + Keys.SIGNATURE_LENGTH + " bytes, got "
                    + (signature == null ? "null" : signature.length));
        }
        return signature.clone();
    }
}
