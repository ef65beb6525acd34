package io.statesync.core.snapshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.store.ContentStore;
import io.statesync.core.testing.TestTrees;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnapshotImporterTest {
    private static final int SMALL_CHUNK = 4096;

    @TempDir
    Path tmp;

    @Test
    void aSingleDirectoryContributesItsContentsAtTheRoot() throws Exception {
        Path src = tmp.resolve("src");
        List<Path> written = TestTrees.write(src, 1, 25, 300_000);
        ContentStore store = ContentStore.open(tmp.resolve("store"));

        SnapshotRef ref = SnapshotImporter.importPaths(store, List.of(src), SMALL_CHUNK, Map.of("height", "42"));

        Manifest m = ref.manifest();
        assertEquals(written.stream().map(Path::toString).toList(), m.files().stream().map(FileEntry::path).toList());
        assertEquals(SMALL_CHUNK, m.chunkSize());
        assertEquals(Map.of("height", "42"), m.metadata());
        assertEquals(300_000, m.totalBytes());
        for (FileEntry f : m.files()) {
            Path file = src.resolve(f.path());
            assertEquals(Files.size(file), f.size(), f.path());
            assertEquals(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)), rwx(f.mode()), f.path());
            assertChunksAreTheFileCut(file, f, SMALL_CHUNK, store);
        }
    }

    @Test
    void theGeneratedTreeCoversEmptyAlignedAndUnalignedFiles() throws Exception {
        // Guards the fixture: the interesting sizes must really occur in the trees we import.
        Path src = tmp.resolve("src");
        TestTrees.write(src, 2, 30, 500_000);
        ContentStore store = ContentStore.open(tmp.resolve("store"));

        Manifest m = SnapshotImporter.importPaths(store, List.of(src), SMALL_CHUNK, Map.of()).manifest();

        assertTrue(m.files().stream().anyMatch(f -> f.size() == 0), "an empty file");
        assertTrue(m.files().stream().anyMatch(f -> f.size() > 0 && f.size() % SMALL_CHUNK == 0), "an aligned file");
        assertTrue(m.files().stream().anyMatch(f -> f.size() % SMALL_CHUNK != 0), "an unaligned file");
        assertTrue(m.files().stream().anyMatch(f -> f.path().contains("/")), "a nested file");
        assertTrue(m.files().stream().map(FileEntry::mode).distinct().count() > 1, "several modes");
        assertTrue(m.files().stream().filter(f -> f.size() == 0).allMatch(f -> f.chunks().isEmpty()));
    }

    @Test
    void theDefaultChunkSizeCutsMebibyteChunks() throws Exception {
        Path src = tmp.resolve("src");
        TestTrees.write(src, 3, 3, 5L << 20, SnapshotImporter.DEFAULT_CHUNK_SIZE);
        ContentStore store = ContentStore.open(tmp.resolve("store"));

        Manifest m = SnapshotImporter.importPaths(store, List.of(src), SnapshotImporter.DEFAULT_CHUNK_SIZE, Map.of())
                .manifest();

        assertEquals(1 << 20, m.chunkSize());
        for (FileEntry f : m.files()) {
            assertChunksAreTheFileCut(src.resolve(f.path()), f, 1 << 20, store);
        }
        assertTrue(m.chunkCount() >= 5);
    }

    @Test
    void severalInputsEachAppearUnderTheirOwnName() throws Exception {
        Path alpha = tmp.resolve("in/alpha");
        Path gamma = tmp.resolve("in/gamma");
        List<Path> alphaFiles = TestTrees.write(alpha, 4, 5, 20_000);
        List<Path> gammaFiles = TestTrees.write(gamma, 5, 5, 20_000);
        Path beta = Files.writeString(tmp.resolve("in/beta.txt"), "beta");
        ContentStore store = ContentStore.open(tmp.resolve("store"));

        Manifest m = SnapshotImporter.importPaths(store, List.of(gamma, beta, alpha), SMALL_CHUNK, Map.of()).manifest();

        List<String> expected = new ArrayList<>();
        alphaFiles.forEach(p -> expected.add("alpha/" + p));
        expected.add("beta.txt");
        gammaFiles.forEach(p -> expected.add("gamma/" + p));
        assertEquals(expected, m.files().stream().map(FileEntry::path).toList(), "sorted, whatever the input order");
    }

    @Test
    void aSingleRegularFileIsImportedUnderItsName() throws Exception {
        Path file = Files.writeString(tmp.resolve("state.db"), "hello world");
        ContentStore store = ContentStore.open(tmp.resolve("store"));

        Manifest m = SnapshotImporter.importPaths(store, List.of(file), SMALL_CHUNK, Map.of()).manifest();

        assertEquals(1, m.files().size());
        FileEntry f = m.files().get(0);
        assertEquals("state.db", f.path());
        assertEquals(List.of(Cid.parse("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e")), f.chunks());
    }

    @Test
    void aRelativeInputWithDotSegmentsIsNamedByItsRealName() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data"));
        Files.writeString(dir.resolve("x"), "x");
        Path other = Files.writeString(tmp.resolve("y"), "y");
        ContentStore store = ContentStore.open(tmp.resolve("store"));

        Manifest m = SnapshotImporter.importPaths(store, List.of(dir.resolve("."), other), SMALL_CHUNK, Map.of())
                .manifest();

        assertEquals(List.of("data/x", "y"), m.files().stream().map(FileEntry::path).toList());
    }

    @Test
    void theSameTreeAlwaysGivesTheSameRoot() throws Exception {
        Path first = tmp.resolve("first");
        Path second = tmp.resolve("elsewhere/second");
        TestTrees.write(first, 6, 20, 100_000);
        TestTrees.write(second, 6, 20, 100_000);
        ContentStore store = ContentStore.open(tmp.resolve("store"));
        ContentStore otherStore = ContentStore.open(tmp.resolve("other-store"));

        SnapshotRef a = SnapshotImporter.importPaths(store, List.of(first), SMALL_CHUNK, Map.of("h", "1"));
        SnapshotRef again = SnapshotImporter.importPaths(store, List.of(first), SMALL_CHUNK, Map.of("h", "1"));
        SnapshotRef moved = SnapshotImporter.importPaths(otherStore, List.of(second), SMALL_CHUNK, Map.of("h", "1"));

        assertEquals(a.root(), again.root());
        assertEquals(a.root(), moved.root(), "the root depends on contents, not on where the tree lies");
        assertEquals(Codec.DAG_JSON, a.root().codec());
        assertEquals(ManifestCodec.cidOf(a.manifest()), a.root());
        List<String> paths = a.manifest().files().stream().map(FileEntry::path).toList();
        assertEquals(paths.stream().sorted().toList(), paths);
    }

    @Test
    void differentMetadataOrChunkSizeGivesADifferentRoot() throws Exception {
        Path src = tmp.resolve("src");
        TestTrees.write(src, 7, 5, 50_000);
        ContentStore store = ContentStore.open(tmp.resolve("store"));

        Cid base = SnapshotImporter.importPaths(store, List.of(src), SMALL_CHUNK, Map.of("h", "1")).root();

        assertNotEquals(base, SnapshotImporter.importPaths(store, List.of(src), SMALL_CHUNK, Map.of("h", "2")).root());
        assertNotEquals(base, SnapshotImporter.importPaths(store, List.of(src), 8192, Map.of("h", "1")).root());
    }

    @Test
    void theStoredManifestLoadsBackEqual() throws Exception {
        Path src = tmp.resolve("src");
        TestTrees.write(src, 8, 10, 40_000);
        ContentStore store = ContentStore.open(tmp.resolve("store"));
        SnapshotRef ref = SnapshotImporter.importPaths(store, List.of(src), SMALL_CHUNK, Map.of("height", "9"));

        Manifest loaded = SnapshotImporter.loadManifest(store, ref.root(), ManifestLimits.DEFAULT);

        assertEquals(ref.manifest(), loaded);
        assertTrue(store.has(ref.root()));
    }

    @Test
    void loadingARawBlockAsAManifestIsRefused() throws Exception {
        ContentStore store = ContentStore.open(tmp.resolve("store"));
        Cid raw = store.put(Codec.RAW, "{}".getBytes());

        var e = assertThrows(ManifestException.class,
                () -> SnapshotImporter.loadManifest(store, raw, ManifestLimits.DEFAULT));
        assertEquals(raw + " is a raw block, not a snapshot manifest (dag-json)", e.getMessage());
    }

    @Test
    void identicalFilesShareTheirChunks() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src"));
        byte[] data = new byte[3 * SMALL_CHUNK + 100];
        new SplittableRandom(9).nextBytes(data);
        Files.write(src.resolve("a"), data);
        Files.write(src.resolve("b"), data);
        ContentStore store = ContentStore.open(tmp.resolve("store"));

        Manifest m = SnapshotImporter.importPaths(store, List.of(src), SMALL_CHUNK, Map.of()).manifest();

        assertEquals(m.files().get(0).chunks(), m.files().get(1).chunks());
        assertEquals(4 + 1, store.blobCount(), "four chunks once each, plus the manifest");
    }

    @Test
    void anEmptyDirectoryIsAnEmptySnapshot() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src/only/empty/dirs"));
        ContentStore store = ContentStore.open(tmp.resolve("store"));

        Manifest m = SnapshotImporter.importPaths(store, List.of(tmp.resolve("src")), SMALL_CHUNK, Map.of()).manifest();

        assertEquals(List.of(), m.files());
        assertTrue(Files.isDirectory(src));
    }

    // --- Refusals.

    @Test
    void aSymlinkInsideTheTreeIsRefusedBeforeAnythingIsStored() throws Exception {
        Path src = tmp.resolve("src");
        TestTrees.write(src, 10, 5, 10_000);
        Path outside = Files.writeString(tmp.resolve("secret"), "do not share");
        Files.createSymbolicLink(src.resolve("link"), outside);
        ContentStore store = ContentStore.open(tmp.resolve("store"));

        var e = assertThrows(IOException.class,
                () -> SnapshotImporter.importPaths(store, List.of(src), SMALL_CHUNK, Map.of()));

        assertTrue(e.getMessage().startsWith("refusing to import symbolic link "), e.getMessage());
        assertTrue(e.getMessage().endsWith("link"), e.getMessage());
        assertEquals(0, store.blobCount());
    }

    @Test
    void aSymlinkToADirectoryInsideTheTreeIsRefused() throws Exception {
        Path src = tmp.resolve("src");
        TestTrees.write(src, 11, 3, 1_000);
        Path outsideDir = tmp.resolve("outside");
        TestTrees.write(outsideDir, 12, 3, 1_000);
        Files.createSymbolicLink(src.resolve("dirlink"), outsideDir);
        ContentStore store = ContentStore.open(tmp.resolve("store"));

        var e = assertThrows(IOException.class,
                () -> SnapshotImporter.importPaths(store, List.of(src), SMALL_CHUNK, Map.of()));
        assertTrue(e.getMessage().startsWith("refusing to import symbolic link "), e.getMessage());
    }

    @Test
    void aSymlinkGivenAsInputIsRefused() throws Exception {
        Path src = tmp.resolve("src");
        TestTrees.write(src, 13, 3, 1_000);
        Path dirLink = Files.createSymbolicLink(tmp.resolve("dir-link"), src);
        Path fileLink = Files.createSymbolicLink(tmp.resolve("file-link"), TestTrees.regularFiles(src).get(0));
        ContentStore store = ContentStore.open(tmp.resolve("store"));

        for (Path link : List.of(dirLink, fileLink)) {
            var e = assertThrows(IOException.class,
                    () -> SnapshotImporter.importPaths(store, List.of(link), SMALL_CHUNK, Map.of()));
            assertEquals("refusing to import symbolic link " + link, e.getMessage());
        }
    }

    @Test
    void aMissingInputIsReported() throws Exception {
        ContentStore store = ContentStore.open(tmp.resolve("store"));
        Path missing = tmp.resolve("missing");
        Path present = Files.writeString(tmp.resolve("present"), "x");

        var e = assertThrows(IOException.class,
                () -> SnapshotImporter.importPaths(store, List.of(present, missing), SMALL_CHUNK, Map.of()));
        assertEquals("no such file: " + missing, e.getMessage());
    }

    @Test
    void noInputsIsAnError() throws Exception {
        ContentStore store = ContentStore.open(tmp.resolve("store"));

        assertThrows(IllegalArgumentException.class,
                () -> SnapshotImporter.importPaths(store, List.of(), SMALL_CHUNK, Map.of()));
    }

    @Test
    void chunkSizesOutsideTheLimitsAreRefusedBeforeAnyChunkIsStored() throws Exception {
        Path src = tmp.resolve("src");
        TestTrees.write(src, 14, 3, 10_000);
        ContentStore store = ContentStore.open(tmp.resolve("store"));

        for (int chunkSize : new int[] {0, -1, (1 << 20) + 1}) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> SnapshotImporter.importPaths(store, List.of(src), chunkSize, Map.of()));
            assertEquals("chunk size " + chunkSize + " is outside [1, 1048576]", e.getMessage());
        }
        assertEquals(0, store.blobCount());
    }

    @Test
    void twoInputsWithTheSameNameAreADuplicatePath() throws Exception {
        Path a = Files.createDirectories(tmp.resolve("a/data"));
        Path b = Files.createDirectories(tmp.resolve("b/data"));
        Files.writeString(a.resolve("f"), "1");
        Files.writeString(b.resolve("f"), "2");
        ContentStore store = ContentStore.open(tmp.resolve("store"));

        var e = assertThrows(ManifestException.class,
                () -> SnapshotImporter.importPaths(store, List.of(a, b), SMALL_CHUNK, Map.of()));
        assertEquals("duplicate path \"data/f\"", e.getMessage());
    }

    // --- Delta: what makes a node that holds the previous snapshot download little.

    @Test
    void afterOnePercentChangesMostChunksAreShared() throws Exception {
        Path src = tmp.resolve("src");
        TestTrees.write(src, 15, 40, 2L << 20);
        ContentStore store = ContentStore.open(tmp.resolve("store"));
        Manifest before = SnapshotImporter.importPaths(store, List.of(src), SMALL_CHUNK, Map.of()).manifest();

        long changed = TestTrees.mutate(src, 16, 0.01);
        Manifest after = SnapshotImporter.importPaths(store, List.of(src), SMALL_CHUNK, Map.of()).manifest();

        Set<Cid> held = new HashSet<>();
        before.files().forEach(f -> held.addAll(f.chunks()));
        long newChunks = 0;
        long newBytes = 0;
        for (FileEntry f : after.files()) {
            for (int i = 0; i < f.chunks().size(); i++) {
                if (!held.contains(f.chunks().get(i))) {
                    newChunks++;
                    newBytes += Manifest.chunkLength(f.size(), after.chunkSize(), i);
                }
            }
        }
        assertTrue(changed >= 0.01 * (2L << 20), "the mutation rewrote about 1 % of the bytes");
        assertTrue(newChunks > 0, "something changed");
        assertEquals(before.totalBytes(), after.totalBytes(), "a mutation keeps sizes");
        // Each 4 KiB range touches at most two 4 KiB chunks: about 2 % of bytes, far under 5 %.
        assertTrue(newBytes <= 0.05 * after.totalBytes(),
                "new bytes " + newBytes + " of " + after.totalBytes() + " (" + newChunks + " chunks)");
        assertTrue(newChunks <= 0.05 * after.chunkCount(), newChunks + " of " + after.chunkCount() + " chunks are new");
    }

    @Test
    void mutationIsDeterministic() throws Exception {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        TestTrees.write(a, 17, 10, 100_000);
        TestTrees.write(b, 17, 10, 100_000);

        TestTrees.mutate(a, 18, 0.05);
        TestTrees.mutate(b, 18, 0.05);

        TestTrees.assertSameTree(a, b);
    }

    /** Re-cuts the file on disk and compares the pieces with the chunks the entry lists. */
    private static void assertChunksAreTheFileCut(Path file, FileEntry f, int chunkSize, ContentStore store)
            throws IOException {
        byte[] data = Files.readAllBytes(file);
        assertEquals(Manifest.chunksFor(data.length, chunkSize), f.chunks().size(), f.path());
        for (int i = 0; i < f.chunks().size(); i++) {
            byte[] piece = Arrays.copyOfRange(data, i * chunkSize, Math.min(data.length, (i + 1) * chunkSize));
            Cid cid = f.chunks().get(i);
            assertEquals(Cid.compute(Codec.RAW, piece), cid, f.path() + " chunk " + i);
            assertArrayEquals(piece, store.readAll(cid));
        }
    }

    private static String rwx(int mode) {
        StringBuilder sb = new StringBuilder();
        String letters = "rwxrwxrwx";
        for (int bit = 0; bit < 9; bit++) {
            sb.append((mode & (1 << (8 - bit))) != 0 ? letters.charAt(bit) : '-');
        }
        return sb.toString();
    }
}
