package io.statesync.core.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Temp files held under a lock, and the sweep that removes only dead writers' ones; real files and processes. */
@Timeout(120)
class TempFileTest {
    @TempDir
    Path dir;

    @Test
    void aTempFileHeldByAnotherProcessSurvivesSweepsUntilThatProcessIsKilled() throws Exception {
        Process child = start("hold", dir);
        try {
            Path temp = Path.of(firstLine(child));
            assertTrue(Files.exists(temp));
            // An hour without a byte (a stalled source) does not make it a leftover. (Setting the
            // time opens the file; only the holder's own descriptors matter to its lock.)
            Files.setLastModifiedTime(temp, FileTime.from(Instant.now().minus(Duration.ofHours(1))));

            assertEquals(0, TempFile.sweep(dir, n -> true, false));
            assertTrue(Files.exists(temp), "a live writer's file stays, however old");

            child.destroyForcibly(); // SIGKILL: no shutdown hook, no cleanup
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
            assertTrue(Files.exists(temp), "the killed writer left its temp file");

            assertEquals(1, TempFile.sweep(dir, n -> true, false));
            assertFalse(Files.exists(temp), "and the next sweep removes it at once");
        } finally {
            child.destroyForcibly();
        }
    }

    @Test
    void aSweepInTheWritersOwnProcessSparesItsFileAndLeavesItsLockInPlace() throws Exception {
        try (TempFile t = TempFile.create(dir, "mine-", ".part")) {
            t.channel().write(ByteBuffer.wrap(new byte[] {1, 2, 3}));

            assertEquals(0, TempFile.sweep(dir, n -> true, false));

            assertTrue(Files.exists(t.path()));
            // POSIX drops a process's lock when it closes any descriptor of the file: the sweep must
            // not have opened it. Another process must still see it held.
            Process probe = start("probe", t.path());
            assertEquals("held", firstLine(probe));
            assertTrue(probe.waitFor(30, TimeUnit.SECONDS));
        }
    }

    @Test
    void closingDeletesAnUnrenamedTempFileAndLeavesARenamedOneAlone() throws IOException {
        TempFile abandoned = TempFile.create(dir, "abandoned-", ".part");
        assertTrue(abandoned.path().getFileName().toString().matches("abandoned-[0-9a-f-]{36}\\.part"));
        abandoned.channel().write(ByteBuffer.wrap(new byte[] {1}));
        abandoned.close();
        abandoned.close();
        assertFalse(Files.exists(abandoned.path()));

        try (TempFile done = TempFile.create(dir, "done-", ".part")) {
            done.channel().write(ByteBuffer.wrap("final".getBytes(StandardCharsets.US_ASCII)));
            Files.move(done.path(), dir.resolve("final.txt"));
        }
        assertEquals("final", Files.readString(dir.resolve("final.txt")));
        assertEquals(List.of("final.txt"), names(dir));
    }

    @Test
    void anUnlockedFileIsALeftoverWhateverItsSizeOrAge() throws IOException {
        Path empty = Files.createFile(dir.resolve("empty.part"));
        Path fresh = Files.write(dir.resolve("fresh.part"), new byte[] {1});
        Path old = Files.write(dir.resolve("old.part"), new byte[] {1});
        Files.setLastModifiedTime(old, FileTime.from(Instant.now().minus(Duration.ofDays(5))));

        assertEquals(3, TempFile.sweep(dir, n -> true, false));

        assertEquals(List.of(), names(dir));
    }

    @Test
    void onlyNamesTheFilterAcceptsAreCandidatesAndLinksAreNotFollowed() throws IOException {
        Path outside = Files.createDirectories(dir.resolve("outside"));
        Path outsideLeftover = Files.write(outside.resolve("x.part"), new byte[] {1});
        Path root = Files.createDirectories(dir.resolve("root"));
        Path nested = Files.write(Files.createDirectories(root.resolve("a/b")).resolve("y.part"), new byte[] {1});
        Path user = Files.write(root.resolve("a/notes.txt"), new byte[] {1});
        Files.createSymbolicLink(root.resolve("link"), outside);

        assertEquals(1, TempFile.sweep(root, n -> n.endsWith(".part"), true));

        assertFalse(Files.exists(nested), "found below the root");
        assertTrue(Files.exists(user), "a name the filter rejects is never touched");
        assertTrue(Files.exists(outsideLeftover), "a link out of the root is not followed");
    }

    private static Process start(String mode, Path path) throws IOException {
        String java = ProcessHandle.current().info().command().orElse(
                Path.of(System.getProperty("java.home"), "bin", "java").toString());
        return new ProcessBuilder(java, "-Xmx32m", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                TempFileHolder.class.getName(), mode, path.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    private static String firstLine(Process p) throws Exception {
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII));
        return CompletableFuture.supplyAsync(() -> {
            try {
                return r.readLine();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }).get(60, TimeUnit.SECONDS);
    }

    private static List<String> names(Path d) throws IOException {
        try (var s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
