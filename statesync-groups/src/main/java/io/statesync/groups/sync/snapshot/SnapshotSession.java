package io.statesync.groups.sync.snapshot;

import com.fasterxml.jackson.databind.JsonNode;
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
import io.statesync.transfer.fetch.FetchException;
import io.statesync.transfer.fetch.FetchOptions;
import io.statesync.transfer.fetch.FetchResult;
import io.statesync.transfer.fetch.Source;
import io.statesync.transfer.fetch.SourceStats;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
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

    /** One offered snapshot and who offers it. */
    private record Offer(SnapshotRecord record, List<Peer> peers) {
    }

    SnapshotSession(SessionContext ctx, SnapshotSync cfg) {
        this.ctx = ctx;
        this.cfg = cfg;
    }

    @Override
    public LogPosition run() throws Exception {
        long need = Math.max(ctx.target().index() - 1, ctx.applied().index() + 1);
        Map<String, String> reasons = new LinkedHashMap<>();
        Map<Cid, Offer> offers = collectOffers(reasons);
        long ceiling = leaderApplied();
        Offer chosen = offers.values().stream()
                .filter(o -> o.record().index() >= need)
                // No member can hold a snapshot past what the leader applied: such an offer is false.
                .filter(o -> o.record().index() <= ceiling)
                .max(Comparator.comparingLong((Offer o) -> o.record().index()).thenComparingInt(o -> o.peers().size()))
                .orElseThrow(() -> new SyncException("no peer offers a snapshot at or after index " + need
                        + " (offers: " + describe(offers) + (reasons.isEmpty() ? "" : "; " + reasons) + ")"));
        SnapshotRecord record = chosen.record();
        log.info("group {}: installing snapshot {} from {} peer(s)", ctx.groupId(), record, chosen.peers().size());

        Thread renewer = Thread.ofVirtual().name("statesync-snapshot-lease-" + ctx.sessionId())
                .start(() -> renewLeases(chosen));
        FetchResult result;
        try {
            List<Source> sources = chosen.peers().stream()
                    .map(p -> new Source(URI.create(p.http().toString().replaceAll("/+$", "") + "/groups/"
                            + ctx.groupId())))
                    .toList();
            Duration left = Duration.between(Instant.now(), ctx.deadline());
            if (left.isNegative() || left.isZero()) {
                throw new SyncException("no time left before the session deadline");
            }
            FetchOptions options = FetchOptions.DEFAULT.withParallelism(cfg.parallelism()).withDeadline(left);
            try {
                result = ctx.fetcher().fetch(record.manifest(), sources, options,
                        p -> ctx.progress(new SyncProgress(p.bytesDone(), p.bytesTotal(), "bytes")));
            } catch (FetchException e) {
                throw new SyncException("fetching snapshot " + record + " failed: " + e.getMessage(), e);
            }
        } finally {
            renewer.interrupt();
            renewer.join();
            ctx.client().releaseLeases(chosen.peers(), ctx.sessionId());
        }
        for (SourceStats s : result.sources()) {
            ctx.metrics().bytes(peerOf(chosen, s.source()), s.bytes());
        }
        checkMetadata(record, result.manifest());
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

    /** Asks every peer for its snapshots; equal manifests are grouped with all their offerers. */
    private Map<Cid, Offer> collectOffers(Map<String, String> reasons) throws InterruptedException {
        Map<Cid, Offer> offers = new LinkedHashMap<>();
        for (Peer p : ctx.peers()) {
            try {
                JsonNode r = ctx.client().getJson(p, "sync/snapshots", cfg.offerTimeout());
                for (JsonNode n : r.path("snapshots")) {
                    SnapshotRecord rec = new SnapshotRecord(Cid.parse(n.path("manifest").asText()),
                            new LogPosition(n.path("term").asLong(), n.path("index").asLong()),
                            Chain.parse(n.path("chain").asText()));
                    Offer o = offers.computeIfAbsent(rec.manifest(), c -> new Offer(rec, new ArrayList<>()));
                    if (o.record().index() == rec.index() && Arrays.equals(o.record().chain(), rec.chain())) {
                        o.peers().add(p);
                    } else {
                        reasons.put(p.id(), "offers " + rec.manifest() + " with a position others do not");
                    }
                }
            } catch (IOException | RuntimeException e) {
                reasons.put(p.id(), e.getMessage());
            }
        }
        return offers;
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

    private void renewLeases(Offer offer) {
        Duration every = cfg.leaseTtl().dividedBy(3);
        try {
            while (!Thread.currentThread().isInterrupted()) {
                for (Peer p : offer.peers()) {
                    try {
                        ctx.client().postJson(p, "leases?session=" + ctx.sessionId() + "&snapshot="
                                + offer.record().manifest() + "&ttlMs=" + cfg.leaseTtl().toMillis(), cfg.offerTimeout());
                    } catch (IOException e) {
                        log.debug("group {}: lease on {} failed: {}", ctx.groupId(), p.id(), e.getMessage());
                    }
                }
                Thread.sleep(every);
            }
        } catch (InterruptedException e) {
            // Done: the session ended.
        }
    }

    private String peerOf(Offer offer, Source source) {
        for (Peer p : offer.peers()) {
            if (source.base().toString().startsWith(p.http().toString().replaceAll("/+$", ""))) {
                return p.id();
            }
        }
        return source.toString();
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
