package io.statesync.discovery.card;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/** Cards and snapshot ads for tests: one share URL, thread {@code thread-0}, a fixed clock. */
public final class TestCards {
    /** The clock the cards' expiries are checked against. */
    public static final Instant NOW = Instant.parse("2026-11-22T00:00:00Z");

    private TestCards() {
    }

    /** A card of {@code who} at {@code version}, expiring at {@code expires}, advertising {@code ads}. */
    public static NodeCard cardOf(NodeIdentity who, long version, Instant expires, SnapshotAd... ads) {
        return new NodeCard(who.id(), who.publicKey(), List.of(URI.create("http://127.0.0.1:8081")), List.of("thread-0"),
                List.of(ads), version, expires);
    }

    /** An ad of thread-0 at {@code height} for a root made from {@code seed}. */
    public static SnapshotAd ad(String seed, long height) {
        return new SnapshotAd(Cid.compute(Codec.DAG_JSON, seed.getBytes(StandardCharsets.UTF_8)),
                Map.of(SnapshotAd.GROUP, "thread-0", SnapshotAd.HEIGHT, Long.toString(height)));
    }
}
