package io.statesync.node.producer;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.statesync.core.testing.Await;
import io.statesync.node.ledger.Block;
import io.statesync.node.ledger.BlockRejectedException;
import io.statesync.node.ledger.Genesis;
import io.statesync.node.ledger.Ledger;
import io.statesync.node.ledger.Signer;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.ledger.Transaction;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The producer service over a real ledger; the "group" is a sink that applies each block to the
 * same ledger, as a single-member group would.
 */
class ProducerServiceTest {
    private static final ThreadId T0 = new ThreadId("t0");
    private static final Signer FAUCET = Signer.fromPhrase("producer-test-faucet");
    private static final ProducerConfig FAST = ProducerConfig.defaults().withProductionTimeout(Duration.ofMillis(20));
    /** How long a test waits for what a producer turning every 20 ms does. */
    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    private Ledger ledger;
    private Mempool mempool;
    private ProducerService producer;
    private final AtomicBoolean leading = new AtomicBoolean(true);
    /** How often the producer asked whether it may produce: once a turn, unless paused. */
    private final AtomicInteger asked = new AtomicInteger();
    /** When set, the next commit fails like a bug would (an unchecked exception). */
    private volatile RuntimeException bug;

    @BeforeEach
    void open() throws Exception {
        ledger = Ledger.open(dir.resolve("db"), T0, Genesis.faucet(FAUCET.account(), 1_000_000));
        mempool = new Mempool(1000, 16 << 20);
    }

    @AfterEach
    void close() {
        if (producer != null) {
            producer.stop();
        }
        ledger.close();
    }

