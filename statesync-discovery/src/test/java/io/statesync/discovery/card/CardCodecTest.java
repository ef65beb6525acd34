package io.statesync.discovery.card;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CardCodecTest {
    static final Instant NOW = Instant.parse("2026-11-22T00:00:00Z");
    final NodeIdentity alice = NodeIdentity.generate();
    final NodeIdentity mallory = NodeIdentity.generate();

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
    void aForgedSignatureIsRejected() {
        byte[] bytes = CardCodec.encode(cardOf(alice, 1, NOW.plusSeconds(60)), alice);
        bytes[bytes.length - 1] ^= 1;

        CardException e = assertThrows(CardException.class, () -> decode(bytes));
        assertEquals(CardException.Reason.BAD_SIGNATURE, e.reason());
    }

    @Test
    void aCardWhoseContentWasChangedAfterSigningIsRejected() {
        byte[] bytes = CardCodec.encode(cardOf(alice, 1, NOW.plusSeconds(60)), alice);
        String text = new String(bytes, StandardCharsets.ISO_8859_1).replace("8081", "6666");

        CardException e = assertThrows(CardException.class, () -> decode(text.getBytes(StandardCharsets.ISO_8859_1)));
        assertEquals(CardException.Reason.BAD_SIGNATURE, e.reason());
    }

    @Test
    void aCardClaimingAnotherNodesIdIsRejected() {
        // Mallory signs, with her own key, a card that claims Alice's id.
        NodeCard claim = new NodeCard(alice.id(), mallory.publicKey(), List.of(), List.of(), List.of(), 1, NOW.plusSeconds(60));
        assertThrows(IllegalArgumentException.class, () -> CardCodec.encode(claim, mallory));
    }

    @Test
    void anExpiredCardIsRejected() {
        byte[] bytes = CardCodec.encode(cardOf(alice, 1, NOW.minusSeconds(1)), alice);

        CardException e = assertThrows(CardException.class, () -> decode(bytes));
        assertEquals(CardException.Reason.EXPIRED, e.reason());
    }

    @Test
    void aCardValidForMoreThanADayIsRejected() throws Exception {
        byte[] forever = CardCodec.encode(cardOf(alice, 1, Instant.parse("2999-01-01T00:00:00Z")), alice);

        CardException e = assertThrows(CardException.class, () -> decode(forever));
        assertEquals(CardException.Reason.EXPIRY_TOO_FAR, e.reason());
        assertTrue(e.getMessage().contains("more than 24 h ahead"), e.getMessage());
        assertEquals(NOW.plus(CardCodec.MAX_LIFETIME), decode(CardCodec.encode(
                cardOf(alice, 1, NOW.plus(CardCodec.MAX_LIFETIME)), alice)).expires(), "a day is allowed");
    }

    @Test
    void aSnapshotAtANegativeOrNonNumericHeightIsRejected() {
        for (String height : List.of("-5", "ten", "1e9", "99999999999999999999")) {
            SnapshotAd bad = new SnapshotAd(Cid.compute(Codec.DAG_JSON, height.getBytes(StandardCharsets.UTF_8)),
                    Map.of(SnapshotAd.GROUP, "thread-0", SnapshotAd.HEIGHT, height));
            byte[] bytes = CardCodec.encode(cardOf(alice, 1, NOW.plusSeconds(60), ad("ok", 7), bad), alice);

            CardException e = assertThrows(CardException.class, () -> decode(bytes), height);
            assertEquals(CardException.Reason.MALFORMED, e.reason(), height);
            assertTrue(e.getMessage().contains("not a whole number of at least 0"), e.getMessage());
        }
    }

    @Test
    void anOversizeCardIsRejectedBeforeParsing() {
        byte[] bytes = CardCodec.encode(cardOf(alice, 1, NOW.plusSeconds(60)), alice);

        CardException e = assertThrows(CardException.class, () -> CardCodec.decode(bytes, bytes.length - 1, null, NOW));
        assertEquals(CardException.Reason.OVERSIZE, e.reason());
    }

    @Test
    void onlyAcceptedKeysPassWhenASetIsConfigured() throws Exception {
        byte[] fromAlice = CardCodec.encode(cardOf(alice, 1, NOW.plusSeconds(60)), alice);
        byte[] fromMallory = CardCodec.encode(cardOf(mallory, 1, NOW.plusSeconds(60)), mallory);

        assertEquals(alice.id(), CardCodec.decode(fromAlice, CardCodec.DEFAULT_MAX_BYTES, Set.of(alice.id()), NOW).id());
        CardException e = assertThrows(CardException.class,
                () -> CardCodec.decode(fromMallory, CardCodec.DEFAULT_MAX_BYTES, Set.of(alice.id()), NOW));
        assertEquals(CardException.Reason.UNTRUSTED_KEY, e.reason());
    }

    @Test
    void garbageIsRejectedAsMalformedAndNeverThrowsAnythingElse() {
        SplittableRandom rnd = new SplittableRandom(9);
        byte[] valid = CardCodec.encode(cardOf(alice, 1, NOW.plusSeconds(60), ad("x", 1)), alice);
        for (int i = 0; i < 2000; i++) {
            byte[] b;
            if (i % 2 == 0) {
                b = new byte[rnd.nextInt(0, 300)];
                rnd.nextBytes(b);
                if (i % 4 == 0 && b.length >= 8) {
                    System.arraycopy("SSC1".getBytes(StandardCharsets.US_ASCII), 0, b, 0, 4);
                }
            } else {
                b = valid.clone();
                for (int k = 0; k < 3; k++) {
                    b[rnd.nextInt(b.length)] ^= (byte) (1 + rnd.nextInt(255));
                }
            }
            byte[] input = b;
            try {
                decode(input);
            } catch (CardException expected) {
                // Any reason is fine; anything other than a CardException is a bug.
            }
        }
    }

    @Test
    void malformedCardsSayWhatIsWrong() {
        assertTrue(assertThrows(CardException.class, () -> decode("hello".getBytes())).getMessage().contains("not a Statesync card"));
        byte[] bytes = CardCodec.encode(cardOf(alice, 1, NOW.plusSeconds(60)), alice);
        bytes[7]++; // length field off by one
        assertTrue(assertThrows(CardException.class, () -> decode(bytes)).getMessage().contains("length"));
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
