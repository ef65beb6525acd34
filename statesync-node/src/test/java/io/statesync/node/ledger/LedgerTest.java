package io.statesync.node.ledger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LedgerTest {
    static final ThreadId T0 = new ThreadId("t0");
    static final Signer FAUCET = Signer.fromPhrase("statesync-demo-faucet");
    static final Genesis GENESIS = Genesis.faucet(FAUCET.account(), 1_000_000);

    @TempDir
    Path tmp;

    private final List<Ledger> open = new ArrayList<>();

    private Ledger ledger(String name) throws IOException {
        Ledger ledger = Ledger.open(tmp.resolve(name), T0, GENESIS);
        open.add(ledger);
        return ledger;
    }

    @AfterEach
    void closeAll() {
        open.forEach(Ledger::close);
    }

    /** Proposes {@code txs} on the producer and applies the block there and on the replicas. */
    static Block produce(Ledger producer, List<Transaction> txs, Ledger... replicas) throws Exception {
        Proposal proposal = producer.propose(txs, "producer", 1000 + producer.head().height(), 10_000, Block.MAX_BYTES);
        assertEquals(List.of(), proposal.rejected());
        byte[] encoded = proposal.block().encode();
        producer.apply(encoded);
        for (Ledger replica : replicas) {
            replica.apply(encoded);
        }
        return proposal.block();
    }

    @Test
    void aNewLedgerHoldsTheGenesisState() throws Exception {
        Ledger ledger = ledger("a");
        Head head = ledger.head();
        assertEquals(0, head.height());
        assertEquals(Block.genesis(T0, GENESIS).id(), head.blockId());
        assertEquals(Block.genesis(T0, GENESIS).stateRoot(), head.root());
        assertEquals(ledger.recomputeRoot(), head.root());
        assertEquals(49, head.stateBytes());
        assertEquals(Optional.of(new Account(1_000_000, 0)), ledger.account(FAUCET.account()));
        assertEquals(Block.genesis(T0, GENESIS), ledger.headBlock());
    }

    @Test
    void aReplicaReExecutingTheProducersBlocksReachesTheSameRoot() throws Exception {
        // given a producer and a replica from the same genesis
        Ledger producer = ledger("producer");
        Ledger replica = ledger("replica");
        Signer alice = Signer.fromPhrase("alice");
        Signer bob = Signer.fromPhrase("bob");

        // when transfers and writes go through propose -> apply on both
        produce(producer, List.of(
                Transaction.transfer(FAUCET, T0, 0, alice.account(), 500),
                Transaction.transfer(FAUCET, T0, 1, bob.account(), 300)), replica);
        produce(producer, List.of(
                Transaction.transfer(alice, T0, 0, bob.account(), 100),
                Transaction.transfer(bob, T0, 0, bob.account(), 50),
                Transaction.write(alice, T0, 1, "k1".getBytes(), "v1".getBytes()),
                Transaction.write(alice, T0, 2, "k2".getBytes(), new byte[10_000]),
                Transaction.write(alice, T0, 3, "k1".getBytes(), "v1-updated".getBytes())), replica);
        Block last = produce(producer, List.of(
                Transaction.write(alice, T0, 4, "k2".getBytes(), new byte[0])), replica);

        // then both agree with each other, with the block and with a full recompute
        assertEquals(producer.head(), replica.head());
        assertEquals(3, replica.head().height());
        assertEquals(last.id(), replica.head().blockId());
        assertEquals(last.stateRoot(), replica.head().root());
        assertEquals(replica.head().root(), replica.recomputeRoot());
        assertEquals(producer.recomputeRoot(), replica.recomputeRoot());

        assertEquals(Optional.of(new Account(999_200, 2)), replica.account(FAUCET.account()));
        assertEquals(Optional.of(new Account(400, 5)), replica.account(alice.account()));
        assertEquals(Optional.of(new Account(400, 1)), replica.account(bob.account()));
        assertArrayEquals("v1-updated".getBytes(), replica.data(alice.account(), "k1".getBytes()).orElseThrow());
        assertTrue(replica.data(alice.account(), "k2".getBytes()).isEmpty());
        // three accounts (49 bytes each) and one data entry: 33 + 2 key + 10 value
        assertEquals(3 * 49 + 33 + 2 + 10, replica.head().stateBytes());
    }

    @Test
    void invalidTransactionsAreRejectedInProposeWithReasonsAndTheRestStillExecutes() throws Exception {
        Ledger ledger = ledger("a");
        Signer stranger = Signer.fromPhrase("stranger");
        Transaction good = Transaction.transfer(FAUCET, T0, 0, stranger.account(), 10);
        Transaction.Transfer forged = new Transaction.Transfer(T0, FAUCET.account(), 1, stranger.account(), 5,
                stranger.sign(Transaction.transfer(FAUCET, T0, 1, stranger.account(), 5).signedDigest()));
        Transaction unknown = Transaction.transfer(Signer.fromPhrase("nobody"), T0, 0, FAUCET.account(), 1);
        Transaction badNonce = Transaction.transfer(FAUCET, T0, 3, stranger.account(), 1);
        Transaction wrongThread = Transaction.transfer(FAUCET, new ThreadId("t1"), 1, stranger.account(), 1);
        Transaction overdraft = Transaction.transfer(stranger, T0, 0, FAUCET.account(), 25);
        Transaction good2 = Transaction.transfer(FAUCET, T0, 1, stranger.account(), 7);

        Proposal proposal = ledger.propose(
                List.of(good, forged, unknown, badNonce, wrongThread, overdraft, good2), "p", 1, 100, Block.MAX_BYTES);

        assertEquals(List.of(good, good2), proposal.block().transactions());
        assertEquals(List.of(
                new Proposal.Rejected(forged.id(), "bad signature"),
                new Proposal.Rejected(unknown.id(), "unknown account " + unknown.from().hex()),
                new Proposal.Rejected(badNonce.id(), "nonce 3 expected 1"),
                new Proposal.Rejected(wrongThread.id(), "wrong thread: transaction is for t1, ledger is t0"),
                new Proposal.Rejected(overdraft.id(), "overdraft: balance 10, amount 25")),
                proposal.rejected());
        assertTrue(proposal.leftOver().isEmpty());
        // nothing was written by propose
        assertEquals(0, ledger.head().height());
        assertEquals(Optional.empty(), ledger.account(stranger.account()));

        // check() gives the same reasons against the committed state
        assertEquals(Optional.of("nonce 3 expected 0"), ledger.check(badNonce));
        assertEquals(Optional.empty(), ledger.check(good));

        ledger.apply(proposal.block());
        assertEquals(Optional.of(new Account(17, 0)), ledger.account(stranger.account()));
    }

    @Test
    void proposeStopsAtTheLimitsAndReturnsTheRestInOrder() throws Exception {
        Ledger ledger = ledger("a");
        Signer to = Signer.fromPhrase("to");
        List<Transaction> pending = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            pending.add(Transaction.transfer(FAUCET, T0, i, to.account(), 1));
        }
        Proposal byCount = ledger.propose(pending, "p", 1, 4, Block.MAX_BYTES);
        assertEquals(pending.subList(0, 4), byCount.block().transactions());
        assertEquals(pending.subList(4, 10), byCount.leftOver());

        long header = BlockCodec.headerLength(2, 1);
        Proposal byBytes = ledger.propose(pending, "p", 1, 100, header + 3 * (4 + 148) + 10);
        assertEquals(3, byBytes.block().transactions().size());
        assertEquals(7, byBytes.leftOver().size());
        assertTrue(byBytes.block().encode().length <= header + 3 * (4 + 148) + 10);

        ledger.apply(byCount.block());
        Proposal next = ledger.propose(byCount.leftOver(), "p", 2, 100, Block.MAX_BYTES);
        assertEquals(6, next.block().transactions().size());
        ledger.apply(next.block());
        assertEquals(Optional.of(new Account(10, 0)), ledger.account(to.account()));
    }

    @Test
    void aBlockWithATamperedStateRootIsRejectedNamingTheBlockAndChangesNothing() throws Exception {
        Ledger producer = ledger("producer");
        Ledger replica = ledger("replica");
        Signer alice = Signer.fromPhrase("alice");
        Block honest = producer.propose(List.of(Transaction.transfer(FAUCET, T0, 0, alice.account(), 5)), "p", 1,
                10, Block.MAX_BYTES).block();
        Block tampered = new Block(T0, honest.seqNo(), honest.parent(), honest.transactions(),
                StateRoot.of(Bytes.sha256("lie".getBytes())), honest.producer(), honest.timeMillis());
        Head before = replica.head();

        BlockRejectedException e = assertThrows(BlockRejectedException.class, () -> replica.apply(tampered));

        assertEquals("block " + tampered.id().hex() + " (t0#1): state root mismatch: block says "
                + tampered.stateRoot().hex() + ", state gives " + honest.stateRoot().hex(), e.getMessage());
        assertEquals(before, replica.head());
        assertEquals(Optional.empty(), replica.account(alice.account()));
        assertEquals(before.root(), replica.recomputeRoot());
        // and the honest block still applies afterwards
        replica.apply(honest);
        assertEquals(honest.stateRoot(), replica.head().root());
    }

    @Test
    void blocksOnTheWrongParentOrHeightOrThreadAreRejected() throws Exception {
        Ledger ledger = ledger("a");
        Block next = ledger.propose(List.of(), "p", 1, 10, Block.MAX_BYTES).block();
        Block wrongParent = new Block(T0, 1, BlockId.of(Bytes.sha256(new byte[1])), List.of(), next.stateRoot(), "p", 1);
        Block wrongHeight = new Block(T0, 2, next.parent(), List.of(), next.stateRoot(), "p", 1);
        Block wrongThread = new Block(new ThreadId("t1"), 1, next.parent(), List.of(), next.stateRoot(), "p", 1);

        String parent = assertThrows(BlockRejectedException.class, () -> ledger.apply(wrongParent)).getMessage();
        assertTrue(parent.startsWith("block " + wrongParent.id().hex() + " (t0#1): parent "), parent);
        String height = assertThrows(BlockRejectedException.class, () -> ledger.apply(wrongHeight)).getMessage();
        assertTrue(height.endsWith("(t0#2): expected height 1 on head t0#0, got 2"), height);
        String thread = assertThrows(BlockRejectedException.class, () -> ledger.apply(wrongThread)).getMessage();
        assertTrue(thread.endsWith("(t1#1): for thread t1, ledger is t0"), thread);

        ledger.apply(next);
        // replaying the same block is a wrong height now
        assertThrows(BlockRejectedException.class, () -> ledger.apply(next));
        assertEquals(1, ledger.head().height());
    }

    @Test
    void aBlockWithAnInvalidTransactionIsRejected() throws Exception {
        Ledger ledger = ledger("a");
        Transaction overdraft = Transaction.transfer(FAUCET, T0, 0, Signer.fromPhrase("x").account(), 2_000_000);
        Block block = new Block(T0, 1, ledger.head().blockId(), List.of(overdraft), ledger.head().root(), "p", 1);
        String reason = assertThrows(BlockRejectedException.class, () -> ledger.apply(block)).getMessage();
        assertEquals("block " + block.id().hex() + " (t0#1): transaction 0 (" + overdraft.id()
                + ") rejected: overdraft: balance 1000000, amount 2000000", reason);

        String malformed = assertThrows(BlockRejectedException.class, () -> ledger.apply(new byte[] {1, 2}))
                .getMessage();
        assertTrue(malformed.contains(": malformed: block: "), malformed);
        assertFalse(malformed.contains("\n"));
    }

    @Test
    void aRestartKeepsHeadRootAndState() throws Exception {
        Path dir = tmp.resolve("a");
        Signer alice = Signer.fromPhrase("alice");
        Head head;
        try (Ledger ledger = Ledger.open(dir, T0, GENESIS)) {
            produce(ledger, List.of(Transaction.transfer(FAUCET, T0, 0, alice.account(), 42),
                    Transaction.write(alice, T0, 0, "k".getBytes(), "v".getBytes())));
            head = ledger.head();
        }
        try (Ledger reopened = Ledger.open(dir, T0, Genesis.faucet(alice.account(), 1))) {
            assertEquals(head, reopened.head());
            assertEquals(head.root(), reopened.recomputeRoot());
            assertEquals(Optional.of(new Account(42, 1)), reopened.account(alice.account()));
            produce(reopened, List.of(Transaction.transfer(alice, T0, 1, FAUCET.account(), 2)));
            assertEquals(2, reopened.head().height());
        }
        IOException other = assertThrows(IOException.class, () -> Ledger.open(dir, new ThreadId("t9"), GENESIS));
        assertEquals("ledger at " + dir + " belongs to thread t0, not t9", other.getMessage());
    }

    @Test
    void proposalsAndReadsOnOtherThreadsSeeOneConsistentHeadWhileBlocksApply() throws Exception {
        // given a ledger that keeps applying blocks on this thread
        Ledger ledger = ledger("a");
        Signer alice = Signer.fromPhrase("alice");
        Map<BlockId, StateRoot> roots = new ConcurrentHashMap<>();
        roots.put(ledger.head().blockId(), ledger.head().root());
        AtomicBoolean stop = new AtomicBoolean();
        ExecutorService pool =
                Executors.newSingleThreadExecutor(r -> new Thread(r, "test-proposer"));
        try {
            // when another thread proposes empty blocks and reads all the while
            Future<Integer> proposer = pool.submit(() -> {
                int n = 0;
                while (!stop.get()) {
                    Block block = ledger.propose(List.of(), "p", 1, 10, Block.MAX_BYTES).block();
                    // then every proposal builds on a real head, with exactly that head's root
                    StateRoot parentRoot = roots.get(block.parent());
                    if (parentRoot == null || !parentRoot.equals(block.stateRoot())) {
                        throw new AssertionError("proposal on " + block.parent() + " has root " + block.stateRoot());
                    }
                    ledger.account(FAUCET.account()).orElseThrow();
                    n++;
                }
                return n;
            });
            for (int i = 0; i < 30; i++) {
                Proposal proposal = ledger.propose(List.of(Transaction.transfer(FAUCET, T0, i, alice.account(), 1),
                        Transaction.write(FAUCET, T0, i, "k".getBytes(), new byte[i + 1])),
                        "p", i, 10, Block.MAX_BYTES);
                // the write's nonce collides with the transfer's: only the transfer goes in
                assertEquals(1, proposal.block().transactions().size());
                Block block = proposal.block();
                roots.put(block.id(), block.stateRoot());
                ledger.apply(block);
            }
            stop.set(true);
            assertTrue(proposer.get(30, TimeUnit.SECONDS) > 0);
        } finally {
            stop.set(true);
            pool.shutdownNow();
        }
        assertEquals(ledger.head().root(), ledger.recomputeRoot());
    }

    @Test
    void aClosedLedgerRefusesCalls() throws Exception {
        Ledger ledger = Ledger.open(tmp.resolve("a"), T0, GENESIS);
        ledger.close();
        assertThrows(IllegalStateException.class, () -> ledger.account(FAUCET.account()));
        assertThrows(IllegalStateException.class, () -> ledger.propose(List.of(), "p", 1, 1, 1000));
        ledger.close();
    }

    @Test
    void admissionLetsANonceAheadInButNotAStaleOneAnOverdraftOrAStranger() throws Exception {
        try (Ledger ledger = Ledger.open(tmp.resolve("admit"), T0, Genesis.faucet(FAUCET.account(), 100))) {
            Signer bob = Signer.fromPhrase("bob");

            assertTrue(ledger.admit(Transaction.transfer(FAUCET, T0, 3, bob.account(), 10)).isEmpty(), "ahead");
            assertTrue(ledger.check(Transaction.transfer(FAUCET, T0, 3, bob.account(), 10)).isPresent(),
                    "but not executable yet");
            assertTrue(ledger.admit(Transaction.transfer(FAUCET, T0, 3, bob.account(), 500)).orElseThrow()
                    .startsWith("overdraft"));
            assertTrue(ledger.admit(Transaction.transfer(bob, T0, 0, FAUCET.account(), 1)).orElseThrow()
                    .startsWith("unknown account"));
            ledger.apply(ledger.propose(java.util.List.of(Transaction.transfer(FAUCET, T0, 0, bob.account(), 1)),
                    "p", 1, 10, 1 << 20).block());
            assertEquals("nonce 0 expected 1 or later",
                    ledger.admit(Transaction.transfer(FAUCET, T0, 0, bob.account(), 1)).orElseThrow());
        }
    }
}
