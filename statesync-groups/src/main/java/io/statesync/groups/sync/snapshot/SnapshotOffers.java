package io.statesync.groups.sync.snapshot;

import com.fasterxml.jackson.databind.JsonNode;
import io.statesync.core.cid.Cid;
import io.statesync.groups.log.Chain;
import io.statesync.groups.log.LogPosition;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.groups.sync.Peer;
import io.statesync.groups.sync.SessionContext;
import io.statesync.transfer.fetch.Source;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The session side of {@link SnapshotSync}'s provider protocol, for every strategy that builds
 * on it: the snapshots peers offer ({@code GET sync/snapshots}), grouped by manifest with all
 * their offerers; leases on the chosen one; and the peers' group stores as fetch sources.
 */
public final class SnapshotOffers {
    private static final Logger log = LoggerFactory.getLogger(SnapshotOffers.class);

    /** One offered snapshot (with the machine's metadata) and every peer that offers it. */
    public record Offer(SnapshotRecord record, List<Peer> peers) {
    }

    private SnapshotOffers() {
    }

    /**
     * Asks every peer for its snapshots and returns the confirmed ones, equal manifests grouped
     * with all their offerers. A snapshot is confirmed when a second member offers it at the same
     * position, or when its offerers are a majority of the peers that answered (so a group of two
     * can catch up from its only peer). Members take the same snapshots at the same indices, so
     * an honest snapshot is offered by every member that holds it; one member alone cannot make
     * another install a state. Two confirmed snapshots at one index: the one with more offerers
     * wins, a tie drops both. A peer that does not answer, offers a manifest at another position
     * than the others, or offers only what nobody confirms, has its reason put in {@code reasons}.
     */
    public static Map<Cid, Offer> collect(SessionContext ctx, Duration timeout, Map<String, String> reasons)
            throws InterruptedException {
        // Keyed by the whole position, not the manifest alone: a peer that names an honest manifest
        // at a false position first must not push the honest offerers out.
        Map<OfferKey, Offer> offers = new LinkedHashMap<>();
        int answered = 0;
        for (Peer p : ctx.peers()) {
            try {
                JsonNode r = ctx.client().getJson(p, "sync/snapshots", timeout);
                answered++;
                for (JsonNode n : r.path("snapshots")) {
                    Map<String, String> meta = new TreeMap<>();
                    for (Iterator<Map.Entry<String, JsonNode>> it = n.path("metadata").fields(); it.hasNext(); ) {
                        Map.Entry<String, JsonNode> e = it.next();
                        meta.put(e.getKey(), e.getValue().asText());
                    }
                    SnapshotRecord rec = new SnapshotRecord(Cid.parse(n.path("manifest").asText()),
                            new LogPosition(n.path("term").asLong(), n.path("index").asLong()),
                            Chain.parse(n.path("chain").asText()), meta);
                    Offer o = offers.computeIfAbsent(new OfferKey(rec.manifest(), rec.index(), Chain.hex(rec.chain())),
                            k -> new Offer(rec, new ArrayList<>()));
                    if (!o.peers().contains(p)) {
                        o.peers().add(p);
                    }
                }
            } catch (IOException | RuntimeException e) {
                reasons.put(p.id(), String.valueOf(e.getMessage()));
            }
        }
        return confirmed(offers.values(), answered, reasons);
    }

    private record OfferKey(Cid manifest, long index, String chain) {
    }

    /** The offers {@link #collect} keeps, out of all of them; the others' reasons go to {@code reasons}. */
    static Map<Cid, Offer> confirmed(java.util.Collection<Offer> offers, int answered, Map<String, String> reasons) {
        Map<Long, List<Offer>> byIndex = new TreeMap<>();
        for (Offer o : offers) {
            int n = o.peers().size();
            if (n >= 2 || 2 * n > answered) {
                byIndex.computeIfAbsent(o.record().index(), i -> new ArrayList<>()).add(o);
            } else {
                o.peers().forEach(p -> reasons.putIfAbsent(p.id(), "offers " + o.record().manifest() + " at index "
                        + o.record().index() + ", which no other of the " + answered + " members that answered "
                        + "confirms"));
            }
        }
        Map<Cid, Offer> out = new LinkedHashMap<>();
        for (List<Offer> same : byIndex.values()) {
            same.sort(Comparator.comparingInt((Offer o) -> o.peers().size()).reversed());
            if (same.size() > 1 && same.get(0).peers().size() == same.get(1).peers().size()) {
                for (Offer o : same) {
                    o.peers().forEach(p -> reasons.putIfAbsent(p.id(), "members disagree on the snapshot at index "
                            + o.record().index()));
                }
                continue;
            }
            // One manifest at two positions: the one more members vouch for.
            out.merge(same.get(0).record().manifest(), same.get(0),
                    (a, b) -> a.peers().size() >= b.peers().size() ? a : b);
            for (Offer o : same.subList(1, same.size())) {
                o.peers().forEach(p -> reasons.putIfAbsent(p.id(), "offers " + o.record().manifest() + " at index "
                        + o.record().index() + ", where more members offer another snapshot"));
            }
        }
        return out;
    }

    /**
     * Holds a lease of {@code ttl} on the offer's snapshot at every offerer, renewed every third
     * of it, from the returned virtual thread; the caller interrupts and joins it when done (and
     * releases the leases through {@code ctx.client().releaseLeases}).
     */
    public static Thread holdLeases(SessionContext ctx, Offer offer, Duration ttl, Duration timeout) {
        return Thread.ofVirtual().name("statesync-snapshot-lease-" + ctx.sessionId()).start(() -> {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    for (Peer p : offer.peers()) {
                        try {
                            ctx.client().postJson(p, "leases?session=" + ctx.sessionId() + "&snapshot="
                                    + offer.record().manifest() + "&ttlMs=" + ttl.toMillis(), timeout);
                        } catch (IOException e) {
                            io.statesync.groups.sync.PeerClient.logLeaseFailure(log, ctx.groupId(), p, e);
                        }
                    }
                    Thread.sleep(ttl.dividedBy(3));
                }
            } catch (InterruptedException e) {
                // Done: the session ended.
            }
        });
    }

    /** The offerers' group stores, where the snapshot's manifest and chunks are served. */
    public static List<Source> sources(SessionContext ctx, Offer offer) {
        return offer.peers().stream()
                .map(p -> new Source(URI.create(p.http().toString().replaceAll("/+$", "") + "/groups/"
                        + ctx.groupId())))
                .toList();
    }

    /** The offerer a fetch source belongs to, for per-peer metrics; the source itself if none. */
    public static String peerOf(Offer offer, Source source) {
        for (Peer p : offer.peers()) {
            if (source.base().toString().startsWith(p.http().toString().replaceAll("/+$", ""))) {
                return p.id();
            }
        }
        return source.base().toString();
    }
}
