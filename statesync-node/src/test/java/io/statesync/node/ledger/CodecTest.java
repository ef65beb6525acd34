package io.statesync.node.ledger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class CodecTest {
    private static final ThreadId T0 = new ThreadId("t0");
    private final Signer alice = Signer.fromPhrase("alice");
    private final Signer bob = Signer.fromPhrase("bob");

    private Transaction.Transfer transfer() {
        return Transaction.transfer(alice, T0, 7, bob.account(), 25);
    }

    private Transaction.Write write(int valueLength) {
        return Transaction.write(alice, T0, 8, new byte[] {1, 2, 3}, new byte[valueLength]);
    }

    private static String rejection(byte[] bytes) {
        MalformedException e = assertThrows(MalformedException.class, () -> TransactionCodec.decode(bytes));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    private static String blockRejection(byte[] bytes) {
        MalformedException e = assertThrows(MalformedException.class, () -> BlockCodec.decode(bytes));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    @Test
    void transactionsRoundTripAndKeepTheirIdAndSignature() throws Exception {
        for (Transaction tx : List.of(transfer(), write(0), write(100), write(Transaction.MAX_VALUE_LENGTH))) {
            byte[] encoded = tx.encode();
            Transaction back = TransactionCodec.decode(encoded);
            assertEquals(tx, back);
            assertEquals(tx.id(), back.id());
            assertArrayEquals(encoded, back.encode());
            assertTrue(back.signatureValid());
            // the signing bytes are the encoding without the 64-byte signature
            assertArrayEquals(Arrays.copyOf(encoded, encoded.length - 64), tx.signingBytes());
        }
        assertEquals(148, transfer().encode().length);
    }

    @Test
    void truncatedTransactionsAreRejectedAtEveryLength() {
        byte[] encoded = write(10).encode();
        for (int n = 0; n < encoded.length; n++) {
            String reason = rejection(Arrays.copyOf(encoded, n));
            assertTrue(reason.startsWith("transaction: truncated at byte "), reason);
        }
        assertEquals("transaction: truncated at byte 36 (8 more needed, 3 left)",
                rejection(Arrays.copyOf(transfer().encode(), 39)));
    }

    @Test
    void trailingBytesAreRejected() {
        byte[] encoded = transfer().encode();
        assertEquals("transaction: 3 trailing bytes", rejection(Arrays.copyOf(encoded, encoded.length + 3)));
    }

    @Test
    void unknownKindsAreRejected() {
        byte[] encoded = transfer().encode();
        encoded[0] = 0x07;
        assertEquals("transaction: unknown kind byte 0x07", rejection(encoded));
    }

    @Test
    void nonPositiveAmountsAndNegativeNoncesAreRejected() {
        byte[] encoded = transfer().encode();
        ByteBuffer.wrap(encoded).putLong(76, -5);
        assertEquals("transaction: amount must be positive, got -5", rejection(encoded));
        ByteBuffer.wrap(encoded).putLong(76, 0);
        assertEquals("transaction: amount must be positive, got 0", rejection(encoded));
        byte[] nonce = transfer().encode();
        ByteBuffer.wrap(nonce).putLong(36, -1);
        assertEquals("transaction: nonce must not be negative, got -1", rejection(nonce));
    }

    @Test
    void oversizeValuesAndBadKeyLengthsAreRejected() {
        byte[] encoded = write(0).encode();
        // value length field sits after kind, thread (3), from, nonce, key length and the 3-byte key
        int valueLengthAt = 1 + 3 + 32 + 8 + 1 + 3;
        ByteBuffer.wrap(encoded).putInt(valueLengthAt, 70000);
        assertEquals("transaction: value of 70000 bytes exceeds 65536", rejection(encoded));
        ByteBuffer.wrap(encoded).putInt(valueLengthAt, -1);
        assertEquals("transaction: value of 4294967295 bytes exceeds 65536", rejection(encoded));

        byte[] keyless = write(0).encode();
        keyless[valueLengthAt - 4] = 0;
        assertEquals("transaction: key of 0 bytes, must be 1 to 64", rejection(keyless));
        keyless[valueLengthAt - 4] = 65;
        assertEquals("transaction: key of 65 bytes, must be 1 to 64", rejection(keyless));
    }

    @Test
    void badThreadNamesAreRejected() {
        byte[] encoded = transfer().encode();
        encoded[1] = 0;
        assertEquals("transaction: thread name of 0 bytes, must be 1 to 32", rejection(encoded));
        byte[] upper = transfer().encode();
        upper[2] = 'T';
        assertTrue(rejection(upper).startsWith("transaction: thread name \"T0\" must match"));
    }

    @Test
    void theRecordsRefuseWhatTheDecoderRefuses() {
        assertThrows(IllegalArgumentException.class,
                () -> Transaction.transfer(alice, T0, 0, bob.account(), 0));
        assertThrows(IllegalArgumentException.class,
                () -> Transaction.write(alice, T0, 0, new byte[65], new byte[1]));
        assertThrows(IllegalArgumentException.class,
                () -> Transaction.write(alice, T0, 0, new byte[1], new byte[Transaction.MAX_VALUE_LENGTH + 1]));
    }

    private Block block(List<Transaction> txs) {
        return new Block(T0, 3, BlockId.of(Bytes.sha256(new byte[] {1})), txs,
                StateRoot.of(Bytes.sha256(new byte[] {2})), "node-1", 1234567);
    }

    @Test
    void blocksRoundTripWithIdAndCid() throws Exception {
        Block block = block(List.of(transfer(), write(5)));
        byte[] encoded = block.encode();
        Block back = BlockCodec.decode(encoded);
        assertEquals(block, back);
        assertEquals(block.id(), back.id());
        assertEquals(Bytes.hex(Bytes.sha256(encoded)), block.id().hex());
        assertEquals(Cid.compute(Codec.RAW, encoded), block.cid());
        assertArrayEquals(block.id().bytes(), block.cid().digest());
        assertEquals(block.id(), BlockId.fromHex(block.id().hex()));
    }

    @Test
    void theGenesisBlockIsWellKnown() {
        Genesis genesis = Genesis.faucet(alice.account(), 1_000);
        Block g = Block.genesis(T0, genesis);
        assertEquals(0, g.seqNo());
        assertEquals(BlockId.ZERO, g.parent());
        assertTrue(g.transactions().isEmpty());
        assertEquals("genesis", g.producer());
        assertEquals(0, g.timeMillis());
        assertEquals(g.id(), Block.genesis(T0, Genesis.faucet(alice.account(), 1_000)).id());
    }

    @Test
    void malformedBlocksAreRejectedWithAReason() {
        byte[] encoded = block(List.of(transfer())).encode();

        for (int n = 0; n < encoded.length; n++) {
            assertTrue(blockRejection(Arrays.copyOf(encoded, n)).startsWith("block: "));
        }
        assertEquals("block: 2 trailing bytes", blockRejection(Arrays.copyOf(encoded, encoded.length + 2)));

        byte[] version = encoded.clone();
        version[0] = 9;
        assertEquals("block: unknown version byte 0x09", blockRejection(version));

        int countAt = 1 + 3 + 8 + 32 + 32 + 1 + "node-1".length() + 8;
        byte[] tooMany = encoded.clone();
        ByteBuffer.wrap(tooMany).putInt(countAt, 100_001);
        assertEquals("block: 100001 transactions exceed 100000", blockRejection(tooMany));

        byte[] longTx = encoded.clone();
        ByteBuffer.wrap(longTx).putInt(countAt + 4, 1_000_000);
        assertTrue(blockRejection(longTx).startsWith("block: transaction 0 of 1000000 bytes at byte "));

        byte[] badTx = encoded.clone();
        ByteBuffer.wrap(badTx).putLong(countAt + 8 + 76, -5);
        assertEquals("block: transaction 0 at byte " + (countAt + 8)
                + ": transaction: amount must be positive, got -5", blockRejection(badTx));

        assertTrue(blockRejection(new byte[Block.MAX_BYTES + 1]).startsWith("block: 16777217 bytes exceed"));
    }

    @Test
    void blocksBeyondTheLimitsCannotBeBuilt() {
        List<Transaction> many = new ArrayList<>();
        Transaction tx = transfer();
        for (int i = 0; i <= Block.MAX_TRANSACTIONS; i++) {
            many.add(tx);
        }
        assertThrows(IllegalArgumentException.class, () -> block(many));
        List<Transaction> big = new ArrayList<>();
        Transaction bigWrite = write(Transaction.MAX_VALUE_LENGTH);
        for (int i = 0; i < 260; i++) {
            big.add(bigWrite);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> block(big).encode());
        assertTrue(e.getMessage().contains("more than 16777216"), e.getMessage());
    }
}
