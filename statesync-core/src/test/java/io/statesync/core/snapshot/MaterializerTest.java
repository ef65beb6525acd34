package io.statesync.core.snapshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.store.ContentStore;
import io.statesync.core.store.DigestMismatchException;
import io.statesync.core.store.TempFile;
import io.statesync.core.testing.TestTrees;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MaterializerTest {
    private static final int SMALL_CHUNK = 4096;

    @TempDir
    Path tmp;

    private Path src;
    private ContentStore store;

    @ParameterizedTest(name = "chunk size {0}")
    @ValueSource(ints = {SMALL_CHUNK, SnapshotImporter.DEFAULT_CHUNK_SIZE})
    void aMaterializedSnapshotIsByteIdenticalWithModes(int chunkSize) throws Exception {
        Manifest m = snapshotOf(20, 40, 3L << 20, chunkSize);
        Path out = tmp.resolve("out");

        Materializer.materialize(m, store, out, true, null);

        TestTrees.assertSameTree(src, out);
    }

    @Test
    void withoutVerificationTheResultIsTheSame() throws Exception {
        Manifest m = snapshotOf(21, 15, 200_000, SMALL_CHUNK);
        Path out = tmp.resolve("out");

        Materializer.materialize(m, store, out, false, null);

        TestTrees.assertSameTree(src, out);
    }

    @Test
    void progressReportsEveryByteOnce() throws Exception {
        Manifest m = snapshotOf(22, 15, 200_000, SMALL_CHUNK);
        AtomicLong reported = new AtomicLong();

        Materializer.materialize(m, store, tmp.resolve("out"), true, reported::addAndGet);

        assertEquals(m.totalBytes(), reported.get());
    }

    @Test
    void theOutputDirectoryAndItsParentsAreCreated() throws Exception {
        Manifest m = snapshotOf(23, 5, 10_000, SMALL_CHUNK);
        Path out = tmp.resolve("deep/new/out");

        Materializer.materialize(m, store, out, true, null);

        TestTrees.assertSameTree(src, out);
    }

    @Test
    void materializingAgainReplacesChangedFilesAndLeavesOthersAlone() throws Exception {
        Manifest m = snapshotOf(24, 10, 50_000, SMALL_CHUNK);
        Path out = tmp.resolve("out");
        Materializer.materialize(m, store, out, true, null);
        Path someFile = out.resolve(m.files().get(0).path());
        Files.writeString(someFile, "local edit");
        TestTrees.setMode(someFile, "rwxrwxrwx");
        Path unrelated = Files.writeString(out.resolve("unrelated.txt"), "mine");

        Materializer.materialize(m, store, out, true, null);

        Files.delete(unrelated);
        TestTrees.assertSameTree(src, out);
    }

    // --- Corruption and loss in the store: nothing unverified may get a final name.

    @Test
    void aChunkCorruptedOnDiskIsCaughtWhenVerifying() throws Exception {
        Manifest m = snapshotOf(25, 10, 100_000, SMALL_CHUNK);
        FileEntry victim = largestFile(m);
        Cid bad = victim.chunks().get(victim.chunks().size() / 2);
        overwriteWithOtherBytesOfSameLength(store.pathOf(bad));
        Path out = tmp.resolve("out");

        var e = assertThrows(DigestMismatchException.class, () -> Materializer.materialize(m, store, out, true, null));

        assertEquals(bad, e.expected());
        assertFalse(Files.exists(out.resolve(victim.path())), "the damaged file must not appear");
        assertEquals(List.of(), partFiles(out));
        assertFalse(store.has(bad), "the corrupt chunk is deleted, so that a fetch gets it again");
        assertTrue(store.has(victim.chunks().get(0)), "intact chunks stay");
    }

    @Test
    void aMissingChunkNamesTheFileAndTheChunk() throws Exception {
        Manifest m = snapshotOf(26, 10, 100_000, SMALL_CHUNK);
        FileEntry victim = largestFile(m);
        Cid gone = victim.chunks().get(1);
        assertTrue(store.delete(gone));
        Path out = tmp.resolve("out");

        var e = assertThrows(IOException.class, () -> Materializer.materialize(m, store, out, false, null));

        assertEquals("chunk 1 of \"" + victim.path() + "\" (" + gone + ") is not in the store", e.getMessage());
        assertFalse(Files.exists(out.resolve(victim.path())));
        assertEquals(List.of(), partFiles(out));
    }

    @Test
    void aChunkOfTheWrongLengthIsCaughtEvenWithoutVerifying() throws Exception {
        Manifest m = snapshotOf(27, 10, 100_000, SMALL_CHUNK);
        FileEntry victim = largestFile(m);
        Cid shortChunk = victim.chunks().get(0);
        Files.write(store.pathOf(shortChunk), new byte[100]);
        Path out = tmp.resolve("out");

        var e = assertThrows(IOException.class, () -> Materializer.materialize(m, store, out, false, null));

        assertEquals("chunk 0 of \"" + victim.path() + "\" (" + shortChunk + ") is 100 bytes in the store, the manifest needs "
                + SMALL_CHUNK, e.getMessage());
        assertFalse(Files.exists(out.resolve(victim.path())));
        assertEquals(List.of(), partFiles(out));
        assertFalse(store.has(shortChunk), "its bytes do not match its CID: deleted");
    }

    @Test
    void aChunkOfAnotherLengthThanTheManifestSaysIsKeptWhenItIsIntact() throws Exception {
        // A manifest may be wrong about a chunk (it fails), but a blob that matches its CID stays.
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Cid real = s.put(Codec.RAW, new byte[100]);
        Manifest lying = new Manifest(Manifest.VERSION, SMALL_CHUNK, Map.of(),
                List.of(new FileEntry("f", 200, 0644, List.of(real))));

        assertThrows(IOException.class, () -> Materializer.materialize(lying, s, tmp.resolve("out"), false, null));

        assertTrue(s.has(real));
    }

    @Test
    void aFailedWriteKeepsThePreviousVersionOfTheFile() throws Exception {
        Manifest m = snapshotOf(28, 5, 50_000, SMALL_CHUNK);
        FileEntry victim = largestFile(m);
        Path out = tmp.resolve("out");
        Materializer.materialize(m, store, out, true, null);
        byte[] previous = Files.readAllBytes(out.resolve(victim.path()));
        overwriteWithOtherBytesOfSameLength(store.pathOf(victim.chunks().get(0)));

        assertThrows(DigestMismatchException.class, () -> Materializer.materialize(m, store, out, true, null));

        assertArrayEquals(previous, Files.readAllBytes(out.resolve(victim.path())), "the old version stays");
        assertEquals(List.of(), partFiles(out));
    }

    // --- Leftovers of a run killed mid-write.

    @Test
    void removeLeftoversTakesOnlyTempFilesOfDeadWritersNamedAsOurs() throws Exception {
        Manifest m = snapshotOf(29, 5, 50_000, SMALL_CHUNK);
        Path out = tmp.resolve("out");
        Materializer.materialize(m, store, out, true, null);
        String uuid = "0f8e2a4c-1b3d-4e5f-8a7b-9c0d1e2f3a4b";
        // As a killed run leaves them: beside their targets, at any depth, not yet renamed.
        Path top = Files.write(out.resolve(".state.bin." + uuid + ".statesync-part"), new byte[4096]);
        String nested = m.files().stream().map(FileEntry::path).filter(p -> p.contains("/")).findFirst().orElseThrow();
        Path deep = Files.write(out.resolve(nested).resolveSibling(".0001.idx." + uuid + ".statesync-part"), new byte[10]);
        // Files of the user's that merely look alike.
        List<Path> users = List.of(
                Files.write(out.resolve("notes.statesync-part"), new byte[1]),
                Files.write(out.resolve(".x.not-a-uuid.statesync-part"), new byte[1]),
                Files.write(out.resolve(".x." + uuid + ".statesync-part.bak"), new byte[1]),
                Files.write(out.resolve("x." + uuid + ".statesync-part"), new byte[1]));
        // And one a live writer (here: this process) is filling.
        try (TempFile live = TempFile.create(out, ".big.", ".statesync-part")) {
            live.channel().write(java.nio.ByteBuffer.wrap(new byte[7]));

            assertEquals(2, Materializer.removeLeftovers(out));

            assertFalse(Files.exists(top));
            assertFalse(Files.exists(deep));
            for (Path u : users) {
                assertTrue(Files.exists(u), "a user's file stays: " + u.getFileName());
            }
            assertTrue(Files.exists(live.path()), "a live writer's file stays");
        }
        for (Path u : users) {
            Files.delete(u);
        }
        TestTrees.assertSameTree(src, out);
        assertEquals(0, Materializer.removeLeftovers(tmp.resolve("never-created")));
    }

    // --- The output directory may hold traps; nothing may be written outside it.

    @Test
    void aSymlinkInTheOutputPointingOutsideIsRefusedAndNothingIsWrittenThere() throws Exception {
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Path out = Files.createDirectories(tmp.resolve("out"));
        Files.createSymbolicLink(out.resolve("a"), outside);
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Manifest m = manifestOf(s, "a/b/c", "a/x");

        var e = assertThrows(IOException.class, () -> Materializer.materialize(m, s, out, true, null));

        assertTrue(e.getMessage().startsWith("refusing to write \"a/"), e.getMessage());
        assertEquals(List.of(), listing(outside), "not even a directory may be created through the link");
    }

    @Test
    void aSymlinkInTheOutputPointingOutsideIsRefusedForADirectChild() throws Exception {
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Path out = Files.createDirectories(tmp.resolve("out"));
        Files.createSymbolicLink(out.resolve("a"), outside);
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Manifest m = manifestOf(s, "a/x");

        var e = assertThrows(IOException.class, () -> Materializer.materialize(m, s, out, true, null));

        assertEquals("refusing to write \"a/x\": \"a\" in " + out.toRealPath()
                + " is a symbolic link (links in the output directory are never followed)", e.getMessage());
        assertEquals(List.of(), listing(outside));
    }

    @Test
    void aDanglingSymlinkInThePathIsRefused() throws Exception {
        Path out = Files.createDirectories(tmp.resolve("out"));
        Files.createSymbolicLink(out.resolve("a"), tmp.resolve("nowhere"));
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Manifest m = manifestOf(s, "a/x");

        var e = assertThrows(IOException.class, () -> Materializer.materialize(m, s, out, true, null));

        assertTrue(e.getMessage().startsWith("refusing to write \"a/x\""), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("nowhere")));
    }

    @Test
    void aSymlinkEvenToADirectoryInsideTheOutputIsRefused() throws Exception {
        // Links are never followed, wherever they point: a link that is harmless when checked
        // can be repointed the moment after, so only refusing them all closes the race.
        Path out = Files.createDirectories(tmp.resolve("out"));
        Path real = Files.createDirectories(out.resolve("real"));
        Files.createSymbolicLink(out.resolve("alias"), real);
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Manifest m = manifestOf(s, "alias/x");

        var e = assertThrows(IOException.class, () -> Materializer.materialize(m, s, out, true, null));

        assertTrue(e.getMessage().startsWith("refusing to write \"alias/x\": \"alias\""), e.getMessage());
        assertEquals(List.of(), listing(real));
    }

    @Test
    void aSymlinkAtTheTargetIsReplacedNotFollowed() throws Exception {
        Path victim = Files.writeString(tmp.resolve("victim"), "precious");
        Path out = Files.createDirectories(tmp.resolve("out"));
        Files.createSymbolicLink(out.resolve("f"), victim);
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Manifest m = manifestOf(s, "f");

        Materializer.materialize(m, s, out, true, null);

        assertEquals("precious", Files.readString(victim));
        assertTrue(Files.isRegularFile(out.resolve("f"), LinkOption.NOFOLLOW_LINKS));
        assertEquals("f", Files.readString(out.resolve("f")));
    }

    @Test
    void anExistingDirectoryWhereAFileShouldGoIsAnError() throws Exception {
        Path out = Files.createDirectories(tmp.resolve("out"));
        Files.createDirectories(out.resolve("data/f"));
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Manifest m = manifestOf(s, "data/f");

        var e = assertThrows(IOException.class, () -> Materializer.materialize(m, s, out, true, null));

        assertEquals("cannot write \"data/f\": a directory of that name exists in " + out.toRealPath(), e.getMessage());
        assertTrue(Files.isDirectory(out.resolve("data/f")));
        assertEquals(List.of(), partFiles(out));
    }

    @Test
    void anExistingFileWhereADirectoryShouldGoIsAnError() throws Exception {
        Path out = Files.createDirectories(tmp.resolve("out"));
        Files.writeString(out.resolve("data"), "a file");
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Manifest m = manifestOf(s, "data/f");

        var e = assertThrows(IOException.class, () -> Materializer.materialize(m, s, out, true, null));

        assertTrue(e.getMessage().startsWith("cannot write \"data/f\": "), e.getMessage());
        assertEquals("a file", Files.readString(out.resolve("data")));
    }

    @Test
    void anInvalidManifestIsRefusedBeforeAnythingIsWritten() throws Exception {
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Path out = tmp.resolve("out");
        Manifest m = new Manifest(Manifest.VERSION, SMALL_CHUNK, Map.of(),
                List.of(new FileEntry("ok", 0, 0644, List.of()), new FileEntry("../escape", 0, 0644, List.of())));

        assertThrows(ManifestException.class, () -> Materializer.materialize(m, s, out, true, null));

        assertFalse(Files.exists(out));
        assertFalse(Files.exists(tmp.resolve("escape")));
    }

    /** Imports a fresh generated tree into a fresh store; both are kept in fields. */
    private Manifest snapshotOf(long seed, int files, long bytes, int chunkSize) throws Exception {
        src = tmp.resolve("src");
        TestTrees.write(src, seed, files, bytes, chunkSize);
        store = ContentStore.open(tmp.resolve("store"));
        return SnapshotImporter.importPaths(store, List.of(src), chunkSize, Map.of()).manifest();
    }

    /** A snapshot whose files each hold their own path as content. */
    private static Manifest manifestOf(ContentStore s, String... paths) throws IOException {
        List<FileEntry> files = new ArrayList<>();
        for (String p : paths) {
            Cid cid = s.put(Codec.RAW, p.getBytes());
            files.add(new FileEntry(p, p.length(), 0644, List.of(cid)));
        }
        return new Manifest(Manifest.VERSION, SMALL_CHUNK, Map.of(), files);
    }

    private static FileEntry largestFile(Manifest m) {
        FileEntry largest = m.files().stream().max(Comparator.comparingLong(FileEntry::size)).orElseThrow();
        assertTrue(largest.chunks().size() >= 2, "the test needs a file of several chunks");
        return largest;
    }

    private static void overwriteWithOtherBytesOfSameLength(Path blob) throws IOException {
        byte[] bytes = Files.readAllBytes(blob);
        byte[] other = new byte[bytes.length];
        new SplittableRandom(99).nextBytes(other);
        assertFalse(Arrays.equals(bytes, other));
        Files.write(blob, other);
    }

    /** Temp files the materializer may have left anywhere under {@code dir}. */
    private static List<Path> partFiles(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return List.of();
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            return walk.filter(p -> p.getFileName().toString().endsWith(".statesync-part")).toList();
        }
    }

    private static List<Path> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.toList();
        }
    }
}
