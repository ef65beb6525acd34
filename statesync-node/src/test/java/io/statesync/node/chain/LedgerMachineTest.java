package io.statesync.node.chain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.groups.StateMachine;
import io.statesync.node.ledger.Block;
import io.statesync.node.ledger.Capture;
import io.statesync.node.ledger.Genesis;
import io.statesync.node.ledger.Head;
import io.statesync.node.ledger.Ledger;
import io.statesync.node.ledger.Proposal;
import io.statesync.node.ledger.Signer;
import io.statesync.node.ledger.StateRoot;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.ledger.Transaction;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ledger as a group's state machine: blocks in, state roots checked, snapshots installed or refused. */
class LedgerMachineTest {
    private static final ThreadId T0 = new ThreadId("t0");
    private static final Signer FAUCET = Signer.fromPhrase("machine-test-faucet");
    private static final Genesis GENESIS = Genesis.faucet(FAUCET.account(), 1_000_000_000);

    @TempDir
    Path dir;
    private LedgerMachine machine;
    private long index;
    private long nonce;

    @BeforeEach
    void open() throws IOException {
        machine = new LedgerMachine(T0, dir.resolve("a"), GENESIS, 3);
    }

    @AfterEach
    void close() {
        machine.close();
    }

    /** Forms a block on the machine's ledger with one write and applies it through the state machine API. */
    private String applyNext(LedgerMachine m) {
        Transaction tx = Transaction.write(FAUCET, T0, nonce++, ("k" + nonce).getBytes(StandardCharsets.UTF_8),
                new byte[1000]);
        Proposal p = m.propose(List.of(tx), "n1", 1000 + index, 100, 1 << 20);
        return new String(m.apply(++index, p.block().encode()), StandardCharsets.UTF_8);
    }

    @Test
    void blocksThatExtendTheHeadApplyAndEverySaveBlockAsksForASnapshot() {
        for (int i = 1; i <= 7; i++) {
            assertTrue(applyNext(machine).startsWith("ok " + i + " "));
            assertEquals(i % 3 == 0, machine.snapshotDue(index), "block " + i);
        }
        assertEquals(7, machine.read(Ledger::head).height());
    }

    @Test
    void aStaleOrMalformedBlockIsSkippedTheSameWayEverywhereAndTheLogGoesOn() {
        applyNext(machine);
        Block stale = machine.read(Ledger::headBlock);

        String again = new String(machine.apply(++index, stale.encode()), StandardCharsets.UTF_8);
        String garbage = new String(machine.apply(++index, new byte[] {1, 2, 3}), StandardCharsets.UTF_8);

        assertTrue(again.startsWith("skipped: block 1 does not extend the head 1"), again);
        assertTrue(garbage.startsWith("skipped: malformed block"), garbage);
        assertTrue(applyNext(machine).startsWith("ok 2 "));
        assertNull(machine.halted());
    }

    @Test
    void aBlockWithAWrongStateRootHaltsTheThreadNamingTheBlock() {
        applyNext(machine);
        Transaction tx = Transaction.transfer(FAUCET, T0, nonce, Signer.fromPhrase("x").account(), 5);
        Block honest = machine.propose(List.of(tx), "n1", 5, 10, 1 << 20).block();
        Block forged = new Block(honest.thread(), honest.seqNo(), honest.parent(), honest.transactions(),
                StateRoot.of(new byte[32]), honest.producer(), honest.timeMillis());

        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> machine.apply(++index, forged.encode()));

