package io.statesync.node.statesync;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * Every meter of the state loader. In Prometheus: {@code statesync_node_state_load_attempts_total},
 * {@code statesync_node_state_loads_total{outcome}}, {@code statesync_node_state_load_seconds},
 * {@code statesync_node_state_load_fetched_bytes_total}, {@code statesync_node_state_load_pending}.
 */
final class LoaderMetrics {
    private final MeterRegistry registry;
    private final Counter attempts;
    private final Counter bytes;
    private final Timer duration;

    private final String loader;

    LoaderMetrics(MeterRegistry registry, Supplier<Number> pending, String loader) {
        this.registry = registry;
        this.loader = loader;
        this.attempts = Counter.builder("statesync.node.state.load.attempts")
                .description("load tasks claimed and started (the seed's node_state_req_exec)").tag("loader", loader)
                .register(registry);
        this.bytes = Counter.builder("statesync.node.state.load.fetched").baseUnit("bytes")
                .description("snapshot bytes downloaded by state loads").tag("loader", loader).register(registry);
        this.duration = Timer.builder("statesync.node.state.load")
                .description("state loads from claim to result").tag("loader", loader)
                .publishPercentileHistogram().minimumExpectedValue(java.time.Duration.ofMillis(10))
                .maximumExpectedValue(java.time.Duration.ofHours(1)).register(registry);
        io.micrometer.core.instrument.Gauge.builder("statesync.node.state.load.pending", pending)
                .description("load tasks queued").tag("loader", loader).register(registry);
    }

    void attempt() {
        attempts.increment();
    }

    void fetched(long n) {
        if (n > 0) {
            bytes.increment(n);
        }
    }

    /** A load ended; outcome is loaded, skipped, failed or cancelled. */
    void finished(String outcome, Duration elapsed) {
        Counter.builder("statesync.node.state.loads").description("state loads by outcome")
                .tag("outcome", outcome).tag("loader", loader).register(registry).increment();
        duration.record(elapsed);
    }
}
