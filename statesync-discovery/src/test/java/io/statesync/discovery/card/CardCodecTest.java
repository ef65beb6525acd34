package io.statesync.discovery.card;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CardCodecTest {
    static final Instant NOW = Instant.parse("2026-11-22T00:00:00Z");
    final NodeIdentity alice = NodeIdentity.generate();

    static NodeCard cardOf(NodeIdentity who, long version, Instant expires, SnapshotAd... ads) {
        return new NodeCard(who.id(), who.publicKey(), List.of(URI.create("http://127.0.0.1:8081")), List.of("thread-0"),
                List.of(ads), version, expires);
    }

    static SnapshotAd ad(String seed, long height) {
        return new SnapshotAd(Cid.compute(Codec.DAG_JSON, seed.getBytes(StandardCharsets.UTF_8)),
                Map.of(SnapshotAd.GROUP, "thread-0", SnapshotAd.HEIGHT, Long.toString(height)));
    }

    private NodeCard decode(byte[] b) throws CardException {
        return CardCodec.decode(b, CardCodec.DEFAULT_MAX_BYTES, null, NOW);
    }

    @Test
    void aSignedCardRoundTrips() throws Exception {
        NodeCard card = cardOf(alice, 3, NOW.plus(Duration.ofMinutes(10)), ad("s1", 100), ad("s2", 200));

        NodeCard back = decode(CardCodec.encode(card, alice));

        assertEquals(card, back);
        assertEquals(200, back.snapshots().get(1).height());
        assertEquals("thread-0", back.snapshots().get(0).group());
    }

    @Test
    void anIdentityKeptOnDiskKeepsItsId(@TempDir Path dir) throws Exception {
        NodeIdentity first = NodeIdentity.loadOrCreate(dir.resolve("node.key"));
        NodeIdentity again = NodeIdentity.loadOrCreate(dir.resolve("node.key"));

        assertEquals(first.id(), again.id());
        byte[] card = CardCodec.encode(cardOf(again, 1, NOW.plusSeconds(60)), again);
        assertEquals(first.id(), decode(card).id());
    }
}
