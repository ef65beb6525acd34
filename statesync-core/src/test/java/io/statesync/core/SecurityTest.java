package io.statesync.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.CidFormatException;
import io.statesync.core.cid.Codec;
import io.statesync.core.snapshot.FileEntry;
import io.statesync.core.snapshot.Manifest;
import io.statesync.core.snapshot.ManifestCodec;
import io.statesync.core.snapshot.ManifestException;
import io.statesync.core.snapshot.ManifestLimits;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The attack suite of the core module (issue 14): content addresses and manifests as a hostile
 * peer or user may send them. Every case checks the refusal and its message (these messages are
 * what an operator sees), and after each case a well-formed CID or manifest still parses.
 *
 * <p>Also defended, and tested where the rest of the unit lives:
 * <ul>
 *   <li>each path rule of the validator on its own (dot segments, absolute, backslash and control
 *       characters, drive letters, a file under a file, the UTF-8 length limit), sizes and chunk
 *       counts that disagree or overflow, modes beyond rwx, chunk sizes out of range:
 *       {@code snapshot.ManifestValidatorTest};
 *   <li>broken JSON, missing and unknown fields, wrong types, numbers out of range, chunk links
 *       other than {@code {"/": cid}}: {@code snapshot.ManifestCodecTest}; a manifest split into
 *       parts with a part corrupted or a bad parts list: {@code snapshot.ManifestBlocksTest};
 *   <li>a raw block loaded as a manifest, symlinks in an imported tree:
 *       {@code snapshot.SnapshotImporterTest}; a blob corrupted in the store:
 *       {@code store.ContentStoreTest};
 *   <li>materialization into a hostile output directory: links planted in it
 *       ({@code snapshot.MaterializerTest}, {@code snapshot.SnapshotAssemblyTest}); directories
 *       swapped for links while writing, 255-byte names, a file 2000 directories deep, a store
 *       inside the output, too little free space, a manifest repeating one chunk past the
 *       expansion bound, and a deadline passing while the output is prepared
 *       ({@code snapshot.OutputSafetyTest}); the largest allowed manifest fetched in a 256 MiB
 *       heap ({@code transfer.fetch.LargestManifestTest}).
 * </ul>
 */
class SecurityTest {
    /** Published IPFS CIDv1 raw vectors. */
    private static final String EMPTY_RAW = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
    private static final byte[] HELLO = "hello world".getBytes(StandardCharsets.US_ASCII);
    private static final String HELLO_CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e";

    /** The canonical encoding of a one-file manifest. */
    private static final String ONE_FILE = "{\"chunkSize\":4096,\"files\":[{\"chunks\":[{\"/\":\"" + HELLO_CID + "\"}],"
            + "\"mode\":420,\"path\":\"a/hello.txt\",\"size\":11}],\"metadata\":{\"height\":\"7\"},\"version\":1}";

    @Nested
    @DisplayName("malformed CIDs")
    class MalformedCids {
        @AfterEach
        void aWellFormedCidStillParses() {
            assertEquals(EMPTY_RAW, Cid.parse(EMPTY_RAW).toString());
            assertEquals(Cid.compute(Codec.RAW, HELLO), Cid.parse(HELLO_CID));
        }

        @Test
        void anEmptyStringIsRejected() {
            assertCidRejected("", "empty CID");
        }

        @Test
        void aNullStringIsRejectedAsEmpty() {
            assertCidRejected(null, "empty CID");
        }

        @Test
        void cidV0IsRejectedWithAHintToUseV1() {
            assertCidRejected("QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB", "CIDv0 is not supported");
        }

        @Test
        void base58btcMultibaseIsRejected() {
            assertCidRejected("zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA",
                    "unsupported multibase prefix 'z': only base32 lower case ('b') is accepted");
        }

        @Test
        void upperCaseBase32MultibaseIsRejected() {
            assertCidRejected(EMPTY_RAW.toUpperCase(), "unsupported multibase prefix 'B'");
        }

