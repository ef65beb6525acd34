package io.statesync.groups.sync.snapshot;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.groups.log.LogPosition;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.groups.sync.FailedOffers;
import io.statesync.groups.sync.Peer;
import io.statesync.groups.sync.snapshot.SnapshotOffers.Offer;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Which offered snapshots a catch-up may use: confirmed by a second member or by a majority of those that answered. */
class SnapshotOffersTest {
    private static Peer peer(String id) {
        return new Peer(id, URI.create("http://" + id + ".example"), false);
    }

    private static Offer offer(String name, long index, Peer... by) {
        Cid manifest = Cid.compute(Codec.DAG_JSON, name.getBytes(UTF_8));
        return new Offer(new SnapshotRecord(manifest, new LogPosition(1, index), new byte[32], Map.of()),
                new ArrayList<>(List.of(by)));
    }

    private static List<Offer> all(Offer... offers) {
        return List.of(offers);
    }

    @Test
    void anOfferOneMemberAloneMakesIsNotUsedWhenOthersAnswered() {
        Peer a = peer("a"), b = peer("b"), c = peer("c");
        Offer lone = offer("lone", 900, a);
        Offer shared = offer("shared", 800, a, b);
        Map<String, String> reasons = new LinkedHashMap<>();

        Map<Cid, Offer> kept = SnapshotOffers.confirmed(all(lone, shared), 3, reasons);

        assertEquals(List.of(shared), List.copyOf(kept.values()), "the newer one only a has is passed over");
        assertTrue(reasons.get("a").contains("which no other of the 3 members that answered confirms"), reasons.toString());
        assertFalse(reasons.containsKey(c.id()));
    }

    @Test
    void theOnlyPeerThatAnsweredIsAMajority() {
        Peer a = peer("a");
        Offer only = offer("only", 500, a);
        assertEquals(List.of(only), List.copyOf(SnapshotOffers.confirmed(all(only), 1, new LinkedHashMap<>()).values()),
                "a group of two catches up from its one peer");
        Offer same = offer("same", 500, a);
        assertTrue(SnapshotOffers.confirmed(all(same), 2, new LinkedHashMap<>()).isEmpty(), "one of two is no majority");
    }

    @Test
    void membersThatDisagreeAtAnIndexAreSettledByCountOrNotAtAll() {
        Peer a = peer("a"), b = peer("b"), c = peer("c"), d = peer("d"), e = peer("e");
        Offer most = offer("most", 700, a, b, c);
        Offer fewer = offer("fewer", 700, d, e);
        Map<String, String> reasons = new LinkedHashMap<>();
        assertEquals(List.of(most), List.copyOf(SnapshotOffers.confirmed(all(most, fewer), 5, reasons).values()));
        assertTrue(reasons.get("d").contains("where more members offer another snapshot"), reasons.toString());

        Offer left = offer("left", 700, a, b);
        Offer right = offer("right", 700, c, d);
        Map<String, String> tie = new LinkedHashMap<>();
        assertTrue(SnapshotOffers.confirmed(all(left, right), 4, tie).isEmpty());
        assertTrue(tie.get("a").contains("members disagree on the snapshot at index 700"), tie.toString());
    }

    @Test
    void aFailedOfferIsRememberedForAWhile() {
        AtomicLong now = new AtomicLong();
        FailedOffers failed = new FailedOffers(now::get);
        Cid manifest = offer("x", 1, peer("a")).record().manifest();
        assertFalse(failed.recent(manifest));
        failed.failed(manifest);
        assertTrue(failed.recent(manifest));
        now.addAndGet(FailedOffers.REMEMBER.minus(Duration.ofSeconds(1)).toNanos());
        assertTrue(failed.recent(manifest));
        now.addAndGet(Duration.ofSeconds(1).toNanos());
        assertFalse(failed.recent(manifest), "after a while it counts as new");
    }

    @Test
    void aFalsePositionForAnHonestManifestDoesNotPushTheHonestOfferersOut() {
        Peer liar = peer("liar"), a = peer("a"), b = peer("b");
        Offer honest = offer("state", 800, a, b);
        Offer forged = new Offer(new SnapshotRecord(honest.record().manifest(), new LogPosition(1, 900), new byte[32],
                Map.of()), new ArrayList<>(List.of(liar)));
        // The liar answered first: both are kept apart, and only the honest one is confirmed
        Map<Cid, Offer> kept = SnapshotOffers.confirmed(all(forged, honest), 3, new LinkedHashMap<>());
        assertEquals(List.of(honest), List.copyOf(kept.values()));
    }
}
