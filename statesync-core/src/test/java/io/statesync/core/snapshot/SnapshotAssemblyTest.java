package io.statesync.core.snapshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.chunking.Chunking;
import io.statesync.core.cid.Cid;
import io.statesync.core.store.ContentStore;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnapshotAssemblyTest {
    private static final Chunking CDC = Chunking.ContentDefined.ofAverage(4096);

    @TempDir
    Path tmp;

    @Test
    void chunksWrittenButNeverSyncedAreReverifiedAndACorruptOneIsFetchedAgain() throws Exception {
        byte[] data = random(1, 256 << 10);
        Fixture fx = fixture(data);
        List<SnapshotAssembly.Needed> all;
        // First run: half the chunks arrive, then the process "dies" before any sync: the
        // journal never got them (emptied here, as a crash before its append would leave it).
        try (SnapshotAssembly a = SnapshotAssembly.open(fx.manifest, fx.root, fx.out, null, Long.MAX_VALUE)) {
            all = a.needed();
            for (SnapshotAssembly.Needed n : all.subList(0, all.size() / 2)) {
                byte[] b = fx.origin.readAll(n.cid());
                a.write(n.cid(), b, b.length);
            }
        }
        Path journal = only(fx.out, ".journal");
        Path part = only(fx.out, ".statesync-fetch");
        try (FileChannel j = FileChannel.open(journal, StandardOpenOption.WRITE)) {
            j.truncate(0);
        }
        // One of the unsynced writes was torn: a byte of the second chunk differs on disk.
        long secondChunkAt = fx.manifest.chunkLength(fx.manifest.files().get(0), 0);
        flip(part, secondChunkAt + 3);

        try (SnapshotAssembly a = SnapshotAssembly.open(fx.manifest, fx.root, fx.out, null, Long.MAX_VALUE)) {
            List<SnapshotAssembly.Needed> needed = a.needed();
            assertEquals(all.size() - all.size() / 2 + 1, needed.size(), "the intact unsynced writes count, the torn one not");
            assertTrue(needed.contains(all.get(1)), "the torn chunk is needed again");
            for (SnapshotAssembly.Needed n : needed) {
                byte[] b = fx.origin.readAll(n.cid());
                a.write(n.cid(), b, b.length);
            }
            a.finish();
        }
        assertArrayEquals(data, Files.readAllBytes(fx.out.resolve("state.bin")));
        assertEquals(List.of("state.bin"), names(fx.out), "no part file or journal is left");
    }

    @Test
    void journaledChunksAreTrustedOnlyWhileTheirPartFileExists() throws Exception {
        byte[] data = random(2, 128 << 10);
        Fixture fx = fixture(data);
        int total;
        try (SnapshotAssembly a = SnapshotAssembly.open(fx.manifest, fx.root, fx.out, null, 1)) {
            List<SnapshotAssembly.Needed> all = a.needed();
            total = all.size();
            for (SnapshotAssembly.Needed n : all.subList(0, 3)) {
                byte[] b = fx.origin.readAll(n.cid());
                a.write(n.cid(), b, b.length);
            }
        }
        try (SnapshotAssembly a = SnapshotAssembly.open(fx.manifest, fx.root, fx.out, null, 1)) {
            assertEquals(total - 3, a.needed().size(), "synced and journaled: resumed");
        }
        Files.delete(only(fx.out, ".statesync-fetch"));
        try (SnapshotAssembly a = SnapshotAssembly.open(fx.manifest, fx.root, fx.out, null, 1)) {
            assertEquals(total, a.needed().size(), "the journal alone proves nothing once the part is gone");
        }
    }

    @Test
    void anOlderVersionInTheOutputDirectoryLendsItsChunks() throws Exception {
        byte[] v1 = random(3, 512 << 10);
        byte[] v2 = new byte[v1.length + 1000];
        System.arraycopy(v1, 0, v2, 0, 200_000);
        System.arraycopy(random(4, 1000), 0, v2, 200_000, 1000);
        System.arraycopy(v1, 200_000, v2, 201_000, v1.length - 200_000);
        Fixture fx = fixture(v2);
        Files.createDirectories(fx.out);
        Files.write(fx.out.resolve("state.bin"), v1);

        try (SnapshotAssembly a = SnapshotAssembly.open(fx.manifest, fx.root, fx.out, null, 1 << 20)) {
            List<SnapshotAssembly.Needed> needed = a.needed();
            long bytes = needed.stream().mapToLong(SnapshotAssembly.Needed::length).sum();
            assertTrue(bytes < v2.length / 20, "only the chunks around the insertion are needed: " + bytes + " bytes");
            for (SnapshotAssembly.Needed n : needed) {
                byte[] b = fx.origin.readAll(n.cid());
                a.write(n.cid(), b, b.length);
            }
            a.finish();
        }
        assertArrayEquals(v2, Files.readAllBytes(fx.out.resolve("state.bin")));
    }

    @Test
    void aTargetAlreadyRightIsLeftInPlaceAndASecondAssemblyOfTheDirectoryIsRefused() throws Exception {
        byte[] data = random(5, 64 << 10);
        Fixture fx = fixture(data);
        Files.createDirectories(fx.out);
        Files.write(fx.out.resolve("state.bin"), data);
        Object inode = Files.getAttribute(fx.out.resolve("state.bin"), "unix:ino");

        try (SnapshotAssembly a = SnapshotAssembly.open(fx.manifest, fx.root, fx.out, null, 1 << 20)) {
            assertEquals(List.of(), a.needed());
            IOException e = assertThrows(IOException.class,
                    () -> SnapshotAssembly.open(fx.manifest, fx.root, fx.out, null, 1 << 20));
            assertTrue(e.getMessage().startsWith("another fetch is writing snapshot"), e.getMessage());
            a.finish();
        }
        assertEquals(inode, Files.getAttribute(fx.out.resolve("state.bin"), "unix:ino"), "not rewritten");
        assertFalse(Files.exists(fx.out.resolve(".statesync-part")));
    }

    @Test
    void aLinkPlantedAtAPartNameIsRemovedNotWrittenThrough() throws Exception {
        byte[] data = random(6, 64 << 10);
        Fixture fx = fixture(data);
        // Learn the part's name from a first open, then plant links there.
        String partName;
        try (SnapshotAssembly a = SnapshotAssembly.open(fx.manifest, fx.root, fx.out, null, 1 << 20)) {
            SnapshotAssembly.Needed n = a.needed().get(0);
            byte[] b = fx.origin.readAll(n.cid());
            a.write(n.cid(), b, b.length);
        }
        Path part = only(fx.out, ".statesync-fetch");
        partName = part.getFileName().toString();
        Files.delete(part);
        Files.delete(only(fx.out, ".journal"));
        Path victim = tmp.resolve("victim.txt");
        Files.writeString(victim, "precious");
        Files.createSymbolicLink(fx.out.resolve(partName), victim);

        complete(fx);
        assertEquals("precious", Files.readString(victim));
        assertArrayEquals(data, Files.readAllBytes(fx.out.resolve("state.bin")));

        // A hard link to the victim at the part name: also removed, the victim untouched.
        Files.delete(fx.out.resolve("state.bin"));
        Files.createLink(fx.out.resolve(partName), victim);
        complete(fx);
        assertEquals("precious", Files.readString(victim));
        assertArrayEquals(data, Files.readAllBytes(fx.out.resolve("state.bin")));
    }

    @Test
    void aWriteCutShortByAnInterruptLeavesItsChunkNeededAndTheFileIsNotFinishedWithoutIt() throws Exception {
        // The fetcher interrupts its workers when it stops; a write caught by that must not
        // count, or the file would be renamed into place with a hole where the chunk belongs.
        byte[] data = random(3, 64 << 10);
        Fixture fx = fixture(data);
        try (SnapshotAssembly a = SnapshotAssembly.open(fx.manifest, fx.root, fx.out, null, 1 << 20)) {
            List<SnapshotAssembly.Needed> all = a.needed();
            SnapshotAssembly.Needed cut = all.get(all.size() / 2);
            byte[] cutBytes = fx.origin.readAll(cut.cid());
            Thread interrupted = Thread.ofPlatform().name("interrupted-writer").start(() -> {
                Thread.currentThread().interrupt();
                assertThrows(java.nio.channels.ClosedByInterruptException.class,
                        () -> a.write(cut.cid(), cutBytes, cutBytes.length));
            });
            interrupted.join();
            assertTrue(a.needed().contains(cut), "the interrupted chunk is needed again");
            for (SnapshotAssembly.Needed n : all) {
                if (!n.equals(cut)) {
                    byte[] b = fx.origin.readAll(n.cid());
                    a.write(n.cid(), b, b.length);
                }
            }
            assertEquals(List.of(cut), a.needed());
            assertThrows(IllegalStateException.class, a::finish, "not finished with a chunk missing");
            assertFalse(Files.exists(fx.out.resolve("state.bin")));
        }
        complete(fx);
        assertArrayEquals(data, Files.readAllBytes(fx.out.resolve("state.bin")));
    }

    /** Opens the assembly again and writes every chunk it still needs from the origin. */
    private static void complete(Fixture fx) throws Exception {
        try (SnapshotAssembly a = SnapshotAssembly.open(fx.manifest, fx.root, fx.out, null, 1 << 20)) {
            for (SnapshotAssembly.Needed n : a.needed()) {
                byte[] b = fx.origin.readAll(n.cid());
                a.write(n.cid(), b, b.length);
            }
            a.finish();
        }
    }

    private record Fixture(ContentStore origin, Manifest manifest, Cid root, Path out) {
    }

    private Fixture fixture(byte[] data) throws Exception {
        Path in = tmp.resolve("in-" + System.nanoTime());
        Files.createDirectories(in);
        Files.write(in.resolve("state.bin"), data);
        ContentStore origin = ContentStore.open(tmp.resolve("origin"));
        SnapshotRef ref = SnapshotImporter.importPaths(origin, List.of(in), CDC, Map.of());
        return new Fixture(origin, ref.manifest(), ref.root(), tmp.resolve("out"));
    }

    private static Path only(Path dir, String suffix) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> found = s.filter(p -> p.getFileName().toString().endsWith(suffix)).toList();
            assertEquals(1, found.size(), found.toString());
            return found.get(0);
        }
    }

    private static List<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static void flip(Path file, long at) throws IOException {
        byte[] b = Files.readAllBytes(file);
        b[(int) at] ^= 0x10;
        Files.write(file, b);
    }

    private static byte[] random(long seed, int n) {
        byte[] b = new byte[n];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }
}
