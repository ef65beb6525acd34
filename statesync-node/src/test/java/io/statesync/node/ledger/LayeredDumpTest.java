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

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Dumps laid over an earlier full dump: the same state, the base's bytes shared, malformed overlays refused. */
class LayeredDumpTest {
    private static final int KEYS = 40;

    @TempDir
    Path tmp;

    private final List<Ledger> open = new ArrayList<>();
    private final Signer alice = Signer.fromPhrase("alice");
    private final Signer bob = Signer.fromPhrase("bob");
    private final Signer carol = Signer.fromPhrase("carol");
    private long aliceNonce;

    private Ledger ledger(String name) throws IOException {
        Ledger ledger = Ledger.open(tmp.resolve(name), T0, GENESIS);
        open.add(ledger);
        return ledger;
    }

    @AfterEach
    void closeAll() {
        open.forEach(Ledger::close);
    }

    /** Two accounts and {@link #KEYS} values of 2 000 bytes: the state of the base. */
    private void baseHistory(Ledger producer, Ledger... replicas) throws Exception {
        produce(producer, List.of(
                Transaction.transfer(FAUCET, T0, 0, alice.account(), 1000),
                Transaction.transfer(FAUCET, T0, 1, bob.account(), 2000)), replicas);
        List<Transaction> writes = new ArrayList<>();
        for (int i = 0; i < KEYS; i++) {
            writes.add(Transaction.write(alice, T0, aliceNonce++, ("key-" + i).getBytes(), filled(2000, i)));
        }
        produce(producer, writes, replicas);
    }

    /** A few changes: one value replaced, one deleted, one added, a new account. */
    private void smallChange(Ledger producer, Ledger... replicas) throws Exception {
        produce(producer, List.of(
                Transaction.write(alice, T0, aliceNonce++, "key-3".getBytes(), filled(2000, 99)),
                Transaction.write(alice, T0, aliceNonce++, "key-5".getBytes(), new byte[0]),
                Transaction.write(alice, T0, aliceNonce++, "key-new".getBytes(), filled(500, 7)),
                Transaction.transfer(FAUCET, T0, 2, carol.account(), 30)), replicas);
    }

