package io.statesync.groups.sync.snapshot;

import io.statesync.groups.sync.ProviderContext;
import io.statesync.groups.sync.SessionContext;
import io.statesync.groups.sync.StateSync;
import io.statesync.groups.sync.SyncProvider;
import io.statesync.groups.sync.SyncSession;
import io.statesync.groups.sync.SyncSignature;
import java.time.Duration;
import java.util.Objects;

/**
 * Catch-up by installing a snapshot: members offer the content-addressed snapshots they hold
 * (taken at the same deterministic log indices on every member, so equal states share one
 * manifest CID); the session picks the newest one that covers what the leader needs, fetches its
 * manifest and chunks from every member offering it at once through the verified multi-source
 * fetcher (chunks already held locally are not fetched), and installs it atomically.
 *
 * @param offerTimeout how long a member may take to list its snapshots (part of the signature)
 * @param leaseTtl how long a provider keeps an offered snapshot for a session that stopped
 *     renewing its lease (part of the signature)
 * @param parallelism chunk requests in flight in total
 */
public record SnapshotSync(Duration offerTimeout, Duration leaseTtl, int parallelism) implements StateSync {
    public static final SnapshotSync DEFAULT = new SnapshotSync(Duration.ofSeconds(5), Duration.ofSeconds(30), 16);

    public SnapshotSync {
        Objects.requireNonNull(offerTimeout, "offerTimeout");
        Objects.requireNonNull(leaseTtl, "leaseTtl");
        if (offerTimeout.isNegative() || offerTimeout.isZero()) {
            throw new IllegalArgumentException("offerTimeout must be positive, not " + offerTimeout);
        }
        if (leaseTtl.isNegative() || leaseTtl.isZero()) {
            throw new IllegalArgumentException("leaseTtl must be positive, not " + leaseTtl);
        }
        if (parallelism < 1) {
            throw new IllegalArgumentException("parallelism must be at least 1, not " + parallelism);
        }
    }

    @Override
    public SyncSignature signature() {
        return new SyncSignature("SnapshotSync(offerTimeout=" + offerTimeout.toMillis() + "ms,leaseTtl="
                + leaseTtl.toMillis() + "ms)");
    }

    @Override
    public SyncProvider provider(ProviderContext context) {
        return new SnapshotProvider(context);
    }

    @Override
    public SyncSession session(SessionContext context) {
        return new SnapshotSession(context, this);
    }
}
