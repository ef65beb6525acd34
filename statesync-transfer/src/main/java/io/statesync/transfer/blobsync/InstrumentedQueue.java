package io.statesync.transfer.blobsync;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** A command queue that reports its depth and how many items were sent and received. */
final class InstrumentedQueue<T> {
    private final BlockingQueue<T> queue = new LinkedBlockingQueue<>();
    private final Counter sent;
    private final Counter received;

    InstrumentedQueue(String name, MeterRegistry registry) {
        Gauge.builder("statesync.queue.depth", queue, BlockingQueue::size).tag("queue", name)
                .description("items waiting in the queue").register(registry);
        sent = Counter.builder("statesync.queue.sent").tag("queue", name).description("items put in the queue").register(registry);
        received = Counter.builder("statesync.queue.received").tag("queue", name).description("items taken from the queue")
                .register(registry);
    }

    void put(T item) {
        queue.add(item);
        sent.increment();
    }

    /** The next item, or null if none arrived within the timeout. */
    T poll(long timeout, TimeUnit unit) throws InterruptedException {
        T item = queue.poll(timeout, unit);
        if (item != null) {
            received.increment();
        }
        return item;
    }

    int depth() {
        return queue.size();
    }
}
