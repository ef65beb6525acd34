package io.statesync.node.producer;

import java.time.Duration;
import java.util.Objects;

/**
 * How a thread's block producer works. Build with {@link #defaults()} and the {@code with…}
 * methods.
 *
 * @param productionTimeout how often a block is formed from the pending transactions (default 200 ms)
 * @param maxTransactionsPerBlock the most transactions one block carries (default 2 000)
 * @param maxBlockBytes the most transaction bytes one block carries (default 2 MiB); a block must
 *     fit one consensus log entry
 * @param mempoolCapacity pending transactions held per thread; more are refused (default 20 000)
 * @param mempoolBytes pending transaction bytes held per thread; more are refused (default 64 MiB)
 */
public record ProducerConfig(Duration productionTimeout, int maxTransactionsPerBlock, long maxBlockBytes,
                             int mempoolCapacity, long mempoolBytes) {
    public ProducerConfig {
        Objects.requireNonNull(productionTimeout, "productionTimeout");
        if (productionTimeout.isNegative() || productionTimeout.isZero()) {
            throw new IllegalArgumentException("productionTimeout must be positive, not " + productionTimeout);
        }
        if (maxTransactionsPerBlock < 1) {
            throw new IllegalArgumentException("maxTransactionsPerBlock must be positive, not " + maxTransactionsPerBlock);
        }
        if (maxBlockBytes < 1024 || maxBlockBytes > 16L << 20) {
            throw new IllegalArgumentException("maxBlockBytes must be between 1 KiB and 16 MiB, not " + maxBlockBytes);
        }
        if (mempoolCapacity < 1) {
            throw new IllegalArgumentException("mempoolCapacity must be positive, not " + mempoolCapacity);
        }
        if (mempoolBytes < maxBlockBytes) {
            throw new IllegalArgumentException("mempoolBytes must be at least maxBlockBytes (" + maxBlockBytes
                    + "), not " + mempoolBytes);
        }
    }

    public static ProducerConfig defaults() {
        return new ProducerConfig(Duration.ofMillis(200), 2_000, 2L << 20, 20_000, 64L << 20);
    }

    public ProducerConfig withProductionTimeout(Duration v) {
        return new ProducerConfig(v, maxTransactionsPerBlock, maxBlockBytes, mempoolCapacity, mempoolBytes);
    }

    public ProducerConfig withMaxTransactionsPerBlock(int v) {
        return new ProducerConfig(productionTimeout, v, maxBlockBytes, mempoolCapacity, mempoolBytes);
    }

    public ProducerConfig withMaxBlockBytes(long v) {
        return new ProducerConfig(productionTimeout, maxTransactionsPerBlock, v, mempoolCapacity, mempoolBytes);
    }

    public ProducerConfig withMempool(int capacity, long bytes) {
        return new ProducerConfig(productionTimeout, maxTransactionsPerBlock, maxBlockBytes, capacity, bytes);
    }
}
