package io.statesync.core.cid;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CidTest {
    /** Published IPFS CIDv1 raw vectors (also re-derived by hand: 01 55 12 20 + sha256). */
    private static final String EMPTY_RAW = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
    private static final String HELLO_WORLD_RAW = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e";
    private static final String EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    private static final byte[] HELLO = "hello world".getBytes(StandardCharsets.US_ASCII);

    // --- IPFS compatibility: the design promises our chunk CIDs equal IPFS raw-block CIDs.

    @Test
    void theEmptyByteStringHasTheIpfsRawCid() {
        Cid cid = Cid.compute(Codec.RAW, new byte[0]);

        assertEquals(EMPTY_RAW, cid.toString());
        assertArrayEquals(HexFormat.of().parseHex(EMPTY_SHA256), cid.digest());
    }

    @Test
    void helloWorldWithoutNewlineHasTheIpfsRawCid() {
        assertEquals(HELLO_WORLD_RAW, Cid.compute(Codec.RAW, HELLO).toString());
    }

    @Test
    void theBinaryFormIsVersionCodecMultihashDigest() {
        byte[] bytes = Cid.compute(Codec.RAW, new byte[0]).toBytes();

        assertEquals("01" + "55" + "12" + "20" + EMPTY_SHA256, HexFormat.of().formatHex(bytes));
    }

    @Test
    void dagJsonCodecIsATwoByteVarint() {
        // 0x0129 = 297 -> LEB128 a9 02; the CID grows by one byte and keeps parsing back.
        byte[] bytes = Cid.compute(Codec.DAG_JSON, new byte[0]).toBytes();

        assertEquals("01" + "a902" + "12" + "20" + EMPTY_SHA256, HexFormat.of().formatHex(bytes));
    }

    // --- Round trips.

    @ParameterizedTest
    @ValueSource(strings = {EMPTY_RAW, HELLO_WORLD_RAW})
    void publishedVectorsParseAndFormatBackUnchanged(String text) {
        Cid cid = Cid.parse(text);

        assertEquals(Codec.RAW, cid.codec());
        assertEquals(text, cid.toString());
    }

    @Test
    void dagJsonCidsRoundTripThroughTextAndBytes() {
        Cid cid = Cid.compute(Codec.DAG_JSON, "{}".getBytes(StandardCharsets.UTF_8));

        Cid fromText = Cid.parse(cid.toString());
        Cid fromBytes = Cid.fromBytes(cid.toBytes());

        assertEquals(cid, fromText);
        assertEquals(cid, fromBytes);
        assertEquals(Codec.DAG_JSON, fromText.codec());
        assertTrue(cid.toString().startsWith("baguqeera"), "dag-json sha2-256 CIDs start with baguqeera");
    }

    @Test
    void manyRandomDigestsRoundTripInBothCodecs() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int i = 0; i < 200; i++) {
            byte[] digest = new byte[Cid.DIGEST_LENGTH];
            rnd.nextBytes(digest);
            for (Codec codec : Codec.values()) {
                Cid cid = Cid.of(codec, digest);
                assertEquals(cid, Cid.parse(cid.toString()));
                assertEquals(cid, Cid.fromBytes(cid.toBytes()));
                assertArrayEquals(digest, cid.digest());
            }
        }
    }

    @Test
    void ofCopiesTheDigestSoCallersCannotChangeTheCid() {
        byte[] digest = Cid.compute(Codec.RAW, HELLO).digest();
        Cid cid = Cid.of(Codec.RAW, digest);

        digest[0] ^= 1;
        cid.digest()[1] ^= 1;

        assertEquals(HELLO_WORLD_RAW, cid.toString());
    }

    @Test
    void matchesComparesTheDigestOnly() {
        Cid cid = Cid.compute(Codec.RAW, HELLO);
        byte[] other = Cid.compute(Codec.RAW, new byte[0]).digest();

        assertTrue(cid.matches(Cid.newDigest().digest(HELLO)));
        assertFalse(cid.matches(other));
        assertFalse(cid.matches(new byte[5]));
    }

    @Test
    void ofRejectsADigestOfTheWrongLength() {
        var e = assertThrows(CidFormatException.class, () -> Cid.of(Codec.RAW, new byte[31]));
        assertEquals("sha2-256 digest must be 32 bytes, got 31", e.getMessage());
    }

    // --- Value semantics: CIDs are map keys and sort keys in the store and the fetcher.

    @Test
    void equalCidsAreEqualAndHashAlike() {
        Cid a = Cid.compute(Codec.RAW, HELLO);
        Cid b = Cid.parse(HELLO_WORLD_RAW);

        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
        assertEquals(0, a.compareTo(b));
    }

    @Test
    void theSameDigestUnderAnotherCodecIsAnotherCid() {
        Cid raw = Cid.compute(Codec.RAW, HELLO);
        Cid json = Cid.compute(Codec.DAG_JSON, HELLO);

        assertNotEquals(raw, json);
        assertNotEquals(0, raw.compareTo(json));
        assertEquals(-Integer.signum(raw.compareTo(json)), Integer.signum(json.compareTo(raw)));
    }

    @Test
    void orderingIsTheOrderOfTheTextForm() {
        List<Cid> cids = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            cids.add(Cid.compute(i % 2 == 0 ? Codec.RAW : Codec.DAG_JSON, new byte[] {(byte) i}));
        }
        TreeSet<String> texts = new TreeSet<>();
        cids.forEach(c -> texts.add(c.toString()));

        List<String> sorted = cids.stream().sorted().map(Cid::toString).toList();

        assertEquals(List.copyOf(texts), sorted);
    }

    @Test
    void aCidIsNotEqualToItsText() {
        Cid cid = Cid.compute(Codec.RAW, HELLO);
        assertNotEquals(cid, (Object) cid.toString());
        assertNotEquals(cid, null);
    }
}
