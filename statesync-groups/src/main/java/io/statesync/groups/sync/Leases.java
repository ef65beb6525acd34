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
 *
 * <p>Every lease has an owner, the member that asked for it (proved by its signature, see
 * {@link RequestSigning}), and only the owner renews or releases it. The owner and the whole set
 * are bounded ({@link #MAX_PER_OWNER}, {@link #MAX_TOTAL}): however many sessions a member
 * claims, it cannot pin more than a few snapshots, nor this member's memory.
 */
public final class Leases {
    public static final Duration MAX_TTL = Duration.ofMinutes(5);
    /** Live leases one member may hold here: a few sessions at once (a catch-up, a load, a retry). */
    public static final int MAX_PER_OWNER = 8;
    /** Live leases all members together may hold here. */
    public static final int MAX_TOTAL = 128;

    /** One session's hold: log entries from {@code fromIndex} on (or -1), and/or a snapshot (or null). */
    public record Lease(String owner, String session, long fromIndex, Cid snapshot, long expiresAtNanos) {
    }

    /** A new lease beyond a bound; the message says which, on one line. */
    public static final class LimitException extends Exception {
        LimitException(String message) {
            super(message, null, false, false);
        }
    }

    private record Key(String owner, String session) {
    }

    private final Map<Key, Lease> byKey = new ConcurrentHashMap<>();
    private final LongSupplier nanoClock;

    public Leases(LongSupplier nanoClock) {
        this.nanoClock = nanoClock;
    }

    public Leases() {
        this(System::nanoTime);
    }

    /**
     * Grants or renews the lease {@code owner} holds for {@code session}; returns the term actually
     * granted. A renewal always succeeds; a new lease beyond a bound does not.
     *
     * @throws LimitException if the owner, or all owners together, hold the most leases allowed
     */
    public synchronized Duration grant(String owner, String session, long fromIndex, Cid snapshot, Duration ttl)
            throws LimitException {
        Objects.requireNonNull(owner, "owner");
        Objects.requireNonNull(session, "session");
        Objects.requireNonNull(ttl, "ttl");
        if (ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("a lease term must be positive, not " + ttl);
        }
        Key key = new Key(owner, session);
        if (!byKey.containsKey(key)) {
            dropExpired();
            long mine = byKey.keySet().stream().filter(k -> k.owner().equals(owner)).count();
            if (mine >= MAX_PER_OWNER) {
                throw new LimitException("member " + owner + " holds " + mine + " leases here already (at most "
                        + MAX_PER_OWNER + "); renew or release one");
            }
            if (byKey.size() >= MAX_TOTAL) {
                throw new LimitException("this member holds " + byKey.size() + " leases already (at most " + MAX_TOTAL
                        + "); try again later");
            }
        }
        Duration term = ttl.compareTo(MAX_TTL) > 0 ? MAX_TTL : ttl;
        byKey.put(key, new Lease(owner, session, fromIndex, snapshot, nanoClock.getAsLong() + term.toNanos()));
        return term;
    }

    /** Releases the lease {@code owner} holds for {@code session}; returns whether there was one. */
    public boolean release(String owner, String session) {
        return byKey.remove(new Key(owner, session)) != null;
    }

    private void dropExpired() {
        long now = nanoClock.getAsLong();
        byKey.values().removeIf(l -> now - l.expiresAtNanos() >= 0);
    }

    /** The lowest log index a live lease needs, or {@code Long.MAX_VALUE}. */
    public long logFloor() {
        long now = nanoClock.getAsLong();
        long floor = Long.MAX_VALUE;
        for (Lease l : byKey.values()) {
            if (now - l.expiresAtNanos() >= 0) {
                byKey.remove(new Key(l.owner(), l.session()), l);
            } else if (l.fromIndex() >= 0) {
                floor = Math.min(floor, l.fromIndex());
            }
        }
        return floor;
    }

    /** Whether a live lease holds this snapshot. */
    public boolean pins(Cid snapshot) {
        long now = nanoClock.getAsLong();
        for (Lease l : byKey.values()) {
            if (now - l.expiresAtNanos() >= 0) {
                byKey.remove(new Key(l.owner(), l.session()), l);
            } else if (snapshot.equals(l.snapshot())) {
                return true;
            }
        }
        return false;
    }

    /** Live leases now. */
    public int size() {
        dropExpired();
        return byKey.size();
    }
}
