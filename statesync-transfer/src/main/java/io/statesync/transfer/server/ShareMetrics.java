package io.statesync.transfer.server;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;

/**
 * Every metric of the file share, rendered by Prometheus as {@code statesync_share_*}:
 * {@code requests_total{status}}, {@code request_duration_seconds}, {@code served_bytes_total},
 * {@code connections_active}, {@code rate_limit_bytes_per_second}, {@code connections_refused_total}, {@code timeouts_total{kind}},
 * {@code tls_handshake_failures_total} (TLS shares only).
 */
final class ShareMetrics {
    private final MeterRegistry registry;
    /** Request counters by status code, created on first use. */
    private final Map<Integer, Counter> requests = new ConcurrentHashMap<>();
    private final Map<String, Counter> timeouts = new ConcurrentHashMap<>();
    private final Timer duration;
    private final Counter served;
    private final Map<ConnectionLimiter.Refused, Counter> refused = new ConcurrentHashMap<>();
    private final IntSupplier openConnections;
    /** Registered once the port is known, tagged with it, and removed at close. */
    private volatile Gauge active;
    private volatile Gauge rateLimit;
    /** Registered only for a TLS share. */
    private volatile Counter tlsFailures;

    ShareMetrics(MeterRegistry registry, IntSupplier openConnections) {
        this.registry = registry;
        this.duration = Timer.builder("statesync.share.request.duration")
                .description("Time from a decoded request head to its response completely written")
                .publishPercentileHistogram().minimumExpectedValue(java.time.Duration.ofNanos(100_000))
                .maximumExpectedValue(java.time.Duration.ofMinutes(1))
                .register(registry);
        this.served = Counter.builder("statesync.share.served")
                .baseUnit("bytes")
                .description("Blob bytes written to clients")
                .register(registry);
        this.openConnections = openConnections;
    }

    /**
     * Registers the open-connections gauge of the server bound at {@code port}. Tagged by port,
     * so several servers can report into one registry.
     */
    void bound(int port, long maxBytesPerSecond) {
        this.active = Gauge.builder("statesync.share.connections.active", openConnections, IntSupplier::getAsInt)
                .description("Open client connections")
                .tag("port", Integer.toString(port))
                .strongReference(true)
                .register(registry);
        // So that a dashboard can draw egress against the cap it is held to.
        this.rateLimit = Gauge.builder("statesync.share.rate.limit.bytes.per.second", () -> maxBytesPerSecond)
                .description("The cap on bytes per second sent over all connections (0: no cap)")
                .tag("port", Integer.toString(port))
                .strongReference(true)
                .register(registry);
    }

    /** One request answered with {@code status}, taking {@code nanos} to write. */
    void request(int status, long nanos) {
        requests.computeIfAbsent(status, s -> Counter.builder("statesync.share.requests")
                .description("Requests answered, by status code")
                .tag("status", Integer.toString(s))
                .register(registry)).increment();
        duration.record(nanos, TimeUnit.NANOSECONDS);
    }

    /**
     * Registers the TLS handshake failure counter, at zero, so a dashboard sees a TLS share's
     * failures from the start; a plain share has none.
     */
    void tls() {
        tlsFailures = Counter.builder("statesync.share.tls.handshake.failures")
                .description("TLS handshakes that failed: plain HTTP to the TLS port, a client certificate "
                        + "missing or not signed by the trusted CA, or a client that refused the server's")
                .register(registry);
    }

    /** A TLS handshake failed. */
    void tlsHandshakeFailed() {
        Counter c = tlsFailures;
        if (c != null) {
            c.increment();
        }
    }

    /** Blob bytes that reached the socket. */
    void served(long bytes) {
        served.increment(bytes);
    }

    /** A connection answered 503 at accept, for the limit {@code why}. */
    void refused(ConnectionLimiter.Refused why) {
        refused.computeIfAbsent(why, w -> Counter.builder("statesync.share.connections.refused")
                .description("Connections answered 503 at accept: the server's connection limit (limit=total) or "
                        + "the client address's (limit=address) was reached")
                .tag("limit", w.name().toLowerCase(java.util.Locale.ROOT))
                .register(registry)).increment();
    }

    /** A connection closed by the head deadline ({@code "header"}) or the idle timeout ({@code "idle"}). */
    void timedOut(String kind) {
        timeouts.computeIfAbsent(kind, k -> Counter.builder("statesync.share.timeouts")
                .description("Connections closed for stalling")
                .tag("kind", k)
                .register(registry)).increment();
    }

    void close() {
        for (Gauge g : new Gauge[] {active, rateLimit}) {
            if (g != null) {
                registry.remove(g);
            }
        }
    }
}