        @Test
        void aNonPrintablePrefixIsShownEscaped() {
            assertCidRejected("\u0001afkrei", "unsupported multibase prefix '\\u0001'");
        }

        @Test
        void upperCaseLettersAfterThePrefixAreRejected() {
            String mixed = "b" + EMPTY_RAW.substring(1, 10).toUpperCase() + EMPTY_RAW.substring(10);
            assertCidRejected(mixed, "invalid base32 character 'A' at position 1");
        }

        @ParameterizedTest
        @ValueSource(strings = {"1", "8", "=", "-", " "})
        void charactersOutsideTheBase32AlphabetAreRejectedWithTheirPosition(String bad) {
            String text = EMPTY_RAW.substring(0, 20) + bad + EMPTY_RAW.substring(21);
            assertCidRejected(text, "invalid base32 character '" + bad + "' at position 20");
        }

        @Test
        void nonAsciiCharactersAreShownEscaped() {
            String text = EMPTY_RAW.substring(0, 20) + "\u00e9" + EMPTY_RAW.substring(21);
            assertCidRejected(text, "invalid base32 character '\\u00e9' at position 20");
        }

        @Test
        void aTruncatedDigestIsRejected() {
            // Two characters less is exactly 35 bytes: the digest lacks its last byte.
            assertCidRejected(EMPTY_RAW.substring(0, EMPTY_RAW.length() - 2), "truncated CID: digest has 31 of 32 bytes");
        }

        @Test
        void aLengthThatIsNoWholeNumberOfBytesIsRejected() {
            assertCidRejected(EMPTY_RAW.substring(0, EMPTY_RAW.length() - 1), "non-canonical base32");
        }

        @Test
        void onlyThePrefixIsRejectedAsTruncated() {
            assertCidRejected("b", "truncated CID");
        }

        @Test
        void trailingBytesAreRejected() {
            byte[] bytes = Cid.compute(Codec.RAW, HELLO).toBytes();
            byte[] longer = Arrays.copyOf(bytes, bytes.length + 2);

            assertCidRejected("b" + base32(longer), "CID has 2 trailing bytes");
            var e = assertThrows(CidFormatException.class, () -> Cid.fromBytes(longer));
            assertEquals("CID has 2 trailing bytes", e.getMessage());
        }

        @Test
        void nonZeroPaddingBitsAreRejectedSoEachCidHasOneSpelling() {
            // 36 bytes = 288 bits in 58 characters: the last character carries 2 unused bits.
            // 'u' (10100) ends in 00; 'v' (10101) decodes to the same bytes with a stray bit set.
            assertTrue(EMPTY_RAW.endsWith("u"));
            String sloppy = EMPTY_RAW.substring(0, EMPTY_RAW.length() - 1) + "v";

            assertCidRejected(sloppy, "non-canonical base32: the CID text has a bad length or trailing bits");
        }

        @Test
        void version0InBinaryFormIsRejected() {
            assertCidBytesRejected(cidBytes(0x00, 0x55, 0x12, 0x20, 32), "unsupported CID version 0: only CIDv1 is accepted");
        }

        @Test
        void version2IsRejected() {
            assertCidBytesRejected(cidBytes(0x02, 0x55, 0x12, 0x20, 32), "unsupported CID version 2: only CIDv1 is accepted");
        }

        @Test
        void dagPbCodecIsRejected() {
            assertCidBytesRejected(cidBytes(0x01, 0x70, 0x12, 0x20, 32),
                    "unsupported codec 0x70: only raw (0x55) and dag-json (0x129) are accepted");
        }

        @Test
        void sha512MultihashIsRejected() {
            assertCidBytesRejected(cidBytes(0x01, 0x55, 0x13, 0x40, 64),
                    "unsupported multihash 0x13: only sha2-256 (0x12) is accepted");
        }

        @Test
        void identityMultihashIsRejected() {
            // The identity "hash" would let a peer inline arbitrary bytes as an address.
            assertCidBytesRejected(cidBytes(0x01, 0x55, 0x00, 0x05, 5), "unsupported multihash 0x0");
        }

