package io.statesync.groups.sync;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Every catch-up meter of one group on one member: sessions by outcome, their duration, bytes and
 * entries fetched per source, and the current lag behind the group.
 */
public final class SyncMetrics implements AutoCloseable {
    private final MeterRegistry registry;
    private final String group;
    private final String strategy;
    private final Counter started;
    private final Counter completed;
    private final Counter failed;
    private final Timer duration;
    private final List<Meter> meters = new ArrayList<>();

    public SyncMetrics(MeterRegistry registry, String group, String strategy, Supplier<Number> lag) {
        this.registry = registry;
        this.group = group;
        this.strategy = strategy;
        started = keep(Counter.builder("statesync.groups.sync.sessions").tag("group", group)
                .tag("strategy", strategy).tag("outcome", "started")
                .description("catch-up sessions by strategy and outcome").register(registry));
        completed = keep(Counter.builder("statesync.groups.sync.sessions").tag("group", group)
                .tag("strategy", strategy).tag("outcome", "completed")
                .description("catch-up sessions by strategy and outcome").register(registry));
        failed = keep(Counter.builder("statesync.groups.sync.sessions").tag("group", group)
                .tag("strategy", strategy).tag("outcome", "failed")
                .description("catch-up sessions by strategy and outcome").register(registry));
        duration = keep(Timer.builder("statesync.groups.sync.duration").tag("group", group)
                .tag("strategy", strategy).description("catch-up sessions, start to end")
                .publishPercentileHistogram().minimumExpectedValue(java.time.Duration.ofMillis(1))
                .maximumExpectedValue(java.time.Duration.ofHours(1)).register(registry));
        keep(Gauge.builder("statesync.groups.sync.lag", lag).tag("group", group)
                .description("log entries this member is behind the group").register(registry));
    }

    private <M extends Meter> M keep(M meter) {
        meters.add(meter);
        return meter;
    }

    public void started() {
        started.increment();
    }

    public void completed(Duration took) {
        completed.increment();
        duration.record(took);
    }

    public void failed(Duration took) {
        failed.increment();
        duration.record(took);
    }

    public double count(String outcome) {
        return switch (outcome) {
            case "started" -> started.count();
            case "completed" -> completed.count();
            case "failed" -> failed.count();
            default -> throw new IllegalArgumentException(outcome);
        };
    }

    /** Bytes fetched from a source (a peer id or URL). */
    public void bytes(String source, long n) {
        Counter c = Counter.builder("statesync.groups.sync.bytes").tag("group", group).tag("source", source)
                .description("bytes catch-ups fetched, by source").register(registry);
        synchronized (meters) {
            if (!meters.contains(c)) {
                meters.add(c);
            }
        }
        c.increment(n);
    }

    /** Log entries fetched from a source. */
    public void entries(String source, long n) {
        Counter c = Counter.builder("statesync.groups.sync.entries").tag("group", group).tag("source", source)
                .description("log entries catch-ups fetched, by source").register(registry);
        synchronized (meters) {
            if (!meters.contains(c)) {
                meters.add(c);
            }
        }
        c.increment(n);
    }

    public String strategy() {
        return strategy;
    }

    @Override
    public void close() {
        synchronized (meters) {
            meters.forEach(registry::remove);
            meters.clear();
        }
    }
}
