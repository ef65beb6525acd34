package io.statesync.core.cid;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
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

    // --- Rejections: each names what is wrong, because these strings come from peers and users.

    @Test
    void anEmptyStringIsRejected() {
        assertRejected("", "empty CID");
    }

    @Test
    void aNullStringIsRejectedAsEmpty() {
        assertRejected(null, "empty CID");
    }

    @Test
    void cidV0IsRejectedWithAHintToUseV1() {
        assertRejected("QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB", "CIDv0 is not supported");
    }

    @Test
    void base58btcMultibaseIsRejected() {
        assertRejected("zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA",
                "unsupported multibase prefix 'z': only base32 lower case ('b') is accepted");
    }

    @Test
    void upperCaseBase32MultibaseIsRejected() {
        assertRejected(EMPTY_RAW.toUpperCase(), "unsupported multibase prefix 'B'");
    }

    @Test
    void aNonPrintablePrefixIsShownEscaped() {
        assertRejected("\u0001afkrei", "unsupported multibase prefix '\\u0001'");
    }

    @Test
    void upperCaseLettersAfterThePrefixAreRejected() {
        String mixed = "b" + EMPTY_RAW.substring(1, 10).toUpperCase() + EMPTY_RAW.substring(10);
        assertRejected(mixed, "invalid base32 character 'A' at position 1");
    }

    @ParameterizedTest
    @ValueSource(strings = {"1", "8", "=", "-", " "})
    void charactersOutsideTheBase32AlphabetAreRejectedWithTheirPosition(String bad) {
        String text = EMPTY_RAW.substring(0, 20) + bad + EMPTY_RAW.substring(21);
        assertRejected(text, "invalid base32 character '" + bad + "' at position 20");
    }

    @Test
    void nonAsciiCharactersAreShownEscaped() {
        String text = EMPTY_RAW.substring(0, 20) + "\u00e9" + EMPTY_RAW.substring(21);
        assertRejected(text, "invalid base32 character '\\u00e9' at position 20");
    }

    @Test
    void aTruncatedDigestIsRejected() {
        // Two characters less is exactly 35 bytes: the digest lacks its last byte.
        assertRejected(EMPTY_RAW.substring(0, EMPTY_RAW.length() - 2), "truncated CID: digest has 31 of 32 bytes");
    }

    @Test
    void aLengthThatIsNoWholeNumberOfBytesIsRejected() {
        assertRejected(EMPTY_RAW.substring(0, EMPTY_RAW.length() - 1), "non-canonical base32");
    }

    @Test
    void onlyThePrefixIsRejectedAsTruncated() {
        assertRejected("b", "truncated CID");
    }

    @Test
    void trailingBytesAreRejected() {
        byte[] bytes = Cid.compute(Codec.RAW, HELLO).toBytes();
        byte[] longer = Arrays.copyOf(bytes, bytes.length + 2);

        assertRejected("b" + Base32.encode(longer), "CID has 2 trailing bytes");
        var e = assertThrows(CidFormatException.class, () -> Cid.fromBytes(longer));
        assertEquals("CID has 2 trailing bytes", e.getMessage());
    }

    @Test
    void nonZeroPaddingBitsAreRejectedSoEachCidHasOneSpelling() {
        // 36 bytes = 288 bits in 58 characters: the last character carries 2 unused bits.
        // 'u' (10100) ends in 00; 'v' (10101) decodes to the same bytes with a stray bit set.
        assertTrue(EMPTY_RAW.endsWith("u"));
        String sloppy = EMPTY_RAW.substring(0, EMPTY_RAW.length() - 1) + "v";

        assertRejected(sloppy, "non-canonical base32: the CID text has a bad length or trailing bits");
    }

    @Test
    void version0InBinaryFormIsRejected() {
        assertRejectedBytes(cidBytes(0x00, 0x55, 0x12, 0x20, 32), "unsupported CID version 0: only CIDv1 is accepted");
    }

    @Test
    void version2IsRejected() {
        assertRejectedBytes(cidBytes(0x02, 0x55, 0x12, 0x20, 32), "unsupported CID version 2: only CIDv1 is accepted");
    }

    @Test
    void dagPbCodecIsRejected() {
        assertRejectedBytes(cidBytes(0x01, 0x70, 0x12, 0x20, 32),
                "unsupported codec 0x70: only raw (0x55) and dag-json (0x129) are accepted");
    }

    @Test
    void sha512MultihashIsRejected() {
        assertRejectedBytes(cidBytes(0x01, 0x55, 0x13, 0x40, 64),
                "unsupported multihash 0x13: only sha2-256 (0x12) is accepted");
    }

    @Test
    void identityMultihashIsRejected() {
        // The identity "hash" would let a peer inline arbitrary bytes as an address.
        assertRejectedBytes(cidBytes(0x01, 0x55, 0x00, 0x05, 5), "unsupported multihash 0x0");
    }

    @Test
    void aDigestLengthOtherThan32IsRejected() {
        assertRejectedBytes(cidBytes(0x01, 0x55, 0x12, 0x1f, 31), "sha2-256 digest length must be 32, got 31");
    }

    @Test
    void aNonMinimalVarintIsRejected() {
        // 0x55 spelled as d5 00: same value, two spellings -> two texts for one CID.
        byte[] bytes = new byte[1 + 2 + 2 + 32];
        bytes[0] = 1;
        bytes[1] = (byte) 0xd5;
        bytes[2] = 0x00;
        bytes[3] = 0x12;
        bytes[4] = 0x20;
        assertRejectedBytes(bytes, "non-minimal varint in CID");
    }

    @Test
    void aVarintRunningPastTheEndIsRejected() {
        assertRejectedBytes(new byte[] {0x01, (byte) 0x80}, "truncated CID: varint runs past the end");
        assertRejectedBytes(new byte[0], "truncated CID: varint runs past the end");
    }

    @Test
    void anEndlessVarintIsRejected() {
        byte[] bytes = new byte[20];
        Arrays.fill(bytes, (byte) 0xff);
        assertRejectedBytes(bytes, "varint in CID longer than 9 bytes");
    }

    @Test
    void absurdlyLongTextIsRejectedBeforeDecoding() {
        assertRejected("b" + "a".repeat(100_000), "CID too long (100001 characters)");
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

    /** Version, codec, hash code and length as single-byte varints, then {@code digestBytes} zeros. */
    private static byte[] cidBytes(int version, int codec, int hash, int length, int digestBytes) {
        byte[] out = new byte[4 + digestBytes];
        out[0] = (byte) version;
        out[1] = (byte) codec;
        out[2] = (byte) hash;
        out[3] = (byte) length;
        return out;
    }

    private static void assertRejected(String text, String messageStart) {
        var e = assertThrows(CidFormatException.class, () -> Cid.parse(text), "should reject " + text);
        assertTrue(e.getMessage().startsWith(messageStart),
                () -> "message \"" + e.getMessage() + "\" should start with \"" + messageStart + "\"");
    }

    /** Binary form directly, and the same bytes in text form, are rejected alike. */
    private static void assertRejectedBytes(byte[] bytes, String messageStart) {
        var e = assertThrows(CidFormatException.class, () -> Cid.fromBytes(bytes));
        assertTrue(e.getMessage().startsWith(messageStart),
                () -> "message \"" + e.getMessage() + "\" should start with \"" + messageStart + "\"");
        assertRejected("b" + Base32.encode(bytes), messageStart);
    }
}