        @Test
        void aDigestLengthOtherThan32IsRejected() {
            assertCidBytesRejected(cidBytes(0x01, 0x55, 0x12, 0x1f, 31), "sha2-256 digest length must be 32, got 31");
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
            assertCidBytesRejected(bytes, "non-minimal varint in CID");
        }

        @Test
        void aVarintRunningPastTheEndIsRejected() {
            assertCidBytesRejected(new byte[] {0x01, (byte) 0x80}, "truncated CID: varint runs past the end");
            assertCidBytesRejected(new byte[0], "truncated CID: varint runs past the end");
        }

        @Test
        void anEndlessVarintIsRejected() {
            byte[] bytes = new byte[20];
            Arrays.fill(bytes, (byte) 0xff);
            assertCidBytesRejected(bytes, "varint in CID longer than 9 bytes");
        }

        @Test
        void absurdlyLongTextIsRejectedBeforeDecoding() {
            assertCidRejected("b" + "a".repeat(100_000), "CID too long (100001 characters)");
        }
    }

    @Nested
    @DisplayName("hostile manifests: bad paths, duplicate keys, over the limits")
    class HostileManifests {
        @AfterEach
        void aWellFormedManifestStillDecodes() throws ManifestException {
            Manifest m = ManifestCodec.decode(bytes(ONE_FILE), ManifestLimits.DEFAULT);
            assertEquals("a/hello.txt", m.files().getFirst().path());
        }

        @ParameterizedTest
        @CsvSource(delimiter = '|', value = {
                "\"version\":1|\"version\":1,\"version\":1|version",
                "\"size\":11|\"size\":11,\"size\":12|size",
                "\"height\":\"7\"|\"height\":\"7\",\"height\":\"8\"|height",
        })
        void duplicateKeysAreRejectedNamingTheKey(String from, String to, String key) {
            var e = assertManifestRejected(ONE_FILE.replace(from, to), "manifest is not valid JSON");
            assertTrue(e.getMessage().contains("'" + key + "'"), e.getMessage());
        }

        @Test
        void aDuplicateKeyInsideAFileNamesTheFile() {
            var e = assertManifestRejected(ONE_FILE.replace("\"size\":11", "\"size\":11,\"size\":12"), "manifest is not valid JSON");
            assertTrue(e.getMessage().contains("/files/0"), e.getMessage());
        }

        @Test
        void aNumberWithAbsurdlyManyDigitsIsRejectedNamingWhereItIs() {
            var e = assertManifestRejected(ONE_FILE.replace("\"size\":11", "\"size\":" + "9".repeat(40)), "manifest is not valid JSON");
            assertTrue(e.getMessage().contains("/files/0/size"), e.getMessage());
        }

        @Test
        void aHugeStringIsRejectedNamingWhereItIs() {
            var e = assertManifestRejected(ONE_FILE.replace("\"7\"", "\"" + "7".repeat(100_000) + "\""), "manifest is not valid JSON");
            assertTrue(e.getMessage().contains("/metadata/height"), e.getMessage());
        }

        @Test
        void aChunkWithTheDagJsonCodecIsRejected() {
            // A chunk must be opaque bytes; a dag-json "chunk" could smuggle in another manifest.
            String manifestCid = Cid.compute(Codec.DAG_JSON, bytes("{}")).toString();
            assertManifestRejected(ONE_FILE.replace(HELLO_CID, manifestCid),
                    "files[0].chunks[0]: chunk CIDs must use the raw codec, got dag-json");
        }

        @Test
        void pathTricksAreCaughtByTheValidatorAfterDecoding() {
            assertManifestRejected(ONE_FILE.replace("a/hello.txt", "../hello.txt"), "path \"../hello.txt\" is not normalized");
            assertManifestRejected(ONE_FILE.replace("a/hello.txt", "/etc/passwd"), "absolute path \"/etc/passwd\"");
        }

