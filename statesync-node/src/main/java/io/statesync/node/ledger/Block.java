package io.statesync.node.ledger;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;

/**
 * One block of a thread: its transactions in order and the state root they produce on top of
 * the parent's state. A block is named by the SHA-256 of its encoding ({@link BlockCodec}).
 */
public record Block(ThreadId thread, long seqNo, BlockId parent, List<Transaction> transactions, StateRoot stateRoot,
        String producer, long timeMillis) {
    /** Most transactions in one block. */
    public static final int MAX_TRANSACTIONS = 100_000;
    /** Largest encoding of one block. */
    public static final int MAX_BYTES = 16 * 1024 * 1024;
    /** Longest producer name in UTF-8 bytes. */
    public static final int MAX_PRODUCER_BYTES = 128;

    public Block {
        Objects.requireNonNull(thread, "thread");
        Objects.requireNonNull(parent, "parent");
        Objects.requireNonNull(stateRoot, "stateRoot");
        Objects.requireNonNull(producer, "producer");
        transactions = List.copyOf(transactions);
        if (seqNo < 0) {
            throw new IllegalArgumentException("block seqNo must not be negative, got " + seqNo);
        }
        if (transactions.size() > MAX_TRANSACTIONS) {
            throw new IllegalArgumentException(
                    "block of " + transactions.size() + " transactions exceeds " + MAX_TRANSACTIONS);
        }
        int producerBytes = producer.getBytes(StandardCharsets.UTF_8).length;
        if (producerBytes > MAX_PRODUCER_BYTES) {
            throw new IllegalArgumentException(
                    "producer name of " + producerBytes + " bytes exceeds " + MAX_PRODUCER_BYTES);
        }
    }

    /** The genesis block of a thread: height 0, zero parent, no transactions, the genesis state root. */
    public static Block genesis(ThreadId thread, Genesis genesis) {
        return new Block(thread, 0, BlockId.ZERO, List.of(), genesis.hash().root(), "genesis", 0);
    }

    /** The binary encoding. */
    public byte[] encode() {
        return BlockCodec.encode(this);
    }

    /** SHA-256 of the encoding. Encodes on every call: keep the result if you need it twice. */
    public BlockId id() {
        return BlockId.of(Bytes.sha256(encode()));
    }

    /** The raw-codec CID of the encoding (the same digest as {@link #id()}). */
    public Cid cid() {
        return Cid.compute(Codec.RAW, encode());
    }

    /** "t0#42", for messages. */
    public String label() {
        return thread + "#" + seqNo;
    }

    @Override
    public String toString() {
        return "Block[" + label() + ", parent " + Bytes.shortHex(parent.raw()) + ", " + transactions.size()
                + " txs, root " + Bytes.shortHex(stateRoot.raw()) + ", by " + producer + "]";
    }
}
