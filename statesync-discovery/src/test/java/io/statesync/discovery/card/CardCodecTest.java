package io.statesync.discovery.card;

import static io.statesync.discovery.card.TestCards.NOW;
import static io.statesync.discovery.card.TestCards.ad;
import static io.statesync.discovery.card.TestCards.cardOf;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CardCodecTest {
    final NodeIdentity alice = NodeIdentity.generate();

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