        @Test
        void aSetuidModeIsCaughtAfterDecoding() {
            assertManifestRejected(ONE_FILE.replace("\"mode\":420", "\"mode\":" + 04755),
                    "\"a/hello.txt\": mode 04755 has bits beyond rwx permissions");
        }

        @Test
        void aManifestOverTheByteLimitIsRejectedBeforeParsing() {
            byte[] json = bytes(ONE_FILE);
            var e = assertThrows(ManifestException.class,
                    () -> ManifestCodec.decode(json, ManifestLimits.DEFAULT.withMaxManifestBytes(json.length - 1)));
            assertEquals("manifest is " + json.length + " bytes, over the limit of " + (json.length - 1), e.getMessage());
        }

        @Test
        void moreFilesThanTheLimitAreRejectedWhileReading() {
            Manifest m = manifest(file("a", 1), file("b", 1), file("c", 1));
            var e = assertThrows(ManifestException.class,
                    () -> ManifestCodec.decode(ManifestCodec.encode(m), ManifestLimits.DEFAULT.withMaxFiles(2)));
            assertEquals("manifest has more than 2 files", e.getMessage());
        }

        @Test
        void moreChunksThanTheLimitAreRejectedWhileReading() {
            Manifest m = manifest(file("a", 2 * 4096), file("b", 2 * 4096));
            var e = assertThrows(ManifestException.class,
                    () -> ManifestCodec.decode(ManifestCodec.encode(m), ManifestLimits.DEFAULT.withMaxChunks(3)));
            assertEquals("files[1]: the manifest names more chunks than the limit allows", e.getMessage());
        }

        @Test
        void moreBytesThanTheLimitAreRejected() {
            Manifest m = manifest(file("a", 100), file("b", 100));
            var e = assertThrows(ManifestException.class,
                    () -> ManifestCodec.decode(ManifestCodec.encode(m), ManifestLimits.DEFAULT.withMaxTotalBytes(150)));
            assertEquals("\"b\": total size passes the limit of 150 bytes", e.getMessage());
        }

        @Test
        void moreThan256MetadataEntriesAreRejected() {
            Map<String, String> metadata = new LinkedHashMap<>();
            for (int i = 0; i < 257; i++) {
                metadata.put("k" + i, "v");
            }
            byte[] json = ManifestCodec.encode(new Manifest(1, 4096, metadata, List.of()));

            var e = assertThrows(ManifestException.class, () -> ManifestCodec.decode(json, ManifestLimits.DEFAULT));
            assertEquals("metadata has more than 256 entries", e.getMessage());
        }

        @ParameterizedTest
        @ValueSource(strings = {"../hello.txt", "a/../../hello.txt", "/etc/passwd", "a/./b", "a//b", "a/", "..",
                                "a\\..\\..\\b", "a\u0000b", "C:x", "c:/windows/x", "a\nb", ""})
        void aPathThatCouldLeaveTheOutputDirectoryIsRefusedAtDecoding(String path) {
            String json = ONE_FILE.replace("a/hello.txt", path.replace("\\", "\\\\").replace("\u0000", "\\u0000")
                    .replace("\n", "\\n"));
            ManifestException e = assertThrows(ManifestException.class,
                    () -> ManifestCodec.decode(bytes(json), ManifestLimits.DEFAULT), path);
            assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
            assertTrue(e.getMessage().contains("path"), e.getMessage());
        }

