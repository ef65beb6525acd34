package io.statesync.core.snapshot;

import static io.statesync.core.snapshot.ManifestFixtures.file;
import static io.statesync.core.snapshot.ManifestFixtures.manifest;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ManifestCodecTest {
    private static final String HELLO_CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e";
    private static final String EMPTY_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";

    /** The canonical encoding of a one-file manifest, written out by hand from the dag-json rules. */
    private static final String ONE_FILE = "{\"chunkSize\":4096,\"files\":[{\"chunks\":[{\"/\":\"" + HELLO_CID + "\"}],"
            + "\"mode\":420,\"path\":\"a/hello.txt\",\"size\":11}],\"metadata\":{\"height\":\"7\"},\"version\":1}";

    private static final String CDC_ONE_FILE = "{\"chunking\":{\"avg\":4096,\"max\":16384,\"min\":1024,\"type\":\"fastcdc\"},"
            + "\"files\":[{\"chunks\":[{\"/\":\"" + HELLO_CID + "\"}],\"lengths\":[11],"
            + "\"mode\":420,\"path\":\"a/hello.txt\",\"size\":11}],\"metadata\":{},\"version\":2}";

    // --- Version 2: content-defined chunks with their lengths.

    @Test
    void aContentDefinedManifestEncodesItsChunkingAndLengths() throws ManifestException {
        Manifest m = Manifest.of(io.statesync.core.chunking.Chunking.ContentDefined.ofAverage(4096), Map.of(),
                List.of(new FileEntry("a/hello.txt", 11, 0644, List.of(Cid.parse(HELLO_CID)), List.of(11))));

        assertEquals(CDC_ONE_FILE, utf8(ManifestCodec.encode(m)));
        assertEquals(m, ManifestCodec.decode(bytes(CDC_ONE_FILE), ManifestLimits.DEFAULT));
    }

    @Test
    void aVersionOneManifestStillDecodesToFixedChunks() throws ManifestException {
        Manifest m = ManifestCodec.decode(bytes(ONE_FILE), ManifestLimits.DEFAULT);
        assertEquals(new io.statesync.core.chunking.Chunking.Fixed(4096), m.chunking());
        assertEquals(11, m.chunkLength(m.files().get(0), 0));
        assertEquals(ONE_FILE, utf8(ManifestCodec.encode(m)));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "\"lengths\":[11]|\"lengths\":[]|files[0] (a/hello.txt) lists 1 chunks and 0 lengths",
            "\"lengths\":[11]|\"lengths\":[10]|\"a/hello.txt\": chunk lengths add up to 10 bytes, the file is 11",
            "\"lengths\":[11]|\"lengths\":[0]|files[0].lengths[0] is 0, outside [1, 1048576]",
            "\"type\":\"fastcdc\"|\"type\":\"rabin\"|unknown chunking type \"rabin\"",
            "\"avg\":4096|\"avg\":4000|chunking: average chunk size 4000 must be a power of two",
            "\"version\":2|\"version\":1|manifest lacks the field \"chunkSize\"",
            ",\"lengths\":[11],|,|files[0] (a/hello.txt) lists 1 chunks and 0 lengths",
    })
    void aBrokenVersionTwoManifestIsRejectedWithTheReason(String from, String to, String message) {
        assertRejected(CDC_ONE_FILE.replace(from, to), message);
    }

    @Test
    void aVersionOneManifestWithLengthsIsRejected() {
        assertRejected(ONE_FILE.replace("\"mode\"", "\"lengths\":[11],\"mode\""),
                "files[0] (a/hello.txt): a version 1 manifest has no field \"lengths\"");
    }

    // --- Encoding: equal manifests must give equal bytes, hence equal root CIDs on every node.

    @Test
    void theEncodingIsCompactWithKeysInByteOrder() {
        Manifest m = new Manifest(Manifest.VERSION, 4096, Map.of("height", "7"),
                List.of(new FileEntry("a/hello.txt", 11, 0644, List.of(Cid.parse(HELLO_CID)))));

        assertEquals(ONE_FILE, utf8(ManifestCodec.encode(m)));
    }

    @Test
    void anEncodedManifestDecodesToAnEqualManifest() throws ManifestException {
        Manifest m = manifest(file("a", 0), file("b/c", 3 * 4096 + 5), file("b/d", 4096));

        Manifest back = ManifestCodec.decode(ManifestCodec.encode(m), ManifestLimits.DEFAULT);

        assertEquals(m, back);
        assertArrayEquals(ManifestCodec.encode(m), ManifestCodec.encode(back));
    }

    @Test
    void metadataInsertionOrderDoesNotChangeTheBytesOrTheCid() {
        Map<String, String> forward = new LinkedHashMap<>();
        Map<String, String> backward = new LinkedHashMap<>();
        String[] keys = {"group", "height", "blockId", "stateRoot", "thread", "Z", "a"};
        for (String k : keys) {
            forward.put(k, k + "-value");
        }
        for (int i = keys.length - 1; i >= 0; i--) {
            backward.put(keys[i], keys[i] + "-value");
        }
        List<FileEntry> files = List.of(file("x", 5000));

        Manifest m1 = new Manifest(Manifest.VERSION, 4096, forward, files);
        Manifest m2 = new Manifest(Manifest.VERSION, 4096, backward, files);

        assertArrayEquals(ManifestCodec.encode(m1), ManifestCodec.encode(m2));
        assertEquals(ManifestCodec.cidOf(m1), ManifestCodec.cidOf(m2));
    }

    @Test
    void metadataKeysAreOrderedByTheirUtf8BytesAsDagJsonRequires() {
        // U+FFFD is EF BF BD in UTF-8 and sorts before U+1F600 (F0 9F 98 80), although Java's
        // UTF-16 String order puts the surrogate pair D83D DE00 first.
        Manifest m = new Manifest(Manifest.VERSION, 4096, Map.of("\uD83D\uDE00", "smile", "\uFFFD", "replacement"), List.of());

        String json = utf8(ManifestCodec.encode(m));

        assertTrue(json.indexOf("\uFFFD") < json.indexOf("\uD83D\uDE00"), json);
        assertTrue(!json.contains("\\uD83D"), "characters beyond U+FFFF are written as UTF-8, not escaped: " + json);
    }

    @Test
    void theRootCidIsTheDagJsonCidOfTheEncoding() {
        Manifest m = manifest(file("a", 1));

        Cid root = ManifestCodec.cidOf(m);

        assertEquals(Codec.DAG_JSON, root.codec());
        assertEquals(Cid.compute(Codec.DAG_JSON, ManifestCodec.encode(m)), root);
    }

    @Test
    void anyChangeOfContentChangesTheCid() {
        Manifest base = manifest(file("a", 1));

        assertNotEquals(ManifestCodec.cidOf(base), ManifestCodec.cidOf(manifest(file("b", 1))));
        assertNotEquals(ManifestCodec.cidOf(base), ManifestCodec.cidOf(manifest(file("a", 1, 0755, 1))));
        assertNotEquals(ManifestCodec.cidOf(base),
                ManifestCodec.cidOf(new Manifest(1, 4096, Map.of("height", "8"), base.files())));
    }

    @Test
    void decodingAcceptsAnyKeyOrderAndWhitespace() throws ManifestException {
        // Peers may run other encoders; only the CID of the bytes they serve matters.
        String loose = """
                { "version": 1, "metadata": { "height": "7" },
                  "files": [ { "size": 11, "path": "a/hello.txt", "mode": 420,
                               "chunks": [ { "/": "%s" } ] } ],
                  "chunkSize": 4096 }
                """.formatted(HELLO_CID);

        Manifest m = ManifestCodec.decode(bytes(loose), ManifestLimits.DEFAULT);

        assertEquals(ONE_FILE, utf8(ManifestCodec.encode(m)));
    }

    @Test
    void unicodeAndEscapesInPathsAndMetadataSurviveARoundTrip() throws ManifestException {
        Manifest m = new Manifest(Manifest.VERSION, 4096, Map.of("note", "quote \" backslash \\ tab \t ☃"),
                List.of(file("日本/ファイル", 3), file("a\"b", 1)));

        assertEquals(m, ManifestCodec.decode(ManifestCodec.encode(m), ManifestLimits.DEFAULT.withMaxManifestBytes(64L << 20)));
    }

    @Test
    void anEmptySnapshotRoundTrips() throws ManifestException {
        Manifest m = new Manifest(Manifest.VERSION, 1 << 20, Map.of(), List.of());

        assertEquals(m, ManifestCodec.decode(ManifestCodec.encode(m), ManifestLimits.DEFAULT.withMaxManifestBytes(64L << 20)));
    }

    // --- Decoding rejections: each message says what is wrong and where.

    @ParameterizedTest
    @ValueSource(strings = {"hello", "{", "{\"version\":", "{\"version\":1,}", "\u0000", "{'version':1}"})
    void textThatIsNotJsonIsRejected(String text) {
        assertRejected(text, "manifest is not valid JSON");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "[]", "1", "\"manifest\"", "null"})
    void aTopLevelValueOtherThanAnObjectIsRejected(String text) {
        assertRejected(text, "manifest must be a JSON object");
    }

    @Test
    void aTruncatedDocumentIsRejected() {
        assertRejected(ONE_FILE.substring(0, ONE_FILE.length() - 20), "manifest is not valid JSON");
    }

    @Test
    void trailingDataAfterTheManifestIsRejected() {
        assertRejected(ONE_FILE + " {}", "manifest has trailing data after the top-level object");
        assertRejected(ONE_FILE + "1", "manifest has trailing data after the top-level object");
        assertRejected(ONE_FILE + "x", "manifest is not valid JSON");
    }

    @Test
    void trailingWhitespaceIsFine() throws ManifestException {
        ManifestCodec.decode(bytes(ONE_FILE + "\n  "), ManifestLimits.DEFAULT);
    }

    @Test
    void anUnknownTopLevelFieldIsRejected() {
        assertRejected(ONE_FILE.replace("\"version\":1", "\"version\":1,\"signature\":\"x\""),
                "manifest has unknown field \"signature\"");
    }

    @Test
    void anUnknownFileFieldIsRejectedNamingTheFile() {
        assertRejected(ONE_FILE.replace("\"size\":11", "\"size\":11,\"owner\":0"),
                "files[0] (a/hello.txt) has unknown field \"owner\"");
    }

    @ParameterizedTest
    @ValueSource(strings = {"version", "chunkSize", "metadata", "files"})
    void aMissingTopLevelFieldIsRejectedNamingIt(String field) {
        String json = withoutTopLevel(field);
        assertRejected(json, "manifest lacks the field \"" + field + "\"");
    }

    @ParameterizedTest
    @CsvSource({"chunks", "mode", "path", "size"})
    void aMissingFileFieldIsRejectedNamingItAndTheFile(String field) {
        String json = switch (field) {
            case "chunks" -> ONE_FILE.replace("\"chunks\":[{\"/\":\"" + HELLO_CID + "\"}],", "");
            case "mode" -> ONE_FILE.replace("\"mode\":420,", "");
            case "path" -> ONE_FILE.replace("\"path\":\"a/hello.txt\",", "");
            default -> ONE_FILE.replace(",\"size\":11", "");
        };
        var e = assertRejected(json, "files[0]");
        assertTrue(e.getMessage().endsWith("lacks the field \"" + field + "\""), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "\"version\":1|\"version\":\"1\"|version must be an integer",
            "\"version\":1|\"version\":1.0|version must be an integer",
            "\"chunkSize\":4096|\"chunkSize\":4096.5|chunkSize must be an integer",
            "\"chunkSize\":4096|\"chunkSize\":null|chunkSize must be an integer",
            "\"metadata\":{\"height\":\"7\"}|\"metadata\":[]|metadata must be a JSON object",
            "\"height\":\"7\"|\"height\":7|metadata \"height\" must be a string",
            "\"height\":\"7\"|\"height\":{}|metadata \"height\" must be a string",
            "\"files\":[|\"files\":{\"x\":[|files must be a JSON array",
            "\"mode\":420|\"mode\":\"0644\"|files[0].mode must be an integer",
            "\"mode\":420|\"mode\":true|files[0].mode must be an integer",
            "\"path\":\"a/hello.txt\"|\"path\":[\"a\"]|files[0]: path must be a string",
            "\"size\":11|\"size\":\"11\"|files[0] (a/hello.txt).size must be an integer",
            "\"size\":11|\"size\":1e1|files[0] (a/hello.txt).size must be an integer",
    })
    void wrongTypesAreRejectedNamingTheField(String from, String to, String message) {
        assertRejected(ONE_FILE.replace(from, to), message);
    }

    @Test
    void aFileThatIsNotAnObjectIsRejected() {
        assertRejected("{\"chunkSize\":4096,\"files\":[7],\"metadata\":{},\"version\":1}", "files[0] must be a JSON object");
    }

    @Test
    void chunksThatAreNotAnArrayAreRejected() {
        assertRejected(ONE_FILE.replace("\"chunks\":[{\"/\":\"" + HELLO_CID + "\"}]", "\"chunks\":{}"),
                "files[0].chunks must be a JSON array");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "\"size\":11|\"size\":-1|files[0] (a/hello.txt).size is -1, outside [0, 9223372036854775807]",
            "\"size\":11|\"size\":9223372036854775808|files[0] (a/hello.txt).size is out of range",
            "\"mode\":420|\"mode\":-420|files[0].mode is -420, outside [0, 4095]",
            "\"mode\":420|\"mode\":4096|files[0].mode is 4096, outside [0, 4095]",
            "\"chunkSize\":4096|\"chunkSize\":0|chunkSize is 0, outside [1, 1048576]",
            "\"chunkSize\":4096|\"chunkSize\":1048577|chunkSize is 1048577, outside [1, 1048576]",
            "\"chunkSize\":4096|\"chunkSize\":-4096|chunkSize is -4096, outside [1, 1048576]",
            "\"version\":1|\"version\":-1|version is -1, outside [0, 2147483647]",
            "\"version\":1|\"version\":4294967297|version is 4294967297, outside [0, 2147483647]",
    })
    void numbersOutOfRangeAreRejectedNamingTheField(String from, String to, String message) {
        assertRejected(ONE_FILE.replace(from, to), message);
    }

    @Test
    void anUnsupportedVersionIsRejected() {
        assertRejected(ONE_FILE.replace("\"version\":1", "\"version\":3"),
                "unsupported manifest version 3 (this build reads 1 and 2)");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            // A bare string is JSON, but not a dag-json link.
            "\"HELLO\"|files[0].chunks[0] must be a JSON object",
            "{\"cid\":\"HELLO\"}|files[0].chunks[0] must be a link {\"/\": \"<cid>\"}",
            "{}|files[0].chunks[0] must be a link {\"/\": \"<cid>\"}",
            "{\"/\":5}|files[0].chunks[0] must be a link {\"/\": \"<cid>\"}",
            "{\"/\":{\"bytes\":\"aGk\"}}|files[0].chunks[0] must be a link {\"/\": \"<cid>\"}",
            "{\"/\":\"HELLO\",\"size\":11}|files[0].chunks[0] must be a link with the single key \"/\"",
    })
    void chunkLinksOtherThanSlashCidAreRejected(String link, String message) {
        String json = ONE_FILE.replace("{\"/\":\"" + HELLO_CID + "\"}", link.replace("HELLO", HELLO_CID));
        assertRejected(json, message);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "not-a-cid|files[0].chunks[0]: unsupported multibase prefix 'n'",
            "QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB|files[0].chunks[0]: CIDv0 is not supported",
            "BAFKREIFZJUT3TE2NHYEKKLSS27NH3K72YSCO7Y32KOAO5EEI66WOF36N5E|files[0].chunks[0]: unsupported multibase prefix 'B'",
            "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5|files[0].chunks[0]: non-canonical base32",
            "''|files[0].chunks[0]: empty CID",
    })
    void badCidTextIsRejectedNamingTheChunk(String cid, String message) {
        assertRejected(ONE_FILE.replace(HELLO_CID, cid), message);
    }

    @Test
    void theSecondChunkOfTheSecondFileIsNamedPrecisely() {
        Manifest m = manifest(file("a", 1), file("b", 3 * 4096));
        String json = utf8(ManifestCodec.encode(m));
        String second = m.files().get(1).chunks().get(1).toString();

        assertRejected(json.replace(second, "b" + "a".repeat(58)), "files[1].chunks[1]: ");
    }

    @Test
    void aSizeInconsistentWithTheChunksIsCaughtAfterDecoding() {
        assertRejected(ONE_FILE.replace("\"size\":11", "\"size\":9223372036854775807"),
                "\"a/hello.txt\": size 9223372036854775807 needs 2251799813685248 chunks of 4096 bytes, the manifest lists 1");
    }

    @Test
    void aLargeManifestRoundTrips() throws ManifestException {
        List<FileEntry> files = new ArrayList<>();
        for (int i = 0; i < 2_000; i++) {
            files.add(file(String.format("shard-%02d/file-%05d", i % 16, i), (long) i * 1000));
        }
        files.sort(Comparator.comparing(FileEntry::path));
        Manifest m = new Manifest(1, 4096, Map.of("height", "123456"), files);

        assertEquals(m, ManifestCodec.decode(ManifestCodec.encode(m), ManifestLimits.DEFAULT.withMaxManifestBytes(64L << 20)));
    }

    private static String withoutTopLevel(String field) {
        return switch (field) {
            case "version" -> ONE_FILE.replace(",\"version\":1", "");
            case "chunkSize" -> ONE_FILE.replace("\"chunkSize\":4096,", "");
            case "metadata" -> ONE_FILE.replace(",\"metadata\":{\"height\":\"7\"}", "");
            case "files" -> "{\"chunkSize\":4096,\"metadata\":{},\"version\":1}";
            default -> throw new IllegalArgumentException(field);
        };
    }

    private static ManifestException assertRejected(String json, String messageStart) {
        var e = assertThrows(ManifestException.class, () -> ManifestCodec.decode(bytes(json), ManifestLimits.DEFAULT),
                "should reject " + (json.length() > 200 ? json.substring(0, 200) + "..." : json));
        assertTrue(e.getMessage().startsWith(messageStart),
                () -> "message \"" + e.getMessage() + "\" should start with \"" + messageStart + "\"");
        return e;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }
}
