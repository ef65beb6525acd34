package io.statesync.core.snapshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.store.ContentStore;
import io.statesync.core.testing.Await;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Item by item, what writing a snapshot's files must survive: names at the file system's limit,
 * deep trees, directories swapped for links while we write, a store inside the output, too
 * little disk, manifests that expand one chunk into gigabytes, and a deadline.
 */
class OutputSafetyTest {
    @TempDir
    Path tmp;

    private static final Cid ROOT = Cid.of(Codec.DAG_JSON, Cid.newDigest().digest("root".getBytes(StandardCharsets.UTF_8)));

    @Test
    void aNameOf255BytesIsWrittenByBothWriters() throws Exception {
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        String name = "n".repeat(255);
        Manifest m = manifest(s, List.of("dir/" + name));

        Materializer.materialize(m, s, tmp.resolve("out1"), true, null);
        assertEquals("dir/" + name, Files.readString(tmp.resolve("out1/dir").resolve(name)));

        assemble(m, s, tmp.resolve("out2"));
        assertEquals("dir/" + name, Files.readString(tmp.resolve("out2/dir").resolve(name)));
    }

    @Test
    void aFileTwoThousandDirectoriesDeepIsWrittenByBothWriters() throws Exception {
        // 4001 bytes of relative path: the absolute path passes PATH_MAX, so this works only if
        // nothing on the way is opened by its whole path (and it once took 94 s of CPU to write).
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        String deep = "a/".repeat(2000) + "f";
        Manifest m = manifest(s, List.of(deep, "top"));

        Materializer.materialize(m, s, tmp.resolve("out1"), true, null);
        assertEquals(deep, readDeep(tmp.resolve("out1"), deep));
        deleteChain(tmp.resolve("out1"));

        assemble(m, s, tmp.resolve("out2"));
        assertEquals(deep, readDeep(tmp.resolve("out2"), deep));
        assertEquals("top", Files.readString(tmp.resolve("out2/top")));
        deleteChain(tmp.resolve("out2"));
    }

