package io.statesync.groups.sync.replay;

import io.statesync.groups.sync.ProviderContext;
import io.statesync.groups.sync.SessionContext;
import io.statesync.groups.sync.StateSync;
import io.statesync.groups.sync.SyncProvider;
import io.statesync.groups.sync.SyncSession;
import io.statesync.groups.sync.SyncSignature;
import java.time.Duration;
import java.util.Objects;

/**
 * Catch-up by replaying the missing committed entries, fetched from the peers that still hold
 * them: the range is cut into batches spread over peers (the leader last, a bounded number of
 * requests in flight per peer), and every batch is checked (the range asked for, contiguous,
 * terms non-decreasing, the hash chain matching what another peer vouches for) before one entry
 * of it is applied. Works with any state machine; costs one pass over the missing entries.
 *
 * @param batchSize entries per request (part of the signature)
 * @param fetchTimeout how long one request may take (part of the signature)
 * @param inFlightPerPeer requests in flight to one peer at a time
 * @param leaseTtl the term of the leases a session holds on its providers' logs; renewed every
 *                 third of it on a clock of its own (not part of the signature: members may differ)
 */
public record LogReplaySync(int batchSize, Duration fetchTimeout, int inFlightPerPeer, Duration leaseTtl)
        implements StateSync {
    /** A provider keeps what a session needs this long past its last renewal. */
    public static final Duration DEFAULT_LEASE_TTL = Duration.ofSeconds(30);
    public static final LogReplaySync DEFAULT = new LogReplaySync(2000, Duration.ofSeconds(25), 2);

    public LogReplaySync(int batchSize, Duration fetchTimeout, int inFlightPerPeer) {
        this(batchSize, fetchTimeout, inFlightPerPeer, DEFAULT_LEASE_TTL);
    }

    public LogReplaySync {
        if (batchSize < 1 || batchSize > 100_000) {
            throw new IllegalArgumentException("batchSize must be in [1, 100000], not " + batchSize);
        }
        Objects.requireNonNull(fetchTimeout, "fetchTimeout");
        if (fetchTimeout.isNegative() || fetchTimeout.isZero()) {
            throw new IllegalArgumentException("fetchTimeout must be positive, not " + fetchTimeout);
        }
        if (inFlightPerPeer < 1) {
            throw new IllegalArgumentException("inFlightPerPeer must be at least 1, not " + inFlightPerPeer);
        }
        Objects.requireNonNull(leaseTtl, "leaseTtl");
        if (leaseTtl.toMillis() < 300) {
            throw new IllegalArgumentException("leaseTtl must be at least 300ms, not " + leaseTtl);
        }
    }

    public LogReplaySync withBatchSize(int v) {
        return new LogReplaySync(v, fetchTimeout, inFlightPerPeer, leaseTtl);
    }

    public LogReplaySync withFetchTimeout(Duration v) {
        return new LogReplaySync(batchSize, v, inFlightPerPeer, leaseTtl);
    }

    public LogReplaySync withLeaseTtl(Duration v) {
        return new LogReplaySync(batchSize, fetchTimeout, inFlightPerPeer, v);
    }

    @Override
    public SyncSignature signature() {
        return new SyncSignature("LogReplaySync(batch=" + batchSize + ",fetchTimeout=" + fetchTimeout.toMillis() + "ms)");
    }

    @Override
    public SyncProvider provider(ProviderContext context) {
        return new LogReplayProvider(context, batchSize);
    }

    @Override
    public SyncSession session(SessionContext context) {
        return new LogReplaySession(context, this);
    }
}
