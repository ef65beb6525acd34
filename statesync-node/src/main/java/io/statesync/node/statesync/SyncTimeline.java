package io.statesync.node.statesync;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * When a node reached each phase of its start and first sync, in seconds since its process
 * started (not since this object: JVM start and class loading are part of what a joiner waits
 * for). {@code /node/status} shows it as {@code startup}; Prometheus as
 * {@code statesync_node_startup_phase_seconds{phase}} (NaN until reached).
 *
 * <p>A phase reached more than once (every load has a first chunk and an install) keeps its
 * first time where the first is what a joiner waits for ({@link Phase#keepsFirst}), its latest
 * where the last is (every thread installed).
 */
public final class SyncTimeline {
    /** The phases, in the order a joiner passes them. */
    public enum Phase {
        /** The HTTP server answers (the API says "starting"). */
        API(true),
        /** Gossip runs and has joined its seeds. */
        GOSSIP(true),
        /** Every thread's group runs (a joiner has loaded its state before asking to be added). */
        GROUPS(true),
        /** A load has its manifest checked and requests its first chunk. */
        FIRST_CHUNK(true),
        /** A load has every chunk (the latest load to get there). */
        FETCHED(false),
        /** A load has installed its state (the latest). */
        INSTALLED(false),
        /** Every thread has this node as a voting member and follows the head. */
        CAUGHT_UP(true);

        private final boolean keepsFirst;

        Phase(boolean keepsFirst) {
            this.keepsFirst = keepsFirst;
        }

        /** Whether a second mark leaves the first time in place. */
        public boolean keepsFirst() {
            return keepsFirst;
        }

        /** Its name in status documents and metric tags: {@code first_chunk}. */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final Instant processStart;
    /** Guarded by this. */
    private final Map<Phase, Instant> reached = new EnumMap<>(Phase.class);

    /** A timeline counted from this process's start (from the JVM's own start time when the OS does not say). */
    public static SyncTimeline ofThisProcess(MeterRegistry registry) {
        Instant start = ProcessHandle.current().info().startInstant().orElseGet(
                () -> Instant.ofEpochMilli(java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime()));
        return new SyncTimeline(start, registry);
    }

    public SyncTimeline(Instant processStart, MeterRegistry registry) {
        this.processStart = processStart;
        for (Phase p : Phase.values()) {
            Gauge.builder("statesync.node.startup.phase", this, t -> t.seconds(p))
                    .description("seconds from the process start to the phase (NaN until reached; see /node/status startup)")
                    .baseUnit("seconds").tag("phase", p.label()).register(registry);
        }
    }

    /** Notes that the phase is reached now. */
    public void mark(Phase phase) {
        mark(phase, Instant.now());
    }

    synchronized void mark(Phase phase, Instant at) {
        if (!phase.keepsFirst() || !reached.containsKey(phase)) {
            reached.put(phase, at);
        }
    }

    /** Seconds from the process start to the phase, NaN if not reached. */
    public synchronized double seconds(Phase phase) {
        Instant at = reached.get(phase);
        return at == null ? Double.NaN : Duration.between(processStart, at).toNanos() / 1e9;
    }

    /** The phases reached so far, with their seconds from the process start, in phase order. */
    public synchronized Map<Phase, Double> reached() {
        Map<Phase, Double> out = new EnumMap<>(Phase.class);
        reached.keySet().forEach(p -> out.put(p, Duration.between(processStart, reached.get(p)).toNanos() / 1e9));
        return out;
    }
}
