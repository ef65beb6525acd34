package io.statesync.groups.sync;

import io.statesync.core.cid.Cid;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * What running sessions of other members need this member to keep: log entries from an index on,
 * or a snapshot. A lease expires unless renewed, so a session that died cannot pin data for
 * longer than one lease term; the term is capped at {@link #MAX_TTL}.
 */
public final class Leases {
    public static final Duration MAX_TTL = Duration.ofMinutes(5);

    /** One session's hold: log entries from {@code fromIndex} on (or -1), and/or a snapshot (or null). */
    public record Lease(String session, long fromIndex, Cid snapshot, long expiresAtNanos) {
    }

    private final Map<String, Lease> bySession = new ConcurrentHashMap<>();
    private final LongSupplier nanoClock;

    public Leases(LongSupplier nanoClock) {
        this.nanoClock = nanoClock;
    }

    public Leases() {
        this(System::nanoTime);
    }

    /** Grants or renews a session's lease; returns the term actually granted. */
    public Duration grant(String session, long fromIndex, Cid snapshot, Duration ttl) {
        Objects.requireNonNull(session, "session");
        Objects.requireNonNull(ttl, "ttl");
        if (ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("a lease term must be positive, not " + ttl);
        }
        Duration term = ttl.compareTo(MAX_TTL) > 0 ? MAX_TTL : ttl;
        bySession.put(session, new Lease(session, fromIndex, snapshot, nanoClock.getAsLong() + term.toNanos()));
        return term;
    }

    public void release(String session) {
        bySession.remove(session);
    }

    /** The lowest log index a live lease needs, or {@code Long.MAX_VALUE}. */
    public long logFloor() {
        long now = nanoClock.getAsLong();
        long floor = Long.MAX_VALUE;
        for (Lease l : bySession.values()) {
            if (now - l.expiresAtNanos() >= 0) {
                bySession.remove(l.session(), l);
            } else if (l.fromIndex() >= 0) {
                floor = Math.min(floor, l.fromIndex());
            }
        }
        return floor;
    }

    /** Whether a live lease holds this snapshot. */
    public boolean pins(Cid snapshot) {
        long now = nanoClock.getAsLong();
        for (Lease l : bySession.values()) {
            if (now - l.expiresAtNanos() >= 0) {
                bySession.remove(l.session(), l);
            } else if (snapshot.equals(l.snapshot())) {
                return true;
            }
        }
        return false;
    }

    /** Live leases now. */
    public int size() {
        logFloor();
        return bySession.size();
    }
}
