package io.statesync.node.ledger;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The binary form of a block, big-endian:
 * <pre>
 * 0x01 | u8 threadLen | thread | u64 seqNo | parent[32] | stateRoot[32] | u8 producerLen | producer (UTF-8)
 *      | u64 timeMillis | u32 txCount | txCount x (u32 txLen | transaction)
 * </pre>
 * Decoding is strict and bounded: at most {@link Block#MAX_BYTES} bytes and
 * {@link Block#MAX_TRANSACTIONS} transactions, every length checked against what remains, and
 * each transaction decoded strictly by {@link TransactionCodec}.
 */
public final class BlockCodec {
    static final int VERSION = 0x01;

    private BlockCodec() {}

    public static byte[] encode(Block block) {
        byte[] thread = block.thread().name().getBytes(StandardCharsets.US_ASCII);
        byte[] producer = block.producer().getBytes(StandardCharsets.UTF_8);
        List<byte[]> txs = new ArrayList<>(block.transactions().size());
        long length = headerLength(thread.length, producer.length);
        for (Transaction tx : block.transactions()) {
            byte[] encoded = tx.encode();
            txs.add(encoded);
            length += 4 + encoded.length;
        }
        if (length > Block.MAX_BYTES) {
            throw new IllegalArgumentException("block " + block.label() + " encodes to " + length
                    + " bytes, more than " + Block.MAX_BYTES);
        }
        ByteBuffer out = ByteBuffer.allocate((int) length);
        out.put((byte) VERSION);
        out.put((byte) thread.length).put(thread);
        out.putLong(block.seqNo());
        out.put(block.parent().raw());
        out.put(block.stateRoot().raw());
        out.put((byte) producer.length).put(producer);
        out.putLong(block.timeMillis());
        out.putInt(txs.size());
        for (byte[] tx : txs) {
            out.putInt(tx.length).put(tx);
        }
        return out.array();
    }

    /** Length of an encoding without transactions. */
    static int headerLength(int threadLength, int producerLength) {
        return 1 + 1 + threadLength + 8 + 32 + 32 + 1 + producerLength + 8 + 4;
    }

    public static Block decode(byte[] bytes) throws MalformedException {
        Reader in = new Reader("block", bytes);
        if (bytes.length > Block.MAX_BYTES) {
            throw in.error(bytes.length + " bytes exceed the largest block of " + Block.MAX_BYTES);
        }
        int version = in.u8();
        if (version != VERSION) {
            throw in.error(String.format("unknown version byte 0x%02x", version));
        }
        ThreadId thread = in.thread();
        long seqNo = in.i64();
        if (seqNo < 0) {
            throw in.error("seqNo must not be negative, got " + seqNo);
        }
        BlockId parent = BlockId.of(in.bytes(BlockId.LENGTH));
        StateRoot root = StateRoot.of(in.bytes(StateRoot.LENGTH));
        int producerLength = in.u8();
        if (producerLength > Block.MAX_PRODUCER_BYTES) {
            throw in.error("producer name of " + producerLength + " bytes exceeds " + Block.MAX_PRODUCER_BYTES);
        }
        String producer;
        try {
            producer = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(in.bytes(producerLength)))
                    .toString();
        } catch (CharacterCodingException e) {
            throw in.error("producer name is not UTF-8");
        }
        long time = in.i64();
        long count = in.u32();
        if (count > Block.MAX_TRANSACTIONS) {
            throw in.error(count + " transactions exceed " + Block.MAX_TRANSACTIONS);
        }
        List<Transaction> txs = new ArrayList<>((int) Math.min(count, 1024));
        for (int i = 0; i < count; i++) {
            long length = in.u32();
            if (length > in.remaining()) {
                throw in.error("transaction " + i + " of " + length + " bytes at byte " + in.position() + ", only "
                        + in.remaining() + " left");
            }
            int start = in.position();
            byte[] tx = in.bytes((int) length);
            try {
                txs.add(TransactionCodec.decode(tx));
            } catch (MalformedException e) {
                throw in.error("transaction " + i + " at byte " + start + ": " + e.getMessage());
            }
        }
        in.expectEnd();
        return new Block(thread, seqNo, parent, txs, root, producer, time);
    }
}
