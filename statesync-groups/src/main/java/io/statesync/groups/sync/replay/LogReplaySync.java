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
 */
public record LogReplaySync(int batchSize, Duration fetchTimeout, int inFlightPerPeer) implements StateSync {
    public static final LogReplaySync DEFAULT = new LogReplaySync(2000, Duration.ofSeconds(25), 2);

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
    }

    public LogReplaySync withBatchSize(int v) {
        return new LogReplaySync(v, fetchTimeout, inFlightPerPeer);
    }

    public LogReplaySync withFetchTimeout(Duration v) {
        return new LogReplaySync(batchSize, v, inFlightPerPeer);
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
