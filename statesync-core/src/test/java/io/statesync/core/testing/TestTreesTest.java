package io.statesync.core.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;

/** The fixture other modules build on must itself be deterministic and strict. */
class TestTreesTest {
    @TempDir
    Path tmp;

    @Test
    void theSameSeedWritesTheSameTreeWithTheExactTotal() throws IOException {
        List<Path> a = TestTrees.write(tmp.resolve("a"), 1, 30, 123_457);
        List<Path> b = TestTrees.write(tmp.resolve("b"), 1, 30, 123_457);

        assertEquals(a, b);
        assertEquals(30, a.size());
        assertEquals(123_457, totalSize(tmp.resolve("a")));
        TestTrees.assertSameTree(tmp.resolve("a"), tmp.resolve("b"));
    }

    @Test
    void anotherSeedWritesAnotherTree() throws IOException {
        TestTrees.write(tmp.resolve("a"), 1, 10, 10_000);
        TestTrees.write(tmp.resolve("b"), 2, 10, 10_000);

        assertThrows(AssertionFailedError.class, () -> TestTrees.assertSameTree(tmp.resolve("a"), tmp.resolve("b")));
    }

    @Test
    void aSingleFileTreeHoldsAllTheBytes() throws IOException {
        List<Path> files = TestTrees.write(tmp.resolve("a"), 3, 1, 5_000);

        assertEquals(5_000, Files.size(tmp.resolve("a").resolve(files.get(0))));
    }

    @Test
    void mutationRewritesAboutTheRequestedFractionAndKeepsSizes() throws IOException {
        Path a = tmp.resolve("a");
        TestTrees.write(a, 4, 20, 1_000_000);
        TestTrees.write(tmp.resolve("copy"), 4, 20, 1_000_000);

        long changed = TestTrees.mutate(a, 5, 0.01);

        assertEquals(10_000, changed);
        assertEquals(1_000_000, totalSize(a));
        var e = assertThrows(AssertionFailedError.class, () -> TestTrees.assertSameTree(tmp.resolve("copy"), a));
        assertTrue(e.getMessage().contains("contents differ"), e.getMessage());
    }

    @Test
    void readOnlyFilesCanBeMutatedAndStayReadOnly() throws IOException {
        Path a = tmp.resolve("a");
        List<Path> files = TestTrees.write(a, 6, 1, 10_000);
        Path only = a.resolve(files.get(0));
        TestTrees.setMode(only, "r--r--r--");
        byte[] before = Files.readAllBytes(only);

        TestTrees.mutate(a, 7, 0.5);

        assertFalse(Arrays.equals(before, Files.readAllBytes(only)), "the read-only file was rewritten");
        assertEquals("r--r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(only)));
    }

    @Test
    void aDifferentModeFailsTheComparison() throws IOException {
        List<Path> files = TestTrees.write(tmp.resolve("a"), 8, 3, 1_000);
        TestTrees.write(tmp.resolve("b"), 8, 3, 1_000);
        TestTrees.setMode(tmp.resolve("b").resolve(files.get(0)), "rwxrwxrwx");

        var e = assertThrows(AssertionFailedError.class, () -> TestTrees.assertSameTree(tmp.resolve("a"), tmp.resolve("b")));
        assertTrue(e.getMessage().contains("permissions"), e.getMessage());
    }

    @Test
    void anExtraOrMissingFileFailsTheComparisonNamingIt() throws IOException {
        TestTrees.write(tmp.resolve("a"), 9, 3, 1_000);
        TestTrees.write(tmp.resolve("b"), 9, 3, 1_000);
        Files.writeString(tmp.resolve("b/stray"), "x");

        var e = assertThrows(AssertionFailedError.class, () -> TestTrees.assertSameTree(tmp.resolve("a"), tmp.resolve("b")));
        assertTrue(e.getMessage().contains("unexpected: [stray]"), e.getMessage());
    }

    @Test
    void aSymlinkNeverPassesForAFile() throws IOException {
        List<Path> files = TestTrees.write(tmp.resolve("a"), 10, 2, 1_000);
        TestTrees.write(tmp.resolve("b"), 10, 2, 1_000);
        Path replaced = tmp.resolve("b").resolve(files.get(0));
        Path elsewhere = Files.move(replaced, tmp.resolve("elsewhere"));
        Files.createSymbolicLink(replaced, elsewhere);

        assertThrows(AssertionFailedError.class, () -> TestTrees.assertSameTree(tmp.resolve("a"), tmp.resolve("b")));
    }

    private static long totalSize(Path dir) throws IOException {
        long sum = 0;
        for (Path p : TestTrees.regularFiles(dir)) {
            sum += Files.size(p);
        }
        return sum;
    }
}