    private void start(ProducerConfig config) {
        BlockSink sink = new BlockSink() {
            @Override
            public boolean mayProduce() {
                asked.incrementAndGet();
                return leading.get();
            }

            @Override
            public void commit(Block block) throws IOException {
                RuntimeException b = bug;
                if (b != null) {
                    throw b;
                }
                try {
                    ledger.apply(block);
                } catch (BlockRejectedException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }
        };
        producer = ProducerService.start(config, new ProducerService.Collaborators(T0, "n1", ledger::propose, sink,
                mempool, new SimpleMeterRegistry(), Clock.systemUTC()));
    }

    private String submit(Transaction tx) {
        assertEquals(Mempool.Offer.ACCEPTED, mempool.offer(new Mempool.Pending(tx, tx.id(), tx.encode().length)));
        return tx.id();
    }

    @Test
    void blocksAreProducedFromPendingTransactionsAndCounted() throws Exception {
        start(FAST);
        Signer alice = Signer.fromPhrase("alice");
        String id = submit(Transaction.transfer(FAUCET, T0, 0, alice.account(), 500));

        Await.until("the transaction included", WAIT,
                () -> mempool.outcome(id).orElse("").startsWith("included in block"));
        assertEquals(500, ledger.account(alice.account()).orElseThrow().balance());
        assertTrue(producer.produced() >= 1);
        long produced = producer.produced();
        assertTrue(ledger.head().height() >= produced, "every counted block is committed");
        assertDoesNotThrow(producer::touch);
    }

    @Test
    void badTransactionsAreRejectedWithAReasonAndTheProducerGoesOn() throws Exception {
        start(FAST);
        Signer stranger = Signer.fromPhrase("stranger");
        String unknown = submit(Transaction.transfer(stranger, T0, 0, FAUCET.account(), 1));
        String overdraft = submit(Transaction.transfer(FAUCET, T0, 0, stranger.account(), 2_000_000));
        String good = submit(Transaction.transfer(FAUCET, T0, 0, stranger.account(), 7));

        Await.until("the good transaction included", WAIT,
                () -> mempool.outcome(good).orElse("").startsWith("included"));
        assertTrue(mempool.outcome(unknown).orElseThrow().contains("unknown account"), mempool.outcome(unknown).get());
        assertTrue(mempool.outcome(overdraft).orElseThrow().contains("overdraft"), mempool.outcome(overdraft).get());
        assertDoesNotThrow(producer::touch);
    }

    @Test
    void aNonceAheadWaitsPendingUntilTheOneBeforeItArrives() throws Exception {
        start(FAST);
        Signer dave = Signer.fromPhrase("dave");
        String second = submit(Transaction.transfer(FAUCET, T0, 1, dave.account(), 2));
        // The second block from now was formed after the submission, from a pool that held it
        // (a rejection is settled before its block counts).
        long before = producer.produced();
        Await.until("two more blocks", WAIT, () -> producer.produced() >= before + 2);
        assertEquals("pending", mempool.outcome(second).orElseThrow(), "waits for nonce 0");

        String first = submit(Transaction.transfer(FAUCET, T0, 0, dave.account(), 1));

        Await.until("the second transaction included", WAIT,
                () -> mempool.outcome(second).orElse("").startsWith("included"));
        assertTrue(mempool.outcome(first).orElseThrow().startsWith("included"));
        assertEquals(3, ledger.account(dave.account()).orElseThrow().balance());
    }

    @Test
    void aFollowerProducesNothingAndPauseHoldsProductionUntilResume() throws Exception {
        leading.set(false);
        start(FAST);
        String id = submit(Transaction.transfer(FAUCET, T0, 0, Signer.fromPhrase("bob").account(), 5));
        // Two more turns: the first began after the submission, and the second only once the
        // first had committed whatever it would have formed.
        int turns = asked.get();
        Await.until("two more turns of the producer", WAIT, () -> asked.get() >= turns + 2);
        assertEquals(0, producer.produced(), "not the leader");

        producer.pause();
        Await.until("the producer paused", WAIT, producer::paused);
        leading.set(true);
        // Still a sleep: a paused producer does nothing a test could wait for, so only time shows
        // that it stays idle.
        Thread.sleep(200);
        assertEquals(0, producer.produced(), "paused");
        assertEquals("pending", mempool.outcome(id).orElseThrow());

        producer.resume();
        Await.until("the transaction included after the resume", WAIT,
                () -> mempool.outcome(id).orElse("").startsWith("included"));
    }

    @Test
    void aDeadProducerThreadIsReportedByTouch() throws Exception {
        start(FAST);
        Await.until("a first block", WAIT, () -> producer.produced() >= 1);
        assertDoesNotThrow(producer::touch);

        bug = new IllegalStateException("simulated bug in block commit");
        Await.until("touch to report the dead producer", WAIT, () -> {
            try {
                producer.touch();
                return false;
            } catch (ProducerFailedException e) {
                return true;
            }
        });
        ProducerFailedException e = assertThrows(ProducerFailedException.class, producer::touch);
        assertTrue(e.getMessage().contains("block producer of thread t0 ended unexpectedly"), e.getMessage());
        assertTrue(e.getMessage().contains("simulated bug in block commit"), e.getMessage());
    }

    @Test
    void aStoppedProducerIsNotReportedAsDeadAndItsThreadIsGone() throws Exception {
        start(FAST);
        producer.stop();

        assertDoesNotThrow(producer::touch);
        assertTrue(Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.getName().equals("statesync-producer-t0")), "no producer thread left");
    }

    @Test
    void aFailedCommitPutsTheTransactionsBackAndTheyAreIncludedLater() throws Exception {
        Signer carol = Signer.fromPhrase("carol");
        leading.set(false);
        start(FAST);
        String id = submit(Transaction.transfer(FAUCET, T0, 0, carol.account(), 9));
        // A sink whose commit fails with an I/O error (a leader change) once.
        AtomicBoolean failedOnce = new AtomicBoolean();
        producer.stop();
        BlockSink flaky = new BlockSink() {
            @Override
            public boolean mayProduce() {
                return true;
            }

            @Override
            public void commit(Block block) throws IOException {
                if (failedOnce.compareAndSet(false, true)) {
                    throw new IOException("leader changed");
                }
                try {
                    ledger.apply(block);
                } catch (BlockRejectedException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }
        };
        producer = ProducerService.start(FAST, new ProducerService.Collaborators(T0, "n1", ledger::propose, flaky,
                mempool, new SimpleMeterRegistry(), Clock.systemUTC()));

        Await.until("the transaction included after the failed commit", WAIT,
                () -> mempool.outcome(id).orElse("").startsWith("included"));
        assertTrue(failedOnce.get());
        assertEquals(9, ledger.account(carol.account()).orElseThrow().balance());
    }
}
