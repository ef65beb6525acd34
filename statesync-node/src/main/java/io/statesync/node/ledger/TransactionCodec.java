package io.statesync.node.ledger;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The binary form of a transaction, big-endian:
 * <pre>
 * transfer: 0x11 | u8 threadLen | thread | from[32] | u64 nonce | to[32] | u64 amount | signature[64]
 * write:    0x12 | u8 threadLen | thread | from[32] | u64 nonce | u8 keyLen | key | u32 valueLen | value | signature[64]
 * </pre>
 * The first byte carries the format version (high nibble, 1) and the kind (low nibble). The
 * signing bytes are the encoding without the trailing signature. Decoding is strict: every
 * length is bounded, and truncated input, trailing bytes, unknown kinds and values the records
 * would refuse are {@link MalformedException}s with a one-line reason.
 */
public final class TransactionCodec {
    static final int KIND_TRANSFER = 0x11;
    static final int KIND_WRITE = 0x12;
    /** Largest possible encoding (a write with the longest thread, key and value). */
    public static final int MAX_ENCODED_LENGTH =
            1 + 1 + ThreadId.MAX_LENGTH + 32 + 8 + 1 + Transaction.MAX_KEY_LENGTH + 4
                    + Transaction.MAX_VALUE_LENGTH + Keys.SIGNATURE_LENGTH;

    private TransactionCodec() {}

    public static byte[] encode(Transaction tx) {
        ByteBuffer out = ByteBuffer.allocate(encodedLength(tx));
        writeBody(out, tx);
        out.put(tx.signature());
        return out.array();
    }

    static byte[] signingBytes(Transaction tx) {
        ByteBuffer out = ByteBuffer.allocate(encodedLength(tx) - Keys.SIGNATURE_LENGTH);
        writeBody(out, tx);
        return out.array();
    }

    /** Exact length of {@link #encode}. */
    static int encodedLength(Transaction tx) {
        int common = 1 + 1 + tx.thread().name().length() + 32 + 8 + Keys.SIGNATURE_LENGTH;
        return switch (tx) {
            case Transaction.Transfer t -> common + 32 + 8;
            case Transaction.Write w -> common + 1 + w.rawKey().length + 4 + w.rawValue().length;
        };
    }

    private static void writeBody(ByteBuffer out, Transaction tx) {
        byte[] thread = tx.thread().name().getBytes(StandardCharsets.US_ASCII);
        out.put((byte) (tx instanceof Transaction.Transfer ? KIND_TRANSFER : KIND_WRITE));
        out.put((byte) thread.length).put(thread);
        out.put(tx.from().raw());
        out.putLong(tx.nonce());
        switch (tx) {
            case Transaction.Transfer t -> {
                out.put(t.to().raw());
                out.putLong(t.amount());
            }
            case Transaction.Write w -> {
                out.put((byte) w.rawKey().length).put(w.rawKey());
                out.putInt(w.rawValue().length).put(w.rawValue());
            }
        }
    }

    /** Decodes exactly one transaction filling all of {@code bytes}. */
    public static Transaction decode(byte[] bytes) throws MalformedException {
        return decode(bytes, 0, bytes.length);
    }

    static Transaction decode(byte[] bytes, int offset, int length) throws MalformedException {
        Reader in = new Reader("transaction", bytes, offset, length);
        int kind = in.u8();
        if (kind != KIND_TRANSFER && kind != KIND_WRITE) {
            throw in.error(String.format("unknown kind byte 0x%02x", kind));
        }
        ThreadId thread = in.thread();
        AccountId from = AccountId.of(in.bytes(AccountId.LENGTH));
        long nonce = in.i64();
        if (nonce < 0) {
            throw in.error("nonce must not be negative, got " + nonce);
        }
        Transaction tx;
        if (kind == KIND_TRANSFER) {
            AccountId to = AccountId.of(in.bytes(AccountId.LENGTH));
            long amount = in.i64();
            if (amount <= 0) {
                throw in.error("amount must be positive, got " + amount);
            }
            tx = new Transaction.Transfer(thread, from, nonce, to, amount, in.bytes(Keys.SIGNATURE_LENGTH));
        } else {
            int keyLength = in.u8();
            if (keyLength < 1 || keyLength > Transaction.MAX_KEY_LENGTH) {
                throw in.error("key of " + keyLength + " bytes, must be 1 to " + Transaction.MAX_KEY_LENGTH);
            }
            byte[] key = in.bytes(keyLength);
            long valueLength = in.u32();
            if (valueLength > Transaction.MAX_VALUE_LENGTH) {
                throw in.error("value of " + valueLength + " bytes exceeds " + Transaction.MAX_VALUE_LENGTH);
            }
            byte[] value = in.bytes((int) valueLength);
            tx = new Transaction.Write(thread, from, nonce, key, value, in.bytes(Keys.SIGNATURE_LENGTH));
        }
        in.expectEnd();
        return tx;
    }
}
