package io.statesync.transfer.fetch;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.concurrent.atomic.AtomicInteger;

/** Every meter the fetcher reports, in one place. Names render in Prometheus as statesync_fetch_*. */
final class FetchMetrics {
    /**
     * The running-fetch count of each registry, shared by every fetcher that reports there (a node
     * has one fetcher per group): a gauge is registered once per name, so a second one would be
     * ignored and the gauge would count only the first fetcher's work.
     */
    private static final java.util.Map<MeterRegistry, AtomicInteger> ACTIVE = new java.util.WeakHashMap<>();

    private final MeterRegistry registry;
    private final AtomicInteger active;

    FetchMetrics(MeterRegistry registry) {
        this.registry = registry;
        synchronized (ACTIVE) {
            this.active = ACTIVE.computeIfAbsent(registry, r -> {
                AtomicInteger running = new AtomicInteger();
                io.micrometer.core.instrument.Gauge.builder("statesync.fetch.active", running, AtomicInteger::get)
                        .description("snapshot fetches running now").register(r);
                return running;
            });
        }
    }

    /** A chunk request ended; outcome is ok, corrupt, failed or superseded. */
    void chunk(Source source, String outcome, long bytes) {
        Counter.builder("statesync.fetch.chunks").description("chunk requests by source and outcome")
                .tag("source", source.label()).tag("outcome", outcome).register(registry).increment();
        if (bytes > 0) {
            Counter.builder("statesync.fetch.bytes").description("verified bytes fetched, by source")
                    .baseUnit("bytes").tag("source", source.label()).register(registry).increment(bytes);
        }
    }

    /** A chunk arrived verified from {@code source}, {@code nanos} after it was asked for. */
    void chunkLatency(Source source, long nanos) {
        Timer.builder("statesync.fetch.chunk.duration").description("time from asking a source for a chunk to holding "
                        + "it verified, by source (a batched request's time is split over its chunks)")
                .publishPercentileHistogram().minimumExpectedValue(java.time.Duration.ofMillis(1))
                .maximumExpectedValue(java.time.Duration.ofMinutes(1))
                .tag("source", source.label()).register(registry).record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    /**
     * A source was banned for the rest of a fetch: it served bytes that do not match their
     * address, past the threshold of corrupt chunks ({@code corrupt_chunks}) or as a manifest block ({@code corrupt_manifest}).
     */
    void banned(Source source, String reason) {
        Counter.builder("statesync.fetch.source.bans").description("sources banned from a fetch for serving bytes "
                        + "that do not match their content address, by source and what they served")
                .tag("source", source.label()).tag("reason", reason).register(registry).increment();
    }

    void started() {
        active.incrementAndGet();
    }

    /** A fetch ended; result is ok or the failure reason. */
    void finished(String result, long nanos) {
        active.decrementAndGet();
        Timer.builder("statesync.fetch.duration").description("whole snapshot fetches")
                .publishPercentileHistogram().minimumExpectedValue(java.time.Duration.ofMillis(1))
                .maximumExpectedValue(java.time.Duration.ofHours(1))
                .tag("result", result).register(registry).record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }
}
