package io.statesync.core.snapshot;

import static io.statesync.core.snapshot.ManifestFixtures.CHUNK;
import static io.statesync.core.snapshot.ManifestFixtures.file;
import static io.statesync.core.snapshot.ManifestFixtures.manifest;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ManifestValidatorTest {
    private static final ManifestLimits LIMITS = ManifestLimits.DEFAULT;

    @Test
    void aWellFormedManifestPasses() {
        Manifest m = manifest(
                file("README", 0),
                file("data/blocks/000001.sst", 3 * CHUNK),
                file("data/blocks/000002.sst", 3 * CHUNK + 1),
                file("data/état", 17),
                file("a b/with space", 1));

        assertDoesNotThrow(() -> ManifestValidator.validate(m, LIMITS));
    }

    // --- Path tricks: a manifest comes from a peer, and its paths become file names on our disk.

    @ParameterizedTest
    @ValueSource(strings = {"..", "../etc/passwd", "a/../b", "a/..", ".", "./a", "a/./b", "a/.", "a//b", "a/"})
    void unnormalizedPathsAreRejected(String path) {
        assertRejected(manifest(file(path, 1)), "path \"" + path + "\" is not normalized (empty, '.' or '..' segment)");
    }

    @ParameterizedTest
    @ValueSource(strings = {"/abs", "/etc/passwd", "/", "//a"})
    void absolutePathsAreRejected(String path) {
        assertRejected(manifest(file(path, 1)), "absolute path \"" + path + "\"");
    }

    @Test
    void theEmptyPathIsRejected() {
        assertRejected(manifest(file("", 1)), "empty path");
    }

    @ParameterizedTest
    @ValueSource(strings = {"a\\b", "..\\..\\windows", "a\u0000b", "a\nb", "line\r", "tab\there", "del\u007f"})
    void backslashesAndControlCharactersAreRejected(String path) {
        var e = assertRejected(manifest(file(path, 1)), "path \"");
        assertTrue(e.getMessage().endsWith("contains a control character or backslash"), e.getMessage());
        assertTrue(e.getMessage().chars().noneMatch(c -> c < 0x20), "the message itself must be printable");
    }

    @ParameterizedTest
    @ValueSource(strings = {"C:x", "c:/windows", "Z:"})
    void driveLetterPathsAreRejected(String path) {
        assertRejected(manifest(file(path, 1)), "path \"" + path + "\" looks like a drive-letter path");
    }

    @Test
    void duplicatePathsAreRejected() {
        assertRejected(manifest(file("a/x", 1), file("b", 1), file("a/x", 2)), "duplicate path \"a/x\"");
    }

    @Test
    void aFileUnderAnotherFileIsRejected() {
        assertRejected(manifest(file("a", 1), file("a/b", 1)), "path \"a/b\" lies under the file \"a\"");
        assertRejected(manifest(file("a/b", 1), file("a/b/c/d", 1)), "path \"a/b/c/d\" lies under the file \"a/b\"");
    }

    @Test
    void aFileNamedLikeAnEarlierDirectoryIsRejected() {
        assertRejected(manifest(file("a/b", 1), file("a", 1)), "path \"a\" is both a file and a directory");
    }

    @Test
    void siblingsSharingANamePrefixAreFine() {
        // "a" and "a.txt", "ab/c": a prefix of characters is not a parent directory.
        Manifest m = manifest(file("a", 1), file("a.txt", 1), file("ab/c", 1), file("b/a", 1));

        assertDoesNotThrow(() -> ManifestValidator.validate(m, LIMITS));
    }

    @Test
    void pathLengthIsCountedInUtf8BytesUpToTheLimit() {
        String atLimit = "d/" + "x".repeat(LIMITS.maxPathLength() - 2);
        // 2049 two-byte characters: under the limit in chars, over it in bytes.
        String overInBytes = "é".repeat(LIMITS.maxPathLength() / 2 + 1);

        assertDoesNotThrow(() -> ManifestValidator.validate(manifest(file(atLimit, 1)), LIMITS));
        var e = assertRejected(manifest(file(overInBytes, 1)), "path \"");
        assertTrue(e.getMessage().endsWith("is longer than 4096 bytes"), e.getMessage());
        assertTrue(e.getMessage().length() < 200, "an over-long path is shortened in the message");
        assertRejected(manifest(file(atLimit + "x", 1)), "path \"d/xxxx");
    }

    // --- Sizes and chunk counts.

    @Test
    void aSizeNeedingMoreChunksThanListedIsRejected() {
        assertRejected(manifest(file("f", CHUNK + 1, 0644, 1)),
                "\"f\": size 4097 needs 2 chunks of 4096 bytes, the manifest lists 1");
    }

    @Test
    void moreChunksThanTheSizeNeedsIsRejected() {
        assertRejected(manifest(file("f", CHUNK, 0644, 2)),
                "\"f\": size 4096 needs 1 chunks of 4096 bytes, the manifest lists 2");
        assertRejected(manifest(file("empty", 0, 0644, 1)),
                "\"empty\": size 0 needs 0 chunks of 4096 bytes, the manifest lists 1");
    }

    @Test
    void anAbsurdSizeWithOneChunkIsRejectedWithHonestArithmetic() {
        assertRejected(manifest(file("huge", Long.MAX_VALUE, 0644, 1)),
                "\"huge\": size 9223372036854775807 needs 2251799813685248 chunks of 4096 bytes, the manifest lists 1");
    }

    @Test
    void aNegativeSizeIsRejected() {
        assertRejected(manifest(file("neg", -1, 0644, 0)), "\"neg\": negative size -1");
    }

    // --- Modes.

    @ParameterizedTest
    @ValueSource(ints = {04755, 02755, 01777, 010644})
    void modesBeyondPermissionBitsAreRejected(int mode) {
        assertRejected(manifest(file("bin/tool", 1, mode, 1)),
                "\"bin/tool\": mode 0" + Integer.toOctalString(mode) + " has bits beyond rwx permissions");
    }

    @Test
    void aNegativeModeIsRejected() {
        assertRejected(manifest(file("f", 1, -1, 1)), "\"f\": mode 0");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 0400, 0644, 0755, 0777})
    void plainPermissionModesPass(int mode) {
        assertDoesNotThrow(() -> ManifestValidator.validate(manifest(file("f", 1, mode, 1)), LIMITS));
    }

    // --- Limits: a hostile peer must not make us allocate, fetch or write without bound.

    @Test
    void moreFilesThanTheLimitAreRejected() {
        Manifest m = manifest(file("a", 1), file("b", 1), file("c", 1));

        assertRejected(m, LIMITS.withMaxFiles(2), "manifest has 3 files, over the limit of 2");
        assertDoesNotThrow(() -> ManifestValidator.validate(m, LIMITS.withMaxFiles(3)));
    }

    @Test
    void moreChunksThanTheLimitAreRejectedNamingTheFileThatPassesIt() {
        Manifest m = manifest(file("a", 2 * CHUNK), file("b", 2 * CHUNK));

        assertRejected(m, LIMITS.withMaxChunks(3), "\"b\": chunk count passes the limit of 3");
        assertDoesNotThrow(() -> ManifestValidator.validate(m, LIMITS.withMaxChunks(4)));
    }

    @Test
    void moreBytesThanTheLimitAreRejectedNamingTheFileThatPassesIt() {
        Manifest m = manifest(file("a", 100), file("b", 100));

        assertRejected(m, LIMITS.withMaxTotalBytes(199), "\"b\": total size passes the limit of 199 bytes");
        assertDoesNotThrow(() -> ManifestValidator.validate(m, LIMITS.withMaxTotalBytes(200)));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -1, (1 << 20) + 1, Integer.MAX_VALUE})
    void chunkSizesOutsideOneByteToOneMebibyteAreRejected(int chunkSize) {
        var e = assertThrows(IllegalArgumentException.class, () -> manifest(chunkSize));
        assertEquals("chunk size " + chunkSize + " is outside [1, 1048576]", e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 4096, 1 << 20})
    void chunkSizesFromOneByteToOneMebibytePass(int chunkSize) {
        assertDoesNotThrow(() -> ManifestValidator.validate(manifest(chunkSize), LIMITS));
    }

    @Test
    void anUnsupportedVersionIsRejected() {
        Manifest m = new Manifest(2, CHUNK, Map.of(), List.of());
        assertRejected(m, "manifest version 2 does not match its chunking (version 1)");
    }

    @Test
    void theFirstOffendingEntryIsNamedAmongMany() {
        List<FileEntry> files = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            files.add(file("f" + i, i));
        }
        files.set(57, file("f57/../../escape", 1));

        assertRejected(manifest(files.toArray(FileEntry[]::new)), "path \"f57/../../escape\"");
    }

    private static ManifestException assertRejected(Manifest m, String messageStart) {
        return assertRejected(m, LIMITS, messageStart);
    }

    private static ManifestException assertRejected(Manifest m, ManifestLimits limits, String messageStart) {
        var e = assertThrows(ManifestException.class, () -> ManifestValidator.validate(m, limits));
        assertTrue(e.getMessage().startsWith(messageStart),
                () -> "message \"" + e.getMessage() + "\" should start with \"" + messageStart + "\"");
        return e;
    }

    @Test
    void limitsHaveTheDocumentedDefaults() {
        assertEquals(24L << 20, LIMITS.maxManifestBytes());
        assertEquals(1_000_000, LIMITS.maxFiles());
        assertEquals(16_000_000L, LIMITS.maxChunks());
        assertEquals(16L << 40, LIMITS.maxTotalBytes());
        assertEquals(1 << 20, LIMITS.maxChunkSize());
        assertEquals(4096, LIMITS.maxPathLength());
    }
}