        @Test
        void twoFilesWithOnePathOrAFileUnderAFileAreRefused() {
            String twice = ONE_FILE.replace("[{\"chunks\"", "[{\"chunks\":[{\"/\":\"" + HELLO_CID
                    + "\"}],\"mode\":420,\"path\":\"a/hello.txt\",\"size\":11},{\"chunks\"");
            ManifestException dup = assertThrows(ManifestException.class,
                    () -> ManifestCodec.decode(bytes(twice), ManifestLimits.DEFAULT));
            assertTrue(dup.getMessage().contains("duplicate path \"a/hello.txt\""), dup.getMessage());

            String under = ONE_FILE.replace("[{\"chunks\"", "[{\"chunks\":[{\"/\":\"" + HELLO_CID
                    + "\"}],\"mode\":420,\"path\":\"a\",\"size\":11},{\"chunks\"");
            ManifestException nested = assertThrows(ManifestException.class,
                    () -> ManifestCodec.decode(bytes(under), ManifestLimits.DEFAULT));
            assertTrue(nested.getMessage().contains("a/hello.txt"), nested.getMessage());
        }

        @Test
        void deeplyNestedJsonIsRefusedWithoutExhaustingTheStack() {
            // A recursive parser would die of a StackOverflowError (not a ManifestException) here.
            for (String json : List.of("[".repeat(100_000), "{\"metadata\":" + "[".repeat(100_000),
                                       "{\"metadata\":" + "{\"a\":".repeat(100_000),
                                       "{\"files\":[" + "{\"chunks\":[".repeat(50_000))) {
                ManifestException e = assertThrows(ManifestException.class,
                        () -> ManifestCodec.decode(bytes(json), ManifestLimits.DEFAULT));
                assertTrue(e.getMessage().length() < 300 && !e.getMessage().contains("\n"),
                        "one short line: " + e.getMessage());
            }
        }
    }

    // ---- helpers ----

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** A file of {@code size} bytes with the chunk count 4096-byte chunks call for; the CIDs are fake but well formed. */
    private static FileEntry file(String path, long size) {
        List<Cid> chunks = new ArrayList<>();
        for (long i = 0; i < Manifest.chunksFor(size, 4096); i++) {
            chunks.add(Cid.compute(Codec.RAW, bytes(path + "#" + i)));
        }
        return new FileEntry(path, size, 0644, chunks);
    }

    private static Manifest manifest(FileEntry... files) {
        return new Manifest(Manifest.VERSION, 4096, Map.of("height", "7"), List.of(files));
    }

    private static ManifestException assertManifestRejected(String json, String messageStart) {
        var e = assertThrows(ManifestException.class, () -> ManifestCodec.decode(bytes(json), ManifestLimits.DEFAULT),
                "should reject " + (json.length() > 200 ? json.substring(0, 200) + "..." : json));
        assertTrue(e.getMessage().startsWith(messageStart),
                () -> "message \"" + e.getMessage() + "\" should start with \"" + messageStart + "\"");
        return e;
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

    private static void assertCidRejected(String text, String messageStart) {
        var e = assertThrows(CidFormatException.class, () -> Cid.parse(text), "should reject " + text);
        assertTrue(e.getMessage().startsWith(messageStart),
                () -> "message \"" + e.getMessage() + "\" should start with \"" + messageStart + "\"");
    }

    /** Binary form directly, and the same bytes in text form, are rejected alike. */
    private static void assertCidBytesRejected(byte[] bytes, String messageStart) {
        var e = assertThrows(CidFormatException.class, () -> Cid.fromBytes(bytes));
        assertTrue(e.getMessage().startsWith(messageStart),
                () -> "message \"" + e.getMessage() + "\" should start with \"" + messageStart + "\"");
        assertCidRejected("b" + base32(bytes), messageStart);
    }

    /** RFC 4648 base32, lower case, no padding: the text form of a CID after its 'b' prefix. */
    private static String base32(byte[] bytes) {
        String alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        StringBuilder out = new StringBuilder();
        int buffer = 0;
        int bits = 0;
        for (byte b : bytes) {
            buffer = (buffer << 8) | (b & 0xff);
            bits += 8;
            while (bits >= 5) {
                out.append(alphabet.charAt((buffer >> (bits - 5)) & 31));
                bits -= 5;
            }
        }
        if (bits > 0) {
            out.append(alphabet.charAt((buffer << (5 - bits)) & 31));
        }
        return out.toString();
    }
}
