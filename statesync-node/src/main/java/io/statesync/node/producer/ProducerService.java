package io.statesync.node.producer;

import io.statesync.core.concurrent.Uninterruptibly;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.statesync.node.ledger.Block;
import io.statesync.node.ledger.Ledger;
import io.statesync.node.ledger.Proposal;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.ledger.Transaction;
import java.io.IOException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one thread's block producer on its own named platform thread: every production timeout,
 * while this node leads the thread's group, it forms a block from the pending transactions and
 * commits it through the group. Paused, resumed and stopped by commands; {@link #touch()} is the
 * health check that reports a producer that ended on its own.
 *
 * <p>Bad transactions never end the producer: the ledger rejects them with a reason while the
 * block is formed. A failed commit (a leader change, a timeout) is logged and retried with the
 * next block. Anything else is a bug, ends the thread, and {@link #touch()} says so: production
 * halts loudly rather than limping on.
 */
public final class ProducerService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ProducerService.class);

    /** What a producer works with besides its configuration. */
    public record Collaborators(ThreadId thread, String producerId, BlockSource ledger, BlockSink sink,
                                Mempool mempool, MeterRegistry registry, Clock clock) {
    }

    /** Forms the next block from pending transactions (see {@link Ledger#propose}). */
    @FunctionalInterface
    public interface BlockSource {
        Proposal propose(List<Transaction> pending, String producer, long timeMillis, int maxTransactions,
                         long maxBytes);
    }

    private sealed interface Control {
        record Pause() implements Control {
        }

        record Resume() implements Control {
        }

        record Stop() implements Control {
        }
    }

    /** How long a transaction may wait for the ones before it (see {@link #awaitsEarlierNonce}). */
    static final java.time.Duration NONCE_GAP_WAIT = java.time.Duration.ofSeconds(30);
    private static final java.util.regex.Pattern NONCE_AHEAD = java.util.regex.Pattern.compile(
            "nonce (\\d+) expected (\\d+)");

    private final ProducerConfig config;
    private final Collaborators with;
    private final BlockingQueue<Control> controls = new LinkedBlockingQueue<>();
    private final Thread thread;
    /** Set before the thread is told to stop, so that its end is expected. */
    private volatile boolean stopRequested;
    private volatile boolean paused;
    /** Why the thread ended, if it ended by an exception. */
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final AtomicLong produced = new AtomicLong();
    private final Counter blocks;
    private final Counter included;
    private final Counter rejected;
    private final Counter commitFailures;
    private final Timer latency;

    private ProducerService(ProducerConfig config, Collaborators with) {
        this.config = config;
        this.with = with;
        String t = with.thread().name();
        MeterRegistry r = with.registry();
        blocks = Counter.builder("statesync_node_blocks_produced").tag("thread", t)
                .description("Blocks this node produced and committed").register(r);
        included = Counter.builder("statesync_node_transactions").tag("thread", t).tag("outcome", "included")
                .description("Transactions the producer put into committed blocks, or rejected").register(r);
        // Every series of a family says the same help: the registry keeps the last one registered.
        rejected = Counter.builder("statesync_node_transactions").tag("thread", t).tag("outcome", "rejected")
                .description("Transactions the producer put into committed blocks, or rejected").register(r);
        commitFailures = Counter.builder("statesync_node_block_commit_failures").tag("thread", t)
                .description("Blocks whose commit through the group failed").register(r);
        latency = Timer.builder("statesync_node_block_latency").tag("thread", t)
                .description("From forming a block to its commit and apply on this node")
                .publishPercentiles(0.5, 0.99).publishPercentileHistogram().register(r);
        Gauge.builder("statesync_node_mempool_transactions", with.mempool(), Mempool::size).tag("thread", t)
                .description("Transactions waiting for a block").register(r);
        this.thread = Thread.ofPlatform().name("statesync-producer-" + t).daemon(true).unstarted(this::run);
    }

    /** Starts the producer of {@code with.thread()} on its own thread. */
    public static ProducerService start(ProducerConfig config, Collaborators with) {
        ProducerService s = new ProducerService(config, with);
        s.thread.start();
        return s;
    }

    /**
     * The health check: returns if the producer is running (or was stopped on purpose), and
     * throws if its thread ended on its own, with the reason.
     *
     * @throws ProducerFailedException if the producer thread ended unexpectedly
     */
    public void touch() {
        if (thread.isAlive() || stopRequested) {
            return;
        }
        Throwable cause = failure.get();
        throw new ProducerFailedException("the block producer of thread " + with.thread().name()
                + " ended unexpectedly" + (cause == null ? "" : ": " + cause), cause);
    }

    /** Stops forming blocks until {@link #resume()}; a block being committed finishes. */
    public void pause() {
        controls.add(new Control.Pause());
    }

    public void resume() {
        controls.add(new Control.Resume());
    }

    /** Whether the producer is paused (as of the last command it took). */
    public boolean paused() {
        return paused;
    }

    /** Blocks this producer has committed. */
    public long produced() {
        return produced.get();
    }

    /** Stops the producer and waits for its thread: a block being committed finishes first. */
    public void stop() {
        stopRequested = true;
        controls.add(new Control.Stop());
        Uninterruptibly.join(thread);
    }

    @Override
    public void close() {
        stop();
    }

    private void run() {
        try {
            long waitNanos = 0;
            while (true) {
                Control c = waitNanos > 0 ? controls.poll(waitNanos, TimeUnit.NANOSECONDS) : controls.poll();
                if (c != null) {
                    switch (c) {
                        case Control.Pause p -> paused = true;
                        case Control.Resume r -> paused = false;
                        case Control.Stop s -> {
                            return;
                        }
                    }
                    continue;
                }
                long started = System.nanoTime();
                boolean more = !paused && produceOnce();
                long interval = config.productionTimeout().toNanos();
                // A backlog bigger than one block is worked off at once; otherwise keep the cadence.
                waitNanos = more && with.mempool().size() > 0 ? 0 : interval - (System.nanoTime() - started);
            }
        } catch (InterruptedException e) {
            if (!stopRequested) {
                failure.set(e);
                log.error("producer of thread {} interrupted", with.thread().name());
            }
        } catch (Throwable e) {
            failure.set(e);
            log.error("producer of thread {} failed; block production on this thread has halted",
                    with.thread().name(), e);
        }
    }

    /**
     * Forms one block from the pending transactions and commits it, if this node may produce.
     * Returns whether a block was committed.
     */
    private boolean produceOnce() throws InterruptedException {
        if (!with.sink().mayProduce()) {
            return false;
        }
        List<Mempool.Pending> batch = with.mempool().take(config.maxTransactionsPerBlock(), config.maxBlockBytes());
        Map<Transaction, Mempool.Pending> byTx = new IdentityHashMap<>();
        List<Transaction> txs = new ArrayList<>(batch.size());
        for (Mempool.Pending p : batch) {
            byTx.put(p.tx(), p);
            txs.add(p.tx());
        }
        long started = System.nanoTime();
        Proposal proposal = with.ledger().propose(txs, with.producerId(), with.clock().millis(),
                config.maxTransactionsPerBlock(), config.maxBlockBytes());
        java.util.Set<String> waiting = new java.util.HashSet<>();
        for (Proposal.Rejected r : proposal.rejected()) {
            Mempool.Pending p = batch.stream().filter(b -> b.id().equals(r.txId())).findFirst().orElse(null);
            if (p != null && awaitsEarlierNonce(r.reason(), p)) {
                waiting.add(p.id());
                continue;
            }
            with.mempool().settle(r.txId(), "rejected: " + r.reason());
            rejected.increment();
        }
        java.util.Set<Transaction> left = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        left.addAll(proposal.leftOver());
        // Back to the front in their order: what did not fit, and what waits for an earlier nonce.
        with.mempool().putBack(batch.stream().filter(p -> left.contains(p.tx()) || waiting.contains(p.id()))
                .toList());
        Block block = proposal.block();
        try {
            with.sink().commit(block);
        } catch (IOException e) {
            commitFailures.increment();
            log.warn("thread {}: block {} not committed, its transactions go back to the pool: {}",
                    with.thread().name(), block.seqNo(), e.getMessage());
            with.mempool().putBack(block.transactions().stream().map(byTx::get).toList());
            return false;
        }
        latency.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
        String where = "included in block " + block.seqNo() + " " + block.id().hex();
        for (Transaction tx : block.transactions()) {
            with.mempool().settle(byTx.get(tx).id(), where);
        }
        included.increment(block.transactions().size());
        blocks.increment();
        produced.incrementAndGet();
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
        // Only a block that took transactions makes the pool worth another look at once.
        return !block.transactions().isEmpty();
    }

    /**
     * A transaction whose nonce is ahead of its sender's stays pending for a while: the ones
     * before it may still arrive (a client resending after a leader change). After
     * {@link #NONCE_GAP_WAIT} it is rejected like any other.
     */
    private static boolean awaitsEarlierNonce(String reason, Mempool.Pending p) {
        java.util.regex.Matcher m = NONCE_AHEAD.matcher(reason);
        return m.matches() && Long.parseLong(m.group(1)) > Long.parseLong(m.group(2))
                && System.nanoTime() - p.admittedNanos() < NONCE_GAP_WAIT.toNanos();
    }
}