        assertTrue(e.getMessage().contains("state root mismatch"), e.getMessage());
        assertTrue(e.getMessage().contains(forged.id().hex().substring(0, 8)) || e.getMessage().contains("t0#2"),
                e.getMessage());
        assertTrue(machine.halted() != null);
        assertEquals(1, machine.read(Ledger::head).height(), "nothing of the bad block was written");
    }

    @Test
    void anInstalledSnapshotReplacesTheStateAfterItsRootIsVerified() throws Exception {
        for (int i = 0; i < 5; i++) {
            applyNext(machine);
        }
        Path dump = dir.resolve("dump");
        Files.createDirectories(dump);
        machine.writeSnapshot(dump);
        Head source = machine.read(Ledger::head);

        try (LedgerMachine fresh = new LedgerMachine(T0, dir.resolve("b"), GENESIS, 3)) {
            fresh.installSnapshot(dump);
            Head installed = fresh.read(Ledger::head);
            assertEquals(source, installed);
            assertEquals(source.root(), fresh.read(Ledger::recomputeRoot));
            try (Stream<Path> dbs = Files.list(dir.resolve("b"))) {
                assertEquals(1, dbs.filter(p -> p.getFileName().toString().startsWith("db-")).count(),
                        "the old database is gone");
            }
        }
    }

    @Test
    void aSnapshotWhoseStateRootDoesNotMatchIsRejectedAndTheOldStateIsKept() throws Exception {
        for (int i = 0; i < 4; i++) {
            applyNext(machine);
        }
        Path dump = dir.resolve("dump");
        Files.createDirectories(dump);
        machine.writeSnapshot(dump);
        // One byte of one stored value flipped: the dump still parses, its root no longer matches.
        Path state = dump.resolve(Capture.STATE_FILE);
        byte[] bytes = Files.readAllBytes(state);
        bytes[bytes.length - 10] ^= 0x40;
        Files.write(state, bytes);

        try (LedgerMachine other = new LedgerMachine(T0, dir.resolve("c"), GENESIS, 3)) {
            applyNext(other);
            Head before = other.read(Ledger::head);

            IOException e = assertThrows(IOException.class, () -> other.installSnapshot(dump));

            assertTrue(e.getMessage().contains("snapshot rejected, the old state is kept"), e.getMessage());
            assertTrue(e.getMessage().contains("state root mismatch"), e.getMessage());
            assertEquals(before, other.read(Ledger::head));
            assertEquals(before.root(), other.read(Ledger::recomputeRoot));
            try (Stream<Path> dbs = Files.list(dir.resolve("c"))) {
                assertEquals(1, dbs.filter(p -> p.getFileName().toString().startsWith("db-")).count(),
                        "the half-built database was removed");
            }
        }
    }

    @Test
    void aSoundSnapshotOfAnotherBlockThanTheOfferedOneIsRefused() throws Exception {
        for (int i = 0; i < 3; i++) {
            applyNext(machine);
        }
        Path dump = dir.resolve("older");
        Files.createDirectories(dump);
        machine.writeSnapshot(dump);
        applyNext(machine);
        Head offered = machine.read(Ledger::head);

        try (LedgerMachine other = new LedgerMachine(T0, dir.resolve("e"), GENESIS, 3)) {
            other.expectInstallOf(offered.blockId());
            IOException e = assertThrows(IOException.class, () -> other.installSnapshot(dump));
            assertTrue(e.getMessage().contains("not the offered block " + offered.blockId().hex()), e.getMessage());
            assertEquals(0, other.read(Ledger::head).height(), "the old (genesis) state is kept");

            // The expectation was for that one install: the member's own snapshots load as before.
            other.installSnapshot(dump);
            assertEquals(3, other.read(Ledger::head).height());
        }
    }

    @Test
    void aBlockPastTheHeadHaltsTheThreadInsteadOfBeingSkipped() {
        applyNext(machine);
        LedgerMachine ahead;
        try {
            ahead = new LedgerMachine(T0, dir.resolve("f"), GENESIS, 3);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        try (ahead) {
            // Blocks 1 and 2 on another ledger; block 2 reaches this one, which only has block 1's sibling.
            long saved = nonce;
            nonce = 0;
            applyNext(ahead);
            applyNext(ahead);
            nonce = saved;
            Block two = ahead.read(Ledger::headBlock);
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> machine.apply(++index, two.encode()));
            assertTrue(e.getMessage().contains("does not follow the local head"), e.getMessage());
            assertTrue(machine.halted() != null);
        }
    }

    @Test
    void aCaptureIsTheStateAtItsBlockWhileLaterBlocksApply() throws Exception {
        for (int i = 0; i < 3; i++) {
            applyNext(machine);
        }
        Head atCapture = machine.read(Ledger::head);
        Path dump = dir.resolve("captured");
        Files.createDirectories(dump);
        try (StateMachine.SnapshotCapture c = machine.capture().orElseThrow()) {
            applyNext(machine);
            applyNext(machine);
            assertEquals(atCapture.blockId().hex(), c.metadata().get("block"));
            assertEquals("3", c.metadata().get("height"));
            c.writeTo(dump);
        }
        try (LedgerMachine fresh = new LedgerMachine(T0, dir.resolve("d"), GENESIS, 3)) {
            fresh.installSnapshot(dump);
            assertEquals(atCapture, fresh.read(Ledger::head));
        }
        assertFalse(machine.read(Ledger::head).equals(atCapture));
    }

    @Test
    void aRestartKeepsTheStateAndTheDatabasePointer() throws Exception {
        applyNext(machine);
        applyNext(machine);
        Head before = machine.read(Ledger::head);
        machine.close();

        machine = new LedgerMachine(T0, dir.resolve("a"), GENESIS, 3);

        assertEquals(before, machine.read(Ledger::head));
    }

    /** Forms the next block on {@code former} at block time {@code millis} and applies the same bytes to every machine. */
    private byte[][] applyAt(long millis, LedgerMachine former, LedgerMachine... all) {
        Transaction tx = Transaction.write(FAUCET, T0, nonce++, ("k" + nonce).getBytes(StandardCharsets.UTF_8),
                new byte[100]);
        byte[] block = former.propose(List.of(tx), "n1", millis, 100, 1 << 20).block().encode();
        return applyToAll(block, all);
    }

    private byte[][] applyToAll(byte[] command, LedgerMachine... all) {
        index++;
        byte[][] results = new byte[all.length][];
        for (int i = 0; i < all.length; i++) {
            results[i] = all[i].apply(index, command);
        }
        return results;
    }

    private static ShareRequest.Answer answer(byte[] result) {
        return ShareRequest.Answer.decode(result).orElseThrow(() -> new AssertionError(
                new String(result, StandardCharsets.UTF_8)));
    }

    @Test
    void aShareRequestMakesEveryReplicaSaveTheNextBlockAndMoreWithinTheIntervalAreRefused() throws Exception {
        // Given two replicas of a thread that never saves on its own (saveStateEvery 0)
        try (LedgerMachine a = new LedgerMachine(T0, dir.resolve("ra"), GENESIS, 0);
             LedgerMachine b = new LedgerMachine(T0, dir.resolve("rb"), GENESIS, 0)) {
            applyAt(10_000, a, a, b);
            byte[] request = new ShareRequest(java.time.Duration.ofSeconds(60)).encode();

            // When a request is committed, and another before the next block
            byte[][] first = applyToAll(request, a, b);
            byte[][] second = applyToAll(request, a, b);

            // Then both replicas grant the first, call the second pending, and save the next block
            for (byte[] r : first) {
                assertEquals(new ShareRequest.Answer.Granted(1), answer(r));
            }
            for (byte[] r : second) {
                assertEquals(new ShareRequest.Answer.Pending(1), answer(r));
            }
            assertFalse(a.snapshotDue(index), "a request itself is no block");
            applyAt(11_000, a, a, b);
            assertTrue(a.snapshotDue(index) && b.snapshotDue(index), "the next block is saved everywhere");
            applyAt(12_000, a, a, b);
            assertFalse(a.snapshotDue(index) || b.snapshotDue(index), "only that one");

            // And a flood within the interval (in block time) saves nothing more, with the reason
            for (int i = 0; i < 20; i++) {
                byte[][] r = applyToAll(request, a, b);
                assertTrue(answer(r[0]) instanceof ShareRequest.Answer.Limited l && l.reason().contains("at most one"),
                        new String(r[0], StandardCharsets.UTF_8));
                assertEquals(answer(r[0]), answer(r[1]), "every replica decides alike");
                applyAt(13_000 + i * 1000, a, a, b);
                assertFalse(a.snapshotDue(index) || b.snapshotDue(index), "no save within the interval");
            }

            // And once the interval has passed in block time, a request is granted again
            applyAt(71_000, a, a, b);
            assertEquals(new ShareRequest.Answer.Granted(a.read(Ledger::head).height()),
                    answer(applyToAll(request, a, b)[1]));
            applyAt(72_000, a, a, b);
            assertTrue(a.snapshotDue(index) && b.snapshotDue(index));
        }
    }

    @Test
    void aShareRequestIsNoBlockAndOtherCommandsStaySkipped() {
        assertTrue(ShareRequest.decode(new byte[] {'S', 'S', 'R', '1', 0, 0, 0}).isEmpty(), "too short");
        assertTrue(ShareRequest.decode(new ShareRequest(java.time.Duration.ofSeconds(5)).encode()).isPresent());
        String garbage = new String(machine.apply(++index, new byte[] {'S', 'S', 'R', '2', 0, 0, 0, 0, 0, 0, 0, 1}),
                StandardCharsets.UTF_8);
        assertTrue(garbage.startsWith("skipped: malformed block"), garbage);
    }

    @Test
    void aPreparedStateIsBuiltAndVerifiedAheadAndTheInstallOfItsBlockOnlySwitchesToIt() throws Exception {
        for (int i = 0; i < 4; i++) {
            applyNext(machine);
        }
        Path dump = dir.resolve("dump-p");
        Files.createDirectories(dump);
        machine.writeSnapshot(dump);
        Head source = machine.read(Ledger::head);

        try (LedgerMachine other = new LedgerMachine(T0, dir.resolve("p"), GENESIS, 3)) {
            // Given a state prepared from the dump: built beside the live one, not in use
            LedgerMachine.Prepared prepared = other.prepareInstall(dump, source.blockId());
            assertEquals(source, prepared.head());
            assertEquals(0, other.read(Ledger::head).height(), "not in use before the install");

            // When the install of that block comes, with a dump that no longer exists
            other.expectInstallOf(prepared);
            other.installSnapshot(dir.resolve("nothing-here"));

            // Then the prepared state is the state, and no other database is left
            assertEquals(source, other.read(Ledger::head));
            assertEquals(source.root(), other.read(Ledger::recomputeRoot));
            try (Stream<Path> dbs = Files.list(dir.resolve("p"))) {
                assertEquals(1, dbs.filter(p -> p.getFileName().toString().startsWith("db-")).count());
            }
        }
    }

    @Test
    void aPreparedStateOfAnotherBlockIsRefusedAndOneNeverInstalledIsDeleted() throws Exception {
        for (int i = 0; i < 2; i++) {
            applyNext(machine);
        }
        Path dump = dir.resolve("dump-q");
        Files.createDirectories(dump);
        machine.writeSnapshot(dump);
        Head source = machine.read(Ledger::head);
        applyNext(machine);
        Head later = machine.read(Ledger::head);

        try (LedgerMachine other = new LedgerMachine(T0, dir.resolve("q"), GENESIS, 3)) {
            IOException e = assertThrows(IOException.class, () -> other.prepareInstall(dump, later.blockId()));
            assertTrue(e.getMessage().contains("not the requested block " + later.blockId().hex()), e.getMessage());

            LedgerMachine.Prepared unused = other.prepareInstall(dump, source.blockId());
            other.expectInstallOf(unused);
            other.cancelInstall(unused);

            assertEquals(0, other.read(Ledger::head).height());
            try (Stream<Path> dbs = Files.list(dir.resolve("q"))) {
                assertEquals(1, dbs.filter(p -> p.getFileName().toString().startsWith("db-")).count(),
                        "only the live database is left");
            }
            // And the machine's next install expects nothing of the cancelled one
            other.installSnapshot(dump);
            assertEquals(source, other.read(Ledger::head));
        }
    }

    /** Forms the next block on {@link #machine}, applies it, and returns its bytes for other replicas. */
    private byte[] nextBlock() {
        Transaction tx = Transaction.write(FAUCET, T0, nonce++, ("k" + nonce).getBytes(StandardCharsets.UTF_8),
                new byte[1000]);
        byte[] block = machine.propose(List.of(tx), "n1", 1000 + index, 100, 1 << 20).block().encode();
        machine.apply(++index, block);
        return block;
    }

    private Path save(LedgerMachine m, String name) throws IOException {
        Path dump = dir.resolve(name);
        Files.createDirectories(dump);
        try (StateMachine.SnapshotCapture c = m.capture().orElseThrow()) {
            c.writeTo(dump);
        }
        return dump;
    }

    private static byte[] bytes(Path dump, String file) throws IOException {
        return Files.readAllBytes(dump.resolve(file));
    }

    @Test
    void savesOfAnEpochAreLaidOverItsFirstAndReplicasThatInstalledItWriteTheSameBytes() throws Exception {
        long epoch = 3L * LedgerMachine.SAVES_PER_EPOCH;
        java.util.List<byte[]> blocks = new java.util.ArrayList<>();
        for (int i = 0; i < epoch; i++) {
            blocks.add(nextBlock());
        }
        // The save at the epoch's first block is full and kept as the base.
        Path first = save(machine, "save-24");
        assertFalse(Files.exists(first.resolve(Capture.OVERLAY_FILE)));
        assertTrue(Files.isRegularFile(dir.resolve("a").resolve("base-" + epoch).resolve("state.bin")));

        // Another replica installs that full dump (it holds the epoch's base too from then on).
        try (LedgerMachine other = new LedgerMachine(T0, dir.resolve("b"), GENESIS, 3)) {
            other.installSnapshot(first);
            java.util.List<byte[]> later = new java.util.ArrayList<>();
            for (int i = 0; i < 3; i++) {
                later.add(nextBlock());
            }
            long at = epoch;
            for (byte[] b : later) {
                other.apply(++at, b);
            }
            Path mine = save(machine, "save-27");
            Path theirs = save(other, "other-save-27");

            // Both later saves are layered over the same base and byte-identical.
            assertTrue(Files.isRegularFile(mine.resolve(Capture.OVERLAY_FILE)));
            assertEquals(epoch, Capture.layeredOver(mine).orElseThrow().getKey());
            assertTrue(Files.size(mine.resolve(Capture.OVERLAY_FILE)) < 5 * 1100, "three blocks' changes");
            for (String f : List.of(Capture.HEAD_FILE, Capture.STATE_FILE, Capture.OVERLAY_FILE)) {
                org.junit.jupiter.api.Assertions.assertArrayEquals(bytes(mine, f), bytes(theirs, f), f);
            }
            org.junit.jupiter.api.Assertions.assertArrayEquals(bytes(first, Capture.STATE_FILE),
                    bytes(mine, Capture.STATE_FILE), "the base's bytes, so the base's chunks");

            // A replica that installed the layered dump does not adopt its base: its saves are full.
            try (LedgerMachine third = new LedgerMachine(T0, dir.resolve("c"), GENESIS, 3)) {
                third.installSnapshot(mine);
                assertEquals(other.read(Ledger::head), third.read(Ledger::head));
                Path full = save(third, "third-save-27");
                assertFalse(Files.exists(full.resolve(Capture.OVERLAY_FILE)));
                assertEquals(third.read(Ledger::head), Ledger.restore(full, dir.resolve("c-check"), T0));
            }
        }

        // The base survives a restart.
        machine.close();
        machine = new LedgerMachine(T0, dir.resolve("a"), GENESIS, 3);
        assertEquals(epoch, Capture.layeredOver(save(machine, "after-restart")).orElseThrow().getKey());
    }
}