    /**
     * Removes {@code out/a/a/.../f} a level at a time, each by a short path (the chain is pulled up
     * by renames): JUnit's own cleanup walks it by whole paths, which took seconds.
     */
    private static void deleteChain(Path out) throws IOException {
        Path link = out.resolve("a");
        Path spare = out.resolve("b");
        while (Files.isDirectory(link, LinkOption.NOFOLLOW_LINKS)) {
            if (Files.exists(link.resolve("a"), LinkOption.NOFOLLOW_LINKS)) {
                Files.move(link.resolve("a"), spare);
            }
            try (Stream<Path> rest = Files.list(link)) {
                for (Path p : rest.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(link);
            if (Files.exists(spare, LinkOption.NOFOLLOW_LINKS)) {
                Files.move(spare, link);
            }
        }
    }

    @Test
    void directoriesSwappedForLinksWhileWritingNeverRedirectAWriteOutside() throws Exception {
        // A second thread keeps replacing out/d with a link to a directory outside and back,
        // while the writers write many files under out/d. Whatever each run's outcome, nothing
        // may appear outside.
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        List<String> paths = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            paths.add("d/e/f" + i);
        }
        Manifest m = manifest(s, paths);
        Path outside = Files.createDirectories(tmp.resolve("outside/e"));
        int refusals = 0;
        for (int round = 0; round < 6; round++) {
            Path out = tmp.resolve("race" + round);
            Files.createDirectories(out.resolve("d/e"));
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger swaps = new AtomicInteger();
            Thread swapper = Thread.ofPlatform().name("link-swapper").start(() -> swapLoop(out, stop, swaps));
            Await.until("the first swap", Duration.ofSeconds(30), () -> swaps.get() > 0); // the race is on before we write
            try {
                if (round % 2 == 0) {
                    Materializer.materialize(m, s, out, true, null);
                } else {
                    assemble(m, s, out);
                }
            } catch (IOException refused) {
                refusals++;
                // a refusal is a fine outcome; a write outside is not
            } finally {
                stop.set(true);
                swapper.join();
            }
            try (Stream<Path> found = Files.walk(tmp.resolve("outside"))) {
                assertEquals(List.of(tmp.resolve("outside"), outside), found.sorted().toList(), "round " + round);
            }
        }
        // Not a timing claim, a sign the race was run: some writer met the link and refused it.
        assertTrue(refusals > 0, "no run ever met the link");
    }

    @Test
    void aStoreInsideTheOutputIsRefusedBeforeAnythingIsWritten() throws Exception {
        Path out = Files.createDirectories(tmp.resolve("home"));
        ContentStore s = ContentStore.open(out.resolve(".statesync/store"));
        Manifest m = manifest(s, List.of("f"));

        var e1 = assertThrows(IOException.class, () -> Materializer.materialize(m, s, out, true, null));
        var e2 = assertThrows(IOException.class, () -> SnapshotAssembly.open(m, ROOT, out, s, 1 << 20));

        for (IOException e : List.of(e1, e2)) {
            assertEquals("refusing to write into " + out.toRealPath() + ": the store " + s.root().toRealPath()
                    + " lies inside it, and the snapshot's files could overwrite its blobs (use another output directory or store)",
                    e.getMessage());
        }
        assertTrue(Files.notExists(out.resolve("f")));
    }

    @Test
    void tooLittleFreeSpaceIsRefusedNamingTheDirectory() throws Exception {
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Cid chunk = s.put(Codec.RAW, new byte[1 << 20]);
        long free = Files.getFileStore(tmp).getUsableSpace();
        int chunks = (int) Math.min(Integer.MAX_VALUE, (free >> 20) + 1024);
        Manifest m = new Manifest(Manifest.VERSION, 1 << 20, Map.of(),
                List.of(new FileEntry("huge", (long) chunks << 20, 0644, Collections.nCopies(chunks, chunk))));
        Path out = tmp.resolve("out");

        var e1 = assertThrows(IOException.class, () -> Materializer.materialize(m, s, out, false, null));
        var e2 = assertThrows(IOException.class, () -> SnapshotAssembly.open(m, ROOT, out, s,
                new SnapshotAssembly.Options(1 << 20, 0, Long.MAX_VALUE)));

        for (IOException e : List.of(e1, e2)) {
            assertTrue(e.getMessage().startsWith("not enough free space in " + out.toRealPath() + ": writing the snapshot needs "),
                    e.getMessage());
        }
        try (Stream<Path> left = Files.list(out)) {
            assertEquals(List.of(), left.filter(p -> !p.getFileName().toString().endsWith(".journal")).toList());
        }
    }

    @Test
    void aManifestRepeatingOneChunkPastTheBoundIsRefusedAndTheBoundCanBeRaised() throws Exception {
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Cid chunk = s.put(Codec.RAW, new byte[4096]);
        Manifest m = new Manifest(Manifest.VERSION, 4096, Map.of(),
                List.of(new FileEntry("f", 300L * 4096, 0644, Collections.nCopies(300, chunk))));

        var e = assertThrows(IOException.class, () -> SnapshotAssembly.open(m, ROOT, tmp.resolve("out"), s, 1 << 20));
        assertEquals("refusing to write the snapshot: its files are 1.2 MiB from 4.0 KiB of distinct chunks, 300 times as much"
                + " (the bound is 100 times; raise it if the snapshot really repeats that much)", e.getMessage());
        assertTrue(Files.notExists(tmp.resolve("out")), "refused before the output directory is touched");

        try (SnapshotAssembly a = SnapshotAssembly.open(m, ROOT, tmp.resolve("out"), s,
                new SnapshotAssembly.Options(1 << 20, 300, Long.MAX_VALUE))) {
            assertEquals(List.of(), a.needed(), "the one chunk came from the store");
            a.finish();
        }
        assertEquals(300L * 4096, Files.size(tmp.resolve("out/f")));
    }

    @Test
    void aDeadlineThatPassesWhileOpeningStopsIt() throws Exception {
        ContentStore s = ContentStore.open(tmp.resolve("store"));
        Manifest m = manifest(s, List.of("a", "b"));

        var e = assertThrows(SnapshotAssembly.DeadlinePassed.class, () -> SnapshotAssembly.open(m, ROOT, tmp.resolve("out"), s,
                new SnapshotAssembly.Options(1 << 20, 100, System.nanoTime() - 1)));
        assertEquals("the deadline passed while preparing the output directory", e.getMessage());
    }

    /** One file per path, each holding its own path as bytes. */
    private static Manifest manifest(ContentStore s, List<String> paths) throws IOException {
        List<FileEntry> files = new ArrayList<>();
        for (String p : paths) {
            byte[] bytes = p.getBytes(StandardCharsets.UTF_8);
            files.add(new FileEntry(p, bytes.length, 0644, List.of(s.put(Codec.RAW, bytes))));
        }
        return new Manifest(Manifest.VERSION, 1 << 20, Map.of(), files);
    }

    /** Assembles every file from the store alone (nothing to fetch). */
    private static void assemble(Manifest m, ContentStore s, Path out) throws Exception {
        try (SnapshotAssembly a = SnapshotAssembly.open(m, ROOT, out, s, 1 << 20)) {
            assertEquals(List.of(), a.needed());
            a.finish();
        }
    }

    /** Reads a file whose absolute path is too long to open at once: by walking down relative to a handle. */
    private static String readDeep(Path out, String relative) throws IOException {
        try (OutputTree tree = OutputTree.open(out); OutputTree.Directory dir = tree.directoryOf(relative);
             var ch = dir.openFile(relative.substring(relative.lastIndexOf('/') + 1), java.nio.file.StandardOpenOption.READ)) {
            var buf = java.nio.ByteBuffer.allocate((int) ch.size());
            while (buf.hasRemaining() && ch.read(buf) >= 0) {
                // keep reading
            }
            return new String(buf.array(), StandardCharsets.UTF_8);
        }
    }

    private void swapLoop(Path out, AtomicBoolean stop, AtomicInteger swaps) {
        Path d = out.resolve("d");
        Path parked = out.resolve("parked");
        Path link = out.resolve("link");
        while (!stop.get()) {
            try {
                Files.deleteIfExists(link);
                Files.createSymbolicLink(link, tmp.resolve("outside"));
                Files.move(d, parked, StandardCopyOption.ATOMIC_MOVE);
                Files.move(link, d, StandardCopyOption.ATOMIC_MOVE);
                swaps.incrementAndGet();
                Thread.sleep(1); // the link stays most of the time, the directory comes back briefly
                Files.move(d, link, StandardCopyOption.ATOMIC_MOVE);
                Files.move(parked, d, StandardCopyOption.ATOMIC_MOVE);
            } catch (InterruptedException e) {
                return;
            } catch (IOException e) {
                // raced with the writer or itself: try again
                if (Files.isDirectory(parked, LinkOption.NOFOLLOW_LINKS) && !Files.exists(d, LinkOption.NOFOLLOW_LINKS)) {
                    try {
                        Files.move(parked, d, StandardCopyOption.ATOMIC_MOVE);
                    } catch (IOException ignored) {
                        // next round
                    }
                }
            }
        }
    }
}
