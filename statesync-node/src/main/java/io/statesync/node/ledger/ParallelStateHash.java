package io.statesync.node.ledger;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The {@link LtHash} of a whole state, over all cores: entries are handed over in batches of
 * about {@link #BATCH_BYTES}, each batch is hashed into its own LtHash on a worker, and the
 * batches' hashes are summed (LtHash is a sum of per-element vectors, so the order does not
 * matter). At most two batches per worker are in flight, so memory stays bounded whatever the
 * state's size. The caller's thread only copies references and keeps reading.
 *
 * <p>Its workers are platform threads named {@code statesync-state-hash-<n>} (the work is CPU,
 * not waiting), owned by this object and ended by {@link #close()}.
 */
final class ParallelStateHash implements AutoCloseable {
    static final int BATCH_BYTES = 1 << 20;

    private final ExecutorService workers;
    private final int maxInFlight;
    private final ArrayDeque<Future<LtHash>> inFlight = new ArrayDeque<>();
    private final LtHash sum = new LtHash();
    private List<byte[]> keys = new ArrayList<>();
    private List<byte[]> values = new ArrayList<>();
    private long batchBytes;

    /** Hashes on as many workers as there are processors. */
    ParallelStateHash() {
        this(Runtime.getRuntime().availableProcessors());
    }

    ParallelStateHash(int threads) {
        this.workers = Executors.newFixedThreadPool(Math.max(1, threads),
                Thread.ofPlatform().name("statesync-state-hash-", 0).daemon(true).factory());
        this.maxInFlight = 2 * Math.max(1, threads);
    }

    /** Adds one stored entry (key and value as the database holds them). */
    void add(byte[] key, byte[] value) throws InterruptedException {
        keys.add(key);
        values.add(value);
        batchBytes += key.length + value.length + 32L;
        if (batchBytes >= BATCH_BYTES) {
            submit();
        }
    }

    /** The hash of every entry added; call once, after the last add. */
    LtHash finish() throws InterruptedException {
        submit();
        while (!inFlight.isEmpty()) {
            collectOldest();
        }
        return sum;
    }

    private void submit() throws InterruptedException {
        if (keys.isEmpty()) {
            return;
        }
        List<byte[]> k = keys;
        List<byte[]> v = values;
        keys = new ArrayList<>();
        values = new ArrayList<>();
        batchBytes = 0;
        while (inFlight.size() >= maxInFlight) {
            collectOldest();
        }
        inFlight.add(workers.submit(() -> {
            LtHash h = new LtHash();
            for (int i = 0; i < k.size(); i++) {
                h.add(StateLayout.elementFromRaw(k.get(i), v.get(i)));
            }
            return h;
        }));
    }

    private void collectOldest() throws InterruptedException {
        try {
            sum.add(inFlight.removeFirst().get());
        } catch (ExecutionException e) {
            // Hashing bytes does not fail; if it does, it is a bug to see, not a state to judge.
            throw new IllegalStateException("hashing the state failed", e.getCause());
        }
    }

    @Override
    public void close() {
        workers.shutdownNow();
        workers.close();
    }
}
