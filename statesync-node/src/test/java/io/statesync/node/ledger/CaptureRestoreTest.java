package io.statesync.node.ledger;

import static io.statesync.node.ledger.LedgerTest.FAUCET;
import static io.statesync.node.ledger.LedgerTest.GENESIS;
import static io.statesync.node.ledger.LedgerTest.T0;
import static io.statesync.node.ledger.LedgerTest.produce;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CaptureRestoreTest {
    @TempDir
    Path tmp;

    private final List<Ledger> open = new ArrayList<>();
    private final Signer alice = Signer.fromPhrase("alice");
    private final Signer bob = Signer.fromPhrase("bob");

    private Ledger ledger(String name) throws IOException {
        Ledger ledger = Ledger.open(tmp.resolve(name), T0, GENESIS);
        open.add(ledger);
        return ledger;
    }

    @AfterEach
    void closeAll() {
        open.forEach(Ledger::close);
    }

    /** A short history with accounts and data, applied to every ledger given. */
    private void history(Ledger producer, Ledger... replicas) throws Exception {
        produce(producer, List.of(
                Transaction.transfer(FAUCET, T0, 0, alice.account(), 1000),
                Transaction.transfer(FAUCET, T0, 1, bob.account(), 2000)), replicas);
        List<Transaction> writes = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            writes.add(Transaction.write(alice, T0, i, ("key-" + i).getBytes(), new byte[100 + i]));
        }
        produce(producer, writes, replicas);
    }

    private static byte[] read(Path dir, String file) throws IOException {
        return Files.readAllBytes(dir.resolve(file));
    }

    @Test
    void twoLedgersWithTheSameHistoryDumpByteIdenticalFiles() throws Exception {
        Ledger one = ledger("one");
        Ledger two = ledger("two");
        history(one, two);

        try (Capture a = one.capture(); Capture b = two.capture()) {
            a.writeTo(tmp.resolve("dump-one"));
            b.writeTo(tmp.resolve("dump-two"));
            assertEquals(a.metadata(), b.metadata());
        }
        assertArrayEquals(read(tmp.resolve("dump-one"), Capture.HEAD_FILE), read(tmp.resolve("dump-two"), Capture.HEAD_FILE));
        assertArrayEquals(read(tmp.resolve("dump-one"), Capture.STATE_FILE), read(tmp.resolve("dump-two"), Capture.STATE_FILE));
        // no temp files are left behind
        try (var files = Files.list(tmp.resolve("dump-one"))) {
            assertEquals(List.of(Capture.HEAD_FILE, Capture.STATE_FILE),
                    files.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void aCaptureWritesTheStateAsOfTheCaptureWhileMoreBlocksApply() throws Exception {
        // given a ledger with some history and a reference copy stopped at the same point
        Ledger ledger = ledger("live");
        Ledger reference = ledger("reference");
        history(ledger, reference);

        // when a capture is taken and blocks keep applying before and while it is written
        Capture capture = ledger.capture();
        Head captured = ledger.head();
        produce(ledger, List.of(Transaction.write(bob, T0, 0, "late".getBytes(), new byte[5000])));
        ExecutorService pool = Executors.newSingleThreadExecutor(r -> new Thread(r, "test-dump-writer"));
        try {
            CountDownLatch go = new CountDownLatch(1);
            CompletableFuture<Void> writing = CompletableFuture.runAsync(() -> {
                try {
                    go.await();
                    capture.writeTo(tmp.resolve("dump"));
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }, pool);
            go.countDown();
            for (int i = 1; i <= 5; i++) {
                produce(ledger, List.of(Transaction.write(bob, T0, i, ("more-" + i).getBytes(), new byte[3000])));
            }
            writing.get(30, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
            capture.close();
        }

        // then the dump is the state at the capture, identical to the reference's own dump
        assertEquals(captured, capture.head());
        assertEquals(Map.of("thread", "t0", "block", captured.blockId().hex(), "height", "2",
                "stateRoot", captured.root().hex(), "stateBytes", Long.toString(captured.stateBytes())),
                capture.metadata());
        try (Capture ref = reference.capture()) {
            ref.writeTo(tmp.resolve("reference-dump"));
        }
        assertArrayEquals(read(tmp.resolve("reference-dump"), Capture.STATE_FILE), read(tmp.resolve("dump"), Capture.STATE_FILE));
        assertArrayEquals(read(tmp.resolve("reference-dump"), Capture.HEAD_FILE), read(tmp.resolve("dump"), Capture.HEAD_FILE));
        assertNotEquals(captured, ledger.head());
        assertThrows(IllegalStateException.class, () -> capture.writeTo(tmp.resolve("again")));
    }

    @Test
    void aRestoredDumpRecomputesToTheBlocksRootAndKeepsApplying() throws Exception {
        Ledger producer = ledger("producer");
        history(producer);
        try (Capture capture = producer.capture()) {
            capture.writeTo(tmp.resolve("dump"));
        }

        Path restored = tmp.resolve("restored");
        Head head = Ledger.restore(tmp.resolve("dump"), restored, T0);

        assertEquals(producer.head(), head);
        try (Ledger ledger = Ledger.open(restored, T0, GENESIS)) {
            assertEquals(producer.head(), ledger.head());
            assertEquals(head.root(), ledger.recomputeRoot());
            assertEquals(producer.account(alice.account()), ledger.account(alice.account()));
            // and it follows the chain from there
            Block next = produce(producer, List.of(Transaction.transfer(bob, T0, 0, alice.account(), 1)), ledger);
            assertEquals(next.stateRoot(), ledger.head().root());
        }
        assertThrows(IOException.class, () -> Ledger.restore(tmp.resolve("dump"), restored, T0));
    }

    @Test
    void aDumpWithOneFlippedValueByteIsRejectedAndLeavesNoDatabase() throws Exception {
        Ledger producer = ledger("producer");
        history(producer);
        Path dump = tmp.resolve("dump");
        try (Capture capture = producer.capture()) {
            capture.writeTo(dump);
        }
        byte[] state = read(dump, Capture.STATE_FILE);
        state[state.length - 1] ^= 1; // the last entry is a data value
        Files.write(dump.resolve(Capture.STATE_FILE), state);

        Path target = tmp.resolve("restored");
        InvalidStateException e = assertThrows(InvalidStateException.class, () -> Ledger.restore(dump, target, T0));

        Head head = producer.head();
        assertTrue(e.getMessage().startsWith("state root mismatch for block " + head.blockId().hex()
                + " (t0#2): block says " + head.root().hex() + ", dump gives "), e.getMessage());
        assertFalse(Files.exists(target));
    }

    @Test
    void malformedDumpsAreRejectedWithOneLineReasons() throws Exception {
        Ledger producer = ledger("producer");
        history(producer);
        Path dump = tmp.resolve("dump");
        try (Capture capture = producer.capture()) {
            capture.writeTo(dump);
        }
        byte[] state = read(dump, Capture.STATE_FILE);
        String block = "block " + producer.head().blockId().hex() + " (t0#2): state.bin: ";

        assertEquals(block + "truncated at byte " + (state.length - 1),
                restoreFails(dump, Files.readAllBytes(dump.resolve(Capture.STATE_FILE)), state.length - 1));

        // the first entry is an account: u16 33, key, u32 16, value; swap it behind the second
        int first = 2 + 33 + 4 + 16;
        byte[] swapped = state.clone();
        System.arraycopy(state, first, swapped, 0, first);
        System.arraycopy(state, 0, swapped, first, first);
        assertEquals(block + "key at byte " + first + " is not greater than the previous key",
                restoreFails(dump, swapped, swapped.length));

        byte[] badLength = state.clone();
        ByteBuffer.wrap(badLength).putShort(0, (short) 500);
        assertEquals(block + "key of 500 bytes at byte 0, must be 1 to 97", restoreFails(dump, badLength, badLength.length));

        byte[] badValue = state.clone();
        ByteBuffer.wrap(badValue).putInt(2 + 33, 15);
        assertEquals(block + "account value of 15 bytes, expected 16 at byte 0",
                restoreFails(dump, badValue, badValue.length));

        byte[] bigValue = state.clone();
        ByteBuffer.wrap(bigValue).putInt(2 + 33, 70_000);
        assertEquals(block + "value of 70000 bytes at byte 0 exceeds 65536", restoreFails(dump, bigValue, bigValue.length));

        byte[] badPrefix = state.clone();
        badPrefix[2] = 'm';
        assertEquals(block + "key with unknown prefix 0x6d at byte 0", restoreFails(dump, badPrefix, badPrefix.length));

        // a dump for another thread
        InvalidStateException other = assertThrows(InvalidStateException.class,
                () -> Ledger.restore(dump, tmp.resolve("other"), new ThreadId("t1")));
        assertTrue(other.getMessage().endsWith("(t0#2) is for thread t0, not t1"), other.getMessage());
        assertFalse(Files.exists(tmp.resolve("other")));

        // a corrupt head block
        Files.write(dump.resolve(Capture.HEAD_FILE), new byte[] {1, 2, 3});
        InvalidStateException head = assertThrows(InvalidStateException.class,
                () -> Ledger.restore(dump, tmp.resolve("head"), T0));
        assertTrue(head.getMessage().startsWith("head.bin: block: "), head.getMessage());
    }

    private String restoreFails(Path dump, byte[] state, int length) throws IOException {
        Path copy = Files.createTempDirectory(tmp, "bad");
        Files.copy(dump.resolve(Capture.HEAD_FILE), copy.resolve(Capture.HEAD_FILE));
        Files.write(copy.resolve(Capture.STATE_FILE), java.util.Arrays.copyOf(state, length));
        Path target = copy.resolve("db");
        InvalidStateException e = assertThrows(InvalidStateException.class, () -> Ledger.restore(copy, target, T0));
        assertFalse(Files.exists(target));
        assertFalse(e.getMessage().contains("\n"));
        return e.getMessage();
    }

    @Test
    void closingTheLedgerReleasesOpenCaptures() throws Exception {
        Ledger ledger = Ledger.open(tmp.resolve("a"), T0, GENESIS);
        Capture capture = ledger.capture();
        ledger.close();
        assertThrows(IllegalStateException.class, () -> capture.writeTo(tmp.resolve("dump")));
        capture.close();
        capture.close();
    }
}
