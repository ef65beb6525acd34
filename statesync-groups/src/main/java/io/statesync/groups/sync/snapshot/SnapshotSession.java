package io.statesync.groups.sync.snapshot;

import io.statesync.core.cid.Cid;
import io.statesync.core.snapshot.Manifest;
import io.statesync.groups.log.Chain;
import io.statesync.groups.log.LogPosition;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.groups.sync.Peer;
import io.statesync.groups.sync.SessionContext;
import io.statesync.groups.sync.SyncException;
import io.statesync.groups.sync.SyncProgress;
import io.statesync.groups.sync.SyncSession;
import io.statesync.groups.sync.snapshot.SnapshotOffers.Offer;
import io.statesync.transfer.fetch.FetchException;
import io.statesync.transfer.fetch.FetchOptions;
import io.statesync.transfer.fetch.FetchResult;
import io.statesync.transfer.fetch.Source;
import io.statesync.transfer.fetch.SourceStats;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One snapshot attempt: offers, choice, leases, verified multi-source fetch, atomic install. */
final class SnapshotSession implements SyncSession {
    private static final Logger log = LoggerFactory.getLogger(SnapshotSession.class);
    private final SessionContext ctx;
    private final SnapshotSync cfg;

    SnapshotSession(SessionContext ctx, SnapshotSync cfg) {
        this.ctx = ctx;
        this.cfg = cfg;
    }

    @Override
    public LogPosition run() throws Exception {
        long need = Math.max(ctx.target().index() - 1, ctx.applied().index() + 1);
        Map<String, String> reasons = new LinkedHashMap<>();
        Map<Cid, Offer> offers = SnapshotOffers.collect(ctx, cfg.offerTimeout(), reasons);
        long ceiling = leaderApplied();
        Offer chosen = offers.values().stream()
                .filter(o -> o.record().index() >= need)
                // No member can hold a snapshot past what the leader applied: such an offer is false.
                .filter(o -> o.record().index() <= ceiling)
                // One that failed lately comes last: tried again only when nothing else will do.
                .max(Comparator.comparing((Offer o) -> !ctx.failedOffers().recent(o.record().manifest()))
                        .thenComparingLong(o -> o.record().index()).thenComparingInt(o -> o.peers().size()))
                .orElseThrow(() -> new SyncException("no peer offers a snapshot at or after index " + need
                        + " (offers: " + describe(offers) + (reasons.isEmpty() ? "" : "; " + reasons) + ")"));
        SnapshotRecord record = chosen.record();
        log.info("group {}: installing snapshot {} from {} peer(s)", ctx.groupId(), record, chosen.peers().size());

        Thread renewer = SnapshotOffers.holdLeases(ctx, chosen, cfg.leaseTtl(), cfg.offerTimeout());
        FetchResult result;
        try {
            List<Source> sources = SnapshotOffers.sources(ctx, chosen);
            Duration left = Duration.between(Instant.now(), ctx.deadline());
            if (left.isNegative() || left.isZero()) {
                throw new SyncException("no time left before the session deadline");
            }
            FetchOptions options = FetchOptions.DEFAULT.withParallelism(cfg.parallelism()).withDeadline(left);
            try {
                result = ctx.fetcher().fetch(record.manifest(), sources, options,
                        p -> ctx.progress(new SyncProgress(p.bytesDone(), p.bytesTotal(), "bytes")));
            } catch (FetchException e) {
                ctx.failedOffers().failed(record.manifest());
                throw new SyncException("fetching snapshot " + record + " failed: " + e.getMessage(), e);
            }
        } finally {
            renewer.interrupt();
            renewer.join();
            ctx.client().releaseLeases(chosen.peers(), ctx.sessionId());
        }
        for (SourceStats s : result.sources()) {
            ctx.metrics().bytes(SnapshotOffers.peerOf(chosen, s.source()), s.bytes());
        }
        try {
            checkMetadata(record, result.manifest());
        } catch (SyncException e) {
            ctx.failedOffers().failed(record.manifest());
            throw e;
        }
        ctx.install(record);
        return record.position();
    }

    /** The leader's applied index if it answers, else no ceiling. */
    private long leaderApplied() throws InterruptedException {
        for (Peer p : ctx.peers()) {
            if (p.leader()) {
                try {
                    long applied = ctx.client().getJson(p, "info", cfg.offerTimeout()).path("appliedIndex").asLong(-1);
                    return applied >= 0 ? applied : Long.MAX_VALUE;
                } catch (IOException e) {
                    return Long.MAX_VALUE;
                }
            }
        }
        return Long.MAX_VALUE;
    }

    /** The manifest names the snapshot; its metadata must say what the offer said. */
    private void checkMetadata(SnapshotRecord record, Manifest manifest) throws SyncException {
        Map<String, String> m = manifest.metadata();
        boolean ok = ctx.groupId().equals(m.get(SnapshotRecord.META_GROUP))
                && String.valueOf(record.index()).equals(m.get(SnapshotRecord.META_INDEX))
                && String.valueOf(record.position().term()).equals(m.get(SnapshotRecord.META_TERM))
                && Chain.hex(record.chain()).equals(m.get(SnapshotRecord.META_CHAIN));
        if (!ok) {
            throw new SyncException("snapshot " + record.manifest() + " says it is " + m
                    + ", not what its offer said (" + record + ")");
        }
    }

    private static String describe(Map<Cid, Offer> offers) {
        if (offers.isEmpty()) {
            return "none";
        }
        StringBuilder b = new StringBuilder();
        offers.values().forEach(o -> b.append(b.isEmpty() ? "" : ", ").append("index ").append(o.record().index())
                .append(" from ").append(o.peers().stream().map(Peer::id).toList()));
        return b.toString();
    }
}