    private static byte[] filled(int length, int value) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        return b;
    }

    /** A full dump of the ledger's head, kept as a base. */
    private DumpBase base(Ledger ledger, String name) throws IOException {
        Path dump = tmp.resolve(name);
        try (Capture capture = ledger.capture()) {
            assertFalse(capture.writeTo(dump, null));
        }
        Path state = dump.resolve(Capture.STATE_FILE);
        return new DumpBase(state, ledger.head().height(), ledger.head().blockId(), DumpBase.crc32c(state));
    }

    private boolean dump(Ledger ledger, Path dir, DumpBase base) throws IOException {
        try (Capture capture = ledger.capture()) {
            return capture.writeTo(dir, base);
        }
    }

    private static List<String> names(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aLayeredDumpHoldsTheSameStateAsAFullOneAndSharesTheBaseFile() throws Exception {
        Ledger ledger = ledger("live");
        Ledger replica = ledger("replica");
        baseHistory(ledger, replica);
        DumpBase base = base(ledger, "base");
        DumpBase replicaBase = base(replica, "replica-base");
        smallChange(ledger, replica);

        Path layered = tmp.resolve("layered");
        assertTrue(dump(ledger, layered, base));
        Path full = tmp.resolve("full");
        assertFalse(dump(ledger, full, null));

        assertEquals(List.of(Capture.HEAD_FILE, Capture.OVERLAY_FILE, Capture.STATE_FILE), names(layered));
        assertEquals(Files.getAttribute(base.stateFile(), "unix:ino"),
                Files.getAttribute(layered.resolve(Capture.STATE_FILE), "unix:ino"), "the base is linked, not copied");
        long overlay = Files.size(layered.resolve(Capture.OVERLAY_FILE));
        assertTrue(overlay < 3500, "only the changes: " + overlay + " bytes");
        assertEquals(java.util.Map.entry(base.height(), base.block()), Capture.layeredOver(layered).orElseThrow());
        assertTrue(Capture.layeredOver(full).isEmpty());

        Head fromLayered = Ledger.restore(layered, tmp.resolve("db-layered"), T0);
        Head fromFull = Ledger.restore(full, tmp.resolve("db-full"), T0);
        assertEquals(ledger.head(), fromLayered);
        assertEquals(fromFull, fromLayered);
        try (Ledger restored = Ledger.open(tmp.resolve("db-layered"), T0, GENESIS)) {
            assertEquals(ledger.head().root(), restored.recomputeRoot());
            assertTrue(restored.account(carol.account()).isPresent(), "the new account is there");
        }

        // Another replica with the same history and its own copy of the base writes the same bytes.
        Path other = tmp.resolve("replica-layered");
        assertTrue(dump(replica, other, replicaBase));
        assertArrayEquals(Files.readAllBytes(layered.resolve(Capture.OVERLAY_FILE)),
                Files.readAllBytes(other.resolve(Capture.OVERLAY_FILE)));
        assertArrayEquals(Files.readAllBytes(layered.resolve(Capture.STATE_FILE)),
                Files.readAllBytes(other.resolve(Capture.STATE_FILE)));
    }

    @Test
    void anOverlayOverHalfTheBaseGivesAFullDump() throws Exception {
        Ledger ledger = ledger("live");
        baseHistory(ledger);
        DumpBase base = base(ledger, "base");
        List<Transaction> rewrites = new ArrayList<>();
        for (int i = 0; i < KEYS; i++) {
            rewrites.add(Transaction.write(alice, T0, aliceNonce++, ("key-" + i).getBytes(), filled(2000, i + 1)));
        }
        produce(ledger, rewrites);

        Path dump = tmp.resolve("dump");
        assertFalse(dump(ledger, dump, base));
        assertEquals(List.of(Capture.HEAD_FILE, Capture.STATE_FILE), names(dump), "no overlay is left behind");
        assertNotEquals(Files.getAttribute(base.stateFile(), "unix:ino"),
                Files.getAttribute(dump.resolve(Capture.STATE_FILE), "unix:ino"));
        assertEquals(ledger.head(), Ledger.restore(dump, tmp.resolve("db"), T0));
    }

    @Test
    void aBaseOffThisChainNotEarlierOrDamagedGivesAFullDump() throws Exception {
        Ledger ledger = ledger("live");
        baseHistory(ledger);
        DumpBase base = base(ledger, "base");
        smallChange(ledger);

        DumpBase otherBlock = new DumpBase(base.stateFile(), base.height(), BlockId.of(new byte[32]), base.crc32c());
        assertFalse(dump(ledger, tmp.resolve("a"), otherBlock));
        DumpBase notEarlier = new DumpBase(base.stateFile(), ledger.head().height(), ledger.head().blockId(),
                base.crc32c());
        assertFalse(dump(ledger, tmp.resolve("b"), notEarlier));

        byte[] bytes = Files.readAllBytes(base.stateFile());
        bytes[bytes.length - 1] ^= 1;
        Files.write(base.stateFile(), bytes);
        assertFalse(dump(ledger, tmp.resolve("c"), base), "a base no longer matching its checksum is not used");

        Files.write(base.stateFile(), Arrays.copyOf(bytes, bytes.length - 7));
        assertFalse(dump(ledger, tmp.resolve("d"), base), "nor one that no longer parses");

        for (String d : List.of("a", "b", "c", "d")) {
            assertEquals(List.of(Capture.HEAD_FILE, Capture.STATE_FILE), names(tmp.resolve(d)));
        }
    }

    @Test
    void malformedOverlaysAreRejectedWithOneLineReasons() throws Exception {
        Ledger ledger = ledger("live");
        baseHistory(ledger);
        DumpBase base = base(ledger, "base");
        smallChange(ledger);
        Path layered = tmp.resolve("layered");
        assertTrue(dump(ledger, layered, base));
        byte[] overlay = Files.readAllBytes(layered.resolve(Capture.OVERLAY_FILE));
        String block = "block " + ledger.head().blockId().hex() + " (t0#3): overlay.bin: ";
        int header = 4 + 1 + 8 + 32;

        byte[] magic = overlay.clone();
        magic[0] = 'X';
        assertEquals(block + "not an overlay (bad magic)", restoreFails(layered, magic));

        byte[] version = overlay.clone();
        version[4] = 2;
        assertEquals(block + "overlay version 2, this node reads 1", restoreFails(layered, version));

        byte[] op = overlay.clone();
        op[header] = 7;
        assertEquals(block + "unknown record type 7 at byte " + header, restoreFails(layered, op));

        assertEquals(block + "truncated at byte " + (overlay.length - 1),
                restoreFails(layered, Arrays.copyOf(overlay, overlay.length - 1)));

        byte[] aliceKey = StateLayout.accountKey(alice.account());
        byte[] account = new byte[16];
        ByteArrayOutputStream twice = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(twice)) {
            out.write(overlay, 0, header);
            StateDump.writePut(out, aliceKey, account);
            StateDump.writePut(out, aliceKey, account);
        }
        int second = header + 1 + 2 + aliceKey.length + 4 + 16;
        assertEquals(block + "key at byte " + second + " is not greater than the previous key",
                restoreFails(layered, twice.toByteArray()));

        ByteArrayOutputStream missing = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(missing)) {
            out.write(overlay, 0, header);
            StateDump.writeDelete(out, StateLayout.accountKey(carol.account()));
        }
        assertEquals(block + "deletes a key the base does not hold", restoreFails(layered, missing.toByteArray()));

        // And the overlay decides: a sound overlay over another base gives another state, refused by the root.
        byte[] flipped = overlay.clone();
        flipped[flipped.length - 1] ^= 1;
        assertTrue(restoreFails(layered, flipped).startsWith("state root mismatch for block "));
    }

    private String restoreFails(Path dump, byte[] overlay) throws IOException {
        Path copy = Files.createTempDirectory(tmp, "bad");
        Files.copy(dump.resolve(Capture.HEAD_FILE), copy.resolve(Capture.HEAD_FILE));
        Files.copy(dump.resolve(Capture.STATE_FILE), copy.resolve(Capture.STATE_FILE));
        Files.write(copy.resolve(Capture.OVERLAY_FILE), overlay);
        Path target = copy.resolve("db");
        InvalidStateException e = assertThrows(InvalidStateException.class, () -> Ledger.restore(copy, target, T0));
        assertFalse(Files.exists(target));
        assertFalse(e.getMessage().contains("\n"));
        return e.getMessage();
    }
}
